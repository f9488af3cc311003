/* The worker pool. Every job the pool holds (waiting in the ready queue or running) is in the held
 * set, whose leases the heartbeat thread renews; a context is reference-counted because the
 * heartbeat thread uses it outside the lock while a completion may finish it. */
#include "engine/worker.h"

#include "base/log.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_WRITE_MS 250

struct job_ctx {
    struct pool *pool;
    struct job job;
    const struct job_handler *handler;
    atomic_int refs;
    atomic_bool cancel;
    atomic_bool shutdown; /* cancelled because the pool stops: give the job back, not fail it */
    bool started;
    size_t slot;
    struct job_ctx *next;
    int64_t lease_ms;
    int64_t last_write_ms; /* monotonic, last heartbeat written */
    /* progress waiting to be written; under pool->lock */
    bool dirty;
    int progress;
    char *stage;
    /* outcome */
    char *result;
    char *error;
    bool retryable;
    int64_t defer_until;         /* > 0: give the job back until then */
    struct job_outcome *outcome; /* pool_run_jobs: where to say what became of the job */
    engine_exec_fn pre;          /* written with the completion */
    void *pre_arg;
    void (*pre_free)(void *);
    struct job_children *children; /* fanned out with the completion */
    int ending; /* the status a successful end leaves the job in; -1: counted otherwise */
};

struct pool {
    struct engine *eng;
    struct job_handler *handlers;
    size_t nhandlers;
    const char **types;
    char owner[160];
    int nworkers;
    size_t batch, target;
    int64_t poll_ms, lease_ms, hb_interval_ms;
    pthread_mutex_t lock;
    pthread_cond_t cv_ready, cv_low, cv_idle, cv_hb;
    struct job_ctx *ready_head, *ready_tail;
    size_t nready;
    struct job_ctx **held;
    size_t nheld, held_cap;
    int running;
    bool starved, stopping, workers_exit, hb_exit;
    pthread_t dispatcher, heartbeater, *workers;
    struct pool_stats stats;
    bool manual; /* pool_run_jobs: no dispatcher; the jobs are given */
    /* once mode (pool_opts.once) */
    bool once, claims_over, interrupted;
    size_t limit;
    uint64_t removed;       /* jobs that left the held set, ever */
    pthread_cond_t cv_done; /* claims are over and nothing is held, or pool_interrupt */
};

static int64_t mono_ms(void)
{
    return clock_mono_ms();
}

static void ctx_unref(struct job_ctx *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    job_release(&c->job);
    free(c->stage);
    free(c->result);
    free(c->error);
    if (c->pre_free)
        c->pre_free(c->pre_arg);
    engine_children_free(c->children);
    free(c);
}

static void fence_of(struct job_ctx *c, struct job_fence *f)
{
    f->id = c->job.id;
    f->attempt = c->job.attempt;
    f->owner = c->job.lease_owner;
    f->type = c->job.type;
    f->seq = c->job.event_seq;
    f->ref = c->job.store_ref;
    f->workspace = c->job.workspace;
    f->batch_id = c->job.batch_id;
    f->root_id = c->job.root_id;
    f->started_at = c->job.started_at;
    f->plain = c->job.successors == 0 && !c->job.join_id;
    f->row = &c->job;
}

/* under lock */
static void held_add(struct pool *p, struct job_ctx *c)
{
    if (p->nheld == p->held_cap) {
        p->held_cap = p->held_cap ? p->held_cap * 2 : 64;
        p->held = xrealloc(p->held, p->held_cap * sizeof *p->held);
    }
    c->slot = p->nheld;
    p->held[p->nheld++] = c;
}

/* under lock */
static void held_remove(struct pool *p, struct job_ctx *c)
{
    size_t i = c->slot;
    if (i >= p->nheld || p->held[i] != c)
        return;
    p->held[i] = p->held[--p->nheld];
    p->held[i]->slot = i;
    p->removed++;
    pthread_cond_signal(&p->cv_low);
    if (p->claims_over && p->nheld == 0)
        pthread_cond_broadcast(&p->cv_done);
}

