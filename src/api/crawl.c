/* Crawl jobs, the calls users already know: submit one URL or a batch, get a job with its page,
 * wait for it, see and retry batches, process pending jobs now. A crawl job is a job of type
 * "crawl" whose args hold the URL; its page is its crawl result. */
#include "api/api_int.h"

#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "engine/worker.h"
#include "fetch/fetch.h"
#include "fetch/url.h"
#include "store/batch.h"
#include "store/crawl.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CRAWL_TYPE           "crawl"
#define BATCH_URLS_MAX       100000
#define HEADERS_MAX          32
#define HEADER_BYTES_MAX     8192
#define WAIT_DEFAULT_MS      30000
#define WAIT_MAX_MS          300000
#define HTML_MAX             (64u << 20)
#define CRAWL_TIMEOUT_MAX_MS 300000

/* ---- submitting ---- */

struct crawl_opts {
    json_t *headers; /* borrowed from the request */
    int64_t timeout_ms, max_attempts, priority;
};

bool api_valid_batch_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > API_BATCH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("._:-", s[i]))
            return false;
    return true;
}

/* The options every crawl submission shares. Sends the error and returns false when one is bad,
 * or asks for something the fetcher cannot do. */
static bool read_crawl_opts(struct req *r, struct crawl_opts *o)
{
    memset(o, 0, sizeof *o);
    bool render = false, premium = false, ultra = false;
    if (!api_get_bool(r, r->json, "render", &render) ||
        !api_get_bool(r, r->json, "premium", &premium) ||
        !api_get_bool(r, r->json, "ultraPremium", &ultra))
        return false;
    if (render) {
        api_reply_error(r, 400,
                        "render: JavaScript rendering is not available on this server; "
                        "submit without render to fetch the HTML as served");
        return false;
    }
    if (premium || ultra) {
        api_reply_error(r, 400,
                        "%s: premium proxies are not available on this server; submit "
                        "without it to fetch directly",
                        ultra ? "ultraPremium" : "premium");
        return false;
    }
    if (!api_get_int(r, r->json, "timeoutMs", 1000, CRAWL_TIMEOUT_MAX_MS, &o->timeout_ms) ||
        !api_get_int(r, r->json, "maxAttempts", 1, JOB_ATTEMPTS_MAX, &o->max_attempts) ||
        !api_get_int(r, r->json, "priority", JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &o->priority))
        return false;
    json_t *h = json_object_get(r->json, "headers");
    if (h && !json_is_null(h)) {
        if (!json_is_object(h)) {
            api_reply_error(r, 400, "headers must be an object of header names to values");
            return false;
        }
        if (json_object_size(h) > HEADERS_MAX) {
            api_reply_error(r, 400, "headers: at most %d headers", HEADERS_MAX);
            return false;
        }
        size_t bytes = 0;
        const char *name;
        json_t *v;
        json_object_foreach(h, name, v)
        {
            if (!json_is_string(v)) {
                api_reply_error(r, 400, "headers: the value of %s must be a string", name);
                return false;
            }
            struct err e;
            if (fetch_header_check(name, json_string_value(v), json_string_length(v), &e) != 0) {
                api_reply_error(r, 400, "headers: %s", e.msg);
                return false;
            }
            bytes += strlen(name) + json_string_length(v) + 4;
        }
        if (bytes > HEADER_BYTES_MAX) {
            api_reply_error(r, 400, "headers: more than %d bytes in all", HEADER_BYTES_MAX);
            return false;
        }
        o->headers = h;
    }
    return true;
}

/* The args of a crawl job for a normalized URL (a new string). */
static char *crawl_args(const char *url, const struct crawl_opts *o)
{
    json_t *a = json_pack("{s:s}", "url", url);
    if (o->headers)
        json_object_set(a, "headers", o->headers);
    if (o->timeout_ms)
        json_object_set_new(a, "timeoutMs", json_integer(o->timeout_ms));
    char *s = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return s;
}

static void crawl_spec(struct req *r, const struct crawl_opts *o, const char *args,
                       const char *batch, struct job_spec *s)
{
    memset(s, 0, sizeof *s);
    s->type = CRAWL_TYPE;
    s->args = args;
    s->workspace = r->workspace;
    s->batch_id = batch;
    s->priority = (int)o->priority;
    s->max_attempts = (int)o->max_attempts;
}

