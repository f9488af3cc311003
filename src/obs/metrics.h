/* The metrics: what /v1/metrics (JSON) and /metrics (Prometheus text) answer. Job figures come
 * from the store's counters (engine_job_stats), never from counting the jobs table; histograms of
 * processing time and queue wait per type are this process's own, fed by the engine's change
 * listener; the rest is read from the parts that keep it (commits, fetches, breakers, HTTP).
 *
 * Ownership: sources are borrowed and must outlive the struct obs. Threads: every call is
 * thread-safe. */
#ifndef TRAWL_OBS_METRICS_H
#define TRAWL_OBS_METRICS_H

#include "base/buf.h"
#include "base/err.h"
#include "engine/engine.h"

#include <stdint.h>

struct breakers;
struct fetcher;
struct ev_bus;

struct obs_sources {
    struct engine *eng; /* required */
    struct fetcher *fetcher;
    struct breakers *breakers;
    struct ev_bus *events;
};

/* The figures of some jobs over a window. */
struct job_figures {
    int64_t status[JOB_STATUS_COUNT]; /* jobs in each status now */
    int64_t total;
    int64_t completed, failed, retried; /* ended in the window */
    double throughput_per_minute;       /* completions per minute over the window */
    double error_rate;                  /* failed / (completed + failed) in the window; 0: none */
    double avg_processing_ms;           /* of completions in the window whose start is known */
    int64_t proc_ms, proc_n;
};

/* Add row's counters into f (for sums over workspaces or types). */
void job_figures_add(struct job_figures *f, const struct stats_row *row);
/* Derive the rates of f for a window from since to now (ms). */
void job_figures_finish(struct job_figures *f, int64_t since, int64_t now);

/* A window such as "30s" is refused; "5m", "1h", "24h", "7d" are taken: 1 minute to 7 days.
 * Returns the window in ms, or TRAWL_EINVAL with a message. */
int64_t obs_parse_window(const char *s, struct err *e);
#define OBS_WINDOW_MAX_MS (7LL * 24 * 3600 * 1000)

struct obs;

struct obs *obs_new(const struct obs_sources *src);
/* Accepts NULL. Stops listening to the engine. */
void obs_free(struct obs *o);

/* An HTTP request was answered: route is the route's pattern ("/v1/jobs/:id") or "other". */
void obs_http(struct obs *o, const char *method, const char *route, unsigned status);

/* The name an import type has in the metrics: "xml", "csv", "json"; "unknown" for
 * IMPORT_TYPE_NONE (not detected yet); NULL out of range. */
const char *obs_import_type_name(int t);

/* Every metric in Prometheus text format (0.0.4), appended to out; the job figures and the imports
 * are those of workspace (NULL: every workspace). TRAWL_ETOOBIG, out left as it was, when the text
 * does not fit in out's cap. */
int obs_prometheus(struct obs *o, const char *workspace, struct buf *out, struct err *e);

#endif
