/* The PostgreSQL store's jobs domain. What SQLite does in several steps on its single writer is
 * one statement here, because several nodes write at once: a claim takes due jobs with FOR
 * UPDATE SKIP LOCKED in a MATERIALIZED CTE and writes their events in the same statement; a
 * change and its event are one statement; a group of completions is one UPDATE over arrays. */
#include "store/pg_int.h"

#include "base/buf.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INSERT_COLS  24
#define INSERT_MULTI 8 /* rows per multi-row INSERT: 8 x 24 parameters fit one pg_args */

_Static_assert(INSERT_COLS *INSERT_MULTI <= PG_MAX_ARGS, "a multi-row insert fits its args");

char *pg_array(const char *const *v, size_t n)
{
    struct buf b;
    buf_init(&b, 0);
    buf_add(&b, "{", 1);
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_add(&b, ",", 1);
        if (!v[i]) {
            buf_adds(&b, "NULL");
            continue;
        }
        buf_add(&b, "\"", 1);
        for (const char *p = v[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                buf_add(&b, "\\", 1);
            buf_add(&b, p, 1);
        }
        buf_add(&b, "\"", 1);
    }
    buf_add(&b, "}", 1);
    return buf_detach(&b);
}

static void args_job(struct pg_args *a, const struct job *j)
{
    pa_text(a, j->id);
    pa_text(a, j->type);
    pa_text(a, j->queue);
    pa_text(a, job_status_name(j->status));
    pa_int(a, j->priority);
    pa_int(a, j->max_attempts);
    pa_i64(a, j->run_at);
    pa_i64(a, j->timeout_ms);
    pa_i64(a, j->backoff_base_ms);
    pa_i64(a, j->backoff_cap_ms);
    pa_text(a, j->args);
    pa_text(a, j->batch_id);
    pa_text(a, j->parent_id);
    pa_text(a, j->root_id);
    pa_text(a, j->unique_key);
    pa_text(a, j->workspace);
    pa_i64(a, j->created_at);
    pa_text(a, j->checkpoint);
    pa_text(a, j->input);
    pa_text(a, job_role_name(j->role));
    pa_text(a, j->join_id);
    pa_int(a, j->waits);
    pa_int(a, j->successors);
    pa_int(a, j->depth);
}

#define INSERT_HEAD                                                                                \
    "INSERT INTO jobs (id, type, queue, status, priority, max_attempts, run_at, timeout_ms, "      \
    "backoff_base_ms, backoff_cap_ms, args, batch_id, parent_id, root_id, unique_key, "            \
    "workspace, created_at, checkpoint, input, role, join_id, waits, successors, depth, "          \
    "updated_at) VALUES "
#define ROW(b)                                                                                     \
    "($" #b "1, $" #b "2, $" #b "3, $" #b "4, $" #b "5, $" #b "6, $" #b "7, $" #b "8, $" #b        \
    "9, $" #b "10, $" #b "11, $" #b "12, $" #b "13, $" #b "14, $" #b "15, $" #b "16, $" #b         \
    "17, $" #b "18, $" #b "19, $" #b "20, $" #b "21, $" #b "22, $" #b "23, $" #b "24, $" #b "17)"

/* The multi-row INSERT, written once: row r's parameters are 24 r + 1 ... 24 r + 24. */
static char insert_multi_sql[8192];
static pthread_once_t insert_multi_once = PTHREAD_ONCE_INIT;

static void insert_multi_make(void)
{
    size_t len = (size_t)snprintf(insert_multi_sql, sizeof insert_multi_sql, "%s", INSERT_HEAD);
    for (int r = 0; r < INSERT_MULTI; r++) {
        int b = r * INSERT_COLS;
        len += (size_t)snprintf(insert_multi_sql + len, sizeof insert_multi_sql - len, "%s(",
                                r ? ", " : "");
        for (int c = 1; c <= INSERT_COLS; c++)
            len += (size_t)snprintf(insert_multi_sql + len, sizeof insert_multi_sql - len, "$%d, ",
                                    b + c);
        len +=
            (size_t)snprintf(insert_multi_sql + len, sizeof insert_multi_sql - len, "$%d)", b + 17);
    }
}

