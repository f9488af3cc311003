/* A scraping session's sync stage: its records delivered to the destination of its source (what
 * the last sync of the same workspace and start URL delivered), each marked new, changed (in diff
 * mode with the fields that changed) or unchanged, and the source's records this session no
 * longer has removed. Batches commit as they go and a retried attempt skips what an earlier one
 * delivered, so the counts, read from the store at the end, are exact whatever stopped it. When
 * the session names a webhook, the changes (diff) or all its records (replace), then the records
 * removed, are delivered to it in batches, each a signed webhook call with a delivery id of its
 * own (the sync job's id and the batch's number, the same at every retry), checkpointed one by
 * one: a retried attempt (the receiver was down) delivers from the first batch not delivered,
 * and never runs the stages before it again. */
#include "handlers/scrape_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "handlers/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH         500
#define CHECKPOINT_MS 5000

static int begin_fn(struct store *s, void *arg, struct err *e)
{
    return store_sync_begin(s, arg, e);
}

static int batch_fn(struct store *s, void *arg, struct err *e)
{
    return store_source_sync(s, arg, e);
}

struct prune_args {
    struct sync_batch *b;
    int removed;
};

static int prune_fn(struct store *s, void *arg, struct err *e)
{
    struct prune_args *a = arg;
    int rc = store_source_prune(s, a->b, e);
    if (rc < 0)
        return rc;
    a->removed = rc;
    return 0;
}

/* Where the deliveries stand, kept in the checkpoint with the sync's own place. */
struct deliver {
    int64_t batches;   /* delivered so far */
    int64_t after;     /* the last record delivered (by id) */
    char removed[600]; /* the last removed record's key delivered; "" none yet */
    bool records_done; /* every record is delivered; the removed ones go next */
};

static int save_place(struct job_ctx *ctx, int64_t after, int64_t seen, bool synced,
                      const struct deliver *d, struct err *e)
{
    json_t *o = json_pack("{s:I, s:I, s:b}", "after_record", (json_int_t)after, "records",
                          (json_int_t)seen, "synced", synced);
    if (d) {
        json_object_set_new(o, "delivered", json_integer(d->batches));
        json_object_set_new(o, "delivered_after", json_integer(d->after));
        json_object_set_new(o, "delivered_removed", json_string(d->removed));
        json_object_set_new(o, "records_delivered", json_boolean(d->records_done));
    }
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    int rc = job_ctx_save_checkpoint(ctx, text, e);
    free(text);
    return rc;
}

/* The next batch of what the webhook gets into arr: records marked new or changed (diff) or every
 * record (replace), then the removed ones. Returns the number added, or an error. */
static int next_batch(struct store *s, const struct scrape_session *ss, const struct cfg *c,
                      struct deliver *d, json_t *recs, json_t *removed, int64_t *cursor,
                      char *rcursor, size_t nrcursor, struct err *e)
{
    size_t want = (size_t)c->webhook_batch;
    *cursor = d->after;
    snprintf(rcursor, nrcursor, "%s", d->removed);
    while (!d->records_done && json_array_size(recs) < want) {
        struct record_row *rows;
        size_t n;
        if (store_records_list(s, ss->id, *cursor, want, &rows, &n, e) < 0)
            return e->code;
        size_t i = 0;
        for (; i < n && json_array_size(recs) < want; i++) {
            *cursor = rows[i].id;
            const char *ch = rows[i].change;
            if (c->sync_mode == SYNC_DIFF && (!ch || strcmp(ch, "unchanged") == 0))
                continue;
            json_t *o = json_pack("{s:s, s:s}", "key", rows[i].key, "change", ch ? ch : "new");
            json_t *v;
            if (rows[i].changed_fields && (v = json_loads(rows[i].changed_fields, 0, NULL)))
                json_object_set_new(o, "fields", v);
            if ((v = json_loads(rows[i].data, 0, NULL)))
                json_object_set_new(o, "data", v);
            json_array_append_new(recs, o);
        }
        bool end = n < want && i == n;
        record_row_array_free(rows, n);
        if (end) {
            /* nothing past the cursor: the removed records follow, in this batch if it has room */
            d->records_done = true;
            break;
        }
    }
    if (d->records_done && json_array_size(recs) < want) {
        struct record_row *rows;
        size_t n;
        size_t room = want - json_array_size(recs);
        if (store_removed_list(s, ss->id, rcursor[0] ? rcursor : NULL, room, &rows, &n, e) < 0)
            return e->code;
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_pack("{s:s}", "key", rows[i].key);
            json_t *v;
            if ((v = json_loads(rows[i].data, 0, NULL)))
                json_object_set_new(o, "data", v);
            json_array_append_new(removed, o);
            snprintf(rcursor, nrcursor, "%s", rows[i].key);
        }
        record_row_array_free(rows, n);
    }
    return (int)(json_array_size(recs) + json_array_size(removed));
}

