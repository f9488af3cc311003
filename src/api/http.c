/* The HTTP server: libmicrohttpd in epoll mode with two I/O threads, the route table, body
 * limits, authentication, the reply helpers, and the API's own threads for handlers that may
 * block (docs/internals/http.md tells the whole request lifecycle). */
#include "api/api_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "obs/events.h"
#include "obs/metrics.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define API_PATH_MAX   4096
#define API_STACK_SIZE (512 * 1024)
/* per connection: the request line and headers (libmicrohttpd zeroes it for every request, so
 * it is kept to what an API call needs: a URL up to API_PATH_MAX and ordinary headers) */
#define API_MEMORY_LIMIT (12 * 1024)
#define API_IO_THREADS   2 /* libmicrohttpd's threads: reading and writing only */

enum route_flags {
    R_PUBLIC = 1 << 0, /* no token needed */
    R_JSON = 1 << 1,   /* takes a JSON object body (may be empty) */
    R_INLINE = 1 << 2, /* never blocks: runs on libmicrohttpd's thread (it answers or hands its
                          work to the committer, which answers) */
};

struct route {
    const char *method;
    const char *pattern; /* segments; ":x" matches one segment, captured in order */
    api_handler_fn fn;
    unsigned flags;
};

static const struct route routes_[] = {
    {"GET", "/", api_ui_index, R_PUBLIC | R_INLINE},
    {"GET", "/ui/:file", api_ui_file, R_PUBLIC | R_INLINE},
    {"GET", "/healthz", api_healthz, R_PUBLIC | R_INLINE},
    {"GET", "/readyz", api_readyz, R_PUBLIC},
    {"GET", "/v1/breakers", api_breakers, 0},
    {"GET", "/v1/metrics", api_metrics, 0},
    {"GET", "/v1/metrics/series", api_metrics_series, 0},
    {"GET", "/metrics", api_metrics_prometheus, 0},
    {"GET", "/v1/events", api_events, 0},
    {"POST", "/v1/crawl-jobs", api_crawl_create, R_JSON | R_INLINE},
    {"POST", "/v1/crawl-jobs/batch", api_crawl_batch, R_JSON},
    {"POST", "/v1/crawl-jobs/process", api_crawl_process, R_JSON},
    {"GET", "/v1/crawl-jobs/:id", api_crawl_get, 0},
    {"POST", "/v1/crawl-jobs/:id/wait", api_crawl_wait, R_JSON},
    {"GET", "/v1/batches", api_batches_list, 0},
    {"GET", "/v1/batches/:id", api_batches_get, 0},
    {"POST", "/v1/batches/:id/retry-failed", api_batches_retry, R_JSON},
    {"POST", "/v1/scraping-sessions", api_sessions_create, R_JSON},
    {"GET", "/v1/scraping-sessions", api_sessions_list, 0},
    {"GET", "/v1/scraping-sessions/:id", api_sessions_get, 0},
    {"POST", "/v1/scraping-sessions/:id/cancel", api_sessions_cancel, R_JSON},
    {"POST", "/v1/scraping-sessions/:id/retry-failed", api_sessions_retry, R_JSON},
    {"GET", "/v1/scraping-sessions/:id/pages", api_sessions_pages, 0},
    {"GET", "/v1/scraping-sessions/:id/pages/:page/content", api_sessions_page_content, 0},
    {"GET", "/v1/scraping-sessions/:id/records", api_sessions_records, 0},
    {"GET", "/v1/scraping-sessions/:id/changes", api_sessions_changes, 0},
    {"GET", "/v1/scraping-sessions/:id/webhook-calls", api_sessions_webhook_calls, 0},
    {"POST", "/v1/imports", api_imports_create, 0}, /* JSON, or an upload (upload.c) */
    {"GET", "/v1/imports", api_imports_list, 0},
    {"GET", "/v1/imports/:id", api_imports_get, 0},
    {"GET", "/v1/imports/:id/fields", api_imports_fields, 0},
    {"POST", "/v1/imports/:id/start", api_imports_start, R_JSON},
    {"POST", "/v1/imports/:id/retry-failed", api_imports_retry, R_JSON},
    {"POST", "/v1/imports/:id/cancel", api_imports_cancel, R_JSON},
    {"GET", "/v1/imports/:id/items", api_imports_items, 0},
    {"GET", "/v1/imports/:id/records", api_imports_records, 0},
    {"GET", "/v1/imports/:id/webhook-calls", api_imports_webhook_calls, 0},
    {"POST", "/v1/webhook-calls/:id/redeliver", api_webhook_redeliver, R_JSON},
    {"POST", "/v1/scraping-sessions/:id/extract", api_sessions_extract, R_JSON},
    {"POST", "/v1/jobs", api_jobs_create, R_JSON | R_INLINE},
    {"GET", "/v1/jobs", api_jobs_list, 0},
    {"POST", "/v1/jobs/claim", api_jobs_claim, R_JSON},
    {"GET", "/v1/jobs/:id", api_jobs_get, 0},
    {"POST", "/v1/jobs/:id/cancel", api_jobs_cancel, R_JSON},
    {"POST", "/v1/jobs/:id/retry", api_jobs_retry, R_JSON},
    {"POST", "/v1/jobs/:id/heartbeat", api_jobs_heartbeat, R_JSON},
    {"POST", "/v1/jobs/:id/complete", api_jobs_complete, R_JSON},
    {"POST", "/v1/jobs/:id/fail", api_jobs_fail, R_JSON},
    {"GET", "/v1/jobs/:id/chain", api_jobs_chain, 0},
    {"GET", "/v1/jobs/:id/children", api_jobs_children, 0},
    {"POST", "/v1/pipelines", api_pipelines_create, R_JSON},
    {"GET", "/v1/pipelines", api_pipelines_list, 0},
    {"GET", "/v1/pipelines/:id", api_pipelines_get, 0},
    {"POST", "/v1/schedules", api_schedules_create, R_JSON},
    {"GET", "/v1/schedules", api_schedules_list, 0},
    {"GET", "/v1/schedules/:id", api_schedules_get, 0},
    {"DELETE", "/v1/schedules/:id", api_schedules_delete, 0},
    {"POST", "/v1/schedules/:id/pause", api_schedules_pause, R_JSON},
    {"POST", "/v1/schedules/:id/resume", api_schedules_resume, R_JSON},
};

