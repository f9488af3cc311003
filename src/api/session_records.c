/* A scraping session's records over HTTP: exported as they are read from the store (export.c),
 * and the changes its last sync found. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "store/scrape.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECORDS_PER_READ 200

/* ---- records, streamed ---- */

/* The CSV columns: the record fields every session may have, then the user's own rule fields. */
static const char *const csv_columns_[] = {"url",          "name",       "sku",         "brand",
                                           "material",     "color",      "price",       "currency",
                                           "availability", "category",   "images",      "gtin",
                                           "mpn",          "dimensions", "description", "sources"};

enum MHD_Result api_sessions_records(struct req *r)
{
    int fmt;
    if (!api_export_format(r, &fmt))
        return MHD_YES;
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    size_t nstd = sizeof csv_columns_ / sizeof csv_columns_[0];
    json_t *cfg = json_loads(ss.config, 0, NULL);
    json_t *rules = json_object_get(json_object_get(cfg, "extract"), "rules");
    const char **cols = xcalloc(nstd + json_object_size(rules) + 1, sizeof *cols);
    size_t ncols = 0;
    for (size_t i = 0; i < nstd; i++)
        cols[ncols++] = csv_columns_[i];
    const char *k;
    json_t *v;
    json_object_foreach(rules, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < nstd && !known; i++)
            known = strcmp(k, csv_columns_[i]) == 0;
        if (!known)
            cols[ncols++] = k;
    }
    enum MHD_Result ret = api_export(r, EXPORT_SESSION, ss.id, fmt, cols, ncols);
    free(cols);
    json_decref(cfg);
    scrape_session_release(&ss);
    return ret;
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
