/* HTTP API and crawl benchmarks against a real `trawl serve`: crawl-job submission over HTTP one
 * at a time (beside the disk's own fdatasync pace, measured in the same run), with many
 * concurrent clients (wrk), a 10,000-URL batch call, how soon a wait returns after its job
 * completes, and crawl jobs fetched from a local nginx (pages per second, peak memory). Durable
 * throughout. Prints one line per figure.
 * usage: bench_api [--trawl PATH] [--dir DIR] [--only submit|concurrent|batch|wait|crawl]
 *                  [--clients N] [--seconds S] [--pages N] [--crawl-workers N]
 *                  [--host-connections N] [--relaxed] */
#include "base/clock.h"
#include "base/xalloc.h"
#include "engine/engine.h"
#include "util/benchutil.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir_[512];
static const char *trawl_ = "build/trawl";

#define die bench_die

static const char *json_field(const char *text, const char *key, char *out, size_t n)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, n, "%s", v ? v : "");
    json_decref(j);
    return out;
}

/* A bare HTTP/1.1 client on one kept-alive connection: the sequential benchmark measures the
 * server, so the client should cost as little as it can (libcurl's easy interface adds tens of
 * microseconds per request here). */
struct raw {
    int fd;
    char buf[65536];
};

static void raw_open(struct raw *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(0x7f000001)};
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        die("connect", NULL);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Send a POST and read one whole response; returns its status. */
static int raw_post(struct raw *c, const char *path, const char *token, const char *body)
{
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     path, token, strlen(body), body);
    if (write(c->fd, req, (size_t)n) != n)
        die("write", NULL);
    size_t have = 0;
    for (;;) {
        ssize_t r = read(c->fd, c->buf + have, sizeof c->buf - 1 - have);
        if (r <= 0)
            die("read", NULL);
        have += (size_t)r;
        c->buf[have] = 0;
        char *end = strstr(c->buf, "\r\n\r\n");
        if (!end)
            continue;
        const char *cl = strcasestr(c->buf, "content-length:");
        size_t want = (size_t)(end + 4 - c->buf) + (cl ? (size_t)atol(cl + 15) : 0);
        if (have >= want)
            return atoi(c->buf + 9);
    }
}

/* ---- a serve for one benchmark ---- */

static void srv_start(struct bench_srv *s, const char *name, const char *const *args)
{
    bench_srv_start(s, trawl_, dir_, name, args);
}

/* ---- submit, one client ---- */

static const char *durability_ = "durable";

/* The disk's speed here moves by a factor of two from one second to the next, so the submits and
 * the disk's own fdatasync are measured in turns, ten rounds each, and compared in sum. */
static void bench_submit(double seconds)
{
    struct bench_srv s;
    srv_start(&s, "submit",
              (const char *const[]){"--workers", "0", "--crawl-workers", "0", "--durability",
                                    durability_, NULL});
    struct raw c;
    raw_open(&c, s.port);
    long n = 0;
    double http_s = 0, disk_us = 0;
    int rounds = 10, probes = 0;
    for (int r = 0; r < rounds; r++) {
        disk_us += bench_fdatasync_us(dir_, 100) * 100;
        probes += 100;
        int64_t t0 = clock_mono_ns(), end = t0 + (int64_t)(seconds / rounds * 1e9);
        while (clock_mono_ns() < end) {
            char body[128];
            snprintf(body, sizeof body, "{\"url\":\"http://shop.example/p/%ld\"}", n);
            if (raw_post(&c, "/v1/crawl-jobs", s.token, body) != 202)
                die("submit refused", c.buf);
            n++;
        }
        http_s += (double)(clock_mono_ns() - t0) / 1e9;
    }
    double rate = (double)n / http_s, disk = probes / (disk_us / 1e6);
    printf("http_submit_sequential jobs=%ld seconds=%.2f jobs_per_s=%.0f disk_fdatasync_per_s=%.0f "
           "ratio=%.2f us_per_job=%.0f us_per_fdatasync=%.0f\n",
           n, http_s, rate, disk, rate / disk, 1e6 / rate, disk_us / probes);
    close(c.fd);
    bench_stop(s.pid);
}

/* ---- submit, many clients (wrk) ---- */