struct submitted {
    struct req *r;
    struct enqueue_result res;
    int rc;
    struct err err;
};

static void crawl_answer(struct req *r, void *arg)
{
    struct submitted *sub = arg;
    if (sub->rc)
        api_reply_err(r, &sub->err);
    else
        api_reply(r, 202,
                  json_pack("{s:b, s:s, s:s, s:s}", "success", 1, "jobId", sub->res.id, "status",
                            "pending", "message", "crawl job queued"));
    free(sub);
}

/* On the thread that committed the job: the answer is made on libmicrohttpd's. */
static void crawl_submitted(void *ctx, int rc, const struct err *e)
{
    struct submitted *sub = ctx;
    struct req *r = sub->r;
    sub->rc = rc;
    if (rc)
        err_copy(&sub->err, e);
    api_finish_later(r, crawl_answer, sub);
    api_req_unref(r);
}

enum MHD_Result api_crawl_create(struct req *r)
{
    const char *url = NULL, *batch = NULL;
    json_t *u = r->json ? json_object_get(r->json, "url") : NULL;
    if (!u)
        return api_reply_error(r, 400, "url is required: {\"url\": \"https://...\"}");
    if (!json_is_string(u))
        return api_reply_error(r, 400, "url must be a string");
    url = json_string_value(u);
    if (strlen(url) != json_string_length(u))
        return api_reply_error(r, 400, "url must not contain NUL characters");
    struct crawl_opts o;
    if (!read_crawl_opts(r, &o) || !api_get_str(r, r->json, "batchId", API_BATCH_ID_MAX, &batch))
        return MHD_YES;
    if (batch && !api_valid_batch_id(batch))
        return api_reply_error(r, 400, "batchId may hold letters, digits and . _ : - only");
    char *norm;
    struct err e;
    err_clear(&e);
    if (url_normalize(url, &norm, &e) != 0)
        return api_reply_error(r, 400, "url: %s", e.msg);
    char *args = crawl_args(norm, &o);
    struct job_spec s;
    crawl_spec(r, &o, args, batch, &s);
    /* answered from the thread that commits the job, without holding this one */
    struct submitted *sub = xcalloc(1, sizeof *sub);
    sub->r = r;
    api_req_ref(r);
    engine_enqueue_many_async(r->api->deps.eng, &s, 1, &sub->res, crawl_submitted, sub);
    free(args); /* the engine copied the spec */
    free(norm);
    return MHD_YES;
}

enum MHD_Result api_crawl_batch(struct req *r)
{
    json_t *urls = r->json ? json_object_get(r->json, "urls") : NULL;
    if (!urls || !json_is_array(urls))
        return api_reply_error(r, 400, "urls is required: an array of URLs");
    size_t n = json_array_size(urls);
    if (n == 0 || n > BATCH_URLS_MAX)
        return api_reply_error(r, 400, "urls must hold 1 to %d URLs", BATCH_URLS_MAX);
    struct crawl_opts o;
    const char *batch = NULL;
    if (!read_crawl_opts(r, &o) || !api_get_str(r, r->json, "batchId", API_BATCH_ID_MAX, &batch))
        return MHD_YES;
    if (batch && !api_valid_batch_id(batch))
        return api_reply_error(r, 400, "batchId may hold letters, digits and . _ : - only");
    char made[UUID_STR_LEN];
    if (!batch) {
        uuid_v7(made, engine_now(r->api->deps.eng));
        batch = made;
    }
    struct job_spec *specs = xcalloc(n, sizeof *specs);
    char **args = xcalloc(n, sizeof *args);
    size_t k = 0;
    json_t *invalid = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_array_get(urls, i);
        char *norm;
        struct err e;
        err_clear(&e);
        if (!json_is_string(u)) {
            json_array_append_new(invalid, json_pack("{s:n, s:s, s:I}", "url", "error",
                                                     "not a string", "index", (json_int_t)i));
            continue;
        }
        const char *s = json_string_value(u);
        if (strlen(s) != json_string_length(u)) {
            json_array_append_new(invalid, json_pack("{s:s, s:s, s:I}", "url", s, "error",
                                                     "url contains a NUL character", "index",
                                                     (json_int_t)i));
            continue;
        }
        if (url_normalize(s, &norm, &e) != 0) {
            json_array_append_new(invalid, json_pack("{s:s, s:s, s:I}", "url", s, "error", e.msg,
                                                     "index", (json_int_t)i));
            continue;
        }
        args[k] = crawl_args(norm, &o);
        free(norm);
        crawl_spec(r, &o, args[k], batch, &specs[k]);
        k++;
    }
    struct enqueue_result *res = xcalloc(k ? k : 1, sizeof *res);
    struct err e;
    err_clear(&e);
    int rc = k ? engine_enqueue_many(r->api->deps.eng, specs, k, res, &e) : 0;
    for (size_t i = 0; i < k; i++)
        free(args[i]);
    free(args);
    free(specs);
    free(res);
    if (rc) {
        json_decref(invalid);
        return api_reply_err(r, &e);
    }
    if (k == 0) {
        /* nothing was queued, so there is no batch to speak of */
        json_t *body = json_pack("{s:b, s:{s:s, s:s}, s:I, s:I, s:I, s:o}", "success", 0, "error",
                                 "code", "bad_request", "message", "none of the URLs is valid",
                                 "total", (json_int_t)n, "successCount", (json_int_t)0,
                                 "failedCount", (json_int_t)n, "invalid", invalid);
        return api_reply(r, 400, body);
    }
    json_t *body = json_pack("{s:b, s:s, s:I, s:I, s:I, s:o}", "success", 1, "batchId", batch,
                             "total", (json_int_t)n, "successCount", (json_int_t)k, "failedCount",
                             (json_int_t)(n - k), "invalid", invalid);
    return api_reply(r, 202, body);
}

