/* The engine: job semantics and nothing else. It enqueues, claims, heartbeats, completes, fails,
 * cancels and retries jobs on a store, fences every change by attempt and lease owner, and runs
 * every write through one committer thread so concurrent changes share a transaction and one
 * fsync (group commit). A call that changes state returns only after the change is durable;
 * the *_async variants call their callback then instead, from the committer thread.
 *
 * Ownership: parameters are borrowed. Jobs returned by engine_claim and engine_get belong to the
 * caller. The engine owns the store it is given and closes it in engine_close. */
#ifndef TRAWL_ENGINE_H
#define TRAWL_ENGINE_H

#include "base/backoff.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/hist.h"
#include "store/job.h"
#include "store/stats.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOB_PRIORITY_MIN       (-1000)
#define JOB_PRIORITY_MAX       1000
#define JOB_ATTEMPTS_MAX       1000
#define JOB_ARGS_MAX           (1 << 20) /* bytes of args JSON */
#define JOB_CHECKPOINT_MAX     (1 << 20)
#define JOB_RESULT_MAX         (8 << 20)
#define JOB_TYPE_MAX           64
#define JOB_KEY_MAX            256 /* unique_key, batch_id, queue, workspace, stage */
#define ENGINE_CLAIM_TYPES_MAX 16
#define CHAIN_DEPTH_MAX        64     /* stages from a chain's root down to its deepest job */
#define CHAIN_SPEC_MAX         10000  /* jobs one spec may name, with its stages and joins */
#define FANOUT_MAX             100000 /* children one completion may fan out */

/* Settings of one job type. Zero fields take the defaults below. */
struct job_type_config {
    char name[JOB_TYPE_MAX + 1];
    int max_attempts;       /* default 3 */
    struct backoff backoff; /* default base 2 s, cap 30 s */
    int64_t timeout_ms;     /* most run time of one attempt; default 0: none */
    int64_t lease_ms;       /* heartbeat timeout: a lease not renewed for this long ends the
                               attempt; default 30 s */
    int64_t no_progress_ms; /* alive but stuck: no progress, stage or checkpoint change for this
                               long ends the attempt; default 30 min; -1: never */
};

#define ENGINE_DEFAULT_ATTEMPTS       3
#define ENGINE_DEFAULT_LEASE_MS       30000
#define ENGINE_DEFAULT_NO_PROGRESS_MS (30 * 60 * 1000)

/* What a caller asks for. Zero or NULL fields take defaults; strings are borrowed. */
struct job_spec {
    const char *type;        /* required */
    const char *queue;       /* default "default" */
    const char *args;        /* JSON object text; default "{}" */
    int priority;            /* JOB_PRIORITY_MIN..MAX; higher runs first */
    int max_attempts;        /* 0: the type's; else 1..JOB_ATTEMPTS_MAX */
    int64_t run_at;          /* ms since epoch; 0: now */
    int64_t timeout_ms;      /* 0: the type's */
    int64_t backoff_base_ms; /* 0: the type's */
    int64_t backoff_cap_ms;  /* 0: the type's */
    const char *batch_id;
    const char *parent_id;  /* a job id */
    const char *root_id;    /* a job id; default parent's root or parent */
    const char *unique_key; /* enqueue returns the live job with this key instead of a new one */
    const char *workspace;  /* default "default" */
    /* chains: the stages named here are enqueued with this job, waiting, and run once it
     * completes (never for a job that did not complete); each gets this job as its parent, the
     * chain's root, and this job's result as its input. A stage may name stages of its own. */
    const char *input;           /* JSON text the job gets as its input; default none */
    const struct job_spec *next; /* nnext stages that run once this job completed */
    size_t nnext;
    const struct job_spec *join; /* runs once this job completed and every child it fanned out
                                    (engine_children_add) ended, with their results as input */
};

struct engine_opts {
    const struct clock *clock;              /* default the real clock */
    const struct job_type_config *defaults; /* for types never registered; NULL: built-in */
};

