/* Job semantics on top of the store: validation, the state machine, fencing, backoff, the
 * monitor's sweep. Every write is an operation run by the committer (commit.c). */
#include "engine/engine.h"

#include "base/log.h"
#include "base/rand.h"
#include "base/xalloc.h"
#include "engine/commit.h"
#include "engine/wait.h"
#include "store/batch.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TYPES     64
#define MAX_LISTENERS 8

struct engine {
    struct store *store;
    struct committer *committer;
    struct clock clock;
    struct job_type_config defaults;
    pthread_mutex_t lock;  /* types, available */
    pthread_mutex_t llock; /* listeners: held while they run, so unlisten is safe */
    struct job_type_config types[MAX_TYPES];
    int ntypes;
    struct {
        engine_listener_fn fn;
        void *ctx;
    } listeners[MAX_LISTENERS];
    int nlisteners;
    uint64_t avail_seq;
    pthread_cond_t avail;
    struct waiters *waiters;
    struct tx_hook *tx_hook; /* the hook the committer calls, with its context; NULL: none */
};

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
        if (job_status_ended(c[i].to))
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

int engine_open(struct store *s, const struct engine_opts *o, struct engine **out, struct err *e)
{
    (void)e;
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
    *out = eng;
    return 0;
}

void engine_close(struct engine *eng)
{
    if (!eng)
        return;
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

/* JSON text that parses, within max bytes; object_only demands an object. */
static int check_json(const char *what, const char *text, size_t max, bool object_only,
                      struct err *e)
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
        return check_json("args", s->args, JOB_ARGS_MAX, true, e);
    return 0;
}

/* ---- enqueue ---- */

struct enqueue_op {
    struct commit_op op;
    struct job *jobs;
    size_t n;
    struct enqueue_result *res;
    engine_exec_fn after; /* a write in the same transaction, after the jobs are in */
    void *after_arg;
    engine_done_fn done; /* async: the caller's callback */
    void *done_ctx;
};

/* Find the root of jobs whose parent is given. A parent that does not exist refuses the whole
 * operation (all or nothing). Returns 0, 1 when refused (op.rc and op.err say why), or a
 * negative store error. */
static int resolve_roots(struct enqueue_op *q, struct store *s)
{
    for (size_t i = 0; i < q->n; i++) {
        struct job *j = &q->jobs[i];
        if (j->parent_id && !j->root_id) {
            struct job parent;
            int rc = store_fetch(s, j->parent_id, &parent, &q->op.err);
            if (rc == TRAWL_ENOTFOUND) {
                /* a refusal of this operation, found before it wrote anything: the
                 * transaction and its other operations go on */
                q->op.rc = err_set(&q->op.err, TRAWL_EINVAL, false,
                                   "jobs[%zu]: parent job %s not found", i, j->parent_id);
                return 1;
            }
            if (rc)
                return rc;
            j->root_id = xstrdup(parent.root_id ? parent.root_id : parent.id);
            job_release(&parent);
        }
    }
    return 0;
}

/* Insert the jobs of k operations with one store call (multi-row INSERTs), and give each
 * operation its results. */
static int insert_ops(struct enqueue_op **qs, size_t k, struct commit_tx *tx, struct err *e)
{
    struct store *s = commit_store(tx);
    size_t total = 0;
    for (size_t i = 0; i < k; i++)
        total += qs[i]->n;
    struct job *jobs = xmalloc(total * sizeof *jobs);
    bool *existed = xcalloc(total, sizeof *existed);
    size_t at = 0;
    for (size_t i = 0; i < k; i++) {
        memcpy(jobs + at, qs[i]->jobs, qs[i]->n * sizeof *jobs); /* shallow: strings shared */
        at += qs[i]->n;
    }
    /* the store overwrites the id of a job whose unique key is live, in this copy only: a replay
     * after a rollback inserts with the ids first given */
    int rc = store_insert_many(s, jobs, total, existed, e);
    at = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        for (size_t j = 0; j < qs[i]->n; j++, at++) {
            memcpy(qs[i]->res[j].id, jobs[at].id, UUID_STR_LEN);
            qs[i]->res[j].existed = existed[at];
            if (!existed[at])
                commit_count(tx, jobs[at].workspace, jobs[at].type, -1, jobs[at].status, -1,
                             jobs[at].created_at);
        }
    }
    free(jobs);
    free(existed);
    return rc;
}

static int enqueue_run(struct commit_op *op, struct commit_tx *tx)
{
    struct enqueue_op *q = (struct enqueue_op *)op;
    struct store *s = commit_store(tx);
    int rc = resolve_roots(q, s);
    if (rc)
        return rc < 0 ? rc : 0; /* > 0: refused, op->rc says why */
    rc = insert_ops(&q, 1, tx, &op->err);
    if (rc < 0)
        return rc;
    if (q->after && (rc = q->after(s, q->after_arg, &op->err)) < 0)
        return rc;
    commit_available(tx);
    return 0;
}

/* Enqueues queued together (many clients submitting one job each) go to the store as one
 * multi-row INSERT; when that fails, each is run alone to get its own answer. */
