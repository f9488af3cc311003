/* The feed parsers (parse/feed.h) on generated product feeds of N products, CSV, JSON and XML
 * (a Google Merchant RSS feed), against the tools a user has for the same work in the same run:
 * `mlr --icsv --ojson cat`, `jq -c '.[]'` and `xmlstarlet sel` of the products. Parsing only:
 * mapping, validation and the store come with the import job (issue 14). Prints one line per
 * figure: seconds, products/s, MB/s, and trawl's peak RSS.
 * usage: bench_feed [--records N] [--dir DIR] */
#include "parse/feed.h"
#include "util/benchutil.h"
#include "util/feedgen.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static ssize_t read_fd(void *ctx, void *buf, size_t cap, struct err *e)
{
    ssize_t k = read(*(int *)ctx, buf, cap);
    if (k < 0)
        return err_set(e, TRAWL_EIO, false, "read: %s", strerror(errno));
    return k;
}

struct tally {
    long records, bytes;
};

static int on_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    struct tally *t = ctx;
    t->records++;
    for (size_t i = 0; i < r->nfields; i++)
        t->bytes += (long)r->fields[i].len;
    return 0;
}

static void run_trawl(const char *dir, const char *file, long n)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        bench_die("cannot open", path);
    struct tally t = {0};
    struct feed_sink sink = {.record = on_record, .ctx = &t};
    struct feed_stats st;
    struct err e = {0};
    double t0 = feedgen_now_s();
    int rc = feed_parse(NULL, read_fd, &fd, &sink, &st, &e);
    double secs = feedgen_now_s() - t0;
    close(fd);
    if (rc)
        bench_die(file, e.msg);
    if (t.records != n)
        bench_die(file, "not every product was read");
    printf("feed_trawl file=%s records=%ld seconds=%.3f records_per_s=%.0f mb_per_s=%.1f "
           "peak_rss_kb=%ld\n",
           file, t.records, secs, (double)t.records / secs,
           (double)feedgen_size(path) / 1048576 / secs, bench_vmhwm_kb(getpid()));
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"records", required_argument, 0, 'n'},
        {"dir", required_argument, 0, 'd'},
        {0, 0, 0, 0},
    };
    long n = 1000000;
    const char *given = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'n')
            n = atol(optarg);
        else if (c == 'd')
            given = optarg;
        else
            return 2;
    }
    char dir[512];
    bench_dir(dir, sizeof dir, given, "feed");
    feedgen_write(dir, n, FEEDGEN_CSV | FEEDGEN_JSON | FEEDGEN_XML);
    char p[3][700];
    snprintf(p[0], sizeof p[0], "%s/products.csv", dir);
    snprintf(p[1], sizeof p[1], "%s/products.json", dir);
    snprintf(p[2], sizeof p[2], "%s/products.xml", dir);
    printf("# bench_feed records=%ld csv_mb=%.0f json_mb=%.0f xml_mb=%.0f\n", n,
           (double)feedgen_size(p[0]) / 1048576, (double)feedgen_size(p[1]) / 1048576,
           (double)feedgen_size(p[2]) / 1048576);
    for (int round = 1; round <= 2; round++) {
        printf("# round %d\n", round);
        run_trawl(dir, "products.csv", n);
        feedgen_time_tool("feed", dir, "mlr", "products.csv", "mlr --icsv --ojson cat", n);
        run_trawl(dir, "products.json", n);
        feedgen_time_tool("feed", dir, "jq", "products.json", "jq -c '.[]'", n);
        run_trawl(dir, "products.xml", n);
        feedgen_time_tool(
            "feed", dir, "xmlstarlet", "products.xml",
            "xmlstarlet sel -N g=http://base.google.com/ns/1.0 -t -m //item -v g:id -o , "
            "-v title -o , -v g:price -n",
            n);
    }
    return bench_dir_done(dir, given) ? 0 : 1;
}