/* Which job and attempt a change is for: a worker's proof that it still holds the job. */
struct job_fence {
    const char *id;
    int attempt;       /* the attempt the worker claimed */
    const char *owner; /* the lease owner it claimed with */
    const char *type;  /* optional: the job's type, which spares a lookup */
    int64_t seq;       /* optional (0: not checked): the claimed job's event_seq, its lease
                          token; refuses a change when the job changed state since the claim,
                          even if a later claim has the same attempt and owner */
    int64_t ref;       /* optional (0: unknown): the claimed job's store_ref, which lets the
                          store find the row without a key lookup */
    /* optional, all three or none (workspace NULL): what the metrics and live events need to know
     * of the job, which spares reading it back; given by whoever claimed it */
    const char *workspace;
    const char *batch_id; /* NULL: the job has none */
    int64_t started_at;   /* the attempt's start */
    const char *root_id;  /* NULL: the job is no later stage of a chain (f->row's, when given) */
    /* optional (false: the engine reads the job to find out): the job ends nothing else when it
     * completes (no stage waits for it, it names no join and is no join's child), so its
     * completion needs no chain step */
    bool plain;
    /* optional (NULL: the engine reads the job when it needs to): the job as claimed, whose
     * chain fields (root_id, role, join_id, successors, depth), which never change, spare reading
     * it back for a chain step; with type and workspace given, such a completion is grouped with
     * others into one statement */
    const struct job *row;
};

/* A state change, as listeners see it after it is durable. from == to (both processing) is a
 * progress update of a running job: progress (or -1) and stage (or NULL) say what was set. */
struct job_change {
    const char *id;
    const char *type;
    enum job_status from, to;
    int attempt;
    const char *workspace;
    const char *batch_id; /* NULL: none */
    const char *root_id;  /* the root of the job's chain; NULL: a root, a lone job, or unknown */
    const char *message;  /* why, as in the job's history; NULL: none */
    int64_t at;           /* the engine's time of the change, ms */
    int64_t proc_ms;      /* an attempt that ended: how long it ran; -1: unknown */
    int64_t wait_ms;      /* a claim: how long the job waited since it was due; -1: unknown */
    int progress;         /* a progress update: 0..100, or -1 */
    const char *stage;    /* a progress update: the stage set, or NULL */
    const char *cause;    /* why the monitor ended the attempt: "heartbeat_timeout", "no_progress"
                             or "timeout"; NULL when it was not the monitor */
    bool remote; /* made by another node on the same database (PostgreSQL): id, type, workspace,
                    batch_id, root_id, from, to, attempt and at are known; message, stage and
                    cause are NULL, proc_ms, wait_ms and progress -1 */
};

typedef void (*engine_listener_fn)(void *ctx, const struct job_change *c);
typedef void (*engine_done_fn)(void *ctx, int rc, const struct err *e);
/* A write to the store run by the committer inside its transaction (see engine_exec). */
typedef int (*engine_exec_fn)(struct store *s, void *arg, struct err *e);

struct engine;
struct job_children;

int engine_open(struct store *s, const struct engine_opts *o, struct engine **out, struct err *e);
/* Drain the committer and close the store. Accepts NULL. */
void engine_close(struct engine *eng);
struct store *engine_store(struct engine *eng);
int64_t engine_now(const struct engine *eng);

/* Set a type's settings (copied). Thread-safe; later calls replace earlier ones. */
int engine_set_type(struct engine *eng, const struct job_type_config *cfg, struct err *e);
/* The settings that apply to type (defaults filled in), copied into out. */
void engine_type(struct engine *eng, const char *type, struct job_type_config *out);
/* Whether type was set with engine_set_type (a type some handler or setting knows). */
bool engine_type_known(struct engine *eng, const char *type);

/* Whether s is a name the engine takes (a type, queue, workspace, batch id...): 1 to max bytes, no
 * control characters, and no spaces unless allow_space. */
bool engine_name_valid(const char *s, size_t max, bool allow_space);

/* Check one spec without enqueueing it (its next stages and join are not looked at): 0 or
 * TRAWL_EINVAL with a message naming the field. */
int engine_validate(const struct job_spec *spec, struct err *e);
/* Check a spec and every stage it names, as an enqueue would, without enqueueing anything. */
int engine_check_spec(struct engine *eng, const struct job_spec *spec, struct err *e);

struct enqueue_result {
    char id[UUID_STR_LEN];
    bool existed; /* a live job with the spec's unique_key was returned */
};

/* engine_enqueue_many that returns at once: done(ctx, rc, err) is called once the jobs are
 * durable (or could not be enqueued), from the thread that committed them: the committer's, or
 * under light load the caller's own before this returns (see commit_submit_or_lead). A bad spec
 * calls done before this returns. The specs are copied; res must live until done. */
void engine_enqueue_many_async(struct engine *eng, const struct job_spec *specs, size_t n,
                               struct enqueue_result *res, engine_done_fn done, void *ctx);
