/* Sitemaps (sitemaps.org): a <urlset> of page URLs with their lastmod, or a <sitemapindex> of
 * child sitemaps; plain XML or gzip-compressed (recognised by its magic bytes, whatever the
 * Content-Type says). Parsed with libxml2's reader, without the network and without entity
 * expansion; decompression stops at SITEMAP_MAX_BYTES (a gzip bomb stops there).
 *
 * Ownership: a struct sitemap belongs to the caller (sitemap_release). */
#ifndef TRAWL_SITEMAP_H
#define TRAWL_SITEMAP_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>

#define SITEMAP_MAX_BYTES (64u << 20) /* after decompression (sitemaps.org allows 50 MB) */
#define SITEMAP_MAX_URLS  50000       /* entries kept from one file, as sitemaps.org allows */

struct sitemap_entry {
    char *loc;     /* as written, trimmed; the caller resolves and normalizes it */
    char *lastmod; /* as written, or NULL */
};

struct sitemap {
    bool is_index; /* a <sitemapindex>: entries are child sitemaps */
    struct sitemap_entry *entries;
    size_t n;
    char warning[512]; /* "" or what was wrong (malformed XML after N entries, too many
                          entries, too large, not a sitemap); the entries read so far are kept */
};

/* Parse len bytes. Returns 0 with whatever could be read (a warning says what went wrong);
 * TRAWL_EINVAL only when the data is not a sitemap at all (no <urlset> or <sitemapindex>, or
 * not XML), with the reason in e. */
int sitemap_parse(const void *data, size_t len, struct sitemap *out, struct err *e);
void sitemap_release(struct sitemap *s);

#endif