static int64_t count_jobs(const char *db)
{
    struct store *st;
    struct err e;
    struct store_sqlite_opts o = {0};
    if (store_sqlite_open(db, &o, &st, &e))
        die("open", e.msg);
    struct engine *eng;
    engine_open(st, NULL, &eng, &e);
    int64_t counts[JOB_STATUS_COUNT] = {0}, total = 0;
    engine_counts(eng, counts, &e);
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        total += counts[i];
    engine_close(eng);
    return total;
}

static void bench_concurrent(int clients, double seconds)
{
    if (access("/usr/bin/wrk", X_OK) != 0) {
        printf("http_submit_concurrent skipped=\"wrk is not installed (apt-get install wrk)\"\n");
        return;
    }
    struct bench_srv s;
    srv_start(&s, "concurrent",
              (const char *const[]){"--workers", "0", "--crawl-workers", "0", "--durability",
                                    durability_, NULL});
    char lua[700];
    snprintf(lua, sizeof lua, "%s/post.lua", dir_);
    FILE *f = fopen(lua, "w");
    fprintf(f,
            "wrk.method = \"POST\"\n"
            "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
            "wrk.headers[\"Authorization\"] = \"Bearer %s\"\n"
            "local n = 0\n"
            "request = function()\n"
            "  n = n + 1\n"
            "  return wrk.format(nil, nil, nil, '{\"url\":\"http://shop.example/p/' .. n .. "
            "'\"}')\n"
            "end\n",
            s.token);
    fclose(f);
    char cmd[1600];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c%d -d%.0fs -s '%s' http://127.0.0.1:%d/v1/crawl-jobs 2>&1",
             clients, seconds, lua, s.port);
    int64_t cpu0 = bench_cpu_us(s.pid);
    FILE *p = popen(cmd, "r");
    char line[512];
    double rps = 0;
    long non2xx = 0, reqs = 0;
    char lat[64] = "?";
    while (p && fgets(line, sizeof line, p)) {
        double v;
        long l;
        char unit[16];
        if (sscanf(line, " Requests/sec: %lf", &v) == 1)
            rps = v;
        if (sscanf(line, " Non-2xx or 3xx responses: %ld", &l) == 1)
            non2xx = l;
        if (sscanf(line, " %ld requests in", &l) == 1)
            reqs = l;
        if (sscanf(line, " Latency %lf%15s", &v, unit) == 2)
            snprintf(lat, sizeof lat, "%.2f%s", v, unit);
    }
    if (p)
        pclose(p);
    int64_t cpu = bench_cpu_us(s.pid) - cpu0;
    bench_stop(s.pid);
    int64_t in_db = count_jobs(s.db);
    printf("http_submit_concurrent clients=%d seconds=%.0f jobs_per_s=%.0f requests=%ld "
           "non_2xx=%ld jobs_in_db=%lld mean_latency=%s serve_cpu_us_per_job=%.1f\n",
           clients, seconds, rps, reqs, non2xx, (long long)in_db, lat,
           reqs ? (double)cpu / (double)reqs : 0);
}

/* ---- one batch call of 10,000 URLs ---- */

static void bench_batch(void)
{
    struct bench_srv s;
    srv_start(&s, "batch", (const char *const[]){"--workers", "0", "--crawl-workers", "0", NULL});
    struct bench_http c;
    bench_http_init(&c, s.port, s.token);
    for (int round = 0; round < 3; round++) {
        json_t *urls = json_array();
        for (int i = 0; i < 10000; i++) {
            char u[96];
            snprintf(u, sizeof u, "https://shop.example/catalogue/item-%d-%d.html", round, i);
            json_array_append_new(urls, json_string(u));
        }
        json_t *b = json_pack("{s:o}", "urls", urls);
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        int64_t t0 = clock_mono_ns();
        long st = bench_http_do(&c, "POST", "/v1/crawl-jobs/batch", body);
        double dt = (double)(clock_mono_ns() - t0) / 1e9;
        if (st != 202)
            die("batch refused", c.resp);
        printf("http_batch urls=10000 body_kb=%zu seconds=%.3f\n", strlen(body) / 1024, dt);
        free(body);
    }
    bench_http_release(&c);
    bench_stop(s.pid);
}