static int enqueue_group(struct commit_op **ops, size_t n, struct commit_tx *tx, struct err *e)
{
    struct store *s = commit_store(tx);
    struct enqueue_op *take[COMMIT_GROUP_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int rc = resolve_roots((struct enqueue_op *)ops[i], s);
        if (rc < 0) {
            err_copy(e, &ops[i]->err);
            return rc;
        }
        if (rc == 0) /* > 0: refused, answered by its op->rc */
            take[k++] = (struct enqueue_op *)ops[i];
    }
    if (k == 0)
        return 0;
    int rc = insert_ops(take, k, tx, e);
    if (rc < 0)
        return rc;
    commit_available(tx);
    return 0;
}

/* The rows to insert borrow the specs' strings (the call is synchronous); only a root_id found
 * from the parent is allocated, and freed by enqueue_free. */
static void job_from_spec(const struct job_spec *s, int max_attempts, int64_t now, struct job *j)
{
    memset(j, 0, sizeof *j);
    uuid_v7(j->id, now);
    j->type = (char *)s->type;
    j->queue = (char *)(s->queue ? s->queue : "default");
    j->status = JOB_PENDING;
    j->priority = s->priority;
    j->max_attempts = s->max_attempts ? s->max_attempts : max_attempts;
    j->run_at = s->run_at ? s->run_at : now;
    j->timeout_ms = s->timeout_ms;
    j->backoff_base_ms = s->backoff_base_ms;
    j->backoff_cap_ms = s->backoff_cap_ms;
    j->args = (char *)(s->args ? s->args : "{}");
    j->batch_id = (char *)s->batch_id;
    j->parent_id = (char *)s->parent_id;
    j->root_id = (char *)s->root_id;
    j->unique_key = (char *)s->unique_key;
    j->workspace = (char *)(s->workspace ? s->workspace : "default");
    j->created_at = now;
    j->updated_at = now;
}

static void enqueue_free(struct enqueue_op *q, const struct job_spec *specs)
{
    for (size_t i = 0; i < q->n; i++)
        if (q->jobs[i].root_id != specs[i].root_id)
            free(q->jobs[i].root_id);
    free(q->jobs);
}

static int validate_all(const struct job_spec *specs, size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++) {
        struct err e1;
        err_clear(&e1);
        int rc = engine_validate(&specs[i], &e1);
        if (rc)
            return err_set(e, rc, false, n > 1 ? "jobs[%zu]: %s" : "%.0zu%s", i, e1.msg);
    }
    return 0;
}

static void jobs_from_specs(struct engine *eng, const struct job_spec *specs, size_t n,
                            struct job *jobs)
{
    int64_t now = engine_now(eng);
    struct job_type_config cfg;
    const char *cfg_type = NULL;
    for (size_t i = 0; i < n; i++) {
        if (!cfg_type || strcmp(cfg_type, specs[i].type) != 0) {
            engine_type(eng, specs[i].type, &cfg);
            cfg_type = specs[i].type;
        }
        job_from_spec(&specs[i], cfg.max_attempts, now, &jobs[i]);
    }
}

/* Enqueue specs and wait until they are durable; after (may be NULL) writes in the same
 * transaction, so such an enqueue runs alone rather than grouped with others. */
static int enqueue_sync(struct engine *eng, const struct job_spec *specs, size_t n,
                        struct enqueue_result *res, engine_exec_fn after, void *arg, struct err *e)
{
    int rc = validate_all(specs, n, e);
    if (rc || n == 0)
        return rc;
    struct enqueue_op q = {.n = n, .res = res, .after = after, .after_arg = arg};
    q.op.run = enqueue_run;
    q.op.run_group = after ? NULL : enqueue_group;
    q.jobs = xmalloc(n * sizeof *q.jobs);
    jobs_from_specs(eng, specs, n, q.jobs);
    rc = commit_run(eng->committer, &q.op);
    if (rc)
        err_copy(e, &q.op.err);
    enqueue_free(&q, specs);
    return rc;
}

int engine_enqueue_many(struct engine *eng, const struct job_spec *specs, size_t n,
                        struct enqueue_result *res, struct err *e)
{
    return enqueue_sync(eng, specs, n, res, NULL, NULL, e);
}

int engine_enqueue_with(struct engine *eng, const struct job_spec *spec, struct enqueue_result *res,
                        engine_exec_fn after, void *arg, struct err *e)
{
    return enqueue_sync(eng, spec, 1, res, after, arg, e);
}

static void enqueue_async_done(struct commit_op *op)
{
    struct enqueue_op *q = (struct enqueue_op *)op;
    q->done(q->done_ctx, op->rc, &op->err);
    job_array_free(q->jobs, q->n); /* the async op owns its strings */
    free(q);
}

void engine_enqueue_many_async(struct engine *eng, const struct job_spec *specs, size_t n,
                               struct enqueue_result *res, engine_done_fn done, void *ctx)
{
    struct err e;
    err_clear(&e);
    int rc = validate_all(specs, n, &e);
    if (rc || n == 0) {
        done(ctx, rc, &e);
        return;
    }
    struct enqueue_op *q = xcalloc(1, sizeof *q);
    q->n = n;
    q->res = res;
    q->done = done;
    q->done_ctx = ctx;
    q->op.run = enqueue_run;
    q->op.run_group = enqueue_group;
    q->op.done = enqueue_async_done;
    q->jobs = xmalloc(n * sizeof *q->jobs);
    jobs_from_specs(eng, specs, n, q->jobs);
    for (size_t i = 0; i < n; i++) {
        struct job *j = &q->jobs[i];
        j->type = xstrdup(j->type);
        j->queue = xstrdup(j->queue);
        j->args = xstrdup(j->args);
        j->batch_id = xstrdup(j->batch_id);
        j->parent_id = xstrdup(j->parent_id);
        j->root_id = xstrdup(j->root_id);
        j->unique_key = xstrdup(j->unique_key);
        j->workspace = xstrdup(j->workspace);
    }
    commit_submit_or_lead(eng->committer, &q->op);
}

