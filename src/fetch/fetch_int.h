/* The fetcher's insides, shared by its files: the transfer, the origin and the fetcher itself
 * (fetch.c runs them, fetch_origin.c keeps the origins and their queues, fetch_answer.c turns
 * what libcurl said into a result). Everything here runs on the fetcher's thread unless it says
 * otherwise. */
#ifndef TRAWL_FETCH_INT_H
#define TRAWL_FETCH_INT_H

#include "fetch/fetch.h"
#include "fetch/robots.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define ORIGIN_BUCKETS       4096
#define ORIGIN_KEY_MAX       300
#define HEADERS_MAX          (64 * 1024)
#define ROBOTS_FAIL_MS       60000 /* an unreachable robots.txt is asked again after this */
#define PENALTY_MAX_MS       60000 /* longest slow-down after a 429 or 503 without Retry-After */
#define RETRY_AFTER_MAX_MS   (3600 * 1000) /* a Retry-After is honoured up to an hour */
#define ORIGIN_IDLE_SWEEP_MS 10000

enum xstate { X_NEW, X_WAITING, X_RUNNING, X_DONE };

struct origin;

struct xfer {
    struct fetcher *f;
    const struct fetch_req *req;
    struct fetch_result *res;
    struct xfer *next;                /* in the submit queue or an origin's wait list */
    struct xfer *run_prev, *run_next; /* in the running list while a hop runs */
    enum xstate state;
    char *url; /* the current hop */
    char *path;
    char origin[ORIGIN_KEY_MAX];
    char *seen[16]; /* URLs of earlier hops, to find loops */
    int nseen;
    CURL *easy;
    struct curl_slist *hdrs, *resolve;
    struct buf raw_headers;
    int64_t hop_start_ms;
    bool got_byte, too_big, first_byte_timeout, cancelled, ssrf_blocked, not_html;
    bool sink_failed;
    int64_t sunk;      /* bytes given to the request's sink */
    bool cross_origin; /* a redirect left the first origin: the caller's headers stay behind */
    char ssrf_why[256];
    char curl_err[CURL_ERROR_SIZE];
    /* robots.txt fetches are transfers of the fetcher's own */
    struct origin *robots_for;
    /* the caller waits on cv until done */
    pthread_cond_t cv;
    bool done;
};

struct origin {
    struct origin *next;
    char key[ORIGIN_KEY_MAX];
    int active;
    int64_t next_at_ms; /* monotonic: the earliest start of the next request */
    int64_t penalty_ms; /* slow-down after 429/503 */
    struct robots *robots;
    int64_t robots_until_ms; /* monotonic: trusted until */
    bool robots_fetching;
    int64_t robots_fail_until_ms;
    enum fetch_kind robots_fail_kind;
    bool robots_fail_retryable; /* a refused address or a bad certificate will not get better */
    char robots_error[1024];
    struct xfer *wait_head, *wait_tail;
    int64_t last_used_ms;
    int64_t reserved_ms;  /* monotonic: the last slot handed to a deferred transfer */
    struct origin *wnext; /* in the fetcher's list of origins with waiting transfers */
    bool in_wlist;
};

struct fetcher {
    struct fetch_opts o;
    char *user_agent, *robots_agent;
    struct ssrf_policy *own_policy;
    const struct ssrf_policy *policy;
    struct curl_slist *resolve;
    CURLM *multi;
    pthread_t thread;
    pthread_mutex_t lock; /* submit queue, stopping, stats, and every xfer's done flag */
    struct xfer *submit_head, *submit_tail;
    bool stopping;
    struct fetch_stats stats;
    struct origin *bucket[ORIGIN_BUCKETS];
    size_t norigins;
    struct origin *wlist; /* origins that may have waiting transfers */
    struct xfer *running;
    int64_t last_sweep_ms;
};

/* The origin of key, made when it is new. */
struct origin *fetch_origin_get(struct fetcher *f, const char *key);
/* Forget origins nobody has used for a while (their robots.txt is stale by then anyway). */
void fetch_origins_sweep(struct fetcher *f);
/* The delay between two requests to o: the fetcher's own or robots.txt's Crawl-delay. */
int64_t fetch_origin_delay(struct fetcher *f, struct origin *o);
/* Queue x on o's waiting list (at its head when front) and o on the fetcher's list. */
void fetch_wait_push(struct fetcher *f, struct origin *o, struct xfer *x, bool front);
/* The first transfer waiting for o, taken off its list; NULL when none waits. */
struct xfer *fetch_wait_pop(struct origin *o);

/* Set x's result to an error of kind k. */
void fetch_set_error(struct xfer *x, enum fetch_kind k, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set x's result from a transfer libcurl ended with cc (not CURLE_OK). */
void fetch_classify_curl(struct xfer *x, CURLcode cc);
/* Raw response headers as a JSON object, names lowercased, repeated ones joined (caller frees). */
char *fetch_headers_json(const struct buf *raw);

#endif
