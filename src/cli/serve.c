/* trawl serve: the HTTP API, the worker pools (built-in types, and crawl jobs with the fetcher
 * under them), the monitor and the scheduler on one database, until SIGINT or SIGTERM. The first
 * signal stops claiming and gives running jobs a grace period; a second exits at once. Nothing
 * acknowledged is lost either way: acknowledgements are commits. */
#include "cli/cli.h"

#include "alert/alerts.h"
#include "api/api.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "engine/breaker.h"
#include "engine/monitor.h"
#include "engine/scheduler.h"
#include "engine/worker.h"
#include "fetch/fetch.h"
#include "handlers/crawl.h"
#include "handlers/handlers.h"
#include "handlers/scrape.h"
#include "obs/events.h"
#include "obs/metrics.h"
#include "store/crawl.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_[] =
    "usage: trawl serve [options]\n"
    "  --db PATH              database file (default $TRAWL_DB or ./trawl.db)\n"
    "  --listen HOST:PORT     the HTTP API (default 127.0.0.1:8080; port 0 picks one)\n"
    "  --no-auth              no API tokens: every request is in workspace \"default\";\n"
    "                         only on a loopback address\n"
    "  --body-max BYTES       request body cap (default 1048576)\n"
    "  --header-timeout S     close a connection idle or stalled this long (default 30)\n"
    "  --max-waits N          requests waiting on jobs at once; more get 429 (default 512)\n"
    "  --workers N            threads for built-in job types (default 4; 0: none)\n"
    "  --crawl-workers N      crawl jobs and scraping sessions run at once (default 64; 0: none)\n"
    "  --batch N              most jobs claimed at once (default 256)\n"
    "  --durability MODE      durable (default): every acknowledged change is fsynced;\n"
    "                         relaxed: survives a crash of trawl, not of the machine\n"
    "  --grace MS             how long running jobs may finish at shutdown (default 10000)\n"
    "  --sweep MS             how often the monitor sweeps (default 2000)\n"
    "  --type TYPE.KEY=VALUE  a job type setting; KEY is max_attempts, backoff_base_ms,\n"
    "                         backoff_cap_ms, timeout_ms, lease_ms or no_progress_ms (repeatable)\n"
    "  --log-level LEVEL      debug, info (default), warn or error\n"
    "  --event-buffer N       live events kept for clients that reconnect (default 16384)\n"
    "alerts:\n"
    "  --sentry-dsn DSN       send alerts to Sentry (default $SENTRY_DSN)\n"
    "  --alert-webhook URL    POST alerts as JSON, signed with HMAC-SHA256\n"
    "  --alert-secret TEXT    the webhook's signing key (default $TRAWL_ALERT_SECRET)\n"
    "  --alert-window MS      alerts with one fingerprint at most once per window\n"
    "                         (default 60000; 0: no limit)\n"
    "  --alert-timeout MS     most time for one delivery (default 10000)\n"
    "fetching:\n"
    "  --allow-private CIDR   let fetches reach this private or special range (repeatable)\n"
    "  --no-ssrf-guard        let fetches reach any address (never on a shared network)\n"
    "  --resolve H:P:ADDR     fetch host H port P from address ADDR (repeatable)\n"
    "  --user-agent TEXT      the User-Agent of fetches\n"
    "  --ignore-robots        do not read or obey robots.txt\n"
    "  --host-connections N   requests in flight per site (default 8)\n"
    "  --host-delay MS        pause between requests to one site (default 0)\n"
    "  --fetch-timeout MS     most time for one request (default 60000)\n"
    "  --connect-timeout MS   most time to connect (default 10000)\n"
    "  --first-byte-timeout MS  most time until the first byte of a response (default 30000)\n"
    "  --min-speed BYTES      slower than this many bytes/s ... (default 512)\n"
    "  --min-speed-time MS    ... for this long drops a transfer (default 20000)\n"
    "  --max-body BYTES       most bytes of a page after decompression (default 10485760)\n"
    "  --max-redirects N      most redirects followed (default 5)\n"
    "  --breaker-failures N   failures in a row that open a site's breaker (default 5)\n"
    "  --breaker-open MS      how long a breaker stays open at first (default 30000)\n"
    "  --body-retention MS    drop stored pages older than this (default 0: keep)\n";

