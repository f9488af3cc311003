/* Group commit: one thread applies every write to the store. Operations queued while a
 * transaction commits go together into the next one, so many changes share one fsync. No
 * operation is reported done before the transaction that holds it is durable.
 *
 * Ownership: an operation is owned by its submitter until it is finished (sync) or until its
 * done callback runs (async); the committer never frees one. */
#ifndef TRAWL_COMMIT_H
#define TRAWL_COMMIT_H

#include "base/err.h"
#include "base/hist.h"
#include "store/job.h"
#include "store/stats.h"
#include "store/store.h"

#include <pthread.h>

#include <stdbool.h>
#include <stdint.h>

struct commit_tx;

#define COMMIT_GROUP_MAX 32

struct commit_op {
    struct commit_op *next;
    /* Apply the operation inside the open transaction. Return 0 to keep the transaction (a
     * refusal such as a stale fence goes in op->rc), or a negative code from the store to roll it
     * back. Runs on the committer thread. */
    int (*run)(struct commit_op *op, struct commit_tx *tx);
    /* Optional: apply a run of consecutive queued ops that share this function at once (at most
     * COMMIT_GROUP_MAX), with run's contract; e gets the failure. */
    int (*run_group)(struct commit_op **ops, size_t n, struct commit_tx *tx, struct err *e);
    /* Forget what run produced, after a rollback (may be NULL). */
    void (*undo)(struct commit_op *op);
    /* Async completion, after the commit (or failure). NULL: the submitter waits. */
    void (*done)(struct commit_op *op);
    int rc;
    struct err err;
    bool finished;
    void *waiter; /* commit_run's own condition variable: only its waiter is woken */
};

/* A change as listeners get it; the strings share one allocation, owned by id. */
struct job_change_rec {
    char *id, *type, *workspace, *batch_id, *root_id, *message, *stage; /* all but the first three
                                                                         may be NULL */
    const char *cause; /* a static string, or NULL (see struct change_note) */
    int from, to, attempt;
    int progress;    /* a progress update (from == to): the progress, or -1 when only the stage */
    int64_t at;      /* the engine's time of the change */
    int64_t proc_ms; /* an attempt that ended: how long it ran; -1: unknown */
    int64_t wait_ms; /* a claim: how long the job waited since it was due; -1: unknown */
};

/* What commit_record is told of a change (strings are copied). */
struct change_note {
    const char *id, *type, *workspace, *batch_id, *message;
    const char *root_id; /* the root of the job's chain; NULL: none or unknown */
    int from, to, attempt;
    const char *stage;  /* a progress update (from == to): the stage set, or NULL */
    int progress;       /* a progress update: the progress set, or -1 */
    const char *cause;  /* why the monitor ended an attempt: "heartbeat_timeout", "no_progress",
                           "timeout" (static strings), or NULL */
    int64_t started_at; /* an attempt that ended: when it started; 0: unknown */
    int64_t due_at;     /* a claim: when the job became due; 0: unknown */
};

/* Called in the transaction, on the committer thread, for every change recorded (r as listeners
 * will get it); it may write more in the same transaction (commit_store) and ask for a call after
 * the commit (commit_after). */
struct commit_tx;
typedef void (*commit_hook_fn)(void *ctx, struct commit_tx *tx, const struct job_change_rec *r);

/* Called after each durable transaction with the changes it made. */
typedef void (*commit_changes_fn)(void *ctx, const struct job_change_rec *c, size_t n,
                                  bool available);

struct commit_stats {
    uint64_t commits;
    uint64_t ops;
    int64_t last_commit_ms;  /* monotonic time of the last transaction committed; 0: none */
    int64_t last_failure_ms; /* of the last one that failed; 0: none */
    char last_failure[512];  /* why it failed */
    struct hist latency;     /* of each transaction committed, begin to durable, seconds */
    struct hist size;        /* operations in each transaction committed */
};

struct committer;

/* Start the committer thread on s (borrowed). */
struct committer *commit_start(struct store *s, commit_changes_fn fn, void *ctx);
/* Finish queued operations and stop the thread. Accepts NULL. */
void commit_stop(struct committer *c);
/* Queue op; returns at once. Once stopped, op fails with TRAWL_ECLOSED. */
void commit_submit(struct committer *c, struct commit_op *op);
/* Like commit_submit, but under light load (nobody is committing and the last batch held one
 * operation) the caller runs the batch itself, op's done callback included, before this returns
 * (no thread hand-off); under load the committer takes it, so the caller never waits for an
 * fsync. */
void commit_submit_or_lead(struct committer *c, struct commit_op *op);
/* Queue op and wait until it is finished; returns op->rc. */
int commit_run(struct committer *c, struct commit_op *op);

/* For run(): the store, and a record of what changed, at now (the engine's time): listeners get
 * it after the commit, and the job counters (store_stats_add) are updated in the transaction. */
struct store *commit_store(struct commit_tx *tx);
void commit_record(struct commit_tx *tx, const struct change_note *c, int64_t now);
/* Count a change listeners are not told of (an enqueue: from is -1) in the job counters. */
void commit_count(struct commit_tx *tx, const char *workspace, const char *type, int from, int to,
                  int64_t proc_ms, int64_t now);
/* Lower the job counters of a workspace's jobs of type in status by n (jobs deleted). */
void commit_uncount(struct commit_tx *tx, const char *workspace, const char *type, int status,
                    int64_t n);
/* Set the hook every recorded change goes through (NULL: none), from the next transaction on. */
void commit_set_hook(struct committer *c, commit_hook_fn fn, void *ctx);
/* For run() or a hook: call fn(arg, true) once the transaction is durable, or fn(arg, false) when
 * it is rolled back (it may then run again, and ask again). */
void commit_after(struct commit_tx *tx, void (*fn)(void *arg, bool committed), void *arg);
/* Mark that jobs may have become claimable. */
void commit_available(struct commit_tx *tx);
void commit_stats_get(struct committer *c, struct commit_stats *out);

#endif