/* ---- replies ---- */

static const char *status_code_name(unsigned status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 403:
        return "forbidden";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 409:
        return "conflict";
    case 413:
        return "too_large";
    case 414:
        return "uri_too_long";
    case 415:
        return "unsupported_media_type";
    case 429:
        return "too_many_requests";
    case 503:
        return "unavailable";
    default:
        return status >= 500 ? "internal" : "error";
    }
}

/* Hand an answer to libmicrohttpd, from whichever thread has it: inside the access handler it is
 * queued at once; for a suspended connection it is queued and the connection resumed; an answer
 * that arrives from another thread before the access handler has returned is kept for the
 * handler to queue on its way out (settle). */
static enum MHD_Result deliver(struct req *r, unsigned status, struct MHD_Response *resp)
{
    enum MHD_Result ret = MHD_YES;
    pthread_mutex_lock(&r->lock);
    if (r->answered) {
        pthread_mutex_unlock(&r->lock);
        MHD_destroy_response(resp);
        return MHD_YES;
    }
    r->answered = true;
    r->status = status;
    if (r->in_access && pthread_equal(r->access_thread, pthread_self())) {
        ret = MHD_queue_response(r->conn, status, resp);
        MHD_destroy_response(resp);
    } else {
        /* libmicrohttpd queues it on its own thread: in the access handler it calls again once
         * the connection is resumed, or in settle() when the handler has not returned yet */
        r->pending = resp;
        r->pending_status = status;
        if (r->suspended) {
            r->suspended = false;
            atomic_fetch_sub(&r->api->inflight, 1);
            MHD_resume_connection(r->conn);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ret;
}

void api_finish_later(struct req *r, void (*fn)(struct req *r, void *arg), void *arg)
{
    pthread_mutex_lock(&r->lock);
    if (r->in_access && pthread_equal(r->access_thread, pthread_self())) {
        pthread_mutex_unlock(&r->lock);
        fn(r, arg);
        return;
    }
    r->finish = fn;
    r->finish_arg = arg;
    if (r->suspended) {
        r->suspended = false;
        atomic_fetch_sub(&r->api->inflight, 1);
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&r->lock);
}

/* On libmicrohttpd's thread, inside the access handler: queue an answer made elsewhere, or make
 * it. Under lock; returns whether the request is answered. */
static bool take_answer(struct req *r)
{
    if (r->pending) {
        MHD_queue_response(r->conn, r->pending_status, r->pending);
        MHD_destroy_response(r->pending);
        r->pending = NULL;
        return true;
    }
    if (r->finish && !r->answered) {
        void (*fn)(struct req *, void *) = r->finish;
        r->finish = NULL;
        pthread_mutex_unlock(&r->lock);
        fn(r, r->finish_arg);
        pthread_mutex_lock(&r->lock);
    }
    return r->answered;
}

static enum MHD_Result send_buf(struct req *r, unsigned status, char *data, size_t len,
                                const char *ctype, const char *hname, const char *hvalue)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data, data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (hname && hvalue)
        MHD_add_response_header(resp, hname, hvalue);
    return deliver(r, status, resp);
}

enum MHD_Result api_reply_response(struct req *r, unsigned status, struct MHD_Response *resp)
{
    return deliver(r, status, resp);
}

enum MHD_Result api_reply_text(struct req *r, unsigned status, const char *ctype, char *data,
                               size_t len)
{
    return send_buf(r, status, data, len, ctype, NULL, NULL);
}

static enum MHD_Result reply_full(struct req *r, unsigned status, json_t *body, const char *hname,
                                  const char *hvalue)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!s)
        return MHD_NO;
    size_t n = strlen(s);
    /* a final newline makes the output friendlier to terminals; JSON ignores it */
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return MHD_NO;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    return send_buf(r, status, t, n + 1, "application/json", hname, hvalue);
}

