/* The SQLite store's jobs domain: inserting, claiming, changing and reading job rows, and their
 * history. Writes run on the writer connection inside the committer's transaction; reads on the
 * reader, under its lock. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Insert k (1..CLAIM_MULTI) events that share their time, transition and message (NULL: none),
 * with one statement of k rows: no lookup of the jobs they belong to. */
int sq_insert_events(struct sq *q, const struct ev_row *rows, size_t k, int64_t at,
                     const char *from, const char *to, const char *message, struct err *e)
{
    sqlite3_stmt *st = q->ev_rows[k];
    if (!st) {
        char sql[4096];
        size_t len = (size_t)snprintf(sql, sizeof sql,
                                      "INSERT INTO job_events (job_id, seq, attempt, at, "
                                      "from_status, to_status, message) VALUES ");
        for (size_t r = 0; r < k; r++) {
            int b = 5 + 3 * (int)r;
            len +=
                (size_t)snprintf(sql + len, sizeof sql - len, "%s(?%d, ?%d, ?%d, ?1, ?2, ?3, ?4)",
                                 r ? ", " : "", b, b + 1, b + 2);
        }
        int rc = sq_prep(q->w, sql, &q->ev_rows[k], e);
        if (rc)
            return rc;
        st = q->ev_rows[k];
    }
    sqlite3_bind_int64(st, 1, at);
    sqlite3_bind_text(st, 2, from, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, to, -1, SQLITE_STATIC);
    sq_bind_text(st, 4, message);
    for (size_t r = 0; r < k; r++) {
        int b = 5 + 3 * (int)r;
        sqlite3_bind_text(st, b, rows[r].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, b + 1, rows[r].seq);
        sqlite3_bind_int(st, b + 2, rows[r].attempt);
    }
    return sq_step_done(q, st, e, "record job events");
}

/* Append the event of a change just made to job id; its seq and attempt are read from the
 * updated row, so the caller need not read them back. */
static int add_event(struct sq *q, const char *id, int64_t at, int from, int to, const char *msg,
                     struct err *e)
{
    sqlite3_stmt *st = q->event;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_text(st, 3, job_status_name(from), -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, job_status_name(to), -1, SQLITE_STATIC);
    sq_bind_text(st, 5, msg);
    int rc = sq_step_done(q, st, e, "record job event");
    sqlite3_clear_bindings(st);
    return rc;
}

_Static_assert(STORE_COMPLETE_MAX <= CLAIM_MULTI,
               "a group of completions writes its events at once");
#define INSERT_COLS  24
#define INSERT_MULTI 32 /* rows per multi-row INSERT: one statement run opens the b-trees once */

static void bind_job(sqlite3_stmt *st, int base, const struct job *j)
{
    sqlite3_bind_text(st, base + 1, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 2, j->type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 3, j->queue, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, base + 4, job_status_name(j->status), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, base + 5, j->priority);
    sqlite3_bind_int(st, base + 6, j->max_attempts);
    sqlite3_bind_int64(st, base + 7, j->run_at);
    sqlite3_bind_int64(st, base + 8, j->timeout_ms);
    sqlite3_bind_int64(st, base + 9, j->backoff_base_ms);
    sqlite3_bind_int64(st, base + 10, j->backoff_cap_ms);
    sqlite3_bind_text(st, base + 11, j->args, -1, SQLITE_STATIC);
    sq_bind_text(st, base + 12, j->batch_id);
    sq_bind_text(st, base + 13, j->parent_id);
    sq_bind_text(st, base + 14, j->root_id);
    sq_bind_text(st, base + 15, j->unique_key);
    sqlite3_bind_text(st, base + 16, j->workspace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, base + 17, j->created_at);
    sq_bind_text(st, base + 18, j->checkpoint);
    sq_bind_text(st, base + 19, j->input);
    sq_bind_text(st, base + 20, job_role_name(j->role));
    sq_bind_text(st, base + 21, j->join_id);
    sqlite3_bind_int(st, base + 22, j->waits);
    sqlite3_bind_int(st, base + 23, j->successors);
    sqlite3_bind_int(st, base + 24, j->depth);
}

