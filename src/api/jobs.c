/* Generic jobs of any type: enqueue one or many, list, get with history, cancel, retry; and the
 * calls external workers in any language use: claim, heartbeat, complete, fail, each fenced by
 * the lease token the claim handed out. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "engine/spec_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOBS_PER_CALL_MAX 10000

json_t *api_job_json(const struct job *j, bool brief)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:s?, s:s?, s:s?, s:s?, s:s?, s:o, s:o, s:o, "
        "s:o, s:o, s:o}",
        "id", j->id, "type", j->type ? j->type : "", "queue", j->queue ? j->queue : "", "status",
        job_status_name(j->status) ? job_status_name(j->status) : "?", "priority", j->priority,
        "attempt", j->attempt, "max_attempts", j->max_attempts, "progress", j->progress, "stage",
        j->stage, "error", j->error, "batch_id", j->batch_id, "parent_id", j->parent_id, "root_id",
        j->root_id, "run_at", api_time(j->run_at), "created_at", api_time(j->created_at),
        "started_at", api_time(j->started_at), "completed_at", api_time(j->completed_at),
        "failed_at", api_time(j->failed_at), "updated_at", api_time(j->updated_at));
    if (j->role != ROLE_NONE)
        json_object_set_new(o, "role", json_string(job_role_name(j->role)));
    if (j->join_id)
        json_object_set_new(o, "join_id", json_string(j->join_id));
    if (j->status == JOB_WAITING && j->role == ROLE_JOIN)
        json_object_set_new(o, "waits", json_integer(j->waits));
    json_object_set_new(o, "depth", json_integer(j->depth));
    /* a schedule's slot: "schedule:<id>:<slot ms>" */
    if (j->unique_key && strncmp(j->unique_key, "schedule:", 9) == 0 &&
        strlen(j->unique_key) > 9 + 36)
        json_object_set_new(o, "schedule_id", json_stringn(j->unique_key + 9, 36));
    if (!brief) {
        json_t *v;
        if (j->args && (v = json_loads(j->args, JSON_DECODE_ANY, NULL)))
            json_object_set_new(o, "args", v);
        if (j->result && (v = json_loads(j->result, JSON_DECODE_ANY, NULL)))
            json_object_set_new(o, "result", v);
        if (j->checkpoint && (v = json_loads(j->checkpoint, JSON_DECODE_ANY, NULL)))
            json_object_set_new(o, "checkpoint", v);
        if (j->input && (v = json_loads(j->input, JSON_DECODE_ANY, NULL)))
            json_object_set_new(o, "input", v);
        json_object_set_new(o, "unique_key",
                            j->unique_key ? json_string(j->unique_key) : json_null());
        json_object_set_new(o, "workspace", json_string(j->workspace ? j->workspace : ""));
        json_object_set_new(o, "timeout_ms", json_integer(j->timeout_ms));
        json_object_set_new(o, "lease_owner",
                            j->lease_owner ? json_string(j->lease_owner) : json_null());
        json_object_set_new(o, "lease_expires_at", api_time(j->lease_expires_at));
        json_object_set_new(o, "last_heartbeat", api_time(j->last_heartbeat));
    }
    return o;
}

bool api_own_job(struct req *r, struct job *out)
{
    struct err e;
    err_clear(&e);
    int rc = engine_get(r->api->deps.eng, r->params[0], out, &e);
    if (rc == TRAWL_EINVAL || rc == TRAWL_ENOTFOUND ||
        (rc == 0 && strcmp(out->workspace ? out->workspace : "", r->workspace) != 0)) {
        if (rc == 0)
            job_release(out);
        api_reply_error(r, 404, "job %s not found", r->params[0]);
        return false;
    }
    if (rc) {
        api_reply_err(r, &e);
        return false;
    }
    return true;
}

/* ---- enqueue ---- */

/* The engine names fields as stored (max_attempts); the API's callers know them as they sent
 * them (maxAttempts). */
