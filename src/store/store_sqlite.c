/* The SQLite store: WAL mode, one write connection used by one thread at a time (the engine's
 * committer), and one read connection shared under a mutex; the helpers its domains share, its
 * transactions, its checkpointer, and its opening, which applies the migrations. Each domain's
 * operations are in a file of their own (sqlite_jobs.c, sqlite_api.c, sqlite_scrape.c,
 * sqlite_stats.c, sqlite_chain.c, sqlite_sync.c, sqlite_schedule.c). */
#include "store/sqlite_int.h"

#include "store/migrations.h"

#include "base/clock.h"
#include "base/xalloc.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int map_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return TRAWL_EBUSY;
    case SQLITE_READONLY:
        return TRAWL_EREADONLY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return TRAWL_ECORRUPT;
    case SQLITE_FULL:
        return TRAWL_EFULL;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        return TRAWL_EIO;
    case SQLITE_NOMEM:
        return TRAWL_ENOMEM;
    case SQLITE_TOOBIG:
        return TRAWL_ETOOBIG;
    default:
        return TRAWL_ESTORE;
    }
}

/* A failure that can pass (a lock, a full disk, an i/o error) is retryable; corruption is not. */
int sq_err(sqlite3 *db, int rc, struct err *e, const char *what)
{
    int code = map_code(rc);
    bool retryable =
        code == TRAWL_EBUSY || code == TRAWL_EFULL || code == TRAWL_EIO || code == TRAWL_ENOMEM;
    const char *detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (code == TRAWL_EBUSY)
        return err_set(e, code, retryable, "%s: database is locked by another process (%s)", what,
                       detail);
    if (code == TRAWL_EFULL)
        return err_set(e, code, retryable, "%s: disk is full (%s)", what, detail);
    if (code == TRAWL_EREADONLY)
        return err_set(e, code, retryable, "%s: database is read-only (%s)", what, detail);
    if (code == TRAWL_ECORRUPT)
        return err_set(e, code, retryable, "%s: database is corrupt or not a database (%s)", what,
                       detail);
    return err_set(e, code, retryable, "%s: %s", what, detail);
}

int sq_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e)
{
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
    if (rc != SQLITE_OK)
        return sq_err(db, rc, e, "prepare");
    return 0;
}

int sq_prep_once(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e)
{
    return *st ? 0 : sq_prep(db, sql, st, e);
}

static int exec(sqlite3 *db, const char *sql, struct err *e, const char *what)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return sq_err(db, rc, e, what);
    return 0;
}

/* exec for the statements run while opening: SQLite answers some of them with SQLITE_BUSY at
 * once, without its busy handler, while another process recovers the WAL after a crash or
 * changes its index, so they are tried again until busy_ms has passed. */
static int exec_open(sqlite3 *db, const char *sql, struct err *e, const char *what, int busy_ms)
{
    int64_t end = clock_mono_ms() + busy_ms;
    for (;;) {
        int rc = exec(db, sql, e, what);
        if (rc != TRAWL_EBUSY || clock_mono_ms() >= end)
            return rc;
        clock_sleep_ms(5);
    }
}

void sq_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

char *sq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? xstrdup((const char *)t) : NULL;
}

int sq_collect_rows(sqlite3 *db, sqlite3_stmt *st, size_t size, void (*fn)(sqlite3_stmt *, void *),
                    void **out, size_t *n, struct err *e, const char *what)
{
    size_t cap = 0, cnt = 0;
    char *rows = NULL;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            rows = xrealloc(rows, cap * size);
        }
        fn(st, rows + cnt * size);
        cnt++;
    }
    sqlite3_reset(st);
    *out = rows;
    *n = cnt;
    if (step != SQLITE_DONE)
        return sq_err(db, step, e, what);
    return (int)cnt;
}

