/* Webhook deliveries: signed as Standard Webhooks, sent through the fetcher, each attempt recorded
 * as a webhook_calls row before it goes out and given its answer after. */
#include "handlers/webhook.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "fetch/url.h"
#include "store/webhook.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX         256
#define DEFAULT_TIMEOUT_MS 30000

void webhook_sign(const char *secret, const char *id, int64_t ts, const void *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_MAX])
{
    unsigned char key[SECRET_MAX + 4];
    int klen;
    if (strncmp(secret, "whsec_", 6) == 0 && strlen(secret + 6) <= SECRET_MAX) {
        klen = EVP_DecodeBlock(key, (const unsigned char *)secret + 6, (int)strlen(secret + 6));
        /* EVP_DecodeBlock counts the padding's zero bytes in */
        size_t sl = strlen(secret);
        for (size_t i = sl; klen > 0 && i > 6 && secret[i - 1] == '='; i--)
            klen--;
        if (klen < 0)
            klen = 0;
    } else {
        klen = (int)(strlen(secret) < SECRET_MAX ? strlen(secret) : SECRET_MAX);
        memcpy(key, secret, (size_t)klen);
    }
    char prefix[160];
    int pl = snprintf(prefix, sizeof prefix, "%s.%lld.", id, (long long)ts);
    /* what is signed is "id.timestamp.body", in one piece for the one-shot HMAC */
    unsigned char *msg = xmalloc((size_t)pl + len + 1);
    memcpy(msg, prefix, (size_t)pl);
    if (len)
        memcpy(msg + pl, body, len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!HMAC(EVP_sha256(), key, klen, msg, (size_t)pl + len, md, &mdn) || mdn != 32) {
        /* only when libcrypto cannot allocate: like xmalloc, give up loudly */
        fprintf(stderr, "trawl: HMAC-SHA256 failed\n");
        abort();
    }
    free(msg);
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, md, (int)mdn);
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    for (unsigned i = 0; i < n && i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = 0;
}

static int begin_fn(struct store *s, void *arg, struct err *e)
{
    struct webhook_call *c = arg;
    return store_webhook_begin(s, c, c->created_at, &c->id, e);
}

struct end_args {
    struct webhook_call *c;
    const struct webhook_send *w;
};

static int end_fn(struct store *s, void *arg, struct err *e)
{
    struct end_args *a = arg;
    int rc = store_webhook_end(s, a->c, a->c->completed_at, e);
    if (!rc && a->w->then && a->c->status == WEBHOOK_SUCCESS)
        rc = a->w->then(s, a->w->then_arg, e);
    return rc;
}

/* What an answer means for the delivery. */
static void judge(const struct fetch_result *r, struct webhook_result *out)
{
    int st = r->http_status;
    if (r->kind == FETCH_OK && st >= 200 && st < 300) {
        out->outcome = WEBHOOK_DELIVERED;
        return;
    }
    if (r->kind == FETCH_DEFERRED) {
        out->outcome = WEBHOOK_DEFER;
        out->retry_at_ms = r->defer_until_ms;
    } else if (r->kind == FETCH_HTTP_STATUS && (st == 429 || st == 503) && r->retry_after_ms > 0) {
        out->outcome = WEBHOOK_DEFER;
        out->retry_at_ms = clock_now_ms(&clock_real) + r->retry_after_ms;
    } else if (r->kind == FETCH_HTTP_STATUS) {
        bool again = st >= 500 || st == 408 || st == 409 || st == 425 || st == 429;
        out->outcome = again ? WEBHOOK_RETRY : WEBHOOK_REFUSED;
    } else {
        out->outcome = r->retryable ? WEBHOOK_RETRY : WEBHOOK_REFUSED;
    }
    snprintf(out->error, sizeof out->error, "%s", r->error);
}

