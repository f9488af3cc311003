/* Crawl jobs end to end: a real trawl serve fetching from a real origin server that misbehaves
 * on purpose. The origin listens on 127.0.0.2, and serve lets only that address through its SSRF
 * guard, so 127.0.0.1, 169.254.169.254 and private addresses stay refused as in production.
 * Each test checks the status and the error a user sees, and that nothing accepted was lost. */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

struct env {
    struct serve s;
    struct origin o;
    char token[128];
};

/* serve with the origin allowed and short deadlines, plus extra args */
static void setup(struct env *v, const char *robots, const char *const *extra)
{
    e2e_origin(&v->o, robots);
    const char *args[40] = {"--allow-private",
                            "127.0.0.2/32",
                            "--workers",
                            "0",
                            "--crawl-workers",
                            "8",
                            "--first-byte-timeout",
                            "1000",
                            "--fetch-timeout",
                            "5000",
                            "--min-speed",
                            "1000",
                            "--min-speed-time",
                            "2000",
                            "--max-body",
                            "1000000",
                            "--type",
                            "crawl.backoff_base_ms=100",
                            "--type",
                            "crawl.backoff_cap_ms=200",
                            "--sweep",
                            "100"};
    int k = 22;
    for (; extra && *extra && k < 38; extra++)
        args[k++] = *extra;
    args[k] = NULL;
    e2e_serve(&v->s, NULL, args);
    snprintf(v->token, sizeof v->token, "%s", e2e_token(v->s.db, "crawl"));
}

static void teardown(struct env *v)
{
    cr_assert_eq(e2e_serve_stop(&v->s, 20000), 0, "serve did not stop cleanly: %s",
                 e2e_serve_log(&v->s));
    e2e_origin_stop(&v->o);
}

/* Submit path on the origin (or a full URL when path has "://"); returns the job id. */
static const char *submit(struct env *v, const char *path, json_t *extra)
{
    static char id[64];
    char url[2048];
    if (strstr(path, "://"))
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "%s%s", v->o.base, path);
    json_t *body = extra ? extra : json_object();
    json_object_set_new(body, "url", json_string(url));
    struct resp r;
    e2e_call(&r, &v->s, "POST", "/v1/crawl-jobs", v->token, body);
    OK_STATUS(r, 202);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "jobId")));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "pending");
    e2e_resp_release(&r);
    return id;
}

/* Wait for the job to end (30 s at most); the answer's "job" is in r->json. */
static json_t *wait_job(struct env *v, const char *id, struct resp *r)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s/wait?html=true", id);
    for (int i = 0; i < 6; i++) {
        e2e_call(r, &v->s, "POST", path, v->token, json_pack("{s:i}", "maxWaitTimeMs", 5000));
        OK_STATUS(*r, 200);
        if (json_is_true(json_object_get(r->json, "completed")))
            return json_object_get(r->json, "job");
        e2e_resp_release(r);
    }
    cr_assert_fail("job %s did not end within 30 s; log: %s", id, e2e_serve_log(&v->s));
    return NULL;
}

static const char *field(json_t *job, const char *k)
{
    const char *s = json_string_value(json_object_get(job, k));
    return s ? s : "";
}

/* Submit with max attempts; expect it to fail after `ran` attempts with needle in its error. */
static void expect_failed_after(struct env *v, const char *path, int max, int ran,
                                const char *needle)
{
    const char *id = submit(v, path, json_pack("{s:i}", "maxAttempts", max));
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "failed", "%s: %s", path, r.body);
    cr_assert(strstr(field(job, "error"), needle) != NULL, "%s: error lacks '%s': %s", path, needle,
              field(job, "error"));
    cr_assert_eq(json_integer_value(json_object_get(job, "attempt")), ran, "%s: %s", path, r.body);
    e2e_resp_release(&r);
}

static void expect_failed(struct env *v, const char *path, int attempts, const char *needle)
{
    expect_failed_after(v, path, attempts, attempts, needle);
}

