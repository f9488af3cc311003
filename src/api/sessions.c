/* Scraping sessions: create one (its job and its row in one transaction), see them, cancel one,
 * run its failed pages again, list its pages and their content, and export its records as they
 * are read from the store. A session's status is not stored: it is derived from its job's. */
#include "api/api_int.h"

#include "base/log.h"
#include "base/uuid.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "store/scrape.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAPE_TYPE      "web_scraping" /* handlers/scrape.h; the API does not include handlers */
#define RECORDS_PER_READ 200
#define CONTENT_MAX      (256u << 20)

/* ---- a session as the API shows it ---- */

/* pending: not started; processing: discovering pages (or waiting to run again after a
 * failure); scraping: fetching and extracting; then completed, failed or cancelled. */
static const char *session_status(const struct job *j)
{
    if (!j)
        return "unknown"; /* its job was deleted */
    switch (j->status) {
    case JOB_PENDING:
        return j->started_at ? "processing" : "pending";
    case JOB_PROCESSING:
        return j->stage && strcmp(j->stage, "discovering") != 0 ? "scraping" : "processing";
    case JOB_RETRYING:
        return "processing";
    case JOB_COMPLETED:
        return "completed";
    case JOB_FAILED:
        return "failed";
    case JOB_CANCELLED:
        return "cancelled";
    default:
        return "unknown";
    }
}

static json_t *session_json(const struct scrape_session *ss, const struct job *j)
{
    int64_t done = ss->completed_pages + ss->failed_pages;
    double pct = ss->total_pages > 0 ? 100.0 * (double)done / (double)ss->total_pages : 0;
    if (j && j->status == JOB_COMPLETED && done >= ss->total_pages)
        pct = 100;
    pct = (double)(int64_t)(pct * 10) / 10; /* one decimal, never rounded up to 100 */
    const char *error = ss->error_message;
    if (!error && j && (j->status == JOB_FAILED || j->status == JOB_CANCELLED))
        error = j->error;
    json_t *cfg = json_loads(ss->config, 0, NULL);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s?, s:o, s:o, s:o, "
        "s:o, s:o}",
        "id", ss->id, "background_job_id", ss->job_id, "status", session_status(j), "stage",
        j ? j->stage : NULL, "source_url", ss->source_url, "total_pages",
        (json_int_t)ss->total_pages, "completed_pages", (json_int_t)ss->completed_pages,
        "failed_pages", (json_int_t)ss->failed_pages, "pending_pages",
        (json_int_t)(ss->total_pages - done), "skipped_pages", (json_int_t)ss->skipped_pages,
        "materials_processed", (json_int_t)ss->materials, "warnings", (json_int_t)ss->warnings,
        "progress_percentage", pct, "error_message", error, "config", cfg ? cfg : json_null(),
        "created_at", api_time(ss->created_at), "updated_at", api_time(ss->updated_at),
        "started_at", api_time(j ? j->started_at : 0), "ended_at",
        api_time(!j                           ? 0
                 : j->status == JOB_COMPLETED ? j->completed_at
                 : j->status == JOB_FAILED    ? j->failed_at
                 : j->status == JOB_CANCELLED ? j->updated_at
                                              : 0));
    if (j)
        json_object_set_new(o, "attempt", json_integer(j->attempt));
    return o;
}

/* Session sid (the one in the path), of the caller's workspace, with its job when j is not NULL
 * (j->id[0] == 0 when the job is gone). On failure the reply has been sent and false is
 * returned. */
static bool own_session_id(struct req *r, const char *sid, struct scrape_session *ss, struct job *j)
{
    struct err e;
    err_clear(&e);
    if (j)
        memset(j, 0, sizeof *j);
    if (!uuid_valid(sid)) {
        api_reply_error(r, 404, "scraping session %s not found", sid);
        return false;
    }
    int rc = store_session_get(engine_store(r->api->deps.eng), r->workspace, sid, false, ss, &e);
    if (rc == TRAWL_ENOTFOUND) {
        api_reply_error(r, 404, "scraping session %s not found", sid);
        return false;
    }
    if (rc) {
        api_reply_err(r, &e);
        return false;
    }
    if (!j)
        return true;
    rc = engine_get(r->api->deps.eng, ss->job_id, j, &e);
    if (rc && rc != TRAWL_ENOTFOUND) {
        scrape_session_release(ss);
        api_reply_err(r, &e);
        return false;
    }
    if (rc)
        memset(j, 0, sizeof *j);
    return true;
}

