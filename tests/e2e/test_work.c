/* trawl work --once as cron runs it: on a database with jobs in it, it runs up to its limit and
 * says so; a failure makes its exit status 1; and beside a running trawl serve on the same
 * database, with both taking the same types, every job runs exactly once: one claim, one
 * completion, attempt 1, even for jobs that outlive their lease while serve's monitor sweeps, and
 * no "database is locked" anywhere; with serve running only its monitor, a run's long jobs keep
 * their leases. The jobs' histories are read from the database itself once
 * the processes are done, as an operator would. */
#include "e2eutil.h"

#include "engine/engine.h"
#include "engine/scheduler.h"
#include "store/store.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct engine *open_db(const char *path)
{
    struct store *s;
    struct err e = {0};
    cr_assert_eq(store_open(path, STORE_DURABLE, &s, &e), 0, "%s", e.msg);
    struct engine *eng;
    cr_assert_eq(engine_open(s, NULL, &eng, &e), 0, "%s", e.msg);
    return eng;
}

static int64_t count(const char *db, enum job_status st)
{
    struct engine *eng = open_db(db);
    int64_t c[JOB_STATUS_COUNT];
    struct err e = {0};
    cr_assert_eq(engine_counts(eng, c, &e), 0, "%s", e.msg);
    engine_close(eng);
    return c[st];
}

Test(work, runs_up_to_its_limit_and_says_so)
{
    const char *db = e2e_db("trawl.db");
    struct run r;
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "20", "noop");
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "work", "--once", "--db", db, "--limit", "7");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "work: 7 jobs: 7 completed, 0 retrying, 0 failed (") == r.out,
              "summary: %s", r.out);
    cr_assert_eq(count(db, JOB_COMPLETED), 7);
    cr_assert_eq(count(db, JOB_PENDING), 13);
    /* the rest, as the next cron run would */
    E2E_RUN(&r, NULL, "work", "--once", "--db", db, "--json");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "{\"jobs\":13,\"completed\":13,") == r.out, "summary: %s", r.out);
    cr_assert_eq(count(db, JOB_COMPLETED), 20);
    /* cron gives no --db: refused, not an empty database in the home directory */
    const char *const no_db[] = {"TRAWL_DB=", NULL};
    E2E_RUN(&r, no_db, "work", "--once");
    cr_assert_eq(r.status, 2);
    cr_assert(strstr(r.err, "--db PATH is required") != NULL, "%s", r.err);
}

/* A job that fails for good and one that will retry both make the exit status 1. */
Test(work, failures_make_exit_status_1)
{
    struct origin o;
    e2e_origin(&o, NULL);
    const char *db = e2e_db("trawl.db");
    struct run r;
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "3", "noop");
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "sleep", "{\"ms\":\"soon\"}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "work", "--once", "--db", db);
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "work: 4 jobs: 3 completed, 0 retrying, 1 failed (") == r.out,
              "summary: %s", r.out);

    char args[256];
    snprintf(args, sizeof args, "{\"url\":\"%s/flaky?key=w&fail=9&code=503\"}", o.base);
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "crawl", args);
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "work", "--once", "--db", db, "--types", "crawl", "--allow-private",
            "127.0.0.2/32");
    cr_assert_eq(r.status, 1, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "work: 1 job: 0 completed, 1 retrying, 0 failed (") == r.out,
              "summary: %s", r.out);
    cr_assert_eq(count(db, JOB_RETRYING), 1);
    e2e_origin_stop(&o);
}

