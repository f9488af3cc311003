/* The stored shape of a job: the row every layer above the store passes around. The state
 * machine that moves it lives in engine/; this file only names the states. */
#ifndef TRAWL_JOB_H
#define TRAWL_JOB_H

#include "base/uuid.h"

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
    JOB_STATUS_COUNT
};

#define JOB_MASK(s) (1u << (s))

/* "pending", ...; NULL for a value out of range. */
const char *job_status_name(enum job_status s);
/* Parse a status name; returns the status or -1. */
int job_status_parse(const char *name);
/* Whether a job in status s has ended: completed, failed or cancelled. */
bool job_status_ended(enum job_status s);

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

#endif
