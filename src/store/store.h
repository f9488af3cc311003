/* The store: where jobs live. An interface (a struct of function pointers with a version field)
 * with one implementation per database; all SQL lives behind it. The engine calls the store_*()
 * wrappers below, never the function pointers, so tests can fail the Nth call.
 *
 * Ownership: parameters are borrowed. Jobs and events the store returns belong to the caller
 * (job_array_free, job_release, job_events_free).
 *
 * Threads: write calls (insert, claim, update, processing, promote_due, fetch, select, and the
 * *_save, *_add, *_revoke, *_expire calls) are made between begin and commit/rollback by one
 * thread at a time (the engine's committer). Read calls (get, events, count, list, and the
 * *_get, *_find, *_list calls) may be made from any thread at any time. */
#ifndef TRAWL_STORE_H
#define TRAWL_STORE_H

#include "base/err.h"
#include "store/batch.h"
#include "store/crawl.h"
#include "store/job.h"
#include "store/scrape.h"
#include "store/token.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_OPS_VERSION 4

struct store;

struct claim_req {
    const char *const *types; /* claim only jobs of these types */
    size_t ntypes;
    size_t limit;
    const char *owner; /* lease owner written into each claimed job */
    int64_t lease_ms;  /* lease length */
    int64_t now;
    const char *workspace; /* NULL: any; else only this workspace's jobs */
};

/* Bits of job_update.set: which fields an update writes. */
enum {
    UPD_PROGRESS = 1 << 0,
    UPD_STAGE = 1 << 1,
    UPD_CHECKPOINT = 1 << 2,
    UPD_RESULT = 1 << 3,
    UPD_ERROR = 1 << 4,
    UPD_RUN_AT = 1 << 5,
    UPD_LEASE = 1 << 6,        /* lease_expires_at and last_heartbeat (= now) */
    UPD_CLEAR_LEASE = 1 << 7,  /* lease_owner, lease_expires_at := NULL */
    UPD_MAX_ATTEMPTS = 1 << 8, /* max_attempts := value */
    UPD_COMPLETED_AT = 1 << 9, /* completed_at := now */
    UPD_FAILED_AT = 1 << 10,   /* failed_at := now */
    UPD_CLEAR_ENDED = 1 << 11, /* completed_at, failed_at := NULL (a retried job runs anew) */
};

/* A fenced change to one job. The change is made only when the job is in a state of from_mask and,
 * where given, its attempt and lease owner match; otherwise nothing changes and the call returns
 * TRAWL_ESTALE (attempt or owner differ), TRAWL_ESTATE (state not allowed) or TRAWL_ENOTFOUND.
 * A change of status appends a job_events row with message. */
struct job_update {
    const char *id;
    unsigned from_mask;      /* JOB_MASK(...) | ... */
    int fence_attempt;       /* > 0: the job's attempt must equal this */
    const char *fence_owner; /* non-NULL: the job's lease_owner must equal this */
    int64_t fence_seq;       /* > 0: the job's event_seq must equal this (no change since) */
    int to;                  /* new status, or -1 to keep the status */
    int attempt_delta;       /* added to attempt */
    unsigned set;            /* UPD_* */
    int progress;
    const char *stage;
    const char *checkpoint;
    const char *result;
    const char *error;
    int64_t run_at;
    int64_t lease_expires_at;
    int max_attempts;
    int64_t now;
    const char *message; /* for the event */
    int *old_status;     /* out, may be NULL: the status before the change */
};

/* Which jobs to list: NULL or -1 fields do not filter. Newest first (by id). */
struct job_filter {
    int status; /* a job_status or -1 */
    const char *type;
    const char *batch_id;
    const char *workspace;
    const char *before_id; /* cursor: only jobs with a smaller id */
    size_t limit;          /* most rows; 0 means 100 */
};

/* The jobs of one batch, oldest first, optionally of one status; offset pagination. */
struct batch_filter {
    const char *workspace; /* required */
    const char *batch_id;  /* required */
    int status;            /* a job_status or -1 */
    size_t limit;          /* most rows; 0 means 100 */
    size_t offset;
};

