/* A scraping session as three jobs, end to end: ingest, extract and sync each visible and each a
 * stage of one chain; extraction run again with new rules makes the new records from the kept
 * bodies without a single fetch (the shop counts every request), and back again; a sync in diff
 * mode says what is new, unchanged or gone since the last sync of the same source. */
#include "scrapeutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

/* Every request the shop answered so far (its test URLs not counted). */
static long all_hits(struct env *v)
{
    json_t *h = scr_shop_json(v, "/__hits");
    long n = 0;
    const char *k;
    json_t *x;
    json_object_foreach(h, k, x) n += (long)json_integer_value(x);
    json_decref(h);
    return n;
}

static json_t *stage_of(json_t *s, const char *name)
{
    return json_object_get(json_object_get(s, "stages"), name);
}

static void extract_again(struct env *v, const char *id, json_t *extract)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/extract", id);
    struct resp r;
    e2e_call(&r, &v->s, "POST", path, v->token, json_pack("{s:o}", "extract", extract));
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
}

Test(stages, a_session_is_ingest_extract_and_sync, .timeout = 240)
{
    struct env v;
    scr_setup(&v, 120);
    char id[64];
    scr_start_session(&v, json_object(), id);
    json_t *s = scr_wait_session(&v, id, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, 0));
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    size_t planted = json_array_size(json_object_get(manifest, "products"));
    cr_assert_eq(scr_num(s, "materials_processed"), (json_int_t)planted);
    /* three jobs, one chain: ingest is the root, extract its next, sync the extract's */
    json_t *in = stage_of(s, "ingest"), *ex = stage_of(s, "extract"), *sy = stage_of(s, "sync");
    cr_assert_str_eq(scr_str(in, "job_id"), scr_str(s, "background_job_id"));
    cr_assert_str_eq(scr_str(in, "status"), "completed");
    cr_assert_str_eq(scr_str(ex, "status"), "completed");
    cr_assert_str_eq(scr_str(sy, "status"), "completed");
    /* the pages were extracted as they arrived: the extract stage had nothing to read again */
    cr_assert_eq(scr_num(json_object_get(ex, "result"), "pages_extracted"), 0, "%s",
                 json_dumps(ex, 0));
    /* the first sync of a source finds every record new */
    json_t *sr = json_object_get(s, "sync");
    cr_assert_eq(scr_num(sr, "new"), (json_int_t)planted, "%s", json_dumps(sr, 0));
    cr_assert_eq(scr_num(sr, "removed"), 0);
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s/chain", scr_str(s, "background_job_id"));
    struct resp r;
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *chain = json_object_get(r.json, "chain");
    cr_assert_eq(scr_num(chain, "jobs"), 3, "%s", r.body);
    json_t *t2 = json_array_get(json_object_get(json_object_get(chain, "tree"), "children"), 0);
    cr_assert_str_eq(scr_str(t2, "type"), "scrape_extract");
    json_t *t3 = json_array_get(json_object_get(t2, "children"), 0);
    cr_assert_str_eq(scr_str(t3, "type"), "scrape_sync");
    e2e_resp_release(&r);
    json_decref(manifest);
    json_decref(s);
    scr_teardown(&v);
}

/* New rules, and the records are made again from the kept bodies: the shop sees no request. Then
 * the first settings again, and the first records come back. */
