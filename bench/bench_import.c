/* Feed imports end to end (issue 14) through a real `trawl serve`, against the tools a user has
 * for the same feeds, in the same run:
 *   import   the whole import of generated 1,000,000-product feeds (CSV, a JSON array, a Merchant
 *            RSS feed): `trawl import FILE` uploads it, the server detects, maps, validates and
 *            keeps every product durably; from the upload's start until the import is completed.
 *            Against `mlr --icsv --ojson cat`, `jq -c '.[]'` and `xmlstarlet sel` of the products
 *            on the same files (which write their output to /dev/null and keep nothing).
 *   deliver  the same CSV imported with a webhook to the tests' receiver (tests/e2e/hookrx.c, on
 *            127.0.0.2; every signature checked, every product number counted) in batches of
 *            500: products/s from the first delivery until the import is completed.
 *   memory   a CSV feed of --big-mb MB (1024) imported and delivered by a fresh serve; its peak
 *            RSS (VmHWM).
 * Prints one line per figure.
 * usage: bench_import [--trawl PATH] [--hookrx PATH] [--records N] [--big-mb MB] [--dir DIR]
 *                     [--only import|deliver|memory] [--rounds N] */
#include "util/benchutil.h"
#include "util/feedgen.h"

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SECRET  "whsec_dHJhd2wtaW1wb3J0LXRlc3Qta2V5"
#define POLL_MS 20

static const char *trawl_ = "build/trawl";
static const char *hookrx_ = "build/tests/hookrx";
static char dir_[512];

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* The receiver on 127.0.0.2; its port into *port. */
static pid_t start_hookrx(int *port)
{
    char pf[700];
    snprintf(pf, sizeof pf, "%s/hookrx.port", dir_);
    unlink(pf);
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork", "hookrx");
    if (pid == 0) {
        freopen("/dev/null", "w", stdout);
        execl(hookrx_, "hookrx", "--secret", SECRET, "--host", "127.0.0.2", "--port-file", pf,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(pf, "r");
        if (f) {
            int ok = fscanf(f, "%d", port);
            fclose(f);
            if (ok == 1)
                return pid;
        }
        sleep_ms(20);
    }
    bench_die("hookrx did not start", hookrx_);
}

/* GET path of the receiver: the JSON answer. */
static json_t *hookrx_get(int port, const char *path)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "curl -s 'http://127.0.0.2:%d%s'", port, path);
    FILE *f = popen(cmd, "r");
    if (!f)
        bench_die("curl", cmd);
    json_t *j = json_loadf(f, 0, NULL);
    pclose(f);
    if (!j)
        bench_die("hookrx did not answer", cmd);
    return j;
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* `trawl import FILE --detach` with more (NULL-terminated); the import's id into id. */
static void start_import(const struct bench_srv *s, const char *file, const char *const *more,
                         char id[64])
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof cmd,
                     "'%s' import '%s' --detach --server http://127.0.0.1:%d --token '%s'", trawl_,
                     file, s->port, s->token);
    for (; more && *more; more++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " '%s'", *more);
    FILE *f = popen(cmd, "r");
    if (!f || !fgets(id, 64, f))
        bench_die("trawl import failed", cmd);
    pclose(f);
    id[strcspn(id, "\n")] = 0;
    if (strlen(id) != 36)
        bench_die("trawl import printed no id", id);
}

struct waited {
    double end, deliver_start; /* deliver_start 0: not seen delivering */
    json_int_t processed, failed, delivered;
    long serve_rss_kb;
};

/* Poll the import until it is completed (exits when it fails). */
static void wait_import(const struct bench_srv *s, const char *id, struct waited *w)
{
    struct bench_http c;
    bench_http_init(&c, s->port, s->token);
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    memset(w, 0, sizeof *w);
    for (;;) {
        long st = bench_http_do(&c, "GET", path, NULL);
        double t = feedgen_now_s();
        json_t *j = json_loads(c.resp, 0, NULL);
        json_t *im = json_object_get(j, "import");
        const char *status = json_string_value(json_object_get(im, "status"));
        if (st != 200 || !status)
            bench_die("GET /v1/imports/ID", c.resp);
        if (!w->deliver_start && !strcmp(status, "delivering"))
            w->deliver_start = t;
        if (!strcmp(status, "completed")) {
            w->end = t;
            w->processed = num(im, "processed_products");
            w->failed = num(im, "failed_products");
            w->delivered = num(im, "delivered_products");
            json_decref(j);
            break;
        }
        if (!strcmp(status, "failed") || !strcmp(status, "cancelled"))
            bench_die("the import ended", c.resp);
        json_decref(j);
        sleep_ms(POLL_MS);
    }
    bench_http_release(&c);
    w->serve_rss_kb = bench_vmhwm_kb(s->pid);
}

static void serve_args(const char **args, const char *imports)
{
    args[0] = "--allow-private";
    args[1] = "127.0.0.2/32";
    args[2] = "--import-dir";
    args[3] = imports;
    args[4] = NULL;
}

