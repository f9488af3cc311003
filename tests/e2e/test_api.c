/* The HTTP API end to end: a real trawl serve on a free port, driven over HTTP. Tokens and
 * workspaces, every error status a user can meet, limits, generic jobs, external workers, and
 * that what was accepted survives a restart. */
#include "e2eutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

static void start(struct serve *s)
{
    /* no crawl workers: the jobs stay where the test puts them */
    E2E_SERVE(s, NULL, "--crawl-workers", "0", "--workers", "0", "--body-max", "65536");
}

/* An error answer: the status, JSON {"success": false, "error": {"code", "message"}}, and a
 * message that says what is wrong. */
static void expect_error(struct resp *r, long status, const char *code, const char *needle)
{
    cr_assert_eq(r->status, status, "HTTP %ld (want %ld): %s", r->status, status,
                 r->body ? r->body : "");
    cr_assert_not_null(r->json, "error body is not JSON: %s", r->body ? r->body : "");
    cr_assert(json_is_false(json_object_get(r->json, "success")), "%s", r->body);
    json_t *err = json_object_get(r->json, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "code")), code, "%s", r->body);
    cr_assert(strstr(e2e_err(r), needle) != NULL, "message lacks '%s': %s", needle, e2e_err(r));
}

Test(api, health_needs_no_token)
{
    struct serve s;
    start(&s);
    struct resp r;
    e2e_call(&r, &s, "GET", "/healthz", NULL, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/readyz", NULL, NULL);
    OK_STATUS(r, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ready");
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}

Test(api, tokens_are_required_and_checked)
{
    struct serve s;
    start(&s);
    struct resp r;
    e2e_call(&r, &s, "GET", "/v1/jobs", NULL, NULL);
    expect_error(&r, 401, "unauthorized", "Authorization: Bearer");
    cr_assert(strstr(r.headers, "WWW-Authenticate: Bearer") != NULL, "%s", r.headers);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs", "trawl_not-a-real-token", NULL);
    expect_error(&r, 401, "unauthorized", "not valid");
    e2e_resp_release(&r);
    const char *tok = e2e_token(s.db, "acme");
    char t[128];
    snprintf(t, sizeof t, "%s", tok);
    e2e_call(&r, &s, "GET", "/v1/jobs", t, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    /* revoked: refused within the cache's few seconds */
    struct run run;
    char env[1200];
    snprintf(env, sizeof env, "TRAWL_DB=%s", s.db);
    const char *envv[] = {env, NULL};
    E2E_RUN(&run, envv, "token", "list");
    const char *line = strchr(run.out, '\n');
    cr_assert_not_null(line);
    char id[37];
    snprintf(id, sizeof id, "%.36s", line + 1);
    E2E_RUN(&run, envv, "token", "revoke", id);
    cr_assert_eq(run.status, 0, "%s", run.err);
    long status = 200;
    for (int i = 0; i < 60 && status == 200; i++) {
        e2e_sleep_ms(100);
        e2e_call(&r, &s, "GET", "/v1/jobs", t, NULL);
        status = r.status;
        e2e_resp_release(&r);
    }
    cr_assert_eq(status, 401, "a revoked token still works after 6 s");
    /* the token never appears in the log */
    cr_assert_null(strstr(e2e_serve_log(&s), t));
    e2e_serve_stop(&s, 15000);
}

Test(api, a_workspace_sees_only_its_own_jobs)
{
    struct serve s;
    start(&s);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", e2e_token(s.db, "alpha"));
    snprintf(b, sizeof b, "%s", e2e_token(s.db, "beta"));
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", a,
             json_pack("{s:s, s:{s:i}}", "type", "noop", "args", "n", 1));
    OK_STATUS(r, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    e2e_call(&r, &s, "GET", path, b, NULL);
    expect_error(&r, 404, "not_found", id);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    e2e_call(&r, &s, "POST", path, b, NULL);
    expect_error(&r, 404, "not_found", "not found");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs", b, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0);
    e2e_resp_release(&r);
    /* beta's claim does not take alpha's job */
    e2e_call(&r, &s, "POST", "/v1/jobs/claim", b,
             json_pack("{s:[s], s:s, s:i}", "types", "noop", "worker", "w-b", "limit", 10));
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0);
    e2e_resp_release(&r);
    /* alpha still sees it, untouched */
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    e2e_call(&r, &s, "GET", path, a, NULL);
    OK_STATUS(r, 200);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "job"), "status")),
                     "pending");
    e2e_resp_release(&r);
    e2e_serve_stop(&s, 15000);
}