Test(crawl, a_page_and_its_metadata)
{
    struct env v;
    setup(&v, NULL, NULL);
    const char *id = submit(&v, "/page?size=27000&id=p1&links=3", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(job, "http_status")), 200);
    cr_assert(strstr(field(job, "content_type"), "text/html") != NULL, "%s", r.body);
    cr_assert_str_eq(field(job, "success_method"), "http");
    long len = (long)json_integer_value(json_object_get(job, "html_length"));
    cr_assert_gt(len, 20000, "%s", r.body);
    json_t *html = json_object_get(r.json, "html");
    cr_assert(json_is_string(html), "%s", r.body);
    cr_assert_eq((long)json_string_length(html), len);
    cr_assert(strstr(json_string_value(html), "<title>page p1</title>") != NULL);
    e2e_resp_release(&r);
    /* ?html=false leaves the body out */
    char path[256];
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s?html=false", idc);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_null(json_object_get(r.json, "html"));
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s", idc);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    cr_assert(json_is_string(json_object_get(r.json, "html")));
    e2e_resp_release(&r);
    /* the user agent is trawl's and the robots.txt was read once */
    cr_assert_eq(e2e_origin_hits(&v.o, "/robots.txt"), 1);
    teardown(&v);
}

Test(crawl, options_the_fetcher_cannot_honour_are_refused)
{
    struct env v;
    setup(&v, NULL, NULL);
    struct resp r;
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs", v.token,
             json_pack("{s:s, s:b}", "url", "http://example.com/", "render", 1));
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(e2e_err(&r), "JavaScript rendering") != NULL, "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs", v.token,
             json_pack("{s:s, s:b}", "url", "http://example.com/", "premium", 1));
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(e2e_err(&r), "premium") != NULL, "%s", e2e_err(&r));
    e2e_resp_release(&r);
    /* bad URLs: control characters, a scheme other than http(s), no host */
    const char *bad[] = {"http://exa\x01mple.com/", "ftp://example.com/x",
                         "file:///etc/passwd",      "http://",
                         "javascript:alert(1)",     ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs", v.token, json_pack("{s:s}", "url", bad[i]));
        cr_assert_eq(r.status, 400, "'%s' accepted: %s", bad[i], r.body);
        cr_assert(strstr(e2e_err(&r), "url") != NULL, "%s", e2e_err(&r));
        e2e_resp_release(&r);
    }
    /* invalid UTF-8 inside the JSON body is refused by the parser */
    const char raw[] = "{\"url\": \"http://example.com/\xff\xfe\"}";
    e2e_http(&r, v.s.base, "POST", "/v1/crawl-jobs", v.token, raw, sizeof raw - 1, NULL);
    cr_assert_eq(r.status, 400, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs", v.token,
             json_pack("{s:s, s:{s:s}}", "url", "http://example.com/", "headers", "Host", "x"));
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(e2e_err(&r), "Host") != NULL, "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs", v.token,
             json_pack("{s:s, s:{s:s}}", "url", "http://example.com/", "headers", "X-A",
                       "a\r\nInjected: yes"));
    cr_assert_eq(r.status, 400);
    e2e_resp_release(&r);
    /* none of these became a job */
    e2e_call(&r, &v.s, "GET", "/v1/jobs", v.token, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0, "%s", r.body);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, a_batch_with_bad_urls_keeps_the_good_ones)
{
    struct env v;
    setup(&v, NULL, NULL);
    json_t *urls = json_array();
    char u[256];
    for (int i = 0; i < 20; i++) {
        snprintf(u, sizeof u, "%s/page?id=b%d", v.o.base, i);
        json_array_append_new(urls, json_string(u));
    }
    json_array_append_new(urls, json_string("not a url"));
    /* all invalid: nothing queued, an error, and no batch id that leads nowhere */
    json_t *bad = json_pack("[s, s]", "nope", "ftp://a/");
    struct resp b;
    e2e_call(&b, &v.s, "POST", "/v1/crawl-jobs/batch", v.token, json_pack("{s:o}", "urls", bad));
    cr_assert_eq(b.status, 400, "%s", b.body);
    cr_assert(json_is_false(json_object_get(b.json, "success")), "%s", b.body);
    cr_assert_null(json_object_get(b.json, "batchId"), "%s", b.body);
    cr_assert_eq(json_array_size(json_object_get(b.json, "invalid")), 2, "%s", b.body);
    e2e_resp_release(&b);
    json_array_append_new(urls, json_string("gopher://old.example/"));
    json_array_append_new(urls, json_integer(7));
    struct resp r;
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs/batch", v.token,
             json_pack("{s:o, s:s}", "urls", urls, "batchId", "shop-1"));
    OK_STATUS(r, 202);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 23);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "successCount")), 20);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "failedCount")), 3);
    json_t *inv = json_object_get(r.json, "invalid");
    cr_assert_eq(json_array_size(inv), 3);
    cr_assert_str_eq(field(json_array_get(inv, 0), "url"), "not a url");
    e2e_resp_release(&r);
    /* the batch completes: counts and progress */
    long done = 0;
    for (int i = 0; i < 300 && done < 20; i++) {
        e2e_sleep_ms(100);
        e2e_call(&r, &v.s, "GET", "/v1/batches/shop-1?limit=5", v.token, NULL);
        OK_STATUS(r, 200);
        done = (long)json_integer_value(
            json_object_get(json_object_get(r.json, "counts"), "completed"));
        if (done < 20)
            e2e_resp_release(&r);
    }
    cr_assert_eq(done, 20, "batch did not complete: %s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 20);
    cr_assert(json_real_value(json_object_get(r.json, "progress")) == 100.0, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 5);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "nextOffset")), 5);
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "GET", "/v1/batches?limit=10", v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1);
    cr_assert_str_eq(field(json_array_get(json_object_get(r.json, "batches"), 0), "batchId"),
                     "shop-1");
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "GET", "/v1/batches/nope", v.token, NULL);
    cr_assert_eq(r.status, 404);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, slow_and_endless_servers_free_their_slot)
{
    struct env v;
    setup(&v, NULL, NULL);
    expect_failed(&v, "/slow-first-byte?ms=10000", 1, "timeout");
    expect_failed(&v, "/trickle?bytes=100000&interval_ms=100", 1, "timeout");
    expect_failed(&v, "/endless", 1, "too_large");
    /* a page cut at the cap is not kept as if it were the page */
    {
        const char *tid = submit(&v, "/big?bytes=2000000", json_pack("{s:i}", "maxAttempts", 1));
        char tidc[64];
        snprintf(tidc, sizeof tidc, "%s", tid);
        struct resp tr;
        json_t *tj = wait_job(&v, tidc, &tr);
        cr_assert(strstr(field(tj, "error"), "too_large") != NULL, "%s", tr.body);
        cr_assert(json_is_null(json_object_get(tj, "http_status")), "%s", tr.body);
        cr_assert(json_is_null(json_object_get(tr.json, "html")), "%s", tr.body);
        e2e_resp_release(&tr);
    }
    expect_failed(&v, "/gzip-bomb?mb=200", 1, "after decompression");
    /* the server is still fine for the next job */
    const char *id = submit(&v, "/page?id=after", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, redirects_are_followed_and_checked_at_every_hop)
{
    struct env v;
    setup(&v, NULL, NULL);
    const char *id = submit(&v, "/redirect-chain?n=3", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(job, "redirects")), 3);
    cr_assert(strstr(field(job, "final_url"), "n=0") != NULL, "%s", r.body);
    e2e_resp_release(&r);
    expect_failed(&v, "/redirect-loop", 1, "loop");
    expect_failed(&v, "/redirect-chain?n=9", 1, "more than 5 redirects");
    /* inward: 127.0.0.1 (loopback, not allowed here), cloud metadata, a private address */
    expect_failed(&v, "/redirect?to=http%3A%2F%2F127.0.0.1%3A9%2Fadmin", 1, "loopback");
    expect_failed(&v, "/redirect?to=http%3A%2F%2F169.254.169.254%2Flatest%2Fmeta-data%2F", 1,
                  "link-local");
    expect_failed(&v, "/redirect?to=http%3A%2F%2F2130706433%2F", 1, "loopback");
    expect_failed(&v, "/redirect?to=http%3A%2F%2F0x7f.1%2F", 1, "loopback");
    expect_failed(&v, "/redirect?to=http%3A%2F%2F%5B%3A%3Affff%3A127.0.0.1%5D%2F", 1, "loopback");
    expect_failed(&v, "/redirect?to=file%3A%2F%2F%2Fetc%2Fpasswd", 1, "redirects");
    teardown(&v);
}

