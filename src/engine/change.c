/* Fenced changes of one job (heartbeat, complete, fail, release, defer, cancel, retry), grouped
 * completions, and retrying a batch's failed jobs. */
#include "engine/engine.h"

#include "base/rand.h"
#include "base/xalloc.h"
#include "engine/engine_int.h"
#include "store/batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    char *root_id;              /* from the fence; NULL: none or unknown */
    int64_t started_at;
    bool retryable, started;
    int more_attempts;
    bool plain;       /* CH_COMPLETE: the fence says no chain step is needed */
    bool has_chain;   /* chain holds the job's chain fields, from the fence */
    struct job chain; /* id, type, workspace, root_id, join_id, role, successors, depth; owned */
    struct job_children *children; /* CH_COMPLETE: fanned out with the completion; owned */
    int64_t run_at;                /* CH_DEFER */
    engine_exec_fn pre; /* CH_COMPLETE: a write in the same transaction, before the completion */
    void *pre_arg;
    int new_status;
    engine_done_fn done;
    void *done_ctx;
};

static int change_run(struct commit_op *op, struct commit_tx *tx)
{
    struct change_op *c = (struct change_op *)op;
    struct engine *eng = c->eng;
    struct store *s = commit_store(tx);
    int64_t now = engine_now(eng);
    /* the hot paths (complete, heartbeat with a lease, release) need no read of the row */
    bool need_row = c->kind == CH_FAIL || c->kind == CH_RETRY || c->kind == CH_CANCEL ||
                    (c->kind == CH_HEARTBEAT && c->hb.lease_ms <= 0) || !c->type ||
                    (c->kind != CH_HEARTBEAT && !c->workspace) ||
                    (c->kind == CH_COMPLETE && !c->plain && !c->has_chain);
    struct job j = {.attempt = c->attempt};
    struct job_type_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc;
    if (need_row) {
        rc = store_fetch(s, c->id, &j, &op->err);
        if (rc) {
            if (eng_refusal(rc)) {
                op->rc = rc;
                return 0;
            }
            return rc;
        }
        engine_type(eng, j.type, &cfg);
        if (c->kind == CH_COMPLETE && c->children &&
            j.depth + 1 + c->children->rows.deepest >= CHAIN_DEPTH_MAX) {
            /* refused before anything is written */
            op->rc =
                err_set(&op->err, TRAWL_EINVAL, false,
                        "its children would make the chain deeper than %d stages", CHAIN_DEPTH_MAX);
            job_release(&j);
            return 0;
        }
        if (c->kind == CH_RETRY && (j.status == JOB_WAITING || j.status == JOB_BLOCKED)) {
            op->rc = err_set(&op->err, TRAWL_ESTATE, false,
                             "job %s is %s: it runs once the stage before it completes; retry "
                             "that stage",
                             c->id, job_status_name(j.status));
            job_release(&j);
            return 0;
        }
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
        u.from_mask = JOB_MASK(JOB_PENDING) | JOB_MASK(JOB_RETRYING) | JOB_MASK(JOB_PROCESSING) |
                      JOB_MASK(JOB_WAITING) | JOB_MASK(JOB_BLOCKED);
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
            .root_id = need_row ? j.root_id : c->root_id,
            .message = u.message,
            .from = old,
            .to = u.to,
            .attempt = (need_row ? j.attempt : c->attempt) + u.attempt_delta,
            .started_at = need_row ? j.started_at : c->started_at,
        };
        commit_record(tx, &n, now);
        if (need_row && (u.to == JOB_COMPLETED || u.to == JOB_FAILED || u.to == JOB_CANCELLED ||
                         c->kind == CH_RETRY)) {
            rc = eng_chain_step(eng, tx, &j, old, u.to, c->result, c->children, now, &op->err);
            if (rc) {
                job_release(&j);
                return rc;
            }
        } else if (c->kind == CH_COMPLETE && !c->plain && c->has_chain) {
            rc = eng_chain_step(eng, tx, &c->chain, old, u.to, c->result, c->children, now,
                                &op->err);
            if (rc) {
                job_release(&j);
                return rc;
            }
        }
    } else if (!rc && c->kind == CH_HEARTBEAT && (c->hb.set & (UPD_PROGRESS | UPD_STAGE)) &&
               (need_row || c->workspace)) {
        /* progress for the live events: a change that keeps the status */
        struct change_note n = {
            .id = c->id,
            .type = type,
            .workspace = need_row ? j.workspace : c->workspace,
            .batch_id = need_row ? j.batch_id : c->batch_id,
            .root_id = need_row ? j.root_id : c->root_id,
            .stage = c->hb.set & UPD_STAGE ? c->stage : NULL,
            .progress = c->hb.set & UPD_PROGRESS ? c->hb.progress : -1,
            .from = JOB_PROCESSING,
            .to = JOB_PROCESSING,
            .attempt = need_row ? j.attempt : c->attempt,
        };
        commit_record(tx, &n, now);
    }
    if (c->kind == CH_CANCEL && (!rc || rc == TRAWL_ESTATE) && !j.root_id) {
        /* a chain's root: cancelling it cancels the whole chain, even when the root itself
         * has ended and later stages are running */
        struct err e1;
        err_clear(&e1);
        int k = eng_chain_cancel(eng, tx, j.id, now, &e1);
        if (k < 0) {
            err_copy(&op->err, &e1);
            job_release(&j);
            return k;
        }
        if (k > 0 && rc) {
            rc = 0;
            err_clear(&op->err);
            u.to = JOB_CANCELLED;
        }
    }
    job_release(&j);
    if (rc) {
        if (eng_refusal(rc)) {
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
        /* the stages among them: their chains' share, together, after their completions */
        const struct job *stages[COMMIT_GROUP_MAX];
        size_t ns = 0;
        for (size_t i = 0; i < n; i++) {
            struct change_op *c = (struct change_op *)ops[i];
            if (!c->plain)
                stages[ns++] = &c->chain;
        }
        if (ns &&
            (rc = eng_chain_completed(first->eng, tx, stages, ns, engine_now(first->eng), e)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            struct change_op *c = (struct change_op *)ops[i];
            c->new_status = JOB_COMPLETED;
            struct change_note note = {
                .id = c->id,
                .type = c->type,
                .workspace = c->workspace,
                .batch_id = c->batch_id,
                .root_id = c->root_id,
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
    free(c->root_id);
    free(c->stage);
    free(c->checkpoint);
    free(c->result);
    free(c->error);
    engine_children_free(c->children);
    job_release(&c->chain);
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

static struct change_op *fenced_new(struct engine *eng, enum change_kind kind,
                                    const struct job_fence *f)
{
    struct change_op *c = change_new(eng, kind, f->id);
    c->attempt = f->attempt;
    c->seq = f->seq > 0 ? f->seq : 0;
    c->ref = f->ref > 0 ? f->ref : 0;
    c->owner = xstrdup(f->owner);
    c->type = xstrdup(f->type);
    c->plain = f->plain;
    if (f->row) {
        /* what a chain step needs of the job; its chain fields never change */
        struct job *ch = &c->chain;
        memcpy(ch->id, f->row->id, UUID_STR_LEN);
        ch->type = xstrdup(f->row->type);
        ch->workspace = xstrdup(f->row->workspace);
        ch->root_id = xstrdup(f->row->root_id);
        ch->join_id = xstrdup(f->row->join_id);
        ch->role = f->row->role;
        ch->successors = f->row->successors;
        ch->depth = f->row->depth;
        c->has_chain = true;
    }
    if (f->workspace) {
        c->workspace = xstrdup(f->workspace);
        c->batch_id = xstrdup(f->batch_id);
        c->started_at = f->started_at;
        c->root_id = xstrdup(f->root_id ? f->root_id : f->row ? f->row->root_id : NULL);
    }
    return c;
}

static int check_fence(const struct job_fence *f, struct err *e)
{
    int rc = eng_check_id(f->id, e);
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
    /* a failure's callback learns what became of the job, as engine_fail's caller does */
    if (c->done)
        c->done(c->done_ctx, op->rc == 0 && c->kind == CH_FAIL ? c->new_status : op->rc, &op->err);
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
        (rc = eng_check_json("checkpoint", hb->checkpoint, JOB_CHECKPOINT_MAX, false, e)))
        return rc;
    struct change_op *c = fenced_new(eng, CH_HEARTBEAT, f);
    c->hb = *hb;
    c->hb.set &= UPD_PROGRESS | UPD_STAGE | UPD_CHECKPOINT;
    c->stage = xstrdup(hb->stage);
    c->checkpoint = xstrdup(hb->checkpoint);
    return change_sync(eng, c, false, e);
}

/* The children (taken) go with the completion; on an error they are freed. */
static int prepare_complete(struct engine *eng, const struct job_fence *f, const char *result,
                            struct job_children *children, struct change_op **out, struct err *e)
{
    int rc = check_fence(f, e);
    if (!rc && result)
        rc = eng_check_json("result", result, JOB_RESULT_MAX, false, e);
    if (rc) {
        engine_children_free(children);
        return rc;
    }
    *out = fenced_new(eng, CH_COMPLETE, f);
    (*out)->result = xstrdup(result);
    if (children && engine_children_count(children) == 0) {
        engine_children_free(children);
        children = NULL;
    }
    (*out)->children = children;
    if (children)
        (*out)->plain = false;
    /* completions go in a group (one statement for many) when nothing needs reading first: a
     * stage's chain fields come with the fence; a fan-out runs alone */
    if (f->type && f->workspace && !children && ((*out)->plain || (*out)->has_chain))
        (*out)->op.run_group = complete_group;
    return 0;
}

int engine_complete(struct engine *eng, const struct job_fence *f, const char *result,
                    struct err *e)
{
    return engine_complete_children(eng, f, result, NULL, e);
}

int engine_complete_children(struct engine *eng, const struct job_fence *f, const char *result,
                             struct job_children *children, struct err *e)
{
    struct change_op *c;
    int rc = prepare_complete(eng, f, result, children, &c, e);
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
    engine_complete_with_async(eng, f, result, NULL, NULL, NULL, done, ctx);
}

void engine_complete_with_async(struct engine *eng, const struct job_fence *f, const char *result,
                                struct job_children *children, engine_exec_fn pre, void *pre_arg,
                                engine_done_fn done, void *ctx)
{
    struct change_op *c;
    struct err e;
    int rc = prepare_complete(eng, f, result, children, &c, &e);
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
    int rc = eng_check_id(id, e);
    return rc ? rc : change_sync(eng, change_new(eng, CH_CANCEL, id), false, e);
}

int engine_retry(struct engine *eng, const char *id, int more_attempts, struct err *e)
{
    int rc = eng_check_id(id, e);
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
            eng_record_job(tx, &jobs[i], old, JOB_PENDING, jobs[i].attempt, u.message, NULL, now);
            rc = eng_chain_step(r->eng, tx, &jobs[i], old, JOB_PENDING, NULL, NULL, now, &op->err);
            if (rc) {
                job_array_free(jobs, n);
                return rc;
            }
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
