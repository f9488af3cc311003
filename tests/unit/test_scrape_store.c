/* The store's scraping sessions on a real SQLite database: the frontier (pages added once, the
 * max_pages cap held row by row, taken shallowest first, retried after their backoff), the
 * session's counts kept by triggers, and records kept once per key. Writes go through the
 * engine's committer as the handler's do. */
#include "store/store.h"

#include "store/scrape.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <pthread.h>
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

/* ---- the conformance of the rest of the domain: the same answers on SQLite and PostgreSQL ---- */

struct op {
    int (*fn)(struct store *s, struct op *o, struct err *e);
    const char *sid;
    const void *in;
    int rc; /* what fn returned */
};

static int op_fn(struct store *s, void *arg, struct err *e)
{
    struct op *o = arg;
    o->rc = o->fn(s, o, e);
    return o->rc < 0 ? o->rc : 0;
}

/* Run fn as a write through the committer; returns its code (a count, or an error). */
static int run(struct fx *f, int (*fn)(struct store *, struct op *, struct err *), const void *in)
{
    struct op o = {fn, f->sid, in, 0};
    struct err e = {0};
    int rc = engine_exec(f->eng, op_fn, &o, &e);
    return rc < 0 ? rc : o.rc;
}

static int session_add_fn(struct store *s, struct op *o, struct err *e)
{
    return store_session_add(s, o->in, e);
}

static int set_job_fn(struct store *s, struct op *o, struct err *e)
{
    const char *const *j = o->in; /* old, new */
    return store_session_set_job(s, o->sid, j[0], j[1], 4000, e);
}

static int note_fn(struct store *s, struct op *o, struct err *e)
{
    return store_session_note(s, o->sid, o->in, 2, 4500, e);
}

static int stages_fn(struct store *s, struct op *o, struct err *e)
{
    return store_session_set_stages(s, o->sid, o->in, 5000, e);
}

