/* The PostgreSQL store's metrics counters: job_counts holds how many jobs of each workspace and
 * type are in each status, job_minutes what ended in each minute. They live in the database, so
 * every node reads the same figures; each node adds its transactions' sums at their end. */
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define MINUTE_MS    60000
#define MINUTES_KEPT (8 * 24 * 60)

static bool has_ended(const struct stats_delta *d)
{
    return d->completed || d->failed || d->retried || d->proc_n;
}

static int prune(struct pg *p, int64_t minute, struct err *e)
{
    static const char sql[] = "DELETE FROM job_minutes WHERE minute < $1";
    if (p->st_pruned == minute)
        return 0;
    struct pg_args a = {0};
    pa_i64(&a, minute - MINUTES_KEPT);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "drop old job minutes");
    if (!rc)
        p->st_pruned = minute;
    return rc;
}

static int delta_order(const void *pa, const void *pb)
{
    const struct stats_delta *a = *(const struct stats_delta *const *)pa;
    const struct stats_delta *b = *(const struct stats_delta *const *)pb;
    int c = strcmp(a->workspace, b->workspace);
    return c ? c : strcmp(a->type, b->type);
}

static int pg_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                        struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char counts[] =
        "INSERT INTO job_counts AS c (workspace, type, pending, processing, retrying, completed, "
        "failed, cancelled, waiting, blocked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (workspace, type) DO UPDATE SET pending = c.pending + $3, processing = "
        "c.processing + $4, retrying = c.retrying + $5, completed = c.completed + $6, failed = "
        "c.failed + $7, cancelled = c.cancelled + $8, waiting = c.waiting + $9, blocked = "
        "c.blocked + $10";
    static const char minutes[] =
        "INSERT INTO job_minutes AS m (minute, workspace, type, completed, failed, retried, "
        "proc_ms, proc_n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (minute, "
        "workspace, type) DO UPDATE SET completed = m.completed + $4, failed = m.failed + $5, "
        "retried = m.retried + $6, proc_ms = m.proc_ms + $7, proc_n = m.proc_n + $8";
    int64_t minute = now / MINUTE_MS;
    /* the counter rows are locked in one order, (workspace, type), by every node: two nodes'
     * transactions that count the same types then wait for each other instead of deadlocking */
    const struct stats_delta **sorted = xcalloc(n ? n : 1, sizeof *sorted);
    for (size_t i = 0; i < n; i++)
        sorted[i] = &d[i];
    qsort(sorted, n, sizeof *sorted, delta_order);
    int rc = 0;
    for (size_t j = 0; !rc && j < n; j++) {
        const struct stats_delta *di = sorted[j];
        bool changed = false;
        for (int k = 0; k < JOB_STATUS_COUNT; k++)
            changed = changed || di->status[k];
        if (changed) {
            struct pg_args a = {0};
            pa_text(&a, di->workspace);
            pa_text(&a, di->type);
            for (int k = 0; k < JOB_STATUS_COUNT; k++)
                pa_i64(&a, di->status[k]);
            rc = pg_run(&p->w, counts, &a, NULL, e, "count jobs by status");
        }
        if (rc || !has_ended(di))
            continue;
        struct pg_args a = {0};
        pa_i64(&a, minute);
        pa_text(&a, di->workspace);
        pa_text(&a, di->type);
        pa_i64(&a, di->completed);
        pa_i64(&a, di->failed);
        pa_i64(&a, di->retried);
        pa_i64(&a, di->proc_ms);
        pa_i64(&a, di->proc_n);
        rc = pg_run(&p->w, minutes, &a, NULL, e, "count the minute's jobs");
    }
    free(sorted);
    return rc ? rc : prune(p, minute, e);
}

static void query_args(struct pg_args *a, const struct stats_query *qy)
{
    pa_text(a, qy->workspace);
    pa_text(a, qy->type);
    pa_i64(a, qy->since / MINUTE_MS);
}

static int pg_stats_read(struct store *s, const struct stats_query *qy, struct stats_row **out,
                         size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT c.workspace, c.type, c.pending, c.processing, c.retrying, c.completed, "
        "c.failed, c.cancelled, c.waiting, c.blocked, "
        "coalesce(m.completed, 0), coalesce(m.failed, 0), coalesce(m.retried, 0), "
        "coalesce(m.proc_ms, 0), coalesce(m.proc_n, 0) FROM job_counts AS c LEFT JOIN ("
        "SELECT workspace, type, sum(completed) AS completed, sum(failed) AS failed, "
        "sum(retried) AS retried, sum(proc_ms) AS proc_ms, sum(proc_n) AS proc_n "
        "FROM job_minutes WHERE minute >= $3 AND ($1::text IS NULL OR workspace = $1) AND "
        "($2::text IS NULL OR type = $2) GROUP BY workspace, type) AS m "
        "ON m.workspace = c.workspace AND m.type = c.type "
        "WHERE ($1::text IS NULL OR c.workspace = $1) AND ($2::text IS NULL OR c.type = $2) "
        "ORDER BY c.workspace, c.type";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    query_args(&a, qy);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "read the job counters");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct stats_row *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].workspace = pg_dup(r, i, 0);
        v[i].type = pg_dup(r, i, 1);
        for (int k = 0; k < JOB_STATUS_COUNT; k++)
            v[i].status[k] = pg_i64(r, i, 2 + k);
        int c = 2 + JOB_STATUS_COUNT;
        v[i].completed = pg_i64(r, i, c);
        v[i].failed = pg_i64(r, i, c + 1);
        v[i].retried = pg_i64(r, i, c + 2);
        v[i].proc_ms = pg_i64(r, i, c + 3);
        v[i].proc_n = pg_i64(r, i, c + 4);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int pg_stats_minutes(struct store *s, const struct stats_query *qy,
                            struct stats_minute **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT minute, type, sum(completed), sum(failed), sum(retried), sum(proc_ms), "
        "sum(proc_n) FROM job_minutes WHERE minute >= $3 AND ($1::text IS NULL OR workspace = "
        "$1) AND ($2::text IS NULL OR type = $2) GROUP BY minute, type ORDER BY minute, type";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    query_args(&a, qy);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "read the job minutes");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct stats_minute *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].minute = pg_i64(r, i, 0);
        v[i].type = pg_dup(r, i, 1);
        v[i].completed = pg_i64(r, i, 2);
        v[i].failed = pg_i64(r, i, 3);
        v[i].retried = pg_i64(r, i, 4);
        v[i].proc_ms = pg_i64(r, i, 5);
        v[i].proc_n = pg_i64(r, i, 6);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

const struct store_stats_ops pg_stats_ops = {
    .version = STORE_STATS_VERSION,
    .add = pg_stats_add,
    .read = pg_stats_read,
    .minutes = pg_stats_minutes,
};
