/* UTF-8 checks for text that comes from outside: URLs, fetched pages shown as JSON strings. */
#ifndef TRAWL_UTF8_H
#define TRAWL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Whether the n bytes of s are well-formed UTF-8 (no overlong forms, no surrogates, nothing past
 * U+10FFFF). NUL bytes are valid. */
bool utf8_valid(const char *s, size_t n);
/* A copy of the n bytes of s in which every byte that is not part of a well-formed sequence is
 * replaced by U+FFFD; *out_len gets its length. The copy is NUL-terminated; free() it. */
char *utf8_sanitize(const char *s, size_t n, size_t *out_len);

#endif
