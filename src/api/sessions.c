/* Scraping sessions: create one (its three stage jobs, ingest -> extract -> sync, and its row
 * in one transaction), see them, cancel one, run its failed pages again, run its extraction again
 * with new rules (no page fetched), and list its pages and their content. A session's status is
 * not stored: it is derived from its stages' jobs. Its records: session_records.c. */
#include "api/api_int.h"

#include "base/log.h"
#include "base/uuid.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "engine/spec_json.h"
#include "store/chain.h"
#include "store/scrape.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* handlers/scrape.h's type names; the API does not include handlers */
#define SCRAPE_TYPE  "web_scraping"
#define EXTRACT_TYPE "scrape_extract"
#define SYNC_TYPE    "scrape_sync"
#define CONTENT_MAX  (256u << 20)

/* ---- a session as the API shows it ---- */

/* A session's stage jobs, as read: ingest, extract, sync (have[i] false: none, or gone). */
struct stages {
    struct job j[3];
    bool have[3];
};

static void stages_load(struct engine *eng, const struct scrape_session *ss, struct stages *st)
{
    const char *ids[3] = {ss->job_id, ss->extract_job_id, ss->sync_job_id};
    struct err e;
    for (int i = 0; i < 3; i++) {
        memset(&st->j[i], 0, sizeof st->j[i]);
        st->have[i] = ids[i][0] && engine_get(eng, ids[i], &st->j[i], &e) == 0;
    }
}

static void stages_release(struct stages *st)
{
    for (int i = 0; i < 3; i++)
        if (st->have[i])
            job_release(&st->j[i]);
}

static const struct job *stage(const struct stages *st, int i)
{
    return st->have[i] ? &st->j[i] : NULL;
}

static json_t *stage_json(const struct job *j)
{
    if (!j)
        return json_null();
    json_t *o =
        json_pack("{s:s, s:s, s:i, s:i, s:i, s:s?, s:s?, s:o, s:o, s:o, s:o}", "job_id", j->id,
                  "status", job_status_name(j->status), "attempt", j->attempt, "max_attempts",
                  j->max_attempts, "progress", j->progress, "stage", j->stage, "error", j->error,
                  "created_at", api_time(j->created_at), "started_at", api_time(j->started_at),
                  "completed_at", api_time(j->completed_at), "failed_at", api_time(j->failed_at));
    json_t *v;
    if (j->status == JOB_COMPLETED && j->result && (v = json_loads(j->result, 0, NULL)))
        json_object_set_new(o, "result", v);
    return o;
}

/* The settings as shown: a webhook's signing secret is not. */
static json_t *config_json(const char *config)
{
    json_t *cfg = json_loads(config, 0, NULL);
    json_t *wh = json_object_get(json_object_get(cfg, "sync"), "webhook");
    if (json_is_object(wh) && json_object_get(wh, "secret"))
        json_object_set_new(wh, "secret", json_string("(set)"));
    return cfg ? cfg : json_null();
}

static json_t *session_json(const struct scrape_session *ss, const struct stages *st)
{
    const struct job *in = stage(st, 0), *ex = stage(st, 1), *sy = stage(st, 2), *bad = NULL;
    const char *status = scrape_session_status(in, ex, sy, &bad);
    const struct job *now = sy && sy->status != JOB_WAITING   ? sy
                            : ex && ex->status != JOB_WAITING ? ex
                                                              : in;
    int64_t done = ss->completed_pages + ss->failed_pages;
    double pct = ss->total_pages > 0 ? 100.0 * (double)done / (double)ss->total_pages : 0;
    if (in && in->status == JOB_COMPLETED && done >= ss->total_pages)
        pct = 100;
    pct = (double)(int64_t)(pct * 10) / 10; /* one decimal, never rounded up to 100 */
    const char *error = ss->error_message;
    if (!error && bad)
        error = bad->error;
    const struct job *last = sy ? sy : ex ? ex : in;
    int64_t ended = !last                              ? 0
                    : !strcmp(status, "completed")     ? last->completed_at
                    : bad && bad->status == JOB_FAILED ? bad->failed_at
                    : bad                              ? bad->updated_at
                                                       : 0;
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s?, s:o, s:o, s:o, "
        "s:o, s:o}",
        "id", ss->id, "background_job_id", ss->job_id, "status", status, "stage",
        now ? now->stage : NULL, "source_url", ss->source_url, "total_pages",
        (json_int_t)ss->total_pages, "completed_pages", (json_int_t)ss->completed_pages,
        "failed_pages", (json_int_t)ss->failed_pages, "pending_pages",
        (json_int_t)(ss->total_pages - done), "skipped_pages", (json_int_t)ss->skipped_pages,
        "materials_processed", (json_int_t)ss->materials, "warnings", (json_int_t)ss->warnings,
        "progress_percentage", pct, "error_message", error, "config", config_json(ss->config),
        "created_at", api_time(ss->created_at), "updated_at", api_time(ss->updated_at),
        "started_at", api_time(in ? in->started_at : 0), "ended_at", api_time(ended));
    if (in)
        json_object_set_new(o, "attempt", json_integer(in->attempt));
    json_object_set_new(o, "extraction_generation", json_integer(ss->extract_gen));
    json_object_set_new(o, "stages",
                        json_pack("{s:o, s:o, s:o}", "ingest", stage_json(in), "extract",
                                  stage_json(ex), "sync", stage_json(sy)));
    json_t *v;
    if (sy && sy->status == JOB_COMPLETED && sy->result && (v = json_loads(sy->result, 0, NULL)))
        json_object_set_new(o, "sync", v);
    return o;
}

