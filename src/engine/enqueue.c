/* Enqueueing: specs checked and made into job rows, inserted by the committer, many clients'
 * enqueues grouped into one multi-row INSERT. */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

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
    eng_jobs_from_specs(eng, specs, n, q.jobs);
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
    eng_jobs_from_specs(eng, specs, n, q->jobs);
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

int engine_tx_enqueue(struct engine *eng, struct engine_tx *etx, const struct job_spec *spec,
                      struct enqueue_result *res, struct err *e)
{
    struct commit_tx *tx = (struct commit_tx *)etx;
    int rc = engine_validate(spec, e);
    if (rc)
        return rc;
    struct job j;
    eng_jobs_from_specs(eng, spec, 1, &j);
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
