/* Feed imports end to end: a real trawl serve importing feeds the tests write (a Google Merchant
 * RSS feed, a semicolon CSV in windows-1252 with a BOM, NDJSON), uploaded as raw bodies and as
 * multipart forms, and delivering the products to the Standard Webhooks receiver of the tests
 * (tests/e2e/hookrx.c), which checks every signature, de-duplicates by webhook-id, and can be
 * down, slow, or answer 429 and 500 on request. What the tests know about each feed (its right
 * mappings, its products' numbers and values) is checked against what came out. */
#include "e2eutil.h"

#include "base/buf.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* whsec_ + base64("trawl-import-test-key") */
#define SECRET "whsec_dHJhd2wtaW1wb3J0LXRlc3Qta2V5"

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

struct imp {
    struct serve s;
    struct origin rx;
    char token[128];
    char dir[1200]; /* the import folder */
};

static void imp_serve(struct imp *v, const char *db, const char *const *extra)
{
    const char *args[32] = {"--allow-private", "127.0.0.2/32", "--import-dir", v->dir,
                            /* a job that was running at a kill -9 is noticed soon */
                            "--type", "xml_import.lease_ms=2000", "--sweep", "100",
                            /* retries of a failed delivery come soon */
                            "--type", "xml_import.backoff_base_ms=200", "--type",
                            "xml_import.backoff_cap_ms=1000"};
    size_t n = 12;
    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    e2e_serve(&v->s, db, args);
}

static void imp_setup_with(struct imp *v, const char *const *extra)
{
    memset(v, 0, sizeof *v);
    snprintf(v->dir, sizeof v->dir, "%s", e2e_path("imports"));
    e2e_hookrx(&v->rx, 0, SECRET);
    imp_serve(v, NULL, extra);
    snprintf(v->token, sizeof v->token, "%s", e2e_token(v->s.db, "acme"));
}

static void imp_setup(struct imp *v)
{
    imp_setup_with(v, NULL);
}

static void imp_teardown(struct imp *v)
{
    e2e_serve_stop(&v->s, 20000);
    e2e_origin_stop(&v->rx);
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* query for an upload: the receiver, the secret and more (k=v&...), escaped */
static void hook_query(const struct imp *v, const char *more, char *out, size_t n)
{
    char url[128];
    snprintf(url, sizeof url, "%s/hook", v->rx.base);
    char *eu = curl_easy_escape(NULL, url, 0), *es = curl_easy_escape(NULL, SECRET, 0);
    snprintf(out, n, "webhook_url=%s&webhook_secret=%s%s%s", eu, es, more ? "&" : "",
             more ? more : "");
    curl_free(eu);
    curl_free(es);
}

/* Upload data as the raw body with the options in query; the answer's import id into id. */
static void upload(struct imp *v, const char *query, const char *data, size_t len,
                   const char *ctype, char id[64])
{
    char path[2048];
    snprintf(path, sizeof path, "/v1/imports%s%s", query ? "?" : "", query ? query : "");
    struct resp r;
    e2e_http(&r, v->s.base, "POST", path, v->token, data, len,
             ctype ? ctype : "application/octet-stream");
    OK_STATUS(r, 201);
    json_t *im = json_object_get(r.json, "import");
    cr_assert_eq(num(r.json, "uploaded_bytes"), (json_int_t)len);
    snprintf(id, 64, "%s", str(im, "id"));
    cr_assert_eq(strlen(id), 36, "%s", r.body);
    e2e_resp_release(&r);
}

static json_t *get_import(struct imp *v, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    struct resp r;
    e2e_call(&r, &v->s, "GET", path, v->token, NULL);
    OK_STATUS(r, 200);
    json_t *im = json_incref(json_object_get(r.json, "import"));
    e2e_resp_release(&r);
    return im;
}

static bool settled(const char *st)
{
    return !strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled") ||
           !strcmp(st, "awaiting_mappings");
}

/* Poll the import until it ends or waits for its mappings (ms at most). */
static json_t *wait_import(struct imp *v, const char *id, int64_t ms)
{
    int64_t end = e2e_ms() + ms;
    for (;;) {
        json_t *im = get_import(v, id);
        cr_assert_leq(num(im, "delivered_products"), num(im, "processed_products") + 0,
                      "more delivered than kept: %s", json_dumps(im, JSON_COMPACT));
        if (settled(str(im, "status")))
            return im;
        cr_assert_lt(e2e_ms(), end, "import %s did not end: %s\n%s", id,
                     json_dumps(im, JSON_COMPACT), e2e_serve_log(&v->s));
        json_decref(im);
        e2e_sleep_ms(100);
    }
}

/* GET /v1/imports/{id}{tail}'s JSON. */
static json_t *get_json(struct imp *v, const char *id, const char *tail)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/imports/%s%s", id, tail);
    struct resp r;
    e2e_call(&r, &v->s, "GET", path, v->token, NULL);
    OK_STATUS(r, 200);
    json_t *j = json_incref(r.json);
    e2e_resp_release(&r);
    return j;
}

