/* What a finished hop says, as a fetch result: libcurl's error codes sorted into the fetcher's
 * kinds of failure (and whether trying again can help), and the response headers as JSON. */
#include "fetch/fetch_int.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fetch_set_error(struct xfer *x, enum fetch_kind k, bool retryable, const char *fmt, ...)
{
    x->res->kind = k;
    x->res->retryable = retryable;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->res->error, sizeof x->res->error, fmt, ap);
    va_end(ap);
}

void fetch_classify_curl(struct xfer *x, CURLcode cc)
{
    const char *detail = x->curl_err[0] ? x->curl_err : curl_easy_strerror(cc);
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        fetch_set_error(x, FETCH_DNS, true, "dns: %s", detail);
        break;
    case CURLE_COULDNT_CONNECT:
        if (x->ssrf_blocked)
            fetch_set_error(x, FETCH_SSRF, false, "ssrf: blocked %s: %s%s", x->url, x->ssrf_why,
                            x->res->redirects ? " (reached by a redirect)" : "");
        else
            fetch_set_error(x, FETCH_CONNECT, true, "connect: %s", detail);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        fetch_set_error(x, FETCH_TIMEOUT, true, "timeout: %s", detail);
        break;
    case CURLE_ABORTED_BY_CALLBACK:
        if (x->cancelled)
            fetch_set_error(x, FETCH_CANCELLED, false, "cancelled");
        else
            fetch_set_error(x, FETCH_TIMEOUT, true,
                            "timeout: no response within %lld ms (first byte)",
                            (long long)x->f->o.first_byte_timeout_ms);
        break;
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (x->not_html) {
            char *ct = NULL;
            curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
            fetch_set_error(x, FETCH_NOT_HTML, false, "not_html: %s is %s, not HTML", x->url,
                            ct ? ct : "of no declared type");
        } else if (x->sink_failed) {
            fetch_set_error(x, FETCH_PROTOCOL, true, "writing the body failed after %lld bytes",
                            (long long)x->sunk);
        } else if (x->too_big || cc == CURLE_FILESIZE_EXCEEDED)
            fetch_set_error(x, FETCH_TOO_LARGE, false,
                            "too_large: the body is over %lld bytes (counted after decompression)",
                            x->req && x->req->sink && x->req->sink_max > 0
                                ? (long long)x->req->sink_max
                                : (long long)x->f->o.max_body);
        else
            fetch_set_error(x, FETCH_PROTOCOL, true, "protocol: %s", detail);
        break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        fetch_set_error(x, FETCH_RESET, true, "reset: %s", detail);
        break;
    case CURLE_SSL_CONNECT_ERROR:
        fetch_set_error(x, FETCH_TLS, true, "tls: %s", detail);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        fetch_set_error(x, FETCH_TLS, false, "tls: %s", detail);
        break;
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        fetch_set_error(x, FETCH_PROTOCOL, false, "protocol: %s", detail);
        break;
    case CURLE_URL_MALFORMAT:
        fetch_set_error(x, FETCH_INVALID_URL, false, "invalid url: %s", detail);
        break;
    default:
        fetch_set_error(x, FETCH_PROTOCOL, true, "fetch failed: %s", detail);
        break;
    }
}

char *fetch_headers_json(const struct buf *raw)
{
    json_t *o = json_object();
    const char *p = raw->data, *end = raw->data + raw->len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon && colon > p) {
            char name[128];
            size_t nl =
                (size_t)(colon - p) < sizeof name - 1 ? (size_t)(colon - p) : sizeof name - 1;
            for (size_t i = 0; i < nl; i++)
                name[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
            name[nl] = 0;
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = le;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            /* header values are bytes; keep what is valid UTF-8 */
            json_t *val = json_stringn(v, (size_t)(ve - v));
            if (!val)
                val = json_string("(not UTF-8)");
            json_t *old = json_object_get(o, name);
            if (old && json_is_string(old)) {
                char *joined = NULL;
                if (asprintf(&joined, "%s, %s", json_string_value(old), json_string_value(val)) >
                    0) {
                    json_decref(val);
                    val = json_string(joined);
                    free(joined);
                }
            }
            bool printable = nl > 0;
            for (size_t i = 0; i < nl; i++)
                printable = printable && name[i] > 0x20 && name[i] < 0x7f;
            if (val && printable)
                json_object_set_new(o, name, val);
            else
                json_decref(val);
        }
        p = eol ? eol + 1 : end;
    }
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