Test(api, bad_requests_get_the_right_status)
{
    struct serve s;
    start(&s);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    e2e_call(&r, &s, "GET", "/v1/nothing-here", t, NULL);
    expect_error(&r, 404, "not_found", "no such endpoint");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "DELETE", "/v1/jobs", t, NULL);
    expect_error(&r, 405, "method_not_allowed", "allowed");
    cr_assert(strstr(r.headers, "Allow: ") != NULL, "no Allow header: %s", r.headers);
    e2e_resp_release(&r);
    e2e_http(&r, s.base, "POST", "/v1/jobs", t, "type=noop", 9,
             "application/x-www-form-urlencoded");
    expect_error(&r, 415, "unsupported_media_type", "application/json");
    e2e_resp_release(&r);
    e2e_http(&r, s.base, "POST", "/v1/jobs", t, "{\"type\": \"noop\",", 16, NULL);
    expect_error(&r, 400, "bad_request", "not valid JSON");
    e2e_resp_release(&r);
    e2e_http(&r, s.base, "POST", "/v1/jobs", t, "[1,2]", 5, NULL);
    expect_error(&r, 400, "bad_request", "JSON object");
    e2e_resp_release(&r);
    /* nesting far past the cap is refused before it is parsed */
    char deep[4096];
    size_t k = 0;
    for (int i = 0; i < 1000; i++)
        deep[k++] = '[';
    for (int i = 0; i < 1000; i++)
        deep[k++] = ']';
    deep[k] = 0;
    char body[4200];
    snprintf(body, sizeof body, "{\"type\":\"noop\",\"args\":{\"a\":%s}}", deep);
    e2e_http(&r, s.base, "POST", "/v1/jobs", t, body, strlen(body), NULL);
    expect_error(&r, 400, "bad_request", "nested deeper");
    e2e_resp_release(&r);
    /* a body over --body-max (64 KiB here) */
    size_t big = 100000;
    char *huge = malloc(big + 64);
    int n = snprintf(huge, 64, "{\"type\":\"noop\",\"args\":{\"s\":\"");
    memset(huge + n, 'x', big);
    strcpy(huge + n + big, "\"}}");
    e2e_http(&r, s.base, "POST", "/v1/jobs", t, huge, strlen(huge), NULL);
    expect_error(&r, 413, "too_large", "limit");
    e2e_resp_release(&r);
    /* the same sent chunked, with no length to refuse it by: read, dropped, answered 413 */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char head[512];
    int hn = snprintf(head, sizeof head,
                      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                      t);
    cr_assert_eq(write(fd, head, (size_t)hn), hn);
    size_t sent = 0, len = strlen(huge);
    while (sent < len) {
        size_t chunk = len - sent < 8192 ? len - sent : 8192;
        char size[32];
        int sn = snprintf(size, sizeof size, "%zx\r\n", chunk);
        cr_assert_eq(write(fd, size, (size_t)sn), sn);
        cr_assert_eq(write(fd, huge + sent, chunk), (ssize_t)chunk);
        cr_assert_eq(write(fd, "\r\n", 2), 2);
        sent += chunk;
    }
    cr_assert_eq(write(fd, "0\r\n\r\n", 5), 5);
    struct timeval rtv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof rtv);
    char answer[2048];
    size_t got = 0;
    for (ssize_t rn;
         got < sizeof answer - 1 && (rn = read(fd, answer + got, sizeof answer - 1 - got)) > 0;) {
        got += (size_t)rn;
        answer[got] = 0;
        if (strstr(answer, "}}"))
            break;
    }
    answer[got] = 0;
    close(fd);
    cr_assert(strncmp(answer, "HTTP/1.1 413", 12) == 0 && strstr(answer, "\"too_large\""),
              "a chunked body over the cap got: %s", answer);
    free(huge);
    /* field checks name the field */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:i}", "type", "noop", "priority", 5000));
    expect_error(&r, 400, "bad_request", "priority");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs", t, json_pack("{s:s, s:s}", "type", "noop", "args", "x"));
    expect_error(&r, 400, "bad_request", "args must be a JSON object");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs", t, json_pack("{s:i}", "maxAttempts", 2));
    expect_error(&r, 400, "bad_request", "type is required");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:[{s:s}, {s:{}}]}", "jobs", "type", "noop", "args"));
    expect_error(&r, 400, "bad_request", "jobs[1]: type is required");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:i}", "type", "noop", "maxAttempts", 0));
    expect_error(&r, 400, "bad_request", "maxAttempts");
    e2e_resp_release(&r);
    /* crawl jobs come by their own route, where their URL and headers are checked */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:{s:s}}", "type", "crawl", "args", "url", "http://a.test/#x"));
    expect_error(&r, 400, "bad_request", "POST /v1/crawl-jobs");
    e2e_resp_release(&r);
    /* a batch id the batch routes could not address */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:s}", "type", "noop", "batchId", "gen/1"));
    expect_error(&r, 400, "bad_request", "batchId");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs?status=running", t, NULL);
    expect_error(&r, 400, "bad_request", "unknown status");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs?limit=abc", t, NULL);
    expect_error(&r, 400, "bad_request", "limit");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs/not-a-uuid", t, NULL);
    expect_error(&r, 404, "not_found", "not found");
    e2e_resp_release(&r);
    /* none of these left a job behind */
    e2e_call(&r, &s, "GET", "/v1/jobs", t, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0, "%s", r.body);
    e2e_resp_release(&r);
    e2e_serve_stop(&s, 15000);
}

