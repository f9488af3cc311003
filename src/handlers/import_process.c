/* An import's detecting and processing stages: a sample of the feed tells what its fields hold
 * and how they map; then every record is mapped and kept, IMPORT_FLUSH to a transaction, with the
 * rows that are no product kept as the import's items, and the checkpoint names the last record
 * kept so a resumed job reads past what it kept without keeping it again. */
#include "handlers/import_int.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "parse/feed_detect.h"
#include "parse/feed_map.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEMS_FLUSH_MAX 500  /* bad rows kept per transaction at most */
#define CHECKPOINT_MS   2000 /* between two checkpoints of the processing */

/* ---- detecting ---- */

struct detect {
    struct feed_sample *sample;
    json_t *info;
    int64_t records;
};

static int detect_begin(void *ctx, const struct feed_info *info, struct err *e)
{
    (void)e;
    struct detect *d = ctx;
    d->info = json_pack("{s:s, s:s, s:b}", "format", feed_format_name(info->format), "encoding",
                        info->encoding ? info->encoding : "UTF-8", "gzip", info->gzip);
    if (info->format == FEED_CSV) {
        char delim[2] = {info->delimiter, 0}, quote[2] = {info->quote, 0};
        json_object_set_new(d->info, "delimiter", json_string(delim));
        json_object_set_new(d->info, "quote", info->quote ? json_string(quote) : json_null());
        json_object_set_new(d->info, "header", json_boolean(info->header));
    }
    if (info->record_element)
        json_object_set_new(d->info, "record_element", json_string(info->record_element));
    if (info->json_path)
        json_object_set_new(d->info, "json_path", json_string(info->json_path));
    return 0;
}

static int detect_record(void *ctx, const struct feed_record *r, struct err *e)
{
    struct detect *d = ctx;
    d->records++;
    if (!feed_sample_add(d->sample, r))
        return err_set(e, TRAWL_ECANCELLED, false, "sample full"); /* stops the parse */
    return 0;
}

static json_t *fields_json(const struct feed_field_info *f, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *ex = json_array();
        for (int k = 0; k < FEED_EXAMPLES && f[i].examples[k]; k++)
            json_array_append_new(ex, json_string(f[i].examples[k]));
        json_t *o = json_pack("{s:s, s:s, s:f, s:f, s:I, s:I, s:b, s:o}", "name", f[i].name, "type",
                              feed_type_name(f[i].type), "fill_rate", f[i].fill_rate, "type_rate",
                              f[i].type_rate, "present", (json_int_t)f[i].present, "distinct",
                              (json_int_t)f[i].distinct, "repeated", f[i].repeated, "examples", ex);
        if (f[i].currency)
            json_object_set_new(o, "currency", json_string(f[i].currency));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *mappings_json(const struct feed_mapping *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *src = json_array();
        for (int k = 0; k < FEED_MAP_SOURCES && m[i].sources[k]; k++)
            json_array_append_new(src, json_string(m[i].sources[k]));
        json_array_append_new(a, json_pack("{s:s, s:o, s:f, s:s}", "target", m[i].target, "sources",
                                           src, "confidence", m[i].confidence, "reason",
                                           m[i].reason ? m[i].reason : ""));
    }
    return a;
}

