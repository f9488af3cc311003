/* The PostgreSQL store's webhooks domain: a row per delivery, made or taken again at each
 * attempt's start and given the answer at its end (on the writer, in the caller's transaction);
 * the list reads on the reader. */
#include "store/pg_int.h"

#include "base/utf8.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One upsert on the delivery's key: two nodes that start an attempt of the same delivery at once
 * (a job taken again after its lease was lost) make one row, the second waiting for the first's
 * commit and then counting one retry more. */
static int wh_begin(struct store *s, const struct webhook_call *c, int64_t now, int64_t *id,
                    struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "INSERT INTO webhook_calls AS w (job_id, job_type, webhook_url, delivery_id, "
        "request_sha256, request_bytes, request_body, created_at) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8) ON CONFLICT (job_id, delivery_id) DO UPDATE SET status = 'pending', retry_count "
        "= w.retry_count + 1, next_retry_at = NULL, webhook_url = excluded.webhook_url RETURNING "
        "id";
    struct pg_args a = {0};
    pa_text(&a, c->job_id);
    pa_text(&a, c->job_type);
    pa_text(&a, c->url);
    pa_text(&a, c->delivery_id);
    pa_text(&a, c->request_sha256);
    pa_i64(&a, c->request_bytes);
    pa_bytes(&a, c->request_body, c->request_body_len);
    pa_i64(&a, now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "record a webhook call");
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        *id = pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* What PostgreSQL's text takes of s, at most max bytes (0: no cap): a receiver's answer may be
 * any bytes, which SQLite keeps as they are but a UTF8 database refuses, so a malformed sequence
 * becomes U+FFFD and a cut falls between characters. A new string, or NULL for NULL. */
static char *valid_text(const char *s, size_t max)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *t = utf8_valid(s, n) ? xstrdup(s) : utf8_sanitize(s, n, &n);
    if (max && n > max) {
        n = max;
        while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80)
            n--; /* t[n] continues a character: cut before the character */
        t[n] = 0;
    }
    return t;
}

/* One UPDATE of the row by its id: an answer recorded by another node meanwhile is simply the
 * earlier one, as on SQLite. */
static int wh_end(struct store *s, const struct webhook_call *c, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE webhook_calls SET status = $2, response_status = $3, "
                              "response_body = $4, response_time_ms = $5, next_retry_at = $6, "
                              "error_message = $7, completed_at = $8 WHERE id = $1";
    bool ended = c->status == WEBHOOK_SUCCESS || c->status == WEBHOOK_FAILED;
    char *body = valid_text(c->response_body, WEBHOOK_RESPONSE_KEEP_MAX);
    char *error = valid_text(c->error, 0);
    struct pg_args a = {0};
    pa_i64(&a, c->id);
    pa_text(&a, webhook_call_status_name(c->status));
    if (c->response_status > 0)
        pa_int(&a, c->response_status);
    else
        pa_text(&a, NULL);
    pa_text(&a, body);
    pa_i64(&a, c->response_time_ms);
    if (c->next_retry_at > 0)
        pa_i64(&a, c->next_retry_at);
    else
        pa_text(&a, NULL);
    pa_text(&a, error);
    if (ended)
        pa_i64(&a, now);
    else
        pa_text(&a, NULL);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "record a webhook call's answer");
    free(body);
    free(error);
    if (rc)
        return rc;
    if (pg_changes(r) == 0)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "no webhook call %lld", (long long)c->id);
    PQclear(r);
    return rc;
}

/* Row i of r (the columns of COLS) into c, which is zeroed. */
static void call_of(const PGresult *r, int i, struct webhook_call *c)
{
    c->id = pg_i64(r, i, 0);
    c->job_id = pg_dup(r, i, 1);
    c->job_type = pg_dup(r, i, 2);
    c->url = pg_dup(r, i, 3);
    c->delivery_id = pg_dup(r, i, 4);
    snprintf(c->request_sha256, sizeof c->request_sha256, "%s", PQgetvalue(r, i, 5));
    c->request_bytes = pg_i64(r, i, 6);
    c->response_status = pg_int(r, i, 7);
    c->response_body = pg_dup(r, i, 8);
    c->response_time_ms = pg_i64(r, i, 9);
    int st = webhook_call_status_parse(PQgetvalue(r, i, 10));
    c->status = st < 0 ? WEBHOOK_PENDING : (enum webhook_call_status)st;
    c->retry_count = pg_int(r, i, 11);
    c->next_retry_at = pg_i64(r, i, 12);
    c->created_at = pg_i64(r, i, 13);
    c->completed_at = pg_i64(r, i, 14);
    c->error = pg_dup(r, i, 15);
}

#define COLS                                                                                       \
    "id, job_id, job_type, webhook_url, delivery_id, request_sha256, request_bytes, "              \
    "response_status, response_body, response_time_ms, status, retry_count, next_retry_at, "       \
    "created_at, completed_at, error_message"

static int wh_list(struct store *s, const char *job_id, int status, int64_t after_id, size_t limit,
                   struct webhook_call **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " COLS " FROM webhook_calls WHERE job_id = $1 AND "
                              "($2::text IS NULL OR status = $2) AND id > $3 ORDER BY id LIMIT $4";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, job_id);
    pa_text(&a, status >= 0 ? webhook_call_status_name((enum webhook_call_status)status) : NULL);
    pa_i64(&a, after_id);
    pa_i64(&a, limit ? (int64_t)limit : 100);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list webhook calls");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct webhook_call *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        call_of(r, i, &v[i]); /* zeroed, and the body is not read */
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int wh_get(struct store *s, int64_t id, struct webhook_call *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " COLS ", request_body FROM webhook_calls WHERE id = $1";
    memset(out, 0, sizeof *out);
    struct pg_args a = {0};
    pa_i64(&a, id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "read a webhook call");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        call_of(r, 0, out);
        out->request_body = pg_bytes(r, 0, 16, &out->request_body_len);
    } else {
        rc = err_set(e, TRAWL_ENOTFOUND, false, "no webhook call %lld", (long long)id);
    }
    PQclear(r);
    return rc;
}

const struct store_webhook_ops pg_webhook_ops = {
    .version = STORE_WEBHOOK_VERSION,
    .begin = wh_begin,
    .end = wh_end,
    .list = wh_list,
    .get = wh_get,
};
