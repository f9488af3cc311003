/* Webhook calls over HTTP: the calls recorded for a job (a session's sync, an import), and
 * sending one of an import's calls again (a webhook_redeliver job, handlers/import.h). */
#include "api/api_int.h"

#include "base/utf8.h"
#include "engine/spec_json.h"
#include "store/import.h"
#include "store/scrape.h"
#include "store/webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* handlers/import.h's type name; the API does not include handlers */
#define REDELIVER_TYPE "webhook_redeliver"

static json_t *call_json(const struct webhook_call *c)
{
    /* a receiver's answer is bytes: what is not UTF-8 is shown replaced, not dropped */
    char *answer = c->response_body && !utf8_valid(c->response_body, strlen(c->response_body))
                       ? utf8_sanitize(c->response_body, strlen(c->response_body), NULL)
                       : NULL;
    json_t *o = json_pack(
        "{s:I, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:I, s:s*, s:s*, s:o, s:o}", "id",
        (json_int_t)c->id, "job_id", c->job_id, "delivery_id", c->delivery_id, "webhook_url",
        c->url, "status", webhook_call_status_name(c->status), "request_bytes",
        (json_int_t)c->request_bytes, "request_sha256", c->request_sha256, "retry_count",
        c->retry_count, "response_time_ms", (json_int_t)c->response_time_ms, "response_body",
        answer ? answer : c->response_body, "error_message", c->error, "created_at",
        api_time(c->created_at), "completed_at", api_time(c->completed_at));
    free(answer);
    if (!o) /* jansson refused a string: say at least which call and how it stands */
        return json_pack("{s:I, s:s}", "id", (json_int_t)c->id, "status",
                         webhook_call_status_name(c->status));
    json_object_set_new(o, "response_status",
                        c->response_status ? json_integer(c->response_status) : json_null());
    json_object_set_new(o, "next_retry_at", api_time(c->next_retry_at));
    return o;
}

bool api_webhook_query(struct req *r, struct api_call_query *q)
{
    if (!api_query_int(r, "limit", 1, 1000, 100, &q->limit))
        return false;
    const char *want = api_query(r, "status");
    q->status = want ? webhook_call_status_parse(want) : -1;
    if (want && q->status < 0) {
        api_reply_error(
            r, 400, "unknown status \"%s\" (expected pending, success, retrying or failed)", want);
        return false;
    }
    const char *cursor = api_query(r, "cursor");
    char *end = NULL;
    q->after = cursor ? strtoll(cursor, &end, 10) : 0;
    if (cursor && (!*cursor || *end || q->after < 0)) {
        api_reply_error(r, 400, "cursor must be a call id, as nextCursor gives");
        return false;
    }
    return true;
}

enum MHD_Result api_webhook_calls(struct req *r, const struct api_call_query *q, const char *job_id)
{
    struct webhook_call *calls = NULL;
    size_t n = 0;
    struct err e;
    err_clear(&e);
    if (job_id && job_id[0] &&
        store_webhook_list(engine_store(r->api->deps.eng), job_id, q->status, q->after,
                           (size_t)q->limit, &calls, &n, &e) < 0) {
        webhook_call_array_free(calls, n);
        return api_reply_err(r, &e);
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, call_json(&calls[i]));
    json_t *body = api_ok();
    json_object_set_new(body, "webhook_calls", arr);
    char next[32];
    snprintf(next, sizeof next, "%lld", n ? (long long)calls[n - 1].id : 0LL);
    json_object_set_new(body, "nextCursor",
                        n == (size_t)q->limit ? json_string(next) : json_null());
    webhook_call_array_free(calls, n);
    return api_reply(r, 200, body);
}

enum MHD_Result api_sessions_webhook_calls(struct req *r)
{
    struct api_call_query q;
    if (!api_webhook_query(r, &q))
        return MHD_YES;
    struct scrape_session ss;
    if (!api_own_session(r, &ss))
        return MHD_YES;
    enum MHD_Result ret = api_webhook_calls(r, &q, ss.sync_job_id);
    scrape_session_release(&ss);
    return ret;
}

/* POST /v1/webhook-calls/{id}/redeliver: the call's body sent again, with its webhook-id, by a
 * webhook_redeliver job. Only an import's calls (their job_id is the import's id) can be. */
enum MHD_Result api_webhook_redeliver(struct req *r)
{
    char *end = NULL;
    long long id = strtoll(r->params[0], &end, 10);
    if (*end || id <= 0)
        return api_reply_error(r, 404, "webhook call %s not found", r->params[0]);
    struct store *s = engine_store(r->api->deps.eng);
    struct webhook_call c;
    struct err e;
    err_clear(&e);
    int rc = store_webhook_get(s, id, &c, &e);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404, "webhook call %lld not found", id);
    if (rc)
        return api_reply_err(r, &e);
    struct import im;
    rc = uuid_valid(c.job_id) ? store_import_get(s, r->workspace, c.job_id, false, &im, &e)
                              : TRAWL_ENOTFOUND;
    bool kept = c.request_body != NULL;
    webhook_call_release(&c);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(
            r, 404, "webhook call %lld not found among this workspace's imports' calls", id);
    if (rc)
        return api_reply_err(r, &e);
    import_release(&im);
    if (!kept)
        return api_reply_error(r, 409,
                               "webhook call %lld's body was too large to keep; it cannot be sent "
                               "again (retry the import's failed calls instead)",
                               id);
    char args[64];
    snprintf(args, sizeof args, "{\"call_id\":%lld}", id);
    struct job_spec spec = {.type = REDELIVER_TYPE, .args = args, .workspace = r->workspace};
    struct enqueue_result res;
    if (engine_enqueue(r->api->deps.eng, &spec, &res, &e) != 0)
        return api_reply_err(r, &e);
    json_t *body = api_ok();
    json_object_set_new(body, "call_id", json_integer(id));
    json_object_set_new(body, "job_id", json_string(res.id));
    return api_reply(r, 202, body);
}