/* One completion in store_complete_many: fenced like store_update. */
struct job_done {
    const char *id;
    int attempt;
    const char *owner;
    const char *result; /* JSON text or NULL */
    int64_t seq;        /* > 0: the job's event_seq must equal this, as fence_seq */
    int64_t ref;        /* > 0: the job's store_ref, which finds the row faster */
};

#define STORE_COMPLETE_MAX 32

/* What one transaction changed for one workspace's jobs of one type (store_stats_add). */
struct stats_delta {
    const char *workspace, *type;
    int64_t status[JOB_STATUS_COUNT];   /* change in the number of jobs in each status */
    int64_t completed, failed, retried; /* attempts that ended so */
    int64_t proc_ms, proc_n; /* summed processing time of completions whose start is known */
};

/* The counters of one workspace's jobs of one type (store_stats). */
struct stats_row {
    char *workspace, *type;
    int64_t status[JOB_STATUS_COUNT];                    /* jobs in each status now */
    int64_t completed, failed, retried, proc_ms, proc_n; /* in the minutes asked for */
};

/* What ended in one minute, for one type (store_stats_minutes). */
struct stats_minute {
    int64_t minute; /* ms since the epoch / 60000 */
    char *type;
    int64_t completed, failed, retried, proc_ms, proc_n;
};

/* Which counters to read: NULL does not filter. */
struct stats_query {
    const char *workspace;
    const char *type;
    int64_t since; /* ms since the epoch: sum the minutes from the one holding this on */
};

struct store_ops {
    int version; /* STORE_OPS_VERSION */
    const char *name;
    void (*close)(struct store *s);

    int (*begin)(struct store *s, struct err *e);
    int (*commit)(struct store *s, struct err *e);
    void (*rollback)(struct store *s);

    int (*insert)(struct store *s, struct job *j, struct err *e);
    int (*insert_many)(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e);
    int (*claim)(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                 struct err *e);
    /* Optional, both or neither: an optimistic claim in two steps, so that the reading is not
     * done by the one thread that writes. candidates reads, outside any transaction, the jobs
     * claim would take, in claim order. claim_these, in the write transaction, claims those of
     * them that are unchanged since (still pending, same event_seq), sets taken[i] for each, and
     * returns how many; it does not touch jobs, so it can be run again. */
    int (*candidates)(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                      struct err *e);
    int (*claim_these)(struct store *s, const struct claim_req *r, const struct job *jobs, size_t n,
                       bool *taken, struct err *e);
    int (*update)(struct store *s, const struct job_update *u, struct err *e);
    int (*complete_many)(struct store *s, const struct job_done *d, size_t n, int64_t now,
                         struct err *e);
    int (*processing)(struct store *s, struct job **out, size_t *n, struct err *e);
    int (*promote_due)(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e);
    int (*fetch)(struct store *s, const char *id, struct job *out, struct err *e);

    int (*get)(struct store *s, const char *id, struct job *out, struct err *e);
    int (*events)(struct store *s, const char *id, struct job_event **out, size_t *n,
                  struct err *e);
    int (*count)(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e);
    int (*list)(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
                struct err *e);
    int (*check)(struct store *s, struct err *e);

    /* version 2: batches, API tokens, crawl results */
    int (*batch_jobs)(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                      size_t *n, struct err *e);
    int (*batch_get)(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                     struct err *e);
    int (*batch_list)(struct store *s, const char *workspace, size_t limit, size_t offset,
                      struct batch_info **out, size_t *n, int64_t *total, struct err *e);
    int (*token_add)(struct store *s, const struct api_token *t, struct err *e);
    int (*token_find)(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                      struct api_token *out, struct err *e);
    int (*token_list)(struct store *s, struct api_token **out, size_t *n, struct err *e);
    int (*token_revoke)(struct store *s, const char *id, int64_t now, struct err *e);
    int (*crawl_save)(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                      struct err *e);
    int (*crawl_get)(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                     struct err *e);
    int (*crawl_expire)(struct store *s, int64_t before, size_t limit, struct err *e);