/* The import's records, from its JSON Lines export. */
static json_t *records(struct imp *v, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/imports/%s/records", id);
    struct resp r;
    e2e_http(&r, v->s.base, "GET", path, v->token, NULL, 0, NULL);
    OK_STATUS(r, 200);
    json_t *arr = json_array();
    char *p = r.body;
    while (p && *p) {
        char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "the export's last line is cut");
        json_t *rec = json_loadb(p, (size_t)(nl - p), 0, NULL);
        cr_assert_not_null(rec, "not JSON: %.*s", (int)(nl - p), p);
        json_array_append_new(arr, rec);
        p = nl + 1;
    }
    e2e_resp_release(&r);
    return arr;
}

/* The receiver got products 1..n, each once after de-duplication, every signature good. */
static void check_received(struct imp *v, json_int_t n)
{
    json_t *rx = e2e_hookrx_received(&v->rx, true);
    char *text = json_dumps(rx, JSON_COMPACT);
    cr_assert_eq(num(rx, "products"), n, "%.2000s", text);
    cr_assert_eq(num(rx, "dup_products"), 0, "%.2000s", text);
    cr_assert_eq(num(rx, "repeated_in_delivery"), 0, "%.2000s", text);
    cr_assert_eq(num(rx, "bad_signatures"), 0, "%.2000s", text);
    cr_assert_eq(num(rx, "malformed"), 0, "%.2000s", text);
    cr_assert_eq(num(rx, "duplicates_mismatched"), 0, "a webhook-id came again with another body");
    cr_assert_eq(num(rx, "numbers_min"), 1);
    cr_assert_eq(num(rx, "numbers_max"), n);
    free(text);
    json_decref(rx);
}

/* The suggested mapping of target is exactly field. */
static void check_mapped(json_t *maps, const char *target, const char *field)
{
    json_t *m = json_object_get(maps, target);
    if (json_is_array(m))
        m = json_array_get(m, 0);
    cr_assert(json_is_string(m) && !strcmp(json_string_value(m), field),
              "%s is mapped from %s, not %s: %s", target,
              json_is_string(m) ? json_string_value(m) : "nothing", field,
              json_dumps(maps, JSON_COMPACT));
}

/* ---- feeds ---- */

/* EAN-13 of n, with its check digit. */
static void ean13(long long n, char out[14])
{
    snprintf(out, 14, "400%09lld", n % 1000000000LL);
    int sum = 0;
    for (int i = 0; i < 12; i++)
        sum += (out[i] - '0') * (i % 2 ? 3 : 1);
    out[12] = (char)('0' + (10 - sum % 10) % 10);
    out[13] = 0;
}

static void merchant_feed(struct buf *b, int n)
{
    buf_adds(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<rss version=\"2.0\" xmlns:g=\"http://base.google.com/ns/1.0\">\n<channel>\n"
                "<title>Acme furniture</title><link>https://acme.example</link>\n");
    for (int i = 1; i <= n; i++) {
        char e[14];
        ean13(i, e);
        buf_addf(b,
                 "<item><g:id>ACME-%d</g:id><title>Chair &amp; stool %d</title>"
                 "<description>Oak chair number %d</description>"
                 "<link>https://acme.example/p/%d</link>"
                 "<g:image_link>https://acme.example/img/%d.jpg</g:image_link>"
                 "<g:price>%d.50 EUR</g:price><g:availability>in stock</g:availability>"
                 "<g:brand>Acme</g:brand><g:gtin>%s</g:gtin></item>\n",
                 i, i, i, i, i, i, e);
    }
    buf_adds(b, "</channel>\n</rss>\n");
}

/* ---- detection and delivery of each format ---- */