static bool own_session(struct req *r, struct scrape_session *ss, struct job *j)
{
    return own_session_id(r, r->params[0], ss, j);
}

static json_t *own_session_json(const struct scrape_session *ss, const struct job *j)
{
    return session_json(ss, j->id[0] ? j : NULL);
}

/* Read session sid (again, after a change) and answer with it and extra's members. */
static enum MHD_Result reply_session(struct req *r, const char *sid, unsigned status, json_t *extra)
{
    struct scrape_session ss;
    struct job j;
    if (!own_session_id(r, sid, &ss, &j)) {
        json_decref(extra);
        return MHD_YES;
    }
    json_t *body = api_ok();
    json_object_set_new(body, "session", own_session_json(&ss, &j));
    if (extra)
        json_object_update(body, extra);
    json_decref(extra);
    scrape_session_release(&ss);
    job_release(&j);
    return api_reply(r, status, body);
}

/* ---- create ---- */

struct create_args {
    struct scrape_session ss;
    const struct enqueue_result *res;
};

/* In the transaction that enqueued the job: the session row that points at it. */
static int create_after(struct store *s, void *arg, struct err *e)
{
    struct create_args *a = arg;
    memcpy(a->ss.job_id, a->res->id, UUID_STR_LEN);
    return store_session_add(s, &a->ss, e);
}

enum MHD_Result api_sessions_create(struct req *r)
{
    struct api *a = r->api;
    if (!a->deps.scrape_check)
        return api_reply_error(r, 503, "scraping sessions are not available on this server");
    json_t *cfg = NULL;
    struct err e;
    err_clear(&e);
    if (a->deps.scrape_check(r->json, &cfg, &e) != 0)
        return api_reply_error(r, 400, "%s", e.msg);
    struct engine *eng = a->deps.eng;
    struct create_args ca = {.ss = {.workspace = (char *)r->workspace}};
    uuid_v7(ca.ss.id, engine_now(eng));
    ca.ss.source_url = (char *)json_string_value(json_object_get(cfg, "source_url"));
    ca.ss.config = json_dumps(cfg, JSON_COMPACT);
    ca.ss.created_at = engine_now(eng);
    char args[96];
    snprintf(args, sizeof args, "{\"session_id\":\"%s\"}", ca.ss.id);
    struct job_spec spec = {.type = SCRAPE_TYPE, .args = args, .workspace = r->workspace};
    struct enqueue_result res;
    ca.res = &res;
    int rc = engine_enqueue_with(eng, &spec, &res, create_after, &ca, &e);
    free(ca.ss.config);
    json_decref(cfg);
    if (rc)
        return api_reply_err(r, &e);
    return reply_session(r, ca.ss.id, 201, NULL);
}

/* ---- read ---- */

enum MHD_Result api_sessions_get(struct req *r)
{
    return reply_session(r, r->params[0], 200, NULL);
}

enum MHD_Result api_sessions_list(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 20, &limit, &offset))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct scrape_session *list;
    size_t n;
    int64_t total = 0;
    struct err e;
    err_clear(&e);
    int rc = store_session_list(engine_store(eng), r->workspace, (size_t)limit, (size_t)offset,
                                &list, &n, &total, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        struct job j;
        bool have = engine_get(eng, list[i].job_id, &j, &e) == 0;
        json_array_append_new(arr, session_json(&list[i], have ? &j : NULL));
        if (have)
            job_release(&j);
    }
    scrape_session_array_free(list, n);
    return api_reply(r, 200,
                     json_pack("{s:b, s:o, s:I, s:I, s:I}", "success", 1, "sessions", arr, "total",
                               (json_int_t)total, "limit", (json_int_t)limit, "offset",
                               (json_int_t)offset));
}

