/* The store: where jobs and everything beside them live. One interface per domain (jobs, batches,
 * tokens, crawl results, scraping sessions, feed imports, metrics, ...), each a struct of function
 * pointers with a version field, declared in the domain's own header (store/job.h, store/batch.h,
 * ...); this header holds what every domain shares: the store itself, its transactions, its fault
 * injection.
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

/* A job's state change as one node tells the others that share its database (strings borrowed;
 * all but id may be NULL). */
struct store_change {
    const char *id, *type, *workspace, *batch_id, *root_id;
    int from, to, attempt; /* enum job_status; from == to: a progress update */
    int64_t at;
};

/* What another node's transaction changed, once it committed: its changes, and whether jobs may
 * have become claimable. Called on the store's own thread; must be quick. */
typedef void (*store_heard_fn)(void *ctx, const struct store_change *c, size_t n, bool available);

/* What every store has: its name, its transactions, its health. */
#define STORE_CORE_VERSION 2
struct store_core_ops {
    int version; /* STORE_CORE_VERSION */
    const char *name;
    void (*close)(struct store *s);
    int (*begin)(struct store *s, struct err *e);
    int (*commit)(struct store *s, struct err *e);
    void (*rollback)(struct store *s);
    int (*check)(struct store *s, struct err *e);
    /* Optional, both or neither (NULL: a store only one node uses). announce, a write inside the
     * open transaction, tells the other nodes its changes, delivered when (and only if) it
     * commits. hear starts calling fn with what the other nodes announce (fn NULL: stops, and
     * once it returns fn is not running). */
    int (*announce)(struct store *s, const struct store_change *c, size_t n, bool available,
                    struct err *e);
    int (*hear)(struct store *s, store_heard_fn fn, void *ctx, struct err *e);
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
struct store_alert_ops;
struct store_retention_ops;
struct store_import_ops;

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
    const struct store_alert_ops *alerts;
    const struct store_retention_ops *retention;
    const struct store_import_ops *imports;
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

struct store_pg_opts {
    enum store_durability durability; /* STORE_RELAXED: synchronous_commit = off */
};

/* Open the PostgreSQL database conninfo names (a postgres:// or postgresql:// URI, or a libpq
 * keyword string such as "host=/run/postgresql dbname=trawl") and bring its schema up to date.
 * Several trawl nodes may share the database and may open it at the same time. On failure
 * returns a negative code, *out is NULL and e says why. */
int store_pg_open(const char *conninfo, const struct store_pg_opts *o, struct store **out,
                  struct err *e);
/* The PostgreSQL schema version this build knows (its migrations are numbered on their own). */
int store_pg_schema_version(void);
/* The PostgreSQL database conninfo names, for messages: "PostgreSQL database D on H:P", never a
 * password (a new string). */
char *store_pg_describe(const char *conninfo);
/* Whether db names a PostgreSQL database (a URI or a keyword string) rather than a file. */
bool store_is_pg(const char *db);
/* Open db with the store it names: PostgreSQL (store_is_pg) or else an SQLite file. */
int store_open(const char *db, enum store_durability d, struct store **out, struct err *e);

/* Wrappers of the core: count the call, fail it when it is the one injected, else call the
 * implementation. */
void store_close(struct store *s);
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);
/* Whether the store can answer (a read that touches the database). */
int store_check(struct store *s, struct err *e);

/* Whether the store is shared by several nodes (it announces and hears changes). */
bool store_shared(const struct store *s);
/* Tell the other nodes the open transaction's changes (a no-op on a store of one node). */
int store_announce(struct store *s, const struct store_change *c, size_t n, bool available,
                   struct err *e);
/* Hear the other nodes' changes (see store_core_ops.hear); a no-op on a store of one node. */
int store_hear(struct store *s, store_heard_fn fn, void *ctx, struct err *e);

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
