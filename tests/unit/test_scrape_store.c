/* The store's scraping sessions on a real SQLite database: the frontier (pages added once, the
 * max_pages cap held row by row, taken shallowest first, retried after their backoff), the
 * session's counts kept by triggers, and records kept once per key. Writes go through the
 * engine's committer as the handler's do. */
#include "store/store.h"

#include "store/scrape.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx {
    struct engine *eng;
    char sid[UUID_STR_LEN];
};

static int add_session(struct store *s, void *arg, struct err *e)
{
    struct fx *f = arg;
    struct scrape_session ss = {
        .workspace = "w", .source_url = "http://example.com/", .config = "{}", .created_at = 1000};
    memcpy(ss.id, f->sid, UUID_STR_LEN);
    snprintf(ss.job_id, sizeof ss.job_id, "%s", "01a20000-0000-7000-8000-000000000001");
    return store_session_add(s, &ss, e);
}

static void setup(struct fx *f)
{
    f->eng = tu_engine(NULL, NULL);
    uuid_v7(f->sid, 1000);
    struct err e = {0};
    cr_assert_eq(engine_exec(f->eng, add_session, f, &e), 0, "%s", e.msg);
}

static void session(struct fx *f, struct scrape_session *out)
{
    struct err e = {0};
    cr_assert_eq(store_session_get(engine_store(f->eng), "w", f->sid, false, out, &e), 0, "%s",
                 e.msg);
}

struct add {
    const char *sid;
    const struct page_new *p;
    size_t n;
    int64_t cap;
    int added;
};

static int add_fn(struct store *s, void *arg, struct err *e)
{
    struct add *a = arg;
    int rc = store_pages_add(s, a->sid, a->p, a->n, a->cap, 2000, e);
    if (rc < 0)
        return rc;
    a->added = rc;
    return 0;
}

static int add(struct fx *f, const struct page_new *p, size_t n, int64_t cap)
{
    struct add a = {f->sid, p, n, cap, 0};
    struct err e = {0};
    cr_assert_eq(engine_exec(f->eng, add_fn, &a, &e), 0, "%s", e.msg);
    return a.added;
}

Test(scrape_store, pages_are_added_once_and_the_cap_holds)
{
    struct fx f;
    setup(&f);
    struct page_new p[] = {{"http://example.com/a", 0, "seed", NULL},
                           {"http://example.com/b", 1, "link", NULL},
                           {"http://example.com/a", 1, "link", NULL}, /* again */
                           {"http://example.com/c", 0, "sitemap", "2026-11-01"}};
    cr_assert_eq(add(&f, p, 4, 0), 3);
    cr_assert_eq(add(&f, p, 4, 0), 0, "known URLs are not added twice");
    struct scrape_session ss;
    session(&f, &ss);
    cr_assert_eq(ss.total_pages, 3);
    scrape_session_release(&ss);
    /* a cap of 5: of six new URLs, two fit */
    struct page_new more[6];
    char urls[6][64];
    for (int i = 0; i < 6; i++) {
        snprintf(urls[i], sizeof urls[i], "http://example.com/more/%d", i);
        more[i] = (struct page_new){urls[i], 2, "link", NULL};
    }
    cr_assert_eq(add(&f, more, 6, 5), 2);
    session(&f, &ss);
    cr_assert_eq(ss.total_pages, 5);
    scrape_session_release(&ss);
    cr_assert_eq(add(&f, more, 6, 5), 0, "a full session takes no more");
    engine_close(f.eng);
}

struct take {
    const char *sid;
    int64_t now;
    struct scrape_page *pages;
    size_t n;
    int64_t next_due;
};

static int take_fn(struct store *s, void *arg, struct err *e)
{
    struct take *t = arg;
    scrape_page_array_free(t->pages, t->n);
    t->pages = NULL;
    t->n = 0;
    int rc = store_pages_take(s, t->sid, 10, t->now, &t->pages, &t->n, &t->next_due, e);
    return rc < 0 ? rc : 0;
}

struct finish {
    const char *sid;
    struct page_outcome o;
    struct record_new r;
    bool with_record;
};

