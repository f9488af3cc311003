/* The metrics: job figures from the store's counters, feed imports by import type and status from
 * the store, per-type histograms fed by the engine's listener, HTTP request counts, and all of it
 * written as Prometheus text. */
#include "obs/metrics.h"

#include "base/hist.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "engine/breaker.h"
#include "fetch/fetch.h"
#include "obs/events.h"
#include "store/import.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_WINDOW_MS (5 * 60 * 1000) /* the window of the rates /metrics gives */
#define HTTP_KEYS_MAX  512             /* distinct method, route and status triples counted */

struct type_hists {
    char type[JOB_TYPE_MAX + 1];
    struct hist proc, wait;
};

struct http_key {
    const char *method, *route; /* static strings (the route table's), or interned */
    unsigned status;
    uint64_t n;
};

struct obs {
    struct obs_sources src;
    pthread_mutex_t lock;
    struct type_hists *types;
    size_t ntypes, cap;
    struct http_key http[HTTP_KEYS_MAX];
    size_t nhttp;
    uint64_t http_dropped; /* requests past HTTP_KEYS_MAX distinct keys */
};

void job_figures_add(struct job_figures *f, const struct stats_row *r)
{
    for (int s = 0; s < JOB_STATUS_COUNT; s++) {
        f->status[s] += r->status[s];
        f->total += r->status[s];
    }
    f->completed += r->completed;
    f->failed += r->failed;
    f->retried += r->retried;
    f->proc_ms += r->proc_ms;
    f->proc_n += r->proc_n;
}

void job_figures_finish(struct job_figures *f, int64_t since, int64_t now)
{
    /* the counters hold whole minutes: the window reaches back to the start of since's minute */
    int64_t from = since / 60000 * 60000;
    double minutes = (double)(now - from) / 60000.0;
    f->throughput_per_minute = minutes > 0 ? (double)f->completed / minutes : 0;
    int64_t ended = f->completed + f->failed;
    f->error_rate = ended ? (double)f->failed / (double)ended : 0;
    f->avg_processing_ms = f->proc_n ? (double)f->proc_ms / (double)f->proc_n : 0;
}

int64_t obs_parse_window(const char *s, struct err *e)
{
    char *end;
    if (!s || !isdigit((unsigned char)s[0]))
        goto bad;
    long long v = strtoll(s, &end, 10);
    int64_t unit = 0;
    if (strcmp(end, "m") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    if (!unit || v <= 0 || v > OBS_WINDOW_MAX_MS / unit)
        goto bad;
    return v * unit;
bad:
    return err_set(e, TRAWL_EINVAL, false,
                   "window '%s' is not a duration from 1m to 7d, such as 5m, 1h, 24h or 7d",
                   s ? s : "");
}

static struct type_hists *hists_of(struct obs *o, const char *type)
{
    for (size_t i = 0; i < o->ntypes; i++)
        if (strcmp(o->types[i].type, type) == 0)
            return &o->types[i];
    if (o->ntypes == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 8;
        o->types = xrealloc(o->types, o->cap * sizeof *o->types);
    }
    struct type_hists *t = &o->types[o->ntypes++];
    memset(t, 0, sizeof *t);
    snprintf(t->type, sizeof t->type, "%s", type);
    t->proc.le = hist_job_le;
    t->wait.le = hist_job_le;
    return t;
}

/* From the committer: the timings of each durable change. */
static void on_change(void *ctx, const struct job_change *c)
{
    struct obs *o = ctx;
    if (c->proc_ms < 0 && c->wait_ms < 0)
        return;
    pthread_mutex_lock(&o->lock);
    struct type_hists *t = hists_of(o, c->type ? c->type : "");
    if (c->proc_ms >= 0 && c->to == JOB_COMPLETED)
        hist_add(&t->proc, (double)c->proc_ms / 1000.0);
    if (c->wait_ms >= 0)
        hist_add(&t->wait, (double)c->wait_ms / 1000.0);
    pthread_mutex_unlock(&o->lock);
}

struct obs *obs_new(const struct obs_sources *src)
{
    struct obs *o = xcalloc(1, sizeof *o);
    o->src = *src;
    pthread_mutex_init(&o->lock, NULL);
    if (engine_listen(src->eng, on_change, o) != 0)
        log_warn("metrics: too many engine listeners; no processing-time histograms");
    return o;
}

void obs_free(struct obs *o)
{
    if (!o)
        return;
    engine_unlisten(o->src.eng, on_change, o);
    pthread_mutex_destroy(&o->lock);
    free(o->types);
    free(o);
}

void obs_http(struct obs *o, const char *method, const char *route, unsigned status)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->lock);
    size_t i = 0;
    while (i < o->nhttp && !(o->http[i].status == status && o->http[i].route == route &&
                             strcmp(o->http[i].method, method) == 0))
        i++;
    if (i == o->nhttp && o->nhttp < HTTP_KEYS_MAX)
        o->http[o->nhttp++] = (struct http_key){method, route, status, 0};
    if (i < o->nhttp)
        o->http[i].n++;
    else
        o->http_dropped++;
    pthread_mutex_unlock(&o->lock);
}

