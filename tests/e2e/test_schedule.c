/* Schedules end to end: a real trawl serve driven over HTTP and with `trawl schedules`. An
 * "@every 1s" schedule enqueues jobs that the built-in workers complete; pausing stops it,
 * resuming goes on, deleting ends it; bad schedules get a 400 naming the field, a taken name a
 * 409. Across a stop of the server, "all" makes up every missed slot and "skip" none (counted). */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

/* How many jobs of schedule id the server lists, and how many of them completed. */
static size_t slot_jobs(const struct serve *s, const char *tok, const char *id, size_t *completed)
{
    struct resp r;
    e2e_call(&r, s, "GET", "/v1/jobs?type=noop&limit=1000", tok, NULL);
    OK_STATUS(r, 200);
    size_t n = 0, i;
    *completed = 0;
    json_t *j;
    json_array_foreach(json_object_get(r.json, "jobs"), i, j)
    {
        const char *sid = json_string_value(json_object_get(j, "schedule_id"));
        if (!sid || strcmp(sid, id) != 0)
            continue;
        n++;
        *completed += strcmp(json_string_value(json_object_get(j, "status")), "completed") == 0;
    }
    e2e_resp_release(&r);
    return n;
}

static void refused(const struct serve *s, const char *tok, json_t *body, long status,
                    const char *needle)
{
    struct resp r;
    e2e_call(&r, s, "POST", "/v1/schedules", tok, body);
    cr_assert_eq(r.status, status, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), needle), "'%s' lacks '%s'", e2e_err(&r), needle);
    e2e_resp_release(&r);
}

Test(schedule_api, a_schedule_runs_pauses_resumes_and_is_deleted, .timeout = 60)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0");
    const char *tok = e2e_token(s.db, "acme");
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/schedules", tok,
             json_pack("{s:s, s:s, s:{s:s, s:{s:i}}}", "name", "heartbeat", "cron", "@every 1s",
                       "job", "type", "noop", "args", "n", 1));
    OK_STATUS(r, 201);
    json_t *sc = json_object_get(r.json, "schedule");
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(sc, "id")));
    /* the shape the dashboard reads */
    cr_assert_str_eq(json_string_value(json_object_get(sc, "name")), "heartbeat");
    cr_assert_str_eq(json_string_value(json_object_get(sc, "cron")), "@every 1s");
    cr_assert_str_eq(json_string_value(json_object_get(sc, "timezone")), "UTC");
    cr_assert_str_eq(json_string_value(json_object_get(sc, "missed")), "skip");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(sc, "job"), "type")),
                     "noop");
    cr_assert(json_is_false(json_object_get(sc, "paused")));
    cr_assert(json_is_string(json_object_get(sc, "nextRunAt")));
    cr_assert(json_is_null(json_object_get(sc, "lastRunAt")));
    cr_assert(json_is_null(json_object_get(sc, "lastJobId")));
    cr_assert(json_is_string(json_object_get(sc, "createdAt")));
    e2e_resp_release(&r);

    /* jobs come, one a second, and the workers complete them */
    size_t n = 0, done = 0;
    for (int i = 0; i < 100 && done < 2; i++) {
        e2e_sleep_ms(100);
        n = slot_jobs(&s, tok, id, &done);
    }
    cr_assert_geq(done, 2, "%zu slot jobs, %zu completed\n%s", n, done, e2e_serve_log(&s));
    e2e_call(&r, &s, "GET", "/v1/schedules/heartbeat", tok, NULL);
    OK_STATUS(r, 200);
    sc = json_object_get(r.json, "schedule");
    cr_assert(json_is_string(json_object_get(sc, "lastRunAt")), "%s", r.body);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", json_string_value(json_object_get(sc, "lastJobId")));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", path, tok, NULL);
    OK_STATUS(r, 200);
    json_t *job = json_object_get(r.json, "job") ? json_object_get(r.json, "job") : r.json;
    char prefix[128];
    snprintf(prefix, sizeof prefix, "schedule:%s:", id);
    const char *key = json_string_value(json_object_get(job, "unique_key"));
    cr_assert(key && strncmp(key, prefix, strlen(prefix)) == 0, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(job, "args"), "n")), 1,
                 "the args as given: %s", r.body);
    e2e_resp_release(&r);

    /* the CLI lists it */
    char env_server[128], env_token[160];
    snprintf(env_server, sizeof env_server, "TRAWL_SERVER=%s", s.base);
    snprintf(env_token, sizeof env_token, "TRAWL_TOKEN=%s", tok);
    struct run run;
    E2E_RUN(&run, ((const char *const[]){env_server, env_token, NULL}), "schedules");
    cr_assert_eq(run.status, 0, "%s%s", run.out, run.err);
    cr_assert(strstr(run.out, "heartbeat") && strstr(run.out, "@every 1s") &&
                  strstr(run.out, "active"),
              "%s", run.out);

    /* paused: no more jobs */
    snprintf(path, sizeof path, "/v1/schedules/%s/pause", id);
    e2e_call(&r, &s, "POST", path, tok, json_object());
    OK_STATUS(r, 200);
    cr_assert(json_is_true(json_object_get(json_object_get(r.json, "schedule"), "paused")));
    e2e_resp_release(&r);
    size_t at_pause = slot_jobs(&s, tok, id, &done);
    e2e_sleep_ms(2500);
    cr_assert_eq(slot_jobs(&s, tok, id, &done), at_pause, "a paused schedule enqueued jobs");
    E2E_RUN(&run, ((const char *const[]){env_server, env_token, NULL}), "schedule", "resume",
            "heartbeat");
    cr_assert_eq(run.status, 0, "%s%s", run.out, run.err);
    cr_assert(strstr(run.out, "heartbeat active"), "%s", run.out);
    size_t later = at_pause;
    for (int i = 0; i < 50 && later < at_pause + 2; i++) {
        e2e_sleep_ms(100);
        later = slot_jobs(&s, tok, id, &done);
    }
    cr_assert_geq(later, at_pause + 2, "resumed, it goes on");

    /* what bad schedules get, and a user key in the schedules' space */
    refused(&s, tok,
            json_pack("{s:s, s:s, s:{s:s}}", "name", "b", "cron", "*/5 25 * * *", "job", "type",
                      "noop"),
            400, "field 2 (hour) \"25\"");
    refused(&s, tok,
            json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "b", "cron", "@hourly", "timezone",
                      "Europe/Nowhere", "job", "type", "noop"),
            400, "timezone \"Europe/Nowhere\"");
    refused(&s, tok,
            json_pack("{s:s, s:s, s:{s:i}}", "name", "b", "cron", "@hourly", "job", "priority", 1),
            400, "job: type is required");
    refused(&s, tok,
            json_pack("{s:s, s:s, s:{s:s, s:i}}", "name", "b", "cron", "@hourly", "job", "type",
                      "noop", "runAt", 5),
            400, "runAt is not taken");
    refused(&s, tok,
            json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "b", "cron", "@hourly", "missed",
                      "sometimes", "job", "type", "noop"),
            400, "missed must be");
    refused(&s, tok,
            json_pack("{s:s, s:s, s:{s:s}}", "name", "heartbeat", "cron", "@hourly", "job", "type",
                      "noop"),
            409, "exists already");
    e2e_call(&r, &s, "POST", "/v1/jobs", tok,
             json_pack("{s:s, s:s}", "type", "noop", "uniqueKey", "schedule:mine"));
    cr_assert_eq(r.status, 400, "%s", r.body);
    e2e_resp_release(&r);

    /* deleted: gone, and no more jobs */
    snprintf(path, sizeof path, "/v1/schedules/%s", id);
    e2e_call(&r, &s, "DELETE", path, tok, NULL);
    OK_STATUS(r, 200);
    cr_assert(json_is_true(json_object_get(r.json, "deleted")), "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", path, tok, NULL);
    OK_STATUS(r, 404);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/schedules", tok, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "schedules")), 0, "%s", r.body);
    e2e_resp_release(&r);
    size_t at_delete = slot_jobs(&s, tok, id, &done);
    e2e_sleep_ms(1500);
    cr_assert_eq(slot_jobs(&s, tok, id, &done), at_delete);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