/* One job. A live job with the same unique key makes the INSERT do nothing (also when another
 * node inserts it at the same moment: the INSERT waits for that one's commit), and that job is
 * returned instead. */
static int pg_insert(struct store *s, struct job *j, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = INSERT_HEAD "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                                          "$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, "
                                          "$24, $17) ON CONFLICT (workspace, unique_key) WHERE "
                                          "unique_key IS NOT NULL AND status IN ('pending', "
                                          "'processing', 'retrying') DO NOTHING";
    static const char find[] = "SELECT id, status FROM jobs WHERE workspace = $1 AND unique_key = "
                               "$2 AND status IN ('pending', 'processing', 'retrying')";
    struct pg_args a = {0};
    args_job(&a, j);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "insert job");
    if (rc)
        return rc;
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 1 || !j->unique_key)
        return 0;
    struct pg_args f = {0};
    pa_text(&f, j->workspace);
    pa_text(&f, j->unique_key);
    rc = pg_run(&p->w, find, &f, &r, e, "look up unique key");
    if (rc)
        return rc;
    if (PQntuples(r) == 1) {
        snprintf(j->id, sizeof j->id, "%s", PQgetvalue(r, 0, 0));
        j->status = job_status_parse(PQgetvalue(r, 0, 1));
        rc = 1;
    } else {
        rc = err_set(e, TRAWL_EBUSY, true,
                     "insert job: its unique key %s was taken and freed "
                     "meanwhile",
                     j->unique_key);
    }
    PQclear(r);
    return rc;
}

static int pg_insert_many(struct store *s, struct job *jobs, size_t n, bool *existed, struct err *e)
{
    struct pg *p = (struct pg *)s;
    pthread_once(&insert_multi_once, insert_multi_make);
    size_t i = 0;
    while (i < n) {
        size_t k = 0;
        while (k < INSERT_MULTI && i + k < n && !jobs[i + k].unique_key)
            k++;
        if (k == INSERT_MULTI) {
            struct pg_args a = {0};
            for (size_t r = 0; r < k; r++) {
                args_job(&a, &jobs[i + r]);
                existed[i + r] = false;
            }
            int rc = pg_run(&p->w, insert_multi_sql, &a, NULL, e, "insert jobs");
            if (rc)
                return rc;
            i += k;
            continue;
        }
        int rc = pg_insert(s, &jobs[i], e);
        if (rc < 0)
            return rc;
        existed[i] = rc == 1;
        i++;
    }
    return 0;
}

static int claim_order(const void *pa, const void *pb)
{
    const struct job *a = pa, *b = pb;
    if (a->priority != b->priority)
        return a->priority > b->priority ? -1 : 1;
    if (a->run_at != b->run_at)
        return a->run_at < b->run_at ? -1 : 1;
    return strcmp(a->id, b->id);
}

/* Take up to limit due jobs of the types, best first, skipping those another node has locked;
 * mark them processing under this lease and write their events, in one statement. */
