/* Retention on both stores: finished jobs past their retention are deleted with their events and
 * counted out of the job counters; recent and live ones stay; a chain, a batch or a scraping
 * session goes whole or not at all; a feed import's job and its chain stay with the import; the
 * dead-letter queue has its own retention; a backlog larger than one batch is deleted in several
 * transactions by one call. */
#include "store/crawl.h"
#include "store/import.h"
#include "store/scrape.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define DAY (86400LL * 1000)
#define T0  1700000000000LL

static struct tu_clock clk;

static struct engine *setup(void)
{
    tu_clock_init(&clk, T0);
    return tu_engine(NULL, &clk);
}

/* Claim the one pending job of type and complete it (ok) or fail it for good. */
static void finish(struct engine *eng, const char *type, bool ok)
{
    struct job j;
    tu_claim_one(eng, type, "w1", &j);
    struct err e = {0};
    if (ok)
        cr_assert_eq(engine_complete(eng, &TU_FENCE(j), "{}", &e), 0, "%s", e.msg);
    else
        cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "broken", false, &e), JOB_FAILED, "%s", e.msg);
    job_release(&j);
}

static bool exists(struct engine *eng, const char *id)
{
    struct job j;
    struct err e = {0};
    int rc = engine_get(eng, id, &j, &e);
    if (rc == 0)
        job_release(&j);
    cr_assert(rc == 0 || rc == TRAWL_ENOTFOUND, "%s", e.msg);
    return rc == 0;
}

static int64_t prune(struct engine *eng, int64_t keep, int64_t dead_keep)
{
    int64_t n = -1;
    bool more = true;
    struct err e = {0};
    cr_assert_eq(engine_prune(eng, keep, dead_keep, 60000, &n, &more, &e), 0, "%s", e.msg);
    cr_assert_not(more, "a call with time enough deletes all that is due");
    return n;
}

Test(retention, finished_jobs_past_it_go_with_their_events_and_counts)
{
    struct engine *eng = setup();
    char done[UUID_STR_LEN], cancelled[UUID_STR_LEN], dead[UUID_STR_LEN], fresh[UUID_STR_LEN],
        live[UUID_STR_LEN];
    snprintf(done, sizeof done, "%s", tu_enqueue(eng, "a", NULL));
    finish(eng, "a", true);
    snprintf(dead, sizeof dead, "%s", tu_enqueue(eng, "b", NULL));
    finish(eng, "b", false);
    snprintf(cancelled, sizeof cancelled, "%s", tu_enqueue(eng, "c", NULL));
    struct err e = {0};
    cr_assert_eq(engine_cancel(eng, cancelled, &e), 0, "%s", e.msg);
    tu_clock_advance(&clk, 8 * DAY);
    snprintf(fresh, sizeof fresh, "%s", tu_enqueue(eng, "a", NULL));
    finish(eng, "a", true);
    snprintf(live, sizeof live, "%s", tu_enqueue(eng, "d", NULL));
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), 2);

    cr_assert_eq(prune(eng, 7 * DAY, 0), 2, "the old completed and cancelled jobs");
    cr_assert_not(exists(eng, done));
    cr_assert_not(exists(eng, cancelled));
    cr_assert(exists(eng, dead), "failed jobs are kept when dead_keep is 0");
    cr_assert(exists(eng, fresh), "a job that ended a day ago is within 7 days");
    cr_assert(exists(eng, live));
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM job_events WHERE job_id IN (SELECT id "
                                  "FROM jobs) "),
                 tu_sql_i64(NULL, "SELECT count(*) FROM job_events"),
                 "no event is left of a deleted job");
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), 1, "the counters went down with the jobs");
    cr_assert_eq(tu_count(eng, JOB_CANCELLED), 0);
    cr_assert_eq(tu_count(eng, JOB_FAILED), 1);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1);

    cr_assert_eq(prune(eng, 7 * DAY, 0), 0, "nothing more to delete");
    cr_assert_eq(prune(eng, 7 * DAY, 7 * DAY), 1, "the dead job, with its own retention");
    cr_assert_not(exists(eng, dead));
    cr_assert_eq(tu_count(eng, JOB_FAILED), 0);
    cr_assert_eq(prune(eng, 0, 0), 0, "0 keeps everything");
    engine_close(eng);
}

Test(retention, a_chain_goes_whole_once_every_stage_is_past_it)
{
    struct engine *eng = setup();
    struct job_spec next = {.type = "second"};
    struct job_spec root = {.type = "first", .next = &next, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &root, &r, &e), 0, "%s", e.msg);
    finish(eng, "first", true);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 0, "the root is old but its second stage is pending");
    cr_assert(exists(eng, r.id));
    finish(eng, "second", true);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 0, "the second stage ended just now");
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 2);
    cr_assert_not(exists(eng, r.id));
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM jobs"), 0);
    engine_close(eng);
}

Test(retention, a_batch_goes_with_its_last_job)
{
    struct engine *eng = setup();
    struct job_spec s[2] = {{.type = "a", .batch_id = "b1"}, {.type = "z", .batch_id = "b1"}};
    struct enqueue_result r[2];
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, s, 2, r, &e), 0, "%s", e.msg);
    finish(eng, "a", true);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 0, "one job of the batch is still pending");
    cr_assert_eq(tu_sql_i64(NULL, "SELECT total FROM batches WHERE id = 'b1'"), 2);
    finish(eng, "z", true);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 2);
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM batches"), 0, "the empty batch went too");
    engine_close(eng);
}

