/* Scraping sessions in the store: the session row, the pages of its frontier, and the records
 * found on them; and the store's sessions domain. The session's status is not stored here: it is
 * its jobs'. */
#ifndef TRAWL_SCRAPE_H
#define TRAWL_SCRAPE_H

#include "base/uuid.h"
#include "store/job.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum page_status {
    PAGE_PENDING,
    PAGE_FETCHING,
    PAGE_DONE,
    PAGE_FAILED,
    PAGE_SKIPPED,
    PAGE_STATUS_COUNT
};

/* "pending", ...; NULL out of range. */
const char *page_status_name(int s);
/* The status of a name, or -1. */
int page_status_parse(const char *name);

/* Strings owned by the session; scrape_session_release frees them. */
struct scrape_session {
    char id[UUID_STR_LEN];
    char job_id[UUID_STR_LEN];         /* the ingest stage, its chain's root */
    char extract_job_id[UUID_STR_LEN]; /* its latest extract stage; "" none */
    char sync_job_id[UUID_STR_LEN];    /* its latest sync stage; "" none */
    int extract_gen;                   /* extraction generation: one more per re-extraction */
    char *workspace;
    char *source_url;
    char *config; /* JSON */
    int64_t total_pages, completed_pages, failed_pages, skipped_pages, materials;
    int64_t warnings;
    char *error_message;
    int64_t created_at, updated_at;
};

void scrape_session_release(struct scrape_session *s);

/* Whether type is one of a session's stages: web_scraping (ingest), scrape_extract, scrape_sync. */
bool scrape_stage_type(const char *type);
/* Where a session stands, from its stages' jobs (NULL: not there): "pending", "processing" (its
 * ingest discovering, or waiting to run again), "scraping", "extracting", "syncing", then
 * "completed", "failed" or "cancelled"; "unknown" without an ingest job. *failed (may be NULL)
 * gets the stage job that failed or was cancelled, or NULL. */
const char *scrape_session_status(const struct job *ingest, const struct job *extract,
                                  const struct job *sync, const struct job **failed);
void scrape_session_array_free(struct scrape_session *s, size_t n);

/* Strings owned by the page; scrape_page_array_free frees them. */
struct scrape_page {
    int64_t id;
    char *url;
    int depth;
    char *source; /* seed, sitemap, link */
    int status;   /* enum page_status */
    int attempt;
    int64_t not_before;
    int http_status; /* 0: none */
    char *error;
    int records;
    int64_t fetch_ms;
    int64_t discovered_at, fetched_at;
    char *lastmod; /* as a sitemap gave it, or NULL */
};

void scrape_page_release(struct scrape_page *p);
void scrape_page_array_free(struct scrape_page *p, size_t n);

/* A page to add to a frontier (borrowed strings). */
struct page_new {
    const char *url; /* normalized */
    int depth;
    const char *source;
    const char *lastmod; /* from a sitemap, or NULL */
};

/* What became of a fetched page (borrowed strings). status PAGE_PENDING puts it back to be
 * tried again no sooner than not_before. */
struct page_outcome {
    int64_t page_id;
    int status;
    int http_status;
    const char *error;
    int64_t fetch_ms;
    int records;
    int64_t not_before;
    const void *content; /* zstd JSON of the page's formats, or NULL */
    size_t content_len;
    const void *body; /* a zstd frame of the page as fetched (kept for extraction), or NULL */
    size_t body_len;
    const char *content_type; /* the body's, or NULL */
    int extracted_gen;        /* status done: the generation its records are of */
    bool not_tried;           /* stopped before it was fetched: the attempt taken is given back */
};

/* A record to keep (borrowed strings): one per key in a session; a later one replaces it. */
struct record_new {
    const char *key; /* sku, else the canonical URL */
    const char *url;
    const char *data; /* JSON object */
    int gen;          /* the extraction generation that found it */
};

/* A kept record, as read back; strings owned. */
struct record_row {
    int64_t id;
    char *key;
    char *data;           /* JSON object */
    char *change;         /* after a diff sync: "new", "changed" or "unchanged"; else NULL */
    char *changed_fields; /* "changed": a JSON array of the top-level fields that differ */
};

