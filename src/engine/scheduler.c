/* The scheduler: each tick reads the due schedules, works out outside any transaction which of
 * their slots to enqueue and which the missed policy skips (a plan), then applies each plan in a
 * transaction of its own: the guarded advance of next_slot first, and only when it moved, the
 * slots' jobs. A plan whose guard finds the schedule moved on writes nothing. */
#include "engine/scheduler.h"

#include "base/log.h"
#include "base/xalloc.h"
#include "engine/cron.h"
#include "engine/spec_json.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int schedule_next_slot(const struct schedule *sc, int64_t after_ms, int64_t *slot, struct err *e)
{
    struct cron *c = NULL;
    int rc = cron_parse(sc->cron, &c, e);
    if (!rc) {
        rc = cron_next(c, sc->timezone, sc->anchor_ms, after_ms, slot, e);
        if (rc == TRAWL_ENOTFOUND) {
            *slot = 0;
            rc = 0;
        }
    }
    cron_free(c);
    return rc;
}

int schedule_prepare(struct engine *eng, struct schedule *sc, struct err *e)
{
    if (!sc->name || !engine_name_valid(sc->name, SCHEDULE_NAME_MAX, true))
        return err_set(e, TRAWL_EINVAL, false, "name must be 1-%d printable characters",
                       SCHEDULE_NAME_MAX);
    if (uuid_valid(sc->name))
        return err_set(e, TRAWL_EINVAL, false, "name must not look like a schedule id");
    if (!sc->cron)
        return err_set(e, TRAWL_EINVAL, false, "cron is required");
    struct cron *c = NULL;
    int rc = cron_parse(sc->cron, &c, e);
    cron_free(c);
    if (rc)
        return rc;
    if (cron_zone_check(sc->timezone, e) != 0)
        return err_set(e, TRAWL_EINVAL, false,
                       "timezone \"%.64s\" is not a time zone (an IANA name such as "
                       "\"Europe/Berlin\" or \"UTC\")",
                       sc->timezone ? sc->timezone : "");
    if (!schedule_missed_name(sc->missed))
        return err_set(e, TRAWL_EINVAL, false, "missed must be \"skip\", \"once\" or \"all\"");
    int64_t now = engine_now(eng);
    uuid_v7(sc->id, now);
    /* "@every D" counts from the creation's whole second: "@every 1s" runs on whole seconds */
    sc->anchor_ms = now - now % 1000;
    sc->created_at = sc->updated_at = now;
    rc = schedule_next_slot(sc, now, &sc->next_slot, e);
    if (!rc && !sc->next_slot)
        rc = err_set(e, TRAWL_EINVAL, false, "cron \"%.64s\" never runs (no time in five years)",
                     sc->cron);
    return rc;
}

/* ---- a tick ---- */

struct plan {
    struct engine *eng;
    const struct schedule *sc;
    int64_t *slots; /* to enqueue, in order */
    size_t n, cap;
    int64_t next;    /* the new next_slot; 0: none left */
    int64_t skipped; /* slots the missed policy skips */
    json_t *job;     /* the spec, parsed: spec borrows from it */
    struct job_spec spec;
    struct spec_mem mem;
    /* what applying it did (set again each time it runs: it may run more than once) */
    bool moved;
    int existed;
};

static void plan_push(struct plan *p, int64_t slot)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->slots = xrealloc(p->slots, p->cap * sizeof *p->slots);
    }
    p->slots[p->n++] = slot;
}

static void plan_release(struct plan *p)
{
    free(p->slots);
    json_decref(p->job);
    spec_mem_release(&p->mem);
}

/* Which slots of p->sc from its next_slot up to now to enqueue and which to skip; slots before
 * missed_before are missed. Stops after SCHEDULE_SLOTS_PER_TICK jobs or SCHEDULE_WALK_MAX slots
 * (the next tick goes on from there). */
