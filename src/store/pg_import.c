/* The PostgreSQL store's imports domain: imports, their bad rows and their records. A batch of
 * rows is one statement (unnest of arrays), not a round trip per row; of one number given twice
 * the later wins, as SQLite's row by row upsert gives, and the rows are written in number order,
 * so two transactions writing one import's rows (a worker that lost its lease and the one that
 * took over) lock them in the same order and cannot deadlock. Text read from a feed is made
 * valid UTF-8 first: SQLite keeps any bytes, a UTF8 database refuses malformed ones. Reads run on
 * the reader; writes on the writer, inside the committer's transaction. */
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Strings made valid for the database, freed together. */
struct texts {
    char **tmp;
    size_t n;
};

/* s as a UTF8 database takes it (malformed bytes become U+FFFD); NULL stays NULL. */
static const char *valid(struct texts *t, const char *s)
{
    char *tmp;
    const char *v = pg_valid_text(s, &tmp);
    if (tmp) {
        t->tmp = xrealloc(t->tmp, (t->n + 1) * sizeof *t->tmp);
        t->tmp[t->n++] = tmp;
    }
    return v;
}

static void texts_free(struct texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->tmp[i]);
    free(t->tmp);
}

static void row_to_import(const PGresult *r, int row, struct import *im)
{
    memset(im, 0, sizeof *im);
    snprintf(im->id, sizeof im->id, "%s", PQgetvalue(r, row, 0));
    snprintf(im->job_id, sizeof im->job_id, "%s", PQgetvalue(r, row, 1));
    im->workspace = pg_dup(r, row, 2);
    im->source_name = pg_dup(r, row, 3);
    im->source_url = pg_dup(r, row, 4);
    im->type = import_type_parse(pg_null(r, row, 5) ? NULL : PQgetvalue(r, row, 5));
    im->mode = import_mode_parse(PQgetvalue(r, row, 6));
    im->status = import_status_parse(PQgetvalue(r, row, 7));
    im->total_products = pg_i64(r, row, 8);
    im->processed_products = pg_i64(r, row, 9);
    im->failed_products = pg_i64(r, row, 10);
    im->delivered_products = pg_i64(r, row, 11);
    im->field_mappings = pg_dup(r, row, 12);
    im->detected_fields = pg_dup(r, row, 13);
    im->webhook_url = pg_dup(r, row, 14);
    im->has_secret = strcmp(PQgetvalue(r, row, 15), "t") == 0;
    im->batch_size = pg_int(r, row, 16);
    im->error_message = pg_dup(r, row, 17);
    im->created_at = pg_i64(r, row, 18);
    im->updated_at = pg_i64(r, row, 19);
    im->completed_at = pg_i64(r, row, 20); /* NULL reads as 0 */
}

/* 0 is NULL: a time not known. */
static void pa_time(struct pg_args *a, int64_t t)
{
    if (t)
        pa_i64(a, t);
    else
        pa_text(a, NULL);
}

/* ---- imports ---- */

static int im_add(struct store *s, const struct import *im, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "INSERT INTO data_import_jobs (id, background_job_id, workspace, source_name, source_url, "
        "import_type, mode, status, field_mappings, detected_fields, webhook_url, webhook_secret, "
        "batch_size, error_message, created_at, updated_at, completed_at) VALUES ($1, $2, $3, $4, "
        "$5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)";
    struct texts t = {0};
    struct pg_args a = {0};
    pa_text(&a, im->id);
    pa_text(&a, im->job_id);
    pa_text(&a, im->workspace);
    pa_text(&a, valid(&t, im->source_name));
    pa_text(&a, valid(&t, im->source_url));
    pa_text(&a, import_type_name(im->type));
    pa_text(&a, import_mode_name(im->mode));
    pa_text(&a, import_status_name(im->status));
    pa_text(&a, valid(&t, im->field_mappings));
    pa_text(&a, valid(&t, im->detected_fields));
    pa_text(&a, valid(&t, im->webhook_url));
    pa_text(&a, valid(&t, im->webhook_secret));
    pa_int(&a, im->batch_size > 0 ? im->batch_size : IMPORT_BATCH_SIZE_DEFAULT);
    pa_text(&a, valid(&t, im->error_message));
    pa_i64(&a, im->created_at);
    pa_time(&a, im->completed_at);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "add import");
    texts_free(&t);
    return rc;
}