Test(import, merchant_feed_detected_mapped_and_delivered_once, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    struct buf feed;
    buf_init(&feed, 0);
    merchant_feed(&feed, 1200);
    char q[1024], id[64];
    hook_query(&v, "source_name=acme-merchant", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "application/xml", id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_str_eq(str(im, "import_type"), "xml");
    cr_assert_str_eq(str(im, "source_name"), "acme-merchant");
    cr_assert_eq(num(im, "processed_products"), 1200);
    cr_assert_eq(num(im, "failed_products"), 0);
    cr_assert_eq(num(im, "delivered_products"), 1200);
    json_t *maps = json_object_get(im, "field_mappings");
    check_mapped(maps, "sku", "g:id");
    check_mapped(maps, "name", "title");
    check_mapped(maps, "price", "g:price");
    check_mapped(maps, "url", "link");
    check_mapped(maps, "images", "g:image_link");
    check_mapped(maps, "gtin", "g:gtin");
    check_mapped(maps, "brand", "g:brand");
    check_received(&v, 1200);

    /* the products as they went out and as exported */
    json_t *recs = records(&v, id);
    cr_assert_eq(json_array_size(recs), 1200);
    json_t *r7 = json_array_get(recs, 6);
    cr_assert_eq(num(r7, "number"), 7);
    cr_assert_str_eq(str(r7, "sku"), "ACME-7");
    cr_assert_str_eq(str(r7, "name"), "Chair & stool 7");
    cr_assert_str_eq(str(r7, "currency"), "EUR");
    cr_assert_str_eq(str(r7, "brand"), "Acme");
    cr_assert_str_eq(str(r7, "url"), "https://acme.example/p/7");
    double price = json_number_value(json_object_get(r7, "price"));
    cr_assert(price > 7.499 && price < 7.501, "price %f", price);
    char e[14];
    ean13(7, e);
    cr_assert_str_eq(str(r7, "gtin"), e);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(r7, "images"), 0)),
                     "https://acme.example/img/7.jpg");
    json_decref(recs);

    /* the detected fields: types and fill rates */
    json_t *f = get_json(&v, id, "/fields");
    json_t *det = json_object_get(f, "detected");
    cr_assert_str_eq(str(det, "format"), "xml");
    size_t i;
    json_t *x;
    int seen = 0;
    json_array_foreach(json_object_get(det, "fields"), i, x)
    {
        if (!strcmp(str(x, "name"), "g:gtin")) {
            cr_assert_str_eq(str(x, "type"), "gtin");
            seen++;
        }
        if (!strcmp(str(x, "name"), "g:price")) {
            cr_assert_str_eq(str(x, "type"), "price");
            seen++;
        }
        if (!strcmp(str(x, "name"), "link")) {
            cr_assert_str_eq(str(x, "type"), "url");
            seen++;
        }
        double fill = json_number_value(json_object_get(x, "fill_rate"));
        cr_assert(fill > 0.999, "%s filled %f", str(x, "name"), fill);
    }
    cr_assert_eq(seen, 3, "%s", json_dumps(det, JSON_COMPACT));
    json_decref(f);

    /* its webhook calls: batches of 500, all successful, with their delivery ids */
    json_t *calls = get_json(&v, id, "/webhook-calls");
    json_t *list = json_object_get(calls, "webhook_calls");
    cr_assert_eq(json_array_size(list), 3, "%s", json_dumps(calls, JSON_COMPACT));
    json_array_foreach(list, i, x)
    {
        cr_assert_str_eq(str(x, "status"), "success");
        cr_assert_eq(num(x, "response_status"), 200);
        char want[100];
        snprintf(want, sizeof want, "%s.%zu", id, i);
        cr_assert_str_eq(str(x, "delivery_id"), want);
    }
    json_decref(calls);
    json_decref(im);
    buf_release(&feed);
    imp_teardown(&v);
}

