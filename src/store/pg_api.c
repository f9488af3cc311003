/* The PostgreSQL store's tables beside jobs that the HTTP API needs: batches (whose counts the
 * schema's triggers keep in step with the jobs), API tokens, and the results of crawl jobs.
 * Reads run on the reader; writes on the writer, inside the committer's transaction, each one
 * statement so that several nodes writing at once cannot split a check from its write. */
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ---- */

#define BATCH_COLS                                                                                 \
    "id, workspace, created_at, updated_at, total, pending, processing, retrying, completed, "     \
    "failed, cancelled, waiting, blocked"

/* The BATCH_COLS columns from column c of row into b. */
static void row_to_batch(const PGresult *r, int row, int c, struct batch_info *b)
{
    memset(b, 0, sizeof *b);
    b->id = pg_dup(r, row, c);
    b->workspace = pg_dup(r, row, c + 1);
    b->created_at = pg_i64(r, row, c + 2);
    b->updated_at = pg_i64(r, row, c + 3);
    b->total = pg_i64(r, row, c + 4);
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        b->counts[s] = pg_i64(r, row, c + 5 + s);
}

static int pg_batch_jobs(struct store *s, const struct batch_filter *f, bool writer,
                         struct job **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " PG_JOB_COLS " FROM jobs WHERE batch_id = $1 AND "
                              "workspace = $2 AND ($3::text IS NULL OR status = $3::text) ORDER "
                              "BY id LIMIT $4 OFFSET $5";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, f->batch_id);
    pa_text(&a, f->workspace);
    pa_text(&a, f->status >= 0 ? job_status_name(f->status) : NULL);
    pa_i64(&a, f->limit ? (int64_t)f->limit : 100);
    pa_i64(&a, (int64_t)f->offset);
    struct pg_conn *c = writer ? &p->w : pg_reader(p);
    PGresult *r;
    int rc = pg_run(c, sql, &a, &r, e, "list batch jobs");
    if (!writer)
        pg_reader_done(p);
    if (rc)
        return rc;
    rc = pg_collect_jobs(r, out, n);
    PQclear(r);
    return rc;
}

static int pg_batch_get(struct store *s, const char *workspace, const char *id,
                        struct batch_info *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " BATCH_COLS " FROM batches WHERE workspace = $1 AND id = $2";
    struct pg_args a = {0};
    pa_text(&a, workspace);
    pa_text(&a, id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "get batch");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        row_to_batch(r, 0, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "batch %s not found", id);
    PQclear(r);
    return rc;
}

/* The count and the page in one statement, so both see the same batches: one row with the
 * count and NULLs when the page is empty. */
static int pg_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                         struct batch_info **out, size_t *n, int64_t *total, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT t.n, b.* FROM (SELECT count(*) AS n FROM batches WHERE workspace = $1) t LEFT "
        "JOIN LATERAL (SELECT " BATCH_COLS " FROM batches WHERE workspace = $1 ORDER BY "
        "created_at DESC, id LIMIT $2 OFFSET $3) b ON true ORDER BY b.created_at DESC, b.id";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, workspace);
    pa_i64(&a, limit ? (int64_t)limit : 20);
    pa_i64(&a, (int64_t)offset);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list batches");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    *total = rows ? pg_i64(r, 0, 0) : 0;
    if (rows == 1 && pg_null(r, 0, 1))
        rows = 0;
    struct batch_info *list = rows ? xcalloc((size_t)rows, sizeof *list) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_batch(r, i, 1, &list[i]);
    PQclear(r);
    *out = list;
    *n = (size_t)rows;
    return rows;
}

/* ---- API tokens ---- */

#define TOKEN_COLS "id, workspace, name, hash, created_at, revoked_at"

static void row_to_token(const PGresult *r, int row, struct api_token *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->id, sizeof t->id, "%s", PQgetvalue(r, row, 0));
    t->workspace = pg_dup(r, row, 1);
    t->name = pg_dup(r, row, 2);
    size_t len;
    void *h = pg_bytes(r, row, 3, &len);
    if (h && len == TOKEN_HASH_LEN)
        memcpy(t->hash, h, TOKEN_HASH_LEN);
    free(h);
    t->created_at = pg_i64(r, row, 4);
    t->revoked_at = pg_i64(r, row, 5);
}

