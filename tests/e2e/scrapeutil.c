/* What the scraping-session tests share: a trawl serve set up for sessions over the generated
 * shop, and the calls that start, read and wait for a session and export its records. */
#include "scrapeutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

const char *const scr_serve_args[] = {
    "--allow-private", "127.0.0.2/32", "--workers", "0", "--crawl-workers", "4",
    "--first-byte-timeout", "2000", "--fetch-timeout", "5000",
    /* the shop's broken pages fail on purpose, several in a row when retried alone: they are
     * not to open the site's circuit breaker here */
    "--breaker-failures", "1000",
    /* the session's job is noticed soon after a kill -9 */
    "--type", "web_scraping.lease_ms=2000", "--sweep", "100", NULL};

void scr_start_serve(struct env *v, const char *db)
{
    e2e_serve(&v->s, db, scr_serve_args);
}

void scr_setup(struct env *v, int products)
{
    e2e_shop(&v->shop, products);
    scr_start_serve(v, NULL);
    snprintf(v->token, sizeof v->token, "%s", e2e_token(v->s.db, "shop"));
}

void scr_teardown(struct env *v)
{
    cr_assert_eq(e2e_serve_stop(&v->s, 20000), 0, "serve did not stop cleanly: %s",
                 e2e_serve_log(&v->s));
    e2e_origin_stop(&v->shop);
}

json_t *scr_shop_json(struct env *v, const char *path)
{
    struct resp r;
    e2e_http(&r, v->shop.base, "GET", path, NULL, NULL, 0, NULL);
    OK_STATUS(r, 200);
    json_t *j = json_incref(r.json);
    e2e_resp_release(&r);
    return j;
}

/* Start a session with the settings in cfg (stolen), at the shop unless cfg names a
 * source_url; its id into id. */
void scr_start_session(struct env *v, json_t *cfg, char id[64])
{
    char url[128]; /* the shop, unless cfg names a source_url */
    snprintf(url, sizeof url, "%s/", v->shop.base);
    if (!json_object_get(cfg, "source_url"))
        json_object_set_new(cfg, "source_url", json_string(url));
    struct resp r;
    e2e_call(&r, &v->s, "POST", "/v1/scraping-sessions", v->token, cfg);
    OK_STATUS(r, 201);
    json_t *s = json_object_get(r.json, "session");
    snprintf(id, 64, "%s", json_string_value(json_object_get(s, "id")));
    /* pending, or already taken by a worker between its creation and this answer */
    const char *st = json_string_value(json_object_get(s, "status"));
    cr_assert(st &&
                  (!strcmp(st, "pending") || !strcmp(st, "processing") || !strcmp(st, "scraping")),
              "%s", r.body);
    cr_assert(json_is_string(json_object_get(s, "background_job_id")), "%s", r.body);
    e2e_resp_release(&r);
}

json_t *scr_get_session(struct env *v, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s", id);
    struct resp r;
    e2e_call(&r, &v->s, "GET", path, v->token, NULL);
    OK_STATUS(r, 200);
    json_t *s = json_incref(json_object_get(r.json, "session"));
    e2e_resp_release(&r);
    return s;
}

json_int_t scr_num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

const char *scr_str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Poll the session until it ends (ms at most), checking at every step that its counts add up. */
json_t *scr_wait_session(struct env *v, const char *id, int64_t ms)
{
    int64_t end = e2e_ms() + ms;
    for (;;) {
        json_t *s = scr_get_session(v, id);
        json_int_t total = scr_num(s, "total_pages"), done = scr_num(s, "completed_pages"),
                   failed = scr_num(s, "failed_pages"), pending = scr_num(s, "pending_pages");
        cr_assert_eq(total, done + failed + pending, "counts do not add up: %s",
                     json_dumps(s, JSON_COMPACT));
        const char *st = scr_str(s, "status");
        if (!strcmp(st, "completed") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
            return s;
        json_decref(s);
        if (e2e_ms() > end)
            cr_assert_fail("session %s did not end in %lld ms; log: %s", id, (long long)ms,
                           e2e_serve_log(&v->s));
        e2e_sleep_ms(100);
    }
}

/* The session's records as a JSON array, read from the JSON Lines export. */
json_t *scr_records(struct env *v, const char *id)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=jsonl", id);
    struct resp r;
    e2e_call(&r, &v->s, "GET", path, v->token, NULL);
    OK_STATUS(r, 200);
    cr_assert(strstr(r.headers, "application/x-ndjson") != NULL, "%s", r.headers);
    json_t *a = json_array();
    char *save = NULL;
    for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *rec = json_loads(line, 0, &je);
        cr_assert(json_is_object(rec), "not a JSON object: %s (%s)", line, je.text);
        json_array_append_new(a, rec);
    }
    e2e_resp_release(&r);
    return a;
}
