/* trawl work --once: for deployments that start workers from cron instead of running trawl serve.
 * It claims the jobs due now (up to a limit, for a most time), runs them with the same handlers
 * as serve, prints what became of them and exits with a status that says whether any failed. It
 * can run beside a trawl serve on the same database: claims are leases, every change is fenced,
 * and its pool heartbeats its jobs as serve's does. */
#include "cli/cli.h"

#include "base/log.h"
#include "base/xalloc.h"
#include "cli/setup.h"
#include "engine/scheduler.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_[] =
    "usage: trawl work --once --db PATH [options]\n"
    "run the jobs due now and exit, for workers started by cron instead of trawl serve; it can\n"
    "run beside a trawl serve on the same database.\n"
    "  --once                 claim what is due, run it, exit (required: trawl serve is the\n"
    "                         worker that keeps running)\n"
    "  --types T,...          only jobs of these types (default: every type trawl runs)\n"
    "  --limit N              most jobs to run (default 100)\n"
    "  --max-seconds S        claim nothing after S seconds; running jobs get --grace to finish,\n"
    "                         then go back to the queue (default: no limit)\n"
    "  --concurrency C        jobs run at once (default 4)\n"
    "  --json                 print the summary as JSON\n"
    "  (--db, or $TRAWL_DB, is required and the database must exist)\n";

static const char exit_usage_[] =
    "exit status: 0 every job run completed (or none was due); 1 a job failed, will retry, or\n"
    "its end could not be recorded; 2 bad usage, or the database could not be opened.\n";

enum {
    OPT_ONCE = 256,
    OPT_TYPES,
    OPT_LIMIT,
    OPT_MAX_SECONDS,
    OPT_CONCURRENCY,
    OPT_JSON,
};

static void usage(FILE *f)
{
    fputs(usage_, f);
    fputs(setup_usage, f);
    fputs(setup_usage_alerts, f);
    fputs(exit_usage_, f);
}

/* Keep in out only the handlers named in list (comma-separated); an unknown name is refused with
 * the known ones listed. Returns how many are kept, or -1. */
static int pick_types(const char *list, struct job_handler *out, size_t n)
{
    bool want[ENGINE_CLAIM_TYPES_MAX] = {false};
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        size_t i = 0;
        while (i < n && !(strlen(out[i].type) == len && !strncmp(out[i].type, p, len)))
            i++;
        if (i == n) {
            fprintf(stderr, "trawl work: --types: unknown job type '%.*s'; known:", (int)len, p);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, "%s %s", k ? "," : "", out[k].type);
            fputc('\n', stderr);
            return -1;
        }
        want[i] = true;
        p += len;
        if (*p == ',')
            p++;
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        if (want[i])
            out[kept++] = out[i];
    if (kept == 0) {
        fprintf(stderr, "trawl work: --types: name at least one job type\n");
        return -1;
    }
    return (int)kept;
}

static void interrupt(void *arg)
{
    pool_interrupt(arg);
}

enum stop_reason { STOP_DONE, STOP_TIME, STOP_SIGNAL, STOP_CLAIMS };

static void print_summary(const struct pool_stats *st, enum stop_reason why, double secs, bool json)
{
    static const char *const whys[] = {"done", "timeLimit", "signal", "claimsFailed"};
    if (json) {
        json_t *o = json_pack(
            "{sI sI sI sI sI sI sI sI sf ss}", "jobs", (json_int_t)st->claimed, "completed",
            (json_int_t)st->ended[JOB_COMPLETED], "retrying", (json_int_t)st->ended[JOB_RETRYING],
            "failed", (json_int_t)st->ended[JOB_FAILED], "cancelled",
            (json_int_t)st->ended[JOB_CANCELLED], "givenBack", (json_int_t)st->released, "deferred",
            (json_int_t)st->deferred, "unrecorded", (json_int_t)st->unrecorded, "seconds", secs,
            "stopped", whys[why]);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(4));
        fputc('\n', stdout);
        json_decref(o);
        return;
    }
    printf("work: %llu job%s", (unsigned long long)st->claimed, st->claimed == 1 ? "" : "s");
    const struct {
        uint64_t n;
        const char *what;
    } parts[] = {
        {st->ended[JOB_COMPLETED], "completed"},
        {st->ended[JOB_RETRYING], "retrying"},
        {st->ended[JOB_FAILED], "failed"},
        {st->ended[JOB_CANCELLED], "cancelled"},
        {st->released, "given back"},
        {st->deferred, "deferred"},
        {st->unrecorded, "not recorded (the job changed state under the worker)"},
    };
    int shown = 0;
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (parts[i].n || (i < 3 && st->claimed))
            printf("%s %llu %s", shown++ ? "," : ":", (unsigned long long)parts[i].n,
                   parts[i].what);
    static const char *const notes[] = {"", "; stopped at --max-seconds", "; stopped by a signal",
                                        "; claims kept failing (see the log)"};
    printf(" (%.1f s)%s\n", secs, notes[why]);
}

struct work_opts {
    bool once, json;
    const char *types;
    int64_t limit, max_s, concurrency;
};

