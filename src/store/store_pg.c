/* The PostgreSQL store: its connections and the helpers its domains share (prepared statements,
 * parameters, errors, column readers), its transactions, and its opening, which brings the schema
 * up to date under an advisory lock (several nodes may start at once). Each domain's operations
 * are in a file of their own (pg_jobs.c, ...). */
#include "store/pg_int.h"

#include "store/migrations.h"

#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parameters ---- */

static int slot(struct pg_args *a)
{
    if (a->n >= PG_MAX_ARGS)
        abort(); /* a statement with more parameters than the array: a bug of its caller */
    a->len[a->n] = 0;
    a->fmt[a->n] = 0;
    return a->n++;
}

void pa_text(struct pg_args *a, const char *s)
{
    a->v[slot(a)] = s;
}

void pa_i64(struct pg_args *a, int64_t v)
{
    int i = slot(a);
    snprintf(a->num[i], sizeof a->num[i], "%" PRId64, v);
    a->v[i] = a->num[i];
}

void pa_int(struct pg_args *a, int v)
{
    pa_i64(a, v);
}

void pa_bool(struct pg_args *a, bool v)
{
    a->v[slot(a)] = v ? "t" : "f";
}

void pa_bytes(struct pg_args *a, const void *p, size_t n)
{
    int i = slot(a);
    a->v[i] = p;
    a->len[i] = (int)n;
    a->fmt[i] = 1;
}

/* ---- errors ---- */

/* PostgreSQL's SQLSTATE as trawl's code, and whether trying again can help: a lost connection,
 * a server shutting down or failing over, a serialization failure or a deadlock pass; a broken
 * constraint or bad data do not. */
static int map_state(const char *st, bool *retryable)
{
    *retryable = false;
    if (!st || !*st) {
        *retryable = true;
        return TRAWL_EIO;
    }
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 || strcmp(st, "53300") == 0) {
        *retryable = true; /* connection; admin shutdown, crash, cannot connect now; too many */
        return TRAWL_EIO;
    }
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "55P03") == 0) {
        *retryable = true;
        return TRAWL_EBUSY;
    }
    if (strcmp(st, "53100") == 0) {
        *retryable = true;
        return TRAWL_EFULL;
    }
    if (strncmp(st, "53", 2) == 0) {
        *retryable = true;
        return TRAWL_ENOMEM;
    }
    if (strcmp(st, "25006") == 0) {
        *retryable = true; /* a standby: after a failover the next connection finds the primary */
        return TRAWL_EREADONLY;
    }
    if (strncmp(st, "XX", 2) == 0)
        return TRAWL_ECORRUPT;
    if (strcmp(st, "54000") == 0 || strcmp(st, "54001") == 0)
        return TRAWL_ETOOBIG;
    return TRAWL_ESTORE;
}

void pg_one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        s[--n] = 0;
}

int pg_err(struct pg_conn *c, const PGresult *res, struct err *e, const char *what)
{
    char msg[400];
    const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *m = res ? PQresultErrorMessage(res) : NULL;
    if (!m || !*m)
        m = PQerrorMessage(c->c);
    snprintf(msg, sizeof msg, "%s", m && *m ? m : "no answer");
    pg_one_line(msg);
    bool retryable;
    int code = map_state(PQstatus(c->c) == CONNECTION_BAD ? NULL : st, &retryable);
    if (PQstatus(c->c) == CONNECTION_BAD)
        return err_set(e, code, true, "%s: lost the connection to PostgreSQL (%s)", what, msg);
    return err_set(e, code, retryable, "%s: %s%s%s", what, msg, st ? " [SQLSTATE " : "",
                   st ? st : "");
}

/* A connection that broke is made again, and its statements prepared anew, but only outside a
 * transaction: the statements of a transaction that broke must not go on in autocommit. */
