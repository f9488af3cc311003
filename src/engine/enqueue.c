/* Enqueueing: specs checked and laid out as rows (with the stages they name), inserted by the
 * committer, many clients' enqueues grouped into one multi-row INSERT. */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct enqueue_op {
    struct commit_op op;
    struct job_rows rows; /* one tree per spec */
    struct enqueue_result *res;
    engine_exec_fn after; /* a write in the same transaction, after the jobs are in */
    void *after_arg;
    engine_done_fn done; /* async: the caller's callback */
    void *done_ctx;
};

/* Place the trees whose top names a parent: under its chain, one stage deeper. A parent that does
 * not exist, or a chain that would grow too deep, refuses the whole operation (all or nothing).
 * Returns 0, 1 when refused (op.rc and op.err say why), or a negative store error. */
static int resolve_roots(struct enqueue_op *q, struct store *s)
{
    struct job_rows *r = &q->rows;
    for (size_t t = 0; t < r->ntops; t++) {
        struct job *top = &r->rows[r->tops[t]];
        if (!top->parent_id)
            continue;
        struct job parent;
        int rc = store_fetch(s, top->parent_id, &parent, &q->op.err);
        if (rc == TRAWL_ENOTFOUND) {
            /* a refusal of this operation, found before it wrote anything: the transaction and
             * its other operations go on */
            char where[32] = "";
            if (r->ntops > 1)
                snprintf(where, sizeof where, "jobs[%zu]: ", t);
            q->op.rc = err_set(&q->op.err, TRAWL_EINVAL, false, "%sparent job %s not found", where,
                               top->parent_id);
            return 1;
        }
        if (rc)
            return rc;
        int depth = parent.depth + 1;
        if (depth + rows_tree_depth(r, t) >= CHAIN_DEPTH_MAX) {
            q->op.rc = err_set(&q->op.err, TRAWL_EINVAL, false,
                               "under parent %s the chain would be deeper than %d stages",
                               top->parent_id, CHAIN_DEPTH_MAX);
            job_release(&parent);
            return 1;
        }
        const char *root = top->root_id     ? top->root_id
                           : parent.root_id ? parent.root_id
                                            : parent.id;
        char *keep = xstrdup(root);
        rows_place(r, t, keep, depth);
        free(keep);
        job_release(&parent);
    }
    return 0;
}

/* Insert the rows of k operations: their tops with one store call (multi-row INSERTs), then the
 * stages of the tops that were inserted (a top whose unique key is live returns that job, and its
 * stages are not added); give each operation its results. */
static int insert_ops(struct enqueue_op **qs, size_t k, struct commit_tx *tx, struct err *e)
{
    struct store *s = commit_store(tx);
    size_t ntops = 0, nrest = 0;
    for (size_t i = 0; i < k; i++) {
        ntops += qs[i]->rows.ntops;
        nrest += qs[i]->rows.n - qs[i]->rows.ntops;
    }
    struct job *tops = xmalloc(ntops * sizeof *tops);
    bool *existed = xcalloc(ntops, sizeof *existed);
    size_t at = 0;
    for (size_t i = 0; i < k; i++)
        for (size_t t = 0; t < qs[i]->rows.ntops; t++)
            tops[at++] = qs[i]->rows.rows[qs[i]->rows.tops[t]]; /* shallow: strings shared */
    /* the store overwrites the id of a job whose unique key is live, in this copy only: a replay
     * after a rollback inserts with the ids first given */
    int rc = store_insert_many(s, tops, ntops, existed, e);
    at = 0;
    for (size_t i = 0; i < k && !rc; i++) {
        for (size_t t = 0; t < qs[i]->rows.ntops; t++, at++) {
            memcpy(qs[i]->res[t].id, tops[at].id, UUID_STR_LEN);
            qs[i]->res[t].existed = existed[at];
            if (!existed[at])
                commit_count(tx, tops[at].workspace, tops[at].type, -1, tops[at].status, -1,
                             tops[at].created_at);
        }
    }
    if (!rc && nrest) {
        /* the stages: each tree's rows after its top, contiguous */
        struct job *rest = xmalloc(nrest * sizeof *rest);
        size_t m = 0;
        at = 0;
        for (size_t i = 0; i < k; i++) {
            const struct job_rows *r = &qs[i]->rows;
            for (size_t t = 0; t < r->ntops; t++, at++) {
                if (existed[at])
                    continue;
                for (size_t x = r->tops[t] + 1; x < rows_tree_end(r, t); x++)
                    rest[m++] = r->rows[x];
            }
        }
        bool *ex = xcalloc(m + 1, sizeof *ex);
        rc = m ? store_insert_many(s, rest, m, ex, e) : 0;
        for (size_t x = 0; x < m && !rc; x++)
            commit_count(tx, rest[x].workspace, rest[x].type, -1, rest[x].status, -1,
                         rest[x].created_at);
        free(ex);
        free(rest);
    }
    free(tops);
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

/* Lay out n specs (each with what it names) as rows: all or none. */
static int lay_out_all(struct engine *eng, const struct job_spec *specs, size_t n,
                       struct job_rows *r, struct err *e)
{
    int64_t now = engine_now(eng);
    for (size_t i = 0; i < n; i++) {
        char where[32] = "";
        if (n > 1)
            snprintf(where, sizeof where, "jobs[%zu]", i);
        int rc = rows_add(eng, r, &specs[i], now, where, e);
        if (rc) {
            rows_release(r);
            return rc;
        }
    }
    return 0;
}

/* Enqueue specs and wait until they are durable; after (may be NULL) writes in the same
 * transaction, so such an enqueue runs alone rather than grouped with others. */
static int enqueue_sync(struct engine *eng, const struct job_spec *specs, size_t n,
                        struct enqueue_result *res, engine_exec_fn after, void *arg, struct err *e)
{
    if (n == 0)
        return 0;
    struct enqueue_op q = {.res = res, .after = after, .after_arg = arg};
    int rc = lay_out_all(eng, specs, n, &q.rows, e);
    if (rc)
        return rc;
    q.op.run = enqueue_run;
    q.op.run_group = after ? NULL : enqueue_group;
    rc = commit_run(eng->committer, &q.op);
    if (rc)
        err_copy(e, &q.op.err);
    rows_release(&q.rows);
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
    rows_release(&q->rows);
    free(q);
}

void engine_enqueue_many_async(struct engine *eng, const struct job_spec *specs, size_t n,
                               struct enqueue_result *res, engine_done_fn done, void *ctx)
{
    struct err e;
    err_clear(&e);
    struct enqueue_op *q = xcalloc(1, sizeof *q);
    int rc = n ? lay_out_all(eng, specs, n, &q->rows, &e) : 0;
    if (rc || n == 0) {
        free(q);
        done(ctx, rc, &e);
        return;
    }
    q->res = res;
    q->done = done;
    q->done_ctx = ctx;
    q->op.run = enqueue_run;
    q->op.run_group = enqueue_group;
    q->op.done = enqueue_async_done;
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
    struct enqueue_op q = {.res = res};
    int rc = lay_out_all(eng, spec, 1, &q.rows, e);
    if (rc)
        return rc;
    rc = resolve_roots(&q, commit_store(tx));
    if (rc > 0) {
        err_copy(e, &q.op.err);
        rc = q.op.rc;
    }
    struct enqueue_op *qp = &q;
    if (!rc)
        rc = insert_ops(&qp, 1, tx, e);
    if (!rc)
        commit_available(tx);
    rows_release(&q.rows);
    return rc;
}
