/* Schedules: the store's schedules domain, and the scheduler's ticks on a clock the test owns:
 * each slot enqueued once however many ticks run, at once or not; the missed policies after a
 * stop (skip, once, all, the last in steps of SCHEDULE_SLOTS_PER_TICK); paused schedules; and no
 * slot half-done when the store fails at any call of a tick. */
#include "engine/scheduler.h"
#include "store/schedule.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0   1765000000000LL /* 2025-12-06T05:46:40Z, a whole second */
#define HOUR 3600000LL

static int add_fn(struct store *s, void *arg, struct err *e)
{
    return store_schedule_add(s, arg, e);
}

/* Make a schedule of job {"type":"noop"} at the engine's now; its id into id. */
static void add(struct engine *eng, const char *name, const char *cron, const char *tz,
                enum schedule_missed missed, char id[UUID_STR_LEN])
{
    struct schedule sc = {.workspace = "default",
                          .name = (char *)name,
                          .cron = (char *)cron,
                          .timezone = (char *)tz,
                          .job = "{\"type\":\"noop\",\"args\":{\"n\":7}}",
                          .missed = missed};
    struct err e = {0};
    cr_assert_eq(schedule_prepare(eng, &sc, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_exec(eng, add_fn, &sc, &e), 0, "%s", e.msg);
    memcpy(id, sc.id, UUID_STR_LEN);
}

static void get(struct engine *eng, const char *key, struct schedule *out)
{
    struct err e = {0};
    cr_assert_eq(store_schedule_get(engine_store(eng), "default", key, false, out, &e), 0, "%s",
                 e.msg);
}

static struct schedule_tick_report tick(struct engine *eng, int64_t started_ms)
{
    struct schedule_tick_report r;
    struct err e = {0};
    cr_assert_eq(schedule_tick(eng, started_ms, &r, &e), 0, "%s", e.msg);
    return r;
}

/* The slots of id's jobs, in order, from the database as committed; checks each job's unique
 * key, run_at and args. Returns how many (at most max). */
static size_t slots(const char *id, int64_t *out, size_t max)
{
    struct tdb_rows r;
    tu_sql_rows(NULL,
                "SELECT unique_key, run_at, args FROM jobs WHERE unique_key LIKE 'schedule:%' "
                "ORDER BY run_at, id",
                &r);
    for (size_t i = 0; i < r.n; i++) {
        int64_t run_at = strtoll(tdb_cell(&r, i, 1), NULL, 10);
        char want[128];
        snprintf(want, sizeof want, "schedule:%s:%lld", id, (long long)run_at);
        cr_assert_str_eq(tdb_cell(&r, i, 0), want, "a slot's job is due at its slot");
        cr_assert_str_eq(tdb_cell(&r, i, 2), "{\"n\":7}");
        if (i < max)
            out[i] = run_at;
    }
    size_t n = r.n;
    tdb_rows_free(&r);
    return n;
}

/* No slot twice, none skipped: jobs for every slot from first, step apart, up to next_slot. */
static size_t assert_consecutive(const char *id, int64_t first, int64_t step)
{
    static int64_t s[8192];
    size_t n = slots(id, s, 8192);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(s[i], first + (int64_t)i * step, "slot %zu is %lld, expected %lld", i,
                     (long long)s[i], (long long)(first + (int64_t)i * step));
    return n;
}

Test(schedule, store_keeps_finds_pauses_and_deletes)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    struct store *s = engine_store(eng);
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    add(eng, "nightly", "30 2 * * *", "Europe/Berlin", MISSED_ONCE, a);
    add(eng, "every-minute", "* * * * *", "UTC", MISSED_SKIP, b);
    struct schedule sc = {.workspace = "default",
                          .name = "nightly",
                          .cron = "@hourly",
                          .timezone = "UTC",
                          .job = "{\"type\":\"noop\"}"};
    struct err e = {0};
    cr_assert_eq(schedule_prepare(eng, &sc, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_exec(eng, add_fn, &sc, &e), TRAWL_ESTATE, "a taken name");
    cr_assert(strstr(e.msg, "exists already"), "%s", e.msg);

    struct schedule got;
    get(eng, "nightly", &got);
    cr_assert_str_eq(got.id, a);
    cr_assert_str_eq(got.timezone, "Europe/Berlin");
    cr_assert_eq(got.missed, MISSED_ONCE);
    /* 02:30 in Berlin (CET, UTC+1) is 01:30 UTC; T0 is 05:46 UTC: the next is tomorrow's */
    cr_assert_eq(got.next_slot, 1765071000000LL, "%lld", (long long)got.next_slot);
    cr_assert_eq(got.last_slot, 0);
    schedule_release(&got);
    get(eng, b, &got);
    cr_assert_str_eq(got.name, "every-minute");
    cr_assert_eq(got.next_slot, T0 + 20000, "the next whole minute");
    schedule_release(&got);

    struct schedule *list;
    size_t n;
    cr_assert_eq(store_schedule_list(s, "default", &list, &n, &e), 2);
    cr_assert_str_eq(list[0].name, "every-minute", "by name");
    schedule_array_free(list, n);
    cr_assert_eq(store_schedule_list(s, "other", &list, &n, &e), 0, "per workspace");
    schedule_array_free(list, n);

    int64_t at;
    cr_assert_eq(store_schedule_next_due(s, &at, &e), 0);
    cr_assert_eq(at, T0 + 20000);
    cr_assert_eq(store_schedule_due(s, T0 + 19999, 10, &list, &n, &e), 0);
    schedule_array_free(list, n);
    cr_assert_eq(store_schedule_due(s, T0 + 20000, 10, &list, &n, &e), 1);
    cr_assert_str_eq(list[0].id, b);
    schedule_array_free(list, n);

    /* the guard: only from the next_slot read, and never while paused */
    struct schedule_step st = {.id = b, .expect_next = T0, .next_slot = T0 + 80000, .now = T0};
    cr_assert_eq(store_begin(s, &e), 0);
    cr_assert_eq(store_schedule_advance(s, &st, &e), 0, "a stale next_slot moves nothing");
    st.expect_next = T0 + 20000;
    st.last_slot = T0 + 20000;
    cr_assert_eq(store_schedule_advance(s, &st, &e), 1, "%s", e.msg);
    cr_assert_eq(store_schedule_advance(s, &st, &e), 0, "not twice from the same slot");
    cr_assert_eq(store_schedule_set_paused(s, a, true, 0, T0, &e), 0);
    st.id = a;
    st.expect_next = 1765071000000LL;
    cr_assert_eq(store_schedule_advance(s, &st, &e), 0, "paused");
    cr_assert_eq(store_commit(s, &e), 0, "%s", e.msg);
    get(eng, b, &got);
    cr_assert_eq(got.next_slot, T0 + 80000);
    cr_assert_eq(got.last_slot, T0 + 20000);
    schedule_release(&got);
    get(eng, a, &got);
    cr_assert(got.paused);
    schedule_release(&got);
    cr_assert_eq(store_schedule_next_due(s, &at, &e), 0);
    cr_assert_eq(at, T0 + 80000, "a paused schedule is never due");

    cr_assert_eq(store_begin(s, &e), 0);
    cr_assert_eq(store_schedule_set_paused(s, a, false, T0 + HOUR, T0, &e), 0);
    cr_assert_eq(store_schedule_delete(s, b, &e), 0);
    cr_assert_eq(store_schedule_delete(s, b, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(store_commit(s, &e), 0, "%s", e.msg);
    get(eng, "nightly", &got);
    cr_assert(!got.paused);
    cr_assert_eq(got.next_slot, T0 + HOUR, "resumed from the slot given");
    schedule_release(&got);
    cr_assert_eq(store_schedule_get(s, "default", b, false, &got, &e), TRAWL_ENOTFOUND);
    engine_close(eng);
}

Test(schedule, bad_schedules_are_refused_with_the_field)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct schedule sc = {
        .workspace = "default", .name = "x", .cron = "0,30 25 * * *", .timezone = "UTC"};
    struct err e = {0};
    cr_assert_eq(schedule_prepare(eng, &sc, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "field 2 (hour)"), "%s", e.msg);
    sc.cron = "@hourly";
    sc.timezone = "Mars/Olympus";
    cr_assert_eq(schedule_prepare(eng, &sc, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "timezone \"Mars/Olympus\""), "%s", e.msg);
    sc.timezone = "UTC";
    sc.cron = "0 0 30 2 *";
    cr_assert_eq(schedule_prepare(eng, &sc, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "never runs"), "%s", e.msg);
    sc.cron = "@hourly";
    sc.name = "01a24f2c-7b55-7000-922f-57990a94958d";
    cr_assert_eq(schedule_prepare(eng, &sc, &e), TRAWL_EINVAL, "a name that reads as an id");
    engine_close(eng);
}

/* Each slot once, whether one tick or many look at it. */
Test(schedule, each_slot_is_enqueued_once)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0 + 300); /* "@every" counts from the second of the creation */
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "ten", "@every 10s", "UTC", MISSED_SKIP, id);
    cr_assert_eq(tick(eng, T0).enqueued, 0, "nothing due yet");
    tu_clock_advance(&clk, 9700);
    struct schedule_tick_report r = tick(eng, T0);
    cr_assert_eq(r.enqueued, 1);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(tick(eng, T0).enqueued, 0, "ticks again at the same time enqueue nothing");
    tu_clock_advance(&clk, 25000); /* T0 + 35 s: slots 20 and 30 */
    cr_assert_eq(tick(eng, T0).enqueued, 2);
    cr_assert_eq(tick(eng, T0).enqueued, 0);
    cr_assert_eq(assert_consecutive(id, T0 + 10000, 10000), 3);
    struct schedule sc;
    get(eng, id, &sc);
    cr_assert_eq(sc.last_slot, T0 + 30000);
    cr_assert_eq(sc.next_slot, T0 + 40000);
    cr_assert_eq(sc.skipped, 0);
    struct job j;
    tu_get(eng, sc.last_job_id, &j);
    cr_assert_eq(j.run_at, T0 + 30000, "last_job_id is the last slot's job");
    job_release(&j);
    schedule_release(&sc);
    engine_close(eng);
}

