/* Claiming: due pending jobs of some types taken under a lease, read on the caller's thread and
 * taken by the committer when the store can do it in two steps. */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"

#include <stdlib.h>
#include <string.h>

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
                eng_record_job(tx, &c->cand[i], JOB_PENDING, JOB_PROCESSING, c->cand[i].attempt + 1,
                               NULL, NULL, c->req.now);
        return 0;
    }
    int rc = store_claim(commit_store(tx), &c->req, &c->jobs, &c->n, &op->err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < c->n; i++)
        eng_record_job(tx, &c->jobs[i], JOB_PENDING, JOB_PROCESSING, c->jobs[i].attempt, NULL, NULL,
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