Test(crawl, the_ssrf_guard_holds_for_every_spelling_and_for_dns)
{
    struct env v;
    /* private.test resolves to a private address, loop.test to loopback, meta.test to the
     * metadata service: the guard judges the address connected to, not the name */
    const char *extra[] = {
        "--resolve", "private.test:80:10.1.2.3",     "--resolve", "loop.test:80:127.0.0.1",
        "--resolve", "meta.test:80:169.254.169.254", NULL};
    setup(&v, NULL, extra);
    expect_failed(&v, "http://private.test/", 1, "private");
    expect_failed(&v, "http://loop.test/", 1, "loopback");
    expect_failed(&v, "http://meta.test/latest/meta-data/", 1, "link-local");
    expect_failed(&v, "http://127.0.0.1:1/", 1, "loopback");
    expect_failed(&v, "http://0177.0.0.1/", 1, "loopback");
    expect_failed(&v, "http://[::1]/", 1, "loopback");
    expect_failed(&v, "http://[fd00::1]/", 1, "unique-local");
    expect_failed(&v, "http://169.254.169.254/latest/meta-data/", 1, "link-local");
    teardown(&v);
}

Test(crawl, rate_limits_and_flaky_servers_are_retried_politely)
{
    struct env v;
    setup(&v, NULL, NULL);
    /* 503 then 200: retried, completed on attempt 2 */
    const char *id = submit(&v, "/flaky?key=a&fail=1&code=503", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(job, "attempt")), 2, "%s", r.body);
    e2e_resp_release(&r);
    /* 429 with Retry-After: 2: the next request to that host waits 2 s */
    int64_t t0 = e2e_ms();
    id = submit(&v, "/flaky?key=b&fail=1&code=429&retry_after=2", NULL);
    snprintf(idc, sizeof idc, "%s", id);
    job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    cr_assert_geq(e2e_ms() - t0, 1900, "Retry-After was not honoured");
    e2e_resp_release(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", idc);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    json_t *ev = json_object_get(r.json, "events");
    bool saw429 = false;
    for (size_t i = 0; i < json_array_size(ev); i++)
        saw429 = saw429 || strstr(field(json_array_get(ev, i), "message"), "429") != NULL;
    cr_assert(saw429, "the history does not show the 429: %s", r.body);
    e2e_resp_release(&r);
    /* a reset connection is retryable; with one attempt it fails saying so */
    expect_failed(&v, "/reset", 1, "reset");
    /* a 404 is not retried, even with attempts left */
    expect_failed(&v, "/status?code=404", 1, "404");
    id = submit(&v, "/status?code=404", json_pack("{s:i}", "maxAttempts", 3));
    snprintf(idc, sizeof idc, "%s", id);
    job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "failed");
    cr_assert_eq(json_integer_value(json_object_get(job, "attempt")), 1, "a 404 was retried");
    cr_assert_eq(json_integer_value(json_object_get(job, "http_status")), 404);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, robots_txt_is_obeyed)
{
    struct env v;
    setup(&v, NULL, NULL);
    /* refused, and not retried: a retry cannot change robots.txt's answer */
    expect_failed_after(&v, "/private/secret", 3, 1, "robots");
    cr_assert_eq(e2e_origin_hits(&v.o, "/private/secret"), 0, "a disallowed page was fetched");
    const char *id = submit(&v, "/page?id=public", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed");
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, a_failing_host_opens_its_breaker_and_jobs_wait_without_spending_attempts)
{
    struct env v;
    const char *extra[] = {"--breaker-failures", "3", "--breaker-open", "60000", NULL};
    setup(&v, NULL, extra);
    /* three jobs that fail with 500 open the breaker */
    for (int i = 0; i < 3; i++)
        expect_failed(&v, "/status?code=500", 1, "500");
    struct resp r;
    e2e_call(&r, &v.s, "GET", "/v1/breakers", v.token, NULL);
    OK_STATUS(r, 200);
    json_t *b = json_array_get(json_object_get(r.json, "breakers"), 0);
    cr_assert_str_eq(field(b, "state"), "open", "%s", r.body);
    cr_assert(strstr(field(b, "service"), "127.0.0.2") != NULL, "%s", r.body);
    e2e_resp_release(&r);
    /* a job for that host now is deferred: pending, no attempt spent, the origin not asked */
    long before = e2e_origin_hits(&v.o, "/page");
    const char *id = submit(&v, "/page?id=deferred", json_pack("{s:i}", "maxAttempts", 1));
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    char path[256];
    snprintf(path, sizeof path, "/v1/jobs/%s", idc);
    bool deferred = false;
    for (int i = 0; i < 100 && !deferred; i++) {
        e2e_sleep_ms(50);
        e2e_call(&r, &v.s, "GET", path, v.token, NULL);
        json_t *ev = json_object_get(r.json, "events");
        for (size_t k = 0; k < json_array_size(ev); k++)
            deferred =
                deferred || strstr(field(json_array_get(ev, k), "message"), "breaker") != NULL;
        if (deferred) {
            json_t *job = json_object_get(r.json, "job");
            cr_assert_str_eq(field(job, "status"), "pending", "%s", r.body);
            cr_assert_eq(json_integer_value(json_object_get(job, "attempt")), 0, "%s", r.body);
        }
        e2e_resp_release(&r);
    }
    cr_assert(deferred, "the job was not deferred by the open breaker");
    cr_assert_eq(e2e_origin_hits(&v.o, "/page"), before);
    teardown(&v);
}

Test(crawl, wait_is_woken_by_the_completion)
{
    struct env v;
    setup(&v, NULL, NULL);
    /* the page takes 600 ms to start; wait returns right after it completes */
    const char *id = submit(&v, "/slow-first-byte?ms=600", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    char path[256];
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s/wait", idc);
    struct resp r;
    int64_t t0 = e2e_ms();
    e2e_call(&r, &v.s, "POST", path, v.token, json_pack("{s:i}", "maxWaitTimeMs", 20000));
    int64_t took = e2e_ms() - t0;
    OK_STATUS(r, 200);
    cr_assert(json_is_true(json_object_get(r.json, "completed")), "%s", r.body);
    cr_assert_lt(took, 5000, "wait took %lld ms for a job of about 600 ms", (long long)took);
    cr_assert_geq(json_integer_value(json_object_get(r.json, "waitTime")), 400);
    e2e_resp_release(&r);
    /* a wait that runs out answers with the job as it is */
    id = submit(&v, "/slow-first-byte?ms=900", NULL);
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s/wait", id);
    e2e_call(&r, &v.s, "POST", path, v.token, json_pack("{s:i}", "maxWaitTimeMs", 100));
    OK_STATUS(r, 200);
    cr_assert(json_is_false(json_object_get(r.json, "completed")), "%s", r.body);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, process_runs_pending_jobs_now)
{
    struct env v;
    e2e_origin(&v.o, NULL);
    E2E_SERVE(&v.s, NULL, "--allow-private", "127.0.0.2/32", "--crawl-workers", "0");
    snprintf(v.token, sizeof v.token, "%s", e2e_token(v.s.db, "p"));
    for (int i = 0; i < 5; i++) {
        char p[64];
        snprintf(p, sizeof p, "/page?id=proc%d", i);
        submit(&v, p, NULL);
    }
    struct resp r;
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs/process", v.token,
             json_pack("{s:i}", "batchSize", 3));
    OK_STATUS(r, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "processed")), 3, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "successCount")), 3, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "GET", "/v1/jobs?status=pending", v.token, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 2, "%s", r.body);
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", "/v1/crawl-jobs/process", v.token,
             json_pack("{s:i}", "batchSize", 0));
    cr_assert_eq(r.status, 400);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, politeness_delay_crawl_delay_and_user_agent)
{
    struct env v;
    const char *extra[] = {"--host-delay", "300", NULL};
    setup(&v, NULL, extra);
    int64_t t0 = e2e_ms();
    char ids[4][64];
    for (int i = 0; i < 4; i++) {
        char p[64];
        snprintf(p, sizeof p, "/page?id=pol%d", i);
        snprintf(ids[i], sizeof ids[i], "%s", submit(&v, p, NULL));
    }
    struct resp r;
    for (int i = 0; i < 4; i++) {
        json_t *job = wait_job(&v, ids[i], &r);
        cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
        e2e_resp_release(&r);
    }
    cr_assert_geq(e2e_ms() - t0, 900, "4 requests with a 300 ms delay took under 900 ms");
    const char *id = submit(&v, "/headers", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    wait_job(&v, idc, &r);
    json_t *echo = json_loads(json_string_value(json_object_get(r.json, "html")), 0, NULL);
    const char *ua =
        json_string_value(json_object_get(json_object_get(echo, "headers"), "user-agent"));
    cr_assert(ua && strncmp(ua, "trawl/", 6) == 0, "user agent: %s", ua ? ua : "(none)");
    json_decref(echo);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, robots_crawl_delay_spaces_requests)
{
    FILE *f = fopen(e2e_path("robots.txt"), "w");
    fprintf(f, "User-agent: *\nCrawl-delay: 0.7\nDisallow: /private/\n");
    fclose(f);
    char robots[1100];
    snprintf(robots, sizeof robots, "%s", e2e_path("robots.txt"));
    struct env v;
    setup(&v, robots, NULL);
    int64_t t0 = e2e_ms();
    char ids[3][64];
    for (int i = 0; i < 3; i++) {
        char p[64];
        snprintf(p, sizeof p, "/page?id=cd%d", i);
        snprintf(ids[i], sizeof ids[i], "%s", submit(&v, p, NULL));
    }
    struct resp r;
    for (int i = 0; i < 3; i++) {
        json_t *job = wait_job(&v, ids[i], &r);
        cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
        e2e_resp_release(&r);
    }
    cr_assert_geq(e2e_ms() - t0, 1400, "Crawl-delay 0.7 s was not honoured");
    teardown(&v);
}

Test(crawl, unreachable_hosts_are_retried_and_say_why)
{
    struct env v;
    setup(&v, NULL, NULL);
    /* nothing listens on port 1: refused, retried, then failed with the reason */
    expect_failed(&v, "http://127.0.0.2:1/", 2, "connect");
    expect_failed(&v, "http://no-such-host.invalid/", 1, "dns");
    teardown(&v);
}

Test(crawl, urls_are_stored_normalized)
{
    struct env v;
    setup(&v, NULL, NULL);
    char url[256], want[256];
    snprintf(url, sizeof url, "HTTP://127.0.0.2:%d/a/../page?id=n%%7e1#frag", v.o.port);
    snprintf(want, sizeof want, "http://127.0.0.2:%d/page?id=n~1", v.o.port);
    const char *id = submit(&v, url, NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "url"), want);
    cr_assert_str_eq(field(job, "status"), "completed", "%s", r.body);
    e2e_resp_release(&r);
    teardown(&v);
}