/* 1: a live job has j's unique key; j->id and j->status are now that job's. */
static int find_unique(struct sq *q, struct job *j, struct err *e)
{
    sqlite3_stmt *f = q->find_unique;
    sqlite3_bind_text(f, 1, j->workspace, -1, SQLITE_STATIC);
    sqlite3_bind_text(f, 2, j->unique_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(f);
    if (rc == SQLITE_ROW) {
        snprintf(j->id, sizeof j->id, "%s", (const char *)sqlite3_column_text(f, 0));
        j->status = job_status_parse((const char *)sqlite3_column_text(f, 1));
        sqlite3_reset(f);
        return 1;
    }
    sqlite3_reset(f);
    if (rc != SQLITE_DONE)
        return sq_err(q->w, rc, e, "look up unique key");
    return 0;
}

static int sq_insert(struct store *s, struct job *j, struct err *e)
{
    struct sq *q = (struct sq *)s;
    if (j->unique_key) {
        int rc = find_unique(q, j, e);
        if (rc)
            return rc;
    }
    bind_job(q->ins, 0, j);
    int rc = sq_step_done(q, q->ins, e, "insert job");
    sqlite3_clear_bindings(q->ins);
    return rc;
}

static int sq_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e)
{
    struct sq *q = (struct sq *)s;
    size_t i = 0;
    while (i < n) {
        /* runs of INSERT_MULTI jobs without a unique key go in one statement */
        size_t k = 0;
        while (k < INSERT_MULTI && i + k < n && !jobs[i + k].unique_key)
            k++;
        if (k == INSERT_MULTI) {
            for (size_t r = 0; r < k; r++) {
                bind_job(q->ins_multi, (int)r * INSERT_COLS, &jobs[i + r]);
                existed[i + r] = false;
            }
            int rc = sq_step_done(q, q->ins_multi, e, "insert jobs");
            if (rc)
                return rc;
            i += k;
            continue;
        }
        int rc = sq_insert(s, &jobs[i], e);
        if (rc < 0)
            return rc;
        existed[i] = rc == 1;
        i++;
    }
    return 0;
}

/* Claim order: highest priority first, then the oldest run_at, then the id. */
static int claim_order(const void *pa, const void *pb)
{
    const struct job *a = pa, *b = pb;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->run_at != b->run_at)
        return a->run_at < b->run_at ? -1 : 1;
    return strcmp(a->id, b->id);
}

static int claim_read_prep(sqlite3 *db, struct claim_read *cr, struct err *e)
{
    cr->db = db;
    int rc =
        sq_prep(db,
                "SELECT max(priority) FROM jobs INDEXED BY jobs_claim WHERE status = 'pending' "
                "AND type = ?1 AND priority < ?2",
                &cr->next_priority, e);
    if (!rc)
        rc = sq_prep(
            db,
            "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_claim WHERE status = 'pending' "
            "AND type = ?1 AND priority = ?2 AND run_at <= ?3 AND (?5 IS NULL OR workspace = ?5) "
            "ORDER BY run_at, id LIMIT ?4",
            &cr->rows, e);
    return rc;
}

/* Read the jobs a claim takes, in claim order. The index is (type, priority DESC, run_at, id),
 * and only due jobs may be taken, so each priority level that has pending jobs is one range
 * (priority = p AND run_at <= now): jobs scheduled for later are never stepped over, however
 * many there are. The cost follows the number claimed and the number of priority levels in
 * use, not the number of jobs in the table. */
static int claim_read(struct claim_read *cr, const struct claim_req *r, struct job **out, size_t *n,
                      struct err *e)
{
    *out = NULL;
    *n = 0;
    if (r->ntypes == 0 || r->limit == 0)
        return 0;
    if (r->ntypes > MAX_CLAIM_TYPES)
        return err_set(e, TRAWL_EINVAL, false, "claim: at most %d job types at once",
                       MAX_CLAIM_TYPES);
    size_t cap = 0, cnt = 0;
    struct job *jobs = NULL;
    int rc = SQLITE_DONE;
    for (size_t t = 0; t < r->ntypes && rc == SQLITE_DONE; t++) {
        size_t got = 0; /* of this type; each type may fill the limit, the merge keeps the best */
        int64_t below = INT64_MAX;
        while (got < r->limit) {
            sqlite3_stmt *np = cr->next_priority;
            sqlite3_bind_text(np, 1, r->types[t], -1, SQLITE_STATIC);
            sqlite3_bind_int64(np, 2, below);
            rc = sqlite3_step(np);
            bool have = rc == SQLITE_ROW && sqlite3_column_type(np, 0) != SQLITE_NULL;
            int64_t prio = have ? sqlite3_column_int64(np, 0) : 0;
            sqlite3_reset(np);
            if (rc == SQLITE_ROW)
                rc = SQLITE_DONE;
            if (rc != SQLITE_DONE || !have)
                break;
            sqlite3_stmt *st = cr->rows;
            sqlite3_bind_text(st, 1, r->types[t], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 2, prio);
            sqlite3_bind_int64(st, 3, r->now);
            sqlite3_bind_int64(st, 4, (sqlite3_int64)(r->limit - got));
            sq_bind_text(st, 5, r->workspace);
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (cnt == cap) {
                    cap = cap ? cap * 2 : 64;
                    jobs = xrealloc(jobs, cap * sizeof *jobs);
                }
                sq_row_to_job(st, 0, &jobs[cnt++]);
                got++;
            }
            sqlite3_reset(st);
            below = prio;
        }
    }
    if (rc != SQLITE_DONE) {
        job_array_free(jobs, cnt);
        return sq_err(cr->db, rc, e, "find jobs to claim");
    }
    if (r->ntypes > 1 && cnt > 1) {
        qsort(jobs, cnt, sizeof *jobs, claim_order);
        for (size_t i = r->limit; i < cnt; i++)
            job_release(&jobs[i]);
        if (cnt > r->limit)
            cnt = r->limit;
    }
    *out = jobs;
    *n = cnt;
    return (int)cnt;
}

