/* The store against what the world does to a database file: versions, corruption, another
 * process's lock, a file system that turns read-only, a full disk. Read-only and full-disk tests
 * mount a small tmpfs in a mount namespace of their own (Criterion runs each test in its own
 * process), so they need root; without it they are skipped, saying so. */
#include "store/migrations.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static void sql(const char *path, const char *stmt)
{
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, stmt, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", stmt, msg ? msg : "");
    sqlite3_close(db);
}

static int open_store(const char *path, int busy_ms, struct store **s, struct err *e)
{
    struct store_sqlite_opts o = {.durability = STORE_DURABLE, .busy_timeout_ms = busy_ms};
    return store_sqlite_open(path, &o, s, e);
}

static struct engine *engine_on(struct store *s)
{
    struct engine *eng;
    struct err e = {0};
    cr_assert_eq(engine_open(s, NULL, &eng, &e), 0, "%s", e.msg);
    return eng;
}

Test(store, migrations_bring_an_old_file_up_to_date)
{
    const char *path = tu_path("old.db");
    /* a database of "version 0": a file that exists, with no trawl tables */
    sql(path, "PRAGMA user_version = 0; CREATE TABLE unrelated (x)");
    struct store *s;
    struct err e = {0};
    cr_assert_eq(open_store(path, 0, &s, &e), 0, "%s", e.msg);
    store_close(s);
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), store_schema_version());
    sqlite3_finalize(st);
    sqlite3_prepare_v2(db, "SELECT journal_mode FROM pragma_journal_mode", -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* opening again changes nothing and keeps the data */
    struct engine *eng = tu_engine(path, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    engine_close(eng);
    eng = tu_engine(path, NULL);
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);
    engine_close(eng);
}

/* A database written by a trawl at schema version 1, with a job in it, opens under this trawl:
 * upgraded in place, its job and history kept and usable. */
Test(store, a_version_1_database_upgrades_in_place)
{
    cr_assert_geq(store_migrations_count, 2);
    const char *path = tu_path("v1.db");
    sqlite3 *db;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    cr_assert_eq(sqlite3_exec(db, store_migrations[0].sql, NULL, NULL, &msg), SQLITE_OK, "%s",
                 msg ? msg : "");
    cr_assert_eq(
        sqlite3_exec(db,
                     "PRAGMA user_version = 1;"
                     "INSERT INTO jobs (id, type, status, attempt, max_attempts, run_at, "
                     "args, created_at, updated_at, event_seq) VALUES "
                     "('01934a9e-0000-7000-8000-000000000001', 'noop', 'retrying', 1, 3, "
                     "0, '{\"v\":1}', 1, 2, 2);"
                     "INSERT INTO job_events VALUES ('01934a9e-0000-7000-8000-000000000001', "
                     "1, 1, 'pending', 'processing', 1, NULL), "
                     "('01934a9e-0000-7000-8000-000000000001', 2, 2, 'processing', "
                     "'retrying', 1, 'boom');",
                     NULL, NULL, &msg),
        SQLITE_OK, "%s", msg ? msg : "");
    sqlite3_close(db);

    struct engine *eng = tu_engine(path, NULL);
    const char *id = "01934a9e-0000-7000-8000-000000000001";
    struct job j;
    tu_get(eng, id, &j);
    cr_assert_eq(j.status, JOB_RETRYING);
    cr_assert_str_eq(j.args, "{\"v\":1}");
    job_release(&j);
    cr_assert_eq(tu_sweep(eng).promoted, 1);
    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(j.attempt, 2);
    struct err e = {0};
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j), NULL, &e), 0, "%s", e.msg);
    job_release(&j);
    struct job_event *ev;
    size_t n;
    cr_assert_eq(engine_events(eng, id, &ev, &n, &e), 5, "%s", e.msg);
    cr_assert_str_eq(ev[1].message, "boom");
    cr_assert_eq(ev[4].to, JOB_COMPLETED);
    job_events_free(ev, n);
    engine_close(eng);

    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
                       "SELECT (SELECT user_version FROM pragma_user_version), sql FROM "
                       "sqlite_master WHERE name = 'jobs'",
                       -1, &st, NULL);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_eq(sqlite3_column_int(st, 0), store_schema_version());
    cr_assert_null(strstr((const char *)sqlite3_column_text(st, 1), "status IN"));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