int import_detect(struct import_run *u)
{
    int ret = import_set_status(u, IMPORT_DETECTING, "detecting", 2);
    if (ret)
        return ret;
    struct import_reader rd;
    if ((ret = import_open(u, &rd)) != 0)
        return ret;
    struct detect d = {.sample = feed_sample_new(0)};
    struct feed_sink sink = {detect_begin, detect_record, NULL, &d};
    struct feed_opts o = import_feed_opts(u);
    struct feed_stats st;
    struct err e;
    err_clear(&e);
    int rc = feed_parse(&o, import_read, &rd, &sink, &st, &e);
    import_close(&rd);
    /* a feed that breaks after some records is detected on those: processing keeps them and
     * stops at the error */
    if (rc && rc != TRAWL_ECANCELLED && !(rc == TRAWL_EINVAL && d.info && d.records > 0)) {
        ret = import_fail(u, rc != TRAWL_EINVAL, "%s", e.msg);
        goto out;
    }
    if (!d.info || d.records == 0) {
        ret = import_fail(u, false, "the feed holds no products");
        goto out;
    }
    struct feed_field_info *f;
    size_t nf = feed_sample_fields(d.sample, &f);
    struct feed_mapping *m;
    size_t nm = feed_suggest(f, nf, &m);
    json_t *det = json_deep_copy(d.info);
    json_object_set_new(det, "sampled", json_integer(d.records));
    json_object_set_new(det, "fields", fields_json(f, nf));
    json_object_set_new(det, "suggested", mappings_json(m, nm));
    char *suggested = feed_map_suggested(m, nm);
    json_object_set_new(det, "suggested_mappings", json_loads(suggested, 0, NULL));
    char *text = json_dumps(det, JSON_COMPACT);
    json_decref(det);
    feed_fields_free(f, nf);
    feed_mappings_free(m, nm);
    const char *fmt = json_string_value(json_object_get(d.info, "format"));
    struct import_update up = {
        .set = IMPORT_SET_DETECTED | IMPORT_SET_TYPE,
        .detected_fields = text,
        .type = import_type_parse(fmt) > 0 ? import_type_parse(fmt) : u->im.type,
    };
    bool take = !u->im.field_mappings && u->im.mode == IMPORT_AUTO;
    if (take) {
        up.set |= IMPORT_SET_MAPPINGS;
        up.field_mappings = suggested;
    }
    rc = import_set(u, &up, &e);
    if (rc) {
        ret = rc == TRAWL_ESTATE ? job_ctx_fail(u->ctx, false, "the import was cancelled")
                                 : job_ctx_fail(u->ctx, true, "store: %s", e.msg);
    } else {
        u->im.type = up.type;
        u->im.detected_fields = text;
        text = NULL;
        if (take) {
            u->im.field_mappings = suggested;
            suggested = NULL;
        }
    }
    free(text);
    free(suggested);
out:
    json_decref(d.info);
    feed_sample_free(d.sample);
    return ret;
}

/* ---- processing ---- */

/* A batch of records and bad rows, and what the import's counts are once it is kept. Two take
 * turns: one is filled while the committer writes the other, so reading and mapping the feed
 * (this thread) and writing the store (the committer's) go on at the same time. */
struct batch {
    struct buf text; /* its records, each NUL-terminated */
    size_t off[IMPORT_FLUSH];
    struct import_record recs[IMPORT_FLUSH];
    size_t nrec;
    struct import_item items[ITEMS_FLUSH_MAX];
    size_t nitems;
    const char *import_id;
    int64_t processed, failed; /* the import's counts with this batch */
    int64_t last;              /* the last record or row it holds */
    int64_t now;
    /* its write, under the proc's lock */
    bool busy;
    int rc;
    struct err err;
};

struct proc {
    struct import_run *u;
    struct import_reader *rd;
    struct feed_map *map;
    struct batch b[2];
    int cur;              /* the batch being filled */
    int64_t kept, failed; /* this run's, for progress */
    int64_t last;         /* the last record or row read */
    int64_t marked;       /* when the checkpoint was saved */
    pthread_mutex_t lock;
    pthread_cond_t done;
    char why[FEED_MAP_WHY_MAX];
};

static int flush_fn(struct store *s, void *arg, struct err *e)
{
    struct batch *b = arg;
    if (b->nrec && store_import_records_add(s, b->import_id, b->recs, b->nrec, b->now, e) < 0)
        return e->code;
    if (b->nitems && store_import_items_add(s, b->import_id, b->items, b->nitems, b->now, e) < 0)
        return e->code;
    struct import_update up = {
        .set = IMPORT_SET_PROCESSED | IMPORT_SET_FAILED | IMPORT_SET_TOTAL,
        .if_status = IMPORT_NOT_ENDED,
        .processed_products = b->processed,
        .failed_products = b->failed,
        .total_products = b->processed + b->failed,
    };
    int rc = store_import_update(s, b->import_id, &up, b->now, e);
    return rc < 0 ? rc : 0;
}

static void items_clear(struct batch *b)
{
    for (size_t i = 0; i < b->nitems; i++) {
        free(b->items[i].error);
        free(b->items[i].raw);
    }
    b->nitems = 0;
}

struct flush_done {
    struct proc *p;
    struct batch *b;
};

static void flush_done(void *ctx, int rc, const struct err *e)
{
    struct flush_done *d = ctx;
    pthread_mutex_lock(&d->p->lock);
    d->b->rc = rc;
    if (rc && e)
        d->b->err = *e;
    d->b->busy = false;
    pthread_cond_broadcast(&d->p->done);
    pthread_mutex_unlock(&d->p->lock);
    free(d);
}

/* Wait for batch b's write; its result. A batch written is emptied. */
static int batch_wait(struct proc *p, struct batch *b, struct err *e)
{
    pthread_mutex_lock(&p->lock);
    while (b->busy)
        pthread_cond_wait(&p->done, &p->lock);
    int rc = b->rc;
    if (rc)
        *e = b->err;
    b->rc = 0;
    pthread_mutex_unlock(&p->lock);
    return rc;
}