static pid_t start_work(const char *db, const char *out, const char *err, const char *const *args)
{
    const char *argv[32] = {"work", "--once", "--db", db};
    int k = 4;
    for (; *args && k < 30; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    return e2e_start(argv, out, err);
}

/* One claim and one completion in the job's history, in attempt 1. */
static void assert_ran_once(struct engine *eng, const char *id)
{
    struct job_event *ev;
    size_t n;
    struct err e = {0};
    cr_assert_geq(engine_events(eng, id, &ev, &n, &e), 0, "%s", e.msg);
    int claims = 0, completions = 0;
    for (size_t i = 0; i < n; i++) {
        if (ev[i].from == JOB_PENDING && ev[i].to == JOB_PROCESSING)
            claims++;
        if (ev[i].to == JOB_COMPLETED)
            completions++;
        cr_assert_eq(ev[i].attempt <= 1, true, "job %s: attempt %d: %s", id, ev[i].attempt,
                     ev[i].message ? ev[i].message : "");
    }
    cr_assert_eq(claims, 1, "job %s claimed %d times", id, claims);
    cr_assert_eq(completions, 1, "job %s completed %d times", id, completions);
    job_events_free(ev, n);
}

/* Two cron runs at once beside serve, all three taking sleep and noop jobs. The long sleeps
 * outlive their 2 s lease while serve's monitor sweeps every 100 ms: whoever runs them must
 * heartbeat, and nobody's monitor may take them. (The lease leaves room for three processes
 * that take turns at the database's write lock under the sanitizers.) */
Test(work, beside_serve_every_job_runs_exactly_once, .timeout = 120)
{
    const char *db0 = e2e_db("trawl.db");
    char db[1100];
    snprintf(db, sizeof db, "%s", db0);
    struct run r;
    /* the database exists before serve starts, as cron finds it */
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "300", "noop");
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "200", "sleep", "{\"ms\":20}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "8", "sleep",
            "{\"ms\":3000,\"step_ms\":3000}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    struct serve s;
    /* serve holds only a few jobs at a time (--batch 2), so the workers get their share */
    E2E_SERVE(&s, db, "--workers", "2", "--batch", "2", "--crawl-workers", "0", "--sweep", "100",
              "--type", "sleep.lease_ms=2000");
    char out1[1100], err1[1100], out2[1100], err2[1100];
    snprintf(out1, sizeof out1, "%s", e2e_path("work1.out"));
    snprintf(err1, sizeof err1, "%s", e2e_path("work1.err"));
    snprintf(out2, sizeof out2, "%s", e2e_path("work2.out"));
    snprintf(err2, sizeof err2, "%s", e2e_path("work2.err"));
    const char *args[] = {"--limit", "1000",   "--concurrency",       "4",
                          "--json",  "--type", "sleep.lease_ms=2000", NULL};
    pid_t w1 = start_work(db, out1, err1, args);
    pid_t w2 = start_work(db, out2, err2, args);
    int st1 = e2e_reap(w1), st2 = e2e_reap(w2);
    char o1[4096], o2[4096], e1[16384], e2[16384];
    e2e_read_tail(out1, o1, sizeof o1);
    e2e_read_tail(out2, o2, sizeof o2);
    e2e_read_tail(err1, e1, sizeof e1);
    e2e_read_tail(err2, e2, sizeof e2);
    cr_assert_eq(st1, 0, "work 1: status %d: %s %s", st1, o1, e1);
    cr_assert_eq(st2, 0, "work 2: status %d: %s %s", st2, o2, e2);
    json_error_t je;
    json_t *j1 = json_loads(o1, 0, &je), *j2 = json_loads(o2, 0, &je);
    cr_assert(j1 && j2, "summaries: %s / %s", o1, o2);
    json_int_t done1 = json_integer_value(json_object_get(j1, "completed"));
    json_int_t done2 = json_integer_value(json_object_get(j2, "completed"));
    cr_assert_eq(json_integer_value(json_object_get(j1, "jobs")), done1, "%s", o1);
    cr_assert_eq(json_integer_value(json_object_get(j2, "jobs")), done2, "%s", o2);
    cr_assert_gt(done1 + done2, 0, "the workers ran nothing: %s / %s", o1, o2);
    json_decref(j1);
    json_decref(j2);
    /* serve finishes what the workers left */
    for (int t = 0; t < 30000 && count(db, JOB_COMPLETED) < 508; t += 100)
        e2e_sleep_ms(100);
    cr_assert_eq(e2e_serve_stop(&s, 10000), 0);
    cr_assert_eq(count(db, JOB_COMPLETED), 508, "%s", e2e_serve_log(&s));
    const char *log = e2e_serve_log(&s);
    cr_assert_null(strstr(log, "locked"), "serve: %s", log);
    cr_assert_null(strstr(e1, "locked"), "work 1: %s", e1);
    cr_assert_null(strstr(e2, "locked"), "work 2: %s", e2);
    cr_assert_null(strstr(log, "heartbeat timeout"), "serve's monitor took a lease: %s", log);

    struct engine *eng = open_db(db);
    struct job *jobs;
    size_t n;
    struct err e = {0};
    struct job_filter f = {.limit = 10000};
    cr_assert_geq(engine_list(eng, "completed", &f, &jobs, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 508);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(jobs[i].attempt, 1, "job %s ran %d times", jobs[i].id, jobs[i].attempt);
        assert_ran_once(eng, jobs[i].id);
    }
    job_array_free(jobs, n);
    engine_close(eng);
}