/* A fresh serve (its database and import folder new) named name. */
static void fresh_serve(struct bench_srv *s, const char *name)
{
    char imports[700], cmd[800];
    snprintf(imports, sizeof imports, "%s/%s.imports", dir_, name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", imports);
    if (system(cmd) != 0)
        bench_die("cannot remove", imports);
    const char *args[8];
    serve_args(args, imports);
    bench_srv_start(s, trawl_, dir_, name, args);
}

static void bench_imports(long n, int rounds)
{
    static const struct {
        const char *file, *tool, *cmd;
    } feeds[] = {
        {"products.csv", "mlr", "mlr --icsv --ojson cat"},
        {"products.json", "jq", "jq -c '.[]'"},
        {"products.xml", "xmlstarlet",
         "xmlstarlet sel -N g=http://base.google.com/ns/1.0 -t -m //item -v g:id -o , -v title -o "
         ", -v g:price -n"},
    };
    for (int round = 1; round <= rounds; round++) {
        printf("# import round %d\n", round);
        for (size_t f = 0; f < sizeof feeds / sizeof feeds[0]; f++) {
            /* each import on a fresh serve, so none pays for the rows of the one before */
            struct bench_srv s;
            fresh_serve(&s, "import");
            char path[700], id[64];
            snprintf(path, sizeof path, "%s/%s", dir_, feeds[f].file);
            double t0 = feedgen_now_s();
            start_import(&s, path, NULL, id);
            struct waited w;
            wait_import(&s, id, &w);
            double secs = w.end - t0;
            if (w.processed != n)
                bench_die("not every product was kept", feeds[f].file);
            printf("import_trawl file=%s records=%ld seconds=%.3f records_per_s=%.0f mb_per_s=%.1f "
                   "serve_peak_rss_kb=%ld durable=yes\n",
                   feeds[f].file, n, secs, (double)n / secs,
                   (double)feedgen_size(path) / 1048576 / secs, w.serve_rss_kb);
            fflush(stdout);
            bench_stop(s.pid);
            feedgen_time_tool("import", dir_, feeds[f].tool, feeds[f].file, feeds[f].cmd, n);
        }
    }
}

/* Import path with the webhook to the receiver on port; prints the figures as name. */
static void import_delivered(const char *name, const char *path, long n, int port)
{
    struct bench_srv s;
    fresh_serve(&s, name);
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.2:%d/hook", port);
    const char *more[] = {"--webhook", url, "--secret", SECRET, "--batch-size", "500", NULL};
    char id[64];
    double t0 = feedgen_now_s();
    start_import(&s, path, more, id);
    struct waited w;
    wait_import(&s, id, &w);
    json_t *rx = hookrx_get(port, "/received?deliveries=0");
    bool all = num(rx, "products") == n && num(rx, "dup_products") == 0 &&
               num(rx, "bad_signatures") == 0 && w.delivered == n;
    double dsecs = w.deliver_start ? w.end - w.deliver_start : 0;
    printf("%s records=%ld mb=%.0f seconds=%.3f delivery_seconds=%.3f delivered_per_s=%.0f "
           "batches=%lld received=%lld all_once=%s serve_peak_rss_kb=%ld\n",
           name, n, (double)feedgen_size(path) / 1048576, w.end - t0, dsecs,
           dsecs > 0 ? (double)w.delivered / dsecs : 0, (long long)num(rx, "accepted"),
           (long long)num(rx, "products"), all ? "yes" : "NO", w.serve_rss_kb);
    fflush(stdout);
    json_decref(rx);
    bench_stop(s.pid);
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"trawl", required_argument, 0, 't'},   {"hookrx", required_argument, 0, 'k'},
        {"records", required_argument, 0, 'n'}, {"big-mb", required_argument, 0, 'b'},
        {"dir", required_argument, 0, 'd'},     {"only", required_argument, 0, 'o'},
        {"rounds", required_argument, 0, 'r'},  {0, 0, 0, 0},
    };
    long n = 1000000, big_mb = 1024;
    int rounds = 2;
    const char *given = NULL, *only = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            trawl_ = optarg;
            break;
        case 'k':
            hookrx_ = optarg;
            break;
        case 'n':
            n = atol(optarg);
            break;
        case 'b':
            big_mb = atol(optarg);
            break;
        case 'd':
            given = optarg;
            break;
        case 'o':
            only = optarg;
            break;
        case 'r':
            rounds = atoi(optarg);
            break;
        default:
            return 2;
        }
    }
    if (n < 1 || big_mb < 1 || rounds < 1)
        bench_die("bad arguments", "--records, --big-mb and --rounds must be positive");
    bench_dir(dir_, sizeof dir_, given, "import");
    bool all = !only;
    if (all || !strcmp(only, "import") || !strcmp(only, "deliver"))
        feedgen_write(dir_, n,
                      all || !strcmp(only, "import") ? FEEDGEN_CSV | FEEDGEN_JSON | FEEDGEN_XML
                                                     : FEEDGEN_CSV);
    printf("# bench_import records=%ld\n", n);
    if (all || !strcmp(only, "import"))
        bench_imports(n, rounds);
    if (all || !strcmp(only, "deliver") || !strcmp(only, "memory")) {
        int port;
        pid_t rx = start_hookrx(&port);
        char path[700];
        if (all || !strcmp(only, "deliver")) {
            snprintf(path, sizeof path, "%s/products.csv", dir_);
            for (int round = 1; round <= rounds; round++) {
                char cmd[200];
                snprintf(cmd, sizeof cmd, "curl -s -X POST http://127.0.0.2:%d/reset >/dev/null",
                         port);
                if (system(cmd) != 0)
                    bench_die("hookrx", "reset");
                import_delivered("import_delivered", path, n, port);
            }
        }
        if (all || !strcmp(only, "memory")) {
            snprintf(path, sizeof path, "%s/big.csv", dir_);
            long big = feedgen_csv_of_size(path, (int64_t)big_mb << 20);
            char cmd[200];
            snprintf(cmd, sizeof cmd, "curl -s -X POST http://127.0.0.2:%d/reset >/dev/null", port);
            if (system(cmd) != 0)
                bench_die("hookrx", "reset");
            import_delivered("import_big_feed", path, big, port);
            unlink(path);
        }
        kill(rx, SIGTERM);
        waitpid(rx, NULL, 0);
    }
    return bench_dir_done(dir_, given) ? 0 : 1;
}
