/* The names of imports' statuses, types and modes, the memory of imports, items and records, and
 * the wrappers of the store's imports domain, which refuse what no store could keep. */
#include "store/import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[IMPORT_STATUS_COUNT] = {
    "pending",    "parsing",   "detecting", "awaiting_mappings", "processing",
    "delivering", "completed", "failed",    "cancelled"};
static const char *const type_names[IMPORT_TYPE_COUNT] = {NULL, "xml", "csv", "json"};
static const char *const mode_names[IMPORT_MODE_COUNT] = {"auto", "preview"};

static int parse(const char *const *names, int n, const char *name)
{
    for (int i = 0; name && i < n; i++)
        if (names[i] && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *import_status_name(int s)
{
    return s >= 0 && s < IMPORT_STATUS_COUNT ? status_names[s] : NULL;
}

int import_status_parse(const char *name)
{
    return parse(status_names, IMPORT_STATUS_COUNT, name);
}

const char *import_type_name(int t)
{
    return t >= 0 && t < IMPORT_TYPE_COUNT ? type_names[t] : NULL;
}

int import_type_parse(const char *name)
{
    return name ? parse(type_names, IMPORT_TYPE_COUNT, name) : IMPORT_TYPE_NONE;
}

const char *import_mode_name(int m)
{
    return m >= 0 && m < IMPORT_MODE_COUNT ? mode_names[m] : NULL;
}

int import_mode_parse(const char *name)
{
    return parse(mode_names, IMPORT_MODE_COUNT, name);
}

void import_status_set(unsigned mask, char *out, size_t len)
{
    size_t at = 0;
    out[0] = 0;
    for (int i = 0; i < IMPORT_STATUS_COUNT; i++) {
        if (!(mask & IMPORT_MASK(i)))
            continue;
        int k = snprintf(out + at, len - at, "%s%s,", at ? "" : ",", status_names[i]);
        if (k < 0 || (size_t)k >= len - at)
            return; /* the caller's buffer holds them all (see the stores) */
        at += (size_t)k;
    }
}

void import_stats_add(struct import_stats *st, const char *type, const char *status, int64_t n,
                      int64_t total, int64_t processed, int64_t failed, int64_t delivered)
{
    int t = import_type_parse(type), k = import_status_parse(status);
    if (t < 0 || k < 0)
        return;
    st->imports[t][k] += n;
    st->total_products[t] += total;
    st->processed_products[t] += processed;
    st->failed_products[t] += failed;
    st->delivered_products[t] += delivered;
}

void import_release(struct import *im)
{
    if (!im)
        return;
    free(im->workspace);
    free(im->source_name);
    free(im->source_url);
    free(im->field_mappings);
    free(im->detected_fields);
    free(im->webhook_url);
    free(im->webhook_secret);
    free(im->error_message);
    memset(im, 0, sizeof *im);
}

void import_array_free(struct import *im, size_t n)
{
    for (size_t i = 0; im && i < n; i++)
        import_release(&im[i]);
    free(im);
}

void import_item_array_free(struct import_item *it, size_t n)
{
    for (size_t i = 0; it && i < n; i++) {
        free(it[i].error);
        free(it[i].raw);
    }
    free(it);
}

void import_record_array_free(struct import_record *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].record);
    free(r);
}

/* ---- wrappers ---- */

int store_import_add(struct store *s, const struct import *im, struct err *e)
{
    if (!im->id[0] || !im->job_id[0] || !im->workspace || !im->source_name)
        return err_set(e, TRAWL_EINVAL, false,
                       "an import needs an id, a job, a workspace and a source name");
    if (!import_status_name(im->status) || !import_mode_name(im->mode) || im->type < 0 ||
        im->type >= IMPORT_TYPE_COUNT || im->batch_size < 0)
        return err_set(e, TRAWL_EINVAL, false,
                       "import %s: status, type, mode or batch size out "
                       "of range",
                       im->id);
    STORE_WRAP(s, s->imports, "imports", s->imports->add(s, im, e));
}

