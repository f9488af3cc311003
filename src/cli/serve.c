/* trawl serve: the HTTP API, the worker pools (built-in types, and crawl jobs with the fetcher
 * under them), the monitor and the scheduler on one database, until SIGINT or SIGTERM. The first
 * signal stops claiming and gives running jobs a grace period; a second exits at once. Nothing
 * acknowledged is lost either way: acknowledgements are commits. */
#include "cli/cli.h"

#include "api/api.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cli/setup.h"
#include "engine/monitor.h"
#include "engine/scheduler.h"
#include "handlers/import.h"
#include "handlers/scrape.h"
#include "obs/events.h"
#include "obs/metrics.h"
#include "store/crawl.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_[] =
    "usage: trawl serve [options]\n"
    "  --listen HOST:PORT     the HTTP API (default 127.0.0.1:8080; port 0 picks one)\n"
    "  --no-auth              no API tokens: every request is in workspace \"default\";\n"
    "                         only on a loopback address\n"
    "  --body-max BYTES       request body cap (default 1048576)\n"
    "  --upload-max BYTES     an uploaded feed's cap (POST /v1/imports; default 4 GiB)\n"
    "  --header-timeout S     close a connection idle or stalled this long (default 30)\n"
    "  --max-waits N          requests waiting on jobs at once; more get 429 (default 512)\n"
    "  --workers N            threads for built-in job types (default 4; 0: none)\n"
    "  --crawl-workers N      crawl jobs and scraping sessions run at once (default 64; 0: none)\n"
    "  --batch N              most jobs claimed at once (default 256)\n"
    "  --sweep MS             how often the monitor sweeps (default 2000)\n"
    "  --event-buffer N       live events kept for clients that reconnect (default 16384)\n"
    "  --body-retention MS    drop stored pages older than this (default 0: keep)\n"
    "  --job-retention MS     delete completed and cancelled jobs this long after they\n"
    "                         ended, with their events and results (default 604800000:\n"
    "                         7 days; 0: keep)\n"
    "  --dead-retention MS    delete failed jobs (the dead-letter queue) this long after\n"
    "                         they failed (default 2592000000: 30 days; 0: keep)\n"
    "  (--db defaults to $TRAWL_DB or ./trawl.db)\n";

/* POST /v1/crawl-jobs/process: claim a workspace's pending crawl jobs and run them here. */
struct runner {
    struct crawl_runner base;
    struct engine *eng;
    struct job_handler handler;
};

static int runner_process(struct crawl_runner *cr, const char *workspace, size_t n,
                          struct job_outcome **out, struct err *e)
{
    struct runner *r = (struct runner *)cr;
    const char *types[] = {CRAWL_TYPE};
    char owner[96];
    snprintf(owner, sizeof owner, "process:%d", (int)getpid());
    struct job *jobs;
    size_t got;
    *out = NULL;
    int rc = engine_claim_in(r->eng, workspace, types, 1, n, owner, 0, &jobs, &got, e);
    if (rc < 0)
        return rc;
    if (got == 0)
        return 0;
    *out = xcalloc(got, sizeof **out);
    rc = pool_run_jobs(r->eng, &r->handler, 1, jobs, got, got < 16 ? (int)got : 16, *out, e);
    free(jobs);
    return rc < 0 ? rc : (int)got;
}

/* arg: {before, out: how many were dropped} */
#define DAY_MS (86400LL * 1000)

static int expire_bodies(struct store *s, void *arg, struct err *e)
{
    int64_t *a = arg;
    int rc = store_crawl_expire(s, a[0], 5000, e);
    if (rc >= 0)
        a[1] = rc;
    return rc < 0 ? rc : 0;
}

/* Drop the bodies, and delete the jobs, past their retention (0: kept). Returns whether jobs
 * are left to delete: a second of deleting at a time keeps a signal answered. */
static bool housekeep(struct engine *eng, int64_t body_keep, int64_t job_keep, int64_t dead_keep)
{
    struct err e;
    err_clear(&e);
    if (body_keep > 0) {
        int64_t before = engine_now(eng) - body_keep;
        /* a pass drops up to 5000 bodies; a busy crawler fetches more than that between two
         * checks, so passes go on until one drops fewer */
        for (int pass = 0; pass < 100; pass++) {
            int64_t arg[2] = {before, 0};
            if (engine_exec(eng, expire_bodies, arg, &e) < 0) {
                log_warn("body retention: %s", e.msg);
                break;
            }
            if (arg[1] < 5000)
                break;
        }
    }
    int64_t pruned = 0;
    bool more = false;
    if (engine_prune(eng, job_keep, dead_keep, 1000, &pruned, &more, &e) < 0)
        log_warn("job retention: %s (%lld jobs deleted before)", e.msg, (long long)pruned);
    else if (pruned > 0)
        log_info("job retention: deleted %lld finished jobs%s", (long long)pruned,
                 more ? ", more to go" : "");
    return more;
}

