/* Schedules: turning a schedule's slots into jobs, each slot exactly once. A slot becomes a job
 * whose unique_key is "schedule:<schedule id>:<slot ms>", enqueued in the same transaction that
 * moves the schedule's next_slot past the slot with a guard on the next_slot the scheduler read
 * (store_schedule_advance). Only one transaction can move a schedule past a given slot, so
 * restarts, clock steps, two ticks at once and several servers on one database never enqueue a
 * slot twice, and since next_slot only moves with the slot's job (or with a count of the slots
 * the missed policy skipped), no slot is dropped silently. The unique key is the net under the
 * guard: the store keeps a slot's key unique even after its job ended (migration 0010).
 *
 * Slots that came due while no scheduler ran (before this one started) or that are more than
 * SCHEDULE_LATE_MS late are missed; the schedule's policy says what becomes of them: skip (none
 * is enqueued, each is counted in the schedule's skipped), once (the latest is enqueued, the rest
 * counted), all (each is enqueued, at most SCHEDULE_SLOTS_PER_TICK per tick and schedule, the
 * rest at the next ticks).
 *
 * Ownership: parameters are borrowed. */
#ifndef TRAWL_SCHEDULER_H
#define TRAWL_SCHEDULER_H

#include "engine/engine.h"
#include "store/schedule.h"

#define SCHEDULE_NAME_MAX       128
#define SCHEDULE_SLOTS_PER_TICK 1000  /* most jobs one tick enqueues for one schedule */
#define SCHEDULE_WALK_MAX       10000 /* most slots one tick steps over for one schedule */
#define SCHEDULE_LATE_MS        60000 /* a slot later than this is missed even while running */
#define SCHEDULE_KEY_PREFIX     "schedule:"
#define SCHEDULE_DUE_MAX        100 /* schedules one tick looks at; the rest at the next */

/* Check the cron expression (with cron_parse's message, which names the field), time zone and
 * missed policy of sc, then give it an id, its anchor and first slot (the first after now) and
 * its times. sc->job must be a spec the caller checked. TRAWL_EINVAL names what is wrong. */
int schedule_prepare(struct engine *eng, struct schedule *sc, struct err *e);
/* The first slot of sc strictly after after_ms into *slot (0 when there is none). */
int schedule_next_slot(const struct schedule *sc, int64_t after_ms, int64_t *slot, struct err *e);

/* What one tick did. */
struct schedule_tick_report {
    int schedules;   /* schedules moved on */
    int enqueued;    /* slot jobs enqueued */
    int64_t skipped; /* slots the missed policies skipped */
    int lost;        /* schedules another transaction had moved on first (nothing enqueued) */
    int failed;      /* schedules that could not be moved on (logged; tried again next tick) */
};

/* Enqueue the due slots of every schedule not paused, at the engine's now; started_ms is when
 * the caller's scheduler started (slots before it are missed). Returns 0, or the first error
 * (after trying every due schedule). */
int schedule_tick(struct engine *eng, int64_t started_ms, struct schedule_tick_report *r,
                  struct err *e);

/* A thread that runs schedule_tick at each schedule's next slot, and at least every
 * interval_ms (default 1000). */
struct scheduler;
struct scheduler *scheduler_start(struct engine *eng, int64_t interval_ms);
/* Stop and free. Accepts NULL. */
void scheduler_stop(struct scheduler *sch);

#endif