static int pg_claim(struct store *s, const struct claim_req *r, struct job **out, size_t *n,
                    struct err *e)
{
    struct pg *p = (struct pg *)s;
    *out = NULL;
    *n = 0;
    if (r->ntypes == 0 || r->limit == 0)
        return 0;
    /* per type, the index (type, priority DESC, run_at, id) gives the claim order, so each type
     * is read in its own LATERAL subquery (a sort over every pending job of several types
     * otherwise); the best of their rows are taken. Rows a subquery locked beyond the limit stay
     * pending, locked until the commit. */
    static const char sql[] =
        "WITH c AS MATERIALIZED (SELECT x.id FROM unnest($1::text[]) AS t (type) CROSS JOIN "
        "LATERAL (SELECT id, priority, run_at FROM jobs WHERE status = 'pending' AND type = "
        "t.type AND run_at <= $2 AND ($5::text IS NULL OR workspace = $5) ORDER BY priority "
        "DESC, run_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) AS x ORDER BY x.priority DESC, "
        "x.run_at, x.id LIMIT $3), "
        "u AS (UPDATE jobs j SET status = 'processing', attempt = j.attempt + 1, lease_owner = "
        "$4, lease_expires_at = $6, last_heartbeat = $2, progress_at = $2, started_at = $2, "
        "updated_at = $2, event_seq = j.event_seq + 1 FROM c WHERE j.id = c.id RETURNING j.*), "
        "ev AS (INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt) "
        "SELECT id, event_seq, $2, 'pending', 'processing', attempt FROM u) "
        "SELECT " PG_JOB_COLS " FROM u";
    char *types = pg_array(r->types, r->ntypes);
    struct pg_args a = {0};
    pa_text(&a, types);
    pa_i64(&a, r->now);
    pa_i64(&a, (int64_t)r->limit);
    pa_text(&a, r->owner);
    pa_text(&a, r->workspace);
    pa_i64(&a, r->now + r->lease_ms);
    PGresult *res;
    int rc = pg_run(&p->w, sql, &a, &res, e, "claim jobs");
    free(types);
    if (rc)
        return rc;
    pg_collect_jobs(res, out, n);
    PQclear(res);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, claim_order);
    return (int)*n;
}

