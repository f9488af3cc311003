/* Feed imports over HTTP (store/import.h, handlers/import.h): create one from an uploaded feed
 * (upload.c) or a URL, with its xml_import job and its row in one transaction; see them, their
 * detected fields, their bad rows, their records and their webhook calls; start a preview with
 * the confirmed mappings; run the failed part again; cancel one. */
#include "api/api_int.h"

#include "base/uuid.h"
#include "base/xalloc.h"
#include "engine/spec_json.h"
#include "fetch/url.h"
#include "parse/feed_map.h"
#include "store/import.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMPORT_TYPE    "xml_import" /* handlers/import.h's; the API does not include handlers */
#define SOURCE_MAX     256
#define SECRET_MAX     256
#define BATCH_SIZE_MAX 10000
#define ITEMS_MAX      1000

/* ---- an import as the API shows it ---- */

/* The import's status as the user sees it: its own, unless its job ended without saying so (a
 * job that failed for good before the handler could write it, or was cancelled). */
static const char *shown_status(const struct import *im, const struct job *j)
{
    if (j && !(IMPORT_ENDED & IMPORT_MASK(im->status)) && im->status != IMPORT_AWAITING_MAPPINGS) {
        if (j->status == JOB_FAILED)
            return "failed";
        if (j->status == JOB_CANCELLED)
            return "cancelled";
    }
    return import_status_name(im->status);
}

static json_t *maybe_json(const char *text)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_null();
}

static json_t *import_json(const struct import *im, const struct job *j)
{
    const char *error = im->error_message;
    if (!error && j && (j->status == JOB_FAILED || j->status == JOB_RETRYING))
        error = j->error;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:s?, s:o, s:o, s:o}", "id",
        im->id, "background_job_id", im->job_id, "source_name", im->source_name, "source_url",
        im->source_url, "import_type", import_type_name(im->type), "mode",
        import_mode_name(im->mode), "status", shown_status(im, j), "total_products",
        (json_int_t)im->total_products, "processed_products", (json_int_t)im->processed_products,
        "failed_products", (json_int_t)im->failed_products, "delivered_products",
        (json_int_t)im->delivered_products, "field_mappings", maybe_json(im->field_mappings),
        "error_message", error, "created_at", api_time(im->created_at), "updated_at",
        api_time(im->updated_at), "completed_at", api_time(im->completed_at));
    if (!o) /* jansson refused a string: say at least which import and how it stands */
        return json_pack("{s:s, s:s}", "id", im->id, "status", shown_status(im, j));
    json_object_set_new(o, "webhook",
                        im->webhook_url
                            ? json_pack("{s:s, s:b, s:i}", "url", im->webhook_url, "signed",
                                        im->has_secret, "batch_size", im->batch_size)
                            : json_null());
    if (j)
        json_object_set_new(o, "job",
                            json_pack("{s:s, s:s?, s:i, s:i, s:i, s:s?, s:o, s:o}", "status",
                                      job_status_name(j->status), "stage", j->stage, "progress",
                                      j->progress, "attempt", j->attempt, "max_attempts",
                                      j->max_attempts, "error", j->error, "started_at",
                                      api_time(j->started_at), "progress_at",
                                      api_time(j->progress_at)));
    else
        json_object_set_new(o, "job", json_null());
    return o;
}

/* Import id of the caller's workspace. On failure the reply has been sent and false is
 * returned. */
static bool own_import_id(struct req *r, const char *id, struct import *im)
{
    struct err e;
    err_clear(&e);
    if (!uuid_valid(id)) {
        api_reply_error(r, 404, "import %s not found", id);
        return false;
    }
    int rc = store_import_get(engine_store(r->api->deps.eng), r->workspace, id, false, im, &e);
    if (rc == TRAWL_ENOTFOUND) {
        api_reply_error(r, 404, "import %s not found", id);
        return false;
    }
    if (rc) {
        api_reply_err(r, &e);
        return false;
    }
    return true;
}