/* Session sid (the one in the path), of the caller's workspace. On failure the reply has been
 * sent and false is returned. */
static bool own_session_id(struct req *r, const char *sid, struct scrape_session *ss)
{
    struct err e;
    err_clear(&e);
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
    return true;
}

bool api_own_session(struct req *r, struct scrape_session *ss)
{
    return own_session_id(r, r->params[0], ss);
}

/* Read session sid (again, after a change) and answer with it and extra's members. */
static enum MHD_Result reply_session(struct req *r, const char *sid, unsigned status, json_t *extra)
{
    struct scrape_session ss;
    if (!own_session_id(r, sid, &ss)) {
        json_decref(extra);
        return MHD_YES;
    }
    struct stages st;
    stages_load(r->api->deps.eng, &ss, &st);
    json_t *body = api_ok();
    json_object_set_new(body, "session", session_json(&ss, &st));
    if (extra)
        json_object_update(body, extra);
    json_decref(extra);
    scrape_session_release(&ss);
    stages_release(&st);
    return api_reply(r, status, body);
}

/* The stage jobs under root, found in the transaction that enqueued them: the extract stage is
 * root's next, the sync stage the extract's. */
static int find_stages(struct store *s, const char *root, char extract[UUID_STR_LEN],
                       char sync[UUID_STR_LEN], struct err *e)
{
    const char *parent = root;
    char *out[2] = {extract, sync};
    for (int i = 0; i < 2; i++) {
        struct chain_filter f = {.parent_id = parent, .role_mask = ROLE_MASK(ROLE_NEXT)};
        struct job *jobs;
        size_t n;
        int rc = store_chain_jobs(s, &f, true, &jobs, &n, e);
        if (rc < 0)
            return rc;
        if (n != 1) {
            job_array_free(jobs, n);
            return err_set(e, TRAWL_ESTORE, false, "a session's stage %d is missing", i + 2);
        }
        memcpy(out[i], jobs[0].id, UUID_STR_LEN);
        job_array_free(jobs, n);
        parent = out[i];
    }
    return 0;
}

/* The three stages' spec: ingest (args), then extract, then sync, all of session sid. */
struct chain_specs {
    char args[160], stage_args[96];
    struct job_spec ingest, extract, sync;
};

static void chain_specs(struct chain_specs *c, const char *sid, const char *workspace, bool resume,
                        const char *parent)
{
    snprintf(c->args, sizeof c->args, "{\"session_id\":\"%s\"%s}", sid,
             resume ? ",\"resume\":true" : "");
    snprintf(c->stage_args, sizeof c->stage_args, "{\"session_id\":\"%s\"}", sid);
    c->sync = (struct job_spec){.type = SYNC_TYPE, .args = c->stage_args, .workspace = workspace};
    c->extract = (struct job_spec){.type = EXTRACT_TYPE,
                                   .args = c->stage_args,
                                   .workspace = workspace,
                                   .next = &c->sync,
                                   .nnext = 1,
                                   .parent_id = parent};
    c->ingest = (struct job_spec){.type = SCRAPE_TYPE,
                                  .args = c->args,
                                  .workspace = workspace,
                                  .next = &c->extract,
                                  .nnext = 1};
}

/* ---- create ---- */

struct create_args {
    struct scrape_session ss;
    const struct enqueue_result *res;
};

