/* Webhook deliveries: the Standard Webhooks signature against the spec's published example and a
 * vector made with Python's hmac module (an implementation that is not ours), and the store's
 * record of calls (an attempt again is the same row, one retry more; the answer; the list by
 * status). */
#include "handlers/webhook.h"
#include "store/webhook.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

Test(webhook, signature_matches_the_standard_webhooks_example)
{
    /* the example of the Standard Webhooks spec: a whsec_ secret is base64 */
    const char *body = "{\"test\": 2432232314}";
    char sig[WEBHOOK_SIGNATURE_MAX];
    webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                 1614265330, body, strlen(body), sig);
    cr_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

Test(webhook, a_plain_secret_is_its_bytes)
{
    char sig[WEBHOOK_SIGNATURE_MAX];
    /* python3: base64.b64encode(hmac.new(b"plain-secret", b"id1.5.{}", sha256).digest()) */
    webhook_sign("plain-secret", "id1", 5, "{}", 2, sig);
    cr_assert_str_eq(sig, "v1,eDujoZa7H3oK9Ymv4btTPJhd3epPir7ojrM2e7osCo8=");
    char other[WEBHOOK_SIGNATURE_MAX];
    webhook_sign("plain-secret", "id1", 6, "{}", 2, other);
    cr_assert_str_neq(sig, other, "the timestamp is signed");
    webhook_sign("plain-secret", "id2", 5, "{}", 2, other);
    cr_assert_str_neq(sig, other, "the id is signed");
}

struct call_args {
    struct webhook_call *c;
    int64_t now;
    bool end;
};

static int call_fn(struct store *s, void *arg, struct err *e)
{
    struct call_args *a = arg;
    return a->end ? store_webhook_end(s, a->c, a->now, e)
                  : store_webhook_begin(s, a->c, a->now, &a->c->id, e);
}

static void exec_call(struct engine *eng, struct webhook_call *c, int64_t now, bool end)
{
    struct call_args a = {c, now, end};
    struct err e;
    err_clear(&e);
    cr_assert_eq(engine_exec(eng, call_fn, &a, &e), 0, "%s", e.msg);
}

Test(webhook, an_attempt_again_is_the_same_call)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct store *s = engine_store(eng);
    struct webhook_call c = {
        .job_id = "job-1",
        .job_type = "scrape_sync",
        .url = "http://127.0.0.1:9/hook",
        .delivery_id = "job-1.1",
        .request_sha256 = "ab",
        .request_bytes = 2,
    };
    exec_call(eng, &c, 1000, false);
    int64_t first = c.id;
    c.status = WEBHOOK_RETRYING;
    c.response_status = 500;
    c.error = "http_status: 500";
    exec_call(eng, &c, 1100, true);
    c.id = 0;
    exec_call(eng, &c, 2000, false);
    cr_assert_eq(c.id, first, "the same delivery is the same row");
    c.status = WEBHOOK_SUCCESS;
    c.response_status = 204;
    c.error = NULL;
    exec_call(eng, &c, 2100, true);
    /* another delivery of the job */
    struct webhook_call d = c;
    d.id = 0;
    d.delivery_id = "job-1.2";
    exec_call(eng, &d, 3000, false);
    cr_assert_neq(d.id, first);

    struct webhook_call *rows;
    size_t n;
    struct err e;
    err_clear(&e);
    cr_assert_eq(store_webhook_list(s, "job-1", -1, 0, 10, &rows, &n, &e), 2, "%s", e.msg);
    cr_assert_str_eq(rows[0].delivery_id, "job-1.1");
    cr_assert_eq(rows[0].status, WEBHOOK_SUCCESS);
    cr_assert_eq(rows[0].retry_count, 1);
    cr_assert_eq(rows[0].response_status, 204);
    cr_assert_null(rows[0].error, "a success clears the last error");
    cr_assert_eq(rows[0].completed_at, 2100);
    cr_assert_eq(rows[1].status, WEBHOOK_PENDING);
    cr_assert_eq(rows[1].completed_at, 0);
    webhook_call_array_free(rows, n);
    cr_assert_eq(store_webhook_list(s, "job-1", WEBHOOK_PENDING, 0, 10, &rows, &n, &e), 1);
    cr_assert_str_eq(rows[0].delivery_id, "job-1.2");
    webhook_call_array_free(rows, n);
    cr_assert_eq(store_webhook_list(s, "job-2", -1, 0, 10, &rows, &n, &e), 0);
    webhook_call_array_free(rows, n);
    /* an answer for a call that is not there */
    struct webhook_call ghost = {.id = 999, .status = WEBHOOK_FAILED};
    struct call_args a = {&ghost, 1, true};
    cr_assert_eq(engine_exec(eng, call_fn, &a, &e), TRAWL_ENOTFOUND);
    engine_close(eng);
}

