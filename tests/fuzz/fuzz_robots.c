/* libFuzzer target: a robots.txt from anywhere (robots.c), and a path checked against it. Run by
 * scripts/run-fuzz.sh. */
#include "fetch/robots.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct robots *r = robots_parse((const char *)data, size, "trawl");
    robots_allowed(r, "/private/a?b=1");
    robots_crawl_delay_ms(r);
    size_t n;
    robots_sitemaps(r, &n);
    robots_free(r);
    return 0;
}