/* The slots of schedule id in the database, in order. */
static size_t disk_slots(const char *db, const char *id, long long *out, size_t max)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT unique_key FROM jobs WHERE unique_key LIKE 'schedule:%s:%%' ORDER BY run_at",
             id);
    struct tdb_rows rows;
    tdb_rows(db, sql, &rows);
    size_t n = 0;
    for (; n < rows.n && n < max; n++)
        out[n] = atoll(strrchr(tdb_cell(&rows, n, 0), ':') + 1);
    tdb_rows_free(&rows);
    return n;
}

static void make(const struct serve *s, const char *tok, const char *name, const char *missed,
                 char id[64])
{
    struct resp r;
    e2e_call(&r, s, "POST", "/v1/schedules", tok,
             json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", name, "cron", "@every 1s", "missed",
                       missed, "job", "type", "noop"));
    OK_STATUS(r, 201);
    snprintf(id, 64, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "schedule"), "id")));
    e2e_resp_release(&r);
}

/* Stopped for three seconds: "all" makes up each slot, "skip" none of them, and says so. */
Test(schedule_api, slots_missed_while_stopped_follow_the_policy, .timeout = 60)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0");
    char db[1100];
    snprintf(db, sizeof db, "%s", s.db);
    const char *tok = e2e_token(db, "default");
    char all[64], skip[64];
    make(&s, tok, "all", "all", all);
    make(&s, tok, "skip", "skip", skip);
    e2e_sleep_ms(2200);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    long long before[64], after[256];
    size_t nb = disk_slots(db, skip, before, 64);
    e2e_sleep_ms(3000);
    E2E_SERVE(&s, db, "--crawl-workers", "0");
    e2e_sleep_ms(2200);
    struct resp r;
    e2e_call(&r, &s, "GET", "/v1/schedules/skip", tok, NULL);
    OK_STATUS(r, 200);
    json_int_t skipped =
        json_integer_value(json_object_get(json_object_get(r.json, "schedule"), "skippedSlots"));
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    size_t n = disk_slots(db, all, after, 256);
    cr_assert_geq(n, 6, "%zu slots", n);
    for (size_t i = 1; i < n; i++)
        cr_assert_eq(after[i], after[i - 1] + 1000, "all: slot %lld follows %lld", after[i],
                     after[i - 1]);
    cr_assert_geq(skipped, 2, "skip: the missed slots are counted (%lld)", (long long)skipped);
    size_t ns = disk_slots(db, skip, after, 256);
    cr_assert_geq(nb, 1);
    bool gap = false;
    for (size_t i = 1; i < ns; i++)
        gap = gap || after[i] - after[i - 1] >= 3000;
    cr_assert(gap, "skip: the slots of the stop have no job");
}