/* Deliver the sync's records to the session's webhook, batch by batch from where d says. Returns
 * 0 when every batch is delivered, else the handler's return (the job failed or deferred). */
static int deliver_all(struct job_ctx *ctx, const struct scrape_session *ss, const struct cfg *c,
                       struct deliver *d, int64_t after, int64_t seen)
{
    struct crawler *cr = job_ctx_arg(ctx);
    struct store *s = engine_store(job_ctx_engine(ctx));
    const struct job *job = job_ctx_job(ctx);
    struct err e;
    err_clear(&e);
    if (!cr)
        return job_ctx_fail(ctx, false, "webhook: this worker has no fetcher to deliver with");
    for (;;) {
        if (job_ctx_cancelled(ctx))
            return job_ctx_fail(ctx, false, "cancelled after %lld webhook deliveries",
                                (long long)d->batches);
        json_t *recs = json_array(), *removed = json_array();
        int64_t cursor;
        char rcursor[600];
        int n = next_batch(s, ss, c, d, recs, removed, &cursor, rcursor, sizeof rcursor, &e);
        if (n <= 0) {
            json_decref(recs);
            json_decref(removed);
            if (n < 0)
                return job_ctx_fail(ctx, true, "store: %s", e.msg);
            return 0;
        }
        char id[UUID_STR_LEN + 24];
        snprintf(id, sizeof id, "%s.%lld", job->id, (long long)(d->batches + 1));
        json_t *body = json_pack(
            "{s:s, s:s, s:s, s:s, s:s, s:I, s:o, s:o}", "type", "scraping_session.sync",
            "session_id", ss->id, "source_url", ss->source_url, "sync_job_id", job->id, "mode",
            c->sync_mode == SYNC_DIFF ? "diff" : "replace", "batch", (json_int_t)(d->batches + 1),
            "records", recs, "removed", removed); /* "o" steals recs and removed */
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        struct webhook_send w = {
            .url = c->webhook_url,
            .secret = c->webhook_secret,
            .delivery_id = id,
            .body = text,
            .len = strlen(text),
        };
        struct webhook_result r;
        int rc = webhook_deliver(ctx, cr, &w, &r);
        free(text);
        if (rc)
            return job_ctx_fail(ctx, true, "webhook: batch %lld: could not record the call",
                                (long long)(d->batches + 1));
        if (r.outcome == WEBHOOK_DEFER)
            return job_ctx_defer(ctx, r.retry_at_ms, "webhook: batch %lld: %s",
                                 (long long)(d->batches + 1), r.error);
        if (r.outcome != WEBHOOK_DELIVERED)
            return job_ctx_fail(ctx, r.outcome == WEBHOOK_RETRY, "webhook: batch %lld: %s",
                                (long long)(d->batches + 1), r.error);
        d->batches++;
        d->after = cursor;
        snprintf(d->removed, sizeof d->removed, "%s", rcursor);
        if (save_place(ctx, after, seen, true, d, &e) != 0)
            log_warn("session %s: checkpoint: %s", ss->id, e.msg);
        job_ctx_progress(ctx, 95, "delivering");
    }
}

