/* Alerts end to end: a real trawl serve sends them to a local receiver that speaks Sentry's
 * envelope endpoint and the signed alert webhook (tests/e2e/sentryrx.c), which checks each
 * envelope strictly and each webhook signature. The exact tags and fingerprints of a job that
 * failed for good, a stuck job after its worker was killed (and what recovery made of it), a stuck
 * and a failed scraping session, a failed feed import; a receiver that is down, slow or answers 429
 * loses no alert; an alert repeated for one cause is held back and counted. */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY    "pubkey"
#define SECRET "s3cret"

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

/* What the receiver has: {"events": [...], "hooks": [...], "requests": N}; decref it. */
static json_t *received(const struct origin *rx)
{
    struct resp r;
    e2e_http(&r, rx->base, "GET", "/received", NULL, NULL, 0, NULL);
    OK_STATUS(r, 200);
    json_t *j = json_incref(r.json);
    e2e_resp_release(&r);
    return j;
}

/* Wait up to ms for at least n Sentry events and n webhook deliveries; returns what came. */
static json_t *wait_received(const struct origin *rx, size_t n, int ms)
{
    int64_t until = e2e_ms() + ms;
    for (;;) {
        json_t *j = received(rx);
        if (json_array_size(json_object_get(j, "events")) >= n &&
            json_array_size(json_object_get(j, "hooks")) >= n)
            return j;
        if (e2e_ms() > until) {
            char *t = json_dumps(j, JSON_COMPACT);
            cr_assert_fail("wanted %zu alerts, the receiver has: %.3000s", n, t);
        }
        json_decref(j);
        e2e_sleep_ms(100);
    }
}

static void control(const struct origin *rx, const char *query)
{
    struct resp r;
    char path[256];
    snprintf(path, sizeof path, "/control?%s", query);
    e2e_http(&r, rx->base, "POST", path, NULL, "", 0, "text/plain");
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
}

static const char *tag(json_t *ev, const char *k)
{
    return json_string_value(json_object_get(json_object_get(ev, "tags"), k));
}

static const char *fp(json_t *ev, size_t i)
{
    return json_string_value(json_array_get(json_object_get(ev, "fingerprint"), i));
}

/* The Sentry event of the given kind (tags.alert_kind), or fails. */
static json_t *event_of(json_t *got, const char *kind)
{
    json_t *evs = json_object_get(got, "events");
    for (size_t i = 0; i < json_array_size(evs); i++)
        if (strcmp(tag(json_array_get(evs, i), "alert_kind"), kind) == 0)
            return json_array_get(evs, i);
    char *t = json_dumps(evs, JSON_COMPACT);
    cr_assert_fail("no %s alert among: %.3000s", kind, t);
    return NULL;
}

static void start_serve(struct serve *s, const char *db, const struct origin *rx, int rxport,
                        const char *const *more)
{
    char dsn[128], hook[128];
    int port = rx ? rx->port : rxport;
    snprintf(dsn, sizeof dsn, "http://" KEY "@127.0.0.2:%d/42", port);
    snprintf(hook, sizeof hook, "http://127.0.0.2:%d/hook", port);
    const char *args[40] = {"--sentry-dsn",    dsn,
                            "--alert-webhook", hook,
                            "--alert-secret",  SECRET,
                            "--sweep",         "100",
                            "--type",          "alert.backoff_base_ms=200",
                            "--type",          "alert.backoff_cap_ms=400",
                            "--alert-timeout", "4000"};
    int k = 14;
    for (int i = 0; more && more[i]; i++)
        args[k++] = more[i];
    args[k] = NULL;
    e2e_serve(s, db, args);
}

