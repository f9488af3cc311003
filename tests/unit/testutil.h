/* Helpers the unit tests share: a temporary directory per test, a clock the test owns, and an
 * engine on a fresh SQLite database in that directory. Criterion runs each test in its own
 * process, so nothing here is shared between tests. */
#ifndef TRAWL_TESTUTIL_H
#define TRAWL_TESTUTIL_H

#include "common/testdb.h"
#include "engine/engine.h"

#include <stdatomic.h>

/* A new empty directory under $TMPDIR (or /tmp), removed at exit. The string is static. */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name, in a static buffer that the next call overwrites. */
const char *tu_path(const char *name);

/* A clock the test moves by hand. */
struct tu_clock {
    atomic_llong now_ms;
    struct clock clock;
};
void tu_clock_init(struct tu_clock *c, int64_t start_ms);
void tu_clock_advance(struct tu_clock *c, int64_t ms);

/* The store under test: SQLite files, or, when $TRAWL_TEST_PG holds a libpq keyword string of a
 * PostgreSQL server (scripts/run-tests.sh starts one), a database of that server per path and
 * test process, made on first use and dropped at exit. The same tests run on both: the
 * conformance suite. */
/* The server's keyword string, or NULL when the tests run on SQLite. */
const char *tu_pg(void);
/* Skip the calling test on PostgreSQL, saying why it is about SQLite only. */
void tu_sqlite_only(const char *why);
/* What store_open() takes for path (NULL: tu_path("trawl.db")); a static buffer. */
const char *tu_db(const char *path);
/* Open the store of path; fails the test on error. */
struct store *tu_store(const char *path);
/* The first column of the first row of a query on path's database (portable SQL). */
int64_t tu_sql_i64(const char *path, const char *sql);
/* Run statements on path's database; fails the test on error. */
void tu_sql_exec(const char *path, const char *sql);
/* The rows of a query on path's database (portable SQL), every cell as text (NULL: SQL NULL):
 * tdb_rows on tu_db(path); read them with tdb_cell, free them with tdb_rows_free. Fails the test
 * on error. Returns out->n. */
size_t tu_sql_rows(const char *path, const char *sql, struct tdb_rows *out);

/* Open an engine on tu_path("trawl.db") (or path when not NULL), with clock c (NULL: real).
 * Fails the test on error. */
struct engine *tu_engine(const char *path, struct tu_clock *c);
/* Enqueue one job of type with args (NULL: "{}"); fails the test on error; returns its id in a
 * static buffer. */
const char *tu_enqueue(struct engine *eng, const char *type, const char *args);
/* Claim exactly one job of type for owner; fails the test when none. */
void tu_claim_one(struct engine *eng, const char *type, const char *owner, struct job *out);
/* The job's status now. */
enum job_status tu_status(struct engine *eng, const char *id);
/* The job as stored now; fails the test when it is not there. Release with job_release. */
void tu_get(struct engine *eng, const char *id, struct job *out);
/* The fence a worker holding j would present. */
#define TU_FENCE(j)                                                                                \
    ((struct job_fence){.id = (j).id,                                                              \
                        .attempt = (j).attempt,                                                    \
                        .owner = (j).lease_owner,                                                  \
                        .seq = (j).event_seq,                                                      \
                        .ref = (j).store_ref})
/* Run one sweep; fails the test on error. */
struct sweep_report tu_sweep(struct engine *eng);
/* Number of jobs in status s. */
int64_t tu_count(struct engine *eng, enum job_status s);

#endif