/* Why an update matched no row: the job is missing, the fence does not hold, or its state. */
static int refuse(struct pg *p, const struct job_update *u, struct err *e, int *status_out)
{
    static const char sql[] =
        "SELECT status, attempt, lease_owner, event_seq FROM jobs WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, u->id);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "look up job");
    if (rc)
        return rc;
    if (PQntuples(r) == 0) {
        PQclear(r);
        *status_out = -1;
        return err_set(e, TRAWL_ENOTFOUND, false, "job %s not found", u->id);
    }
    int status = job_status_parse(PQgetvalue(r, 0, 0));
    int attempt = pg_int(r, 0, 1);
    const char *owner = pg_null(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2);
    int64_t seq = pg_i64(r, 0, 3);
    int ret = job_refusal(u, status, attempt, owner, seq, e);
    PQclear(r);
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

/* The fenced change and its event, one statement. The row is locked by the UPDATE, so a change
 * another node makes meanwhile is either before it (the WHERE sees it and nothing matches) or
 * after it. */
static int pg_update(struct store *s, const struct job_update *u, struct err *e)
{
    struct pg *p = (struct pg *)s;
    int from = only_status(u->from_mask);
    if (from < 0) {
        int rc = refuse(p, u, e, &from);
        if (rc)
            return rc;
    }
    static const char sql[] =
        "WITH u AS (UPDATE jobs SET status = coalesce($2::text, status), attempt = attempt + "
        "$3::int, "
        "progress_at = CASE WHEN ($4::int & 1 <> 0 AND $5::int IS DISTINCT FROM progress) OR "
        "($4::int & 2 <> 0 AND $6::text IS DISTINCT FROM stage) OR ($4::int & 4 <> 0 AND "
        "$7::text IS DISTINCT FROM checkpoint) THEN $13::bigint ELSE progress_at END, "
        "progress = CASE WHEN $4::int & 1 <> 0 THEN $5::int ELSE progress END, "
        "stage = CASE WHEN $4::int & 2 <> 0 THEN $6::text ELSE stage END, "
        "checkpoint = CASE WHEN $4::int & 4 <> 0 THEN $7::text ELSE checkpoint END, "
        "result = CASE WHEN $4::int & 8 <> 0 THEN $8::text ELSE result END, "
        "error = CASE WHEN $4::int & 16 <> 0 THEN $9::text ELSE error END, "
        "run_at = CASE WHEN $4::int & 32 <> 0 THEN $10::bigint ELSE run_at END, "
        "lease_expires_at = CASE WHEN $4::int & 64 <> 0 THEN $11::bigint WHEN $4::int & 128 <> 0 "
        "THEN NULL ELSE lease_expires_at END, "
        "last_heartbeat = CASE WHEN $4::int & 64 <> 0 THEN $13::bigint ELSE last_heartbeat END, "
        "lease_owner = CASE WHEN $4::int & 128 <> 0 THEN NULL ELSE lease_owner END, "
        "max_attempts = CASE WHEN $4::int & 256 <> 0 THEN $12::int ELSE max_attempts END, "
        "completed_at = CASE WHEN $4::int & 512 <> 0 THEN $13::bigint WHEN $4::int & 2048 <> 0 "
        "THEN NULL ELSE completed_at END, "
        "failed_at = CASE WHEN $4::int & 1024 <> 0 THEN $13::bigint WHEN $4::int & 2048 <> 0 "
        "THEN NULL ELSE failed_at END, "
        "input = CASE WHEN $4::int & 4096 <> 0 THEN $19::text ELSE input END, "
        "updated_at = $13::bigint, event_seq = event_seq + CASE WHEN $17::bool THEN 1 ELSE 0 END "
        "WHERE id = $1 AND status = $14::text AND ($15::int IS NULL OR attempt = $15::int) AND "
        "($16::text IS NULL OR lease_owner = $16::text) AND ($18::bigint IS NULL OR event_seq = "
        "$18::bigint) RETURNING id, event_seq, attempt), "
        "ev AS (INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt, "
        "message) SELECT id, event_seq, $13::bigint, $14::text, $2::text, attempt, $20::text "
        "FROM u WHERE $17::bool) "
        "SELECT count(*) FROM u";
    struct pg_args a = {0};
    pa_text(&a, u->id);
    pa_text(&a, u->to >= 0 ? job_status_name(u->to) : NULL);
    pa_int(&a, u->attempt_delta);
    pa_int(&a, (int)u->set);
    pa_int(&a, u->progress);
    pa_text(&a, u->stage);
    pa_text(&a, u->checkpoint);
    pa_text(&a, u->result);
    pa_text(&a, u->error);
    pa_i64(&a, u->run_at);
    pa_i64(&a, u->lease_expires_at);
    pa_int(&a, u->max_attempts);
    pa_i64(&a, u->now);
    pa_text(&a, job_status_name(from));
    if (u->fence_attempt > 0)
        pa_int(&a, u->fence_attempt);
    else
        pa_text(&a, NULL);
    pa_text(&a, u->fence_owner);
    pa_bool(&a, u->to >= 0);
    if (u->fence_seq > 0)
        pa_i64(&a, u->fence_seq);
    else
        pa_text(&a, NULL);
    pa_text(&a, u->input);
    pa_text(&a, u->message);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "update job");
    if (rc)
        return rc;
    bool matched = pg_i64(r, 0, 0) > 0;
    PQclear(r);
    if (!matched) {
        int ignored;
        rc = refuse(p, u, e, &ignored);
        return rc ? rc : err_set(e, TRAWL_ESTATE, false, "job %s changed meanwhile", u->id);
    }
    if (u->old_status)
        *u->old_status = from;
    return 0;
}

/* n completions, all or none, and their events: one statement. The CTE l locks the rows whose
 * fences hold (FOR UPDATE), so nothing else changes them before u, which updates them only when
 * all n held; otherwise nothing is changed and 0 is returned. */
