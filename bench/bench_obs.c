/* Observability benchmarks: GET /v1/metrics (and /metrics) answered from the counters with a
 * million jobs in the store, against counting the jobs table; and the end-to-end noop throughput
 * of a real `trawl serve` with no, and with hundreds of, live-event subscribers connected.
 * Prints one line per figure.
 * usage: bench_obs [--only metrics|sse] [--store-jobs N] [--jobs N] [--subscribers N]
 *                  [--trawl PATH] [--dir DIR] */
#include "base/clock.h"
#include "base/xalloc.h"
#include "engine/engine.h"
#include "handlers/handlers.h"
#include "util/benchutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static char dir_[512];

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "bench: %s: %s\n", what, e ? e->msg : "");
    exit(1);
}

/* n noop jobs of workspace "bench" (in batch, when given), 10,000 a transaction. */
static void enqueue_noops(struct engine *eng, size_t n, const char *batch)
{
    size_t chunk = 10000;
    struct job_spec *specs = xcalloc(chunk, sizeof *specs);
    struct enqueue_result *res = xcalloc(chunk, sizeof *res);
    for (size_t i = 0; i < chunk; i++)
        specs[i] = (struct job_spec){.type = "noop", .workspace = "bench", .batch_id = batch};
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

/* A fresh database DIR/NAME.db with n noop jobs of workspace "bench". */
static void fill(char *path, size_t size, const char *name, size_t n)
{
    snprintf(path, size, "%s/%s.db", dir_, name);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", path, path, path);
    if (system(cmd) != 0)
        bench_die("cannot remove", path);
    struct store *s;
    struct err e;
    struct store_sqlite_opts o = {.durability = STORE_RELAXED};
    if (store_sqlite_open(path, &o, &s, &e))
        die("open", &e);
    struct engine *eng;
    if (engine_open(s, NULL, &eng, &e) || handlers_configure(eng, &e))
        die("engine", &e);
    enqueue_noops(eng, n, NULL);
    engine_close(eng);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void latencies(const char *name, struct bench_http *c, const char *path, int rounds)
{
    int64_t *us = xcalloc((size_t)rounds, sizeof *us);
    for (int i = 0; i < rounds; i++) {
        int64_t t0 = clock_mono_ns();
        long st = bench_http_do(c, "GET", path, NULL);
        us[i] = (clock_mono_ns() - t0) / 1000;
        if (st != 200)
            bench_die("metrics answered", c->resp);
    }
    qsort(us, (size_t)rounds, sizeof *us, cmp_i64);
    printf("%s rounds=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n", name, rounds,
           (double)us[rounds / 2] / 1000.0, (double)us[rounds * 99 / 100] / 1000.0,
           (double)us[rounds - 1] / 1000.0);
    free(us);
}

static void bench_metrics(const char *trawl, size_t n)
{
    char db[600], tok[128], log[700];
    int64_t t0 = clock_mono_ns();
    fill(db, sizeof db, "metrics", n);
    printf("# %zu jobs in the store in %.1f s\n", n, (double)(clock_mono_ns() - t0) / 1e9);
    bench_token(trawl, db, tok, sizeof tok);
    /* counting the table, as a metric answered without counters would */
    struct store *s;
    struct err e;
    if (store_sqlite_open(db, NULL, &s, &e))
        die("open", &e);
    int64_t counts[JOB_STATUS_COUNT];
    int64_t best = INT64_MAX;
    for (int i = 0; i < 3; i++) {
        t0 = clock_mono_ns();
        if (store_count(s, counts, &e))
            die("count", &e);
        int64_t dt = clock_mono_ns() - t0;
        best = dt < best ? dt : best;
    }
    store_close(s);
    printf("count_table jobs=%lld best_of_3_ms=%.1f\n", (long long)counts[JOB_PENDING],
           (double)best / 1e6);
    snprintf(log, sizeof log, "%s/metrics.log", dir_);
    int port;
    const char *args[] = {"--db", db, "--workers", "0", "--crawl-workers", "0", NULL};
    pid_t pid = bench_serve(trawl, log, args, &port);
    struct bench_http c;
    bench_http_init(&c, port, tok);
    bench_http_do(&c, "GET", "/v1/metrics", NULL);
    if (!strstr(c.resp, "\"totalJobs\":"))
        bench_die("unexpected /v1/metrics answer", c.resp);
    latencies("v1_metrics", &c, "/v1/metrics", 500);
    latencies("v1_metrics_type_window", &c, "/v1/metrics?type=noop&window=24h", 500);
    latencies("prometheus_metrics", &c, "/metrics", 200);
    bench_http_release(&c);
    bench_stop(pid);
}

/* ---- subscribers ---- */

struct subs {
    int n;
    int *fd;
    atomic_bool stop;
    atomic_llong bytes, events, ended;
    int ep;
};

static void *read_subs(void *arg)
{
    struct subs *s = arg;
    /* subscribers are other machines' clients: their reading here takes what the server leaves */
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
    char buf[65536];
    struct epoll_event evs[64];
    while (!atomic_load(&s->stop)) {
        int k = epoll_wait(s->ep, evs, 64, 50);
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0) {
                atomic_fetch_add(&s->bytes, r);
                long long ev = 0;
                for (const char *p = buf; (p = memmem(p, (size_t)(buf + r - p), "\nevent: ", 8));
                     p += 8)
                    ev++;
                atomic_fetch_add(&s->events, ev);
            } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
                atomic_fetch_add(&s->ended, 1);
            }
        }
    }
    return NULL;
}

