/* GET /v1/metrics (the job figures as JSON: overall and per type, for a window) and GET /metrics
 * (everything in Prometheus text format). Both show the token's workspace's jobs only. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "obs/metrics.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW "1h"

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
    json_object_set_new(o, "throughputPerMinute", json_real(f->throughput_per_minute));
    json_object_set_new(o, "errorRate", json_real(f->error_rate));
    json_object_set_new(o, "averageProcessingTime", json_real(f->avg_processing_ms));
    json_object_set_new(o, "completedInWindow", json_integer(f->completed));
    json_object_set_new(o, "failedInWindow", json_integer(f->failed));
    json_object_set_new(o, "retriedInWindow", json_integer(f->retried));
    return o;
}

/* A type name as the engine takes them: 1-64 printable characters without spaces. */
static bool type_syntax(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > JOB_TYPE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || t[i] == 0x7f)
            return false;
    return true;
}

enum MHD_Result api_metrics(struct req *r)
{
    struct engine *eng = r->api->deps.eng;
    const char *window = api_query(r, "window");
    const char *type = api_query(r, "type");
    const char *ws = api_query(r, "workspace");
    struct err e;
    err_clear(&e);
    int64_t win = obs_parse_window(window ? window : DEFAULT_WINDOW, &e);
    if (win < 0)
        return api_reply_err(r, &e);
    if (type && !type_syntax(type))
        return api_reply_error(r, 400, "type must be 1-%d printable characters without spaces",
                               JOB_TYPE_MAX);
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
    json_object_set_new(body, "window", json_string(window ? window : DEFAULT_WINDOW));
    json_object_set_new(body, "windowSeconds", json_integer(win / 1000));
    json_object_set_new(body, "generatedAt", api_time(now));
    json_object_set_new(body, "byType", by_type);
    return api_reply(r, 200, body);
}

enum MHD_Result api_metrics_prometheus(struct req *r)
{
    if (!r->api->deps.obs)
        return api_reply_error(r, 503, "metrics are not kept by this server");
    struct buf b;
    buf_init(&b, 16 * 1024);
    struct err e;
    err_clear(&e);
    if (obs_prometheus(r->api->deps.obs, r->workspace, &b, &e) < 0) {
        buf_release(&b);
        return api_reply_err(r, &e);
    }
    size_t len = b.len;
    return api_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_detach(&b), len);
}
