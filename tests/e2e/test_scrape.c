/* Scraping sessions end to end: a real trawl serve crawling the generated shop (tests/e2e/shop.c)
 * on 127.0.0.2, which plants products as JSON-LD, microdata and OpenGraph, behind sitemaps (two
 * gzipped), pagination, redirects, a disallowed area, off-site links, broken, flaky and gone
 * pages. The shop's /__manifest says which products a crawler must find and /__hits which paths
 * it was asked for, so the tests check what came out against what was planted, and what was
 * fetched against what may be. */
#include "parse/tree.h"
#include "scrapeutil.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

static const char *availability_of(const char *planted)
{
    if (!strcmp(planted, "InStock"))
        return "in_stock";
    if (!strcmp(planted, "OutOfStock"))
        return "out_of_stock";
    if (!strcmp(planted, "PreOrder"))
        return "preorder";
    return planted;
}

/* Every product planted is found once, with the fields it was planted with. */
static void check_products(json_t *manifest, json_t *recs)
{
    json_t *products = json_object_get(manifest, "products");
    cr_assert_eq(json_array_size(recs), json_array_size(products),
                 "%zu records for %zu products planted", json_array_size(recs),
                 json_array_size(products));
    size_t i;
    json_t *p;
    json_array_foreach(products, i, p)
    {
        json_t *found = NULL;
        size_t k;
        json_t *rec;
        int times = 0;
        json_array_foreach(recs, k, rec)
        {
            if (!strcmp(scr_str(rec, "sku"), scr_str(p, "sku"))) {
                found = rec;
                times++;
            }
        }
        cr_assert_eq(times, 1, "product %s (%s, planted as %s) found %d times", scr_str(p, "sku"),
                     scr_str(p, "url"), scr_str(p, "planted"), times);
        const char *planted = scr_str(p, "planted");
        static const char *const fields[] = {"name",     "brand", "material", "color",
                                             "currency", "url",   "category"};
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            if (!json_object_get(p, fields[f]))
                continue;
            cr_assert_str_eq(scr_str(found, fields[f]), scr_str(p, fields[f]),
                             "product %s (%s): %s is '%s', planted '%s'", scr_str(p, "sku"),
                             planted, fields[f], scr_str(found, fields[f]), scr_str(p, fields[f]));
        }
        double want = json_number_value(json_object_get(p, "price"));
        double got = json_number_value(json_object_get(found, "price"));
        cr_assert(got > want - 0.001 && got < want + 0.001, "product %s (%s): price %f, planted %f",
                  scr_str(p, "sku"), planted, got, want);
        cr_assert_str_eq(scr_str(found, "availability"),
                         availability_of(scr_str(p, "availability")), "product %s (%s)",
                         scr_str(p, "sku"), planted);
        /* every planted image, absolute */
        json_t *img;
        size_t m;
        json_array_foreach(json_object_get(p, "images"), m, img)
        {
            bool have = false;
            size_t q;
            json_t *g;
            json_array_foreach(json_object_get(found, "images"), q, g) have =
                have || json_equal(g, img);
            cr_assert(have, "product %s (%s): image %s missing", scr_str(p, "sku"), planted,
                      json_string_value(img));
        }
        json_t *dims = json_object_get(p, "dimensions");
        const char *dk;
        json_t *dv;
        json_object_foreach(dims, dk, dv)
        {
            cr_assert_str_eq(scr_str(json_object_get(found, "dimensions"), dk),
                             json_string_value(dv), "product %s (%s): dimensions.%s",
                             scr_str(p, "sku"), planted, dk);
        }
        cr_assert(json_is_object(json_object_get(found, "raw")) ||
                      json_is_array(json_object_get(found, "raw")),
                  "product %s: the raw structured data is missing", scr_str(p, "sku"));
    }
}

static long hits(struct env *v, const char *path)
{
    return e2e_origin_hits(&v->shop, path);
}

/* How often a crawl that reads path once asks for it: flaky pages answer 500 the first time. */
static long fetches_of(json_t *manifest, const char *path)
{
    size_t k;
    json_t *f;
    json_array_foreach(json_object_get(manifest, "flaky"), k, f)
    {
        if (!strcmp(json_string_value(f), path))
            return 2;
    }
    return 1;
}