static void camel_case_fields(char *msg, size_t n)
{
    static const char *const names[][2] = {
        {"max_attempts", "maxAttempts"}, {"batch_id", "batchId"},     {"parent_id", "parentId"},
        {"root_id", "rootId"},           {"unique_key", "uniqueKey"}, {"run_at", "runAt"},
        {"timeout_ms", "timeoutMs"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *p = strstr(msg, names[i][0]);
        if (!p)
            continue;
        size_t from = strlen(names[i][0]), to = strlen(names[i][1]);
        size_t tail = strlen(p + from);
        if ((size_t)(p - msg) + to + tail + 1 > n)
            continue;
        memmove(p + to, p + from, tail + 1);
        memcpy(p, names[i][1], to);
    }
}

/* Job types that come in by a route of their own, with checks of their own. */
static const char *refuse_type(const char *type)
{
    if (strcmp(type, "crawl") == 0) /* the URL, the headers */
        return "crawl jobs are submitted with POST /v1/crawl-jobs";
    if (strcmp(type, "web_scraping") == 0 || strcmp(type, "scrape_extract") == 0 ||
        strcmp(type, "scrape_sync") == 0) /* a session's jobs need their session */
        return "scraping sessions are started with POST /v1/scraping-sessions";
    return NULL;
}

bool api_read_spec(struct req *r, json_t *obj, const char *where, struct job_spec *out,
                   struct spec_mem *mem)
{
    struct spec_json_opts o = {
        .workspace = r->workspace, .now = engine_now(r->api->deps.eng), .refuse_type = refuse_type};
    struct err e;
    err_clear(&e);
    if (spec_from_json(obj, &o, where, out, mem, &e) != 0) {
        api_reply_error(r, 400, "%s", e.msg);
        return false;
    }
    /* the schedules' slots own these keys; the store keeps them unique even after their job */
    if (out->unique_key && strncmp(out->unique_key, "schedule:", 9) == 0) {
        api_reply_error(r, 400, "%s%suniqueKey: the prefix \"schedule:\" is kept for schedules",
                        where && *where ? where : "", where && *where ? ": " : "");
        return false;
    }
    /* a batch id goes into paths (GET /v1/batches/ID): the API takes only a safe alphabet */
    if (out->batch_id && !api_valid_batch_id(out->batch_id)) {
        api_reply_error(r, 400, "%s: batchId may hold 1-%d letters, digits and . _ : - only", where,
                        API_BATCH_ID_MAX);
        return false;
    }
    return true;
}

struct created {
    struct req *r;
    size_t n;
    bool many;
    struct enqueue_result *res;
    int rc;
    struct err err;
};

static void jobs_answer(struct req *r, void *arg);

/* On the thread that committed the jobs: the answer is made on libmicrohttpd's. */
static void jobs_created(void *ctx, int rc, const struct err *e)
{
    struct created *c = ctx;
    struct req *r = c->r;
    c->rc = rc;
    if (rc)
        err_copy(&c->err, e);
    api_finish_later(r, jobs_answer, c);
    api_req_unref(r);
}

static void jobs_answer(struct req *r, void *arg)
{
    struct created *c = arg;
    if (c->rc) {
        camel_case_fields(c->err.msg, sizeof c->err.msg);
        api_reply_err(r, &c->err);
    } else {
        json_t *body = api_ok();
        if (c->many) {
            json_t *arr = json_array();
            for (size_t i = 0; i < c->n; i++)
                json_array_append_new(
                    arr, json_pack("{s:s, s:b}", "id", c->res[i].id, "existed", c->res[i].existed));
            json_object_set_new(body, "jobs", arr);
            json_object_set_new(body, "count", json_integer((json_int_t)c->n));
        } else {
            json_object_set_new(body, "jobId", json_string(c->res[0].id));
            json_object_set_new(body, "existed", json_boolean(c->res[0].existed));
        }
        api_reply(r, c->res[0].existed && !c->many ? 200 : 201, body);
    }
    free(c->res);
    free(c);
}

enum MHD_Result api_jobs_create(struct req *r)
{
    if (!r->json)
        return api_reply_error(r, 400,
                               "the body must be a job: {\"type\": ..., \"args\": {...}}"
                               " or {\"jobs\": [...]}");
    json_t *list = json_object_get(r->json, "jobs");
    bool many = list != NULL;
    size_t n = many ? json_array_size(list) : 1;
    if (many && !json_is_array(list))
        return api_reply_error(r, 400, "jobs must be an array");
    if (many && (n == 0 || n > JOBS_PER_CALL_MAX))
        return api_reply_error(r, 400, "jobs must hold 1 to %d jobs", JOBS_PER_CALL_MAX);
    struct spec_mem mem = {0};
    struct job_spec *specs = xcalloc(n, sizeof *specs);
    struct enqueue_result *res = xcalloc(n, sizeof *res);
    enum MHD_Result ret = MHD_YES;
    for (size_t i = 0; i < n; i++) {
        char where[48];
        snprintf(where, sizeof where, many ? "jobs[%zu]" : "%.0zu", i);
        if (!api_read_spec(r, many ? json_array_get(list, i) : r->json, where, &specs[i], &mem))
            goto out;
    }
    /* answered from the thread that commits the jobs, without holding this one; the specs are
     * laid out as rows (copied) before this returns */
    struct created *c = xcalloc(1, sizeof *c);
    c->r = r;
    c->n = n;
    c->many = many;
    c->res = res;
    res = NULL;
    api_req_ref(r);
    engine_enqueue_many_async(r->api->deps.eng, specs, n, c->res, jobs_created, c);
out:
    spec_mem_release(&mem);
    free(specs);
    free(res);
    return ret;
}

/* ---- reading ---- */

enum MHD_Result api_jobs_list(struct req *r)
{
    int64_t limit;
    if (!api_query_int(r, "limit", 1, 1000, 50, &limit))
        return MHD_YES;
    struct job_filter f = {.type = api_query(r, "type"),
                           .batch_id = api_query(r, "batch"),
                           .workspace = r->workspace,
                           .before_id = api_query(r, "cursor"),
                           .limit = (size_t)limit};
    struct job *jobs;
    size_t n;
    struct err e;
    err_clear(&e);
    int rc = engine_list(r->api->deps.eng, api_query(r, "status"), &f, &jobs, &n, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_job_json(&jobs[i], true));
    json_t *body = api_ok();
    json_object_set_new(body, "jobs", arr);
    json_object_set_new(body, "nextCursor",
                        n == (size_t)limit ? json_string(jobs[n - 1].id) : json_null());
    job_array_free(jobs, n);
    return api_reply(r, 200, body);
}

static json_t *events_json(struct engine *eng, const char *id)
{
    struct job_event *ev;
    size_t n;
    struct err e;
    json_t *arr = json_array();
    if (engine_events(eng, id, &ev, &n, &e) < 0)
        return arr;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:I, s:o, s:s, s:s, s:i, s:s?}", "seq",
                                             (json_int_t)ev[i].seq, "at", api_time(ev[i].at),
                                             "from", job_status_name(ev[i].from), "to",
                                             job_status_name(ev[i].to), "attempt", ev[i].attempt,
                                             "message", ev[i].message));
    job_events_free(ev, n);
    return arr;
}

