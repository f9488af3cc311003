/* The receiver trawl's alert tests deliver to: Sentry's envelope endpoint, parsed as strictly as
 * Sentry's Relay would (a malformed envelope gets a 400 that says why), and a generic alert webhook
 * whose HMAC signature it checks. It remembers what it accepted, answers it at GET /received, and
 * misbehaves on request (429s, 500s, slowness) so retries and backoff can be tested.
 *
 * HTTP/1.1 on plain sockets, a thread per connection (tests/e2e/testsrv.c). The routes are listed
 * in usage_ below. It checks signatures with libcrypto directly, not with trawl's own code, so a
 * bug there cannot hide itself. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define DELAY_MS_MAX 600000LL
#define MODE_N_MAX   1000000LL

enum mode { MODE_OK, MODE_SLOW, MODE_429, MODE_500 };

static const char *const mode_names_[] = {"ok", "slow", "429", "500"};

/* What was received and how to misbehave, under mu. Test infrastructure, so a global; key_ and
 * secret_ are written once in main before the first thread starts. */
static struct {
    pthread_mutex_t mu;
    json_t *events;     /* event payloads, each with "_envelope" and "_project" added */
    json_t *hooks;      /* {"delivery": ..., "body": ...} */
    long long requests; /* POSTs to the envelope and hook routes, refused ones too */
    enum mode mode;
    long long left;     /* requests the mode still applies to; -1: until changed */
    long long delay_ms; /* MODE_SLOW */
    long long after;    /* requests still answered as in ok mode before the mode applies */
} rx_ = {.mu = PTHREAD_MUTEX_INITIALIZER};

static const char *key_;    /* --key: the sentry_key envelopes must carry; NULL: any */
static const char *secret_; /* --secret: the webhook's HMAC key; NULL: no signature check */

static void status_page(struct sb *b, int code)
{
    sb_printf(b, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head></html>\n", code,
              reason(code));
}

/* A JSON error {"detail": "..."} (as Relay answers) with code; also said on stderr, so a failing
 * test's log shows why a delivery was refused. */
__attribute__((format(printf, 5, 6))) static int
refuse_json(struct conn *c, const struct req *r, int code, const char *extra, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sentryrx: %s %s: %d %s\n", r->method, r->path, code, msg);
    char *m = text_dup_for_json(msg);
    json_t *j = json_pack("{s:s}", "detail", m);
    free(m);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        oom();
    int rc = respond(c, r, code, TYPE_JSON, extra, s, strlen(s));
    free(s);
    return rc;
}

static const char *header(const struct req *r, const char *name)
{
    for (int i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr[i].name, name) == 0)
            return r->hdr[i].value;
    return NULL;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Counts a delivery and applies the misbehaviour mode: 1 when it answered (429 or 500) and the
 * request must not be recorded, 0 to go on (after sleeping in slow mode), -1 when the client is
 * gone. */
static int misbehave(struct conn *c, const struct req *r)
{
    pthread_mutex_lock(&rx_.mu);
    rx_.requests++;
    enum mode m = rx_.mode;
    long long delay = rx_.delay_ms;
    if (rx_.after > 0) {
        rx_.after--;
        m = MODE_OK;
    } else if (m != MODE_OK && rx_.left > 0 && --rx_.left == 0)
        rx_.mode = MODE_OK;
    pthread_mutex_unlock(&rx_.mu);
    switch (m) {
    case MODE_OK:
        return 0;
    case MODE_SLOW:
        sleep_ms(delay);
        return 0;
    case MODE_429: {
        int rc = refuse_json(c, r, 429, "Retry-After: 1\r\n", "rate limited (mode 429)");
        return rc < 0 ? -1 : 1;
    }
    case MODE_500: {
        int rc = refuse_json(c, r, 500, NULL, "internal error (mode 500)");
        return rc < 0 ? -1 : 1;
    }
    }
    return 0;
}

/* ---- POST /api/<project>/envelope/ ---- */

