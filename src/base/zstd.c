/* zstd frames through libzstd's one-shot calls; the frame header says how large the content is,
 * so a frame that claims more than the cap is refused before anything is allocated. */
#include "base/zstd.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <zstd.h>

int zframe_compress(const void *data, size_t n, int level, void **out, size_t *out_len,
                    struct err *e)
{
    size_t cap = ZSTD_compressBound(n);
    void *buf = xmalloc(cap ? cap : 1);
    size_t rc = ZSTD_compress(buf, cap, data, n, level ? level : 3);
    if (ZSTD_isError(rc)) {
        free(buf);
        return err_set(e, TRAWL_ENOMEM, false, "zstd: %s", ZSTD_getErrorName(rc));
    }
    *out = buf;
    *out_len = rc;
    return 0;
}

int zframe_decompress(const void *frame, size_t n, size_t max, char **out, size_t *out_len,
                      struct err *e)
{
    unsigned long long size = ZSTD_getFrameContentSize(frame, n);
    if (size == ZSTD_CONTENTSIZE_ERROR)
        return err_set(e, TRAWL_ECORRUPT, false, "stored body is not a zstd frame");
    if (size == ZSTD_CONTENTSIZE_UNKNOWN)
        return err_set(e, TRAWL_ECORRUPT, false, "stored body does not say its size");
    if (size > max)
        return err_set(e, TRAWL_ETOOBIG, false, "stored body is %llu bytes, over the %zu cap", size,
                       max);
    char *buf = xmalloc((size_t)size + 1);
    size_t rc = ZSTD_decompress(buf, (size_t)size, frame, n);
    if (ZSTD_isError(rc) || rc != size) {
        free(buf);
        return err_set(e, TRAWL_ECORRUPT, false, "stored body cannot be read: %s",
                       ZSTD_isError(rc) ? ZSTD_getErrorName(rc) : "short frame");
    }
    buf[size] = 0;
    *out = buf;
    *out_len = (size_t)size;
    return 0;
}