/* ---- reading ---- */

/* The job in the path, which must be a crawl job of the caller's workspace. */
static bool own_crawl_job(struct req *r, const char *id, struct job *j)
{
    struct err e;
    err_clear(&e);
    int rc = engine_get(r->api->deps.eng, id, j, &e);
    if (rc == TRAWL_EINVAL || rc == TRAWL_ENOTFOUND ||
        (rc == 0 && (strcmp(j->workspace ? j->workspace : "", r->workspace) != 0 ||
                     strcmp(j->type, CRAWL_TYPE) != 0))) {
        if (rc == 0)
            job_release(j);
        api_reply_error(r, 404, "crawl job %s not found", id);
        return false;
    }
    if (rc) {
        api_reply_err(r, &e);
        return false;
    }
    return true;
}

static char *url_of(const struct job *j)
{
    json_t *a = j->args ? json_loads(j->args, 0, NULL) : NULL;
    const char *u = json_string_value(json_object_get(a, "url"));
    char *s = xstrdup(u ? u : "");
    json_decref(a);
    return s;
}

/* The crawl job as the API shows it, with its page when html is set. */
static json_t *crawl_job_json(struct req *r, const struct job *j, bool html, json_t **html_out)
{
    char *url = url_of(j);
    struct crawl_result cr;
    struct err e;
    err_clear(&e);
    bool have = store_crawl_get(engine_store(r->api->deps.eng), j->id, html, &cr, &e) == 0;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:i, s:s?}", "id", j->id, "url", url, "status",
                  job_status_name(j->status), "created_at", api_time(j->created_at), "updated_at",
                  api_time(j->updated_at), "completed_at", api_time(j->completed_at), "attempt",
                  j->attempt, "error", j->error);
    free(url);
    json_object_set_new(o, "http_status",
                        have && cr.http_status ? json_integer(cr.http_status) : json_null());
    json_object_set_new(o, "content_type",
                        have && cr.content_type ? json_string(cr.content_type) : json_null());
    json_object_set_new(o, "final_url",
                        have && cr.final_url ? json_string(cr.final_url) : json_null());
    json_object_set_new(o, "html_length", have ? json_integer(cr.body_length) : json_null());
    json_object_set_new(o, "processing_time_ms",
                        have ? json_integer(cr.processing_time_ms) : json_null());
    json_object_set_new(o, "success_method",
                        have && j->status == JOB_COMPLETED ? json_string(cr.method) : json_null());
    json_object_set_new(o, "redirects", have ? json_integer(cr.redirects) : json_null());
    if (have && cr.body_expired)
        json_object_set_new(o, "html_expired", json_true());
    if (html_out) {
        *html_out = json_null();
        if (have && cr.body_z) {
            char *body;
            size_t len;
            if (zframe_decompress(cr.body_z, cr.body_z_len, HTML_MAX, &body, &len, &e) == 0) {
                size_t slen;
                char *clean = utf8_valid(body, len) ? NULL : utf8_sanitize(body, len, &slen);
                json_decref(*html_out);
                *html_out = clean ? json_stringn(clean, slen) : json_stringn(body, len);
                free(clean);
                free(body);
            } else {
                log_warn("job %s: %s", j->id, e.msg);
            }
        } else if (have && !cr.body_z && cr.body_length == 0) {
            json_decref(*html_out);
            *html_out = json_string("");
        }
    }
    if (have)
        crawl_result_release(&cr);
    return o;
}