static void enqueue(const struct serve *s, const char *tok, const char *type, char id[64])
{
    struct resp r;
    e2e_call(&r, s, "POST", "/v1/jobs", tok,
             json_pack("{s:s, s:i}", "type", type, "maxAttempts", 1));
    OK_STATUS(r, 201);
    if (id)
        snprintf(id, 64, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
}

/* An external worker claims a job of type and fails it for good with error at stage. */
static void fail_one(const struct serve *s, const char *tok, const char *type, const char *stage,
                     const char *error, char id[64])
{
    enqueue(s, tok, type, id);
    char jid[64], lease[64], path[128];
    e2e_claim(s, tok, type, jid, lease);
    struct resp r;
    snprintf(path, sizeof path, "/v1/jobs/%s/heartbeat", jid);
    e2e_call(&r, s, "POST", path, tok,
             json_pack("{s:s, s:s, s:s, s:i}", "worker", "w", "leaseToken", lease, "stage", stage,
                       "progress", 40));
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    e2e_worker_end(s, tok, jid, lease, "fail", error);
}

Test(alerts, a_job_that_failed_for_good, .timeout = 60)
{
    struct origin rx;
    e2e_sentry(&rx, 0, KEY, SECRET);
    struct serve s;
    start_serve(&s, NULL, &rx, 0, NULL);
    char t[128], id[64];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "acme"));
    fail_one(&s, t, "ingest", "parsing", "parse_error: row 7 has 3 columns, want 4", id);
    json_t *got = wait_received(&rx, 1, 10000);
    json_t *ev = event_of(got, "job_failed");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "level")), "error");
    cr_assert_str_eq(tag(ev, "job_id"), id);
    cr_assert_str_eq(tag(ev, "job_type"), "ingest");
    cr_assert_str_eq(tag(ev, "error_type"), "parse_error");
    cr_assert_str_eq(tag(ev, "stage"), "parsing");
    cr_assert_str_eq(tag(ev, "workspace"), "acme");
    cr_assert_eq(json_array_size(json_object_get(ev, "fingerprint")), 2);
    cr_assert_str_eq(fp(ev, 0), "ingest-failed");
    cr_assert_str_eq(fp(ev, 1), "parsing");
    json_t *job = json_object_get(json_object_get(ev, "contexts"), "job");
    cr_assert_eq(json_integer_value(json_object_get(job, "progress")), 40);
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "failed");
    cr_assert(
        strstr(json_string_value(json_object_get(json_object_get(ev, "message"), "formatted")),
               "row 7 has 3 columns") != NULL);
    /* the envelope's header and the event agree; the webhook got the same alert, signed (the
     * receiver refuses a bad signature), with its id as the delivery id */
    json_t *env = json_object_get(ev, "_envelope");
    cr_assert_str_eq(json_string_value(json_object_get(env, "event_id")),
                     json_string_value(json_object_get(ev, "event_id")));
    json_t *hook = json_array_get(json_object_get(got, "hooks"), 0);
    json_t *body = json_object_get(hook, "body");
    cr_assert_str_eq(json_string_value(json_object_get(hook, "delivery")),
                     json_string_value(json_object_get(body, "id")));
    cr_assert_str_eq(json_string_value(json_object_get(body, "kind")), "job_failed");
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(body, "fingerprint"), 0)),
                     "ingest-failed");
    json_decref(got);
    /* exactly one of each: nothing sent twice */
    e2e_sleep_ms(500);
    got = received(&rx);
    cr_assert_eq(json_array_size(json_object_get(got, "events")), 1);
    cr_assert_eq(json_array_size(json_object_get(got, "hooks")), 1);
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&rx);
}

/* The worker dies (kill -9 of the trawl serve running the job): after the restart the monitor
 * finds its lease expired, alerts that the job was stuck and that it was requeued to resume. */
