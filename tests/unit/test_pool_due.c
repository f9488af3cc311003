/* The worker pool's once mode (trawl work --once): it claims what is due, up to its limit, runs
 * it, and is done; what a time limit or an interrupt leaves running is given back at the stop,
 * and every job is counted by what became of it. */
#include "engine/worker.h"
#include "handlers/handlers.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct pool *start_once(struct engine *eng, const struct job_handler *h, size_t n,
                               size_t limit)
{
    struct pool_opts o = {
        .workers = 2, .poll_ms = 20, .name = "once", .once = true, .limit = limit};
    struct pool *p;
    struct err e = {0};
    cr_assert_eq(pool_start(eng, h, n, &o, &p, &e), 0, "pool_start: %s", e.msg);
    return p;
}

static void enqueue_n(struct engine *eng, const char *type, const char *args, int n, int64_t at)
{
    struct job_spec *specs = calloc((size_t)n, sizeof *specs);
    struct enqueue_result *res = calloc((size_t)n, sizeof *res);
    for (int i = 0; i < n; i++)
        specs[i] = (struct job_spec){.type = type, .args = args, .run_at = at};
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, specs, (size_t)n, res, &e), 0, "%s", e.msg);
    free(specs);
    free(res);
}

/* Every claimed job is accounted for exactly once. */
static void assert_accounted(const struct pool_stats *st)
{
    uint64_t sum = st->released + st->deferred + st->unrecorded;
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        sum += st->ended[i];
    cr_assert_eq(sum, st->claimed, "claimed %llu, accounted for %llu",
                 (unsigned long long)st->claimed, (unsigned long long)sum);
}

Test(pool_due, runs_up_to_the_limit_and_is_done)
{
    struct engine *eng = tu_engine(NULL, NULL);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    enqueue_n(eng, "noop", NULL, 10, 0);
    struct pool *p = start_once(eng, builtin, nb, 4);
    cr_assert(pool_wait(p, 5000), "the pool was not done within 5 s");
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.claimed, 4);
    cr_assert_eq(st.ended[JOB_COMPLETED], 4);
    assert_accounted(&st);
    cr_assert(pool_stop(p, 1000));
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), 4);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 6, "the jobs past the limit stay pending");
    engine_close(eng);
}

/* Jobs due later are not waited for; an empty queue is done at once. */
Test(pool_due, takes_only_what_is_due_now)
{
    struct engine *eng = tu_engine(NULL, NULL);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    struct pool *p = start_once(eng, builtin, nb, 0);
    int64_t t0 = clock_mono_ms();
    cr_assert(pool_wait(p, 5000), "nothing to do must be done at once");
    cr_assert_lt(clock_mono_ms() - t0, 1000);
    cr_assert(pool_stop(p, 1000));

    enqueue_n(eng, "noop", NULL, 3, 0);
    enqueue_n(eng, "noop", NULL, 2, engine_now(eng) + 60000);
    p = start_once(eng, builtin, nb, 0);
    cr_assert(pool_wait(p, 5000));
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.claimed, 3);
    cr_assert_eq(st.ended[JOB_COMPLETED], 3);
    cr_assert(pool_stop(p, 1000));
    cr_assert_eq(tu_count(eng, JOB_PENDING), 2);
    engine_close(eng);
}

/* A pool for some types leaves the others alone. */
Test(pool_due, claims_only_its_types)
{
    struct engine *eng = tu_engine(NULL, NULL);
    enqueue_n(eng, "noop", NULL, 3, 0);
    enqueue_n(eng, "sleep", "{\"ms\":1}", 2, 0);
    struct job_handler h[] = {{"sleep", handler_sleep, NULL}};
    struct pool *p = start_once(eng, h, 1, 0);
    cr_assert(pool_wait(p, 5000));
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.claimed, 2);
    cr_assert_eq(st.ended[JOB_COMPLETED], 2);
    cr_assert(pool_stop(p, 1000));
    cr_assert_eq(tu_count(eng, JOB_PENDING), 3, "the noop jobs were not its to take");
    engine_close(eng);
}

static int flaky(struct job_ctx *ctx)
{
    return job_ctx_fail(ctx, true, "try again later");
}