Test(import, semicolon_windows1252_bom_csv_detected_and_mapped, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    struct buf feed;
    buf_init(&feed, 0);
    /* a BOM, then windows-1252 text: "Größe" has 0xF6 and 0xDF, the euro sign is 0x80 */
    buf_adds(&feed, "\xEF\xBB\xBF"
                    "Artikelnummer;Bezeichnung;Preis;EAN;Marke;Gr\xF6\xDF"
                    "e\r\n");
    for (int i = 1; i <= 700; i++) {
        char e[14];
        ean13(i, e);
        buf_addf(&feed, "A-%d;\"Sessel \"\"M\xFCller\"\" %d\";%d,95 \x80;%s;Kr\xE4mer;%dx40\r\n", i,
                 i, i, e, i);
    }
    char q[1024], id[64];
    hook_query(&v, "source_name=moebel", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_str_eq(str(im, "import_type"), "csv");
    cr_assert_eq(num(im, "processed_products"), 700);
    json_t *maps = json_object_get(im, "field_mappings");
    check_mapped(maps, "sku", "Artikelnummer");
    check_mapped(maps, "name", "Bezeichnung");
    check_mapped(maps, "price", "Preis");
    check_mapped(maps, "gtin", "EAN");
    check_mapped(maps, "brand", "Marke");
    json_t *f = get_json(&v, id, "/fields");
    json_t *det = json_object_get(f, "detected");
    cr_assert_str_eq(str(det, "delimiter"), ";");
    cr_assert_str_eq(str(det, "encoding"), "windows-1252", "%s", json_dumps(det, JSON_COMPACT));
    cr_assert(json_is_true(json_object_get(det, "header")));
    /* the header's last name, decoded */
    json_t *last = json_array_get(json_object_get(det, "fields"), 5);
    cr_assert_str_eq(str(last, "name"), "Größe");
    json_decref(f);
    json_t *recs = records(&v, id);
    json_t *r = json_array_get(recs, 41);
    cr_assert_str_eq(str(r, "name"), "Sessel \"Müller\" 42");
    cr_assert_str_eq(str(r, "brand"), "Krämer");
    cr_assert_str_eq(str(r, "currency"), "EUR");
    double price = json_number_value(json_object_get(r, "price"));
    cr_assert(price > 42.949 && price < 42.951, "price %f", price);
    json_decref(recs);
    check_received(&v, 700);
    json_decref(im);
    buf_release(&feed);
    imp_teardown(&v);
}

Test(import, ndjson_detected_mapped_and_exported, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    struct buf feed;
    buf_init(&feed, 0);
    for (int i = 1; i <= 600; i++)
        buf_addf(&feed,
                 "{\"id\":\"N%d\",\"title\":\"Lamp %d\",\"price\":%d.25,\"currency\":\"USD\","
                 "\"url\":\"https://shop.example/lamp/%d\",\"color\":\"red\",\"in_stock\":true}\n",
                 i, i, i, i);
    char q[1024], id[64];
    hook_query(&v, NULL, q, sizeof q);
    upload(&v, q, feed.data, feed.len, NULL, id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_str_eq(str(im, "import_type"), "json");
    cr_assert_eq(num(im, "processed_products"), 600);
    json_t *maps = json_object_get(im, "field_mappings");
    check_mapped(maps, "sku", "id");
    check_mapped(maps, "name", "title");
    check_mapped(maps, "price", "price");
    check_mapped(maps, "currency", "currency");
    check_mapped(maps, "url", "url");
    check_mapped(maps, "color", "color");
    check_received(&v, 600);

    /* the CSV export: a header and one line per product */
    char path[160];
    snprintf(path, sizeof path, "/v1/imports/%s/records?format=csv", id);
    struct resp r;
    e2e_http(&r, v.s.base, "GET", path, v.token, NULL, 0, NULL);
    OK_STATUS(r, 200);
    cr_assert(strncmp(r.body, "number,name,sku,", 16) == 0, "%.200s", r.body);
    cr_assert_not_null(strstr(r.body, "\r\n600,Lamp 600,N600,"), "%.300s", r.body);
    int lines = 0;
    for (char *p = r.body; (p = strstr(p, "\r\n")); p += 2)
        lines++;
    cr_assert_eq(lines, 601);
    e2e_resp_release(&r);
    /* the JSON export is one array */
    snprintf(path, sizeof path, "/v1/imports/%s/records?format=json", id);
    e2e_http(&r, v.s.base, "GET", path, v.token, NULL, 0, NULL);
    OK_STATUS(r, 200);
    cr_assert(json_is_array(r.json) && json_array_size(r.json) == 600, "%.200s", r.body);
    e2e_resp_release(&r);
    json_decref(im);
    buf_release(&feed);
    imp_teardown(&v);
}

/* ---- a receiver that misbehaves ---- */

/* 500s, 429s with Retry-After, a slow answer, a connection closed: every product arrives once. */
Test(import, receiver_errors_every_product_arrives_once, .timeout = 180)
{
    struct imp v;
    imp_setup(&v);
    struct buf feed;
    buf_init(&feed, 0);
    buf_adds(&feed, "sku,name,price\n");
    for (int i = 1; i <= 5000; i++)
        buf_addf(&feed, "S%d,Thing %d,%d.00\n", i, i, i % 90 + 1);
    /* the first two batches go through, then two 500s, */
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"500\",\"count\":2,\"after\":2}");
    char q[1024], id[64];
    hook_query(&v, "batch_size=250", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    /* then 429s with Retry-After 1 (deferred: no attempt spent), a closed connection, slow */
    int64_t end = e2e_ms() + 60000;
    for (;;) {
        json_t *rx = e2e_hookrx_received(&v.rx, false);
        json_int_t bad = num(rx, "misbehaved");
        json_decref(rx);
        if (bad >= 2)
            break;
        cr_assert_lt(e2e_ms(), end, "the 500s never came");
        e2e_sleep_ms(50);
    }
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"429\",\"count\":3,\"retry_after\":1}");
    json_t *im = wait_import(&v, id, 120000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "delivered_products"), 5000);
    json_t *job = json_object_get(im, "job");
    /* two 500s are two attempts spent; the 429s none */
    cr_assert_eq(num(job, "attempt"), 3, "%s", json_dumps(im, JSON_COMPACT));
    check_received(&v, 5000);
    json_t *rx = e2e_hookrx_received(&v.rx, false);
    cr_assert_eq(num(rx, "misbehaved"), 5);
    json_decref(rx);
    json_decref(im);

    /* a receiver that closes connections, then is slow: a second import still delivers all */
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"down\",\"count\":1}");
    struct resp r;
    e2e_http(&r, v.rx.base, "POST", "/reset", NULL, "", 0, NULL);
    e2e_resp_release(&r);
    hook_query(&v, "batch_size=1000", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    im = wait_import(&v, id, 120000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    check_received(&v, 5000);
    json_decref(im);
    buf_release(&feed);
    imp_teardown(&v);
}

/* kill -9 while the import delivers; started again, it ends with every product delivered, at
 * most one batch sent again, with the same webhook-id (so the receiver drops it). */
Test(import, kill_9_mid_delivery_resumes_with_at_most_one_batch_again, .timeout = 240)
{
    struct imp v;
    imp_setup(&v);
    struct buf feed;
    buf_init(&feed, 0);
    buf_adds(&feed, "sku,name,price\n");
    for (int i = 1; i <= 20000; i++)
        buf_addf(&feed, "K%d,Kit %d,%d.10\n", i, i, i % 50 + 1);
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"slow\",\"delay_ms\":150}");
    char q[1024], id[64];
    hook_query(&v, "batch_size=500", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    int64_t end = e2e_ms() + 90000;
    for (;;) {
        json_t *im = get_import(&v, id);
        json_int_t d = num(im, "delivered_products");
        json_decref(im);
        if (d >= 3000)
            break;
        cr_assert_lt(e2e_ms(), end, "the delivery did not get going");
        e2e_sleep_ms(50);
    }
    kill(v.s.pid, SIGKILL);
    e2e_serve_wait(&v.s, 10000);
    json_t *before = e2e_hookrx_received(&v.rx, false);
    cr_assert_lt(num(before, "products"), 20000, "it ended before the kill");
    json_decref(before);
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"ok\"}");
    char db[1100];
    snprintf(db, sizeof db, "%s", v.s.db);
    imp_serve(&v, db, NULL);
    json_t *im = wait_import(&v, id, 180000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "processed_products"), 20000);
    cr_assert_eq(num(im, "delivered_products"), 20000);
    cr_assert_gt(num(json_object_get(im, "job"), "attempt"), 1, "the job was not run again");
    check_received(&v, 20000);
    json_t *rx = e2e_hookrx_received(&v.rx, false);
    cr_assert_leq(num(rx, "duplicates"), 1, "more than one batch sent again: %s",
                  json_dumps(rx, JSON_COMPACT));
    json_decref(rx);
    json_decref(im);
    buf_release(&feed);
    imp_teardown(&v);
}

