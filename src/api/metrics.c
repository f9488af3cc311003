/* GET /v1/metrics (the job figures as JSON: overall and per type, for a window, and the feed
 * imports by import type and status) and GET /metrics
 * (everything in Prometheus text format). Both show the token's workspace's jobs only. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "obs/metrics.h"
#include "store/import.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW "1h"
/* of GET /metrics' text: a few KiB per job type and per breaker, so room for thousands */
#define PROMETHEUS_MAX (8u << 20)

static json_t *figures_json(const struct job_figures *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "totalJobs", json_integer(f->total));
    json_object_set_new(o, "queuedJobs", json_integer(f->status[JOB_PENDING]));
    json_object_set_new(o, "processingJobs", json_integer(f->status[JOB_PROCESSING]));
    json_object_set_new(o, "completedJobs", json_integer(f->status[JOB_COMPLETED]));
    json_object_set_new(o, "failedJobs", json_integer(f->status[JOB_FAILED]));
    json_object_set_new(o, "retryingJobs", json_integer(f->status[JOB_RETRYING]));
    json_object_set_new(o, "cancelledJobs", json_integer(f->status[JOB_CANCELLED]));
    /* stages of chains: waiting for the stage before them, or blocked by one that failed */
    json_object_set_new(o, "waitingJobs", json_integer(f->status[JOB_WAITING]));
    json_object_set_new(o, "blockedJobs", json_integer(f->status[JOB_BLOCKED]));
    json_object_set_new(o, "throughputPerMinute", json_real(f->throughput_per_minute));
    json_object_set_new(o, "errorRate", json_real(f->error_rate));
    json_object_set_new(o, "averageProcessingTime", json_real(f->avg_processing_ms));
    json_object_set_new(o, "completedInWindow", json_integer(f->completed));
    json_object_set_new(o, "failedInWindow", json_integer(f->failed));
    json_object_set_new(o, "retriedInWindow", json_integer(f->retried));
    return o;
}

/* The imports of the figures: per import type, how many in each status and their products. */
static json_t *imports_json(const struct import_stats *st)
{
    json_t *by_type = json_object();
    for (int t = 0; t < IMPORT_TYPE_COUNT; t++) {
        json_t *by_status = json_object();
        int64_t n = 0;
        for (int k = 0; k < IMPORT_STATUS_COUNT; k++) {
            json_object_set_new(by_status, import_status_name(k), json_integer(st->imports[t][k]));
            n += st->imports[t][k];
        }
        json_object_set_new(by_type, obs_import_type_name(t),
                            json_pack("{s:I, s:o, s:I, s:I, s:I, s:I}", "imports", (json_int_t)n,
                                      "byStatus", by_status, "totalProducts",
                                      (json_int_t)st->total_products[t], "processedProducts",
                                      (json_int_t)st->processed_products[t], "failedProducts",
                                      (json_int_t)st->failed_products[t], "deliveredProducts",
                                      (json_int_t)st->delivered_products[t]));
    }
    return json_pack("{s:o}", "byType", by_type);
}

/* The window (as given, default DEFAULT_WINDOW, and in ms) and type of a metrics query; on a bad
 * one the 400 is sent and false returned. */
static bool read_query(struct req *r, const char **window, int64_t *win, const char **type)
{
    *window = api_query(r, "window");
    *type = api_query(r, "type");
    if (!*window)
        *window = DEFAULT_WINDOW;
    struct err e;
    err_clear(&e);
    *win = obs_parse_window(*window, &e);
    if (*win < 0) {
        api_reply_err(r, &e);
        return false;
    }
    if (*type && !engine_name_valid(*type, JOB_TYPE_MAX, false)) {
        api_reply_error(r, 400, "type must be 1-%d printable characters without spaces",
                        JOB_TYPE_MAX);
        return false;
    }
    return true;
}