Test(crawl, old_bodies_expire_and_the_metadata_stays)
{
    struct env v;
    const char *extra[] = {"--body-retention", "1500", NULL};
    setup(&v, NULL, extra);
    const char *id = submit(&v, "/page?id=old&size=4000", NULL);
    char idc[64];
    snprintf(idc, sizeof idc, "%s", id);
    struct resp r;
    json_t *job = wait_job(&v, idc, &r);
    cr_assert_str_eq(field(job, "status"), "completed");
    cr_assert(json_is_string(json_object_get(r.json, "html")));
    e2e_resp_release(&r);
    char path[256];
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s", idc);
    bool expired = false;
    for (int i = 0; i < 100 && !expired; i++) {
        e2e_sleep_ms(100);
        e2e_call(&r, &v.s, "GET", path, v.token, NULL);
        job = json_object_get(r.json, "job");
        expired = json_is_true(json_object_get(job, "html_expired"));
        if (expired) {
            cr_assert(json_is_null(json_object_get(r.json, "html")), "%s", r.body);
            cr_assert_eq(json_integer_value(json_object_get(job, "http_status")), 200);
            cr_assert_gt(json_integer_value(json_object_get(job, "html_length")), 3000);
        }
        e2e_resp_release(&r);
    }
    cr_assert(expired, "the body did not expire within 10 s");
    teardown(&v);
}
