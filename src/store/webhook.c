/* The memory of webhook calls, and the wrappers of the store's webhooks domain. */
#include "store/webhook.h"

#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"pending", "success", "retrying", "failed"};

const char *webhook_call_status_name(enum webhook_call_status s)
{
    return (unsigned)s < 4 ? status_names[s] : "?";
}

int webhook_call_status_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, status_names[i]) == 0)
            return i;
    return -1;
}

void webhook_call_release(struct webhook_call *c)
{
    if (!c)
        return;
    free(c->job_id);
    free(c->job_type);
    free(c->url);
    free(c->delivery_id);
    free(c->request_body);
    free(c->response_body);
    free(c->error);
    memset(c, 0, sizeof *c);
}

void webhook_call_array_free(struct webhook_call *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++)
        webhook_call_release(&c[i]);
    free(c);
}

/* ---- wrappers ---- */

int store_webhook_begin(struct store *s, const struct webhook_call *c, int64_t now, int64_t *id,
                        struct err *e)
{
    STORE_WRAP(s, s->webhooks, "webhooks", s->webhooks->begin(s, c, now, id, e));
}

int store_webhook_end(struct store *s, const struct webhook_call *c, int64_t now, struct err *e)
{
    STORE_WRAP(s, s->webhooks, "webhooks", s->webhooks->end(s, c, now, e));
}

int store_webhook_list(struct store *s, const char *job_id, int status, int64_t after_id,
                       size_t limit, struct webhook_call **out, size_t *n, struct err *e)
{
    STORE_WRAP(s, s->webhooks, "webhooks",
               s->webhooks->list(s, job_id, status, after_id, limit, out, n, e));
}

int store_webhook_get(struct store *s, int64_t id, struct webhook_call *out, struct err *e)
{
    STORE_WRAP(s, s->webhooks, "webhooks", s->webhooks->get(s, id, out, e));
}