/* n subscribers to GET /v1/events?query, each on its own connection, read by one thread. */
static void subs_open(struct subs *s, int n, int port, const char *tok, const char *query)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    s->fd = xcalloc((size_t)n, sizeof *s->fd);
    s->ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            bench_die("connect", strerror(errno));
        char req[512];
        int len = snprintf(req, sizeof req,
                           "GET /v1/events?%s HTTP/1.1\r\nHost: b\r\nAuthorization: Bearer "
                           "%s\r\n\r\n",
                           query, tok);
        if (send(fd, req, (size_t)len, 0) != len)
            bench_die("send", strerror(errno));
        /* wait for the greeting: the subscription is in place */
        char buf[2048];
        size_t got = 0;
        while (got < sizeof buf - 1) {
            ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
            if (r <= 0)
                bench_die("subscriber", "closed before the stream began");
            got += (size_t)r;
            buf[got] = 0;
            if (strstr(buf, ": subscribed"))
                break;
        }
        if (strncmp(buf, "HTTP/1.1 200", 12) != 0)
            bench_die("subscriber refused", buf);
        s->fd[i] = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

static void subs_close(struct subs *s)
{
    for (int i = 0; i < s->n; i++)
        close(s->fd[i]);
    close(s->ep);
    free(s->fd);
}

static long long metric(struct bench_http *c, const char *name)
{
    bench_http_do(c, "GET", "/metrics", NULL);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(c->resp, key);
    return p ? atoll(p + strlen(key)) : -1;
}

