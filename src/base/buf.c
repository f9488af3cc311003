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

int buf_add_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t len0 = b->len;
    /* most values need no escape: reserve for that, and grow for the escapes found */
    int rc = grow(b, n + 2);
    if (rc)
        return rc;
    b->data[b->len++] = '"';
    size_t run = 0; /* start of the bytes not copied yet */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        char esc[7];
        size_t k = 2;
        esc[0] = '\\';
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        }
        if ((rc = buf_add(b, s + run, i - run)) != 0 || (rc = buf_add(b, esc, k)) != 0)
            goto fail;
        run = i + 1;
    }
    if ((rc = buf_add(b, s + run, n - run)) != 0 || (rc = buf_add(b, "\"", 1)) != 0)
        goto fail;
    return 0;
fail:
    b->len = len0;
    b->data[b->len] = '\0';
    return rc;
}

char *buf_detach(struct buf *b)
{
    char *s = b->alloc ? b->data : xstrdup("");
    buf_init(b, b->cap);
    return s;
}