Test(stages, extract_again_with_new_rules_fetches_nothing, .timeout = 240)
{
    struct env v;
    scr_setup(&v, 120);
    char id[64];
    scr_start_session(&v, json_object(), id);
    json_t *s = scr_wait_session(&v, id, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed");
    json_int_t pages = scr_num(s, "completed_pages");
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    size_t planted = json_array_size(json_object_get(manifest, "products"));
    json_decref(s);
    long before = all_hits(&v);
    /* rules only: every page with a title, its heading and its price */
    extract_again(&v, id,
                  json_pack("{s:b, s:{s:{s:s}, s:{s:s, s:s}}}", "structured", 0, "rules", "title",
                            "css", "h1", "price", "css", ".price", "type", "number"));
    s = scr_wait_session(&v, id, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, 0));
    cr_assert_eq(scr_num(s, "extraction_generation"), 1);
    json_t *ex = stage_of(s, "extract");
    cr_assert_eq(scr_num(json_object_get(ex, "result"), "pages_extracted"), pages, "%s",
                 json_dumps(ex, 0));
    cr_assert_eq(all_hits(&v), before, "extraction again fetched %ld pages", all_hits(&v) - before);
    json_t *recs = scr_records(&v, id);
    cr_assert_gt(json_array_size(recs), 0);
    cr_assert_eq((json_int_t)json_array_size(recs), scr_num(s, "materials_processed"));
    size_t i, priced = 0;
    json_t *rec;
    json_array_foreach(recs, i, rec)
    {
        json_t *src = json_object_get(rec, "sources");
        cr_assert(json_array_size(src) == 1 &&
                      !strcmp(json_string_value(json_array_get(src, 0)), "rules"),
                  "a record not made by the rules: %s", json_dumps(rec, 0));
        cr_assert_null(json_object_get(rec, "raw"), "an old record stayed: %s", json_dumps(rec, 0));
        cr_assert(json_is_string(json_object_get(rec, "title")), "%s", json_dumps(rec, 0));
        priced += json_is_number(json_object_get(rec, "price"));
    }
    cr_assert_gt(priced, 0, "no page gave a price");
    json_decref(recs);
    json_decref(s);
    /* and back */
    extract_again(&v, id, json_pack("{s:b}", "structured", 1));
    s = scr_wait_session(&v, id, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, 0));
    cr_assert_eq(scr_num(s, "extraction_generation"), 2);
    recs = scr_records(&v, id);
    cr_assert_eq(json_array_size(recs), planted, "%zu records, %zu products planted",
                 json_array_size(recs), planted);
    json_array_foreach(recs, i, rec)
        cr_assert(json_is_string(json_object_get(rec, "sku")), "%s", json_dumps(rec, 0));
    cr_assert_eq(all_hits(&v), before, "extraction again fetched pages");
    /* running, it refuses another; a bad rule is a 400 naming it */
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/extract", id);
    struct resp r;
    e2e_call(&r, &v.s, "POST", path, v.token,
             json_pack("{s:{s:{s:{s:s}}}}", "extract", "rules", "name", "css", "h1["));
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "extract.rules"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", path, v.token, json_pack("{s:i}", "max_pages", 5));
    cr_assert_eq(r.status, 400, "%s", r.body);
    e2e_resp_release(&r);
    json_decref(recs);
    json_decref(s);
    json_decref(manifest);
    scr_teardown(&v);
}

/* Two sessions of one source in diff mode: the second finds what the first delivered unchanged;
 * with fewer categories, the rest is gone, and listed with its last data. */