static int finish_fn(struct store *s, void *arg, struct err *e)
{
    struct finish *f = arg;
    int rc = store_page_finish(s, f->sid, &f->o, 3000, e);
    if (rc < 0)
        return rc;
    if (f->with_record)
        rc = store_record_put(s, f->sid, &f->r, f->o.page_id, 3000, e);
    return rc < 0 ? rc : 0;
}

Test(scrape_store, pages_are_taken_shallowest_first_and_counted_as_they_end)
{
    struct fx f;
    setup(&f);
    struct page_new p[] = {{"http://example.com/deep", 2, "link", NULL},
                           {"http://example.com/", 0, "seed", NULL},
                           {"http://example.com/mid", 1, "link", NULL}};
    cr_assert_eq(add(&f, p, 3, 0), 3);
    struct take t = {f.sid, 5000, NULL, 0, 0};
    struct err e = {0};
    cr_assert_eq(engine_exec(f.eng, take_fn, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t.n, 3);
    cr_assert_str_eq(t.pages[0].url, "http://example.com/");
    cr_assert_str_eq(t.pages[1].url, "http://example.com/mid");
    cr_assert_str_eq(t.pages[2].url, "http://example.com/deep");
    cr_assert_eq(t.pages[0].status, PAGE_FETCHING);
    cr_assert_eq(t.pages[0].attempt, 1);
    /* one done with a record, one back with a backoff, one failed */
    struct finish done = {f.sid,
                          {.page_id = t.pages[0].id, .status = PAGE_DONE, .http_status = 200},
                          {"SKU-1", "http://example.com/p/1", "{\"sku\":\"SKU-1\"}", 0},
                          true};
    cr_assert_eq(engine_exec(f.eng, finish_fn, &done, &e), 0, "%s", e.msg);
    struct finish later = {
        f.sid, {.page_id = t.pages[1].id, .status = PAGE_PENDING, .not_before = 9000}, {0}, false};
    cr_assert_eq(engine_exec(f.eng, finish_fn, &later, &e), 0, "%s", e.msg);
    struct finish failed = {f.sid,
                            {.page_id = t.pages[2].id,
                             .status = PAGE_FAILED,
                             .http_status = 404,
                             .error = "http_status: 404"},
                            {0},
                            false};
    cr_assert_eq(engine_exec(f.eng, finish_fn, &failed, &e), 0, "%s", e.msg);
    struct scrape_session ss;
    session(&f, &ss);
    cr_assert_eq(ss.total_pages, 3);
    cr_assert_eq(ss.completed_pages, 1);
    cr_assert_eq(ss.failed_pages, 1);
    cr_assert_eq(ss.materials, 1);
    scrape_session_release(&ss);
    /* nothing due before the backoff, and when it is due */
    t.now = 8000;
    cr_assert_eq(engine_exec(f.eng, take_fn, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t.n, 0);
    cr_assert_eq(t.next_due, 9000);
    t.now = 9000;
    cr_assert_eq(engine_exec(f.eng, take_fn, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(t.n, 1);
    cr_assert_str_eq(t.pages[0].url, "http://example.com/mid");
    cr_assert_eq(t.pages[0].attempt, 2);
    /* the same product from another page replaces its record, and is not counted twice */
    struct finish again = {f.sid,
                           {.page_id = t.pages[0].id, .status = PAGE_DONE, .http_status = 200},
                           {"SKU-1", "http://example.com/p/1", "{\"sku\":\"SKU-1\",\"v\":2}", 0},
                           true};
    cr_assert_eq(engine_exec(f.eng, finish_fn, &again, &e), 0, "%s", e.msg);
    session(&f, &ss);
    cr_assert_eq(ss.completed_pages, 2);
    cr_assert_eq(ss.materials, 1);
    scrape_session_release(&ss);
    struct record_row *rows;
    size_t n;
    cr_assert_geq(store_records_list(engine_store(f.eng), f.sid, 0, 10, &rows, &n, &e), 0);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(rows[0].data, "{\"sku\":\"SKU-1\",\"v\":2}");
    record_row_array_free(rows, n);
    scrape_page_array_free(t.pages, t.n);
    engine_close(f.eng);
}