struct racer {
    struct engine *eng;
    atomic_bool stop;
    atomic_int enqueued, lost;
};

static void *race(void *arg)
{
    struct racer *rc = arg;
    while (!atomic_load(&rc->stop)) {
        struct schedule_tick_report r;
        struct err e = {0};
        if (schedule_tick(rc->eng, T0, &r, &e) == 0) {
            atomic_fetch_add(&rc->enqueued, r.enqueued);
            atomic_fetch_add(&rc->lost, r.lost);
        }
    }
    return NULL;
}

/* Four ticks at once, all the time, while the clock moves and a worker completes the slots' jobs
 * as they come: one job per slot. (Which layer stops a second job here depends on timing: the
 * guard, or the live-unique check while the first is pending; the guard alone is held to it by
 * store_keeps_finds_pauses_and_deletes.) */
Test(schedule, ticks_at_once_never_enqueue_a_slot_twice, .timeout = 60)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "second", "@every 1s", "UTC", MISSED_ALL, id);
    struct racer rc = {.eng = eng};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, race, &rc);
    for (int s = 0; s < 200; s++) {
        tu_clock_advance(&clk, 1000);
        clock_sleep_ms(2);
        struct job *jobs;
        size_t n;
        struct err e = {0};
        const char *types[] = {"noop"};
        engine_claim(eng, types, 1, 16, "w", 0, &jobs, &n, &e);
        for (size_t i = 0; i < n; i++) {
            cr_assert_eq(engine_complete(eng, &TU_FENCE(jobs[i]), NULL, &e), 0, "%s", e.msg);
            job_release(&jobs[i]);
        }
        free(jobs);
    }
    atomic_store(&rc.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    /* the racers may stop before they saw the last slot (a loaded machine): this tick takes it */
    struct schedule_tick_report last = tick(eng, T0);
    size_t n = assert_consecutive(id, T0 + 1000, 1000);
    cr_assert_eq(n, 200);
    cr_assert_eq(atomic_load(&rc.enqueued) + last.enqueued, 200,
                 "each tick counts only what it enqueued (racers %d, last tick %d)",
                 atomic_load(&rc.enqueued), last.enqueued);
    engine_close(eng);
}

