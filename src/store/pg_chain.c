/* The PostgreSQL store's chains domain: a job's children by the jobs_parent index, a chain's jobs
 * by jobs_root, a join's counter, and the pipelines' names. Reads run on the reader under its lock
 * unless asked for inside the transaction (on the writer). Where SQLite relies on its one writer,
 * each write here is one statement whose row locks keep it right when several nodes write. */
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The masks of chain_filter, matched in SQL: bit 1 << ROLE_* of a role, 1 << JOB_* of a status. */
#define ROLE_BIT "(CASE role WHEN 'next' THEN 2 WHEN 'child' THEN 4 WHEN 'join' THEN 8 ELSE 1 END)"
#define STATUS_BIT                                                                                 \
    "(CASE status WHEN 'pending' THEN 1 WHEN 'processing' THEN 2 WHEN 'retrying' THEN 4 WHEN "     \
    "'completed' THEN 8 WHEN 'failed' THEN 16 WHEN 'cancelled' THEN 32 WHEN 'waiting' THEN 64 "    \
    "WHEN 'blocked' THEN 128 ELSE 0 END)"
/* MASKS(r, s): parameter $r is the role mask, $s the status mask. */
#define MASKS(r, s)                                                                                \
    "($" #r "::int = 0 OR ($" #r "::int & " ROLE_BIT ") <> 0) AND ($" #s "::int = 0 OR ($" #s      \
    "::int & " STATUS_BIT ") <> 0)"

_Static_assert(ROLE_NEXT == 1 && ROLE_CHILD == 2 && ROLE_JOIN == 3, "ROLE_BIT's bits");
_Static_assert(JOB_WAITING == 6 && JOB_BLOCKED == 7, "STATUS_BIT's bits");

#define NODE_COLS                                                                                  \
    "id, type, parent_id, join_id, error, stage, role, status, attempt, max_attempts, progress, "  \
    "depth, created_at, started_at, completed_at, failed_at, updated_at"

/* By parent or by root ($1), after a cursor ($2: '' for none), in id order, at most $5. */
static const char SQL_JOBS_PARENT[] = "SELECT " PG_JOB_COLS " FROM jobs WHERE parent_id = $1 AND "
                                      "id > $2 AND " MASKS(3, 4) " ORDER BY parent_id, id LIMIT $5";
static const char SQL_JOBS_ROOT[] = "SELECT " PG_JOB_COLS " FROM jobs WHERE root_id = $1 AND id > "
                                    "$2 AND " MASKS(3, 4) " ORDER BY root_id, id LIMIT $5";
static const char SQL_NODES_PARENT[] =
    "SELECT " NODE_COLS " FROM jobs WHERE parent_id = $1 AND "
    "id > $2 AND " MASKS(3, 4) " ORDER BY parent_id, id LIMIT $5";
static const char SQL_NODES_ROOT[] = "SELECT " NODE_COLS " FROM jobs WHERE root_id = $1 AND id > "
                                     "$2 AND " MASKS(3, 4) " ORDER BY root_id, id LIMIT $5";
/* A count ignores the cursor and the limit. */
static const char SQL_COUNT_PARENT[] =
    "SELECT status, count(*) FROM jobs WHERE parent_id = $1 AND " MASKS(2, 3) " GROUP BY status";
static const char SQL_COUNT_ROOT[] =
    "SELECT status, count(*) FROM jobs WHERE root_id = $1 AND " MASKS(2, 3) " GROUP BY status";

static int check_filter(const struct chain_filter *f, struct err *e)
{
    if (!f->parent_id && !f->root_id)
        return err_set(e, TRAWL_EINVAL, false, "a chain's jobs are read by parent or by root");
    return 0;
}

/* The statement for f (what: 0 whole rows, 1 nodes, 2 counts) and its parameters. */
static const char *filter_sql(const struct chain_filter *f, int what, struct pg_args *a)
{
    bool parent = f->parent_id != NULL;
    pa_text(a, parent ? f->parent_id : f->root_id);
    if (what != 2)
        pa_text(a, f->after_id ? f->after_id : "");
    pa_int(a, (int)f->role_mask);
    pa_int(a, (int)f->status_mask);
    if (what != 2)
        pa_i64(a, f->limit ? (int64_t)f->limit : 1000);
    if (what == 0)
        return parent ? SQL_JOBS_PARENT : SQL_JOBS_ROOT;
    if (what == 1)
        return parent ? SQL_NODES_PARENT : SQL_NODES_ROOT;
    return parent ? SQL_COUNT_PARENT : SQL_COUNT_ROOT;
}

