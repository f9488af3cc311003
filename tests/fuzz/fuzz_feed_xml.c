/* libFuzzer target: an XML product feed from anywhere (feed_xml.c through feed_parse), read once
 * in chunks whose size comes from the input and once whole: both must give the same records,
 * row errors and error (libxml2's reader fails a chunk at a time; feed_xml.c makes up for it),
 * and every record must hold what feed.h promises. Run by scripts/run-fuzz.sh. */
#include "parse/feed.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct src {
    const uint8_t *p;
    size_t n, pos, chunk;
};

static ssize_t src_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct src *s = ctx;
    size_t k = s->n - s->pos;
    if (k > cap)
        k = cap;
    if (k > s->chunk)
        k = s->chunk;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

/* A digest of everything the sink was given, to compare two parses. */
static void mix(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ s[i]) * 1099511628211ULL;
    *h = (*h ^ 0xff) * 1099511628211ULL;
}

static void check_text(uint64_t *h, const char *s, size_t len)
{
    if (strlen(s) != len)
        abort();
    mix(h, s, len);
}

static int on_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)e;
    uint64_t *h = ctx;
    if (r->number < 1 || r->line < 1 || r->raw_len > FEED_RAW_MAX)
        abort();
    mix(h, &r->number, sizeof r->number);
    mix(h, &r->line, sizeof r->line);
    check_text(h, r->raw, r->raw_len);
    for (size_t i = 0; i < r->nfields; i++) {
        if (!r->fields[i].name)
            abort();
        mix(h, r->fields[i].name, strlen(r->fields[i].name));
        check_text(h, r->fields[i].value, r->fields[i].len);
    }
    return 0;
}

static int on_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    uint64_t *h = ctx;
    if (er->number < 1 || !er->msg || er->raw_len > FEED_RAW_MAX)
        abort();
    mix(h, &er->number, sizeof er->number);
    mix(h, er->msg, strlen(er->msg));
    check_text(h, er->raw, er->raw_len);
    return 0;
}

static uint64_t parse(const struct feed_opts *o, const uint8_t *p, size_t n, size_t chunk,
                      struct err *e)
{
    struct src s = {p, n, 0, chunk};
    uint64_t h = 14695981039346656037ULL;
    struct feed_sink sink = {NULL, on_record, on_row_error, &h};
    struct feed_stats st;
    int rc = feed_parse(o, src_read, &s, &sink, &st, e);
    mix(&h, &rc, sizeof rc);
    if (rc)
        mix(&h, e->msg, strlen(e->msg));
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* the first byte picks the chunk size and small caps, so that they are reached too */
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    struct feed_opts o = {.format = FEED_XML};
    if (size && data[0] & 0x80) {
        o.field_max = 64;
        o.fields_max = 8;
        o.depth_max = 8;
    }
    const uint8_t *p = data + (size ? 1 : 0);
    size_t n = size ? size - 1 : 0;
    struct err e1, e2;
    if (parse(&o, p, n, chunk, &e1) != parse(&o, p, n, SIZE_MAX, &e2)) {
        fprintf(stderr, "chunks of %zu: %s\nwhole: %s\n", chunk, e1.msg, e2.msg);
        abort();
    }
    return 0;
}