/* Two nodes on one database, each ticking from two threads while the clock moves: still one job
 * per slot, and the slots the nodes enqueued add up to the slots. */
Test(schedule, two_nodes_on_one_database_enqueue_each_slot_once, .timeout = 60)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *a = tu_engine(NULL, &clk), *b = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(a, "second", "@every 1s", "UTC", MISSED_ALL, id);
    struct racer ra = {.eng = a}, rb = {.eng = b};
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, race, i % 2 ? &rb : &ra);
    for (int s = 0; s < 100; s++) {
        tu_clock_advance(&clk, 1000);
        clock_sleep_ms(5);
    }
    atomic_store(&ra.stop, true);
    atomic_store(&rb.stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    struct schedule_tick_report r = tick(a, T0);
    cr_assert_eq(assert_consecutive(id, T0 + 1000, 1000), 100);
    cr_assert_eq(atomic_load(&ra.enqueued) + atomic_load(&rb.enqueued) + r.enqueued, 100,
                 "a: %d, b: %d, last tick: %d", atomic_load(&ra.enqueued),
                 atomic_load(&rb.enqueued), r.enqueued);
    engine_close(b);
    engine_close(a);
}

/* A stop of an hour, then a new scheduler: what each policy does with the 360 missed slots. */
struct stop_case {
    enum schedule_missed missed;
    const char *cron;
    int64_t first, step; /* the first slot after T0, and the step between slots (after T0) */
    int64_t latest;      /* the latest slot before the new server */
    int64_t next;        /* the first after it */
    int want_jobs;
    int64_t want_skipped;
};

