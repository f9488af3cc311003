/* Live events end to end: GET /v1/events read over plain sockets (as a browser's EventSource
 * would), against a real trawl serve running jobs. Order, filters and workspaces, resuming with
 * Last-Event-ID without a gap, the gap told when the events are gone, and a subscriber that reads
 * too slowly or never reads being dropped while the server goes on. */
#include "e2eutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct sse {
    int fd;
    char buf[1 << 20]; /* the stream's text, the chunked encoding taken off */
    size_t len;
    long long chunk_left; /* data bytes left in this chunk; -1: reading a size line; -2: CRLF */
    char line[32];
    size_t nline;
};

struct event {
    unsigned long long id;
    char kind[32];
    json_t *data;
};

/* Take the chunked transfer encoding off n bytes of the body. */
static void dechunk(struct sse *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (s->chunk_left == -1) { /* "1a3\r\n" */
            char c = p[i++];
            if (c == '\n') {
                s->line[s->nline] = 0;
                s->chunk_left = strtoll(s->line, NULL, 16);
                s->nline = 0;
                if (s->chunk_left == 0)
                    s->chunk_left = -3; /* the last chunk */
            } else if (c != '\r') {
                cr_assert_lt(s->nline, sizeof s->line - 1, "bad chunk size line");
                s->line[s->nline++] = c;
            }
        } else if (s->chunk_left == -2) { /* the CRLF after a chunk's data */
            if (p[i++] == '\n')
                s->chunk_left = -1;
        } else if (s->chunk_left == -3) {
            i = n;
        } else {
            size_t take = n - i < (size_t)s->chunk_left ? n - i : (size_t)s->chunk_left;
            cr_assert_lt(s->len + take, sizeof s->buf);
            memcpy(s->buf + s->len, p + i, take);
            s->len += take;
            s->buf[s->len] = 0;
            i += take;
            s->chunk_left -= (long long)take;
            if (s->chunk_left == 0)
                s->chunk_left = -2;
        }
    }
}

/* Connect and ask for the stream; rcvbuf > 0 shrinks the socket's receive buffer first (a slow
 * client). Returns after the response headers and the server's ": subscribed" comment. */
