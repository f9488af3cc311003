/* The engine's insides, shared by its files: the engine itself, and the helpers its operations
 * share. Not for use outside src/engine/. */
#ifndef TRAWL_ENGINE_INT_H
#define TRAWL_ENGINE_INT_H

#include "engine/commit.h"
#include "engine/engine.h"

#include <pthread.h>

#define MAX_TYPES     64
#define MAX_LISTENERS 8

struct waiters;
struct tx_hook;

struct engine {
    struct store *store;
    struct committer *committer;
    struct clock clock;
    struct job_type_config defaults;
    pthread_mutex_t lock;  /* types, available */
    pthread_mutex_t llock; /* listeners: held while they run, so unlisten is safe */
    struct job_type_config types[MAX_TYPES];
    int ntypes;
    struct {
        engine_listener_fn fn;
        void *ctx;
    } listeners[MAX_LISTENERS];
    int nlisteners;
    uint64_t avail_seq;
    pthread_cond_t avail;
    struct waiters *waiters;
    struct tx_hook *tx_hook; /* the hook the committer calls, with its context; NULL: none */
};

/* Rows of job trees: each tree contiguous, its top row first; rows own their strings. */
struct job_rows {
    struct job *rows;
    size_t n, cap;
    size_t *tops; /* the index of each tree's top row */
    size_t ntops, tcap;
    int deepest; /* the most stages below any tree's top */
};

/* Check spec and the stages it names and add their tree: the top pending, its stages waiting,
 * each with its parent, role and successors set. A tree whose top has no parent is placed at
 * once (rows_place: root NULL or spec's, depth 0). where names the spec in messages ("jobs[3]").
 * TRAWL_EINVAL names what is wrong; nothing is added then. */
int rows_add(struct engine *eng, struct job_rows *r, const struct job_spec *spec, int64_t now,
             const char *where, struct err *e);
/* Place tree t under its chain: its top's root_id := root_id (copied; NULL: the top is a root),
 * every other row's := the chain's root, depths counted from depth at the top. May run again. */
void rows_place(struct job_rows *r, size_t t, const char *root_id, int depth);
/* One past the last row of tree t; the most stages below its top. */
size_t rows_tree_end(const struct job_rows *r, size_t t);
int rows_tree_depth(const struct job_rows *r, size_t t);
void rows_release(struct job_rows *r);

struct job_children {
    struct job_rows rows; /* each tree's top is a child; parent, root, role and join are set when
                             its parent completes */
};

/* The chain's share of a change of job j (the row as it was before: id, type, workspace,
 * root_id, role, join_id, successors, depth) from `from` to `to`, in the same transaction: a
 * completion releases the stages waiting for it, enqueues the children it fans out (children,
 * may be NULL) and counts toward its join; a failure for good or a cancellation blocks the stages
 * below it; a retry unblocks them. The end of a join's child counts toward the join either way.
 * Returns 0 or a store error; TRAWL_EINVAL when the children would make the chain too deep. */
int eng_chain_step(struct engine *eng, struct commit_tx *tx, const struct job *j, int from, int to,
                   const char *result, struct job_children *children, int64_t now, struct err *e);
/* eng_chain_step for n jobs that have just completed (without children), the stages they release
 * in one store call. */
int eng_chain_completed(struct engine *eng, struct commit_tx *tx, const struct job *const *jobs,
                        size_t n, int64_t now, struct err *e);
/* Cancel every live job of the chain rooted at root_id, in the transaction; returns how many. */
int eng_chain_cancel(struct engine *eng, struct commit_tx *tx, const char *root_id, int64_t now,
                     struct err *e);

/* Record a change of the job row j (as it was read, before the change) in the transaction: for
 * listeners once durable, the job counters, the transaction hook. */
void eng_record_job(struct commit_tx *tx, const struct job *j, int from, int to, int attempt,
                    const char *message, const char *cause, int64_t now);
/* Whether rc is a refusal of one operation (a stale fence, a state that does not allow it, a job
 * that is not there), which says nothing of the store's health. */
bool eng_refusal(int rc);
/* 0, or TRAWL_EINVAL when id is not a job id. */
int eng_check_id(const char *id, struct err *e);
/* JSON text that parses, within max bytes; object_only demands an object. */
int eng_check_json(const char *what, const char *text, size_t max, bool object_only, struct err *e);

#endif
