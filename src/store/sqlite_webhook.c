/* The SQLite store's webhooks domain (migration 0009): a row per delivery, made or taken again at
 * each attempt's start and given the answer at its end (on the writer, in the caller's
 * transaction); the list reads on the reader under its lock. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WH_BEGIN, WH_END, WH_LIST, WH_GET, WH_COUNT_ };

_Static_assert(WH_COUNT_ <= 4, "struct sq has room for the statements");

static int wh_begin(struct store *s, const struct webhook_call *c, int64_t now, int64_t *id,
                    struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO webhook_calls (job_id, job_type, webhook_url, delivery_id, "
                          "request_sha256, request_bytes, request_body, created_at) VALUES (?1, "
                          "?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (job_id, delivery_id) DO "
                          "UPDATE SET status = 'pending', retry_count = retry_count + 1, "
                          "next_retry_at = NULL, webhook_url = excluded.webhook_url RETURNING id",
                          &q->wh[WH_BEGIN], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->wh[WH_BEGIN];
    sqlite3_bind_text(st, 1, c->job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, c->job_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, c->delivery_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, c->request_sha256, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, c->request_bytes);
    if (c->request_body)
        sqlite3_bind_blob(st, 7, c->request_body, (int)c->request_body_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, now);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        step = sqlite3_step(st);
    }
    rc = step == SQLITE_DONE ? 0 : sq_err(q->w, step, e, "record a webhook call");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static int wh_end(struct store *s, const struct webhook_call *c, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE webhook_calls SET status = ?2, response_status = ?3, "
                          "response_body = ?4, response_time_ms = ?5, next_retry_at = ?6, "
                          "error_message = ?7, completed_at = ?8 WHERE id = ?1",
                          &q->wh[WH_END], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->wh[WH_END];
    bool ended = c->status == WEBHOOK_SUCCESS || c->status == WEBHOOK_FAILED;
    sqlite3_bind_int64(st, 1, c->id);
    sqlite3_bind_text(st, 2, webhook_call_status_name(c->status), -1, SQLITE_STATIC);
    if (c->response_status > 0)
        sqlite3_bind_int(st, 3, c->response_status);
    else
        sqlite3_bind_null(st, 3);
    if (c->response_body) {
        size_t n = strlen(c->response_body);
        sqlite3_bind_text(st, 4, c->response_body,
                          (int)(n > WEBHOOK_RESPONSE_KEEP_MAX ? WEBHOOK_RESPONSE_KEEP_MAX : n),
                          SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st, 4);
    }
    sqlite3_bind_int64(st, 5, c->response_time_ms);
    if (c->next_retry_at > 0)
        sqlite3_bind_int64(st, 6, c->next_retry_at);
    else
        sqlite3_bind_null(st, 6);
    sq_bind_text(st, 7, c->error);
    if (ended)
        sqlite3_bind_int64(st, 8, now);
    else
        sqlite3_bind_null(st, 8);
    rc = sq_step_done(q, st, e, "record a webhook call's answer");
    sqlite3_clear_bindings(st);
    if (!rc && sqlite3_changes(q->w) == 0)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "no webhook call %lld", (long long)c->id);
    return rc;
}

static void call_fn(sqlite3_stmt *st, void *out)
{
    struct webhook_call *c = out;
    memset(c, 0, sizeof *c); /* the rows' memory is not zeroed, and the body is not read */
    c->id = sqlite3_column_int64(st, 0);
    c->job_id = sq_col_dup(st, 1);
    c->job_type = sq_col_dup(st, 2);
    c->url = sq_col_dup(st, 3);
    c->delivery_id = sq_col_dup(st, 4);
    const unsigned char *h = sqlite3_column_text(st, 5);
    snprintf(c->request_sha256, sizeof c->request_sha256, "%s", h ? (const char *)h : "");
    c->request_bytes = sqlite3_column_int64(st, 6);
    c->response_status = sqlite3_column_int(st, 7);
    c->response_body = sq_col_dup(st, 8);
    c->response_time_ms = sqlite3_column_int64(st, 9);
    int status = webhook_call_status_parse((const char *)sqlite3_column_text(st, 10));
    c->status = status < 0 ? WEBHOOK_PENDING : (enum webhook_call_status)status;
    c->retry_count = sqlite3_column_int(st, 11);
    c->next_retry_at = sqlite3_column_int64(st, 12);
    c->created_at = sqlite3_column_int64(st, 13);
    c->completed_at = sqlite3_column_int64(st, 14);
    c->error = sq_col_dup(st, 15);
}

static int wh_list(struct store *s, const char *job_id, int status, int64_t after_id, size_t limit,
                   struct webhook_call **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT id, job_id, job_type, webhook_url, delivery_id, request_sha256, "
                          "request_bytes, response_status, response_body, response_time_ms, "
                          "status, retry_count, next_retry_at, created_at, completed_at, "
                          "error_message FROM webhook_calls WHERE job_id = ?1 AND (?2 IS NULL OR "
                          "status = ?2) AND id > ?3 ORDER BY id LIMIT ?4",
                          &q->wh[WH_LIST], e);
    if (!rc) {
        sqlite3_stmt *st = q->wh[WH_LIST];
        sqlite3_bind_text(st, 1, job_id, -1, SQLITE_STATIC);
        if (status >= 0)
            sqlite3_bind_text(st, 2, webhook_call_status_name((enum webhook_call_status)status), -1,
                              SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, after_id);
        sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit : 100);
        void *rows;
        rc = sq_collect_rows(q->r, st, sizeof **out, call_fn, &rows, n, e, "list webhook calls");
        *out = rows;
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int wh_get(struct store *s, int64_t id, struct webhook_call *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT id, job_id, job_type, webhook_url, delivery_id, request_sha256, "
                          "request_bytes, response_status, response_body, response_time_ms, "
                          "status, retry_count, next_retry_at, created_at, completed_at, "
                          "error_message, request_body FROM webhook_calls WHERE id = ?1",
                          &q->wh[WH_GET], e);
    if (!rc) {
        sqlite3_stmt *st = q->wh[WH_GET];
        sqlite3_bind_int64(st, 1, id);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW) {
            call_fn(st, out);
            int n = sqlite3_column_bytes(st, 16);
            const void *b = sqlite3_column_blob(st, 16);
            if (b && n > 0) {
                out->request_body = xmalloc((size_t)n);
                memcpy(out->request_body, b, (size_t)n);
                out->request_body_len = (size_t)n;
            }
        } else if (step == SQLITE_DONE) {
            rc = err_set(e, TRAWL_ENOTFOUND, false, "no webhook call %lld", (long long)id);
        } else {
            rc = sq_err(q->r, step, e, "read a webhook call");
        }
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

const struct store_webhook_ops sq_webhooks = {
    .version = STORE_WEBHOOK_VERSION,
    .begin = wh_begin,
    .end = wh_end,
    .list = wh_list,
    .get = wh_get,
};