enum MHD_Result api_metrics(struct req *r)
{
    struct engine *eng = r->api->deps.eng;
    const char *window, *type, *ws = api_query(r, "workspace");
    int64_t win;
    if (!read_query(r, &window, &win, &type))
        return MHD_YES;
    struct err e;
    err_clear(&e);
    if (ws && strcmp(ws, r->workspace) != 0)
        return api_reply_error(r, 403, "this token sees workspace '%s' only", r->workspace);
    int64_t now = engine_now(eng);
    struct stats_query q = {.workspace = r->workspace, .since = now - win};
    struct stats_row *rows;
    size_t n;
    if (engine_job_stats(eng, &q, &rows, &n, &e) < 0)
        return api_reply_err(r, &e);
    bool seen = !type || engine_type_known(eng, type);
    struct job_figures all = {0};
    json_t *by_type = json_object();
    for (size_t i = 0; i < n; i++) {
        if (type && strcmp(rows[i].type, type) != 0)
            continue;
        seen = true;
        struct job_figures f = {0};
        job_figures_add(&f, &rows[i]);
        job_figures_finish(&f, q.since, now);
        json_object_set_new(by_type, rows[i].type, figures_json(&f));
        job_figures_add(&all, &rows[i]);
    }
    stats_rows_free(rows, n);
    struct import_stats ist;
    if (seen && store_import_stats(engine_store(eng), r->workspace, &ist, &e) < 0) {
        json_decref(by_type);
        return api_reply_err(r, &e);
    }
    if (!seen) {
        json_decref(by_type);
        return api_reply_error(r, 400, "unknown job type '%s': no job of it was ever enqueued here",
                               type);
    }
    job_figures_finish(&all, q.since, now);
    json_t *body = api_ok();
    json_t *fa = figures_json(&all);
    json_object_update(body, fa);
    json_decref(fa);
    json_object_set_new(body, "workspace", json_string(r->workspace));
    json_object_set_new(body, "window", json_string(window));
    json_object_set_new(body, "windowSeconds", json_integer(win / 1000));
    json_object_set_new(body, "generatedAt", api_time(now));
    json_object_set_new(body, "byType", by_type);
    json_object_set_new(body, "imports", imports_json(&ist));
    return api_reply(r, 200, body);
}

/* GET /v1/metrics/series: per minute of the window and per type, what completed and failed, and
 * the average processing time; for the dashboard's charts. */
enum MHD_Result api_metrics_series(struct req *r)
{
    struct engine *eng = r->api->deps.eng;
    const char *window, *type;
    int64_t win;
    if (!read_query(r, &window, &win, &type))
        return MHD_YES;
    if (win > 24 * 3600 * 1000LL)
        return api_reply_error(r, 400, "a series covers at most 24h, one point a minute");
    struct err e;
    err_clear(&e);
    int64_t now = engine_now(eng);
    int64_t first = (now - win) / 60000 + 1, last = now / 60000;
    size_t points = (size_t)(last - first + 1);
    struct stats_query q = {.workspace = r->workspace, .type = type, .since = first * 60000};
    struct stats_minute *rows;
    size_t n;
    if (engine_job_minutes(eng, &q, &rows, &n, &e) < 0)
        return api_reply_err(r, &e);
    json_t *by_type = json_object();
    for (size_t i = 0; i < n; i++) {
        if (rows[i].minute < first || rows[i].minute > last)
            continue;
        json_t *t = json_object_get(by_type, rows[i].type);
        if (!t) {
            t = json_object();
            const char *keys[] = {"completed", "failed", "retried", "averageProcessingTime"};
            for (size_t k = 0; k < 4; k++) {
                json_t *arr = json_array();
                for (size_t p = 0; p < points; p++)
                    json_array_append_new(arr, k == 3 ? json_real(0) : json_integer(0));
                json_object_set_new(t, keys[k], arr);
            }
            json_object_set_new(by_type, rows[i].type, t);
        }
        size_t at = (size_t)(rows[i].minute - first);
        json_array_set_new(json_object_get(t, "completed"), at, json_integer(rows[i].completed));
        json_array_set_new(json_object_get(t, "failed"), at, json_integer(rows[i].failed));
        json_array_set_new(json_object_get(t, "retried"), at, json_integer(rows[i].retried));
        json_array_set_new(
            json_object_get(t, "averageProcessingTime"), at,
            json_real(rows[i].proc_n ? (double)rows[i].proc_ms / (double)rows[i].proc_n : 0));
    }
    stats_minutes_free(rows, n);
    json_t *body = api_ok();
    json_object_set_new(body, "window", json_string(window));
    json_object_set_new(body, "firstMinute", api_time(first * 60000));
    json_object_set_new(body, "points", json_integer((json_int_t)points));
    json_object_set_new(body, "byType", by_type);
    return api_reply(r, 200, body);
}

enum MHD_Result api_metrics_prometheus(struct req *r)
{
    if (!r->api->deps.obs)
        return api_reply_error(r, 503, "metrics are not kept by this server");
    struct buf b;
    buf_init(&b, PROMETHEUS_MAX);
    struct err e;
    err_clear(&e);
    if (obs_prometheus(r->api->deps.obs, r->workspace, &b, &e) < 0) {
        buf_release(&b);
        return api_reply_err(r, &e);
    }
    size_t len = b.len;
    return api_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_detach(&b), len);
}
