/* Generated product feeds (feedgen.h). */
#include "feedgen.h"

#include "benchutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

/* A valid EAN-13 for product i. */
static void gtin_of(long i, char out[14])
{
    snprintf(out, 14, "400%09ld", i % 1000000000);
    int sum = 0;
    for (int k = 0; k < 12; k++)
        sum += (out[k] - '0') * (k % 2 ? 3 : 1);
    out[12] = (char)('0' + (10 - sum % 10) % 10);
    out[13] = 0;
}

static const char *const colors_[] = {"black", "white", "oak", "red"};

static const char csv_header_[] =
    "id,title,description,link,image_link,price,brand,gtin,availability,color\n";

static int csv_row(FILE *f, long i)
{
    char g[14];
    gtin_of(i, g);
    return fprintf(f,
                   "SKU-%ld,\"Chair, model %ld\",A sturdy chair of solid wood with a woven seat.,"
                   "https://shop.example/p/%ld,https://cdn.example/i/%ld.jpg,%.2f EUR,Acme,%s,"
                   "in_stock,%s\n",
                   i, i, i, i, 10 + (double)(i % 5000) / 100, g, colors_[i % 4]);
}

static FILE *open_in(const char *dir, const char *name)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write", path);
    return f;
}

static void close_checked(FILE *f, const char *what)
{
    if (ferror(f) || fclose(f) != 0)
        bench_die("cannot write", what);
}

void feedgen_write(const char *dir, long n, unsigned formats)
{
    FILE *csv = formats & FEEDGEN_CSV ? open_in(dir, "products.csv") : NULL;
    FILE *json = formats & FEEDGEN_JSON ? open_in(dir, "products.json") : NULL;
    FILE *xml = formats & FEEDGEN_XML ? open_in(dir, "products.xml") : NULL;
    if (csv)
        fputs(csv_header_, csv);
    if (json)
        fputs("[", json);
    if (xml)
        fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" "
              "xmlns:g=\"http://base.google.com/ns/1.0\"><channel><title>Shop</title>\n",
              xml);
    for (long i = 0; i < n; i++) {
        char g[14];
        gtin_of(i, g);
        const char *color = colors_[i % 4];
        double price = 10 + (double)(i % 5000) / 100;
        if (csv)
            csv_row(csv, i);
        if (json)
            fprintf(json,
                    "%s{\"id\":\"SKU-%ld\",\"title\":\"Chair, model %ld\",\"description\":\"A "
                    "sturdy chair of solid wood with a woven seat.\",\"link\":\"https://"
                    "shop.example/p/%ld\",\"image_link\":\"https://cdn.example/i/%ld.jpg\","
                    "\"price\":{\"amount\":%.2f,\"currency\":\"EUR\"},\"brand\":\"Acme\","
                    "\"gtin\":\"%s\",\"availability\":\"in_stock\",\"color\":\"%s\"}",
                    i ? ",\n" : "", i, i, i, i, price, g, color);
        if (xml)
            fprintf(xml,
                    "<item><g:id>SKU-%ld</g:id><title>Chair, model %ld</title><description>A "
                    "sturdy chair of solid wood with a woven seat.</description><link>https://"
                    "shop.example/p/%ld</link><g:image_link>https://cdn.example/i/%ld.jpg"
                    "</g:image_link><g:price>%.2f EUR</g:price><g:brand>Acme</g:brand><g:gtin>%s"
                    "</g:gtin><g:availability>in_stock</g:availability><g:color>%s</g:color>"
                    "</item>\n",
                    i, i, i, i, price, g, color);
    }
    if (json) {
        fputs("]\n", json);
        close_checked(json, "products.json");
    }
    if (xml) {
        fputs("</channel></rss>\n", xml);
        close_checked(xml, "products.xml");
    }
    if (csv)
        close_checked(csv, "products.csv");
}

long feedgen_csv_of_size(const char *path, int64_t bytes)
{
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write", path);
    int64_t size = fputs(csv_header_, f) >= 0 ? (int64_t)sizeof csv_header_ - 1 : 0;
    long n = 0;
    while (size < bytes) {
        int k = csv_row(f, n++);
        if (k < 0)
            bench_die("cannot write", path);
        size += k;
    }
    close_checked(f, path);
    return n;
}

double feedgen_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int64_t feedgen_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

void feedgen_time_tool(const char *prefix, const char *dir, const char *name, const char *file,
                       const char *cmd, long n)
{
    char path[700], line[2000];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(line, sizeof line, "%s '%s' > /dev/null", cmd, path);
    double t0 = feedgen_now_s();
    int rc = system(line);
    double secs = feedgen_now_s() - t0;
    if (rc != 0) {
        printf("%s_%s file=%s skipped: `%s` exited %d (installed? sh scripts/install-deps.sh "
               "--bench)\n",
               prefix, name, file, cmd, rc);
        return;
    }
    printf("%s_%s file=%s records=%ld seconds=%.3f records_per_s=%.0f mb_per_s=%.1f\n", prefix,
           name, file, n, secs, (double)n / secs, (double)feedgen_size(path) / 1048576 / secs);
    fflush(stdout);
}