/* The project id of an envelope path, or NULL when path is not one. */
static char *envelope_project(const char *path)
{
    static const char pre[] = "/api/", post[] = "/envelope/";
    if (strncmp(path, pre, sizeof pre - 1) != 0)
        return NULL;
    const char *p = path + sizeof pre - 1;
    size_t n = strspn(p, "0123456789");
    if (n == 0 || strcmp(p + n, post) != 0)
        return NULL;
    return strndup(p, n);
}

/* True when the X-Sentry-Auth value has a sentry_key=KEY pair with exactly key_. */
static bool auth_ok(const char *auth)
{
    if (!key_)
        return true;
    if (!auth || strncmp(auth, "Sentry ", 7) != 0)
        return false;
    for (const char *p = auth + 7; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, ",");
        while (n > 0 && p[n - 1] == ' ')
            n--;
        size_t kn = strlen(key_);
        if (n == 11 + kn && strncmp(p, "sentry_key=", 11) == 0 && strncmp(p + 11, key_, kn) == 0)
            return true;
        p += strcspn(p, ",");
    }
    return false;
}

static bool hex32(const char *s)
{
    if (!s || strlen(s) != 32)
        return false;
    for (; *s; s++)
        if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
            return false;
    return true;
}

/* What an envelope parsed into; reason says why it did not. */
struct envelope {
    json_t *head, *event;
    char reason[300];
};

