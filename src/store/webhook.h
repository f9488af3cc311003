/* Webhook calls in the store: one row per delivery trawl makes to a receiver (by its stable
 * delivery id, the webhook-id header), updated at each attempt with the answer, so every call
 * can be listed with its status, its receiver's answer and how often it was tried. */
#ifndef TRAWL_STORE_WEBHOOK_H
#define TRAWL_STORE_WEBHOOK_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_BODY_KEEP_MAX     (1024 * 1024) /* bodies up to this size are kept (compressed) */
#define WEBHOOK_RESPONSE_KEEP_MAX 4096          /* of a receiver's answer, this much is kept */

enum webhook_call_status { WEBHOOK_PENDING, WEBHOOK_SUCCESS, WEBHOOK_RETRYING, WEBHOOK_FAILED };

/* "pending", "success", "retrying", "failed"; parse gives -1 for another word. */
const char *webhook_call_status_name(enum webhook_call_status s);
int webhook_call_status_parse(const char *s);

/* Strings and the body are owned by the call (webhook_call_release). */
struct webhook_call {
    int64_t id;
    char *job_id, *job_type, *url, *delivery_id;
    char request_sha256[65]; /* lowercase hex */
    int64_t request_bytes;
    void *request_body; /* a zstd frame of the body as sent; NULL when it was too big to keep */
    size_t request_body_len;
    int response_status; /* 0: no answer */
    char *response_body; /* capped at WEBHOOK_RESPONSE_KEEP_MAX bytes; NULL: none */
    int64_t response_time_ms;
    enum webhook_call_status status;
    int retry_count;       /* attempts before the last one */
    int64_t next_retry_at; /* ms since epoch, 0: none known */
    int64_t created_at, completed_at;
    char *error; /* NULL: none */
};

void webhook_call_release(struct webhook_call *c);
void webhook_call_array_free(struct webhook_call *c, size_t n);

#define STORE_WEBHOOK_VERSION 1
struct store_webhook_ops {
    int version; /* STORE_WEBHOOK_VERSION */
    int (*begin)(struct store *s, const struct webhook_call *c, int64_t now, int64_t *id,
                 struct err *e);
    int (*end)(struct store *s, const struct webhook_call *c, int64_t now, struct err *e);
    int (*list)(struct store *s, const char *job_id, int status, int64_t after_id, size_t limit,
                struct webhook_call **out, size_t *n, struct err *e);
    int (*get)(struct store *s, int64_t id, struct webhook_call *out, struct err *e);
};

/* An attempt at delivery c->delivery_id of job c->job_id starts (write): a new row, pending, from
 * c's job_id, job_type, url, delivery_id and request fields; or, when the delivery was tried
 * before, its row again pending with one more retry_count. *id gets the row's id. */
int store_webhook_begin(struct store *s, const struct webhook_call *c, int64_t now, int64_t *id,
                        struct err *e);
/* The attempt on row c->id ended (write): its status, response_status, response_body,
 * response_time_ms, next_retry_at and error (completed_at is now when the status is success or
 * failed). TRAWL_ENOTFOUND when there is no such row. */
int store_webhook_end(struct store *s, const struct webhook_call *c, int64_t now, struct err *e);
/* The calls of job job_id, by id after after_id, only those of status (-1: any); the bodies are
 * not read. Returns the number listed (read). */
int store_webhook_list(struct store *s, const char *job_id, int status, int64_t after_id,
                       size_t limit, struct webhook_call **out, size_t *n, struct err *e);
/* The call of row id, with its request body when it was kept (to deliver it again).
 * TRAWL_ENOTFOUND when there is none. Read. */
int store_webhook_get(struct store *s, int64_t id, struct webhook_call *out, struct err *e);

#endif
