/* A scraping session's records over HTTP: exported as they are read from the store (JSON Lines,
 * JSON or CSV, streamed), and the changes its last sync found. */
#include "api/api_int.h"
#include "store/webhook.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "store/scrape.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS_PER_READ 200

/* ---- records, streamed ---- */

enum export_format { EX_JSONL, EX_JSON, EX_CSV };

/* The CSV columns: the record fields every session may have, then the user's own rule fields. */
static const char *const csv_columns_[] = {"url",          "name",       "sku",         "brand",
                                           "material",     "color",      "price",       "currency",
                                           "availability", "category",   "images",      "gtin",
                                           "mpn",          "dimensions", "description", "sources"};

struct export
{
    struct store *store;
    char sid[UUID_STR_LEN];
    enum export_format fmt;
    char **cols;
    size_t ncols;
    int64_t after; /* the last record id sent */
    struct buf out;
    size_t off;
    bool begun, ended;
    uint64_t count;
};

static void export_free(void *cls)
{
    struct export *x = cls;
    for (size_t i = 0; i < x->ncols; i++)
        free(x->cols[i]);
    free(x->cols);
    buf_release(&x->out);
    free(x);
}

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
static void csv_field(struct buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        buf_adds(b, s);
        return;
    }
    buf_add(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            buf_add(b, "\"", 1);
        buf_add(b, p, 1);
    }
    buf_add(b, "\"", 1);
}

/* Text from a scraped page as a CSV field. A spreadsheet takes a cell that starts with = + - @
 * (or a tab or carriage return before one) as a formula, which a hostile page could plant: such
 * a cell gets a leading ' (OWASP's advice), which spreadsheets show as text. */
static void csv_text(struct buf *b, const char *s)
{
    if (s[0] && strchr("=+-@\t\r", s[0])) {
        struct buf t;
        buf_init(&t, 0);
        buf_add(&t, "'", 1);
        buf_adds(&t, s);
        csv_field(b, t.data);
        buf_release(&t);
        return;
    }
    csv_field(b, s);
}

/* A value as a CSV cell: strings as they are (csv_text), arrays of strings joined with " | ",
 * anything else as compact JSON. */
static void csv_value(struct buf *b, json_t *v)
{
    if (!v || json_is_null(v))
        return;
    if (json_is_string(v)) {
        csv_text(b, json_string_value(v));
        return;
    }
    char *s = NULL;
    if (json_is_array(v)) {
        bool strings = true;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) strings = strings && json_is_string(x);
        if (strings) {
            struct buf j;
            buf_init(&j, 0);
            json_array_foreach(v, i, x)
            {
                if (i)
                    buf_adds(&j, " | ");
                buf_adds(&j, json_string_value(x));
            }
            buf_add(&j, "", 1);
            csv_text(b, j.data);
            buf_release(&j);
            return;
        }
    }
    s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (s)
        csv_field(b, s);
    free(s);
}

