/* The options, parts, job handlers and signal handling that trawl serve and trawl work share, so
 * that both run every job type the same way from one table. */
#include "cli/setup.h"

#include "base/log.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "handlers/handlers.h"
#include "handlers/import.h"
#include "handlers/scrape.h"
#include "obs/events.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char setup_usage[] =
    "  --db PATH|URL          database file, or PostgreSQL: postgres://user@host/db or a libpq\n"
    "                         keyword string (\"host=/run/postgresql dbname=trawl\")\n"
    "  --durability MODE      durable (default): every acknowledged change is fsynced;\n"
    "                         relaxed: survives a crash of trawl, not of the machine\n"
    "  --grace MS             how long running jobs may finish once stopping (default 10000)\n"
    "  --type TYPE.KEY=VALUE  a job type setting; KEY is max_attempts, backoff_base_ms,\n"
    "                         backoff_cap_ms, timeout_ms, lease_ms or no_progress_ms (repeatable)\n"
    "  --log-level LEVEL      debug, info (default), warn or error\n"
    "  --import-dir DIR       where feed imports keep their feeds (default: DB.imports beside\n"
    "                         an SQLite file, ./trawl-imports on PostgreSQL; several nodes\n"
    "                         must share it)\n";

const char setup_usage_alerts[] =
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
    "  --breaker-open MS      how long a breaker stays open at first (default 30000)\n";

enum {
    OPT_DB = SETUP_OPT_FIRST,
    OPT_DURABILITY,
    OPT_GRACE,
    OPT_TYPE,
    OPT_LOG_LEVEL,
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
    OPT_SENTRY_DSN,
    OPT_ALERT_WEBHOOK,
    OPT_ALERT_SECRET,
    OPT_ALERT_WINDOW,
    OPT_ALERT_TIMEOUT,
    OPT_IMPORT_DIR,
};

static const struct option shared_[] = {
    {"db", required_argument, 0, OPT_DB},
    {"durability", required_argument, 0, OPT_DURABILITY},
    {"grace", required_argument, 0, OPT_GRACE},
    {"type", required_argument, 0, OPT_TYPE},
    {"log-level", required_argument, 0, OPT_LOG_LEVEL},
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
    {"sentry-dsn", required_argument, 0, OPT_SENTRY_DSN},
    {"alert-webhook", required_argument, 0, OPT_ALERT_WEBHOOK},
    {"alert-secret", required_argument, 0, OPT_ALERT_SECRET},
    {"alert-window", required_argument, 0, OPT_ALERT_WINDOW},
    {"alert-timeout", required_argument, 0, OPT_ALERT_TIMEOUT},
    {"import-dir", required_argument, 0, OPT_IMPORT_DIR},
};

void setup_init(struct setup *s, int argc)
{
    memset(s, 0, sizeof *s);
    s->durability = STORE_DURABLE;
    s->grace_ms = 10000;
    s->alerts = (struct alert_opts){.sentry_dsn = getenv("SENTRY_DSN"),
                                    .webhook_secret = getenv("TRAWL_ALERT_SECRET"),
                                    .session_type = SCRAPE_TYPE,
                                    .import_type = IMPORT_JOB_TYPE};
    if (s->alerts.sentry_dsn && !*s->alerts.sentry_dsn)
        s->alerts.sentry_dsn = NULL; /* SENTRY_DSN= turns it off */
    s->policy = ssrf_policy_new();
    s->resolve = xcalloc((size_t)argc + 1, sizeof *s->resolve);
    s->types = xcalloc((size_t)argc + 1, sizeof *s->types);
}

void setup_release(struct setup *s)
{
    alerter_free(s->alerter);
    ev_bus_free(s->bus);
    fetcher_free(s->fetcher);
    breakers_free(s->breakers);
    engine_close(s->eng);
    ssrf_policy_free(s->policy);
    free(s->resolve);
    free(s->types);
    memset(s, 0, sizeof *s);
}

/* own followed by the shared options and --help; free() it */
static struct option *longopts(const struct option *own)
{
    static const struct option help = {"help", no_argument, 0, 'h'};
    size_t n = 0, m = sizeof shared_ / sizeof shared_[0];
    while (own[n].name)
        n++;
    struct option *all = xcalloc(n + m + 2, sizeof *all);
    memcpy(all, own, n * sizeof *own);
    memcpy(all + n, shared_, m * sizeof *shared_);
    all[n + m] = help;
    return all;
}

static int shared_option(struct setup *s, int c, const char *arg);

int setup_parse(struct setup *s, int argc, char **argv, const struct option *own,
                void (*usage)(FILE *f), setup_take_fn take, void *ctx)
{
    struct option *longs = longopts(own);
    int c, rc = -1;
    optind = 1;
    while (rc < 0 && (c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            rc = 0;
        } else if (c == '?' || c == ':') {
            usage(stderr);
            rc = 2;
        } else if (c >= SETUP_OPT_FIRST ? shared_option(s, c, optarg) < 0 : !take(ctx, c, optarg)) {
            rc = 2;
        }
    }
    if (rc < 0 && optind < argc) {
        fprintf(stderr, "trawl %s: unexpected argument '%s'\n", argv[0], argv[optind]);
        rc = 2;
    }
    free(longs);
    return rc;
}

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