static const struct job_handler *find_handler(struct pool *p, const char *type)
{
    for (size_t i = 0; i < p->nhandlers; i++)
        if (strcmp(p->handlers[i].type, type) == 0)
            return &p->handlers[i];
    return NULL;
}

/* ---- handler API ---- */

const struct job *job_ctx_job(struct job_ctx *ctx)
{
    return &ctx->job;
}

const char *job_ctx_args(struct job_ctx *ctx)
{
    return ctx->job.args ? ctx->job.args : "{}";
}

const char *job_ctx_checkpoint(struct job_ctx *ctx)
{
    return ctx->job.checkpoint;
}

const char *job_ctx_input(struct job_ctx *ctx)
{
    return ctx->job.input;
}

int job_ctx_fan_out(struct job_ctx *ctx, const struct job_spec *spec, struct err *e)
{
    if (!ctx->children)
        ctx->children = engine_children_new();
    struct job_spec s = *spec;
    if (!s.workspace)
        s.workspace = ctx->job.workspace;
    return engine_children_add(ctx->pool->eng, ctx->children, &s, e);
}

struct engine *job_ctx_engine(struct job_ctx *ctx)
{
    return ctx->pool->eng;
}

void *job_ctx_arg(struct job_ctx *ctx)
{
    return ctx->handler->arg;
}

const atomic_bool *job_ctx_cancel_flag(struct job_ctx *ctx)
{
    return &ctx->cancel;
}

