/* Alerts on the wire: Sentry DSNs, envelopes and auth headers, and the signed webhook body. */
#include "alert/format.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/clock.h"
#include "base/uuid.h"
#include "base/xalloc.h"

#ifndef TRAWL_VERSION
#define TRAWL_VERSION "0"
#endif

/* ---- DSN ---- */

static int dsn_bad(struct err *e, const char *what)
{
    return err_set(e, TRAWL_EINVAL, false, "sentry dsn %s (want SCHEME://KEY@HOST/PROJECT_ID)",
                   what);
}

/* Copies the n bytes at s into dst[size]; false when they do not fit with their NUL. */
static bool copy_field(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return true;
}

static bool all_digits(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* A host name (letters, digits, '-', '.', '_') or an IPv6 address in brackets, then an optional
 * ":PORT". */
static int parse_host(const char *h, size_t n, struct sentry_dsn *out, struct err *e)
{
    if (n == 0)
        return dsn_bad(e, "has no host");
    size_t name_end;
    if (h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (!rb)
            return dsn_bad(e, "has a bad host: '[' without ']'");
        name_end = (size_t)(rb - h) + 1;
        if (name_end == 2)
            return dsn_bad(e, "has no host");
        for (size_t i = 1; i + 1 < name_end; i++)
            if (!isxdigit((unsigned char)h[i]) && h[i] != ':' && h[i] != '.')
                return dsn_bad(e, "has a bad host: not an ipv6 address in brackets");
        if (name_end < n && h[name_end] != ':')
            return dsn_bad(e, "has a bad host: text after ']'");
    } else {
        const char *colon = memchr(h, ':', n);
        name_end = colon ? (size_t)(colon - h) : n;
        if (name_end == 0)
            return dsn_bad(e, "has no host");
        for (size_t i = 0; i < name_end; i++)
            if (!isalnum((unsigned char)h[i]) && !strchr("-._", h[i]))
                return err_set(e, TRAWL_EINVAL, false,
                               "sentry dsn has a bad host: '%c' is not allowed in a host name",
                               h[i]);
    }
    if (name_end < n) { /* h[name_end] is ':' */
        const char *p = h + name_end + 1;
        size_t pn = n - name_end - 1;
        long port = pn > 0 && pn <= 5 && all_digits(p, pn) ? strtol(p, NULL, 10) : 0;
        if (port < 1 || port > 65535)
            return err_set(e, TRAWL_EINVAL, false,
                           "sentry dsn has a bad port '%.*s' (want 1 to 65535)", (int)pn, p);
    }
    if (!copy_field(out->host, sizeof out->host, h, n))
        return dsn_bad(e, "host is too long");
    return 0;
}

int sentry_dsn_parse(const char *dsn, struct sentry_dsn *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    if (!dsn || !*dsn)
        return dsn_bad(e, "is empty");
    size_t n = strlen(dsn);
    if (n >= sizeof out->dsn)
        return err_set(e, TRAWL_EINVAL, false, "sentry dsn is too long (%zu bytes, at most %zu)", n,
                       sizeof out->dsn - 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)dsn[i];
        if (c <= 0x20 || c == 0x7f)
            return err_set(e, TRAWL_EINVAL, false,
                           "sentry dsn contains a space or control character at byte %zu", i);
        if (c >= 0x80)
            return err_set(e, TRAWL_EINVAL, false,
                           "sentry dsn contains a non-ascii character at byte %zu", i);
    }

    const char *sep = strstr(dsn, "://");
    if (!sep || sep == dsn)
        return dsn_bad(e, "has no scheme");
    size_t sn = (size_t)(sep - dsn);
    if (sn == 4 && strncasecmp(dsn, "http", 4) == 0)
        strcpy(out->scheme, "http");
    else if (sn == 5 && strncasecmp(dsn, "https", 5) == 0)
        strcpy(out->scheme, "https");
    else
        return err_set(e, TRAWL_EINVAL, false,
                       "sentry dsn has unsupported scheme '%.*s' (want http or https)",
                       sn > 16 ? 16 : (int)sn, dsn);
    if (strpbrk(dsn, "?#"))
        return dsn_bad(e, "has a query or fragment");

    const char *auth = sep + 3;
    const char *slash = strchr(auth, '/');
    const char *auth_end = slash ? slash : auth + strlen(auth);
    const char *at = memrchr(auth, '@', (size_t)(auth_end - auth));
    if (!at)
        return dsn_bad(e, "has no public key");
    const char *colon = memchr(auth, ':', (size_t)(at - auth));
    size_t kn = (size_t)((colon ? colon : at) - auth);
    if (kn == 0)
        return dsn_bad(e, "has no public key");
    if (!copy_field(out->public_key, sizeof out->public_key, auth, kn))
        return dsn_bad(e, "public key is too long");
    int rc = parse_host(at + 1, (size_t)(auth_end - at - 1), out, e);
    if (rc < 0)
        return rc;

    /* the project id is the last path segment; what comes before it is a prefix to keep */
    const char *last = slash ? strrchr(slash, '/') : NULL;
    const char *pid = last ? last + 1 : "";
    if (!*pid)
        return dsn_bad(e, "has no project id");
    if (!all_digits(pid, strlen(pid)))
        return err_set(e, TRAWL_EINVAL, false,
                       "sentry dsn project id '%.32s' is not a number (sentry project ids are "
                       "all digits)",
                       pid);
    if (!copy_field(out->project_id, sizeof out->project_id, pid, strlen(pid)))
        return dsn_bad(e, "project id is too long");
    if (!copy_field(out->path, sizeof out->path, slash, (size_t)(last - slash)))
        return dsn_bad(e, "path is too long");

    int un = snprintf(out->envelope_url, sizeof out->envelope_url, "%s://%s%s/api/%s/envelope/",
                      out->scheme, out->host, out->path, out->project_id);
    if (un < 0 || (size_t)un >= sizeof out->envelope_url)
        return dsn_bad(e, "is too long for its envelope url");
    memcpy(out->dsn, dsn, n + 1);
    return 0;
}