/* ---- cancel, retry the failed pages ---- */

enum MHD_Result api_sessions_cancel(struct req *r)
{
    struct scrape_session ss;
    struct job j;
    if (!own_session(r, &ss, &j))
        return MHD_YES;
    struct err e;
    err_clear(&e);
    int rc = engine_cancel(r->api->deps.eng, ss.job_id, &e);
    const char *status = session_status(j.id[0] ? &j : NULL);
    scrape_session_release(&ss);
    job_release(&j);
    if (rc == TRAWL_ESTATE || rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 409, "the session has already ended (%s)", status);
    if (rc)
        return api_reply_err(r, &e);
    return reply_session(r, r->params[0], 200, NULL);
}

struct retry_args {
    const char *sid;
    const char *old_job;
    const struct enqueue_result *res;
    int64_t now;
    int requeued;
};

/* In the transaction that enqueued the session's new job: the failed pages back to pending and
 * the session pointed at the new job, but only when its job has ended (a running job takes the
 * pages itself: see api_sessions_retry). A refusal rolls the new job back. */
static int retry_after(struct store *s, void *arg, struct err *e)
{
    struct retry_args *a = arg;
    struct job j;
    int rc = store_fetch(s, a->old_job, &j, e);
    if (rc && rc != TRAWL_ENOTFOUND)
        return rc;
    if (rc == 0) {
        bool ended = job_status_ended(j.status);
        job_release(&j);
        if (!ended)
            return err_set(e, TRAWL_ESTATE, false, "the session is running");
    }
    rc = store_pages_requeue(s, a->sid, true, e);
    if (rc < 0)
        return rc;
    a->requeued = rc;
    if (rc == 0)
        return err_set(e, TRAWL_ENOTFOUND, false, "the session has no failed pages");
    return store_session_set_job(s, a->sid, a->old_job, a->res->id, a->now, e);
}

struct requeue_args {
    const char *sid;
    const char *job;
    int requeued;
};

/* For a session whose job has not ended: its failed pages back to pending, which the job takes
 * as it goes, provided the job is still not ended in this same transaction. */
static int requeue_running(struct store *s, void *arg, struct err *e)
{
    struct requeue_args *a = arg;
    struct job j;
    int rc = store_fetch(s, a->job, &j, e);
    if (rc)
        return rc;
    bool ended = job_status_ended(j.status);
    bool running = j.status == JOB_PROCESSING;
    job_release(&j);
    if (ended)
        return err_set(e, TRAWL_ESTALE, false, "the session's job has just ended");
    if (running)
        return err_set(e, TRAWL_ESTATE, false, "the session is running");
    rc = store_pages_requeue(s, a->sid, true, e);
    if (rc < 0)
        return rc;
    a->requeued = rc;
    return 0;
}

enum MHD_Result api_sessions_retry(struct req *r)
{
    struct scrape_session ss;
    struct job j;
    if (!own_session(r, &ss, &j))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct err e;
    err_clear(&e);
    int rc, requeued = 0;
    bool ended = !j.id[0] || job_status_ended(j.status);
    if (!ended) {
        /* pending or waiting to run again: the job will take the pages when it runs */
        struct requeue_args q = {ss.id, ss.job_id, 0};
        rc = engine_exec(eng, requeue_running, &q, &e);
        requeued = q.requeued;
        if (rc == TRAWL_ESTALE)
            ended = true; /* it ended meanwhile: run it again below */
    }
    if (ended) {
        char args[128];
        snprintf(args, sizeof args, "{\"session_id\":\"%s\",\"resume\":true}", ss.id);
        struct job_spec spec = {.type = SCRAPE_TYPE, .args = args, .workspace = r->workspace};
        struct enqueue_result res;
        struct retry_args ra = {ss.id, ss.job_id, &res, engine_now(eng), 0};
        err_clear(&e);
        rc = engine_enqueue_with(eng, &spec, &res, retry_after, &ra, &e);
        requeued = ra.requeued;
    }
    scrape_session_release(&ss);
    job_release(&j);
    if (rc == TRAWL_ESTATE)
        return api_reply_error(r, 409,
                               "the session is running; retry its failed pages once it has "
                               "ended (or cancel it first)");
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 409, "the session has no failed pages to retry");
    if (rc == TRAWL_ESTALE)
        return api_reply_error(r, 409, "the session changed meanwhile; try again");
    if (rc)
        return api_reply_err(r, &e);
    return reply_session(r, r->params[0], 200, json_pack("{s:i}", "requeued", requeued));
}

