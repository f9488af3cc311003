/* The SQLite store's tables beside jobs: batches (whose counts triggers keep in step with the
 * jobs, see migration 0003), API tokens, and the results of crawl jobs. Reads run on the reader
 * connection under its lock; writes on the writer, inside the committer's transaction. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- batches ---- */

#define BATCH_COLS                                                                                 \
    "id, workspace, created_at, updated_at, total, pending, processing, retrying, completed, "     \
    "failed, cancelled, waiting, blocked"

static void row_to_batch(sqlite3_stmt *st, struct batch_info *b)
{
    memset(b, 0, sizeof *b);
    b->id = sq_col_dup(st, 0);
    b->workspace = sq_col_dup(st, 1);
    b->created_at = sqlite3_column_int64(st, 2);
    b->updated_at = sqlite3_column_int64(st, 3);
    b->total = sqlite3_column_int64(st, 4);
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        b->counts[s] = sqlite3_column_int64(st, 5 + s);
}

int sq_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                  size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    static const char sql[] =
        "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_batch WHERE batch_id = ?1 AND "
        "workspace = ?2 AND (?3 IS NULL OR status = ?3) ORDER BY batch_id, id LIMIT ?4 OFFSET ?5";
    sqlite3 *db = writer ? q->w : q->r;
    sqlite3_stmt **slot = writer ? &q->batch_jobs_w : &q->batch_jobs_r;
    *out = NULL;
    *n = 0;
    if (!writer)
        pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(db, sql, slot, e);
    if (rc)
        goto out;
    sqlite3_stmt *st = *slot;
    sqlite3_bind_text(st, 1, f->batch_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, f->workspace, -1, SQLITE_STATIC);
    if (f->status >= 0)
        sqlite3_bind_text(st, 3, job_status_name(f->status), -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int64(st, 4, f->limit ? (sqlite3_int64)f->limit : 100);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->offset);
    size_t cap = 0, cnt = 0;
    struct job *jobs = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            jobs = xrealloc(jobs, cap * sizeof *jobs);
        }
        sq_row_to_job(st, 0, &jobs[cnt++]);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (step != SQLITE_DONE) {
        job_array_free(jobs, cnt);
        rc = sq_err(db, step, e, "list batch jobs");
        goto out;
    }
    *out = jobs;
    *n = cnt;
    rc = (int)cnt;
out:
    if (!writer)
        pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                 struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc =
        sq_prep_once(q->r, "SELECT " BATCH_COLS " FROM batches WHERE workspace = ?1 AND id = ?2",
                     &q->batch_get, e);
    if (!rc) {
        sqlite3_stmt *st = q->batch_get;
        sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_to_batch(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "batch %s not found", id);
        else
            rc = sq_err(q->r, step, e, "get batch");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                  struct batch_info **out, size_t *n, int64_t *total, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " BATCH_COLS " FROM batches WHERE workspace = ?1 ORDER BY "
                          "workspace, created_at DESC, id LIMIT ?2 OFFSET ?3",
                          &q->batch_list, e);
    if (!rc)
        rc = sq_prep_once(q->r, "SELECT count(*) FROM batches WHERE workspace = ?1",
                          &q->batch_count, e);
    if (rc)
        goto out;
    sqlite3_stmt *st = q->batch_count;
    sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *total = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (step != SQLITE_ROW) {
        rc = sq_err(q->r, step, e, "count batches");
        goto out;
    }
    st = q->batch_list;
    sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : 20);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)offset);
    size_t cap = 0, cnt = 0;
    struct batch_info *list = NULL;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            list = xrealloc(list, cap * sizeof *list);
        }
        row_to_batch(st, &list[cnt++]);
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) {
        batch_info_array_free(list, cnt);
        rc = sq_err(q->r, step, e, "list batches");
        goto out;
    }
    *out = list;
    *n = cnt;
    rc = (int)cnt;
out:
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* ---- API tokens ---- */

#define TOKEN_COLS "id, workspace, name, hash, created_at, revoked_at"

