/* trawl serve: the worker pool and the monitor on one database, until SIGINT or SIGTERM. The
 * first signal stops claiming and gives running jobs a grace period; a second exits at once.
 * Nothing acknowledged is lost either way: acknowledgements are commits. */
#include "cli/cli.h"

#include "base/log.h"
#include "engine/monitor.h"
#include "engine/worker.h"
#include "handlers/handlers.h"

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
    "  --workers N            handler threads (default 4)\n"
    "  --batch N              most jobs claimed at once (default 256)\n"
    "  --durability MODE      durable (default): every acknowledged change is fsynced;\n"
    "                         relaxed: survives a crash of trawl, not of the machine\n"
    "  --grace MS             how long running jobs may finish at shutdown (default 10000)\n"
    "  --sweep MS             how often the monitor sweeps (default 2000)\n"
    "  --type TYPE.KEY=VALUE  a job type setting; KEY is max_attempts, backoff_base_ms,\n"
    "                         backoff_cap_ms, timeout_ms, lease_ms or no_progress_ms (repeatable)\n"
    "  --log-level LEVEL      debug, info (default), warn or error\n";

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

int cmd_serve(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, 0, 'd'},    {"workers", required_argument, 0, 'w'},
        {"batch", required_argument, 0, 'b'}, {"durability", required_argument, 0, 'D'},
        {"grace", required_argument, 0, 'g'}, {"sweep", required_argument, 0, 's'},
        {"type", required_argument, 0, 't'},  {"log-level", required_argument, 0, 'l'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    const char *db = cli_default_db();
    int64_t workers = 4, batch = 256, grace = 10000, sweep = 2000;
    enum store_durability dur = STORE_DURABLE;
    char **types = calloc((size_t)argc + 1, sizeof *types);
    int ntypes = 0, c, rc = 2;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'w':
            if (!cli_int("--workers", optarg, 1, 1024, &workers))
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
            if (!strcmp(optarg, "debug"))
                log_set_level(LOG_DEBUG);
            else if (!strcmp(optarg, "info"))
                log_set_level(LOG_INFO);
            else if (!strcmp(optarg, "warn"))
                log_set_level(LOG_WARN);
            else if (!strcmp(optarg, "error"))
                log_set_level(LOG_ERROR);
            else {
                fprintf(stderr, "trawl: --log-level: expected debug, info, warn or error\n");
                goto out;
            }
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
    size_t nh;
    const struct job_handler *h = handlers_builtin(&nh);
    struct pool_opts po = {.workers = (int)workers, .batch = (size_t)batch};
    struct pool *pool;
    struct err e;
    if (pool_start(eng, h, nh, &po, &pool, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        engine_close(eng);
        rc = 1;
        goto out;
    }
    struct monitor *mon = monitor_start(eng, sweep);
    log_info("trawl serve: %s, %lld workers, %s durability, schema v%d; ready", db,
             (long long)workers, dur == STORE_DURABLE ? "full" : "relaxed", store_schema_version());

    pthread_mutex_lock(&sig_lock_);
    while (signals_ == 0)
        pthread_cond_wait(&sig_cv_, &sig_lock_);
    pthread_mutex_unlock(&sig_lock_);

    bool clean = pool_stop(pool, grace);
    monitor_stop(mon);
    if (!clean) {
        log_warn("some handlers did not stop; their jobs were released; exiting");
        _exit(0);
    }
    engine_close(eng);
    log_info("trawl serve: stopped");
    rc = 0;
out:
    free(types);
    return rc;
}
