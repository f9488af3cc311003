/* The store: where jobs and everything beside them live. One interface per domain (jobs, batches,
 * tokens, crawl results, scraping sessions, metrics, ...), each a struct of function pointers with
 * a version field, declared in the domain's own header (store/job.h, store/batch.h, ...); this
 * header holds what every domain shares: the store itself, its transactions, its fault injection.
 * An implementation per database fills the domains it keeps; all SQL lives behind them. The
 * engine calls the store_*() wrappers, never the function pointers, so tests can fail the Nth
 * call.
 *
 * Ownership: parameters are borrowed. What the store returns belongs to the caller (each domain's
 * _free and _release functions).
 *
 * Threads: write calls are made between begin and commit/rollback by one thread at a time (the
 * engine's committer); each domain's header says which of its calls are writes. Read calls may be
 * made from any thread at any time. */
#ifndef TRAWL_STORE_H
#define TRAWL_STORE_H

#include "base/err.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* What every store has: its name, its transactions, its health. */
#define STORE_CORE_VERSION 1
struct store_core_ops {
    int version; /* STORE_CORE_VERSION */
    const char *name;
    void (*close)(struct store *s);
    int (*begin)(struct store *s, struct err *e);
    int (*commit)(struct store *s, struct err *e);
    void (*rollback)(struct store *s);
    int (*check)(struct store *s, struct err *e);
};

/* Each domain's operations; declared in its header. */
struct store_job_ops;
struct store_batch_ops;
struct store_token_ops;
struct store_crawl_ops;
struct store_session_ops;
struct store_stats_ops;
struct store_chain_ops;
struct store_webhook_ops;
struct store_schedule_ops;

/* The part every implementation embeds first. A domain the implementation does not keep is NULL:
 * its wrappers then fail with TRAWL_ESTORE, saying so. */
struct store {
    const struct store_core_ops *core;
    const struct store_job_ops *jobs;
    const struct store_batch_ops *batches;
    const struct store_token_ops *tokens;
    const struct store_crawl_ops *crawl;
    const struct store_session_ops *sessions;
    const struct store_stats_ops *stats;
    const struct store_chain_ops *chains;
    const struct store_webhook_ops *webhooks;
    const struct store_schedule_ops *schedules;
    atomic_long calls;   /* wrapper calls so far */
    atomic_long fail_at; /* > 0: the wrapper call with this number fails with TRAWL_EINJECTED */
};

enum store_durability {
    STORE_DURABLE, /* every acknowledged commit is on disk (fsync) */
    STORE_RELAXED, /* commits survive a crash of trawl, not of the machine (see docs) */
};

struct store_sqlite_opts {
    enum store_durability durability;
    int busy_timeout_ms; /* how long a write waits for another process's lock; 0: 5000 */
};

/* Open (creating if absent) the SQLite database at path and bring its schema up to date.
 * On failure returns a negative code, *out is NULL and e says why. */
int store_sqlite_open(const char *path, const struct store_sqlite_opts *o, struct store **out,
                      struct err *e);

/* The schema version this build knows (the number of the last migration). */
int store_schema_version(void);

/* Wrappers of the core: count the call, fail it when it is the one injected, else call the
 * implementation. */
void store_close(struct store *s);
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);
/* Whether the store can answer (a read that touches the database). */
int store_check(struct store *s, struct err *e);

/* Fault injection for tests: the n-th wrapper call from now on fails (0 turns it off). */
void store_fail_nth(struct store *s, long n);

/* For the domains' wrappers: count a call and fail it when it is the one injected, or when the
 * domain (present false) is not kept by this store. Returns 0 or the error to return. */
int store_call(struct store *s, bool present, const char *domain, struct err *e);

/* The body of a wrapper: `STORE_WRAP(s, s->jobs, "jobs", s->jobs->get(s, id, out, e));` */
#define STORE_WRAP(s, domain, name, call)                                                          \
    do {                                                                                           \
        int rc_ = store_call((s), (domain) != NULL, (name), e);                                    \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        return call;                                                                               \
    } while (0)

#endif
