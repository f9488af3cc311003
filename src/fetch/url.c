/* URL normalization on libcurl's URL API: libcurl parses, resolves references, removes dot
 * segments and default ports and rewrites numeric IPv4 hosts; this file adds what libcurl 7.88
 * leaves undone (host case, trailing dot, IPv6 form, percent-encoding, fragment, refusals). */
#include "fetch/url.h"

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Spaces are let through so they can be percent-encoded here (libcurl's CURLU_URLENCODE would
 * write a space in the query as '+', which is form encoding, not URL encoding). */
#define SET_FLAGS (CURLU_DISALLOW_USER | CURLU_ALLOW_SPACE)

#define HOST_MAX 253 /* the longest DNS name, without its trailing dot */

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_val(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Bytes that may not appear raw in a path or query. */
static bool must_encode(unsigned char c)
{
    return c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL;
}

/* The checks libcurl does not make, on the text as given: what is "url" or "base url". On
 * success *trimmed is a copy without leading and trailing whitespace; free() it. */
static int check_text(const char *what, const char *in, char **trimmed, struct err *e)
{
    *trimmed = NULL;
    if (!in)
        in = "";
    size_t len = strlen(in);
    size_t start = 0;
    while (start < len && is_ws((unsigned char)in[start]))
        start++;
    while (len > start && is_ws((unsigned char)in[len - 1]))
        len--;
    if (len == start)
        return err_set(e, TRAWL_EINVAL, false, "%s is empty", what);
    if (len - start > URL_MAX)
        return err_set(e, TRAWL_ETOOBIG, false, "%s is longer than %d bytes", what, URL_MAX);
    for (size_t i = start; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x20 || c == 0x7f)
            return err_set(e, TRAWL_EINVAL, false,
                           "%s has a control character (0x%02x) at byte %zu", what, c, i);
    }
    if (!utf8_valid(in + start, len - start))
        return err_set(e, TRAWL_EINVAL, false, "%s is not valid UTF-8", what);
    char *s = xmalloc(len - start + 1);
    memcpy(s, in + start, len - start);
    s[len - start] = '\0';
    *trimmed = s;
    return 0;
}

/* The scheme at the start of s, lowercased into buf, for messages only: libcurl does not say
 * which scheme it refused. False when s does not start with "scheme:". */
