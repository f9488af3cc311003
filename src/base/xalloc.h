/* Allocation that cannot fail: out of memory aborts. Sizes that come from outside input must go
 * through a capped struct buf instead, which fails with a "too large" error. */
#ifndef TRAWL_XALLOC_H
#define TRAWL_XALLOC_H

#include <stddef.h>

/* All returned memory belongs to the caller and is released with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* NULL in, NULL out. */
char *xstrdup(const char *s);

#endif