/* ---- the text format ---- */

/* A label value, escaped as the format asks: backslash, double quote and newline. */
static void label(struct buf *b, const char *name, const char *v, bool first)
{
    buf_addf(b, "%s%s=\"", first ? "" : ",", name);
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            buf_addf(b, "\\%c", *p);
        else if (*p == '\n')
            buf_adds(b, "\\n");
        else
            buf_add(b, p, 1);
    }
    buf_adds(b, "\"");
}

static void family(struct buf *b, const char *name, const char *type, const char *help)
{
    buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram's series; labels is "" or 'name="v"' text already escaped. */
static void histogram(struct buf *b, const char *name, const char *labels, const struct hist *h)
{
    uint64_t cum = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        cum += h->count[i];
        if (i == HIST_BUCKETS - 1)
            buf_addf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                     (unsigned long long)cum);
        else
            buf_addf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "",
                     h->le[i], (unsigned long long)cum);
    }
    buf_addf(b, "%s_sum%s%s%s %.6f\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
             h->sum);
    buf_addf(b, "%s_count%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
             (unsigned long long)cum);
}

static void job_series(struct buf *b, const struct stats_row *rows, size_t n, int64_t since,
                       int64_t now)
{
    family(b, "trawl_jobs", "gauge", "Jobs in each status now.");
    for (size_t i = 0; i < n; i++)
        for (int s = 0; s < JOB_STATUS_COUNT; s++) {
            buf_adds(b, "trawl_jobs{");
            label(b, "workspace", rows[i].workspace, true);
            label(b, "type", rows[i].type, false);
            label(b, "status", job_status_name(s), false);
            buf_addf(b, "} %lld\n", (long long)rows[i].status[s]);
        }
    static const struct {
        const char *name, *help;
    } rates[] = {
        {"trawl_job_throughput_per_minute", "Jobs completed per minute over the last 5 minutes."},
        {"trawl_job_error_ratio",
         "Jobs failed for good over jobs ended (completed or failed), last 5 minutes."},
        {"trawl_job_processing_seconds_average",
         "Average processing time of the jobs completed in the last 5 minutes."},
        {"trawl_job_attempts_retried", "Attempts that failed with attempts left, last 5 minutes."},
    };
    for (size_t k = 0; k < sizeof rates / sizeof rates[0]; k++) {
        family(b, rates[k].name, "gauge", rates[k].help);
        for (size_t i = 0; i < n; i++) {
            struct job_figures f = {0};
            job_figures_add(&f, &rows[i]);
            job_figures_finish(&f, since, now);
            double v = k == 0   ? f.throughput_per_minute
                       : k == 1 ? f.error_rate
                       : k == 2 ? f.avg_processing_ms / 1000.0
                                : (double)f.retried;
            buf_addf(b, "%s{", rates[k].name);
            label(b, "workspace", rows[i].workspace, true);
            label(b, "type", rows[i].type, false);
            buf_addf(b, "} %.6g\n", v);
        }
    }
}

const char *obs_import_type_name(int t)
{
    return t == IMPORT_TYPE_NONE ? "unknown" : import_type_name(t);
}