char *sentry_auth_header(const struct sentry_dsn *d)
{
    static const char fmt[] = "Sentry sentry_version=7, sentry_client=trawl/%s, sentry_key=%s";
    size_t n = sizeof fmt + strlen(TRAWL_VERSION) + strlen(d->public_key);
    char *s = xmalloc(n);
    snprintf(s, n, fmt, TRAWL_VERSION, d->public_key);
    return s;
}

/* ---- the event ---- */

#define TIME_MAX_MS 253402300799999LL /* 9999-12-31T23:59:59.999Z */

/* RFC 3339 UTC with milliseconds: "2024-05-01T12:34:56.789Z"; ms is from 0 to TIME_MAX_MS. */
static void rfc3339_ms(int64_t ms, char out[32])
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

static int alert_bad(struct err *e, const char *field, const char *want)
{
    return err_set(e, TRAWL_EINVAL, false, "alert field '%s' %s", field, want);
}

/* A tag value as Sentry takes it: at most SENTRY_TAG_MAX characters and no newlines. */
static json_t *tag_value_new(const char *s)
{
    size_t n = strlen(s), chars = 0, i = 0;
    for (; i < n; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80 && chars++ == SENTRY_TAG_MAX)
            break; /* i starts the first character past the limit */
    }
    char *t = xmalloc(i + 1);
    memcpy(t, s, i);
    t[i] = '\0';
    for (char *p = t; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    json_t *v = json_string(t);
    free(t);
    return v;
}

/* The alert's tags plus alert_kind, into a new object; NULL with e set for a value that is not a
 * string, number or boolean. */
static json_t *tags_new(const json_t *alert, const char *kind, struct err *e)
{
    const json_t *in = json_object_get(alert, "tags");
    if (in && !json_is_null(in) && !json_is_object(in)) {
        alert_bad(e, "tags", "is not an object");
        return NULL;
    }
    json_t *tags = json_object();
    const char *key;
    json_t *v;
    /* jansson's iteration takes a non-const object; nothing here changes it (an absent or null
     * tags iterates as an empty object) */
    json_object_foreach((json_t *)(json_is_object(in) ? in : NULL), key, v)
    {
        char num[64];
        const char *text = num;
        if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        else if (json_is_real(v))
            snprintf(num, sizeof num, "%.17g", json_real_value(v));
        else if (json_is_boolean(v))
            text = json_is_true(v) ? "true" : "false";
        else
            text = NULL;
        if (!text) {
            err_set(e, TRAWL_EINVAL, false, "alert tag '%.64s' is not a string", key);
            json_decref(tags);
            return NULL;
        }
        json_object_set_new(tags, key, tag_value_new(text)); /* steals the new string */
    }
    json_object_set_new(tags, "alert_kind", tag_value_new(kind));
    return tags;
}

