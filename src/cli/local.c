/* Local commands that work on a database file directly (also while trawl serve runs on it):
 * enqueue, job, stats, cancel, retry. They will gain HTTP twins when the API exists. */
#include "cli/cli.h"

#include "base/xalloc.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char enqueue_usage_[] =
    "usage: trawl enqueue [options] TYPE [ARGS_JSON]\n"
    "  --db PATH            database file (default $TRAWL_DB or ./trawl.db)\n"
    "  --priority N         -1000..1000, higher first (default 0)\n"
    "  --max-attempts N     1..1000 (default: the type's, 3)\n"
    "  --delay MS           run no earlier than MS from now\n"
    "  --timeout MS         most run time of one attempt\n"
    "  --unique-key KEY     return the live job with this key instead of a new one\n"
    "  --batch ID           batch id\n"
    "  --queue NAME         queue (default \"default\")\n"
    "  --count N            enqueue N such jobs in one transaction (default 1)\n"
    "prints the id of each job, one per line.\n";

int cmd_enqueue(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, 0, 'd'},
        {"priority", required_argument, 0, 'p'},
        {"max-attempts", required_argument, 0, 'm'},
        {"delay", required_argument, 0, 'y'},
        {"timeout", required_argument, 0, 't'},
        {"unique-key", required_argument, 0, 'u'},
        {"batch", required_argument, 0, 'b'},
        {"queue", required_argument, 0, 'q'},
        {"count", required_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *db = cli_default_db();
    struct job_spec s = {0};
    int64_t v, count = 1, delay = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'p':
            if (!cli_int("--priority", optarg, JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, &v))
                return 2;
            s.priority = (int)v;
            break;
        case 'm':
            if (!cli_int("--max-attempts", optarg, 1, JOB_ATTEMPTS_MAX, &v))
                return 2;
            s.max_attempts = (int)v;
            break;
        case 'y':
            if (!cli_int("--delay", optarg, 0, INT64_MAX / 4, &delay))
                return 2;
            break;
        case 't':
            if (!cli_int("--timeout", optarg, 1, INT64_MAX / 4, &v))
                return 2;
            s.timeout_ms = v;
            break;
        case 'u':
            s.unique_key = optarg;
            break;
        case 'b':
            s.batch_id = optarg;
            break;
        case 'q':
            s.queue = optarg;
            break;
        case 'n':
            if (!cli_int("--count", optarg, 1, 10000000, &count))
                return 2;
            break;
        case 'h':
            fputs(enqueue_usage_, stdout);
            return 0;
        default:
            fputs(enqueue_usage_, stderr);
            return 2;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        fputs(enqueue_usage_, stderr);
        return 2;
    }
    s.type = argv[optind];
    s.args = optind + 1 < argc ? argv[optind + 1] : NULL;
    struct err e;
    if (engine_validate(&s, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 2;
    }
    if (count > 1 && s.unique_key) {
        fprintf(stderr, "trawl: --count and --unique-key cannot go together\n");
        return 2;
    }
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    if (delay)
        s.run_at = engine_now(eng) + delay;
    struct job_spec *specs = xcalloc((size_t)count, sizeof *specs);
    struct enqueue_result *res = xcalloc((size_t)count, sizeof *res);
    for (int64_t i = 0; i < count; i++)
        specs[i] = s;
    int rc = engine_enqueue_many(eng, specs, (size_t)count, res, &e);
    if (rc) {
        fprintf(stderr, "trawl: enqueue failed, nothing was enqueued: %s\n", e.msg);
    } else {
        for (int64_t i = 0; i < count; i++)
            printf("%s%s\n", res[i].id, res[i].existed ? " (existing)" : "");
    }
    free(specs);
    free(res);
    engine_close(eng);
    return rc ? 1 : 0;
}

