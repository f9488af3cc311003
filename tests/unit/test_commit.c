/* Group commit: concurrent changes share transactions, and every acknowledged one is there. */
#include "base/clock.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS    8
#define PER_THREAD 200

struct enq_arg {
    struct engine *eng;
    char ids[PER_THREAD][UUID_STR_LEN];
    int failures;
};

static void *enqueue_loop(void *p)
{
    struct enq_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        struct job_spec s = {.type = "noop", .args = "{\"n\":1}"};
        struct enqueue_result r;
        struct err e;
        if (engine_enqueue(a->eng, &s, &r, &e) != 0)
            a->failures++;
        else
            memcpy(a->ids[i], r.id, UUID_STR_LEN);
    }
    return NULL;
}

Test(commit, concurrent_enqueues_share_commits_and_all_are_durable)
{
    struct engine *eng = tu_engine(NULL, NULL);
    static struct enq_arg args[THREADS];
    pthread_t t[THREADS];
    struct engine_stats before;
    engine_stats(eng, &before);
    for (int i = 0; i < THREADS; i++) {
        args[i].eng = eng;
        pthread_create(&t[i], NULL, enqueue_loop, &args[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    struct engine_stats after;
    engine_stats(eng, &after);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(args[i].failures, 0);
    uint64_t ops = after.ops - before.ops, commits = after.commits - before.commits;
    cr_assert_eq(ops, THREADS * PER_THREAD);
    /* with 8 callers waiting on fsync, transactions must hold more than one change on average */
    cr_assert_lt(commits, ops, "every enqueue had its own commit (%llu commits for %llu ops)",
                 (unsigned long long)commits, (unsigned long long)ops);
    engine_close(eng);

    /* reopen: every acknowledged job is there, pending */
    eng = tu_engine(NULL, NULL);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < PER_THREAD; k++)
            cr_assert_eq(tu_status(eng, args[i].ids[k]), JOB_PENDING);
    int64_t counts[JOB_STATUS_COUNT];
    struct err e;
    cr_assert_eq(engine_counts(eng, counts, &e), 0);
    cr_assert_eq(counts[JOB_PENDING], THREADS * PER_THREAD);
    engine_close(eng);
}

struct done_arg {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int done;
    int rcs[64];
};

static void on_done(void *ctx, int rc, const struct err *e)
{
    (void)e;
    struct done_arg *d = ctx;
    pthread_mutex_lock(&d->lock);
    d->rcs[d->done++] = rc;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->lock);
}

/* Many completions queued at once (grouped into one statement) with one stale among them: the
 * stale one is refused and every other one is recorded. */
Test(commit, grouped_completions_with_one_stale)
{
    struct engine *eng = tu_engine(NULL, NULL);
    const char *type = "noop";
    enum { N = 40 };
    struct job_spec specs[N];
    struct enqueue_result res[N];
    memset(specs, 0, sizeof specs);
    for (int i = 0; i < N; i++)
        specs[i].type = "noop";
    struct err e;
    cr_assert_eq(engine_enqueue_many(eng, specs, N, res, &e), 0, "%s", e.msg);
    struct job *jobs;
    size_t n;
    cr_assert_eq(engine_claim(eng, &type, 1, N, "w", 0, &jobs, &n, &e), N);
    struct done_arg d = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    for (int i = 0; i < N; i++) {
        struct job_fence f = {.id = jobs[i].id,
                              .attempt = jobs[i].attempt,
                              .owner = i == 17 ? "intruder" : "w",
                              .type = "noop",
                              .seq = jobs[i].event_seq,
                              .ref = jobs[i].store_ref,
                              .workspace = jobs[i].workspace,
                              .batch_id = jobs[i].batch_id,
                              .started_at = jobs[i].started_at};
        engine_complete_async(eng, &f, "{\"ok\":1}", on_done, &d);
    }
    pthread_mutex_lock(&d.lock);
    while (d.done < N)
        pthread_cond_wait(&d.cv, &d.lock);
    pthread_mutex_unlock(&d.lock);
    int stale = 0, ok = 0;
    for (int i = 0; i < N; i++) {
        stale += d.rcs[i] == TRAWL_ESTALE;
        ok += d.rcs[i] == 0;
    }
    cr_assert_eq(stale, 1);
    cr_assert_eq(ok, N - 1);
    for (int i = 0; i < N; i++)
        cr_assert_eq(tu_status(eng, jobs[i].id), i == 17 ? JOB_PROCESSING : JOB_COMPLETED);
    struct job_event *ev;
    size_t nev;
    cr_assert_eq(engine_events(eng, jobs[3].id, &ev, &nev, &e), 2);
    cr_assert_eq(ev[1].to, JOB_COMPLETED);
    cr_assert_eq(ev[1].attempt, 1);
    job_events_free(ev, nev);
    job_array_free(jobs, n);
    engine_close(eng);
}

/* PostgreSQL detects a deadlock between two writers and rolls one of them back. When the one it
 * picks is trawl's committer, the enqueue is run again and acknowledged, not failed: the other
 * writer here is a second connection that holds the counter row of type "b" and then waits for
 * that of type "a", which the committer's transaction (counting "a" before "b") took first. */
struct many_arg {
    struct engine *eng;
    int rc;
    struct err e;
};

static void *enqueue_a_and_b(void *p)
{
    struct many_arg *a = p;
    struct job_spec s[2] = {{.type = "a"}, {.type = "b"}};
    struct enqueue_result r[2];
    a->rc = engine_enqueue_many(a->eng, s, 2, r, &a->e);
    return NULL;
}

static void pg_ok(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
              "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

Test(commit, an_enqueue_rolled_back_by_a_deadlock_is_run_again, .timeout = 60)
{
    if (!tu_pg())
        cr_skip_test("PostgreSQL only: SQLite has one writer, so no deadlock between two");
    struct engine *eng = tu_engine(NULL, NULL);
    tu_enqueue(eng, "a", NULL);
    tu_enqueue(eng, "b", NULL);
    PGconn *other = PQconnectdb(tu_db(NULL));
    cr_assert_eq(PQstatus(other), CONNECTION_OK, "%s", PQerrorMessage(other));
    pg_ok(other, "BEGIN");
    pg_ok(other, "UPDATE job_counts SET pending = pending WHERE type = 'b'");

    struct many_arg a = {.eng = eng};
    pthread_t t;
    pthread_create(&t, NULL, enqueue_a_and_b, &a);
    /* the committer has counted "a" and waits for "b" (a lock wait shows in pg_locks) */
    for (int i = 0; i < 500; i++) {
        PGresult *r = PQexec(other, "SELECT count(*) FROM pg_locks WHERE NOT granted");
        long waiting = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        if (waiting > 0)
            break;
        clock_sleep_ms(10);
    }
    /* now this one waits for "a": a deadlock, which PostgreSQL finds after deadlock_timeout and
     * breaks by rolling back the committer, whose wait began first */
    PGresult *r = PQexec(other, "UPDATE job_counts SET pending = pending WHERE type = 'a'");
    bool other_ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    cr_assert(other_ok, "the test's own transaction was the one rolled back: %s",
              PQerrorMessage(other));
    PQclear(r);
    pg_ok(other, "ROLLBACK");
    PQfinish(other);
    pthread_join(t, NULL);
    cr_assert_eq(a.rc, 0, "the enqueue failed: %s", a.e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 4);
    engine_close(eng);
}
