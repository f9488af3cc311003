/* The SQLite store's metrics counters (migration 0006): job_counts holds how many jobs of each
 * workspace and type are in each status, job_minutes what ended in each minute. The engine sends
 * the sums of a transaction's changes once, at its end; reading them never touches the jobs
 * table. */
#include "store/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#define MINUTE_MS    60000
#define MINUTES_KEPT (8 * 24 * 60)
#define STATUS_COLS  "pending, processing, retrying, completed, failed, cancelled, waiting, blocked"

static bool has_ended(const struct stats_delta *d)
{
    return d->completed || d->failed || d->retried || d->proc_n;
}

/* Drop minutes older than MINUTES_KEPT, once per minute at most. */
static int prune(struct sq *q, int64_t minute, struct err *e)
{
    if (q->st_pruned == minute)
        return 0;
    int rc = sq_prep_once(q->w, "DELETE FROM job_minutes WHERE minute < ?1", &q->st_prune, e);
    if (rc)
        return rc;
    sqlite3_bind_int64(q->st_prune, 1, minute - MINUTES_KEPT);
    rc = sq_step_done(q, q->st_prune, e, "drop old job minutes");
    if (!rc)
        q->st_pruned = minute;
    return rc;
}

int sq_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(
        q->w,
        "INSERT INTO job_counts (workspace, type, " STATUS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, "
        "?6, ?7, ?8, ?9, ?10) ON CONFLICT (workspace, type) DO UPDATE SET pending = pending + ?3, "
        "processing = processing + ?4, retrying = retrying + ?5, completed = completed + ?6, "
        "failed = failed + ?7, cancelled = cancelled + ?8, waiting = waiting + ?9, "
        "blocked = blocked + ?10",
        &q->st_counts, e);
    if (!rc)
        rc = sq_prep_once(
            q->w,
            "INSERT INTO job_minutes (minute, workspace, type, completed, failed, retried, "
            "proc_ms, proc_n) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (minute, "
            "workspace, type) DO UPDATE SET completed = completed + ?4, failed = failed + ?5, "
            "retried = retried + ?6, proc_ms = proc_ms + ?7, proc_n = proc_n + ?8",
            &q->st_minute, e);
    int64_t minute = now / MINUTE_MS;
    for (size_t i = 0; !rc && i < n; i++) {
        sqlite3_stmt *st = q->st_counts;
        bool changed = false;
        for (int k = 0; k < JOB_STATUS_COUNT; k++)
            changed = changed || d[i].status[k];
        if (changed) {
            sqlite3_bind_text(st, 1, d[i].workspace, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, d[i].type, -1, SQLITE_STATIC);
            for (int k = 0; k < JOB_STATUS_COUNT; k++)
                sqlite3_bind_int64(st, 3 + k, d[i].status[k]);
            rc = sq_step_done(q, st, e, "count jobs by status");
        }
        if (rc || !has_ended(&d[i]))
            continue;
        st = q->st_minute;
        sqlite3_bind_int64(st, 1, minute);
        sqlite3_bind_text(st, 2, d[i].workspace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, d[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, d[i].completed);
        sqlite3_bind_int64(st, 5, d[i].failed);
        sqlite3_bind_int64(st, 6, d[i].retried);
        sqlite3_bind_int64(st, 7, d[i].proc_ms);
        sqlite3_bind_int64(st, 8, d[i].proc_n);
        rc = sq_step_done(q, st, e, "count the minute's jobs");
    }
    return rc ? rc : prune(q, minute, e);
}

/* A row of the counters' query (sq_stats). */
static void stats_row_fn(sqlite3_stmt *st, void *p)
{
    struct stats_row *r = p;
    memset(r, 0, sizeof *r);
    r->workspace = sq_col_dup(st, 0);
    r->type = sq_col_dup(st, 1);
    for (int k = 0; k < JOB_STATUS_COUNT; k++)
        r->status[k] = sqlite3_column_int64(st, 2 + k);
    int c = 2 + JOB_STATUS_COUNT;
    r->completed = sqlite3_column_int64(st, c);
    r->failed = sqlite3_column_int64(st, c + 1);
    r->retried = sqlite3_column_int64(st, c + 2);
    r->proc_ms = sqlite3_column_int64(st, c + 3);
    r->proc_n = sqlite3_column_int64(st, c + 4);
}