enum MHD_Result api_reply_stream(struct req *r, const char *ctype, const char *disposition,
                                 MHD_ContentReaderCallback reader, void *cls,
                                 MHD_ContentReaderFreeCallback free_cls)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, reader, cls, free_cls);
    if (!resp) {
        free_cls(cls);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (disposition)
        MHD_add_response_header(resp, "Content-Disposition", disposition);
    return deliver(r, 200, resp);
}

enum MHD_Result api_reply(struct req *r, unsigned status, json_t *body)
{
    return reply_full(r, status, body, NULL, NULL);
}

static enum MHD_Result verror(struct req *r, unsigned status, const char *hname, const char *hvalue,
                              const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *body = json_pack("{s:b, s:{s:s, s:s}}", "success", 0, "error", "code",
                             status_code_name(status), "message", msg);
    return reply_full(r, status, body, hname, hvalue);
}

enum MHD_Result api_reply_error(struct req *r, unsigned status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result ret = verror(r, status, NULL, NULL, fmt, ap);
    va_end(ap);
    return ret;
}

enum MHD_Result api_reply_error_hdr(struct req *r, unsigned status, const char *hname,
                                    const char *hvalue, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result ret = verror(r, status, hname, hvalue, fmt, ap);
    va_end(ap);
    return ret;
}

enum MHD_Result api_reply_err(struct req *r, const struct err *e)
{
    const char *msg = e->msg[0] ? e->msg : err_str(e->code);
    switch (e->code) {
    case TRAWL_EINVAL:
        return api_reply_error(r, 400, "%s", msg);
    case TRAWL_ENOTFOUND:
        return api_reply_error(r, 404, "%s", msg);
    case TRAWL_ESTALE:
    case TRAWL_ESTATE:
        return api_reply_error(r, 409, "%s", msg);
    case TRAWL_ETOOBIG:
        return api_reply_error(r, 413, "%s", msg);
    case TRAWL_EBUSY:
    case TRAWL_EREADONLY:
    case TRAWL_ECORRUPT:
    case TRAWL_EFULL:
    case TRAWL_EIO:
    case TRAWL_ESTORE:
    case TRAWL_ECLOSED:
    case TRAWL_EINJECTED:
        log_warn("%s %s: store unavailable: %s", r->method, r->path, msg);
        return api_reply_error_hdr(r, 503, "Retry-After", "1", "store unavailable: %s", msg);
    default:
        log_error("%s %s: %s", r->method, r->path, msg);
        return api_reply_error(r, 500, "%s", msg);
    }
}