/* In the transaction that enqueued the stages: the session row that points at them. */
static int create_after(struct store *s, void *arg, struct err *e)
{
    struct create_args *a = arg;
    memcpy(a->ss.job_id, a->res->id, UUID_STR_LEN);
    int rc = store_session_add(s, &a->ss, e);
    char ex[UUID_STR_LEN], sy[UUID_STR_LEN];
    if (!rc)
        rc = find_stages(s, a->res->id, ex, sy, e);
    if (!rc) {
        struct session_stages st = {.extract_job_id = ex, .sync_job_id = sy, .extract_gen = -1};
        rc = store_session_set_stages(s, a->ss.id, &st, a->ss.created_at, e);
    }
    return rc;
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
    struct chain_specs cs;
    chain_specs(&cs, ca.ss.id, r->workspace, false, NULL);
    struct enqueue_result res;
    ca.res = &res;
    int rc = engine_enqueue_with(eng, &cs.ingest, &res, create_after, &ca, &e);
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
        struct stages st;
        stages_load(eng, &list[i], &st);
        json_array_append_new(arr, session_json(&list[i], &st));
        stages_release(&st);
    }
    scrape_session_array_free(list, n);
    return api_reply(r, 200,
                     json_pack("{s:b, s:o, s:I, s:I, s:I}", "success", 1, "sessions", arr, "total",
                               (json_int_t)total, "limit", (json_int_t)limit, "offset",
                               (json_int_t)offset));
}

/* ---- cancel, retry the failed pages, extract again ---- */

/* Whether any of the session's stages has not ended. */
static bool running(const struct stages *st)
{
    for (int i = 0; i < 3; i++)
        if (st->have[i] && !job_status_settled(st->j[i].status))
            return true;
    return false;
}

