/* Changes across nodes: each transaction's changes go out with pg_notify() on the channel
 * trawl_changes, which PostgreSQL delivers when (and only if) the transaction commits; a thread
 * with a connection of its own LISTENs and hands what other nodes announced to the engine. A
 * payload is text of at most NOTIFY_MAX bytes (PostgreSQL's limit is 8000): a first line "1" when
 * jobs may have become claimable (else "0"), then a line per change,
 *   id TAB type TAB workspace TAB batch_id TAB root_id TAB from TAB to TAB attempt TAB at
 * (an absent string is empty; names cannot hold a tab or a newline: engine_name_valid). All of a
 * transaction's payloads go in one statement. A node's own announcements come back to it too;
 * they are known by the server process that sent them (the writer's) and dropped. After the
 * listening connection broke and was made again, the engine is told "something may have changed"
 * (no changes, available), since what was announced meanwhile is lost: waits and idle workers
 * look again instead of hanging. */
#include "store/pg_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHANNEL    "trawl_changes"
#define NOTIFY_MAX 7000
#define HEARD_MAX  256 /* changes handed to the engine at once */

struct pg_hearing {
    struct pg *p;
    store_heard_fn fn;
    void *ctx;
    pthread_t thread;
    int stop[2]; /* a pipe: a byte on it stops the thread */
};

