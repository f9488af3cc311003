/* The worker pool on the real clock: handlers run, fail, resume from checkpoints, keep their
 * leases without help, notice cancellation, and give their jobs back at shutdown. */
#include "engine/monitor.h"
#include "engine/worker.h"
#include "handlers/handlers.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Wait up to ms for the job to reach status s; returns the status it has then. */
static enum job_status wait_status(struct engine *eng, const char *id, enum job_status s, int ms)
{
    enum job_status now = tu_status(eng, id);
    for (int t = 0; t < ms && now != s; t += 10) {
        clock_sleep_ms(10);
        now = tu_status(eng, id);
    }
    return now;
}

static struct pool *start(struct engine *eng, const struct job_handler *h, size_t n, int workers)
{
    struct pool_opts o = {.workers = workers, .poll_ms = 20, .name = "test"};
    struct pool *p;
    struct err e = {0};
    cr_assert_eq(pool_start(eng, h, n, &o, &p, &e), 0, "pool_start: %s", e.msg);
    return p;
}

Test(pool, runs_jobs_to_completion)
{
    struct engine *eng = tu_engine(NULL, NULL);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    struct pool *p = start(eng, builtin, nb, 2);
    enum { N = 2000 };
    struct job_spec *specs = calloc(N, sizeof *specs);
    struct enqueue_result *res = calloc(N, sizeof *res);
    for (int i = 0; i < N; i++)
        specs[i] = (struct job_spec){.type = "noop"};
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, specs, N, res, &e), 0, "%s", e.msg);
    for (int t = 0; t < 1000 && tu_count(eng, JOB_COMPLETED) < N; t++)
        clock_sleep_ms(10);
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), N);
    struct pool_stats st;
    pool_stats(p, &st);
    cr_assert_eq(st.completed, N);
    cr_assert_eq(st.failed, 0);
    cr_assert(pool_stop(p, 1000));
    free(specs);
    free(res);
    engine_close(eng);
}

/* Attempt 1 saves a checkpoint and fails (retryably); attempt 2 starts from the checkpoint. */
static int resumable(struct job_ctx *ctx)
{
    const char *cp = job_ctx_checkpoint(ctx);
    if (!cp) {
        struct err e;
        if (job_ctx_save_checkpoint(ctx, "{\"step\":7}", &e) != 0)
            return job_ctx_fail(ctx, true, "checkpoint: %s", e.msg);
        return job_ctx_fail(ctx, true, "the network went away");
    }
    char res[128];
    snprintf(res, sizeof res, "{\"resumed_from\":%s,\"attempt\":%d}", cp,
             job_ctx_job(ctx)->attempt);
    job_ctx_set_result(ctx, res);
    return 0;
}

static int fatal(struct job_ctx *ctx)
{
    return job_ctx_fail(ctx, false, "this input can never work: %s", job_ctx_args(ctx));
}

Test(pool, failures_retry_from_checkpoint_or_fail)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_type_config cfg = {.name = "resumable", .backoff = {20, 20}};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0);
    struct job_handler h[] = {{"resumable", resumable, NULL}, {"fatal", fatal, NULL}};
    struct pool *p = start(eng, h, 2, 2);
    struct monitor *m = monitor_start(eng, 20);
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    strcpy(a, tu_enqueue(eng, "resumable", NULL));
    strcpy(b, tu_enqueue(eng, "fatal", "{\"x\":1}"));
    cr_assert_eq(wait_status(eng, a, JOB_COMPLETED, 5000), JOB_COMPLETED);
    cr_assert_eq(wait_status(eng, b, JOB_FAILED, 5000), JOB_FAILED);
    struct job j;
    tu_get(eng, a, &j);
    cr_assert_str_eq(j.result, "{\"resumed_from\":{\"step\":7},\"attempt\":2}");
    job_release(&j);
    tu_get(eng, b, &j);
    cr_assert_eq(j.attempt, 1, "a non-retryable failure is not retried");
    cr_assert_str_eq(j.error, "this input can never work: {\"x\":1}");
    job_release(&j);
    monitor_stop(m);
    cr_assert(pool_stop(p, 1000));
    engine_close(eng);
}

/* A handler that works for 4 leases' time without reporting anything keeps its job: the pool
 * heartbeats for it. */
static int quiet(struct job_ctx *ctx)
{
    (void)ctx;
    clock_sleep_ms(1200);
    return 0;
}

Test(pool, heartbeats_keep_a_quiet_handler_s_lease)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_type_config cfg = {.name = "quiet", .lease_ms = 300, .no_progress_ms = -1};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0);
    struct job_handler h[] = {{"quiet", quiet, NULL}};
    struct pool *p = start(eng, h, 1, 1);
    struct monitor *m = monitor_start(eng, 20);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "quiet", NULL));
    cr_assert_eq(wait_status(eng, id, JOB_COMPLETED, 5000), JOB_COMPLETED);
    struct job j;
    tu_get(eng, id, &j);
    cr_assert_eq(j.attempt, 1, "the lease expired during the handler");
    job_release(&j);
    monitor_stop(m);
    cr_assert(pool_stop(p, 1000));
    engine_close(eng);
}