static void row_to_token(sqlite3_stmt *st, struct api_token *t)
{
    memset(t, 0, sizeof *t);
    const unsigned char *id = sqlite3_column_text(st, 0);
    snprintf(t->id, sizeof t->id, "%s", id ? (const char *)id : "");
    t->workspace = sq_col_dup(st, 1);
    t->name = sq_col_dup(st, 2);
    const void *h = sqlite3_column_blob(st, 3);
    if (h && sqlite3_column_bytes(st, 3) == TOKEN_HASH_LEN)
        memcpy(t->hash, h, TOKEN_HASH_LEN);
    t->created_at = sqlite3_column_int64(st, 4);
    t->revoked_at = sqlite3_column_int64(st, 5);
}

int sq_token_add(struct store *s, const struct api_token *t, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO api_tokens (id, workspace, name, hash, created_at) VALUES "
                          "(?1, ?2, ?3, ?4, ?5)",
                          &q->token_add, e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->token_add;
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, t->workspace, -1, SQLITE_STATIC);
    sq_bind_text(st, 3, t->name);
    sqlite3_bind_blob(st, 4, t->hash, TOKEN_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, t->created_at);
    rc = sq_step_done(q, st, e, "add token");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN], struct api_token *out,
                  struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " TOKEN_COLS " FROM api_tokens WHERE hash = ?1 AND revoked_at "
                          "IS NULL",
                          &q->token_find, e);
    if (!rc) {
        sqlite3_stmt *st = q->token_find;
        sqlite3_bind_blob(st, 1, hash, TOKEN_HASH_LEN, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_to_token(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "no such token");
        else
            rc = sq_err(q->r, step, e, "look up token");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc =
        sq_prep_once(q->r, "SELECT " TOKEN_COLS " FROM api_tokens ORDER BY id", &q->token_list, e);
    if (!rc) {
        sqlite3_stmt *st = q->token_list;
        size_t cap = 0, cnt = 0;
        struct api_token *list = NULL;
        int step;
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            if (cnt == cap) {
                cap = cap ? cap * 2 : 8;
                list = xrealloc(list, cap * sizeof *list);
            }
            row_to_token(st, &list[cnt++]);
        }
        sqlite3_reset(st);
        if (step != SQLITE_DONE) {
            api_token_array_free(list, cnt);
            rc = sq_err(q->r, step, e, "list tokens");
        } else {
            *out = list;
            *n = cnt;
            rc = (int)cnt;
        }
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_token_revoke(struct store *s, const char *id, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    size_t len = strlen(id);
    if (len < 8 || len > 36)
        return err_set(e, TRAWL_EINVAL, false,
                       "token id '%s': give at least its first 8 characters", id);
    int rc = sq_prep_once(q->w,
                          "SELECT id, revoked_at FROM api_tokens WHERE substr(id, 1, ?2) = ?1 "
                          "LIMIT 2",
                          &q->token_revoke, e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->token_revoke;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)len);
    char found[UUID_STR_LEN] = "";
    int matches = 0, step;
    bool revoked = false;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (matches++ == 0) {
            snprintf(found, sizeof found, "%s", (const char *)sqlite3_column_text(st, 0));
            revoked = sqlite3_column_type(st, 1) != SQLITE_NULL;
        }
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return sq_err(q->w, step, e, "find token");
    if (matches == 0)
        return err_set(e, TRAWL_ENOTFOUND, false, "no token with id %s", id);
    if (matches > 1)
        return err_set(e, TRAWL_EINVAL, false, "token id %s is ambiguous: give more of it", id);
    if (revoked)
        return err_set(e, TRAWL_ESTATE, false, "token %s is already revoked", found);
    sqlite3_stmt *up = NULL;
    rc = sq_prep(q->w, "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1", &up, e);
    if (!rc) {
        sqlite3_bind_text(up, 1, found, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, now);
        step = sqlite3_step(up);
        if (step != SQLITE_DONE)
            rc = sq_err(q->w, step, e, "revoke token");
    }
    sqlite3_finalize(up);
    return rc;
}

/* ---- crawl results ---- */

int sq_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                  struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(
        q->w,
        "INSERT INTO crawl_results (job_id, url, final_url, http_status, content_type, headers, "
        "body, body_length, body_expired, redirects, fetched_at, processing_time_ms, method) "
        "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9, ?10, ?11, ?12 WHERE EXISTS (SELECT 1 FROM "
        "jobs WHERE id = ?1 AND status = 'processing' AND attempt = ?13 AND lease_owner = ?14) "
        "ON CONFLICT (job_id) DO "
        "UPDATE SET url = excluded.url, final_url = excluded.final_url, http_status = "
        "excluded.http_status, content_type = excluded.content_type, headers = excluded.headers, "
        "body = excluded.body, body_length = excluded.body_length, body_expired = 0, redirects = "
        "excluded.redirects, fetched_at = excluded.fetched_at, processing_time_ms = "
        "excluded.processing_time_ms, method = excluded.method",
        &q->crawl_save, e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->crawl_save;
    sqlite3_bind_text(st, 1, r->job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->url ? r->url : "", -1, SQLITE_STATIC);
    sq_bind_text(st, 3, r->final_url);
    sqlite3_bind_int(st, 4, r->http_status);
    sq_bind_text(st, 5, r->content_type);
    sq_bind_text(st, 6, r->headers);
    if (r->body_z)
        sqlite3_bind_blob64(st, 7, r->body_z, r->body_z_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, r->body_length);
    sqlite3_bind_int(st, 9, r->redirects);
    sqlite3_bind_int64(st, 10, r->fetched_at);
    sqlite3_bind_int64(st, 11, r->processing_time_ms);
    sqlite3_bind_text(st, 12, r->method ? r->method : "http", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 13, attempt);
    sq_bind_text(st, 14, owner);
    rc = sq_step_done(q, st, e, "save crawl result");
    sqlite3_clear_bindings(st);
    if (!rc && sqlite3_changes(q->w) == 0)
        rc =
            err_set(e, TRAWL_ESTALE, false, "job %s: lease lost; its page is not saved", r->job_id);
    return rc;
}

int sq_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                 struct err *e)
{
    struct sq *q = (struct sq *)s;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT job_id, url, final_url, http_status, content_type, headers, "
                          "CASE WHEN ?2 THEN body END, body_length, body_expired, redirects, "
                          "fetched_at, processing_time_ms, method FROM crawl_results WHERE "
                          "job_id = ?1",
                          &q->crawl_get, e);
    if (!rc) {
        sqlite3_stmt *st = q->crawl_get;
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, with_body);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            snprintf(out->job_id, sizeof out->job_id, "%s", job_id);
            out->url = sq_col_dup(st, 1);
            out->final_url = sq_col_dup(st, 2);
            out->http_status = sqlite3_column_int(st, 3);
            out->content_type = sq_col_dup(st, 4);
            out->headers = sq_col_dup(st, 5);
            const void *b = sqlite3_column_blob(st, 6);
            int blen = sqlite3_column_bytes(st, 6);
            if (b && blen > 0) {
                out->body_z = xmalloc((size_t)blen);
                memcpy(out->body_z, b, (size_t)blen);
                out->body_z_len = (size_t)blen;
            }
            out->body_length = sqlite3_column_int64(st, 7);
            out->body_expired = sqlite3_column_int(st, 8) != 0;
            out->redirects = sqlite3_column_int(st, 9);
            out->fetched_at = sqlite3_column_int64(st, 10);
            out->processing_time_ms = sqlite3_column_int64(st, 11);
            out->method = sq_col_dup(st, 12);
        } else if (step == SQLITE_DONE) {
            rc = err_set(e, TRAWL_ENOTFOUND, false, "job %s has no crawl result", job_id);
        } else {
            rc = sq_err(q->r, step, e, "get crawl result");
        }
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE crawl_results SET body = NULL, body_expired = 1 WHERE rowid IN "
                          "(SELECT rowid FROM crawl_results INDEXED BY crawl_results_expiry WHERE "
                          "body IS NOT NULL AND fetched_at < ?1 LIMIT ?2)",
                          &q->crawl_expire, e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->crawl_expire;
    sqlite3_bind_int64(st, 1, before);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit ? limit : 1000));
    rc = sq_step_done(q, st, e, "expire crawl bodies");
    return rc ? rc : sqlite3_changes(q->w);
}