/* The handler's message for its failure or deferral. */
static void set_error(struct job_ctx *ctx, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void set_error(struct job_ctx *ctx, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    free(ctx->error);
    ctx->error = xstrdup(msg);
}

int job_ctx_defer(struct job_ctx *ctx, int64_t run_at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(ctx, fmt, ap);
    va_end(ap);
    ctx->defer_until = run_at > 0 ? run_at : 1;
    return TRAWL_EHANDLER;
}

bool job_ctx_cancelled(struct job_ctx *ctx)
{
    return atomic_load(&ctx->cancel);
}

static void lost(struct job_ctx *c, int rc, const struct err *e)
{
    if (rc == TRAWL_ESTALE || rc == TRAWL_ESTATE || rc == TRAWL_ENOTFOUND) {
        if (!atomic_exchange(&c->cancel, true))
            log_info("job %s: %s; its handler is asked to stop", c->job.id, e->msg);
    }
}

/* Write a heartbeat with whatever progress is waiting. */
static int write_heartbeat(struct job_ctx *c, struct err *e)
{
    struct pool *p = c->pool;
    struct heartbeat hb = {.lease_ms = c->lease_ms};
    pthread_mutex_lock(&p->lock);
    char *stage = NULL;
    if (c->dirty) {
        hb.set = UPD_PROGRESS | (c->stage ? UPD_STAGE : 0);
        hb.progress = c->progress;
        stage = xstrdup(c->stage);
        hb.stage = stage;
        c->dirty = false;
    }
    c->last_write_ms = mono_ms();
    pthread_mutex_unlock(&p->lock);
    struct job_fence f;
    fence_of(c, &f);
    int rc = engine_heartbeat(p->eng, &f, &hb, e);
    free(stage);
    if (rc)
        lost(c, rc, e);
    return rc;
}

int job_ctx_progress(struct job_ctx *ctx, int progress, const char *stage)
{
    struct pool *p = ctx->pool;
    if (progress < 0)
        progress = 0;
    if (progress > 100)
        progress = 100;
    pthread_mutex_lock(&p->lock);
    bool stage_changed = stage && (!ctx->stage || strcmp(stage, ctx->stage) != 0);
    ctx->progress = progress;
    if (stage_changed) {
        free(ctx->stage);
        ctx->stage = xstrdup(stage);
    }
    ctx->dirty = true;
    bool now = stage_changed || mono_ms() - ctx->last_write_ms >= PROGRESS_WRITE_MS;
    pthread_mutex_unlock(&p->lock);
    if (atomic_load(&ctx->cancel))
        return TRAWL_ESTALE;
    if (!now)
        return 0;
    struct err e;
    return write_heartbeat(ctx, &e);
}

int job_ctx_save_checkpoint(struct job_ctx *ctx, const char *json, struct err *e)
{
    struct job_fence f;
    fence_of(ctx, &f);
    struct heartbeat hb = {.set = UPD_CHECKPOINT, .checkpoint = json, .lease_ms = ctx->lease_ms};
    int rc = engine_heartbeat(ctx->pool->eng, &f, &hb, e);
    if (rc) {
        lost(ctx, rc, e);
        return rc;
    }
    free(ctx->job.checkpoint);
    ctx->job.checkpoint = xstrdup(json);
    return 0;
}

int job_ctx_enqueue(struct job_ctx *ctx, const struct job_spec *spec, struct enqueue_result *res,
                    struct err *e)
{
    struct job_spec s = *spec;
    s.parent_id = ctx->job.id;
    s.root_id = ctx->job.root_id ? ctx->job.root_id : ctx->job.id;
    if (!s.workspace)
        s.workspace = ctx->job.workspace;
    return engine_enqueue(ctx->pool->eng, &s, res, e);
}

void job_ctx_complete_with(struct job_ctx *ctx, engine_exec_fn fn, void *arg,
                           void (*free_arg)(void *))
{
    if (ctx->pre_free)
        ctx->pre_free(ctx->pre_arg);
    ctx->pre = fn;
    ctx->pre_arg = arg;
    ctx->pre_free = free_arg;
}

void job_ctx_set_result(struct job_ctx *ctx, const char *json)
{
    free(ctx->result);
    ctx->result = xstrdup(json);
}

int job_ctx_fail(struct job_ctx *ctx, bool retryable, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_error(ctx, fmt, ap);
    va_end(ap);
    ctx->retryable = retryable;
    return TRAWL_EHANDLER;
}

/* ---- the pool's threads ---- */

static void note_outcome(struct job_ctx *c, int status, const char *error)
{
    if (!c->outcome)
        return;
    snprintf(c->outcome->id, sizeof c->outcome->id, "%s", c->job.id);
    c->outcome->status = status;
    snprintf(c->outcome->error, sizeof c->outcome->error, "%s", error ? error : "");
}

static void finished(void *arg, int rc, const struct err *e)
{
    struct job_ctx *c = arg;
    struct pool *p = c->pool;
    if (rc < 0)
        note_outcome(c, -1, e ? e->msg : err_str(rc));
    if (rc < 0 && rc != TRAWL_ECLOSED)
        log_debug("job %s: outcome not recorded: %s", c->job.id, e ? e->msg : err_str(rc));
    else if (rc == TRAWL_ECLOSED)
        log_warn("job %s: outcome not recorded: engine closed", c->job.id);
    /* rc > 0 is a failure's new status */
    int st = rc > 0 ? rc : c->ending;
    pthread_mutex_lock(&p->lock);
    if (rc < 0 && !atomic_load(&c->shutdown))
        p->stats.unrecorded++; /* a job given back at a stop is counted as released */
    else if (rc >= 0 && st >= 0 && st < JOB_STATUS_COUNT)
        p->stats.ended[st]++;
    held_remove(p, c);
    pthread_mutex_unlock(&p->lock);
    ctx_unref(c);
}

static void run_one(struct pool *p, struct job_ctx *c)
{
    int rc = c->handler->run(c);
    struct job_fence f;
    fence_of(c, &f);
    if (rc != 0 && atomic_load(&c->shutdown)) {
        /* the handler stopped because the pool is stopping, not because the job is bad: give
         * it back (pool_stop may have done so already) */
        struct err e;
        c->ending = -1;
        if (engine_release(p->eng, &f, true, &e) != 0) {
            log_debug("job %s: not released: %s", c->job.id, e.msg);
        } else {
            pthread_mutex_lock(&p->lock);
            p->stats.released++;
            pthread_mutex_unlock(&p->lock);
        }
        note_outcome(c, JOB_PENDING, "given back: the pool is stopping");
        finished(c, 0, NULL);
        return;
    }
    if (rc != 0 && c->defer_until > 0) {
        struct err e;
        int drc = engine_defer(p->eng, &f, c->defer_until, c->error, &e);
        c->ending = -1;
        if (drc != 0)
            log_debug("job %s: not deferred: %s", c->job.id, e.msg);
        pthread_mutex_lock(&p->lock);
        if (drc != 0)
            p->stats.unrecorded++;
        else
            p->stats.deferred++;
        pthread_mutex_unlock(&p->lock);
        note_outcome(c, drc ? -1 : JOB_PENDING, drc ? e.msg : c->error);
        finished(c, 0, NULL);
        return;
    }
    pthread_mutex_lock(&p->lock);
    if (rc == 0)
        p->stats.completed++;
    else
        p->stats.failed++;
    pthread_mutex_unlock(&p->lock);
    if (rc == 0) {
        c->ending = JOB_COMPLETED;
        note_outcome(c, JOB_COMPLETED, NULL);
        struct job_children *children = c->children;
        c->children = NULL; /* the completion takes them */
        engine_complete_with_async(p->eng, &f, c->result, children, c->pre, c->pre_arg, finished,
                                   c);
        return;
    }
    char buf[256];
    const char *msg = c->error;
    bool retryable = c->error ? c->retryable : true;
    if (!msg) {
        snprintf(buf, sizeof buf, "handler for %s failed: %s", c->job.type, err_str(rc));
        msg = buf;
        if (rc == TRAWL_ECANCELLED)
            retryable = false;
    }
    if (c->outcome) {
        /* the outcome (retrying or failed) is known only once the change is made */
        struct err e;
        int st = engine_fail(p->eng, &f, msg, retryable, &e);
        note_outcome(c, st < 0 ? -1 : st, st < 0 ? e.msg : msg);
        finished(c, st, &e);
        return;
    }
    engine_fail_async(p->eng, &f, msg, retryable, finished, c);
}

static void *worker_main(void *arg)
{
    struct pool *p = arg;
    pthread_setname_np(pthread_self(), "worker");
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->ready_head && !p->workers_exit) {
            p->starved = true;
            pthread_cond_signal(&p->cv_low);
            pthread_cond_wait(&p->cv_ready, &p->lock);
        }
        if (!p->ready_head)
            break;
        struct job_ctx *c = p->ready_head;
        p->ready_head = c->next;
        if (!p->ready_head)
            p->ready_tail = NULL;
        p->nready--;
        c->started = true;
        p->running++;
        if (p->nready < p->target / 2)
            pthread_cond_signal(&p->cv_low);
        pthread_mutex_unlock(&p->lock);
        run_one(p, c);
        pthread_mutex_lock(&p->lock);
        p->running--;
        pthread_cond_broadcast(&p->cv_idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static size_t held_cap(struct pool *p)
{
    return p->target + (size_t)p->nworkers;
}

/* Once mode: claim no more; under lock. */
static void end_claims(struct pool *p)
{
    p->claims_over = true;
    if (p->nheld == 0)
        pthread_cond_broadcast(&p->cv_done);
}

/* Wait on cv for up to ms (at most a second at a time, so a step of the wall clock cannot stretch
 * it); under lock. */
static void timed_wait(pthread_cond_t *cv, pthread_mutex_t *lock, int64_t ms)
{
    if (ms > 1000)
        ms = 1000;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(ms % 1000) * 1000000;
    ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
    ts.tv_nsec %= 1000000000;
    pthread_cond_timedwait(cv, lock, &ts);
}

static void *dispatcher_main(void *arg)
{
    struct pool *p = arg;
    pthread_setname_np(pthread_self(), "dispatcher");
    int64_t last_err_ms = 0;
    int fails = 0; /* claims failed in a row */
    for (;;) {
        pthread_mutex_lock(&p->lock);
        while (!p->stopping && !(p->nready <= p->target / 2 && p->nheld < held_cap(p)))
            pthread_cond_wait(&p->cv_low, &p->lock);
        if (p->stopping) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        if (p->starved && p->target < p->batch)
            p->target = p->target * 2 < p->batch ? p->target * 2 : p->batch;
        p->starved = false;
        size_t want = p->target - p->nready;
        if (want > held_cap(p) - p->nheld)
            want = held_cap(p) - p->nheld;
        if (p->limit && want > p->limit - p->stats.claimed)
            want = p->limit - p->stats.claimed;
        /* once mode: an empty claim ends the claims only if no job was held during it, since a
         * job that ends may release the stages after it */
        size_t held_before = p->nheld;
        uint64_t removed_before = p->removed;
        pthread_mutex_unlock(&p->lock);

        uint64_t seq = engine_available_seq(p->eng);
        struct job *jobs;
        size_t n;
        struct err e;
        int rc = engine_claim(p->eng, p->types, p->nhandlers, want, p->owner, p->lease_ms, &jobs,
                              &n, &e);
        if (rc < 0) {
            if (mono_ms() - last_err_ms > 5000 || p->once) {
                log_error("claim failed: %s", e.msg);
                last_err_ms = mono_ms();
            }
            pthread_mutex_lock(&p->lock);
            p->stats.claim_fails++;
            bool give_up = p->once && ++fails >= 3;
            if (give_up) {
                p->stats.claims_failed = true;
                end_claims(p);
            }
            pthread_mutex_unlock(&p->lock);
            if (give_up)
                break;
            engine_wait_available(p->eng, seq, p->poll_ms);
            continue;
        }
        fails = 0;
        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < n; i++) {
            struct job_ctx *c = xcalloc(1, sizeof *c);
            c->pool = p;
            c->job = jobs[i];
            c->handler = find_handler(p, c->job.type);
            atomic_init(&c->refs, 1);
            atomic_init(&c->cancel, false);
            c->last_write_ms = mono_ms();
            c->progress = c->job.progress;
            c->stage = xstrdup(c->job.stage);
            struct job_type_config cfg;
            engine_type(p->eng, c->job.type, &cfg);
            c->lease_ms = cfg.lease_ms;
            held_add(p, c);
            if (p->ready_tail)
                p->ready_tail->next = c;
            else
                p->ready_head = c;
            p->ready_tail = c;
            p->nready++;
        }
        p->stats.claimed += n;
        if (n)
            pthread_cond_broadcast(&p->cv_ready);
        free(jobs); /* the strings moved into the contexts */
        if (p->once &&
            ((p->limit && p->stats.claimed >= p->limit) || (n == 0 && held_before == 0))) {
            end_claims(p);
            pthread_mutex_unlock(&p->lock);
            break;
        }
        if (p->once && n == 0) {
            /* nothing due now: look again when a held job ends, or after poll_ms for jobs that
             * other processes enqueue or give back */
            if (!p->stopping && p->removed == removed_before)
                timed_wait(&p->cv_low, &p->lock, p->poll_ms);
            pthread_mutex_unlock(&p->lock);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        if (n == 0)
            engine_wait_available(p->eng, seq, p->poll_ms);
    }
    return NULL;
}

/* Renew the lease of every held job whose heartbeat is due, and write waiting progress. */
static void *heartbeat_main(void *arg)
{
    struct pool *p = arg;
    pthread_setname_np(pthread_self(), "heartbeats");
    int64_t tick = p->hb_interval_ms / 4;
    if (tick < 10)
        tick = 10;
    if (tick > 1000)
        tick = 1000;
    pthread_mutex_lock(&p->lock);
    while (!p->hb_exit) {
        timed_wait(&p->cv_hb, &p->lock, tick);
        if (p->hb_exit)
            break;
        int64_t now = mono_ms();
        size_t n = 0;
        struct job_ctx **due = xcalloc(p->nheld + 1, sizeof *due);
        for (size_t i = 0; i < p->nheld; i++) {
            struct job_ctx *c = p->held[i];
            int64_t every = c->lease_ms / 3 < 30000 ? c->lease_ms / 3 : 30000;
            if (now - c->last_write_ms >= every || (c->dirty && now - c->last_write_ms >= 1000)) {
                atomic_fetch_add(&c->refs, 1);
                due[n++] = c;
            }
        }
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < n; i++) {
            struct err e;
            if (!atomic_load(&due[i]->cancel))
                write_heartbeat(due[i], &e);
            ctx_unref(due[i]);
        }
        free(due);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* A held job that was cancelled, or whose attempt was ended by the monitor, must stop. */
static void on_change(void *ctx, const struct job_change *ch)
{
    struct pool *p = ctx;
    if (ch->from == ch->to ||
        (ch->to != JOB_CANCELLED && !(ch->from == JOB_PROCESSING && ch->to != JOB_COMPLETED)))
        return;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < p->nheld; i++) {
        struct job_ctx *c = p->held[i];
        if (c->job.attempt == ch->attempt && strcmp(c->job.id, ch->id) == 0) {
            atomic_store(&c->cancel, true);
            break;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

int pool_start(struct engine *eng, const struct job_handler *handlers, size_t n,
               const struct pool_opts *o, struct pool **out, struct err *e)
{
    *out = NULL;
    if (n == 0 || n > ENGINE_CLAIM_TYPES_MAX)
        return err_set(e, TRAWL_EINVAL, false, "a pool needs 1 to %d job handlers",
                       ENGINE_CLAIM_TYPES_MAX);
    struct pool *p = xcalloc(1, sizeof *p);
    p->eng = eng;
    p->nhandlers = n;
    p->handlers = xcalloc(n, sizeof *p->handlers);
    p->types = xcalloc(n, sizeof *p->types);
    p->lease_ms = 0;
    for (size_t i = 0; i < n; i++) {
        p->handlers[i] = handlers[i];
        p->types[i] = handlers[i].type;
        struct job_type_config cfg;
        engine_type(eng, handlers[i].type, &cfg);
        if (!p->lease_ms || cfg.lease_ms < p->lease_ms)
            p->lease_ms = cfg.lease_ms;
    }
    p->hb_interval_ms = p->lease_ms / 3 < 30000 ? p->lease_ms / 3 : 30000;
    p->nworkers = o && o->workers > 0 ? o->workers : 4;
    p->batch = o && o->batch > 0 ? o->batch : 256;
    p->target = (size_t)p->nworkers < p->batch ? (size_t)p->nworkers : p->batch;
    p->poll_ms = o && o->poll_ms > 0 ? o->poll_ms : 200;
    p->once = o && o->once;
    p->limit = o && o->once ? o->limit : 0;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    char uid[UUID_STR_LEN];
    uuid_v7(uid, engine_now(eng));
    snprintf(p->owner, sizeof p->owner, "%s:%d:%.8s", o && o->name ? o->name : host, (int)getpid(),
             uid + 28);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cv_ready, NULL);
    pthread_cond_init(&p->cv_low, NULL);
    pthread_cond_init(&p->cv_idle, NULL);
    pthread_cond_init(&p->cv_hb, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    int rc = engine_listen(eng, on_change, p);
    if (rc) {
        err_set(e, rc, false, "too many listeners on the engine");
        goto fail;
    }
    p->workers = xcalloc((size_t)p->nworkers, sizeof *p->workers);
    for (int i = 0; i < p->nworkers; i++)
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            log_error("cannot start worker thread");
            abort();
        }
    if (pthread_create(&p->heartbeater, NULL, heartbeat_main, p) != 0 ||
        pthread_create(&p->dispatcher, NULL, dispatcher_main, p) != 0) {
        log_error("cannot start pool threads");
        abort();
    }
    *out = p;
    return 0;
fail:
    free(p->handlers);
    free(p->types);
    free(p);
    return rc;
}

static void wait_idle(struct pool *p, int64_t ms)
{
    int64_t deadline = mono_ms() + ms;
    while (p->running > 0) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        timed_wait(&p->cv_idle, &p->lock, left < 100 ? left : 100);
    }
}

/* Release held jobs that match started; under lock, which is dropped while releasing. */
static size_t release_held(struct pool *p, bool started)
{
    size_t n = 0;
    struct job_ctx **list = xcalloc(p->nheld + 1, sizeof *list);
    for (size_t i = 0; i < p->nheld; i++) {
        struct job_ctx *c = p->held[i];
        if (c->started == started) {
            atomic_store(&c->shutdown, true);
            atomic_store(&c->cancel, true);
            atomic_fetch_add(&c->refs, 1);
            list[n++] = c;
        }
    }
    pthread_mutex_unlock(&p->lock);
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        struct job_fence f;
        fence_of(list[i], &f);
        struct err e;
        if (engine_release(p->eng, &f, started, &e) == 0)
            done++;
        else
            log_debug("job %s: not released: %s", list[i]->job.id, e.msg);
    }
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        if (!started)
            held_remove(p, list[i]);
        ctx_unref(list[i]);
    }
    if (!started) {
        for (size_t i = 0; i < n; i++)
            ctx_unref(list[i]); /* the held set's reference */
    }
    free(list);
    p->stats.released += done;
    return done;
}

bool pool_stop(struct pool *p, int64_t grace_ms)
{
    return pool_finish(p, grace_ms, NULL);
}

bool pool_finish(struct pool *p, int64_t grace_ms, struct pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv_low);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->dispatcher, NULL);

    pthread_mutex_lock(&p->lock);
    /* jobs not started go back at once, without spending an attempt */
    p->ready_head = p->ready_tail = NULL;
    p->nready = 0;
    size_t n = release_held(p, false);
    if (n)
        log_info("released %zu jobs that had not started", n);
    p->workers_exit = true;
    pthread_cond_broadcast(&p->cv_ready);
    if (p->running > 0)
        log_info("waiting up to %lld ms for %d running jobs", (long long)grace_ms, p->running);
    wait_idle(p, grace_ms);
    if (p->running > 0) {
        n = release_held(p, true);
        log_warn("grace period over: released %zu running jobs", n);
        wait_idle(p, 2000);
    }
    bool all = p->running == 0;
    p->hb_exit = true;
    pthread_cond_broadcast(&p->cv_hb);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->heartbeater, NULL);
    if (!all) {
        if (out)
            pool_stats(p, out);
        return false;
    }
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i], NULL);
    /* completions still in the committer hold contexts: wait until they are recorded */
    pthread_mutex_lock(&p->lock);
    int64_t deadline = mono_ms() + 10000;
    while (p->nheld > 0 && mono_ms() < deadline)
        timed_wait(&p->cv_low, &p->lock, 50);
    bool empty = p->nheld == 0;
    pthread_mutex_unlock(&p->lock);
    if (out)
        pool_stats(p, out);
    if (!empty)
        return false;
    engine_unlisten(p->eng, on_change, p);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cv_ready);
    pthread_cond_destroy(&p->cv_low);
    pthread_cond_destroy(&p->cv_idle);
    pthread_cond_destroy(&p->cv_hb);
    pthread_cond_destroy(&p->cv_done);
    free(p->held);
    free(p->workers);
    free(p->handlers);
    free(p->types);
    free(p);
    return true;
}