int store_import_get(struct store *s, const char *workspace, const char *id, bool by_job,
                     struct import *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    STORE_WRAP(s, s->imports, "imports", s->imports->get(s, workspace, id, by_job, out, e));
}

int store_import_secret(struct store *s, const char *id, char **out, struct err *e)
{
    *out = NULL;
    STORE_WRAP(s, s->imports, "imports", s->imports->secret(s, id, out, e));
}

int store_import_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                      struct import **out, size_t *n, int64_t *total, struct err *e)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    STORE_WRAP(s, s->imports, "imports",
               s->imports->list(s, workspace, limit, offset, out, n, total, e));
}

int store_import_update(struct store *s, const char *id, const struct import_update *u, int64_t now,
                        struct err *e)
{
    if (((u->set & IMPORT_SET_STATUS) && !import_status_name(u->status)) ||
        ((u->set & IMPORT_SET_TYPE) && (u->type < 0 || u->type >= IMPORT_TYPE_COUNT)))
        return err_set(e, TRAWL_EINVAL, false, "import %s: status or type out of range", id);
    if ((u->set & IMPORT_SET_JOB) && (!u->job_id || !u->job_id[0]))
        return err_set(e, TRAWL_EINVAL, false, "import %s: a new job needs its id", id);
    STORE_WRAP(s, s->imports, "imports", s->imports->update(s, id, u, now, e));
}

int store_import_stats(struct store *s, const char *workspace, struct import_stats *out,
                       struct err *e)
{
    memset(out, 0, sizeof *out);
    STORE_WRAP(s, s->imports, "imports", s->imports->stats(s, workspace, out, e));
}

int store_import_items_add(struct store *s, const char *import_id, const struct import_item *it,
                           size_t n, int64_t now, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        if (!it[i].error)
            return err_set(e, TRAWL_EINVAL, false, "import %s: bad row %lld has no error",
                           import_id, (long long)it[i].number);
    STORE_WRAP(s, s->imports, "imports", s->imports->items_add(s, import_id, it, n, now, e));
}

int store_import_items_list(struct store *s, const char *import_id, int64_t after, size_t limit,
                            struct import_item **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->imports, "imports",
               s->imports->items_list(s, import_id, after, limit, out, n, e));
}

int store_import_items_count(struct store *s, const char *import_id, int64_t *n, struct err *e)
{
    *n = 0;
    STORE_WRAP(s, s->imports, "imports", s->imports->items_count(s, import_id, n, e));
}

int store_import_items_clear(struct store *s, const char *import_id, struct err *e)
{
    STORE_WRAP(s, s->imports, "imports", s->imports->items_clear(s, import_id, e));
}

int store_import_records_add(struct store *s, const char *import_id, const struct import_record *r,
                             size_t n, int64_t now, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        if (!r[i].record)
            return err_set(e, TRAWL_EINVAL, false, "import %s: record %lld is empty", import_id,
                           (long long)r[i].number);
    STORE_WRAP(s, s->imports, "imports", s->imports->records_add(s, import_id, r, n, now, e));
}

int store_import_records_list(struct store *s, const char *import_id, int64_t after,
                              bool undelivered, size_t limit, struct import_record **out, size_t *n,
                              struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->imports, "imports",
               s->imports->records_list(s, import_id, after, undelivered, limit, out, n, e));
}

int store_import_records_deliver(struct store *s, const char *import_id, int64_t first,
                                 int64_t last, int64_t batch, struct err *e)
{
    if (batch < 0)
        return err_set(e, TRAWL_EINVAL, false, "import %s: delivery batch %lld", import_id,
                       (long long)batch);
    STORE_WRAP(s, s->imports, "imports",
               s->imports->records_deliver(s, import_id, first, last, batch, e));
}

int store_import_records_count(struct store *s, const char *import_id,
                               struct import_record_counts *out, struct err *e)
{
    *out = (struct import_record_counts){0, 0, -1};
    STORE_WRAP(s, s->imports, "imports", s->imports->records_count(s, import_id, out, e));
}
