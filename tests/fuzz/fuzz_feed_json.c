/* libFuzzer target: a JSON product feed from anywhere (feed_json.c through feed_parse). Run by
 * scripts/run-fuzz.sh. The first three bytes choose the caps and where the parser's 64 KiB chunk
 * ends in the rest (which follows that many bytes of white space, so that every token can be
 * cut by a chunk's end and by field_max); the sink checks what feed.h promises of each record. */
#include "base/utf8.h"
#include "parse/feed.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input {
    const uint8_t *data;
    size_t size, pad, pos;
};

static ssize_t input_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct input *in = ctx;
    size_t n = 0;
    unsigned char *out = buf;
    while (n < cap && in->pos < in->pad + in->size) {
        if (in->pos < in->pad) {
            size_t k = in->pad - in->pos < cap - n ? in->pad - in->pos : cap - n;
            memset(out + n, ' ', k);
            n += k;
            in->pos += k;
        } else {
            size_t k =
                in->pad + in->size - in->pos < cap - n ? in->pad + in->size - in->pos : cap - n;
            memcpy(out + n, in->data + (in->pos - in->pad), k);
            n += k;
            in->pos += k;
        }
    }
    return (ssize_t)n;
}

static int check_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)ctx;
    (void)e;
    if (r->number < 1 || r->line < 1 || r->raw_len > FEED_RAW_MAX || r->raw[r->raw_len] != 0)
        abort();
    for (size_t i = 0; i < r->nfields; i++) {
        const struct feed_field *f = &r->fields[i];
        if (f->value[f->len] != 0 || !utf8_valid(f->value, f->len) ||
            !utf8_valid(f->name, strlen(f->name)))
            abort();
    }
    return 0;
}

static int check_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)ctx;
    (void)e;
    if (er->number < 1 || er->line < 1 || !er->msg[0] || er->raw_len > FEED_RAW_MAX ||
        er->raw[er->raw_len] != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    struct feed_opts o = {.format = FEED_JSON};
    if (!(data[0] & 0x80))
        o.field_max = 1 + (data[0] & 0x3f);
    if (!(data[1] & 0x80)) {
        o.fields_max = 1 + (data[1] & 0x0f);
        o.depth_max = 1 + ((data[1] >> 4) & 0x07);
    }
    struct input in = {data + 3, size - 3, 0, 0};
    if (data[2] && in.size > 0)
        in.pad = 65536 - 1 - (size_t)data[2] * (in.size - 1) / 255;
    struct feed_sink sink = {NULL, check_record, check_row_error, NULL};
    struct feed_stats st;
    struct err e;
    int rc = feed_parse(&o, input_read, &in, &sink, &st, &e);
    if (rc < 0 && !e.msg[0])
        abort();
    return 0;
}
