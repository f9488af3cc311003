/* The fetcher: one thread running libcurl's multi interface under every job that fetches, so
 * hundreds of transfers share connections (keep-alive, HTTP/2) while the jobs' own code stays
 * sequential: a handler calls fetch_run() and blocks until its page is in.
 *
 * What it guarantees, per transfer and at every redirect hop:
 * - only http and https; at most max_redirects hops, each one checked again;
 * - the SSRF guard: the address of every connection is checked against the policy (ssrf.h)
 *   where it is made, so no URL spelling and no DNS answer reaches a refused range;
 * - deadlines: connect, first byte, total, and a minimum transfer rate;
 * - a size cap counted on decompressed bytes (a compression bomb stops at the cap);
 * - politeness per origin: a connection cap, a delay between requests (the larger of the
 *   configured delay and robots.txt's Crawl-delay), robots.txt fetched once, cached and obeyed,
 *   and 429/503 answers slow that origin down (Retry-After honoured).
 *
 * Ownership: the fetcher borrows its policy; a fetch_result owns its strings and body
 * (fetch_result_release). Thread-safe: fetch_run may be called from any number of threads. */
#ifndef TRAWL_FETCH_H
#define TRAWL_FETCH_H

#include "base/buf.h"
#include "base/err.h"
#include "fetch/ssrf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FETCH_DEFAULT_AGENT "trawl/0.3 (+https://github.com/trawl/trawl)"

struct fetch_opts {
    const char *user_agent;         /* default FETCH_DEFAULT_AGENT */
    const char *robots_agent;       /* product token matched in robots.txt; default "trawl" */
    const struct ssrf_policy *ssrf; /* NULL: refuse every special range */
    size_t max_body;                /* bytes after decompression; default 10 MiB */
    int max_redirects;              /* default 5 */
    int64_t connect_timeout_ms;     /* default 10 s */
    int64_t first_byte_timeout_ms;  /* from the start of a hop to its first response byte;
                                       default 30 s */
    int64_t total_timeout_ms;       /* a whole hop; default 60 s */
    long min_speed_bps;             /* below this rate ... (default 512 bytes/s) */
    int64_t min_speed_ms;           /* ... for this long, a transfer is dropped (default 20 s) */
    int host_connections;           /* requests in flight per origin; default 8 */
    int64_t host_delay_ms;          /* between requests to one origin; default 0 */
    bool ignore_robots;             /* default false: robots.txt is obeyed */
    int64_t robots_ttl_ms;          /* how long a robots.txt is trusted; default 1 h */
    int64_t defer_after_ms;         /* a wait for an origin longer than this is not waited for:
                                       the call returns FETCH_DEFERRED; default 2 s */
    int max_connections;            /* connections in all; default 512 */
    const char *const *resolve;     /* NULL-terminated "HOST:PORT:ADDRESS" entries that override
                                       DNS, as curl's --resolve (for tests and intranets) */
};

/* What went wrong, as a job's error names it. */
enum fetch_kind {
    FETCH_OK,
    FETCH_HTTP_STATUS, /* a response, but not a 2xx */
    FETCH_DNS,
    FETCH_CONNECT,
    FETCH_TIMEOUT,
    FETCH_RESET, /* the connection broke or closed early */
    FETCH_TLS,
    FETCH_PROTOCOL, /* a malformed or undecodable response */
    FETCH_TOO_LARGE,
    FETCH_REDIRECTS, /* too many, a loop, or a bad Location */
    FETCH_ROBOTS,    /* disallowed by robots.txt */
    FETCH_SSRF,      /* refused by the SSRF guard */
    FETCH_INVALID_URL,
    FETCH_DEFERRED, /* the origin asks to wait (delay, Retry-After): try again at defer_until */
    FETCH_CANCELLED,
    FETCH_NOT_HTML, /* html_only: the response is not HTML; the transfer stopped at its headers */
    FETCH_KIND_COUNT
};

/* "ok", "http_status", "dns", "connect", "timeout", ... */
const char *fetch_kind_name(enum fetch_kind k);

struct fetch_req {
    const char *url;            /* absolute http(s) URL */
    const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
    int64_t timeout_ms;         /* 0: the fetcher's total timeout */
    const atomic_bool *cancel;  /* polled; true stops the transfer (FETCH_CANCELLED) */
    bool no_robots;             /* this request is not subject to robots.txt */
    bool no_defer;              /* wait for the origin however long, rather than deferring */
    bool no_follow;        /* answer a redirect as it is (http_status 3xx, location set) instead of
                              following it */
    bool html_only;        /* stop at the headers of a response that is not HTML */
    int64_t host_delay_ms; /* this origin's next request waits at least this long after this
                              one starts (on top of the fetcher's own delay) */
    const void *body;      /* non-NULL: POST these body_len bytes (borrowed until fetch_run
                              returns; the headers say their type). A POST is not subject to
                              robots.txt and answers a redirect as it is (no_follow) */
    size_t body_len;
    /* non-NULL: the body of a 2xx answer goes to sink(sink_ctx, ...) as it arrives, instead of
     * into the result's body (which then holds only other answers' bodies), at most sink_max
     * bytes after decompression (0: the fetcher's max_body); a non-zero return stops the
     * transfer (FETCH_PROTOCOL, "writing the body failed"). A feed downloaded to a file. */
    int (*sink)(void *ctx, const void *data, size_t n);
    void *sink_ctx;
    int64_t sink_max;
};

struct fetch_result {
    enum fetch_kind kind;
    bool retryable;     /* whether trying again later can help */
    char error[512];    /* "" when kind is FETCH_OK */
    int http_status;    /* of the final response, 0 when none */
    char *final_url;    /* the URL of the final response (after redirects) */
    char *content_type; /* NULL when none was given */
    char *headers;      /* the final response's headers as a JSON object (names lowercased) */
    struct buf body;    /* decompressed; empty on failure */
    int redirects;
    int64_t elapsed_ms;
    int64_t retry_after_ms; /* from Retry-After on a 429 or 503: how long to wait; 0 none */
    char *location;         /* no_follow: where a 3xx points (resolved, normalized), or NULL */
    int64_t defer_until_ms; /* FETCH_DEFERRED: wall-clock time to try again */
};

/* Whether a request header a user asks for may be sent: name an RFC 9110 token, not one the
 * fetcher owns (Host, Content-Length, Transfer-Encoding, Connection, ...), value without CR,
 * LF or NUL. 0 or TRAWL_EINVAL with a message naming the header. */
int fetch_header_check(const char *name, const char *value, size_t value_len, struct err *e);

struct fetcher;

int fetcher_new(const struct fetch_opts *o, struct fetcher **out, struct err *e);
/* Stops the thread; transfers in flight end with FETCH_CANCELLED. Accepts NULL. */
void fetcher_free(struct fetcher *f);

/* Fetch one URL, following redirects; blocks until done. Always fills out (release it with
 * fetch_result_release) and returns 0 for FETCH_OK, else a negative code (TRAWL_EIO for most
 * kinds, TRAWL_ECANCELLED, TRAWL_EINVAL for a bad URL). */
int fetch_run(struct fetcher *f, const struct fetch_req *r, struct fetch_result *out);
void fetch_result_release(struct fetch_result *r);

struct fetch_stats {
    uint64_t started, ok, failed, deferred, robots_fetched, bytes;
    uint64_t by_kind[FETCH_KIND_COUNT]; /* fetches ended, by outcome (robots.txt's not counted) */
    size_t origins;
};
void fetch_stats(struct fetcher *f, struct fetch_stats *out);

#endif