bool pool_wait(struct pool *p, int64_t timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    pthread_mutex_lock(&p->lock);
    while (!p->interrupted && !(p->claims_over && p->nheld == 0)) {
        int64_t left = timeout_ms < 0 ? 1000 : deadline - mono_ms();
        if (left <= 0)
            break;
        timed_wait(&p->cv_done, &p->lock, left);
    }
    bool done = !p->interrupted && p->claims_over && p->nheld == 0;
    pthread_mutex_unlock(&p->lock);
    return done;
}

void pool_interrupt(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->interrupted = true;
    pthread_cond_broadcast(&p->cv_done);
    pthread_mutex_unlock(&p->lock);
}

void pool_stats(struct pool *p, struct pool_stats *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->stats;
    out->held = p->nheld;
    pthread_mutex_unlock(&p->lock);
}

int pool_run_jobs(struct engine *eng, const struct job_handler *handlers, size_t nh,
                  struct job *jobs, size_t n, int threads, struct job_outcome *out, struct err *e)
{
    if (n == 0)
        return 0;
    if (nh == 0 || nh > ENGINE_CLAIM_TYPES_MAX)
        return err_set(e, TRAWL_EINVAL, false, "run jobs: 1 to %d job handlers",
                       ENGINE_CLAIM_TYPES_MAX);
    struct pool *p = xcalloc(1, sizeof *p);
    p->eng = eng;
    p->manual = true;
    p->nhandlers = nh;
    p->handlers = xcalloc(nh, sizeof *p->handlers);
    memcpy(p->handlers, handlers, nh * sizeof *handlers);
    p->lease_ms = 0;
    for (size_t i = 0; i < n; i++) {
        struct job_type_config cfg;
        engine_type(eng, jobs[i].type, &cfg);
        if (!p->lease_ms || cfg.lease_ms < p->lease_ms)
            p->lease_ms = cfg.lease_ms;
    }
    p->hb_interval_ms = p->lease_ms / 3 < 30000 ? p->lease_ms / 3 : 30000;
    p->nworkers = threads > 0 ? threads : 1;
    if ((size_t)p->nworkers > n)
        p->nworkers = (int)n;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cv_ready, NULL);
    pthread_cond_init(&p->cv_low, NULL);
    pthread_cond_init(&p->cv_idle, NULL);
    pthread_cond_init(&p->cv_hb, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    for (size_t i = 0; i < n; i++) {
        struct job_ctx *c = xcalloc(1, sizeof *c);
        c->pool = p;
        c->job = jobs[i];
        memset(&jobs[i], 0, sizeof jobs[i]);
        c->handler = find_handler(p, c->job.type);
        c->outcome = &out[i];
        memset(&out[i], 0, sizeof out[i]);
        snprintf(out[i].id, sizeof out[i].id, "%s", c->job.id);
        out[i].status = -1;
        atomic_init(&c->refs, 1);
        atomic_init(&c->cancel, false);
        c->last_write_ms = mono_ms();
        c->progress = c->job.progress;
        c->stage = xstrdup(c->job.stage);
        struct job_type_config cfg;
        engine_type(eng, c->job.type, &cfg);
        c->lease_ms = cfg.lease_ms;
        if (!c->handler) {
            /* no handler for this type here: give it back untouched */
            struct job_fence f;
            fence_of(c, &f);
            struct err e1;
            engine_release(eng, &f, false, &e1);
            note_outcome(c, JOB_PENDING, "no handler for this job type here");
            ctx_unref(c);
            continue;
        }
        held_add(p, c);
        if (p->ready_tail)
            p->ready_tail->next = c;
        else
            p->ready_head = c;
        p->ready_tail = c;
        p->nready++;
    }
    p->workers = xcalloc((size_t)p->nworkers, sizeof *p->workers);
    for (int i = 0; i < p->nworkers; i++)
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) {
            log_error("cannot start worker thread");
            abort();
        }
    if (pthread_create(&p->heartbeater, NULL, heartbeat_main, p) != 0) {
        log_error("cannot start pool threads");
        abort();
    }
    /* every job ran and its outcome is durable once the held set is empty */
    pthread_mutex_lock(&p->lock);
    while (p->nheld > 0)
        pthread_cond_wait(&p->cv_low, &p->lock);
    p->workers_exit = true;
    p->hb_exit = true;
    pthread_cond_broadcast(&p->cv_ready);
    pthread_cond_broadcast(&p->cv_hb);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->workers[i], NULL);
    pthread_join(p->heartbeater, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cv_ready);
    pthread_cond_destroy(&p->cv_low);
    pthread_cond_destroy(&p->cv_idle);
    pthread_cond_destroy(&p->cv_hb);
    pthread_cond_destroy(&p->cv_done);
    free(p->held);
    free(p->workers);
    free(p->handlers);
    free(p);
    return 0;
}
