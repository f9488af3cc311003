/* Metrics end to end: GET /v1/metrics against what a test did to jobs through the API (per
 * workspace, per type, the window's figures, the errors of a bad query), and GET /metrics checked
 * by promtool, Prometheus's own format checker. */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

static void start(struct serve *s)
{
    /* no workers: the test is the (external) worker */
    E2E_SERVE(s, NULL, "--crawl-workers", "0", "--workers", "0");
}

static void enqueue(const struct serve *s, const char *tok, const char *type, int attempts)
{
    struct resp r;
    e2e_call(&r, s, "POST", "/v1/jobs", tok,
             json_pack("{s:s, s:i}", "type", type, "maxAttempts", attempts));
    OK_STATUS(r, 201);
    e2e_resp_release(&r);
}

static void end_job(const struct serve *s, const char *tok, const char *type, const char *how)
{
    char id[64], lease[64];
    e2e_claim(s, tok, type, id, lease);
    e2e_worker_end(s, tok, id, lease, how, NULL);
}

static int64_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

static void expect_400(const struct serve *s, const char *tok, const char *query,
                       const char *needle)
{
    struct resp r;
    char path[256];
    snprintf(path, sizeof path, "/v1/metrics?%s", query);
    e2e_call(&r, s, "GET", path, tok, NULL);
    cr_assert_eq(r.status, 400, "%s: HTTP %ld %s", query, r.status, r.body);
    cr_assert(strstr(e2e_err(&r), needle) != NULL, "%s: %s", query, e2e_err(&r));
    e2e_resp_release(&r);
}