/* A number option into an int64_t; -1 when bad. */
#define NUM(opt, lo, hi, dst) (cli_int((opt), arg, (lo), (hi), (dst)) ? 1 : -1)

static int shared_option(struct setup *s, int c, const char *arg)
{
    struct err e;
    int64_t v;
    switch (c) {
    case OPT_DB:
        s->db = arg;
        return 1;
    case OPT_IMPORT_DIR:
        s->import_dir = arg;
        return 1;
    case OPT_DURABILITY:
        if (!strcmp(arg, "durable"))
            s->durability = STORE_DURABLE;
        else if (!strcmp(arg, "relaxed"))
            s->durability = STORE_RELAXED;
        else {
            fprintf(stderr, "trawl: --durability: expected durable or relaxed\n");
            return -1;
        }
        return 1;
    case OPT_GRACE:
        return NUM("--grace", 0, 3600000, &s->grace_ms);
    case OPT_TYPE:
        s->types[s->ntypes++] = arg;
        return 1;
    case OPT_LOG_LEVEL:
        return set_level(arg) ? 1 : -1;
    case OPT_ALLOW_PRIVATE:
        if (ssrf_policy_allow(s->policy, arg, &e) != 0) {
            fprintf(stderr, "trawl: --allow-private: %s\n", e.msg);
            return -1;
        }
        return 1;
    case OPT_NO_SSRF:
        ssrf_policy_disable(s->policy);
        return 1;
    case OPT_RESOLVE:
        if (strchr(arg, ':') == NULL || strchr(strchr(arg, ':') + 1, ':') == NULL) {
            fprintf(stderr, "trawl: --resolve: expected HOST:PORT:ADDRESS, got '%s'\n", arg);
            return -1;
        }
        s->resolve[s->nresolve++] = arg;
        return 1;
    case OPT_UA:
        s->fetch.user_agent = arg;
        return 1;
    case OPT_IGNORE_ROBOTS:
        s->fetch.ignore_robots = true;
        return 1;
    case OPT_HOST_CONN:
        if (!cli_int("--host-connections", arg, 1, 1024, &v))
            return -1;
        s->fetch.host_connections = (int)v;
        return 1;
    case OPT_HOST_DELAY:
        return NUM("--host-delay", 0, 3600000, &s->fetch.host_delay_ms);
    case OPT_FETCH_TIMEOUT:
        return NUM("--fetch-timeout", 100, 3600000, &s->fetch.total_timeout_ms);
    case OPT_CONNECT_TIMEOUT:
        return NUM("--connect-timeout", 100, 3600000, &s->fetch.connect_timeout_ms);
    case OPT_FIRST_BYTE:
        return NUM("--first-byte-timeout", 100, 3600000, &s->fetch.first_byte_timeout_ms);
    case OPT_MIN_SPEED:
        if (!cli_int("--min-speed", arg, 1, 1 << 30, &v))
            return -1;
        s->fetch.min_speed_bps = (long)v;
        return 1;
    case OPT_MIN_SPEED_TIME:
        return NUM("--min-speed-time", 1000, 3600000, &s->fetch.min_speed_ms);
    case OPT_MAX_BODY:
        if (!cli_int("--max-body", arg, 1024, (int64_t)1 << 32, &v))
            return -1;
        s->fetch.max_body = (size_t)v;
        return 1;
    case OPT_MAX_REDIRECTS:
        if (!cli_int("--max-redirects", arg, 0, 20, &v))
            return -1;
        s->fetch.max_redirects = v ? (int)v : -1;
        return 1;
    case OPT_BREAKER_FAILURES:
        if (!cli_int("--breaker-failures", arg, 1, 1000, &v))
            return -1;
        s->breaker.failures = (int)v;
        return 1;
    case OPT_BREAKER_OPEN:
        return NUM("--breaker-open", 100, 86400000, &s->breaker.open_ms);
    case OPT_SENTRY_DSN:
        s->alerts.sentry_dsn = arg;
        return 1;
    case OPT_ALERT_WEBHOOK:
        s->alerts.webhook_url = arg;
        return 1;
    case OPT_ALERT_SECRET:
        s->alerts.webhook_secret = arg;
        return 1;
    case OPT_ALERT_WINDOW:
        if (!cli_int("--alert-window", arg, 0, 86400000, &v))
            return -1;
        s->alerts.rate_window_ms = v ? v : -1;
        return 1;
    case OPT_ALERT_TIMEOUT:
        return NUM("--alert-timeout", 100, 600000, &s->alerts.timeout_ms);
    default:
        return 0;
    }
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

int setup_open(struct setup *s, const char *cmd, size_t event_capacity)
{
    struct err e;
    if (alert_opts_check(&s->alerts, &e)) {
        fprintf(stderr, "trawl %s: %s\n", cmd, e.msg);
        return 2;
    }
    if (cli_open(s->db ? s->db : cli_default_db(), s->durability, &s->eng))
        return 1;
    for (size_t i = 0; i < s->ntypes; i++) {
        int rc = type_option(s->eng, s->types[i]);
        if (rc)
            return rc;
    }
    s->breakers = breakers_new(&s->breaker, NULL);
    if (event_capacity > 0)
        s->bus = ev_bus_new(s->eng, s->breakers,
                            &(struct ev_opts){.session_type = SCRAPE_TYPE,
                                              .import_type = IMPORT_JOB_TYPE,
                                              .capacity = event_capacity});
    s->fetch.ssrf = s->policy;
    s->fetch.resolve = s->resolve;
    if (fetcher_new(&s->fetch, &s->fetcher, &e) ||
        alerter_new(s->eng, s->bus, s->breakers, &s->alerts, &s->alerter, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 1;
    }
    s->crawler = (struct crawler){.fetcher = s->fetcher, .breakers = s->breakers};
    const char *db = s->db ? s->db : cli_default_db();
    if (s->import_dir)
        snprintf(s->import_path, sizeof s->import_path, "%s", s->import_dir);
    else if (store_is_pg(db))
        snprintf(s->import_path, sizeof s->import_path, "trawl-imports");
    else
        snprintf(s->import_path, sizeof s->import_path, "%s.imports", db);
    if (mkdir(s->import_path, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "trawl: the import folder %s: %s\n", s->import_path, strerror(errno));
        return 1;
    }
    s->importer = (struct importer){.cr = &s->crawler, .dir = s->import_path};
    return 0;
}

size_t setup_handlers(struct setup *s, enum setup_pool pool, struct job_handler *out)
{
    void *crawler = s ? &s->crawler : NULL;
    void *alerter = s ? s->alerter : NULL;
    void *importer = s ? &s->importer : NULL;
    size_t nb, n = 0;
    const struct job_handler *builtin = handlers_builtin(&nb);
    if (pool != SETUP_POOL_FETCHING) {
        /* the built-in types, and alert deliveries */
        memcpy(out, builtin, nb * sizeof *out);
        n = nb;
        out[n++] = (struct job_handler){ALERT_TYPE, handler_alert, alerter};
        /* an import is one long job that parses and maps (CPU work) and delivers */
        out[n++] = (struct job_handler){IMPORT_JOB_TYPE, handler_import, importer};
        out[n++] = (struct job_handler){REDELIVER_JOB_TYPE, handler_redeliver, importer};
    }
    if (pool != SETUP_POOL_WORKERS) {
        /* crawl jobs and scraping sessions share the fetcher, its politeness and its breakers;
         * a session's extract stage does not fetch and its sync only to deliver to a webhook,
         * but they go with its ingest, so that sessions need no other pool */
        out[n++] = (struct job_handler){CRAWL_TYPE, handler_crawl, crawler};
        out[n++] = (struct job_handler){SCRAPE_TYPE, handler_scrape, crawler};
        out[n++] = (struct job_handler){SCRAPE_EXTRACT_TYPE, handler_scrape_extract, NULL};
        out[n++] = (struct job_handler){SCRAPE_SYNC_TYPE, handler_scrape_sync, crawler};
    }
    return n;
}

bool setup_handler(struct setup *s, const char *type, struct job_handler *out)
{
    struct job_handler all[ENGINE_CLAIM_TYPES_MAX];
    size_t n = setup_handlers(s, SETUP_POOL_ANY, all);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(all[i].type, type)) {
            *out = all[i];
            return true;
        }
    return false;
}

/* ---- signals ---- */

static pthread_mutex_t sig_lock_ = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sig_cv_ = PTHREAD_COND_INITIALIZER;
static int signals_;
static void (*on_signal_)(void *);
static void *on_signal_arg_;

static void *signal_main(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0)
            continue;
        pthread_mutex_lock(&sig_lock_);
        int n = ++signals_;
        pthread_cond_broadcast(&sig_cv_);
        if (n == 1 && on_signal_)
            on_signal_(on_signal_arg_);
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

void setup_signals(void)
{
    /* signals are taken by one thread; every other thread inherits the blocked mask */
    static sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    pthread_create(&t, NULL, signal_main, &set);
    pthread_detach(t);
}

void setup_on_signal(void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&sig_lock_);
    on_signal_ = fn;
    on_signal_arg_ = arg;
    if (signals_ > 0 && fn)
        fn(arg);
    pthread_mutex_unlock(&sig_lock_);
}

bool setup_wait_signal(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&sig_lock_);
    if (signals_ == 0)
        pthread_cond_timedwait(&sig_cv_, &sig_lock_, &ts);
    bool got = signals_ > 0;
    pthread_mutex_unlock(&sig_lock_);
    return got;
}