/* A page's body, as kept for extraction (strings and body owned: page_body_array_free). */
struct page_body {
    int64_t id;
    char *url;
    char *content_type;
    void *body; /* a zstd frame; NULL: the page was fetched before bodies were kept */
    size_t body_len;
};

void page_body_array_free(struct page_body *p, size_t n);

/* What a session's stages are now (set_stages): NULL or -1 fields are kept. */
struct session_stages {
    const char *extract_job_id;
    const char *sync_job_id;
    const char *config; /* JSON: new settings (a re-extraction's rules) */
    int extract_gen;
};

/* One sync of a session's records to its source's destination (source_sync). */
struct sync_batch {
    const char *workspace;
    const char *source;
    const char *session_id;
    const char *sync_job_id;
    bool diff; /* diff mode: a changed record says which fields changed */
    const struct record_row *recs;
    size_t n;
    int64_t now;
    /* out: what this batch found (a record this sync already saw counts as nothing) */
    int64_t added, changed, unchanged;
};

void record_row_array_free(struct record_row *r, size_t n);

#define STORE_SESSION_VERSION 1
struct store_session_ops {
    int version; /* STORE_SESSION_VERSION */
    int (*add)(struct store *s, const struct scrape_session *ss, struct err *e);
    int (*get)(struct store *s, const char *workspace, const char *id, bool by_job,
               struct scrape_session *out, struct err *e);
    int (*list)(struct store *s, const char *workspace, size_t limit, size_t offset,
                struct scrape_session **out, size_t *n, int64_t *total, struct err *e);
    int (*note)(struct store *s, const char *id, const char *error, int warnings, int64_t now,
                struct err *e);
    int (*set_job)(struct store *s, const char *id, const char *old_job, const char *job_id,
                   int64_t now, struct err *e);
    int (*pages_add)(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                     int64_t cap, int64_t now, struct err *e);
    int (*pages_take)(struct store *s, const char *session_id, size_t limit, int64_t now,
                      struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e);
    int (*page_finish)(struct store *s, const char *session_id, const struct page_outcome *o,
                       int64_t now, struct err *e);
    int (*pages_requeue)(struct store *s, const char *session_id, bool failed, struct err *e);
    int (*pages_list)(struct store *s, const char *session_id, int status, size_t limit,
                      size_t offset, struct scrape_page **out, size_t *n, struct err *e);
    int (*page_content)(struct store *s, const char *session_id, int64_t page_id, void **out,
                        size_t *len, struct err *e);
    int (*record_put)(struct store *s, const char *session_id, const struct record_new *r,
                      int64_t page_id, int64_t now, struct err *e);
    int (*records_list)(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                        struct record_row **out, size_t *n, struct err *e);
    /* the three stages */
    int (*set_stages)(struct store *s, const char *id, const struct session_stages *st, int64_t now,
                      struct err *e);
    int (*pages_to_extract)(struct store *s, const char *session_id, int gen, int64_t after_id,
                            size_t limit, struct page_body **out, size_t *n, struct err *e);
    int (*page_extracted)(struct store *s, const char *session_id, int64_t page_id, int gen,
                          int records, struct err *e);
    int (*records_prune)(struct store *s, const char *session_id, int gen, struct err *e);
    int (*source_sync)(struct store *s, struct sync_batch *b, struct err *e);
    int (*source_prune)(struct store *s, const struct sync_batch *b, struct err *e);
    int (*sync_begin)(struct store *s, const struct sync_batch *b, struct err *e);
    int (*sync_counts)(struct store *s, const char *session_id, int64_t counts[4], struct err *e);
    int (*removed_list)(struct store *s, const char *session_id, const char *after_key,
                        size_t limit, struct record_row **out, size_t *n, struct err *e);
};

/* Add a session (write); its job must exist (enqueued in the same transaction or before). */
int store_session_add(struct store *s, const struct scrape_session *ss, struct err *e);
/* A session of the workspace by id (by_job: by the id of one of its stages' jobs; workspace may
 * then be NULL);
 * TRAWL_ENOTFOUND when there is none. Read. */
