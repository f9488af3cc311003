/* trawl watch: the server's live events (GET /v1/events, server-sent events) in the terminal, one
 * line each, or as JSON lines for scripts. A stream that ends or breaks is resumed where it
 * stopped (Last-Event-ID); only a 4xx answer, a server never reached, or Ctrl-C ends the
 * command. */
#include "cli/cli.h"
#include "cli/client.h"
#include "cli/sse.h"

#include "base/buf.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define RETRY_MS_DEFAULT 2000
#define IDLE_S           45 /* three missed pings: the connection is dead, reconnect */
#define ERROR_BODY_MAX   (64u << 10)

static const char usage_[] =
    "usage: trawl watch [--batch ID | --session ID] [--types LIST] [options]\n"
    "show the server's live events as they happen, one line each: job state changes and\n"
    "progress, batch, scraping-session and import progress, circuit breakers, alerts. A\n"
    "broken stream is resumed where it stopped; Ctrl-C stops.\n"
    "  --batch ID       only batch ID's jobs and progress\n"
    "  --session ID     only scraping session ID's progress and alerts\n"
    "  --types LIST     only these kinds, comma-separated: job, progress, batch, session,\n"
    "                   breaker, alert, import (default all)\n"
    "  --json           print each event's data as one JSON line (for scripts)\n"
    "  --server URL     trawl serve's address (default $TRAWL_SERVER or http://127.0.0.1:8080)\n"
    "  --token TOKEN    API token (default $TRAWL_TOKEN)\n";

static const char *const kinds_[] = {"job",     "progress", "batch", "session",
                                     "breaker", "alert",    "import"};

static atomic_bool interrupted_;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted_, true);
}

struct watch {
    CURL *h;
    struct sse_parser sse;
    bool json;
    long status;       /* of the current answer; 0 until its first bytes */
    bool stream;       /* the current answer is an event stream */
    bool reconnecting; /* say so when the stream is back */
    int out_errno;     /* standard output failed with this; 0 while it works */
    struct buf err;    /* the body of an answer that is not a stream */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- one line per event ---- */

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* Replace the control characters of s (n bytes) with spaces: the text comes from job messages and
 * pages fetched, and must not move the cursor or recolour the terminal. Returns s. */
static char *scrub_text(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    return s;
}

/* The same for every string member of the object d (nested values are not shown). */
static void scrub(json_t *d)
{
    for (void *it = json_object_iter(d); it; it = json_object_iter_next(d, it)) {
        json_t *v = json_object_iter_value(it);
        if (!json_is_string(v))
            continue;
        size_t n = json_string_length(v);
        const char *s = json_string_value(v);
        size_t i = 0;
        while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != 0x7f)
            i++;
        if (i == n)
            continue;
        char *c = strndup(s, n);
        if (!c)
            continue;
        /* a control character is a whole UTF-8 character: the text stays valid */
        json_object_iter_set_new(d, it, json_stringn(scrub_text(c, n), n));
        free(c);
    }
}

/* "HH:MM:SS" of ms since the epoch (now when ms is 0). */
static void clock_text(char *out, size_t n, json_int_t ms)
{
    time_t t = ms > 0 ? (time_t)(ms / 1000) : time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || !strftime(out, n, "%H:%M:%S", &tm))
        snprintf(out, n, "--:--:--");
}

static void show_job(const char *t, json_t *d)
{
    const char *from = json_string_value(json_object_get(d, "from"));
    const char *msg = json_string_value(json_object_get(d, "message"));
    /* the whole id: a job id's first characters are its creation time, the same for every job
     * made in the same minute, and the whole one can be given to `trawl job` */
    printf("%s job %s %s %s \u2192 %s", t, cli_str(d, "id"), cli_str(d, "type"),
           from ? from : "new", cli_str(d, "to"));
    if (num(d, "attempt") > 0)
        printf(" (attempt %lld)", (long long)num(d, "attempt"));
    if (msg && *msg)
        printf(": %s", msg);
    putchar('\n');
}

static void show_progress(const char *t, json_t *d)
{
    printf("%s progress %s %s", t, cli_str(d, "id"), cli_str(d, "type"));
    json_t *p = json_object_get(d, "progress");
    if (json_is_number(p))
        printf(" %.0f%%", json_number_value(p));
    const char *stage = json_string_value(json_object_get(d, "stage"));
    if (stage && *stage)
        printf(" %s", stage);
    putchar('\n');
}