Test(webhook, an_answer_of_any_bytes_is_recorded_and_capped)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct webhook_call c = {
        .job_id = "job-1",
        .job_type = "scrape_sync",
        .url = "http://127.0.0.1:9/hook",
        .delivery_id = "job-1.1",
        .request_sha256 = "ab",
        .request_bytes = 3,
        .request_body = (void *)"\x28\xb5\x00",
        .request_body_len = 3,
    };
    exec_call(eng, &c, 1000, false);
    /* a receiver's answer: not UTF-8, and longer than what is kept */
    char body[5000];
    memset(body, 'x', sizeof body - 1);
    memcpy(body, "ok \xff\xfe", 5);
    body[sizeof body - 1] = 0;
    c.status = WEBHOOK_FAILED;
    c.response_status = 400;
    c.response_body = body;
    c.response_time_ms = 7;
    c.error = "http_status: 400";
    exec_call(eng, &c, 1200, true);
    struct webhook_call *rows;
    size_t n;
    struct err e;
    err_clear(&e);
    cr_assert_eq(
        store_webhook_list(engine_store(eng), "job-1", WEBHOOK_FAILED, 0, 0, &rows, &n, &e), 1,
        "%s", e.msg);
    cr_assert_eq(strncmp(rows[0].response_body, "ok ", 3), 0);
    cr_assert_leq(strlen(rows[0].response_body), WEBHOOK_RESPONSE_KEEP_MAX);
    cr_assert_geq(strlen(rows[0].response_body), WEBHOOK_RESPONSE_KEEP_MAX - 8);
    cr_assert_eq(rows[0].response_time_ms, 7);
    cr_assert_eq(rows[0].completed_at, 1200);
    cr_assert_eq(rows[0].request_bytes, 3);
    cr_assert_null(rows[0].request_body, "the list does not read the body");
    webhook_call_array_free(rows, n);
    engine_close(eng);
}

Test(webhook, a_call_is_read_back_with_its_body_to_deliver_it_again)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct store *s = engine_store(eng);
    /* a body of any bytes (a zstd frame), NULs included */
    static const char frame[] = "\x28\xb5\x2f\xfd\x00\x58\x00\xff\x01\x00";
    struct webhook_call c = {
        .job_id = "job-7",
        .job_type = "xml_import",
        .url = "https://hooks.example/in",
        .delivery_id = "job-7.3",
        .request_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        .request_bytes = 1234,
        .request_body = (void *)frame,
        .request_body_len = sizeof frame - 1,
    };
    exec_call(eng, &c, 1000, false);
    c.status = WEBHOOK_RETRYING;
    c.response_status = 503;
    c.response_body = "busy";
    c.response_time_ms = 42;
    c.next_retry_at = 61000;
    c.error = "http_status: 503";
    exec_call(eng, &c, 1100, true);
    /* no body kept: it was over WEBHOOK_BODY_KEEP_MAX */
    struct webhook_call big = {.job_id = "job-7",
                               .job_type = "xml_import",
                               .url = "https://hooks.example/in",
                               .delivery_id = "job-7.4",
                               .request_sha256 = "ab",
                               .request_bytes = WEBHOOK_BODY_KEEP_MAX + 1};
    exec_call(eng, &big, 2000, false);

    struct webhook_call got;
    struct err e;
    err_clear(&e);
    cr_assert_eq(store_webhook_get(s, c.id, &got, &e), 0, "%s", e.msg);
    cr_assert_eq(got.id, c.id);
    cr_assert_str_eq(got.job_id, "job-7");
    cr_assert_str_eq(got.job_type, "xml_import");
    cr_assert_str_eq(got.url, "https://hooks.example/in");
    cr_assert_str_eq(got.delivery_id, "job-7.3");
    cr_assert_str_eq(got.request_sha256, c.request_sha256);
    cr_assert_eq(got.request_bytes, 1234);
    cr_assert_eq(got.request_body_len, sizeof frame - 1, "the body as it was stored");
    cr_assert_eq(memcmp(got.request_body, frame, sizeof frame - 1), 0);
    cr_assert_eq(got.status, WEBHOOK_RETRYING);
    cr_assert_eq(got.response_status, 503);
    cr_assert_str_eq(got.response_body, "busy");
    cr_assert_eq(got.response_time_ms, 42);
    cr_assert_eq(got.retry_count, 0);
    cr_assert_eq(got.next_retry_at, 61000);
    cr_assert_eq(got.created_at, 1000);
    cr_assert_eq(got.completed_at, 0, "a retrying call is not completed");
    cr_assert_str_eq(got.error, "http_status: 503");
    webhook_call_release(&got);

    cr_assert_eq(store_webhook_get(s, big.id, &got, &e), 0, "%s", e.msg);
    cr_assert_str_eq(got.delivery_id, "job-7.4");
    cr_assert_eq(got.request_bytes, WEBHOOK_BODY_KEEP_MAX + 1);
    cr_assert_null(got.request_body, "no body kept, none read");
    cr_assert_eq(got.request_body_len, 0);
    cr_assert_eq(got.status, WEBHOOK_PENDING);
    cr_assert_eq(got.response_status, 0);
    cr_assert_null(got.response_body);
    cr_assert_null(got.error);
    webhook_call_release(&got);

    /* an id that is no call */
    err_clear(&e);
    cr_assert_eq(store_webhook_get(s, big.id + 100, &got, &e), TRAWL_ENOTFOUND);
    cr_assert(strstr(e.msg, "webhook call"), "%s", e.msg);
    webhook_call_release(&got);
    cr_assert_eq(store_webhook_get(s, 0, &got, &e), TRAWL_ENOTFOUND);
    webhook_call_release(&got);
    engine_close(eng);
}
