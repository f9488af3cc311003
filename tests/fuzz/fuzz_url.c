/* libFuzzer target: a URL from anywhere (url.c): normalized, and resolved as a link of a page.
 * Run by scripts/run-fuzz.sh. */
#include "fetch/url.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    char *out;
    struct err e;
    if (url_normalize(s, &out, &e) == 0)
        free(out);
    if (url_resolve("https://example.com/a/b?c", s, &out, &e) == 0)
        free(out);
    if (url_resolve_normal("https://example.com/a/b", s, &out, &e) == 0)
        free(out);
    free(s);
    return 0;
}