/* Wait until the session has read at least n pages (ms at most). */
static void wait_pages_done(struct env *v, const char *id, json_int_t n, int64_t ms)
{
    for (int64_t t = 0;; t += 50) {
        json_t *s = scr_get_session(v, id);
        json_int_t done = scr_num(s, "completed_pages");
        json_decref(s);
        if (done >= n)
            return;
        cr_assert_lt(t, ms, "%lld pages read after %lld ms: %s", (long long)done, (long long)ms,
                     e2e_serve_log(&v->s));
        e2e_sleep_ms(50);
    }
}

Test(scrape, finds_every_planted_product_once_and_nothing_it_must_not_fetch, .timeout = 120)
{
    struct env v;
    scr_setup(&v, 60);
    char id[64];
    scr_start_session(
        &v, json_pack("{s:i, s:i, s:i}", "max_pages", 1000, "max_depth", 10, "concurrency", 4), id);
    json_t *s = scr_wait_session(&v, id, 90000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    cr_assert(json_real_value(json_object_get(s, "progress_percentage")) == 100.0, "%s",
              json_dumps(s, JSON_COMPACT));
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    json_t *recs = scr_records(&v, id);
    check_products(manifest, recs);
    cr_assert_eq(scr_num(s, "materials_processed"), (json_int_t)json_array_size(recs));
    /* the pages with a JSON-LD block that is not JSON say so, and the session counts them */
    json_int_t invalid = (json_int_t)json_array_size(json_object_get(manifest, "invalid_jsonld"));
    cr_assert_gt(invalid, 0);
    cr_assert_geq(scr_num(s, "warnings"), invalid, "%s", json_dumps(s, JSON_COMPACT));

    /* broken pages (500 every time) and gone ones (404) failed; nothing else did */
    json_int_t broken = (json_int_t)json_array_size(json_object_get(manifest, "broken"));
    json_int_t gone = (json_int_t)json_array_size(json_object_get(manifest, "gone"));
    cr_assert_eq(scr_num(s, "failed_pages"), broken + gone, "%s", json_dumps(s, JSON_COMPACT));
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(manifest, "broken"), i, p)
    {
        cr_assert_eq(hits(&v, json_string_value(p)), 3, "%s: tried 3 times", json_string_value(p));
    }
    /* flaky pages (500 once) were tried again and their products are among those found */
    json_array_foreach(json_object_get(manifest, "flaky"), i, p)
    {
        cr_assert_eq(hits(&v, json_string_value(p)), 2, "%s", json_string_value(p));
    }
    /* the disallowed area, the files that are not pages and the off-site links: never fetched */
    json_array_foreach(json_object_get(manifest, "disallowed"), i, p)
    {
        cr_assert_eq(hits(&v, json_string_value(p)), 0, "%s was fetched", json_string_value(p));
    }
    json_array_foreach(json_object_get(manifest, "skip"), i, p)
    {
        cr_assert_eq(hits(&v, json_string_value(p)), 0, "%s was fetched", json_string_value(p));
    }
    struct resp r;
    char path[256];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?limit=1000", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    int warned = 0, with_lastmod = 0;
    json_array_foreach(json_object_get(r.json, "pages"), i, p)
    {
        cr_assert(strncmp(scr_str(p, "url"), v.shop.base, strlen(v.shop.base)) == 0,
                  "an off-site page is in the session: %s", scr_str(p, "url"));
        warned +=
            !strcmp(scr_str(p, "status"), "done") && !strncmp(scr_str(p, "error"), "warning: ", 9);
        with_lastmod += scr_str(p, "lastmod")[0] != 0;
    }
    cr_assert_eq(warned, invalid, "%d pages with a warning, %lld planted", warned,
                 (long long)invalid);
    cr_assert_gt(with_lastmod, 0, "no page has the lastmod of its sitemap");
    e2e_resp_release(&r);
    /* every product page was fetched once (flaky ones twice, by design) */
    json_array_foreach(json_object_get(manifest, "products"), i, p)
    {
        const char *u = scr_str(p, "url") + strlen(v.shop.base);
        long h = hits(&v, u);
        cr_assert_eq(h, fetches_of(manifest, u), "%s fetched %ld times", u, h);
    }
    json_decref(recs);
    json_decref(manifest);
    json_decref(s);
    scr_teardown(&v);
}

