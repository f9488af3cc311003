/* Engine benchmarks: bulk enqueue, end-to-end no-op throughput through the in-process pool,
 * claim cost against table size and past jobs scheduled for later, and peak memory of a real
 * `trawl serve`. Durable (fsync on
 * every commit) unless --relaxed. Prints one line per figure.
 * usage: bench_engine [--jobs N] [--claim-max N] [--trawl PATH] [--dir DIR] [--pg CONNINFO]
 *                     [--only fsync|enqueue|e2e|chain|chain-once|claim|future|memory]
 * --pg: on PostgreSQL (a libpq keyword string of a server; each figure makes its own database)
 * instead of SQLite files.
 * chain: N/3 chains of three no-op stages (each released by the completion of the one before)
 * against N single no-op jobs, both end to end through the pool, alternated, twice each; the
 * ratio of their job rates is the figure. */
#include "base/clock.h"
#include "base/xalloc.h"
#include "engine/engine.h"
#include "engine/worker.h"
#include "handlers/handlers.h"
#include "util/benchutil.h"

#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir_[512];
static enum store_durability dur_ = STORE_DURABLE;
static const char *pg_; /* --pg: a PostgreSQL server's keyword string; each figure its database */

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* A fresh database of this name on the server --pg names; dropped first if a run left it. */
static void pg_fresh(char *out, size_t n, const char *name)
{
    char db[64];
    snprintf(db, sizeof db, "bench_%s_%d", name, (int)getpid());
    PGconn *c = PQconnectdb(pg_);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "bench: --pg %s: %s", pg_, PQerrorMessage(c));
        exit(1);
    }
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(c));
        exit(1);
    }
    PQclear(r);
    PQfinish(c);
    snprintf(out, n, "%s dbname=%s", pg_, db);
}

static void db_path(char *out, size_t n, const char *name)
{
    if (pg_) {
        pg_fresh(out, n, name);
        return;
    }
    snprintf(out, n, "%s/%s.db", dir_, name);
    char p[700];
    unlink(out);
    snprintf(p, sizeof p, "%s-wal", out);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", out);
    unlink(p);
}

static struct engine *open_engine(const char *path)
{
    struct store *s;
    struct err e;
    if (store_open(path, dur_, &s, &e))
        die("open", &e);
    struct engine *eng;
    if (engine_open(s, NULL, &eng, &e) || handlers_configure(eng, &e))
        die("engine", &e);
    return eng;
}

static void enqueue_noops(struct engine *eng, size_t n, size_t chunk)
{
    struct job_spec *specs = xcalloc(chunk, sizeof *specs);
    struct enqueue_result *res = xcalloc(chunk, sizeof *res);
    for (size_t i = 0; i < chunk; i++)
        specs[i].type = "noop";
    struct err e;
    for (size_t done = 0; done < n;) {
        size_t k = n - done < chunk ? n - done : chunk;
        if (engine_enqueue_many(eng, specs, k, res, &e))
            die("enqueue", &e);
        done += k;
    }
    free(specs);
    free(res);
}

/* n/3 chains: noop -> noop -> noop, enqueued chunk roots at a time. */
static void enqueue_chains(struct engine *eng, size_t n, size_t chunk)
{
    struct job_spec last = {.type = "noop"};
    struct job_spec mid = {.type = "noop", .next = &last, .nnext = 1};
    struct job_spec *specs = xcalloc(chunk, sizeof *specs);
    struct enqueue_result *res = xcalloc(chunk, sizeof *res);
    for (size_t i = 0; i < chunk; i++)
        specs[i] = (struct job_spec){.type = "noop", .next = &mid, .nnext = 1};
    struct err e;
    for (size_t done = 0; done < n / 3;) {
        size_t k = n / 3 - done < chunk ? n / 3 - done : chunk;
        if (engine_enqueue_many(eng, specs, k, res, &e))
            die("enqueue", &e);
        done += k;
    }
    free(specs);
    free(res);
}

static double rate(size_t n, int64_t ns)
{
    return (double)n / ((double)ns / 1e9);
}

