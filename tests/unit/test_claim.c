/* Claims: order, delays, types, limits; unique keys; parents and roots. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct job *claim(struct engine *eng, const char *type, size_t limit, size_t *n)
{
    struct job *jobs = NULL;
    struct err e = {0};
    int rc = engine_claim(eng, &type, 1, limit, "w", 0, &jobs, n, &e);
    cr_assert_geq(rc, 0, "claim: %s", e.msg);
    cr_assert_eq((size_t)rc, *n);
    return jobs;
}

/* Highest priority first, then the oldest run_at, then the id. */
Test(claim, priority_then_run_at_then_id)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 10000000);
    struct engine *eng = tu_engine(NULL, &clk);
    /* name: priority, run_at offset from now (in the past: already due) */
    struct {
        const char *name;
        int priority;
        int64_t run_at_ago;
    } plan[] = {
        {"low-old", -5, 9000}, {"mid-new", 0, 1000}, {"high-new", 10, 10},
        {"mid-old", 0, 5000},  {"high-old", 10, 20}, {"mid-new-2", 0, 1000},
    };
    const char *want[] = {"high-old", "high-new", "mid-old", "mid-new", "mid-new-2", "low-old"};
    for (size_t i = 0; i < 6; i++) {
        char args[64];
        snprintf(args, sizeof args, "{\"name\":\"%s\"}", plan[i].name);
        struct job_spec s = {.type = "noop",
                             .args = args,
                             .priority = plan[i].priority,
                             .run_at = 10000000 - plan[i].run_at_ago};
        struct enqueue_result r;
        struct err e = {0};
        cr_assert_eq(engine_enqueue(eng, &s, &r, &e), 0, "%s", e.msg);
    }
    size_t n;
    struct job *jobs = claim(eng, "noop", 4, &n);
    cr_assert_eq(n, 4);
    struct job *rest = claim(eng, "noop", 10, &n);
    cr_assert_eq(n, 2);
    for (size_t i = 0; i < 6; i++) {
        struct job *j = i < 4 ? &jobs[i] : &rest[i - 4];
        char args[64];
        snprintf(args, sizeof args, "{\"name\":\"%s\"}", want[i]);
        cr_assert_str_eq(j->args, args, "position %zu", i);
        cr_assert_eq(j->status, JOB_PROCESSING);
        cr_assert_eq(j->attempt, 1);
        cr_assert_str_eq(j->lease_owner, "w");
        cr_assert_eq(j->lease_expires_at, 10000000 + ENGINE_DEFAULT_LEASE_MS);
    }
    job_array_free(jobs, 4);
    job_array_free(rest, 2);
    engine_close(eng);
}

Test(claim, delayed_jobs_wait_for_run_at)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 10000000);
    struct engine *eng = tu_engine(NULL, &clk);
    struct job_spec s = {.type = "noop", .run_at = 10000000 + 5000, .priority = 100};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &s, &r, &e), 0, "%s", e.msg);
    char later[UUID_STR_LEN];
    strcpy(later, r.id);
    char now_id[UUID_STR_LEN];
    strcpy(now_id, tu_enqueue(eng, "noop", NULL));
    size_t n;
    struct job *jobs = claim(eng, "noop", 10, &n);
    cr_assert_eq(n, 1, "the delayed job was claimed early");
    cr_assert_str_eq(jobs[0].id, now_id);
    job_array_free(jobs, n);
    tu_clock_advance(&clk, 4999);
    jobs = claim(eng, "noop", 10, &n);
    cr_assert_eq(n, 0);
    free(jobs);
    tu_clock_advance(&clk, 1);
    jobs = claim(eng, "noop", 10, &n);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(jobs[0].id, later);
    job_array_free(jobs, n);
    engine_close(eng);
}

