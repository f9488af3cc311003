/* The stored shape of scraping sessions: the session row, the pages of its frontier, and the
 * records found on them. The session's status is not stored here: it is its job's. */
#ifndef TRAWL_SCRAPE_H
#define TRAWL_SCRAPE_H

#include "base/uuid.h"

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
    char job_id[UUID_STR_LEN];
    char *workspace;
    char *source_url;
    char *config; /* JSON */
    int64_t total_pages, completed_pages, failed_pages, skipped_pages, materials;
    int64_t warnings;
    char *error_message;
    int64_t created_at, updated_at;
};

void scrape_session_release(struct scrape_session *s);
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
    bool not_tried; /* stopped before it was fetched: the attempt taken is given back */
};

/* A record to keep (borrowed strings): one per key in a session; a later one replaces it. */
struct record_new {
    const char *key; /* sku, else the canonical URL */
    const char *url;
    const char *data; /* JSON object */
};

/* A kept record, as read back. */
struct record_row {
    int64_t id;
    char *data; /* JSON object; owned */
};

void record_row_array_free(struct record_row *r, size_t n);

#endif
