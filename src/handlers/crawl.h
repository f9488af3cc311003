/* The crawl job type: fetch one URL through the fetcher and keep what came back (status,
 * headers, the body compressed) as the job's crawl result. Errors are classified so that what a
 * retry can fix is retried and what it cannot is not; a host whose circuit breaker is open, or
 * that asks to wait, gets its jobs deferred without spending their attempts.
 *
 * Job args: {"url": absolute http(s) URL, "headers": {"Name": "value", ...}, "timeoutMs": n}.
 * Result: {"http_status", "final_url", "content_type", "html_length", "redirects",
 * "processing_time_ms", "success_method"}. */
#ifndef TRAWL_HANDLERS_CRAWL_H
#define TRAWL_HANDLERS_CRAWL_H

#include "engine/breaker.h"
#include "engine/worker.h"
#include "fetch/fetch.h"

#define CRAWL_TYPE "crawl"

/* What the handler works with; borrowed, it must outlive the pools that run crawl jobs. */
struct crawler {
    struct fetcher *fetcher;
    struct breakers *breakers;
    int zstd_level; /* 0: the default (1) */
};

/* The handler; register it with arg pointing at a struct crawler. */
int handler_crawl(struct job_ctx *ctx);

/* Whether a fetch's failure says the host is in trouble (it counts towards the host's breaker):
 * no answer, a reset, a timeout, a 5xx. A 4xx or a robots refusal says nothing of its health. */
bool crawl_host_trouble(const struct fetch_result *r);

#endif
