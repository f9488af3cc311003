/* The SQLite store's insides, shared by its files: the connections and statements, and the
 * helpers that turn SQLite's answers into trawl's errors. Not for use outside src/store/. */
#ifndef TRAWL_SQLITE_INT_H
#define TRAWL_SQLITE_INT_H

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

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#define MAX_CLAIM_TYPES 16

#define JOB_COLS                                                                                   \
    "id, type, queue, status, priority, attempt, max_attempts, run_at, timeout_ms, "               \
    "backoff_base_ms, backoff_cap_ms, progress, stage, checkpoint, args, result, error, "          \
    "batch_id, parent_id, root_id, unique_key, workspace, lease_owner, lease_expires_at, "         \
    "last_heartbeat, progress_at, created_at, started_at, completed_at, failed_at, updated_at, "   \
    "event_seq, rowid, input, role, join_id, waits, successors, depth"

#define CLAIM_MULTI 32 /* most events written by one INSERT */

/* The statements that read a claim, on one connection. */
struct claim_read {
    sqlite3 *db;
    sqlite3_stmt *next_priority; /* the highest priority below ?2 with pending jobs of type ?1 */
    sqlite3_stmt *rows;          /* due jobs of type ?1 at priority ?2, oldest first */
};

struct sq {
    struct store base;
    char *path;
    sqlite3 *w; /* writer */
    sqlite3 *r; /* reader */
    pthread_mutex_t rlock;
    /* the checkpointer: copies the WAL into the database on its own connection and thread, so
     * commits do not pay for it */
    sqlite3 *ck;
    pthread_t ck_thread;
    pthread_mutex_t ck_lock;
    pthread_cond_t ck_cv;
    bool ck_wanted, ck_stop, ck_running;
    int ck_asked_at;    /* WAL frames when a checkpoint was last asked for (writer only) */
    atomic_int ck_done; /* background checkpoints finished */
    int ck_seen;        /* ck_done when the writer last finished a checkpoint's tail */
    sqlite3_stmt *ins, *ins_multi, *find_unique, *lookup, *upd, *event, *processing, *due, *promote,
        *complete, *complete_many, *complete_many_seq, *sp_begin, *sp_release, *sp_rollback,
        *tx_begin, *tx_commit;
    sqlite3_stmt *ev_rows[CLAIM_MULTI + 1]; /* INSERT of k event rows from values, made lazily */
    struct claim_read claim_w, claim_r;     /* reading a claim, on the writer and on the reader */
    sqlite3_stmt *claim_if;                 /* take a job if unchanged since it was read */
    sqlite3_stmt *get, *events, *fetch, *list;
    /* batches, tokens, crawl results (sqlite_api.c); prepared on first use */
    sqlite3_stmt *batch_jobs_r, *batch_jobs_w, *batch_get, *batch_list, *batch_count, *token_add,
        *token_find, *token_list, *token_revoke, *crawl_save, *crawl_get, *crawl_expire;
    sqlite3_stmt *sc[24]; /* scraping sessions (sqlite_scrape.c), by SC_* index */
    sqlite3_stmt *ch[16]; /* chains and pipelines (sqlite_chain.c), by CH_* index */
    sqlite3_stmt *release[CLAIM_MULTI + 1]; /* releasing the stages of k parents, made lazily */
    sqlite3_stmt *sy[16];  /* sessions' extract and sync stages (sqlite_sync.c), by SY_* index */
    sqlite3_stmt *wh[4];   /* webhook calls (sqlite_webhook.c), by WH_* index */
    sqlite3_stmt *sd[16];  /* schedules (sqlite_schedule.c), by SD_* index */
    sqlite3_stmt *al_take; /* alerts' rate limits (sqlite_alert.c) */
    sqlite3_stmt *rt[8];   /* retention (sqlite_retention.c), by RT_* index */
    sqlite3_stmt *im[20];  /* imports (sqlite_import.c), by IM_* index */
    /* metrics (sqlite_stats.c) */
    sqlite3_stmt *st_counts, *st_minute, *st_prune, *st_read, *st_series;
    int64_t st_pruned; /* the minute up to which job_minutes was last pruned */
};

/* e gets a message naming what failed and why; returns the trawl code for SQLite's rc. */
int sq_err(sqlite3 *db, int rc, struct err *e, const char *what);
int sq_prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e);
/* Prepare on first use: *st stays prepared until the store closes. */
int sq_prep_once(sqlite3 *db, const char *sql, sqlite3_stmt **st, struct err *e);
/* Bind s, or NULL when s is NULL; the string must outlive the step. */
void sq_bind_text(sqlite3_stmt *st, int i, const char *s);
/* A copy of column i's text, or NULL. */
char *sq_col_dup(sqlite3_stmt *st, int i);
/* Step st to its end, each row read by fn into a new element of size bytes of a growing array,
 * then reset it. *out and *n get the array (the caller's, even on error) and its length. Returns
 * the number of rows, or an error naming what. */
int sq_collect_rows(sqlite3 *db, sqlite3_stmt *st, size_t size, void (*fn)(sqlite3_stmt *, void *),
                    void **out, size_t *n, struct err *e, const char *what);
/* Read the JOB_COLS columns starting at column c into j. */
void sq_row_to_job(sqlite3_stmt *st, int c, struct job *j);
/* Step a statement on the writer that returns no rows, then reset it. */
int sq_step_done(struct sq *q, sqlite3_stmt *st, struct err *e, const char *what);

