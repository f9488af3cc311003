/* A scraping session's extract stage: its pages into records again, from the bodies the ingest
 * stage kept, under the session's current extraction settings. Each batch of pages is committed
 * with its records and the generation they are of, so the stage resumes where it stopped without
 * redoing a page; once every page is of the current generation, the records it did not find again
 * are dropped. No page is fetched. */
#include "handlers/scrape_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/zstd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH         64         /* pages read, extracted and committed together */
#define BODY_MAX      (64 << 20) /* bytes a kept body may expand to */
#define CHECKPOINT_MS 5000

/* One batch of pages on its way to the store. */
struct extracted {
    const char *sid;
    int gen;
    int64_t now;
    size_t n;
    int64_t ids[BATCH];
    struct page_recs recs[BATCH];
};

static int commit_fn(struct store *s, void *arg, struct err *e)
{
    struct extracted *x = arg;
    for (size_t i = 0; i < x->n; i++) {
        if (x->ids[i] < 0)
            continue; /* no body to read: the page and its records stay as they were */
        for (size_t k = 0; k < x->recs[i].n; k++) {
            int rc = store_record_put(s, x->sid, &x->recs[i].rows[k], x->ids[i], x->now, e);
            if (rc < 0)
                return rc;
        }
        int rc = store_page_extracted(s, x->sid, x->ids[i], x->gen, (int)x->recs[i].n, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct prune_args {
    const char *sid;
    int gen;
    int dropped;
};

static int prune_fn(struct store *s, void *arg, struct err *e)
{
    struct prune_args *a = arg;
    int rc = store_records_prune(s, a->sid, a->gen, e);
    if (rc < 0)
        return rc;
    a->dropped = rc;
    return 0;
}

/* Records of page p as the settings c find them now; false when its body cannot be read. */
static bool extract_page(const struct cfg *c, const struct page_body *p, int gen,
                         struct page_recs *out, char *why, size_t wn)
{
    memset(out, 0, sizeof *out);
    if (!p->body) {
        snprintf(why, wn, "fetched before bodies were kept");
        return false;
    }
    char *html;
    size_t len;
    struct err e;
    if (zframe_decompress(p->body, p->body_len, BODY_MAX, &html, &len, &e) != 0) {
        snprintf(why, wn, "its kept body: %.200s", e.msg);
        return false;
    }
    struct html_doc *d;
    int rc = html_parse(html, len, p->url, p->content_type, &d, &e);
    free(html);
    if (rc != 0) {
        snprintf(why, wn, "parse: %.200s", e.msg);
        return false;
    }
    page_recs_extract(c, d, p->url, gen, out);
    html_free(d);
    return true;
}

int handler_scrape_extract(struct job_ctx *ctx)
{
    struct scrape_session ss;
    struct cfg c;
    int ret = stage_session(ctx, &ss, &c);
    if (ret)
        return ret;
    struct engine *eng = job_ctx_engine(ctx);
    struct store *s = engine_store(eng);
    int gen = ss.extract_gen;
    int64_t total = ss.completed_pages;
    /* the checkpoint says where the last attempt got to; the pages' generations say it too, so
     * it only spares reading those pages again */
    int64_t after = 0, done = 0, unreadable = 0;
    const char *cp = job_ctx_checkpoint(ctx);
    json_t *cpj = cp ? json_loads(cp, 0, NULL) : NULL;
    if (cpj && json_integer_value(json_object_get(cpj, "generation")) == gen) {
        after = json_integer_value(json_object_get(cpj, "after_page"));
        done = json_integer_value(json_object_get(cpj, "pages"));
    }
    json_decref(cpj);
    job_ctx_progress(ctx, 0, "extracting");
    int64_t marked = clock_mono_ms();
    struct err e;
    err_clear(&e);
    char first_bad[600] = "";
    for (;;) {
        if (job_ctx_cancelled(ctx)) {
            ret = job_ctx_fail(ctx, false, "cancelled after %lld pages", (long long)done);
            goto out;
        }
        struct page_body *pages;
        size_t n;
        if (store_pages_to_extract(s, ss.id, gen, after, BATCH, &pages, &n, &e) < 0) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        if (n == 0)
            break;
        struct extracted *x = xcalloc(1, sizeof *x);
        x->sid = ss.id;
        x->gen = gen;
        x->now = engine_now(eng);
        for (size_t i = 0; i < n; i++) {
            char why[300];
            x->ids[x->n] = pages[i].id;
            if (!extract_page(&c, &pages[i], gen, &x->recs[x->n], why, sizeof why)) {
                if (!pages[i].body)
                    x->ids[x->n] = -1;
                unreadable++;
                if (!first_bad[0])
                    snprintf(first_bad, sizeof first_bad, "%.280s: %.280s", pages[i].url, why);
            }
            x->n++;
        }
        after = pages[n - 1].id;
        page_body_array_free(pages, n);
        int rc = engine_exec(eng, commit_fn, x, &e);
        for (size_t i = 0; i < x->n; i++)
            page_recs_release(&x->recs[i]);
        free(x);
        if (rc) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        done += (int64_t)n;
        int pct = total > 0 ? (int)(done * 100 / total) : 0;
        job_ctx_progress(ctx, pct > 99 ? 99 : pct, "extracting");
        if (clock_mono_ms() - marked >= CHECKPOINT_MS) {
            marked = clock_mono_ms();
            char buf[160];
            snprintf(buf, sizeof buf, "{\"generation\":%d,\"after_page\":%lld,\"pages\":%lld}", gen,
                     (long long)after, (long long)done);
            if (job_ctx_save_checkpoint(ctx, buf, &e) != 0)
                log_warn("session %s: checkpoint: %s", ss.id, e.msg);
        }
    }
    struct prune_args pa = {ss.id, gen, 0};
    if (engine_exec(eng, prune_fn, &pa, &e) != 0) {
        ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
        goto out;
    }
    if (first_bad[0])
        log_warn("session %s: %lld pages could not be extracted again (%s); their records are "
                 "kept as they were",
                 ss.id, (long long)unreadable, first_bad);
    struct scrape_session now;
    int64_t records = 0;
    if (store_session_get(s, NULL, ss.id, false, &now, &e) == 0) {
        records = now.materials;
        scrape_session_release(&now);
    }
    json_t *res = json_pack("{s:i, s:I, s:I, s:I, s:I}", "generation", gen, "pages_extracted",
                            (json_int_t)(done - unreadable), "records", (json_int_t)records,
                            "records_dropped", (json_int_t)pa.dropped, "pages_unreadable",
                            (json_int_t)unreadable);
    if (first_bad[0])
        json_object_set_new(res, "first_unreadable", json_string(first_bad));
    char *text = json_dumps(res, JSON_COMPACT);
    job_ctx_set_result(ctx, text);
    free(text);
    json_decref(res);
    job_ctx_progress(ctx, 100, "extracted");
out:
    scrape_session_release(&ss);
    cfg_release(&c);
    return ret;
}
