/* The SQLite store's retention domain (migration 0012): one statement finds the prunable jobs,
 * oldest change first (by jobs_finished); each is then deleted with its rows in the other tables
 * by statements prepared once; a last one drops the batches left empty. On the writer, in the
 * caller's transaction. */
#include "store/retention_sql.h"
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

enum { RT_FIND, RT_EVENTS, RT_WEBHOOKS, RT_CRAWL, RT_PIPELINE, RT_JOB, RT_BATCHES, RT_COUNT_ };

_Static_assert(RT_COUNT_ <= 8, "struct sq has room for the statements");

/* ?1: the cut for completed and cancelled jobs, ?2 for failed ones */
#define PRUNABLE_HERE RETENTION_WHERE("?1", "?2")

static const char *const rt_sql[RT_COUNT_] = {
    [RT_FIND] = "SELECT j.id, j.workspace, j.type, j.status FROM jobs j WHERE " PRUNABLE_HERE " "
                "ORDER BY j.updated_at, j.id LIMIT ?3",
    [RT_EVENTS] = "DELETE FROM job_events WHERE job_id = ?1",
    [RT_WEBHOOKS] = "DELETE FROM webhook_calls WHERE job_id = ?1",
    [RT_CRAWL] = "DELETE FROM crawl_results WHERE job_id = ?1",
    [RT_PIPELINE] = "DELETE FROM pipelines WHERE id = ?1",
    [RT_JOB] = "DELETE FROM jobs WHERE id = ?1",
    [RT_BATCHES] =
        "DELETE FROM batches WHERE (workspace, id) IN (SELECT workspace, id FROM batches "
        "WHERE total = 0 AND updated_at < ?1 LIMIT ?2)",
};

struct victim {
    char *id, *workspace, *type;
    int status;
};

static void read_victim(sqlite3_stmt *st, void *out)
{
    struct victim *v = out;
    v->id = sq_col_dup(st, 0);
    v->workspace = sq_col_dup(st, 1);
    v->type = sq_col_dup(st, 2);
    v->status = job_status_parse((const char *)sqlite3_column_text(st, 3));
}

/* The group of v in g[0..*n), added when new. */
static void count_victim(struct prune_group *g, size_t *n, const struct victim *v)
{
    for (size_t i = 0; i < *n; i++)
        if (g[i].status == v->status && strcmp(g[i].workspace, v->workspace) == 0 &&
            strcmp(g[i].type, v->type) == 0) {
            g[i].n++;
            return;
        }
    g[*n] = (struct prune_group){xstrdup(v->workspace), xstrdup(v->type), v->status, 1};
    (*n)++;
}

static int prune_jobs(struct store *s, const struct prune_req *r, struct prune_group **out,
                      size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    for (int i = 0; i < RT_COUNT_; i++) {
        int rc = sq_prep_once(q->w, rt_sql[i], &q->rt[i], e);
        if (rc)
            return rc;
    }
    sqlite3_stmt *find = q->rt[RT_FIND];
    sqlite3_bind_int64(find, 1, r->before);
    sqlite3_bind_int64(find, 2, r->dead_before);
    sqlite3_bind_int64(find, 3, (sqlite3_int64)r->limit);
    void *rows = NULL;
    size_t nv = 0;
    int rc = sq_collect_rows(q->w, find, sizeof(struct victim), read_victim, &rows, &nv, e,
                             "find finished jobs to prune");
    struct victim *v = rows;
    *out = xcalloc(nv ? nv : 1, sizeof **out);
    for (size_t i = 0; rc >= 0 && i < nv; i++) {
        for (int k = RT_EVENTS; rc >= 0 && k <= RT_JOB; k++) {
            sqlite3_bind_text(q->rt[k], 1, v[i].id, -1, SQLITE_STATIC);
            rc = sq_step_done(q, q->rt[k], e, "prune a finished job");
        }
        if (rc >= 0)
            count_victim(*out, n, &v[i]);
    }
    for (size_t i = 0; i < nv; i++) {
        free(v[i].id);
        free(v[i].workspace);
        free(v[i].type);
    }
    free(rows);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(q->rt[RT_BATCHES], 1, r->before);
    sqlite3_bind_int64(q->rt[RT_BATCHES], 2, (sqlite3_int64)r->limit);
    rc = sq_step_done(q, q->rt[RT_BATCHES], e, "drop empty batches");
    return rc < 0 ? rc : (int)nv;
}

const struct store_retention_ops sq_retention = {
    .version = STORE_RETENTION_VERSION,
    .prune_jobs = prune_jobs,
};