/* One new event of a job, known without reading its row. */
struct ev_row {
    const char *id;
    int64_t seq;
    int attempt;
};

/* sqlite_jobs.c: the jobs domain, and its statements prepared at open. */
extern const struct store_job_ops sq_jobs_ops;
/* sqlite_webhook.c: the webhooks domain. */
extern const struct store_webhook_ops sq_webhooks;
/* sqlite_alert.c: the alerts domain. */
extern const struct store_alert_ops sq_alerts;
/* sqlite_retention.c: the retention domain. */
extern const struct store_retention_ops sq_retention;
/* sqlite_import.c: the imports domain. */
extern const struct store_import_ops sq_imports;
int sq_jobs_prepare(struct sq *q, struct err *e);
/* Insert k (1..CLAIM_MULTI) events that share their time, transition and message (NULL: none)
 * with one statement: no lookup of the jobs they belong to. */
int sq_insert_events(struct sq *q, const struct ev_row *rows, size_t k, int64_t at,
                     const char *from, const char *to, const char *message, struct err *e);

/* sqlite_api.c: the batches, tokens and crawl domains. */
int sq_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                  size_t *n, struct err *e);
int sq_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                 struct err *e);
int sq_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                  struct batch_info **out, size_t *n, int64_t *total, struct err *e);
int sq_token_add(struct store *s, const struct api_token *t, struct err *e);
int sq_token_find(struct store *s, const unsigned char hash[TOKEN_HASH_LEN], struct api_token *out,
                  struct err *e);
int sq_token_list(struct store *s, struct api_token **out, size_t *n, struct err *e);
int sq_token_revoke(struct store *s, const char *id, int64_t now, struct err *e);
int sq_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                  struct err *e);
int sq_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                 struct err *e);
int sq_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e);

/* sqlite_scrape.c: the sessions domain. */
int sq_session_add(struct store *s, const struct scrape_session *ss, struct err *e);
int sq_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                   struct scrape_session *out, struct err *e);
int sq_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                    struct scrape_session **out, size_t *n, int64_t *total, struct err *e);
int sq_session_note(struct store *s, const char *id, const char *error, int warnings, int64_t now,
                    struct err *e);
int sq_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                       int64_t now, struct err *e);
int sq_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                 int64_t cap, int64_t now, struct err *e);
int sq_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                  struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e);
int sq_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                   int64_t now, struct err *e);
int sq_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e);
int sq_pages_list(struct store *s, const char *session_id, int status, size_t limit, size_t offset,
                  struct scrape_page **out, size_t *n, struct err *e);
int sq_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                    size_t *len, struct err *e);
int sq_record_put(struct store *s, const char *session_id, const struct record_new *r,
                  int64_t page_id, int64_t now, struct err *e);
int sq_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                    struct record_row **out, size_t *n, struct err *e);
/* A record_row from columns id, key, data, change, changed_fields (for sq_collect_rows). */
void sq_record_row(sqlite3_stmt *st, void *p);

/* sqlite_sync.c: the sessions domain's share of the extract and sync stages. */
int sq_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                          int64_t now, struct err *e);
int sq_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                        size_t limit, struct page_body **out, size_t *n, struct err *e);
int sq_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                      int records, struct err *e);
int sq_records_prune(struct store *s, const char *session_id, int gen, struct err *e);
int sq_source_sync(struct store *s, struct sync_batch *b, struct err *e);
int sq_source_prune(struct store *s, const struct sync_batch *b, struct err *e);
int sq_sync_begin(struct store *s, const struct sync_batch *b, struct err *e);
int sq_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e);
int sq_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                    struct record_row **out, size_t *n, struct err *e);

/* sqlite_stats.c: the metrics domain. */
int sq_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                 struct err *e);
int sq_stats(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
             struct err *e);
int sq_stats_minutes(struct store *s, const struct stats_query *q, struct stats_minute **out,
                     size_t *n, struct err *e);
/* sqlite_chain.c: the chains domain. */
int sq_chain_jobs(struct store *s, const struct chain_filter *f, bool writer, struct job **out,
                  size_t *n, struct err *e);
int sq_chain_nodes(struct store *s, const struct chain_filter *f, struct chain_node **out,
                   size_t *n, struct err *e);
int sq_chain_count(struct store *s, const struct chain_filter *f, bool writer,
                   int64_t counts[JOB_STATUS_COUNT], struct err *e);
int sq_chain_release(struct store *s, const char *const *parents, size_t n, int64_t now,
                     const char *message, struct job **out, size_t *nout, struct err *e);
int sq_join_arrive(struct store *s, const char *join_id, int delta, int64_t now, int *remaining,
                   struct err *e);
int sq_pipeline_add(struct store *s, const struct pipeline *p, struct err *e);
int sq_pipeline_get(struct store *s, const char *workspace, const char *id, struct pipeline *out,
                    struct err *e);
int sq_pipeline_list(struct store *s, const char *workspace, const char *name, size_t limit,
                     size_t offset, struct pipeline **out, size_t *n, int64_t *total,
                     struct err *e);
/* sqlite_schedule.c: the schedules domain. */
extern const struct store_schedule_ops sq_schedule_ops;
#endif