json_t *api_ok(void)
{
    return json_pack("{s:b}", "success", 1);
}

/* ---- reading requests ---- */

const char *api_query(struct req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static bool parse_int(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || isspace((unsigned char)*s))
        return false;
    *out = v;
    return true;
}

bool api_query_int(struct req *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out)
{
    const char *s = api_query(r, name);
    if (!s) {
        *out = def;
        return true;
    }
    int64_t v;
    if (!parse_int(s, &v) || v < min || v > max) {
        api_reply_error(r, 400, "query parameter %s must be an integer from %lld to %lld", name,
                        (long long)min, (long long)max);
        return false;
    }
    *out = v;
    return true;
}

bool api_query_page(struct req *r, int64_t def, int64_t *limit, int64_t *offset)
{
    return api_query_int(r, "limit", 1, 1000, def, limit) &&
           api_query_int(r, "offset", 0, INT32_MAX, 0, offset);
}

json_t *api_time(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
    return json_string(buf);
}

bool api_get_int(struct req *r, json_t *obj, const char *key, int64_t min, int64_t max,
                 int64_t *out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        api_reply_error(r, 400, "%s must be an integer from %lld to %lld", key, (long long)min,
                        (long long)max);
        return false;
    }
    *out = json_integer_value(v);
    return true;
}

bool api_get_str(struct req *r, json_t *obj, const char *key, size_t max, const char **out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        api_reply_error(r, 400, "%s must be a string", key);
        return false;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > max) {
        api_reply_error(r, 400, "%s must be 1 to %zu characters", key, max);
        return false;
    }
    if (strlen(json_string_value(v)) != json_string_length(v)) {
        api_reply_error(r, 400, "%s must not contain NUL characters", key);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool api_get_bool(struct req *r, json_t *obj, const char *key, bool *out)
{
    json_t *v = obj ? json_object_get(obj, key) : NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v)) {
        api_reply_error(r, 400, "%s must be true or false", key);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* The nesting depth of a JSON text, counted before parsing so that a deeply nested body costs
 * nothing; strings are skipped. */
static int json_depth(const char *s, size_t n)
{
    int depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

bool api_is_json_type(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == 0 || ct[n] == ';' || ct[n] == ' ');
}

/* Parse the body into r->json: an object, or NULL for an empty body. Sends the error reply and
 * returns false when the body is not acceptable. */
bool api_parse_body(struct req *r)
{
    if (r->body.len == 0)
        return true;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (!api_is_json_type(ct)) {
        api_reply_error(r, 415,
                        "the body must be JSON: send Content-Type: application/json (got %s)",
                        ct ? ct : "none");
        return false;
    }
    if (json_depth(r->body.data, r->body.len) > API_JSON_DEPTH_MAX) {
        api_reply_error(r, 400, "the JSON body is nested deeper than %d levels",
                        API_JSON_DEPTH_MAX);
        return false;
    }
    json_error_t je;
    r->json = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!r->json) {
        api_reply_error(r, 400, "the body is not valid JSON: %s (line %d, column %d)", je.text,
                        je.line, je.column);
        return false;
    }
    if (!json_is_object(r->json)) {
        api_reply_error(r, 400, "the body must be a JSON object");
        return false;
    }
    return true;
}

/* ---- routing ---- */

/* Match path against pattern, capturing ":x" segments into params (pointers into scratch, a copy
 * of path whose captured segments are cut out with NULs). */
