/* The layers under every feed format (parse/feed.c): gzip and its bombs, a truncated gzip, and
 * the cap on one record's size, whatever the format. */
#include "base/buf.h"
#include "feedutil.h"
#include "parse/feed.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* gzip of a CSV header then n bytes of '0' (one field, no newline: nothing for a parser to give
 * before the end), compressed as it is made. */
static void gzip_zeros(size_t n, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    buf_init(out, 0);
    static unsigned char block[1 << 20], chunk[1 << 16];
    memset(block, '0', sizeof block);
    memcpy(block, "a\n", 2);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < sizeof block ? n - done : sizeof block;
        done += k;
        zs.next_in = block;
        zs.avail_in = (uInt)k;
        int flush = done == n ? Z_FINISH : Z_NO_FLUSH, zr;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof chunk;
            zr = deflate(&zs, flush);
            cr_assert_neq(zr, Z_STREAM_ERROR);
            cr_assert_eq(buf_add(out, chunk, sizeof chunk - zs.avail_out), 0);
        } while (zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
        memset(block, '0', 2);
    }
    deflateEnd(&zs);
}

static int parse(const struct feed_opts *o, const void *d, size_t n, struct err *e,
                 struct feed_stats *st)
{
    struct fu_mem m = {d, n, 0, 0};
    return feed_parse(o, fu_mem_read, &m, NULL, st, e);
}

Test(feed, a_gzip_bomb_is_refused_by_its_ratio, .timeout = 60)
{
    struct buf z;
    gzip_zeros((size_t)256 << 20, &z); /* 256 MB in about 250 KB */
    struct err e = {0};
    struct feed_stats st;
    int rc = parse(NULL, z.data, z.len, &e, &st);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_assert_not_null(strstr(e.msg, "gzip bomb"), "%s", e.msg);
    cr_assert_lt(st.bytes_out, (int64_t)256 << 20, "refused before it was all inflated");
    buf_release(&z);
}

Test(feed, a_gzip_past_the_inflate_cap_is_refused, .timeout = 60)
{
    struct buf z;
    gzip_zeros((size_t)8 << 20, &z);
    struct feed_opts o = {.inflate_max = 4 << 20, .format = FEED_CSV};
    struct err e = {0};
    cr_assert_eq(parse(&o, z.data, z.len, &e, NULL), TRAWL_EINVAL);
    cr_assert_not_null(strstr(e.msg, "more than 4194304 bytes"), "%s", e.msg);
    buf_release(&z);
}

Test(feed, a_truncated_gzip_says_so)
{
    struct buf z;
    gzip_zeros(100000, &z);
    struct err e = {0};
    cr_assert_eq(parse(NULL, z.data, z.len / 2, &e, NULL), TRAWL_EINVAL);
    cr_assert_not_null(strstr(e.msg, "truncated"), "%s", e.msg);
    buf_release(&z);
}

struct rows {
    int records, errors;
    char msg[256];
};

static int on_record(void *ctx, const struct feed_record *r, struct err *e)
{
    (void)r;
    (void)e;
    ((struct rows *)ctx)->records++;
    return 0;
}

static int on_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    struct rows *w = ctx;
    w->errors++;
    snprintf(w->msg, sizeof w->msg, "%s", er->msg);
    return 0;
}

Test(feed, a_record_past_its_size_cap_is_a_row_error)
{
    /* 4 fields of 300 bytes: each under field_max, together over record_max */
    static char csv[4096];
    size_t k = (size_t)snprintf(csv, sizeof csv, "a,b,c,d\n");
    for (int row = 0; row < 2; row++) {
        for (int f = 0; f < 4; f++) {
            memset(csv + k, row ? 'y' : 'x', row ? 10 : 300);
            k += row ? 10 : 300;
            csv[k++] = f < 3 ? ',' : '\n';
        }
    }
    struct rows w = {0};
    struct feed_sink sink = {.record = on_record, .row_error = on_error, .ctx = &w};
    struct feed_opts o = {.record_max = 1000};
    struct fu_mem m = {(const unsigned char *)csv, k, 0, 0};
    struct err e = {0};
    cr_assert_eq(feed_parse(&o, fu_mem_read, &m, &sink, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(w.errors, 1);
    cr_assert_not_null(strstr(w.msg, "longer than 1000 bytes"), "%s", w.msg);
    cr_assert_eq(w.records, 1, "the next row is read");
}

Test(feed, white_space_past_the_sniffed_head_does_not_make_it_empty)
{
    size_t pad = 200000;
    static char d[300000];
    memset(d, ' ', pad);
    size_t n =
        pad + (size_t)snprintf(d + pad, sizeof d - pad, "[{\"id\": \"a\"}, {\"id\": \"b\"}]");
    struct rows w = {0};
    struct feed_sink sink = {.record = on_record, .row_error = on_error, .ctx = &w};
    struct fu_mem m = {(const unsigned char *)d, n, 0, 0};
    struct err e = {0};
    cr_assert_eq(feed_parse(NULL, fu_mem_read, &m, &sink, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(w.records, 2, "read as JSON after 200 KB of spaces");
    memset(d, ' ', pad);
    m = (struct fu_mem){(const unsigned char *)d, pad, 0, 0};
    cr_assert_eq(feed_parse(NULL, fu_mem_read, &m, &sink, NULL, &e), TRAWL_EINVAL);
    cr_assert_str_eq(e.msg, "the feed is empty");
}