static bool own_import(struct req *r, struct import *im)
{
    return own_import_id(r, r->params[0], im);
}

/* Import id as shown (again, after a change), with extra's members, as the answer. */
static enum MHD_Result reply_import(struct req *r, const char *id, unsigned status, json_t *extra)
{
    struct import im;
    if (!own_import_id(r, id, &im)) {
        json_decref(extra);
        return MHD_YES;
    }
    struct job j;
    struct err e;
    bool have = engine_get(r->api->deps.eng, im.job_id, &j, &e) == 0;
    json_t *body = api_ok();
    json_object_set_new(body, "import", import_json(&im, have ? &j : NULL));
    if (extra)
        json_object_update(body, extra);
    json_decref(extra);
    if (have)
        job_release(&j);
    import_release(&im);
    return api_reply(r, status, body);
}

/* ---- the options of a new import ---- */

static char *dup_n(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *out = xmalloc(len + 1);
    memcpy(out, s, len);
    out[len] = 0;
    return out;
}

struct create_opts {
    const char *url, *source_name, *webhook_url, *secret;
    char *norm_url, *norm_webhook, *mappings, *name;
    int type, mode;
    int64_t batch_size;
};

static void create_opts_release(struct create_opts *c)
{
    free(c->norm_url);
    free(c->norm_webhook);
    free(c->mappings);
    free(c->name);
}

/* An uploaded feed's options, from the form's fields or else the query's parameters, in the
 * shape of the JSON body's. On a bad one a 400 is sent and NULL returned. */
static json_t *upload_options(struct req *r)
{
    static const char *const names[] = {"source_name",    "import_type", "mode",
                                        "field_mappings", "webhook_url", "webhook_secret",
                                        "batch_size"};
    const char *v[7];
    for (size_t i = 0; i < 7; i++) {
        v[i] = upload_field(r->upload, names[i]);
        if (!v[i])
            v[i] = api_query(r, names[i]);
    }
    json_t *o = json_object();
    for (size_t i = 0; i < 3; i++)
        if (v[i] && json_object_set_new(o, names[i], json_string(v[i])) != 0) {
            json_decref(o);
            api_reply_error(r, 400, "%s is not UTF-8", names[i]);
            return NULL;
        }
    if (v[3]) {
        json_error_t je;
        json_t *m = json_loads(v[3], JSON_REJECT_DUPLICATES, &je);
        if (!m) {
            json_decref(o);
            api_reply_error(r, 400, "field_mappings is not JSON: %s (column %d)", je.text,
                            je.column);
            return NULL;
        }
        json_object_set_new(o, "field_mappings", m);
    }
    if (v[4] || v[5] || v[6]) {
        json_t *wh = json_object();
        if (v[4])
            json_object_set_new(wh, "url", json_string(v[4]));
        if (v[5])
            json_object_set_new(wh, "secret", json_string(v[5]));
        if (v[6]) {
            char *end;
            errno = 0;
            long long bs = strtoll(v[6], &end, 10);
            if (!*v[6] || *end || errno) {
                json_decref(wh);
                json_decref(o);
                api_reply_error(r, 400, "batch_size must be a number, not \"%s\"", v[6]);
                return NULL;
            }
            json_object_set_new(wh, "batch_size", json_integer(bs));
        }
        json_object_set_new(o, "webhook", wh);
    }
    return o;
}

