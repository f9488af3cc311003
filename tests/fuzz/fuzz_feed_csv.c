/* libFuzzer target: a CSV product feed from anywhere (feed_csv.c, under feed.c's gzip and charset
 * layers), with small caps when the first byte says so, so that the row-error and too-large paths
 * are reached. Every record and row error is checked against feed.h's promises (UTF-8,
 * NUL-terminated, raw text capped). When the first byte says so (a quarter of inputs), a blank line
 * of 64 KiB goes after the feed's first line, so that the rest comes after the sniffed head, and
 * the feed is read twice: a byte at a time (libcsv sees every row) and in chunks the first byte
 * picks (whole quote-free lines take feed_csv.c's own split); both must give the same records,
 * errors and end. Run by scripts/run-fuzz.sh. */
#include "base/utf8.h"
#include "parse/feed.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAD (64 * 1024)

/* d[0..split), a line of PAD - 1 spaces when pad, then d[split..n) chunk bytes at most at a
 * time. */
struct input {
    const uint8_t *d;
    size_t n, split, pos, chunk;
    bool pad;
};

static ssize_t input_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct input *in = ctx;
    size_t total = in->n + (in->pad ? PAD : 0);
    size_t k = total - in->pos;
    if (k > cap)
        k = cap;
    if (k > in->chunk && in->pos >= in->split + (in->pad ? PAD : 0))
        k = in->chunk; /* the head is read whole anyway (feed.c fills it) */
    for (size_t o = 0; o < k;) {
        size_t p = in->pos + o, m;
        if (p < in->split) {
            m = in->split - p < k - o ? in->split - p : k - o;
            memcpy((char *)buf + o, in->d + p, m);
        } else if (in->pad && p < in->split + PAD) {
            m = in->split + PAD - p < k - o ? in->split + PAD - p : k - o;
            memset((char *)buf + o, ' ', m);
            if (p + m == in->split + PAD)
                ((char *)buf)[o + m - 1] = '\n';
        } else {
            size_t q = p - (in->pad ? PAD : 0);
            m = k - o;
            memcpy((char *)buf + o, in->d + q, m);
        }
        o += m;
    }
    in->pos += k;
    return (ssize_t)k;
}

/* FNV-1a over everything the sink is given, to compare two reads. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ s[i]) * 1099511628211ull;
}

static void check_text(uint64_t *h, const char *s, size_t n)
{
    if (s[n] != 0 || !utf8_valid(s, n))
        abort();
    mix(h, s, n + 1);
}

static int on_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    uint64_t *h = ctx;
    if (r->number < 1 || r->line < 1 || r->raw_len > FEED_RAW_MAX)
        abort();
    mix(h, "R", 1);
    mix(h, &r->number, sizeof r->number);
    mix(h, &r->line, sizeof r->line);
    check_text(h, r->raw, r->raw_len);
    for (size_t i = 0; i < r->nfields; i++) {
        check_text(h, r->fields[i].name, strlen(r->fields[i].name));
        check_text(h, r->fields[i].value, r->fields[i].len);
    }
    return 0;
}

static int on_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    uint64_t *h = ctx;
    if (er->number < 1 || er->line < 1 || er->raw_len > FEED_RAW_MAX || !er->msg[0])
        abort();
    mix(h, "E", 1);
    mix(h, &er->number, sizeof er->number);
    mix(h, &er->line, sizeof er->line);
    mix(h, er->msg, strlen(er->msg));
    check_text(h, er->raw, er->raw_len);
    return 0;
}

static uint64_t read_feed(const uint8_t *data, size_t size, bool pad, size_t chunk,
                          const struct feed_opts *o)
{
    uint64_t h = 14695981039346656037ull;
    const uint8_t *nl = memchr(data, '\n', size);
    struct input in = {data, size, nl ? (size_t)(nl - data) + 1 : size, 0, chunk, pad};
    struct feed_sink sink = {NULL, on_record, on_row_error, &h};
    struct err e;
    err_clear(&e);
    int rc = feed_parse(o, input_read, &in, &sink, NULL, &e);
    mix(&h, &rc, sizeof rc);
    if (rc)
        mix(&h, e.msg, strlen(e.msg));
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t chunks[] = {2, 3, 7, 64, 4096, 65536, 1 << 20, 1 << 20};
    size_t chunk = chunks[data[0] & 7];
    struct feed_opts o = {.format = FEED_CSV};
    if (data[0] & 8) {
        o.field_max = 16;
        o.fields_max = 8;
    }
    if (data[0] & 16)
        o.delimiter = ';';
    if ((data[0] & 0x60) != 0x60) {
        read_feed(data + 1, size - 1, false, chunk, &o);
        return 0;
    }
    if (read_feed(data + 1, size - 1, true, 1, &o) !=
        read_feed(data + 1, size - 1, true, chunk, &o))
        abort();
    return 0;
}