/* Sets e->reason and returns -1. */
__attribute__((format(printf, 2, 3))) static int env_fail(struct envelope *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* The n bytes at s as a JSON object, or NULL with e->reason set (what names the line). */
static json_t *load_line(const char *s, size_t n, const char *what, struct envelope *e)
{
    json_error_t je;
    json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        env_fail(e, "%s is not json: %s (column %d)", what, je.text, je.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        env_fail(e, "%s is not a json object", what);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Parses an envelope as the envelope spec defines it: a header line, then items, each a header
 * line with type and length and then exactly length bytes of payload, followed by '\n' or the end
 * of the body. Exactly one item must be an event. 0, or -1 with e->reason set. */
static int envelope_parse(const char *b, size_t len, struct envelope *e)
{
    memset(e, 0, sizeof *e);
    if (len == 0)
        return env_fail(e, "empty envelope");
    const char *end = b + len, *nl = memchr(b, '\n', len);
    if (!nl)
        return env_fail(e, "envelope has no items (no newline after its header)");
    if (!(e->head = load_line(b, (size_t)(nl - b), "envelope header", e)))
        return -1;
    const char *id = json_string_value(json_object_get(e->head, "event_id"));
    if (!hex32(id))
        return env_fail(e, "envelope header event_id is not 32 lowercase hex digits");
    int item = 0;
    for (const char *p = nl + 1; p < end; item++) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return env_fail(e, "item %d: header has no newline after it", item);
        char what[32];
        snprintf(what, sizeof what, "item %d header", item);
        json_t *ih = load_line(p, (size_t)(nl - p), what, e);
        if (!ih)
            return -1;
        const char *type = json_string_value(json_object_get(ih, "type"));
        json_t *lj = json_object_get(ih, "length");
        bool ok = type && json_is_integer(lj) && json_integer_value(lj) >= 0;
        long long n = ok ? json_integer_value(lj) : 0;
        bool is_event = ok && strcmp(type, "event") == 0;
        json_decref(ih);
        if (!ok)
            return env_fail(e, "item %d header lacks type or length", item);
        p = nl + 1;
        if (n > end - p)
            return env_fail(e, "item %d payload has only %lld bytes, length says %lld", item,
                            (long long)(end - p), n);
        if (p + n < end && p[n] != '\n')
            return env_fail(e,
                            "item %d payload is not followed by a newline after its %lld bytes "
                            "(wrong length?)",
                            item, n);
        if (is_event) {
            if (e->event)
                return env_fail(e, "more than one event item");
            snprintf(what, sizeof what, "item %d event payload", item);
            if (!(e->event = load_line(p, (size_t)n, what, e)))
                return -1;
            const char *eid = json_string_value(json_object_get(e->event, "event_id"));
            if (eid && strcmp(eid, id) != 0)
                return env_fail(e, "event payload event_id %.40s is not the header's %s", eid, id);
        }
        p += n;
        if (p < end)
            p++; /* the newline after the payload */
    }
    if (!e->event)
        return env_fail(e, "envelope has no event item");
    return 0;
}

static int route_envelope(struct conn *c, struct req *r, char *project)
{
    int rc = misbehave(c, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    const char *auth = header(r, "x-sentry-auth");
    if (!auth_ok(auth))
        return refuse_json(c, r, 403, NULL, "X-Sentry-Auth %s sentry_key=%s",
                           auth ? "lacks" : "missing, want", key_);
    const char *enc = header(r, "content-encoding");
    if (enc && strcasecmp(enc, "identity") != 0)
        return refuse_json(c, r, 415, NULL, "content-encoding %s not supported", enc);
    struct envelope e;
    if (envelope_parse(r->body, (size_t)r->body_len, &e) < 0) {
        json_decref(e.head);
        json_decref(e.event);
        return refuse_json(c, r, 400, NULL, "%s", e.reason);
    }
    json_t *answer = json_pack("{s:O}", "id", json_object_get(e.head, "event_id"));
    /* json_object_set_new steals: the event takes the header and the project string */
    json_object_set_new(e.event, "_envelope", e.head);
    json_object_set_new(e.event, "_project", json_string(project));
    pthread_mutex_lock(&rx_.mu);
    json_array_append_new(rx_.events, e.event);
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r, answer);
}

/* ---- POST /hook ---- */

/* "sha256=" + lowercase hex of HMAC-SHA256(secret_, body). */
static void expected_signature(const char *body, size_t len, char out[72])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!HMAC(EVP_sha256(), secret_, (int)strlen(secret_), (const unsigned char *)body, len, md,
              &mdn))
        oom();
    strcpy(out, "sha256=");
    for (unsigned i = 0; i < mdn && i < 32; i++)
        snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static int route_hook(struct conn *c, struct req *r)
{
    int rc = misbehave(c, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (secret_) {
        const char *sig = header(r, "x-trawl-signature");
        char want[72];
        expected_signature(r->body, (size_t)r->body_len, want);
        if (!sig)
            return refuse_json(c, r, 401, NULL, "missing X-Trawl-Signature");
        if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0)
            return refuse_json(c, r, 401, NULL, "X-Trawl-Signature does not match the body");
    }
    json_error_t je;
    json_t *body = json_loadb(r->body, (size_t)r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return refuse_json(c, r, 400, NULL, "body is not json: %s", je.text);
    const char *delivery = header(r, "x-trawl-delivery");
    char *d = delivery ? text_dup_for_json(delivery) : NULL;
    /* "o" steals body */
    json_t *rec = json_pack("{s:s?,s:o}", "delivery", d, "body", body);
    free(d);
    pthread_mutex_lock(&rx_.mu);
    json_array_append_new(rx_.hooks, rec);
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r, json_pack("{s:b}", "ok", 1));
}

/* ---- POST /std-hook: Standard Webhooks ---- */

/* "v1," + base64 of HMAC-SHA256(secret_, id "." ts "." body), as the Standard Webhooks spec says
 * (the secret's bytes as given). */
static void standard_signature(const char *id, const char *ts, const char *body, size_t len,
                               char out[64])
{
    struct sb msg = {0};
    sb_printf(&msg, "%s.%s.", id, ts);
    sb_add(&msg, body, len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!HMAC(EVP_sha256(), secret_, (int)strlen(secret_), (const unsigned char *)msg.p, msg.len,
              md, &mdn))
        oom();
    sb_release(&msg);
    strcpy(out, "v1,");
    EVP_EncodeBlock((unsigned char *)out + 3, md, (int)mdn);
}

static int route_std_hook(struct conn *c, struct req *r)
{
    int rc = misbehave(c, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    const char *id = header(r, "webhook-id"), *ts = header(r, "webhook-timestamp");
    if (!id || !ts)
        return refuse_json(c, r, 400, NULL, "missing webhook-id or webhook-timestamp");
    long long t = strtoll(ts, NULL, 10);
    if (llabs(t - (long long)time(NULL)) > 300)
        return refuse_json(c, r, 400, NULL, "webhook-timestamp %s is not now", ts);
    if (secret_) {
        const char *sig = header(r, "webhook-signature");
        char want[64];
        standard_signature(id, ts, r->body, (size_t)r->body_len, want);
        if (!sig)
            return refuse_json(c, r, 401, NULL, "missing webhook-signature");
        if (strlen(sig) != strlen(want) || CRYPTO_memcmp(sig, want, strlen(want)) != 0)
            return refuse_json(c, r, 401, NULL, "webhook-signature does not match the body");
    }
    json_error_t je;
    json_t *body = json_loadb(r->body, (size_t)r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!body)
        return refuse_json(c, r, 400, NULL, "body is not json: %s", je.text);
    char *d = text_dup_for_json(id);
    /* "o" steals body */
    json_t *rec = json_pack("{s:s,s:o}", "delivery", d, "body", body);
    free(d);
    pthread_mutex_lock(&rx_.mu);
    json_array_append_new(rx_.hooks, rec);
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r, json_pack("{s:b}", "ok", 1));
}

/* ---- control ---- */

static int route_received(struct conn *c, struct req *r)
{
    pthread_mutex_lock(&rx_.mu);
    json_t *j = json_pack("{s:o,s:o,s:I}", "events", json_deep_copy(rx_.events), "hooks",
                          json_deep_copy(rx_.hooks), "requests", (json_int_t)rx_.requests);
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r, j);
}

