/* The engine itself: its types and their settings, validation, the helpers its operations share,
 * reads, waits, listeners and the transaction hook. The operations that write are in files of
 * their own (enqueue.c, claim.c, change.c, sweep.c); every write is run by the committer
 * (commit.c). */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"
#include "engine/wait.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_defaults(struct job_type_config *c, const struct job_type_config *d)
{
    if (c->max_attempts <= 0)
        c->max_attempts = d->max_attempts;
    if (c->backoff.base_ms <= 0)
        c->backoff.base_ms = d->backoff.base_ms;
    if (c->backoff.cap_ms <= 0)
        c->backoff.cap_ms = d->backoff.cap_ms;
    if (c->timeout_ms <= 0)
        c->timeout_ms = d->timeout_ms;
    if (c->lease_ms <= 0)
        c->lease_ms = d->lease_ms;
    if (c->no_progress_ms == 0)
        c->no_progress_ms = d->no_progress_ms;
}

int64_t engine_now(const struct engine *eng)
{
    return clock_now_ms(&eng->clock);
}

struct store *engine_store(struct engine *eng)
{
    return eng->store;
}

/* A recorded change as listeners and the transaction hook see it. */
static struct job_change change_of(const struct job_change_rec *r)
{
    return (struct job_change){
        .id = r->id,
        .type = r->type,
        .from = r->from,
        .to = r->to,
        .attempt = r->attempt,
        .workspace = r->workspace,
        .batch_id = r->batch_id,
        .root_id = r->root_id,
        .message = r->message,
        .at = r->at,
        .proc_ms = r->proc_ms,
        .wait_ms = r->wait_ms,
        .progress = r->progress,
        .stage = r->stage,
        .cause = r->cause,
    };
}

/* After each durable transaction: tell listeners, wake claimers. */
static void on_changes(void *ctx, const struct job_change_rec *c, size_t n, bool available)
{
    struct engine *eng = ctx;
    for (size_t i = 0; i < n; i++)
        if (job_status_settled(c[i].to))
            waiters_wake(eng->waiters, c[i].id);
    pthread_mutex_lock(&eng->llock);
    for (size_t i = 0; i < n && eng->nlisteners > 0; i++) {
        struct job_change ch = change_of(&c[i]);
        for (int l = 0; l < eng->nlisteners; l++)
            eng->listeners[l].fn(eng->listeners[l].ctx, &ch);
    }
    pthread_mutex_unlock(&eng->llock);
    if (available) {
        pthread_mutex_lock(&eng->lock);
        eng->avail_seq++;
        pthread_cond_broadcast(&eng->avail);
        pthread_mutex_unlock(&eng->lock);
    }
}

/* What another node on the same database committed: its ended jobs' waiters are woken, the
 * listeners told, and idle claimers woken when jobs may have become claimable there. */
static void on_heard(void *ctx, const struct store_change *c, size_t n, bool available)
{
    struct engine *eng = ctx;
    for (size_t i = 0; i < n; i++)
        if (c[i].to >= 0 && c[i].to < JOB_STATUS_COUNT && job_status_settled(c[i].to))
            waiters_wake(eng->waiters, c[i].id);
    pthread_mutex_lock(&eng->llock);
    for (size_t i = 0; i < n && eng->nlisteners > 0; i++) {
        if (c[i].from < 0 || c[i].from >= JOB_STATUS_COUNT || c[i].to < 0 ||
            c[i].to >= JOB_STATUS_COUNT)
            continue;
        struct job_change ch = {
            .id = c[i].id,
            .type = c[i].type,
            .from = c[i].from,
            .to = c[i].to,
            .attempt = c[i].attempt,
            .workspace = c[i].workspace,
            .batch_id = c[i].batch_id,
            .root_id = c[i].root_id,
            .at = c[i].at,
            .proc_ms = -1,
            .wait_ms = -1,
            .progress = -1,
            .remote = true,
        };
        for (int l = 0; l < eng->nlisteners; l++)
            eng->listeners[l].fn(eng->listeners[l].ctx, &ch);
    }
    pthread_mutex_unlock(&eng->llock);
    if (available || n == 0) {
        pthread_mutex_lock(&eng->lock);
        eng->avail_seq++;
        pthread_cond_broadcast(&eng->avail);
        pthread_mutex_unlock(&eng->lock);
    }
}

