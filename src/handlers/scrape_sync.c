/* A scraping session's sync stage: its records delivered to the destination of its source (what
 * the last sync of the same workspace and start URL delivered), each marked new, changed (in diff
 * mode with the fields that changed) or unchanged, and the source's records this session no
 * longer has removed. Batches commit as they go and a retried attempt skips what an earlier one
 * delivered, so the counts, read from the store at the end, are exact whatever stopped it. When
 * the session names a webhook, the changes (diff) or all its records (replace) are then fanned
 * out as signed webhook deliveries, each retried on its own. */
#include "handlers/scrape_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"

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
            char buf[128];
            snprintf(buf, sizeof buf, "{\"after_record\":%lld,\"records\":%lld}", (long long)after,
                     (long long)seen);
            if (job_ctx_save_checkpoint(ctx, buf, &e) != 0)
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
    json_t *res = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "mode", b.diff ? "diff" : "replace",
                            "records", (json_int_t)(counts[0] + counts[1] + counts[2]), "new",
                            (json_int_t)counts[0], "changed", (json_int_t)counts[1], "unchanged",
                            (json_int_t)counts[2], "removed", (json_int_t)counts[3]);
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
