/* The state machine: enqueue, claim, complete, fail, retry, cancel, fencing. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

Test(engine, complete_records_result_and_history)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", "{\"a\":1}"));
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);

    struct job j;
    tu_claim_one(eng, "noop", "w1", &j);
    cr_assert_str_eq(j.id, id);
    cr_assert_eq(j.attempt, 1);
    cr_assert_str_eq(j.args, "{\"a\":1}");
    cr_assert_eq(tu_status(eng, id), JOB_PROCESSING);

    struct job_fence f = {j.id, j.attempt, j.lease_owner, NULL};
    struct err e = {0};
    cr_assert_eq(engine_complete(eng, &f, "{\"ok\":true}", &e), 0, "%s", e.msg);
    struct job got;
    cr_assert_eq(engine_get(eng, id, &got, &e), 0);
    cr_assert_eq(got.status, JOB_COMPLETED);
    cr_assert_str_eq(got.result, "{\"ok\":true}");
    cr_assert_null(got.lease_owner);
    cr_assert_gt(got.completed_at, 0);

    struct job_event *ev;
    size_t n;
    cr_assert_eq(engine_events(eng, id, &ev, &n, &e), 2);
    cr_assert_eq(ev[0].from, JOB_PENDING);
    cr_assert_eq(ev[0].to, JOB_PROCESSING);
    cr_assert_eq(ev[1].from, JOB_PROCESSING);
    cr_assert_eq(ev[1].to, JOB_COMPLETED);
    job_events_free(ev, n);
    job_release(&got);
    job_release(&j);
    engine_close(eng);
}

Test(engine, stale_completion_is_refused)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 1000000);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct job first;
    tu_claim_one(eng, "noop", "w1", &first);

    /* w1 goes silent; its lease expires and the monitor requeues the job */
    tu_clock_advance(&clk, ENGINE_DEFAULT_LEASE_MS + 1);
    struct sweep_report r;
    struct err e = {0};
    cr_assert_eq(engine_sweep(eng, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.expired, 1);
    cr_assert_eq(r.promoted, 1);
    struct job second;
    tu_claim_one(eng, "noop", "w2", &second);
    cr_assert_eq(second.attempt, 2);

    /* the late completion of w1 is refused and changes nothing */
    struct job_fence f1 = {first.id, first.attempt, first.lease_owner, NULL};
    cr_assert_eq(engine_complete(eng, &f1, "{\"from\":\"w1\"}", &e), TRAWL_ESTALE);
    struct job now;
    cr_assert_eq(engine_get(eng, id, &now, &e), 0);
    cr_assert_eq(now.status, JOB_PROCESSING);
    cr_assert_str_eq(now.lease_owner, "w2");
    cr_assert_null(now.result);

    struct job_fence f2 = {second.id, second.attempt, second.lease_owner, NULL};
    cr_assert_eq(engine_complete(eng, &f2, "{\"from\":\"w2\"}", &e), 0, "%s", e.msg);
    job_release(&now);
    job_release(&first);
    job_release(&second);
    engine_close(eng);
}