int engine_enqueue(struct engine *eng, const struct job_spec *spec, struct enqueue_result *res,
                   struct err *e)
{
    return engine_enqueue_many(eng, spec, 1, res, e);
}

/* ---- claim ---- */

struct claim_op {
    struct commit_op op;
    struct claim_req req;
    struct job *jobs; /* claimed (by store_claim) */
    size_t n;
    struct job *cand; /* the optimistic claim: candidates read before, and which were taken */
    size_t ncand;
    bool *taken;
};

/* Record a change of the job row j (as it was read, before the change). */
static void record_job(struct commit_tx *tx, const struct job *j, int from, int to, int attempt,
                       const char *message, const char *cause, int64_t now)
{
    struct change_note n = {
        .id = j->id,
        .type = j->type,
        .workspace = j->workspace,
        .batch_id = j->batch_id,
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

static int claim_run(struct commit_op *op, struct commit_tx *tx)
{
    struct claim_op *c = (struct claim_op *)op;
    if (c->cand) {
        /* optimistic: the candidates were read outside; take those still unchanged */
        int rc =
            store_claim_these(commit_store(tx), &c->req, c->cand, c->ncand, c->taken, &op->err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < c->ncand; i++)
            if (c->taken[i])
                record_job(tx, &c->cand[i], JOB_PENDING, JOB_PROCESSING, c->cand[i].attempt + 1,
                           NULL, NULL, c->req.now);
        return 0;
    }
    int rc = store_claim(commit_store(tx), &c->req, &c->jobs, &c->n, &op->err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < c->n; i++)
        record_job(tx, &c->jobs[i], JOB_PENDING, JOB_PROCESSING, c->jobs[i].attempt, NULL, NULL,
                   c->req.now);
    return 0;
}

static void claim_undo(struct commit_op *op)
{
    struct claim_op *c = (struct claim_op *)op;
    job_array_free(c->jobs, c->n);
    c->jobs = NULL;
    c->n = 0;
    if (c->taken)
        memset(c->taken, 0, c->ncand * sizeof *c->taken);
}

int engine_claim(struct engine *eng, const char *const *types, size_t ntypes, size_t limit,
                 const char *owner, int64_t lease_ms, struct job **out, size_t *n, struct err *e)
{
    return engine_claim_in(eng, NULL, types, ntypes, limit, owner, lease_ms, out, n, e);
}

int engine_claim_in(struct engine *eng, const char *workspace, const char *const *types,
                    size_t ntypes, size_t limit, const char *owner, int64_t lease_ms,
                    struct job **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    if (ntypes < 1 || ntypes > ENGINE_CLAIM_TYPES_MAX)
        return err_set(e, TRAWL_EINVAL, false, "claim: 1 to %d job types at once",
                       ENGINE_CLAIM_TYPES_MAX);
    for (size_t i = 0; i < ntypes; i++)
        if (!types[i] || !*types[i])
            return err_set(e, TRAWL_EINVAL, false, "claim: job type %zu is empty", i);
    if (!owner || !*owner)
        return err_set(e, TRAWL_EINVAL, false, "claim: a worker name is required");
    if (lease_ms <= 0) {
        /* the types' own lease; the shortest when several are claimed together */
        for (size_t i = 0; i < ntypes; i++) {
            struct job_type_config cfg;
            engine_type(eng, types[i], &cfg);
            if (lease_ms <= 0 || cfg.lease_ms < lease_ms)
                lease_ms = cfg.lease_ms;
        }
    }
    struct claim_op c = {0};
    c.op.run = claim_run;
    c.op.undo = claim_undo;
    c.req = (struct claim_req){types, ntypes, limit, owner, lease_ms, engine_now(eng), workspace};
    if (store_has_candidates(eng->store)) {
        /* read on this thread, write on the committer's: the committer is the bottleneck */
        int rc = store_candidates(eng->store, &c.req, &c.cand, &c.ncand, e);
        if (rc <= 0)
            return rc;
        c.taken = xcalloc(c.ncand, sizeof *c.taken);
        c.req.now = engine_now(eng);
        rc = commit_run(eng->committer, &c.op);
        if (rc) {
            err_copy(e, &c.op.err);
            job_array_free(c.cand, c.ncand);
            free(c.taken);
            return rc;
        }
        size_t k = 0;
        for (size_t i = 0; i < c.ncand; i++) {
            if (c.taken[i]) {
                c.cand[k] = c.cand[i];
                job_mark_claimed(&c.cand[k], owner, c.req.now, lease_ms);
                k++;
            } else {
                job_release(&c.cand[i]);
            }
        }
        free(c.taken);
        if (k) {
            *out = c.cand;
            *n = k;
            return (int)k;
        }
        /* every candidate was taken by someone else first (another process claims from the
         * same database): claim in one step instead, which cannot lose such a race */
        free(c.cand);
        c = (struct claim_op){.op = {.run = claim_run, .undo = claim_undo}, .req = c.req};
    }
    int rc = commit_run(eng->committer, &c.op);
    if (rc) {
        err_copy(e, &c.op.err);
        return rc;
    }
    *out = c.jobs;
    *n = c.n;
    return (int)c.n;
}

/* ---- fenced changes ---- */

enum change_kind { CH_HEARTBEAT, CH_COMPLETE, CH_FAIL, CH_RELEASE, CH_DEFER, CH_CANCEL, CH_RETRY };

struct change_op {
    struct commit_op op;
    struct engine *eng;
    enum change_kind kind;
    char id[UUID_STR_LEN];
    int attempt;
    int64_t seq, ref;
    char *owner;
    struct heartbeat hb;
    char *type, *stage, *checkpoint, *result, *error;
    char *workspace, *batch_id; /* from the fence; workspace NULL: unknown */
    int64_t started_at;
    bool retryable, started;
    int more_attempts;
    int64_t run_at;     /* CH_DEFER */
    engine_exec_fn pre; /* CH_COMPLETE: a write in the same transaction, before the completion */
    void *pre_arg;
    int new_status;
    engine_done_fn done;
    void *done_ctx;
};

static bool refusal(int rc)
{
    return rc == TRAWL_ESTALE || rc == TRAWL_ESTATE || rc == TRAWL_ENOTFOUND;
}

static int change_run(struct commit_op *op, struct commit_tx *tx)
{
    struct change_op *c = (struct change_op *)op;
    struct engine *eng = c->eng;
    struct store *s = commit_store(tx);
    int64_t now = engine_now(eng);
    /* the hot paths (complete, heartbeat with a lease, release) need no read of the row */
    bool need_row = c->kind == CH_FAIL || c->kind == CH_RETRY || c->kind == CH_CANCEL ||
                    (c->kind == CH_HEARTBEAT && c->hb.lease_ms <= 0) || !c->type ||
                    (c->kind != CH_HEARTBEAT && !c->workspace);
    struct job j = {.attempt = c->attempt};
    struct job_type_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc;
    if (need_row) {
        rc = store_fetch(s, c->id, &j, &op->err);
        if (rc) {
            if (refusal(rc)) {
                op->rc = rc;
                return 0;
            }
            return rc;
        }
        engine_type(eng, j.type, &cfg);
    }
    const char *type = need_row ? j.type : c->type;
    int old = -1;
    if (c->kind == CH_COMPLETE && c->pre) {
        rc = c->pre(s, c->pre_arg, &op->err);
        if (rc < 0) {
            job_release(&j);
            return rc;
        }
    }
    struct job_update u = {.id = c->id, .now = now, .to = -1, .old_status = &old};
    int64_t held;
    if (c->kind <= CH_DEFER) {
        u.from_mask = JOB_MASK(JOB_PROCESSING);
        u.fence_attempt = c->attempt;
        u.fence_owner = c->owner;
        u.fence_seq = c->seq;
    }
    switch (c->kind) {
    case CH_HEARTBEAT:
        u.set = c->hb.set | UPD_LEASE;
        u.progress = c->hb.progress;
        u.stage = c->stage;
        u.checkpoint = c->checkpoint;
        /* without a length of its own, a heartbeat renews the lease for as long as the one held
         * (what the claim or the last heartbeat asked for), else for the type's */
        held = j.lease_expires_at - j.last_heartbeat;
        u.lease_expires_at = now + (c->hb.lease_ms > 0 ? c->hb.lease_ms
                                    : held > 0         ? held
                                                       : cfg.lease_ms);
        break;
    case CH_COMPLETE:
        u.to = JOB_COMPLETED;
        u.set = UPD_RESULT | UPD_CLEAR_LEASE | UPD_COMPLETED_AT | UPD_PROGRESS | UPD_ERROR;
        u.result = c->result;
        u.progress = 100;
        break;
    case CH_FAIL: {
        u.set = UPD_ERROR | UPD_CLEAR_LEASE;
        u.error = c->error;
        u.message = c->error;
        if (c->retryable && j.attempt < j.max_attempts) {
            struct backoff b = {j.backoff_base_ms ? j.backoff_base_ms : cfg.backoff.base_ms,
                                j.backoff_cap_ms ? j.backoff_cap_ms : cfg.backoff.cap_ms};
            u.to = JOB_RETRYING;
            u.set |= UPD_RUN_AT;
            u.run_at = now + backoff_delay_ms(&b, j.attempt, rand_u64());
        } else {
            u.to = JOB_FAILED;
            u.set |= UPD_FAILED_AT;
        }
        break;
    }
    case CH_RELEASE:
        u.to = JOB_PENDING;
        u.set = UPD_CLEAR_LEASE | UPD_RUN_AT;
        u.run_at = now;
        u.attempt_delta = c->started ? 0 : -1;
        u.message = c->started ? "released at shutdown" : "released before start";
        break;
    case CH_DEFER:
        u.to = JOB_PENDING;
        u.set = UPD_CLEAR_LEASE | UPD_RUN_AT;
        u.run_at = c->run_at > now ? c->run_at : now;
        u.attempt_delta = -1; /* a deferral spends no attempt */
        u.message = c->error;
        break;
    case CH_CANCEL:
        u.from_mask = JOB_MASK(JOB_PENDING) | JOB_MASK(JOB_RETRYING) | JOB_MASK(JOB_PROCESSING);
        u.to = JOB_CANCELLED;
        u.set = UPD_CLEAR_LEASE;
        u.message = "cancelled";
        break;
    case CH_RETRY:
        u.from_mask = JOB_MASK(JOB_FAILED) | JOB_MASK(JOB_CANCELLED);
        u.to = JOB_PENDING;
        u.set = UPD_RUN_AT | UPD_MAX_ATTEMPTS | UPD_ERROR | UPD_CLEAR_ENDED;
        u.run_at = now;
        u.max_attempts = j.attempt + (c->more_attempts > 0 ? c->more_attempts : cfg.max_attempts);
        u.message = "retried by hand";
        break;
    }
    rc = store_update(s, &u, &op->err);
    if (!rc && u.to >= 0) {
        struct change_note n = {
            .id = c->id,
            .type = type,
            .workspace = need_row ? j.workspace : c->workspace,
            .batch_id = need_row ? j.batch_id : c->batch_id,
            .message = u.message,
            .from = old,
            .to = u.to,
            .attempt = (need_row ? j.attempt : c->attempt) + u.attempt_delta,
            .started_at = need_row ? j.started_at : c->started_at,
        };
        commit_record(tx, &n, now);
    } else if (!rc && c->kind == CH_HEARTBEAT && (c->hb.set & (UPD_PROGRESS | UPD_STAGE)) &&
               (need_row || c->workspace)) {
        /* progress for the live events: a change that keeps the status */
        struct change_note n = {
            .id = c->id,
            .type = type,
            .workspace = need_row ? j.workspace : c->workspace,
            .batch_id = need_row ? j.batch_id : c->batch_id,
            .stage = c->hb.set & UPD_STAGE ? c->stage : NULL,
            .progress = c->hb.set & UPD_PROGRESS ? c->hb.progress : -1,
            .from = JOB_PROCESSING,
            .to = JOB_PROCESSING,
            .attempt = need_row ? j.attempt : c->attempt,
        };
        commit_record(tx, &n, now);
    }
    job_release(&j);
    if (rc) {
        if (refusal(rc)) {
            op->rc = rc;
            return 0;
        }
        return rc;
    }
    c->new_status = u.to;
    return 0;
}

/* Completions queued together go to the store as one statement; when any of them is refused,
 * the store changes nothing and each is run alone to get its own answer. */
static int complete_group(struct commit_op **ops, size_t n, struct commit_tx *tx, struct err *e)
{
    struct change_op *first = (struct change_op *)ops[0];
    struct job_done d[COMMIT_GROUP_MAX];
    for (size_t i = 0; i < n; i++) {
        struct change_op *c = (struct change_op *)ops[i];
        d[i] = (struct job_done){c->id, c->attempt, c->owner, c->result, c->seq, c->ref};
    }
    if (n > 1) {
        /* the writes that go with each completion come first, in the same transaction */
        for (size_t i = 0; i < n; i++) {
            struct change_op *c = (struct change_op *)ops[i];
            int rc = c->pre ? c->pre(commit_store(tx), c->pre_arg, e) : 0;
            if (rc < 0)
                return rc;
        }
    }
    int rc = n > 1 ? store_complete_many(commit_store(tx), d, n, engine_now(first->eng), e) : 0;
    if (rc < 0)
        return rc;
    if (rc == (int)n) {
        for (size_t i = 0; i < n; i++) {
            struct change_op *c = (struct change_op *)ops[i];
            c->new_status = JOB_COMPLETED;
            struct change_note note = {
                .id = c->id,
                .type = c->type,
                .workspace = c->workspace,
                .batch_id = c->batch_id,
                .from = JOB_PROCESSING,
                .to = JOB_COMPLETED,
                .attempt = c->attempt,
                .started_at = c->started_at,
            };
            commit_record(tx, &note, engine_now(first->eng));
        }
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        rc = change_run(ops[i], tx);
        if (rc < 0) {
            err_copy(e, &ops[i]->err);
            return rc;
        }
    }
    return 0;
}

static void change_free(struct change_op *c)
{
    free(c->owner);
    free(c->type);
    free(c->workspace);
    free(c->batch_id);
    free(c->stage);
    free(c->checkpoint);
    free(c->result);
    free(c->error);
    free(c);
}

static struct change_op *change_new(struct engine *eng, enum change_kind kind, const char *id)
{
    struct change_op *c = xcalloc(1, sizeof *c);
    c->eng = eng;
    c->kind = kind;
    c->op.run = change_run;
    c->new_status = -1;
    snprintf(c->id, sizeof c->id, "%s", id ? id : "");
    return c;
}

static int check_id(const char *id, struct err *e)
{
    if (!id || !uuid_valid(id))
        return err_set(e, TRAWL_EINVAL, false, "\"%s\" is not a job id", id ? id : "");
    return 0;
}

static struct change_op *fenced_new(struct engine *eng, enum change_kind kind,
                                    const struct job_fence *f)
{
    struct change_op *c = change_new(eng, kind, f->id);
    c->attempt = f->attempt;
    c->seq = f->seq > 0 ? f->seq : 0;
    c->ref = f->ref > 0 ? f->ref : 0;
    c->owner = xstrdup(f->owner);
    c->type = xstrdup(f->type);
    if (f->workspace) {
        c->workspace = xstrdup(f->workspace);
        c->batch_id = xstrdup(f->batch_id);
        c->started_at = f->started_at;
    }
    return c;
}

static int check_fence(const struct job_fence *f, struct err *e)
{
    int rc = check_id(f->id, e);
    if (!rc && (f->attempt <= 0 || !f->owner))
        rc = err_set(e, TRAWL_EINVAL, false, "a fenced change needs the attempt and lease owner");
    return rc;
}

/* Run synchronously and free. Returns rc, or the new status when ok_status. */
static int change_sync(struct engine *eng, struct change_op *c, bool ok_status, struct err *e)
{
    int rc = commit_run(eng->committer, &c->op);
    if (rc)
        err_copy(e, &c->op.err);
    else if (ok_status)
        rc = c->new_status;
    change_free(c);
    return rc;
}

static void change_done(struct commit_op *op)
{
    struct change_op *c = (struct change_op *)op;
    if (c->done)
        c->done(c->done_ctx, op->rc, &op->err);
    change_free(c);
}

int engine_heartbeat(struct engine *eng, const struct job_fence *f, const struct heartbeat *hb,
                     struct err *e)
{
    int rc = check_fence(f, e);
    if (rc)
        return rc;
    if ((hb->set & UPD_PROGRESS) && (hb->progress < 0 || hb->progress > 100))
        return err_set(e, TRAWL_EINVAL, false, "progress %d is out of range (0 to 100)",
                       hb->progress);
    if ((hb->set & UPD_STAGE) && hb->stage && !engine_name_valid(hb->stage, JOB_KEY_MAX, true))
        return err_set(e, TRAWL_EINVAL, false, "stage must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if ((hb->set & UPD_CHECKPOINT) && hb->checkpoint &&
        (rc = check_json("checkpoint", hb->checkpoint, JOB_CHECKPOINT_MAX, false, e)))
        return rc;
    struct change_op *c = fenced_new(eng, CH_HEARTBEAT, f);
    c->hb = *hb;
    c->hb.set &= UPD_PROGRESS | UPD_STAGE | UPD_CHECKPOINT;
    c->stage = xstrdup(hb->stage);
    c->checkpoint = xstrdup(hb->checkpoint);
    return change_sync(eng, c, false, e);
}

static int prepare_complete(struct engine *eng, const struct job_fence *f, const char *result,
                            struct change_op **out, struct err *e)
{
    int rc = check_fence(f, e);
    if (!rc && result)
        rc = check_json("result", result, JOB_RESULT_MAX, false, e);
    if (rc)
        return rc;
    *out = fenced_new(eng, CH_COMPLETE, f);
    (*out)->result = xstrdup(result);
    if (f->type && f->workspace)
        (*out)->op.run_group = complete_group;
    return 0;
}

int engine_complete(struct engine *eng, const struct job_fence *f, const char *result,
                    struct err *e)
{
    struct change_op *c;
    int rc = prepare_complete(eng, f, result, &c, e);
    return rc ? rc : change_sync(eng, c, false, e);
}

static void submit_async(struct engine *eng, struct change_op *c, engine_done_fn done, void *ctx)
{
    c->done = done;
    c->done_ctx = ctx;
    c->op.done = change_done;
    commit_submit(eng->committer, &c->op);
}

void engine_complete_async(struct engine *eng, const struct job_fence *f, const char *result,
                           engine_done_fn done, void *ctx)
{
    engine_complete_with_async(eng, f, result, NULL, NULL, done, ctx);
}

void engine_complete_with_async(struct engine *eng, const struct job_fence *f, const char *result,
                                engine_exec_fn pre, void *pre_arg, engine_done_fn done, void *ctx)
{
    struct change_op *c;
    struct err e;
    int rc = prepare_complete(eng, f, result, &c, &e);
    if (rc) {
        if (done)
            done(ctx, rc, &e);
        return;
    }
    c->pre = pre;
    c->pre_arg = pre_arg;
    submit_async(eng, c, done, ctx);
}

static struct change_op *prepare_fail(struct engine *eng, const struct job_fence *f,
                                      const char *error, bool retryable)
{
    struct change_op *c = fenced_new(eng, CH_FAIL, f);
    c->error = xstrdup(error && *error ? error : "failed (no error message)");
    if (strlen(c->error) > 4096)
        c->error[4096] = '\0';
    c->retryable = retryable;
    return c;
}

int engine_fail(struct engine *eng, const struct job_fence *f, const char *error, bool retryable,
                struct err *e)
{
    int rc = check_fence(f, e);
    if (rc)
        return rc;
    return change_sync(eng, prepare_fail(eng, f, error, retryable), true, e);
}

void engine_fail_async(struct engine *eng, const struct job_fence *f, const char *error,
                       bool retryable, engine_done_fn done, void *ctx)
{
    struct err e;
    int rc = check_fence(f, &e);
    if (rc) {
        if (done)
            done(ctx, rc, &e);
        return;
    }
    submit_async(eng, prepare_fail(eng, f, error, retryable), done, ctx);
}

int engine_release(struct engine *eng, const struct job_fence *f, bool started, struct err *e)
{
    int rc = check_fence(f, e);
    if (rc)
        return rc;
    struct change_op *c = fenced_new(eng, CH_RELEASE, f);
    c->started = started;
    return change_sync(eng, c, false, e);
}

int engine_defer(struct engine *eng, const struct job_fence *f, int64_t run_at, const char *why,
                 struct err *e)
{
    int rc = check_fence(f, e);
    if (rc)
        return rc;
    struct change_op *c = fenced_new(eng, CH_DEFER, f);
    c->run_at = run_at;
    c->error = xstrdup(why && *why ? why : "deferred");
    if (strlen(c->error) > 4096)
        c->error[4096] = '\0';
    return change_sync(eng, c, false, e);
}

int engine_cancel(struct engine *eng, const char *id, struct err *e)
{
    int rc = check_id(id, e);
    return rc ? rc : change_sync(eng, change_new(eng, CH_CANCEL, id), false, e);
}

int engine_retry(struct engine *eng, const char *id, int more_attempts, struct err *e)
{
    int rc = check_id(id, e);
    if (rc)
        return rc;
    if (more_attempts < 0 || more_attempts > JOB_ATTEMPTS_MAX)
        return err_set(e, TRAWL_EINVAL, false, "attempts %d is out of range (1 to %d)",
                       more_attempts, JOB_ATTEMPTS_MAX);
    struct change_op *c = change_new(eng, CH_RETRY, id);
    c->more_attempts = more_attempts;
    return change_sync(eng, c, false, e);
}

/* ---- a batch's failed jobs ---- */

struct retry_batch_op {
    struct commit_op op;
    struct engine *eng;
    const char *workspace, *batch_id;
    int more_attempts;
    int count;
};

static int retry_batch_run(struct commit_op *op, struct commit_tx *tx)
{
    struct retry_batch_op *r = (struct retry_batch_op *)op;
    struct store *s = commit_store(tx);
    int64_t now = engine_now(r->eng);
    r->count = 0;
    /* the jobs retried leave the failed state, so each round reads from the start */
    for (;;) {
        struct batch_filter f = {r->workspace, r->batch_id, JOB_FAILED, 1000, 0};
        struct job *jobs;
        size_t n;
        int rc = store_batch_jobs(s, &f, true, &jobs, &n, &op->err);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            struct job_type_config cfg;
            engine_type(r->eng, jobs[i].type, &cfg);
            int old = -1;
            struct job_update u = {
                .id = jobs[i].id,
                .from_mask = JOB_MASK(JOB_FAILED),
                .to = JOB_PENDING,
                .set = UPD_RUN_AT | UPD_MAX_ATTEMPTS | UPD_ERROR | UPD_CLEAR_ENDED,
                .run_at = now,
                .max_attempts =
                    jobs[i].attempt + (r->more_attempts > 0 ? r->more_attempts : cfg.max_attempts),
                .now = now,
                .message = "retried with its batch",
                .old_status = &old,
            };
            rc = store_update(s, &u, &op->err);
            if (rc < 0) {
                job_array_free(jobs, n);
                return rc;
            }
            record_job(tx, &jobs[i], old, JOB_PENDING, jobs[i].attempt, u.message, NULL, now);
            r->count++;
        }
        job_array_free(jobs, n);
        if (n < 1000)
            return 0;
    }
}

int engine_retry_batch(struct engine *eng, const char *workspace, const char *batch_id,
                       int more_attempts, struct err *e)
{
    if (!workspace || !batch_id || !engine_name_valid(batch_id, JOB_KEY_MAX, false))
        return err_set(e, TRAWL_EINVAL, false, "batch id must be 1-%d printable characters",
                       JOB_KEY_MAX);
    if (more_attempts < 0 || more_attempts > JOB_ATTEMPTS_MAX)
        return err_set(e, TRAWL_EINVAL, false, "attempts %d is out of range (1 to %d)",
                       more_attempts, JOB_ATTEMPTS_MAX);
    struct retry_batch_op r = {
        .eng = eng, .workspace = workspace, .batch_id = batch_id, .more_attempts = more_attempts};
    r.op.run = retry_batch_run;
    int rc = commit_run(eng->committer, &r.op);
    if (rc) {
        err_copy(e, &r.op.err);
        return rc;
    }
    return r.count;
}

/* ---- other writes through the committer ---- */

struct exec_op {
    struct commit_op op;
    engine_exec_fn fn;
    void *arg;
    engine_done_fn done;
    void *done_ctx;
};

static int exec_run(struct commit_op *op, struct commit_tx *tx)
{
    struct exec_op *x = (struct exec_op *)op;
    int rc = x->fn(commit_store(tx), x->arg, &op->err);
    if (rc < 0)
        return rc;
    op->rc = 0;
    return 0;
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

/* ---- the monitor's sweep ---- */

struct sweep_op {
    struct commit_op op;
    struct engine *eng;
    struct sweep_report r;
};

static int sweep_run(struct commit_op *op, struct commit_tx *tx)
{
    struct sweep_op *w = (struct sweep_op *)op;
    struct engine *eng = w->eng;
    struct store *s = commit_store(tx);
    int64_t now = engine_now(eng);
    memset(&w->r, 0, sizeof w->r);
    struct job *jobs;
    size_t n;
    int rc = store_processing(s, &jobs, &n, &op->err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct job *j = &jobs[i];
        struct job_type_config cfg;
        engine_type(eng, j->type, &cfg);
        char why[256];
        const char *cause;
        int *counter = NULL;
        bool requeue_now = true;
        int64_t timeout = j->timeout_ms > 0 ? j->timeout_ms : cfg.timeout_ms;
        if (j->lease_expires_at < now) {
            snprintf(why, sizeof why,
                     "stuck: heartbeat timeout, no heartbeat for %lld ms (lease expired)",
                     (long long)(now - j->last_heartbeat));
            counter = &w->r.expired;
            cause = "heartbeat_timeout";
        } else if (cfg.no_progress_ms > 0 && j->progress_at + cfg.no_progress_ms < now) {
            snprintf(why, sizeof why, "stuck: no progress for %lld ms (stage %s, progress %d%%)",
                     (long long)(now - j->progress_at), j->stage ? j->stage : "none", j->progress);
            counter = &w->r.no_progress;
            cause = "no_progress";
        } else if (timeout > 0 && j->started_at + timeout < now) {
            snprintf(why, sizeof why, "timed out after %lld ms", (long long)timeout);
            counter = &w->r.timed_out;
            cause = "timeout";
            requeue_now = false;
        } else {
            continue;
        }
        int old = -1;
        struct job_update u = {
            .id = j->id,
            .from_mask = JOB_MASK(JOB_PROCESSING),
            .fence_attempt = j->attempt,
            .fence_owner = j->lease_owner,
            .set = UPD_ERROR | UPD_CLEAR_LEASE,
            .error = why,
            .now = now,
            .message = why,
            .old_status = &old,
        };
        if (j->attempt < j->max_attempts) {
            struct backoff b = {j->backoff_base_ms ? j->backoff_base_ms : cfg.backoff.base_ms,
                                j->backoff_cap_ms ? j->backoff_cap_ms : cfg.backoff.cap_ms};
            u.to = JOB_RETRYING;
            u.set |= UPD_RUN_AT;
            u.run_at = requeue_now ? now : now + backoff_delay_ms(&b, j->attempt, rand_u64());
        } else {
            u.to = JOB_FAILED;
            u.set |= UPD_FAILED_AT;
        }
        struct err e1;
        rc = store_update(s, &u, &e1);
        if (rc && !refusal(rc)) {
            err_copy(&op->err, &e1);
            job_array_free(jobs, n);
            return rc;
        }
        if (rc)
            continue;
        (*counter)++;
        if (u.to == JOB_FAILED)
            w->r.failed++;
        log_warn("job %s (%s) attempt %d/%d: %s; %s", j->id, j->type, j->attempt, j->max_attempts,
                 why, u.to == JOB_FAILED ? "failed" : "requeued");
        record_job(tx, j, old, u.to, j->attempt, why, cause, now);
    }
    job_array_free(jobs, n);
    rc = store_promote_due(s, now, &jobs, &n, &op->err);
    if (rc < 0)
        return rc;
    w->r.promoted = rc;
    for (size_t i = 0; i < n; i++) {
        record_job(tx, &jobs[i], JOB_RETRYING, JOB_PENDING, jobs[i].attempt, "retry due", NULL,
                   now);
    }
    job_array_free(jobs, n);
    return 0;
}

int engine_sweep(struct engine *eng, struct sweep_report *r, struct err *e)
{
    struct sweep_op w = {.eng = eng};
    w.op.run = sweep_run;
    int rc = commit_run(eng->committer, &w.op);
    if (rc)
        err_copy(e, &w.op.err);
    else if (r)
        *r = w.r;
    return rc;
}

/* ---- reads ---- */

int engine_get(struct engine *eng, const char *id, struct job *out, struct err *e)
{
    int rc = check_id(id, e);
    return rc ? rc : store_get(eng->store, id, out, e);
}

void engine_stop_waits(struct engine *eng)
{
    waiters_close(eng->waiters);
}

int engine_wait(struct engine *eng, const char *id, int64_t timeout_ms, struct job *out,
                struct err *e)
{
    int rc = check_id(id, e);
    if (rc)
        return rc;
    int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    struct waiter *w = waiter_add(eng->waiters, id);
    rc = store_get(eng->store, id, out, e);
    if (!rc && !job_status_ended(out->status) && timeout_ms > 0) {
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
    int rc = check_id(id, e);
    return rc ? rc : store_events(eng->store, id, out, n, e);
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

int engine_tx_enqueue(struct engine *eng, struct engine_tx *etx, const struct job_spec *spec,
                      struct enqueue_result *res, struct err *e)
{
    struct commit_tx *tx = (struct commit_tx *)etx;
    int rc = engine_validate(spec, e);
    if (rc)
        return rc;
    struct job j;
    jobs_from_specs(eng, spec, 1, &j);
    bool existed = false;
    rc = store_insert_many(commit_store(tx), &j, 1, &existed, e);
    if (rc)
        return rc;
    memcpy(res->id, j.id, UUID_STR_LEN);
    res->existed = existed;
    if (!existed)
        commit_count(tx, j.workspace, j.type, -1, JOB_PENDING, -1, j.created_at);
    commit_available(tx);
    return 0;
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