static void import_series(struct buf *b, const struct import_stats *st)
{
    family(b, "trawl_imports", "gauge",
           "Feed imports in each status now, by import type (unknown: not detected yet).");
    for (int t = 0; t < IMPORT_TYPE_COUNT; t++)
        for (int k = 0; k < IMPORT_STATUS_COUNT; k++) {
            buf_adds(b, "trawl_imports{");
            label(b, "type", obs_import_type_name(t), true);
            label(b, "status", import_status_name(k), false);
            buf_addf(b, "} %lld\n", (long long)st->imports[t][k]);
        }
    family(b, "trawl_import_products", "gauge",
           "Products of the imports kept, by import type: read (total), processed (mapped and "
           "kept), failed (rows that could not be mapped), delivered (to the imports' webhooks).");
    for (int t = 0; t < IMPORT_TYPE_COUNT; t++) {
        const int64_t v[4] = {st->total_products[t], st->processed_products[t],
                              st->failed_products[t], st->delivered_products[t]};
        static const char *const states[4] = {"total", "processed", "failed", "delivered"};
        for (int k = 0; k < 4; k++) {
            buf_adds(b, "trawl_import_products{");
            label(b, "type", obs_import_type_name(t), true);
            label(b, "state", states[k], false);
            buf_addf(b, "} %lld\n", (long long)v[k]);
        }
    }
}

static void hist_series(struct obs *o, struct buf *b)
{
    pthread_mutex_lock(&o->lock);
    size_t n = o->ntypes;
    struct type_hists *t = n ? xmalloc(n * sizeof *t) : NULL;
    if (n)
        memcpy(t, o->types, n * sizeof *t);
    pthread_mutex_unlock(&o->lock);
    static const char *const names[2] = {"trawl_job_processing_seconds",
                                         "trawl_job_queue_wait_seconds"};
    static const char *const helps[2] = {
        "Processing time of the attempts this process saw complete, by type.",
        "Time from due to claimed of the jobs this process saw claimed, by type."};
    for (int k = 0; k < 2; k++) {
        family(b, names[k], "histogram", helps[k]);
        for (size_t i = 0; i < n; i++) {
            struct buf l;
            buf_init(&l, 64);
            label(&l, "type", t[i].type, true);
            histogram(b, names[k], l.data, k == 0 ? &t[i].proc : &t[i].wait);
            buf_release(&l);
        }
    }
    free(t);
}

static void engine_series(struct obs *o, struct buf *b)
{
    struct engine_stats st;
    engine_stats(o->src.eng, &st);
    family(b, "trawl_store_commits_total", "counter", "Store transactions committed.");
    buf_addf(b, "trawl_store_commits_total %llu\n", (unsigned long long)st.commits);
    family(b, "trawl_store_operations_total", "counter", "Operations in those transactions.");
    buf_addf(b, "trawl_store_operations_total %llu\n", (unsigned long long)st.ops);
    family(b, "trawl_store_commit_seconds", "histogram",
           "Time of each store transaction, from begin to durable.");
    histogram(b, "trawl_store_commit_seconds", "", &st.commit_latency);
    family(b, "trawl_store_commit_operations", "histogram",
           "Operations per store transaction (the group-commit size).");
    histogram(b, "trawl_store_commit_operations", "", &st.commit_size);
}

static void fetch_series(struct obs *o, struct buf *b)
{
    family(b, "trawl_fetches_total", "counter", "Fetches ended, by outcome.");
    struct fetch_stats fs = {0};
    if (o->src.fetcher)
        fetch_stats(o->src.fetcher, &fs);
    for (int k = 0; k < FETCH_KIND_COUNT; k++) {
        buf_adds(b, "trawl_fetches_total{");
        label(b, "outcome", fetch_kind_name(k), true);
        buf_addf(b, "} %llu\n", (unsigned long long)fs.by_kind[k]);
    }
    family(b, "trawl_fetch_bytes_total", "counter", "Bytes of response bodies fetched.");
    buf_addf(b, "trawl_fetch_bytes_total %llu\n", (unsigned long long)fs.bytes);
}