Test(stages, a_diff_sync_compares_with_the_last_sync_of_the_source, .timeout = 300)
{
    struct env v;
    scr_setup(&v, 120);
    char a[64], b[64];
    scr_start_session(&v, json_pack("{s:{s:s}}", "sync", "mode", "diff"), a);
    json_t *s = scr_wait_session(&v, a, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, 0));
    json_int_t all = scr_num(json_object_get(s, "sync"), "new");
    cr_assert_gt(all, 0);
    json_decref(s);
    scr_start_session(&v, json_pack("{s:{s:s}}", "sync", "mode", "diff"), b);
    s = scr_wait_session(&v, b, 120000);
    json_t *sr = json_object_get(s, "sync");
    cr_assert_eq(scr_num(sr, "unchanged"), all, "%s", json_dumps(sr, 0));
    cr_assert_eq(scr_num(sr, "new"), 0);
    cr_assert_eq(scr_num(sr, "removed"), 0);
    json_decref(s);
    /* the same session, extracted again for one category only, synced again */
    json_t *recs = scr_records(&v, b);
    const char *cat = scr_str(json_array_get(recs, 0), "category");
    cr_assert(*cat, "the shop's products have categories");
    char want[128];
    snprintf(want, sizeof want, "%s", cat);
    json_decref(recs);
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/extract", b);
    struct resp r;
    /* categories are a session setting, not an extraction one: the rules keep one category */
    json_t *cats = json_pack("{s:b}", "structured", 1);
    e2e_call(&r, &v.s, "POST", path, v.token, json_pack("{s:o}", "extract", cats));
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
    s = scr_wait_session(&v, b, 120000);
    sr = json_object_get(s, "sync");
    cr_assert_eq(scr_num(sr, "unchanged"), all, "the same records again: %s", json_dumps(sr, 0));
    json_decref(s);
    /* a third session, of one category: the others are gone since the last sync */
    char c[64];
    scr_start_session(&v, json_pack("{s:{s:s}, s:[s]}", "sync", "mode", "diff", "categories", want),
                      c);
    s = scr_wait_session(&v, c, 120000);
    sr = json_object_get(s, "sync");
    json_int_t kept = scr_num(sr, "unchanged"), gone = scr_num(sr, "removed");
    cr_assert_gt(kept, 0, "%s", json_dumps(sr, 0));
    cr_assert_eq(kept + gone, all, "%s", json_dumps(sr, 0));
    cr_assert_eq(scr_num(sr, "new"), 0);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/changes?change=removed&limit=1000", c);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *ch = json_object_get(r.json, "changes");
    cr_assert_eq((json_int_t)json_array_size(ch), gone, "%s", r.body);
    json_t *one = json_array_get(ch, 0);
    cr_assert(json_is_object(json_object_get(one, "data")), "a removed record keeps its data");
    cr_assert(strcmp(scr_str(json_object_get(one, "data"), "category"), want) != 0,
              "a record of the kept category was removed");
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/changes?change=unchanged&limit=1000", c);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq((json_int_t)json_array_size(json_object_get(r.json, "changes")), kept);
    e2e_resp_release(&r);
    json_decref(s);
    scr_teardown(&v);
}

#define HOOK_SECRET "whook-secret"

static void rx_control(struct origin *rx, const char *query)
{
    struct resp r;
    char path[160];
    snprintf(path, sizeof path, "/control?%s", query);
    e2e_http(&r, rx->base, "POST", path, NULL, "", 0, NULL);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
}

static json_t *job_of(struct env *v, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
    struct resp r;
    e2e_call(&r, &v->s, "GET", path, v->token, NULL);
    OK_STATUS(r, 200);
    json_t *j = json_incref(json_object_get(r.json, "job"));
    e2e_resp_release(&r);
    return j;
}

/* The receiver goes down after two deliveries: the sync fails with its attempts spent, and
 * nothing before it runs again. Up again, the failed sync retried alone delivers from the third
 * batch on: every record arrives exactly once (no webhook-id twice), each signed, and the shop is
 * not asked for a single page. */
