/* Status names and the memory of job rows. */
#include "store/job.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

static const char *const names_[JOB_STATUS_COUNT] = {
    "pending", "processing", "retrying", "completed", "failed", "cancelled",
};

bool job_status_ended(enum job_status s)
{
    return s == JOB_COMPLETED || s == JOB_FAILED || s == JOB_CANCELLED;
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
    X(root_id) X(unique_key) X(workspace) X(lease_owner)
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