int engine_open(struct store *s, const struct engine_opts *o, struct engine **out, struct err *e)
{
    struct engine *eng = xcalloc(1, sizeof *eng);
    eng->store = s;
    eng->clock = o && o->clock ? *o->clock : clock_real;
    struct job_type_config builtin = {
        .name = "",
        .max_attempts = ENGINE_DEFAULT_ATTEMPTS,
        .backoff = {BACKOFF_DEFAULT_BASE_MS, BACKOFF_DEFAULT_CAP_MS},
        .timeout_ms = 0,
        .lease_ms = ENGINE_DEFAULT_LEASE_MS,
        .no_progress_ms = ENGINE_DEFAULT_NO_PROGRESS_MS,
    };
    eng->defaults = o && o->defaults ? *o->defaults : builtin;
    fill_defaults(&eng->defaults, &builtin);
    pthread_mutex_init(&eng->lock, NULL);
    pthread_mutex_init(&eng->llock, NULL);
    pthread_cond_init(&eng->avail, NULL);
    eng->waiters = waiters_new();
    eng->committer = commit_start(s, on_changes, eng);
    int rc = store_hear(s, on_heard, eng, e);
    if (rc) {
        commit_stop(eng->committer);
        pthread_mutex_destroy(&eng->lock);
        pthread_mutex_destroy(&eng->llock);
        pthread_cond_destroy(&eng->avail);
        waiters_free(eng->waiters);
        free(eng);
        return rc;
    }
    *out = eng;
    return 0;
}

void engine_close(struct engine *eng)
{
    if (!eng)
        return;
    store_hear(eng->store, NULL, NULL, NULL);
    commit_stop(eng->committer);
    free(eng->tx_hook);
    store_close(eng->store);
    pthread_mutex_destroy(&eng->lock);
    pthread_mutex_destroy(&eng->llock);
    pthread_cond_destroy(&eng->avail);
    waiters_free(eng->waiters);
    free(eng);
}

bool engine_name_valid(const char *s, size_t max, bool allow_space)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char ch = (unsigned char)s[n];
        if (n >= max || ch < 0x20 || ch == 0x7f || (!allow_space && isspace(ch)))
            return false;
    }
    return n > 0;
}

int engine_set_type(struct engine *eng, const struct job_type_config *cfg, struct err *e)
{
    if (!engine_name_valid(cfg->name, JOB_TYPE_MAX, false))
        return err_set(e, TRAWL_EINVAL, false, "job type name must be 1-%d printable characters",
                       JOB_TYPE_MAX);
    if (cfg->max_attempts < 0 || cfg->max_attempts > JOB_ATTEMPTS_MAX || cfg->timeout_ms < 0 ||
        cfg->lease_ms < 0 || cfg->backoff.base_ms < 0 || cfg->backoff.cap_ms < 0 ||
        cfg->no_progress_ms < -1)
        return err_set(e, TRAWL_EINVAL, false, "job type %s: settings out of range", cfg->name);
    pthread_mutex_lock(&eng->lock);
    int i;
    for (i = 0; i < eng->ntypes; i++)
        if (strcmp(eng->types[i].name, cfg->name) == 0)
            break;
    if (i == MAX_TYPES) {
        pthread_mutex_unlock(&eng->lock);
        return err_set(e, TRAWL_ETOOBIG, false, "too many job types (at most %d)", MAX_TYPES);
    }
    eng->types[i] = *cfg;
    fill_defaults(&eng->types[i], &eng->defaults);
    if (i == eng->ntypes)
        eng->ntypes++;
    pthread_mutex_unlock(&eng->lock);
    return 0;
}

void engine_type(struct engine *eng, const char *type, struct job_type_config *out)
{
    pthread_mutex_lock(&eng->lock);
    *out = eng->defaults;
    for (int i = 0; type && i < eng->ntypes; i++)
        if (strcmp(eng->types[i].name, type) == 0) {
            *out = eng->types[i];
            break;
        }
    pthread_mutex_unlock(&eng->lock);
    snprintf(out->name, sizeof out->name, "%s", type ? type : "");
}

