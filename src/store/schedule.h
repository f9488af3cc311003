/* Schedules in the store: the store's schedules domain. A schedule is a cron expression, its time
 * zone, a job spec, and where it stands: the next slot to enqueue and the last one enqueued. The
 * scheduler (engine/scheduler.h) reads the due ones and, in one transaction, enqueues a slot's
 * job and moves next_slot past it with store_schedule_advance, whose guard on next_slot lets only
 * one transaction move a schedule past a given slot.
 *
 * Writes (add, set_paused, delete, advance, set_last_job, and get with writer set) are made
 * inside the committer's transaction; the other reads from any thread. Strings of a schedule
 * read from the store are owned by it (schedule_release). */
#ifndef TRAWL_SCHEDULE_H
#define TRAWL_SCHEDULE_H

#include "base/uuid.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum schedule_missed {
    MISSED_SKIP, /* none of the slots missed while no server ran */
    MISSED_ONCE, /* the latest of them */
    MISSED_ALL,  /* every one */
};

/* "skip", "once", "all"; NULL for a value out of range. */
const char *schedule_missed_name(enum schedule_missed m);
/* The policy named s, or -1. */
int schedule_missed_parse(const char *s);

struct schedule {
    char id[UUID_STR_LEN];
    char *workspace;
    char *name;
    char *cron;     /* as given: "*\/5 * * * *", "@every 30s", "@hourly" */
    char *timezone; /* an IANA name */
    char *job;      /* the job spec, JSON text */
    enum schedule_missed missed;
    bool paused;
    int64_t next_slot; /* ms; 0: none left (the expression never matches again) */
    int64_t last_slot; /* ms; 0: none enqueued yet */
    char *last_job_id; /* NULL: none */
    int64_t skipped;   /* slots the missed policy skipped, in all */
    int64_t anchor_ms; /* where "@every D" counts from */
    int64_t created_at, updated_at;
};

/* Accept NULL. */
void schedule_release(struct schedule *sc);
void schedule_array_free(struct schedule *sc, size_t n);

/* How the scheduler moves a schedule on (store_schedule_advance). */
struct schedule_step {
    const char *id;
    int64_t expect_next; /* the next_slot the scheduler read: the guard */
    int64_t next_slot;   /* the new next_slot; 0: none left */
    int64_t last_slot;   /* the last slot enqueued by this step; 0: none (kept as it was) */
    int64_t skipped;     /* slots this step skipped, added to the count */
    int64_t now;
};

#define STORE_SCHEDULE_VERSION 1
struct store_schedule_ops {
    int version; /* STORE_SCHEDULE_VERSION */
    int (*add)(struct store *s, const struct schedule *sc, struct err *e);
    int (*get)(struct store *s, const char *workspace, const char *key, bool writer,
               struct schedule *out, struct err *e);
    int (*list)(struct store *s, const char *workspace, struct schedule **out, size_t *n,
                struct err *e);
    int (*set_paused)(struct store *s, const char *id, bool paused, int64_t next_slot, int64_t now,
                      struct err *e);
    int (*del)(struct store *s, const char *id, struct err *e);
    int (*due)(struct store *s, int64_t now, size_t limit, struct schedule **out, size_t *n,
               struct err *e);
    int (*next_due)(struct store *s, int64_t *at, struct err *e);
    int (*advance)(struct store *s, const struct schedule_step *st, struct err *e);
    int (*set_last_job)(struct store *s, const char *id, const char *job_id, struct err *e);
};

/* Add a schedule (write). TRAWL_ESTATE when its workspace has one of that name already. */
int store_schedule_add(struct store *s, const struct schedule *sc, struct err *e);
/* A workspace's schedule by its id or, when key is not an id, by its name; writer: inside the
 * committer's transaction. TRAWL_ENOTFOUND when there is none. */
int store_schedule_get(struct store *s, const char *workspace, const char *key, bool writer,
                       struct schedule *out, struct err *e);
/* A workspace's schedules by name (read). Returns the number listed (schedule_array_free). */
int store_schedule_list(struct store *s, const char *workspace, struct schedule **out, size_t *n,
                        struct err *e);
/* Pause or resume a schedule (write); resuming sets its next_slot (0: none). TRAWL_ENOTFOUND
 * when there is none. */
int store_schedule_set_paused(struct store *s, const char *id, bool paused, int64_t next_slot,
                              int64_t now, struct err *e);
/* Delete a schedule (write); the jobs of its slots stay. TRAWL_ENOTFOUND when there is none. */
int store_schedule_delete(struct store *s, const char *id, struct err *e);
/* Up to limit schedules of every workspace that are not paused and whose next_slot <= now,
 * earliest first (read). Returns the number listed. */
int store_schedule_due(struct store *s, int64_t now, size_t limit, struct schedule **out, size_t *n,
                       struct err *e);
/* The earliest next_slot of the schedules not paused into *at (read); 0 when there is none. */
int store_schedule_next_due(struct store *s, int64_t *at, struct err *e);
/* Move a schedule on (write), guarded: only when it is not paused and its next_slot is still
 * st->expect_next. Returns 1 when it moved, 0 when it had moved on already (another transaction
 * enqueued the slot, or the schedule was paused or deleted): the caller then enqueues nothing. */
int store_schedule_advance(struct store *s, const struct schedule_step *st, struct err *e);
/* Note the job of the last slot enqueued (write). */
int store_schedule_set_last_job(struct store *s, const char *id, const char *job_id, struct err *e);

#endif
