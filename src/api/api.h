/* The HTTP API of `trawl serve` (libmicrohttpd): JSON under /v1, bearer tokens scoped to a
 * workspace, health checks. It maps requests to engine calls and holds no job logic.
 *
 * Ownership: api_start borrows everything in its deps, which must outlive the server. */
#ifndef TRAWL_API_H
#define TRAWL_API_H

#include "base/err.h"
#include "engine/engine.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define API_DEFAULT_LISTEN     "127.0.0.1:8080"
#define API_DEFAULT_BODY_MAX   (1u << 20)
#define API_DEFAULT_UPLOAD_MAX ((int64_t)4 << 30) /* a feed uploaded to POST /v1/imports */

struct breakers;
struct job_outcome;

/* Runs crawl jobs now, for POST /v1/crawl-jobs/process: claims up to n pending crawl jobs of the
 * workspace and runs each to its end; *out (n entries at most, freed by the caller) says what
 * became of each. Returns the number run or an error. */
struct crawl_runner {
    int (*process)(struct crawl_runner *r, const char *workspace, size_t n,
                   struct job_outcome **out, struct err *e);
};

struct api_opts {
    const char *listen; /* HOST:PORT, [V6]:PORT; default API_DEFAULT_LISTEN; port 0 picks one */
    bool no_auth;       /* every request is in workspace "default"; loopback only */
    size_t body_max;    /* request body cap in bytes; default API_DEFAULT_BODY_MAX */
    int64_t upload_max; /* an uploaded feed's cap in bytes; default API_DEFAULT_UPLOAD_MAX */
    unsigned header_timeout_s; /* idle or slow connections are closed after this; default 30 */
    unsigned connection_limit; /* most open connections; default 1024 */
    unsigned waits_max;        /* most requests waiting on jobs at once; default 512 */
};

/* What the API serves besides the engine; any may be NULL (the calls that need it answer 503). */
struct api_deps {
    struct engine *eng;
    struct breakers *breakers;   /* circuit breaker states, for GET /v1/breakers */
    struct crawl_runner *runner; /* runs crawl jobs now, for POST /v1/crawl-jobs/process */
    /* checks a scraping session's settings and completes them (handlers/scrape.h's
     * scrape_config_check), for POST /v1/scraping-sessions */
    int (*scrape_check)(const json_t *in, json_t **out, struct err *e);
    struct obs *obs;       /* the metrics (obs/metrics.h), for GET /metrics and /v1/metrics */
    struct ev_bus *events; /* the live events (obs/events.h), for GET /v1/events */
    /* the import folder (handlers/import.h's importer.dir) and the path of an import's feed in it
     * (import_feed_path), for POST /v1/imports; NULL: imports answer 503 */
    const char *import_dir;
    int (*feed_path)(const char *dir, const char *id, char *out, size_t n);
};

struct api;
struct obs;
struct ev_bus;

/* Start listening. On success *out is running and api_port() tells the port. */
int api_start(const struct api_deps *deps, const struct api_opts *o, struct api **out,
              struct err *e);
int api_port(const struct api *a);
/* Shutdown has begun: /readyz answers 503 from now on, so load balancers move away while running
 * jobs finish. Requests are still served. Accepts NULL. */
void api_drain(struct api *a);
/* Stop accepting, finish requests in flight (waits are woken), free. Accepts NULL. */
void api_stop(struct api *a);

#endif