Test(alerts, a_stuck_job_after_its_worker_was_killed, .timeout = 90)
{
    struct origin rx;
    e2e_sentry(&rx, 0, KEY, SECRET);
    struct serve s;
    const char *more[] = {"--type", "sleep.lease_ms=1500", NULL};
    start_serve(&s, NULL, &rx, 0, more);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "default"));
    /* two long jobs: one with an attempt left, one on its last */
    char id[2][64];
    for (int i = 0; i < 2; i++) {
        struct resp r;
        e2e_call(&r, &s, "POST", "/v1/jobs", t,
                 json_pack("{s:s, s:i, s:{s:i}}", "type", "sleep", "maxAttempts", 2 - i, "args",
                           "ms", 60000));
        OK_STATUS(r, 201);
        snprintf(id[i], sizeof id[i], "%s", json_string_value(json_object_get(r.json, "jobId")));
        e2e_resp_release(&r);
    }
    int64_t until = e2e_ms() + 10000;
    for (int i = 0; i < 2; i++) { /* until both run */
        char path[160];
        snprintf(path, sizeof path, "/v1/jobs/%s", id[i]);
        for (;;) {
            struct resp r;
            e2e_call(&r, &s, "GET", path, t, NULL);
            const char *st =
                json_string_value(json_object_get(json_object_get(r.json, "job"), "status"));
            bool running = st && strcmp(st, "processing") == 0;
            e2e_resp_release(&r);
            if (running)
                break;
            cr_assert_lt(e2e_ms(), until, "the sleep jobs never ran");
            e2e_sleep_ms(50);
        }
    }
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    char db[sizeof s.db];
    snprintf(db, sizeof db, "%s", s.db);
    start_serve(&s, db, &rx, 0, more);
    /* that they were stuck (one alert: both share its fingerprint, and the second falls in the
     * first one's window), and per job what recovery made of it */
    json_t *got = wait_received(&rx, 3, 15000);
    json_t *evs = json_object_get(got, "events");
    int stuck = 0;
    for (size_t i = 0; i < json_array_size(evs); i++) {
        json_t *ev = json_array_get(evs, i);
        if (strcmp(tag(ev, "alert_kind"), "stuck_job") != 0)
            continue;
        stuck++;
        cr_assert(strcmp(tag(ev, "job_id"), id[0]) == 0 || strcmp(tag(ev, "job_id"), id[1]) == 0);
        cr_assert_str_eq(tag(ev, "job_type"), "sleep");
        cr_assert_str_eq(tag(ev, "error_type"), "stuck_job");
        cr_assert_str_eq(tag(ev, "failure_reason"), "heartbeat_timeout");
        cr_assert_str_eq(fp(ev, 0), "stuck-job");
        cr_assert_str_eq(fp(ev, 1), "heartbeat_timeout");
        json_t *c = json_object_get(ev, "contexts");
        json_t *st = json_object_get(c, "stuck");
        cr_assert_str_eq(json_string_value(json_object_get(st, "reason")), "heartbeat_timeout");
        cr_assert_geq(json_integer_value(json_object_get(st, "stuckForMs")), 1500,
                      "stuck at least a lease");
        json_t *job = json_object_get(c, "job");
        cr_assert_gt(json_integer_value(json_object_get(job, "startedAt")), 0);
        cr_assert_gt(json_integer_value(json_object_get(job, "lastHeartbeat")), 0);
        cr_assert_not_null(json_object_get(job, "progress"));
    }
    cr_assert_eq(stuck, 1, "the second stuck alert is held back by the rate limit");
    json_t *ev = event_of(got, "job_resumed");
    cr_assert_str_eq(tag(ev, "job_id"), id[0]);
    cr_assert_str_eq(json_string_value(json_object_get(ev, "level")), "warning");
    cr_assert_str_eq(fp(ev, 0), "job-resumed");
    cr_assert_str_eq(fp(ev, 1), "sleep");
    ev = event_of(got, "restarts_exhausted");
    cr_assert_str_eq(tag(ev, "job_id"), id[1]);
    cr_assert_str_eq(fp(ev, 0), "restarts-exhausted");
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&rx);
}

/* A malformed DSN or webhook URL stops serve at start, with a message that names it. */
Test(alerts, bad_alert_settings_are_refused_at_start)
{
    static const struct {
        const char *env, *flag, *value, *needle;
    } cases[] = {
        {"SENTRY_DSN=not a dsn", NULL, NULL, "sentry dsn"},
        {NULL, "--sentry-dsn", "https://key@sentry.example/notanumber", "not a number"},
        {NULL, "--sentry-dsn", "https://sentry.example/42", "public key"},
        {NULL, "--alert-webhook", "ftp://hooks.example/x", "scheme 'ftp'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct run r;
        const char *env[] = {cases[i].env, NULL};
        if (cases[i].flag)
            E2E_RUN(&r, env, "serve", "--db", e2e_db("x.db"), "--listen", "127.0.0.1:0",
                    "--alert-secret", "k", cases[i].flag, cases[i].value);
        else
            E2E_RUN(&r, env, "serve", "--db", e2e_db("x.db"), "--listen", "127.0.0.1:0");
        cr_assert_eq(r.status, 2, "case %zu: exit %d: %s", i, r.status, r.err);
        cr_assert(strstr(r.err, cases[i].needle) != NULL, "case %zu: %s", i, r.err);
    }
    struct run r;
    E2E_RUN(&r, NULL, "serve", "--db", e2e_db("x.db"), "--listen", "127.0.0.1:0", "--alert-webhook",
            "https://hooks.example/x");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "secret") != NULL, "%s", r.err);
}

/* A scraping session whose serve was killed mid-fetch is stuck; one whose start page leads
 * nowhere fails. Both alerts name the session and its site. */