static int im_get(struct store *s, const char *workspace, const char *id, bool by_job,
                  struct import *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char by_id[] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE id = $1 AND "
                                "($2::text IS NULL OR workspace = $2)";
    static const char of_job[] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE "
                                 "background_job_id = $1 AND ($2::text IS NULL OR workspace = $2)";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, workspace);
    PGresult *r;
    int rc = pg_run(pg_reader(p), by_job ? of_job : by_id, &a, &r, e, "get import");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        row_to_import(r, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s%s not found", by_job ? "of job " : "",
                     id);
    PQclear(r);
    return rc;
}

static int im_secret(struct store *s, const char *id, char **out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT webhook_secret FROM data_import_jobs WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "get an import's secret");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        *out = pg_dup(r, 0, 0);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s not found", id);
    PQclear(r);
    return rc;
}

static int im_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                   struct import **out, size_t *n, int64_t *total, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char count[] = "SELECT count(*) FROM data_import_jobs WHERE workspace = $1";
    static const char list[] = "SELECT " IMPORT_COLS " FROM data_import_jobs WHERE workspace = "
                               "$1 ORDER BY workspace, created_at DESC, id DESC LIMIT $2 OFFSET "
                               "$3";
    struct pg_args a = {0};
    pa_text(&a, workspace);
    struct pg_conn *c = pg_reader(p);
    PGresult *r;
    int rc = pg_run(c, count, &a, &r, e, "count imports");
    if (!rc) {
        *total = pg_i64(r, 0, 0);
        PQclear(r);
        pa_i64(&a, limit ? (int64_t)limit : 20);
        pa_i64(&a, (int64_t)offset);
        rc = pg_run(c, list, &a, &r, e, "list imports");
    }
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct import *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_import(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

/* One UPDATE, whose WHERE holds the status check: of a cancel and a handler's update racing on
 * two nodes, the second waits on the row for the first's commit and then checks the status the
 * first left. When it changed nothing, a second look tells a missing import from a refusal. */
static int im_update(struct store *s, const char *id, const struct import_update *u, int64_t now,
                     struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "UPDATE data_import_jobs SET "
        "status = CASE WHEN $2::int & 1 <> 0 THEN $3::text ELSE status END, "
        "import_type = CASE WHEN $2::int & 2 <> 0 THEN $4::text ELSE import_type END, "
        "total_products = CASE WHEN $2::int & 4 <> 0 THEN $5::bigint ELSE total_products END, "
        "processed_products = CASE WHEN $2::int & 8 <> 0 THEN $6::bigint ELSE processed_products "
        "END, "
        "failed_products = CASE WHEN $2::int & 16 <> 0 THEN $7::bigint ELSE failed_products END, "
        "delivered_products = CASE WHEN $2::int & 32 <> 0 THEN $8::bigint ELSE "
        "delivered_products END, "
        "field_mappings = CASE WHEN $2::int & 64 <> 0 THEN $9::text ELSE field_mappings END, "
        "detected_fields = CASE WHEN $2::int & 128 <> 0 THEN $10::text ELSE detected_fields END, "
        "error_message = CASE WHEN $2::int & 256 <> 0 THEN $11::text ELSE error_message END, "
        "completed_at = CASE WHEN $2::int & 512 <> 0 THEN $12::bigint ELSE completed_at END, "
        "background_job_id = CASE WHEN $2::int & 1024 <> 0 THEN $15::text ELSE "
        "background_job_id END, "
        "updated_at = $13::bigint "
        "WHERE id = $1 AND ($14::text = '' OR position(',' || status || ',' in $14::text) > 0)";
    static const char status[] = "SELECT status FROM data_import_jobs WHERE id = $1";
    char allowed[IMPORT_STATUS_SET_LEN];
    import_status_set(u->if_status, allowed, sizeof allowed);
    struct texts t = {0};
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_int(&a, (int)u->set);
    pa_text(&a, import_status_name(u->status));
    pa_text(&a, import_type_name(u->type));
    pa_i64(&a, u->total_products);
    pa_i64(&a, u->processed_products);
    pa_i64(&a, u->failed_products);
    pa_i64(&a, u->delivered_products);
    pa_text(&a, valid(&t, u->field_mappings));
    pa_text(&a, valid(&t, u->detected_fields));
    pa_text(&a, valid(&t, u->error_message));
    pa_time(&a, u->completed_at);
    pa_i64(&a, now);
    pa_text(&a, allowed);
    pa_text(&a, u->job_id);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "update import");
    texts_free(&t);
    if (rc)
        return rc;
    int64_t changed = pg_changes(r);
    PQclear(r);
    if (changed)
        return 0;
    struct pg_args b = {0};
    pa_text(&b, id);
    rc = pg_run(&p->w, status, &b, &r, e, "update import");
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        rc = err_set(e, TRAWL_ESTATE, false, "import %s is %s", id, PQgetvalue(r, 0, 0));
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "import %s not found", id);
    PQclear(r);
    return rc;
}