Test(scrape_store, sessions_are_listed_newest_first_and_found_by_any_stage)
{
    struct fx f;
    setup(&f); /* created at 1000, workspace w */
    int64_t at[] = {3000, 2000, 2500};
    const char *ws[] = {"w", "w", "other"};
    char ids[3][UUID_STR_LEN];
    for (int i = 0; i < 3; i++) {
        struct scrape_session ss = {
            .workspace = (char *)ws[i], .source_url = "http://x/", .config = "{}"};
        ss.created_at = at[i];
        uuid_v7(ids[i], at[i]);
        memcpy(ss.id, ids[i], UUID_STR_LEN);
        snprintf(ss.job_id, sizeof ss.job_id, "01a20000-0000-7000-8000-00000000001%c",
                 (char)('0' + i));
        cr_assert_eq(run(&f, session_add_fn, &ss), 0);
    }
    struct store *s = engine_store(f.eng);
    struct scrape_session *v;
    size_t n;
    int64_t total = -1;
    struct err e = {0};
    cr_assert_eq(store_session_list(s, "w", 2, 0, &v, &n, &total, &e), 2, "%s", e.msg);
    cr_assert_eq(total, 3);
    cr_assert_str_eq(v[0].id, ids[0]);
    cr_assert_str_eq(v[1].id, ids[1]);
    cr_assert_eq(v[0].created_at, 3000);
    scrape_session_array_free(v, n);
    cr_assert_eq(store_session_list(s, "w", 2, 2, &v, &n, &total, &e), 1);
    cr_assert_str_eq(v[0].id, f.sid);
    scrape_session_array_free(v, n);
    cr_assert_eq(store_session_list(s, "none", 0, 0, &v, &n, &total, &e), 0);
    cr_assert_eq(total, 0);
    scrape_session_array_free(v, n);

    /* found by its stages' jobs, in its workspace only */
    struct scrape_session ss;
    cr_assert_eq(store_session_get(s, "other", f.sid, false, &ss, &e), TRAWL_ENOTFOUND);
    struct session_stages st = {.extract_job_id = "01a20000-0000-7000-8000-0000000000e1",
                                .config = "{\"v\":2}",
                                .extract_gen = 3};
    cr_assert_eq(run(&f, stages_fn, &st), 0);
    st = (struct session_stages){.sync_job_id = "01a20000-0000-7000-8000-0000000000f1",
                                 .extract_gen = -1};
    cr_assert_eq(run(&f, stages_fn, &st), 0);
    cr_assert_eq(store_session_get(s, NULL, "01a20000-0000-7000-8000-0000000000e1", true, &ss, &e),
                 0, "%s", e.msg);
    cr_assert_str_eq(ss.id, f.sid);
    cr_assert_str_eq(ss.extract_job_id, "01a20000-0000-7000-8000-0000000000e1");
    cr_assert_str_eq(ss.sync_job_id, "01a20000-0000-7000-8000-0000000000f1");
    cr_assert_str_eq(ss.config, "{\"v\":2}");
    cr_assert_eq(ss.extract_gen, 3, "a generation of -1 keeps the one there");
    cr_assert_eq(ss.updated_at, 5000);
    scrape_session_release(&ss);
    cr_assert_eq(store_session_get(s, "w", "01a20000-0000-7000-8000-0000000000f1", true, &ss, &e),
                 0);
    cr_assert_str_eq(ss.id, f.sid);
    scrape_session_release(&ss);
    cr_assert_eq(store_session_get(s, "w", "01a20000-0000-7000-8000-000000000001", true, &ss, &e),
                 0, "and by its ingest job");
    scrape_session_release(&ss);
    cr_assert_eq(store_session_get(s, "w", "nobody", true, &ss, &e), TRAWL_ENOTFOUND);

    /* a note, then run again by a new job, which clears the error */
    cr_assert_eq(run(&f, note_fn, "it broke"), 0);
    cr_assert_eq(run(&f, note_fn, NULL), 0);
    session(&f, &ss);
    cr_assert_str_eq(ss.error_message, "it broke", "a note without an error keeps it");
    cr_assert_eq(ss.warnings, 4);
    scrape_session_release(&ss);
    const char *wrong[] = {"01a20000-0000-7000-8000-00000000000f",
                           "01a20000-0000-7000-8000-000000000002"};
    cr_assert_eq(run(&f, set_job_fn, wrong), TRAWL_ESTALE);
    const char *right[] = {"01a20000-0000-7000-8000-000000000001",
                           "01a20000-0000-7000-8000-000000000002"};
    cr_assert_eq(run(&f, set_job_fn, right), 0);
    cr_assert_eq(run(&f, set_job_fn, right), TRAWL_ESTALE, "the old job no longer runs it");
    session(&f, &ss);
    cr_assert_str_eq(ss.job_id, "01a20000-0000-7000-8000-000000000002");
    cr_assert_null(ss.error_message);
    scrape_session_release(&ss);
    char missing[UUID_STR_LEN];
    uuid_v7(missing, 9000);
    struct fx g = f;
    memcpy(g.sid, missing, UUID_STR_LEN);
    st = (struct session_stages){.extract_gen = 1};
    cr_assert_eq(run(&g, stages_fn, &st), TRAWL_ENOTFOUND);
    engine_close(f.eng);
}

static int take10_fn(struct store *s, struct op *o, struct err *e)
{
    struct take *t = (struct take *)o->in;
    scrape_page_array_free(t->pages, t->n);
    t->pages = NULL;
    t->n = 0;
    return store_pages_take(s, o->sid, 10, t->now, &t->pages, &t->n, &t->next_due, e);
}

static int finish_only_fn(struct store *s, struct op *o, struct err *e)
{
    return store_page_finish(s, o->sid, o->in, 3000, e);
}

static int requeue_fn(struct store *s, struct op *o, struct err *e)
{
    return store_pages_requeue(s, o->sid, *(const bool *)o->in, e);
}