    /* version 3: scraping sessions */
    int (*session_add)(struct store *s, const struct scrape_session *ss, struct err *e);
    int (*session_get)(struct store *s, const char *workspace, const char *id, bool by_job,
                       struct scrape_session *out, struct err *e);
    int (*session_list)(struct store *s, const char *workspace, size_t limit, size_t offset,
                        struct scrape_session **out, size_t *n, int64_t *total, struct err *e);
    int (*session_note)(struct store *s, const char *id, const char *error, int warnings,
                        int64_t now, struct err *e);
    int (*session_set_job)(struct store *s, const char *id, const char *old_job, const char *job_id,
                           int64_t now, struct err *e);
    int (*pages_add)(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                     int64_t cap, int64_t now, struct err *e);
    int (*pages_take)(struct store *s, const char *session_id, size_t limit, int64_t now,
                      struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e);
    int (*page_finish)(struct store *s, const char *session_id, const struct page_outcome *o,
                       int64_t now, struct err *e);
    int (*pages_requeue)(struct store *s, const char *session_id, bool failed, struct err *e);
    int (*pages_list)(struct store *s, const char *session_id, int status, size_t limit,
                      size_t offset, struct scrape_page **out, size_t *n, struct err *e);
    int (*page_content)(struct store *s, const char *session_id, int64_t page_id, void **out,
                        size_t *len, struct err *e);
    int (*record_put)(struct store *s, const char *session_id, const struct record_new *r,
                      int64_t page_id, int64_t now, struct err *e);
    int (*records_list)(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                        struct record_row **out, size_t *n, struct err *e);

    /* version 4: metrics */
    int (*stats_add)(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                     struct err *e);
    int (*stats)(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                 struct err *e);
    int (*stats_minutes)(struct store *s, const struct stats_query *q, struct stats_minute **out,
                         size_t *n, struct err *e);
};

/* The part every implementation embeds first. */
struct store {
    const struct store_ops *ops;
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

/* Wrappers: count the call, fail it when it is the one injected, else call the implementation.
 * Insert returns 0 when the job was inserted and 1 when a live job with the same unique_key
 * exists; then j->id and j->status are that job's. Claim returns the number of jobs claimed.
 * promote_due returns the number of jobs made pending. */
void store_close(struct store *s);
int store_begin(struct store *s, struct err *e);
int store_commit(struct store *s, struct err *e);
void store_rollback(struct store *s);
int store_insert(struct store *s, struct job *j, struct err *e);
/* Insert n jobs (one store call): like store_insert for each, with existed[i] saying which
 * returned a live job with the same unique_key. Returns 0 or an error. */
int store_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e);
bool store_has_candidates(const struct store *s);
int store_candidates(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                     struct err *e);
int store_claim_these(struct store *s, const struct claim_req *r, const struct job *jobs, size_t n,
                      bool *taken, struct err *e);
int store_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                struct err *e);
int store_update(struct store *s, const struct job_update *u, struct err *e);
/* Complete n (at most STORE_COMPLETE_MAX) processing jobs, each fenced by attempt and owner,
 * with one event each: all of them (returns n) or, when any fence does not hold, none (returns 0,
 * nothing changed; complete them one by one with store_update to learn which). */
int store_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                        struct err *e);
int store_processing(struct store *s, struct job **out, size_t *n, struct err *e);
/* Make due retries pending; *out gets the jobs made pending (as they were before: retrying). */
int store_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e);
/* Like store_get, but inside the write transaction: sees its uncommitted changes. */
int store_fetch(struct store *s, const char *id, struct job *out, struct err *e);
int store_get(struct store *s, const char *id, struct job *out, struct err *e);
int store_events(struct store *s, const char *id, struct job_event **out, size_t *n, struct err *e);
int store_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e);
/* Jobs matching f, newest first; returns the number listed. */
int store_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
               struct err *e);
int store_check(struct store *s, struct err *e);

/* The jobs of a batch (f->workspace and f->batch_id required), oldest first; returns the number
 * listed. writer: read on the write connection, inside the committer's transaction. */
int store_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e);
/* One batch with its counts; TRAWL_ENOTFOUND when the workspace has no such batch. */
int store_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                    struct err *e);
/* A workspace's batches, newest first; *total gets how many it has in all. Returns the number
 * listed. */
int store_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                     struct batch_info **out, size_t *n, int64_t *total, struct err *e);