static bool scheme_of(const char *s, char *buf, size_t n)
{
    if (!is_alpha((unsigned char)s[0]))
        return false;
    size_t i = 0;
    for (; s[i] && s[i] != ':'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
            return false;
    }
    if (s[i] != ':')
        return false;
    size_t k = 0;
    for (; k < i && k + 1 < n; k++) {
        char c = s[k];
        buf[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    buf[k] = '\0';
    return true;
}

static int scheme_refused(const char *what, const char *scheme, struct err *e)
{
    return err_set(e, TRAWL_EINVAL, false, "%s scheme '%s' is not allowed (http and https only)",
                   what, scheme);
}

/* A libcurl parse error as a message for a user; text is what was parsed. */
static int curl_error(CURLUcode rc, const char *what, const char *text, struct err *e)
{
    char scheme[40];
    bool has_scheme = scheme_of(text, scheme, sizeof scheme);
    bool web = has_scheme && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
    switch (rc) {
    case CURLUE_UNSUPPORTED_SCHEME:
    case CURLUE_BAD_SLASHES:
        if (has_scheme && !web)
            return scheme_refused(what, scheme, e);
        if (rc == CURLUE_BAD_SLASHES && web)
            return err_set(e, TRAWL_EINVAL, false, "%s must have '//' after '%s:'", what, scheme);
        return err_set(e, TRAWL_EINVAL, false,
                       "%s has no scheme (it must start with http:// or https://)", what);
    case CURLUE_BAD_SCHEME:
    case CURLUE_NO_SCHEME:
        return err_set(e, TRAWL_EINVAL, false,
                       "%s has no scheme (it must start with http:// or https://)", what);
    case CURLUE_USER_NOT_ALLOWED:
    case CURLUE_BAD_LOGIN:
    case CURLUE_BAD_USER:
    case CURLUE_BAD_PASSWORD:
        return err_set(e, TRAWL_EINVAL, false, "%s must not contain user info", what);
    case CURLUE_NO_HOST:
        return err_set(e, TRAWL_EINVAL, false, "%s has no host", what);
    case CURLUE_BAD_HOSTNAME:
        return err_set(e, TRAWL_EINVAL, false, "%s host is not a valid host name", what);
    case CURLUE_BAD_IPV6:
        return err_set(e, TRAWL_EINVAL, false, "%s host is not a valid IPv6 address", what);
    case CURLUE_BAD_PORT_NUMBER:
        return err_set(e, TRAWL_EINVAL, false, "%s port is not a number from 1 to 65535", what);
    case CURLUE_BAD_PATH:
        return err_set(e, TRAWL_EINVAL, false, "%s has an invalid path", what);
    case CURLUE_BAD_QUERY:
        return err_set(e, TRAWL_EINVAL, false, "%s has an invalid query", what);
    case CURLUE_LACKS_IDN:
        return err_set(e, TRAWL_EINVAL, false,
                       "%s host is internationalized and libcurl was built without IDN support",
                       what);
    case CURLUE_OUT_OF_MEMORY:
        return err_set(e, TRAWL_ENOMEM, false, "out of memory parsing a url");
    default:
        return err_set(e, TRAWL_EINVAL, false, "%s is not a valid url (libcurl url error %d)", what,
                       (int)rc);
    }
}

/* Check in and parse it into h: absolute, or relative to what h already holds. */
static int parse_into(CURLU *h, const char *what, const char *in, struct err *e)
{
    char *text = NULL;
    int rc = check_text(what, in, &text, e);
    if (rc)
        goto out;
    CURLUcode uc = curl_url_set(h, CURLUPART_URL, text, SET_FLAGS);
    if (uc)
        rc = curl_error(uc, what, text, e);
out:
    free(text);
    return rc;
}

/* Percent-encoding of a path or query in RFC 3986 normal form. A '%' that does not start an
 * escape is itself encoded: left raw, a decoded escape behind it could form a new one ("%%41b"
 * would become "%Ab"), and normalizing again would change the URL. */
static int pct_normalize(const char *s, struct buf *b)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && !rc; p++) {
        char esc[3] = {'%', 0, 0};
        if (*p == '%' && hex_val(p[1]) >= 0 && hex_val(p[2]) >= 0) {
            unsigned char v = (unsigned char)(hex_val(p[1]) * 16 + hex_val(p[2]));
            p += 2;
            if (is_unreserved(v)) {
                rc = buf_add(b, &v, 1);
                continue;
            }
            esc[1] = hex[v >> 4];
            esc[2] = hex[v & 15];
            rc = buf_add(b, esc, 3);
        } else if (*p == '%' || must_encode(*p)) {
            esc[1] = hex[*p >> 4];
            esc[2] = hex[*p & 15];
            rc = buf_add(b, esc, 3);
        } else {
            rc = buf_add(b, p, 1);
        }
    }
    return rc;
}

/* The host of h in punycode. libcurl 7.88 converts with idn2_lookup_ul(), which reads the
 * input in the charset of the current locale, so the conversion runs with a UTF-8 LC_CTYPE set
 * for this thread only. */
static int host_punycode(CURLU *h, const char *what, const char *raw, char **out, struct err *e)
{
    const char *shown = utf8_valid(raw, strlen(raw)) ? raw : "?";
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (loc == (locale_t)0)
        return err_set(e, TRAWL_EINVAL, false,
                       "%s host '%s' is internationalized and cannot be converted to punycode "
                       "without the C.UTF-8 locale",
                       what, shown);
    locale_t old = uselocale(loc);
    CURLUcode uc = curl_url_get(h, CURLUPART_HOST, out, CURLU_PUNYCODE);
    uselocale(old);
    freelocale(loc);
    if (uc == CURLUE_LACKS_IDN)
        return curl_error(uc, what, "", e);
    if (uc) /* 7.88 reports every IDN failure as CURLUE_OUT_OF_MEMORY */
        return err_set(e, TRAWL_EINVAL, false,
                       "%s host '%s' is not a valid internationalized domain name", what, shown);
    return 0;
}

/* The host of h in normal form into *out (free() it): punycode, lowercase, one trailing dot
 * removed, IPv6 as inet_ntop() writes it. Numeric IPv4 spellings are left to libcurl, which
 * rewrites them when the URL is parsed again. */
