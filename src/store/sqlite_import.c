/* The SQLite store's imports domain (migration 0013): imports, their bad rows and their records.
 * Reads run on the reader under its lock; writes on the writer, inside the committer's
 * transaction, a statement per row (prepared once: a batch of 500 rows is 500 steps of one
 * statement, no parsing). */
#include "store/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    IM_ADD,
    IM_GET,
    IM_BY_JOB,
    IM_SECRET,
    IM_LIST,
    IM_TOTAL,
    IM_UPDATE,
    IM_STATUS,
    IM_ITEM_ADD,
    IM_ITEMS_LIST,
    IM_ITEMS_COUNT,
    IM_ITEMS_CLEAR,
    IM_RECORD_ADD,
    IM_RECORDS_LIST,
    IM_RECORDS_UNDELIVERED,
    IM_RECORDS_DELIVER,
    IM_RECORDS_COUNT,
    IM_STATS,
    IM_COUNT_,
};

_Static_assert(IM_COUNT_ <= 20, "struct sq has room for the statements");
/* the update's SQL tests these bits by value */
_Static_assert(IMPORT_SET_STATUS == 1 && IMPORT_SET_TYPE == 2 && IMPORT_SET_TOTAL == 4 &&
                   IMPORT_SET_PROCESSED == 8 && IMPORT_SET_FAILED == 16 &&
                   IMPORT_SET_DELIVERED == 32 && IMPORT_SET_MAPPINGS == 64 &&
                   IMPORT_SET_DETECTED == 128 && IMPORT_SET_ERROR == 256 &&
                   IMPORT_SET_COMPLETED_AT == 512 && IMPORT_SET_JOB == 1024,
               "the update's flags");

#define IMPORT_COLS                                                                                \
    "id, background_job_id, workspace, source_name, source_url, import_type, mode, status, "       \
    "total_products, processed_products, failed_products, delivered_products, field_mappings, "    \
    "detected_fields, webhook_url, webhook_secret IS NOT NULL, batch_size, error_message, "        \
    "created_at, updated_at, completed_at"

