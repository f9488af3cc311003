/* What the feed parsers' tests share: a feed read from memory in chunks of a chosen size, a
 * gzip of a buffer, and the process's peak memory (which means nothing under AddressSanitizer,
 * whose quarantine holds freed memory). */
#ifndef TRAWL_TEST_FEEDUTIL_H
#define TRAWL_TEST_FEEDUTIL_H

#include "base/buf.h"
#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#if defined(__SANITIZE_ADDRESS__)
#define FU_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FU_UNDER_ASAN 1
#endif
#endif

/* len bytes at data, handed out at most chunk bytes a read (0: as many as asked for). */
struct fu_mem {
    const void *data;
    size_t len, pos, chunk;
};
/* A feed_read_fn over a struct fu_mem. */
ssize_t fu_mem_read(void *ctx, void *buf, size_t cap, struct err *e);

/* n bytes at in, gzipped (level 9) into out, which the caller releases; fails the test on
 * error. */
void fu_gzip(const void *in, size_t n, struct buf *out);

/* The process's peak resident memory so far, in KiB. */
long fu_peak_rss_kb(void);
/* Whether peak memory says anything in this build (not under AddressSanitizer). */
bool fu_rss_meaningful(void);

#endif