static void after_a_stop(struct stop_case c)
{
    enum schedule_missed m = c.missed;
    const char *cron = c.cron;
    int64_t step = c.step;
    int want_jobs = c.want_jobs;
    int64_t want_skipped = c.want_skipped;
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "s", cron, "Europe/Berlin", m, id);
    tu_clock_advance(&clk, HOUR + 500);
    int64_t started = T0 + HOUR + 500; /* the new server */
    int jobs = 0;
    int64_t skipped = 0;
    for (int i = 0; i < 10; i++) {
        struct schedule_tick_report r = tick(eng, started);
        jobs += r.enqueued;
        skipped += r.skipped;
    }
    cr_assert_eq(jobs, want_jobs);
    cr_assert_eq(skipped, want_skipped);
    struct schedule sc;
    get(eng, id, &sc);
    cr_assert_eq(sc.skipped, want_skipped, "the skip is kept on the schedule");
    cr_assert_eq(sc.next_slot, c.next, "then the future: %lld", (long long)(sc.next_slot - T0));
    schedule_release(&sc);
    int64_t s[4000];
    size_t n = slots(id, s, 4000);
    cr_assert_eq(n, (size_t)want_jobs);
    if (m == MISSED_ONCE)
        cr_assert_eq(s[0], c.latest, "once: the latest missed slot");
    if (m == MISSED_ALL)
        assert_consecutive(id, c.first, step);
    /* slots after the start are on time, whatever the policy */
    tu_clock_advance(&clk, c.next + 1 - (T0 + HOUR + 500));
    cr_assert_eq(tick(eng, started).enqueued, 1);
    engine_close(eng);
}

Test(schedule, missed_skip_enqueues_none_and_counts_them)
{
    after_a_stop((struct stop_case){MISSED_SKIP, "@every 10s", T0 + 10000, 10000, T0 + HOUR,
                                    T0 + HOUR + 10000, 0, 360});
}

Test(schedule, missed_once_enqueues_the_latest)
{
    after_a_stop((struct stop_case){MISSED_ONCE, "@every 10s", T0 + 10000, 10000, T0 + HOUR,
                                    T0 + HOUR + 10000, 1, 359});
}