static void show_batch(const char *t, json_t *d)
{
    double pct = json_number_value(json_object_get(d, "progress"));
    long long failed = (long long)num(d, "failed"), cancelled = (long long)num(d, "cancelled");
    char bar[16];
    cli_bar(bar, sizeof bar, pct, 10);
    printf("%s batch %s %s %.0f%% %lld/%lld done", t, cli_str(d, "batchId"), bar, pct,
           (long long)num(d, "completed") + failed + cancelled, (long long)num(d, "total"));
    if (failed)
        printf(", %lld failed", failed);
    if (cancelled)
        printf(", %lld cancelled", cancelled);
    putchar('\n');
}

static void show_session(const char *t, json_t *d)
{
    long long failed = (long long)num(d, "failedPages");
    printf("%s session %s %s: %lld/%lld pages", t, cli_str(d, "sessionId"), cli_str(d, "status"),
           (long long)num(d, "completedPages") + failed, (long long)num(d, "totalPages"));
    if (failed)
        printf(" (%lld failed)", failed);
    printf(", %lld records\n", (long long)num(d, "records"));
}

static void show_import(const char *t, json_t *d)
{
    printf("%s import %s %s (%s): %lld products, %lld failed rows, %lld delivered\n", t,
           cli_str(d, "importId"), cli_str(d, "status"), cli_str(d, "sourceName"),
           (long long)num(d, "processed"), (long long)num(d, "failed"),
           (long long)num(d, "delivered"));
}

static void show_breaker(const char *t, json_t *d)
{
    const char *state = cli_str(d, "state");
    printf("%s breaker %s %s", t, cli_str(d, "service"), state);
    if (strcmp(state, "open") == 0) {
        char retry[16];
        clock_text(retry, sizeof retry, num(d, "retryAt"));
        printf(" (%lld failures; trying again at %s)", (long long)num(d, "failures"), retry);
    }
    putchar('\n');
}

static void show_alert(const char *t, json_t *d)
{
    printf("%s alert %s: %s\n", t, cli_str(d, "level"), cli_str(d, "message"));
}

static void show(const char *event, const char *data)
{
    static const struct {
        const char *name;
        void (*fn)(const char *t, json_t *d);
    } shows[] = {{"job", show_job},         {"progress", show_progress}, {"batch", show_batch},
                 {"session", show_session}, {"breaker", show_breaker},   {"alert", show_alert},
                 {"import", show_import}};
    json_t *d = json_loads(data, JSON_DECODE_ANY, NULL);
    if (json_is_object(d))
        scrub(d);
    char t[16];
    clock_text(t, sizeof t, json_is_object(d) ? num(d, "at") : 0);
    size_t i = 0;
    while (i < sizeof shows / sizeof shows[0] && strcmp(shows[i].name, event) != 0)
        i++;
    if (json_is_object(d) && i < sizeof shows / sizeof shows[0]) {
        shows[i].fn(t, d);
    } else { /* a kind this trawl does not know yet, or data that is not an object */
        char *e = strdup(event), *x = strdup(data);
        if (e && x)
            printf("%s %s %s\n", t, scrub_text(e, strlen(e)), scrub_text(x, strlen(x)));
        free(e);
        free(x);
    }
    json_decref(d);
}

static void on_event(void *ctx, const char *id, const char *event, const char *data)
{
    (void)id;
    struct watch *w = ctx;
    if (strcmp(event, "gap") == 0 || strcmp(event, "dropped") == 0) {
        json_t *d = json_loads(data, 0, NULL);
        scrub(d);
        const char *reason = json_string_value(json_object_get(d, "reason"));
        fprintf(stderr, "trawl watch: warning: %s: %s\n",
                event[0] == 'g' ? "events were missed" : "the server dropped this stream",
                reason ? reason : "(no reason given)");
        json_decref(d);
        return;
    }
    if (w->json)
        printf("%s\n", data);
    else
        show(event, data);
    /* at once, so a file or a pipe reader sees each event as it happens */
    if (fflush(stdout) != 0)
        w->out_errno = errno ? errno : EIO;
}

/* ---- the stream ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct watch *w = arg;
    if (!w->status) {
        char *type = NULL;
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
        curl_easy_getinfo(w->h, CURLINFO_CONTENT_TYPE, &type);
        w->stream = w->status == 200 && type && strncasecmp(type, "text/event-stream", 17) == 0;
        if (w->stream && w->reconnecting) {
            fprintf(stderr, "trawl watch: reconnected\n");
            w->reconnecting = false;
        }
    }
    if (!w->stream) /* an error answer: kept to show its message */
        return buf_add(&w->err, data, size * n) == 0 ? size * n : 0;
    if (sse_feed(&w->sse, data, size * n, on_event, w))
        fprintf(stderr, "trawl watch: warning: skipped an event larger than %u bytes\n",
                SSE_EVENT_MAX);
    return w->out_errno || atomic_load(&interrupted_) ? 0 : size * n;
}