Test(metrics, json_figures_follow_the_jobs_per_workspace_and_type)
{
    struct serve s;
    start(&s);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    snprintf(b, sizeof b, "%s", e2e_token(s.db, "beta"));
    for (int i = 0; i < 5; i++)
        enqueue(&s, a, "ingest", 3);
    enqueue(&s, a, "report", 1);
    enqueue(&s, a, "report", 1);
    for (int i = 0; i < 3; i++)
        enqueue(&s, b, "ingest", 3);
    end_job(&s, a, "ingest", "complete");
    end_job(&s, a, "ingest", "complete");
    end_job(&s, a, "ingest", "fail");  /* not retryable: failed for good */
    end_job(&s, a, "ingest", "retry"); /* attempts left: retrying */
    end_job(&s, a, "report", "complete");
    struct resp r;
    e2e_call(&r, &s, "GET", "/v1/metrics", a, NULL);
    OK_STATUS(r, 200);
    json_t *m = r.json;
    cr_assert_eq(num(m, "totalJobs"), 7, "%s", r.body);
    cr_assert_eq(num(m, "queuedJobs"), 2, "one ingest and one report wait: %s", r.body);
    cr_assert_eq(num(m, "processingJobs"), 0);
    cr_assert_eq(num(m, "completedJobs"), 3);
    cr_assert_eq(num(m, "failedJobs"), 1);
    cr_assert_eq(num(m, "retryingJobs"), 1);
    cr_assert_eq(num(m, "completedInWindow"), 3);
    cr_assert_eq(num(m, "failedInWindow"), 1);
    cr_assert_eq(num(m, "retriedInWindow"), 1);
    double err = json_real_value(json_object_get(m, "errorRate"));
    cr_assert(err > 0.2499 && err < 0.2501, "1 failed of 4 ended: %f", err);
    double tput = json_real_value(json_object_get(m, "throughputPerMinute"));
    /* 3 completions in a one-hour window that began up to a minute before the hour */
    cr_assert(tput > 3.0 / 61 && tput <= 3.0 / 60 + 1e-9, "throughput %f", tput);
    cr_assert(json_real_value(json_object_get(m, "averageProcessingTime")) >= 0);
    cr_assert_str_eq(json_string_value(json_object_get(m, "window")), "1h");
    json_t *ingest = json_object_get(json_object_get(m, "byType"), "ingest");
    cr_assert_eq(num(ingest, "totalJobs"), 5, "%s", r.body);
    cr_assert_eq(num(ingest, "completedJobs"), 2);
    json_t *report = json_object_get(json_object_get(m, "byType"), "report");
    cr_assert_eq(num(report, "totalJobs"), 2);
    cr_assert_eq(num(report, "completedJobs"), 1);
    /* no feed import yet: each import type is there, with nothing in it */
    json_t *imports = json_object_get(json_object_get(m, "imports"), "byType");
    const char *itypes[] = {"xml", "csv", "json", "unknown"};
    for (size_t i = 0; i < 4; i++) {
        json_t *it = json_object_get(imports, itypes[i]);
        cr_assert_not_null(it, "no imports.byType.%s: %s", itypes[i], r.body);
        cr_assert_eq(num(it, "imports"), 0);
        cr_assert_eq(num(json_object_get(it, "byStatus"), "completed"), 0);
        cr_assert_eq(num(it, "deliveredProducts"), 0);
    }
    e2e_resp_release(&r);

    /* beta sees its own jobs only; one type and a window of its own */
    e2e_call(&r, &s, "GET", "/v1/metrics?window=5m", b, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(num(r.json, "totalJobs"), 3, "%s", r.body);
    cr_assert_eq(num(r.json, "queuedJobs"), 3);
    cr_assert_eq(num(r.json, "windowSeconds"), 300);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/metrics?type=report&window=24h", a, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(num(r.json, "totalJobs"), 2, "%s", r.body);
    cr_assert_null(json_object_get(json_object_get(r.json, "byType"), "ingest"));
    e2e_resp_release(&r);

    /* the per-minute series the dashboard draws: 60 points for an hour, the same totals */
    e2e_call(&r, &s, "GET", "/v1/metrics/series?window=1h", a, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(num(r.json, "points"), 60, "%s", r.body);
    json_t *ing = json_object_get(json_object_get(r.json, "byType"), "ingest");
    json_int_t done = 0, bad = 0;
    for (size_t i = 0; i < json_array_size(json_object_get(ing, "completed")); i++) {
        done += json_integer_value(json_array_get(json_object_get(ing, "completed"), i));
        bad += json_integer_value(json_array_get(json_object_get(ing, "failed"), i));
    }
    cr_assert_eq(json_array_size(json_object_get(ing, "completed")), 60);
    cr_assert_eq(done, 2, "%s", r.body);
    cr_assert_eq(bad, 1, "%s", r.body);
    cr_assert_null(json_object_get(json_object_get(r.json, "byType"), "noop"));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/metrics/series?window=2d", a, NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    e2e_resp_release(&r);

    expect_400(&s, a, "window=30s", "from 1m to 7d");
    expect_400(&s, a, "window=0m", "from 1m to 7d");
    expect_400(&s, a, "window=8d", "from 1m to 7d");
    expect_400(&s, a, "window=1hour", "from 1m to 7d");
    expect_400(&s, a, "type=no%20such", "printable characters without spaces");
    expect_400(&s, a, "type=never-seen", "unknown job type 'never-seen'");
    e2e_call(&r, &s, "GET", "/v1/metrics?workspace=beta", a, NULL);
    cr_assert_eq(r.status, 403, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/metrics", NULL, NULL);
    cr_assert_eq(r.status, 401, "a token is needed: %s", r.body);
    e2e_resp_release(&r);

    /* the counters are in the store: a restart keeps them */
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    char db[sizeof s.db];
    snprintf(db, sizeof db, "%s", s.db);
    E2E_SERVE(&s, db, "--crawl-workers", "0", "--workers", "0");
    e2e_call(&r, &s, "GET", "/v1/metrics", a, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(num(r.json, "totalJobs"), 7, "%s", r.body);
    cr_assert_eq(num(r.json, "completedInWindow"), 3);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* promtool (Debian's prometheus package) checks the exposition; the figures are there too. */
Test(metrics, prometheus_text_passes_promtool)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "2");
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "default"));
    for (int i = 0; i < 10; i++)
        enqueue(&s, t, "noop", 1);
    enqueue(&s, t, "weird\"type\\", 1); /* a label value that must be escaped */
    for (int i = 0; i < 24; i++) {      /* types enough for a text past 16 KiB, the old cap */
        char type[32];
        snprintf(type, sizeof type, "kind-%d", i);
        enqueue(&s, t, type, 1);
    }
    int64_t until = e2e_ms() + 10000;
    struct resp r;
    for (;;) {
        e2e_call(&r, &s, "GET", "/v1/metrics?type=noop", t, NULL);
        OK_STATUS(r, 200);
        int64_t done = num(r.json, "completedJobs");
        e2e_resp_release(&r);
        if (done == 10)
            break;
        cr_assert_lt(e2e_ms(), until, "the noop jobs did not complete");
        e2e_sleep_ms(50);
    }
    e2e_call(&r, &s, "GET", "/nope", t, NULL); /* a 404, counted by route "other" */
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/metrics", t, NULL);
    OK_STATUS(r, 200);
    cr_assert(strstr(r.headers, "text/plain; version=0.0.4") != NULL, "%s", r.headers);
    cr_assert_gt(r.len, 16384, "the text is past the old cap: %zu bytes", r.len);
    const char *want[] = {
        "trawl_jobs{workspace=\"default\",type=\"noop\",status=\"completed\"} 10\n",
        "trawl_jobs{workspace=\"default\",type=\"weird\\\"type\\\\\",status=\"pending\"} 1\n",
        "trawl_job_processing_seconds_count{type=\"noop\"} 10\n",
        "trawl_job_queue_wait_seconds_count{type=\"noop\"} 10\n",
        "trawl_store_commit_seconds_bucket{le=\"+Inf\"}",
        "trawl_store_commit_operations_bucket{le=\"+Inf\"}",
        "trawl_fetches_total{outcome=\"ok\"} 0\n",
        "trawl_http_requests_total{method=\"POST\",route=\"/v1/jobs\",code=\"201\"} 35\n",
        "trawl_http_requests_total{method=\"GET\",route=\"other\",code=\"404\"} 1\n",
        "# TYPE trawl_breaker_state gauge\n",
        "trawl_jobs{workspace=\"default\",type=\"kind-23\",status=\"pending\"} 1\n",
        "\ntrawl_events_published_total ", /* the last series: nothing cut off */
        /* no import yet: every import type's series is there, at 0 */
        "trawl_imports{type=\"csv\",status=\"completed\"} 0\n",
        "trawl_imports{type=\"unknown\",status=\"pending\"} 0\n",
        "trawl_import_products{type=\"xml\",state=\"delivered\"} 0\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(r.body, want[i]) != NULL, "missing %s in:\n%s", want[i], r.body);
    const char *file = e2e_path("metrics.txt");
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fwrite(r.body, 1, r.len, f);
    fclose(f);
    e2e_resp_release(&r);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", file, file);
    int st = system(cmd);
    char out[4096] = "";
    snprintf(cmd, sizeof cmd, "%s.out", file);
    f = fopen(cmd, "r");
    if (f) {
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = 0;
        fclose(f);
    }
    cr_assert_eq(st, 0, "promtool check metrics failed (is Debian's prometheus installed?):\n%s",
                 out);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}