static int claim_these(struct sq *q, const struct claim_req *r, const struct job *jobs, size_t n,
                       bool *taken, struct err *e);

/* The claim in one step, inside the write transaction: read, then take what was read. */
static int sq_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                    struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    struct job *jobs;
    size_t cnt;
    int ret = claim_read(&q->claim_w, r, &jobs, &cnt, e);
    if (ret <= 0)
        return ret;
    bool *taken = xcalloc(cnt, sizeof *taken);
    ret = claim_these(q, r, jobs, cnt, taken, e);
    if (ret >= 0 && (size_t)ret != cnt)
        ret = err_set(e, TRAWL_ESTORE, true, "claim: read %zu jobs but took %d", cnt, ret);
    free(taken);
    if (ret < 0) {
        job_array_free(jobs, cnt);
        return ret;
    }
    /* what the update wrote, without reading the rows back */
    for (size_t i = 0; i < cnt; i++)
        job_mark_claimed(&jobs[i], r->owner, r->now, r->lease_ms);
    *out = jobs;
    *n = cnt;
    return (int)cnt;
}

/* The optimistic claim's read, on the read connection. */
static int sq_candidates(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                         struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = claim_read(&q->claim_r, r, out, n, e);
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* The optimistic claim's write: each candidate by its key, only if nothing changed it since it
 * was read (one pass per row), then the claim events of those taken. */
static int claim_these(struct sq *q, const struct claim_req *r, const struct job *jobs, size_t n,
                       bool *taken, struct err *e)
{
    sqlite3_stmt *up = q->claim_if;
    sqlite3_bind_text(up, 2, r->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(up, 3, r->now + r->lease_ms);
    sqlite3_bind_int64(up, 4, r->now);
    size_t k = 0, nrows = 0;
    struct ev_row rows[CLAIM_MULTI];
    int ret = 0;
    for (size_t i = 0; i < n && !ret; i++) {
        sqlite3_bind_text(up, 1, jobs[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 5, jobs[i].event_seq);
        sqlite3_bind_int64(up, 6, jobs[i].store_ref);
        int rc = sqlite3_step(up);
        taken[i] = rc == SQLITE_DONE && sqlite3_changes(q->w) == 1;
        sqlite3_reset(up);
        if (rc != SQLITE_DONE) {
            ret = sq_err(q->w, rc, e, "claim jobs");
            break;
        }
        if (!taken[i])
            continue;
        k++;
        rows[nrows++] = (struct ev_row){jobs[i].id, jobs[i].event_seq + 1, jobs[i].attempt + 1};
        if (nrows == CLAIM_MULTI) {
            ret = sq_insert_events(q, rows, nrows, r->now, "pending", "processing", NULL, e);
            nrows = 0;
        }
    }
    sqlite3_clear_bindings(up);
    if (!ret && nrows)
        ret = sq_insert_events(q, rows, nrows, r->now, "pending", "processing", NULL, e);
    return ret ? ret : (int)k;
}

static int sq_claim_these(struct store *s, const struct claim_req *r, const struct job *jobs,
                          size_t n, bool *taken, struct err *e)
{
    return claim_these((struct sq *)s, r, jobs, n, taken, e);
}

/* Why an update matched no row: the job is missing, the fence does not hold, or its state. */
static int refuse(struct sq *q, const struct job_update *u, struct err *e, int *status_out)
{
    sqlite3_stmt *lk = q->lookup;
    sqlite3_bind_text(lk, 1, u->id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(lk);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(lk);
        if (rc == SQLITE_DONE)
            return err_set(e, TRAWL_ENOTFOUND, false, "job %s not found", u->id);
        return sq_err(q->w, rc, e, "look up job");
    }
    int status = job_status_parse((const char *)sqlite3_column_text(lk, 0));
    int attempt = sqlite3_column_int(lk, 1);
    const char *owner = (const char *)sqlite3_column_text(lk, 2);
    int64_t seq = sqlite3_column_int64(lk, 3);
    int ret = job_refusal(u, status, attempt, owner, seq, e);
    sqlite3_reset(lk);
    *status_out = status;
    return ret;
}

static int only_status(unsigned mask)
{
    for (int i = 0; i < JOB_STATUS_COUNT; i++)
        if (mask == JOB_MASK(i))
            return i;
    return -1;
}

static int sq_update(struct store *s, const struct job_update *u, struct err *e)
{
    struct sq *q = (struct sq *)s;
    /* With one allowed state the fenced UPDATE itself decides; otherwise read the state first
     * (the single writer makes the read and the write one step). */
    int from = only_status(u->from_mask);
    if (from < 0) {
        int rc = refuse(q, u, e, &from);
        if (rc)
            return rc;
    }
    sqlite3_stmt *st;
    if (u->to == JOB_COMPLETED && from == JOB_PROCESSING && u->fence_attempt > 0 &&
        u->fence_owner && u->attempt_delta == 0 &&
        u->set == (UPD_RESULT | UPD_CLEAR_LEASE | UPD_COMPLETED_AT | UPD_PROGRESS | UPD_ERROR) &&
        u->progress == 100 && !u->error) {
        /* the hot path of every job, as a statement of its own */
        st = q->complete;
        sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
        sq_bind_text(st, 2, u->result);
        sqlite3_bind_int64(st, 3, u->now);
        sqlite3_bind_int(st, 4, u->fence_attempt);
        sqlite3_bind_text(st, 5, u->fence_owner, -1, SQLITE_STATIC);
        if (u->fence_seq > 0)
            sqlite3_bind_int64(st, 6, u->fence_seq);
    } else {
        st = q->upd;
        sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
        if (u->to >= 0)
            sqlite3_bind_text(st, 2, job_status_name(u->to), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, u->attempt_delta);
        sqlite3_bind_int(st, 4, (int)u->set);
        sqlite3_bind_int(st, 5, u->progress);
        sq_bind_text(st, 6, u->stage);
        sq_bind_text(st, 7, u->checkpoint);
        sq_bind_text(st, 8, u->result);
        sq_bind_text(st, 9, u->error);
        sqlite3_bind_int64(st, 10, u->run_at);
        sqlite3_bind_int64(st, 11, u->lease_expires_at);
        sqlite3_bind_int(st, 12, u->max_attempts);
        sqlite3_bind_int64(st, 13, u->now);
        sqlite3_bind_text(st, 14, job_status_name(from), -1, SQLITE_STATIC);
        if (u->fence_attempt > 0)
            sqlite3_bind_int(st, 15, u->fence_attempt);
        sq_bind_text(st, 16, u->fence_owner);
        sqlite3_bind_int(st, 17, u->to >= 0);
        if (u->fence_seq > 0)
            sqlite3_bind_int64(st, 18, u->fence_seq);
        sq_bind_text(st, 19, u->input);
    }
    int rc = sqlite3_step(st);
    bool matched = rc == SQLITE_DONE && sqlite3_changes(q->w) > 0;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return sq_err(q->w, rc, e, "update job");
    if (!matched) {
        int ignored;
        rc = refuse(q, u, e, &ignored);
        /* the row matched nothing, so something refuses it; be explicit if the lookup agrees */
        return rc ? rc : err_set(e, TRAWL_ESTATE, false, "job %s changed meanwhile", u->id);
    }
    if (u->old_status)
        *u->old_status = from;
    if (u->to >= 0)
        return add_event(q, u->id, u->now, from, u->to, u->message, e);
    return 0;
}

static int collect(struct sq *q, sqlite3 *db, sqlite3_stmt *st, struct job **out, size_t *n,
                   struct err *e, const char *what)
{
    (void)q;
    size_t cap = 0, cnt = 0;
    struct job *jobs = NULL;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            jobs = xrealloc(jobs, cap * sizeof *jobs);
        }
        sq_row_to_job(st, 0, &jobs[cnt++]);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        job_array_free(jobs, cnt);
        return sq_err(db, rc, e, what);
    }
    *out = jobs;
    *n = cnt;
    return (int)cnt;
}

#define DONE_COLS 6 /* id, attempt, owner, result, seq, ref */

/* The grouped completion: one UPDATE of up to STORE_COMPLETE_MAX jobs joined to a VALUES list.
 * With every lease token (seq) and row handle (ref) known, each row is found by its rowid and
 * each job's new event number is its token + 1; without, the rows are found by id and the
 * statement returns the numbers (RETURNING costs a temporary table, hence two statements). */
static int prep_complete_many(struct sq *q, bool seq_known, sqlite3_stmt **st, struct err *e)
{
    char sql[8192];
    size_t len = (size_t)snprintf(
        sql, sizeof sql,
        "UPDATE jobs SET status = 'completed', result = v.column4, progress = 100, "
        "progress_at = CASE WHEN jobs.progress IS NOT 100 THEN ?1 ELSE jobs.progress_at END, "
        "error = NULL, lease_owner = NULL, lease_expires_at = NULL, completed_at = ?1, "
        "updated_at = ?1, event_seq = jobs.event_seq + 1 FROM (VALUES ");
    for (int i = 0; i < STORE_COMPLETE_MAX; i++) {
        int b = 2 + DONE_COLS * i;
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s(?%d, ?%d, ?%d, ?%d, ?%d, ?%d)",
                                i ? ", " : "", b, b + 1, b + 2, b + 3, b + 4, b + 5);
    }
    snprintf(sql + len, sizeof sql - len,
             ") AS v WHERE %s jobs.id = v.column1 AND jobs.status = 'processing' AND "
             "jobs.attempt = v.column2 AND jobs.lease_owner = v.column3 AND %s",
             seq_known ? "jobs.rowid = v.column6 AND" : "",
             seq_known ? "jobs.event_seq = v.column5"
                       : "(v.column5 IS NULL OR jobs.event_seq = v.column5) "
                         "RETURNING jobs.id, jobs.event_seq, jobs.attempt");
    return sq_prep(q->w, sql, st, e);
}