/* Called about once a second while the stream is idle: how Ctrl-C stops a transfer. */
static int on_tick(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
    (void)arg, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&interrupted_) ? 1 : 0;
}

/* One GET of url, resuming after the last event id seen; the stream is read until it ends. */
static CURLcode stream_once(struct watch *w, const char *url, const char *token)
{
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: text/event-stream");
    char line[1024];
    if (token && *token) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, line);
    }
    const char *last = sse_last_id(&w->sse);
    if (*last && strlen(last) < 64) {
        snprintf(line, sizeof line, "Last-Event-ID: %s", last);
        hdrs = curl_slist_append(hdrs, line);
    }
    w->status = 0;
    w->stream = false;
    buf_clear(&w->err);
    w->errbuf[0] = 0;
    curl_easy_setopt(w->h, CURLOPT_URL, url);
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, hdrs);
    CURLcode cc = curl_easy_perform(w->h);
    curl_easy_setopt(w->h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (!w->status)
        curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->status);
    return cc;
}

/* Print why the server refused the stream: its message when it gave one. */
static void print_answer_error(struct watch *w, const char *token)
{
    json_t *ans = json_loadb(w->err.data, w->err.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
    if (msg)
        fprintf(stderr, "trawl watch: %s (HTTP %ld)\n", msg, w->status);
    else if (w->status >= 400)
        fprintf(stderr, "trawl watch: the server answered HTTP %ld\n", w->status);
    else
        fprintf(stderr,
                "trawl watch: the server answered HTTP %ld without an event stream (is it "
                "trawl serve?)\n",
                w->status);
    if (w->status == 401 && !(token && *token))
        fprintf(stderr, "  set --token or TRAWL_TOKEN (make one with `trawl token create "
                        "--workspace NAME`)\n");
    json_decref(ans);
}

/* Sleep ms, or less when interrupted. */
static void pause_ms(long ms)
{
    for (long left = ms; left > 0 && !atomic_load(&interrupted_); left -= 100) {
        struct timespec ts = {0, (left < 100 ? left : 100) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static int follow(struct watch *w, const char *server, const char *url, const char *token)
{
    bool connected = false; /* once: the server is there, so later failures are waited out */
    bool outage = false;    /* a failure to reconnect was reported */
    for (;;) {
        CURLcode cc = stream_once(w, url, token);
        const char *why = w->errbuf[0] ? w->errbuf : curl_easy_strerror(cc);
        if (atomic_load(&interrupted_))
            return 0;
        if (w->out_errno) {
            fprintf(stderr, "trawl watch: cannot write the output: %s\n", strerror(w->out_errno));
            return 1;
        }
        if (!w->stream && w->status && (w->status < 500 || !connected)) {
            print_answer_error(w, token);
            return 1;
        }
        if (!connected && !w->stream) {
            fprintf(stderr,
                    "trawl watch: cannot reach the server at %s: %s\n  (is `trawl serve` "
                    "running? set --server or TRAWL_SERVER)\n",
                    server, why);
            return 1;
        }
        long retry_ms = w->sse.retry_ms >= 0 ? w->sse.retry_ms : RETRY_MS_DEFAULT;
        if (retry_ms < 100)
            retry_ms = 100;
        if (w->stream) {
            const char *last = sse_last_id(&w->sse);
            connected = true;
            outage = false;
            fprintf(stderr, "trawl watch: the stream ended (%s); reconnecting in %.1f s%s%s\n",
                    cc == CURLE_OK                   ? "the server closed it"
                    : cc == CURLE_OPERATION_TIMEDOUT ? "no data for a while"
                                                     : why,
                    (double)retry_ms / 1000, *last ? " after event " : "", last);
        } else if (!outage) {
            if (w->status)
                print_answer_error(w, token);
            else
                fprintf(stderr, "trawl watch: cannot reach the server at %s: %s\n", server, why);
            fprintf(stderr, "trawl watch: trying again every %.1f s\n", (double)retry_ms / 1000);
            outage = true;
        }
        w->reconnecting = true;
        pause_ms(retry_ms);
        if (atomic_load(&interrupted_))
            return 0;
        sse_reset(&w->sse);
    }
}

/* ---- arguments ---- */

static bool valid_types(const char *list)
{
    const char *s = list;
    for (;;) {
        size_t n = strcspn(s, ",");
        size_t i = 0;
        while (i < sizeof kinds_ / sizeof kinds_[0] &&
               !(strlen(kinds_[i]) == n && strncmp(kinds_[i], s, n) == 0))
            i++;
        if (i == sizeof kinds_ / sizeof kinds_[0]) {
            fprintf(stderr,
                    "trawl watch: --types: '%.*s' is not an event type (job, progress, batch, "
                    "session, breaker, alert, import)\n",
                    (int)n, s);
            return false;
        }
        if (!s[n])
            return true;
        s += n + 1;
    }
}

static bool valid_key(const char *opt, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            n = 0;
    if (n == 0 || n > 256) {
        fprintf(stderr, "trawl watch: %s must be 1 to 256 printable characters\n", opt);
        return false;
    }
    return true;
}

/* The events URL for the filters; NULL when libcurl cannot escape them. */
static char *events_url(CURL *h, const char *server, const char *types, const char *batch,
                        const char *session)
{
    struct buf u;
    buf_init(&u, 0);
    size_t sl = strlen(server);
    while (sl && server[sl - 1] == '/')
        sl--;
    buf_add(&u, server, sl);
    buf_adds(&u, "/v1/events");
    char sep = '?';
    const char *names[] = {"types", "batch", "session"};
    const char *values[] = {types, batch, session};
    for (int i = 0; i < 3; i++) {
        if (!values[i])
            continue;
        char *v = curl_easy_escape(h, values[i], 0);
        if (!v) {
            buf_release(&u);
            return NULL;
        }
        buf_addf(&u, "%c%s=%s", sep, names[i], v);
        curl_free(v);
        sep = '&';
    }
    return buf_detach(&u);
}

int cmd_watch(int argc, char **argv)
{
    enum { W_BATCH = 400, W_SESSION, W_TYPES };
    static const struct option longs[] = {{"batch", required_argument, 0, W_BATCH},
                                          {"session", required_argument, 0, W_SESSION},
                                          {"types", required_argument, 0, W_TYPES},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    const char *batch = NULL, *session = NULL, *types = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        switch (c) {
        case W_BATCH:
            batch = optarg;
            break;
        case W_SESSION:
            session = optarg;
            break;
        case W_TYPES:
            types = optarg;
            break;
        default:
            fputs(usage_, stderr);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "trawl watch: unexpected argument '%s'\n", argv[optind]);
        fputs(usage_, stderr);
        return 2;
    }
    if (batch && session) {
        fprintf(stderr, "trawl watch: give --batch or --session, not both\n");
        return 2;
    }
    if ((types && !valid_types(types)) || (batch && !valid_key("--batch", batch)) ||
        (session && !valid_key("--session", session)))
        return 2;

    struct watch w = {.json = o.json};
    w.h = curl_easy_init();
    if (!w.h) {
        fprintf(stderr, "trawl: cannot start libcurl\n");
        return 1;
    }
    sse_init(&w.sse);
    buf_init(&w.err, ERROR_BODY_MAX);
    const char *server = cli_server(o.conn.server);
    const char *token = o.conn.token && *o.conn.token ? o.conn.token : getenv("TRAWL_TOKEN");
    int rc = 1;
    char *url = events_url(w.h, server, types, batch, session);
    if (!url) {
        fprintf(stderr, "trawl watch: cannot make the events URL\n");
        goto out;
    }
    curl_easy_setopt(w.h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(w.h, CURLOPT_WRITEDATA, &w);
    curl_easy_setopt(w.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(w.h, CURLOPT_XFERINFOFUNCTION, on_tick);
    curl_easy_setopt(w.h, CURLOPT_ERRORBUFFER, w.errbuf);
    curl_easy_setopt(w.h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(w.h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    /* the server sends a comment every 15 s: this long without a byte, the connection is dead */
    curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(w.h, CURLOPT_LOW_SPEED_TIME, (long)IDLE_S);
    curl_easy_setopt(w.h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* no SA_RESTART: a blocked poll returns at once and libcurl calls on_tick */
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = follow(&w, server, url, token);
out:
    free(url);
    buf_release(&w.err);
    sse_release(&w.sse);
    curl_easy_cleanup(w.h);
    return rc;
}