static pthread_mutex_t sig_lock_ = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_cv_ = PTHREAD_COND_INITIALIZER;
static int signals_;

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        pthread_mutex_lock(&sig_lock_);
        int n = ++signals_;
        pthread_cond_signal(&sig_cv_);
        pthread_mutex_unlock(&sig_lock_);
        if (n == 1) {
            log_info("%s: stopping; send it again to exit at once", strsignal(sig));
        } else {
            log_warn("second signal: exiting now; running jobs come back when their leases "
                     "expire");
            _exit(130);
        }
    }
    return NULL;
}

static int type_option(struct engine *eng, const char *opt)
{
    const char *dot = strchr(opt, '.');
    const char *eq = dot ? strchr(dot, '=') : NULL;
    if (!dot || !eq || dot == opt || dot - opt > JOB_TYPE_MAX) {
        fprintf(stderr, "trawl: --type: expected TYPE.KEY=VALUE, got '%s'\n", opt);
        return 2;
    }
    char type[JOB_TYPE_MAX + 1], key[64];
    snprintf(type, sizeof type, "%.*s", (int)(dot - opt), opt);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    struct job_type_config cfg;
    engine_type(eng, type, &cfg);
    int64_t v;
    if (!cli_int("--type", eq + 1, -1, INT64_MAX / 4, &v))
        return 2;
    if (!strcmp(key, "max_attempts"))
        cfg.max_attempts = (int)(v > JOB_ATTEMPTS_MAX ? -1 : v);
    else if (!strcmp(key, "backoff_base_ms"))
        cfg.backoff.base_ms = v;
    else if (!strcmp(key, "backoff_cap_ms"))
        cfg.backoff.cap_ms = v;
    else if (!strcmp(key, "timeout_ms"))
        cfg.timeout_ms = v;
    else if (!strcmp(key, "lease_ms"))
        cfg.lease_ms = v;
    else if (!strcmp(key, "no_progress_ms"))
        cfg.no_progress_ms = v;
    else {
        fprintf(stderr, "trawl: --type: unknown setting '%s'\n", key);
        return 2;
    }
    struct err e;
    if (engine_set_type(eng, &cfg, &e)) {
        fprintf(stderr, "trawl: --type %s: %s\n", opt, e.msg);
        return 2;
    }
    return 0;
}

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
static int expire_bodies(struct store *s, void *arg, struct err *e)
{
    int64_t *a = arg;
    int rc = store_crawl_expire(s, a[0], 5000, e);
    if (rc >= 0)
        a[1] = rc;
    return rc < 0 ? rc : 0;
}

enum {
    OPT_LISTEN = 256,
    OPT_NO_AUTH,
    OPT_BODY_MAX,
    OPT_CRAWL_WORKERS,
    OPT_ALLOW_PRIVATE,
    OPT_NO_SSRF,
    OPT_RESOLVE,
    OPT_UA,
    OPT_IGNORE_ROBOTS,
    OPT_HOST_CONN,
    OPT_HOST_DELAY,
    OPT_FETCH_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_FIRST_BYTE,
    OPT_MIN_SPEED,
    OPT_MIN_SPEED_TIME,
    OPT_MAX_BODY,
    OPT_MAX_REDIRECTS,
    OPT_BREAKER_FAILURES,
    OPT_BREAKER_OPEN,
    OPT_RETENTION,
    OPT_HEADER_TIMEOUT,
    OPT_MAX_WAITS,
    OPT_EVENT_BUFFER,
    OPT_SENTRY_DSN,
    OPT_ALERT_WEBHOOK,
    OPT_ALERT_SECRET,
    OPT_ALERT_WINDOW,
    OPT_ALERT_TIMEOUT,
};