Test(scrape_store, pages_keep_their_content_and_are_requeued)
{
    struct fx f;
    setup(&f);
    struct page_new p[] = {{"http://example.com/1", 0, "seed", NULL},
                           {"http://example.com/2", 1, NULL, "2026-01-02"},
                           {"http://example.com/3", 1, "link", NULL},
                           {"http://example.com/4", 1, "link", NULL}};
    cr_assert_eq(add(&f, p, 4, 0), 4);
    struct take t = {f.sid, 5000, NULL, 0, 0};
    cr_assert_eq(run(&f, take10_fn, &t), 4);
    cr_assert_eq(t.next_due, 0, "every page was taken");
    /* bytes with NULs in them, kept as they are */
    const unsigned char content[] = {0x28, 0xb5, 0x2f, 0xfd, 0, 1, 0, 0xff, 'x'};
    const unsigned char body[] = {0, 0, 7};
    struct page_outcome done = {.page_id = t.pages[0].id,
                                .status = PAGE_DONE,
                                .http_status = 200,
                                .fetch_ms = 12,
                                .records = 2,
                                .content = content,
                                .content_len = sizeof content,
                                .body = body,
                                .body_len = sizeof body,
                                .content_type = "text/html"};
    cr_assert_eq(run(&f, finish_only_fn, &done), 0);
    struct page_outcome failed = {
        .page_id = t.pages[1].id, .status = PAGE_FAILED, .http_status = 500, .error = "boom"};
    cr_assert_eq(run(&f, finish_only_fn, &failed), 0);
    struct page_outcome untried = {
        .page_id = t.pages[2].id, .status = PAGE_PENDING, .not_before = 7000, .not_tried = true};
    cr_assert_eq(run(&f, finish_only_fn, &untried), 0);
    /* t.pages[3] is left fetching, as a crash leaves it */

    struct store *s = engine_store(f.eng);
    struct err e = {0};
    void *got;
    size_t len;
    cr_assert_eq(store_page_content(s, f.sid, t.pages[0].id, &got, &len, &e), 0, "%s", e.msg);
    cr_assert_eq(len, sizeof content);
    cr_assert_eq(memcmp(got, content, len), 0);
    free(got);
    cr_assert_eq(store_page_content(s, f.sid, t.pages[1].id, &got, &len, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(store_page_content(s, f.sid, 999999, &got, &len, &e), TRAWL_ENOTFOUND);

    struct scrape_page *v;
    size_t n;
    cr_assert_eq(store_pages_list(s, f.sid, -1, 0, 0, &v, &n, &e), 4, "%s", e.msg);
    cr_assert_str_eq(v[0].url, "http://example.com/1");
    cr_assert_eq(v[0].status, PAGE_DONE);
    cr_assert_eq(v[0].http_status, 200);
    cr_assert_eq(v[0].fetch_ms, 12);
    cr_assert_eq(v[0].records, 2);
    cr_assert_eq(v[0].fetched_at, 3000);
    cr_assert_eq(v[0].discovered_at, 2000);
    cr_assert_str_eq(v[0].source, "seed");
    cr_assert_null(v[0].lastmod);
    cr_assert_str_eq(v[1].source, "link", "a page without a source came from a link");
    cr_assert_str_eq(v[1].lastmod, "2026-01-02");
    cr_assert_str_eq(v[1].error, "boom");
    cr_assert_eq(v[2].status, PAGE_PENDING);
    cr_assert_eq(v[2].attempt, 0, "a page not tried gives its attempt back");
    cr_assert_eq(v[2].not_before, 7000);
    cr_assert_eq(v[2].http_status, 0);
    cr_assert_eq(v[3].status, PAGE_FETCHING);
    scrape_page_array_free(v, n);
    cr_assert_eq(store_pages_list(s, f.sid, PAGE_FAILED, 0, 0, &v, &n, &e), 1);
    cr_assert_eq(v[0].id, t.pages[1].id);
    scrape_page_array_free(v, n);
    cr_assert_eq(store_pages_list(s, f.sid, -1, 2, 1, &v, &n, &e), 2, "a page of two from the 2nd");
    cr_assert_str_eq(v[0].url, "http://example.com/2");
    cr_assert_str_eq(v[1].url, "http://example.com/3");
    scrape_page_array_free(v, n);

    /* the one left fetching goes back; then the failed one, its attempts reset */
    bool failed_too = false;
    cr_assert_eq(run(&f, requeue_fn, &failed_too), 1);
    cr_assert_eq(run(&f, requeue_fn, &failed_too), 0);
    failed_too = true;
    cr_assert_eq(run(&f, requeue_fn, &failed_too), 1);
    struct scrape_session ss;
    session(&f, &ss);
    cr_assert_eq(ss.total_pages, 4);
    cr_assert_eq(ss.completed_pages, 1);
    cr_assert_eq(ss.failed_pages, 0);
    scrape_session_release(&ss);
    cr_assert_eq(store_pages_list(s, f.sid, PAGE_PENDING, 0, 0, &v, &n, &e), 3);
    cr_assert_eq(v[0].id, t.pages[1].id);
    cr_assert_eq(v[0].attempt, 0);
    cr_assert_null(v[0].error);
    cr_assert_eq(v[2].attempt, 1, "a page put back after a crash keeps its attempt");
    scrape_page_array_free(v, n);
    /* due now: the failed one and the one left fetching; the other waits until 7000 */
    t.now = 6000;
    cr_assert_eq(run(&f, take10_fn, &t), 2);
    cr_assert_eq(t.next_due, 7000);
    scrape_page_array_free(t.pages, t.n);
    engine_close(f.eng);
}

struct put_many {
    const struct record_new *r;
    size_t n;
    int64_t page_id;
};

static int put_fn(struct store *s, struct op *o, struct err *e)
{
    const struct put_many *m = o->in;
    for (size_t i = 0; i < m->n; i++) {
        int rc = store_record_put(s, o->sid, &m->r[i], m->page_id, 3000, e);
        if (rc < 0)
            return rc;
    }
    return 0;
}

struct extracted {
    int64_t page_id;
    int gen, records;
};

static int extracted_fn(struct store *s, struct op *o, struct err *e)
{
    const struct extracted *x = o->in;
    return store_page_extracted(s, o->sid, x->page_id, x->gen, x->records, e);
}

static int prune_records_fn(struct store *s, struct op *o, struct err *e)
{
    return store_records_prune(s, o->sid, *(const int *)o->in, e);
}

Test(scrape_store, a_new_generation_extracts_again_and_drops_what_it_did_not_find)
{
    struct fx f;
    setup(&f);
    struct page_new p[] = {{"http://example.com/a", 0, "seed", NULL},
                           {"http://example.com/b", 1, "link", NULL},
                           {"http://example.com/c", 1, "link", NULL}};
    cr_assert_eq(add(&f, p, 3, 0), 3);
    struct take t = {f.sid, 5000, NULL, 0, 0};
    cr_assert_eq(run(&f, take10_fn, &t), 3);
    const char body[] = "\x28\xb5\x2f\xfd-frame";
    /* a and b kept their bodies; c was fetched before bodies were kept */
    for (int i = 0; i < 3; i++) {
        struct page_outcome o = {.page_id = t.pages[i].id,
                                 .status = PAGE_DONE,
                                 .http_status = 200,
                                 .body = i < 2 ? body : NULL,
                                 .body_len = i < 2 ? sizeof body : 0,
                                 .content_type = i == 0 ? "text/html" : NULL};
        cr_assert_eq(run(&f, finish_only_fn, &o), 0);
    }
    struct record_new ra[] = {{"A1", "http://example.com/a", "{\"n\":1}", 0},
                              {"A2", "http://example.com/a", "{\"n\":2}", 0}};
    struct record_new rc_[] = {{"C1", "http://example.com/c", "{\"n\":3}", 0}};
    struct put_many pa = {ra, 2, t.pages[0].id}, pc = {rc_, 1, t.pages[2].id};
    cr_assert_eq(run(&f, put_fn, &pa), 0);
    cr_assert_eq(run(&f, put_fn, &pc), 0);

    /* generation 1: the pages not yet of it, by id from a cursor, with their bodies */
    struct store *s = engine_store(f.eng);
    struct err e = {0};
    struct page_body *b;
    size_t n;
    cr_assert_eq(store_pages_to_extract(s, f.sid, 1, 0, 2, &b, &n, &e), 2, "%s", e.msg);
    cr_assert_eq(b[0].id, t.pages[0].id);
    cr_assert_str_eq(b[0].url, "http://example.com/a");
    cr_assert_str_eq(b[0].content_type, "text/html");
    cr_assert_eq(b[0].body_len, sizeof body);
    cr_assert_eq(memcmp(b[0].body, body, sizeof body), 0);
    cr_assert_null(b[1].content_type);
    int64_t cursor = b[1].id;
    page_body_array_free(b, n);
    cr_assert_eq(store_pages_to_extract(s, f.sid, 1, cursor, 2, &b, &n, &e), 1);
    cr_assert_eq(b[0].id, t.pages[2].id);
    cr_assert_null(b[0].body, "no body kept");
    cr_assert_eq(b[0].body_len, 0);
    page_body_array_free(b, n);
    /* a found A1 again (A2 not), b found B1 */
    struct record_new ra1[] = {{"A1", "http://example.com/a", "{\"n\":10}", 1}};
    struct record_new rb1[] = {{"B1", "http://example.com/b", "{\"n\":4}", 1}};
    struct put_many pa1 = {ra1, 1, t.pages[0].id}, pb1 = {rb1, 1, t.pages[1].id};
    cr_assert_eq(run(&f, put_fn, &pa1), 0);
    cr_assert_eq(run(&f, put_fn, &pb1), 0);
    struct extracted xa = {t.pages[0].id, 1, 1}, xb = {t.pages[1].id, 1, 1};
    cr_assert_eq(run(&f, extracted_fn, &xa), 0);
    cr_assert_eq(run(&f, extracted_fn, &xb), 0);
    cr_assert_eq(store_pages_to_extract(s, f.sid, 1, 0, 0, &b, &n, &e), 1);
    cr_assert_eq(b[0].id, t.pages[2].id, "the page without a body is left");
    page_body_array_free(b, n);
    struct scrape_session ss;
    session(&f, &ss);
    cr_assert_eq(ss.materials, 4);
    scrape_session_release(&ss);
    int gen = 1;
    cr_assert_eq(run(&f, prune_records_fn, &gen), 1, "A2 goes; C1 cannot be made again");
    session(&f, &ss);
    cr_assert_eq(ss.materials, 3);
    scrape_session_release(&ss);
    struct record_row *rows;
    cr_assert_eq(store_records_list(s, f.sid, 0, 0, &rows, &n, &e), 3);
    cr_assert_str_eq(rows[0].key, "A1");
    cr_assert_str_eq(rows[0].data, "{\"n\":10}");
    cr_assert_str_eq(rows[1].key, "C1");
    cr_assert_str_eq(rows[2].key, "B1");
    int64_t after = rows[0].id;
    record_row_array_free(rows, n);
    cr_assert_eq(store_records_list(s, f.sid, after, 1, &rows, &n, &e), 1);
    cr_assert_str_eq(rows[0].key, "C1");
    record_row_array_free(rows, n);
    scrape_page_array_free(t.pages, t.n);
    engine_close(f.eng);
}

struct sync_op {
    struct sync_batch *b;
    int what; /* 0 begin, 1 sync, 2 prune */
};

static int sync_fn(struct store *s, struct op *o, struct err *e)
{
    const struct sync_op *y = o->in;
    if (y->what == 0)
        return store_sync_begin(s, y->b, e);
    if (y->what == 1)
        return store_source_sync(s, y->b, e);
    return store_source_prune(s, y->b, e);
}

static int sync_step(struct fx *f, struct sync_batch *b, int what)
{
    struct sync_op y = {b, what};
    return run(f, sync_fn, &y);
}

/* The session's records, as the sync reads them: all of them, in id order. */
static struct record_row *records(struct fx *f, size_t *n)
{
    struct record_row *rows;
    struct err e = {0};
    cr_assert_geq(store_records_list(engine_store(f->eng), f->sid, 0, 0, &rows, n, &e), 0, "%s",
                  e.msg);
    return rows;
}

Test(scrape_store, a_sync_marks_what_changed_since_the_last_one_of_its_source)
{
    struct fx f;
    setup(&f);
    struct record_new r1[] = {{"k1", NULL, "{\"a\":1,\"b\":2}", 0},
                              {"k2", NULL, "{\"a\":2}", 0},
                              {"k3", NULL, "{\"a\":3}", 0}};
    struct put_many m1 = {r1, 3, 0};
    cr_assert_eq(run(&f, put_fn, &m1), 0);
    size_t n;
    struct record_row *rows = records(&f, &n);
    struct sync_batch b = {.workspace = "w",
                           .source = "http://example.com/",
                           .session_id = f.sid,
                           .sync_job_id = "sync-1",
                           .diff = true,
                           .recs = rows,
                           .n = n,
                           .now = 6000};
    cr_assert_eq(sync_step(&f, &b, 0), 0);
    cr_assert_eq(sync_step(&f, &b, 1), 0);
    cr_assert_eq(b.added, 3);
    cr_assert_eq(b.changed + b.unchanged, 0);
    cr_assert_eq(sync_step(&f, &b, 1), 0, "the same sync again (a retried attempt)");
    cr_assert_eq(b.added + b.changed + b.unchanged, 0, "finds everything delivered");
    cr_assert_eq(sync_step(&f, &b, 2), 0, "nothing gone");
    record_row_array_free(rows, n);
    struct store *s = engine_store(f.eng);
    struct err e = {0};
    int64_t c[4];
    cr_assert_eq(store_sync_counts(s, f.sid, c, &e), 0, "%s", e.msg);
    cr_assert_eq(c[0], 3);
    cr_assert_eq(c[1] + c[2] + c[3], 0);

    /* the next session of the source: k1 changed, k2 the same, k3 gone, k4 new */
    struct fx g = f;
    uuid_v7(g.sid, 7000);
    struct scrape_session ss = {
        .workspace = "w", .source_url = "http://example.com/", .config = "{}", .created_at = 7000};
    memcpy(ss.id, g.sid, UUID_STR_LEN);
    snprintf(ss.job_id, sizeof ss.job_id, "%s", "01a20000-0000-7000-8000-000000000009");
    cr_assert_eq(run(&g, session_add_fn, &ss), 0);
    struct record_new r2[] = {{"k1", NULL, "{\"a\":1,\"b\":5,\"c\":0}", 0},
                              {"k2", NULL, "{\"a\":2}", 0},
                              {"k4", NULL, "{\"a\":4}", 0}};
    struct put_many m2 = {r2, 3, 0};
    cr_assert_eq(run(&g, put_fn, &m2), 0);
    rows = records(&g, &n);
    /* in two batches, the second with k1 again and k4 twice */
    struct record_row twice[3] = {rows[2], rows[0], rows[2]};
    b = (struct sync_batch){.workspace = "w",
                            .source = "http://example.com/",
                            .session_id = g.sid,
                            .sync_job_id = "sync-2",
                            .diff = true,
                            .recs = rows,
                            .n = 2,
                            .now = 8000};
    cr_assert_eq(sync_step(&g, &b, 0), 0);
    cr_assert_eq(sync_step(&g, &b, 1), 0);
    cr_assert_eq(b.changed, 1);
    cr_assert_eq(b.unchanged, 1);
    cr_assert_eq(b.added, 0);
    b.recs = twice;
    b.n = 3;
    cr_assert_eq(sync_step(&g, &b, 1), 0);
    cr_assert_eq(b.added, 1, "k4, once");
    cr_assert_eq(b.changed + b.unchanged, 0, "k1 was delivered by this sync already");
    cr_assert_eq(sync_step(&g, &b, 2), 1, "k3 is gone");
    cr_assert_eq(sync_step(&g, &b, 2), 0);
    record_row_array_free(rows, n);
    rows = records(&g, &n);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(rows[0].key, "k1");
    cr_assert_str_eq(rows[0].change, "changed");
    cr_assert_str_eq(rows[0].changed_fields, "[\"b\",\"c\"]");
    cr_assert_str_eq(rows[1].change, "unchanged");
    cr_assert_null(rows[1].changed_fields);
    cr_assert_str_eq(rows[2].change, "new");
    record_row_array_free(rows, n);
    cr_assert_eq(store_sync_counts(s, g.sid, c, &e), 0);
    cr_assert_eq(c[0], 1);
    cr_assert_eq(c[1], 1);
    cr_assert_eq(c[2], 1);
    cr_assert_eq(c[3], 1);
    cr_assert_eq(store_removed_list(s, g.sid, NULL, 0, &rows, &n, &e), 1, "%s", e.msg);
    cr_assert_str_eq(rows[0].key, "k3");
    cr_assert_str_eq(rows[0].data, "{\"a\":3}");
    cr_assert_str_eq(rows[0].change, "removed");
    record_row_array_free(rows, n);
    cr_assert_eq(store_removed_list(s, g.sid, "k3", 0, &rows, &n, &e), 0);
    record_row_array_free(rows, n);
    /* the first session's marks are its own; a new sync of the second forgets what was removed */
    cr_assert_eq(store_sync_counts(s, f.sid, c, &e), 0);
    cr_assert_eq(c[0], 3);
    b.sync_job_id = "sync-3";
    b.n = 0;
    cr_assert_eq(sync_step(&g, &b, 0), 0);
    cr_assert_eq(store_sync_counts(s, g.sid, c, &e), 0);
    cr_assert_eq(c[3], 0);
    engine_close(f.eng);
}

/* ---- two nodes on one database ---- */

struct node {
    struct engine *eng;
    const char *sid;
    int64_t *taken; /* the ids this node took */
    size_t n;
    char error[600]; /* the first error that trying again cannot help */
};

static int node_take_fn(struct store *s, void *arg, struct err *e)
{
    struct node *nd = arg;
    struct scrape_page *pages;
    size_t n;
    int64_t next_due;
    int rc = store_pages_take(s, nd->sid, 3, 5000, &pages, &n, &next_due, e);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        struct page_outcome o = {.page_id = pages[i].id, .status = PAGE_DONE, .http_status = 200};
        rc = store_page_finish(s, nd->sid, &o, 6000, e);
        /* each page adds one link, which the other node may add too */
        char url[64];
        snprintf(url, sizeof url, "http://example.com/link/%lld", (long long)(pages[i].id % 7));
        struct page_new link = {url, 1, "link", NULL};
        if (rc >= 0)
            rc = store_pages_add(s, nd->sid, &link, 1, 60, 6000, e);
        if (rc >= 0)
            nd->taken[nd->n + i] = pages[i].id;
    }
    if (rc >= 0)
        nd->n += n;
    scrape_page_array_free(pages, n);
    return rc < 0 ? rc : (int)n;
}

static void *node_run(void *arg)
{
    struct node *nd = arg;
    for (int idle = 0; idle < 3;) {
        struct err e = {0};
        size_t before = nd->n;
        int rc = engine_exec(nd->eng, node_take_fn, nd, &e);
        if (rc && !e.retryable) {
            snprintf(nd->error, sizeof nd->error, "%s", e.msg);
            break;
        }
        idle = nd->n == before ? idle + 1 : 0;
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

Test(scrape_store, two_nodes_never_take_the_same_page_and_the_counts_stay_exact, .timeout = 60)
{
    struct fx f;
    setup(&f);
    struct page_new p[50];
    char urls[50][64];
    for (int i = 0; i < 50; i++) {
        snprintf(urls[i], sizeof urls[i], "http://example.com/seed/%d", i);
        p[i] = (struct page_new){urls[i], 0, "seed", NULL};
    }
    cr_assert_eq(add(&f, p, 50, 0), 50);
    int64_t a_ids[100], b_ids[100];
    struct node a = {f.eng, f.sid, a_ids, 0, ""}, b = {tu_engine(NULL, NULL), f.sid, b_ids, 0, ""};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, node_run, &a);
    pthread_create(&tb, NULL, node_run, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    cr_assert_str_empty(a.error);
    cr_assert_str_empty(b.error);
    /* 50 seeds and their 7 distinct links, each taken by one node once */
    cr_assert_eq(a.n + b.n, 57, "taken %zu + %zu", a.n, b.n);
    int64_t all[200];
    memcpy(all, a_ids, a.n * sizeof *all);
    memcpy(all + a.n, b_ids, b.n * sizeof *all);
    qsort(all, a.n + b.n, sizeof *all, cmp_i64);
    for (size_t i = 1; i < a.n + b.n; i++)
        cr_assert_neq(all[i], all[i - 1], "page %lld was taken twice", (long long)all[i]);
    struct scrape_session ss;
    session(&f, &ss);
    cr_assert_eq(ss.total_pages, 57);
    cr_assert_eq(ss.completed_pages, 57);
    scrape_session_release(&ss);
    engine_close(b.eng);
    engine_close(f.eng);
}