/* The disk's own pace: 4 KiB write + fdatasync, 500 times. */
static void bench_fsync(void)
{
    double us = bench_fdatasync_us(dir_, 500);
    printf("disk_fdatasync ops=500 us_per_op=%.1f per_s=%.0f\n", us, 1e6 / us);
}

static void bench_enqueue(size_t n)
{
    size_t chunks[] = {n, 1000, 100};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        char path[600];
        db_path(path, sizeof path, "enqueue");
        struct engine *eng = open_engine(path);
        int64_t t0 = clock_mono_ns();
        enqueue_noops(eng, n, chunks[c]);
        int64_t dt = clock_mono_ns() - t0;
        struct engine_stats st;
        engine_stats(eng, &st);
        printf("bulk_enqueue jobs=%zu per_call=%zu seconds=%.3f jobs_per_s=%.0f commits=%llu\n", n,
               chunks[c], (double)dt / 1e9, rate(n, dt), (unsigned long long)st.commits);
        engine_close(eng);
    }
}

static atomic_long completed_;

static void count_completed(void *ctx, const struct job_change *c)
{
    (void)ctx;
    if (c->to == JOB_COMPLETED)
        atomic_fetch_add(&completed_, 1);
}

/* n no-op jobs (chains: n/3 chains of 3) through the pool; returns the job rate. */
static double run_e2e(size_t n, int workers, bool chains, bool print)
{
    char path[600];
    db_path(path, sizeof path, chains ? "chain" : "e2e");
    struct engine *eng = open_engine(path);
    int64_t t0 = clock_mono_ns();
    if (chains) {
        enqueue_chains(eng, n, 3000);
        n = n / 3 * 3;
    } else {
        enqueue_noops(eng, n, 10000);
    }
    int64_t t1 = clock_mono_ns();
    atomic_store(&completed_, 0);
    engine_listen(eng, count_completed, NULL);
    size_t nh;
    const struct job_handler *h = handlers_builtin(&nh);
    struct pool_opts po = {.workers = workers, .batch = 1024};
    struct pool *p;
    struct err e;
    struct engine_stats s0;
    engine_stats(eng, &s0);
    int64_t t2 = clock_mono_ns();
    if (pool_start(eng, h, nh, &po, &p, &e))
        die("pool", &e);
    int64_t deadline = clock_mono_ms() + 300000;
    while (atomic_load(&completed_) < (long)n && clock_mono_ms() < deadline)
        clock_sleep_ms(1);
    int64_t t3 = clock_mono_ns();
    long done = atomic_load(&completed_);
    struct engine_stats s1;
    engine_stats(eng, &s1);
    pool_stop(p, 1000);
    double r = rate((size_t)done, t3 - t2);
    if (print)
        printf("%s jobs=%zu workers=%d completed=%ld processing_seconds=%.3f jobs_per_s=%.0f "
               "with_enqueue_jobs_per_s=%.0f commits=%llu ops_per_commit=%.1f\n",
               chains ? "chain_end_to_end stages=3" : "end_to_end", n, workers, done,
               (double)(t3 - t2) / 1e9, r, rate((size_t)done, (t3 - t2) + (t1 - t0)),
               (unsigned long long)(s1.commits - s0.commits),
               (double)(s1.ops - s0.ops) /
                   (double)(s1.commits - s0.commits + !(s1.commits - s0.commits)));
    engine_close(eng);
    return done == (long)n ? r : 0;
}

static void bench_e2e(size_t n, int workers)
{
    run_e2e(n, workers, false, true);
}

static void bench_chain(size_t n, int workers)
{
    double single = 0, chain = 0;
    for (int round = 0; round < 2; round++) {
        single += run_e2e(n, workers, false, true);
        chain += run_e2e(n, workers, true, true);
    }
    printf("chain_vs_single stages=3 single_jobs_per_s=%.0f chain_jobs_per_s=%.0f ratio=%.2f\n",
           single / 2, chain / 2, single > 0 ? chain / single : 0);
}

