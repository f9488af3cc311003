/* Records streamed out of the store as they are read, JSON Lines, JSON or CSV: a scraping
 * session's and an import's (api_export in api_int.h). */
#include "api/api_int.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/import.h"
#include "store/scrape.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS_PER_READ 200

enum export_format { EX_JSONL, EX_JSON, EX_CSV };

struct export
{
    struct store *store;
    enum export_source src;
    char id[UUID_STR_LEN];
    enum export_format fmt;
    char **cols;
    size_t ncols;
    int64_t after; /* the last record sent: its id (a session's) or number (an import's) */
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

/* One record into x->out; number >= 0 is an import record's, written as its first member. */
static void export_one(struct export *x, const char *data, int64_t number)
{
    if (x->fmt == EX_CSV) {
        json_t *rec = json_loads(data, 0, NULL);
        if (rec && number >= 0)
            json_object_set_new(rec, "number", json_integer(number));
        for (size_t c = 0; c < x->ncols; c++) {
            if (c)
                buf_add(&x->out, ",", 1);
            csv_value(&x->out, json_object_get(rec, x->cols[c]));
        }
        buf_adds(&x->out, "\r\n");
        json_decref(rec);
        x->count++;
        return;
    }
    if (x->fmt == EX_JSON)
        buf_adds(&x->out, x->count ? ",\n" : "\n");
    if (number >= 0 && data[0] == '{') {
        char num[40];
        snprintf(num, sizeof num, "{\"number\":%lld%s", (long long)number,
                 data[1] == '}' ? "" : ",");
        buf_adds(&x->out, num);
        buf_adds(&x->out, data + 1);
    } else {
        buf_adds(&x->out, data);
    }
    if (x->fmt == EX_JSONL)
        buf_add(&x->out, "\n", 1);
    x->count++;
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
    size_t n;
    struct err e;
    int rc;
    if (x->src == EXPORT_SESSION) {
        struct record_row *rows;
        rc = store_records_list(x->store, x->id, x->after, RECORDS_PER_READ, &rows, &n, &e);
        for (size_t i = 0; rc >= 0 && i < n; i++) {
            x->after = rows[i].id;
            export_one(x, rows[i].data, -1);
        }
        if (rc >= 0)
            record_row_array_free(rows, n);
    } else {
        struct import_record *recs;
        rc = store_import_records_list(x->store, x->id, x->after, false, RECORDS_PER_READ, &recs,
                                       &n, &e);
        for (size_t i = 0; rc >= 0 && i < n; i++) {
            x->after = recs[i].number;
            export_one(x, recs[i].record, recs[i].number);
        }
        if (rc >= 0)
            import_record_array_free(recs, n);
    }
    if (rc < 0) {
        log_warn("export of %s %s stopped after %" PRIu64 " records: %s",
                 x->src == EXPORT_SESSION ? "session" : "import", x->id, x->count, e.msg);
        return false;
    }
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

bool api_export_format(struct req *r, int *fmt)
{
    const char *f = api_query(r, "format");
    if (!f || !strcmp(f, "jsonl"))
        *fmt = EX_JSONL;
    else if (!strcmp(f, "json"))
        *fmt = EX_JSON;
    else if (!strcmp(f, "csv"))
        *fmt = EX_CSV;
    else {
        api_reply_error(r, 400, "format must be jsonl, json or csv, not \"%s\"", f);
        return false;
    }
    return true;
}

enum MHD_Result api_export(struct req *r, enum export_source src, const char *id, int fmt,
                           const char *const *cols, size_t ncols)
{
    struct export *x = xcalloc(1, sizeof *x);
    x->store = engine_store(r->api->deps.eng);
    x->src = src;
    snprintf(x->id, sizeof x->id, "%s", id);
    x->fmt = (enum export_format)fmt;
    buf_init(&x->out, 0);
    if (fmt == EX_CSV) {
        x->cols = xcalloc(ncols + 1, sizeof *x->cols);
        for (size_t i = 0; i < ncols; i++)
            x->cols[x->ncols++] = xstrdup(cols[i]);
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s-%s.%s\"",
             src == EXPORT_SESSION ? "records" : "import", id,
             fmt == EX_CSV    ? "csv"
             : fmt == EX_JSON ? "json"
                              : "jsonl");
    return api_reply_stream(r,
                            fmt == EX_CSV    ? "text/csv; charset=utf-8"
                            : fmt == EX_JSON ? "application/json"
                                             : "application/x-ndjson",
                            disp, export_read, x, export_free);
}
