/* The crawl handler: breaker check, fetch, keep the result, report. The result row is written
 * (durably) before the job completes, so a completed crawl job always has its page. */
#include "handlers/crawl.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "fetch/url.h"
#include "store/crawl.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRAWL_HEADERS_MAX 32

bool crawl_host_trouble(const struct fetch_result *r)
{
    switch (r->kind) {
    case FETCH_DNS:
    case FETCH_CONNECT:
    case FETCH_TIMEOUT:
    case FETCH_RESET:
    case FETCH_TLS:
        return true;
    case FETCH_HTTP_STATUS:
        return r->http_status >= 500;
    default:
        return false;
    }
}

/* The page, written in the transaction that completes the job. */
struct page {
    struct crawl_result r;
    int attempt;
    char *owner;
};

/* A stale save is not a store failure: it must not roll back the commit group it shares (the
 * completion that follows it is refused on its own). */
static int save(struct store *s, void *arg, struct err *e)
{
    struct page *p = arg;
    int rc = store_crawl_save(s, &p->r, p->attempt, p->owner, e);
    return rc == TRAWL_ESTALE ? 0 : rc;
}

static void page_free(void *arg)
{
    struct page *p = arg;
    crawl_result_release(&p->r);
    free(p->owner);
    free(p);
}

int handler_crawl(struct job_ctx *ctx)
{
    struct crawler *cr = job_ctx_arg(ctx);
    const struct job *job = job_ctx_job(ctx);
    json_error_t je;
    json_t *args = json_loads(job_ctx_args(ctx), 0, &je);
    if (!args)
        return job_ctx_fail(ctx, false, "invalid_args: args are not JSON: %s", je.text);
    int ret = 0;
    char *headers[CRAWL_HEADERS_MAX + 1] = {0};
    size_t nh = 0;
    struct fetch_result res = {0};
    const char *url = json_string_value(json_object_get(args, "url"));
    if (!url) {
        ret = job_ctx_fail(ctx, false, "invalid_args: args.url is missing");
        goto out;
    }
    /* jobs can come from anywhere (trawl enqueue, another process): check what the API would */
    struct err e;
    json_t *h = json_object_get(args, "headers");
    if (h && !json_is_object(h)) {
        ret = job_ctx_fail(ctx, false, "invalid_args: args.headers must be an object");
        goto out;
    }
    const char *name;
    json_t *val;
    json_object_foreach(h, name, val)
    {
        if (!json_is_string(val) || nh >= CRAWL_HEADERS_MAX) {
            ret = job_ctx_fail(ctx, false, "invalid_args: headers: at most %d, each a string",
                               CRAWL_HEADERS_MAX);
            goto out;
        }
        if (fetch_header_check(name, json_string_value(val), json_string_length(val), &e) != 0) {
            ret = job_ctx_fail(ctx, false, "invalid_args: headers: %s", e.msg);
            goto out;
        }
        if (asprintf(&headers[nh], "%s: %s", name, json_string_value(val)) > 0)
            nh++;
    }
    json_int_t timeout = json_integer_value(json_object_get(args, "timeoutMs"));

    char origin[300];
    if (url_origin(url, origin, sizeof origin, &e) != 0) {
        ret = job_ctx_fail(ctx, false, "invalid_url: %s", e.msg);
        goto out;
    }
    bool probe = false;
    int64_t retry_at = 0;
    if (cr->breakers && !breaker_allow(cr->breakers, origin, &probe, &retry_at)) {
        ret = job_ctx_defer(ctx, retry_at, "deferred: the circuit breaker for %s is open", origin);
        goto out;
    }
    struct fetch_req req = {
        .url = url,
        .headers = (const char *const *)headers,
        .timeout_ms = timeout,
        .cancel = job_ctx_cancel_flag(ctx),
    };
    int64_t t0 = clock_mono_ms();
    fetch_run(cr->fetcher, &req, &res);
    if (res.kind == FETCH_DEFERRED) {
        if (probe)
            breaker_release(cr->breakers, origin); /* the probe learnt nothing; let another go */
        ret = job_ctx_defer(ctx, res.defer_until_ms, "%s", res.error);
        goto out;
    }
    if (res.kind == FETCH_CANCELLED) {
        ret = job_ctx_fail(ctx, false, "%s", res.error);
        goto out;
    }
    if (cr->breakers) {
        if (crawl_host_trouble(&res))
            breaker_failure(cr->breakers, origin);
        else
            breaker_success(cr->breakers, origin);
    }
    /* a page is kept only when a whole response came back, a 404 page included; a transfer
     * stopped at the size cap or cut off has no page worth keeping */
    if (res.http_status > 0 && (res.kind == FETCH_OK || res.kind == FETCH_HTTP_STATUS)) {
        struct page *pg = xcalloc(1, sizeof *pg);
        struct crawl_result *cres = &pg->r;
        snprintf(cres->job_id, sizeof cres->job_id, "%s", job->id);
        cres->url = xstrdup(url);
        cres->final_url = xstrdup(res.final_url);
        cres->http_status = res.http_status;
        cres->content_type = xstrdup(res.content_type);
        cres->headers = xstrdup(res.headers);
        cres->body_length = (int64_t)res.body.len;
        cres->redirects = res.redirects;
        cres->fetched_at = engine_now(job_ctx_engine(ctx));
        cres->processing_time_ms = clock_mono_ms() - t0;
        cres->method = xstrdup("http");
        pg->attempt = job->attempt;
        pg->owner = xstrdup(job->lease_owner);
        if (res.body.len && zframe_compress(res.body.data, res.body.len, cr->zstd_level,
                                            &cres->body_z, &cres->body_z_len, &e) != 0) {
            page_free(pg);
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        if (res.kind == FETCH_OK) {
            /* the page and the completion are one transaction */
            job_ctx_complete_with(ctx, save, pg, page_free);
        } else {
            /* a 404 or 500 page is kept too, for the user to look at; the job fails after */
            int rc = engine_exec(job_ctx_engine(ctx), save, pg, &e);
            page_free(pg);
            if (rc != 0) {
                ret = job_ctx_fail(ctx, e.retryable, "store: cannot save the page: %s", e.msg);
                goto out;
            }
        }
    }
    if (res.kind != FETCH_OK) {
        ret = job_ctx_fail(ctx, res.retryable, "%s", res.error);
        goto out;
    }
    json_t *result =
        json_pack("{s:i, s:s, s:s?, s:I, s:i, s:I, s:s}", "http_status", res.http_status,
                  "final_url", res.final_url, "content_type", res.content_type, "html_length",
                  (json_int_t)res.body.len, "redirects", res.redirects, "processing_time_ms",
                  (json_int_t)(clock_mono_ms() - t0), "success_method", "http");
    char *rs = json_dumps(result, JSON_COMPACT);
    json_decref(result);
    job_ctx_set_result(ctx, rs);
    free(rs);
out:
    fetch_result_release(&res);
    for (size_t i = 0; i < nh; i++)
        free(headers[i]);
    json_decref(args);
    return ret;
}