int engine_validate(const struct job_spec *s, struct err *e)
{
    if (!s->type || !engine_name_valid(s->type, JOB_TYPE_MAX, false))
        return err_set(e, TRAWL_EINVAL, false,
                       "type is required: 1-%d printable characters without spaces", JOB_TYPE_MAX);
    if (s->queue && !engine_name_valid(s->queue, JOB_KEY_MAX, false))
        return err_set(e, TRAWL_EINVAL, false, "queue must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if (s->workspace && !engine_name_valid(s->workspace, JOB_KEY_MAX, false))
        return err_set(e, TRAWL_EINVAL, false, "workspace must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if (s->priority < JOB_PRIORITY_MIN || s->priority > JOB_PRIORITY_MAX)
        return err_set(e, TRAWL_EINVAL, false, "priority %d is out of range (%d to %d)",
                       s->priority, JOB_PRIORITY_MIN, JOB_PRIORITY_MAX);
    if (s->max_attempts < 0 || s->max_attempts > JOB_ATTEMPTS_MAX)
        return err_set(e, TRAWL_EINVAL, false, "max_attempts %d is out of range (1 to %d)",
                       s->max_attempts, JOB_ATTEMPTS_MAX);
    if (s->run_at < 0)
        return err_set(e, TRAWL_EINVAL, false, "run_at must not be negative");
    if (s->timeout_ms < 0)
        return err_set(e, TRAWL_EINVAL, false, "timeout_ms must not be negative");
    if (s->backoff_base_ms < 0 || s->backoff_cap_ms < 0)
        return err_set(e, TRAWL_EINVAL, false, "backoff must not be negative");
    if (s->backoff_base_ms && s->backoff_cap_ms && s->backoff_base_ms > s->backoff_cap_ms)
        return err_set(e, TRAWL_EINVAL, false, "backoff base must not exceed its cap");
    if (s->parent_id && !uuid_valid(s->parent_id))
        return err_set(e, TRAWL_EINVAL, false, "parent_id is not a job id");
    if (s->root_id && !uuid_valid(s->root_id))
        return err_set(e, TRAWL_EINVAL, false, "root_id is not a job id");
    if (s->batch_id && !engine_name_valid(s->batch_id, JOB_KEY_MAX, false))
        return err_set(e, TRAWL_EINVAL, false, "batch_id must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if (s->unique_key && !engine_name_valid(s->unique_key, JOB_KEY_MAX, true))
        return err_set(e, TRAWL_EINVAL, false, "unique_key must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if (s->args)
        return eng_check_json("args", s->args, JOB_ARGS_MAX, true, e);
    return 0;
}

/* Record a change of the job row j (as it was read, before the change). */
void eng_record_job(struct commit_tx *tx, const struct job *j, int from, int to, int attempt,
                    const char *message, const char *cause, int64_t now)
{
    struct change_note n = {
        .id = j->id,
        .type = j->type,
        .workspace = j->workspace,
        .batch_id = j->batch_id,
        .root_id = j->root_id,
        .message = message,
        .cause = cause,
        .from = from,
        .to = to,
        .attempt = attempt,
        .started_at = j->started_at,
        /* a claim: it waited since it was due: since it was enqueued, or since the retry or
         * deferral it was scheduled for */
        .due_at = j->run_at > j->created_at ? j->run_at : j->created_at,
    };
    commit_record(tx, &n, now);
}

bool eng_refusal(int rc)
{
    return rc == TRAWL_ESTALE || rc == TRAWL_ESTATE || rc == TRAWL_ENOTFOUND;
}

int eng_check_id(const char *id, struct err *e)
{
    if (!id || !uuid_valid(id))
        return err_set(e, TRAWL_EINVAL, false, "\"%s\" is not a job id", id ? id : "");
    return 0;
}

/* JSON text that parses, within max bytes; object_only demands an object. */
int eng_check_json(const char *what, const char *text, size_t max, bool object_only, struct err *e)
{
    size_t n = strlen(text);
    if (n > max)
        return err_set(e, TRAWL_ETOOBIG, false, "%s is too large (%zu bytes, at most %zu)", what, n,
                       max);
    json_error_t je;
    json_t *v = json_loadb(text, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return err_set(e, TRAWL_EINVAL, false, "%s is not valid JSON: %s at line %d column %d",
                       what, je.text, je.line, je.column);
    bool ok = !object_only || json_is_object(v);
    json_decref(v);
    if (!ok)
        return err_set(e, TRAWL_EINVAL, false, "%s must be a JSON object", what);
    return 0;
}

/* ---- reads ---- */

int engine_get(struct engine *eng, const char *id, struct job *out, struct err *e)
{
    int rc = eng_check_id(id, e);
    return rc ? rc : store_get(eng->store, id, out, e);
}

void engine_stop_waits(struct engine *eng)
{
    waiters_close(eng->waiters);
}

int engine_wait(struct engine *eng, const char *id, int64_t timeout_ms, struct job *out,
                struct err *e)
{
    int rc = eng_check_id(id, e);
    if (rc)
        return rc;
    int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct waiter *w = waiter_add(eng->waiters, id);
    rc = store_get(eng->store, id, out, e);
    if (!rc && !job_status_settled(out->status) && timeout_ms > 0) {
        job_release(out);
        waiter_wait(eng->waiters, w, deadline);
        rc = store_get(eng->store, id, out, e);
    }
    waiter_remove(eng->waiters, w);
    return rc;
}

int engine_events(struct engine *eng, const char *id, struct job_event **out, size_t *n,
                  struct err *e)
{
    int rc = eng_check_id(id, e);
    return rc ? rc : store_events(eng->store, id, out, n, e);
}

/* ---- other writes through the committer ---- */

struct exec_op {
    struct commit_op op;
    engine_exec_fn fn;
    engine_tx_fn tx_fn; /* engine_exec_tx: fn's place */
    void *arg;
    engine_done_fn done;
    void *done_ctx;
};

static int exec_run(struct commit_op *op, struct commit_tx *tx)
{
    struct exec_op *x = (struct exec_op *)op;
    int rc = x->tx_fn ? x->tx_fn((struct engine_tx *)tx, x->arg, &op->err)
                      : x->fn(commit_store(tx), x->arg, &op->err);
    if (rc < 0)
        return rc;
    op->rc = 0;
    return 0;
}

int engine_exec_tx(struct engine *eng, engine_tx_fn fn, void *arg, struct err *e)
{
    struct exec_op x = {.tx_fn = fn, .arg = arg};
    x.op.run = exec_run;
    int rc = commit_run(eng->committer, &x.op);
    if (rc)
        err_copy(e, &x.op.err);
    return rc;
}

int engine_exec(struct engine *eng, engine_exec_fn fn, void *arg, struct err *e)
{
    struct exec_op x = {.fn = fn, .arg = arg};
    x.op.run = exec_run;
    int rc = commit_run(eng->committer, &x.op);
    if (rc)
        err_copy(e, &x.op.err);
    return rc;
}

static void exec_done(struct commit_op *op)
{
    struct exec_op *x = (struct exec_op *)op;
    if (x->done)
        x->done(x->done_ctx, op->rc, &op->err);
    free(x);
}

void engine_exec_async(struct engine *eng, engine_exec_fn fn, void *arg, engine_done_fn done,
                       void *ctx)
{
    struct exec_op *x = xcalloc(1, sizeof *x);
    x->fn = fn;
    x->arg = arg;
    x->done = done;
    x->done_ctx = ctx;
    x->op.run = exec_run;
    x->op.done = exec_done;
    commit_submit(eng->committer, &x->op);
}

/* ---- writes that go with a change ---- */

struct tx_hook {
    engine_tx_hook_fn fn;
    void *ctx;
};

/* engine_tx is commit_tx under another name: the hook's view of the transaction */
static void tx_hook(void *ctx, struct commit_tx *tx, const struct job_change_rec *r)
{
    const struct tx_hook *hk = ctx;
    if (r->from == r->to)
        return;
    struct job_change ch = change_of(r);
    hk->fn(hk->ctx, (struct engine_tx *)tx, &ch);
}

static int nothing(struct store *s, void *arg, struct err *e)
{
    (void)s;
    (void)arg;
    (void)e;
    return 0;
}

void engine_set_tx_hook(struct engine *eng, engine_tx_hook_fn fn, void *ctx)
{
    struct tx_hook *old = eng->tx_hook, *hk = NULL;
    if (fn) {
        hk = xmalloc(sizeof *hk);
        *hk = (struct tx_hook){fn, ctx};
    }
    eng->tx_hook = hk;
    commit_set_hook(eng->committer, hk ? tx_hook : NULL, hk);
    /* a transaction that began before holds the old hook: once an empty one has gone through
     * after it, none uses the old hook any more, and it (and its context) may be freed */
    struct err e;
    err_clear(&e);
    engine_exec(eng, nothing, NULL, &e);
    free(old);
}

struct store *engine_tx_store(struct engine_tx *tx)
{
    return commit_store((struct commit_tx *)tx);
}

void engine_tx_after(struct engine_tx *tx, void (*fn)(void *arg, bool committed), void *arg)
{
    commit_after((struct commit_tx *)tx, fn, arg);
}

int engine_job_stats(struct engine *eng, const struct stats_query *q, struct stats_row **out,
                     size_t *n, struct err *e)
{
    return store_stats(eng->store, q, out, n, e);
}

int engine_job_minutes(struct engine *eng, const struct stats_query *q, struct stats_minute **out,
                       size_t *n, struct err *e)
{
    return store_stats_minutes(eng->store, q, out, n, e);
}

bool engine_type_known(struct engine *eng, const char *type)
{
    pthread_mutex_lock(&eng->lock);
    bool known = false;
    for (int i = 0; type && i < eng->ntypes && !known; i++)
        known = strcmp(eng->types[i].name, type) == 0;
    pthread_mutex_unlock(&eng->lock);
    return known;
}

int engine_counts(struct engine *eng, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    return store_count(eng->store, counts, e);
}

int engine_list(struct engine *eng, const char *status, const struct job_filter *f,
                struct job **out, size_t *n, struct err *e)
{
    struct job_filter g = {0};
    if (f)
        g = *f;
    g.status = -1;
    if (status) {
        g.status = job_status_parse(status);
        if (g.status < 0)
            return err_set(e, TRAWL_EINVAL, false,
                           "unknown status \"%s\" (expected pending, processing, retrying, "
                           "completed, failed or cancelled)",
                           status);
    }
    if (g.limit > 10000)
        return err_set(e, TRAWL_EINVAL, false, "limit %zu is out of range (1 to 10000)", g.limit);
    if (g.before_id && !uuid_valid(g.before_id))
        return err_set(e, TRAWL_EINVAL, false, "cursor is not a job id");
    return store_list(eng->store, &g, out, n, e);
}

int engine_listen(struct engine *eng, engine_listener_fn fn, void *ctx)
{
    pthread_mutex_lock(&eng->llock);
    int rc = TRAWL_ETOOBIG;
    if (eng->nlisteners < MAX_LISTENERS) {
        eng->listeners[eng->nlisteners].fn = fn;
        eng->listeners[eng->nlisteners].ctx = ctx;
        eng->nlisteners++;
        rc = 0;
    }
    pthread_mutex_unlock(&eng->llock);
    return rc;
}

void engine_unlisten(struct engine *eng, engine_listener_fn fn, void *ctx)
{
    pthread_mutex_lock(&eng->llock);
    for (int i = 0; i < eng->nlisteners; i++) {
        if (eng->listeners[i].fn == fn && eng->listeners[i].ctx == ctx) {
            eng->listeners[i] = eng->listeners[--eng->nlisteners];
            break;
        }
    }
    pthread_mutex_unlock(&eng->llock);
}

uint64_t engine_available_seq(struct engine *eng)
{
    pthread_mutex_lock(&eng->lock);
    uint64_t v = eng->avail_seq;
    pthread_mutex_unlock(&eng->lock);
    return v;
}

void engine_wait_available(struct engine *eng, uint64_t seen, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&eng->lock);
    while (eng->avail_seq == seen) {
        if (pthread_cond_timedwait(&eng->avail, &eng->lock, &ts) != 0)
            break;
    }
    pthread_mutex_unlock(&eng->lock);
}

void engine_stats(struct engine *eng, struct engine_stats *out)
{
    struct commit_stats cs;
    commit_stats_get(eng->committer, &cs);
    out->commits = cs.commits;
    out->ops = cs.ops;
    out->last_commit_ms = cs.last_commit_ms;
    out->last_failure_ms = cs.last_failure_ms;
    snprintf(out->last_failure, sizeof out->last_failure, "%s", cs.last_failure);
    out->commit_latency = cs.latency;
    out->commit_size = cs.size;
}