int webhook_deliver(struct job_ctx *ctx, struct crawler *cr, const struct webhook_send *w,
                    struct webhook_result *out)
{
    memset(out, 0, sizeof *out);
    struct engine *eng = job_ctx_engine(ctx);
    const struct job *job = job_ctx_job(ctx);
    struct err e;
    err_clear(&e);
    char origin[300];
    if (url_origin(w->url, origin, sizeof origin, &e) != 0) {
        out->outcome = WEBHOOK_REFUSED;
        snprintf(out->error, sizeof out->error, "invalid webhook url: %s", e.msg);
        return 0;
    }
    bool probe = false;
    int64_t retry_at = 0;
    if (cr->breakers && !breaker_allow(cr->breakers, origin, &probe, &retry_at)) {
        out->outcome = WEBHOOK_DEFER;
        out->retry_at_ms = retry_at;
        snprintf(out->error, sizeof out->error, "deferred: the circuit breaker for %s is open",
                 origin);
        return 0;
    }
    struct webhook_call c = {
        .job_id = (char *)(w->record_as ? w->record_as : job->id),
        .job_type = (char *)job->type,
        .url = (char *)w->url,
        .delivery_id = (char *)w->delivery_id,
        .request_bytes = (int64_t)w->len,
        .created_at = engine_now(eng),
    };
    sha256_hex(w->body, w->len, c.request_sha256);
    if (w->len <= WEBHOOK_BODY_KEEP_MAX &&
        zframe_compress(w->body, w->len, 1, &c.request_body, &c.request_body_len, &e) != 0)
        c.request_body = NULL;
    int rc = engine_exec(eng, begin_fn, &c, &e);
    free(c.request_body);
    c.request_body = NULL;
    if (rc) {
        if (probe)
            breaker_release(cr->breakers, origin);
        log_warn("job %s: webhook %s: recording the call: %s", job->id, w->delivery_id, e.msg);
        return rc;
    }
    int64_t ts = clock_now_ms(&clock_real) / 1000;
    char h_id[300], h_ts[64], h_sig[WEBHOOK_SIGNATURE_MAX + 32];
    snprintf(h_id, sizeof h_id, "webhook-id: %s", w->delivery_id);
    snprintf(h_ts, sizeof h_ts, "webhook-timestamp: %lld", (long long)ts);
    const char *headers[5] = {"Content-Type: application/json", h_id, h_ts, NULL, NULL};
    if (w->secret) {
        char sig[WEBHOOK_SIGNATURE_MAX];
        webhook_sign(w->secret, w->delivery_id, ts, w->body, w->len, sig);
        snprintf(h_sig, sizeof h_sig, "webhook-signature: %s", sig);
        headers[3] = h_sig;
    }
    struct fetch_req req = {
        .url = w->url,
        .headers = headers,
        .timeout_ms = w->timeout_ms > 0 ? w->timeout_ms : DEFAULT_TIMEOUT_MS,
        .cancel = job_ctx_cancel_flag(ctx),
        .no_defer = false,
        .body = w->body,
        .body_len = w->len,
    };
    struct fetch_result res;
    fetch_run(cr->fetcher, &req, &res);
    judge(&res, out);
    out->http_status = res.http_status;
    if (cr->breakers) {
        if (res.kind == FETCH_DEFERRED || res.kind == FETCH_CANCELLED) {
            if (probe)
                breaker_release(cr->breakers, origin);
        } else if (crawl_host_trouble(&res)) {
            breaker_failure(cr->breakers, origin);
        } else {
            breaker_success(cr->breakers, origin);
        }
    }
    bool last = job->attempt >= job->max_attempts;
    c.status = out->outcome == WEBHOOK_DELIVERED ? WEBHOOK_SUCCESS
               : out->outcome == WEBHOOK_REFUSED || (out->outcome == WEBHOOK_RETRY && last)
                   ? WEBHOOK_FAILED
                   : WEBHOOK_RETRYING;
    c.response_status = res.http_status;
    c.response_body = res.body.len ? res.body.data : NULL;
    if (c.response_body && res.body.len > WEBHOOK_RESPONSE_KEEP_MAX)
        c.response_body[WEBHOOK_RESPONSE_KEEP_MAX] = 0;
    c.response_time_ms = res.elapsed_ms;
    c.next_retry_at = out->outcome == WEBHOOK_DEFER ? out->retry_at_ms : 0;
    c.error = out->error[0] ? out->error : NULL;
    c.completed_at = engine_now(eng);
    struct end_args ea = {&c, w};
    if (engine_exec(eng, end_fn, &ea, &e) != 0) {
        log_warn("job %s: webhook %s: recording the answer: %s", job->id, w->delivery_id, e.msg);
        if (out->outcome == WEBHOOK_DELIVERED) {
            /* delivered but not recorded: sent again with the same webhook-id, which the
             * receiver de-duplicates */
            out->outcome = WEBHOOK_RETRY;
            snprintf(out->error, sizeof out->error, "store: %s", e.msg);
        }
    }
    fetch_result_release(&res);
    return 0;
}