static bool match(const char *pattern, const char *path, char *scratch, size_t n,
                  const char **params)
{
    size_t len = strlen(path);
    if (len + 1 > n)
        return false;
    memcpy(scratch, path, len + 1);
    const char *p = pattern;
    char *s = scratch;
    char *cuts[API_PARAMS_MAX];
    int np = 0;
    for (;;) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");
        if (*p == ':') {
            if (slen == 0 || np >= API_PARAMS_MAX)
                return false;
            params[np] = s;
            cuts[np++] = s + slen;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
        if (*p == 0 || *s == 0)
            break;
    }
    if (*p != 0 || *s != 0)
        return false;
    for (int i = 0; i < np; i++)
        *cuts[i] = 0;
    return true;
}

/* Authenticate, parse the body, run the handler: on whichever thread runs the route. */
static void run_route(struct req *r)
{
    const struct route *found = r->route;
    if (!(found->flags & R_PUBLIC)) {
        char ws[256];
        if (r->api->opts.no_auth) {
            snprintf(ws, sizeof ws, "default");
        } else {
            const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
            if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
                api_reply_error_hdr(r, 401, "WWW-Authenticate", "Bearer",
                                    "an API token is required: send Authorization: Bearer "
                                    "<token> (make one with `trawl token create`)");
                return;
            }
            struct err e;
            err_clear(&e);
            int rc = auth_lookup(r->api->auth, r->api->deps.eng, h + 7, ws, sizeof ws, &e);
            if (rc == TRAWL_ENOTFOUND) {
                api_reply_error_hdr(r, 401, "WWW-Authenticate", "Bearer error=\"invalid_token\"",
                                    "the API token is not valid (unknown or revoked)");
                return;
            }
            if (rc) {
                api_reply_err(r, &e);
                return;
            }
        }
        r->workspace = xstrdup(ws);
    }
    if ((found->flags & R_JSON) && !api_parse_body(r))
        return;
    found->fn(r);
}

/* On the way out of the access handler: queue an answer that came early, or suspend the
 * connection until the answer comes. */
static void settle(struct req *r)
{
    pthread_mutex_lock(&r->lock);
    if (!take_answer(r) && !r->answered) {
        atomic_fetch_add(&r->api->inflight, 1);
        r->suspended = true;
        MHD_suspend_connection(r->conn);
    }
    r->in_access = false;
    pthread_mutex_unlock(&r->lock);
}

static bool pool_push(struct api_pool *p, struct req *r);

static enum MHD_Result dispatch(struct req *r)
{
    size_t plen = strlen(r->path);
    if (plen > API_PATH_MAX)
        return api_reply_error(r, 414, "the URL is longer than %d bytes", API_PATH_MAX);
    /* a trailing slash is accepted as if absent */
    char path[API_PATH_MAX + 1];
    snprintf(path, sizeof path, "%s", r->path);
    if (plen > 1 && path[plen - 1] == '/')
        path[plen - 1] = 0;
    r->scratch = xmalloc(plen + 1);
    char allow[128] = "";
    for (size_t i = 0; i < sizeof routes_ / sizeof routes_[0]; i++) {
        const char *params[API_PARAMS_MAX] = {0};
        if (!match(routes_[i].pattern, path, r->scratch, plen + 1, params))
            continue;
        if (strcmp(routes_[i].method, r->method) == 0 ||
            (strcmp(r->method, "HEAD") == 0 && strcmp(routes_[i].method, "GET") == 0)) {
            r->route = &routes_[i];
            /* the captures point into r->scratch, which lives as long as r */
            memcpy(r->params, params, sizeof params);
            break;
        }
        size_t al = strlen(allow);
        snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "", routes_[i].method);
    }
    if (!r->route) {
        if (allow[0])
            return api_reply_error_hdr(r, 405, "Allow", allow,
                                       "%s is not allowed on %s (allowed: %s)", r->method, r->path,
                                       allow);
        return api_reply_error(r, 404, "no such endpoint: %s %s", r->method, r->path);
    }
    r->dispatched = true;
    if (r->route->flags & R_INLINE) {
        run_route(r);
    } else {
        /* a handler that may block runs on the API's threads; the connection waits */
        api_req_ref(r);
        if (!pool_push(r->api->pool, r)) {
            api_req_unref(r);
            api_reply_error_hdr(r, 503, "Retry-After", "1", "shutting down");
        }
    }
    settle(r);
    return MHD_YES;
}