Test(alerts, stuck_and_failed_scraping_sessions, .timeout = 120)
{
    struct origin rx, site;
    e2e_sentry(&rx, 0, KEY, SECRET);
    e2e_origin(&site, NULL);
    struct serve s;
    const char *more[] = {"--type",
                          "web_scraping.lease_ms=1500",
                          "--workers",
                          "2",
                          "--first-byte-timeout",
                          "30000",
                          "--allow-private",
                          "127.0.0.2/32",
                          NULL};
    start_serve(&s, NULL, &rx, 0, more);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "shop"));
    char url[256];
    snprintf(url, sizeof url, "%s/slow-first-byte?ms=20000", site.base);
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/scraping-sessions", t,
             json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"));
    OK_STATUS(r, 201);
    char sid[64];
    snprintf(sid, sizeof sid, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "session"), "id")));
    e2e_resp_release(&r);
    /* wait until the start page is being fetched, then kill the worker */
    int64_t until = e2e_ms() + 10000;
    while (e2e_origin_hits(&site, "/slow-first-byte") < 1) {
        cr_assert_lt(e2e_ms(), until, "the session never fetched its start page");
        e2e_sleep_ms(50);
    }
    kill(s.pid, SIGKILL);
    waitpid(s.pid, NULL, 0);
    char db[sizeof s.db];
    snprintf(db, sizeof db, "%s", s.db);
    const char *again[] = {"--crawl-workers", "0", "--workers", "2", NULL};
    start_serve(&s, db, &rx, 0, again);
    json_t *got = wait_received(&rx, 1, 15000);
    json_t *ev = event_of(got, "session_stuck");
    cr_assert_str_eq(tag(ev, "session_id"), sid);
    cr_assert_str_eq(tag(ev, "source_url"), url);
    cr_assert_str_eq(tag(ev, "failure_reason"), "heartbeat_timeout");
    cr_assert_str_eq(fp(ev, 0), "stuck-scraping-session");
    cr_assert_str_eq(fp(ev, 1), url);
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);

    /* a session that can read no page fails, and says where */
    const char *third[] = {"--crawl-workers", "2", "--workers", "2", "--allow-private",
                           "127.0.0.2/32",    NULL};
    start_serve(&s, db, &rx, 0, third);
    control(&rx, "mode=ok");
    struct resp c;
    e2e_http(&c, rx.base, "POST", "/clear", NULL, "", 0, "text/plain");
    e2e_resp_release(&c);
    snprintf(url, sizeof url, "%s/status?code=404", site.base);
    e2e_call(&r, &s, "POST", "/v1/scraping-sessions", t,
             json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"));
    OK_STATUS(r, 201);
    snprintf(sid, sizeof sid, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "session"), "id")));
    e2e_resp_release(&r);
    got = wait_received(&rx, 1, 30000);
    ev = event_of(got, "session_failed");
    cr_assert_str_eq(tag(ev, "session_id"), sid);
    cr_assert_str_eq(tag(ev, "source_url"), url);
    cr_assert_str_eq(fp(ev, 0), "scraping-session-failed");
    cr_assert_str_eq(fp(ev, 1), url);
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&site);
    e2e_origin_stop(&rx);
}

/* serve's own xml_import handler fails a job whose import is not there: the import alert, not the
 * generic one, reaches Sentry and the webhook (the tags of a real import's alerts, its source and
 * its stuck twin: tests/unit/test_alert_import.c). */
Test(alerts, a_failed_import_job, .timeout = 60)
{
    struct origin rx;
    e2e_sentry(&rx, 0, KEY, SECRET);
    struct serve s;
    start_serve(&s, NULL, &rx, 0, NULL);
    char t[128], id[64];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "shop"));
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:i, s:{s:s}}", "type", "xml_import", "maxAttempts", 1, "args",
                       "import_id", "01900000-0000-7000-8000-000000000000"));
    OK_STATUS(r, 201);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    json_t *got = wait_received(&rx, 1, 15000);
    json_t *ev = event_of(got, "xml_import_job_failed");
    cr_assert_str_eq(json_string_value(json_object_get(ev, "level")), "error");
    cr_assert_str_eq(tag(ev, "job_id"), id);
    cr_assert_str_eq(tag(ev, "source_name"), "unknown");
    cr_assert_str_eq(tag(ev, "import_job_id"), "unknown");
    cr_assert_str_eq(tag(ev, "error_type"), "error");
    cr_assert_str_eq(tag(ev, "workspace"), "shop");
    cr_assert_str_eq(fp(ev, 0), "xml-import-job-failed");
    cr_assert_str_eq(fp(ev, 1), "unknown");
    json_t *hook = json_array_get(json_object_get(got, "hooks"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(hook, "body"), "kind")),
                     "xml_import_job_failed");
    json_decref(got);
    e2e_sleep_ms(500);
    got = received(&rx);
    cr_assert_eq(json_array_size(json_object_get(got, "events")), 1, "no job_failed as well");
    json_decref(got);

    /* a real import of a file that is no feed: its source and its import's id in the tags */
    const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01";
    e2e_http(&r, s.base, "POST", "/v1/imports?source_name=acme-feed", t, png, sizeof png - 1,
             "application/octet-stream");
    OK_STATUS(r, 201);
    char imp[64];
    json_t *im = json_object_get(r.json, "import");
    snprintf(imp, sizeof imp, "%s", json_string_value(json_object_get(im, "id")));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(im, "background_job_id")));
    e2e_resp_release(&r);
    got = wait_received(&rx, 2, 15000);
    ev = json_array_get(json_object_get(got, "events"), 1);
    cr_assert_str_eq(tag(ev, "alert_kind"), "xml_import_job_failed");
    cr_assert_str_eq(tag(ev, "job_id"), id);
    cr_assert_str_eq(tag(ev, "import_job_id"), imp);
    cr_assert_str_eq(tag(ev, "source_name"), "acme-feed");
    cr_assert(tag(ev, "error_type") && tag(ev, "error_type")[0], "no error_type");
    cr_assert_str_eq(fp(ev, 0), "xml-import-job-failed");
    cr_assert_str_eq(fp(ev, 1), "acme-feed");
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&rx);
}