/* The alert's context as Sentry contexts (every value an object); NULL when it has none. */
static json_t *contexts_new(const json_t *alert, struct err *e, bool *bad)
{
    const json_t *in = json_object_get(alert, "context");
    *bad = false;
    if (!in || json_is_null(in))
        return NULL;
    if (!json_is_object(in)) {
        *bad = true;
        alert_bad(e, "context", "is not an object");
        return NULL;
    }
    if (json_object_size(in) == 0)
        return NULL;
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)in, key, v)
    {
        json_t *c = json_deep_copy(v);
        if (!json_is_object(v))
            c = json_pack("{s:o}", "value", c); /* "o" steals c */
        json_object_set_new(out, key, c);
    }
    return out;
}

static json_t *fingerprint_new(const json_t *alert, struct err *e, bool *bad)
{
    const json_t *in = json_object_get(alert, "fingerprint");
    *bad = false;
    if (!in || json_is_null(in))
        return NULL;
    bool ok = json_is_array(in);
    for (size_t i = 0; ok && i < json_array_size(in); i++)
        ok = json_is_string(json_array_get(in, i));
    if (!ok) {
        *bad = true;
        alert_bad(e, "fingerprint", "is not an array of strings");
        return NULL;
    }
    return json_array_size(in) ? json_deep_copy(in) : NULL;
}

static bool level_valid(const char *level)
{
    static const char *const levels[] = {"fatal", "error", "warning", "info", "debug"};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(level, levels[i]) == 0)
            return true;
    return false;
}

/* The Sentry event for alert; NULL with e set when the alert is not of the documented shape.
 * event_id gets the 32 hex digits. */
static json_t *event_new(const json_t *alert, const char *server_name, char event_id[33],
                         struct err *e)
{
    if (!json_is_object(alert)) {
        err_set(e, TRAWL_EINVAL, false, "alert is not a json object");
        return NULL;
    }
    const char *id = json_string_value(json_object_get(alert, "id"));
    const json_t *at = json_object_get(alert, "at");
    const char *kind = json_string_value(json_object_get(alert, "kind"));
    const char *level = json_string_value(json_object_get(alert, "level"));
    const char *message = json_string_value(json_object_get(alert, "message"));
    const json_t *suppressed = json_object_get(alert, "suppressed");
    if (!id || !uuid_valid(id)) {
        alert_bad(e, "id", "is not a uuid");
        return NULL;
    }
    if (!json_is_integer(at) || json_integer_value(at) < 0 ||
        json_integer_value(at) > TIME_MAX_MS) {
        alert_bad(e, "at", "is not a time in milliseconds since the epoch");
        return NULL;
    }
    if (!kind || !*kind) {
        alert_bad(e, "kind", "is missing");
        return NULL;
    }
    if (!level || !level_valid(level)) {
        alert_bad(e, "level", "is not fatal, error, warning, info or debug");
        return NULL;
    }
    if (!message) {
        alert_bad(e, "message", "is not a string");
        return NULL;
    }
    if (suppressed && !json_is_null(suppressed) &&
        (!json_is_integer(suppressed) || json_integer_value(suppressed) < 0)) {
        alert_bad(e, "suppressed", "is not a count");
        return NULL;
    }
    size_t k = 0;
    for (const char *p = id; *p; p++)
        if (*p != '-')
            event_id[k++] = (char)tolower((unsigned char)*p);
    event_id[k] = '\0';

    bool bad;
    json_t *tags = tags_new(alert, kind, e);
    if (!tags)
        return NULL;
    json_t *contexts = contexts_new(alert, e, &bad);
    if (bad) {
        json_decref(tags);
        return NULL;
    }
    json_t *fingerprint = fingerprint_new(alert, e, &bad);
    if (bad) {
        json_decref(tags);
        json_decref(contexts);
        return NULL;
    }

    char ts[32];
    rfc3339_ms(json_integer_value(at), ts);
    /* json_object_set_new steals each value it is given */
    json_t *ev = json_object();
    json_object_set_new(ev, "event_id", json_string(event_id));
    json_object_set_new(ev, "timestamp", json_string(ts));
    json_object_set_new(ev, "platform", json_string("c"));
    json_object_set_new(ev, "level", json_string(level));
    json_object_set_new(ev, "logger", json_string("trawl"));
    if (server_name)
        json_object_set_new(ev, "server_name", json_string(server_name));
    json_object_set_new(ev, "release", json_string("trawl@" TRAWL_VERSION));
    json_object_set_new(ev, "message", json_pack("{s:s}", "formatted", message));
    json_object_set_new(ev, "tags", tags);
    if (contexts)
        json_object_set_new(ev, "contexts", contexts);
    if (fingerprint)
        json_object_set_new(ev, "fingerprint", fingerprint);
    json_int_t n = json_is_integer(suppressed) ? json_integer_value(suppressed) : 0;
    if (n > 0)
        json_object_set_new(ev, "extra", json_pack("{s:I}", "suppressed", n));
    return ev;
}