Test(store, a_newer_schema_is_refused)
{
    const char *path = tu_path("new.db");
    struct store *s;
    struct err e = {0};
    cr_assert_eq(open_store(path, 0, &s, &e), 0, "%s", e.msg);
    store_close(s);
    char stmt[64];
    snprintf(stmt, sizeof stmt, "PRAGMA user_version = %d", store_schema_version() + 1);
    sql(path, stmt);
    cr_assert_eq(open_store(path, 0, &s, &e), TRAWL_ESCHEMA);
    cr_assert_null(s);
    cr_assert(strstr(e.msg, "newer") != NULL, "message: %s", e.msg);
    cr_assert(strstr(e.msg, path) != NULL, "message: %s", e.msg);
}

Test(store, a_file_that_is_not_a_database_is_refused)
{
    const char *path = tu_path("garbage.db");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    for (int i = 0; i < 8192; i++)
        fputc((i * 131) & 0xff, f);
    fclose(f);
    struct store *s;
    struct err e = {0};
    cr_assert_eq(open_store(path, 0, &s, &e), TRAWL_ECORRUPT, "got: %s", e.msg);
    cr_assert(strstr(e.msg, "not a database") != NULL, "message: %s", e.msg);
}

/* Another process holds the write lock: the change waits for busy_timeout, then fails with a
 * clear error and is not acknowledged; once the lock is gone, writes work again. */
