/* The stored shape of a crawl job's result: what the fetch of one URL brought back. The body is
 * kept zstd-compressed and may expire under the retention setting, leaving the metadata. */
#ifndef TRAWL_CRAWL_H
#define TRAWL_CRAWL_H

#include "base/uuid.h"

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

#endif
