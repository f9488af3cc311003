/* Schedules over HTTP: create one (a cron expression or "@every D", its time zone, a job spec, a
 * missed policy), list them, get one by id or name, pause, resume and delete it. The scheduler
 * (engine/scheduler.h) turns their slots into jobs. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "engine/cron.h"
#include "engine/scheduler.h"
#include "engine/spec_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *schedule_json(const struct schedule *sc)
{
    json_t *job = sc->job ? json_loads(sc->job, 0, NULL) : NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:o, s:o, s:o, s:I, s:o, s:o}", "id",
                     sc->id, "name", sc->name ? sc->name : "", "cron", sc->cron ? sc->cron : "",
                     "timezone", sc->timezone ? sc->timezone : "", "missed",
                     schedule_missed_name(sc->missed), "job", job ? job : json_null(), "paused",
                     sc->paused, "nextRunAt", api_time(sc->next_slot), "lastRunAt",
                     api_time(sc->last_slot), "lastJobId",
                     sc->last_job_id ? json_string(sc->last_job_id) : json_null(), "skippedSlots",
                     (json_int_t)sc->skipped, "createdAt", api_time(sc->created_at), "updatedAt",
                     api_time(sc->updated_at));
}

/* Answer status with {"success": true, "schedule": ...} for the schedule key names, read again. */
static enum MHD_Result reply_schedule(struct req *r, unsigned status, const char *key)
{
    struct schedule sc;
    struct err e;
    err_clear(&e);
    if (store_schedule_get(engine_store(r->api->deps.eng), r->workspace, key, false, &sc, &e))
        return api_reply_err(r, &e);
    json_t *body = api_ok();
    json_object_set_new(body, "schedule", schedule_json(&sc));
    schedule_release(&sc);
    return api_reply(r, status, body);
}

static int add_fn(struct store *s, void *arg, struct err *e)
{
    return store_schedule_add(s, arg, e);
}

/* Fields of a job spec that a slot sets, or that would make every slot's job the same job. */
static const char *const per_slot_[] = {"runAt", "delayMs", "uniqueKey", "parentId"};

enum MHD_Result api_schedules_create(struct req *r)
{
    if (!r->json)
        return api_reply_error(r, 400,
                               "the body must be {\"name\": ..., \"cron\": ..., \"job\": {...}}");
    static const char *const keys[] = {"name", "cron", "timezone", "job", "missed"};
    const char *k;
    json_t *v;
    json_object_foreach(r->json, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known)
            return api_reply_error(r, 400, "unknown field \"%.64s\"", k);
    }
    struct schedule sc = {.timezone = "UTC", .missed = MISSED_SKIP};
    const char *missed = NULL;
    if (!api_get_str(r, r->json, "name", SCHEDULE_NAME_MAX, (const char **)&sc.name) ||
        !api_get_str(r, r->json, "cron", CRON_EXPR_MAX, (const char **)&sc.cron) ||
        !api_get_str(r, r->json, "timezone", CRON_ZONE_MAX, (const char **)&sc.timezone) ||
        !api_get_str(r, r->json, "missed", 8, &missed))
        return MHD_YES;
    if (!sc.name)
        return api_reply_error(r, 400, "name is required: what the schedule is called");
    if (!sc.cron)
        return api_reply_error(r, 400,
                               "cron is required: \"*/5 * * * *\", \"@hourly\", \"@every 30s\"");
    if (missed) {
        int m = schedule_missed_parse(missed);
        if (m < 0)
            return api_reply_error(r, 400, "missed must be \"skip\", \"once\" or \"all\"");
        sc.missed = (enum schedule_missed)m;
    }
    json_t *job = json_object_get(r->json, "job");
    if (!json_is_object(job))
        return api_reply_error(r, 400, "job is required: a job spec as POST /v1/jobs takes it");
    for (size_t i = 0; i < sizeof per_slot_ / sizeof per_slot_[0]; i++)
        if (json_object_get(job, per_slot_[i]))
            return api_reply_error(r, 400,
                                   "job: %s is not taken in a schedule (each slot is one job, "
                                   "due at its slot)",
                                   per_slot_[i]);
    struct engine *eng = r->api->deps.eng;
    struct err e;
    err_clear(&e);
    struct job_spec spec;
    struct spec_mem mem = {0};
    bool ok = api_read_spec(r, job, "job", &spec, &mem);
    if (ok && engine_check_spec(eng, &spec, &e) != 0) {
        api_reply_error(r, 400, "job: %s", e.msg);
        ok = false;
    }
    spec_mem_release(&mem);
    if (!ok)
        return MHD_YES;
    sc.workspace = (char *)r->workspace;
    if (schedule_prepare(eng, &sc, &e) != 0)
        return api_reply_err(r, &e);
    sc.job = json_dumps(job, JSON_COMPACT);
    int rc = engine_exec(eng, add_fn, &sc, &e);
    free(sc.job);
    if (rc == TRAWL_ESTATE)
        return api_reply_error(r, 409, "%s", e.msg);
    if (rc)
        return api_reply_err(r, &e);
    return reply_schedule(r, 201, sc.id);
}