void api_req_ref(struct req *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void api_req_unref(struct req *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->pending)
        MHD_destroy_response(r->pending);
    buf_release(&r->body);
    upload_free(r->upload);
    json_decref(r->json);
    free((char *)r->workspace);
    free(r->scratch);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

/* How much of a chunked body past the cap is read and dropped to answer it with a 413. */
#define BODY_DROP_MAX ((size_t)64 << 20)

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **req_cls)
{
    (void)version;
    struct api *a = cls;
    struct req *r = *req_cls;
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->api = a;
        r->conn = conn;
        r->method = method;
        r->path = url;
        atomic_init(&r->refs, 1); /* libmicrohttpd's, dropped when the request is over */
        pthread_mutex_init(&r->lock, NULL);
        buf_init(&r->body, a->opts.body_max);
        *req_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        int64_t len, cap = (int64_t)a->opts.body_max;
        if (a->deps.import_dir && upload_wanted(method, url, ct)) {
            /* a feed: written to the import folder as it comes, to its own cap */
            cap = a->opts.upload_max;
            /* without a token nothing is written: the answer will be a 401 */
            const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
            bool token = a->opts.no_auth || (h && strncasecmp(h, "Bearer ", 7) == 0);
            if (!(cl && parse_int(cl, &len) && len > cap))
                r->upload = upload_begin(conn, token ? a->deps.import_dir : NULL, cap, ct);
        }
        if (cl && parse_int(cl, &len) && len > cap) {
            pthread_mutex_lock(&r->lock);
            r->in_access = true;
            r->access_thread = pthread_self();
            pthread_mutex_unlock(&r->lock);
            enum MHD_Result ret =
                api_reply_error(r, 413, "the request body is %lld bytes; the limit is %lld",
                                (long long)len, (long long)cap);
            pthread_mutex_lock(&r->lock);
            r->in_access = false;
            pthread_mutex_unlock(&r->lock);
            return ret;
        }
        return MHD_YES;
    }
    if (r->dispatched) {
        /* called again after a resume: the answer is ready */
        pthread_mutex_lock(&r->lock);
        r->in_access = true;
        r->access_thread = pthread_self();
        if (!take_answer(r) && !r->answered) {
            atomic_fetch_add(&r->api->inflight, 1);
            r->suspended = true;
            MHD_suspend_connection(conn);
        }
        r->in_access = false;
        pthread_mutex_unlock(&r->lock);
        return MHD_YES;
    }
    if (r->answered) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size && r->upload) {
        const char *why;
        if (upload_error(r->upload, &why)) {
            /* answered once the body is read: dropped, up to a bound (as a body past its cap) */
            r->body_dropped += *upload_size;
            if (r->body_dropped > BODY_DROP_MAX) {
                log_debug("%s %s: %s, and the body still coming, closing", method, url, why);
                return MHD_NO;
            }
        } else {
            upload_data(r->upload, upload, *upload_size);
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->upload)
        upload_end(r->upload);
    if (*upload_size) {
        if (!r->body_too_large && buf_add(&r->body, upload, *upload_size) != 0) {
            r->body_too_large = true;
            buf_release(&r->body);
            buf_init(&r->body, 1);
        }
        if (r->body_too_large) {
            /* a chunked body past the cap (a declared length past it was answered at once):
             * libmicrohttpd answers only once the body is read, so the rest is read and dropped
             * for a 413, up to a bound past which the connection is closed unanswered */
            r->body_dropped += *upload_size;
            if (r->body_dropped > BODY_DROP_MAX) {
                log_debug("%s %s: body over %zu bytes and still coming, closing", method, url,
                          a->opts.body_max);
                return MHD_NO;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&r->lock);
    r->in_access = true;
    r->access_thread = pthread_self();
    pthread_mutex_unlock(&r->lock);
    enum MHD_Result ret =
        r->body_too_large
            ? api_reply_error(r, 413, "the request body is over the limit of %zu bytes",
                              a->opts.body_max)
            : dispatch(r);
    pthread_mutex_lock(&r->lock);
    r->in_access = false;
    pthread_mutex_unlock(&r->lock);
    return ret;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *req_cls;
    if (!r)
        return;
    *req_cls = NULL;
    if (r->status && r->api->deps.obs) {
        /* the method as a static string: the counters outlive the request */
        static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH"};
        const char *m = "other";
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            if (strcmp(r->method, methods[i]) == 0)
                m = methods[i];
        obs_http(r->api->deps.obs, m, r->route ? r->route->pattern : "other", r->status);
    }
    api_req_unref(r);
}

/* ---- the API's threads, for handlers that may block ---- */

#define POOL_MIN     4
#define POOL_IDLE_MS 30000

struct api_pool {
    pthread_mutex_t lock;
    pthread_cond_t work, gone;
    struct req **queue; /* a ring */
    size_t head, count, cap;
    int threads, idle, max;
    bool stop;
};

static void *pool_main(void *arg)
{
    struct api_pool *p = arg;
    pthread_setname_np(pthread_self(), "api");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->count && !p->stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += POOL_IDLE_MS / 1000;
            p->idle++;
            int rc = pthread_cond_timedwait(&p->work, &p->lock, &ts);
            p->idle--;
            if (rc && !p->count && p->threads > POOL_MIN)
                goto out; /* idle too long, and enough others remain */
        }
        if (!p->count)
            break;
        struct req *r = p->queue[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        pthread_mutex_unlock(&p->lock);
        run_route(r);
        pthread_mutex_lock(&r->lock);
        bool answered = r->answered;
        pthread_mutex_unlock(&r->lock);
        if (!answered) /* a handler must answer; a request left hanging is a bug */
            api_reply_error(r, 500, "internal error: %s %s gave no answer", r->method, r->path);
        api_req_unref(r);
        pthread_mutex_lock(&p->lock);
    }
out:
    p->threads--;
    pthread_cond_broadcast(&p->gone);
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static bool pool_push(struct api_pool *p, struct req *r)
{
    pthread_mutex_lock(&p->lock);
    if (p->stop) {
        pthread_mutex_unlock(&p->lock);
        return false;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct req **q = xcalloc(cap, sizeof *q);
        for (size_t i = 0; i < p->count; i++)
            q[i] = p->queue[(p->head + i) % p->cap];
        free(p->queue);
        p->queue = q;
        p->head = 0;
        p->cap = cap;
    }
    p->queue[(p->head + p->count) % p->cap] = r;
    p->count++;
    if (p->idle > 0)
        pthread_cond_signal(&p->work);
    /* more queued than idle threads to take them (a woken thread still counts as idle until it
     * runs): another thread, so no request waits behind a long one */
    if ((size_t)p->idle < p->count && p->threads < p->max) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, API_STACK_SIZE);
        if (pthread_create(&t, &at, pool_main, p) == 0)
            p->threads++;
        pthread_attr_destroy(&at);
    }
    pthread_mutex_unlock(&p->lock);
    return true;
}