Test(stages, a_failed_sync_delivers_again_alone, .timeout = 300)
{
    struct env v;
    scr_setup(&v, 120);
    struct origin rx;
    e2e_sentry(&rx, 0, "unused-key", HOOK_SECRET);
    rx_control(&rx, "mode=500&n=100000&after=2");
    char url[160];
    snprintf(url, sizeof url, "%s/std-hook", rx.base);
    char id[64];
    scr_start_session(&v,
                      json_pack("{s:{s:s, s:{s:s, s:s, s:i}}}", "sync", "mode", "replace",
                                "webhook", "url", url, "secret", HOOK_SECRET, "batch_size", 25),
                      id);
    json_t *s = scr_wait_session(&v, id, 180000);
    cr_assert_str_eq(scr_str(s, "status"), "failed", "%s", json_dumps(s, 0));
    json_t *in = stage_of(s, "ingest"), *ex = stage_of(s, "extract"), *sy = stage_of(s, "sync");
    cr_assert_str_eq(scr_str(in, "status"), "completed");
    cr_assert_str_eq(scr_str(ex, "status"), "completed");
    cr_assert_str_eq(scr_str(sy, "status"), "failed", "%s", json_dumps(sy, 0));
    char ingest_id[64], sync_id[64];
    snprintf(ingest_id, sizeof ingest_id, "%s", scr_str(in, "job_id"));
    snprintf(sync_id, sizeof sync_id, "%s", scr_str(sy, "job_id"));
    json_t *sj = job_of(&v, sync_id);
    cr_assert_str_eq(scr_str(sj, "status"), "failed");
    json_int_t attempts = scr_num(sj, "max_attempts");
    cr_assert_eq(scr_num(sj, "attempt"), attempts, "%s", json_dumps(sj, 0));
    cr_assert(strstr(scr_str(sj, "error"), "webhook: batch 3"), "%s", scr_str(sj, "error"));
    json_decref(sj);
    /* the calls are tracked: two delivered, the third failed after every attempt */
    char path[200];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/webhook-calls", id);
    struct resp r;
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    json_t *calls = json_object_get(r.json, "webhook_calls");
    cr_assert_eq(json_array_size(calls), 3, "%s", r.body);
    cr_assert_str_eq(scr_str(json_array_get(calls, 0), "status"), "success");
    cr_assert_str_eq(scr_str(json_array_get(calls, 1), "status"), "success");
    json_t *third = json_array_get(calls, 2);
    cr_assert_str_eq(scr_str(third, "status"), "failed", "%s", r.body);
    cr_assert_eq(scr_num(third, "response_status"), 500);
    cr_assert_eq(scr_num(third, "retry_count") + 1, attempts,
                 "every attempt tried the third batch again: %s", r.body);
    e2e_resp_release(&r);
    json_decref(s);
    long hits = all_hits(&v);

    /* up again: the failed sync alone is retried, and the chain ends there */
    rx_control(&rx, "mode=ok");
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", sync_id);
    e2e_call(&r, &v.s, "POST", path, v.token, json_object());
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    s = scr_wait_session(&v, id, 120000);
    cr_assert_str_eq(scr_str(s, "status"), "completed", "%s", json_dumps(s, 0));
    cr_assert_eq(all_hits(&v), hits, "a retried sync fetched pages");
    json_t *ij = job_of(&v, ingest_id);
    cr_assert_eq(scr_num(ij, "attempt"), 1, "the ingest ran again: %s", json_dumps(ij, 0));
    json_decref(ij);
    json_t *manifest = scr_shop_json(&v, "/__manifest");
    size_t planted = json_array_size(json_object_get(manifest, "products"));
    json_decref(manifest);
    cr_assert_eq(scr_num(json_object_get(s, "sync"), "new"), (json_int_t)planted);

    /* what the receiver has: each delivery once, every record once, in batches of at most 25 */
    e2e_http(&r, rx.base, "GET", "/received", NULL, NULL, 0, NULL);
    OK_STATUS(r, 200);
    json_t *hooks = json_object_get(r.json, "hooks");
    json_t *ids = json_object(), *keys = json_object();
    size_t i;
    json_t *h;
    json_array_foreach(hooks, i, h)
    {
        const char *d = scr_str(h, "delivery");
        cr_assert(strncmp(d, sync_id, strlen(sync_id)) == 0, "delivery id %s", d);
        cr_assert_null(json_object_get(ids, d), "delivery %s arrived twice", d);
        json_object_set_new(ids, d, json_true());
        json_t *body = json_object_get(h, "body");
        cr_assert_str_eq(scr_str(body, "session_id"), id);
        json_t *recs = json_object_get(body, "records");
        cr_assert_leq(json_array_size(recs), 25);
        size_t k;
        json_t *rec;
        json_array_foreach(recs, k, rec)
        {
            const char *key = scr_str(rec, "key");
            cr_assert_null(json_object_get(keys, key), "record %s delivered twice", key);
            json_object_set_new(keys, key, json_true());
            cr_assert(json_is_object(json_object_get(rec, "data")));
        }
    }
    cr_assert_eq(json_object_size(keys), planted, "%zu of %zu records arrived",
                 json_object_size(keys), planted);
    cr_assert_eq(json_object_size(ids), (planted + 24) / 25);
    json_decref(ids);
    json_decref(keys);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/webhook-calls?status=failed", id);
    e2e_call(&r, &v.s, "GET", path, v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "webhook_calls")), 0, "%s", r.body);
    e2e_resp_release(&r);
    json_decref(s);
    e2e_origin_stop(&rx);
    scr_teardown(&v);
}
