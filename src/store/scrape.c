/* Page status names, the memory of sessions, pages and records, and the wrappers of the store's
 * sessions domain. */
#include "store/scrape.h"

#include <stdlib.h>
#include <string.h>

static const char *const page_status_names_[PAGE_STATUS_COUNT] = {"pending", "fetching", "done",
                                                                  "failed", "skipped"};

const char *page_status_name(int s)
{
    return s >= 0 && s < PAGE_STATUS_COUNT ? page_status_names_[s] : NULL;
}

int page_status_parse(const char *name)
{
    for (int i = 0; name && i < PAGE_STATUS_COUNT; i++)
        if (strcmp(name, page_status_names_[i]) == 0)
            return i;
    return -1;
}

void scrape_session_release(struct scrape_session *s)
{
    if (!s)
        return;
    free(s->workspace);
    free(s->source_url);
    free(s->config);
    free(s->error_message);
    memset(s, 0, sizeof *s);
}

void scrape_session_array_free(struct scrape_session *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        scrape_session_release(&s[i]);
    free(s);
}

void scrape_page_release(struct scrape_page *p)
{
    free(p->url);
    free(p->source);
    free(p->error);
    free(p->lastmod);
    memset(p, 0, sizeof *p);
}

void scrape_page_array_free(struct scrape_page *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        scrape_page_release(&p[i]);
    free(p);
}

void record_row_array_free(struct record_row *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].data);
    free(r);
}

/* ---- wrappers ---- */

int store_session_add(struct store *s, const struct scrape_session *ss, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions", s->sessions->add(s, ss, e));
}

int store_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                      struct scrape_session *out, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->get(s, workspace, id, by_job, out, e));
}

int store_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                       struct scrape_session **out, size_t *n, int64_t *total, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->list(s, workspace, limit, offset, out, n, total, e));
}

int store_session_note(struct store *s, const char *id, const char *error, int warnings,
                       int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->note(s, id, error, warnings, now, e));
}

int store_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                          int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->set_job(s, id, old_job, job_id, now, e));
}

int store_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                    int64_t cap, int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->pages_add(s, session_id, p, n, cap, now, e));
}

int store_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                     struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->pages_take(s, session_id, limit, now, out, n, next_due, e));
}

int store_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                      int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->page_finish(s, session_id, o, now, e));
}

int store_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->pages_requeue(s, session_id, failed, e));
}

int store_pages_list(struct store *s, const char *session_id, int status, size_t limit,
                     size_t offset, struct scrape_page **out, size_t *n, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->pages_list(s, session_id, status, limit, offset, out, n, e));
}

int store_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                       size_t *len, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->page_content(s, session_id, page_id, out, len, e));
}

int store_record_put(struct store *s, const char *session_id, const struct record_new *r,
                     int64_t page_id, int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->record_put(s, session_id, r, page_id, now, e));
}

int store_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                       struct record_row **out, size_t *n, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->records_list(s, session_id, after_id, limit, out, n, e));
}
