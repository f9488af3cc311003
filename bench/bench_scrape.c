/* A whole scraping session against a local shop served by nginx: the generated shop of the tests
 * (tests/e2e/shop.c) written as static files, pages of 15-40 KB, products planted as JSON-LD,
 * microdata and OpenGraph. One session discovers the pages (sitemaps and links), fetches, parses,
 * extracts and stores every page durably; the figures are pages per second from the session's
 * creation to its end, the server's peak memory and CPU time, and whether every planted product
 * came out once. Prints one line per session.
 * usage: bench_scrape [--trawl PATH] [--shop PATH] [--dir DIR] [--products N[,N...]]
 *                     [--concurrency N] [--host-connections N] [--keep-site] */
#include "base/clock.h"

#include "store/scrape.h"
#include "util/benchutil.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *trawl_ = "build/trawl";
static const char *shop_ = "build/tests/shop";
static char dir_[512];
static int concurrency_ = 8;
static const char *host_conns_ = "16";
static bool keep_site_;

/* Write the shop for n products under DIR/site-n (unless it is there from an earlier run). */
static void write_site(int n, int port, char *site, size_t cap)
{
    snprintf(site, cap, "%s/site-%d-%d", dir_, n, port);
    char marker[1024];
    snprintf(marker, sizeof marker, "%s/__manifest", site);
    if (access(marker, R_OK) == 0)
        return;
    char cmd[2048], nb[32], base[64];
    snprintf(nb, sizeof nb, "%d", n);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    snprintf(cmd, sizeof cmd,
             "'%s' --write '%s' --products %d --base %s --page-kb 15:40 >/dev/null", shop_, site, n,
             base);
    int64_t t0 = clock_mono_ms();
    if (system(cmd) != 0)
        bench_die("cannot write the shop", cmd);
    fprintf(stderr, "bench: wrote the %d-product shop in %.1f s\n", n,
            (double)(clock_mono_ms() - t0) / 1000);
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void run(int products)
{
    int port = bench_free_port();
    char site[700];
    write_site(products, port, site, sizeof site);
    char mpath[800];
    snprintf(mpath, sizeof mpath, "%s/__manifest", site);
    json_t *manifest = json_load_file(mpath, 0, NULL);
    if (!manifest)
        bench_die("cannot read", mpath);
    size_t planted = json_array_size(json_object_get(manifest, "products"));
    size_t html_pages = json_array_size(json_object_get(manifest, "pages"));
    json_decref(manifest);
    pid_t ng = bench_nginx(dir_, port, site,
                           "location / { try_files $uri $uri/index.html =404; }\n"
                           "location ~ \\.gz$ { types { } default_type application/gzip; }\n");
    struct bench_srv s;
    bench_srv_start(&s, trawl_, dir_, "scrape",
                    (const char *const[]){"--workers", "0", "--crawl-workers", "2",
                                          "--allow-private", "127.0.0.1/32", "--host-connections",
                                          host_conns_, "--log-level", "warn", NULL});
    struct bench_http c;
    bench_http_init(&c, s.port, s.token);
    char body[512];
    snprintf(body, sizeof body,
             "{\"source_url\":\"http://127.0.0.1:%d/\",\"max_pages\":%zu,\"max_depth\":10000,"
             "\"concurrency\":%d}",
             port, html_pages * 2 + 100, concurrency_);
    int64_t cpu0 = bench_cpu_us(s.pid);
    int64_t t0 = clock_mono_ns();
    if (bench_http_do(&c, "POST", "/v1/scraping-sessions", body) != 201)
        bench_die("the session was refused", c.resp);
    json_t *ans = json_loads(c.resp, 0, NULL);
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s",
             json_string_value(json_object_get(json_object_get(ans, "session"), "id")));
    json_decref(ans);
    long peak = 0;
    json_t *sess = NULL;
    for (;;) {
        clock_sleep_ms(100);
        long kb = bench_vmhwm_kb(s.pid);
        if (kb > peak)
            peak = kb;
        if (bench_http_do(&c, "GET", path, NULL) != 200)
            bench_die("cannot read the session", c.resp);
        json_decref(sess);
        ans = json_loads(c.resp, 0, NULL);
        sess = json_incref(json_object_get(ans, "session"));
        json_decref(ans);
        const char *st = json_string_value(json_object_get(sess, "status"));
        if (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
            break;
        if (clock_mono_ns() - t0 > (int64_t)1800e9)
            bench_die("the session did not end in 30 minutes", c.resp);
    }
    double dt = (double)(clock_mono_ns() - t0) / 1e9;
    int64_t cpu = bench_cpu_us(s.pid) - cpu0;
    long kb = bench_vmhwm_kb(s.pid);
    if (kb > peak)
        peak = kb;
    json_int_t done = num(sess, "completed_pages"), failed = num(sess, "failed_pages");
    json_int_t skipped = num(sess, "skipped_pages"), records = num(sess, "materials_processed");
    printf("scrape_session products=%d pages=%lld failed=%lld skipped=%lld records=%lld "
           "planted=%zu all_found=%s status=%s concurrency=%d host_connections=%s seconds=%.2f "
           "pages_per_s=%.0f peak_rss_mb=%.1f cpu_us_per_page=%.0f\n",
           products, (long long)done, (long long)failed, (long long)skipped, (long long)records,
           planted, (size_t)records == planted ? "yes" : "no",
           json_string_value(json_object_get(sess, "status")), concurrency_, host_conns_, dt,
           (double)(done + failed) / dt, (double)peak / 1024,
           done + failed ? (double)cpu / (double)(done + failed) : 0);
    fflush(stdout);
    json_decref(sess);
    bench_http_release(&c);
    bench_stop(s.pid);
    bench_stop(ng);
    if (!keep_site_) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", site);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: cannot remove %s\n", site);
    }
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"trawl", required_argument, 0, 't'},       {"shop", required_argument, 0, 's'},
        {"dir", required_argument, 0, 'd'},         {"products", required_argument, 0, 'p'},
        {"concurrency", required_argument, 0, 'c'}, {"host-connections", required_argument, 0, 'H'},
        {"keep-site", no_argument, 0, 'k'},         {0, 0, 0, 0}};
    const char *products = "9000";
    const char *dir = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            trawl_ = optarg;
            break;
        case 's':
            shop_ = optarg;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'p':
            products = optarg;
            break;
        case 'c':
            concurrency_ = atoi(optarg);
            break;
        case 'H':
            host_conns_ = optarg;
            break;
        case 'k':
            keep_site_ = true;
            break;
        default:
            fprintf(stderr, "usage: bench_scrape [--trawl PATH] [--shop PATH] [--dir DIR] "
                            "[--products N[,N...]] [--concurrency N] [--host-connections N] "
                            "[--keep-site]\n");
            return 2;
        }
    }
    if (access("/usr/sbin/nginx", X_OK) != 0) {
        printf("scrape_session skipped=\"nginx is not installed (apt-get install nginx-light)\"\n");
        return 0;
    }
    bench_dir(dir_, sizeof dir_, dir, "scrape");
    signal(SIGPIPE, SIG_IGN);
    /* a list: the memory of a small and a large site side by side */
    char *list = strdup(products);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
        run(atoi(t));
    free(list);
    return bench_dir_done(dir_, dir) ? 0 : 1;
}
