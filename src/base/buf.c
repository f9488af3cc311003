/* Capped growable buffer. */
#include "base/buf.h"

#include "base/err.h"
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char empty_[1];

void buf_init(struct buf *b, size_t cap)
{
    b->data = empty_;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void buf_release(struct buf *b)
{
    if (!b)
        return;
    if (b->alloc)
        free(b->data);
    buf_init(b, b->cap);
}

void buf_clear(struct buf *b)
{
    b->len = 0;
    b->data[0] = '\0';
}

static int grow(struct buf *b, size_t extra)
{
    if (b->cap && (extra > b->cap || b->len > b->cap - extra))
        return TRAWL_ETOOBIG;
    size_t need = b->len + extra + 1;
    if (need <= b->alloc)
        return 0;
    size_t n = b->alloc ? b->alloc : 64;
    while (n < need)
        n *= 2;
    if (b->alloc) {
        b->data = xrealloc(b->data, n);
    } else {
        b->data = xmalloc(n);
        b->data[0] = '\0';
    }
    b->alloc = n;
    return 0;
}

int buf_reserve(struct buf *b, size_t n)
{
    return grow(b, n);
}

int buf_add(struct buf *b, const void *data, size_t n)
{
    int rc = grow(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_adds(struct buf *b, const char *s)
{
    return buf_add(b, s, strlen(s));
}

int buf_addf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return TRAWL_EINVAL;
    int rc = grow(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

char *buf_detach(struct buf *b)
{
    char *s = b->alloc ? b->data : xstrdup("");
    buf_init(b, b->cap);
    return s;
}