Test(claim, only_the_types_asked_for)
{
    struct engine *eng = tu_engine(NULL, NULL);
    tu_enqueue(eng, "a", NULL);
    tu_enqueue(eng, "b", NULL);
    tu_enqueue(eng, "c", NULL);
    const char *types[] = {"a", "c", "zzz"};
    struct job *jobs;
    size_t n;
    struct err e = {0};
    cr_assert_eq(engine_claim(eng, types, 3, 10, "w", 0, &jobs, &n, &e), 2, "%s", e.msg);
    cr_assert(strcmp(jobs[0].type, "b") != 0 && strcmp(jobs[1].type, "b") != 0);
    job_array_free(jobs, n);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1);
    /* bad claims are refused */
    cr_assert_eq(engine_claim(eng, types, 0, 10, "w", 0, &jobs, &n, &e), TRAWL_EINVAL);
    cr_assert_eq(engine_claim(eng, types, 1, 10, NULL, 0, &jobs, &n, &e), TRAWL_EINVAL);
    engine_close(eng);
}

/* A unique key names one live job: enqueueing it again returns that job. Once the job has
 * finished, the key is free again. Keys are per workspace. */
Test(claim, unique_key_returns_the_live_job)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec s = {.type = "noop", .unique_key = "daily-report"};
    struct enqueue_result a, b, c, d;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &s, &a, &e), 0, "%s", e.msg);
    cr_assert(!a.existed);
    cr_assert_eq(engine_enqueue(eng, &s, &b, &e), 0, "%s", e.msg);
    cr_assert(b.existed);
    cr_assert_str_eq(b.id, a.id);
    struct job_spec other_ws = s;
    other_ws.workspace = "team-b";
    cr_assert_eq(engine_enqueue(eng, &other_ws, &c, &e), 0, "%s", e.msg);
    cr_assert(!c.existed);
    cr_assert_str_neq(c.id, a.id);

    /* the same key twice in one enqueue_many: one job */
    struct job_spec two[2] = {s, s};
    two[0].unique_key = two[1].unique_key = "k2";
    struct enqueue_result r2[2];
    cr_assert_eq(engine_enqueue_many(eng, two, 2, r2, &e), 0, "%s", e.msg);
    cr_assert_str_eq(r2[0].id, r2[1].id);
    cr_assert(r2[1].existed);

    /* still live while it runs; free once it completed */
    struct job j;
    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(engine_enqueue(eng, &s, &d, &e), 0);
    cr_assert(d.existed);
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j), NULL, &e), 0, "%s", e.msg);
    job_release(&j);
    cr_assert_eq(engine_enqueue(eng, &s, &d, &e), 0);
    cr_assert(!d.existed);
    cr_assert_str_neq(d.id, a.id);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 3);
    engine_close(eng);
}

Test(claim, children_carry_parent_and_root)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char root[UUID_STR_LEN], child[UUID_STR_LEN];
    strcpy(root, tu_enqueue(eng, "noop", NULL));
    struct job_spec s = {.type = "noop", .parent_id = root, .batch_id = "b1"};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &s, &r, &e), 0, "%s", e.msg);
    strcpy(child, r.id);
    s.parent_id = child;
    cr_assert_eq(engine_enqueue(eng, &s, &r, &e), 0, "%s", e.msg);
    struct job g;
    tu_get(eng, r.id, &g);
    cr_assert_str_eq(g.parent_id, child);
    cr_assert_str_eq(g.root_id, root);
    cr_assert_str_eq(g.batch_id, "b1");
    job_release(&g);
    tu_get(eng, child, &g);
    cr_assert_str_eq(g.root_id, root);
    job_release(&g);
    /* listing by batch finds both children, newest first */
    struct job_filter f = {.batch_id = "b1"};
    struct job *jobs;
    size_t n;
    cr_assert_eq(engine_list(eng, NULL, &f, &jobs, &n, &e), 2, "%s", e.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(jobs[0].id, r.id);
    job_array_free(jobs, n);
    engine_close(eng);
}

/* Many jobs in one call: all or nothing, in one transaction. */
Test(claim, enqueue_many_is_one_transaction)
{
    struct engine *eng = tu_engine(NULL, NULL);
    enum { N = 5000 };
    struct job_spec *specs = calloc(N, sizeof *specs);
    struct enqueue_result *res = calloc(N, sizeof *res);
    for (int i = 0; i < N; i++)
        specs[i] = (struct job_spec){.type = "noop"};
    struct engine_stats before, after;
    engine_stats(eng, &before);
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, specs, N, res, &e), 0, "%s", e.msg);
    engine_stats(eng, &after);
    cr_assert_eq(after.commits - before.commits, 1, "%llu commits",
                 (unsigned long long)(after.commits - before.commits));
    cr_assert_eq(tu_count(eng, JOB_PENDING), N);
    /* one job among them whose parent does not exist: nothing of this call is kept */
    specs[N - 1].parent_id = "01234567-89ab-7def-8123-456789abcdef";
    cr_assert_eq(engine_enqueue_many(eng, specs, N, res, &e), TRAWL_EINVAL);
    cr_assert_eq(tu_count(eng, JOB_PENDING), N);
    free(specs);
    free(res);
    engine_close(eng);
}