static bool want_html(struct req *r, bool def)
{
    const char *h = api_query(r, "html");
    if (!h)
        return def;
    return !(strcmp(h, "false") == 0 || strcmp(h, "0") == 0 || strcmp(h, "no") == 0);
}

enum MHD_Result api_crawl_get(struct req *r)
{
    struct job j;
    if (!own_crawl_job(r, r->params[0], &j))
        return MHD_YES;
    bool html = want_html(r, true);
    json_t *h = NULL;
    json_t *body = api_ok();
    json_object_set_new(body, "job", crawl_job_json(r, &j, html, html ? &h : NULL));
    if (html)
        json_object_set_new(body, "html", h);
    job_release(&j);
    return api_reply(r, 200, body);
}

enum MHD_Result api_crawl_wait(struct req *r)
{
    int64_t max = WAIT_DEFAULT_MS;
    if (!api_get_int(r, r->json, "maxWaitTimeMs", 0, WAIT_MAX_MS, &max))
        return MHD_YES;
    struct job j;
    if (!own_crawl_job(r, r->params[0], &j))
        return MHD_YES;
    job_release(&j);
    struct api *a = r->api;
    if (atomic_fetch_add(&a->waits, 1) >= (int)a->opts.waits_max) {
        atomic_fetch_sub(&a->waits, 1);
        return api_reply_error(r, 429,
                               "too many requests are waiting on jobs (%u); try again "
                               "shortly",
                               a->opts.waits_max);
    }
    int64_t t0 = clock_mono_ms();
    struct err e;
    err_clear(&e);
    int rc = engine_wait(a->deps.eng, r->params[0], max, &j, &e);
    atomic_fetch_sub(&a->waits, 1);
    if (rc)
        return api_reply_err(r, &e);
    bool done = job_status_ended(j.status);
    bool html = want_html(r, false);
    json_t *h = NULL;
    json_t *body = api_ok();
    json_object_set_new(body, "job", crawl_job_json(r, &j, html, html ? &h : NULL));
    if (html)
        json_object_set_new(body, "html", h);
    json_object_set_new(body, "completed", json_boolean(done));
    json_object_set_new(body, "waitTime", json_integer(clock_mono_ms() - t0));
    job_release(&j);
    return api_reply(r, 200, body);
}

/* ---- processing now ---- */

enum MHD_Result api_crawl_process(struct req *r)
{
    int64_t n = 10;
    if (!api_get_int(r, r->json, "batchSize", 1, 100, &n))
        return MHD_YES;
    struct crawl_runner *run = r->api->deps.runner;
    if (!run)
        return api_reply_error(r, 503, "this server cannot run crawl jobs");
    struct job_outcome *out = NULL;
    struct err e;
    err_clear(&e);
    int64_t t0 = clock_mono_ms();
    int got = run->process(run, r->workspace, (size_t)n, &out, &e);
    if (got < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    int ok = 0, failed = 0, retrying = 0, later = 0;
    for (int i = 0; i < got; i++) {
        const char *st = out[i].status >= 0 ? job_status_name(out[i].status) : "unknown";
        if (out[i].status == JOB_COMPLETED)
            ok++;
        else if (out[i].status == JOB_RETRYING)
            retrying++;
        else if (out[i].status == JOB_PENDING)
            later++; /* deferred: the host asked to wait, or its breaker is open */
        else
            failed++;
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s?}", "jobId", out[i].id, "status", st,
                                             "error", out[i].error[0] ? out[i].error : NULL));
    }
    free(out);
    json_t *body = json_pack("{s:b, s:i, s:i, s:i, s:i, s:i, s:o, s:I}", "success", 1, "processed",
                             got, "successCount", ok, "failedCount", failed, "retryingCount",
                             retrying, "deferredCount", later, "jobs", arr, "processingTimeMs",
                             (json_int_t)(clock_mono_ms() - t0));
    return api_reply(r, 200, body);
}