/* Parse "[--db PATH] ID" for the one-job commands. */
static int one_job_args(int argc, char **argv, const char *usage, const char **db, const char **id)
{
    static const struct option longs[] = {
        {"db", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *db = cli_default_db();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'd') {
            *db = optarg;
        } else if (c == 'h') {
            fputs(usage, stdout);
            return 0;
        } else {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (argc - optind != (id ? 1 : 0)) {
        fputs(usage, stderr);
        return 2;
    }
    if (id)
        *id = argv[optind];
    return -1;
}

static void print_time(const char *label, int64_t ms)
{
    if (!ms)
        return;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%-14s %s.%03dZ\n", label, buf, (int)(ms % 1000));
}

int cmd_job(int argc, char **argv)
{
    const char *db, *id;
    int rc = one_job_args(argc, argv, "usage: trawl job [--db PATH] ID\n", &db, &id);
    if (rc >= 0)
        return rc;
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct job j;
    struct err e;
    if (engine_get(eng, id, &j, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        engine_close(eng);
        return 1;
    }
    printf("%-14s %s\n%-14s %s\n%-14s %s\n", "id", j.id, "type", j.type, "status",
           job_status_name(j.status));
    printf("%-14s %d/%d\n%-14s %d\n%-14s %d%%\n", "attempt", j.attempt, j.max_attempts, "priority",
           j.priority, "progress", j.progress);
    if (j.stage)
        printf("%-14s %s\n", "stage", j.stage);
    printf("%-14s %s\n", "args", j.args);
    if (j.checkpoint)
        printf("%-14s %s\n", "checkpoint", j.checkpoint);
    if (j.result)
        printf("%-14s %s\n", "result", j.result);
    if (j.error)
        printf("%-14s %s\n", "error", j.error);
    if (j.batch_id)
        printf("%-14s %s\n", "batch", j.batch_id);
    if (j.lease_owner)
        printf("%-14s %s\n", "lease owner", j.lease_owner);
    print_time("created", j.created_at);
    print_time("run at", j.run_at);
    print_time("started", j.started_at);
    print_time("completed", j.completed_at);
    print_time("failed", j.failed_at);
    struct job_event *ev;
    size_t n;
    if (engine_events(eng, id, &ev, &n, &e) >= 0) {
        printf("history:\n");
        print_time("  created", j.created_at);
        for (size_t i = 0; i < n; i++) {
            time_t t = (time_t)(ev[i].at / 1000);
            struct tm tm;
            gmtime_r(&t, &tm);
            char buf[32];
            strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
            printf("  %s.%03dZ  attempt %d  %s -> %s%s%s\n", buf, (int)(ev[i].at % 1000),
                   ev[i].attempt, job_status_name(ev[i].from), job_status_name(ev[i].to),
                   ev[i].message ? ": " : "", ev[i].message ? ev[i].message : "");
        }
        job_events_free(ev, n);
    }
    job_release(&j);
    engine_close(eng);
    return 0;
}

int cmd_stats(int argc, char **argv)
{
    const char *db;
    int rc = one_job_args(argc, argv, "usage: trawl stats [--db PATH]\n", &db, NULL);
    if (rc >= 0)
        return rc;
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    int64_t counts[JOB_STATUS_COUNT];
    struct err e;
    rc = engine_counts(eng, counts, &e);
    if (rc)
        fprintf(stderr, "trawl: %s\n", e.msg);
    else
        for (int i = 0; i < JOB_STATUS_COUNT; i++)
            printf("%-11s %lld\n", job_status_name(i), (long long)counts[i]);
    engine_close(eng);
    return rc ? 1 : 0;
}

static int change_cmd(int argc, char **argv, bool cancel)
{
    const char *db, *id;
    int rc = one_job_args(argc, argv,
                          cancel ? "usage: trawl cancel [--db PATH] ID\n"
                                 : "usage: trawl retry [--db PATH] ID\n",
                          &db, &id);
    if (rc >= 0)
        return rc;
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct err e;
    rc = cancel ? engine_cancel(eng, id, &e) : engine_retry(eng, id, 0, &e);
    if (rc)
        fprintf(stderr, "trawl: %s\n", e.msg);
    else
        printf("%s %s\n", id, cancel ? "cancelled" : "pending again");
    engine_close(eng);
    return rc ? 1 : 0;
}

int cmd_cancel(int argc, char **argv)
{
    return change_cmd(argc, argv, true);
}

int cmd_retry(int argc, char **argv)
{
    return change_cmd(argc, argv, false);
}

static const char jobs_usage_[] =
    "usage: trawl jobs [--db PATH] [--status S] [--type T] [--batch ID] [--limit N] [--before ID]\n"
    "lists jobs, newest first: id, type, status, attempt, error\n";

int cmd_jobs(int argc, char **argv)
{
    static const struct option longs[] = {
        {"db", required_argument, 0, 'd'},    {"status", required_argument, 0, 's'},
        {"type", required_argument, 0, 't'},  {"batch", required_argument, 0, 'b'},
        {"limit", required_argument, 0, 'n'}, {"before", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0},
    };
    const char *db = cli_default_db(), *status = NULL;
    struct job_filter f = {.status = -1, .limit = 50};
    int64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 's':
            status = optarg;
            break;
        case 't':
            f.type = optarg;
            break;
        case 'b':
            f.batch_id = optarg;
            break;
        case 'c':
            f.before_id = optarg;
            break;
        case 'n':
            if (!cli_int("--limit", optarg, 1, 10000, &v))
                return 2;
            f.limit = (size_t)v;
            break;
        case 'h':
            fputs(jobs_usage_, stdout);
            return 0;
        default:
            fputs(jobs_usage_, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fputs(jobs_usage_, stderr);
        return 2;
    }
    if (status && job_status_parse(status) < 0) {
        fprintf(stderr,
                "trawl: --status: unknown status '%s' (expected pending, processing, retrying, "
                "completed, failed or cancelled)\n",
                status);
        return 2;
    }
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct job *jobs;
    size_t n;
    struct err e;
    int rc = engine_list(eng, status, &f, &jobs, &n, &e);
    if (rc < 0) {
        fprintf(stderr, "trawl: %s\n", e.msg);
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s  %-12s %-10s %d/%d  %s\n", jobs[i].id, jobs[i].type,
                   job_status_name(jobs[i].status), jobs[i].attempt, jobs[i].max_attempts,
                   jobs[i].error ? jobs[i].error : "");
        job_array_free(jobs, n);
    }
    engine_close(eng);
    return rc < 0 ? 1 : 0;
}