Test(api, generic_jobs_one_many_list_cancel_retry)
{
    struct serve s;
    start(&s);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    /* many in one transaction: one bad job and none is enqueued */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:[{s:s}, {s:s, s:i}]}", "jobs", "type", "noop", "type", "noop",
                       "maxAttempts", -3));
    expect_error(&r, 400, "bad_request", "maxAttempts");
    e2e_resp_release(&r);
    json_t *list = json_array();
    for (int i = 0; i < 5; i++)
        json_array_append_new(list, json_pack("{s:s, s:{s:i}, s:s}", "type", "noop", "args", "i", i,
                                              "batchId", "b1"));
    e2e_call(&r, &s, "POST", "/v1/jobs", t, json_pack("{s:o}", "jobs", list));
    OK_STATUS(r, 201);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 5);
    char first[64];
    snprintf(first, sizeof first, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(r.json, "jobs"), 0), "id")));
    e2e_resp_release(&r);
    /* unique key: the live job comes back */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:s}", "type", "noop", "uniqueKey", "k1"));
    OK_STATUS(r, 201);
    char uid[64];
    snprintf(uid, sizeof uid, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:s}", "type", "noop", "uniqueKey", "k1"));
    OK_STATUS(r, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "jobId")), uid);
    cr_assert(json_is_true(json_object_get(r.json, "existed")));
    e2e_resp_release(&r);
    /* list with a page size and a cursor: 6 jobs in pages of 4 */
    e2e_call(&r, &s, "GET", "/v1/jobs?limit=4&type=noop", t, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 4);
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s", json_string_value(json_object_get(r.json, "nextCursor")));
    e2e_resp_release(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs?limit=4&cursor=%s", cursor);
    e2e_call(&r, &s, "GET", path, t, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 2);
    cr_assert(json_is_null(json_object_get(r.json, "nextCursor")));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/v1/jobs?batch=b1", t, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 5);
    e2e_resp_release(&r);
    /* cancel, then a second cancel conflicts; retry brings it back; history shows all */
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", first);
    e2e_call(&r, &s, "POST", path, t, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", path, t, NULL);
    expect_error(&r, 409, "conflict", "cancelled");
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", first);
    e2e_call(&r, &s, "POST", path, t, json_pack("{s:i}", "attempts", 2));
    OK_STATUS(r, 200);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "job"), "status")),
                     "pending");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", path, t, NULL);
    expect_error(&r, 409, "conflict", "pending");
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", first);
    e2e_call(&r, &s, "GET", path, t, NULL);
    OK_STATUS(r, 200);
    json_t *ev = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(ev), 2, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 0), "to")), "cancelled");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(ev, 1), "to")), "pending");
    cr_assert_eq(json_integer_value(
                     json_object_get(json_object_get(json_object_get(r.json, "job"), "args"), "i")),
                 0);
    e2e_resp_release(&r);
    e2e_serve_stop(&s, 15000);
}

