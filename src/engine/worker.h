/* The worker pool: runs registered handlers on claimed jobs. A dispatcher claims jobs in batches
 * when the pool runs low, workers run handlers, and a heartbeat thread renews the leases of every
 * job the pool holds, so a long handler keeps its job without its own help.
 *
 * A handler is plain sequential C: it reads its args and checkpoint from the context, reports
 * progress, saves checkpoints, may enqueue child jobs, and returns 0 (success, with an optional
 * result) or an error (set with job_ctx_fail). It polls job_ctx_cancelled() on long work.
 *
 * Ownership: strings from a context are owned by the pool and valid during the handler call. */
#ifndef TRAWL_WORKER_H
#define TRAWL_WORKER_H

#include "engine/engine.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct job_ctx;
typedef int (*job_handler_fn)(struct job_ctx *ctx);

struct job_handler {
    const char *type;
    job_handler_fn run;
    void *arg; /* given to the handler through job_ctx_arg(); borrowed */
};

struct pool_opts {
    int workers;      /* threads running handlers; default 4 */
    size_t batch;     /* most jobs claimed at once; default 256 */
    int64_t poll_ms;  /* how often to look for jobs enqueued by other processes; default 200 */
    const char *name; /* lease owner prefix; default "host:pid" */
    /* once mode (trawl work --once): the pool claims only while jobs are due, at most limit in
     * all (0: no limit). It stops claiming when the limit is reached, when a claim finds nothing
     * due while the pool held nothing (a job it holds may still release the stages after it), or
     * when claims failed three times in a row; pool_wait returns true once the jobs it claimed
     * have ended. */
    bool once;
    size_t limit;
};

struct pool;

/* Start the pool on eng (borrowed; it must outlive the pool). handlers is copied. */
int pool_start(struct engine *eng, const struct job_handler *handlers, size_t n,
               const struct pool_opts *o, struct pool **out, struct err *e);
/* Stop claiming; give jobs not started back at once; wait up to grace_ms for running handlers;
 * then cancel and release the jobs still running so nothing waits for a lease to expire.
 * Returns true when every worker thread has ended and the pool is freed; false when some handler
 * ignored cancellation: the pool is left allocated and the process should exit. */
bool pool_stop(struct pool *p, int64_t grace_ms);
struct pool_stats;
/* pool_stop that also says what the pool did in all (out, filled either way). */
bool pool_finish(struct pool *p, int64_t grace_ms, struct pool_stats *out);
/* Once mode: wait until the pool claims no more and every job it claimed has ended (true), or
 * until pool_interrupt or timeout_ms (-1: no limit) (false). Either way pool_stop comes next; it
 * gives back what is left. A pool not in once mode is never done. */
bool pool_wait(struct pool *p, int64_t timeout_ms);
/* Make pool_wait return false, now and later (a signal arrived). Thread-safe; not for a signal
 * handler itself. */
void pool_interrupt(struct pool *p);

/* What became of one job run by pool_run_jobs. */
struct job_outcome {
    char id[UUID_STR_LEN];
    int status;      /* JOB_COMPLETED, JOB_RETRYING, JOB_FAILED, JOB_PENDING (deferred or given
                        back), or -1 when the outcome could not be recorded */
    char error[512]; /* why, when not completed */
};

/* Run already-claimed jobs now, up to threads at a time, each to its end, without claiming
 * anything else (POST /v1/crawl-jobs/process, for deployments without workers). The jobs' strings
 * move into the run (jobs is left empty; free the array itself). out has n entries. Returns once
 * every outcome is durable. */
int pool_run_jobs(struct engine *eng, const struct job_handler *handlers, size_t nh,
                  struct job *jobs, size_t n, int threads, struct job_outcome *out, struct err *e);

struct pool_stats {
    /* claimed; what the handlers returned (completed, failed); given back at a stop (released:
     * not started, or started and stopped for it) and deferred, counted once durable */
    uint64_t claimed, completed, failed, released, deferred;
    /* what became of the jobs that ended, counted once durable, by the status each was left in:
     * completed, retrying, failed (for good) or cancelled */
    uint64_t ended[JOB_STATUS_COUNT];
    uint64_t unrecorded;  /* ends the store refused: the job had changed state under the pool
                             (cancelled, its lease taken by a monitor) */
    uint64_t claim_fails; /* claims the store failed */
    bool claims_failed;   /* once mode: claiming ended because three claims in a row failed */
    size_t held;          /* jobs holding a lease right now */
};
void pool_stats(struct pool *p, struct pool_stats *out);

/* ---- for handlers ---- */
const struct job *job_ctx_job(struct job_ctx *ctx);
/* The args JSON text; never NULL. */
const char *job_ctx_args(struct job_ctx *ctx);
/* The last saved checkpoint JSON text, or NULL on a fresh start. */
const char *job_ctx_checkpoint(struct job_ctx *ctx);
/* The job's input (JSON text): a stage's is the result of the stage before it, a join's what its
 * children gave (engine.h); NULL when it has none. */
const char *job_ctx_input(struct job_ctx *ctx);
/* Fan out a child (spec copied): it is enqueued when the job completes, in the same transaction,
 * and counts toward the join the job names; nothing is enqueued if the job does not complete.
 * TRAWL_EINVAL names what is wrong with spec. */
int job_ctx_fan_out(struct job_ctx *ctx, const struct job_spec *spec, struct err *e);
/* Report progress (0-100) and stage (NULL keeps it). Heartbeats; writes are throttled to a few a
 * second unless the stage changes. Returns TRAWL_ESTALE when the job was lost or cancelled. */
int job_ctx_progress(struct job_ctx *ctx, int progress, const char *stage);
/* Save a checkpoint (JSON text); durable on return. A retry or recovery resumes from it. */
int job_ctx_save_checkpoint(struct job_ctx *ctx, const char *json, struct err *e);
/* Enqueue a child job (parent_id and root_id are set from this job). */
int job_ctx_enqueue(struct job_ctx *ctx, const struct job_spec *spec, struct enqueue_result *res,
                    struct err *e);
/* The result to store on success (JSON text, copied). */
void job_ctx_set_result(struct job_ctx *ctx, const char *json);
/* A write that must land with the job's completion (its output rows): when the handler returns
 * success, fn(store, arg) runs in the transaction that completes the job, so both are durable
 * or neither is. arg is the pool's from now on: free_arg(arg) is called once the completion is
 * recorded or the job ends otherwise. */
void job_ctx_complete_with(struct job_ctx *ctx, engine_exec_fn fn, void *arg,
                           void (*free_arg)(void *));
/* Record why the handler failed; returns TRAWL_EHANDLER for `return job_ctx_fail(...)`. */
int job_ctx_fail(struct job_ctx *ctx, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* True once the job was cancelled, its lease was lost, or the pool is shutting down. */
bool job_ctx_cancelled(struct job_ctx *ctx);
/* A flag that turns true with job_ctx_cancelled(), for code that polls a pointer. */
const atomic_bool *job_ctx_cancel_flag(struct job_ctx *ctx);
/* Give the job back without spending an attempt, due again at run_at (ms since epoch): the
 * work could not start for a reason outside the job (an open circuit breaker, a host that asks
 * to wait). Returns TRAWL_EHANDLER for `return job_ctx_defer(...)`. */
int job_ctx_defer(struct job_ctx *ctx, int64_t run_at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
struct engine *job_ctx_engine(struct job_ctx *ctx);
/* The arg of the handler's registration. */
void *job_ctx_arg(struct job_ctx *ctx);

#endif