static int route_clear(struct conn *c, struct req *r)
{
    pthread_mutex_lock(&rx_.mu);
    json_array_clear(rx_.events);
    json_array_clear(rx_.hooks);
    rx_.requests = 0;
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r, json_pack("{s:b}", "ok", 1));
}

/* *out = the integer parameter name, or def when absent; -1 after answering 400 when it is not a
 * decimal integer from lo to hi. */
static int query_num(struct conn *c, struct req *r, const char *name, long long def, long long lo,
                     long long hi, long long *out)
{
    char *v = query_dup(r->query, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    bool ok = *v && !*end && !errno && n >= lo && n <= hi;
    free(v);
    if (!ok) {
        refuse_json(c, r, 400, NULL, "bad query parameter %s: want an integer from %lld to %lld",
                    name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static int route_control(struct conn *c, struct req *r)
{
    char *mode = query_dup(r->query, "mode");
    int m = -1;
    for (int i = 0; mode && i < (int)(sizeof mode_names_ / sizeof mode_names_[0]); i++)
        if (strcmp(mode, mode_names_[i]) == 0)
            m = i;
    free(mode);
    if (m < 0)
        return refuse_json(c, r, 400, NULL, "bad query parameter mode: want ok, slow, 429 or 500");
    long long n, delay, after;
    /* 429 and 500 default to the next request only; slow lasts until changed */
    long long def_n = m == MODE_429 || m == MODE_500 ? 1 : -1;
    if (query_num(c, r, "n", def_n, 1, MODE_N_MAX, &n) < 0 ||
        query_num(c, r, "delay_ms", 1000, 0, DELAY_MS_MAX, &delay) < 0 ||
        query_num(c, r, "after", 0, 0, MODE_N_MAX, &after) < 0)
        return 0;
    pthread_mutex_lock(&rx_.mu);
    rx_.mode = (enum mode)m;
    rx_.left = m == MODE_OK ? -1 : n;
    rx_.delay_ms = delay;
    rx_.after = after;
    pthread_mutex_unlock(&rx_.mu);
    return respond_json(c, r,
                        json_pack("{s:s,s:I,s:I}", "mode", mode_names_[m], "n", (json_int_t)n,
                                  "delay_ms", (json_int_t)delay));
}

/* ---- dispatch ---- */

static int dispatch(struct conn *c, struct req *r)
{
    bool post = strcmp(r->method, "POST") == 0;
    bool get = strcmp(r->method, "GET") == 0 || r->head;
    char *project = envelope_project(r->path);
    if (project) {
        int rc = post ? route_envelope(c, r, project)
                      : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
        free(project);
        return rc;
    }
    if (strcmp(r->path, "/hook") == 0)
        return post ? route_hook(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    if (strcmp(r->path, "/std-hook") == 0)
        return post ? route_std_hook(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    if (strcmp(r->path, "/received") == 0)
        return get ? route_received(c, r)
                   : refuse_json(c, r, 405, "Allow: GET, HEAD\r\n", "method not allowed");
    if (strcmp(r->path, "/control") == 0)
        return post ? route_control(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    if (strcmp(r->path, "/clear") == 0)
        return post ? route_clear(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    return refuse_json(c, r, 404, NULL, "no such route");
}

static const struct testsrv sentryrx_ = {
    .server = "trawl-sentryrx",
    .dispatch = dispatch,
    .status_page = status_page,
    .expect_continue = true,
    .keep_body = true,
};

static const char usage_[] =
    "usage: sentryrx [--port N] [--port-file PATH] [--key PUBLIC_KEY] [--secret WEBHOOK_SECRET]\n"
    "                [--host ADDR]\n"
    "  --port N          port to listen on (default 0: a free one; printed on stdout)\n"
    "  --port-file PATH  write the port there (through PATH.tmp) once listening (or --portfile)\n"
    "  --key KEY         envelopes must carry X-Sentry-Auth: ... sentry_key=KEY (else 403)\n"
    "  --secret S        hooks must carry X-Trawl-Signature: sha256=HMAC-SHA256(S, body) (else\n"
    "                    401)\n"
    "  --host ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
    "routes:\n"
    "  POST /api/<digits>/envelope/  a Sentry envelope: 200 {\"id\":event_id}, 400 {\"detail\":why}\n"
    "                                when malformed; the event payload is kept\n"
    "  POST /hook                    an alert webhook: the JSON body and X-Trawl-Delivery are kept\n"
    "  POST /std-hook                a Standard Webhooks delivery: webhook-id, webhook-timestamp\n"
    "                                (within 5 minutes of now) and, with --secret, webhook-signature\n"
    "                                (v1,base64 HMAC-SHA256(S, id.timestamp.body)) checked; the\n"
    "                                body is kept with the webhook-id as its delivery\n"
    "  GET  /received                {\"events\":[payload + \"_envelope\" + \"_project\"...],\n"
    "                                 \"hooks\":[{\"delivery\",\"body\"}...], \"requests\":N}\n"
    "                                (N: POSTs to the two routes above, refused ones too, but not\n"
    "                                bodies past 8 MiB, which get 413 before any route)\n"
    "  POST /control?mode=ok|slow|429|500&n=K&delay_ms=D&after=A\n"
    "                                429/500: answer the next K (default 1) deliveries with that\n"
    "                                status (429 with Retry-After: 1), unrecorded, then ok again;\n"
    "                                slow: sleep D ms (default 1000) before each of the next K\n"
    "                                (default: all) deliveries; ok: behave; the mode starts after\n"
    "                                the next A (default 0) deliveries\n"
    "  POST /clear                   forget everything received and the request count\n"
    "SIGTERM or SIGINT ends it with status 0\n";

static int bad_args(const char *what, const char *arg)
{
    fprintf(stderr, "sentryrx: %s: %s\n%s", what, arg, usage_);
    return 2;
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *portfile = NULL, *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_, stdout);
            return 0;
        }
        bool known = strcmp(a, "--port") == 0 || strcmp(a, "--port-file") == 0 ||
                     strcmp(a, "--portfile") == 0 || strcmp(a, "--key") == 0 ||
                     strcmp(a, "--secret") == 0 || strcmp(a, "--host") == 0;
        if (!known)
            return bad_args("unknown option", a);
        if (i + 1 >= argc)
            return bad_args("missing value for", a);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (!*v || *end || port < 0 || port > 65535)
                return bad_args("bad port (want 0 to 65535)", v);
        } else if (strcmp(a, "--key") == 0) {
            key_ = v;
        } else if (strcmp(a, "--secret") == 0) {
            secret_ = v;
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else {
            portfile = v;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return bad_args("bad host (want an IPv4 address)", host);
    rx_.events = json_array();
    rx_.hooks = json_array();
    rx_.left = -1;

    int bound;
    int lfd = testsrv_listen(&sa, host, &bound);
    if (lfd < 0)
        return 1;
    return testsrv_run(&sentryrx_, lfd, bound, portfile);
}