Test(pool, cancel_reaches_a_running_handler)
{
    struct engine *eng = tu_engine(NULL, NULL);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    struct pool *p = start(eng, builtin, nb, 1);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "sleep", "{\"ms\":20000,\"step_ms\":20}"));
    cr_assert_eq(wait_status(eng, id, JOB_PROCESSING, 3000), JOB_PROCESSING);
    clock_sleep_ms(100);
    struct err e = {0};
    cr_assert_eq(engine_cancel(eng, id, &e), 0, "%s", e.msg);
    /* the handler stops: the worker is free for the next job well before 20 s */
    int64_t t0 = clock_mono_ms();
    char next[UUID_STR_LEN];
    strcpy(next, tu_enqueue(eng, "noop", NULL));
    cr_assert_eq(wait_status(eng, next, JOB_COMPLETED, 3000), JOB_COMPLETED);
    cr_assert_lt(clock_mono_ms() - t0, 3000);
    cr_assert_eq(tu_status(eng, id), JOB_CANCELLED);
    cr_assert(pool_stop(p, 1000));
    engine_close(eng);
}

/* Polls for cancellation in a tight loop and reports it as a failure that is not retryable, as
 * a careless handler would. */
static int spin(struct job_ctx *ctx)
{
    while (!job_ctx_cancelled(ctx))
        clock_sleep_ms(1);
    return job_ctx_fail(ctx, false, "stopped");
}

/* Shutdown: jobs that finish within the grace period complete; jobs still running after it
 * and jobs never started are given back at once (pending), not failed and not left leased. */
Test(pool, graceful_stop_gives_jobs_back)
{
    struct engine *eng = tu_engine(NULL, NULL);
    size_t nb;
    const struct job_handler *builtin = handlers_builtin(&nb);
    struct job_handler h[8];
    cr_assert_lt(nb, 8);
    memcpy(h, builtin, nb * sizeof *h);
    h[nb] = (struct job_handler){"spin", spin, NULL};
    struct pool *p = start(eng, h, nb + 1, 3);
    char spinning[UUID_STR_LEN];
    strcpy(spinning, tu_enqueue(eng, "spin", NULL));
    cr_assert_eq(wait_status(eng, spinning, JOB_PROCESSING, 3000), JOB_PROCESSING);
    char fast[UUID_STR_LEN];
    strcpy(fast, tu_enqueue(eng, "sleep", "{\"ms\":300,\"step_ms\":20}"));
    char slow[UUID_STR_LEN];
    strcpy(slow, tu_enqueue(eng, "sleep", "{\"ms\":30000,\"step_ms\":20}"));
    cr_assert_eq(wait_status(eng, fast, JOB_PROCESSING, 3000), JOB_PROCESSING);
    cr_assert_eq(wait_status(eng, slow, JOB_PROCESSING, 3000), JOB_PROCESSING);
    char waiting[4][UUID_STR_LEN];
    for (int i = 0; i < 4; i++)
        strcpy(waiting[i], tu_enqueue(eng, "sleep", "{\"ms\":30000}"));
    clock_sleep_ms(100); /* let the pool claim them too */
    int64_t t0 = clock_mono_ms();
    cr_assert(pool_stop(p, 1000));
    int64_t took = clock_mono_ms() - t0;
    cr_assert_lt(took, 3000, "pool_stop took %lld ms", (long long)took);
    cr_assert_eq(tu_status(eng, fast), JOB_COMPLETED);
    struct job j;
    tu_get(eng, slow, &j);
    cr_assert_eq(j.status, JOB_PENDING);
    cr_assert_null(j.lease_owner);
    cr_assert_eq(j.attempt, 1);
    cr_assert_not_null(j.checkpoint, "the slow job keeps its checkpoint");
    job_release(&j);
    /* a handler that fails because the pool stopped it does not fail its job */
    tu_get(eng, spinning, &j);
    cr_assert_eq(j.status, JOB_PENDING, "the stopped job is %s", job_status_name(j.status));
    job_release(&j);
    for (int i = 0; i < 4; i++) {
        tu_get(eng, waiting[i], &j);
        cr_assert_eq(j.status, JOB_PENDING);
        cr_assert_eq(j.attempt, 0, "a job never started spent an attempt");
        job_release(&j);
    }
    cr_assert_eq(tu_count(eng, JOB_FAILED), 0);
    engine_close(eng);
}

static int spawner(struct job_ctx *ctx)
{
    for (int i = 0; i < 3; i++) {
        struct job_spec s = {.type = "noop"};
        struct enqueue_result r;
        struct err e;
        if (job_ctx_enqueue(ctx, &s, &r, &e) != 0)
            return job_ctx_fail(ctx, true, "enqueue child: %s", e.msg);
    }
    return 0;
}

Test(pool, handlers_enqueue_children)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_handler h[] = {{"spawner", spawner, NULL}};
    struct pool *p = start(eng, h, 1, 1);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "spawner", NULL));
    cr_assert_eq(wait_status(eng, id, JOB_COMPLETED, 3000), JOB_COMPLETED);
    cr_assert(pool_stop(p, 1000));
    struct job *jobs;
    size_t n;
    struct err e = {0};
    struct job_filter f = {.type = "noop"};
    cr_assert_eq(engine_list(eng, "pending", &f, &jobs, &n, &e), 3, "%s", e.msg);
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(jobs[i].parent_id, id);
        cr_assert_str_eq(jobs[i].root_id, id);
    }
    job_array_free(jobs, n);
    engine_close(eng);
}
