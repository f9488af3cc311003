/* zstd frames through libzstd; the frame header says how large the content is, so a frame that
 * claims more than the cap is refused before anything is allocated. Each thread keeps one
 * compression context: making one per call cost as much as compressing a 27 KB page. */
#include "base/zstd.h"

#include "base/xalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <zstd.h>

static pthread_key_t cctx_key_;
static pthread_once_t cctx_once_ = PTHREAD_ONCE_INIT;

static void cctx_free(void *c)
{
    ZSTD_freeCCtx(c);
}

static void cctx_key_make(void)
{
    pthread_key_create(&cctx_key_, cctx_free);
}

static ZSTD_CCtx *thread_cctx(void)
{
    pthread_once(&cctx_once_, cctx_key_make);
    ZSTD_CCtx *c = pthread_getspecific(cctx_key_);
    if (!c) {
        c = ZSTD_createCCtx();
        if (c)
            pthread_setspecific(cctx_key_, c);
    }
    return c;
}

int zframe_compress(const void *data, size_t n, int level, void **out, size_t *out_len,
                    struct err *e)
{
    size_t cap = ZSTD_compressBound(n);
    void *buf = xmalloc(cap ? cap : 1);
    ZSTD_CCtx *c = thread_cctx();
    size_t rc = c ? ZSTD_compressCCtx(c, buf, cap, data, n, level ? level : 1)
                  : ZSTD_compress(buf, cap, data, n, level ? level : 1);
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