Test(store, a_locked_database_fails_clearly_and_recovers)
{
    const char *path = tu_path("locked.db");
    struct store *s;
    struct err e = {0};
    cr_assert_eq(open_store(path, 200, &s, &e), 0, "%s", e.msg);
    struct engine *eng = engine_on(s);
    sqlite3 *other;
    cr_assert_eq(sqlite3_open(path, &other), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct job_spec spec = {.type = "noop"};
    struct enqueue_result r;
    int64_t t0 = clock_mono_ms();
    cr_assert_eq(engine_enqueue(eng, &spec, &r, &e), TRAWL_EBUSY, "got: %s", e.msg);
    cr_assert_geq(clock_mono_ms() - t0, 150, "did not wait for the lock");
    cr_assert(strstr(e.msg, "locked") != NULL, "message: %s", e.msg);
    cr_assert(e.retryable);
    sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(other);
    cr_assert_eq(engine_enqueue(eng, &spec, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1);
    engine_close(eng);
}

static char mnt_[700];

static void unmount(void)
{
    umount2(mnt_, MNT_DETACH);
}

/* A tmpfs of size_kb at tu_path("mnt"), in a mount namespace of this test process alone. */
static const char *private_tmpfs(int size_kb)
{
    if (geteuid() != 0)
        cr_skip_test("needs root to mount a tmpfs in a private mount namespace");
    if (unshare(CLONE_NEWNS) != 0)
        cr_skip_test("unshare(CLONE_NEWNS): %s", strerror(errno));
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        cr_skip_test("cannot make mounts private: %s", strerror(errno));
    snprintf(mnt_, sizeof mnt_, "%s", tu_path("mnt"));
    cr_assert_eq(mkdir(mnt_, 0755), 0);
    char opts[64];
    snprintf(opts, sizeof opts, "size=%dk", size_kb);
    if (mount("tmpfs", mnt_, "tmpfs", 0, opts) != 0)
        cr_skip_test("cannot mount a tmpfs here: %s", strerror(errno));
    atexit(unmount);
    return mnt_;
}

static void remount(const char *dir, unsigned long flags)
{
    cr_assert_eq(mount(NULL, dir, NULL, MS_REMOUNT | flags, NULL), 0, "remount: %s",
                 strerror(errno));
}

/* A database on a file system that is read-only (remounted, or a snapshot) is refused with the
 * reason; once the file system is writable again, trawl opens it with nothing lost. The kernel
 * does not remount read-only under files open for writing, so the store is closed first. */
Test(store, a_read_only_file_system_fails_clearly_and_recovers)
{
    const char *dir = private_tmpfs(8192);
    char path[800];
    snprintf(path, sizeof path, "%s/trawl.db", dir);
    struct engine *eng = tu_engine(path, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    engine_close(eng);

    remount(dir, MS_RDONLY);
    struct store *s;
    struct err e = {0};
    int rc = open_store(path, 200, &s, &e);
    if (rc == 0) {
        /* opened for reading only: no write may be acknowledged */
        eng = engine_on(s);
        struct job_spec spec = {.type = "noop"};
        struct enqueue_result r;
        rc = engine_enqueue(eng, &spec, &r, &e);
        engine_close(eng);
        cr_assert_neq(rc, 0, "a write to a read-only file system was acknowledged");
    }
    cr_assert(rc == TRAWL_EREADONLY || rc == TRAWL_EIO, "got %d: %s", rc, e.msg);
    cr_assert(strstr(e.msg, "read-only") != NULL || strstr(e.msg, "readonly") != NULL,
              "message: %s", e.msg);

    remount(dir, 0);
    eng = tu_engine(path, NULL);
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);
    tu_enqueue(eng, "noop", NULL);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 2);
    engine_close(eng);
}

Test(store, a_full_disk_fails_clearly_and_recovers)
{
    const char *dir = private_tmpfs(2048);
    char path[800], filler[800];
    snprintf(path, sizeof path, "%s/trawl.db", dir);
    snprintf(filler, sizeof filler, "%s/filler", dir);
    struct store *s;
    struct err e = {0};
    cr_assert_eq(open_store(path, 200, &s, &e), 0, "%s", e.msg);
    struct engine *eng = engine_on(s);

    /* fill the disk */
    int fd = open(filler, O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    char block[4096];
    memset(block, 'x', sizeof block);
    while (write(fd, block, sizeof block) > 0) {
    }
    close(fd);

    /* jobs with 8 KiB of args until the disk says no */
    char args[8300];
    int len = snprintf(args, sizeof args, "{\"pad\":\"");
    memset(args + len, 'p', 8192);
    snprintf(args + len + 8192, sizeof args - (size_t)len - 8192, "\"}");
    struct job_spec spec = {.type = "noop", .args = args};
    struct enqueue_result r;
    int acked = 0, rc = 0;
    for (int i = 0; i < 1000 && (rc = engine_enqueue(eng, &spec, &r, &e)) == 0; i++)
        acked++;
    cr_assert_neq(rc, 0, "the disk never filled");
    cr_assert(rc == TRAWL_EFULL || rc == TRAWL_EIO, "got %d: %s", rc, e.msg);
    cr_assert(strstr(e.msg, "full") != NULL || strstr(e.msg, "disk") != NULL, "message: %s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), acked, "acknowledged %d", acked);

    /* space comes back: writes work again and nothing accepted was lost */
    cr_assert_eq(unlink(filler), 0);
    cr_assert_eq(engine_enqueue(eng, &spec, &r, &e), 0, "after freeing space: %s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), acked + 1);
    engine_close(eng);
    eng = tu_engine(path, NULL);
    cr_assert_eq(tu_count(eng, JOB_PENDING), acked + 1);
    struct err ce = {0};
    cr_assert_eq(store_check(engine_store(eng), &ce), 0, "%s", ce.msg);
    engine_close(eng);
}