static int sq_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                            struct err *e)
{
    struct sq *q = (struct sq *)s;
    if (n > STORE_COMPLETE_MAX)
        return err_set(e, TRAWL_EINVAL, false, "complete_many: at most %d jobs",
                       STORE_COMPLETE_MAX);
    bool seq_known = true; /* and the row handles: the fast statement needs both */
    for (size_t i = 0; i < n; i++)
        seq_known = seq_known && d[i].seq > 0 && d[i].ref > 0;
    /* all or none: a savepoint undoes the UPDATE when some fence did not hold */
    int rc = sq_step_done(q, q->sp_begin, e, "savepoint");
    if (rc)
        return rc;
    sqlite3_stmt *st = seq_known ? q->complete_many_seq : q->complete_many;
    sqlite3_bind_int64(st, 1, now);
    for (size_t i = 0; i < STORE_COMPLETE_MAX; i++) {
        int b = 2 + DONE_COLS * (int)i;
        if (i < n) {
            sqlite3_bind_text(st, b, d[i].id, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, b + 1, d[i].attempt);
            sqlite3_bind_text(st, b + 2, d[i].owner, -1, SQLITE_STATIC);
            sq_bind_text(st, b + 3, d[i].result);
            if (d[i].seq > 0)
                sqlite3_bind_int64(st, b + 4, d[i].seq);
            else
                sqlite3_bind_null(st, b + 4);
            sqlite3_bind_int64(st, b + 5, d[i].ref);
        } else {
            for (int k = 0; k < DONE_COLS; k++)
                sqlite3_bind_null(st, b + k);
        }
    }
    struct ev_row rows[STORE_COMPLETE_MAX];
    char ids[STORE_COMPLETE_MAX][UUID_STR_LEN];
    size_t changed = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && changed < STORE_COMPLETE_MAX) {
        const unsigned char *id = sqlite3_column_text(st, 0);
        snprintf(ids[changed], sizeof ids[changed], "%s", id ? (const char *)id : "");
        rows[changed] =
            (struct ev_row){ids[changed], sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2)};
        changed++;
    }
    if (rc == SQLITE_DONE && seq_known) {
        changed = (size_t)sqlite3_changes(q->w);
        for (size_t i = 0; i < n; i++)
            rows[i] = (struct ev_row){d[i].id, d[i].seq + 1, d[i].attempt};
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        rc = sq_err(q->w, rc, e, "complete jobs");
        goto undo;
    }
    if (changed != n) {
        rc = 0;
        goto undo;
    }
    rc = sq_insert_events(q, rows, changed, now, "processing", "completed", NULL, e);
    if (rc)
        goto undo;
    rc = sq_step_done(q, q->sp_release, e, "release savepoint");
    return rc ? rc : (int)n;
