/* Webhook deliveries made by jobs, as the Standard Webhooks spec has them: a POST of a JSON body
 * with the headers webhook-id (stable for one delivery across every retry, so a receiver can
 * de-duplicate), webhook-timestamp (seconds since the epoch) and webhook-signature ("v1," and the
 * base64 HMAC-SHA256 of "id.timestamp.body"), sent through the fetcher and its guards (SSRF, size
 * and time caps) and the receiver's circuit breaker, and tracked: each delivery is a
 * webhook_calls row (store/webhook.h) updated at each attempt with the receiver's answer. */
#ifndef TRAWL_HANDLERS_WEBHOOK_H
#define TRAWL_HANDLERS_WEBHOOK_H

#include "engine/worker.h"
#include "handlers/crawl.h"

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_SIGNATURE_MAX 64 /* "v1," and 44 base64 characters, with room */

/* One delivery (borrowed). */
struct webhook_send {
    const char *url;
    const char *secret;      /* NULL: not signed */
    const char *delivery_id; /* the webhook-id */
    const char *body;        /* JSON */
    size_t len;
    int64_t timeout_ms; /* 0: 30 s */
    /* The id the call is recorded under (webhook_calls.job_id); NULL: the running job's. An
     * import's calls are its own (its id), whichever of its jobs made them. */
    const char *record_as;
    /* NULL, or a write that lands in the transaction recording a delivered answer (the records
     * the delivery carried marked delivered), so the two are durable together. It may run more
     * than once; its failure makes the delivery WEBHOOK_RETRY (sent again, same webhook-id). */
    int (*then)(struct store *s, void *arg, struct err *e);
    void *then_arg;
};

enum webhook_outcome {
    WEBHOOK_DELIVERED, /* a 2xx */
    WEBHOOK_RETRY,     /* no answer, a 5xx, 408, 409, 425: may work later */
    WEBHOOK_DEFER,   /* the receiver asks to wait (429 or 503 with Retry-After, an open breaker) */
    WEBHOOK_REFUSED, /* another 4xx, a redirect, a refused address: trying again will not help */
};

struct webhook_result {
    enum webhook_outcome outcome;
    int http_status;     /* 0: no answer */
    int64_t retry_at_ms; /* WEBHOOK_DEFER: when to try again (ms since epoch) */
    char error[700];     /* "" when delivered */
};

/* The webhook-signature value for id, timestamp ts and body under secret: the secret's bytes as
 * given, or, for a secret "whsec_<base64>", the bytes the base64 decodes to. */
void webhook_sign(const char *secret, const char *id, int64_t ts, const void *body, size_t len,
                  char out[WEBHOOK_SIGNATURE_MAX]);

/* Deliver w once for the running job of ctx, through cr's fetcher and breakers, and record the
 * attempt as a webhook_calls row of the job. Returns 0 when the outcome is known (out says which;
 * a failure to record the call is then a WEBHOOK_RETRY), a negative code when it never started. */
int webhook_deliver(struct job_ctx *ctx, struct crawler *cr, const struct webhook_send *w,
                    struct webhook_result *out);

#endif
