/* The SQLite store's chains domain (migration 0007): a job's children by the jobs_parent index, a
 * chain's jobs by jobs_root, a join's counter, and the pipelines' names. Reads run on the reader
 * under its lock unless asked for inside the transaction (on the writer). */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    CH_PARENT_W, /* whole rows of a job's children, on the writer */
    CH_PARENT_R,
    CH_ROOT_W, /* whole rows of a chain's jobs */
    CH_ROOT_R,
    CH_NODES_PARENT,
    CH_NODES_ROOT,
    CH_COUNT_PARENT_W,
    CH_COUNT_PARENT_R,
    CH_COUNT_ROOT_W,
    CH_COUNT_ROOT_R,
    CH_ARRIVE,
    CH_EXISTS,
    CH_PIPE_ADD,
    CH_PIPE_GET,
    CH_PIPE_LIST,
    CH_PIPE_COUNT,
    CH_COUNT_,
};

_Static_assert(CH_COUNT_ <= 16, "struct sq has room for the statements");

/* The masks of chain_filter, matched in SQL: bit 1 << ROLE_* of a role, 1 << JOB_* of a status. */
#define ROLE_BIT "(CASE role WHEN 'next' THEN 2 WHEN 'child' THEN 4 WHEN 'join' THEN 8 ELSE 1 END)"
#define STATUS_BIT                                                                                 \
    "(CASE status WHEN 'pending' THEN 1 WHEN 'processing' THEN 2 WHEN 'retrying' THEN 4 WHEN "     \
    "'completed' THEN 8 WHEN 'failed' THEN 16 WHEN 'cancelled' THEN 32 WHEN 'waiting' THEN 64 "    \
    "WHEN 'blocked' THEN 128 ELSE 0 END)"
#define MASKS "(?3 = 0 OR ?3 & " ROLE_BIT ") AND (?4 = 0 OR ?4 & " STATUS_BIT ")"

_Static_assert(ROLE_NEXT == 1 && ROLE_CHILD == 2 && ROLE_JOIN == 3, "ROLE_BIT's bits");
_Static_assert(JOB_WAITING == 6 && JOB_BLOCKED == 7, "STATUS_BIT's bits");

#define NODE_COLS                                                                                  \
    "id, type, parent_id, join_id, error, stage, role, status, attempt, max_attempts, progress, "  \
    "depth, created_at, started_at, completed_at, failed_at, updated_at"

/* The statement for f: by parent or by root, whole rows or nodes or counts. */
static int prep(struct sq *q, const struct chain_filter *f, int what, bool writer,
                sqlite3_stmt **out, struct err *e)
{
    bool parent = f->parent_id != NULL;
    sqlite3 *db = writer ? q->w : q->r;
    int slot;
    const char *sql;
    if (what == 0) {
        slot = parent ? (writer ? CH_PARENT_W : CH_PARENT_R) : (writer ? CH_ROOT_W : CH_ROOT_R);
        sql = parent ? "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_parent WHERE parent_id = ?1 "
                       "AND id > ?2 AND " MASKS " ORDER BY parent_id, id LIMIT ?5"
                     : "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_root WHERE root_id = ?1 "
                       "AND id > ?2 AND " MASKS " ORDER BY root_id, id LIMIT ?5";
    } else if (what == 1) {
        slot = parent ? CH_NODES_PARENT : CH_NODES_ROOT;
        db = q->r;
        sql = parent ? "SELECT " NODE_COLS " FROM jobs INDEXED BY jobs_parent WHERE parent_id = "
                       "?1 AND id > ?2 AND " MASKS " ORDER BY parent_id, id LIMIT ?5"
                     : "SELECT " NODE_COLS " FROM jobs INDEXED BY jobs_root WHERE root_id = ?1 "
                       "AND id > ?2 AND " MASKS " ORDER BY root_id, id LIMIT ?5";
    } else {
        slot = parent ? (writer ? CH_COUNT_PARENT_W : CH_COUNT_PARENT_R)
                      : (writer ? CH_COUNT_ROOT_W : CH_COUNT_ROOT_R);
        sql = parent ? "SELECT status, count(*) FROM jobs INDEXED BY jobs_parent WHERE parent_id "
                       "= ?1 AND id > ?2 AND " MASKS " AND ?5 >= 0 GROUP BY status"
                     : "SELECT status, count(*) FROM jobs INDEXED BY jobs_root WHERE root_id = "
                       "?1 AND id > ?2 AND " MASKS " AND ?5 >= 0 GROUP BY status";
    }
    int rc = sq_prep_once(db, sql, &q->ch[slot], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->ch[slot];
    sqlite3_bind_text(st, 1, parent ? f->parent_id : f->root_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, what == 2 || !f->after_id ? "" : f->after_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)f->role_mask);
    sqlite3_bind_int(st, 4, (int)f->status_mask);
    sqlite3_bind_int64(st, 5, f->limit ? (sqlite3_int64)f->limit : 1000);
    *out = st;
    return 0;
}