undo:
    sq_step_done(q, q->sp_rollback, NULL, "rollback to savepoint");
    sq_step_done(q, q->sp_release, NULL, "release savepoint");
    return rc;
}

static int sq_processing(struct store *s, struct job **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    return collect(q, q->w, q->processing, out, n, e, "list processing jobs");
}

static int sq_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3_bind_int64(q->due, 1, now);
    struct job *jobs;
    size_t cnt;
    int ret = collect(q, q->w, q->due, &jobs, &cnt, e, "list due retries");
    for (size_t i = 0; ret >= 0 && i < cnt; i++) {
        sqlite3_bind_text(q->promote, 1, jobs[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q->promote, 2, now);
        ret = sq_step_done(q, q->promote, e, "make retry due");
        if (!ret)
            ret = add_event(q, jobs[i].id, now, JOB_RETRYING, JOB_PENDING, "retry due", e);
    }
    if (ret < 0) {
        job_array_free(jobs, cnt);
        return ret;
    }
    *out = jobs;
    *n = cnt;
    return (int)cnt;
}

static int get_one(sqlite3 *db, sqlite3_stmt *st, const char *id, struct job *out, struct err *e)
{
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW)
        sq_row_to_job(st, 0, out);
    else if (rc == SQLITE_DONE)
        ret = err_set(e, TRAWL_ENOTFOUND, false, "job %s not found", id);
    else
        ret = sq_err(db, rc, e, "get job");
    sqlite3_reset(st);
    return ret;
}