Test(schedule, missed_all_enqueues_each_a_thousand_a_tick)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "s", "@every 1s", "UTC", MISSED_ALL, id);
    tu_clock_advance(&clk, HOUR);
    int sizes[5];
    for (int i = 0; i < 5; i++)
        sizes[i] = tick(eng, T0 + HOUR).enqueued;
    cr_assert(sizes[0] == 1000 && sizes[1] == 1000 && sizes[2] == 1000 && sizes[3] == 600 &&
                  sizes[4] == 0,
              "%d %d %d %d %d", sizes[0], sizes[1], sizes[2], sizes[3], sizes[4]);
    cr_assert_eq(assert_consecutive(id, T0 + 1000, 1000), 3600);
    engine_close(eng);
}

/* Field schedules are walked slot by slot, in their time zone. */
Test(schedule, missed_policies_of_a_field_schedule)
{
    after_a_stop((struct stop_case){MISSED_SKIP, "*/5 * * * *", T0 + 200000, 300000, T0 + 3500000,
                                    T0 + 3800000, 0, 12});
}

Test(schedule, missed_once_of_a_field_schedule)
{
    after_a_stop((struct stop_case){MISSED_ONCE, "*/5 * * * *", T0 + 200000, 300000, T0 + 3500000,
                                    T0 + 3800000, 1, 11});
}

Test(schedule, missed_all_of_a_field_schedule)
{
    after_a_stop((struct stop_case){MISSED_ALL, "*/5 * * * *", T0 + 200000, 300000, T0 + 3500000,
                                    T0 + 3800000, 12, 0});
}

/* A slot over a minute late while the server runs is missed too (a long stall). */
Test(schedule, a_stall_counts_as_missed)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "s", "@every 10s", "UTC", MISSED_SKIP, id);
    tu_clock_advance(&clk, 30000);
    cr_assert_eq(tick(eng, T0).enqueued, 3, "late by less than a minute: on time");
    tu_clock_advance(&clk, 120000);
    struct schedule_tick_report r = tick(eng, T0);
    /* now T0 + 150 s: slots 40 to 80 s are over a minute late, 90 to 150 s are not */
    cr_assert_eq(r.enqueued, 7, "the slots of the last minute");
    cr_assert_eq(r.skipped, 5, "the ones before it");
    engine_close(eng);
}

/* A paused schedule enqueues nothing, and resumes at the next slot. */
Test(schedule, paused_enqueues_nothing)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "s", "@every 10s", "UTC", MISSED_ALL, id);
    struct store *s = engine_store(eng);
    struct err e = {0};
    cr_assert_eq(store_begin(s, &e), 0);
    cr_assert_eq(store_schedule_set_paused(s, id, true, 0, T0, &e), 0);
    cr_assert_eq(store_commit(s, &e), 0);
    tu_clock_advance(&clk, 100000);
    cr_assert_eq(tick(eng, T0).enqueued, 0);
    cr_assert_eq(slots(id, NULL, 0), 0);
    engine_close(eng);
}

/* The store fails at each call of a tick in turn: a slot's job and the move past it land
 * together or not at all, and the next tick makes up what failed. */
Test(schedule, a_failing_store_never_leaves_a_slot_half_done)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    add(eng, "s", "@every 1s", "UTC", MISSED_ALL, id);
    struct store *s = engine_store(eng);
    int failures = 0;
    for (long n = 1; n <= 40; n++) {
        tu_clock_advance(&clk, 1000);
        store_fail_nth(s, n);
        struct schedule_tick_report r;
        struct err e = {0};
        failures += schedule_tick(eng, T0, &r, &e) != 0;
        store_fail_nth(s, 0);
        struct schedule sc;
        get(eng, id, &sc);
        size_t k = assert_consecutive(id, T0 + 1000, 1000);
        cr_assert_eq(sc.next_slot, T0 + 1000 + (int64_t)k * 1000,
                     "after failing call %ld: %zu jobs, next slot %lld", n, k,
                     (long long)(sc.next_slot - T0));
        schedule_release(&sc);
    }
    cr_assert_gt(failures, 0, "some injected failure hit the tick");
    tick(eng, T0);
    cr_assert_eq(assert_consecutive(id, T0 + 1000, 1000), 40, "made up at the next tick");
    engine_close(eng);
}