int store_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                      struct scrape_session *out, struct err *e);
/* A workspace's sessions, newest first; *total the count. Returns the number listed. Read. */
int store_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                       struct scrape_session **out, size_t *n, int64_t *total, struct err *e);
/* Set the session's error message (NULL leaves it as it is) and add to its warnings (write). */
int store_session_note(struct store *s, const char *id, const char *error, int warnings,
                       int64_t now, struct err *e);
/* Point the session at a new job in place of old_job (write): retry-failed runs the session
 * again as a new job. Clears its error message. TRAWL_ESTALE when the session is not (or no
 * longer) run by old_job. */
int store_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                          int64_t now, struct err *e);
/* Add pages to the frontier, skipping URLs it has (write); returns how many were new. */
int store_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                    int64_t cap, int64_t now, struct err *e);
/* Take up to limit due pending pages, shallowest first, marking them fetching (their attempt + 1)
 * (write). *next_due gets the earliest not_before of the pending pages not yet due (0: none).
 * Returns the number taken. */
int store_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                     struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e);
/* Record what became of a fetched page (write). */
int store_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                      int64_t now, struct err *e);
/* Put pages back to pending (write): those left fetching (failed false: after a crash), or the
 * failed ones (failed true: retry-failed, with their attempts reset). Returns how many. */
int store_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e);
/* A session's pages, oldest first, optionally of one status (page_status or -1). Read. */
int store_pages_list(struct store *s, const char *session_id, int status, size_t limit,
                     size_t offset, struct scrape_page **out, size_t *n, struct err *e);
/* The stored formats of a page (a zstd frame, *out freed by the caller); TRAWL_ENOTFOUND when
 * there are none. Read. */
int store_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                       size_t *len, struct err *e);
/* Keep a record (write): a new key adds one, a known key replaces its data. */
int store_record_put(struct store *s, const char *session_id, const struct record_new *r,
                     int64_t page_id, int64_t now, struct err *e);
/* A session's records after id after_id, in id order, at most limit. Read. */
int store_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                       struct record_row **out, size_t *n, struct err *e);

/* ---- the stages: ingest, extract, sync ---- */

/* Point the session at its stages' jobs, and set its settings or generation (write). */
int store_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                             int64_t now, struct err *e);
/* The session's pages done whose records are not of generation gen, after page after_id, in id
 * order, with their bodies (read). Returns the number listed. */
int store_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                           size_t limit, struct page_body **out, size_t *n, struct err *e);
/* A page's records are now of generation gen, records of them (write). */
int store_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                         int records, struct err *e);
/* Drop the session's records of generations before gen: the new one did not find them (write).
 * Returns how many. */
int store_records_prune(struct store *s, const char *session_id, int gen, struct err *e);
/* Start a sync of the session (write): the records an earlier sync of it found gone are
 * forgotten. */
int store_sync_begin(struct store *s, const struct sync_batch *b, struct err *e);
/* Deliver b's records to the source's destination (write): each is added, or replaced when its
 * data changed, and marked on the session's records as new, changed (in diff mode with the fields
 * that changed) or unchanged. A record this same sync delivered already (a retried attempt) is
 * skipped, so a sync can run again from its start. Fills b's counts. */
int store_source_sync(struct store *s, struct sync_batch *b, struct err *e);
/* The source's records that b's sync did not deliver: gone since the last sync. They leave the
 * destination and go to the session's removed list. Returns how many. Write. */
int store_source_prune(struct store *s, const struct sync_batch *b, struct err *e);
/* How the session's records stand after its last sync: counts[0..3] new, changed, unchanged,
 * removed (read). */
int store_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e);
/* The records the session's last sync found gone, by key after after_key (NULL: from the
 * start). Read. */
int store_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                       struct record_row **out, size_t *n, struct err *e);

/* For the stores' syncs: the SHA-256 of a record's data in hex, which the destination keeps to
 * tell a changed record from an unchanged one; and the top-level fields of two records' data
 * that differ, as a JSON array (a new string). */
void record_hash(const char *data, char out[65]);
char *record_fields_changed(const char *old_data, const char *new_data);

#endif