static const char *const im_sql[IM_COUNT_] = {
    [IM_ADD] = "INSERT INTO data_import_jobs (id, background_job_id, workspace, source_name, "
               "source_url, import_type, mode, status, field_mappings, detected_fields, "
               "webhook_url, webhook_secret, batch_size, error_message, created_at, updated_at, "
               "completed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
               "?14, ?15, ?15, ?16)",
    [IM_GET] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE id = ?1 AND (?2 IS NULL OR "
               "workspace = ?2)",
    [IM_BY_JOB] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE background_job_id = ?1 "
                  "AND (?2 IS NULL OR workspace = ?2)",
    [IM_SECRET] = "SELECT webhook_secret FROM data_import_jobs WHERE id = ?1",
    [IM_LIST] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE workspace = ?1 ORDER BY "
                "workspace, created_at DESC, id DESC LIMIT ?2 OFFSET ?3",
    [IM_TOTAL] = "SELECT count(*) FROM data_import_jobs WHERE workspace = ?1",
    [IM_UPDATE] = "UPDATE data_import_jobs SET "
                  "status = CASE WHEN ?2 & 1 THEN ?3 ELSE status END, "
                  "import_type = CASE WHEN ?2 & 2 THEN ?4 ELSE import_type END, "
                  "total_products = CASE WHEN ?2 & 4 THEN ?5 ELSE total_products END, "
                  "processed_products = CASE WHEN ?2 & 8 THEN ?6 ELSE processed_products END, "
                  "failed_products = CASE WHEN ?2 & 16 THEN ?7 ELSE failed_products END, "
                  "delivered_products = CASE WHEN ?2 & 32 THEN ?8 ELSE delivered_products END, "
                  "field_mappings = CASE WHEN ?2 & 64 THEN ?9 ELSE field_mappings END, "
                  "detected_fields = CASE WHEN ?2 & 128 THEN ?10 ELSE detected_fields END, "
                  "error_message = CASE WHEN ?2 & 256 THEN ?11 ELSE error_message END, "
                  "completed_at = CASE WHEN ?2 & 512 THEN ?12 ELSE completed_at END, "
                  "background_job_id = CASE WHEN ?2 & 1024 THEN ?15 ELSE background_job_id END, "
                  "updated_at = ?13 "
                  "WHERE id = ?1 AND (?14 = '' OR instr(?14, ',' || status || ',') > 0)",
    [IM_STATUS] = "SELECT status FROM data_import_jobs WHERE id = ?1",
    [IM_ITEM_ADD] = "INSERT INTO import_items (import_id, number, line, error, raw, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (import_id, number) DO UPDATE "
                    "SET line = excluded.line, error = excluded.error, raw = excluded.raw",
    [IM_ITEMS_LIST] = "SELECT number, line, error, raw, created_at FROM import_items WHERE "
                      "import_id = ?1 AND number > ?2 ORDER BY number LIMIT ?3",
    [IM_ITEMS_COUNT] = "SELECT count(*) FROM import_items WHERE import_id = ?1",
    [IM_ITEMS_CLEAR] = "DELETE FROM import_items WHERE import_id = ?1",
    [IM_RECORD_ADD] = "INSERT INTO import_records (import_id, number, record, created_at) VALUES "
                      "(?1, ?2, ?3, ?4) ON CONFLICT (import_id, number) DO UPDATE SET record = "
                      "excluded.record WHERE import_records.delivered_batch IS NULL",
    [IM_RECORDS_LIST] = "SELECT number, record, delivered_batch, created_at FROM import_records "
                        "WHERE import_id = ?1 AND number > ?2 ORDER BY number LIMIT ?3",
    [IM_RECORDS_UNDELIVERED] = "SELECT number, record, delivered_batch, created_at FROM "
                               "import_records WHERE import_id = ?1 AND delivered_batch IS NULL "
                               "AND number > ?2 ORDER BY number LIMIT ?3",
    [IM_RECORDS_DELIVER] = "UPDATE import_records SET delivered_batch = ?4 WHERE import_id = ?1 "
                           "AND delivered_batch IS NULL AND number BETWEEN ?2 AND ?3",
    [IM_RECORDS_COUNT] = "SELECT count(*), count(delivered_batch), coalesce(max(delivered_batch), "
                         "-1) FROM import_records WHERE import_id = ?1",
    [IM_STATS] = "SELECT import_type, status, count(*), sum(total_products), "
                 "sum(processed_products), sum(failed_products), sum(delivered_products) FROM "
                 "data_import_jobs WHERE ?1 IS NULL OR workspace = ?1 GROUP BY import_type, status",
};

/* Statement k on db (the writer or the reader), prepared on first use. */
static int stmt(struct sq *q, sqlite3 *db, int k, sqlite3_stmt **out, struct err *e)
{
    int rc = sq_prep_once(db, im_sql[k], &q->im[k], e);
    *out = q->im[k];
    return rc;
}

static void row_to_import(sqlite3_stmt *st, void *p)
{
    struct import *im = p;
    memset(im, 0, sizeof *im);
    snprintf(im->id, sizeof im->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(im->job_id, sizeof im->job_id, "%s", (const char *)sqlite3_column_text(st, 1));
    im->workspace = sq_col_dup(st, 2);
    im->source_name = sq_col_dup(st, 3);
    im->source_url = sq_col_dup(st, 4);
    im->type = import_type_parse((const char *)sqlite3_column_text(st, 5));
    im->mode = import_mode_parse((const char *)sqlite3_column_text(st, 6));
    im->status = import_status_parse((const char *)sqlite3_column_text(st, 7));
    im->total_products = sqlite3_column_int64(st, 8);
    im->processed_products = sqlite3_column_int64(st, 9);
    im->failed_products = sqlite3_column_int64(st, 10);
    im->delivered_products = sqlite3_column_int64(st, 11);
    im->field_mappings = sq_col_dup(st, 12);
    im->detected_fields = sq_col_dup(st, 13);
    im->webhook_url = sq_col_dup(st, 14);
    im->has_secret = sqlite3_column_int(st, 15) != 0;
    im->batch_size = sqlite3_column_int(st, 16);
    im->error_message = sq_col_dup(st, 17);
    im->created_at = sqlite3_column_int64(st, 18);
    im->updated_at = sqlite3_column_int64(st, 19);
    im->completed_at = sqlite3_column_int64(st, 20); /* NULL reads as 0 */
}

static void row_to_item(sqlite3_stmt *st, void *p)
{
    struct import_item *it = p;
    it->number = sqlite3_column_int64(st, 0);
    it->line = sqlite3_column_int64(st, 1);
    it->error = sq_col_dup(st, 2);
    it->raw = sq_col_dup(st, 3);
    it->created_at = sqlite3_column_int64(st, 4);
}

static void row_to_record(sqlite3_stmt *st, void *p)
{
    struct import_record *r = p;
    r->number = sqlite3_column_int64(st, 0);
    r->record = sq_col_dup(st, 1);
    r->delivered_batch =
        sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 2);
    r->created_at = sqlite3_column_int64(st, 3);
}

/* 0 binds NULL: a time not known. */
static void bind_time(sqlite3_stmt *st, int i, int64_t t)
{
    if (t)
        sqlite3_bind_int64(st, i, t);
    else
        sqlite3_bind_null(st, i);
}

/* ---- imports ---- */

static int im_add(struct store *s, const struct import *im, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_ADD, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, im->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, im->job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, im->workspace, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, im->source_name, -1, SQLITE_STATIC);
    sq_bind_text(st, 5, im->source_url);
    sq_bind_text(st, 6, import_type_name(im->type));
    sqlite3_bind_text(st, 7, import_mode_name(im->mode), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, import_status_name(im->status), -1, SQLITE_STATIC);
    sq_bind_text(st, 9, im->field_mappings);
    sq_bind_text(st, 10, im->detected_fields);
    sq_bind_text(st, 11, im->webhook_url);
    sq_bind_text(st, 12, im->webhook_secret);
    sqlite3_bind_int(st, 13, im->batch_size > 0 ? im->batch_size : IMPORT_BATCH_SIZE_DEFAULT);
    sq_bind_text(st, 14, im->error_message);
    sqlite3_bind_int64(st, 15, im->created_at);
    bind_time(st, 16, im->completed_at);
    rc = sq_step_done(q, st, e, "add import");
    sqlite3_clear_bindings(st);
    return rc;
}