/* ---- preview, start, retry, redeliver ---- */

Test(import, preview_waits_for_mappings_then_starts, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    const char *feed = "code,label,cost,extra\nP1,Desk,100,a\nP2,Shelf,55.5,b\nP3,,oops,c\n";
    char q[1024], id[64];
    hook_query(&v, "mode=preview&source_name=office", q, sizeof q);
    upload(&v, q, feed, strlen(feed), "text/csv", id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "awaiting_mappings", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "processed_products"), 0);
    json_decref(im);
    json_t *rx = e2e_hookrx_received(&v.rx, false);
    cr_assert_eq(num(rx, "requests"), 0, "a preview delivered");
    json_decref(rx);
    json_t *f = get_json(&v, id, "/fields");
    cr_assert_eq(json_array_size(json_object_get(json_object_get(f, "detected"), "fields")), 4);
    json_decref(f);

    char path[160];
    snprintf(path, sizeof path, "/v1/imports/%s/start", id);
    struct resp r;
    /* mappings that name no name or sku are refused */
    e2e_call(&r, &v.s, "POST", path, v.token,
             json_pack("{s:{s:s}}", "field_mappings", "price", "cost"));
    OK_STATUS(r, 400);
    cr_assert_not_null(strstr(e2e_err(&r), "name or sku"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &v.s, "POST", path, v.token,
             json_pack("{s:{s:s, s:s, s:s}}", "field_mappings", "sku", "code", "name", "label",
                       "price", "cost"));
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
    /* once started it cannot be started again */
    e2e_call(&r, &v.s, "POST", path, v.token, NULL);
    OK_STATUS(r, 409);
    e2e_resp_release(&r);
    im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "processed_products"), 2);
    cr_assert_eq(num(im, "failed_products"), 1);
    json_decref(im);
    check_received(&v, 2);
    /* the bad row, with its number, line, error and raw text */
    json_t *items = get_json(&v, id, "/items");
    json_t *it = json_array_get(json_object_get(items, "items"), 0);
    cr_assert_eq(num(it, "number"), 3, "%s", json_dumps(items, JSON_COMPACT));
    cr_assert_eq(num(it, "line"), 4);
    cr_assert_not_null(strstr(str(it, "error"), "price"), "%s", str(it, "error"));
    cr_assert_str_eq(str(it, "raw"), "P3,,oops,c");
    json_decref(items);
    imp_teardown(&v);
}