static int ready(struct pg_conn *c, bool in_tx, struct err *e, const char *what)
{
    if (PQstatus(c->c) == CONNECTION_OK && !c->broken)
        return 0;
    if (in_tx)
        return err_set(e, TRAWL_EIO, true,
                       "%s: lost the connection to PostgreSQL in a transaction (%s)", what,
                       PQerrorMessage(c->c));
    PQreset(c->c);
    c->nsql = 0;
    c->broken = false;
    if (c->pid)
        atomic_store(c->pid, PQbackendPID(c->c));
    if (PQstatus(c->c) != CONNECTION_OK) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->c));
        pg_one_line(msg);
        return err_set(e, TRAWL_EIO, true, "%s: cannot reach PostgreSQL (%s)", what, msg);
    }
    return 0;
}

/* One try of sql on c: prepared on first use. NULL: the statement could not be prepared (e has
 * why). */
static PGresult *run_once(struct pg_conn *c, const char *sql, const struct pg_args *a,
                          struct err *e, const char *what)
{
    int k = 0;
    while (k < c->nsql && c->sql[k] != sql)
        k++;
    if (k == c->nsql && k == PG_MAX_STMTS)
        return PQexecParams(c->c, sql, a ? a->n : 0, NULL, a ? a->v : NULL, a ? a->len : NULL,
                            a ? a->fmt : NULL, 0);
    char name[16];
    snprintf(name, sizeof name, "s%d", k);
    if (k == c->nsql) {
        PGresult *p = PQprepare(c->c, name, sql, 0, NULL);
        if (PQresultStatus(p) != PGRES_COMMAND_OK) {
            pg_err(c, p, e, what);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        c->sql[c->nsql++] = sql;
    }
    return PQexecPrepared(c->c, name, a ? a->n : 0, a ? a->v : NULL, a ? a->len : NULL,
                          a ? a->fmt : NULL, 0);
}

int pg_run(struct pg_conn *c, const char *sql, const struct pg_args *a, PGresult **res,
           struct err *e, const char *what)
{
    if (res)
        *res = NULL;
    /* a connection that broke while idle (a server restarted since the last call) is found
     * broken only by the next statement: outside a transaction, that statement is a BEGIN or a
     * read, so it is sent again once on a new connection; inside one, it fails */
    for (int attempt = 0;; attempt++) {
        /* known by trawl, not asked of libpq, which says "unknown" once the connection broke */
        int rc = ready(c, c->in_tx, e, what);
        if (rc)
            return rc;
        PGresult *r = run_once(c, sql, a, e, what);
        ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (res)
                *res = r;
            else
                PQclear(r);
            return 0;
        }
        /* no SQLSTATE: the server did not answer (libpq may still call the connection OK) */
        if (!r || PQstatus(c->c) == CONNECTION_BAD || !PQresultErrorField(r, PG_DIAG_SQLSTATE))
            c->broken = true;
        bool again = attempt == 0 && !c->in_tx && c->broken;
        rc = r ? pg_err(c, r, e, what) : (e ? e->code : TRAWL_ESTORE);
        PQclear(r);
        if (!again)
            return rc;
    }
}

int pg_exec(struct pg_conn *c, const char *sql, struct err *e, const char *what)
{
    PGresult *r = PQexec(c->c, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = pg_err(c, r, e, what);
    PQclear(r);
    return rc;
}

int64_t pg_changes(const PGresult *res)
{
    const char *t = PQcmdTuples((PGresult *)res);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

/* ---- columns ---- */

char *pg_dup(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

int64_t pg_i64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int pg_int(const PGresult *res, int row, int col)
{
    return (int)pg_i64(res, row, col);
}

bool pg_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) != 0;
}

void *pg_bytes(const PGresult *res, int row, int col, size_t *len)
{
    *len = 0;
    if (PQgetisnull(res, row, col))
        return NULL;
    size_t n = 0;
    unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(res, row, col), &n);
    if (!u)
        return NULL;
    void *out = xmalloc(n ? n : 1);
    memcpy(out, u, n);
    PQfreemem(u);
    *len = n;
    return out;
}