static int pg_chain_jobs(struct store *s, const struct chain_filter *f, bool writer,
                         struct job **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    *out = NULL;
    *n = 0;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    struct pg_args a = {0};
    const char *sql = filter_sql(f, 0, &a);
    struct pg_conn *c = writer ? &p->w : pg_reader(p);
    PGresult *r;
    rc = pg_run(c, sql, &a, &r, e, "read a chain's jobs");
    if (!writer)
        pg_reader_done(p);
    if (rc)
        return rc;
    pg_collect_jobs(r, out, n);
    PQclear(r);
    return (int)*n;
}

static void node_of(const PGresult *r, int row, struct chain_node *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", PQgetvalue(r, row, 0));
    c->type = pg_dup(r, row, 1);
    c->parent_id = pg_dup(r, row, 2);
    c->join_id = pg_dup(r, row, 3);
    c->error = pg_dup(r, row, 4);
    c->stage = pg_dup(r, row, 5);
    int role = pg_null(r, row, 6) ? -1 : job_role_parse(PQgetvalue(r, row, 6));
    c->role = role > 0 ? (enum job_role)role : ROLE_NONE;
    c->status = job_status_parse(PQgetvalue(r, row, 7));
    c->attempt = pg_int(r, row, 8);
    c->max_attempts = pg_int(r, row, 9);
    c->progress = pg_int(r, row, 10);
    c->depth = pg_int(r, row, 11);
    c->created_at = pg_i64(r, row, 12);
    c->started_at = pg_i64(r, row, 13);
    c->completed_at = pg_i64(r, row, 14);
    c->failed_at = pg_i64(r, row, 15);
    c->updated_at = pg_i64(r, row, 16);
}