/* ---- items ---- */

/* A number as text, for a bigint[] literal. */
typedef char num_text[24];

static const char *num(num_text out, int64_t v)
{
    snprintf(out, sizeof(num_text), "%lld", (long long)v);
    return out;
}

static int im_items_add(struct store *s, const char *import_id, const struct import_item *it,
                        size_t n, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH v AS (SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[]) "
        "WITH ORDINALITY AS v (number, line, error, raw, i)), "
        "d AS (SELECT DISTINCT ON (number) number, line, error, raw FROM v ORDER BY number, i "
        "DESC) "
        "INSERT INTO import_items (import_id, number, line, error, raw, created_at) "
        "SELECT $1::text, number, line, error, raw, $6::bigint FROM d ORDER BY number "
        "ON CONFLICT (import_id, number) DO UPDATE SET line = excluded.line, error = "
        "excluded.error, raw = excluded.raw";
    if (n == 0)
        return 0;
    num_text *nums = xcalloc(2 * n, sizeof *nums);
    const char **numbers = xcalloc(n, sizeof *numbers), **lines = xcalloc(n, sizeof *lines);
    const char **errs = xcalloc(n, sizeof *errs), **raws = xcalloc(n, sizeof *raws);
    struct texts t = {0};
    for (size_t i = 0; i < n; i++) {
        numbers[i] = num(nums[2 * i], it[i].number);
        lines[i] = num(nums[2 * i + 1], it[i].line);
        errs[i] = valid(&t, it[i].error);
        raws[i] = valid(&t, it[i].raw);
    }
    char *arr[4] = {pg_array(numbers, n), pg_array(lines, n), pg_array(errs, n), pg_array(raws, n)};
    struct pg_args a = {0};
    pa_text(&a, import_id);
    for (int k = 0; k < 4; k++)
        pa_text(&a, arr[k]);
    pa_i64(&a, now);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "keep an import's bad rows");
    for (int k = 0; k < 4; k++)
        free(arr[k]);
    texts_free(&t);
    free(errs);
    free(raws);
    free(numbers);
    free(lines);
    free(nums);
    return rc;
}

