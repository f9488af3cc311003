/* Sitemaps (sitemaps.org): a <urlset> of page URLs with their lastmod, or a <sitemapindex> of
 * child sitemaps; plain XML or gzip-compressed (recognised by its magic bytes, whatever the
 * Content-Type says). Parsed with libxml2's SAX2 push parser as the data is inflated, without
 * the network and without entity expansion; at most SITEMAP_MAX_BYTES of XML are read (a gzip
 * bomb stops there).
 *
 * Ownership: a struct sitemap and its strings belong to the caller (sitemap_release). */
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
    char warning[512]; /* "" or what was wrong (too large, gzip cut short or corrupt, malformed
                          XML at line L, too many entries, <loc> too long); the entries read
                          before it are kept */
};

/* Parse len bytes into *out, which is overwritten (after an error it is left empty).
 * Entries are the <url> (or <sitemap>) children of the root that have a non-empty <loc>, in
 * document order; the elements are matched in the root's namespace, whichever it is (the
 * sitemaps.org one, none, ...), so extensions such as <image:loc> are not entries. A <loc> of
 * more than 8192 bytes is skipped, a <lastmod> of more than 256 is dropped; blank lines before
 * the XML declaration are allowed. Entities other than the five predefined ones and character
 * references are never expanded: a document that uses one is malformed from there on.
 * Returns 0 with whatever could be read (a warning says what went wrong); TRAWL_EINVAL only
 * when the data is not a sitemap at all (the root is not <urlset> or <sitemapindex>, or the
 * data is not XML, or a gzip stream yields nothing), with the reason in e; TRAWL_ENOMEM when
 * libxml2 cannot allocate a parser. */
int sitemap_parse(const void *data, size_t len, struct sitemap *out, struct err *e);
void sitemap_release(struct sitemap *s);

#endif
