/* The store wrappers: one place where every call can be counted and failed on purpose. */
#include "store/store.h"

static int injected(struct store *s, struct err *e)
{
    long n = atomic_fetch_add(&s->calls, 1) + 1;
    long at = atomic_load(&s->fail_at);
    if (at > 0 && n == at)
        return err_set(e, TRAWL_EINJECTED, true, "injected fault at store call %ld", n);
    return 0;
}

void store_fail_nth(struct store *s, long n)
{
    atomic_store(&s->calls, 0);
    atomic_store(&s->fail_at, n);
}

void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

#define WRAP(call)                                                                                 \
    do {                                                                                           \
        int rc_ = injected(s, e);                                                                  \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
        return call;                                                                               \
    } while (0)

int store_begin(struct store *s, struct err *e)
{
    WRAP(s->ops->begin(s, e));
}

int store_commit(struct store *s, struct err *e)
{
    WRAP(s->ops->commit(s, e));
}

void store_rollback(struct store *s)
{
    s->ops->rollback(s);
}

int store_insert(struct store *s, struct job *j, struct err *e)
{
    WRAP(s->ops->insert(s, j, e));
}

int store_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e)
{
    WRAP(s->ops->insert_many(s, jobs, n, existed, e));
}

bool store_has_candidates(const struct store *s)
{
    return s->ops->candidates && s->ops->claim_these;
}

int store_candidates(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                     struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->candidates(s, r, out, n, e));
}

int store_claim_these(struct store *s, const struct claim_req *r, const struct job *jobs, size_t n,
                      bool *taken, struct err *e)
{
    WRAP(s->ops->claim_these(s, r, jobs, n, taken, e));
}

int store_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->claim(s, r, out, n, e));
}

int store_update(struct store *s, const struct job_update *u, struct err *e)
{
    WRAP(s->ops->update(s, u, e));
}

int store_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                        struct err *e)
{
    WRAP(s->ops->complete_many(s, d, n, now, e));
}

int store_processing(struct store *s, struct job **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->processing(s, out, n, e));
}

int store_promote_due(struct store *s, int64_t now, struct err *e)
{
    WRAP(s->ops->promote_due(s, now, e));
}

int store_fetch(struct store *s, const char *id, struct job *out, struct err *e)
{
    WRAP(s->ops->fetch(s, id, out, e));
}

int store_get(struct store *s, const char *id, struct job *out, struct err *e)
{
    WRAP(s->ops->get(s, id, out, e));
}

int store_events(struct store *s, const char *id, struct job_event **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->events(s, id, out, n, e));
}

int store_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    WRAP(s->ops->count(s, counts, e));
}

int store_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
               struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->list(s, f, out, n, e));
}

int store_check(struct store *s, struct err *e)
{
    WRAP(s->ops->check(s, e));
}