static void bench_claim(size_t max)
{
    char path[600];
    db_path(path, sizeof path, "claim");
    struct engine *eng = open_engine(path);
    size_t have = 0;
    const char *types[] = {"noop"};
    for (size_t size = 10; size <= max; size *= 10) {
        size_t want = size + 1000;
        enqueue_noops(eng, want - have, 10000);
        have = want;
        int64_t t0 = clock_mono_ns();
        for (int i = 0; i < 1000; i++) {
            struct job *jobs;
            size_t n;
            struct err e;
            if (engine_claim(eng, types, 1, 1, "bench", 0, &jobs, &n, &e) != 1)
                die("claim", &e);
            struct job_fence f = {.id = jobs[0].id,
                                  .attempt = jobs[0].attempt,
                                  .owner = jobs[0].lease_owner,
                                  .type = "noop",
                                  .seq = jobs[0].event_seq,
                                  .ref = jobs[0].store_ref,
                                  .workspace = jobs[0].workspace,
                                  .started_at = jobs[0].started_at};
            if (engine_complete(eng, &f, NULL, &e))
                die("complete", &e);
            job_array_free(jobs, n);
        }
        int64_t dt = clock_mono_ns() - t0;
        have -= 1000;
        /* the claim query alone, without the fsync of its commit: claim 100 jobs inside a
         * transaction and roll it back, 200 times */
        struct store *st = engine_store(eng);
        size_t lim = size < 100 ? size : 100;
        struct claim_req req = {types, 1, lim, "bench", 30000, engine_now(eng), NULL};
        int64_t t1 = clock_mono_ns();
        for (int i = 0; i < 200; i++) {
            struct job *jobs;
            size_t n;
            struct err e;
            if (store_begin(st, &e) || store_claim(st, &req, &jobs, &n, &e) != (int)lim)
                die("claim in transaction", &e);
            store_rollback(st);
            job_array_free(jobs, n);
        }
        int64_t dt2 = clock_mono_ns() - t1;
        printf("claim_cost pending_jobs=%zu durable_claim_and_complete_us=%.1f "
               "claim_query_us_per_job=%.2f\n",
               size, (double)dt / 1e3 / 1000, (double)dt2 / 1e3 / (double)(200 * lim));
        if (size == max)
            break;
    }
    engine_close(eng);
}

/* Claim 1,000 due jobs, 100 at a time, with `future` jobs scheduled an hour ahead at a higher
 * priority in the same table: a claim must not step over them. */
static void bench_claim_future(size_t max)
{
    for (size_t future = 0; future <= max; future = future ? future * 10 : 10000) {
        char path[600], name[64];
        snprintf(name, sizeof name, "future-%zu", future);
        db_path(path, sizeof path, name);
        struct engine *eng = open_engine(path);
        size_t n = future + 1000;
        struct job_spec *sp = xcalloc(n, sizeof *sp);
        struct enqueue_result *res = xcalloc(n, sizeof *res);
        int64_t later = engine_now(eng) + 3600 * 1000;
        for (size_t i = 0; i < n; i++)
            sp[i] = i < future ? (struct job_spec){.type = "noop", .priority = 10, .run_at = later}
                               : (struct job_spec){.type = "noop"};
        struct err e;
        for (size_t i = 0; i < n; i += 10000) {
            size_t k = n - i < 10000 ? n - i : 10000;
            if (engine_enqueue_many(eng, sp + i, k, res + i, &e))
                die("enqueue", &e);
        }
        const char *types[] = {"noop"};
        size_t got = 0;
        int64_t t0 = clock_mono_ns();
        while (got < 1000) {
            struct job *jobs;
            size_t k;
            if (engine_claim(eng, types, 1, 100, "bench", 0, &jobs, &k, &e) <= 0)
                die("claim", &e);
            got += k;
            job_array_free(jobs, k);
        }
        int64_t dt = clock_mono_ns() - t0;
        printf("claim_past_future future_jobs=%zu claimed=%zu us_per_claimed_job=%.1f\n", future,
               got, (double)dt / 1e3 / (double)got);
        fflush(stdout);
        free(sp);
        free(res);
        engine_close(eng);
        unlink(path);
        if (future == max)
            break;
    }
}