/* ---- how soon a wait returns after the completion ---- */

struct waiter {
    int port;
    const char *token;
    char path[256];
    int64_t returned_ns;
};

static void *wait_main(void *arg)
{
    struct waiter *w = arg;
    struct bench_http c;
    bench_http_init(&c, w->port, w->token);
    if (bench_http_do(&c, "POST", w->path, "{\"maxWaitTimeMs\":10000}") != 200)
        die("wait failed", c.resp);
    w->returned_ns = clock_mono_ns();
    if (!strstr(c.resp, "\"completed\":true"))
        die("wait returned before the job completed", c.resp);
    bench_http_release(&c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void bench_wait(void)
{
    struct bench_srv s;
    srv_start(&s, "wait", (const char *const[]){"--workers", "0", "--crawl-workers", "0", NULL});
    struct bench_http c;
    bench_http_init(&c, s.port, s.token);
    enum { ROUNDS = 50 };
    double ms[ROUNDS];
    for (int i = 0; i < ROUNDS; i++) {
        char id[64], tok[64], body[256], path[256];
        bench_http_do(&c, "POST", "/v1/crawl-jobs", "{\"url\":\"http://shop.example/w\"}");
        json_field(c.resp, "jobId", id, sizeof id);
        struct waiter w = {.port = s.port, .token = s.token};
        snprintf(w.path, sizeof w.path, "/v1/crawl-jobs/%s/wait", id);
        pthread_t t;
        pthread_create(&t, NULL, wait_main, &w);
        clock_sleep_ms(20); /* the wait is in place */
        /* an external worker takes the job and completes it */
        bench_http_do(&c, "POST", "/v1/jobs/claim", "{\"types\":[\"crawl\"],\"worker\":\"bench\"}");
        json_t *j = json_loads(c.resp, 0, NULL);
        snprintf(tok, sizeof tok, "%s",
                 json_string_value(
                     json_object_get(json_array_get(json_object_get(j, "jobs"), 0), "leaseToken")));
        json_decref(j);
        snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
        snprintf(body, sizeof body, "{\"worker\":\"bench\",\"leaseToken\":\"%s\"}", tok);
        int64_t sent = clock_mono_ns();
        if (bench_http_do(&c, "POST", path, body) != 200)
            die("complete refused", c.resp);
        pthread_join(t, NULL);
        /* from sending the completion (before it is committed) to the wait's answer: an upper
         * bound of the delay after the completion itself */
        ms[i] = (double)(w.returned_ns - sent) / 1e6;
    }
    qsort(ms, ROUNDS, sizeof ms[0], cmp_double);
    printf("wait_after_completion rounds=%d p50_ms=%.2f p90_ms=%.2f max_ms=%.2f\n", ROUNDS,
           ms[ROUNDS / 2], ms[ROUNDS * 9 / 10], ms[ROUNDS - 1]);
    bench_http_release(&c);
    bench_stop(s.pid);
}

/* ---- crawl jobs against a local nginx ---- */

static pid_t start_nginx(int port, size_t page_bytes)
{
    char site[600], path[700];
    snprintf(site, sizeof site, "%s/site", dir_);
    mkdir(site, 0755);
    snprintf(path, sizeof path, "%s/page.html", site);
    FILE *f = fopen(path, "w");
    fprintf(f, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>A product"
               "</title><meta name=\"description\" content=\"a page of a shop\"></head><body>\n");
    size_t n = 200;
    for (int i = 0; n < page_bytes; i++)
        n += (size_t)fprintf(f,
                             "<p>Paragraph %d of the product page: oak, 120 x 60 cm, in stock. "
                             "<a href=\"/p/%d\">related item %d</a></p>\n",
                             i, i, i);
    fprintf(f, "</body></html>\n");
    fclose(f);
    return bench_nginx(dir_, port, site,
                       "location = /robots.txt { return 404; }\n"
                       "location / { default_type text/html; try_files /page.html =404; }\n");
}

static const char *host_conns_ = "8";

static void bench_crawl(int pages, int workers)
{
    if (access("/usr/sbin/nginx", X_OK) != 0) {
        printf("crawl_nginx skipped=\"nginx is not installed (apt-get install nginx-light)\"\n");
        return;
    }
    int port = bench_free_port();
    pid_t ng = start_nginx(port, 27 * 1024);
    char w[16];
    snprintf(w, sizeof w, "%d", workers);
    struct bench_srv s;
    srv_start(&s, "crawl",
              (const char *const[]){"--workers", "0", "--crawl-workers", w, "--allow-private",
                                    "127.0.0.1/32", "--host-connections", host_conns_,
                                    "--log-level", "warn", NULL});
    struct bench_http c;
    bench_http_init(&c, s.port, s.token);
    json_t *urls = json_array();
    for (int i = 0; i < pages; i++) {
        char u[96];
        snprintf(u, sizeof u, "http://127.0.0.1:%d/p/%d", port, i);
        json_array_append_new(urls, json_string(u));
    }
    json_t *b = json_pack("{s:o, s:s}", "urls", urls, "batchId", "bench");
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    int64_t t0 = clock_mono_ns();
    if (bench_http_do(&c, "POST", "/v1/crawl-jobs/batch", body) != 202)
        die("batch refused", c.resp);
    free(body);
    long peak = 0;
    long done = 0, completed = 0, failed = 0;
    while (done < pages && clock_mono_ns() - t0 < (int64_t)600e9) {
        clock_sleep_ms(50);
        long kb = bench_vmhwm_kb(s.pid);
        if (kb > peak)
            peak = kb;
        bench_http_do(&c, "GET", "/v1/batches/bench?limit=1", NULL);
        json_t *j = json_loads(c.resp, 0, NULL);
        json_t *cnt = json_object_get(j, "counts");
        completed = (long)json_integer_value(json_object_get(cnt, "completed"));
        failed = (long)json_integer_value(json_object_get(cnt, "failed"));
        done = completed + failed;
        json_decref(j);
    }
    double dt = (double)(clock_mono_ns() - t0) / 1e9;
    long kb = bench_vmhwm_kb(s.pid);
    if (kb > peak)
        peak = kb;
    printf("crawl_nginx pages=%d page_kb=27 crawl_workers=%d host_connections=%s completed=%ld "
           "failed=%ld seconds=%.2f pages_per_s=%.0f peak_rss_mb=%.1f\n",
           pages, workers, host_conns_, completed, failed, dt, (double)completed / dt,
           (double)peak / 1024);
    bench_http_release(&c);
    bench_stop(s.pid);
    bench_stop(ng);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"trawl", required_argument, 0, 't'},
        {"dir", required_argument, 0, 'd'},
        {"only", required_argument, 0, 'o'},
        {"clients", required_argument, 0, 'c'},
        {"seconds", required_argument, 0, 's'},
        {"pages", required_argument, 0, 'p'},
        {"crawl-workers", required_argument, 0, 'w'},
        {"relaxed", no_argument, 0, 'r'},
        {"host-connections", required_argument, 0, 'H'},
        {0, 0, 0, 0},
    };
    const char *only = NULL, *dir = NULL;
    int clients = 50, pages = 10000, workers = 64;
    double seconds = 3;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            trawl_ = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'o':
            only = optarg;
            break;
        case 'c':
            clients = atoi(optarg);
            break;
        case 's':
            seconds = atof(optarg);
            break;
        case 'p':
            pages = atoi(optarg);
            break;
        case 'w':
            workers = atoi(optarg);
            break;
        case 'r':
            durability_ = "relaxed";
            break;
        case 'H':
            host_conns_ = optarg;
            break;
        default:
            return 2;
        }
    }
    bench_dir(dir_, sizeof dir_, dir, "api");
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("# bench_api dir=%s durability=%s\n", dir_, durability_);
    fflush(stdout);
    if (!only || !strcmp(only, "submit"))
        bench_submit(seconds);
    fflush(stdout);
    if (!only || !strcmp(only, "concurrent"))
        bench_concurrent(clients, seconds);
    fflush(stdout);
    if (!only || !strcmp(only, "batch"))
        bench_batch();
    fflush(stdout);
    if (!only || !strcmp(only, "wait"))
        bench_wait();
    fflush(stdout);
    if (!only || !strcmp(only, "crawl"))
        bench_crawl(pages, workers);
    return bench_dir_done(dir_, dir) ? 0 : 1;
}