static int pg_token_add(struct store *s, const struct api_token *t, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "INSERT INTO api_tokens (id, workspace, name, hash, created_at) "
                              "VALUES ($1, $2, $3, $4::bytea, $5)";
    struct pg_args a = {0};
    pa_text(&a, t->id);
    pa_text(&a, t->workspace);
    pa_text(&a, t->name);
    pa_bytes(&a, t->hash, TOKEN_HASH_LEN);
    pa_i64(&a, t->created_at);
    return pg_run(&p->w, sql, &a, NULL, e, "add token");
}

static int pg_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                         struct api_token *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = $1::bytea AND "
                              "revoked_at IS NULL";
    struct pg_args a = {0};
    pa_bytes(&a, hash, TOKEN_HASH_LEN);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "look up token");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        row_to_token(r, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "no such token");
    PQclear(r);
    return rc;
}

static int pg_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id";
    *out = NULL;
    *n = 0;
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, NULL, &r, e, "list tokens");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct api_token *list = rows ? xcalloc((size_t)rows, sizeof *list) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_token(r, i, &list[i]);
    PQclear(r);
    *out = list;
    *n = (size_t)rows;
    return rows;
}

/* The lookup by prefix and the revocation are one statement: the UPDATE revokes only when the
 * prefix matched one token and that token is still live, checked again on the row as it is
 * after any other node's revocation committed (which then matches nothing: "already revoked"). */
static int pg_token_revoke(struct store *s, const char *id, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    size_t len = strlen(id);
    if (len < 8 || len > 36)
        return err_set(e, TRAWL_EINVAL, false,
                       "token id '%s': give at least its first 8 characters", id);
    static const char sql[] =
        "WITH m AS (SELECT id, revoked_at FROM api_tokens WHERE left(id, $2::int) = $1::text "
        "LIMIT 2), "
        "u AS (UPDATE api_tokens t SET revoked_at = $3 FROM m WHERE t.id = m.id AND t.revoked_at "
        "IS NULL AND (SELECT count(*) FROM m) = 1 RETURNING t.id) "
        "SELECT m.id, (SELECT count(*) FROM u) FROM m";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_i64(&a, (int64_t)len);
    pa_i64(&a, now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "revoke token");
    if (rc)
        return rc;
    int matches = PQntuples(r);
    if (matches == 0)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "no token with id %s", id);
    else if (matches > 1)
        rc = err_set(e, TRAWL_EINVAL, false, "token id %s is ambiguous: give more of it", id);
    else if (pg_i64(r, 0, 1) == 0)
        rc = err_set(e, TRAWL_ESTATE, false, "token %s is already revoked", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

/* ---- crawl results ---- */

/* Fenced: the job row is locked FOR SHARE while its lease is checked, so no other node can end
 * or take over the attempt until this transaction ends; a fence that does not hold writes
 * nothing and raises no error (which would abort the commit group the save shares). */
static int pg_crawl_save(struct store *s, const struct crawl_result *cr, int attempt,
                         const char *owner, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH j AS (SELECT id FROM jobs WHERE id = $1::text AND status = 'processing' AND "
        "attempt = $13::int AND lease_owner = $14::text FOR SHARE) "
        "INSERT INTO crawl_results (job_id, url, final_url, http_status, content_type, headers, "
        "body, body_length, body_expired, redirects, fetched_at, processing_time_ms, method) "
        "SELECT $1::text, $2::text, $3::text, $4::int, $5::text, $6::text, $7::bytea, "
        "$8::bigint, 0, $9::int, $10::bigint, $11::bigint, $12::text FROM j "
        "ON CONFLICT (job_id) DO UPDATE SET url = excluded.url, final_url = excluded.final_url, "
        "http_status = excluded.http_status, content_type = excluded.content_type, headers = "
        "excluded.headers, body = excluded.body, body_length = excluded.body_length, "
        "body_expired = 0, redirects = excluded.redirects, fetched_at = excluded.fetched_at, "
        "processing_time_ms = excluded.processing_time_ms, method = excluded.method";
    struct pg_args a = {0};
    pa_text(&a, cr->job_id);
    pa_text(&a, cr->url ? cr->url : "");
    pa_text(&a, cr->final_url);
    pa_int(&a, cr->http_status);
    pa_text(&a, cr->content_type);
    pa_text(&a, cr->headers);
    pa_bytes(&a, cr->body_z, cr->body_z_len);
    pa_i64(&a, cr->body_length);
    pa_int(&a, cr->redirects);
    pa_i64(&a, cr->fetched_at);
    pa_i64(&a, cr->processing_time_ms);
    pa_text(&a, cr->method ? cr->method : "http");
    pa_int(&a, attempt);
    pa_text(&a, owner);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "save crawl result");
    if (rc)
        return rc;
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return err_set(e, TRAWL_ESTALE, false, "job %s: lease lost; its page is not saved",
                       cr->job_id);
    return 0;
}

static int pg_crawl_get(struct store *s, const char *job_id, bool with_body,
                        struct crawl_result *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT job_id, url, final_url, http_status, content_type, headers, "
                              "CASE WHEN $2::bool THEN body END, body_length, body_expired, "
                              "redirects, fetched_at, processing_time_ms, method FROM "
                              "crawl_results WHERE job_id = $1";
    memset(out, 0, sizeof *out);
    struct pg_args a = {0};
    pa_text(&a, job_id);
    pa_bool(&a, with_body);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "get crawl result");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return err_set(e, TRAWL_ENOTFOUND, false, "job %s has no crawl result", job_id);
    }
    snprintf(out->job_id, sizeof out->job_id, "%s", job_id);
    out->url = pg_dup(r, 0, 1);
    out->final_url = pg_dup(r, 0, 2);
    out->http_status = pg_int(r, 0, 3);
    out->content_type = pg_dup(r, 0, 4);
    out->headers = pg_dup(r, 0, 5);
    size_t blen;
    void *b = pg_bytes(r, 0, 6, &blen);
    if (b && blen > 0) {
        out->body_z = b;
        out->body_z_len = blen;
    } else {
        free(b); /* an empty body is none, as on SQLite */
    }
    out->body_length = pg_i64(r, 0, 7);
    out->body_expired = pg_int(r, 0, 8) != 0;
    out->redirects = pg_int(r, 0, 9);
    out->fetched_at = pg_i64(r, 0, 10);
    out->processing_time_ms = pg_i64(r, 0, 11);
    out->method = pg_dup(r, 0, 12);
    PQclear(r);
    return 0;
}