/* The write of batch b is durable: progress, and the checkpoint every CHECKPOINT_MS. */
static int batch_kept(struct proc *p, struct batch *b, struct err *e)
{
    b->nrec = 0;
    buf_clear(&b->text);
    items_clear(b);
    int64_t total = p->rd->size > 0 ? p->rd->size : 1;
    int pct = 5 + (int)(p->rd->bytes * (p->u->im.webhook_url ? 75 : 94) / total);
    if (job_ctx_progress(p->u->ctx, pct, "processing") == TRAWL_ESTALE)
        return err_set(e, TRAWL_ECANCELLED, false, "the job was cancelled or lost");
    if (clock_mono_ms() - p->marked >= CHECKPOINT_MS) {
        p->marked = clock_mono_ms();
        char cp[96];
        snprintf(cp, sizeof cp, "{\"phase\":\"processing\",\"after\":%lld}", (long long)b->last);
        struct err ce;
        err_clear(&ce);
        if (job_ctx_save_checkpoint(p->u->ctx, cp, &ce) != 0)
            log_warn("import %s: checkpoint: %s", p->u->im.id, ce.msg);
    }
    return 0;
}

/* Wait for batch b's write (a batch not sent is not busy); once it is kept, empty it. */
static int batch_finish(struct proc *p, struct batch *b, struct err *e)
{
    int rc = batch_wait(p, b, e);
    if (!rc && (b->nrec || b->nitems))
        rc = batch_kept(p, b, e);
    return rc;
}

/* Hand the batch being filled to the committer and go on with the other one once its own write
 * is over (it is then empty); with all, wait for this one too. */
static int flush(struct proc *p, bool all, struct err *e)
{
    struct batch *b = &p->b[p->cur], *prev = &p->b[1 - p->cur];
    bool sent = false;
    if (b->nrec || b->nitems) {
        for (size_t i = 0; i < b->nrec; i++)
            b->recs[i].record = b->text.data + b->off[i];
        b->processed = p->u->im.processed_products + p->kept;
        b->failed = p->u->im.failed_products + p->failed;
        b->last = p->last;
        b->now = engine_now(p->u->eng);
        b->busy = true;
        struct flush_done *d = xmalloc(sizeof *d);
        *d = (struct flush_done){p, b};
        engine_exec_async(p->u->eng, flush_fn, b, flush_done, d);
        p->cur = 1 - p->cur;
        sent = true;
    }
    int rc = batch_finish(p, prev, e);
    if (!rc && all && sent)
        rc = batch_finish(p, b, e);
    return rc;
}

static int add_item(struct proc *p, int64_t number, int64_t line, const char *msg, const char *raw,
                    size_t raw_len, struct err *e)
{
    struct batch *b = &p->b[p->cur];
    struct import_item *it = &b->items[b->nitems++];
    size_t keep = raw_len < IMPORT_RAW_MAX ? raw_len : IMPORT_RAW_MAX;
    *it = (struct import_item){.number = number, .line = line, .error = xstrdup(msg)};
    if (raw) {
        it->raw = xmalloc(keep + 1);
        memcpy(it->raw, raw, keep);
        it->raw[keep] = 0;
    }
    p->failed++;
    return b->nitems == ITEMS_FLUSH_MAX ? flush(p, false, e) : 0;
}

static int proc_record(void *ctx, const struct feed_record *r, struct err *e)
{
    struct proc *p = ctx;
    struct batch *b = &p->b[p->cur];
    p->last = r->number;
    if (r->number <= p->u->after)
        return 0;
    size_t off = b->text.len;
    int rc = feed_map_apply(p->map, r, &b->text, p->why);
    if (rc == 1)
        return add_item(p, r->number, r->line, p->why, r->raw, r->raw_len, e);
    if (rc < 0 || buf_add(&b->text, "", 1) != 0) {
        b->text.len = off;
        return add_item(p, r->number, r->line, "the product is too large to keep", r->raw,
                        r->raw_len, e);
    }
    b->off[b->nrec] = off;
    b->recs[b->nrec++] = (struct import_record){.number = r->number};
    p->kept++;
    return b->nrec == IMPORT_FLUSH ? flush(p, false, e) : 0;
}

static int proc_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    struct proc *p = ctx;
    p->last = er->number;
    if (er->number <= p->u->after)
        return 0;
    return add_item(p, er->number, er->line, er->msg, er->raw, er->raw_len, e);
}

