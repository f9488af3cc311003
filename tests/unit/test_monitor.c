/* The monitor's sweep: a dead worker (lease expired), a stuck one (no progress), a slow one
 * (timeout), attempts running out, recovery from the checkpoint, unknown types left alone. */
#include "engine/monitor.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

#define T0 100000000

static struct engine *setup(struct tu_clock *clk)
{
    tu_clock_init(clk, T0);
    struct engine *eng = tu_engine(NULL, clk);
    struct job_type_config cfg = {.name = "import",
                                  .lease_ms = 10000,
                                  .no_progress_ms = 60000,
                                  .max_attempts = 2,
                                  .backoff = {1000, 1000}};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0, "%s", e.msg);
    return eng;
}

/* The worker died: its lease runs out, the attempt ends with the reason, and the next claim
 * resumes from the last checkpoint. */
Test(monitor, expired_lease_requeues_from_checkpoint)
{
    struct tu_clock clk;
    struct engine *eng = setup(&clk);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "import", "{\"rows\":1000}"));
    struct job j;
    tu_claim_one(eng, "import", "w1", &j);
    cr_assert_eq(j.lease_expires_at, T0 + 10000, "the type's lease applies");
    struct heartbeat hb = {.set = UPD_PROGRESS | UPD_CHECKPOINT | UPD_STAGE,
                           .progress = 30,
                           .stage = "rows",
                           .checkpoint = "{\"row\":300}"};
    struct err e = {0};
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &hb, &e), 0, "%s", e.msg);
    job_release(&j);

    tu_clock_advance(&clk, 10000);
    struct sweep_report r = tu_sweep(eng);
    cr_assert_eq(r.expired, 0, "expired at the very end of its lease");
    tu_clock_advance(&clk, 1);
    r = tu_sweep(eng);
    cr_assert_eq(r.expired, 1);
    cr_assert_eq(r.failed, 0);
    cr_assert_eq(r.promoted, 1, "a dead worker's job is claimable again at once");

    struct job again;
    tu_claim_one(eng, "import", "w2", &again);
    cr_assert_eq(again.attempt, 2);
    cr_assert_str_eq(again.checkpoint, "{\"row\":300}");
    cr_assert_eq(again.progress, 30);
    cr_assert(strstr(again.error, "heartbeat timeout") != NULL, "error: %s", again.error);

    /* the second attempt dies too: no attempts left, so it fails with the reason */
    tu_clock_advance(&clk, 10001);
    r = tu_sweep(eng);
    cr_assert_eq(r.expired, 1);
    cr_assert_eq(r.failed, 1);
    struct job got;
    tu_get(eng, id, &got);
    cr_assert_eq(got.status, JOB_FAILED);
    cr_assert(strstr(got.error, "lease expired") != NULL, "error: %s", got.error);
    job_release(&got);
    job_release(&again);
    engine_close(eng);
}

/* Alive but stuck: heartbeats keep coming, progress does not. */
Test(monitor, no_progress_ends_the_attempt)
{
    struct tu_clock clk;
    struct engine *eng = setup(&clk);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "import", NULL));
    struct job j;
    tu_claim_one(eng, "import", "w1", &j);
    struct err e = {0};
    struct heartbeat alive = {0};
    struct heartbeat moving = {.set = UPD_PROGRESS, .progress = 10};
    /* 50 s of heartbeats with one progress step at 30 s */
    for (int s = 5; s <= 50; s += 5) {
        tu_clock_advance(&clk, 5000);
        cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), s == 30 ? &moving : &alive, &e), 0, "%s",
                     e.msg);
        cr_assert_eq(tu_sweep(eng).no_progress, 0);
    }
    /* progress was at 30 s; stuck from 90 s on */
    for (int s = 55; s <= 90; s += 5) {
        tu_clock_advance(&clk, 5000);
        cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &alive, &e), 0, "%s", e.msg);
        cr_assert_eq(tu_sweep(eng).no_progress, 0, "stuck too early at %d s", s);
    }
    tu_clock_advance(&clk, 1);
    struct sweep_report r = tu_sweep(eng);
    cr_assert_eq(r.no_progress, 1);
    cr_assert_eq(r.expired, 0);
    struct job got;
    tu_get(eng, id, &got);
    cr_assert_eq(got.status, JOB_PENDING, "requeued at once (sweep promotes it)");
    cr_assert(strstr(got.error, "no progress") != NULL, "error: %s", got.error);
    job_release(&got);
    /* the stuck worker's late heartbeat is refused */
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &alive, &e), TRAWL_ESTALE);
    job_release(&j);
    engine_close(eng);
}

/* Over its run time: the attempt ends and the job backs off like a failure. */
Test(monitor, timeout_ends_the_attempt_with_backoff)
{
    struct tu_clock clk;
    struct engine *eng = setup(&clk);
    struct job_spec s = {.type = "import", .timeout_ms = 20000};
    struct enqueue_result res;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &s, &res, &e), 0, "%s", e.msg);
    struct job j;
    tu_claim_one(eng, "import", "w1", &j);
    struct heartbeat hb = {.set = UPD_PROGRESS};
    for (int t = 1; t <= 4; t++) {
        tu_clock_advance(&clk, 5000);
        hb.progress = t * 10;
        cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &hb, &e), 0, "%s", e.msg);
        cr_assert_eq(tu_sweep(eng).timed_out, 0);
    }
    tu_clock_advance(&clk, 1);
    struct sweep_report r = tu_sweep(eng);
    cr_assert_eq(r.timed_out, 1);
    struct job got;
    tu_get(eng, res.id, &got);
    cr_assert(got.status == JOB_RETRYING || got.status == JOB_PENDING);
    cr_assert(strstr(got.error, "timed out after 20000 ms") != NULL, "error: %s", got.error);
    cr_assert_leq(got.run_at, engine_now(eng) + 1000, "backoff within the type's cap");
    job_release(&got);
    job_release(&j);
    engine_close(eng);
}

/* Nothing runs a type no worker knows: its jobs wait, they are not failed. */
Test(monitor, unknown_types_are_left_alone)
{
    struct tu_clock clk;
    struct engine *eng = setup(&clk);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "nobody-knows-me", NULL));
    for (int i = 0; i < 10; i++) {
        tu_clock_advance(&clk, 24 * 3600 * 1000LL);
        struct sweep_report r = tu_sweep(eng);
        cr_assert_eq(r.expired + r.no_progress + r.timed_out + r.failed, 0);
    }
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);
    engine_close(eng);
}

/* The monitor thread sweeps by itself on the real clock. */
Test(monitor, thread_sweeps_on_its_own)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_type_config cfg = {.name = "short", .lease_ms = 200};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0, "%s", e.msg);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "short", NULL));
    struct job j;
    tu_claim_one(eng, "short", "gone", &j);
    job_release(&j);
    struct monitor *m = monitor_start(eng, 50);
    cr_assert_not_null(m);
    enum job_status s = JOB_PROCESSING;
    for (int i = 0; i < 100 && s != JOB_PENDING; i++) {
        clock_sleep_ms(20);
        s = tu_status(eng, id);
    }
    monitor_stop(m);
    cr_assert_eq(s, JOB_PENDING, "the abandoned job was not requeued within 2 s");
    engine_close(eng);
}