static int fix_host(CURLU *h, const char *what, char **out, struct err *e)
{
    char *raw = NULL, *puny = NULL, *zone = NULL;
    char *host = NULL;
    int rc = 0;
    *out = NULL;
    if (curl_url_get(h, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s host must not have an IPv6 zone id", what);
        goto out;
    }
    CURLUcode uc = curl_url_get(h, CURLUPART_HOST, &raw, 0);
    if (uc || !raw[0]) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s has no host", what);
        goto out;
    }
    /* libcurl 7.88 lets a '%' through (raw or from "%25"); no DNS name has one, and leaving
     * it would make normalizing again decode it once more */
    if (strchr(raw, '%')) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s host is not a valid host name", what);
        goto out;
    }
    bool ascii = true;
    for (const char *p = raw; *p; p++)
        ascii = ascii && (unsigned char)*p < 0x80;
    if (!ascii) {
        rc = host_punycode(h, what, raw, &puny, e);
        if (rc)
            goto out;
    }
    host = xstrdup(ascii ? raw : puny);
    size_t n = strlen(host);
    if (host[0] == '[') {
        /* libcurl 7.88 rewrites an IPv6 address only when inet_ntop's form is shorter */
        char addr[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &a6) != 1 ||
            !inet_ntop(AF_INET6, &a6, addr, sizeof addr)) {
            rc = err_set(e, TRAWL_EINVAL, false, "%s host is not a valid IPv6 address", what);
            goto out;
        }
        free(host);
        n = strlen(addr) + 3;
        host = xmalloc(n);
        snprintf(host, n, "[%s]", addr);
    } else {
        if (host[n - 1] == '.')
            host[--n] = '\0';
        if (n == 0) {
            rc = err_set(e, TRAWL_EINVAL, false, "%s has no host", what);
            goto out;
        }
        if (host[n - 1] == '.') {
            rc = err_set(e, TRAWL_EINVAL, false, "%s host '%s.' has an empty label", what, host);
            goto out;
        }
        for (char *p = host; *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
    }
    *out = host;
    host = NULL;
out:
    curl_free(raw);
    curl_free(puny);
    curl_free(zone);
    free(host);
    return rc;
}

/* A host whose last label is a number but that libcurl did not read as an IPv4 address
 * ("256.1.1.1", "1.2.3.4.5", "0x100000000"): refused, as WHATWG URL parsers do, rather than
 * looked up in DNS under a name that resolvers read in different ways. */
static bool bad_numeric_host(const char *host)
{
    struct in_addr a4;
    if (host[0] == '[' || inet_pton(AF_INET, host, &a4) == 1)
        return false;
    const char *last = strrchr(host, '.');
    last = last ? last + 1 : host;
    if (last[0] == '0' && (last[1] == 'x' || last[1] == 'X')) {
        for (const char *p = last + 2; *p; p++)
            if (hex_val((unsigned char)*p) < 0)
                return false;
        return true;
    }
    if (!*last)
        return false;
    for (const char *p = last; *p; p++)
        if (!is_digit((unsigned char)*p))
            return false;
    return true;
}

/* Normalize the URL parsed into h. Its parts are put together here, not set back into h,
 * because curl_url_set() on a path or query writes escapes in lowercase; the result is parsed
 * again so that libcurl removes the dot segments that decoding %2E made, drops a default port
 * and rewrites a numeric IPv4 host that had a trailing dot. That parse is returned in *final
 * when final is not NULL (curl_url_cleanup() it). */