static int im_items_list(struct store *s, const char *import_id, int64_t after, size_t limit,
                         struct import_item **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT number, line, error, raw, created_at FROM import_items "
                              "WHERE import_id = $1 AND number > $2 ORDER BY number LIMIT $3";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    pa_i64(&a, after);
    pa_i64(&a, limit ? (int64_t)limit : 500);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list an import's bad rows");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct import_item *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].number = pg_i64(r, i, 0);
        v[i].line = pg_i64(r, i, 1);
        v[i].error = pg_dup(r, i, 2);
        v[i].raw = pg_dup(r, i, 3);
        v[i].created_at = pg_i64(r, i, 4);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int im_items_count(struct store *s, const char *import_id, int64_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT count(*) FROM import_items WHERE import_id = $1";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "count an import's bad rows");
    pg_reader_done(p);
    if (rc)
        return rc;
    *n = pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

static int im_items_clear(struct store *s, const char *import_id, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "DELETE FROM import_items WHERE import_id = $1";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "clear an import's bad rows");
    if (rc)
        return rc;
    int cleared = (int)pg_changes(r);
    PQclear(r);
    return cleared;
}

/* ---- records ---- */

static int im_records_add(struct store *s, const char *import_id, const struct import_record *rec,
                          size_t n, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH v AS (SELECT * FROM unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS v (number, "
        "record, i)), "
        "d AS (SELECT DISTINCT ON (number) number, record FROM v ORDER BY number, i DESC) "
        "INSERT INTO import_records (import_id, number, record, created_at) "
        "SELECT $1::text, number, record, $4::bigint FROM d ORDER BY number "
        "ON CONFLICT (import_id, number) DO UPDATE SET record = excluded.record WHERE "
        "import_records.delivered_batch IS NULL";
    if (n == 0)
        return 0;
    num_text *nums = xcalloc(n, sizeof *nums);
    const char **numbers = xcalloc(n, sizeof *numbers), **data = xcalloc(n, sizeof *data);
    struct texts t = {0};
    for (size_t i = 0; i < n; i++) {
        numbers[i] = num(nums[i], rec[i].number);
        data[i] = valid(&t, rec[i].record);
    }
    char *arr[2] = {pg_array(numbers, n), pg_array(data, n)};
    struct pg_args a = {0};
    pa_text(&a, import_id);
    pa_text(&a, arr[0]);
    pa_text(&a, arr[1]);
    pa_i64(&a, now);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "keep an import's records");
    free(arr[0]);
    free(arr[1]);
    texts_free(&t);
    free(data);
    free(numbers);
    free(nums);
    return rc;
}

static int im_records_list(struct store *s, const char *import_id, int64_t after, bool undelivered,
                           size_t limit, struct import_record **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char all[] = "SELECT number, record, delivered_batch, created_at FROM "
                              "import_records WHERE import_id = $1 AND number > $2 ORDER BY "
                              "number LIMIT $3";
    static const char due[] = "SELECT number, record, delivered_batch, created_at FROM "
                              "import_records WHERE import_id = $1 AND delivered_batch IS NULL "
                              "AND number > $2 ORDER BY number LIMIT $3";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    pa_i64(&a, after);
    pa_i64(&a, limit ? (int64_t)limit : 500);
    PGresult *r;
    int rc = pg_run(pg_reader(p), undelivered ? due : all, &a, &r, e, "list an import's records");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct import_record *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].number = pg_i64(r, i, 0);
        v[i].record = pg_dup(r, i, 1);
        v[i].delivered_batch = pg_null(r, i, 2) ? -1 : pg_i64(r, i, 2);
        v[i].created_at = pg_i64(r, i, 3);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int im_records_deliver(struct store *s, const char *import_id, int64_t first, int64_t last,
                              int64_t batch, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE import_records SET delivered_batch = $4 WHERE import_id = "
                              "$1 AND delivered_batch IS NULL AND number BETWEEN $2 AND $3";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    pa_i64(&a, first);
    pa_i64(&a, last);
    pa_i64(&a, batch);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "mark an import's records delivered");
    if (rc)
        return rc;
    int marked = (int)pg_changes(r);
    PQclear(r);
    return marked;
}

static int im_records_count(struct store *s, const char *import_id,
                            struct import_record_counts *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT count(*), count(delivered_batch), "
                              "coalesce(max(delivered_batch), -1) FROM import_records WHERE "
                              "import_id = $1";
    struct pg_args a = {0};
    pa_text(&a, import_id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "count an import's records");
    pg_reader_done(p);
    if (rc)
        return rc;
    *out = (struct import_record_counts){pg_i64(r, 0, 0), pg_i64(r, 0, 1), pg_i64(r, 0, 2)};
    PQclear(r);
    return 0;
}

/* ---- the metrics' figures ---- */

static int im_stats(struct store *s, const char *workspace, struct import_stats *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT import_type, status, count(*), sum(total_products), sum(processed_products), "
        "sum(failed_products), sum(delivered_products) FROM data_import_jobs WHERE $1::text IS "
        "NULL OR workspace = $1 GROUP BY import_type, status";
    struct pg_args a = {0};
    pa_text(&a, workspace);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "count imports by type and status");
    pg_reader_done(p);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        import_stats_add(out, pg_null(r, i, 0) ? NULL : PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
                         pg_i64(r, i, 2), pg_i64(r, i, 3), pg_i64(r, i, 4), pg_i64(r, i, 5),
                         pg_i64(r, i, 6));
    PQclear(r);
    return 0;
}

const struct store_import_ops pg_import_ops = {
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