/* Enqueue one job and, in the same transaction after it, run after(store, arg) (the rows that
 * belong to the job, such as a scraping session's); both are durable on return, or neither is
 * there. res->id is the job's id when after runs. after may refuse with a negative code
 * (TRAWL_ESTATE, TRAWL_ENOTFOUND, ...): the job is rolled back with its writes and the code is
 * returned; refusals do not count as failures of the store. It may run more than once. */
int engine_enqueue_with(struct engine *eng, const struct job_spec *spec, struct enqueue_result *res,
                        engine_exec_fn after, void *arg, struct err *e);
/* Enqueue one job; durable on return. */
int engine_enqueue(struct engine *eng, const struct job_spec *spec, struct enqueue_result *res,
                   struct err *e);
/* Enqueue n jobs in one transaction: all or none. res has n entries. On a bad spec nothing is
 * enqueued and the error names its index. */
int engine_enqueue_many(struct engine *eng, const struct job_spec *specs, size_t n,
                        struct enqueue_result *res, struct err *e);

/* Claim up to limit due pending jobs of the given types, highest priority first, then oldest
 * run_at, then id; each gets a lease for owner and attempt + 1. lease_ms 0 takes the type's
 * lease (the shortest of the types' when several). Returns the number claimed. */
int engine_claim(struct engine *eng, const char *const *types, size_t ntypes, size_t limit,
                 const char *owner, int64_t lease_ms, struct job **out, size_t *n, struct err *e);
/* engine_claim limited to one workspace's jobs (NULL: any). */
int engine_claim_in(struct engine *eng, const char *workspace, const char *const *types,
                    size_t ntypes, size_t limit, const char *owner, int64_t lease_ms,
                    struct job **out, size_t *n, struct err *e);

/* Progress and stage of a running job (set=UPD_PROGRESS|UPD_STAGE|UPD_CHECKPOINT chooses which
 * are written); always renews the lease by lease_ms. Fenced: TRAWL_ESTALE when the worker lost
 * the job. */
struct heartbeat {
    unsigned set;
    int progress; /* 0..100 */
    const char *stage;
    const char *checkpoint; /* JSON text */
    int64_t lease_ms;       /* 0: as long as the lease held, else the type's */
};
int engine_heartbeat(struct engine *eng, const struct job_fence *f, const struct heartbeat *hb,
                     struct err *e);

/* Complete a running job with a result (JSON text or NULL). Fenced. */
int engine_complete(struct engine *eng, const struct job_fence *f, const char *result,
                    struct err *e);
void engine_complete_async(struct engine *eng, const struct job_fence *f, const char *result,
                           engine_done_fn done, void *ctx);
/* engine_complete_async with a write that must land with the completion (a crawl job's page):
 * pre runs in the same transaction just before the job is completed, so both are durable or
 * neither is; its failure fails the completion. pre may run more than once (after a rollback of
 * its group); pre_arg must live until done runs. children (taken, may be NULL) are fanned out
 * with the completion, as in engine_complete_children. */
void engine_complete_with_async(struct engine *eng, const struct job_fence *f, const char *result,
                                struct job_children *children, engine_exec_fn pre, void *pre_arg,
                                engine_done_fn done, void *ctx);
/* End a running attempt with an error. Retryable with attempts left: retrying with backoff;
 * else failed. Returns the new status (JOB_RETRYING or JOB_FAILED) or an error. Fenced. */
int engine_fail(struct engine *eng, const struct job_fence *f, const char *error, bool retryable,
                struct err *e);
/* engine_fail that returns at once; done's rc is what engine_fail would return: the new status
 * (positive) or a negative error. */
void engine_fail_async(struct engine *eng, const struct job_fence *f, const char *error,
                       bool retryable, engine_done_fn done, void *ctx);
/* Give a claimed job back (shutdown): pending again at once; when not started, its attempt is
 * not counted. Fenced. */
int engine_release(struct engine *eng, const struct job_fence *f, bool started, struct err *e);

/* Put a running job back to pending, due at run_at, without spending an attempt: the work could
 * not start for a reason outside the job (a circuit breaker is open, a host asks to slow down).
 * why is recorded in the job's history. Fenced. */
int engine_defer(struct engine *eng, const struct job_fence *f, int64_t run_at, const char *why,
                 struct err *e);

/* Cancel a pending, retrying, processing, waiting or blocked job; the stages waiting for it are
 * blocked. Cancelling a chain's root cancels every job of the chain that has not ended, even when
 * the root itself has. */