int pg_announce(struct store *s, const struct store_change *c, size_t n, bool available,
                struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT pg_notify('" CHANNEL "', x) FROM unnest($1::text[]) AS x";
    size_t cap = 8, np = 0;
    char **payloads = xcalloc(cap, sizeof *payloads);
    char *cur = NULL;
    size_t len = 0;
    for (size_t i = 0; i <= n; i++) {
        char line[1200];
        int k = 0;
        if (i < n)
            k = snprintf(line, sizeof line, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%lld\n",
                         c[i].id ? c[i].id : "", c[i].type ? c[i].type : "",
                         c[i].workspace ? c[i].workspace : "", c[i].batch_id ? c[i].batch_id : "",
                         c[i].root_id ? c[i].root_id : "", c[i].from, c[i].to, c[i].attempt,
                         (long long)c[i].at);
        if (k < 0 || (size_t)k >= sizeof line)
            continue; /* a change too long to tell: its listeners on other nodes miss it */
        if (cur && (i == n || len + (size_t)k > NOTIFY_MAX)) {
            if (np == cap)
                payloads = xrealloc(payloads, (cap *= 2) * sizeof *payloads);
            payloads[np++] = cur;
            cur = NULL;
        }
        if (i == n)
            break;
        if (!cur) {
            cur = xmalloc(NOTIFY_MAX + sizeof line + 4);
            len = (size_t)snprintf(cur, 4, "%d\n", available ? 1 : 0);
        }
        memcpy(cur + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    if (np == 0 && available) {
        payloads[np++] = xstrdup("1\n");
    }
    int rc = 0;
    if (np) {
        char *arr = pg_array((const char *const *)payloads, np);
        struct pg_args a = {0};
        pa_text(&a, arr);
        rc = pg_run(&p->w, sql, &a, NULL, e, "announce changes to the other nodes");
        free(arr);
    }
    for (size_t i = 0; i < np; i++)
        free(payloads[i]);
    free(payloads);
    return rc;
}

/* The next tab- or newline-ended field of *p, in place; NULL when empty. */
static char *field(char **p)
{
    char *f = *p;
    size_t k = strcspn(f, "\t\n");
    char end = f[k];
    f[k] = 0;
    *p = end ? f + k + 1 : f + k;
    return *f ? f : NULL;
}

/* One payload to the engine; a payload trawl did not write is dropped, saying so. */
static void deliver(struct pg_hearing *h, char *payload)
{
    if ((payload[0] != '0' && payload[0] != '1') || payload[1] != '\n') {
        log_warn("postgres: a notification on %s that is not trawl's: dropped", CHANNEL);
        return;
    }
    bool available = payload[0] == '1';
    char *p = payload + 2;
    struct store_change ch[HEARD_MAX];
    size_t k = 0;
    while (*p) {
        char *f[9];
        for (int i = 0; i < 9; i++)
            f[i] = field(&p);
        if (!f[0] || !f[5] || !f[6] || !f[7] || !f[8])
            continue;
        ch[k++] = (struct store_change){
            .id = f[0],
            .type = f[1],
            .workspace = f[2],
            .batch_id = f[3],
            .root_id = f[4],
            .from = atoi(f[5]),
            .to = atoi(f[6]),
            .attempt = atoi(f[7]),
            .at = strtoll(f[8], NULL, 10),
        };
        if (k == HEARD_MAX) {
            h->fn(h->ctx, ch, k, false);
            k = 0;
        }
    }
    if (k || available)
        h->fn(h->ctx, ch, k, available);
}

static PGconn *listen_conn(struct pg *p)
{
    PGconn *c = pg_connect(p->conninfo);
    if (PQstatus(c) == CONNECTION_OK) {
        PQsetNoticeProcessor(c, pg_notice, NULL);
        PGresult *r = PQexec(c, "SET application_name = 'trawl listener'; LISTEN " CHANNEL);
        bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            return c;
    }
    char msg[300];
    snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
    pg_one_line(msg);
    log_warn("postgres: cannot listen for the other nodes' changes: %s; trying again", msg);
    PQfinish(c);
    return NULL;
}

static void *hear_main(void *arg)
{
    struct pg_hearing *h = arg;
    pthread_setname_np(pthread_self(), "pg-listen");
    PGconn *c = NULL;
    int64_t backoff = 100;
    bool missed = false;
    for (;;) {
        if (!c) {
            c = listen_conn(h->p);
            if (c) {
                backoff = 100;
                if (missed)
                    h->fn(h->ctx, NULL, 0, true); /* what came meanwhile is lost: look again */
                missed = false;
            }
        }
        struct pollfd fds[2] = {{.fd = h->stop[0], .events = POLLIN},
                                {.fd = c ? PQsocket(c) : -1, .events = POLLIN}};
        int timeout = c ? 1000 : (int)backoff;
        int pr = poll(fds, 2, timeout);
        if (pr < 0 && errno != EINTR)
            break;
        if (fds[0].revents)
            break;
        if (!c) {
            backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
            continue;
        }
        if ((fds[1].revents & (POLLIN | POLLERR | POLLHUP)) && !PQconsumeInput(c)) {
            char msg[300];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
            pg_one_line(msg);
            log_warn("postgres: lost the listening connection (%s); reconnecting", msg);
            PQfinish(c);
            c = NULL;
            missed = true;
            continue;
        }
        int own = atomic_load(&h->p->w_pid);
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            if (n->be_pid != own && strcmp(n->relname, CHANNEL) == 0)
                deliver(h, n->extra);
            PQfreemem(n);
        }
    }
    PQfinish(c);
    return NULL;
}

int pg_hear(struct store *s, store_heard_fn fn, void *ctx, struct err *e)
{
    struct pg *p = (struct pg *)s;
    if (!fn) {
        struct pg_hearing *h = p->hearing;
        if (!h)
            return 0;
        p->hearing = NULL;
        if (write(h->stop[1], "x", 1) != 1)
            log_warn("postgres: cannot stop the listener thread: %s", strerror(errno));
        pthread_join(h->thread, NULL);
        close(h->stop[0]);
        close(h->stop[1]);
        free(h);
        return 0;
    }
    if (p->hearing)
        return err_set(e, TRAWL_EINVAL, false, "the store hears already");
    struct pg_hearing *h = xcalloc(1, sizeof *h);
    h->p = p;
    h->fn = fn;
    h->ctx = ctx;
    if (pipe(h->stop) != 0) {
        free(h);
        return err_set(e, TRAWL_EIO, true, "cannot listen for changes: pipe: %s", strerror(errno));
    }
    if (pthread_create(&h->thread, NULL, hear_main, h) != 0) {
        close(h->stop[0]);
        close(h->stop[1]);
        free(h);
        return err_set(e, TRAWL_ENOMEM, true, "cannot start the listener thread");
    }
    p->hearing = h;
    return 0;
}