static int sq_get(struct store *s, const char *id, struct job *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int ret = get_one(q->r, q->get, id, out, e);
    pthread_mutex_unlock(&q->rlock);
    return ret;
}

static int sq_fetch(struct store *s, const char *id, struct job *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    return get_one(q->w, q->fetch, id, out, e);
}

static int sq_events(struct store *s, const char *id, struct job_event **out, size_t *n,
                     struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_bind_text(q->events, 1, id, -1, SQLITE_STATIC);
    size_t cap = 0, cnt = 0;
    struct job_event *ev = NULL;
    int rc;
    while ((rc = sqlite3_step(q->events)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 8;
            ev = xrealloc(ev, cap * sizeof *ev);
        }
        struct job_event *v = &ev[cnt++];
        v->seq = sqlite3_column_int64(q->events, 0);
        v->at = sqlite3_column_int64(q->events, 1);
        v->from = job_status_parse((const char *)sqlite3_column_text(q->events, 2));
        v->to = job_status_parse((const char *)sqlite3_column_text(q->events, 3));
        v->attempt = sqlite3_column_int(q->events, 4);
        v->message = sq_col_dup(q->events, 5);
    }
    int ret = 0;
    if (rc != SQLITE_DONE)
        ret = sq_err(q->r, rc, e, "list job events");
    sqlite3_reset(q->events);
    pthread_mutex_unlock(&q->rlock);
    if (ret) {
        job_events_free(ev, cnt);
        return ret;
    }
    *out = ev;
    *n = cnt;
    return (int)cnt;
}

static int sq_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    struct sq *q = (struct sq *)s;
    memset(counts, 0, sizeof(int64_t) * JOB_STATUS_COUNT);
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st = NULL;
    int ret = sq_prep(q->r, "SELECT status, count(*) FROM jobs GROUP BY status", &st, e);
    int rc = SQLITE_DONE;
    while (!ret && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int status = job_status_parse((const char *)sqlite3_column_text(st, 0));
        if (status >= 0)
            counts[status] = sqlite3_column_int64(st, 1);
    }
    if (!ret && rc != SQLITE_DONE)
        ret = sq_err(q->r, rc, e, "count jobs");
    sqlite3_finalize(st);
    pthread_mutex_unlock(&q->rlock);
    return ret;
}