/* The webhook's settings: {"url", "secret", "batch_size"}. */
static bool read_webhook(struct req *r, json_t *wh, struct create_opts *c)
{
    if (!json_is_object(wh)) {
        api_reply_error(r, 400, "webhook must be an object: {\"url\", \"secret\", \"batch_size\"}");
        return false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(wh, k, v)
    {
        if (strcmp(k, "url") && strcmp(k, "secret") && strcmp(k, "batch_size")) {
            api_reply_error(
                r, 400, "unknown setting \"webhook.%s\" (expected url, secret or batch_size)", k);
            return false;
        }
    }
    if (!api_get_str(r, wh, "url", 8192, &c->webhook_url) ||
        !api_get_str(r, wh, "secret", SECRET_MAX, &c->secret) ||
        !api_get_int(r, wh, "batch_size", 1, BATCH_SIZE_MAX, &c->batch_size))
        return false;
    if (!c->webhook_url) {
        api_reply_error(r, 400, "webhook.url is required: where the products are POSTed");
        return false;
    }
    if (c->secret && !c->secret[0]) {
        api_reply_error(r, 400, "webhook.secret must not be empty (leave it out to not sign)");
        return false;
    }
    struct err e;
    if (url_normalize(c->webhook_url, &c->norm_webhook, &e) != 0) {
        api_reply_error(r, 400, "webhook.url: %s", e.msg);
        return false;
    }
    return true;
}

/* The mappings in m (an object) as checked JSON text into *out. */
static bool read_mappings(struct req *r, json_t *m, bool need_usable, char **out)
{
    if (!json_is_object(m)) {
        api_reply_error(r, 400,
                        "field_mappings must be an object: {\"name\": \"title\", \"price\": "
                        "\"g:price\", ...}");
        return false;
    }
    char *text = json_dumps(m, JSON_COMPACT);
    struct feed_map *map;
    struct err e;
    if (!text || feed_map_parse(text, &map, &e) != 0) {
        api_reply_error(r, 400, "field_mappings: %s", text ? e.msg : "cannot be read");
        free(text);
        return false;
    }
    bool usable = feed_map_usable(map);
    feed_map_free(map);
    if (need_usable && !usable) {
        api_reply_error(r, 400,
                        "field_mappings must map the product's name or sku: without one no row "
                        "is a product");
        free(text);
        return false;
    }
    *out = text;
    return true;
}

/* A name for a feed fetched from url: its last path segment, or its host. */
static char *name_of_url(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "?#");
    const char *last = p;
    for (size_t i = 0; i < end; i++)
        if (p[i] == '/' && i + 1 < end)
            last = p + i + 1;
    size_t n = (size_t)(p + end - last);
    if (n && last[n - 1] == '/')
        n--;
    if (n > SOURCE_MAX)
        n = SOURCE_MAX;
    return n ? dup_n(last, n) : xstrdup("feed");
}

static bool read_options(struct req *r, json_t *o, bool upload, struct create_opts *c)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        if (strcmp(k, "url") && strcmp(k, "source_name") && strcmp(k, "import_type") &&
            strcmp(k, "mode") && strcmp(k, "field_mappings") && strcmp(k, "webhook")) {
            api_reply_error(r, 400,
                            "unknown setting \"%s\" (expected url, source_name, import_type, "
                            "mode, field_mappings or webhook)",
                            k);
            return false;
        }
    }
    const char *type = NULL, *mode = NULL;
    if (!api_get_str(r, o, "url", 8192, &c->url) ||
        !api_get_str(r, o, "source_name", 4096, &c->source_name) ||
        !api_get_str(r, o, "import_type", 16, &type) || !api_get_str(r, o, "mode", 16, &mode))
        return false;
    if (upload && c->url) {
        api_reply_error(r, 400, "give the feed as an upload or as a url, not both");
        return false;
    }
    if (!upload && !c->url) {
        api_reply_error(r, 400,
                        "url is required: the feed to fetch (or upload the feed itself: "
                        "multipart/form-data with a file, or the raw body)");
        return false;
    }
    struct err e;
    if (c->url) {
        if (url_normalize(c->url, &c->norm_url, &e) != 0) {
            api_reply_error(r, 400, "url: %s", e.msg);
            return false;
        }
    }
    if (c->source_name && (!c->source_name[0] || strlen(c->source_name) > SOURCE_MAX)) {
        api_reply_error(r, 400, "source_name must be 1 to %d bytes", SOURCE_MAX);
        return false;
    }
    if (!c->source_name) {
        const char *fn = upload ? upload_filename(r->upload) : NULL;
        c->name = c->norm_url ? name_of_url(c->norm_url)
                  : fn        ? dup_n(fn, SOURCE_MAX)
                              : xstrdup("upload");
        c->source_name = c->name;
    }
    c->type = import_type_parse(type);
    if (c->type < 0) {
        api_reply_error(r, 400, "import_type must be xml, csv or json (or absent: detected)");
        return false;
    }
    c->mode = mode ? import_mode_parse(mode) : IMPORT_AUTO;
    if (c->mode < 0) {
        api_reply_error(r, 400,
                        "mode must be \"auto\" (the suggested mappings are used) or \"preview\" "
                        "(the import waits for POST /v1/imports/{id}/start)");
        return false;
    }
    json_t *m = json_object_get(o, "field_mappings");
    if (m && !json_is_null(m) && !read_mappings(r, m, true, &c->mappings))
        return false;
    json_t *wh = json_object_get(o, "webhook");
    if (wh && !json_is_null(wh) && !read_webhook(r, wh, c))
        return false;
    return true;
}

