/* Local commands that work on a database file directly (also while trawl serve runs on it), for
 * administration and for deployments without the HTTP API: enqueue and stats. */
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
    if (s.unique_key && strncmp(s.unique_key, "schedule:", 9) == 0) {
        /* the schedules' slots own these keys; the store keeps them unique after their job */
        fprintf(stderr, "trawl: --unique-key: the prefix \"schedule:\" is kept for schedules\n");
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

/* Parse "[--db PATH] [ID]"; returns -1 to go on, else the exit status. */
int cli_db_args(int argc, char **argv, const char *usage, const char **db, const char **id)
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

int cmd_stats(int argc, char **argv)
{
    const char *db;
    int rc = cli_db_args(
        argc, argv, "usage: trawl stats [--db PATH]\ncount jobs by status (local)\n", &db, NULL);
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
