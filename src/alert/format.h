/* What an alert looks like on the wire: a Sentry DSN parsed into the envelope endpoint and auth
 * header, an alert turned into a Sentry envelope holding one event, and the JSON body and HMAC
 * signature of the generic alert webhook. No I/O here; the sender lives elsewhere.
 *
 * Ownership: parameters are borrowed (jansson values are never stolen or changed); every char *
 * returned belongs to the caller, who free()s it.
 *
 * An alert is a jansson object:
 *   {"id": "<uuid text>", "at": <ms since epoch>, "kind": "job_failed", "level": "error",
 *    "message": "text", "tags": {"job_id": "...", ...}, "context": {"job": {...}},
 *    "fingerprint": ["crawl-failed", "fetching"], "suppressed": 0}
 * id, at, kind, level and message are required; tags, context, fingerprint and suppressed may be
 * left out.
 *
 * The webhook: POST the body of alert_webhook_body() with Content-Type: application/json and
 *   X-Trawl-Delivery: <alert id>              stable across retries, so receivers can de-duplicate
 *   X-Trawl-Signature: sha256=<64 hex>        alert_sign(secret, body): HMAC-SHA256 of the exact
 *                                             body bytes, keyed by the shared secret */
#ifndef TRAWL_ALERT_FORMAT_H
#define TRAWL_ALERT_FORMAT_H

#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

#define SENTRY_EVENT_MAX    (1024 * 1024) /* Sentry drops events larger than 1 MB uncompressed */
#define SENTRY_TAG_MAX      200           /* characters in a tag value; Sentry's limit */
#define ALERT_SIGNATURE_LEN 72            /* "sha256=" + 64 hex digits + NUL, rounded up */

/* A parsed DSN: SCHEME://PUBLIC_KEY[:SECRET]@HOST[:PORT][/PATH]/PROJECT_ID. */
struct sentry_dsn {
    char scheme[8]; /* "http" or "https", lowercase */
    char public_key[128];
    char host[256];          /* host[:port] as written, IPv6 in brackets */
    char path[512];          /* prefix path, "" or "/foo" (no trailing slash) */
    char project_id[64];     /* digits only */
    char envelope_url[1024]; /* SCHEME://HOST[:PORT][/PATH]/api/PROJECT_ID/envelope/ */
    char dsn[1024];          /* the DSN as given */
};

/* Parses dsn into *out (zeroed first). 0, or TRAWL_EINVAL with a message that names what is
 * wrong: no or an unsupported scheme, no public key, no or a bad host, a bad port, no project id or
 * one that is not all digits, a query or fragment, spaces or control characters, too long. */
int sentry_dsn_parse(const char *dsn, struct sentry_dsn *out, struct err *e);

/* The value of the X-Sentry-Auth header for d:
 * "Sentry sentry_version=7, sentry_client=trawl/<version>, sentry_key=<public key>". The secret
 * of an old-style DSN is not sent: Sentry no longer needs it for ingestion. */
char *sentry_auth_header(const struct sentry_dsn *d);

/* The body of a POST to d->envelope_url for alert: three lines, each ending in '\n':
 *   {"event_id":"<32 hex>","dsn":"<d->dsn>","sent_at":"<RFC 3339 UTC now>"}
 *   {"type":"event","length":<bytes of the payload>,"content_type":"application/json"}
 *   <the event, compact JSON>
 * event_id is the alert id without dashes, lowercase. The event has event_id, timestamp (the
 * alert's "at", RFC 3339 UTC with milliseconds), platform "c", level, logger "trawl", server_name
 * (left out when NULL), release "trawl@<version>", message.formatted, tags (the alert's, plus
 * alert_kind; values cut to SENTRY_TAG_MAX characters, newlines made spaces), contexts (the alert's
 * context; a value that is not an object becomes {"value": x}), fingerprint, and extra.suppressed
 * when the alert's suppressed > 0. An event past SENTRY_EVENT_MAX is sent without its contexts,
 * with extra.contexts_dropped_bytes saying how large it was.
 * *len (not NULL) gets the body's length. NULL on error: TRAWL_EINVAL for an alert that is not of
 * the shape above (the message names the field), TRAWL_ETOOBIG when even the event without
 * contexts is too large. */
char *sentry_envelope(const struct sentry_dsn *d, const json_t *alert, const char *server_name,
                      size_t *len, struct err *e);

/* The webhook body: the alert itself as compact JSON. *len (may be NULL) gets its length. NULL only
 * when the alert cannot be encoded (not an object, or a real that is NaN or infinite). */
char *alert_webhook_body(const json_t *alert, size_t *len);

/* out = "sha256=" and the 64 lowercase hex digits of HMAC-SHA256(secret, body[0..len)), the value
 * of the X-Trawl-Signature header. */
void alert_sign(const char *secret, const void *body, size_t len, char out[ALERT_SIGNATURE_LEN]);

#endif
