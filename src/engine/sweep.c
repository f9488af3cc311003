/* The monitor's sweep: stuck and timed-out attempts ended (requeued from their checkpoint or
 * failed), due retries made pending, in one transaction. */
#include "engine/engine.h"

#include "base/log.h"
#include "base/rand.h"
#include "engine/engine_int.h"

#include <stdio.h>
#include <string.h>

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
        if (rc && !eng_refusal(rc)) {
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
        eng_record_job(tx, j, old, u.to, j->attempt, why, cause, now);
        if (u.to == JOB_FAILED) {
            rc = eng_chain_step(eng, tx, j, old, u.to, NULL, NULL, now, &op->err);
            if (rc) {
                job_array_free(jobs, n);
                return rc;
            }
        }
    }
    job_array_free(jobs, n);
    rc = store_promote_due(s, now, &jobs, &n, &op->err);
    if (rc < 0)
        return rc;
    w->r.promoted = rc;
    for (size_t i = 0; i < n; i++) {
        eng_record_job(tx, &jobs[i], JOB_RETRYING, JOB_PENDING, jobs[i].attempt, "retry due", NULL,
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
