/* What the feed parsers' tests share (feedutil.h). */
#include "feedutil.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

ssize_t fu_mem_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct fu_mem *m = ctx;
    size_t k = m->len - m->pos;
    if (k > cap)
        k = cap;
    if (m->chunk && k > m->chunk)
        k = m->chunk;
    memcpy(buf, (const char *)m->data + m->pos, k);
    m->pos += k;
    return (ssize_t)k;
}

void fu_gzip(const void *in, size_t n, struct buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    cr_assert_eq(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY), Z_OK);
    buf_init(out, 0);
    cr_assert_eq(buf_reserve(out, deflateBound(&zs, n)), 0);
    zs.next_in = (unsigned char *)in;
    zs.avail_in = (uInt)n;
    zs.next_out = (unsigned char *)out->data;
    zs.avail_out = (uInt)out->alloc;
    cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out->len = zs.total_out;
    deflateEnd(&zs);
}

long fu_peak_rss_kb(void)
{
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

bool fu_rss_meaningful(void)
{
#ifdef FU_UNDER_ASAN
    return false;
#else
    return true;
#endif
}