/* The event as compact JSON, without its contexts when it is too large for Sentry with them. */
static char *event_dump(json_t *ev, size_t *len, struct err *e)
{
    char *s = json_dumps(ev, JSON_COMPACT);
    if (!s) {
        err_set(e, TRAWL_EINVAL, false, "alert cannot be encoded as json");
        return NULL;
    }
    *len = strlen(s);
    if (*len <= SENTRY_EVENT_MAX)
        return s;
    if (json_object_get(ev, "contexts")) {
        json_object_del(ev, "contexts");
        json_t *extra = json_object_get(ev, "extra");
        if (!extra) {
            extra = json_object();
            json_object_set_new(ev, "extra", extra); /* ev keeps the reference */
        }
        json_object_set_new(extra, "contexts_dropped_bytes", json_integer((json_int_t)*len));
        free(s);
        s = json_dumps(ev, JSON_COMPACT);
        if (!s) {
            err_set(e, TRAWL_EINVAL, false, "alert cannot be encoded as json");
            return NULL;
        }
        *len = strlen(s);
        if (*len <= SENTRY_EVENT_MAX)
            return s;
    }
    err_set(e, TRAWL_ETOOBIG, false, "sentry event is too large (%zu bytes, at most %d)", *len,
            SENTRY_EVENT_MAX);
    free(s);
    return NULL;
}

char *sentry_envelope(const struct sentry_dsn *d, const json_t *alert, const char *server_name,
                      size_t *len, struct err *e)
{
    char event_id[33];
    char *payload = NULL, *head = NULL, *item = NULL, *out = NULL;
    json_t *hj = NULL, *ij = NULL;
    json_t *ev = event_new(alert, server_name, event_id, e);
    if (!ev)
        goto out;
    size_t plen;
    payload = event_dump(ev, &plen, e);
    if (!payload)
        goto out;

    char sent_at[32];
    rfc3339_ms(clock_now_ms(&clock_real), sent_at);
    hj = json_pack("{s:s,s:s,s:s}", "event_id", event_id, "dsn", d->dsn, "sent_at", sent_at);
    ij = json_pack("{s:s,s:I,s:s}", "type", "event", "length", (json_int_t)plen, "content_type",
                   "application/json");
    head = hj ? json_dumps(hj, JSON_COMPACT) : NULL;
    item = ij ? json_dumps(ij, JSON_COMPACT) : NULL;
    if (!head || !item) {
        err_set(e, TRAWL_EINVAL, false, "sentry dsn cannot be encoded as json");
        goto out;
    }
    size_t hn = strlen(head), in = strlen(item);
    size_t total = hn + 1 + in + 1 + plen + 1;
    out = xmalloc(total + 1);
    char *p = out;
    memcpy(p, head, hn);
    p += hn;
    *p++ = '\n';
    memcpy(p, item, in);
    p += in;
    *p++ = '\n';
    memcpy(p, payload, plen);
    p += plen;
    *p++ = '\n';
    *p = '\0';
    *len = total;
out:
    json_decref(ev);
    json_decref(hj);
    json_decref(ij);
    free(payload);
    free(head);
    free(item);
    return out;
}

/* ---- the webhook ---- */

char *alert_webhook_body(const json_t *alert, size_t *len)
{
    if (!json_is_object(alert))
        return NULL;
    char *s = json_dumps(alert, JSON_COMPACT);
    if (s && len)
        *len = strlen(s);
    return s;
}

void alert_sign(const char *secret, const void *body, size_t len, char out[ALERT_SIGNATURE_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    const char *key = secret ? secret : "";
    const unsigned char *data = body ? body : (const unsigned char *)"";
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), data, len, md, &mdn) || mdn != 32) {
        /* only when libcrypto cannot allocate: like xmalloc, give up loudly */
        fprintf(stderr, "trawl: HMAC-SHA256 failed\n");
        abort();
    }
    memcpy(out, "sha256=", 7);
    for (unsigned i = 0; i < mdn; i++) {
        out[7 + 2 * i] = hex[md[i] >> 4];
        out[8 + 2 * i] = hex[md[i] & 15];
    }
    out[7 + 2 * mdn] = '\0';
}