enum MHD_Result api_jobs_get(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    json_t *body = api_ok();
    json_object_set_new(body, "job", api_job_json(&j, false));
    json_object_set_new(body, "events", events_json(r->api->deps.eng, j.id));
    job_release(&j);
    return api_reply(r, 200, body);
}

/* ---- by hand ---- */

static enum MHD_Result after_change(struct req *r, int rc, const struct err *e)
{
    if (rc < 0)
        return api_reply_err(r, e);
    struct job j;
    struct err e2;
    if (engine_get(r->api->deps.eng, r->params[0], &j, &e2) != 0)
        return api_reply(r, 200, api_ok());
    json_t *body = api_ok();
    json_object_set_new(body, "job", api_job_json(&j, true));
    job_release(&j);
    return api_reply(r, 200, body);
}

enum MHD_Result api_jobs_cancel(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    job_release(&j);
    struct err e;
    err_clear(&e);
    int rc = engine_cancel(r->api->deps.eng, r->params[0], &e);
    return after_change(r, rc, &e);
}

enum MHD_Result api_jobs_retry(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    job_release(&j);
    int64_t more = 0;
    if (!api_get_int(r, r->json, "attempts", 1, JOB_ATTEMPTS_MAX, &more))
        return MHD_YES;
    struct err e;
    err_clear(&e);
    int rc = engine_retry(r->api->deps.eng, r->params[0], (int)more, &e);
    return after_change(r, rc, &e);
}

/* ---- external workers ---- */

