/* The PostgreSQL store's retention domain: one statement finds the prunable jobs (oldest change
 * first, by jobs_finished), locks them with SKIP LOCKED so two nodes pruning at once take
 * different jobs, and deletes them with their rows in the other tables; a second drops the
 * batches left empty. On the writer, in the caller's transaction. */
#include "store/pg_int.h"
#include "store/retention_sql.h"

#include "base/xalloc.h"

#include <stdlib.h>

/* $1: the cut for completed and cancelled jobs, $2 for failed ones */
#define PRUNABLE_HERE RETENTION_WHERE("$1", "$2")

static int prune_jobs(struct store *s, const struct prune_req *r, struct prune_group **out,
                      size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH v AS MATERIALIZED (SELECT j.id FROM jobs j WHERE " PRUNABLE_HERE " "
        "ORDER BY j.updated_at, j.id LIMIT $3 FOR UPDATE OF j SKIP LOCKED), "
        "ev AS (DELETE FROM job_events x USING v WHERE x.job_id = v.id), "
        "wh AS (DELETE FROM webhook_calls x USING v WHERE x.job_id = v.id), "
        "cr AS (DELETE FROM crawl_results x USING v WHERE x.job_id = v.id), "
        "pl AS (DELETE FROM pipelines x USING v WHERE x.id = v.id), "
        "d AS (DELETE FROM jobs x USING v WHERE x.id = v.id RETURNING x.workspace, x.type, "
        "x.status) "
        "SELECT workspace, type, status, count(*) FROM d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";
    static const char batches[] =
        "DELETE FROM batches WHERE (workspace, id) IN (SELECT workspace, id FROM batches WHERE "
        "total = 0 AND updated_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";
    struct pg_args a = {0};
    pa_i64(&a, r->before);
    pa_i64(&a, r->dead_before);
    pa_i64(&a, (int64_t)r->limit);
    PGresult *res;
    int rc = pg_run(&p->w, sql, &a, &res, e, "prune finished jobs");
    if (rc)
        return rc;
    int rows = PQntuples(res), total = 0;
    *out = xcalloc(rows ? (size_t)rows : 1, sizeof **out);
    for (int i = 0; i < rows; i++) {
        struct prune_group *g = &(*out)[i];
        g->workspace = pg_dup(res, i, 0);
        g->type = pg_dup(res, i, 1);
        g->status = job_status_parse(PQgetvalue(res, i, 2));
        g->n = pg_i64(res, i, 3);
        total += (int)g->n;
    }
    *n = (size_t)rows;
    PQclear(res);
    struct pg_args b = {0};
    pa_i64(&b, r->before);
    pa_i64(&b, (int64_t)r->limit);
    rc = pg_run(&p->w, batches, &b, NULL, e, "drop empty batches");
    return rc ? rc : total;
}

const struct store_retention_ops pg_retention_ops = {
    .version = STORE_RETENTION_VERSION,
    .prune_jobs = prune_jobs,
};