Test(import, redeliver_and_retry_failed, .timeout = 180)
{
    struct imp v;
    imp_setup_with(&v, (const char *const[]){"--type", "xml_import.max_attempts=1", NULL});
    struct buf feed;
    buf_init(&feed, 0);
    buf_adds(&feed, "sku,name\n");
    for (int i = 1; i <= 1000; i++)
        buf_addf(&feed, "R%d,Rug %d\n", i, i);
    /* the receiver refuses the second batch for good: the import fails there */
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"500\",\"after\":1}");
    char q[1024], id[64];
    hook_query(&v, "batch_size=400", q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "failed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "delivered_products"), 400);
    cr_assert_not_null(strstr(str(im, "error_message"), "500"), "%s", str(im, "error_message"));
    json_decref(im);
    json_t *calls = get_json(&v, id, "/webhook-calls?status=failed");
    cr_assert_eq(json_array_size(json_object_get(calls, "webhook_calls")), 1, "%s",
                 json_dumps(calls, JSON_COMPACT));
    json_decref(calls);

    /* the receiver is well again: retry-failed delivers the rest, not the first batch again */
    e2e_hookrx_mode(&v.rx, "{\"mode\":\"ok\"}");
    char path[160];
    snprintf(path, sizeof path, "/v1/imports/%s/retry-failed", id);
    struct resp r;
    e2e_call(&r, &v.s, "POST", path, v.token, NULL);
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
    im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "delivered_products"), 1000);
    json_decref(im);
    check_received(&v, 1000);
    json_t *rx = e2e_hookrx_received(&v.rx, false);
    cr_assert_eq(num(rx, "duplicates"), 0);
    json_decref(rx);

    /* redeliver the first call: the same webhook-id, so the receiver counts a duplicate */
    calls = get_json(&v, id, "/webhook-calls?status=success");
    json_t *c0 = json_array_get(json_object_get(calls, "webhook_calls"), 0);
    char rpath[128];
    snprintf(rpath, sizeof rpath, "/v1/webhook-calls/%lld/redeliver", (long long)num(c0, "id"));
    json_decref(calls);
    e2e_call(&r, &v.s, "POST", rpath, v.token, NULL);
    OK_STATUS(r, 202);
    e2e_resp_release(&r);
    int64_t end = e2e_ms() + 30000;
    for (;;) {
        rx = e2e_hookrx_received(&v.rx, false);
        json_int_t d = num(rx, "duplicates");
        json_decref(rx);
        if (d == 1)
            break;
        cr_assert_lt(e2e_ms(), end, "the call was not sent again");
        e2e_sleep_ms(100);
    }
    check_received(&v, 1000);
    /* another workspace cannot */
    const char *other = e2e_token(v.s.db, "other");
    e2e_call(&r, &v.s, "POST", rpath, other, NULL);
    OK_STATUS(r, 404);
    e2e_resp_release(&r);
    snprintf(path, sizeof path, "/v1/imports/%s", id);
    e2e_call(&r, &v.s, "GET", path, other, NULL);
    OK_STATUS(r, 404);
    e2e_resp_release(&r);
    buf_release(&feed);
    imp_teardown(&v);
}

/* ---- what bad input gets ---- */

