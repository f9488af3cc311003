/* Shared test helpers. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir_[512];

static void rm_dir(void)
{
    if (!dir_[0] || getenv("TRAWL_KEEP_TMP"))
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir_);
}

const char *tu_tmpdir(void)
{
    if (dir_[0])
        return dir_;
    const char *base = getenv("TMPDIR");
    snprintf(dir_, sizeof dir_, "%s/trawl-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert(mkdtemp(dir_) != NULL, "mkdtemp failed");
    atexit(rm_dir);
    return dir_;
}

const char *tu_path(const char *name)
{
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", tu_tmpdir(), name);
    return p;
}

static int64_t fake_now(void *ctx)
{
    struct tu_clock *c = ctx;
    return atomic_load(&c->now_ms);
}

void tu_clock_init(struct tu_clock *c, int64_t start_ms)
{
    atomic_store(&c->now_ms, start_ms);
    c->clock.now_ms = fake_now;
    c->clock.ctx = c;
}

void tu_clock_advance(struct tu_clock *c, int64_t ms)
{
    atomic_fetch_add(&c->now_ms, ms);
}

/* ---- the store under test: SQLite, or PostgreSQL when $TRAWL_TEST_PG names a server ---- */

const char *tu_pg(void)
{
    return tdb_pg();
}

void tu_sqlite_only(const char *why)
{
    if (tu_pg())
        cr_skip_test("SQLite only: %s", why);
}

/* The database of path for this test process: made on first use, dropped at exit. */
static const char *pg_db(const char *path)
{
    static bool dropped_at_exit;
    if (!dropped_at_exit) {
        atexit(tdb_drop_all);
        dropped_at_exit = true;
    }
    const char *base = strrchr(path, '/');
    return tdb_pg_database('t', base ? base + 1 : path);
}

const char *tu_db(const char *path)
{
    const char *p = path ? path : tu_path("trawl.db");
    if (!tu_pg())
        return p;
    static char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s dbname=%s", tu_pg(), pg_db(p));
    return conninfo;
}

struct store *tu_store(const char *path)
{
    struct store *s;
    struct err e = {0};
    int rc = store_open(tu_db(path), STORE_DURABLE, &s, &e);
    cr_assert_eq(rc, 0, "store_open: %s", e.msg);
    return s;
}

int64_t tu_sql_i64(const char *path, const char *sql)
{
    const char *db = tu_db(path);
    int64_t v = 0;
    if (tu_pg()) {
        PGconn *c = PQconnectdb(db);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        cr_assert_gt(PQntuples(r), 0, "%s: no row", sql);
        v = PQgetisnull(r, 0, 0) ? 0 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return v;
    }
    sqlite3 *d;
    cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(d, 5000);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(d));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: no row", sql);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(d);
    return v;
}

void tu_sql_exec(const char *path, const char *sql)
{
    const char *db = tu_db(path);
    if (tu_pg()) {
        PGconn *c = PQconnectdb(db);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return;
    }
    sqlite3 *d;
    cr_assert_eq(sqlite3_open(db, &d), SQLITE_OK);
    sqlite3_busy_timeout(d, 5000);
    char *msg = NULL;
    int rc = sqlite3_exec(d, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(d);
}

size_t tu_sql_rows(const char *path, const char *sql, struct tdb_rows *out)
{
    return tdb_rows(tu_db(path), sql, out);
}

struct engine *tu_engine(const char *path, struct tu_clock *c)
{
    struct store *s = tu_store(path);
    struct err e = {0};
    int rc;
    struct engine_opts o = {.clock = c ? &c->clock : NULL};
    struct engine *eng;
    rc = engine_open(s, &o, &eng, &e);
    cr_assert_eq(rc, 0, "engine_open: %s", e.msg);
    return eng;
}

const char *tu_enqueue(struct engine *eng, const char *type, const char *args)
{
    static struct enqueue_result r;
    struct job_spec s = {.type = type, .args = args};
    struct err e = {0};
    int rc = engine_enqueue(eng, &s, &r, &e);
    cr_assert_eq(rc, 0, "enqueue: %s", e.msg);
    return r.id;
}

void tu_claim_one(struct engine *eng, const char *type, const char *owner, struct job *out)
{
    struct job *jobs;
    size_t n;
    struct err e = {0};
    int rc = engine_claim(eng, &type, 1, 1, owner, 0, &jobs, &n, &e);
    cr_assert_eq(rc, 1, "claim: expected one job, got %d (%s)", rc, e.msg);
    *out = jobs[0];
    free(jobs);
}

enum job_status tu_status(struct engine *eng, const char *id)
{
    struct job j;
    struct err e = {0};
    int rc = engine_get(eng, id, &j, &e);
    cr_assert_eq(rc, 0, "get %s: %s", id, e.msg);
    enum job_status s = j.status;
    job_release(&j);
    return s;
}

void tu_get(struct engine *eng, const char *id, struct job *out)
{
    struct err e = {0};
    int rc = engine_get(eng, id, out, &e);
    cr_assert_eq(rc, 0, "get %s: %s", id, e.msg);
}

struct sweep_report tu_sweep(struct engine *eng)
{
    struct sweep_report r;
    struct err e = {0};
    int rc = engine_sweep(eng, &r, &e);
    cr_assert_eq(rc, 0, "sweep: %s", e.msg);
    return r;
}

int64_t tu_count(struct engine *eng, enum job_status s)
{
    int64_t counts[JOB_STATUS_COUNT];
    struct err e = {0};
    int rc = engine_counts(eng, counts, &e);
    cr_assert_eq(rc, 0, "counts: %s", e.msg);
    return counts[s];
}