/* The rows are chosen and locked by a MATERIALIZED CTE with FOR UPDATE SKIP LOCKED: a row
 * another node is writing (a new save, another expiry) is left for the next run, and a row saved
 * anew since the statement began is checked again on its new version, so a fresh body is never
 * dropped. */
static int pg_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH c AS MATERIALIZED (SELECT job_id FROM crawl_results WHERE body IS NOT NULL AND "
        "fetched_at < $1 ORDER BY fetched_at LIMIT $2 FOR UPDATE SKIP LOCKED) "
        "UPDATE crawl_results r SET body = NULL, body_expired = 1 FROM c WHERE r.job_id = c.job_id";
    struct pg_args a = {0};
    pa_i64(&a, before);
    pa_i64(&a, (int64_t)(limit ? limit : 1000));
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "expire crawl bodies");
    if (rc)
        return rc;
    int64_t n = pg_changes(r);
    PQclear(r);
    return (int)n;
}

const struct store_batch_ops pg_batch_ops = {
    .version = STORE_BATCH_VERSION,
    .jobs = pg_batch_jobs,
    .get = pg_batch_get,
    .list = pg_batch_list,
};

const struct store_token_ops pg_token_ops = {
    .version = STORE_TOKEN_VERSION,
    .add = pg_token_add,
    .find = pg_token_find,
    .list = pg_token_list,
    .revoke = pg_token_revoke,
};

const struct store_crawl_ops pg_crawl_ops = {
    .version = STORE_CRAWL_VERSION,
    .save = pg_crawl_save,
    .get = pg_crawl_get,
    .expire = pg_crawl_expire,
};