static int check_filter(const struct chain_filter *f, struct err *e)
{
    if (!f->parent_id && !f->root_id)
        return err_set(e, TRAWL_EINVAL, false, "a chain's jobs are read by parent or by root");
    return 0;
}

static void job_row_fn(sqlite3_stmt *st, void *p)
{
    sq_row_to_job(st, 0, p);
}

int sq_chain_jobs(struct store *s, const struct chain_filter *f, bool writer, struct job **out,
                  size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    if (!writer)
        pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    rc = prep(q, f, 0, writer, &st, e);
    if (!rc)
        rc = sq_collect_rows(writer ? q->w : q->r, st, sizeof(struct job), job_row_fn, (void **)out,
                             n, e, "read a chain's jobs");
    if (!writer)
        pthread_mutex_unlock(&q->rlock);
    return rc;
}

static void node_fn(sqlite3_stmt *st, void *p)
{
    struct chain_node *c = p;
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", (const char *)sqlite3_column_text(st, 0));
    c->type = sq_col_dup(st, 1);
    c->parent_id = sq_col_dup(st, 2);
    c->join_id = sq_col_dup(st, 3);
    c->error = sq_col_dup(st, 4);
    c->stage = sq_col_dup(st, 5);
    int role = job_role_parse((const char *)sqlite3_column_text(st, 6));
    c->role = role > 0 ? (enum job_role)role : ROLE_NONE;
    c->status = job_status_parse((const char *)sqlite3_column_text(st, 7));
    c->attempt = sqlite3_column_int(st, 8);
    c->max_attempts = sqlite3_column_int(st, 9);
    c->progress = sqlite3_column_int(st, 10);
    c->depth = sqlite3_column_int(st, 11);
    c->created_at = sqlite3_column_int64(st, 12);
    c->started_at = sqlite3_column_int64(st, 13);
    c->completed_at = sqlite3_column_int64(st, 14);
    c->failed_at = sqlite3_column_int64(st, 15);
    c->updated_at = sqlite3_column_int64(st, 16);
}