static void sse_open(struct sse *s, const struct serve *srv, const char *token, const char *query,
                     const char *last_id, int rcvbuf)
{
    memset(s, 0, sizeof *s);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(s->fd, 0);
    if (rcvbuf > 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(s->fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /v1/events%s%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                     "Accept: text/event-stream\r\n%s%s%s\r\n",
                     query ? "?" : "", query ? query : "", token, last_id ? "Last-Event-ID: " : "",
                     last_id ? last_id : "", last_id ? "\r\n" : "");
    cr_assert_eq(send(s->fd, req, (size_t)n, 0), n);
    /* headers, then the greeting (chunked: the chunk sizes are skipped by the reader below) */
    int64_t until = e2e_ms() + 5000;
    while (!strstr(s->buf, ": subscribed")) {
        struct pollfd p = {s->fd, POLLIN, 0};
        cr_assert_gt(poll(&p, 1, (int)(until - e2e_ms())), 0, "no stream: %s", s->buf);
        ssize_t k = recv(s->fd, s->buf + s->len, sizeof s->buf - 1 - s->len, 0);
        cr_assert_gt(k, 0, "closed before the stream began: %s", s->buf);
        s->len += (size_t)k;
        s->buf[s->len] = 0;
    }
    cr_assert(strncmp(s->buf, "HTTP/1.1 200", 12) == 0, "%s", s->buf);
    cr_assert(strstr(s->buf, "text/event-stream") != NULL, "%s", s->buf);
    /* the body so far, through the chunk decoder */
    char *body = strstr(s->buf, "\r\n\r\n") + 4;
    char raw[sizeof s->buf];
    size_t nraw = s->len - (size_t)(body - s->buf);
    memcpy(raw, body, nraw);
    s->len = 0;
    s->buf[0] = 0;
    s->chunk_left = -1;
    dechunk(s, raw, nraw);
    char *greet = strstr(s->buf, ": subscribed\nretry: 2000\n\n");
    cr_assert_not_null(greet, "%s", s->buf);
    greet += 26;
    s->len -= (size_t)(greet - s->buf);
    memmove(s->buf, greet, s->len + 1);
}

/* The next event within ms: 1, or 0 on a timeout, -1 when the stream ended. */
static int sse_next(struct sse *s, struct event *ev, int ms)
{
    int64_t until = e2e_ms() + ms;
    for (;;) {
        char *end = strstr(s->buf, "\n\n");
        if (end) {
            *end = 0;
            memset(ev, 0, sizeof *ev);
            char *save = NULL;
            bool any = false;
            for (char *line = strtok_r(s->buf, "\n", &save); line;
                 line = strtok_r(NULL, "\n", &save)) {
                char *cr = strchr(line, '\r');
                if (cr)
                    *cr = 0;
                if (strncmp(line, "id: ", 4) == 0)
                    ev->id = strtoull(line + 4, NULL, 10), any = true;
                else if (strncmp(line, "event: ", 7) == 0)
                    snprintf(ev->kind, sizeof ev->kind, "%s", line + 7), any = true;
                else if (strncmp(line, "data: ", 6) == 0)
                    ev->data = json_loads(line + 6, 0, NULL), any = true;
            }
            size_t used = (size_t)(end + 2 - s->buf);
            s->len -= used;
            memmove(s->buf, end + 2, s->len + 1);
            if (any)
                return 1;
            continue; /* a comment (ping) */
        }
        if (s->chunk_left == -3)
            return -1; /* the last chunk came: the stream is over */
        int left = (int)(until - e2e_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            return 0;
        char tmp[65536];
        ssize_t k = recv(s->fd, tmp, sizeof tmp, 0);
        if (k <= 0)
            return -1;
        dechunk(s, tmp, (size_t)k);
    }
}

static void sse_close(struct sse *s)
{
    close(s->fd);
}

static const char *str(const struct event *ev, const char *k)
{
    return json_string_value(json_object_get(ev->data, k));
}

static void enqueue(const struct serve *s, const char *tok, const char *type, const char *batch,
                    int n)
{
    for (int i = 0; i < n; i++) {
        struct resp r;
        e2e_call(&r, s, "POST", "/v1/jobs", tok,
                 batch ? json_pack("{s:s, s:s}", "type", type, "batchId", batch)
                       : json_pack("{s:s}", "type", type));
        cr_assert_eq(r.status, 201, "%s", r.body);
        e2e_resp_release(&r);
    }
}

Test(events, job_changes_in_order_per_workspace_and_batch)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2");
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    snprintf(b, sizeof b, "%s", e2e_token(s.db, "beta"));
    struct sse all, batch, other;
    sse_open(&all, &s, a, NULL, NULL, 0);
    sse_open(&batch, &s, a, "types=job,batch&batch=b1", NULL, 0);
    sse_open(&other, &s, b, NULL, NULL, 0);
    enqueue(&s, a, "noop", "b1", 20);
    enqueue(&s, a, "noop", NULL, 5);
    /* every job of b1: claimed before completed; ids grow; the batch reaches 100% */
    json_t *seen = json_object();
    int completed = 0;
    double pct = -1;
    unsigned long long last = 0;
    struct event ev;
    while (completed < 20 || pct < 100) {
        cr_assert_eq(sse_next(&batch, &ev, 10000), 1, "the stream stalled: %d completed, %.0f%%",
                     completed, pct);
        cr_assert_gt(ev.id, last, "ids grow");
        last = ev.id;
        if (strcmp(ev.kind, "batch") == 0) {
            cr_assert_str_eq(str(&ev, "batchId"), "b1");
            double p = json_number_value(json_object_get(ev.data, "progress"));
            cr_assert_geq(p, pct, "batch progress does not go back");
            pct = p;
        } else {
            cr_assert_str_eq(ev.kind, "job");
            cr_assert_str_eq(str(&ev, "batchId"), "b1", "only the batch's jobs");
            cr_assert_str_eq(str(&ev, "workspace"), "alpha");
            const char *id = str(&ev, "id"), *to = str(&ev, "to");
            json_t *was = json_object_get(seen, id);
            if (strcmp(to, "processing") == 0) {
                cr_assert_null(was, "claimed twice: %s", id);
                cr_assert_str_eq(str(&ev, "from"), "pending");
            } else {
                cr_assert_str_eq(to, "completed");
                cr_assert_not_null(was, "completed before it was claimed: %s", id);
                cr_assert_str_eq(json_string_value(was), "processing");
                completed++;
            }
            json_object_set_new(seen, id, json_string(to));
        }
        json_decref(ev.data);
    }
    json_decref(seen);
    /* the unfiltered stream has the other 5 jobs too: 2 changes each for 25 jobs */
    int jobs = 0;
    while (jobs < 50) {
        cr_assert_eq(sse_next(&all, &ev, 10000), 1, "%d job events", jobs);
        if (strcmp(ev.kind, "job") == 0)
            jobs++;
        json_decref(ev.data);
    }
    /* beta's subscriber saw nothing of alpha's */
    int got = sse_next(&other, &ev, 300);
    cr_assert_eq(got, 0, "beta saw an event of alpha: %s", ev.kind);
    sse_close(&all);
    sse_close(&batch);
    sse_close(&other);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* A chain's later stages say their root in their job and progress events (the dashboard's job page
 * tells by it which events are of the chain it draws); the root's own say null. */
Test(events, a_chains_stages_name_their_root)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2");
    char a[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    struct sse st;
    sse_open(&st, &s, a, "types=job,progress", NULL, 0);
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", a,
             json_pack("{s:s, s:{s:s, s:{s:i}, s:{s:s}}}", "type", "noop", "next", "type", "sleep",
                       "args", "ms", 200, "next", "type", "noop"));
    cr_assert_eq(r.status, 201, "%s", r.body);
    char root[64];
    snprintf(root, sizeof root, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    int stages_done = 0, progress = 0, root_events = 0;
    struct event ev;
    while (stages_done < 2) {
        cr_assert_eq(sse_next(&st, &ev, 10000), 1, "the stream stalled: %d stages done",
                     stages_done);
        const char *id = str(&ev, "id");
        json_t *rid = json_object_get(ev.data, "rootId");
        cr_assert_not_null(rid, "no rootId in a %s event", ev.kind);
        if (strcmp(id, root) == 0) {
            cr_assert(json_is_null(rid), "the root's rootId is not null");
            root_events++;
        } else {
            cr_assert_str_eq(json_string_value(rid), root, "a stage's rootId");
            if (strcmp(ev.kind, "progress") == 0)
                progress++;
            else if (strcmp(str(&ev, "to"), "completed") == 0)
                stages_done++;
        }
        json_decref(ev.data);
    }
    cr_assert_geq(root_events, 2, "the root's claim and completion");
    cr_assert_gt(progress, 0, "the sleep stage's progress");
    sse_close(&st);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

Test(events, bad_queries_are_refused)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "0");
    char a[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    struct resp r;
    e2e_call(&r, &s, "GET", "/v1/events?types=job,nope", a, NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "unknown event type 'nope'") != NULL, "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/events?workspace=beta", a, NULL);
    cr_assert_eq(r.status, 403, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/events?lastEventId=abc", a, NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/events", NULL, NULL);
    cr_assert_eq(r.status, 401, "%s", r.body);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* A client that reconnects with Last-Event-ID gets exactly what it missed: the same events a
 * client that stayed connected saw after that id. From an id the server no longer keeps it is
 * told of the gap first. */
Test(events, resume_by_last_event_id_without_a_gap)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2", "--event-buffer", "200");
    char a[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "default"));
    struct sse stay, leave;
    sse_open(&stay, &s, a, "types=job", NULL, 0);
    sse_open(&leave, &s, a, "types=job", NULL, 0);
    enqueue(&s, a, "noop", NULL, 5);
    struct event ev;
    unsigned long long cut = 0;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sse_next(&leave, &ev, 10000), 1);
        cut = ev.id;
        json_decref(ev.data);
    }
    sse_close(&leave);
    enqueue(&s, a, "noop", NULL, 20); /* while it is away */
    /* what the one that stayed saw after cut: 50 job events in all */
    unsigned long long want[64];
    size_t nwant = 0;
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(sse_next(&stay, &ev, 10000), 1, "after %d", i);
        if (ev.id > cut)
            want[nwant++] = ev.id;
        json_decref(ev.data);
    }
    char last[32];
    snprintf(last, sizeof last, "%llu", cut);
    sse_open(&leave, &s, a, "types=job", last, 0);
    for (size_t i = 0; i < nwant; i++) {
        cr_assert_eq(sse_next(&leave, &ev, 10000), 1, "resumed stream stalled at %zu", i);
        cr_assert_str_eq(ev.kind, "job");
        cr_assert_eq(ev.id, want[i], "event %zu: %llu, want %llu", i, ev.id, want[i]);
        json_decref(ev.data);
    }
    cr_assert_eq(sse_next(&leave, &ev, 300), 0, "nothing more");
    sse_close(&leave);

    /* 200 events kept: after 150 more jobs (300 changes), cut is gone */
    enqueue(&s, a, "noop", NULL, 150);
    int64_t until = e2e_ms() + 20000;
    for (int done = 0; done < 300;) {
        cr_assert_lt(e2e_ms(), until);
        if (sse_next(&stay, &ev, 10000) == 1) {
            done++;
            json_decref(ev.data);
        }
    }
    sse_open(&leave, &s, a, "types=job", last, 0);
    cr_assert_eq(sse_next(&leave, &ev, 5000), 1);
    cr_assert_str_eq(ev.kind, "gap", "told of the gap first");
    cr_assert_eq(json_integer_value(json_object_get(ev.data, "missedFrom")), (json_int_t)cut + 1);
    json_decref(ev.data);
    cr_assert_eq(sse_next(&leave, &ev, 5000), 1, "then the events it still has");
    cr_assert_str_eq(ev.kind, "job");
    json_decref(ev.data);
    sse_close(&leave);
    sse_close(&stay);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

