/* URLs as trawl stores and compares them: parsed with libcurl's URL API and normalized, so that
 * two spellings of one page are recognised as one (scheme and host case, default ports, dot
 * segments, fragments, percent-encoding, numeric IPv4 spellings).
 *
 * Ownership: parameters are borrowed; strings returned through char ** belong to the caller
 * (free()). Errors: TRAWL_EINVAL (or TRAWL_ETOOBIG for length) with a message that names the
 * problem and can be shown to a user as it is. */
#ifndef TRAWL_URL_H
#define TRAWL_URL_H

#include "base/err.h"

#include <stdbool.h>
#include <stddef.h>

#define URL_MAX 8192 /* bytes of a URL, before and after normalization */

/* Normalize an absolute http or https URL:
 * - scheme and host lowercased; a trailing dot of the host removed; an internationalized host
 *   written in punycode; an IPv4 host in any numeric spelling (2130706433, 0x7f.1, 0177.0.0.1)
 *   written as a dotted quad; an IPv6 host in its canonical compressed form, in brackets (as
 *   inet_ntop writes it: lowercase, RFC 5952, IPv4-mapped as [::ffff:127.0.0.1]);
 * - the default port (80 for http, 443 for https) removed;
 * - an empty path written as "/"; "." and ".." segments resolved, also those spelled %2E;
 * - the fragment removed; an empty query ("?" alone) removed;
 * - percent-encoding: escapes of unreserved characters (A-Z a-z 0-9 - . _ ~) decoded, other
 *   escapes written with uppercase hex, and bytes that may not appear raw (space, non-ASCII,
 *   '"', '<', '>', '\\', '^', '`', '{', '|', '}') percent-encoded; a '%' that starts no escape
 *   ("100%", "%zz") is written as %25; the query is kept in its order.
 * Normalizing a normalized URL returns it unchanged. Safe to call from any thread.
 * Leading and trailing whitespace (space, \t, \n, \v, \f, \r) is trimmed first. Refused, each
 * with its own message: empty input; a control character (byte < 0x20 or 0x7f) anywhere else,
 * named with its offset counted from 0 in the input as given ("url has a control character
 * (0x01) at byte 12"); invalid UTF-8; a scheme other than http/https ("url scheme 'ftp' is not
 * allowed (http and https only)"); no host; user info (user:password@); a port out of range (0
 * too); a host with a '%', more than one trailing dot or an IPv6 zone id; a host whose last
 * label is a number but that is no IPv4 address ("256.1.1.1", "1.2.3.4.5"); a host longer than
 * 253 bytes; an internationalized host that is no valid IDNA name; more than URL_MAX bytes
 * before or after normalization (TRAWL_ETOOBIG). On error *out is NULL. */
int url_normalize(const char *in, char **out, struct err *e);

/* Resolve ref (absolute, or relative as found in a page's href or a Location header) against
 * the absolute URL base, then normalize the result as url_normalize does. An empty ref, or one
 * that is only a fragment ("#top"), names the base itself. A ref with another scheme
 * ("javascript:", "mailto:") is refused like any other URL. Errors in base are reported as
 * "base url ...", errors in ref and the result as "url ...". */
int url_resolve(const char *base, const char *ref, char **out, struct err *e);

/* url_resolve for a base that is already normalized (url_normalize's output), as a page's
 * links are resolved: the same result, faster for the common root-relative references. */
int url_resolve_normal(const char *nbase, const char *ref, char **out, struct err *e);

/* The parts of an absolute http(s) URL that the fetcher needs. */
struct url_parts {
    bool https;
    char host[256]; /* lowercase; IPv6 without brackets */
    int port;       /* explicit or the scheme's default */
    char *path;     /* path and query, starting with "/"; owned, freed by url_parts_release */
};

/* Split a URL (normalized or not) into parts; the URL is normalized first and refused as
 * url_normalize refuses it. On error out->path is NULL, so url_parts_release may still be called.
 * url_parts_release frees path and accepts NULL. */
int url_split(const char *url, struct url_parts *out, struct err *e);
void url_parts_release(struct url_parts *p);

/* The origin of a URL as "scheme://host[:port]" with the port only when not the default,
 * written into out (size n); the key politeness, robots.txt and breakers are kept under. The URL
 * is normalized first (an IPv6 host keeps its brackets). TRAWL_ETOOBIG when the origin and its
 * NUL do not fit in n bytes; on any error out is "" (when n > 0). */
int url_origin(const char *url, char *out, size_t n, struct err *e);

#endif