static int fatal(struct job_ctx *ctx)
{
    return job_ctx_fail(ctx, false, "never");
}

/* A retryable failure with attempts left is counted as retrying, the others as failed; a retry
 * due later is not waited for. */
Test(pool_due, counts_retrying_and_failed_apart)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_type_config cfg = {.name = "flaky", .max_attempts = 3};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0);
    enqueue_n(eng, "flaky", NULL, 2, 0);
    enqueue_n(eng, "fatal", NULL, 1, 0);
    enqueue_n(eng, "noop", NULL, 3, 0);
    struct job_handler h[] = {
        {"flaky", flaky, NULL}, {"fatal", fatal, NULL}, {"noop", handler_noop, NULL}};
    struct pool *p = start_once(eng, h, 3, 0);
    cr_assert(pool_wait(p, 5000));
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.claimed, 6);
    cr_assert_eq(st.ended[JOB_COMPLETED], 3);
    cr_assert_eq(st.ended[JOB_RETRYING], 2);
    cr_assert_eq(st.ended[JOB_FAILED], 1);
    assert_accounted(&st);
    cr_assert(pool_stop(p, 1000));
    cr_assert_eq(tu_count(eng, JOB_RETRYING), 2);
    cr_assert_eq(tu_count(eng, JOB_FAILED), 1);
    engine_close(eng);
}

/* A stage released by a job the pool ran is due now too: the chain runs to its end. */
Test(pool_due, runs_the_stages_its_jobs_release)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec third = {.type = "noop"};
    struct job_spec second = {.type = "noop", .next = &third, .nnext = 1};
    struct job_spec first = {.type = "noop", .next = &second, .nnext = 1};
    struct enqueue_result res;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &first, &res, &e), 0, "%s", e.msg);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    struct pool *p = start_once(eng, builtin, nb, 0);
    cr_assert(pool_wait(p, 5000));
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.ended[JOB_COMPLETED], 3);
    cr_assert(pool_stop(p, 1000));
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), 3);
    engine_close(eng);
}

/* Past the time limit the caller stops the pool: jobs not started go back untouched, running ones
 * get the grace period and are then given back; none is left processing. */
Test(pool_due, a_time_limit_gives_back_what_is_left)
{
    struct engine *eng = tu_engine(NULL, NULL);
    enqueue_n(eng, "sleep", "{\"ms\":60000,\"step_ms\":20}", 5, 0);
    struct job_handler h[] = {{"sleep", handler_sleep, NULL}};
    struct pool *p = start_once(eng, h, 1, 0);
    int64_t t0 = clock_mono_ms();
    cr_assert_not(pool_wait(p, 300), "sleeping jobs cannot be done in 300 ms");
    cr_assert_geq(clock_mono_ms() - t0, 290);
    struct pool_stats st;
    cr_assert(pool_finish(p, 100, &st));
    cr_assert_geq(st.claimed, 2, "two workers run two jobs");
    cr_assert_eq(st.released, st.claimed, "every job claimed was given back");
    assert_accounted(&st);
    cr_assert_eq(tu_count(eng, JOB_PROCESSING), 0);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 5);
    engine_close(eng);
}

/* An interrupt (a signal) makes the wait return at once, and the stop gives the jobs back. */
Test(pool_due, an_interrupt_ends_the_wait)
{
    struct engine *eng = tu_engine(NULL, NULL);
    enqueue_n(eng, "sleep", "{\"ms\":60000,\"step_ms\":20}", 1, 0);
    struct job_handler h[] = {{"sleep", handler_sleep, NULL}};
    struct pool *p = start_once(eng, h, 1, 0);
    for (int t = 0; t < 2000 && tu_count(eng, JOB_PROCESSING) == 0; t += 10)
        clock_sleep_ms(10);
    pool_interrupt(p);
    int64_t t0 = clock_mono_ms();
    cr_assert_not(pool_wait(p, 5000));
    cr_assert_lt(clock_mono_ms() - t0, 500);
    struct pool_stats st;
    cr_assert(pool_finish(p, 100, &st));
    cr_assert_eq(st.released, 1);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1, "the running job was given back");
    engine_close(eng);
}
