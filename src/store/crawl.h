/* Crawl results in the store: what the fetch of one URL brought back, and the store's crawl
 * domain. The body is kept zstd-compressed and may expire under the retention setting, leaving
 * the metadata. */
#ifndef TRAWL_CRAWL_H
#define TRAWL_CRAWL_H

#include "base/uuid.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strings and the body are owned by the result and freed by crawl_result_release(). */
struct crawl_result {
    char job_id[UUID_STR_LEN];
    char *url;          /* as submitted (normalized) */
    char *final_url;    /* after redirects */
    int http_status;    /* 0: no response */
    char *content_type; /* NULL: none given */
    char *headers;      /* JSON object of the final response's headers */
    void *body_z;       /* zstd frame of the body; NULL when there is none or it expired */
    size_t body_z_len;
    int64_t body_length; /* bytes of the body before compression */
    bool body_expired;   /* the retention setting removed the body */
    int redirects;
    int64_t fetched_at;
    int64_t processing_time_ms;
    char *method; /* how it was fetched: "http" */
};

void crawl_result_release(struct crawl_result *r);

#define STORE_CRAWL_VERSION 1
struct store_crawl_ops {
    int version; /* STORE_CRAWL_VERSION */
    int (*save)(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                struct err *e);
    int (*get)(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
               struct err *e);
    int (*expire)(struct store *s, int64_t before, size_t limit, struct err *e);
};

/* Save (insert or replace) the result of a crawl job (write), fenced: only while the job is
 * processing attempt `attempt` under lease owner `owner`; otherwise TRAWL_ESTALE and nothing is
 * written, so a worker that lost its job cannot overwrite the page of a later attempt. */
int store_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                     struct err *e);
/* The result of a crawl job, with its compressed body when with_body; TRAWL_ENOTFOUND when
 * the job has none yet. */
int store_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                    struct err *e);
/* Drop the bodies of up to limit results fetched before `before` (write); returns how many. */
int store_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e);

#endif
