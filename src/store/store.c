/* The store wrappers: one place where every call can be counted and failed on purpose. */
#include "store/store.h"

#include <stdlib.h>

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

int store_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->promote_due(s, now, out, n, e));
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

int store_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e)
{
    WRAP(s->ops->batch_jobs(s, f, writer, out, n, e));
}

int store_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                    struct err *e)
{
    WRAP(s->ops->batch_get(s, workspace, id, out, e));
}

int store_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                     struct batch_info **out, size_t *n, int64_t *total, struct err *e)
{
    WRAP(s->ops->batch_list(s, workspace, limit, offset, out, n, total, e));
}

int store_token_add(struct store *s, const struct api_token *t, struct err *e)
{
    WRAP(s->ops->token_add(s, t, e));
}

int store_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN],
                     struct api_token *out, struct err *e)
{
    WRAP(s->ops->token_find(s, hash, out, e));
}

int store_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e)
{
    WRAP(s->ops->token_list(s, out, n, e));
}

int store_token_revoke(struct store *s, const char *id, int64_t now, struct err *e)
{
    WRAP(s->ops->token_revoke(s, id, now, e));
}

int store_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                     struct err *e)
{
    WRAP(s->ops->crawl_save(s, r, attempt, owner, e));
}

int store_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                    struct err *e)
{
    WRAP(s->ops->crawl_get(s, job_id, with_body, out, e));
}

int store_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e)
{
    WRAP(s->ops->crawl_expire(s, before, limit, e));
}

int store_session_add(struct store *s, const struct scrape_session *ss, struct err *e)
{
    WRAP(s->ops->session_add(s, ss, e));
}

int store_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                      struct scrape_session *out, struct err *e)
{
    WRAP(s->ops->session_get(s, workspace, id, by_job, out, e));
}

int store_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                       struct scrape_session **out, size_t *n, int64_t *total, struct err *e)
{
    WRAP(s->ops->session_list(s, workspace, limit, offset, out, n, total, e));
}

int store_session_note(struct store *s, const char *id, const char *error, int warnings,
                       int64_t now, struct err *e)
{
    WRAP(s->ops->session_note(s, id, error, warnings, now, e));
}

int store_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                          int64_t now, struct err *e)
{
    WRAP(s->ops->session_set_job(s, id, old_job, job_id, now, e));
}

int store_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                    int64_t cap, int64_t now, struct err *e)
{
    WRAP(s->ops->pages_add(s, session_id, p, n, cap, now, e));
}

int store_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                     struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e)
{
    WRAP(s->ops->pages_take(s, session_id, limit, now, out, n, next_due, e));
}

int store_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                      int64_t now, struct err *e)
{
    WRAP(s->ops->page_finish(s, session_id, o, now, e));
}

int store_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e)
{
    WRAP(s->ops->pages_requeue(s, session_id, failed, e));
}

int store_pages_list(struct store *s, const char *session_id, int status, size_t limit,
                     size_t offset, struct scrape_page **out, size_t *n, struct err *e)
{
    WRAP(s->ops->pages_list(s, session_id, status, limit, offset, out, n, e));
}

int store_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                       size_t *len, struct err *e)
{
    WRAP(s->ops->page_content(s, session_id, page_id, out, len, e));
}

int store_record_put(struct store *s, const char *session_id, const struct record_new *r,
                     int64_t page_id, int64_t now, struct err *e)
{
    WRAP(s->ops->record_put(s, session_id, r, page_id, now, e));
}

int store_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                       struct record_row **out, size_t *n, struct err *e)
{
    WRAP(s->ops->records_list(s, session_id, after_id, limit, out, n, e));
}

int store_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                    struct err *e)
{
    WRAP(s->ops->stats_add(s, d, n, now, e));
}

int store_stats(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->stats(s, q, out, n, e));
}

void stats_rows_free(struct stats_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].workspace);
        free(rows[i].type);
    }
    free(rows);
}

int store_stats_minutes(struct store *s, const struct stats_query *q, struct stats_minute **out,
                        size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    WRAP(s->ops->stats_minutes(s, q, out, n, e));
}

void stats_minutes_free(struct stats_minute *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        free(rows[i].type);
    free(rows);
}