int sq_chain_nodes(struct store *s, const struct chain_filter *f, struct chain_node **out,
                   size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    rc = prep(q, f, 1, false, &st, e);
    if (!rc)
        rc = sq_collect_rows(q->r, st, sizeof(struct chain_node), node_fn, (void **)out, n, e,
                             "read a chain");
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_chain_count(struct store *s, const struct chain_filter *f, bool writer,
                   int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = check_filter(f, e);
    if (rc)
        return rc;
    if (!writer)
        pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st;
    rc = prep(q, f, 2, writer, &st, e);
    int step = SQLITE_DONE;
    while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
        int status = job_status_parse((const char *)sqlite3_column_text(st, 0));
        if (status >= 0)
            counts[status] = sqlite3_column_int64(st, 1);
    }
    if (!rc) {
        sqlite3_reset(st);
        if (step != SQLITE_DONE)
            rc = sq_err(writer ? q->w : q->r, step, e, "count a chain's jobs");
    }
    if (!writer)
        pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_join_arrive(struct store *s, const char *join_id, int delta, int64_t now, int *remaining,
                   struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE jobs SET waits = waits + ?2, updated_at = ?3 WHERE id = ?1 AND "
                          "status = 'waiting' RETURNING waits",
                          &q->ch[CH_ARRIVE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->ch[CH_ARRIVE];
    sqlite3_bind_text(st, 1, join_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, delta);
    sqlite3_bind_int64(st, 3, now);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *remaining = sqlite3_column_int(st, 0);
        step = sqlite3_step(st);
    }
    bool found = sqlite3_changes(q->w) > 0;
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return sq_err(q->w, step, e, "count a join's children");
    if (found)
        return 0;
    rc = sq_prep_once(q->w, "SELECT status FROM jobs WHERE id = ?1", &q->ch[CH_EXISTS], e);
    if (rc)
        return rc;
    st = q->ch[CH_EXISTS];
    sqlite3_bind_text(st, 1, join_id, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_ROW)
        return err_set(e, TRAWL_ESTATE, false, "join %s is not waiting", join_id);
    if (step == SQLITE_DONE)
        return err_set(e, TRAWL_ENOTFOUND, false, "join %s not found", join_id);
    return sq_err(q->w, step, e, "find a join");
}

/* ---- pipelines ---- */

int sq_pipeline_add(struct store *s, const struct pipeline *p, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO pipelines (id, workspace, name, stages, created_at) VALUES "
                          "(?1, ?2, ?3, ?4, ?5)",
                          &q->ch[CH_PIPE_ADD], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->ch[CH_PIPE_ADD];
    sqlite3_bind_text(st, 1, p->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, p->workspace, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, p->stages);
    sqlite3_bind_int64(st, 5, p->created_at);
    return sq_step_done(q, st, e, "add a pipeline");
}

static void pipeline_fn(sqlite3_stmt *st, void *p)
{
    struct pipeline *pl = p;
    memset(pl, 0, sizeof *pl);
    snprintf(pl->id, sizeof pl->id, "%s", (const char *)sqlite3_column_text(st, 0));
    pl->workspace = sq_col_dup(st, 1);
    pl->name = sq_col_dup(st, 2);
    pl->stages = sqlite3_column_int(st, 3);
    pl->created_at = sqlite3_column_int64(st, 4);
}

#define PIPE_COLS "id, workspace, name, stages, created_at"

int sq_pipeline_get(struct store *s, const char *workspace, const char *id, struct pipeline *out,
                    struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc =
        sq_prep_once(q->r, "SELECT " PIPE_COLS " FROM pipelines WHERE id = ?1 AND workspace = ?2",
                     &q->ch[CH_PIPE_GET], e);
    if (!rc) {
        sqlite3_stmt *st = q->ch[CH_PIPE_GET];
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, workspace, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            pipeline_fn(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "pipeline %s not found", id);
        else
            rc = sq_err(q->r, step, e, "read a pipeline");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_pipeline_list(struct store *s, const char *workspace, const char *name, size_t limit,
                     size_t offset, struct pipeline **out, size_t *n, int64_t *total, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " PIPE_COLS " FROM pipelines WHERE workspace = ?1 AND (?2 IS "
                          "NULL OR name = ?2) ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
                          &q->ch[CH_PIPE_LIST], e);
    if (!rc)
        rc = sq_prep_once(q->r,
                          "SELECT count(*) FROM pipelines WHERE workspace = ?1 AND (?2 IS NULL OR "
                          "name = ?2)",
                          &q->ch[CH_PIPE_COUNT], e);
    if (!rc) {
        sqlite3_stmt *st = q->ch[CH_PIPE_COUNT];
        sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
        sq_bind_text(st, 2, name);
        int step = sqlite3_step(st);
        *total = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (step != SQLITE_ROW)
            rc = sq_err(q->r, step, e, "count pipelines");
    }
    if (!rc) {
        sqlite3_stmt *st = q->ch[CH_PIPE_LIST];
        sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
        sq_bind_text(st, 2, name);
        sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : 20);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
        rc = sq_collect_rows(q->r, st, sizeof(struct pipeline), pipeline_fn, (void **)out, n, e,
                             "list pipelines");
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* ---- releasing stages ---- */

static int release_some(struct sq *q, const char *const *parents, size_t k, int64_t now,
                        const char *message, struct job **out, size_t *nout, size_t *cap,
                        struct err *e)
{
    sqlite3_stmt *st = q->release[k];
    if (!st) {
        char sql[2048];
        /* a stage's input is its parent's result, as the completion just wrote it */
        size_t len = (size_t)snprintf(
            sql, sizeof sql,
            "UPDATE jobs SET status = 'pending', input = (SELECT p.result FROM jobs AS p WHERE "
            "p.id = jobs.parent_id), run_at = ?1, updated_at = ?1, event_seq = event_seq + 1 "
            "WHERE parent_id IN (");
        for (size_t i = 0; i < k; i++)
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s?%zu", i ? ", " : "", i + 2);
        snprintf(sql + len, sizeof sql - len,
                 ") AND status = 'waiting' AND role = 'next' RETURNING id, type, workspace, "
                 "batch_id, parent_id, attempt, event_seq, created_at, root_id");
        int rc = sq_prep(q->w, sql, &q->release[k], e);
        if (rc)
            return rc;
        st = q->release[k];
    }
    sqlite3_bind_int64(st, 1, now);
    for (size_t i = 0; i < k; i++)
        sqlite3_bind_text(st, (int)i + 2, parents[i], -1, SQLITE_STATIC);
    size_t first = *nout;
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (*nout == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *out = xrealloc(*out, *cap * sizeof **out);
        }
        struct job *j = &(*out)[(*nout)++];
        memset(j, 0, sizeof *j);
        snprintf(j->id, sizeof j->id, "%s", (const char *)sqlite3_column_text(st, 0));
        j->type = sq_col_dup(st, 1);
        j->workspace = sq_col_dup(st, 2);
        j->batch_id = sq_col_dup(st, 3);
        j->parent_id = sq_col_dup(st, 4);
        j->attempt = sqlite3_column_int(st, 5);
        j->event_seq = sqlite3_column_int64(st, 6);
        j->created_at = sqlite3_column_int64(st, 7);
        j->root_id = sq_col_dup(st, 8);
        j->status = JOB_PENDING;
        j->role = ROLE_NEXT;
        j->run_at = now;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE)
        return sq_err(q->w, step, e, "release stages");
    /* their history: one row each, written together */
    struct ev_row rows[CLAIM_MULTI];
    for (size_t i = first; i < *nout;) {
        size_t m = 0;
        for (; i < *nout && m < CLAIM_MULTI; i++, m++)
            rows[m] = (struct ev_row){(*out)[i].id, (*out)[i].event_seq, (*out)[i].attempt};
        int rc = sq_insert_events(q, rows, m, now, "waiting", "pending", message, e);
        if (rc)
            return rc;
    }
    return 0;
}

int sq_chain_release(struct store *s, const char *const *parents, size_t n, int64_t now,
                     const char *message, struct job **out, size_t *nout, struct err *e)
{
    struct sq *q = (struct sq *)s;
    size_t cap = 0;
    for (size_t i = 0; i < n; i += CLAIM_MULTI) {
        size_t k = n - i < CLAIM_MULTI ? n - i : CLAIM_MULTI;
        int rc = release_some(q, parents + i, k, now, message, out, nout, &cap, e);
        if (rc)
            return rc;
    }
    return (int)*nout;
}