static void bench_serve_memory(const char *trawl, size_t n)
{
    char path[600], log[700];
    db_path(path, sizeof path, "serve");
    struct engine *eng = open_engine(path);
    enqueue_noops(eng, n, 10000);
    snprintf(log, sizeof log, "%s/serve.log", dir_);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1); /* "listening on port N" is not a figure */
        dup2(fd, 2);
        execl(trawl, trawl, "serve", "--db", path, "--workers", "2", "--batch", "1024",
              dur_ == STORE_RELAXED ? "--durability=relaxed" : "--durability=durable", "--listen",
              "127.0.0.1:0", (char *)NULL);
        _exit(127);
    }
    int64_t t0 = clock_mono_ns();
    long peak = 0;
    int64_t counts[JOB_STATUS_COUNT];
    struct err e;
    int64_t deadline = clock_mono_ms() + 300000;
    for (;;) {
        clock_sleep_ms(100);
        long kb = bench_vmhwm_kb(pid);
        if (kb > peak)
            peak = kb;
        if (engine_counts(eng, counts, &e))
            die("count", &e);
        if (counts[JOB_COMPLETED] >= (int64_t)n || clock_mono_ms() > deadline)
            break;
    }
    int64_t dt = clock_mono_ns() - t0;
    long kb = bench_vmhwm_kb(pid);
    if (kb > peak)
        peak = kb;
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    printf("serve_memory jobs=%zu completed=%lld seconds=%.2f jobs_per_s=%.0f peak_rss_mb=%.1f "
           "exit=%d\n",
           n, (long long)counts[JOB_COMPLETED], (double)dt / 1e9,
           rate((size_t)counts[JOB_COMPLETED], dt), (double)peak / 1024.0,
           WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    engine_close(eng);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"jobs", required_argument, 0, 'n'},
        {"claim-max", required_argument, 0, 'c'},
        {"trawl", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"only", required_argument, 0, 'o'},
        {"relaxed", no_argument, 0, 'r'},
        {"workers", required_argument, 0, 'w'},
        {"pg", required_argument, 0, 'p'},
        {0, 0, 0, 0},
    };
    size_t n = 100000, claim_max = 1000000;
    int workers = 2;
    const char *trawl = "build/trawl", *only = NULL, *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'n':
            n = (size_t)atol(optarg);
            break;
        case 'c':
            claim_max = (size_t)atol(optarg);
            break;
        case 't':
            trawl = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'o':
            only = optarg;
            break;
        case 'r':
            dur_ = STORE_RELAXED;
            break;
        case 'w':
            workers = atoi(optarg);
            break;
        case 'p':
            pg_ = optarg;
            break;
        default:
            return 2;
        }
    }
    bench_dir(dir_, sizeof dir_, dir, "engine");
    printf("# bench_engine dir=%s durability=%s\n", dir_,
           dur_ == STORE_DURABLE ? "full" : "relaxed");
    fflush(stdout);
    if (!only || !strcmp(only, "fsync"))
        bench_fsync();
    if (!only || !strcmp(only, "enqueue"))
        bench_enqueue(n);
    fflush(stdout);
    if (!only || !strcmp(only, "e2e"))
        bench_e2e(n, workers);
    fflush(stdout);
    if (!only || !strcmp(only, "chain"))
        bench_chain(n, workers);
    if (only && !strcmp(only, "chain-once")) /* one run of chains alone: for callgrind */
        run_e2e(n, workers, true, true);
    fflush(stdout);
    if (!only || !strcmp(only, "claim"))
        bench_claim(claim_max);
    fflush(stdout);
    if (!only || !strcmp(only, "future"))
        bench_claim_future(claim_max);
    fflush(stdout);
    if (!only || !strcmp(only, "memory"))
        bench_serve_memory(trawl, n);
    return bench_dir_done(dir_, dir) ? 0 : 1;
}