/* Down, then 429, then slow: every alert arrives once, each with its own id. */
Test(alerts, a_receiver_down_slow_or_429_loses_no_alert, .timeout = 120)
{
    int port = e2e_free_port("127.0.0.2"); /* a receiver that is down */
    struct serve s;
    /* the receiver's breaker opens while it is down; a short open period keeps the test short */
    const char *more[] = {"--alert-window", "0", "--breaker-open", "1000", NULL};
    start_serve(&s, NULL, NULL, port, more);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "default"));
    /* down: three alerts wait in their delivery jobs */
    for (int i = 0; i < 3; i++)
        fail_one(&s, t, "down", "x", "boom: receiver is down", NULL);
    e2e_sleep_ms(1000);
    struct origin rx;
    e2e_sentry(&rx, port, KEY, SECRET);
    json_t *got = wait_received(&rx, 3, 30000);
    json_decref(got);
    /* 429 for the next 4 requests (each with Retry-After: 1) */
    control(&rx, "mode=429&n=4");
    for (int i = 0; i < 2; i++)
        fail_one(&s, t, "limited", "x", "boom: receiver says 429", NULL);
    got = wait_received(&rx, 5, 30000);
    json_decref(got);
    /* slow: 1.5 s an answer, within the 4 s delivery timeout */
    control(&rx, "mode=slow&delay_ms=1500");
    for (int i = 0; i < 2; i++)
        fail_one(&s, t, "slow", "x", "boom: receiver is slow", NULL);
    got = wait_received(&rx, 7, 30000);
    /* seven alerts, seven distinct ids, on both routes */
    json_t *evs = json_object_get(got, "events"), *hooks = json_object_get(got, "hooks");
    cr_assert_eq(json_array_size(evs), 7, "no alert twice");
    cr_assert_eq(json_array_size(hooks), 7, "no delivery twice");
    for (size_t i = 0; i < 7; i++)
        for (size_t j = i + 1; j < 7; j++)
            cr_assert_str_neq(
                json_string_value(json_object_get(json_array_get(evs, i), "event_id")),
                json_string_value(json_object_get(json_array_get(evs, j), "event_id")));
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&rx);
}

/* Five failures of one cause within the window: one alert, and the next one after the window
 * says how many were held back. */
Test(alerts, repeated_alerts_are_rate_limited, .timeout = 60)
{
    struct origin rx;
    e2e_sentry(&rx, 0, KEY, SECRET);
    struct serve s;
    const char *more[] = {"--alert-window", "3000", NULL};
    start_serve(&s, NULL, &rx, 0, more);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "default"));
    int64_t t0 = e2e_ms();
    for (int i = 0; i < 5; i++)
        fail_one(&s, t, "ingest", "parsing", "parse_error: bad row", NULL);
    cr_assert_lt(e2e_ms() - t0, 3000, "the failures must fall in one window");
    json_t *got = wait_received(&rx, 1, 10000);
    json_decref(got);
    e2e_sleep_ms(3200);
    fail_one(&s, t, "ingest", "parsing", "parse_error: bad row", NULL);
    got = wait_received(&rx, 2, 10000);
    json_t *evs = json_object_get(got, "events");
    cr_assert_eq(json_array_size(evs), 2, "one alert per window");
    json_t *second = json_array_get(evs, 1);
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(second, "extra"), "suppressed")), 4,
        "the 4 held back are counted");
    json_decref(got);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    e2e_origin_stop(&rx);
}
