/* The job counters the metrics are answered from: after every kind of change (enqueue, claim,
 * complete, fail, retry, cancel, a sweep's requeue and failure, a due retry, a batch retry) they
 * must equal what counting the jobs table says, per workspace and type; and the minutes must hold
 * what ended, with its processing time. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define T0 120000000 /* ms: minute 2000 */

/* Compare every counter row with a count of the jobs table itself. */
static void check_counts(struct engine *eng, const char *db)
{
    struct stats_row *rows;
    size_t n;
    struct err e = {0};
    struct stats_query q = {0};
    cr_assert_geq(engine_job_stats(eng, &q, &rows, &n, &e), 0, "%s", e.msg);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        for (int s = 0; s < JOB_STATUS_COUNT; s++) {
            char sql[400]; /* the test's own names: nothing to quote */
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM jobs WHERE workspace = '%s' AND type = '%s' AND "
                     "status = '%s'",
                     rows[i].workspace, rows[i].type, job_status_name(s));
            int64_t want = tu_sql_i64(db, sql);
            cr_assert_eq(rows[i].status[s], want, "%s/%s %s: counter %lld, table %lld",
                         rows[i].workspace, rows[i].type, job_status_name(s),
                         (long long)rows[i].status[s], (long long)want);
            total += want;
        }
    }
    cr_assert_eq(total, tu_sql_i64(db, "SELECT count(*) FROM jobs"),
                 "every job is in some counter row");
    stats_rows_free(rows, n);
}

static const struct stats_row *row_of(const struct stats_row *rows, size_t n, const char *ws,
                                      const char *type)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].workspace, ws) == 0 && strcmp(rows[i].type, type) == 0)
            return &rows[i];
    return NULL;
}

static void enqueue_in(struct engine *eng, const char *ws, const char *type, const char *batch,
                       int n)
{
    for (int i = 0; i < n; i++) {
        struct job_spec spec = {.type = type, .workspace = ws, .batch_id = batch};
        struct enqueue_result res;
        struct err e = {0};
        cr_assert_eq(engine_enqueue(eng, &spec, &res, &e), 0, "%s", e.msg);
    }
}

Test(stats, counters_follow_every_kind_of_change)
{
    struct tu_clock clk;
    tu_clock_init(&clk, T0);
    struct engine *eng = tu_engine(NULL, &clk);
    struct job_type_config cfg = {
        .name = "import", .lease_ms = 10000, .max_attempts = 2, .backoff = {1000, 1000}};
    struct err e = {0};
    cr_assert_eq(engine_set_type(eng, &cfg, &e), 0, "%s", e.msg);
    enqueue_in(eng, "acme", "import", "b1", 6);
    enqueue_in(eng, "acme", "noop", NULL, 3);
    enqueue_in(eng, "other", "import", NULL, 2);
    struct job_spec many[5];
    struct enqueue_result res[5];
    for (int i = 0; i < 5; i++)
        many[i] = (struct job_spec){.type = "noop", .workspace = "other"};
    cr_assert_eq(engine_enqueue_many(eng, many, 5, res, &e), 0, "%s", e.msg);
    check_counts(eng, tu_path("trawl.db"));

    /* acme/import: claim 5 of 6 (workers of both kinds of fence), then end them every way */
    struct job j[5];
    for (int i = 0; i < 5; i++)
        tu_claim_one(eng, "import", "w", &j[i]);
    check_counts(eng, tu_path("trawl.db"));
    tu_clock_advance(&clk, 1500);
    struct job_fence full = TU_FENCE(j[0]);
    full.type = j[0].type;
    full.workspace = j[0].workspace;
    full.batch_id = j[0].batch_id;
    full.started_at = j[0].started_at;
    cr_assert_eq(engine_complete(eng, &full, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j[1]), "{\"ok\":1}", &e), 0, "%s", e.msg);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j[2]), "boom", true, &e), JOB_RETRYING, "%s", e.msg);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j[3]), "404", false, &e), JOB_FAILED, "%s", e.msg);
    check_counts(eng, tu_path("trawl.db"));
    /* j[4]'s worker dies: the sweep requeues it; the due retry of j[2] is made pending */
    tu_clock_advance(&clk, 10001);
    tu_sweep(eng);
    check_counts(eng, tu_path("trawl.db"));
    cr_assert_eq(engine_cancel(eng, j[4].id, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_retry(eng, j[3].id, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_cancel(eng, j[3].id, &e), 0, "%s", e.msg);
    check_counts(eng, tu_path("trawl.db"));
    struct job k;
    tu_claim_one(eng, "import", "w", &k);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(k), "bad row", false, &e), JOB_FAILED, "%s", e.msg);
    cr_assert_eq(engine_retry_batch(eng, "acme", "b1", 0, &e), 1, "%s", e.msg);
    check_counts(eng, tu_path("trawl.db"));

    /* the minute: 2 completed after 1.5 s each, 2 retried (boom, and the dead worker's attempt),
     * 2 failed for good (404 and bad row) */
    struct stats_row *rows;
    size_t n;
    struct stats_query q = {.workspace = "acme", .since = T0};
    cr_assert_eq(engine_job_stats(eng, &q, &rows, &n, &e), 2, "%s", e.msg);
    const struct stats_row *r = row_of(rows, n, "acme", "import");
    cr_assert_not_null(r);
    cr_assert_eq(r->completed, 2);
    cr_assert_eq(r->retried, 2);
    cr_assert_eq(r->failed, 2);
    cr_assert_eq(r->proc_n, 2);
    cr_assert_eq(r->proc_ms, 3000, "1.5 s each: %lld", (long long)r->proc_ms);
    cr_assert_null(row_of(rows, n, "other", "import"), "only the workspace asked for");
    stats_rows_free(rows, n);
    /* a window that starts after those minutes sees none of it, but the same counts */
    q.since = T0 + 3600 * 1000;
    cr_assert_eq(engine_job_stats(eng, &q, &rows, &n, &e), 2, "%s", e.msg);
    r = row_of(rows, n, "acme", "import");
    cr_assert_eq(r->completed, 0);
    cr_assert_eq(r->status[JOB_COMPLETED], 2);
    stats_rows_free(rows, n);
    for (int i = 0; i < 5; i++)
        job_release(&j[i]);
    job_release(&k);
    engine_close(eng);
}

/* A transaction rolled back (an injected store failure) leaves the counters as they were. */
Test(stats, a_failed_transaction_counts_nothing)
{
    struct engine *eng = tu_engine(NULL, NULL);
    enqueue_in(eng, "default", "noop", NULL, 3);
    struct err e = {0};
    struct job_spec spec = {.type = "noop"};
    struct enqueue_result res;
    store_fail_nth(engine_store(eng), 2); /* begin goes through, the insert fails */
    cr_assert_lt(engine_enqueue(eng, &spec, &res, &e), 0, "the injected failure");
    store_fail_nth(engine_store(eng), 0);
    check_counts(eng, tu_path("trawl.db"));
    engine_close(eng);
}
