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
/* The rows of n specs, with the types' defaults; they borrow the specs' strings. */
void eng_jobs_from_specs(struct engine *eng, const struct job_spec *specs, size_t n,
                         struct job *jobs);

#endif