/* ---- create ---- */

struct add_args {
    struct import im;
    const struct enqueue_result *res;
};

/* In the transaction that enqueued the job: the import row that it runs. */
static int add_after(struct store *s, void *arg, struct err *e)
{
    struct add_args *a = arg;
    memcpy(a->im.job_id, a->res->id, UUID_STR_LEN);
    return store_import_add(s, &a->im, e);
}

enum MHD_Result api_imports_create(struct req *r)
{
    struct api *a = r->api;
    if (!a->deps.import_dir || !a->deps.feed_path)
        return api_reply_error(r, 503, "imports are not available on this server");
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    bool upload = r->upload != NULL;
    const char *why;
    unsigned st = upload ? upload_error(r->upload, &why) : 0;
    if (st)
        return api_reply_error(r, st, "%s", why);
    json_t *opts;
    if (upload) {
        if (!(opts = upload_options(r)))
            return MHD_YES;
    } else {
        if (r->body.len && !api_is_json_type(ct))
            return api_reply_error(r, 415, "send the feed's url as JSON, or upload the feed");
        if (!api_parse_body(r))
            return MHD_YES;
        opts = r->json ? json_incref(r->json) : json_object();
    }
    struct create_opts c = {.batch_size = IMPORT_BATCH_SIZE_DEFAULT};
    /* c's strings borrow from opts until the import is added */
    if (!read_options(r, opts, upload, &c)) {
        json_decref(opts);
        create_opts_release(&c);
        return MHD_YES;
    }
    struct engine *eng = a->deps.eng;
    int64_t now = engine_now(eng);
    struct add_args aa = {.im = {.workspace = (char *)r->workspace,
                                 .source_name = (char *)c.source_name,
                                 .source_url = c.norm_url,
                                 .type = c.type,
                                 .mode = c.mode,
                                 .status = IMPORT_PENDING,
                                 .field_mappings = c.mappings,
                                 .webhook_url = c.norm_webhook,
                                 .webhook_secret = (char *)c.secret,
                                 .batch_size = (int)c.batch_size,
                                 .created_at = now}};
    uuid_v7(aa.im.id, now);
    char path[4096];
    struct err e;
    err_clear(&e);
    if (a->deps.feed_path(a->deps.import_dir, aa.im.id, path, sizeof path) != 0) {
        json_decref(opts);
        create_opts_release(&c);
        return api_reply_error(r, 500, "the import folder's path is too long");
    }
    if (upload && upload_keep(r->upload, path, &e) != 0) {
        json_decref(opts);
        create_opts_release(&c);
        return api_reply_err(r, &e);
    }
    char args[96];
    snprintf(args, sizeof args, "{\"import_id\":\"%s\"}", aa.im.id);
    struct job_spec spec = {.type = IMPORT_TYPE, .args = args, .workspace = r->workspace};
    struct enqueue_result res;
    aa.res = &res;
    int rc = engine_enqueue_with(eng, &spec, &res, add_after, &aa, &e);
    json_decref(opts);
    create_opts_release(&c);
    if (rc) {
        if (upload)
            unlink(path); /* nothing refers to it */
        return api_reply_err(r, &e);
    }
    json_t *extra = NULL;
    if (upload)
        extra = json_pack("{s:I}", "uploaded_bytes", (json_int_t)upload_size(r->upload));
    return reply_import(r, aa.im.id, 201, extra);
}