Test(scrape, pages_filters_and_exports, .timeout = 120)
{
    struct env v;
    scr_setup(&v, 30);
    char id[64];
    scr_start_session(&v,
                      json_pack("{s:i, s:[s], s:{s:[s,s]}}", "max_pages", 500, "exclude_paths",
                                "^/category/beds", "extract", "formats", "markdown", "metadata"),
                      id);
    json_t *s = scr_wait_session(&v, id, 90000);
    cr_assert_str_eq(scr_str(s, "status"), "completed");
    cr_assert_eq(hits(&v, "/category/beds"), 0, "an excluded path was fetched");

    struct resp r;
    char path[256];
    /* failed pages, and only those */
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?status=failed", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *pages = json_object_get(r.json, "pages");
    cr_assert_eq((json_int_t)json_array_size(pages), scr_num(s, "failed_pages"));
    size_t i;
    json_t *p;
    json_array_foreach(pages, i, p)
    {
        cr_assert_str_eq(scr_str(p, "status"), "failed");
        cr_assert(scr_str(p, "error")[0], "a failed page without an error: %s", scr_str(p, "url"));
    }
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?status=bogus", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 400);
    e2e_resp_release(&r);

    /* a done product page keeps the formats asked for */
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?status=done&limit=1000", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_int_t pid = 0;
    json_array_foreach(json_object_get(r.json, "pages"), i, p)
    {
        char want[128];
        snprintf(want, sizeof want, "%s/product/1", v.shop.base);
        if (!strcmp(scr_str(p, "url"), want))
            pid = scr_num(p, "id");
    }
    e2e_resp_release(&r);
    cr_assert_gt(pid, 0, "/product/1 is not among the done pages");
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages/%lld/content", id, (long long)pid);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *content = json_object_get(r.json, "content");
    cr_assert(strlen(scr_str(content, "markdown")) > 20, "%s", r.body);
    cr_assert(scr_str(json_object_get(content, "metadata"), "title")[0], "%s", r.body);
    e2e_resp_release(&r);

    /* CSV: a header and a line per record; JSON: an array */
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=csv", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert(strncmp(r.body, "url,name,sku,", 13) == 0, "%.200s", r.body);
    size_t lines = 0;
    for (size_t k = 0; k < r.len; k++)
        lines += r.body[k] == '\n';
    e2e_resp_release(&r);
    json_t *recs = scr_records(&v, id);
    cr_assert_geq(lines, json_array_size(recs) + 1, "CSV lines %zu for %zu records", lines,
                  json_array_size(recs));
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=json", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert(json_is_array(r.json), "%.200s", r.body);
    cr_assert_eq(json_array_size(r.json), json_array_size(recs));
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=xml", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 400);
    e2e_resp_release(&r);
    json_decref(recs);

    /* the list, and another workspace sees nothing */
    e2e_call(&r, &v.s, "GET", "/v1/scraping-sessions?limit=5", v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "sessions")), 1);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "total")), 1);
    e2e_resp_release(&r);
    const char *other = e2e_token(v.s.db, "elsewhere");
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s", id);
    e2e_call(&r, &v.s, "GET", path, other, NULL);
    OK_STATUS(r, 404);
    e2e_resp_release(&r);
    json_decref(s);
    scr_teardown(&v);
}