static int add_session(struct store *s, void *arg, struct err *e)
{
    struct scrape_session ss = {
        .workspace = "default", .source_url = "http://example.com/", .config = "{}"};
    uuid_v7(ss.id, T0);
    snprintf(ss.job_id, sizeof ss.job_id, "%s", (const char *)arg);
    return store_session_add(s, &ss, e);
}

struct save_arg {
    const struct job *j;
};

static int save_result(struct store *s, void *arg, struct err *e)
{
    const struct job *j = ((struct save_arg *)arg)->j;
    struct crawl_result c = {
        .url = "http://example.com/", .headers = "{}", .http_status = 200, .fetched_at = T0};
    snprintf(c.job_id, sizeof c.job_id, "%s", j->id);
    return store_crawl_save(s, &c, j->attempt, j->lease_owner, e);
}

Test(retention, a_sessions_jobs_stay_and_a_crawl_result_goes_with_its_job)
{
    struct engine *eng = setup();
    char sess[UUID_STR_LEN], fetch[UUID_STR_LEN];
    snprintf(sess, sizeof sess, "%s", tu_enqueue(eng, "web_scraping", NULL));
    struct err e = {0};
    cr_assert_eq(engine_exec(eng, add_session, sess, &e), 0, "%s", e.msg);
    finish(eng, "web_scraping", true);
    snprintf(fetch, sizeof fetch, "%s", tu_enqueue(eng, "crawl", NULL));
    struct job j;
    tu_claim_one(eng, "crawl", "w1", &j);
    struct save_arg sa = {&j};
    cr_assert_eq(engine_exec(eng, save_result, &sa, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j), "{}", &e), 0, "%s", e.msg);
    job_release(&j);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 1);
    cr_assert(exists(eng, sess), "the session's job stays with its session");
    cr_assert_not(exists(eng, fetch));
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM crawl_results"), 0);
    engine_close(eng);
}

/* An import run by job arg (its id), as the import API adds it. */
static int add_import(struct store *s, void *arg, struct err *e)
{
    struct import im = {.workspace = "default", .source_name = "feed.xml", .created_at = T0};
    uuid_v7(im.id, T0);
    snprintf(im.job_id, sizeof im.job_id, "%s", (const char *)arg);
    return store_import_add(s, &im, e);
}

Test(retention, an_imports_job_and_its_whole_chain_stay_with_the_import)
{
    struct engine *eng = setup();
    struct err e = {0};
    /* an import run by a job of its own */
    char lone[UUID_STR_LEN];
    snprintf(lone, sizeof lone, "%s", tu_enqueue(eng, "xml_import", NULL));
    cr_assert_eq(engine_exec(eng, add_import, lone, &e), 0, "%s", e.msg);
    finish(eng, "xml_import", true);
    /* an import run by the middle stage of a pipeline: download, import, notify */
    struct job_spec notify = {.type = "notify"};
    struct job_spec imp = {.type = "feed_import", .next = &notify, .nnext = 1};
    struct job_spec download = {.type = "download", .next = &imp, .nnext = 1};
    struct enqueue_result r;
    cr_assert_eq(engine_enqueue(eng, &download, &r, &e), 0, "%s", e.msg);
    char sql[200], stage[UUID_STR_LEN];
    snprintf(sql, sizeof sql, "SELECT id FROM jobs WHERE type = 'feed_import' AND root_id = '%s'",
             r.id);
    struct tdb_rows rows;
    cr_assert_eq(tu_sql_rows(NULL, sql, &rows), 1);
    snprintf(stage, sizeof stage, "%s", tdb_cell(&rows, 0, 0));
    tdb_rows_free(&rows);
    cr_assert_eq(engine_exec(eng, add_import, stage, &e), 0, "%s", e.msg);
    finish(eng, "download", true);
    finish(eng, "feed_import", true);
    finish(eng, "notify", true);
    /* and a job with no import */
    char plain[UUID_STR_LEN];
    snprintf(plain, sizeof plain, "%s", tu_enqueue(eng, "a", NULL));
    finish(eng, "a", true);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), 1, "only the job with no import");
    cr_assert_not(exists(eng, plain));
    cr_assert(exists(eng, lone), "an import's job stays with its import");
    cr_assert(exists(eng, r.id), "the chain of an import's job stays whole");
    cr_assert(exists(eng, stage));
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM jobs"), 4);
    engine_close(eng);
}

Test(retention, a_backlog_is_deleted_in_batches_by_one_call, .timeout = 120)
{
    struct engine *eng = setup();
    enum { N = ENGINE_PRUNE_BATCH * 2 + 7 };
    static struct job_spec s[N];
    static struct enqueue_result r[N];
    for (int i = 0; i < N; i++)
        s[i] = (struct job_spec){.type = "bulk"};
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, s, N, r, &e), 0, "%s", e.msg);
    for (int i = 0; i < N; i++)
        cr_assert_eq(engine_cancel(eng, r[i].id, &e), 0, "%s", e.msg);
    struct engine_stats before, after;
    engine_stats(eng, &before);
    tu_clock_advance(&clk, 8 * DAY);
    cr_assert_eq(prune(eng, 7 * DAY, 0), N);
    engine_stats(eng, &after);
    cr_assert_geq(after.commits - before.commits, 3, "a transaction per batch of %d",
                  ENGINE_PRUNE_BATCH);
    cr_assert_eq(tu_sql_i64(NULL, "SELECT count(*) FROM jobs"), 0);
    cr_assert_eq(tu_count(eng, JOB_CANCELLED), 0);
    engine_close(eng);
}