enum MHD_Result api_jobs_claim(struct req *r)
{
    json_t *types = r->json ? json_object_get(r->json, "types") : NULL;
    size_t nt = json_array_size(types);
    if (!json_is_array(types) || nt == 0 || nt > ENGINE_CLAIM_TYPES_MAX)
        return api_reply_error(r, 400, "types must be an array of 1 to %d job types",
                               ENGINE_CLAIM_TYPES_MAX);
    const char *tv[ENGINE_CLAIM_TYPES_MAX];
    for (size_t i = 0; i < nt; i++) {
        json_t *t = json_array_get(types, i);
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            json_string_length(t) > JOB_TYPE_MAX)
            return api_reply_error(r, 400, "types[%zu] must be a job type (1 to %d characters)", i,
                                   JOB_TYPE_MAX);
        tv[i] = json_string_value(t);
    }
    const char *worker = NULL;
    int64_t limit = 1, lease = 0;
    if (!api_get_str(r, r->json, "worker", 128, &worker) ||
        !api_get_int(r, r->json, "limit", 1, 1000, &limit) ||
        !api_get_int(r, r->json, "leaseMs", 1000, 24 * 3600 * 1000, &lease))
        return MHD_YES;
    if (!worker)
        return api_reply_error(r, 400, "worker is required: a name for this worker");
    struct job *jobs;
    size_t n;
    struct err e;
    err_clear(&e);
    int rc = engine_claim_in(r->api->deps.eng, r->workspace, tv, nt, (size_t)limit, worker, lease,
                             &jobs, &n, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = api_job_json(&jobs[i], false);
        char tok[64];
        snprintf(tok, sizeof tok, "%d:%" PRId64, jobs[i].attempt, jobs[i].event_seq);
        json_object_set_new(o, "leaseToken", json_string(tok));
        json_array_append_new(arr, o);
    }
    job_array_free(jobs, n);
    json_t *body = api_ok();
    json_object_set_new(body, "jobs", arr);
    return api_reply(r, 200, body);
}

/* The fence of a worker's call: worker and leaseToken ("ATTEMPT:SEQ" from the claim), or
 * worker and attempt. Sends the error and returns false when they are missing or malformed. */
static bool read_fence(struct req *r, struct job_fence *f)
{
    memset(f, 0, sizeof *f);
    f->id = r->params[0];
    const char *worker = NULL, *token = NULL;
    int64_t attempt = 0;
    if (!api_get_str(r, r->json, "worker", 128, &worker) ||
        !api_get_str(r, r->json, "leaseToken", 64, &token) ||
        !api_get_int(r, r->json, "attempt", 1, JOB_ATTEMPTS_MAX, &attempt))
        return false;
    if (!worker) {
        api_reply_error(r, 400, "worker is required: the name the job was claimed with");
        return false;
    }
    f->owner = worker;
    if (token) {
        int a;
        long long seq;
        char extra;
        if (sscanf(token, "%d:%lld%c", &a, &seq, &extra) != 2 || a <= 0 || seq <= 0) {
            api_reply_error(r, 400, "leaseToken '%s' is not one this server handed out", token);
            return false;
        }
        f->attempt = a;
        f->seq = seq;
    } else if (attempt > 0) {
        f->attempt = (int)attempt;
    } else {
        api_reply_error(r, 400, "leaseToken (from the claim) or attempt is required");
        return false;
    }
    return true;
}

/* ESTALE and ESTATE from a worker's call: it lost the job. */
static enum MHD_Result fenced_reply(struct req *r, int rc, const struct err *e, json_t *ok)
{
    if (rc < 0) {
        json_decref(ok);
        if (rc == TRAWL_ESTALE || rc == TRAWL_ESTATE)
            return api_reply_error(r, 409, "%s%s",
                                   strstr(e->msg, "lease lost") ? "" : "lease lost: ", e->msg);
        return api_reply_err(r, e);
    }
    return api_reply(r, 200, ok);
}