/* ---- read ---- */

enum MHD_Result api_imports_get(struct req *r)
{
    return reply_import(r, r->params[0], 200, NULL);
}

enum MHD_Result api_imports_list(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 20, &limit, &offset))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct import *list;
    size_t n;
    int64_t total = 0;
    struct err e;
    err_clear(&e);
    int rc = store_import_list(engine_store(eng), r->workspace, (size_t)limit, (size_t)offset,
                               &list, &n, &total, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct job j;
        bool have = engine_get(eng, list[i].job_id, &j, &e) == 0;
        json_array_append_new(arr, import_json(&list[i], have ? &j : NULL));
        if (have)
            job_release(&j);
    }
    import_array_free(list, n);
    return api_reply(r, 200,
                     json_pack("{s:b, s:o, s:I, s:I, s:I}", "success", 1, "imports", arr, "total",
                               (json_int_t)total, "limit", (json_int_t)limit, "offset",
                               (json_int_t)offset));
}

/* GET /v1/imports/{id}/fields: what detection found (null until it ran) and the mappings that
 * will be (or were) used. */
enum MHD_Result api_imports_fields(struct req *r)
{
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    json_t *body = api_ok();
    json_object_set_new(body, "import_id", json_string(im.id));
    json_object_set_new(body, "status", json_string(import_status_name(im.status)));
    json_object_set_new(body, "detected", maybe_json(im.detected_fields));
    json_object_set_new(body, "field_mappings", maybe_json(im.field_mappings));
    import_release(&im);
    return api_reply(r, 200, body);
}

enum MHD_Result api_imports_items(struct req *r)
{
    int64_t limit, after;
    if (!api_query_int(r, "limit", 1, ITEMS_MAX, 100, &limit) ||
        !api_query_int(r, "cursor", 0, INT64_MAX, 0, &after))
        return MHD_YES;
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    struct import_item *items;
    size_t n;
    struct err e;
    err_clear(&e);
    int rc = store_import_items_list(engine_store(r->api->deps.eng), im.id, after, (size_t)limit,
                                     &items, &n, &e);
    import_release(&im);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:o}", "number", (json_int_t)items[i].number, "error",
                              items[i].error, "created_at", api_time(items[i].created_at));
        if (!o)
            continue;
        json_object_set_new(o, "line", items[i].line ? json_integer(items[i].line) : json_null());
        json_t *raw = items[i].raw ? json_string(items[i].raw) : NULL;
        if (items[i].raw && !raw) /* bytes the feed's encoding did not account for */
            raw = json_string("(not UTF-8)");
        json_object_set_new(o, "raw", raw ? raw : json_null());
        json_array_append_new(arr, o);
    }
    json_t *body = api_ok();
    json_object_set_new(body, "items", arr);
    char next[32];
    snprintf(next, sizeof next, "%lld", n ? (long long)items[n - 1].number : 0LL);
    json_object_set_new(body, "nextCursor", n == (size_t)limit ? json_string(next) : json_null());
    import_item_array_free(items, n);
    return api_reply(r, 200, body);
}