/* Milliseconds since the epoch of a UTC time as the API writes it ("2026-11-23T16:24:08.725Z"). */
static int64_t iso_ms(const char *s)
{
    cr_assert_not_null(s);
    struct tm tm = {0};
    int ms = 0;
    cr_assert_eq(sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                        &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms),
                 7, "not a time: %s", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000 + ms;
}
Test(api, external_workers_claim_heartbeat_complete_fenced)
{
    struct serve s;
    start(&s);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:{s:s}}", "type", "resize", "args", "img", "a.png"));
    OK_STATUS(r, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs/claim", t,
             json_pack("{s:[s], s:i}", "types", "resize", "limit", 5));
    expect_error(&r, 400, "bad_request", "worker is required");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs/claim", t,
             json_pack("{s:[s], s:s, s:i, s:i}", "types", "resize", "worker", "py-1", "limit", 5,
                       "leaseMs", 60000));
    OK_STATUS(r, 200);
    json_t *jobs = json_object_get(r.json, "jobs");
    cr_assert_eq(json_array_size(jobs), 1, "%s", r.body);
    json_t *j = json_array_get(jobs, 0);
    cr_assert_str_eq(json_string_value(json_object_get(j, "id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "args"), "img")),
                     "a.png");
    char lease[64];
    snprintf(lease, sizeof lease, "%s", json_string_value(json_object_get(j, "leaseToken")));
    e2e_resp_release(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s/heartbeat", id);
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s, s:i, s:s, s:{s:i}}", "worker", "py-1", "leaseToken", lease,
                       "progress", 40, "stage", "resizing", "checkpoint", "row", 7));
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    /* without leaseMs the heartbeat renews for as long as the claim asked (60 s), not the
     * type's 30 s */
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    e2e_call(&r, &s, "GET", path, t, NULL);
    json_t *held = json_object_get(r.json, "job");
    int64_t renewed = iso_ms(json_string_value(json_object_get(held, "lease_expires_at"))) -
                      iso_ms(json_string_value(json_object_get(held, "last_heartbeat")));
    cr_assert_eq(renewed, 60000, "lease renewed for %lld ms: %s", (long long)renewed, r.body);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/heartbeat", id);
    /* another worker's name, or a made-up token, is refused and changes nothing */
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s, s:i}", "worker", "py-2", "leaseToken", lease, "progress", 90));
    expect_error(&r, 409, "conflict", "lease lost");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s}", "worker", "py-1", "leaseToken", "nonsense"));
    expect_error(&r, 400, "bad_request", "leaseToken");
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    e2e_call(&r, &s, "GET", path, t, NULL);
    json_t *job = json_object_get(r.json, "job");
    cr_assert_eq(json_integer_value(json_object_get(job, "progress")), 40);
    cr_assert_str_eq(json_string_value(json_object_get(job, "stage")), "resizing");
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(job, "checkpoint"), "row")), 7);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/complete", id);
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s, s:{s:s}}", "worker", "py-1", "leaseToken", lease, "result",
                       "out", "a-small.png"));
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    /* a late second completion (a worker that lost the job) is refused */
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s, s:{s:s}}", "worker", "py-1", "leaseToken", lease, "result",
                       "out", "other.png"));
    expect_error(&r, 409, "conflict", "lease lost");
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    e2e_call(&r, &s, "GET", path, t, NULL);
    job = json_object_get(r.json, "job");
    cr_assert_str_eq(json_string_value(json_object_get(job, "status")), "completed");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(job, "result"), "out")),
                     "a-small.png");
    e2e_resp_release(&r);
    /* fail: retryable with attempts left goes to retrying */
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:i}", "type", "resize", "maxAttempts", 2));
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    e2e_call(&r, &s, "POST", "/v1/jobs/claim", t,
             json_pack("{s:[s], s:s}", "types", "resize", "worker", "py-1"));
    snprintf(lease, sizeof lease, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(r.json, "jobs"), 0),
                                               "leaseToken")));
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/jobs/%s/fail", id);
    e2e_call(&r, &s, "POST", path, t,
             json_pack("{s:s, s:s, s:s, s:b}", "worker", "py-1", "leaseToken", lease, "error",
                       "out of disk", "retryable", 1));
    OK_STATUS(r, 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "retrying");
    e2e_resp_release(&r);
    e2e_serve_stop(&s, 15000);
}