int handler_scrape_sync(struct job_ctx *ctx)
{
    struct scrape_session ss;
    struct cfg c;
    int ret = stage_session(ctx, &ss, &c);
    if (ret)
        return ret;
    struct engine *eng = job_ctx_engine(ctx);
    struct store *s = engine_store(eng);
    const struct job *job = job_ctx_job(ctx);
    struct sync_batch b = {
        .workspace = ss.workspace,
        .source = ss.source_url,
        .session_id = ss.id,
        .sync_job_id = job->id,
        .diff = c.sync_mode == SYNC_DIFF,
    };
    struct err e;
    err_clear(&e);
    int64_t after = 0, seen = 0;
    const char *cp = job_ctx_checkpoint(ctx);
    json_t *cpj = cp ? json_loads(cp, 0, NULL) : NULL;
    after = json_integer_value(json_object_get(cpj, "after_record"));
    seen = json_integer_value(json_object_get(cpj, "records"));
    struct deliver d = {
        .batches = json_integer_value(json_object_get(cpj, "delivered")),
        .after = json_integer_value(json_object_get(cpj, "delivered_after")),
        .records_done = json_is_true(json_object_get(cpj, "records_delivered")),
    };
    const char *dr = json_string_value(json_object_get(cpj, "delivered_removed"));
    snprintf(d.removed, sizeof d.removed, "%s", dr ? dr : "");
    json_decref(cpj);
    job_ctx_progress(ctx, 0, "syncing");
    b.now = engine_now(eng);
    if (engine_exec(eng, begin_fn, &b, &e) != 0) {
        ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
        goto out;
    }
    int64_t marked = clock_mono_ms();
    for (;;) {
        if (job_ctx_cancelled(ctx)) {
            ret = job_ctx_fail(ctx, false, "cancelled after %lld records", (long long)seen);
            goto out;
        }
        struct record_row *recs;
        size_t n;
        if (store_records_list(s, ss.id, after, BATCH, &recs, &n, &e) < 0) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        if (n == 0) {
            record_row_array_free(recs, n);
            break;
        }
        b.recs = recs;
        b.n = n;
        b.now = engine_now(eng);
        int rc = engine_exec(eng, batch_fn, &b, &e);
        after = recs[n - 1].id;
        record_row_array_free(recs, n);
        b.recs = NULL;
        b.n = 0;
        if (rc) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        seen += (int64_t)n;
        int pct = ss.materials > 0 ? (int)(seen * 90 / ss.materials) : 0;
        job_ctx_progress(ctx, pct > 90 ? 90 : pct, "syncing");
        if (clock_mono_ms() - marked >= CHECKPOINT_MS) {
            marked = clock_mono_ms();
            if (save_place(ctx, after, seen, false, NULL, &e) != 0)
                log_warn("session %s: checkpoint: %s", ss.id, e.msg);
        }
    }
    struct prune_args pa = {&b, 0};
    b.now = engine_now(eng);
    if (engine_exec(eng, prune_fn, &pa, &e) != 0) {
        ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
        goto out;
    }
    int64_t counts[4];
    if (store_sync_counts(s, ss.id, counts, &e) != 0) {
        ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
        goto out;
    }
    if (c.webhook_url) {
        if (d.batches == 0 && save_place(ctx, after, seen, true, &d, &e) != 0)
            log_warn("session %s: checkpoint: %s", ss.id, e.msg);
        if ((ret = deliver_all(ctx, &ss, &c, &d, after, seen)) != 0)
            goto out;
    }
    json_t *res = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "mode", b.diff ? "diff" : "replace",
                            "records", (json_int_t)(counts[0] + counts[1] + counts[2]), "new",
                            (json_int_t)counts[0], "changed", (json_int_t)counts[1], "unchanged",
                            (json_int_t)counts[2], "removed", (json_int_t)counts[3]);
    if (c.webhook_url)
        json_object_set_new(res, "webhook_batches", json_integer(d.batches));
    char *text = json_dumps(res, JSON_COMPACT);
    job_ctx_set_result(ctx, text);
    free(text);
    json_decref(res);
    job_ctx_progress(ctx, 100, "synced");
out:
    scrape_session_release(&ss);
    cfg_release(&c);
    return ret;
}