static int normalize_handle(CURLU *h, const char *what, char **out, CURLU **final, struct err *e)
{
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    char *res = NULL, *host2 = NULL;
    CURLU *h2 = NULL;
    struct buf b;
    /* room for an input of URL_MAX bytes that grows by percent-encoding; the result is
     * checked against URL_MAX once libcurl has removed the dot segments */
    buf_init(&b, 4 * URL_MAX);
    int rc = 0;
    *out = NULL;
    if (final)
        *final = NULL;

    CURLUcode uc = curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    if (!uc)
        uc = curl_url_get(h, CURLUPART_PATH, &path, 0);
    if (uc) {
        rc = curl_error(uc, what, "", e);
        goto out;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        rc = scheme_refused(what, scheme, e);
        goto out;
    }
    /* libcurl refuses ports above 65535 but lets 0 through */
    if (curl_url_get(h, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    if (port && atoi(port) == 0) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s port is not a number from 1 to 65535", what);
        goto out;
    }
    if (curl_url_get(h, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
        query = NULL;
    if (query && !query[0]) { /* "?" with nothing after it */
        curl_free(query);
        query = NULL;
    }
    rc = fix_host(h, what, &host, e);
    if (rc)
        goto out;

    rc = buf_addf(&b, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    if (!rc)
        rc = pct_normalize(path, &b);
    if (!rc && query) {
        rc = buf_adds(&b, "?");
        if (!rc)
            rc = pct_normalize(query, &b);
    }
    if (rc) {
        rc = err_set(e, TRAWL_ETOOBIG, false, "%s is longer than %d bytes once normalized", what,
                     URL_MAX);
        goto out;
    }

    h2 = curl_url();
    if (!h2) {
        rc = err_set(e, TRAWL_ENOMEM, false, "out of memory parsing a url");
        goto out;
    }
    uc = curl_url_set(h2, CURLUPART_URL, b.data, SET_FLAGS);
    if (!uc)
        uc = curl_url_get(h2, CURLUPART_HOST, &host2, 0);
    if (!uc)
        uc = curl_url_get(h2, CURLUPART_URL, &res, CURLU_NO_DEFAULT_PORT);
    if (uc) {
        rc = curl_error(uc, what, b.data, e);
        goto out;
    }
    if (bad_numeric_host(host2)) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s host '%s' is not a valid IPv4 address", what,
                     host2);
        goto out;
    }
    if (strlen(host2) > HOST_MAX) {
        rc = err_set(e, TRAWL_EINVAL, false, "%s host is longer than %d bytes", what, HOST_MAX);
        goto out;
    }
    if (strlen(res) > URL_MAX) {
        rc = err_set(e, TRAWL_ETOOBIG, false, "%s is longer than %d bytes once normalized", what,
                     URL_MAX);
        goto out;
    }
    *out = xstrdup(res);
    if (final) {
        *final = h2;
        h2 = NULL;
    }
out:
    curl_free(scheme);
    free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(res);
    curl_free(host2);
    curl_url_cleanup(h2);
    buf_release(&b);
    return rc;
}

/* Parse and normalize in; the normalized parse is returned in *final when final is not NULL. */
static int normalize(const char *what, const char *in, char **out, CURLU **final, struct err *e)
{
    *out = NULL;
    CURLU *h = curl_url();
    if (!h)
        return err_set(e, TRAWL_ENOMEM, false, "out of memory parsing a url");
    int rc = parse_into(h, what, in, e);
    if (!rc)
        rc = normalize_handle(h, what, out, final, e);
    curl_url_cleanup(h);
    return rc;
}

int url_normalize(const char *in, char **out, struct err *e)
{
    return normalize("url", in, out, NULL, e);
}

/* The common case of a page's links, without libcurl: a root-relative reference ("/a/b?c=d")
 * against a base that is already normalized. It applies only when normalizing the result could
 * change nothing: the reference holds only characters a normalized URL keeps as they are (no
 * '%', no space, no non-ASCII, none of the ones that get percent-encoded), no dot segment and no
 * empty query; a fragment is dropped as normalization drops it. Returns false to leave the
 * reference to the general path. */
static bool resolve_simple(const char *nbase, const char *ref, char **out)
{
    if (ref[0] != '/' || ref[1] == '/')
        return false;
    size_t n = strcspn(ref, "#");
    const char *q = memchr(ref, '?', n);
    if (q && q + 1 == ref + n)
        return false; /* "?" alone: removed by normalization */
    size_t plen = q ? (size_t)(q - ref) : n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ref[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (c == 0 || !strchr("-._~/!$&'()*+,;=:@?", c)))
            return false;
    }
    for (size_t i = 0; i < plen; i++) /* "/." or "/.." as a whole segment */
        if (ref[i] == '/' && ref[i + 1] == '.' &&
            (i + 2 >= plen || ref[i + 2] == '/' ||
             (ref[i + 2] == '.' && (i + 3 >= plen || ref[i + 3] == '/'))))
            return false;
    const char *host = strstr(nbase, "://");
    if (!host)
        return false;
    size_t olen = (size_t)(host + 3 - nbase) + strcspn(host + 3, "/?#");
    if (olen + n >= URL_MAX)
        return false;
    char *r = xmalloc(olen + n + 1);
    memcpy(r, nbase, olen);
    memcpy(r + olen, ref, n);
    r[olen + n] = 0;
    *out = r;
    return true;
}

int url_resolve_normal(const char *nbase, const char *ref, char **out, struct err *e)
{
    const char *r = ref ? ref : "";
    while (is_ws((unsigned char)*r))
        r++;
    size_t n = strlen(r);
    while (n && is_ws((unsigned char)r[n - 1]))
        n--;
    if (!r[n] && resolve_simple(nbase, r, out))
        return 0;
    return url_resolve(nbase, ref, out, e);
}

int url_resolve(const char *base, const char *ref, char **out, struct err *e)
{
    char *nbase = NULL, *text = NULL;
    CURLU *h = NULL;
    *out = NULL;
    int rc = normalize("base url", base, &nbase, &h, e);
    if (rc)
        goto out;
    /* libcurl 7.88 resolves "" and "#frag" against the base's directory; they name the base
     * document itself, and the fragment is dropped anyway. */
    const char *r = ref ? ref : "";
    while (is_ws((unsigned char)*r))
        r++;
    if (*r) {
        rc = check_text("url", ref, &text, e);
        if (rc)
            goto out;
    }
    if (!*r || text[0] == '#') {
        *out = nbase;
        nbase = NULL;
        goto out;
    }
    /* libcurl 7.88 writes a space in a relative reference's query as '+', which is form
     * encoding and means something else in a URL; as %20 it is left alone */
    struct buf b;
    buf_init(&b, 3 * URL_MAX);
    for (const char *p = text; *p && !rc; p++)
        rc = *p == ' ' ? buf_adds(&b, "%20") : buf_add(&b, p, 1);
    CURLUcode uc = rc ? CURLUE_OK : curl_url_set(h, CURLUPART_URL, b.data, SET_FLAGS);
    buf_release(&b);
    if (rc) {
        rc = err_set(e, TRAWL_ETOOBIG, false, "url is longer than %d bytes once normalized",
                     URL_MAX);
        goto out;
    }
    if (uc) {
        rc = curl_error(uc, "url", text, e);
        goto out;
    }
    rc = normalize_handle(h, "url", out, NULL, e);
out:
    free(nbase);
    free(text);
    curl_url_cleanup(h);
    return rc;
}

int url_split(const char *url, struct url_parts *out, struct err *e)
{
    char *norm = NULL, *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
    CURLU *h = NULL;
    memset(out, 0, sizeof *out);
    int rc = normalize("url", url, &norm, &h, e);
    if (rc)
        goto out;
    CURLUcode uc = curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    if (!uc)
        uc = curl_url_get(h, CURLUPART_HOST, &host, 0);
    if (!uc)
        uc = curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    if (!uc)
        uc = curl_url_get(h, CURLUPART_PATH, &path, 0);
    if (uc) {
        rc = curl_error(uc, "url", norm, e);
        goto out;
    }
    if (curl_url_get(h, CURLUPART_QUERY, &query, 0) != CURLUE_OK || !query[0]) {
        curl_free(query);
        query = NULL;
    }
    out->https = strcmp(scheme, "https") == 0;
    size_t n = strlen(host);
    if (host[0] == '[')
        snprintf(out->host, sizeof out->host, "%.*s", (int)(n - 2), host + 1);
    else
        snprintf(out->host, sizeof out->host, "%s", host);
    out->port = atoi(port);
    size_t plen = strlen(path), qlen = query ? strlen(query) : 0;
    out->path = xmalloc(plen + (query ? qlen + 1 : 0) + 1);
    memcpy(out->path, path, plen + 1);
    if (query) {
        out->path[plen] = '?';
        memcpy(out->path + plen + 1, query, qlen + 1);
    }
out:
    free(norm);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(h);
    return rc;
}

void url_parts_release(struct url_parts *p)
{
    if (!p)
        return;
    free(p->path);
    p->path = NULL;
}

int url_origin(const char *url, char *out, size_t n, struct err *e)
{
    char *norm = NULL, *scheme = NULL, *host = NULL, *port = NULL;
    CURLU *h = NULL;
    if (!out || n == 0)
        return err_set(e, TRAWL_EINVAL, false, "no room for the url origin");
    out[0] = '\0';
    int rc = normalize("url", url, &norm, &h, e);
    if (rc)
        goto out;
    CURLUcode uc = curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
    if (!uc)
        uc = curl_url_get(h, CURLUPART_HOST, &host, 0);
    if (uc) {
        rc = curl_error(uc, "url", norm, e);
        goto out;
    }
    bool has_port = curl_url_get(h, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT) == CURLUE_OK;
    int len =
        snprintf(out, n, "%s://%s%s%s", scheme, host, has_port ? ":" : "", has_port ? port : "");
    if (len < 0 || (size_t)len >= n) {
        out[0] = '\0';
        rc = err_set(e, TRAWL_ETOOBIG, false, "url origin needs %d bytes and the buffer has %zu",
                     len + 1, n);
    }
out:
    free(norm);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(h);
    return rc;
}
