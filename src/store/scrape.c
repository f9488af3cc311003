/* Page status names, the memory of sessions, pages and records, and the wrappers of the store's
 * sessions domain. */
#include "store/scrape.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
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

bool scrape_stage_type(const char *type)
{
    return type && (strcmp(type, "web_scraping") == 0 || strcmp(type, "scrape_extract") == 0 ||
                    strcmp(type, "scrape_sync") == 0);
}

/* A stage that ended badly, or NULL. */
static bool bad(const struct job *j)
{
    return j && (j->status == JOB_FAILED || j->status == JOB_CANCELLED || j->status == JOB_BLOCKED);
}

const char *scrape_session_status(const struct job *ingest, const struct job *extract,
                                  const struct job *sync, const struct job **failed)
{
    const struct job *stages[3] = {ingest, extract, sync};
    if (failed)
        *failed = NULL;
    if (!ingest)
        return "unknown"; /* its job was deleted */
    for (int i = 0; i < 3; i++) {
        if (!bad(stages[i]))
            continue;
        /* the first stage that ended badly is the cause: those after it are blocked by it */
        const struct job *cause = stages[i];
        if (failed)
            *failed = cause;
        return cause->status == JOB_CANCELLED ? "cancelled" : "failed";
    }
    switch (ingest->status) {
    case JOB_PENDING:
        return ingest->started_at ? "processing" : "pending";
    case JOB_PROCESSING:
        return ingest->stage && strcmp(ingest->stage, "discovering") != 0 ? "scraping"
                                                                          : "processing";
    case JOB_RETRYING:
        return "processing";
    case JOB_COMPLETED:
        break;
    default:
        return "unknown";
    }
    /* a session from before it had stages has none after its ingest */
    if (!extract)
        return "completed";
    if (extract->status != JOB_COMPLETED)
        return "extracting";
    if (sync && sync->status != JOB_COMPLETED)
        return "syncing";
    return "completed";
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
    for (size_t i = 0; r && i < n; i++) {
        free(r[i].key);
        free(r[i].data);
        free(r[i].change);
        free(r[i].changed_fields);
    }
    free(r);
}

void page_body_array_free(struct page_body *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++) {
        free(p[i].url);
        free(p[i].content_type);
        free(p[i].body);
    }
    free(p);
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

int store_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                             int64_t now, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions", s->sessions->set_stages(s, id, st, now, e));
}

int store_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                           size_t limit, struct page_body **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->pages_to_extract(s, session_id, gen, after_id, limit, out, n, e));
}

int store_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                         int records, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->page_extracted(s, session_id, page_id, gen, records, e));
}

int store_records_prune(struct store *s, const char *session_id, int gen, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->records_prune(s, session_id, gen, e));
}

int store_source_sync(struct store *s, struct sync_batch *b, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions", s->sessions->source_sync(s, b, e));
}

int store_source_prune(struct store *s, const struct sync_batch *b, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions", s->sessions->source_prune(s, b, e));
}

int store_sync_begin(struct store *s, const struct sync_batch *b, struct err *e)
{
    STORE_WRAP(s, s->sessions, "scraping sessions", s->sessions->sync_begin(s, b, e));
}

int store_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e)
{
    memset(counts, 0, 4 * sizeof *counts);
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->sync_counts(s, session_id, counts, e));
}

int store_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                       struct record_row **out, size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->sessions, "scraping sessions",
               s->sessions->removed_list(s, session_id, after_key, limit, out, n, e));
}

/* ---- what both stores' syncs compute in C ---- */

void record_hash(const char *data, char out[65])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)data, strlen(data), md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *record_fields_changed(const char *old_data, const char *new_data)
{
    json_t *a = json_loads(old_data, 0, NULL), *b = json_loads(new_data, 0, NULL);
    json_t *out = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v)
    {
        if (!json_equal(v, json_object_get(a, k)))
            json_array_append_new(out, json_string(k));
    }
    json_object_foreach(a, k, v)
    {
        if (!json_object_get(b, k))
            json_array_append_new(out, json_string(k));
    }
    char *s = json_dumps(out, JSON_COMPACT);
    json_decref(a);
    json_decref(b);
    json_decref(out);
    return s;
}