int import_process(struct import_run *u)
{
    struct err e;
    err_clear(&e);
    struct feed_map *map;
    if (!u->im.field_mappings)
        return import_fail(u, false, "the import has no field mappings");
    if (feed_map_parse(u->im.field_mappings, &map, &e) != 0)
        return import_fail(u, false, "%s", e.msg);
    if (!feed_map_usable(map)) {
        feed_map_free(map);
        return import_fail(u, false,
                           "no field of the feed is mapped to the product's name or sku: give "
                           "field_mappings with one of them");
    }
    /* prices written without a currency take the one detection found in the price field */
    json_t *det = u->im.detected_fields ? json_loads(u->im.detected_fields, 0, NULL) : NULL;
    size_t i;
    json_t *f;
    json_t *pm = json_loads(u->im.field_mappings, 0, NULL);
    json_t *psrc = json_object_get(pm, "price");
    const char *pname =
        json_is_array(psrc) ? json_string_value(json_array_get(psrc, 0)) : json_string_value(psrc);
    json_array_foreach(json_object_get(det, "fields"), i, f)
    {
        const char *name = json_string_value(json_object_get(f, "name"));
        if (pname && name && strcmp(name, pname) == 0)
            feed_map_set_currency(map, json_string_value(json_object_get(f, "currency")));
    }
    json_decref(pm);
    json_decref(det);

    int ret = import_set_status(u, IMPORT_PROCESSING, "processing", 5);
    if (ret) {
        feed_map_free(map);
        return ret;
    }
    struct import_reader rd;
    if ((ret = import_open(u, &rd)) != 0) {
        feed_map_free(map);
        return ret;
    }
    struct proc *p = xcalloc(1, sizeof *p);
    p->u = u;
    p->rd = &rd;
    p->map = map;
    p->marked = clock_mono_ms();
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->done, NULL);
    for (int k = 0; k < 2; k++) {
        buf_init(&p->b[k].text, 0);
        p->b[k].import_id = u->im.id;
    }
    struct feed_sink sink = {NULL, proc_record, proc_row_error, p};
    struct feed_opts o = import_feed_opts(u);
    struct feed_stats st;
    int rc = feed_parse(&o, import_read, &rd, &sink, &st, &e);
    import_close(&rd);
    /* what was read before an error is kept, whatever stopped the parse */
    struct err fe;
    err_clear(&fe);
    int frc = flush(p, true, &fe);
    if (rc == TRAWL_ECANCELLED || frc == TRAWL_ECANCELLED || job_ctx_cancelled(u->ctx))
        ret = job_ctx_fail(u->ctx, false, "cancelled after %lld records",
                           (long long)(p->kept + p->failed));
    else if (rc == TRAWL_EINVAL)
        ret = import_fail(u, false, "%s (%lld products kept before it)", e.msg,
                          (long long)(u->im.processed_products + p->kept));
    else if (rc == TRAWL_ESTATE || frc == TRAWL_ESTATE)
        ret = job_ctx_fail(u->ctx, false, "the import was cancelled");
    else if (rc)
        ret = import_fail(u, e.retryable || rc == TRAWL_EBUSY || rc == TRAWL_EIO, "%s", e.msg);
    else if (frc)
        ret = import_fail(u, true, "store: %s", fe.msg);
    for (int k = 0; k < 2; k++) {
        struct err we;
        batch_wait(p, &p->b[k], &we); /* none is in flight after flush(all), but be sure */
        buf_release(&p->b[k].text);
        items_clear(&p->b[k]);
    }
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->lock);
    free(p);
    feed_map_free(map);
    if (ret)
        return ret;
    /* the counts as the store has them: exact whatever earlier attempts kept twice */
    struct store *s = engine_store(u->eng);
    struct import_record_counts c;
    int64_t failed;
    if (store_import_records_count(s, u->im.id, &c, &e) != 0 ||
        store_import_items_count(s, u->im.id, &failed, &e) != 0)
        return import_fail(u, true, "store: %s", e.msg);
    struct import_update up = {
        .set = IMPORT_SET_COUNTS,
        .total_products = c.total + failed,
        .processed_products = c.total,
        .failed_products = failed,
        .delivered_products = c.delivered,
    };
    rc = import_set(u, &up, &e);
    if (rc)
        return rc == TRAWL_ESTATE ? job_ctx_fail(u->ctx, false, "the import was cancelled")
                                  : import_fail(u, true, "store: %s", e.msg);
    u->im.total_products = up.total_products;
    u->im.processed_products = c.total;
    u->im.failed_products = failed;
    u->im.delivered_products = c.delivered;
    return 0;
}