/* noop jobs through a real serve, with nsubs subscribers reading query (NULL: none). */
static void sse_run(const char *trawl, size_t n, int nsubs, const char *label, const char *query)
{
    static int run;
    char db[600], tok[128], log[700], name[64];
    snprintf(name, sizeof name, "sse%d", run++); /* its own log: bench_serve reads the port there */
    fill(db, sizeof db, name, 0);
    bench_token(trawl, db, tok, sizeof tok);
    snprintf(log, sizeof log, "%s/%s.log", dir_, name);
    int port;
    const char *args[] = {"--db", db,  "--workers", "2", "--batch", "1024", "--crawl-workers",
                          "0",    NULL};
    pid_t pid = bench_serve(trawl, log, args, &port);
    struct subs s;
    pthread_t reader;
    if (nsubs > 0) {
        subs_open(&s, nsubs, port, tok, query);
        pthread_create(&reader, NULL, read_subs, &s);
    }
    /* the jobs go in from this process, as one batch, while serve watches */
    struct store *st;
    struct err e;
    if (store_sqlite_open(db, NULL, &st, &e))
        die("open", &e);
    struct engine *eng;
    if (engine_open(st, NULL, &eng, &e))
        die("engine", &e);
    int64_t cpu0 = bench_cpu_us(pid);
    int64_t t0 = clock_mono_ns();
    enqueue_noops(eng, n, "b");
    /* polled from the counters (a count of the table would load the machine) */
    int64_t counts[JOB_STATUS_COUNT] = {0};
    int64_t deadline = clock_mono_ms() + 600000;
    do {
        clock_sleep_ms(20);
        struct stats_query q = {.workspace = "bench", .type = "noop"};
        struct stats_row *rows;
        size_t nr;
        if (engine_job_stats(eng, &q, &rows, &nr, &e) < 0)
            die("counters", &e);
        if (nr == 1)
            memcpy(counts, rows[0].status, sizeof counts);
        stats_rows_free(rows, nr);
    } while (counts[JOB_COMPLETED] < (int64_t)n && clock_mono_ms() < deadline);
    int64_t dt = clock_mono_ns() - t0;
    int64_t cpu = bench_cpu_us(pid) - cpu0;
    clock_sleep_ms(300); /* the last events reach the subscribers */
    struct bench_http c;
    bench_http_init(&c, port, tok);
    long long dropped = metric(&c, "trawl_event_subscribers_dropped_total");
    long long connected = metric(&c, "trawl_event_subscribers");
    bench_http_release(&c);
    long long events = 0, bytes = 0;
    if (nsubs > 0) {
        atomic_store(&s.stop, true);
        pthread_join(reader, NULL);
        events = atomic_load(&s.events);
        bytes = atomic_load(&s.bytes);
        subs_close(&s);
    }
    engine_close(eng);
    bench_stop(pid);
    printf("sse_e2e subscribers=%d stream=%s jobs=%zu completed=%lld seconds=%.2f jobs_per_s=%.0f "
           "serve_cpu_s=%.2f events_per_subscriber=%.0f mb_sent=%.1f subscribers_dropped=%lld "
           "still_connected=%lld\n",
           nsubs, label, n, (long long)counts[JOB_COMPLETED], (double)dt / 1e9,
           (double)counts[JOB_COMPLETED] / ((double)dt / 1e9), (double)cpu / 1e6,
           nsubs ? (double)events / nsubs : 0.0, (double)bytes / 1e6, dropped, connected);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"store-jobs", required_argument, 0, 'm'},
        {"jobs", required_argument, 0, 'n'},
        {"subscribers", required_argument, 0, 's'},
        {"trawl", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"only", required_argument, 0, 'o'},
        {0, 0, 0, 0},
    };
    size_t store_jobs = 1000000, n = 100000;
    int subscribers = 200;
    const char *trawl = "build/trawl", *only = NULL, *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            store_jobs = (size_t)atol(optarg);
            break;
        case 'n':
            n = (size_t)atol(optarg);
            break;
        case 's':
            subscribers = atoi(optarg);
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
        default:
            fprintf(stderr, "usage: bench_obs [--only metrics|sse] [--store-jobs N] [--jobs N] "
                            "[--subscribers N] [--trawl PATH] [--dir DIR]\n");
            return 2;
        }
    }
    bench_dir(dir_, sizeof dir_, dir, "obs");
    printf("# bench_obs dir=%s\n", dir_);
    if (!only || strcmp(only, "metrics") == 0)
        bench_metrics(trawl, store_jobs);
    if (!only || strcmp(only, "sse") == 0) {
        /* none, the dashboard's stream (batches, sessions, breakers, alerts), every job change,
         * and none again: the machine's drift shows between the first and the last */
        sse_run(trawl, n, 0, "none", NULL);
        sse_run(trawl, n, subscribers, "dashboard", "types=batch,session,breaker,alert");
        sse_run(trawl, n, subscribers, "all", "types=job,progress,batch,session,breaker,alert");
        sse_run(trawl, n, 0, "none", NULL);
    }
    return bench_dir_done(dir_, dir) ? 0 : 1;
}