static bool work_take(void *ctx, int c, const char *arg)
{
    struct work_opts *o = ctx;
    switch (c) {
    case OPT_ONCE:
        o->once = true;
        return true;
    case OPT_TYPES:
        o->types = arg;
        return true;
    case OPT_LIMIT:
        return cli_int("--limit", arg, 1, 10000000, &o->limit);
    case OPT_MAX_SECONDS:
        return cli_int("--max-seconds", arg, 1, 7 * 86400, &o->max_s);
    case OPT_CONCURRENCY:
        return cli_int("--concurrency", arg, 1, 1024, &o->concurrency);
    case OPT_JSON:
        o->json = true;
        return true;
    default:
        return false;
    }
}

int cmd_work(int argc, char **argv)
{
    static const struct option own[] = {
        {"once", no_argument, 0, OPT_ONCE},
        {"types", required_argument, 0, OPT_TYPES},
        {"limit", required_argument, 0, OPT_LIMIT},
        {"max-seconds", required_argument, 0, OPT_MAX_SECONDS},
        {"concurrency", required_argument, 0, OPT_CONCURRENCY},
        {"json", no_argument, 0, OPT_JSON},
        {0, 0, 0, 0},
    };
    struct setup su;
    setup_init(&su, argc);
    struct work_opts o = {.limit = 100, .concurrency = 4};
    int rc = setup_parse(&su, argc, argv, own, usage, work_take, &o);
    if (rc >= 0)
        goto out;
    rc = 2;
    if (!o.once) {
        fprintf(stderr, "trawl work: only --once is supported: it runs the jobs due now and "
                        "exits; trawl serve is the worker that keeps running\n");
        goto out;
    }
    struct job_handler h[ENGINE_CLAIM_TYPES_MAX];
    int nh = (int)setup_handlers(NULL, SETUP_POOL_ANY, h);
    if (o.types && (nh = pick_types(o.types, h, (size_t)nh)) < 0)
        goto out;
    if (!su.db) {
        const char *env = getenv("TRAWL_DB");
        su.db = env && *env ? env : NULL;
    }
    /* cron starts it in a home directory: a default or mistyped path would make an empty
     * database and find nothing to do, every time */
    if (!su.db) {
        fprintf(stderr, "trawl work: --db PATH is required (or $TRAWL_DB)\n");
        goto out;
    }
    if (!store_is_pg(su.db) && access(su.db, F_OK) != 0) {
        fprintf(stderr, "trawl work: no database at %s (trawl serve or trawl enqueue makes it)\n",
                su.db);
        goto out;
    }

    setup_signals();
    if (setup_open(&su, "work", 0) != 0)
        goto out; /* rc is 2: a setup error */
    int64_t t0 = clock_mono_ms();
    struct err e;
    /* attempts whose worker died (a run killed before this one) come back, and retries that are
     * due become pending, as serve's monitor would do */
    struct sweep_report sr;
    if (engine_sweep(su.eng, &sr, &e) < 0) {
        fprintf(stderr, "trawl work: %s\n", e.msg);
        goto out;
    }
    if (sr.expired || sr.no_progress || sr.timed_out || sr.promoted)
        log_info("work: %d attempts ended as stuck, %d retries made due",
                 sr.expired + sr.no_progress + sr.timed_out, sr.promoted);
    /* the schedules' due slots become jobs, as serve's scheduler would make them: a slot up to
     * SCHEDULE_LATE_MS late is on time (a crontab running this every minute catches every slot),
     * one later is missed and follows its schedule's policy */
    struct schedule_tick_report tr = {0};
    if (schedule_tick(su.eng, 0, &tr, &e) < 0)
        fprintf(stderr, "trawl work: schedules: %s\n", e.msg); /* the jobs due still run */
    if (tr.enqueued || tr.skipped)
        log_info("work: %d slot jobs enqueued, %lld slots skipped by their schedules", tr.enqueued,
                 (long long)tr.skipped);
    /* h's args point into su now that it is open */
    struct job_handler all[ENGINE_CLAIM_TYPES_MAX];
    for (int i = 0; i < nh; i++)
        setup_handler(&su, h[i].type, &all[i]);
    struct pool_opts po = {.workers = (int)o.concurrency,
                           .batch = (size_t)(o.limit < 256 ? o.limit : 256),
                           .name = "work",
                           .once = true,
                           .limit = (size_t)o.limit};
    struct pool *pool;
    if (pool_start(su.eng, all, (size_t)nh, &po, &pool, &e)) {
        fprintf(stderr, "trawl work: %s\n", e.msg);
        goto out;
    }
    setup_on_signal(interrupt, pool);
    bool done = pool_wait(pool, o.max_s > 0 ? o.max_s * 1000 : -1);
    /* from here the signal thread must not reach the pool, which pool_finish frees */
    setup_on_signal(NULL, NULL);
    bool signalled = !done && setup_wait_signal(0);
    struct pool_stats st;
    bool clean = pool_finish(pool, su.grace_ms, &st);
    enum stop_reason why = st.claims_failed ? STOP_CLAIMS
                           : done           ? STOP_DONE
                           : signalled      ? STOP_SIGNAL
                                            : STOP_TIME;
    print_summary(&st, why, (double)(clock_mono_ms() - t0) / 1000.0, o.json);
    fflush(stdout);
    bool bad = st.ended[JOB_RETRYING] || st.ended[JOB_FAILED] || st.unrecorded || st.claims_failed;
    rc = bad ? 1 : 0;
    if (!clean) {
        log_warn("some handlers did not stop; their jobs were released; exiting");
        _exit(1);
    }
out:
    setup_release(&su);
    return rc;
}