/* Files left in the import folder other than the imports' feeds. */
static int strays(const struct imp *v)
{
    DIR *d = opendir(v->dir);
    cr_assert_not_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

Test(import, uploads_refused_with_clear_errors_and_nothing_left, .timeout = 120)
{
    struct imp v;
    imp_setup_with(&v, (const char *const[]){"--upload-max", "100000", NULL});
    struct resp r;
    /* no token: 401, nothing written */
    e2e_http(&r, v.s.base, "POST", "/v1/imports", NULL, "sku,name\n1,a\n", 13, "text/csv");
    OK_STATUS(r, 401);
    e2e_resp_release(&r);
    /* an empty feed */
    e2e_http(&r, v.s.base, "POST", "/v1/imports", v.token, "", 0, "text/csv");
    OK_STATUS(r, 400);
    cr_assert_not_null(strstr(e2e_err(&r), "empty"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    /* over the cap, declared and chunked */
    char *big = malloc(200000);
    memset(big, 'a', 200000);
    e2e_http(&r, v.s.base, "POST", "/v1/imports", v.token, big, 200000, "text/csv");
    OK_STATUS(r, 413);
    e2e_resp_release(&r);
    free(big);
    /* bad options */
    e2e_http(&r, v.s.base, "POST", "/v1/imports?import_type=pdf", v.token, "a,b\n1,2\n", 8,
             "text/csv");
    OK_STATUS(r, 400);
    cr_assert_not_null(strstr(e2e_err(&r), "import_type"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_http(&r, v.s.base, "POST", "/v1/imports?field_mappings=%7B%22nme%22%3A%22a%22%7D", v.token,
             "a,b\n1,2\n", 8, "text/csv");
    OK_STATUS(r, 400);
    cr_assert_not_null(strstr(e2e_err(&r), "nme"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_http(&r, v.s.base, "POST", "/v1/imports?webhook_url=ftp%3A%2F%2Fx", v.token, "a,b\n1,2\n",
             8, "text/csv");
    OK_STATUS(r, 400);
    e2e_resp_release(&r);
    /* JSON without a url */
    e2e_call(&r, &v.s, "POST", "/v1/imports", v.token, json_pack("{s:s}", "source_name", "x"));
    OK_STATUS(r, 400);
    cr_assert_not_null(strstr(e2e_err(&r), "url is required"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    cr_assert_eq(strays(&v), 0, "an upload refused was left in the import folder");
    /* nothing was imported */
    e2e_call(&r, &v.s, "GET", "/v1/imports", v.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "imports")), 0);
    e2e_resp_release(&r);
    imp_teardown(&v);
}

/* Upload feed and wait for its end; its final state. */
static json_t *import_of(struct imp *v, const char *feed, size_t len, const char *query)
{
    char id[64];
    upload(v, query, feed, len, NULL, id);
    return wait_import(v, id, 60000);
}

static void check_failed_with(json_t *im, const char *words)
{
    cr_assert_str_eq(str(im, "status"), "failed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_not_null(strstr(str(im, "error_message"), words), "'%s' has no '%s'",
                       str(im, "error_message"), words);
}

Test(import, bad_feeds_get_clear_errors_and_keep_the_good_rows, .timeout = 180)
{
    struct imp v;
    imp_setup_with(&v, (const char *const[]){"--type", "xml_import.max_attempts=1", NULL});

    /* malformed XML: the products before the error are kept; the error has line and column */
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "<?xml version=\"1.0\"?>\n<products>\n");
    for (int i = 1; i <= 30; i++)
        buf_addf(&b, "<product><sku>X%d</sku><name>Box %d</name></product>\n", i, i);
    buf_adds(&b, "<product><sku>X31</sku><name>Broken</nme></product>\n</products>\n");
    json_t *im = import_of(&v, b.data, b.len, "import_type=xml");
    check_failed_with(im, "line 33");
    cr_assert_eq(num(im, "processed_products"), 30, "%s", json_dumps(im, JSON_COMPACT));
    json_decref(im);
    buf_clear(&b);

    /* XXE and entity bombs: no external entity loaded, no expansion */
    const char *xxe = "<?xml version=\"1.0\"?>\n"
                      "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">"
                      "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
                      "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>\n"
                      "<products><product><sku>E1</sku><name>&x;</name></product>"
                      "<product><sku>E2</sku><name>&c;&c;&c;&c;</name></product></products>\n";
    im = import_of(&v, xxe, strlen(xxe), NULL);
    char id[64];
    snprintf(id, sizeof id, "%s", str(im, "id"));
    json_t *recs = records(&v, id);
    char *text = json_dumps(recs, JSON_COMPACT);
    cr_assert_null(strstr(text, "root:"), "an external entity was loaded: %s", text);
    cr_assert_null(strstr(text, "aaaaaaaaaaaaaaaaaaaa"), "an entity was expanded: %.300s", text);
    free(text);
    json_decref(recs);
    json_decref(im);

    /* none of the three formats */
    const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    im = import_of(&v, png, sizeof png - 1, NULL);
    cr_assert_str_eq(str(im, "status"), "failed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert(str(im, "error_message")[0], "no error message");
    json_decref(im);

    /* JSON nested 100,000 deep */
    buf_adds(&b, "[");
    for (int i = 0; i < 100000; i++)
        buf_adds(&b, "[");
    im = import_of(&v, b.data, b.len, "import_type=json");
    check_failed_with(im, "deep");
    json_decref(im);
    buf_clear(&b);

    /* numbers past 64 bits and invalid UTF-8: row errors or text, the rest kept */
    buf_adds(&b, "{\"sku\":\"J1\",\"name\":\"ok\",\"price\":12.5}\n"
                 "{\"sku\":\"J2\",\"name\":\"big\",\"price\":123456789012345678901234567890}\n"
                 "{\"sku\":\"J3\",\"name\":\"ok too\",\"price\":1}\n");
    im = import_of(&v, b.data, b.len, NULL);
    cr_assert_str_eq(str(im, "status"), "completed", "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_geq(num(im, "processed_products"), 2, "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_eq(num(im, "processed_products") + num(im, "failed_products"), 3);
    json_decref(im);
    buf_clear(&b);

    /* CSV with ragged rows and an unterminated quote: the ragged rows are row errors or kept,
     * the quote that never ends is an error with its line; the rows before it kept */
    buf_adds(&b, "sku,name,price\nC1,One,1\nC2,Two\nC3,Three,3,extra\nC4,Four,4\n"
                 "C5,\"never ends,5\nC6,Six,6\n");
    im = import_of(&v, b.data, b.len, "import_type=csv");
    json_int_t kept = num(im, "processed_products"), failed = num(im, "failed_products");
    cr_assert_geq(kept, 2, "%s", json_dumps(im, JSON_COMPACT));
    cr_assert_geq(kept + failed, 4, "%s", json_dumps(im, JSON_COMPACT));
    if (!strcmp(str(im, "status"), "failed"))
        cr_assert_not_null(strstr(str(im, "error_message"), "quote"), "%s",
                           str(im, "error_message"));
    json_decref(im);
    buf_clear(&b);

    /* a field of 2 MB (past the 1 MiB cap) */
    buf_adds(&b, "sku,name\nB1,small\nB2,");
    for (int i = 0; i < 2 * 1024 * 1024; i++)
        buf_add(&b, "x", 1);
    buf_adds(&b, "\nB3,after\n");
    im = import_of(&v, b.data, b.len, "import_type=csv");
    cr_assert_geq(num(im, "processed_products"), 1, "%s", json_dumps(im, JSON_COMPACT));
    if (!strcmp(str(im, "status"), "failed"))
        cr_assert(str(im, "error_message")[0]);
    else
        cr_assert_geq(num(im, "failed_products"), 1, "%s", json_dumps(im, JSON_COMPACT));
    json_decref(im);
    buf_release(&b);

    /* a URL that is no feed, and one that is not there: clear errors */
    struct origin o;
    e2e_origin(&o, NULL);
    char url[256];
    struct resp r;
    snprintf(url, sizeof url, "%s/status?code=404", o.base);
    e2e_call(&r, &v.s, "POST", "/v1/imports", v.token, json_pack("{s:s}", "url", url));
    OK_STATUS(r, 201);
    snprintf(id, sizeof id, "%s", str(json_object_get(r.json, "import"), "id"));
    e2e_resp_release(&r);
    im = wait_import(&v, id, 60000);
    check_failed_with(im, "404");
    json_decref(im);
    e2e_origin_stop(&o);
    imp_teardown(&v);
}

/* ---- the CLI ---- */

Test(import, cli_import_uploads_follows_and_sums_up, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    const char *path = e2e_path("feed.csv");
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("sku,title,price\n", f);
    for (int i = 1; i <= 3000; i++)
        fprintf(f, "C%d,Cup %d,%d.5\n", i, i, i % 20);
    fclose(f);
    char server[80], token[160], hook[128];
    snprintf(server, sizeof server, "TRAWL_SERVER=%s", v.s.base);
    snprintf(token, sizeof token, "TRAWL_TOKEN=%s", v.token);
    snprintf(hook, sizeof hook, "%s/hook", v.rx.base);
    struct run run;
    E2E_RUN(&run, ((const char *const[]){server, token, NULL}), "import", path, "--webhook", hook,
            "--secret", SECRET, "--source", "cups", "--map", "name=title", "--map", "sku=sku",
            "--map", "price=price");
    cr_assert_eq(run.status, 0, "%s", run.err);
    cr_assert_not_null(strstr(run.err, "completed: 3000 products, 0 failed rows, 3000 delivered"),
                       "%s", run.err);
    check_received(&v, 3000);
    E2E_RUN(&run, ((const char *const[]){server, token, NULL}), "imports");
    cr_assert_eq(run.status, 0, "%s", run.err);
    cr_assert_not_null(strstr(run.out, "cups"), "%s", run.out);
    cr_assert_not_null(strstr(run.out, "completed"), "%s", run.out);
    /* a file that is not there, a --map without =: usage errors */
    E2E_RUN(&run, ((const char *const[]){server, token, NULL}), "import", "/nonexistent.csv");
    cr_assert_eq(run.status, 2, "%s", run.err);
    cr_assert_not_null(strstr(run.err, "No such file"), "%s", run.err);
    E2E_RUN(&run, ((const char *const[]){server, token, NULL}), "import", path, "--map", "name");
    cr_assert_eq(run.status, 2, "%s", run.err);
    imp_teardown(&v);
}

/* An import's progress reaches `trawl watch --types import`, ending with its final counts. */
Test(import, progress_events_reach_the_watchers, .timeout = 120)
{
    struct imp v;
    imp_setup(&v);
    const char *out = e2e_path("watch.out"), *err = e2e_path("watch.err");
    pid_t pid = e2e_start((const char *const[]){"watch", "--json", "--types", "import", "--server",
                                                v.s.base, "--token", v.token, NULL},
                          out, err);
    e2e_sleep_ms(500); /* subscribed */
    struct buf feed;
    buf_init(&feed, 0);
    buf_adds(&feed, "sku,name\n");
    for (int i = 1; i <= 4000; i++)
        buf_addf(&feed, "W%d,Wok %d\n", i, i);
    char q[1024], id[64];
    hook_query(&v, NULL, q, sizeof q);
    upload(&v, q, feed.data, feed.len, "text/csv", id);
    json_t *im = wait_import(&v, id, 60000);
    cr_assert_str_eq(str(im, "status"), "completed");
    json_decref(im);
    int64_t until = e2e_ms() + 15000;
    bool done = false;
    int events = 0;
    while (!done) {
        cr_assert_lt(e2e_ms(), until, "watch never showed the import completed (%d events)",
                     events);
        e2e_sleep_ms(100);
        FILE *f = fopen(out, "r");
        if (!f)
            continue;
        char line[8192];
        events = 0;
        while (fgets(line, sizeof line, f)) {
            json_t *j = json_loads(line, 0, NULL);
            cr_assert_not_null(j, "not JSON: %s", line);
            cr_assert_str_eq(str(j, "importId"), id, "%s", line);
            cr_assert_str_eq(str(j, "sourceName"), "upload", "%s", line);
            events++;
            if (!strcmp(str(j, "status"), "completed")) {
                cr_assert_eq(num(j, "processed"), 4000, "%s", line);
                cr_assert_eq(num(j, "delivered"), 4000, "%s", line);
                done = true;
            }
            json_decref(j);
        }
        fclose(f);
    }
    kill(pid, SIGTERM);
    cr_assert_eq(e2e_reap(pid), 0, "watch did not exit 0 on SIGTERM");
    buf_release(&feed);
    imp_teardown(&v);
}