static long long metric(const struct serve *s, const char *tok, const char *name)
{
    struct resp r;
    e2e_call(&r, s, "GET", "/metrics", tok, NULL);
    cr_assert_eq(r.status, 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(r.body, key);
    cr_assert_not_null(p, "no %s", name);
    long long v = atoll(p + strlen(key));
    e2e_resp_release(&r);
    return v;
}

/* A subscriber that stops reading falls a whole ring behind and is dropped (told so when it
 * reads again); one that never reads at all is closed by the stalled-connection timeout. Neither
 * holds the server up: jobs keep completing, and the other subscriber gets everything. */
Test(events, slow_and_silent_subscribers_are_dropped)
{
    struct serve s;
    /* 500 events kept: a subscriber that keeps reading stays far inside it */
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2", "--event-buffer", "500",
              "--header-timeout", "8");
    char a[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "default"));
    struct sse slow, silent, good;
    sse_open(&slow, &s, a, NULL, NULL, 2048);
    sse_open(&silent, &s, a, NULL, NULL, 2048);
    sse_open(&good, &s, a, "types=batch&batch=big", NULL, 0);
    cr_assert_eq(metric(&s, a, "trawl_event_subscribers"), 3);
    /* 1000 jobs: about 2000 events, 4 times the ring, far more than the small buffers hold */
    enqueue(&s, a, "noop", "big", 1000);
    /* the good subscriber sees the batch finish */
    struct event ev;
    double pct = 0;
    while (pct < 100) {
        cr_assert_eq(sse_next(&good, &ev, 10000), 1, "batch events stopped at %.0f%%", pct);
        pct = json_number_value(json_object_get(ev.data, "progress"));
        json_decref(ev.data);
    }
    /* the slow one now reads: what fit in the buffers, then "dropped", then the end */
    bool dropped = false;
    int got;
    int nslow = 0;
    while ((got = sse_next(&slow, &ev, 5000)) == 1) {
        nslow++;
        if (strcmp(ev.kind, "dropped") == 0)
            dropped = true;
        json_decref(ev.data);
    }
    cr_assert(dropped, "the slow subscriber was not told it was dropped (%d events, end %d)", nslow,
              got);
    cr_assert_eq(got, -1, "the stream ended after it");
    cr_assert_geq(metric(&s, a, "trawl_event_subscribers_dropped_total"), 1);
    /* the silent one is gone too once its connection has stalled past the timeout */
    int64_t until = e2e_ms() + 20000;
    while (metric(&s, a, "trawl_event_subscribers") > 1) {
        cr_assert_lt(e2e_ms(), until, "the silent subscriber is still there");
        e2e_sleep_ms(200);
    }
    sse_close(&slow);
    sse_close(&silent);
    sse_close(&good);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* trawl watch: the same stream in the terminal (--json: one event's data per line). It follows a
 * batch to 100% and exits 0 on SIGTERM; a bad token is an error, not a retry loop. */
Test(events, trawl_watch_follows_a_batch)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2");
    char a[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "default"));
    const char *out = e2e_path("watch.out");
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        execl(e2e_trawl(), "trawl", "watch", "--json", "--batch", "b1", "--server", s.base,
              "--token", a, (char *)NULL);
        _exit(127);
    }
    e2e_sleep_ms(500); /* subscribed */
    enqueue(&s, a, "noop", "b1", 10);
    enqueue(&s, a, "noop", "other", 3);
    int64_t until = e2e_ms() + 15000;
    bool done = false;
    int jobs = 0;
    while (!done) {
        cr_assert_lt(e2e_ms(), until, "watch never showed the batch at 100%%");
        e2e_sleep_ms(100);
        FILE *f = fopen(out, "r");
        if (!f)
            continue;
        char line[8192];
        jobs = 0;
        while (fgets(line, sizeof line, f)) {
            json_t *j = json_loads(line, 0, NULL);
            cr_assert_not_null(j, "not JSON: %s", line);
            const char *b = json_string_value(json_object_get(j, "batchId"));
            cr_assert_str_eq(b, "b1", "only the batch: %s", line);
            if (json_object_get(j, "to"))
                jobs++;
            if (json_number_value(json_object_get(j, "progress")) >= 100 &&
                json_object_get(j, "total"))
                done = true;
            json_decref(j);
        }
        fclose(f);
    }
    cr_assert_eq(jobs, 20, "2 changes of each of the 10 jobs");
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "watch did not exit 0 on SIGTERM");
    struct run r;
    E2E_RUN(&r, NULL, "watch", "--server", s.base, "--token", "nope");
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "token") != NULL, "%s", r.err);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* A scraping session's progress, a breaker that opens and an alert reach the subscribers of
 * their kind and workspace. */