static int pg_complete_many(struct store *s, const struct job_done *d, size_t n, int64_t now,
                            struct err *e)
{
    struct pg *p = (struct pg *)s;
    if (n > STORE_COMPLETE_MAX)
        return err_set(e, TRAWL_EINVAL, false, "complete_many: at most %d jobs",
                       STORE_COMPLETE_MAX);
    if (n == 0)
        return 0;
    static const char sql[] =
        "WITH v AS (SELECT * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], "
        "$6::bigint[]) AS v (id, attempt, owner, result, seq)), "
        "l AS (SELECT j.id FROM jobs j JOIN v ON j.id = v.id WHERE j.status = 'processing' AND "
        "j.attempt = v.attempt AND j.lease_owner = v.owner AND (v.seq IS NULL OR j.event_seq = "
        "v.seq) FOR UPDATE OF j), "
        "c AS (SELECT count(*) AS n FROM l), "
        "u AS (UPDATE jobs j SET status = 'completed', result = v.result, progress = 100, "
        "progress_at = CASE WHEN j.progress <> 100 THEN $1 ELSE j.progress_at END, error = NULL, "
        "lease_owner = NULL, lease_expires_at = NULL, completed_at = $1, updated_at = $1, "
        "event_seq = j.event_seq + 1 FROM v, c WHERE c.n = $7 AND j.id = v.id AND j.status = "
        "'processing' AND j.attempt = v.attempt AND j.lease_owner = v.owner AND (v.seq IS NULL "
        "OR j.event_seq = v.seq) RETURNING j.id, j.event_seq, j.attempt), "
        "ev AS (INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt) SELECT "
        "id, event_seq, $1, 'processing', 'completed', attempt FROM u) "
        "SELECT count(*) FROM u";
    const char *ids[STORE_COMPLETE_MAX], *atts[STORE_COMPLETE_MAX], *owners[STORE_COMPLETE_MAX],
        *results[STORE_COMPLETE_MAX], *seqs[STORE_COMPLETE_MAX];
    char nums[2][STORE_COMPLETE_MAX][24];
    for (size_t i = 0; i < n; i++) {
        ids[i] = d[i].id;
        snprintf(nums[0][i], sizeof nums[0][i], "%d", d[i].attempt);
        atts[i] = nums[0][i];
        owners[i] = d[i].owner;
        results[i] = d[i].result;
        snprintf(nums[1][i], sizeof nums[1][i], "%lld", (long long)d[i].seq);
        seqs[i] = d[i].seq > 0 ? nums[1][i] : NULL;
    }
    char *arr[5] = {pg_array(ids, n), pg_array(atts, n), pg_array(owners, n), pg_array(results, n),
                    pg_array(seqs, n)};
    struct pg_args a = {0};
    pa_i64(&a, now);
    for (int k = 0; k < 5; k++)
        pa_text(&a, arr[k]);
    pa_i64(&a, (int64_t)n);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "complete jobs");
    for (int k = 0; k < 5; k++)
        free(arr[k]);
    if (rc)
        return rc;
    int64_t changed = pg_i64(r, 0, 0);
    PQclear(r);
    return changed == (int64_t)n ? (int)n : 0;
}

static int jobs_query(struct pg_conn *c, const char *sql, const struct pg_args *a, struct job **out,
                      size_t *n, struct err *e, const char *what)
{
    *out = NULL;
    *n = 0;
    PGresult *r;
    int rc = pg_run(c, sql, a, &r, e, what);
    if (rc)
        return rc;
    pg_collect_jobs(r, out, n);
    PQclear(r);
    return (int)*n;
}

static int pg_processing(struct store *s, struct job **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT " PG_JOB_COLS " FROM jobs WHERE status = 'processing' ORDER BY lease_expires_at";
    return jobs_query(&p->w, sql, NULL, out, n, e, "list processing jobs");
}

/* Due retries made pending with their events; the jobs come back as they were (retrying). Rows
 * another node is changing are left for the next sweep. */
