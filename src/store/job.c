/* Status names, the memory of job rows, and the wrappers of the store's jobs domain. */
#include "store/job.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const names_[JOB_STATUS_COUNT] = {
    "pending", "processing", "retrying", "completed", "failed", "cancelled", "waiting", "blocked",
};

static const char *const roles_[ROLE_COUNT] = {NULL, "next", "child", "join"};

bool job_status_ended(enum job_status s)
{
    return s == JOB_COMPLETED || s == JOB_FAILED || s == JOB_CANCELLED;
}

bool job_status_settled(enum job_status s)
{
    return job_status_ended(s) || s == JOB_BLOCKED;
}

const char *job_role_name(enum job_role r)
{
    return (unsigned)r < ROLE_COUNT ? roles_[r] : NULL;
}

int job_role_parse(const char *name)
{
    if (!name)
        return ROLE_NONE;
    for (int i = 1; i < ROLE_COUNT; i++)
        if (strcmp(name, roles_[i]) == 0)
            return i;
    return -1;
}

const char *job_status_name(enum job_status s)
{
    if ((unsigned)s >= JOB_STATUS_COUNT)
        return NULL;
    return names_[s];
}

int job_status_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        if (strcmp(name, names_[i]) == 0)
            return i;
    return -1;
}

/* clang-format off */
#define JOB_STRINGS(X)                                                                             \
    X(type) X(queue) X(stage) X(checkpoint) X(args) X(result) X(error) X(batch_id) X(parent_id)    \
    X(root_id) X(unique_key) X(workspace) X(lease_owner) X(input) X(join_id)
/* clang-format on */

void job_release(struct job *j)
{
    if (!j)
        return;
#define X(f) free(j->f);
    JOB_STRINGS(X)
#undef X
    memset(j, 0, sizeof *j);
}

void job_array_free(struct job *jobs, size_t n)
{
    if (!jobs)
        return;
    for (size_t i = 0; i < n; i++)
        job_release(&jobs[i]);
    free(jobs);
}

void job_copy(struct job *dst, const struct job *src)
{
    *dst = *src;
#define X(f) dst->f = xstrdup(src->f);
    JOB_STRINGS(X)
#undef X
}

void job_events_free(struct job_event *ev, size_t n)
{
    if (!ev)
        return;
    for (size_t i = 0; i < n; i++)
        free(ev[i].message);
    free(ev);
}

void job_mark_claimed(struct job *j, const char *owner, int64_t now, int64_t lease_ms)
{
    j->status = JOB_PROCESSING;
    j->attempt++;
    free(j->lease_owner);
    j->lease_owner = xstrdup(owner);
    j->lease_expires_at = now + lease_ms;
    j->last_heartbeat = j->progress_at = j->started_at = j->updated_at = now;
    j->event_seq++;
}

/* ---- the jobs domain's wrappers ---- */

int store_insert(struct store *s, struct job *j, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->insert(s, j, e));
}

int store_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->insert_many(s, jobs, n, existed, e));
}

bool store_has_candidates(const struct store *s)
{
    return s->jobs && s->jobs->candidates && s->jobs->claim_these;
}

int store_candidates(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                     struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->candidates(s, r, out, n, e));
}

int store_claim_these(struct store *s, const struct claim_req *r, const struct job *jobs, size_t n,
                      bool *taken, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->claim_these(s, r, jobs, n, taken, e));
}

int store_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->claim(s, r, out, n, e));
}

int store_update(struct store *s, const struct job_update *u, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->update(s, u, e));
}

int store_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                        struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->complete_many(s, d, n, now, e));
}

int store_processing(struct store *s, struct job **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->processing(s, out, n, e));
}

int store_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->promote_due(s, now, out, n, e));
}

int store_fetch(struct store *s, const char *id, struct job *out, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->fetch(s, id, out, e));
}

int store_get(struct store *s, const char *id, struct job *out, struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->get(s, id, out, e));
}

int store_events(struct store *s, const char *id, struct job_event **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->events(s, id, out, n, e));
}

int store_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->count(s, counts, e));
}

int store_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
               struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->jobs, "jobs", s->jobs->list(s, f, out, n, e));
}

int job_refusal(const struct job_update *u, int status, int attempt, const char *owner, int64_t seq,
                struct err *e)
{
    if (u->fence_attempt > 0 && attempt != u->fence_attempt)
        return err_set(e, TRAWL_ESTALE, false,
                       "job %s: attempt %d is stale (the job is on attempt %d)", u->id,
                       u->fence_attempt, attempt);
    if (u->fence_owner && (!owner || strcmp(owner, u->fence_owner) != 0))
        return err_set(e, TRAWL_ESTALE, false, "job %s: lease lost (held by %s)", u->id,
                       owner ? owner : "nobody");
    if (u->fence_seq > 0 && seq != u->fence_seq)
        return err_set(e, TRAWL_ESTALE, false,
                       "job %s: lease lost (the job changed state since this claim)", u->id);
    if (status < 0 || !(u->from_mask & JOB_MASK(status)))
        return err_set(e, u->fence_attempt > 0 || u->fence_owner ? TRAWL_ESTALE : TRAWL_ESTATE,
                       false, "job %s is %s", u->id, status < 0 ? "?" : job_status_name(status));
    return 0;
}