static struct api_pool *pool_new(int max)
{
    struct api_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->gone, NULL);
    p->max = max;
    return p;
}

/* Take no more requests (pool_push answers false), let the queued ones run, and wait until every
 * thread has ended. The pool stays allocated: libmicrohttpd may still dispatch until it stops. */
static void pool_drain(struct api_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_broadcast(&p->work);
    while (p->threads > 0)
        pthread_cond_wait(&p->gone, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

static void pool_free(struct api_pool *p)
{
    if (!p)
        return;
    pool_drain(p);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->gone);
    free(p->queue);
    free(p);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    log_debug("http: %s", msg);
}

/* ---- start and stop ---- */

static int parse_listen(const char *listen, struct sockaddr_storage *ss, struct err *e)
{
    char host[256];
    const char *port;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return err_set(e, TRAWL_EINVAL, false, "--listen: expected [ADDRESS]:PORT, got '%s'",
                           listen);
        snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon)
            return err_set(e, TRAWL_EINVAL, false, "--listen: expected HOST:PORT, got '%s'",
                           listen);
        snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
        port = colon + 1;
    }
    int64_t p;
    if (!parse_int(port, &p) || p < 0 || p > 65535)
        return err_set(e, TRAWL_EINVAL, false,
                       "--listen: port '%s' is not a number from 0 to 65535", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return err_set(e, TRAWL_EINVAL, false, "--listen: cannot resolve '%s': %s", host,
                       gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

int api_start(const struct api_deps *deps, const struct api_opts *o, struct api **out,
              struct err *e)
{
    *out = NULL;
    struct api *a = xcalloc(1, sizeof *a);
    a->deps = *deps;
    if (o)
        a->opts = *o;
    if (!a->opts.listen)
        a->opts.listen = API_DEFAULT_LISTEN;
    if (!a->opts.body_max)
        a->opts.body_max = API_DEFAULT_BODY_MAX;
    if (a->opts.upload_max <= 0)
        a->opts.upload_max = API_DEFAULT_UPLOAD_MAX;
    if (!a->opts.header_timeout_s)
        a->opts.header_timeout_s = 30;
    if (!a->opts.connection_limit)
        a->opts.connection_limit = 1024;
    if (!a->opts.waits_max)
        a->opts.waits_max = 512;
    struct sockaddr_storage ss;
    int rc = parse_listen(a->opts.listen, &ss, e);
    if (rc)
        goto fail;
    if (a->opts.no_auth && !is_loopback(&ss)) {
        rc = err_set(e, TRAWL_EINVAL, false,
                     "--no-auth serves without tokens, so it listens on loopback only (127.0.0.1 "
                     "or ::1), not on %s",
                     a->opts.listen);
        goto fail;
    }
    a->auth = auth_cache_new();
    a->pool = pool_new((int)a->opts.connection_limit);
    /* a few threads wait on epoll and only read requests and write answers; no request holds a
     * thread while it waits for its commit */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    a->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, access_cb, a, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_TIMEOUT, a->opts.header_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
        a->opts.connection_limit, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_MEMORY_LIMIT,
        MHD_OPTION_THREAD_STACK_SIZE, (size_t)API_STACK_SIZE, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)API_IO_THREADS, MHD_OPTION_NOTIFY_COMPLETED, completed_cb, a,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, a, MHD_OPTION_END);
    if (!a->daemon) {
        rc = err_set(e, TRAWL_EIO, false, "cannot listen on %s: %s", a->opts.listen,
                     errno ? strerror(errno) : "the address is in use or not available");
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    a->port = info ? info->port : 0;
    *out = a;
    return 0;
fail:
    pool_free(a->pool);
    auth_cache_free(a->auth);
    free(a);
    return rc;
}

int api_port(const struct api *a)
{
    return a->port;
}

void api_drain(struct api *a)
{
    if (a)
        atomic_store(&a->stopping, true);
}

void api_stop(struct api *a)
{
    if (!a)
        return;
    atomic_store(&a->stopping, true);
    /* requests on the API's threads end first (the engine's waits were woken by then); a
     * request that arrives now is told the server is going */
    pool_drain(a->pool);
    /* answers still on their way from the committer */
    for (int i = 0; i < 500 && atomic_load(&a->inflight) > 0; i++)
        clock_sleep_ms(10);
    if (atomic_load(&a->inflight) > 0)
        log_warn("api: %d requests unanswered at shutdown", atomic_load(&a->inflight));
    /* event streams end (their connections are suspended while idle, and libmicrohttpd must not
     * be stopped with suspended connections) */
    if (a->deps.events && ev_close_all(a->deps.events, 3000) > 0)
        log_warn("api: event streams still open at shutdown");
    MHD_stop_daemon(a->daemon);
    pool_free(a->pool);
    auth_cache_free(a->auth);
    free(a);
}
