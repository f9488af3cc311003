/* struct buf: a growable byte buffer with a cap, always NUL-terminated. Appends past the cap fail
 * with TRAWL_ETOOBIG and leave the buffer as it was. The buffer owns its memory. */
#ifndef TRAWL_BUF_H
#define TRAWL_BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NUL-terminated; never NULL after buf_init */
    size_t len;
    size_t alloc;
    size_t cap; /* most bytes the buffer may hold; 0 means no cap */
};

void buf_init(struct buf *b, size_t cap);
/* Free the memory; the buffer must be initialised again before use. Accepts NULL. */
void buf_release(struct buf *b);
/* Empty the buffer, keeping its memory. */
void buf_clear(struct buf *b);
/* Make room for n more bytes at once (a size known ahead), so appends do not grow the buffer
 * step by step. TRAWL_ETOOBIG past the cap. */
int buf_reserve(struct buf *b, size_t n);
int buf_add(struct buf *b, const void *data, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s (n bytes of UTF-8) as a JSON string, quoted, with '"', '\\' and control characters
 * escaped. */
int buf_add_json_str(struct buf *b, const char *s, size_t n);
/* Hand the string to the caller (free() it); the buffer is empty and initialised again. */
char *buf_detach(struct buf *b);

#endif