static int plan_slots(struct plan *p, const struct cron *c, int64_t now, int64_t missed_before,
                      struct err *e)
{
    const struct schedule *sc = p->sc;
    int64_t slot = sc->next_slot, every;
    bool all = sc->missed == MISSED_ALL;
    /* "@every D": the missed slots are counted, not walked (a year of "@every 1s" is 31 million) */
    if (!all && cron_is_every(c, &every) && slot < missed_before) {
        int64_t m = (missed_before - 1 - slot) / every + 1; /* slots in [slot, missed_before) */
        if (sc->missed == MISSED_ONCE)
            plan_push(p, slot + (m - 1) * every);
        p->skipped = sc->missed == MISSED_ONCE ? m - 1 : m;
        slot += m * every;
    }
    for (int walked = 0;
         slot && slot <= now && p->n < SCHEDULE_SLOTS_PER_TICK && walked < SCHEDULE_WALK_MAX;
         walked++) {
        int64_t next;
        int rc = cron_next(c, sc->timezone, sc->anchor_ms, slot, &next, e);
        if (rc == TRAWL_ENOTFOUND)
            next = 0;
        else if (rc)
            return rc;
        if (all || slot >= missed_before)
            plan_push(p, slot);
        else if (sc->missed == MISSED_ONCE && (!next || next >= missed_before))
            plan_push(p, slot); /* the latest missed slot */
        else
            p->skipped++;
        slot = next;
    }
    p->next = slot;
    return 0;
}

/* In the transaction: move the schedule on, guarded, then enqueue the slots' jobs. */
static int plan_apply(struct engine_tx *tx, void *arg, struct err *e)
{
    struct plan *p = arg;
    struct store *s = engine_tx_store(tx);
    p->moved = false;
    p->existed = 0;
    struct schedule_step st = {.id = p->sc->id,
                               .expect_next = p->sc->next_slot,
                               .next_slot = p->next,
                               .last_slot = p->n ? p->slots[p->n - 1] : 0,
                               .skipped = p->skipped,
                               .now = engine_now(p->eng)};
    int rc = store_schedule_advance(s, &st, e);
    if (rc <= 0)
        return rc; /* 0: moved on by another transaction, which enqueued these slots */
    p->moved = true;
    struct enqueue_result res = {0};
    for (size_t i = 0; i < p->n; i++) {
        char key[UUID_STR_LEN + 48];
        snprintf(key, sizeof key, SCHEDULE_KEY_PREFIX "%s:%lld", p->sc->id, (long long)p->slots[i]);
        struct job_spec spec = p->spec;
        spec.unique_key = key;
        spec.run_at = p->slots[i];
        spec.workspace = p->sc->workspace;
        if ((rc = engine_tx_enqueue(p->eng, tx, &spec, &res, e)) != 0)
            return rc;
        p->existed += res.existed;
    }
    return p->n ? store_schedule_set_last_job(s, p->sc->id, res.id, e) : 0;
}

/* Plan and apply one schedule's due slots. */
static int tick_one(struct engine *eng, const struct schedule *sc, int64_t now,
                    int64_t missed_before, struct schedule_tick_report *r, struct err *e)
{
    struct plan p = {.eng = eng, .sc = sc};
    struct cron *c = NULL;
    json_error_t je;
    int rc = cron_parse(sc->cron, &c, e);
    if (!rc && !(p.job = json_loads(sc->job, 0, &je)))
        rc = err_set(e, TRAWL_EINVAL, false, "the job spec is not JSON: %s", je.text);
    struct spec_json_opts o = {.workspace = sc->workspace, .now = now};
    if (!rc)
        rc = spec_from_json(p.job, &o, "job", &p.spec, &p.mem, e);
    if (!rc)
        rc = plan_slots(&p, c, now, missed_before, e);
    cron_free(c);
    if (!rc)
        rc = engine_exec_tx(eng, plan_apply, &p, e);
    if (!rc && p.moved) {
        r->schedules++;
        r->enqueued += (int)p.n - p.existed;
        r->skipped += p.skipped;
        if (p.skipped)
            log_info("schedule %s (%s): skipped %lld missed slots (missed: %s)", sc->name, sc->id,
                     (long long)p.skipped, schedule_missed_name(sc->missed));
    } else if (!rc) {
        r->lost++;
    }
    plan_release(&p);
    return rc;
}