void pg_row_to_job(const PGresult *res, int row, int c, struct job *j)
{
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", PQgetvalue(res, row, c));
    j->type = pg_dup(res, row, c + 1);
    j->queue = pg_dup(res, row, c + 2);
    j->status = job_status_parse(PQgetvalue(res, row, c + 3));
    j->priority = pg_int(res, row, c + 4);
    j->attempt = pg_int(res, row, c + 5);
    j->max_attempts = pg_int(res, row, c + 6);
    j->run_at = pg_i64(res, row, c + 7);
    j->timeout_ms = pg_i64(res, row, c + 8);
    j->backoff_base_ms = pg_i64(res, row, c + 9);
    j->backoff_cap_ms = pg_i64(res, row, c + 10);
    j->progress = pg_int(res, row, c + 11);
    j->stage = pg_dup(res, row, c + 12);
    j->checkpoint = pg_dup(res, row, c + 13);
    j->args = pg_dup(res, row, c + 14);
    j->result = pg_dup(res, row, c + 15);
    j->error = pg_dup(res, row, c + 16);
    j->batch_id = pg_dup(res, row, c + 17);
    j->parent_id = pg_dup(res, row, c + 18);
    j->root_id = pg_dup(res, row, c + 19);
    j->unique_key = pg_dup(res, row, c + 20);
    j->workspace = pg_dup(res, row, c + 21);
    j->lease_owner = pg_dup(res, row, c + 22);
    j->lease_expires_at = pg_i64(res, row, c + 23);
    j->last_heartbeat = pg_i64(res, row, c + 24);
    j->progress_at = pg_i64(res, row, c + 25);
    j->created_at = pg_i64(res, row, c + 26);
    j->started_at = pg_i64(res, row, c + 27);
    j->completed_at = pg_i64(res, row, c + 28);
    j->failed_at = pg_i64(res, row, c + 29);
    j->updated_at = pg_i64(res, row, c + 30);
    j->event_seq = pg_i64(res, row, c + 31);
    j->store_ref = 0; /* rows are found by their key */
    j->input = pg_dup(res, row, c + 32);
    j->role = pg_null(res, row, c + 33) ? ROLE_NONE : job_role_parse(PQgetvalue(res, row, c + 33));
    if ((int)j->role < 0)
        j->role = ROLE_NONE;
    j->join_id = pg_dup(res, row, c + 34);
    j->waits = pg_int(res, row, c + 35);
    j->successors = pg_int(res, row, c + 36);
    j->depth = pg_int(res, row, c + 37);
}

int pg_collect_jobs(const PGresult *res, struct job **out, size_t *n)
{
    int rows = PQntuples(res);
    struct job *jobs = rows ? xcalloc((size_t)rows, sizeof *jobs) : NULL;
    for (int i = 0; i < rows; i++)
        pg_row_to_job(res, i, 0, &jobs[i]);
    *out = jobs;
    *n = (size_t)rows;
    return rows;
}

struct pg_conn *pg_reader(struct pg *p)
{
    pthread_mutex_lock(&p->rlock);
    return &p->r;
}

void pg_reader_done(struct pg *p)
{
    pthread_mutex_unlock(&p->rlock);
}

/* ---- the core ---- */

static const char SQL_BEGIN[] = "BEGIN";
static const char SQL_COMMIT[] = "COMMIT";

static int pg_begin(struct store *s, struct err *e)
{
    struct pg *p = (struct pg *)s;
    p->w.in_tx = false; /* a transaction a failed commit left is over */
    int rc = pg_run(&p->w, SQL_BEGIN, NULL, NULL, e, "begin transaction");
    p->w.in_tx = rc == 0;
    return rc;
}

static int pg_commit(struct store *s, struct err *e)
{
    struct pg *p = (struct pg *)s;
    PGresult *r;
    int rc = pg_run(&p->w, SQL_COMMIT, NULL, &r, e, "commit");
    p->w.in_tx = false; /* committed, or failed: the server ends it, or the rollback does */
    if (rc)
        return rc;
    /* COMMIT of a transaction that failed earlier answers ROLLBACK */
    if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
        rc = err_set(e, TRAWL_ESTORE, true, "commit: the transaction was rolled back");
    PQclear(r);
    return rc;
}

