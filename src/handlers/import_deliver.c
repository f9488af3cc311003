/* An import's delivering stage, and the redelivery of one recorded call. A batch is the next
 * batch_size undelivered records by number, sent as {"type": "import.products", "import_id",
 * "source_name", "batch", "products": [{"number", ...product}]} with the webhook-id
 * "<import id>.<batch>"; the records are marked delivered in the transaction that records the
 * receiver's 2xx. A batch that did not go out (or whose answer was not recorded) is made again
 * from the same records under the same number, so a receiver de-duplicating by webhook-id sees
 * every product once. */
#include "handlers/import_int.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "handlers/webhook.h"
#include "store/webhook.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mark_args {
    const char *import_id;
    int64_t first, last, batch;
    int64_t base; /* the import's delivered_products before these */
};

static int mark_fn(struct store *s, void *arg, struct err *e)
{
    struct mark_args *a = arg;
    int n = store_import_records_deliver(s, a->import_id, a->first, a->last, a->batch, e);
    if (n < 0)
        return n;
    struct import_update up = {.set = IMPORT_SET_DELIVERED, .delivered_products = a->base + n};
    int rc = store_import_update(s, a->import_id, &up, 0, e);
    return rc < 0 ? rc : 0;
}

/* The body of a batch of records. */
static int batch_body(const struct import *im, int64_t batch, const struct import_record *r,
                      size_t n, struct buf *b)
{
    buf_clear(b);
    int rc = buf_adds(b, "{\"type\":\"import.products\",\"import_id\":\"");
    rc = rc ? rc : buf_adds(b, im->id);
    rc = rc ? rc : buf_adds(b, "\",\"source_name\":");
    rc = rc ? rc : buf_add_json_str(b, im->source_name, strlen(im->source_name));
    rc = rc ? rc : buf_addf(b, ",\"batch\":%lld,\"products\":[", (long long)batch);
    for (size_t i = 0; i < n && !rc; i++) {
        /* {"number":N, and the record's members after its opening brace */
        const char *rest = r[i].record[0] == '{' ? r[i].record + 1 : "}";
        rc = buf_addf(b, "%s{\"number\":%lld%s", i ? "," : "", (long long)r[i].number,
                      strcmp(rest, "}") == 0 ? "" : ",");
        rc = rc ? rc : buf_adds(b, rest);
    }
    return rc ? rc : buf_adds(b, "]}");
}

int import_deliver(struct import_run *u)
{
    struct importer *imp = u->imp;
    struct store *s = engine_store(u->eng);
    struct err e;
    err_clear(&e);
    if (!imp->cr || !imp->cr->fetcher)
        return import_fail(u, false, "this worker has no fetcher to deliver with");
    int ret = import_set_status(u, IMPORT_DELIVERING, "delivering", 80);
    if (ret)
        return ret;
    struct import_record_counts c;
    if (store_import_records_count(s, u->im.id, &c, &e) != 0)
        return import_fail(u, true, "store: %s", e.msg);
    int64_t batch = c.last_batch + 1, delivered = c.delivered;
    size_t size = u->im.batch_size > 0 ? (size_t)u->im.batch_size : IMPORT_BATCH_SIZE_DEFAULT;
    struct buf body;
    buf_init(&body, 0);
    for (;;) {
        if (job_ctx_cancelled(u->ctx)) {
            ret = job_ctx_fail(u->ctx, false, "cancelled after %lld delivered products",
                               (long long)delivered);
            break;
        }
        struct import_record *r;
        size_t n;
        if (store_import_records_list(s, u->im.id, 0, true, size, &r, &n, &e) < 0) {
            ret = import_fail(u, true, "store: %s", e.msg);
            break;
        }
        if (n == 0) {
            import_record_array_free(r, n);
            break;
        }
        char id[UUID_STR_LEN + 24];
        snprintf(id, sizeof id, "%s.%lld", u->im.id, (long long)batch);
        struct mark_args ma = {u->im.id, r[0].number, r[n - 1].number, batch, delivered};
        int rc = batch_body(&u->im, batch, r, n, &body);
        import_record_array_free(r, n);
        if (rc) {
            ret = import_fail(u, false, "batch %lld: the body is too large", (long long)batch);
            break;
        }
        struct webhook_send w = {
            .url = u->im.webhook_url,
            .secret = u->secret,
            .delivery_id = id,
            .body = body.data,
            .len = body.len,
            .record_as = u->im.id,
            .then = mark_fn,
            .then_arg = &ma,
        };
        struct webhook_result res;
        if (webhook_deliver(u->ctx, imp->cr, &w, &res) != 0) {
            ret = import_fail(u, true, "webhook: batch %lld: could not record the call",
                              (long long)batch);
            break;
        }
        if (res.outcome == WEBHOOK_DEFER) {
            ret = job_ctx_defer(u->ctx, res.retry_at_ms, "webhook: batch %lld: %s",
                                (long long)batch, res.error);
            break;
        }
        if (res.outcome != WEBHOOK_DELIVERED) {
            ret = import_fail(u, res.outcome == WEBHOOK_RETRY, "webhook: batch %lld: %s",
                              (long long)batch, res.error);
            break;
        }
        delivered += (int64_t)n;
        batch++;
        int64_t total = u->im.processed_products > 0 ? u->im.processed_products : 1;
        int pct = 80 + (int)(delivered * 19 / total);
        job_ctx_progress(u->ctx, pct > 99 ? 99 : pct, "delivering");
    }
    buf_release(&body);
    if (!ret)
        u->im.delivered_products = delivered;
    return ret;
}