static int pg_chain_nodes(struct store *s, const struct chain_filter *f, struct chain_node **out,
                          size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    *out = NULL;
    *n = 0;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    struct pg_args a = {0};
    const char *sql = filter_sql(f, 1, &a);
    PGresult *r;
    rc = pg_run(pg_reader(p), sql, &a, &r, e, "read a chain");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct chain_node *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        node_of(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int pg_chain_count(struct store *s, const struct chain_filter *f, bool writer,
                          int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    struct pg *p = (struct pg *)s;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    struct pg_args a = {0};
    const char *sql = filter_sql(f, 2, &a);
    struct pg_conn *c = writer ? &p->w : pg_reader(p);
    PGresult *r;
    rc = pg_run(c, sql, &a, &r, e, "count a chain's jobs");
    if (!writer)
        pg_reader_done(p);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        int status = job_status_parse(PQgetvalue(r, i, 0));
        if (status >= 0)
            counts[status] = pg_i64(r, i, 1);
    }
    PQclear(r);
    return 0;
}

/* The UPDATE locks the join's row: a node counting an arrival at the same moment waits for this
 * transaction's end, then adds its delta to the committed count (READ COMMITTED re-reads the row
 * it waited for and checks it is still waiting). So no arrival is lost and exactly one sees 0. */
static int pg_join_arrive(struct store *s, const char *join_id, int delta, int64_t now,
                          int *remaining, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE jobs SET waits = waits + $2, updated_at = $3 WHERE id = $1 "
                              "AND status = 'waiting' RETURNING waits";
    static const char find[] = "SELECT status FROM jobs WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, join_id);
    pa_int(&a, delta);
    pa_i64(&a, now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "count a join's children");
    if (rc)
        return rc;
    bool found = PQntuples(r) > 0;
    if (found)
        *remaining = pg_int(r, 0, 0);
    PQclear(r);
    if (found)
        return 0;
    struct pg_args b = {0};
    pa_text(&b, join_id);
    rc = pg_run(&p->w, find, &b, &r, e, "find a join");
    if (rc)
        return rc;
    found = PQntuples(r) > 0;
    PQclear(r);
    if (found)
        return err_set(e, TRAWL_ESTATE, false, "join %s is not waiting", join_id);
    return err_set(e, TRAWL_ENOTFOUND, false, "join %s not found", join_id);
}

/* ---- pipelines ---- */

static int pg_pipeline_add(struct store *s, const struct pipeline *pl, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "INSERT INTO pipelines (id, workspace, name, stages, created_at) "
                              "VALUES ($1, $2, $3, $4, $5)";
    struct pg_args a = {0};
    pa_text(&a, pl->id);
    pa_text(&a, pl->workspace);
    pa_text(&a, pl->name);
    pa_int(&a, pl->stages);
    pa_i64(&a, pl->created_at);
    return pg_run(&p->w, sql, &a, NULL, e, "add a pipeline");
}

static void pipeline_of(const PGresult *r, int row, struct pipeline *pl)
{
    memset(pl, 0, sizeof *pl);
    snprintf(pl->id, sizeof pl->id, "%s", PQgetvalue(r, row, 0));
    pl->workspace = pg_dup(r, row, 1);
    pl->name = pg_dup(r, row, 2);
    pl->stages = pg_int(r, row, 3);
    pl->created_at = pg_i64(r, row, 4);
}

#define PIPE_COLS "id, workspace, name, stages, created_at"

static int pg_pipeline_get(struct store *s, const char *workspace, const char *id,
                           struct pipeline *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT " PIPE_COLS " FROM pipelines WHERE id = $1 AND workspace = $2";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, workspace);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "read a pipeline");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        pipeline_of(r, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "pipeline %s not found", id);
    PQclear(r);
    return rc;
}

static int pg_pipeline_list(struct store *s, const char *workspace, const char *name, size_t limit,
                            size_t offset, struct pipeline **out, size_t *n, int64_t *total,
                            struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char count[] = "SELECT count(*) FROM pipelines WHERE workspace = $1 AND ($2::text "
                                "IS NULL OR name = $2::text)";
    static const char list[] = "SELECT " PIPE_COLS " FROM pipelines WHERE workspace = $1 AND "
                               "($2::text IS NULL OR name = $2::text) ORDER BY created_at DESC, "
                               "id LIMIT $3 OFFSET $4";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, workspace);
    pa_text(&a, name);
    struct pg_conn *c = pg_reader(p);
    PGresult *r;
    int rc = pg_run(c, count, &a, &r, e, "count pipelines");
    if (!rc) {
        *total = pg_i64(r, 0, 0);
        PQclear(r);
        pa_i64(&a, limit ? (int64_t)limit : 20);
        pa_i64(&a, (int64_t)offset);
        rc = pg_run(c, list, &a, &r, e, "list pipelines");
    }
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct pipeline *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        pipeline_of(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

/* ---- releasing stages ---- */

/* The stages and their events in one statement. The UPDATE locks each stage it releases; a node
 * releasing the same stage meanwhile waits, then finds it no longer waiting (READ COMMITTED checks
 * the WHERE again on the row it waited for) and neither releases it nor writes its event. A
 * stage's input is its parent's result as this transaction sees it: the completion just wrote it.
 * Rows in id order: SQLite's UPDATE gives them in rowid order, which is their insertion order,
 * and ids (UUIDv7) are made in that order too. */
static int pg_chain_release(struct store *s, const char *const *parents, size_t n, int64_t now,
                            const char *message, struct job **out, size_t *nout, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH u AS (UPDATE jobs AS j SET status = 'pending', input = (SELECT q.result FROM jobs "
        "AS q WHERE q.id = j.parent_id), run_at = $1, updated_at = $1, event_seq = j.event_seq + "
        "1 WHERE j.parent_id = ANY ($2::text[]) AND j.status = 'waiting' AND j.role = 'next' "
        "RETURNING j.id, j.type, j.workspace, j.batch_id, j.parent_id, j.attempt, j.event_seq, "
        "j.created_at, j.root_id), "
        "ev AS (INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt, "
        "message) SELECT id, event_seq, $1, 'waiting', 'pending', attempt, $3::text FROM u) "
        "SELECT id, type, workspace, batch_id, parent_id, attempt, event_seq, created_at, "
        "root_id FROM u ORDER BY id";
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return 0;
    char *arr = pg_array(parents, n);
    struct pg_args a = {0};
    pa_i64(&a, now);
    pa_text(&a, arr);
    pa_text(&a, message);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "release stages");
    free(arr);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct job *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        struct job *j = &v[i];
        snprintf(j->id, sizeof j->id, "%s", PQgetvalue(r, i, 0));
        j->type = pg_dup(r, i, 1);
        j->workspace = pg_dup(r, i, 2);
        j->batch_id = pg_dup(r, i, 3);
        j->parent_id = pg_dup(r, i, 4);
        j->attempt = pg_int(r, i, 5);
        j->event_seq = pg_i64(r, i, 6);
        j->created_at = pg_i64(r, i, 7);
        j->root_id = pg_dup(r, i, 8);
        j->status = JOB_PENDING;
        j->role = ROLE_NEXT;
        j->run_at = now;
    }
    PQclear(r);
    *out = v;
    *nout = (size_t)rows;
    return rows;
}

const struct store_chain_ops pg_chain_ops = {
    .version = STORE_CHAIN_VERSION,
    .jobs = pg_chain_jobs,
    .nodes = pg_chain_nodes,
    .count = pg_chain_count,
    .join_arrive = pg_join_arrive,
    .release = pg_chain_release,
    .pipeline_add = pg_pipeline_add,
    .pipeline_get = pg_pipeline_get,
    .pipeline_list = pg_pipeline_list,
};