Test(api, what_was_accepted_survives_a_restart)
{
    struct serve s;
    start(&s);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    json_t *urls = json_array();
    for (int i = 0; i < 300; i++) {
        char u[64];
        snprintf(u, sizeof u, "http://shop.example/p/%d", i);
        json_array_append_new(urls, json_string(u));
    }
    e2e_call(&r, &s, "POST", "/v1/crawl-jobs/batch", t,
             json_pack("{s:o, s:s}", "urls", urls, "batchId", "keep"));
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
    struct serve s2;
    E2E_SERVE(&s2, s.db, "--crawl-workers", "0", "--workers", "0");
    e2e_call(&r, &s2, "GET", "/v1/batches/keep", t, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 300);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r.json, "counts"), "pending")),
                 300);
    e2e_resp_release(&r);
    e2e_serve_stop(&s2, 15000);
}

Test(api, no_auth_listens_on_loopback_only)
{
    struct run r;
    char db[1100];
    snprintf(db, sizeof db, "%s", e2e_db("x.db"));
    E2E_RUN(&r, NULL, "serve", "--db", db, "--no-auth", "--listen", "0.0.0.0:0");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "loopback") != NULL, "%s", r.err);
    struct serve s;
    E2E_SERVE(&s, NULL, "--no-auth", "--crawl-workers", "0");
    struct resp resp;
    e2e_call(&resp, &s, "GET", "/v1/jobs", NULL, NULL);
    OK_STATUS(resp, 200);
    e2e_resp_release(&resp);
    e2e_serve_stop(&s, 15000);
}

Test(api, long_urls_and_slow_clients_do_not_hurt)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "0", "--header-timeout", "2");
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    char *path = malloc(12000);
    strcpy(path, "/v1/jobs/");
    memset(path + 9, 'a', 10000);
    path[10009] = 0;
    e2e_call(&r, &s, "GET", path, t, NULL);
    cr_assert(r.status == 414 || r.status == 431, "HTTP %ld for a 10 KB URL", r.status);
    e2e_resp_release(&r);
    free(path);
    /* a client that sends half its headers and stops holds only its own connection */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char half[] = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Le";
    cr_assert_eq(write(fd, half, sizeof half - 1), (ssize_t)(sizeof half - 1));
    int64_t t0 = e2e_ms();
    e2e_call(&r, &s, "GET", "/v1/jobs", t, NULL);
    OK_STATUS(r, 200);
    cr_assert_lt(e2e_ms() - t0, 1000, "a stalled client slowed another request down");
    e2e_resp_release(&r);
    /* and the server closes it after the header timeout */
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        ;
    cr_assert_eq(n, 0, "the stalled connection was not closed");
    int64_t held = e2e_ms() - t0;
    cr_assert(held >= 1500 && held < 9000, "closed after %lld ms (timeout 2 s)", (long long)held);
    close(fd);
    e2e_serve_stop(&s, 15000);
}