static int im_get(struct store *s, const char *workspace, const char *id, bool by_job,
                  struct import *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    int rc = stmt(q, q->r, by_job ? IM_BY_JOB : IM_GET, &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sq_bind_text(st, 2, workspace);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_to_import(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s%s not found",
                         by_job ? "of job " : "", id);
        else
            rc = sq_err(q->r, step, e, "get import");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int im_secret(struct store *s, const char *id, char **out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    int rc = stmt(q, q->r, IM_SECRET, &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *out = sq_col_dup(st, 0);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s not found", id);
        else
            rc = sq_err(q->r, step, e, "get an import's secret");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int im_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                   struct import **out, size_t *n, int64_t *total, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *count, *list;
    int rc = stmt(q, q->r, IM_TOTAL, &count, e);
    if (!rc)
        rc = stmt(q, q->r, IM_LIST, &list, e);
    if (rc)
        goto out;
    sqlite3_bind_text(count, 1, workspace, -1, SQLITE_STATIC);
    int step = sqlite3_step(count);
    *total = step == SQLITE_ROW ? sqlite3_column_int64(count, 0) : 0;
    sqlite3_reset(count);
    sqlite3_clear_bindings(count);
    if (step != SQLITE_ROW) {
        rc = sq_err(q->r, step, e, "count imports");
        goto out;
    }
    sqlite3_bind_text(list, 1, workspace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(list, 2, limit ? (sqlite3_int64)limit : 20);
    sqlite3_bind_int64(list, 3, (sqlite3_int64)offset);
    void *rows;
    rc = sq_collect_rows(q->r, list, sizeof **out, row_to_import, &rows, n, e, "list imports");
    sqlite3_clear_bindings(list);
    *out = rows;
    if (rc < 0) {
        import_array_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
out:
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* Nothing changed: there is no such import, or its status is not one u allows. */
static int update_refused(struct sq *q, const char *id, struct err *e)
{
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_STATUS, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
        rc = err_set(e, TRAWL_ESTATE, false, "import %s is %s", id,
                     (const char *)sqlite3_column_text(st, 0));
    else if (step == SQLITE_DONE)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s not found", id);
    else
        rc = sq_err(q->w, step, e, "update import");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int im_update(struct store *s, const char *id, const struct import_update *u, int64_t now,
                     struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_UPDATE, &st, e);
    if (rc)
        return rc;
    char allowed[IMPORT_STATUS_SET_LEN];
    import_status_set(u->if_status, allowed, sizeof allowed);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)u->set);
    sq_bind_text(st, 3, import_status_name(u->status));
    sq_bind_text(st, 4, import_type_name(u->type));
    sqlite3_bind_int64(st, 5, u->total_products);
    sqlite3_bind_int64(st, 6, u->processed_products);
    sqlite3_bind_int64(st, 7, u->failed_products);
    sqlite3_bind_int64(st, 8, u->delivered_products);
    sq_bind_text(st, 9, u->field_mappings);
    sq_bind_text(st, 10, u->detected_fields);
    sq_bind_text(st, 11, u->error_message);
    bind_time(st, 12, u->completed_at);
    sqlite3_bind_int64(st, 13, now);
    sqlite3_bind_text(st, 14, allowed, -1, SQLITE_STATIC);
    sq_bind_text(st, 15, u->job_id);
    rc = sq_step_done(q, st, e, "update import");
    sqlite3_clear_bindings(st);
    if (!rc && sqlite3_changes(q->w) == 0)
        rc = update_refused(q, id, e);
    return rc;
}

/* ---- items ---- */

static int im_items_add(struct store *s, const char *import_id, const struct import_item *it,
                        size_t n, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_ITEM_ADD, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_bind_int64(st, 2, it[i].number);
        sqlite3_bind_int64(st, 3, it[i].line);
        sqlite3_bind_text(st, 4, it[i].error, -1, SQLITE_STATIC);
        sq_bind_text(st, 5, it[i].raw);
        rc = sq_step_done(q, st, e, "keep an import's bad rows");
    }
    sqlite3_clear_bindings(st);
    return rc;
}

/* Run a list on the reader: ?1 import_id, ?2 after, ?3 limit (0: 500). */
static int list_rows(struct sq *q, int k, const char *import_id, int64_t after, size_t limit,
                     size_t size, void (*fn)(sqlite3_stmt *, void *), void **out, size_t *n,
                     struct err *e, const char *what)
{
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    int rc = stmt(q, q->r, k, &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, after);
        sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : 500);
        rc = sq_collect_rows(q->r, st, size, fn, out, n, e, what);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int im_items_list(struct store *s, const char *import_id, int64_t after, size_t limit,
                         struct import_item **out, size_t *n, struct err *e)
{
    void *rows = NULL;
    int rc = list_rows((struct sq *)s, IM_ITEMS_LIST, import_id, after, limit, sizeof **out,
                       row_to_item, &rows, n, e, "list an import's bad rows");
    *out = rows;
    if (rc < 0) {
        import_item_array_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* A count on the reader: statement k with ?1 import_id; its columns into v[0..nv). */
static int read_counts(struct sq *q, int k, const char *import_id, int64_t *v, int nv,
                       struct err *e, const char *what)
{
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    int rc = stmt(q, q->r, k, &st, e);
    if (!rc) {
        sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        for (int i = 0; step == SQLITE_ROW && i < nv; i++)
            v[i] = sqlite3_column_int64(st, i);
        if (step != SQLITE_ROW)
            rc = sq_err(q->r, step, e, what);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int im_items_count(struct store *s, const char *import_id, int64_t *n, struct err *e)
{
    return read_counts((struct sq *)s, IM_ITEMS_COUNT, import_id, n, 1, e,
                       "count an import's bad rows");
}

static int im_items_clear(struct store *s, const char *import_id, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_ITEMS_CLEAR, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
    rc = sq_step_done(q, st, e, "clear an import's bad rows");
    sqlite3_clear_bindings(st);
    return rc ? rc : sqlite3_changes(q->w);
}

/* ---- records ---- */

static int im_records_add(struct store *s, const char *import_id, const struct import_record *r,
                          size_t n, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_RECORD_ADD, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now);
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_bind_int64(st, 2, r[i].number);
        sqlite3_bind_text(st, 3, r[i].record, -1, SQLITE_STATIC);
        rc = sq_step_done(q, st, e, "keep an import's records");
    }
    sqlite3_clear_bindings(st);
    return rc;
}

static int im_records_list(struct store *s, const char *import_id, int64_t after, bool undelivered,
                           size_t limit, struct import_record **out, size_t *n, struct err *e)
{
    void *rows = NULL;
    int rc = list_rows((struct sq *)s, undelivered ? IM_RECORDS_UNDELIVERED : IM_RECORDS_LIST,
                       import_id, after, limit, sizeof **out, row_to_record, &rows, n, e,
                       "list an import's records");
    *out = rows;
    if (rc < 0) {
        import_record_array_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

static int im_records_deliver(struct store *s, const char *import_id, int64_t first, int64_t last,
                              int64_t batch, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_stmt *st;
    int rc = stmt(q, q->w, IM_RECORDS_DELIVER, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_text(st, 1, import_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, first);
    sqlite3_bind_int64(st, 3, last);
    sqlite3_bind_int64(st, 4, batch);
    rc = sq_step_done(q, st, e, "mark an import's records delivered");
    sqlite3_clear_bindings(st);
    return rc ? rc : sqlite3_changes(q->w);
}

static int im_records_count(struct store *s, const char *import_id,
                            struct import_record_counts *out, struct err *e)
{
    int64_t v[3] = {0, 0, -1};
    int rc = read_counts((struct sq *)s, IM_RECORDS_COUNT, import_id, v, 3, e,
                         "count an import's records");
    if (!rc)
        *out = (struct import_record_counts){v[0], v[1], v[2]};
    return rc;
}

/* ---- the metrics' figures ---- */

static int im_stats(struct store *s, const char *workspace, struct import_stats *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    int rc = stmt(q, q->r, IM_STATS, &st, e);
    if (!rc) {
        sq_bind_text(st, 1, workspace);
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            import_stats_add(out, (const char *)sqlite3_column_text(st, 0),
                             (const char *)sqlite3_column_text(st, 1), sqlite3_column_int64(st, 2),
                             sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4),
                             sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6));
        if (step != SQLITE_DONE)
            rc = sq_err(q->r, step, e, "count imports by type and status");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

const struct store_import_ops sq_imports = {
    .version = STORE_IMPORT_VERSION,
    .add = im_add,
    .get = im_get,
    .secret = im_secret,
    .list = im_list,
    .update = im_update,
    .items_add = im_items_add,
    .items_list = im_items_list,
    .items_count = im_items_count,
    .items_clear = im_items_clear,
    .records_add = im_records_add,
    .records_list = im_records_list,
    .records_deliver = im_records_deliver,
    .records_count = im_records_count,
    .stats = im_stats,
};