static bool set_level(const char *v)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } levels[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (!strcmp(v, levels[i].name)) {
            log_set_level(levels[i].lvl);
            return true;
        }
    fprintf(stderr, "trawl: --log-level: expected debug, info, warn or error\n");
    return false;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, 0, 'd'},
        {"workers", required_argument, 0, 'w'},
        {"batch", required_argument, 0, 'b'},
        {"durability", required_argument, 0, 'D'},
        {"grace", required_argument, 0, 'g'},
        {"sweep", required_argument, 0, 's'},
        {"type", required_argument, 0, 't'},
        {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},
        {"listen", required_argument, 0, OPT_LISTEN},
        {"no-auth", no_argument, 0, OPT_NO_AUTH},
        {"body-max", required_argument, 0, OPT_BODY_MAX},
        {"crawl-workers", required_argument, 0, OPT_CRAWL_WORKERS},
        {"allow-private", required_argument, 0, OPT_ALLOW_PRIVATE},
        {"no-ssrf-guard", no_argument, 0, OPT_NO_SSRF},
        {"resolve", required_argument, 0, OPT_RESOLVE},
        {"user-agent", required_argument, 0, OPT_UA},
        {"ignore-robots", no_argument, 0, OPT_IGNORE_ROBOTS},
        {"host-connections", required_argument, 0, OPT_HOST_CONN},
        {"host-delay", required_argument, 0, OPT_HOST_DELAY},
        {"fetch-timeout", required_argument, 0, OPT_FETCH_TIMEOUT},
        {"connect-timeout", required_argument, 0, OPT_CONNECT_TIMEOUT},
        {"first-byte-timeout", required_argument, 0, OPT_FIRST_BYTE},
        {"min-speed", required_argument, 0, OPT_MIN_SPEED},
        {"min-speed-time", required_argument, 0, OPT_MIN_SPEED_TIME},
        {"max-body", required_argument, 0, OPT_MAX_BODY},
        {"max-redirects", required_argument, 0, OPT_MAX_REDIRECTS},
        {"breaker-failures", required_argument, 0, OPT_BREAKER_FAILURES},
        {"breaker-open", required_argument, 0, OPT_BREAKER_OPEN},
        {"body-retention", required_argument, 0, OPT_RETENTION},
        {"header-timeout", required_argument, 0, OPT_HEADER_TIMEOUT},
        {"event-buffer", required_argument, 0, OPT_EVENT_BUFFER},
        {"sentry-dsn", required_argument, 0, OPT_SENTRY_DSN},
        {"alert-webhook", required_argument, 0, OPT_ALERT_WEBHOOK},
        {"alert-secret", required_argument, 0, OPT_ALERT_SECRET},
        {"alert-window", required_argument, 0, OPT_ALERT_WINDOW},
        {"alert-timeout", required_argument, 0, OPT_ALERT_TIMEOUT},
        {"max-waits", required_argument, 0, OPT_MAX_WAITS},
        {0, 0, 0, 0},
    };
    const char *db = cli_default_db();
    int64_t workers = 4, crawl_workers = 64, batch = 256, grace = 10000, sweep = 2000, v;
    int64_t event_buffer = 16384;
    int64_t retention = 0;
    enum store_durability dur = STORE_DURABLE;
    struct api_opts ao = {0};
    struct fetch_opts fo = {0};
    struct breaker_opts bo = {0};
    struct alert_opts alo = {.sentry_dsn = getenv("SENTRY_DSN"),
                             .webhook_secret = getenv("TRAWL_ALERT_SECRET"),
                             .session_type = SCRAPE_TYPE};
    if (alo.sentry_dsn && !*alo.sentry_dsn)
        alo.sentry_dsn = NULL; /* SENTRY_DSN= turns it off */
    struct ssrf_policy *policy = ssrf_policy_new();
    char **types = calloc((size_t)argc + 1, sizeof *types);
    const char **resolve = calloc((size_t)argc + 1, sizeof *resolve);
    int ntypes = 0, nresolve = 0, c, rc = 2;
    struct err e;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'w':
            if (!cli_int("--workers", optarg, 0, 1024, &workers))
                goto out;
            break;
        case OPT_CRAWL_WORKERS:
            if (!cli_int("--crawl-workers", optarg, 0, 4096, &crawl_workers))
                goto out;
            break;
        case 'b':
            if (!cli_int("--batch", optarg, 1, 100000, &batch))
                goto out;
            break;
        case 'g':
            if (!cli_int("--grace", optarg, 0, 3600000, &grace))
                goto out;
            break;
        case 's':
            if (!cli_int("--sweep", optarg, 10, 3600000, &sweep))
                goto out;
            break;
        case 'D':
            if (!strcmp(optarg, "durable"))
                dur = STORE_DURABLE;
            else if (!strcmp(optarg, "relaxed"))
                dur = STORE_RELAXED;
            else {
                fprintf(stderr, "trawl: --durability: expected durable or relaxed\n");
                goto out;
            }
            break;
        case 't':
            types[ntypes++] = optarg;
            break;
        case 'l':
            if (!set_level(optarg))
                goto out;
            break;
        case OPT_LISTEN:
            ao.listen = optarg;
            break;
        case OPT_NO_AUTH:
            ao.no_auth = true;
            break;
        case OPT_BODY_MAX:
            if (!cli_int("--body-max", optarg, 1024, 1 << 30, &v))
                goto out;
            ao.body_max = (size_t)v;
            break;
        case OPT_ALLOW_PRIVATE:
            if (ssrf_policy_allow(policy, optarg, &e) != 0) {
                fprintf(stderr, "trawl: --allow-private: %s\n", e.msg);
                goto out;
            }
            break;
        case OPT_NO_SSRF:
            ssrf_policy_disable(policy);
            break;
        case OPT_RESOLVE:
            if (strchr(optarg, ':') == NULL || strchr(strchr(optarg, ':') + 1, ':') == NULL) {
                fprintf(stderr, "trawl: --resolve: expected HOST:PORT:ADDRESS, got '%s'\n", optarg);
                goto out;
            }
            resolve[nresolve++] = optarg;
            break;
        case OPT_UA:
            fo.user_agent = optarg;
            break;
        case OPT_IGNORE_ROBOTS:
            fo.ignore_robots = true;
            break;
        case OPT_HOST_CONN:
            if (!cli_int("--host-connections", optarg, 1, 1024, &v))
                goto out;
            fo.host_connections = (int)v;
            break;
        case OPT_HOST_DELAY:
            if (!cli_int("--host-delay", optarg, 0, 3600000, &fo.host_delay_ms))
                goto out;
            break;
        case OPT_FETCH_TIMEOUT:
            if (!cli_int("--fetch-timeout", optarg, 100, 3600000, &fo.total_timeout_ms))
                goto out;
            break;
        case OPT_CONNECT_TIMEOUT:
            if (!cli_int("--connect-timeout", optarg, 100, 3600000, &fo.connect_timeout_ms))
                goto out;
            break;
        case OPT_FIRST_BYTE:
            if (!cli_int("--first-byte-timeout", optarg, 100, 3600000, &fo.first_byte_timeout_ms))
                goto out;
            break;
        case OPT_MIN_SPEED:
            if (!cli_int("--min-speed", optarg, 1, 1 << 30, &v))
                goto out;
            fo.min_speed_bps = (long)v;
            break;
        case OPT_MIN_SPEED_TIME:
            if (!cli_int("--min-speed-time", optarg, 1000, 3600000, &fo.min_speed_ms))
                goto out;
            break;
        case OPT_MAX_BODY:
            if (!cli_int("--max-body", optarg, 1024, (int64_t)1 << 32, &v))
                goto out;
            fo.max_body = (size_t)v;
            break;
        case OPT_MAX_REDIRECTS:
            if (!cli_int("--max-redirects", optarg, 0, 20, &v))
                goto out;
            fo.max_redirects = v ? (int)v : -1;
            break;
        case OPT_BREAKER_FAILURES:
            if (!cli_int("--breaker-failures", optarg, 1, 1000, &v))
                goto out;
            bo.failures = (int)v;
            break;
        case OPT_BREAKER_OPEN:
            if (!cli_int("--breaker-open", optarg, 100, 86400000, &bo.open_ms))
                goto out;
            break;
        case OPT_HEADER_TIMEOUT:
            if (!cli_int("--header-timeout", optarg, 1, 3600, &v))
                goto out;
            ao.header_timeout_s = (unsigned)v;
            break;
        case OPT_EVENT_BUFFER:
            if (!cli_int("--event-buffer", optarg, 16, 16 * 1024 * 1024, &event_buffer))
                goto out;
            break;
        case OPT_SENTRY_DSN:
            alo.sentry_dsn = optarg;
            break;
        case OPT_ALERT_WEBHOOK:
            alo.webhook_url = optarg;
            break;
        case OPT_ALERT_SECRET:
            alo.webhook_secret = optarg;
            break;
        case OPT_ALERT_WINDOW:
            if (!cli_int("--alert-window", optarg, 0, 86400000, &v))
                goto out;
            alo.rate_window_ms = v ? v : -1;
            break;
        case OPT_ALERT_TIMEOUT:
            if (!cli_int("--alert-timeout", optarg, 100, 600000, &alo.timeout_ms))
                goto out;
            break;
        case OPT_MAX_WAITS:
            if (!cli_int("--max-waits", optarg, 1, 100000, &v))
                goto out;
            ao.waits_max = (unsigned)v;
            break;
        case OPT_RETENTION:
            if (!cli_int("--body-retention", optarg, 0, INT64_MAX / 4, &retention))
                goto out;
            break;
        case 'h':
            fputs(usage_, stdout);
            rc = 0;
            goto out;
        default:
            fputs(usage_, stderr);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "trawl serve: unexpected argument '%s'\n", argv[optind]);
        goto out;
    }
    if (alert_opts_check(&alo, &e)) {
        fprintf(stderr, "trawl serve: %s\n", e.msg);
        goto out;
    }
    fo.ssrf = policy;
    fo.resolve = resolve;

    /* signals are taken by one thread; every other thread inherits the blocked mask */
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t sigt;
    pthread_create(&sigt, NULL, signal_main, &set);

    struct engine *eng;
    if (cli_open(db, dur, &eng)) {
        rc = 1;
        goto out;
    }
    for (int i = 0; i < ntypes; i++)
        if ((rc = type_option(eng, types[i])) != 0) {
            engine_close(eng);
            goto out;
        }
    rc = 1;
    struct fetcher *fetcher = NULL;
    struct breakers *breakers = breakers_new(&bo, NULL);
    struct pool *pool = NULL, *cpool = NULL;
    struct monitor *mon = NULL;
    struct scheduler *sched = NULL;
    struct api *api = NULL;
    struct obs *obs = NULL;
    struct alerter *alerter = NULL;
    struct ev_bus *bus = ev_bus_new(
        eng, breakers,
        &(struct ev_opts){.session_type = SCRAPE_TYPE, .capacity = (size_t)event_buffer});
    if (fetcher_new(&fo, &fetcher, &e) || alerter_new(eng, bus, breakers, &alo, &alerter, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        goto stop;
    }
    struct crawler crawler = {.fetcher = fetcher, .breakers = breakers};
    struct runner runner = {
        .base = {runner_process}, .eng = eng, .handler = {CRAWL_TYPE, handler_crawl, &crawler}};
    size_t nh;
    const struct job_handler *builtin = handlers_builtin(&nh);
    /* the built-in types, and alert deliveries */
    struct job_handler h[ENGINE_CLAIM_TYPES_MAX];
    memcpy(h, builtin, nh * sizeof *h);
    h[nh++] = (struct job_handler){ALERT_TYPE, handler_alert, alerter};
    if (workers > 0) {
        struct pool_opts po = {.workers = (int)workers, .batch = (size_t)batch};
        if (pool_start(eng, h, nh, &po, &pool, &e)) {
            fprintf(stderr, "trawl: %s\n", e.msg);
            goto stop;
        }
    }
    /* crawl jobs and scraping sessions share the fetcher, its politeness and its breakers */
    /* a session's three stages run in the pool that fetches (only ingest fetches; extract and sync
     * go with it so that sessions need no other pool) */
    const struct job_handler fetching[] = {runner.handler,
                                           {SCRAPE_TYPE, handler_scrape, &crawler},
                                           {SCRAPE_EXTRACT_TYPE, handler_scrape_extract, NULL},
                                           {SCRAPE_SYNC_TYPE, handler_scrape_sync, NULL}};
    if (crawl_workers > 0) {
        struct pool_opts po = {.workers = (int)crawl_workers, .batch = (size_t)batch};
        if (pool_start(eng, fetching, sizeof fetching / sizeof fetching[0], &po, &cpool, &e)) {
            fprintf(stderr, "trawl: %s\n", e.msg);
            goto stop;
        }
    }
    mon = monitor_start(eng, sweep);
    sched = scheduler_start(eng, 1000); /* schedules' slots become jobs */
    obs = obs_new(
        &(struct obs_sources){.eng = eng, .fetcher = fetcher, .breakers = breakers, .events = bus});
    struct api_deps deps = {.eng = eng,
                            .breakers = breakers,
                            .runner = &runner.base,
                            .scrape_check = scrape_config_check,
                            .obs = obs,
                            .events = bus};
    if (api_start(&deps, &ao, &api, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        rc = e.code == TRAWL_EINVAL ? 2 : 1; /* a bad --listen is bad usage */
        goto stop;
    }
    log_info("trawl serve: %s, api on %s (port %d), %lld workers, %lld crawl workers, %s "
             "durability, schema v%d%s, alerts to %s%s%s; ready",
             db, ao.listen ? ao.listen : API_DEFAULT_LISTEN, api_port(api), (long long)workers,
             (long long)crawl_workers, dur == STORE_DURABLE ? "full" : "relaxed",
             store_schema_version(), ao.no_auth ? ", no auth" : "", alo.sentry_dsn ? "Sentry" : "",
             alo.sentry_dsn && alo.webhook_url ? " and " : "",
             alo.webhook_url   ? "the webhook"
             : !alo.sentry_dsn ? "the log and events only"
                               : "");
    /* a line for scripts and tests that start trawl on port 0 */
    printf("listening on port %d\n", api_port(api));
    fflush(stdout);

    /* bodies past the retention are dropped a few times per retention period, at least every
     * minute */
    int64_t every_ms = retention / 4 < 1000 ? 1000 : retention / 4 > 60000 ? 60000 : retention / 4;
    pthread_mutex_lock(&sig_lock_);
    while (signals_ == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += every_ms / 1000;
        ts.tv_nsec += (every_ms % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&sig_cv_, &sig_lock_, &ts);
        if (signals_ == 0 && retention > 0) {
            pthread_mutex_unlock(&sig_lock_);
            int64_t before = engine_now(eng) - retention;
            /* a pass drops up to 5000 bodies; a busy crawler fetches more than that between
             * two checks, so passes go on until one drops fewer */
            for (int pass = 0; pass < 100; pass++) {
                int64_t arg[2] = {before, 0};
                if (engine_exec(eng, expire_bodies, arg, &e) < 0) {
                    log_warn("body retention: %s", e.msg);
                    break;
                }
                if (arg[1] < 5000)
                    break;
            }
            pthread_mutex_lock(&sig_lock_);
        }
    }
    pthread_mutex_unlock(&sig_lock_);
    rc = 0;
stop:;
    int ret = rc;
    bool clean = true;
    scheduler_stop(sched); /* no slot is enqueued while the rest stops */
    api_drain(api);
    engine_stop_waits(eng);
    if (pool)
        clean = pool_stop(pool, grace) && clean;
    if (cpool)
        clean = pool_stop(cpool, grace) && clean;
    monitor_stop(mon);
    if (!clean) {
        log_warn("some handlers did not stop; their jobs were released; exiting");
        _exit(0);
    }
    api_stop(api);
    alerter_free(alerter);
    ev_bus_free(bus);
    obs_free(obs);
    fetcher_free(fetcher);
    breakers_free(breakers);
    engine_close(eng);
    if (ret == 0)
        log_info("trawl serve: stopped");
    rc = ret;
out:
    ssrf_policy_free(policy);
    free(types);
    free(resolve);
    return rc;
}