Test(api, too_many_waits_get_429)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "0", "--max-waits", "1");
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/crawl-jobs", t, json_pack("{s:s}", "url", "http://a.test/"));
    OK_STATUS(r, 202);
    char path[256];
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s/wait",
             json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    /* one wait in a child process holds the only slot for 3 s */
    pid_t pid = fork();
    if (pid == 0) {
        struct resp w;
        e2e_call(&w, &s, "POST", path, t, json_pack("{s:i}", "maxWaitTimeMs", 3000));
        _exit(w.status == 200 ? 0 : 1);
    }
    e2e_sleep_ms(500);
    e2e_call(&r, &s, "POST", path, t, json_pack("{s:i}", "maxWaitTimeMs", 100));
    expect_error(&r, 429, "too_many_requests", "waiting");
    e2e_resp_release(&r);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first wait failed");
    e2e_serve_stop(&s, 15000);
}

Test(api, a_locked_database_gives_503_and_then_recovers)
{
    /* PostgreSQL has no lock on the whole database: a writer there waits for the rows it
     * needs */
    e2e_sqlite_only("another process holds the database's write lock (BEGIN IMMEDIATE)");
    struct serve s;
    start(&s);
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(s.db, &db), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", t, json_pack("{s:s}", "type", "noop"));
    expect_error(&r, 503, "unavailable", "locked");
    cr_assert(strstr(r.headers, "Retry-After:") != NULL, "%s", r.headers);
    e2e_resp_release(&r);
    /* a load balancer asking /readyz now is told the truth */
    e2e_call(&r, &s, "GET", "/readyz", NULL, NULL);
    expect_error(&r, 503, "unavailable", "locked");
    e2e_resp_release(&r);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    e2e_call(&r, &s, "POST", "/v1/jobs", t, json_pack("{s:s}", "type", "noop"));
    OK_STATUS(r, 201);
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/readyz", NULL, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    /* the refused job was not half-written: exactly one job exists */
    e2e_call(&r, &s, "GET", "/v1/jobs", t, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 1, "%s", r.body);
    e2e_resp_release(&r);
    e2e_serve_stop(&s, 15000);
}

Test(api, readyz_turns_503_as_soon_as_shutdown_begins)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0", "--workers", "1", "--grace", "4000");
    char t[128];
    snprintf(t, sizeof t, "%s", e2e_token(s.db, "w"));
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/jobs", t,
             json_pack("{s:s, s:{s:i, s:i}}", "type", "sleep", "args", "ms", 60000, "step_ms", 50));
    OK_STATUS(r, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    bool running = false;
    for (int i = 0; i < 100 && !running; i++) {
        e2e_sleep_ms(50);
        e2e_call(&r, &s, "GET", path, t, NULL);
        running =
            strcmp(json_string_value(json_object_get(json_object_get(r.json, "job"), "status")),
                   "processing") == 0;
        e2e_resp_release(&r);
    }
    cr_assert(running, "the sleep job did not start");
    kill(s.pid, SIGTERM);
    e2e_sleep_ms(300);
    /* still serving during the grace period, but not ready */
    e2e_call(&r, &s, "GET", "/readyz", NULL, NULL);
    expect_error(&r, 503, "unavailable", "shutting down");
    e2e_resp_release(&r);
    e2e_call(&r, &s, "GET", "/healthz", NULL, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_wait(&s, 15000), 0);
}