enum MHD_Result api_sessions_cancel(struct req *r)
{
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    struct stages st;
    stages_load(r->api->deps.eng, &ss, &st);
    const char *status = scrape_session_status(stage(&st, 0), stage(&st, 1), stage(&st, 2), NULL);
    bool live = running(&st);
    struct err e;
    err_clear(&e);
    /* the ingest job is the chain's root: cancelling it cancels every stage not ended */
    int rc = live ? engine_cancel(r->api->deps.eng, ss.job_id, &e) : TRAWL_ESTATE;
    scrape_session_release(&ss);
    stages_release(&st);
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

/* In the transaction that enqueued the session's new stages: the failed pages back to pending and
 * the session pointed at the new chain, but only when none of its stages runs any more. A refusal
 * rolls the new chain back. */
static int retry_after(struct store *s, void *arg, struct err *e)
{
    struct retry_args *a = arg;
    struct scrape_session ss;
    int rc = store_session_get(s, NULL, a->sid, false, &ss, e);
    if (rc)
        return rc;
    const char *ids[3] = {ss.job_id, ss.extract_job_id, ss.sync_job_id};
    for (int i = 0; i < 3 && !rc; i++) {
        struct job j;
        if (!ids[i][0] || store_fetch(s, ids[i], &j, e) != 0)
            continue;
        if (!job_status_settled(j.status))
            rc = err_set(e, TRAWL_ESTATE, false, "the session is running");
        job_release(&j);
    }
    scrape_session_release(&ss);
    if (rc)
        return rc;
    rc = store_pages_requeue(s, a->sid, true, e);
    if (rc < 0)
        return rc;
    a->requeued = rc;
    if (rc == 0)
        return err_set(e, TRAWL_ENOTFOUND, false, "the session has no failed pages");
    char ex[UUID_STR_LEN], sy[UUID_STR_LEN];
    if ((rc = store_session_set_job(s, a->sid, a->old_job, a->res->id, a->now, e)) ||
        (rc = find_stages(s, a->res->id, ex, sy, e)))
        return rc;
    struct session_stages st = {.extract_job_id = ex, .sync_job_id = sy, .extract_gen = -1};
    return store_session_set_stages(s, a->sid, &st, a->now, e);
}

enum MHD_Result api_sessions_retry(struct req *r)
{
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct err e;
    err_clear(&e);
    /* a new chain whose ingest takes only the pages requeued (its pages are known); its extract
     * and sync stages then run again on what the session has */
    struct chain_specs cs;
    chain_specs(&cs, ss.id, r->workspace, true, NULL);
    struct enqueue_result res;
    struct retry_args ra = {ss.id, ss.job_id, &res, engine_now(eng), 0};
    int rc = engine_enqueue_with(eng, &cs.ingest, &res, retry_after, &ra, &e);
    scrape_session_release(&ss);
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
    return reply_session(r, r->params[0], 200, json_pack("{s:i}", "requeued", ra.requeued));
}

struct extract_args {
    const char *sid;
    const char *ingest;
    const char *config;
    const struct enqueue_result *res;
    int64_t now;
};

/* In the transaction that enqueued the new extract and sync stages: the session's new settings,
 * its next generation, and its stages; refused while a stage of the session runs, or before its
 * ingest completed. */
static int extract_after(struct store *s, void *arg, struct err *e)
{
    struct extract_args *a = arg;
    struct scrape_session ss;
    int rc = store_session_get(s, NULL, a->sid, false, &ss, e);
    if (rc)
        return rc;
    const char *ids[3] = {ss.job_id, ss.extract_job_id, ss.sync_job_id};
    for (int i = 0; i < 3 && !rc; i++) {
        struct job j;
        if (!ids[i][0] || store_fetch(s, ids[i], &j, e) != 0)
            continue;
        if (!job_status_settled(j.status))
            rc = err_set(e, TRAWL_ESTATE, false, "the session is running");
        else if (i == 0 && j.status != JOB_COMPLETED)
            rc = err_set(e, TRAWL_ESTALE, false, "the session's pages were not all fetched");
        job_release(&j);
    }
    int gen = ss.extract_gen + 1;
    bool same = strcmp(ss.job_id, a->ingest) == 0;
    scrape_session_release(&ss);
    if (rc)
        return rc;
    if (!same)
        return err_set(e, TRAWL_ESTALE, false, "the session changed meanwhile");
    struct chain_filter f = {.parent_id = a->res->id, .role_mask = ROLE_MASK(ROLE_NEXT)};
    struct job *jobs;
    size_t n;
    rc = store_chain_jobs(s, &f, true, &jobs, &n, e);
    if (rc < 0)
        return rc;
    struct session_stages st = {.extract_job_id = a->res->id,
                                .sync_job_id = n == 1 ? jobs[0].id : NULL,
                                .config = a->config,
                                .extract_gen = gen};
    rc = store_session_set_stages(s, a->sid, &st, a->now, e);
    job_array_free(jobs, n);
    return rc;
}

enum MHD_Result api_sessions_extract(struct req *r)
{
    struct api *a = r->api;
    if (!a->deps.scrape_check)
        return api_reply_error(r, 503, "scraping sessions are not available on this server");
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    /* the session's settings with the new extraction settings in place of the old */
    json_t *cfg = json_loads(ss.config, 0, NULL);
    json_t *ex = r->json ? json_object_get(r->json, "extract") : NULL;
    enum MHD_Result ret = MHD_YES;
    if (!cfg || !json_is_object(ex)) {
        ret = api_reply_error(r, 400,
                              "the body must be {\"extract\": {...}}: the extraction settings to "
                              "run again with (structured, rules, formats)");
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(r->json, k, v)
    {
        if (strcmp(k, "extract")) {
            ret = api_reply_error(r, 400,
                                  "unknown field \"%s\": only extract can change (start a new "
                                  "session for other settings)",
                                  k);
            goto out;
        }
    }
    json_object_set(cfg, "extract", ex);
    json_t *checked = NULL;
    struct err e;
    err_clear(&e);
    if (a->deps.scrape_check(cfg, &checked, &e) != 0) {
        ret = api_reply_error(r, 400, "%s", e.msg);
        goto out;
    }
    char *config = json_dumps(checked, JSON_COMPACT);
    json_decref(checked);
    struct chain_specs cs;
    chain_specs(&cs, ss.id, r->workspace, false, ss.job_id);
    struct enqueue_result res;
    struct extract_args xa = {ss.id, ss.job_id, config, &res, engine_now(a->deps.eng)};
    int rc = engine_enqueue_with(a->deps.eng, &cs.extract, &res, extract_after, &xa, &e);
    free(config);
    if (rc == TRAWL_ESTATE)
        ret = api_reply_error(r, 409, "the session is running; extract again once it has ended");
    else if (rc == TRAWL_ESTALE)
        ret = api_reply_error(r, 409, "%s", e.msg);
    else if (rc)
        ret = api_reply_err(r, &e);
    else
        ret = reply_session(r, ss.id, 202, NULL);
out:
    json_decref(cfg);
    scrape_session_release(&ss);
    return ret;
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
    if (!api_own_session(r, &ss))
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
    if (!api_own_session(r, &ss))
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
