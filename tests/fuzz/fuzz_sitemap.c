/* libFuzzer target: a sitemap or sitemap index from anywhere (sitemap.c). Run by
 * scripts/run-fuzz.sh. */
#include "parse/sitemap.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sitemap sm;
    struct err e;
    if (sitemap_parse(data, size, &sm, &e) == 0)
        sitemap_release(&sm);
    return 0;
}