Test(scrape, bad_settings_get_clear_errors, .timeout = 60)
{
    struct env v;
    scr_setup(&v, 10);
    static const struct {
        const char *body, *needle;
    } cases[] = {
        {"{}", "source_url is required"},
        {"{\"source_url\":\"ftp://x/\"}", "source_url"},
        {"{\"source_url\":\"http://127.0.0.2/\",\"mode\":\"all\"}", "mode"},
        {"{\"source_url\":\"http://127.0.0.2/\",\"max_pages\":0}", "max_pages"},
        {"{\"source_url\":\"http://127.0.0.2/\",\"include_paths\":[\"(\"]}", "include_paths[0]"},
        {"{\"source_url\":\"http://127.0.0.2/\",\"maxPages\":5}", "unknown setting \"maxPages\""},
        {"{\"source_url\":\"http://127.0.0.2/\",\"extract\":{\"formats\":[\"pdf\"]}}",
         "extract.formats[0]"},
        {"{\"source_url\":\"http://127.0.0.2/\",\"extract\":{\"rules\":{\"name\":{\"css\":\"h1[\"}}}}",
         "extract.rules"},
        {"[1]", "JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct resp r;
        e2e_http(&r, v.s.base, "POST", "/v1/scraping-sessions", v.token, cases[i].body,
                 strlen(cases[i].body), NULL);
        cr_assert_eq(r.status, 400, "%s: HTTP %ld %s", cases[i].body, r.status, r.body);
        cr_assert(strstr(e2e_err(&r), cases[i].needle) != NULL, "%s: '%s' lacks '%s'",
                  cases[i].body, e2e_err(&r), cases[i].needle);
        e2e_resp_release(&r);
    }
    struct resp r;
    e2e_call(&r, &v.s, "GET", "/v1/scraping-sessions/0190a3c2-0000-7000-8000-000000000000", v.token,
             NULL);
    OK_STATUS(r, 404);
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", "/v1/jobs", v.token, json_pack("{s:s}", "type", "web_scraping"));
    OK_STATUS(r, 400);
    e2e_resp_release(&r);
    scr_teardown(&v);
}

/* kill -9 in the middle of a session, start again: it ends as if nothing happened, and no page
 * that was done before the kill is fetched again. */
Test(scrape, kill_9_mid_session_resumes_without_loss_or_refetch, .timeout = 180)
{
    struct env v;
    scr_setup(&v, 200);
    char id[64];
    /* slow enough to be killed in the middle */
    scr_start_session(&v,
                      json_pack("{s:i, s:i, s:i, s:i}", "max_pages", 2000, "max_depth", 20,
                                "concurrency", 2, "delay_ms", 10),
                      id);
    wait_pages_done(&v, id, 40, 60000);
    kill(v.s.pid, SIGKILL);
    e2e_serve_wait(&v.s, 10000);

    /* what was done at the kill, read with nothing running */
    const char *idle[] = {
        "--allow-private", "127.0.0.2/32", "--workers", "0", "--crawl-workers", "0", NULL};
    char db[1100];
    snprintf(db, sizeof db, "%s", v.s.db);
    e2e_serve(&v.s, db, idle);
    char path[256];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?status=done&limit=1000", id);
    struct resp r;
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *done_before = json_incref(json_object_get(r.json, "pages"));
    e2e_resp_release(&r);
    cr_assert_geq(json_array_size(done_before), 40);
    json_t *s = scr_get_session(&v, id);
    cr_assert_str_neq(scr_str(s, "status"), "completed", "the session ended before the kill");
    json_decref(s);
    cr_assert_eq(e2e_serve_stop(&v.s, 20000), 0);

    scr_start_serve(&v, db);
    s = scr_wait_session(&v, id, 150000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    cr_assert_gt(scr_num(s, "attempt"), 1, "the job was not run again: %s",
                 json_dumps(s, JSON_COMPACT));
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    json_t *recs = scr_records(&v, id);
    check_products(manifest, recs);
    /* the pages done before the kill were fetched once */
    size_t i;
    json_t *p;
    json_array_foreach(done_before, i, p)
    {
        const char *u = scr_str(p, "url") + strlen(v.shop.base);
        if (strchr(u, '?'))
            continue; /* the shop counts paths without their query */
        long h = hits(&v, u);
        cr_assert_eq(h, fetches_of(manifest, u), "%s, done before the kill, was fetched %ld times",
                     u, h);
    }
    json_decref(recs);
    json_decref(manifest);
    json_decref(done_before);
    json_decref(s);
    scr_teardown(&v);
}

/* retry-failed fetches the failed pages again, and only them; cancel stops a running session. */
Test(scrape, retry_failed_refetches_only_the_failed_pages, .timeout = 120)
{
    struct env v;
    scr_setup(&v, 30);
    char id[64];
    scr_start_session(&v, json_pack("{s:i}", "max_pages", 500), id);
    json_t *s = scr_wait_session(&v, id, 90000);
    cr_assert_str_eq(scr_str(s, "status"), "completed");
    json_int_t failed = scr_num(s, "failed_pages"), completed = scr_num(s, "completed_pages");
    cr_assert_gt(failed, 0);
    char old_job[64];
    snprintf(old_job, sizeof old_job, "%s", scr_str(s, "background_job_id"));
    json_decref(s);
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    struct resp r;
    e2e_http(&r, v.shop.base, "GET", "/__reset", NULL, NULL, 0, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);

    char path[256];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/retry-failed", id);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "requeued")), failed, "%s", r.body);
    json_t *ns = json_object_get(r.json, "session");
    cr_assert_str_neq(scr_str(ns, "background_job_id"), old_job);
    cr_assert_eq(scr_num(ns, "failed_pages"), 0, "%s", r.body);
    e2e_resp_release(&r);
    s = scr_wait_session(&v, id, 90000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    cr_assert_eq(
        scr_num(s, "failed_pages"), failed, "the same pages fail again: %lld, not %lld: %s",
        (long long)scr_num(s, "failed_pages"), (long long)failed, json_dumps(s, JSON_COMPACT));
    cr_assert_eq(scr_num(s, "completed_pages"), completed, "%s", json_dumps(s, JSON_COMPACT));
    json_decref(s);
    /* the only paths asked for: the failed pages (3 attempts each), and robots.txt */
    json_t *all = scr_shop_json(&v, "/__hits");
    const char *k;
    json_t *n;
    json_t *expect = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(manifest, "broken"), i, p)
        json_object_set_new(expect, json_string_value(p), json_integer(3));
    json_array_foreach(json_object_get(manifest, "gone"), i, p)
        json_object_set_new(expect, json_string_value(p), json_integer(1));
    json_object_foreach(all, k, n)
    {
        if (!strcmp(k, "/robots.txt"))
            continue;
        json_t *want = json_object_get(expect, k);
        cr_assert(want != NULL, "%s was fetched again, %lld times, though it had not failed", k,
                  (long long)json_integer_value(n));
        cr_assert_eq(json_integer_value(n), json_integer_value(want), "%s: %lld fetches", k,
                     (long long)json_integer_value(n));
    }
    json_decref(expect);
    json_decref(all);
    json_decref(manifest);

    /* a session that runs is cancelled; one that has ended cannot be */
    char id2[64];
    scr_start_session(
        &v, json_pack("{s:i, s:i, s:i}", "max_pages", 500, "concurrency", 1, "delay_ms", 300), id2);
    wait_pages_done(&v, id2, 1, 30000);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/cancel", id2);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    s = scr_wait_session(&v, id2, 30000);
    cr_assert_str_eq(scr_str(s, "status"), "cancelled");
    json_decref(s);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 409);
    e2e_resp_release(&r);
    /* retry-failed while a session runs is refused, with what to do */
    char id3[64];
    scr_start_session(
        &v, json_pack("{s:i, s:i, s:i}", "max_pages", 500, "concurrency", 1, "delay_ms", 300), id3);
    for (int t = 0;; t += 50) {
        s = scr_get_session(&v, id3);
        bool running = !strcmp(scr_str(s, "status"), "scraping");
        json_decref(s);
        if (running)
            break;
        cr_assert_lt(t, 30000, "the session did not start");
        e2e_sleep_ms(50);
    }
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/retry-failed", id3);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 409);
    cr_assert(strstr(e2e_err(&r), "running") != NULL, "%s", r.body);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/cancel", id3);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    scr_teardown(&v);
}

/* trawl scrape runs a session from the command line and writes its records. */
Test(scrape, the_command_line_writes_the_records, .timeout = 120)
{
    struct env v;
    scr_setup(&v, 30);
    char server[128], token[200], url[128], out[1200];
    snprintf(server, sizeof server, "TRAWL_SERVER=%s", v.s.base);
    snprintf(token, sizeof token, "TRAWL_TOKEN=%s", v.token);
    snprintf(url, sizeof url, "%s/", v.shop.base);
    const char *env[] = {server, token, NULL};
    snprintf(out, sizeof out, "%s", e2e_path("products.csv"));
    struct run r;
    E2E_RUN(&r, env, "scrape", url, "--max-pages", "300", "-o", out);
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.err, "completed") != NULL, "%s", r.err);
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    size_t planted = json_array_size(json_object_get(manifest, "products"));
    json_decref(manifest);
    FILE *f = fopen(out, "r");
    cr_assert(f != NULL, "%s was not written", out);
    char line[8192];
    size_t lines = 0;
    cr_assert(fgets(line, sizeof line, f) != NULL);
    cr_assert(strncmp(line, "url,name,sku,", 13) == 0, "%s", line);
    while (fgets(line, sizeof line, f))
        lines += strchr(line, '\n') != NULL;
    fclose(f);
    cr_assert_eq(lines, planted, "%zu CSV lines for %zu products", lines, planted);
    char part[1300];
    snprintf(part, sizeof part, "%s.part", out);
    cr_assert_neq(access(part, F_OK), 0, "the .part file was left behind");

    /* bad usage and a server that is not there say so */
    E2E_RUN(&r, env, "scrape", url, "--mode", "all");
    cr_assert_eq(r.status, 2, "%s", r.err);
    cr_assert(strstr(r.err, "--mode must be sitemap, crawl or both") != NULL, "%s", r.err);
    E2E_RUN(&r, env, "scrape");
    cr_assert_eq(r.status, 2, "%s", r.err);
    const char *nowhere[] = {"TRAWL_SERVER=http://127.0.0.1:1", token, NULL};
    E2E_RUN(&r, nowhere, "scrape", url);
    cr_assert_eq(r.status, 1, "%s", r.err);
    cr_assert(strstr(r.err, "cannot reach the server") != NULL, "%s", r.err);
    scr_teardown(&v);
}