/* Serve runs no built-in types here (--workers 0), only its monitor, sweeping every 50 ms: the
 * sleeps that work --once runs outlive their 500 ms lease four times over, and keep it because the
 * run heartbeats them. */
Test(work, serve_s_monitor_leaves_a_run_s_leases_alone, .timeout = 60)
{
    const char *db0 = e2e_db("trawl.db");
    char db[1100];
    snprintf(db, sizeof db, "%s", db0);
    struct run r;
    E2E_RUN(&r, NULL, "enqueue", "--db", db, "--count", "6", "sleep",
            "{\"ms\":2000,\"step_ms\":2000}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    struct serve s;
    E2E_SERVE(&s, db, "--workers", "0", "--crawl-workers", "0", "--sweep", "50", "--type",
              "sleep.lease_ms=500");
    E2E_RUN(&r, NULL, "work", "--once", "--db", db, "--concurrency", "6", "--type",
            "sleep.lease_ms=500");
    cr_assert_eq(r.status, 0, "exit %d: %s %s", r.status, r.out, r.err);
    cr_assert(strstr(r.out, "work: 6 jobs: 6 completed, 0 retrying, 0 failed (") == r.out,
              "summary: %s", r.out);
    cr_assert_eq(e2e_serve_stop(&s, 10000), 0);
    const char *log = e2e_serve_log(&s);
    cr_assert_null(strstr(log, "heartbeat timeout"), "serve's monitor took a lease: %s", log);
    struct engine *eng = open_db(db);
    struct job *jobs;
    size_t n;
    struct err e = {0};
    struct job_filter f = {.limit = 100};
    cr_assert_geq(engine_list(eng, "completed", &f, &jobs, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_ran_once(eng, jobs[i].id);
    job_array_free(jobs, n);
    engine_close(eng);
}

static int add_schedule_fn(struct store *s, void *arg, struct err *e)
{
    return store_schedule_add(s, arg, e);
}

/* With no trawl serve at all, the schedules' slots still run: each work --once makes the due
 * slots jobs first (as serve's scheduler would), each slot once however often it runs. */
Test(work, runs_the_slots_of_schedules_without_serve, .timeout = 60)
{
    const char *db = e2e_db("trawl.db");
    struct engine *eng = open_db(db);
    struct schedule sc = {.workspace = "default",
                          .name = "every-second",
                          .cron = "@every 1s",
                          .timezone = "UTC",
                          .job = "{\"type\":\"noop\"}",
                          .missed = MISSED_ALL};
    struct err e = {0};
    cr_assert_eq(schedule_prepare(eng, &sc, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_exec(eng, add_schedule_fn, &sc, &e), 0, "%s", e.msg);
    engine_close(eng);
    e2e_sleep_ms(2500);
    struct run r;
    E2E_RUN(&r, NULL, "work", "--once", "--db", db);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    int64_t first = count(db, JOB_COMPLETED);
    cr_assert_geq(first, 2, "%s", r.out);
    E2E_RUN(&r, NULL, "work", "--once", "--db", db);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    e2e_sleep_ms(1200);
    E2E_RUN(&r, NULL, "work", "--once", "--db", db);
    int64_t later = count(db, JOB_COMPLETED);
    cr_assert_geq(later, first + 1, "%s", r.out);
    cr_assert_leq(later, first + 3, "a slot ran twice: %lld then %lld", (long long)first,
                  (long long)later);
}