enum MHD_Result api_schedules_list(struct req *r)
{
    struct schedule *list;
    size_t n;
    struct err e;
    err_clear(&e);
    if (store_schedule_list(engine_store(r->api->deps.eng), r->workspace, &list, &n, &e) < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, schedule_json(&list[i]));
    schedule_array_free(list, n);
    json_t *body = api_ok();
    json_object_set_new(body, "schedules", arr);
    return api_reply(r, 200, body);
}

/* The schedule the path names (id or name) in the caller's workspace; on failure the reply has
 * been sent and false is returned. */
static bool own_schedule(struct req *r, struct schedule *sc)
{
    struct err e;
    err_clear(&e);
    int rc = store_schedule_get(engine_store(r->api->deps.eng), r->workspace, r->params[0], false,
                                sc, &e);
    if (rc == TRAWL_ENOTFOUND)
        api_reply_error(r, 404, "schedule %s not found", r->params[0]);
    else if (rc)
        api_reply_err(r, &e);
    return rc == 0;
}

enum MHD_Result api_schedules_get(struct req *r)
{
    struct schedule sc;
    if (!own_schedule(r, &sc))
        return MHD_YES;
    json_t *body = api_ok();
    json_object_set_new(body, "schedule", schedule_json(&sc));
    schedule_release(&sc);
    return api_reply(r, 200, body);
}

struct pause_arg {
    const char *id;
    bool paused;
    int64_t next_slot, now;
};

static int pause_fn(struct store *s, void *arg, struct err *e)
{
    struct pause_arg *a = arg;
    return store_schedule_set_paused(s, a->id, a->paused, a->next_slot, a->now, e);
}

/* Pause, or resume from the first slot after now: the slots of a pause are not made up. */
static enum MHD_Result set_paused(struct req *r, bool paused)
{
    struct schedule sc;
    if (!own_schedule(r, &sc))
        return MHD_YES;
    struct engine *eng = r->api->deps.eng;
    struct err e;
    err_clear(&e);
    struct pause_arg a = {.id = sc.id, .paused = paused, .now = engine_now(eng)};
    int rc = 0;
    if (sc.paused != paused) {
        rc = paused ? 0 : schedule_next_slot(&sc, a.now, &a.next_slot, &e);
        if (!rc)
            rc = engine_exec(eng, pause_fn, &a, &e);
    }
    char id[UUID_STR_LEN];
    memcpy(id, sc.id, sizeof id);
    schedule_release(&sc);
    return rc ? api_reply_err(r, &e) : reply_schedule(r, 200, id);
}

enum MHD_Result api_schedules_pause(struct req *r)
{
    return set_paused(r, true);
}

enum MHD_Result api_schedules_resume(struct req *r)
{
    return set_paused(r, false);
}

static int delete_fn(struct store *s, void *arg, struct err *e)
{
    return store_schedule_delete(s, arg, e);
}

enum MHD_Result api_schedules_delete(struct req *r)
{
    struct schedule sc;
    if (!own_schedule(r, &sc))
        return MHD_YES;
    struct err e;
    err_clear(&e);
    int rc = engine_exec(r->api->deps.eng, delete_fn, sc.id, &e);
    schedule_release(&sc);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404, "schedule %s not found", r->params[0]);
    if (rc)
        return api_reply_err(r, &e);
    json_t *body = api_ok();
    json_object_set_new(body, "deleted", json_true());
    return api_reply(r, 200, body);
}