static void pg_rollback(struct store *s)
{
    struct pg *p = (struct pg *)s;
    p->w.in_tx = false;
    if (PQstatus(p->w.c) == CONNECTION_OK && PQtransactionStatus(p->w.c) != PQTRANS_IDLE)
        pg_exec(&p->w, "ROLLBACK", NULL, "rollback");
}

static int pg_check(struct store *s, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT 1";
    struct pg_conn *c = pg_reader(p);
    int rc = pg_run(c, sql, NULL, NULL, e, "check the database");
    pg_reader_done(p);
    return rc;
}

static void pg_close(struct store *s)
{
    struct pg *p = (struct pg *)s;
    pg_hear(s, NULL, NULL, NULL);
    if (p->w.c)
        PQfinish(p->w.c);
    if (p->r.c)
        PQfinish(p->r.c);
    pthread_mutex_destroy(&p->rlock);
    free(p->conninfo);
    free(p->shown);
    free(p);
}

static const struct store_core_ops pg_core = {
    .version = STORE_CORE_VERSION,
    .name = "postgres",
    .close = pg_close,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .check = pg_check,
    .announce = pg_announce,
    .hear = pg_hear,
};

int store_pg_schema_version(void)
{
    return store_pg_migrations_count;
}

bool store_is_pg(const char *db)
{
    if (!db)
        return false;
    if (strncmp(db, "postgres://", 11) == 0 || strncmp(db, "postgresql://", 13) == 0)
        return true;
    /* a libpq keyword string: "host=... dbname=...", a keyword and '=' first */
    size_t k = strspn(db, "abcdefghijklmnopqrstuvwxyz_");
    return k > 0 && db[k] == '=';
}

/* The database as messages name it: host, port and database, never a password. */
char *store_pg_describe(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &err);
    if (!o) {
        PQfreemem(err);
        return xstrdup("PostgreSQL");
    }
    const char *host = NULL, *port = NULL, *db = NULL;
    for (PQconninfoOption *i = o; i->keyword; i++) {
        if (!i->val)
            continue;
        if (strcmp(i->keyword, "host") == 0)
            host = i->val;
        else if (strcmp(i->keyword, "port") == 0)
            port = i->val;
        else if (strcmp(i->keyword, "dbname") == 0)
            db = i->val;
    }
    char buf[600];
    snprintf(buf, sizeof buf, "PostgreSQL database %s on %s%s%s", db ? db : "(default)",
             host ? host : "(default host)", port ? ":" : "", port ? port : "");
    PQconninfoFree(o);
    return xstrdup(buf);
}

void pg_notice(void *arg, const char *message)
{
    (void)arg;
    char msg[400];
    snprintf(msg, sizeof msg, "%s", message);
    pg_one_line(msg);
    log_warn("postgres: %s", msg);
}

const char *pg_valid_text(const char *s, char **tmp)
{
    *tmp = NULL;
    if (!s || utf8_valid(s, strlen(s)))
        return s;
    return *tmp = utf8_sanitize(s, strlen(s), NULL);
}

PGconn *pg_connect(const char *conninfo)
{
    /* the conninfo is expanded where dbname stands, after connect_timeout: its own wins */
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {PG_CONNECT_TIMEOUT_S, conninfo, NULL};
    return PQconnectdbParams(keys, vals, 1);
}

static int connect_one(struct pg *p, struct pg_conn *c, const char *what, struct err *e)
{
    c->what = what;
    c->c = pg_connect(p->conninfo);
    if (!c->c)
        return err_set(e, TRAWL_ENOMEM, true, "cannot connect to %s: out of memory", p->shown);
    if (PQstatus(c->c) != CONNECTION_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->c));
        pg_one_line(msg);
        return err_set(e, TRAWL_EIO, true, "cannot connect to %s: %s", p->shown, msg);
    }
    /* the server's warnings (client_min_messages) and a FATAL on shutdown go to the log */
    PQsetNoticeProcessor(c->c, pg_notice, NULL);
    int rc = pg_exec(c,
                     "SET application_name = 'trawl'; SET client_min_messages = warning; "
                     "SET TIME ZONE 'UTC'",
                     e, "configure the connection");
    if (!rc && p->relaxed && c == &p->w)
        rc = pg_exec(c, "SET synchronous_commit = off", e, "configure the connection");
    return rc;
}