enum {
    OPT_LISTEN = 256,
    OPT_NO_AUTH,
    OPT_BODY_MAX,
    OPT_UPLOAD_MAX,
    OPT_WORKERS,
    OPT_CRAWL_WORKERS,
    OPT_BATCH,
    OPT_SWEEP,
    OPT_RETENTION,
    OPT_HEADER_TIMEOUT,
    OPT_MAX_WAITS,
    OPT_EVENT_BUFFER,
    OPT_JOB_RETENTION,
    OPT_DEAD_RETENTION,
};

static void usage(FILE *f)
{
    fputs(usage_, f);
    fputs(setup_usage, f);
    fputs(setup_usage_alerts, f);
}

struct serve_opts {
    int64_t workers, crawl_workers, batch, sweep, event_buffer, retention, job_keep, dead_keep;
    struct api_opts api;
};

static bool serve_take(void *ctx, int c, const char *arg)
{
    struct serve_opts *o = ctx;
    int64_t v;
    switch (c) {
    case OPT_WORKERS:
        return cli_int("--workers", arg, 0, 1024, &o->workers);
    case OPT_CRAWL_WORKERS:
        return cli_int("--crawl-workers", arg, 0, 4096, &o->crawl_workers);
    case OPT_BATCH:
        return cli_int("--batch", arg, 1, 100000, &o->batch);
    case OPT_SWEEP:
        return cli_int("--sweep", arg, 10, 3600000, &o->sweep);
    case OPT_LISTEN:
        o->api.listen = arg;
        return true;
    case OPT_NO_AUTH:
        o->api.no_auth = true;
        return true;
    case OPT_BODY_MAX:
        if (!cli_int("--body-max", arg, 1024, 1 << 30, &v))
            return false;
        o->api.body_max = (size_t)v;
        return true;
    case OPT_UPLOAD_MAX:
        return cli_int("--upload-max", arg, 1, INT64_MAX / 2, &o->api.upload_max);
    case OPT_HEADER_TIMEOUT:
        if (!cli_int("--header-timeout", arg, 1, 3600, &v))
            return false;
        o->api.header_timeout_s = (unsigned)v;
        return true;
    case OPT_EVENT_BUFFER:
        return cli_int("--event-buffer", arg, 16, 16 * 1024 * 1024, &o->event_buffer);
    case OPT_MAX_WAITS:
        if (!cli_int("--max-waits", arg, 1, 100000, &v))
            return false;
        o->api.waits_max = (unsigned)v;
        return true;
    case OPT_RETENTION:
        return cli_int("--body-retention", arg, 0, INT64_MAX / 4, &o->retention);
    case OPT_JOB_RETENTION:
        return cli_int("--job-retention", arg, 0, INT64_MAX / 4, &o->job_keep);
    case OPT_DEAD_RETENTION:
        return cli_int("--dead-retention", arg, 0, INT64_MAX / 4, &o->dead_keep);
    default:
        return false;
    }
}