/* Read the JOB_COLS columns starting at column c into j. */
void sq_row_to_job(sqlite3_stmt *st, int c, struct job *j)
{
    memset(j, 0, sizeof *j);
    const unsigned char *id = sqlite3_column_text(st, c + 0);
    snprintf(j->id, sizeof j->id, "%s", id ? (const char *)id : "");
    j->type = sq_col_dup(st, c + 1);
    j->queue = sq_col_dup(st, c + 2);
    j->status = job_status_parse((const char *)sqlite3_column_text(st, c + 3));
    j->priority = sqlite3_column_int(st, c + 4);
    j->attempt = sqlite3_column_int(st, c + 5);
    j->max_attempts = sqlite3_column_int(st, c + 6);
    j->run_at = sqlite3_column_int64(st, c + 7);
    j->timeout_ms = sqlite3_column_int64(st, c + 8);
    j->backoff_base_ms = sqlite3_column_int64(st, c + 9);
    j->backoff_cap_ms = sqlite3_column_int64(st, c + 10);
    j->progress = sqlite3_column_int(st, c + 11);
    j->stage = sq_col_dup(st, c + 12);
    j->checkpoint = sq_col_dup(st, c + 13);
    j->args = sq_col_dup(st, c + 14);
    j->result = sq_col_dup(st, c + 15);
    j->error = sq_col_dup(st, c + 16);
    j->batch_id = sq_col_dup(st, c + 17);
    j->parent_id = sq_col_dup(st, c + 18);
    j->root_id = sq_col_dup(st, c + 19);
    j->unique_key = sq_col_dup(st, c + 20);
    j->workspace = sq_col_dup(st, c + 21);
    j->lease_owner = sq_col_dup(st, c + 22);
    j->lease_expires_at = sqlite3_column_int64(st, c + 23);
    j->last_heartbeat = sqlite3_column_int64(st, c + 24);
    j->progress_at = sqlite3_column_int64(st, c + 25);
    j->created_at = sqlite3_column_int64(st, c + 26);
    j->started_at = sqlite3_column_int64(st, c + 27);
    j->completed_at = sqlite3_column_int64(st, c + 28);
    j->failed_at = sqlite3_column_int64(st, c + 29);
    j->updated_at = sqlite3_column_int64(st, c + 30);
    j->event_seq = sqlite3_column_int64(st, c + 31);
    j->store_ref = sqlite3_column_int64(st, c + 32);
    j->input = sq_col_dup(st, c + 33);
    int role = job_role_parse((const char *)sqlite3_column_text(st, c + 34));
    j->role = role > 0 ? (enum job_role)role : ROLE_NONE;
    j->join_id = sq_col_dup(st, c + 35);
    j->waits = sqlite3_column_int(st, c + 36);
    j->successors = sqlite3_column_int(st, c + 37);
    j->depth = sqlite3_column_int(st, c + 38);
}

/* Step a statement that returns no rows, then reset it. */
int sq_step_done(struct sq *q, sqlite3_stmt *st, struct err *e, const char *what)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return sq_err(q->w, rc, e, what);
    return 0;
}

/* BEGIN and COMMIT run hundreds of times a second: prepared once, not parsed each time. */
static int sq_begin(struct store *s, struct err *e)
{
    struct sq *q = (struct sq *)s;
    return sq_step_done(q, q->tx_begin, e, "begin transaction");
}

