/* Jobs in the store: the stored shape of a job (the row every layer above the store passes
 * around), its history, and the store's jobs domain: inserting, claiming, changing and reading
 * job rows. The state machine that moves a job lives in engine/; this file only names the states.
 *
 * Writes (insert, insert_many, claim, claim_these, update, complete_many, processing,
 * promote_due, fetch) are made inside the committer's transaction; reads (candidates, get,
 * events, count, list) from any thread. */
#ifndef TRAWL_JOB_H
#define TRAWL_JOB_H

#include "base/uuid.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum job_status {
    JOB_PENDING,
    JOB_PROCESSING,
    JOB_RETRYING,
    JOB_COMPLETED,
    JOB_FAILED,
    JOB_CANCELLED,
    JOB_WAITING, /* a stage of a chain whose earlier stage has not completed yet, or a join whose
                    children have not all ended */
    JOB_BLOCKED, /* a stage whose earlier stage failed for good or was cancelled; retrying that
                    stage makes it waiting again */
    JOB_STATUS_COUNT
};

/* What a job is to the chain it belongs to. */
enum job_role {
    ROLE_NONE,  /* a job of its own, or a chain's first stage */
    ROLE_NEXT,  /* a stage that runs once its parent (the stage before) completed */
    ROLE_CHILD, /* one of the children its parent fanned out when it completed */
    ROLE_JOIN,  /* runs once its parent completed and every child the parent fanned out ended */
    ROLE_COUNT
};

/* "next", "child", "join"; NULL for ROLE_NONE or a value out of range. */
const char *job_role_name(enum job_role r);
/* The role of a name (NULL: ROLE_NONE), or -1. */
int job_role_parse(const char *name);

#define JOB_MASK(s) (1u << (s))

/* "pending", ...; NULL for a value out of range. */
const char *job_status_name(enum job_status s);
/* Parse a status name; returns the status or -1. */
int job_status_parse(const char *name);
/* Whether a job in status s has ended: completed, failed or cancelled. */
bool job_status_ended(enum job_status s);
/* Whether a job in status s will not move without someone's help: ended, or blocked. */
bool job_status_settled(enum job_status s);

/* Strings are owned by the job and freed by job_release(); NULL means absent. */
struct job {
    char id[UUID_STR_LEN];
    char *type;
    char *queue;
    enum job_status status;
    int priority;
    int attempt;
    int max_attempts;
    int64_t run_at;
    int64_t timeout_ms;
    int64_t backoff_base_ms;
    int64_t backoff_cap_ms;
    int progress;
    char *stage;
    char *checkpoint; /* JSON text */
    char *args;       /* JSON text */
    char *result;     /* JSON text */
    char *error;
    char *batch_id;
    char *parent_id;
    char *root_id;
    char *unique_key;
    char *workspace;
    char *lease_owner;
    int64_t lease_expires_at;
    int64_t last_heartbeat;
    int64_t progress_at;
    int64_t created_at;
    int64_t started_at;
    int64_t completed_at;
    int64_t failed_at;
    int64_t updated_at;
    int64_t store_ref; /* the store's own handle for the row (SQLite: its rowid), which finds it
                          without a key lookup; 0: unknown */
    int64_t event_seq; /* state changes so far; after a claim, the claim's own number, which no
                          later change shares: the claim's lease token */
    /* chains */
    char *input;        /* JSON text: the parent's result (a stage), the children's (a join) */
    enum job_role role; /* what the job is to its parent */
    char *join_id;      /* a child: the join its end counts toward; a parent: the join it names */
    int waits;          /* a waiting join: how many ends it still waits for */
    int successors;     /* stages (role next) that wait for this job's completion */
    int depth;          /* stages above it in its chain: 0 for a root */
};

/* Free the strings a job owns and zero it. Accepts NULL. */
void job_release(struct job *j);
/* Free an array of n jobs from the store. Accepts NULL. */
void job_array_free(struct job *jobs, size_t n);
/* Deep copy. */
void job_copy(struct job *dst, const struct job *src);
/* What a claim writes into a pending job: processing, the next attempt, the lease, the times,
 * the claim's event number. */
void job_mark_claimed(struct job *j, const char *owner, int64_t now, int64_t lease_ms);

/* One row of a job's history. Strings owned by the event. */
struct job_event {
    int64_t seq;
    int64_t at;
    enum job_status from;
    enum job_status to;
    int attempt;
    char *message;
};

void job_events_free(struct job_event *ev, size_t n);

/* ---- the jobs domain ---- */

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
    UPD_INPUT = 1 << 12,       /* input := value (a stage released with its parent's result) */
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
    const char *input;
    int64_t now;
    const char *message; /* for the event */
    int *old_status;     /* out, may be NULL: the status before the change */
};

/* Which jobs to list: NULL or -1 fields do not filter. Newest first (by id). */
struct job_filter {
    int status; /* a job_status or -1 */
    const char *parent_id;
    const char *type;
    const char *batch_id;
    const char *workspace;
    const char *before_id; /* cursor: only jobs with a smaller id */
    size_t limit;          /* most rows; 0 means 100 */
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

#define STORE_JOB_VERSION 1
struct store_job_ops {
    int version; /* STORE_JOB_VERSION */
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
};

/* For the stores: why u does not apply to a job that is in status, on attempt, held by owner
 * (NULL: nobody) at event seq: TRAWL_ESTALE (attempt, owner or seq differ, or the state moved
 * under a fence), TRAWL_ESTATE (the state does not allow it), with e saying so; 0 when it
 * applies. */
int job_refusal(const struct job_update *u, int status, int attempt, const char *owner, int64_t seq,
                struct err *e);

/* Insert returns 0 when the job was inserted and 1 when a live job with the same unique_key
 * exists; then j->id and j->status are that job's. Claim returns the number of jobs claimed.
 * promote_due returns the number of jobs made pending. */
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

#endif