/* The optimistic claim reads candidates outside the write transaction; a candidate that changed
 * in between (here: cancelled) is not taken, and the others are. */
Test(claim, optimistic_claim_skips_jobs_changed_since_read)
{
    tu_sqlite_only("the optimistic two-step claim is the SQLite store's; PostgreSQL claims in one "
                   "statement with FOR UPDATE SKIP LOCKED");
    struct engine *eng = tu_engine(NULL, NULL);
    struct store *s = engine_store(eng);
    cr_assert(store_has_candidates(s));
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    strcpy(a, tu_enqueue(eng, "noop", NULL));
    strcpy(b, tu_enqueue(eng, "noop", NULL));
    const char *type = "noop";
    struct claim_req r = {&type, 1, 10, "w", 30000, engine_now(eng), NULL};
    struct job *cand;
    size_t n;
    struct err e = {0};
    cr_assert_eq(store_candidates(s, &r, &cand, &n, &e), 2, "%s", e.msg);
    cr_assert_str_eq(cand[0].id, a);
    cr_assert_eq(engine_cancel(eng, b, &e), 0, "%s", e.msg);
    /* the engine's committer is idle: the test may use the store's writer here */
    bool taken[2] = {false, false};
    cr_assert_eq(store_begin(s, &e), 0, "%s", e.msg);
    cr_assert_eq(store_claim_these(s, &r, cand, n, taken, &e), 1, "%s", e.msg);
    cr_assert_eq(store_commit(s, &e), 0, "%s", e.msg);
    cr_assert(taken[0]);
    cr_assert(!taken[1]);
    job_array_free(cand, n);
    cr_assert_eq(tu_status(eng, a), JOB_PROCESSING);
    cr_assert_eq(tu_status(eng, b), JOB_CANCELLED);
    struct job_event *ev;
    cr_assert_eq(engine_events(eng, a, &ev, &n, &e), 1);
    cr_assert_eq(ev[0].to, JOB_PROCESSING);
    job_events_free(ev, n);
    engine_close(eng);
}

/* The one-step claim (for stores without the optimistic pair) takes the same jobs, in the same
 * order, as the engine's claim. */