int engine_cancel(struct engine *eng, const char *id, struct err *e);
/* Put a failed or cancelled job back to pending with max_attempts more attempts (0: the type's
 * default); its history is kept. A stage of a chain continues the chain from there: the stages it
 * blocked wait for it again (stages that completed do not run again). A waiting or blocked job is
 * refused (TRAWL_ESTATE): retry the stage that failed. */
int engine_retry(struct engine *eng, const char *id, int more_attempts, struct err *e);

/* Put every failed job of a workspace's batch back to pending, each with more_attempts more
 * attempts (0: its type's default), in one transaction. Returns how many. */
int engine_retry_batch(struct engine *eng, const char *workspace, const char *batch_id,
                       int more_attempts, struct err *e);

/* A write to the store that is not a job state change (a crawl result, a token), run by the
 * committer so it shares a transaction and an fsync with other changes. fn runs on the committer
 * thread inside the transaction and may run more than once (after a rollback of its group), so
 * it must not consume arg. A negative return rolls the transaction back and is the call's error.
 * engine_exec returns once the write is durable; engine_exec_async calls done then instead (from
 * the committer thread), and arg must live until done runs. */
int engine_exec(struct engine *eng, engine_exec_fn fn, void *arg, struct err *e);
void engine_exec_async(struct engine *eng, engine_exec_fn fn, void *arg, engine_done_fn done,
                       void *ctx);

/* ---- chains ---- */

/* Children a running job fans out when it completes: built while it runs, enqueued in the
 * transaction of its completion, so an attempt that fails or is lost leaves none behind and a
 * retried job never doubles them. Each child gets the job as its parent, the job's chain as its
 * own, and counts toward the join the job's spec names (job_spec.join), which runs once every
 * child ended, with their results (or errors) as its input. */
struct job_children;
struct job_children *engine_children_new(void);
/* Accepts NULL. */
void engine_children_free(struct job_children *c);
/* Check spec (its stages and join too) and add a copy. TRAWL_EINVAL names what is wrong (a child
 * may not have a unique_key, run_at, parent_id or root_id); TRAWL_ETOOBIG past FANOUT_MAX. */
int engine_children_add(struct engine *eng, struct job_children *c, const struct job_spec *spec,
                        struct err *e);
size_t engine_children_count(const struct job_children *c);
/* Complete a running job and fan out children (taken; NULL: none) in the same transaction.
 * TRAWL_EINVAL when they would make the chain deeper than CHAIN_DEPTH_MAX. Fenced. */
int engine_complete_children(struct engine *eng, const struct job_fence *f, const char *result,
                             struct job_children *children, struct err *e);

/* Wait until the job has ended (completed, failed or cancelled) or is blocked (it cannot run
 * until an earlier stage is retried), or timeout_ms passed, and read it into out. Woken by the
 * state change itself, not by polling. Returns 0 with the job as it is (ended or not: check
 * out->status), TRAWL_ENOTFOUND, or a store error. */
int engine_wait(struct engine *eng, const char *id, int64_t timeout_ms, struct job *out,
                struct err *e);

/* Shutdown: every engine_wait returns now, and later ones at once. */
void engine_stop_waits(struct engine *eng);

/* What one sweep of the monitor did. */
struct sweep_report {
    int expired;     /* attempts ended: lease expired (heartbeat timeout) */
    int no_progress; /* attempts ended: no progress */
    int timed_out;   /* attempts ended: run time over the timeout */
    int failed;      /* of those, jobs that had no attempts left */
    int promoted;    /* due retries made pending */
};
/* End stuck and timed-out attempts (requeue from checkpoint or fail) and make due retries
 * pending, in one transaction. */
int engine_sweep(struct engine *eng, struct sweep_report *r, struct err *e);

int engine_get(struct engine *eng, const char *id, struct job *out, struct err *e);
int engine_events(struct engine *eng, const char *id, struct job_event **out, size_t *n,
                  struct err *e);
int engine_counts(struct engine *eng, int64_t counts[JOB_STATUS_COUNT], struct err *e);
/* The job counters of every workspace and type q selects (store_stats): how many jobs are in each
 * status, and what ended in the minutes since q->since. Kept by the committer in the same
 * transactions as the changes they count, so reading them never counts the jobs table. Returns
 * the number of rows (stats_rows_free). */
int engine_job_stats(struct engine *eng, const struct stats_query *q, struct stats_row **out,
                     size_t *n, struct err *e);