Test(events, sessions_breakers_and_alerts, .timeout = 120)
{
    struct origin shop;
    e2e_shop(&shop, 30);
    struct serve s;
    /* the shop's broken pages may trip its breaker too: a short open period keeps the session
     * short, and the test looks for the dead port's breaker among the events */
    E2E_SERVE(&s, NULL, "--crawl-workers", "2", "--workers", "2", "--allow-private", "127.0.0.2/32",
              "--breaker-failures", "3", "--breaker-open", "1000", "--fetch-timeout", "3000");
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    snprintf(b, sizeof b, "%s", e2e_token(s.db, "beta"));
    struct sse sess, brk, alerts, other;
    sse_open(&sess, &s, a, "types=session", NULL, 0);
    sse_open(&brk, &s, a, "types=breaker", NULL, 0);
    sse_open(&alerts, &s, a, "types=alert", NULL, 0);
    sse_open(&other, &s, b, "types=session,alert", NULL, 0);

    /* the session: its events carry its counts up to the end */
    struct resp r;
    char url[256];
    snprintf(url, sizeof url, "%s/", shop.base);
    e2e_call(&r, &s, "POST", "/v1/scraping-sessions", a,
             json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"));
    cr_assert_eq(r.status, 201, "%s", r.body);
    char sid[64];
    snprintf(sid, sizeof sid, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "session"), "id")));
    e2e_resp_release(&r);
    struct event ev;
    long long last_done = -1;
    for (;;) {
        cr_assert_eq(sse_next(&sess, &ev, 60000), 1, "session events stopped");
        cr_assert_str_eq(ev.kind, "session");
        cr_assert_str_eq(str(&ev, "sessionId"), sid);
        cr_assert_str_eq(str(&ev, "sourceUrl"), url);
        long long done = json_integer_value(json_object_get(ev.data, "completedPages"));
        cr_assert_geq(done, last_done, "pages done do not go back");
        last_done = done;
        bool end = strcmp(str(&ev, "status"), "completed") == 0;
        long long total = json_integer_value(json_object_get(ev.data, "totalPages"));
        json_decref(ev.data);
        if (end) {
            cr_assert_gt(total, 30, "the shop's pages were found");
            break;
        }
    }

    /* the breaker: crawl jobs to a port nobody listens on */
    char dead[128];
    snprintf(dead, sizeof dead, "http://127.0.0.2:%d", e2e_free_port("127.0.0.2"));
    for (int i = 0; i < 4; i++) {
        snprintf(url, sizeof url, "%s/page%d", dead, i);
        e2e_call(&r, &s, "POST", "/v1/crawl-jobs", a, json_pack("{s:s}", "url", url));
        cr_assert_lt(r.status, 300, "%s", r.body);
        e2e_resp_release(&r);
    }
    for (;;) {
        cr_assert_eq(sse_next(&brk, &ev, 20000), 1, "no breaker event for %s", dead);
        cr_assert_str_eq(ev.kind, "breaker");
        bool ours = strcmp(str(&ev, "service"), dead) == 0;
        if (ours)
            cr_assert_str_eq(str(&ev, "state"), "open");
        json_decref(ev.data);
        if (ours)
            break;
    }

    /* an alert: a job failed for good */
    e2e_call(&r, &s, "POST", "/v1/jobs", a,
             json_pack("{s:s, s:i}", "type", "ingest", "maxAttempts", 1));
    e2e_resp_release(&r);
    char jid[64], lease[64];
    e2e_claim(&s, a, "ingest", jid, lease);
    e2e_worker_end(&s, a, jid, lease, "fail", "parse_error: bad row");
    cr_assert_eq(sse_next(&alerts, &ev, 10000), 1, "no alert event");
    cr_assert_str_eq(ev.kind, "alert");
    cr_assert_str_eq(str(&ev, "kind"), "job_failed");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ev.data, "tags"), "job_id")),
                     jid);
    json_decref(ev.data);
    /* beta saw none of alpha's session or alert */
    cr_assert_eq(sse_next(&other, &ev, 300), 0, "beta saw %s", ev.kind);
    sse_close(&sess);
    sse_close(&brk);
    sse_close(&alerts);
    sse_close(&other);
    cr_assert_eq(e2e_serve_stop(&s, 20000), 0);
    e2e_origin_stop(&shop);
}