enum MHD_Result api_jobs_heartbeat(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    int64_t lease_ms = 0;
    struct job_fence f;
    struct heartbeat hb = {0};
    int64_t progress = -1;
    const char *stage = NULL;
    if (!read_fence(r, &f) || !api_get_int(r, r->json, "progress", 0, 100, &progress) ||
        !api_get_str(r, r->json, "stage", JOB_KEY_MAX, &stage) ||
        !api_get_int(r, r->json, "leaseMs", 1000, 24 * 3600 * 1000, &lease_ms)) {
        job_release(&j);
        return MHD_YES;
    }
    f.type = j.type;
    f.workspace = j.workspace;
    f.batch_id = j.batch_id;
    f.root_id = j.root_id;
    f.started_at = j.started_at;
    char *cp = NULL;
    json_t *c = json_object_get(r->json, "checkpoint");
    if (c && !json_is_null(c)) {
        cp = json_dumps(c, JSON_COMPACT | JSON_ENCODE_ANY);
        hb.set |= UPD_CHECKPOINT;
        hb.checkpoint = cp;
    }
    if (progress >= 0) {
        hb.set |= UPD_PROGRESS;
        hb.progress = (int)progress;
    }
    if (stage) {
        hb.set |= UPD_STAGE;
        hb.stage = stage;
    }
    /* without leaseMs: as long as the lease held (the claim's or the last heartbeat's) */
    struct job_type_config cfg;
    engine_type(r->api->deps.eng, j.type, &cfg);
    int64_t held = j.lease_expires_at - j.last_heartbeat;
    hb.lease_ms = lease_ms ? lease_ms : held > 0 ? held : cfg.lease_ms;
    struct err e;
    err_clear(&e);
    int rc = engine_heartbeat(r->api->deps.eng, &f, &hb, &e);
    free(cp);
    job_release(&j);
    json_t *ok = api_ok();
    json_object_set_new(ok, "leaseExpiresAt", api_time(engine_now(r->api->deps.eng) + hb.lease_ms));
    return fenced_reply(r, rc, &e, ok);
}

enum MHD_Result api_jobs_complete(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    struct job_fence f;
    if (!read_fence(r, &f)) {
        job_release(&j);
        return MHD_YES;
    }
    f.type = j.type;
    f.workspace = j.workspace;
    f.batch_id = j.batch_id;
    f.root_id = j.root_id;
    f.started_at = j.started_at;
    /* a job nothing waits for completes in a group with others */
    f.plain = j.successors == 0 && !j.join_id;
    struct err e;
    err_clear(&e);
    json_t *kids = json_object_get(r->json, "children");
    struct job_children *children = NULL;
    if (kids && !json_is_null(kids)) {
        if (!json_is_array(kids)) {
            job_release(&j);
            return api_reply_error(r, 400, "children must be an array of job specs");
        }
        if (json_array_size(kids) > FANOUT_MAX) {
            job_release(&j);
            return api_reply_error(r, 413, "children: at most %d per completion", FANOUT_MAX);
        }
        children = engine_children_new();
        struct spec_mem mem = {0};
        for (size_t i = 0; i < json_array_size(kids); i++) {
            char where[32];
            snprintf(where, sizeof where, "children[%zu]", i);
            struct job_spec s;
            if (!api_read_spec(r, json_array_get(kids, i), where, &s, &mem)) {
                spec_mem_release(&mem);
                engine_children_free(children);
                job_release(&j);
                return MHD_YES;
            }
            int rc = engine_children_add(r->api->deps.eng, children, &s, &e);
            if (rc) {
                spec_mem_release(&mem);
                engine_children_free(children);
                job_release(&j);
                camel_case_fields(e.msg, sizeof e.msg);
                return api_reply_err(r, &e);
            }
        }
        spec_mem_release(&mem);
    }
    char *result = NULL;
    json_t *v = json_object_get(r->json, "result");
    if (v && !json_is_null(v))
        result = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t nchildren = engine_children_count(children);
    int rc = engine_complete_children(r->api->deps.eng, &f, result, children, &e);
    free(result);
    job_release(&j);
    if (rc == 0 && nchildren) {
        json_t *ok = api_ok();
        json_object_set_new(ok, "status", json_string("completed"));
        json_object_set_new(ok, "children", json_integer((json_int_t)nchildren));
        return fenced_reply(r, rc, &e, ok);
    }
    json_t *ok = api_ok();
    json_object_set_new(ok, "status", json_string("completed"));
    return fenced_reply(r, rc, &e, ok);
}

enum MHD_Result api_jobs_fail(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    job_release(&j);
    struct job_fence f;
    const char *error = NULL;
    bool retryable = true;
    if (!read_fence(r, &f) || !api_get_str(r, r->json, "error", 4096, &error) ||
        !api_get_bool(r, r->json, "retryable", &retryable))
        return MHD_YES;
    if (!error)
        return api_reply_error(r, 400, "error is required: say why the job failed");
    struct err e;
    err_clear(&e);
    int rc = engine_fail(r->api->deps.eng, &f, error, retryable, &e);
    json_t *ok = api_ok();
    if (rc >= 0)
        json_object_set_new(ok, "status", json_string(job_status_name(rc)));
    return fenced_reply(r, rc, &e, ok);
}