/* The CSV columns of an import's records: the product record's fields. */
static const char *const record_columns_[] = {"number",   "name",     "sku",          "gtin",
                                              "brand",    "material", "color",        "dimensions",
                                              "price",    "currency", "availability", "images",
                                              "category", "url",      "description"};

enum MHD_Result api_imports_records(struct req *r)
{
    int fmt;
    if (!api_export_format(r, &fmt))
        return MHD_YES;
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    enum MHD_Result ret = api_export(r, EXPORT_IMPORT, im.id, fmt, record_columns_,
                                     sizeof record_columns_ / sizeof record_columns_[0]);
    import_release(&im);
    return ret;
}

enum MHD_Result api_imports_webhook_calls(struct req *r)
{
    struct api_call_query q;
    if (!api_webhook_query(r, &q))
        return MHD_YES;
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    /* an import's calls are recorded under its own id */
    enum MHD_Result ret = api_webhook_calls(r, &q, im.id);
    import_release(&im);
    return ret;
}

/* ---- start, retry, cancel ---- */

struct rerun_args {
    const char *id;
    struct import_update u;
    bool clear_items; /* its bad rows are read again */
    int64_t now;
    const struct enqueue_result *res;
};

/* In the transaction that enqueued the new job: the import points at it, if it still stands as
 * the caller saw it. */
static int rerun_after(struct store *s, void *arg, struct err *e)
{
    struct rerun_args *a = arg;
    a->u.job_id = a->res->id;
    int rc = store_import_update(s, a->id, &a->u, a->now, e);
    if (rc == 0 && a->clear_items)
        rc = store_import_items_clear(s, a->id, e) < 0 ? e->code : 0;
    return rc;
}

/* A new xml_import job for import id, with u written in its transaction. */
static int rerun(struct req *r, const char *id, struct import_update *u, bool clear_items,
                 struct err *e)
{
    char args[120];
    snprintf(args, sizeof args, "{\"import_id\":\"%s\",\"started\":true}", id);
    struct job_spec spec = {.type = IMPORT_TYPE, .args = args, .workspace = r->workspace};
    struct enqueue_result res;
    struct rerun_args a = {.id = id,
                           .u = *u,
                           .clear_items = clear_items,
                           .now = engine_now(r->api->deps.eng),
                           .res = &res};
    a.u.set |= IMPORT_SET_JOB;
    return engine_enqueue_with(r->api->deps.eng, &spec, &res, rerun_after, &a, e);
}

/* POST /v1/imports/{id}/start {"field_mappings"}: a preview's mappings confirmed (or those
 * suggested, when none are given), and the import goes on. */
enum MHD_Result api_imports_start(struct req *r)
{
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    char *mappings = NULL;
    json_t *m = r->json ? json_object_get(r->json, "field_mappings") : NULL;
    const char *k;
    json_t *v;
    json_object_foreach(r->json, k, v)
    {
        if (strcmp(k, "field_mappings") != 0) {
            import_release(&im);
            return api_reply_error(r, 400, "unknown setting \"%s\" (expected field_mappings)", k);
        }
    }
    if (im.status != IMPORT_AWAITING_MAPPINGS) {
        enum MHD_Result ret = api_reply_error(
            r, 409, "import %s is %s, not awaiting mappings (only a preview waits for them)", im.id,
            import_status_name(im.status));
        import_release(&im);
        return ret;
    }
    if (m && !json_is_null(m)) {
        if (!read_mappings(r, m, true, &mappings)) {
            import_release(&im);
            return MHD_YES;
        }
    } else if (!im.field_mappings) {
        json_t *det = maybe_json(im.detected_fields);
        json_t *sug = json_object_get(det, "suggested_mappings");
        bool ok = json_is_object(sug) && read_mappings(r, sug, true, &mappings);
        json_decref(det);
        if (!ok) {
            import_release(&im);
            if (json_is_object(sug))
                return MHD_YES;
            return api_reply_error(r, 400,
                                   "no mappings were suggested for this feed: give field_mappings");
        }
    }
    struct import_update u = {.set = IMPORT_SET_STATUS,
                              .if_status = IMPORT_MASK(IMPORT_AWAITING_MAPPINGS),
                              .status = IMPORT_PENDING,
                              .field_mappings = mappings};
    if (mappings)
        u.set |= IMPORT_SET_MAPPINGS;
    struct err e;
    err_clear(&e);
    int rc = rerun(r, im.id, &u, false, &e);
    free(mappings);
    import_release(&im);
    if (rc == TRAWL_ESTATE)
        return api_reply_error(r, 409, "the import was started or cancelled meanwhile");
    if (rc)
        return api_reply_err(r, &e);
    return reply_import(r, r->params[0], 202, NULL);
}