/* A row of the minutes' query (sq_stats_minutes). */
static void stats_minute_fn(sqlite3_stmt *st, void *p)
{
    struct stats_minute *r = p;
    r->minute = sqlite3_column_int64(st, 0);
    r->type = sq_col_dup(st, 1);
    r->completed = sqlite3_column_int64(st, 2);
    r->failed = sqlite3_column_int64(st, 3);
    r->retried = sqlite3_column_int64(st, 4);
    r->proc_ms = sqlite3_column_int64(st, 5);
    r->proc_n = sqlite3_column_int64(st, 6);
}

int sq_stats(struct store *s, const struct stats_query *qy, struct stats_row **out, size_t *n,
             struct err *e)
{
    struct sq *q = (struct sq *)s;
    /* one row per workspace and type: its counts, and the sums of its minutes since ?3 */
    static const char sql[] =
        "SELECT c.workspace, c.type, c.pending, c.processing, c.retrying, c.completed, "
        "c.failed, c.cancelled, c.waiting, c.blocked, "
        "coalesce(m.completed, 0), coalesce(m.failed, 0), coalesce(m.retried, 0), "
        "coalesce(m.proc_ms, 0), coalesce(m.proc_n, 0) FROM job_counts AS c LEFT JOIN ("
        "SELECT workspace, type, sum(completed) AS completed, sum(failed) AS failed, "
        "sum(retried) AS retried, sum(proc_ms) AS proc_ms, sum(proc_n) AS proc_n "
        "FROM job_minutes WHERE minute >= ?3 AND (?1 IS NULL OR workspace = ?1) AND "
        "(?2 IS NULL OR type = ?2) GROUP BY workspace, type) AS m "
        "ON m.workspace = c.workspace AND m.type = c.type "
        "WHERE (?1 IS NULL OR c.workspace = ?1) AND (?2 IS NULL OR c.type = ?2) "
        "ORDER BY c.workspace, c.type";
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r, sql, &q->st_read, e);
    if (rc) {
        pthread_mutex_unlock(&q->rlock);
        return rc;
    }
    sqlite3_stmt *st = q->st_read;
    sq_bind_text(st, 1, qy->workspace);
    sq_bind_text(st, 2, qy->type);
    sqlite3_bind_int64(st, 3, qy->since / MINUTE_MS);
    void *rows;
    size_t cnt;
    rc = sq_collect_rows(q->r, st, sizeof **out, stats_row_fn, &rows, &cnt, e,
                         "read the job counters");
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rlock);
    if (rc < 0) {
        stats_rows_free(rows, cnt);
        return rc;
    }
    *out = rows;
    *n = cnt;
    return rc;
}

int sq_stats_minutes(struct store *s, const struct stats_query *qy, struct stats_minute **out,
                     size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    static const char sql[] =
        "SELECT minute, type, sum(completed), sum(failed), sum(retried), sum(proc_ms), "
        "sum(proc_n) FROM job_minutes WHERE minute >= ?3 AND (?1 IS NULL OR workspace = ?1) AND "
        "(?2 IS NULL OR type = ?2) GROUP BY minute, type ORDER BY minute, type";
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r, sql, &q->st_series, e);
    if (rc) {
        pthread_mutex_unlock(&q->rlock);
        return rc;
    }
    sqlite3_stmt *st = q->st_series;
    sq_bind_text(st, 1, qy->workspace);
    sq_bind_text(st, 2, qy->type);
    sqlite3_bind_int64(st, 3, qy->since / MINUTE_MS);
    void *rows;
    size_t cnt;
    rc = sq_collect_rows(q->r, st, sizeof **out, stats_minute_fn, &rows, &cnt, e,
                         "read the job minutes");
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rlock);
    if (rc < 0) {
        stats_minutes_free(rows, cnt);
        return rc;
    }
    *out = rows;
    *n = cnt;
    return rc;
}
