/* The PostgreSQL store's insides, shared by its files (store_pg.c and pg_*.c): its connections,
 * the statements each prepares once, the parameters of a call and the helpers that turn libpq's
 * answers into trawl's errors. Not for use outside src/store/.
 *
 * Connections: one writer, used by one thread at a time (the engine's committer, between begin
 * and commit), and one reader shared under a mutex, in autocommit. A statement is named by its
 * SQL text's address: the first call on a connection prepares it, later calls run it prepared.
 * Parameters and results are text, except bytea parameters (binary); $n numbers them. */
#ifndef TRAWL_PG_INT_H
#define TRAWL_PG_INT_H

#include "store/alert.h"
#include "store/batch.h"
#include "store/chain.h"
#include "store/crawl.h"
#include "store/import.h"
#include "store/job.h"
#include "store/retention.h"
#include "store/schedule.h"
#include "store/scrape.h"
#include "store/stats.h"
#include "store/store.h"
#include "store/token.h"
#include "store/webhook.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PG_MAX_STMTS 256 /* statements one connection keeps prepared */
#define PG_MAX_ARGS  200 /* parameters of one call */

/* The columns of struct job, in the order pg_row_to_job reads them. */
#define PG_JOB_COLS                                                                                \
    "id, type, queue, status, priority, attempt, max_attempts, run_at, timeout_ms, "               \
    "backoff_base_ms, backoff_cap_ms, progress, stage, checkpoint, args, result, error, "          \
    "batch_id, parent_id, root_id, unique_key, workspace, lease_owner, lease_expires_at, "         \
    "last_heartbeat, progress_at, created_at, started_at, completed_at, failed_at, updated_at, "   \
    "event_seq, input, role, join_id, waits, successors, depth"
#define PG_JOB_NCOLS 38

struct pg_conn {
    PGconn *c;
    const char *what;              /* "writer", "reader": for messages */
    const char *sql[PG_MAX_STMTS]; /* the statements prepared on c, named s0, s1, ... */
    int nsql;
    atomic_int *pid; /* non-NULL: kept up to date with the server process after a reconnect */
    bool in_tx;      /* between a BEGIN that worked and its COMMIT or ROLLBACK (the writer) */
    bool broken;     /* a statement failed without an answer from the server: made again next */
};

struct pg {
    struct store base;
    char *conninfo;
    char *shown; /* conninfo without its password, for messages */
    bool relaxed;
    struct pg_conn w, r;
    pthread_mutex_t rlock;
    int64_t st_pruned; /* metrics: the minute up to which job_minutes was last pruned (writer) */
    atomic_int w_pid;  /* the writer's server process: its own announcements are not heard */
    struct pg_hearing *hearing; /* the thread that LISTENs (pg_notify.c); NULL: none */
};

/* pg_notify.c: the announcements of each transaction's changes (NOTIFY) and the thread that
 * hears the other nodes' (LISTEN). */
int pg_announce(struct store *s, const struct store_change *c, size_t n, bool available,
                struct err *e);
int pg_hear(struct store *s, store_heard_fn fn, void *ctx, struct err *e);

/* The parameters of one call. Strings are borrowed: they must outlive the call. */
struct pg_args {
    int n;
    const char *v[PG_MAX_ARGS];
    int len[PG_MAX_ARGS];
    int fmt[PG_MAX_ARGS];
    char num[PG_MAX_ARGS][24];
};

void pa_text(struct pg_args *a, const char *s); /* NULL: SQL NULL */
void pa_i64(struct pg_args *a, int64_t v);
void pa_int(struct pg_args *a, int v);
void pa_bool(struct pg_args *a, bool v);
void pa_bytes(struct pg_args *a, const void *p, size_t n); /* NULL: SQL NULL */

/* Run sql (a string literal: its address names the prepared statement) on c with a's
 * parameters. *res (when res is not NULL) gets the result, which the caller PQclear()s; it is
 * NULL on error. Returns 0 or a trawl error naming what. */
int pg_run(struct pg_conn *c, const char *sql, const struct pg_args *a, PGresult **res,
           struct err *e, const char *what);
/* Run sql without preparing it or taking parameters (DDL, BEGIN, several statements). */
int pg_exec(struct pg_conn *c, const char *sql, struct err *e, const char *what);
/* A text[] literal of n strings (NULL elements are NULL), each quoted: a new string. */
char *pg_array(const char *const *v, size_t n);
/* The number of rows a command changed (UPDATE, DELETE, INSERT). */
int64_t pg_changes(const PGresult *res);

/* The error of a failed result or connection as a trawl error naming what. */
int pg_err(struct pg_conn *c, const PGresult *res, struct err *e, const char *what);

/* Column readers: a NULL is NULL, 0 or false. */
char *pg_dup(const PGresult *res, int row, int col);
int64_t pg_i64(const PGresult *res, int row, int col);
int pg_int(const PGresult *res, int row, int col);
bool pg_null(const PGresult *res, int row, int col);
/* A bytea column: a new buffer of *len bytes, or NULL when NULL. */
void *pg_bytes(const PGresult *res, int row, int col, size_t *len);
/* The PG_JOB_COLS columns from column c of row into j. */
void pg_row_to_job(const PGresult *res, int row, int c, struct job *j);
/* Every row of res through pg_row_to_job from column 0; *out and *n get the array. Returns n. */
int pg_collect_jobs(const PGresult *res, struct job **out, size_t *n);

/* A connection to conninfo: PQconnectdb, but a host that does not answer (a machine down, a
 * network cut) is given up after PG_CONNECT_TIMEOUT_S seconds instead of the kernel's minutes,
 * and with several hosts libpq goes on to the next; a connect_timeout in conninfo wins. */
#define PG_CONNECT_TIMEOUT_S "10"
PGconn *pg_connect(const char *conninfo);
/* s as PostgreSQL's text takes it: SQLite keeps any bytes, but a UTF8 database refuses malformed
 * ones (a server's Content-Type, a feed's row), so they become U+FFFD. *tmp gets what to free
 * (NULL when s was valid, or NULL). */
const char *pg_valid_text(const char *s, char **tmp);
/* libpq's messages end in a newline and may run over lines, with tabs: one line for the log. */
void pg_one_line(char *s);

/* libpq's notice processor: a server's notice or warning as one line of the log. */
void pg_notice(void *arg, const char *message);

/* The reader, under its lock. */
struct pg_conn *pg_reader(struct pg *p);
void pg_reader_done(struct pg *p);

/* Each domain's operations, in its own file. A domain not built yet is absent (NULL), and its
 * calls fail saying so. */
extern const struct store_job_ops pg_job_ops;
extern const struct store_batch_ops pg_batch_ops;
extern const struct store_token_ops pg_token_ops;
extern const struct store_crawl_ops pg_crawl_ops;
extern const struct store_session_ops pg_session_ops;
extern const struct store_stats_ops pg_stats_ops;
extern const struct store_chain_ops pg_chain_ops;
extern const struct store_webhook_ops pg_webhook_ops;
extern const struct store_schedule_ops pg_schedule_ops;
extern const struct store_alert_ops pg_alert_ops;
extern const struct store_retention_ops pg_retention_ops;
extern const struct store_import_ops pg_import_ops;

#endif