int cmd_serve(int argc, char **argv)
{
    static const struct option own[] = {
        {"workers", required_argument, 0, OPT_WORKERS},
        {"batch", required_argument, 0, OPT_BATCH},
        {"sweep", required_argument, 0, OPT_SWEEP},
        {"listen", required_argument, 0, OPT_LISTEN},
        {"no-auth", no_argument, 0, OPT_NO_AUTH},
        {"body-max", required_argument, 0, OPT_BODY_MAX},
        {"upload-max", required_argument, 0, OPT_UPLOAD_MAX},
        {"crawl-workers", required_argument, 0, OPT_CRAWL_WORKERS},
        {"body-retention", required_argument, 0, OPT_RETENTION},
        {"job-retention", required_argument, 0, OPT_JOB_RETENTION},
        {"dead-retention", required_argument, 0, OPT_DEAD_RETENTION},
        {"header-timeout", required_argument, 0, OPT_HEADER_TIMEOUT},
        {"event-buffer", required_argument, 0, OPT_EVENT_BUFFER},
        {"max-waits", required_argument, 0, OPT_MAX_WAITS},
        {0, 0, 0, 0},
    };
    struct setup su;
    setup_init(&su, argc);
    struct serve_opts o = {.workers = 4,
                           .crawl_workers = 64,
                           .batch = 256,
                           .sweep = 2000,
                           .event_buffer = 16384,
                           .job_keep = 7 * DAY_MS,
                           .dead_keep = 30 * DAY_MS};
    int rc = setup_parse(&su, argc, argv, own, usage, serve_take, &o);
    if (rc >= 0)
        goto out;
    const struct api_opts ao = o.api;
    int64_t workers = o.workers, crawl_workers = o.crawl_workers, batch = o.batch;
    int64_t retention = o.retention, job_keep = o.job_keep, dead_keep = o.dead_keep;
    if (!su.db)
        su.db = cli_default_db();

    setup_signals();
    if ((rc = setup_open(&su, "serve", (size_t)o.event_buffer)) != 0)
        goto out;
    rc = 1;
    struct engine *eng = su.eng;
    struct pool *pool = NULL, *cpool = NULL;
    struct monitor *mon = NULL;
    struct scheduler *sched = NULL;
    struct api *api = NULL;
    struct obs *obs = NULL;
    struct err e;
    struct runner runner = {.base = {runner_process}, .eng = eng};
    setup_handler(&su, CRAWL_TYPE, &runner.handler);
    struct job_handler h[ENGINE_CLAIM_TYPES_MAX];
    size_t nh = setup_handlers(&su, SETUP_POOL_WORKERS, h);
    if (workers > 0) {
        struct pool_opts po = {.workers = (int)workers, .batch = (size_t)batch};
        if (pool_start(eng, h, nh, &po, &pool, &e)) {
            fprintf(stderr, "trawl: %s\n", e.msg);
            goto stop;
        }
    }
    nh = setup_handlers(&su, SETUP_POOL_FETCHING, h);
    if (crawl_workers > 0) {
        struct pool_opts po = {.workers = (int)crawl_workers, .batch = (size_t)batch};
        if (pool_start(eng, h, nh, &po, &cpool, &e)) {
            fprintf(stderr, "trawl: %s\n", e.msg);
            goto stop;
        }
    }
    mon = monitor_start(eng, o.sweep);
    sched = scheduler_start(eng, 1000); /* schedules' slots become jobs */
    obs = obs_new(&(struct obs_sources){
        .eng = eng, .fetcher = su.fetcher, .breakers = su.breakers, .events = su.bus});
    struct api_deps deps = {.eng = eng,
                            .breakers = su.breakers,
                            .runner = &runner.base,
                            .scrape_check = scrape_config_check,
                            .obs = obs,
                            .events = su.bus,
                            .import_dir = su.import_path,
                            .feed_path = import_feed_path};
    if (api_start(&deps, &ao, &api, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        rc = e.code == TRAWL_EINVAL ? 2 : 1; /* a bad --listen is bad usage */
        goto stop;
    }
    const struct alert_opts *alo = &su.alerts;
    bool pg = store_is_pg(su.db);
    char *shown = pg ? store_pg_describe(su.db) : xstrdup(su.db);
    log_info("trawl serve: %s, api on %s (port %d), %lld workers, %lld crawl workers, %s "
             "durability, schema v%d%s, alerts to %s%s%s; ready",
             shown, ao.listen ? ao.listen : API_DEFAULT_LISTEN, api_port(api), (long long)workers,
             (long long)crawl_workers, su.durability == STORE_DURABLE ? "full" : "relaxed",
             pg ? store_pg_schema_version() : store_schema_version(), ao.no_auth ? ", no auth" : "",
             alo->sentry_dsn ? "Sentry" : "", alo->sentry_dsn && alo->webhook_url ? " and " : "",
             alo->webhook_url   ? "the webhook"
             : !alo->sentry_dsn ? "the log and events only"
                                : "");
    free(shown);
    /* a line for scripts and tests that start trawl on port 0 */
    printf("listening on port %d\n", api_port(api));
    fflush(stdout);

    /* what is past its retention goes a few times per retention period, at least every minute */
    int64_t shortest = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        int64_t k = i == 0 ? retention : i == 1 ? job_keep : dead_keep;
        if (k > 0 && k < shortest)
            shortest = k;
    }
    int64_t every_ms = shortest / 4 < 1000 ? 1000 : shortest / 4 > 60000 ? 60000 : shortest / 4;
    bool more = false;
    while (!setup_wait_signal(more ? 10 : every_ms))
        more = housekeep(eng, retention, job_keep, dead_keep);
    rc = 0;
stop:;
    int ret = rc;
    bool clean = true;
    scheduler_stop(sched); /* no slot is enqueued while the rest stops */
    api_drain(api);
    engine_stop_waits(eng);
    if (pool)
        clean = pool_stop(pool, su.grace_ms) && clean;
    if (cpool)
        clean = pool_stop(cpool, su.grace_ms) && clean;
    monitor_stop(mon);
    if (!clean) {
        log_warn("some handlers did not stop; their jobs were released; exiting");
        _exit(0);
    }
    api_stop(api);
    obs_free(obs);
    if (ret == 0)
        log_info("trawl serve: stopped");
    rc = ret;
out:
    setup_release(&su);
    return rc;
}