/* A start page that leads nowhere the session may go, or a site that is down: the session fails,
 * and says why. A page that is broken in other ways is read. */
Test(scrape, a_start_page_that_leads_nowhere_fails_with_the_reason, .timeout = 120)
{
    struct env v;
    e2e_origin(&v.shop, NULL);
    scr_start_serve(&v, NULL);
    snprintf(v.token, sizeof v.token, "%s", e2e_token(v.s.db, "shop"));
    static const struct {
        const char *path, *needle;
    } cases[] = {
        {"/redirect?to=http://127.0.0.1:1/",
         "redirect: 302 to http://127.0.0.1:1/, which is off-site"},
        {"/redirect?to=http://offsite.example/", "which is off-site"},
        {"/status?code=404", "404"},
        {"/gzip-bomb?mb=1024", "too_large"},
        {"/content-type?type=application/pdf", "not_html"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char url[256];
        snprintf(url, sizeof url, "%s%s", v.shop.base, cases[i].path);
        struct resp r;
        e2e_call(&r, &v.s, "POST", "/v1/scraping-sessions", v.token,
                 json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"));
        OK_STATUS(r, 201);
        char id[64];
        snprintf(id, sizeof id, "%s", scr_str(json_object_get(r.json, "session"), "id"));
        e2e_resp_release(&r);
        json_t *s = scr_wait_session(&v, id, 60000);
        cr_assert_str_eq(scr_str(s, "status"), "failed", "%s: %s", cases[i].path,
                         json_dumps(s, JSON_COMPACT));
        cr_assert(strstr(scr_str(s, "error_message"), "no page could be read") != NULL &&
                      strstr(scr_str(s, "error_message"), cases[i].needle) != NULL,
                  "%s: '%s' lacks '%s'", cases[i].path, scr_str(s, "error_message"),
                  cases[i].needle);
        json_decref(s);
    }
    /* nothing was fetched at the addresses redirected to */
    cr_assert_eq(e2e_origin_hits(&v.shop, "/redirect"), 2);
    /* invalid UTF-8 and control characters: read, not refused */
    char url[256];
    snprintf(url, sizeof url, "%s/invalid-utf8", v.shop.base);
    struct resp r;
    e2e_call(&r, &v.s, "POST", "/v1/scraping-sessions", v.token,
             json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"));
    OK_STATUS(r, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", scr_str(json_object_get(r.json, "session"), "id"));
    e2e_resp_release(&r);
    json_t *s = scr_wait_session(&v, id, 60000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    cr_assert_eq(scr_num(s, "completed_pages"), 1);
    json_decref(s);
    /* more nodes than a tree keeps (8 MB of <br>): read as far as that, and the page says so */
    snprintf(url, sizeof url, "%s/tags?n=%d", v.shop.base, TREE_MAX_NODES + 100000);
    scr_start_session(&v, json_pack("{s:s, s:s}", "source_url", url, "mode", "crawl"), id);
    s = scr_wait_session(&v, id, 60000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    json_decref(s);
    char path[200];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *page = json_array_get(json_object_get(r.json, "pages"), 0);
    cr_assert_str_eq(scr_str(page, "status"), "done", "%s", json_dumps(r.json, JSON_COMPACT));
    cr_assert(strstr(scr_str(page, "error"), "warning: the page has more than 2000000 elements") ==
                  scr_str(page, "error"),
              "%s", scr_str(page, "error"));
    e2e_resp_release(&r);
    scr_teardown(&v);
}

/* max_pages holds for pages found by links too, and the pages beyond it are never fetched. */
Test(scrape, max_pages_is_a_hard_limit, .timeout = 60)
{
    struct env v;
    scr_setup(&v, 60);
    char id[64];
    scr_start_session(
        &v, json_pack("{s:i, s:s, s:i}", "max_pages", 12, "mode", "crawl", "max_depth", 10), id);
    json_t *s = scr_wait_session(&v, id, 30000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    cr_assert_leq(scr_num(s, "total_pages") + scr_num(s, "skipped_pages"), 12, "%s",
                  json_dumps(s, JSON_COMPACT));
    json_t *all = scr_shop_json(&v, "/__hits");
    long fetched = 0;
    const char *k;
    json_t *n;
    json_object_foreach(all, k, n)
    {
        if (strcmp(k, "/robots.txt") != 0)
            fetched += (long)json_integer_value(n);
    }
    json_decref(all);
    /* every page at most 3 times (the broken ones), and no more pages than the limit */
    cr_assert_leq(fetched, 12 * 3, "%ld fetches for a 12-page session", fetched);
    json_decref(s);
    scr_teardown(&v);
}

/* A page that plants spreadsheet formulas in its product data: the CSV export makes them text
 * (a leading '), the JSON export keeps the values as they are. */
Test(scrape, csv_export_defuses_formulas, .timeout = 60)
{
    struct env v;
    e2e_origin(&v.shop, NULL);
    scr_start_serve(&v, NULL);
    snprintf(v.token, sizeof v.token, "%s", e2e_token(v.s.db, "shop"));
    static const char page[] =
        "<html><head><title>x</title><script type=\"application/ld+json\">"
        "{\"@context\":\"https://schema.org\",\"@type\":\"Product\",\"name\":"
        "\"=HYPERLINK(\\\"http://evil.example/\\\",\\\"click\\\")\",\"sku\":\"+1-SKU\","
        "\"brand\":\"@SUM(A1)\",\"description\":\"-2+3\",\"color\":\"plain\"}"
        "</script></head><body><h1>x</h1></body></html>";
    char *enc = curl_easy_escape(NULL, page, 0);
    char url[2048];
    snprintf(url, sizeof url, "%s/status?code=200&body=%s", v.shop.base, enc);
    curl_free(enc);
    struct resp r;
    e2e_call(&r, &v.s, "POST", "/v1/scraping-sessions", v.token,
             json_pack("{s:s, s:s, s:i}", "source_url", url, "mode", "crawl", "max_pages", 1));
    OK_STATUS(r, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", scr_str(json_object_get(r.json, "session"), "id"));
    e2e_resp_release(&r);
    json_t *s = scr_wait_session(&v, id, 30000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, JSON_COMPACT));
    json_decref(s);
    char path[256];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=csv", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert(strstr(r.body, ",\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"click\"\")\",") !=
                  NULL,
              "%s", r.body);
    cr_assert(strstr(r.body, ",'+1-SKU,") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, ",'@SUM(A1),") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, ",'-2+3,") != NULL, "%s", r.body);
    cr_assert(strstr(r.body, ",plain,") != NULL, "%s", r.body);
    e2e_resp_release(&r);
    json_t *recs = scr_records(&v, id);
    cr_assert_eq(json_array_size(recs), 1);
    cr_assert_str_eq(scr_str(json_array_get(recs, 0), "sku"), "+1-SKU", "JSON keeps the value");
    json_decref(recs);
    scr_teardown(&v);
}