static int sq_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
                   struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt *st = q->list;
    if (f->status >= 0)
        sqlite3_bind_text(st, 1, job_status_name(f->status), -1, SQLITE_STATIC);
    sq_bind_text(st, 2, f->type);
    sq_bind_text(st, 3, f->batch_id);
    sq_bind_text(st, 4, f->workspace);
    sq_bind_text(st, 5, f->before_id);
    sqlite3_bind_int64(st, 6, f->limit ? (sqlite3_int64)f->limit : 100);
    sq_bind_text(st, 7, f->parent_id);
    int rc = collect(q, q->r, st, out, n, e, "list jobs");
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* The statements of the jobs domain that run on every job: prepared when the store opens. */
int sq_jobs_prepare(struct sq *q, struct err *e)
{
    int rc = 0;
    {
        /* the single-row and the multi-row INSERT share one column list */
        static const char head[] =
            "INSERT INTO jobs (id, type, queue, status, priority, max_attempts, run_at, "
            "timeout_ms, backoff_base_ms, backoff_cap_ms, args, batch_id, parent_id, root_id, "
            "unique_key, workspace, created_at, checkpoint, input, role, join_id, waits, "
            "successors, depth, updated_at) VALUES ";
        char sql[16384];
        size_t len = (size_t)snprintf(sql, sizeof sql, "%s", head);
        for (int r = 0; r < INSERT_MULTI; r++) {
            len += (size_t)snprintf(sql + len, sizeof sql - len, "%s(", r ? "," : "");
            for (int c = 1; c <= INSERT_COLS; c++)
                len += (size_t)snprintf(sql + len, sizeof sql - len, "?%d,", r * INSERT_COLS + c);
            len += (size_t)snprintf(sql + len, sizeof sql - len, "?%d)", r * INSERT_COLS + 17);
            if (r == 0) {
                char one[2048];
                snprintf(one, sizeof one, "%.*s", (int)len, sql);
                rc = sq_prep(q->w, one, &q->ins, e);
                if (rc)
                    break;
            }
        }
        if (!rc)
            rc = sq_prep(q->w, sql, &q->ins_multi, e);
    }
    if (!rc)
        rc = sq_prep(q->w,
                     "SELECT id, status FROM jobs WHERE workspace = ?1 AND unique_key = ?2 AND "
                     "(status = 'pending' OR status = 'processing' OR status = 'retrying')",
                     &q->find_unique, e);
    if (!rc)
        rc = sq_prep(q->w, "SELECT status, attempt, lease_owner, event_seq FROM jobs WHERE id = ?1",
                     &q->lookup, e);
    if (!rc)
        rc = sq_prep(
            q->w,
            "UPDATE jobs SET status = coalesce(?2, status), attempt = attempt + ?3, "
            "progress_at = CASE WHEN (?4 & 1 AND ?5 IS NOT progress) OR (?4 & 2 AND ?6 IS "
            "NOT stage) OR (?4 & 4 AND ?7 IS NOT checkpoint) THEN ?13 ELSE progress_at END, "
            "progress = CASE WHEN ?4 & 1 THEN ?5 ELSE progress END, "
            "stage = CASE WHEN ?4 & 2 THEN ?6 ELSE stage END, "
            "checkpoint = CASE WHEN ?4 & 4 THEN ?7 ELSE checkpoint END, "
            "result = CASE WHEN ?4 & 8 THEN ?8 ELSE result END, "
            "error = CASE WHEN ?4 & 16 THEN ?9 ELSE error END, "
            "run_at = CASE WHEN ?4 & 32 THEN ?10 ELSE run_at END, "
            "lease_expires_at = CASE WHEN ?4 & 64 THEN ?11 WHEN ?4 & 128 THEN NULL ELSE "
            "lease_expires_at END, "
            "last_heartbeat = CASE WHEN ?4 & 64 THEN ?13 ELSE last_heartbeat END, "
            "lease_owner = CASE WHEN ?4 & 128 THEN NULL ELSE lease_owner END, "
            "max_attempts = CASE WHEN ?4 & 256 THEN ?12 ELSE max_attempts END, "
            "completed_at = CASE WHEN ?4 & 512 THEN ?13 WHEN ?4 & 2048 THEN NULL ELSE "
            "completed_at END, "
            "failed_at = CASE WHEN ?4 & 1024 THEN ?13 WHEN ?4 & 2048 THEN NULL ELSE failed_at END, "
            "input = CASE WHEN ?4 & 4096 THEN ?19 ELSE input END, "
            "updated_at = ?13, event_seq = event_seq + ?17 WHERE id = ?1 AND status = ?14 "
            "AND (?15 IS NULL OR attempt = ?15) AND (?16 IS NULL OR lease_owner = ?16) AND (?18 IS NULL "
            "OR event_seq = ?18)",
            &q->upd, e);
    if (!rc)
        rc =
            sq_prep(q->w,
                    "UPDATE jobs SET status = 'completed', result = ?2, progress = 100, "
                    "progress_at = CASE WHEN progress IS NOT 100 THEN ?3 ELSE progress_at END, "
                    "error = NULL, lease_owner = NULL, lease_expires_at = NULL, completed_at = ?3, "
                    "updated_at = ?3, event_seq = event_seq + 1 WHERE id = ?1 AND status = "
                    "'processing' AND attempt = ?4 AND lease_owner = ?5 AND (?6 IS NULL OR "
                    "event_seq = ?6)",
                    &q->complete, e);
    if (!rc)
        rc = prep_complete_many(q, true, &q->complete_many_seq, e);
    if (!rc)
        rc = prep_complete_many(q, false, &q->complete_many, e);
    if (!rc)
        rc = sq_prep(q->w, "SAVEPOINT trawl_group", &q->sp_begin, e);
    if (!rc)
        rc = sq_prep(
            q->w,
            "UPDATE jobs SET status = 'processing', attempt = attempt + 1, lease_owner = ?2, "
            "lease_expires_at = ?3, last_heartbeat = ?4, progress_at = ?4, started_at = ?4, "
            "updated_at = ?4, event_seq = event_seq + 1 WHERE rowid = ?6 AND id = ?1 AND "
            "status = 'pending' AND event_seq = ?5",
            &q->claim_if, e);
    if (!rc)
        rc = claim_read_prep(q->w, &q->claim_w, e);
    if (!rc)
        rc = claim_read_prep(q->r, &q->claim_r, e);
    if (!rc)
        rc = sq_prep(q->w, "BEGIN IMMEDIATE", &q->tx_begin, e);
    if (!rc)
        rc = sq_prep(q->w, "COMMIT", &q->tx_commit, e);
    if (!rc)
        rc = sq_prep(q->w, "RELEASE trawl_group", &q->sp_release, e);
    if (!rc)
        rc = sq_prep(q->w, "ROLLBACK TO trawl_group", &q->sp_rollback, e);
    if (!rc)
        rc = sq_prep(
            q->w,
            "INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt, "
            "message) SELECT id, event_seq, ?2, ?3, ?4, attempt, ?5 FROM jobs WHERE id = ?1",
            &q->event, e);
    if (!rc)
        rc = sq_prep(q->w,
                     "SELECT " JOB_COLS " FROM jobs INDEXED BY jobs_processing WHERE status = "
                     "'processing' ORDER BY lease_expires_at",
                     &q->processing, e);
    if (!rc)
        rc = sq_prep(q->w,
                     "SELECT " JOB_COLS
                     " FROM jobs INDEXED BY jobs_retrying WHERE status = 'retrying' AND "
                     "run_at <= ?1 ORDER BY run_at",
                     &q->due, e);
    if (!rc)
        rc = sq_prep(
            q->w,
            "UPDATE jobs SET status = 'pending', updated_at = ?2, event_seq = event_seq + 1 "
            "WHERE id = ?1 AND status = 'retrying'",
            &q->promote, e);
    if (!rc)
        rc = sq_prep(q->r, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &q->get, e);
    if (!rc)
        rc = sq_prep(q->w, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &q->fetch, e);
    if (!rc)
        rc = sq_prep(
            q->r,
            "SELECT " JOB_COLS " FROM jobs WHERE (?1 IS NULL OR status = ?1) AND (?2 IS "
            "NULL OR type = ?2) AND (?3 IS NULL OR batch_id = ?3) AND (?4 IS NULL OR "
            "workspace = ?4) AND (?5 IS NULL OR id < ?5) AND (?7 IS NULL OR parent_id = ?7) "
            "ORDER BY id DESC LIMIT ?6",
            &q->list, e);
    if (!rc)
        rc = sq_prep(q->r,
                     "SELECT seq, at, from_status, to_status, attempt, message FROM job_events "
                     "WHERE job_id = ?1 ORDER BY job_id, seq",
                     &q->events, e);
    return rc;
}

const struct store_job_ops sq_jobs_ops = {
    .version = STORE_JOB_VERSION,
    .insert = sq_insert,
    .insert_many = sq_insert_many,
    .claim = sq_claim,
    .candidates = sq_candidates,
    .claim_these = sq_claim_these,
    .update = sq_update,
    .complete_many = sq_complete_many,
    .processing = sq_processing,
    .promote_due = sq_promote_due,
    .fetch = sq_fetch,
    .get = sq_get,
    .events = sq_events,
    .count = sq_count,
    .list = sq_list,
};