static int schema_version(struct pg *p, int *v, struct err *e)
{
    static const char sql[] = "SELECT coalesce(max(version), 0) FROM trawl_migrations";
    PGresult *r;
    int rc = pg_run(&p->w, sql, NULL, &r, e, "read the schema version");
    if (rc)
        return rc;
    *v = pg_int(r, 0, 0);
    PQclear(r);
    return 0;
}

/* The migrations not yet applied, in one transaction, under an advisory lock: of several nodes
 * that start at once, one applies them and the others find them applied. */
static int migrate(struct pg *p, struct err *e)
{
    int rc = pg_exec(&p->w,
                     "BEGIN; SELECT pg_advisory_xact_lock(7361726177); CREATE TABLE IF NOT EXISTS "
                     "trawl_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())",
                     e, "prepare the migrations");
    p->w.in_tx = rc == 0; /* a connection lost from here on must not go on in autocommit */
    int v = 0;
    if (!rc)
        rc = schema_version(p, &v, e);
    if (!rc && v > store_pg_migrations_count)
        rc = err_set(e, TRAWL_ESCHEMA, false,
                     "%s: database schema version %d is newer than this trawl knows (%d); use a "
                     "newer trawl",
                     p->shown, v, store_pg_migrations_count);
    for (int i = v; !rc && i < store_pg_migrations_count; i++) {
        const struct migration *m = &store_pg_migrations[i];
        char what[128];
        snprintf(what, sizeof what, "apply migration %s", m->name);
        rc = pg_exec(&p->w, m->sql, e, what);
        if (!rc) {
            static const char sql[] =
                "INSERT INTO trawl_migrations (version, name) VALUES ($1, $2)";
            struct pg_args a = {0};
            pa_int(&a, m->version);
            pa_text(&a, m->name);
            rc = pg_run(&p->w, sql, &a, NULL, e, what);
        }
    }
    p->w.in_tx = false;
    if (rc) {
        pg_exec(&p->w, "ROLLBACK", NULL, "rollback");
        return rc;
    }
    return pg_exec(&p->w, "COMMIT", e, "migrate the database");
}

int store_pg_open(const char *conninfo, const struct store_pg_opts *o, struct store **out,
                  struct err *e)
{
    *out = NULL;
    struct pg *p = xcalloc(1, sizeof *p);
    p->base.core = &pg_core;
    p->base.jobs = &pg_job_ops;
    p->base.batches = &pg_batch_ops;
    p->base.tokens = &pg_token_ops;
    p->base.crawl = &pg_crawl_ops;
    p->base.sessions = &pg_session_ops;
    p->base.stats = &pg_stats_ops;
    p->base.chains = &pg_chain_ops;
    p->base.webhooks = &pg_webhook_ops;
    p->base.schedules = &pg_schedule_ops;
    p->base.alerts = &pg_alert_ops;
    p->base.retention = &pg_retention_ops;
    p->base.imports = &pg_import_ops;
    p->conninfo = xstrdup(conninfo);
    p->shown = store_pg_describe(conninfo);
    p->relaxed = o && o->durability == STORE_RELAXED;
    pthread_mutex_init(&p->rlock, NULL);
    p->w.pid = &p->w_pid;
    int rc = connect_one(p, &p->w, "writer", e);
    if (!rc)
        atomic_store(&p->w_pid, PQbackendPID(p->w.c));
    if (!rc)
        rc = migrate(p, e);
    if (!rc)
        rc = connect_one(p, &p->r, "reader", e);
    if (rc) {
        pg_close(&p->base);
        return rc;
    }
    *out = &p->base;
    return 0;
}

int store_open(const char *db, enum store_durability d, struct store **out, struct err *e)
{
    if (store_is_pg(db)) {
        struct store_pg_opts o = {.durability = d};
        return store_pg_open(db, &o, out, e);
    }
    struct store_sqlite_opts o = {.durability = d};
    return store_sqlite_open(db, &o, out, e);
}