/* Add a token (write). */
int store_token_add(struct store *s, const struct api_token *t, struct err *e);
/* The live (not revoked) token with this hash; TRAWL_ENOTFOUND when there is none. */
int store_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                     struct api_token *out, struct err *e);
/* Every token, revoked ones too, oldest first. Returns the number listed. */
int store_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e);
/* Revoke the token whose id is id or starts with id (at least 8 characters, and only one token
 * may match); TRAWL_ENOTFOUND, or TRAWL_EINVAL when the prefix is ambiguous (write). */
int store_token_revoke(struct store *s, const char *id, int64_t now, struct err *e);

/* Save (insert or replace) the result of a crawl job (write), fenced: only while the job is
 * processing attempt `attempt` under lease owner `owner`; otherwise TRAWL_ESTALE and nothing is
 * written, so a worker that lost its job cannot overwrite the page of a later attempt. */
int store_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                     struct err *e);
/* The result of a crawl job, with its compressed body when with_body; TRAWL_ENOTFOUND when
 * the job has none yet. */
int store_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                    struct err *e);
/* Drop the bodies of up to limit results fetched before `before` (write); returns how many. */
int store_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e);

/* ---- scraping sessions ---- */

/* Add a session (write); its job must exist (enqueued in the same transaction or before). */
int store_session_add(struct store *s, const struct scrape_session *ss, struct err *e);
/* A session of the workspace by id (by_job: by its job's id; workspace may then be NULL);
 * TRAWL_ENOTFOUND when there is none. Read. */
int store_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                      struct scrape_session *out, struct err *e);
/* A workspace's sessions, newest first; *total the count. Returns the number listed. Read. */
int store_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                       struct scrape_session **out, size_t *n, int64_t *total, struct err *e);
/* Set the session's error message (NULL leaves it as it is) and add to its warnings (write). */
int store_session_note(struct store *s, const char *id, const char *error, int warnings,
                       int64_t now, struct err *e);
/* Point the session at a new job in place of old_job (write): retry-failed runs the session
 * again as a new job. Clears its error message. TRAWL_ESTALE when the session is not (or no
 * longer) run by old_job. */
int store_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                          int64_t now, struct err *e);
/* Add pages to the frontier, skipping URLs it has (write); returns how many were new. */
int store_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                    int64_t cap, int64_t now, struct err *e);
/* Take up to limit due pending pages, shallowest first, marking them fetching (their attempt + 1)
 * (write). *next_due gets the earliest not_before of the pending pages not yet due (0: none).
 * Returns the number taken. */
int store_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                     struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e);
/* Record what became of a fetched page (write). */
int store_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                      int64_t now, struct err *e);
/* Put pages back to pending (write): those left fetching (failed false: after a crash), or the
 * failed ones (failed true: retry-failed, with their attempts reset). Returns how many. */
int store_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e);
/* A session's pages, oldest first, optionally of one status (page_status or -1). Read. */
int store_pages_list(struct store *s, const char *session_id, int status, size_t limit,
                     size_t offset, struct scrape_page **out, size_t *n, struct err *e);
/* The stored formats of a page (a zstd frame, *out freed by the caller); TRAWL_ENOTFOUND when
 * there are none. Read. */
int store_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                       size_t *len, struct err *e);
/* Keep a record (write): a new key adds one, a known key replaces its data. */
int store_record_put(struct store *s, const char *session_id, const struct record_new *r,
                     int64_t page_id, int64_t now, struct err *e);
/* A session's records after id after_id, in id order, at most limit. Read. */
int store_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                       struct record_row **out, size_t *n, struct err *e);

/* ---- metrics ---- */

/* Add what a transaction changed to the counters (write): the jobs per status, and the minute
 * holding now. */
int store_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                    struct err *e);
/* The counters of every workspace and type that q selects, one row each. Read; never counts the
 * jobs table. Returns the number of rows. */
int store_stats(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                struct err *e);
void stats_rows_free(struct stats_row *rows, size_t n);
/* What ended in each minute from q->since's on, per type (summed over q's workspaces), oldest
 * first; minutes with nothing ended are left out. Read. Returns the number of rows. */
int store_stats_minutes(struct store *s, const struct stats_query *q, struct stats_minute **out,
                        size_t *n, struct err *e);
void stats_minutes_free(struct stats_minute *rows, size_t n);

/* Fault injection for tests: the n-th wrapper call from now on fails (0 turns it off). */
void store_fail_nth(struct store *s, long n);

#endif