static int pg_promote_due(struct store *s, int64_t now, struct job **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH c AS MATERIALIZED (SELECT id FROM jobs WHERE status = 'retrying' AND run_at <= $1 "
        "ORDER BY run_at FOR UPDATE SKIP LOCKED), "
        "u AS (UPDATE jobs j SET status = 'pending', updated_at = $1, event_seq = j.event_seq + 1 "
        "FROM c WHERE j.id = c.id RETURNING j.*), "
        "ev AS (INSERT INTO job_events (job_id, seq, at, from_status, to_status, attempt, "
        "message) SELECT id, event_seq, $1, 'retrying', 'pending', attempt, 'retry due' FROM u) "
        "SELECT " PG_JOB_COLS " FROM u ORDER BY run_at";
    struct pg_args a = {0};
    pa_i64(&a, now);
    int rc = jobs_query(&p->w, sql, &a, out, n, e, "make due retries pending");
    for (size_t i = 0; rc > 0 && i < *n; i++) {
        (*out)[i].status = JOB_RETRYING;
        (*out)[i].event_seq--;
    }
    return rc;
}

static const char SQL_GET[] = "SELECT " PG_JOB_COLS " FROM jobs WHERE id = $1";

static int get_one(struct pg_conn *c, const char *id, struct job *out, struct err *e)
{
    struct pg_args a = {0};
    pa_text(&a, id);
    PGresult *r;
    int rc = pg_run(c, SQL_GET, &a, &r, e, "get job");
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        pg_row_to_job(r, 0, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "job %s not found", id);
    PQclear(r);
    return rc;
}

static int pg_fetch(struct store *s, const char *id, struct job *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    return get_one(&p->w, id, out, e);
}

static int pg_get(struct store *s, const char *id, struct job *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    int rc = get_one(pg_reader(p), id, out, e);
    pg_reader_done(p);
    return rc;
}

static int pg_events(struct store *s, const char *id, struct job_event **out, size_t *n,
                     struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT seq, at, from_status, to_status, attempt, message FROM "
                              "job_events WHERE job_id = $1 ORDER BY seq";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list job events");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct job_event *ev = rows ? xcalloc((size_t)rows, sizeof *ev) : NULL;
    for (int i = 0; i < rows; i++) {
        ev[i].seq = pg_i64(r, i, 0);
        ev[i].at = pg_i64(r, i, 1);
        ev[i].from = job_status_parse(PQgetvalue(r, i, 2));
        ev[i].to = job_status_parse(PQgetvalue(r, i, 3));
        ev[i].attempt = pg_int(r, i, 4);
        ev[i].message = pg_dup(r, i, 5);
    }
    PQclear(r);
    *out = ev;
    *n = (size_t)rows;
    return rows;
}

static int pg_count(struct store *s, int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT status, count(*) FROM jobs GROUP BY status";
    memset(counts, 0, sizeof(int64_t) * JOB_STATUS_COUNT);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, NULL, &r, e, "count jobs");
    pg_reader_done(p);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++) {
        int st = job_status_parse(PQgetvalue(r, i, 0));
        if (st >= 0)
            counts[st] = pg_i64(r, i, 1);
    }
    PQclear(r);
    return 0;
}

static int pg_list(struct store *s, const struct job_filter *f, struct job **out, size_t *n,
                   struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "SELECT " PG_JOB_COLS " FROM jobs WHERE ($1::text IS NULL OR status = $1) AND ($2::text "
        "IS NULL OR type = $2) AND ($3::text IS NULL OR batch_id = $3) AND ($4::text IS NULL OR "
        "workspace = $4) AND ($5::text IS NULL OR id < $5) AND ($7::text IS NULL OR parent_id = "
        "$7) ORDER BY id DESC LIMIT $6";
    struct pg_args a = {0};
    pa_text(&a, f->status >= 0 ? job_status_name(f->status) : NULL);
    pa_text(&a, f->type);
    pa_text(&a, f->batch_id);
    pa_text(&a, f->workspace);
    pa_text(&a, f->before_id);
    pa_i64(&a, f->limit ? (int64_t)f->limit : 100);
    pa_text(&a, f->parent_id);
    int rc = jobs_query(pg_reader(p), sql, &a, out, n, e, "list jobs");
    pg_reader_done(p);
    return rc;
}

const struct store_job_ops pg_job_ops = {
    .version = STORE_JOB_VERSION,
    .insert = pg_insert,
    .insert_many = pg_insert_many,
    .claim = pg_claim,
    .update = pg_update,
    .complete_many = pg_complete_many,
    .processing = pg_processing,
    .promote_due = pg_promote_due,
    .fetch = pg_fetch,
    .get = pg_get,
    .events = pg_events,
    .count = pg_count,
    .list = pg_list,
};