Test(claim, one_step_claim_matches_the_optimistic_one)
{
    tu_sqlite_only("the optimistic two-step claim is the SQLite store's; PostgreSQL claims in one "
                   "statement with FOR UPDATE SKIP LOCKED");
    struct engine *eng = tu_engine(NULL, NULL);
    for (int i = 0; i < 20; i++) {
        struct job_spec sp = {.type = i % 2 ? "a" : "b", .priority = i % 3};
        struct enqueue_result res;
        struct err e = {0};
        cr_assert_eq(engine_enqueue(eng, &sp, &res, &e), 0, "%s", e.msg);
    }
    const char *types[] = {"a", "b"};
    struct store *s = engine_store(eng);
    struct claim_req r = {types, 2, 7, "w", 30000, engine_now(eng), NULL};
    struct job *cand, *got;
    size_t nc, ng;
    struct err e = {0};
    cr_assert_eq(store_candidates(s, &r, &cand, &nc, &e), 7, "%s", e.msg);
    cr_assert_eq(store_begin(s, &e), 0, "%s", e.msg);
    cr_assert_eq(store_claim(s, &r, &got, &ng, &e), 7, "%s", e.msg);
    cr_assert_eq(store_commit(s, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < 7; i++) {
        cr_assert_str_eq(got[i].id, cand[i].id, "position %zu", i);
        cr_assert_eq(got[i].attempt, 1);
        cr_assert_eq(got[i].event_seq, cand[i].event_seq + 1);
        if (i)
            cr_assert_geq(got[i - 1].priority, got[i].priority);
    }
    job_array_free(cand, nc);
    job_array_free(got, ng);
    cr_assert_eq(tu_count(eng, JOB_PROCESSING), 7);
    engine_close(eng);
}

/* Jobs scheduled for later at a higher priority are neither claimed nor in the way: the due
 * ones come out in claim order, and the scheduled ones once they are due. */
Test(claim, scheduled_jobs_of_higher_priority_do_not_block_due_ones)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 10000000);
    struct engine *eng = tu_engine(NULL, &clk);
    enum { FUTURE = 3000 };
    struct job_spec *sp = calloc(FUTURE + 4, sizeof *sp);
    struct enqueue_result *res = calloc(FUTURE + 4, sizeof *res);
    for (int i = 0; i < FUTURE; i++)
        sp[i] = (struct job_spec){.type = "noop", .priority = 9 - i % 3, .run_at = 10060000};
    sp[FUTURE] = (struct job_spec){.type = "noop", .priority = 5, .args = "{\"n\":2}"};
    sp[FUTURE + 1] = (struct job_spec){.type = "noop", .priority = 7, .args = "{\"n\":1}"};
    sp[FUTURE + 2] = (struct job_spec){.type = "noop", .priority = 0, .args = "{\"n\":4}"};
    sp[FUTURE + 3] =
        (struct job_spec){.type = "noop", .priority = 5, .args = "{\"n\":3}", .run_at = 9000000};
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, sp, FUTURE + 4, res, &e), 0, "%s", e.msg);
    size_t n;
    struct job *jobs = claim(eng, "noop", 10, &n);
    cr_assert_eq(n, 4, "claimed %zu", n);
    const char *want[] = {"{\"n\":1}", "{\"n\":3}", "{\"n\":2}", "{\"n\":4}"};
    for (size_t i = 0; i < n; i++)
        cr_assert_str_eq(jobs[i].args, want[i], "position %zu", i);
    job_array_free(jobs, n);
    tu_clock_advance(&clk, 60000);
    jobs = claim(eng, "noop", 5000, &n);
    cr_assert_eq(n, FUTURE);
    cr_assert_eq(jobs[0].priority, 9);
    cr_assert_eq(jobs[FUTURE - 1].priority, 7);
    job_array_free(jobs, n);
    free(sp);
    free(res);
    engine_close(eng);
}

/* A store that forwards to the SQLite store, except that between reading a claim's candidates
 * and taking them, another writer (its own connection, as another process would) cancels them. */
struct racing {
    struct store base;
    struct store *in;
    char path[700];
};

#define IN(s) (((struct racing *)(s))->in)

static void r_close(struct store *s)
{
    store_close(IN(s));
    free(s);
}
static int r_begin(struct store *s, struct err *e)
{
    return IN(s)->core->begin(IN(s), e);
}
static int r_commit(struct store *s, struct err *e)
{
    return IN(s)->core->commit(IN(s), e);
}
static void r_rollback(struct store *s)
{
    IN(s)->core->rollback(IN(s));
}
static int r_check(struct store *s, struct err *e)
{
    return IN(s)->core->check(IN(s), e);
}
static int r_insert(struct store *s, struct job *j, struct err *e)
{
    return IN(s)->jobs->insert(IN(s), j, e);
}
static int r_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e)
{
    return IN(s)->jobs->insert_many(IN(s), jobs, n, existed, e);
}
static int r_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                   struct err *e)
{
    return IN(s)->jobs->claim(IN(s), r, out, n, e);
}
static int r_candidates(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                        struct err *e)
{
    int rc = IN(s)->jobs->candidates(IN(s), r, out, n, e);
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(((struct racing *)s)->path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    for (size_t i = 0; rc > 0 && i < *n; i++) {
        char sql[200];
        snprintf(sql, sizeof sql,
                 "UPDATE jobs SET status = 'cancelled', event_seq = event_seq + 1 WHERE id = '%s'",
                 (*out)[i].id);
        cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return rc;
}
static int r_claim_these(struct store *s, const struct claim_req *r, const struct job *jobs,
                         size_t n, bool *taken, struct err *e)
{
    return IN(s)->jobs->claim_these(IN(s), r, jobs, n, taken, e);
}
static int r_update(struct store *s, const struct job_update *u, struct err *e)
{
    return IN(s)->jobs->update(IN(s), u, e);
}
static int r_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                           struct err *e)
{
    return IN(s)->jobs->complete_many(IN(s), d, n, now, e);
}
static int r_processing(struct store *s, struct job **out, size_t *n, struct err *e)
{
    return IN(s)->jobs->processing(IN(s), out, n, e);
}
static int r_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e)
{
    return IN(s)->jobs->promote_due(IN(s), now, out, n, e);
}
static int r_fetch(struct store *s, const char *id, struct job *out, struct err *e)
{
    return IN(s)->jobs->fetch(IN(s), id, out, e);
}
static int r_get(struct store *s, const char *id, struct job *out, struct err *e)
{
    return IN(s)->jobs->get(IN(s), id, out, e);
}
static int r_events(struct store *s, const char *id, struct job_event **out, size_t *n,
                    struct err *e)
{
    return IN(s)->jobs->events(IN(s), id, out, n, e);
}
static int r_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    return IN(s)->jobs->count(IN(s), counts, e);
}
static int r_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
                  struct err *e)
{
    return IN(s)->jobs->list(IN(s), f, out, n, e);
}
static int r_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                       struct err *e)
{
    return IN(s)->stats->add(IN(s), d, n, now, e);
}