static void breaker_series(struct obs *o, struct buf *b)
{
    family(b, "trawl_breaker_state", "gauge",
           "Circuit breakers that are not closed or have failures: 1 for the state each is in.");
    struct breaker_state *st = NULL;
    size_t n = o->src.breakers ? breakers_snapshot(o->src.breakers, &st) : 0;
    static const enum breaker_mode modes[] = {BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN};
    for (size_t i = 0; i < n; i++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            buf_adds(b, "trawl_breaker_state{");
            label(b, "service", st[i].service, true);
            label(b, "state", breaker_state_name(modes[m]), false);
            buf_addf(b, "} %d\n", st[i].state == modes[m]);
        }
    family(b, "trawl_breaker_failures", "gauge", "Consecutive failures each breaker counts.");
    for (size_t i = 0; i < n; i++) {
        buf_adds(b, "trawl_breaker_failures{");
        label(b, "service", st[i].service, true);
        buf_addf(b, "} %d\n", st[i].failures);
    }
    breakers_snapshot_free(st, n);
}

static void http_series(struct obs *o, struct buf *b)
{
    family(b, "trawl_http_requests_total", "counter",
           "HTTP requests answered, by route and status.");
    pthread_mutex_lock(&o->lock);
    for (size_t i = 0; i < o->nhttp; i++) {
        buf_adds(b, "trawl_http_requests_total{");
        label(b, "method", o->http[i].method, true);
        label(b, "route", o->http[i].route, false);
        buf_addf(b, ",code=\"%u\"} %llu\n", o->http[i].status, (unsigned long long)o->http[i].n);
    }
    uint64_t dropped = o->http_dropped;
    pthread_mutex_unlock(&o->lock);
    family(b, "trawl_http_requests_uncounted_total", "counter",
           "HTTP requests answered but not counted by route: past 512 route and status pairs.");
    buf_addf(b, "trawl_http_requests_uncounted_total %llu\n", (unsigned long long)dropped);
}

static void event_series(struct obs *o, struct buf *b)
{
    size_t subs = 0;
    uint64_t dropped = 0, published = 0;
    if (o->src.events)
        ev_counts(o->src.events, &subs, &dropped, &published);
    family(b, "trawl_event_subscribers", "gauge", "Clients reading GET /v1/events now.");
    buf_addf(b, "trawl_event_subscribers %zu\n", subs);
    family(b, "trawl_event_subscribers_dropped_total", "counter",
           "Subscribers dropped for reading too slowly.");
    buf_addf(b, "trawl_event_subscribers_dropped_total %llu\n", (unsigned long long)dropped);
    family(b, "trawl_events_published_total", "counter", "Live events published.");
    buf_addf(b, "trawl_events_published_total %llu\n", (unsigned long long)published);
}

int obs_prometheus(struct obs *o, const char *workspace, struct buf *out, struct err *e)
{
    int64_t now = engine_now(o->src.eng);
    struct stats_query q = {.workspace = workspace, .since = now - PROM_WINDOW_MS};
    struct stats_row *rows;
    size_t n;
    int rc = engine_job_stats(o->src.eng, &q, &rows, &n, e);
    if (rc < 0)
        return rc;
    struct import_stats ist;
    rc = store_import_stats(engine_store(o->src.eng), workspace, &ist, e);
    if (rc < 0) {
        stats_rows_free(rows, n);
        return rc;
    }
    /* written whole, then added to out at once: past out's cap the answer is an error, never a
     * text cut off in the middle of a series */
    struct buf b;
    buf_init(&b, 0);
    job_series(&b, rows, n, q.since, now);
    stats_rows_free(rows, n);
    import_series(&b, &ist);
    hist_series(o, &b);
    engine_series(o, &b);
    fetch_series(o, &b);
    breaker_series(o, &b);
    http_series(o, &b);
    event_series(o, &b);
    rc = buf_add(out, b.data, b.len);
    if (rc)
        rc = err_set(e, TRAWL_ETOOBIG, false, "the metrics are too large (%zu bytes)", b.len);
    buf_release(&b);
    return rc;
}