/* ---- pages ---- */

static json_t *page_json(const struct scrape_page *p)
{
    json_t *o = json_pack(
        "{s:I, s:s, s:i, s:s, s:s, s:i, s:o, s:s?, s:i, s:o, s:o, s:o}", "id", (json_int_t)p->id,
        "url", p->url, "depth", p->depth, "source", p->source ? p->source : "", "status",
        page_status_name(p->status), "attempt", p->attempt, "http_status",
        p->http_status ? json_integer(p->http_status) : json_null(), "error", p->error, "records",
        p->records, "fetch_ms", p->fetched_at ? json_integer(p->fetch_ms) : json_null(),
        "discovered_at", api_time(p->discovered_at), "fetched_at", api_time(p->fetched_at));
    json_object_set_new(o, "lastmod", p->lastmod ? json_string(p->lastmod) : json_null());
    return o;
}

enum MHD_Result api_sessions_pages(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 100, &limit, &offset))
        return MHD_YES;
    const char *status = api_query(r, "status");
    int st = -1;
    if (status && (st = page_status_parse(status)) < 0)
        return api_reply_error(r, 400,
                               "unknown page status \"%s\" (expected pending, fetching, done, "
                               "failed or skipped)",
                               status);
    struct scrape_session ss;
    if (!own_session(r, &ss, NULL))
        return MHD_YES;
    struct scrape_page *pages;
    size_t n;
    struct err e;
    err_clear(&e);
    /* one more than asked tells whether there are more */
    int rc = store_pages_list(engine_store(r->api->deps.eng), ss.id, st, (size_t)limit + 1,
                              (size_t)offset, &pages, &n, &e);
    scrape_session_release(&ss);
    if (rc < 0)
        return api_reply_err(r, &e);
    bool more = n > (size_t)limit;
    json_t *arr = json_array();
    for (size_t i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(arr, page_json(&pages[i]));
    scrape_page_array_free(pages, n);
    return api_reply(r, 200,
                     json_pack("{s:b, s:o, s:I, s:I, s:o}", "success", 1, "pages", arr, "limit",
                               (json_int_t)limit, "offset", (json_int_t)offset, "nextOffset",
                               more ? json_integer(offset + limit) : json_null()));
}

enum MHD_Result api_sessions_page_content(struct req *r)
{
    char *end;
    long long pid = strtoll(r->params[1], &end, 10);
    if (*end || pid <= 0)
        return api_reply_error(r, 404, "page %s not found", r->params[1]);
    struct scrape_session ss;
    if (!own_session(r, &ss, NULL))
        return MHD_YES;
    void *z = NULL;
    size_t zn = 0;
    struct err e;
    err_clear(&e);
    int rc = store_page_content(engine_store(r->api->deps.eng), ss.id, pid, &z, &zn, &e);
    scrape_session_release(&ss);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404,
                               "page %lld has no stored content (not found, not fetched yet, or "
                               "the session asked for no formats: see extract.formats)",
                               pid);
    if (rc)
        return api_reply_err(r, &e);
    char *text = NULL;
    size_t tn;
    rc = zframe_decompress(z, zn, CONTENT_MAX, &text, &tn, &e);
    free(z);
    if (rc)
        return api_reply_err(r, &e);
    json_t *formats = json_loadb(text, tn, 0, NULL);
    free(text);
    if (!formats)
        return api_reply_error(r, 500, "the stored content of page %lld is not JSON", pid);
    json_t *body = api_ok();
    json_object_set_new(body, "page_id", json_integer(pid));
    json_object_set_new(body, "content", formats);
    return api_reply(r, 200, body);
}

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
    if (!own_session(r, &ss, NULL))
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