/* Only the domains the engine uses here: the core, jobs and the job counters. */
static const struct store_core_ops racing_core = {
    .version = STORE_CORE_VERSION,
    .name = "racing",
    .close = r_close,
    .begin = r_begin,
    .commit = r_commit,
    .rollback = r_rollback,
    .check = r_check,
};

static const struct store_job_ops racing_jobs = {
    .version = STORE_JOB_VERSION,
    .insert = r_insert,
    .insert_many = r_insert_many,
    .claim = r_claim,
    .candidates = r_candidates,
    .claim_these = r_claim_these,
    .update = r_update,
    .complete_many = r_complete_many,
    .processing = r_processing,
    .promote_due = r_promote_due,
    .fetch = r_fetch,
    .get = r_get,
    .events = r_events,
    .count = r_count,
    .list = r_list,
};

static const struct store_stats_ops racing_stats = {
    .version = STORE_STATS_VERSION,
    .add = r_stats_add,
};

/* When another writer takes every candidate first, the engine claims in one step instead of
 * coming back empty while due jobs wait. */
Test(claim, losing_the_race_for_every_candidate_falls_back_to_a_one_step_claim)
{
    tu_sqlite_only("the optimistic two-step claim is the SQLite store's; PostgreSQL claims in one "
                   "statement with FOR UPDATE SKIP LOCKED");
    struct racing *rs = calloc(1, sizeof *rs);
    rs->base.core = &racing_core;
    rs->base.jobs = &racing_jobs;
    rs->base.stats = &racing_stats;
    snprintf(rs->path, sizeof rs->path, "%s", tu_path("race.db"));
    struct err e = {0};
    cr_assert_eq(store_sqlite_open(rs->path, NULL, &rs->in, &e), 0, "%s", e.msg);
    struct engine *eng;
    cr_assert_eq(engine_open(&rs->base, NULL, &eng, &e), 0, "%s", e.msg);
    char a[UUID_STR_LEN], b[UUID_STR_LEN], c[UUID_STR_LEN];
    strcpy(a, tu_enqueue(eng, "noop", NULL));
    strcpy(b, tu_enqueue(eng, "noop", NULL));
    strcpy(c, tu_enqueue(eng, "noop", NULL));
    size_t n;
    struct job *jobs = claim(eng, "noop", 1, &n);
    cr_assert_eq(n, 1, "the claim came back empty");
    cr_assert_str_eq(jobs[0].id, b);
    cr_assert_eq(jobs[0].attempt, 1);
    job_array_free(jobs, n);
    cr_assert_eq(tu_status(eng, a), JOB_CANCELLED);
    cr_assert_eq(tu_status(eng, b), JOB_PROCESSING);
    cr_assert_eq(tu_status(eng, c), JOB_PENDING);
    engine_close(eng);
}