int schedule_tick(struct engine *eng, int64_t started_ms, struct schedule_tick_report *r,
                  struct err *e)
{
    memset(r, 0, sizeof *r);
    int64_t now = engine_now(eng);
    /* missed: before this scheduler started, or late by more than SCHEDULE_LATE_MS */
    int64_t late = now - SCHEDULE_LATE_MS;
    int64_t missed_before = started_ms > late ? started_ms : late;
    struct schedule *due;
    size_t n;
    int rc = store_schedule_due(engine_store(eng), now, SCHEDULE_DUE_MAX, &due, &n, e);
    if (rc < 0)
        return rc;
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        struct err e1;
        err_clear(&e1);
        int rc1 = tick_one(eng, &due[i], now, missed_before, r, &e1);
        if (rc1) {
            r->failed++;
            if (!rc) {
                rc = rc1;
                err_set(e, rc1, e1.retryable, "schedule %s: %s", due[i].name, e1.msg);
            }
        }
    }
    schedule_array_free(due, n);
    return rc;
}

/* ---- the thread ---- */

struct scheduler {
    struct engine *eng;
    int64_t interval_ms;
    int64_t started_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool stop;
};

/* How long to sleep: until the earliest next slot, at most the interval. */
static int64_t sleep_for(struct scheduler *sch)
{
    int64_t at;
    struct err e;
    if (store_schedule_next_due(engine_store(sch->eng), &at, &e) != 0 || !at)
        return sch->interval_ms;
    int64_t d = at - engine_now(sch->eng);
    if (d < 10)
        return 10; /* a backlog ("all" after a long stop): the next tick at once, not a spin */
    return d < sch->interval_ms ? d : sch->interval_ms;
}

static void *scheduler_main(void *arg)
{
    struct scheduler *sch = arg;
    pthread_setname_np(pthread_self(), "scheduler");
    int64_t last_err = 0;
    int64_t wait_ms = 0;
    pthread_mutex_lock(&sch->lock);
    while (!sch->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        if (wait_ms)
            pthread_cond_timedwait(&sch->cv, &sch->lock, &ts);
        if (sch->stop)
            break;
        pthread_mutex_unlock(&sch->lock);
        struct schedule_tick_report r;
        struct err e;
        err_clear(&e);
        if (schedule_tick(sch->eng, sch->started_ms, &r, &e) != 0 &&
            clock_mono_ms() - last_err > 10000) {
            log_error("scheduler: %s", e.msg);
            last_err = clock_mono_ms();
        }
        wait_ms = sleep_for(sch);
        pthread_mutex_lock(&sch->lock);
    }
    pthread_mutex_unlock(&sch->lock);
    return NULL;
}

struct scheduler *scheduler_start(struct engine *eng, int64_t interval_ms)
{
    struct scheduler *sch = xcalloc(1, sizeof *sch);
    sch->eng = eng;
    sch->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    sch->started_ms = engine_now(eng);
    pthread_mutex_init(&sch->lock, NULL);
    pthread_cond_init(&sch->cv, NULL);
    if (pthread_create(&sch->thread, NULL, scheduler_main, sch) != 0) {
        log_error("cannot start the scheduler thread");
        abort();
    }
    return sch;
}

void scheduler_stop(struct scheduler *sch)
{
    if (!sch)
        return;
    pthread_mutex_lock(&sch->lock);
    sch->stop = true;
    pthread_cond_signal(&sch->cv);
    pthread_mutex_unlock(&sch->lock);
    pthread_join(sch->thread, NULL);
    pthread_mutex_destroy(&sch->lock);
    pthread_cond_destroy(&sch->cv);
    free(sch);
}