/* ---- batches ---- */

static json_t *counts_json(const struct batch_info *b)
{
    json_t *c = json_object();
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        json_object_set_new(c, job_status_name(s), json_integer(b->counts[s]));
    return c;
}

static json_t *batch_json(const struct batch_info *b)
{
    double p = batch_progress(b);
    return json_pack("{s:s, s:I, s:o, s:f, s:o, s:o}", "batchId", b->id, "total",
                     (json_int_t)b->total, "counts", counts_json(b), "progress",
                     (double)((int64_t)(p * 10 + 0.5)) / 10, "created_at", api_time(b->created_at),
                     "last_updated", api_time(b->updated_at));
}

enum MHD_Result api_batches_list(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 20, &limit, &offset))
        return MHD_YES;
    struct batch_info *list;
    size_t n;
    int64_t total = 0;
    struct err e;
    err_clear(&e);
    int rc = store_batch_list(engine_store(r->api->deps.eng), r->workspace, (size_t)limit,
                              (size_t)offset, &list, &n, &total, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, batch_json(&list[i]));
    batch_info_array_free(list, n);
    json_t *body =
        json_pack("{s:b, s:o, s:I, s:I, s:I}", "success", 1, "batches", arr, "total",
                  (json_int_t)total, "limit", (json_int_t)limit, "offset", (json_int_t)offset);
    return api_reply(r, 200, body);
}

enum MHD_Result api_batches_get(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 100, &limit, &offset))
        return MHD_YES;
    const char *status = api_query(r, "status");
    int st = -1;
    if (status && (st = job_status_parse(status)) < 0)
        return api_reply_error(r, 400,
                               "unknown status \"%s\" (expected pending, processing, retrying, "
                               "completed, failed or cancelled)",
                               status);
    struct store *s = engine_store(r->api->deps.eng);
    struct batch_info b;
    struct err e;
    err_clear(&e);
    int rc = store_batch_get(s, r->workspace, r->params[0], &b, &e);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404, "batch %s not found", r->params[0]);
    if (rc)
        return api_reply_err(r, &e);
    struct batch_filter f = {r->workspace, r->params[0], st, (size_t)limit, (size_t)offset};
    struct job *jobs;
    size_t n;
    rc = store_batch_jobs(s, &f, false, &jobs, &n, &e);
    if (rc < 0) {
        batch_info_release(&b);
        return api_reply_err(r, &e);
    }
    json_t *body = batch_json(&b);
    json_object_set_new(body, "success", json_true());
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char *url = url_of(&jobs[i]);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:i, s:s?, s:o}", "id",
                                             jobs[i].id, "type", jobs[i].type, "url", url, "status",
                                             job_status_name(jobs[i].status), "attempt",
                                             jobs[i].attempt, "error", jobs[i].error, "updated_at",
                                             api_time(jobs[i].updated_at)));
        free(url);
    }
    job_array_free(jobs, n);
    json_object_set_new(body, "jobs", arr);
    json_object_set_new(body, "limit", json_integer(limit));
    json_object_set_new(body, "offset", json_integer(offset));
    int64_t matching = st < 0 ? b.total : b.counts[st];
    json_object_set_new(body, "nextOffset",
                        offset + (int64_t)n < matching ? json_integer(offset + (int64_t)n)
                                                       : json_null());
    batch_info_release(&b);
    return api_reply(r, 200, body);
}

enum MHD_Result api_batches_retry(struct req *r)
{
    struct store *s = engine_store(r->api->deps.eng);
    struct batch_info b;
    struct err e;
    err_clear(&e);
    int rc = store_batch_get(s, r->workspace, r->params[0], &b, &e);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404, "batch %s not found", r->params[0]);
    if (rc)
        return api_reply_err(r, &e);
    batch_info_release(&b);
    int64_t more = 0;
    if (!api_get_int(r, r->json, "attempts", 1, JOB_ATTEMPTS_MAX, &more))
        return MHD_YES;
    rc = engine_retry_batch(r->api->deps.eng, r->workspace, r->params[0], (int)more, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    return api_reply(r, 200, json_pack("{s:b, s:i}", "success", 1, "count", rc));
}