/* POST /v1/imports/{id}/retry-failed: an ended import runs again: its bad rows are read again
 * (they may be mapped now) and what was not delivered is delivered; what was is not sent again. */
enum MHD_Result api_imports_retry(struct req *r)
{
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    struct job j;
    struct err e;
    err_clear(&e);
    bool have = engine_get(r->api->deps.eng, im.job_id, &j, &e) == 0;
    const char *shown = shown_status(&im, have ? &j : NULL);
    bool ended = have && job_status_settled(j.status) && im.status != IMPORT_AWAITING_MAPPINGS &&
                 strcmp(shown, "cancelled") != 0;
    if (have)
        job_release(&j);
    if (!ended) {
        enum MHD_Result ret = api_reply_error(
            r, 409, "import %s is %s: only a completed or failed import can be retried", im.id,
            shown);
        import_release(&im);
        return ret;
    }
    struct import_update u = {.set = IMPORT_SET_STATUS | IMPORT_SET_ERROR | IMPORT_SET_COMPLETED_AT,
                              .if_status = IMPORT_NOT_ENDED | IMPORT_MASK(IMPORT_COMPLETED) |
                                           IMPORT_MASK(IMPORT_FAILED),
                              .status = IMPORT_PENDING};
    u.if_status &= ~IMPORT_MASK(IMPORT_AWAITING_MAPPINGS);
    int rc = rerun(r, im.id, &u, true, &e);
    import_release(&im);
    if (rc == TRAWL_ESTATE)
        return api_reply_error(r, 409, "the import changed meanwhile; look again");
    if (rc)
        return api_reply_err(r, &e);
    return reply_import(r, r->params[0], 202, NULL);
}

struct cancel_args {
    const char *id;
    int64_t now;
};

static int cancel_tx(struct store *s, void *arg, struct err *e)
{
    struct cancel_args *a = arg;
    struct import_update u = {.set = IMPORT_SET_STATUS | IMPORT_SET_COMPLETED_AT,
                              .if_status = IMPORT_NOT_ENDED,
                              .status = IMPORT_CANCELLED,
                              .completed_at = a->now};
    return store_import_update(s, a->id, &u, a->now, e);
}

enum MHD_Result api_imports_cancel(struct req *r)
{
    struct import im;
    if (!own_import(r, &im))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct err e;
    err_clear(&e);
    int rc = engine_cancel(eng, im.job_id, &e);
    if (rc && rc != TRAWL_ESTATE && rc != TRAWL_ENOTFOUND) {
        import_release(&im);
        return api_reply_err(r, &e);
    }
    struct cancel_args ca = {im.id, engine_now(eng)};
    err_clear(&e);
    rc = engine_exec(eng, cancel_tx, &ca, &e);
    const char *was = import_status_name(im.status);
    char id[UUID_STR_LEN];
    memcpy(id, im.id, UUID_STR_LEN);
    import_release(&im);
    if (rc == TRAWL_ESTATE)
        return api_reply_error(r, 409, "import %s has already ended (%s)", id, was);
    if (rc)
        return api_reply_err(r, &e);
    return reply_import(r, id, 200, NULL);
}