/* What ended in each minute since q->since, per type (store_stats_minutes). */
int engine_job_minutes(struct engine *eng, const struct stats_query *q, struct stats_minute **out,
                       size_t *n, struct err *e);
/* List jobs, newest first. status is a status name or NULL; an unknown name is refused with
 * TRAWL_EINVAL. f may be NULL (no filter); its status field is ignored. limit 0 means 100; at
 * most 10000. Returns the number of jobs listed or an error. */
int engine_list(struct engine *eng, const char *status, const struct job_filter *f,
                struct job **out, size_t *n, struct err *e);

/* Call fn after every durable state change, from the committer thread; fn must be quick and
 * must not call back into the engine synchronously. On a database several nodes share, fn also
 * gets the other nodes' changes (remote set), from the store's listening thread. At most 8
 * listeners. */
int engine_listen(struct engine *eng, engine_listener_fn fn, void *ctx);
/* Remove a listener; once this returns, fn is not running and will not be called. */
void engine_unlisten(struct engine *eng, engine_listener_fn fn, void *ctx);
/* A counter that grows when jobs may have become claimable (enqueue, due retry, release,
 * requeue). engine_wait_available blocks until it differs from seen or timeout_ms passes. */
uint64_t engine_available_seq(struct engine *eng);
void engine_wait_available(struct engine *eng, uint64_t seen, int64_t timeout_ms);

/* ---- writes that go with a change (alerts) ---- */

/* The transaction a change is being made in. */
struct engine_tx;
/* Called on the committer thread, inside the transaction, for every state change (c as listeners
 * will see it once durable); it may enqueue jobs in the same transaction (engine_tx_enqueue), so
 * they are durable exactly when the change is. It may run again for the same change when the
 * transaction is rolled back and replayed. One hook; NULL removes it. Returns once no transaction
 * uses the hook it replaced (whose ctx may then be freed). Not to be called from two threads at
 * once. */
typedef void (*engine_tx_hook_fn)(void *ctx, struct engine_tx *tx, const struct job_change *c);
void engine_set_tx_hook(struct engine *eng, engine_tx_hook_fn fn, void *ctx);
struct store *engine_tx_store(struct engine_tx *tx);
/* A write run by the committer inside its transaction that may also enqueue jobs in it
 * (engine_tx_enqueue), so they are durable exactly when the write is: a schedule's slot and its
 * job. As engine_exec otherwise: fn may run more than once, a negative return rolls back. */
typedef int (*engine_tx_fn)(struct engine_tx *tx, void *arg, struct err *e);
int engine_exec_tx(struct engine *eng, engine_tx_fn fn, void *arg, struct err *e);
/* Retention (engine/retention.c): delete the finished jobs that may go (store/retention.h) with
 * completed and cancelled ones kept keep_ms after their last change and failed ones dead_keep_ms
 * (0: kept), in transactions of at most ENGINE_PRUNE_BATCH jobs each, oldest first, until one
 * deletes fewer or budget_ms have passed; the job counters go down with them. *pruned gets how
 * many went, *more whether the last transaction was full (more may be due: call again). Returns
 * 0 or the error of the pass that failed (the passes before it stay). */
#define ENGINE_PRUNE_BATCH 1000
int engine_prune(struct engine *eng, int64_t keep_ms, int64_t dead_keep_ms, int64_t budget_ms,
                 int64_t *pruned, bool *more, struct err *e);
/* Enqueue one job (with the stages it names) in the hook's or engine_exec_tx's transaction. */
int engine_tx_enqueue(struct engine *eng, struct engine_tx *tx, const struct job_spec *spec,
                      struct enqueue_result *res, struct err *e);
/* fn(arg, true) once the transaction is durable; fn(arg, false) if it is rolled back. */
void engine_tx_after(struct engine_tx *tx, void (*fn)(void *arg, bool committed), void *arg);

/* Group-commit statistics since open. */
struct engine_stats {
    uint64_t commits;           /* transactions committed */
    uint64_t ops;               /* operations in them */
    int64_t last_commit_ms;     /* monotonic time of the last commit; 0: none yet */
    int64_t last_failure_ms;    /* of the last transaction the store failed; 0: none */
    char last_failure[512];     /* why */
    struct hist commit_latency; /* seconds from begin to durable, per transaction committed */
    struct hist commit_size;    /* operations per transaction committed */
};
void engine_stats(struct engine *eng, struct engine_stats *out);

#endif