static int sq_commit(struct store *s, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_step_done(q, q->tx_commit, e, "commit");
    if (rc && !sqlite3_get_autocommit(q->w))
        sqlite3_exec(q->w, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static void sq_rollback(struct store *s)
{
    struct sq *q = (struct sq *)s;
    if (!sqlite3_get_autocommit(q->w))
        sqlite3_exec(q->w, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_check(struct store *s, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st = NULL;
    int ret = sq_prep(q->r, "PRAGMA integrity_check", &st, e);
    if (!ret) {
        int rc = sqlite3_step(st);
        const char *t = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (rc != SQLITE_ROW)
            ret = sq_err(q->r, rc, e, "integrity check");
        else if (!t || strcmp(t, "ok") != 0)
            ret = err_set(e, TRAWL_ECORRUPT, false, "integrity check: %s", t ? t : "?");
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->rlock);
    return ret;
}

/* Finalize every statement of db, then close it: a statement left open keeps a connection
 * (and its memory) alive. */
static void close_conn(sqlite3 *db)
{
    sqlite3_stmt *st;
    while (db && (st = sqlite3_next_stmt(db, NULL)) != NULL)
        sqlite3_finalize(st);
    sqlite3_close(db);
}

#define CHECKPOINT_PAGES 4000 /* WAL pages that start a background checkpoint */
#define CHECKPOINT_TAIL  256  /* most frames the writer checkpoints after a background one */
#define CHECKPOINT_INLINE                                                                          \
    32000 /* past this the writer checkpoints itself: the WAL must not grow                        \
             without bound if the checkpointer falls behind */

/* After every commit, with the WAL's size in frames. A background checkpoint is asked for each
 * time the WAL has grown by CHECKPOINT_PAGES since the last one was asked for, not after every
 * commit past the mark: under steady writes a passive checkpoint never catches up with the
 * newest frames, and asking again at each commit made the checkpointer fsync the database
 * hundreds of times a second, on the same disk the commits fsync.
 *
 * When a background checkpoint has finished and few frames were committed while it ran, the
 * writer checkpoints those few (cheap: the rest is copied already). The WAL is then wholly in the
 * database, so the next transaction starts the WAL over from its beginning: commits overwrite
 * blocks the file already has, whose fdatasync is cheaper than one that must also grow the file,
 * and the WAL stays the size of one checkpoint interval instead of growing to the inline limit.
 * Under heavy writes the tail is not small, and the writer leaves it to the next background
 * checkpoint. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct sq *q = arg;
    if (pages < q->ck_asked_at)
        q->ck_asked_at = 0; /* the WAL was restarted */
    int done = atomic_load(&q->ck_done);
    bool finished = done != q->ck_seen;
    q->ck_seen = done;
    if (pages >= CHECKPOINT_INLINE || (finished && pages - q->ck_asked_at <= CHECKPOINT_TAIL)) {
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        q->ck_asked_at = 0;
    } else if (pages - q->ck_asked_at >= CHECKPOINT_PAGES) {
        q->ck_asked_at = pages;
        pthread_mutex_lock(&q->ck_lock);
        q->ck_wanted = true;
        pthread_cond_signal(&q->ck_cv);
        pthread_mutex_unlock(&q->ck_lock);
    }
    return SQLITE_OK;
}

static void *checkpoint_main(void *arg)
{
    struct sq *q = arg;
    pthread_setname_np(pthread_self(), "checkpointer");
    pthread_mutex_lock(&q->ck_lock);
    while (!q->ck_stop) {
        if (!q->ck_wanted) {
            pthread_cond_wait(&q->ck_cv, &q->ck_lock);
            continue;
        }
        q->ck_wanted = false;
        pthread_mutex_unlock(&q->ck_lock);
        /* a failure (busy, full disk) is tried again at the next request */
        if (sqlite3_wal_checkpoint_v2(q->ck, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL) ==
            SQLITE_OK)
            atomic_fetch_add(&q->ck_done, 1);
        pthread_mutex_lock(&q->ck_lock);
    }
    pthread_mutex_unlock(&q->ck_lock);
    return NULL;
}

static void sq_close(struct store *s)
{
    struct sq *q = (struct sq *)s;
    if (q->ck_running) {
        pthread_mutex_lock(&q->ck_lock);
        q->ck_stop = true;
        pthread_cond_signal(&q->ck_cv);
        pthread_mutex_unlock(&q->ck_lock);
        pthread_join(q->ck_thread, NULL);
    }
    close_conn(q->ck);
    pthread_mutex_destroy(&q->ck_lock);
    pthread_cond_destroy(&q->ck_cv);
    close_conn(q->w);
    close_conn(q->r);
    pthread_mutex_destroy(&q->rlock);
    free(q->path);
    free(q);
}

static const struct store_core_ops sq_core = {
    .version = STORE_CORE_VERSION,
    .name = "sqlite",
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .check = sq_check,
};

static const struct store_batch_ops sq_batches = {
    .version = STORE_BATCH_VERSION,
    .jobs = sq_batch_jobs,
    .get = sq_batch_get,
    .list = sq_batch_list,
};

static const struct store_token_ops sq_tokens = {
    .version = STORE_TOKEN_VERSION,
    .add = sq_token_add,
    .find = sq_token_find,
    .list = sq_token_list,
    .revoke = sq_token_revoke,
};

static const struct store_crawl_ops sq_crawl = {
    .version = STORE_CRAWL_VERSION,
    .save = sq_crawl_save,
    .get = sq_crawl_get,
    .expire = sq_crawl_expire,
};

static const struct store_session_ops sq_sessions = {
    .version = STORE_SESSION_VERSION,
    .add = sq_session_add,
    .get = sq_session_get,
    .list = sq_session_list,
    .note = sq_session_note,
    .set_job = sq_session_set_job,
    .pages_add = sq_pages_add,
    .pages_take = sq_pages_take,
    .page_finish = sq_page_finish,
    .pages_requeue = sq_pages_requeue,
    .pages_list = sq_pages_list,
    .page_content = sq_page_content,
    .record_put = sq_record_put,
    .records_list = sq_records_list,
    .set_stages = sq_session_set_stages,
    .pages_to_extract = sq_pages_to_extract,
    .page_extracted = sq_page_extracted,
    .records_prune = sq_records_prune,
    .source_sync = sq_source_sync,
    .source_prune = sq_source_prune,
    .sync_begin = sq_sync_begin,
    .sync_counts = sq_sync_counts,
    .removed_list = sq_removed_list,
};

static const struct store_chain_ops sq_chains = {
    .version = STORE_CHAIN_VERSION,
    .jobs = sq_chain_jobs,
    .nodes = sq_chain_nodes,
    .count = sq_chain_count,
    .join_arrive = sq_join_arrive,
    .release = sq_chain_release,
    .pipeline_add = sq_pipeline_add,
    .pipeline_get = sq_pipeline_get,
    .pipeline_list = sq_pipeline_list,
};

static const struct store_stats_ops sq_stats_ops = {
    .version = STORE_STATS_VERSION,
    .add = sq_stats_add,
    .read = sq_stats,
    .minutes = sq_stats_minutes,
};

int store_schema_version(void)
{
    return store_migrations_count;
}

static int user_version(sqlite3 *db, int *v, struct err *e)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sq_err(db, rc, e, "read schema version");
    rc = sqlite3_step(st);
    *v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return sq_err(db, rc, e, "read schema version");
    return 0;
}

static int migrate(struct sq *q, int busy_ms, struct err *e)
{
    int v = 0;
    int rc = exec_open(q->w, "BEGIN IMMEDIATE", e, "open database", busy_ms);
    if (rc)
        return rc;
    rc = user_version(q->w, &v, e);
    if (!rc && v > store_migrations_count)
        rc = err_set(e, TRAWL_ESCHEMA, false,
                     "%s: database schema version %d is newer than this trawl knows (%d); use a "
                     "newer trawl",
                     q->path, v, store_migrations_count);
    for (int i = v; !rc && i < store_migrations_count; i++) {
        const struct migration *m = &store_migrations[i];
        char what[128];
        snprintf(what, sizeof what, "apply migration %s", m->name);
        rc = exec(q->w, m->sql, e, what);
        if (!rc) {
            char sql[64];
            snprintf(sql, sizeof sql, "PRAGMA user_version = %d", m->version);
            rc = exec(q->w, sql, e, what);
        }
    }
    if (rc) {
        sqlite3_exec(q->w, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(q->w, "COMMIT", e, "migrate database");
}

static int open_conn(const char *path, sqlite3 **db, int busy_ms, struct err *e)
{
    int rc = sqlite3_open_v2(
        path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        int ret = err_set(e, map_code(rc), false, "cannot open database %s: %s", path,
                          *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
        sqlite3_close(*db);
        *db = NULL;
        return ret;
    }
    sqlite3_busy_timeout(*db, busy_ms);
    sqlite3_extended_result_codes(*db, 1);
    return 0;
}

/* SQLite says "unable to open database file" for many causes; name the common ones. The
 * database, its -wal and -shm files all need to be writable, and so does their directory. */
static int explain_open_failure(const char *path, int rc, struct err *e)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = 0;
    else
        snprintf(dir, sizeof dir, ".");
    struct statvfs fs;
    if (statvfs(dir, &fs) == 0 && (fs.f_flag & ST_RDONLY))
        return err_set(e, TRAWL_EREADONLY, false,
                       "cannot open database %s: it is on a read-only file system (trawl writes "
                       "the database and its -wal and -shm files)",
                       path);
    if (access(dir, W_OK) != 0)
        return err_set(e, TRAWL_EREADONLY, false, "cannot open database %s: directory %s: %s", path,
                       dir, strerror(errno));
    if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) != 0)
        return err_set(e, TRAWL_EREADONLY, false, "cannot open database %s: %s", path,
                       strerror(errno));
    if (statvfs(dir, &fs) == 0 && fs.f_bavail == 0)
        return err_set(e, TRAWL_EFULL, true, "cannot open database %s: the disk is full", path);
    return rc;
}

/* SQLite's memory statistics take a global mutex on every allocation; trawl does not read them. */
static void configure_once(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int store_sqlite_open(const char *path, const struct store_sqlite_opts *o, struct store **out,
                      struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_once);
    *out = NULL;
    struct sq *q = xcalloc(1, sizeof *q);
    q->base.core = &sq_core;
    q->base.jobs = &sq_jobs_ops;
    q->base.batches = &sq_batches;
    q->base.tokens = &sq_tokens;
    q->base.crawl = &sq_crawl;
    q->base.sessions = &sq_sessions;
    q->base.stats = &sq_stats_ops;
    q->base.chains = &sq_chains;
    q->base.webhooks = &sq_webhooks;
    q->base.alerts = &sq_alerts;
    q->base.retention = &sq_retention;
    q->base.imports = &sq_imports;
    q->base.schedules = &sq_schedule_ops;
    q->path = xstrdup(path);
    pthread_mutex_init(&q->rlock, NULL);
    pthread_mutex_init(&q->ck_lock, NULL);
    pthread_cond_init(&q->ck_cv, NULL);
    int busy = o && o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000;
    bool relaxed = o && o->durability == STORE_RELAXED;
    char what[600];
    snprintf(what, sizeof what, "open %s", path);
    int rc = open_conn(path, &q->w, busy, e);
    if (!rc)
        rc = exec_open(q->w, "PRAGMA journal_mode = WAL", e, what, busy);
    if (!rc)
        rc = exec_open(q->w, relaxed ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
                       e, what, busy);
    if (!rc)
        rc = exec_open(q->w, "PRAGMA cache_size = -16000; PRAGMA temp_store = MEMORY", e, what,
                       busy);
    if (!rc)
        rc = migrate(q, busy, e);
    if (!rc)
        rc = open_conn(path, &q->r, busy, e);
    if (!rc)
        rc = exec_open(q->r, "PRAGMA cache_size = -4000", e, what, busy);
    if (!rc)
        rc = open_conn(path, &q->ck, busy, e);
    if (!rc)
        rc = exec_open(q->ck,
                       relaxed ? "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -1000"
                               : "PRAGMA synchronous = FULL; PRAGMA cache_size = -1000",
                       e, what, busy);
    if (rc)
        goto out;
    if (pthread_create(&q->ck_thread, NULL, checkpoint_main, q) != 0) {
        rc = err_set(e, TRAWL_ENOMEM, false, "cannot start the checkpoint thread");
        goto out;
    }
    q->ck_running = true;
    sqlite3_wal_hook(q->w, wal_hook, q); /* replaces the automatic checkpoint */

    rc = sq_jobs_prepare(q, e);
out:
    if (rc) {
        sq_close(&q->base);
        if (rc != TRAWL_ESCHEMA && rc != TRAWL_ECORRUPT && rc != TRAWL_EBUSY)
            rc = explain_open_failure(path, rc, e);
        return rc;
    }
    *out = &q->base;
    return 0;
}