/* The next records into x->out; false on a store error. */
static bool export_fill(struct export *x)
{
    buf_clear(&x->out);
    x->off = 0;
    if (!x->begun) {
        x->begun = true;
        if (x->fmt == EX_JSON)
            buf_adds(&x->out, "[");
        if (x->fmt == EX_CSV) {
            for (size_t i = 0; i < x->ncols; i++) {
                if (i)
                    buf_add(&x->out, ",", 1);
                csv_field(&x->out, x->cols[i]);
            }
            buf_adds(&x->out, "\r\n");
        }
    }
    struct record_row *rows;
    size_t n;
    struct err e;
    if (store_records_list(x->store, x->sid, x->after, RECORDS_PER_READ, &rows, &n, &e) < 0) {
        log_warn("export of session %s stopped after %" PRIu64 " records: %s", x->sid, x->count,
                 e.msg);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        x->after = rows[i].id;
        if (x->fmt == EX_JSONL) {
            buf_adds(&x->out, rows[i].data);
            buf_add(&x->out, "\n", 1);
        } else if (x->fmt == EX_JSON) {
            buf_adds(&x->out, x->count ? ",\n" : "\n");
            buf_adds(&x->out, rows[i].data);
        } else {
            json_t *rec = json_loads(rows[i].data, 0, NULL);
            for (size_t c = 0; c < x->ncols; c++) {
                if (c)
                    buf_add(&x->out, ",", 1);
                csv_value(&x->out, json_object_get(rec, x->cols[c]));
            }
            buf_adds(&x->out, "\r\n");
            json_decref(rec);
        }
        x->count++;
    }
    record_row_array_free(rows, n);
    if (n < RECORDS_PER_READ) {
        x->ended = true;
        if (x->fmt == EX_JSON)
            buf_adds(&x->out, "\n]\n");
    }
    return true;
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct export *x = cls;
    while (x->off == x->out.len) {
        if (x->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        if (!export_fill(x))
            return MHD_CONTENT_READER_END_WITH_ERROR; /* the client sees a cut answer */
    }
    size_t n = x->out.len - x->off;
    if (n > max)
        n = max;
    memcpy(buf, x->out.data + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

enum MHD_Result api_sessions_records(struct req *r)
{
    const char *f = api_query(r, "format");
    enum export_format fmt;
    if (!f || !strcmp(f, "jsonl"))
        fmt = EX_JSONL;
    else if (!strcmp(f, "json"))
        fmt = EX_JSON;
    else if (!strcmp(f, "csv"))
        fmt = EX_CSV;
    else
        return api_reply_error(r, 400, "format must be jsonl, json or csv, not \"%s\"", f);
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    struct export *x = xcalloc(1, sizeof *x);
    x->store = engine_store(r->api->deps.eng);
    memcpy(x->sid, ss.id, UUID_STR_LEN);
    x->fmt = fmt;
    buf_init(&x->out, 0);
    if (fmt == EX_CSV) {
        size_t nstd = sizeof csv_columns_ / sizeof csv_columns_[0];
        json_t *cfg = json_loads(ss.config, 0, NULL);
        json_t *rules = json_object_get(json_object_get(cfg, "extract"), "rules");
        x->cols = xcalloc(nstd + json_object_size(rules) + 1, sizeof *x->cols);
        for (size_t i = 0; i < nstd; i++)
            x->cols[x->ncols++] = xstrdup(csv_columns_[i]);
        const char *k;
        json_t *v;
        json_object_foreach(rules, k, v)
        {
            bool known = false;
            for (size_t i = 0; i < nstd && !known; i++)
                known = strcmp(k, csv_columns_[i]) == 0;
            if (!known)
                x->cols[x->ncols++] = xstrdup(k);
        }
        json_decref(cfg);
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"records-%s.%s\"", ss.id,
             fmt == EX_CSV    ? "csv"
             : fmt == EX_JSON ? "json"
                              : "jsonl");
    scrape_session_release(&ss);
    return api_reply_stream(r,
                            fmt == EX_CSV    ? "text/csv; charset=utf-8"
                            : fmt == EX_JSON ? "application/json"
                                             : "application/x-ndjson",
                            disp, export_read, x, export_free);
}

/* ---- the changes the last sync found ---- */

enum MHD_Result api_sessions_changes(struct req *r)
{
    int64_t limit;
    if (!api_query_int(r, "limit", 1, 1000, 100, &limit))
        return MHD_YES;
    const char *want = api_query(r, "change");
    if (want && strcmp(want, "new") && strcmp(want, "changed") && strcmp(want, "unchanged") &&
        strcmp(want, "removed"))
        return api_reply_error(r, 400,
                               "unknown change \"%s\" (expected new, changed, unchanged or "
                               "removed)",
                               want);
    const char *cursor = api_query(r, "cursor");
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    struct store *s = engine_store(r->api->deps.eng);
    struct err e;
    err_clear(&e);
    json_t *arr = json_array();
    char next[600] = "";
    int rc = 0;
    bool removed = want && strcmp(want, "removed") == 0;
    if (!removed) {
        /* the session's records with their marks, in id order; the cursor is a record id */
        int64_t after = cursor ? strtoll(cursor, NULL, 10) : 0;
        while (json_array_size(arr) < (size_t)limit) {
            struct record_row *rows;
            size_t n;
            rc = store_records_list(s, ss.id, after, RECORDS_PER_READ, &rows, &n, &e);
            if (rc < 0)
                break;
            for (size_t i = 0; i < n && json_array_size(arr) < (size_t)limit; i++) {
                after = rows[i].id;
                if (!rows[i].change || (want && strcmp(rows[i].change, want) != 0))
                    continue;
                json_t *o = json_pack("{s:s, s:s}", "key", rows[i].key, "change", rows[i].change);
                json_t *v;
                if (rows[i].changed_fields && (v = json_loads(rows[i].changed_fields, 0, NULL)))
                    json_object_set_new(o, "fields", v);
                if ((v = json_loads(rows[i].data, 0, NULL)))
                    json_object_set_new(o, "data", v);
                json_array_append_new(arr, o);
            }
            bool full = json_array_size(arr) >= (size_t)limit;
            record_row_array_free(rows, n);
            if (full) {
                snprintf(next, sizeof next, "%lld", (long long)after);
                break;
            }
            if (n < RECORDS_PER_READ)
                break;
        }
    } else {
        struct record_row *rows;
        size_t n;
        rc = store_removed_list(s, ss.id, cursor, (size_t)limit, &rows, &n, &e);
        for (size_t i = 0; rc >= 0 && i < n; i++) {
            json_t *o = json_pack("{s:s, s:s}", "key", rows[i].key, "change", "removed");
            json_t *v;
            if ((v = json_loads(rows[i].data, 0, NULL)))
                json_object_set_new(o, "data", v);
            json_array_append_new(arr, o);
        }
        if (rc >= 0 && n == (size_t)limit)
            snprintf(next, sizeof next, "%s", rows[n - 1].key);
        record_row_array_free(rows, n);
    }
    scrape_session_release(&ss);
    if (rc < 0) {
        json_decref(arr);
        return api_reply_err(r, &e);
    }
    json_t *body = api_ok();
    json_object_set_new(body, "changes", arr);
    json_object_set_new(body, "nextCursor", next[0] ? json_string(next) : json_null());
    return api_reply(r, 200, body);
}

/* ---- the webhook calls of its sync ---- */

static json_t *call_json(const struct webhook_call *c)
{
    /* a receiver's answer is bytes: what is not UTF-8 is shown replaced, not dropped */
    char *answer = c->response_body && !utf8_valid(c->response_body, strlen(c->response_body))
                       ? utf8_sanitize(c->response_body, strlen(c->response_body), NULL)
                       : NULL;
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:I, s:s*, s:s*, s:o, s:o}", "id",
        (json_int_t)c->id, "job_id", c->job_id, "delivery_id", c->delivery_id, "webhook_url",
        c->url, "status", webhook_call_status_name(c->status), "request_bytes",
        (json_int_t)c->request_bytes, "request_sha256", c->request_sha256, "retry_count",
        c->retry_count, "response_time_ms", (json_int_t)c->response_time_ms, "response_body",
        answer ? answer : c->response_body, "error_message", c->error, "created_at",
        api_time(c->created_at), "completed_at", api_time(c->completed_at));
    free(answer);
    if (!o) /* jansson refused a string: say at least which call and how it stands */
        return json_pack("{s:I, s:s}", "id", (json_int_t)c->id, "status",
                         webhook_call_status_name(c->status));
    json_object_set_new(o, "response_status",
                        c->response_status ? json_integer(c->response_status) : json_null());
    json_object_set_new(o, "next_retry_at", api_time(c->next_retry_at));
    return o;
}

enum MHD_Result api_sessions_webhook_calls(struct req *r)
{
    int64_t limit;
    if (!api_query_int(r, "limit", 1, 1000, 100, &limit))
        return MHD_YES;
    const char *want = api_query(r, "status");
    int status = want ? webhook_call_status_parse(want) : -1;
    if (want && status < 0)
        return api_reply_error(r, 400,
                               "unknown status \"%s\" (expected pending, success, retrying or "
                               "failed)",
                               want);
    const char *cursor = api_query(r, "cursor");
    char *end = NULL;
    int64_t after = cursor ? strtoll(cursor, &end, 10) : 0;
    if (cursor && (!*cursor || *end || after < 0))
        return api_reply_error(r, 400, "cursor must be a call id, as nextCursor gives");
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    struct webhook_call *calls = NULL;
    size_t n = 0;
    struct err e;
    err_clear(&e);
    int rc = 0;
    if (ss.sync_job_id[0])
        rc = store_webhook_list(engine_store(r->api->deps.eng), ss.sync_job_id, status, after,
                                (size_t)limit, &calls, &n, &e);
    scrape_session_release(&ss);
    if (rc < 0) {
        webhook_call_array_free(calls, n);
        return api_reply_err(r, &e);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, call_json(&calls[i]));
    json_t *body = api_ok();
    json_object_set_new(body, "webhook_calls", arr);
    char next[32];
    snprintf(next, sizeof next, "%lld", n ? (long long)calls[n - 1].id : 0LL);
    json_object_set_new(body, "nextCursor", n == (size_t)limit ? json_string(next) : json_null());
    webhook_call_array_free(calls, n);
    return api_reply(r, 200, body);
}