/* ---- redelivering one call ---- */

/* The records a batch's body carries (its products' first and last numbers). */
static bool body_range(const char *body, size_t len, int64_t *first, int64_t *last)
{
    json_t *o = json_loadb(body, len, 0, NULL);
    json_t *p = json_object_get(o, "products");
    size_t n = json_array_size(p);
    if (n) {
        *first = json_integer_value(json_object_get(json_array_get(p, 0), "number"));
        *last = json_integer_value(json_object_get(json_array_get(p, n - 1), "number"));
    }
    json_decref(o);
    return n > 0;
}

int handler_redeliver(struct job_ctx *ctx)
{
    struct importer *imp = job_ctx_arg(ctx);
    struct store *s = engine_store(job_ctx_engine(ctx));
    struct err e;
    err_clear(&e);
    json_t *args = json_loads(job_ctx_args(ctx), 0, NULL);
    int64_t call_id = json_integer_value(json_object_get(args, "call_id"));
    json_decref(args);
    if (!imp || !imp->cr || !imp->cr->fetcher)
        return job_ctx_fail(ctx, false, "this worker has no fetcher to deliver with");
    struct webhook_call c;
    int rc = store_webhook_get(s, call_id, &c, &e);
    if (rc)
        return job_ctx_fail(ctx, rc != TRAWL_ENOTFOUND, "webhook call %lld: %s", (long long)call_id,
                            e.msg);
    struct import im = {0};
    char *secret = NULL, *body = NULL;
    size_t len = 0;
    int ret = 0;
    if (store_import_get(s, NULL, c.job_id, false, &im, &e) != 0) {
        ret = job_ctx_fail(ctx, e.code != TRAWL_ENOTFOUND, "webhook call %lld: its import: %s",
                           (long long)call_id, e.msg);
        goto out;
    }
    if (!c.request_body) {
        ret = job_ctx_fail(ctx, false,
                           "webhook call %lld: its body (%lld bytes) was too large "
                           "to keep; retry the import's failed calls instead",
                           (long long)call_id, (long long)c.request_bytes);
        goto out;
    }
    if (zframe_decompress(c.request_body, c.request_body_len, (size_t)c.request_bytes + 1, &body,
                          &len, &e) != 0 ||
        (im.has_secret && store_import_secret(s, im.id, &secret, &e) != 0)) {
        ret = job_ctx_fail(ctx, false, "webhook call %lld: %s", (long long)call_id, e.msg);
        goto out;
    }
    /* a redelivered batch that was never marked delivered is now */
    const char *dot = strrchr(c.delivery_id, '.');
    struct mark_args ma = {im.id, 0, -1, dot ? strtoll(dot + 1, NULL, 10) : 0, 0};
    bool marks = dot && body_range(body, len, &ma.first, &ma.last);
    struct import_record_counts rc0;
    if (marks && store_import_records_count(s, im.id, &rc0, &e) == 0)
        ma.base = rc0.delivered;
    struct webhook_send w = {
        .url = c.url,
        .secret = secret,
        .delivery_id = c.delivery_id,
        .body = body,
        .len = len,
        .record_as = c.job_id,
    };
    struct webhook_result res;
    if (webhook_deliver(ctx, imp->cr, &w, &res) != 0) {
        ret = job_ctx_fail(ctx, true, "webhook call %lld: could not record the call",
                           (long long)call_id);
        goto out;
    }
    if (res.outcome == WEBHOOK_DEFER) {
        ret = job_ctx_defer(ctx, res.retry_at_ms, "webhook call %lld: %s", (long long)call_id,
                            res.error);
        goto out;
    }
    if (res.outcome != WEBHOOK_DELIVERED) {
        ret = job_ctx_fail(ctx, res.outcome == WEBHOOK_RETRY, "webhook call %lld: %s",
                           (long long)call_id, res.error);
        goto out;
    }
    if (marks && engine_exec(job_ctx_engine(ctx), mark_fn, &ma, &e) != 0)
        log_warn("webhook call %lld: marking its records delivered: %s", (long long)call_id, e.msg);
    char result[160];
    snprintf(result, sizeof result, "{\"call_id\":%lld,\"delivery_id\":\"%s\",\"http_status\":%d}",
             (long long)call_id, c.delivery_id, res.http_status);
    job_ctx_set_result(ctx, result);
out:
    webhook_call_release(&c);
    import_release(&im);
    free(secret);
    free(body);
    return ret;
}
