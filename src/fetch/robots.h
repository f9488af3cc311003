/* robots.txt (RFC 9309): parse a site's rules for one user agent and answer whether a path may be
 * fetched, how long to wait between requests (Crawl-delay), and which sitemaps it lists.
 *
 * Parsing never fails: lines that cannot be understood are skipped, as the RFC asks. Only the
 * first ROBOTS_MAX_BYTES of a file are read (a line cut by that limit is dropped whole); of the
 * groups that apply, at most 10,000 rules are kept, rules longer than 16 KiB are skipped, and at
 * most 10,000 Sitemap lines are kept. Matching never backtracks, so its time stays near linear in
 * the path and the rules, whatever the patterns.
 *
 * Ownership: a struct robots belongs to the caller (robots_free) and is read-only once made, so
 * threads may share it. Strings it returns live as long as it does. */
#ifndef TRAWL_ROBOTS_H
#define TRAWL_ROBOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROBOTS_MAX_BYTES (512 * 1024)

struct robots;

/* Parse text (len bytes, not necessarily NUL-terminated, NUL bytes allowed; NULL with len 0 is
 * an empty file; a UTF-8 BOM is skipped; lines end with LF, CR or CRLF) for the crawler whose
 * product token is agent (e.g. "trawl"; matched case-insensitively against User-agent lines,
 * which may carry a version "trawl/1.0" or more words, of which the first token counts; a token
 * is letters, digits, '-' and '_', so "trawlbot" and "trawl2" are other crawlers; a version in
 * agent itself is ignored too). The groups naming agent apply, merged when several do; when none
 * does, the "*" groups apply; when none exists either, everything is allowed. A group naming
 * agent without any rule still applies (and allows everything). Consecutive User-agent lines
 * share the group that follows them, even with blank, comment or unknown lines between them;
 * rules before the first User-agent line belong to no group and are ignored.
 * Keys are case-insensitive; "useragent", "user agent", common misspellings of "disallow" and
 * "Key value" without a colon are accepted, as Google does, and so is "crawldelay". */
struct robots *robots_parse(const char *text, size_t len, const char *agent);
/* A site without rules (robots.txt answered 4xx): everything allowed. */
struct robots *robots_allow_all(void);
/* A site whose robots.txt could not be read (5xx, unreachable): everything disallowed. */
struct robots *robots_disallow_all(void);
void robots_free(struct robots *r);

/* Whether path (the URL's path and query, starting with "/"; NULL or "" mean "/") may be fetched.
 * Rule and path are compared after the same normalization url_normalize applies to a path:
 * escapes of unreserved characters decoded, other escapes in uppercase hex, raw non-ASCII bytes
 * percent-encoded (so a raw UTF-8 rule matches both the raw and the encoded path). The longest
 * matching rule wins (length as written, after that normalization); of an Allow and a Disallow
 * of the same length, Allow wins; "*" matches any run of characters and a trailing "$" anchors
 * the end ("%2A" and "%24", or a "$" elsewhere, are the plain characters). A rule that starts
 * with neither "/" nor "*" never matches. An empty Disallow allows everything. "/robots.txt" is
 * always allowed, even by robots_disallow_all. */
bool robots_allowed(const struct robots *r, const char *path);
/* The Crawl-delay of the applying groups in milliseconds (seconds as digits with an optional
 * fraction, e.g. "10" or "0.5", precision past milliseconds dropped; capped at one day; other
 * values ignored), the largest when merged groups give several, or -1 when none is given. */
int64_t robots_crawl_delay_ms(const struct robots *r);
/* The Sitemap lines of the whole file (they belong to no group, so those before any User-agent
 * line and in other agents' groups count too), trimmed, in order; empty ones and ones holding
 * control bytes are skipped. *n gets the count; the array is NULL when it is 0. */
const char *const *robots_sitemaps(const struct robots *r, size_t *n);

#endif
