/* The SQLite store's schedules domain (migration 0010). Reads run on the reader under its lock
 * unless asked for inside the transaction (on the writer); the due schedules are found by the
 * schedules_due index. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SD_ADD,
    SD_GET_W,
    SD_GET_R,
    SD_LIST,
    SD_PAUSE,
    SD_DELETE,
    SD_DUE,
    SD_NEXT_DUE,
    SD_ADVANCE,
    SD_LAST_JOB,
    SD_COUNT_,
};

_Static_assert(SD_COUNT_ <= 16, "struct sq has room for the statements");

#define SCHED_COLS                                                                                 \
    "id, workspace, name, cron, timezone, job, missed, paused, next_slot, last_slot, "             \
    "last_job_id, skipped, anchor_ms, created_at, updated_at"

static void row_fn(sqlite3_stmt *st, void *p)
{
    struct schedule *sc = p;
    memset(sc, 0, sizeof *sc);
    snprintf(sc->id, sizeof sc->id, "%s", (const char *)sqlite3_column_text(st, 0));
    sc->workspace = sq_col_dup(st, 1);
    sc->name = sq_col_dup(st, 2);
    sc->cron = sq_col_dup(st, 3);
    sc->timezone = sq_col_dup(st, 4);
    sc->job = sq_col_dup(st, 5);
    int m = schedule_missed_parse((const char *)sqlite3_column_text(st, 6));
    sc->missed = m < 0 ? MISSED_SKIP : (enum schedule_missed)m;
    sc->paused = sqlite3_column_int(st, 7) != 0;
    sc->next_slot = sqlite3_column_int64(st, 8);
    sc->last_slot = sqlite3_column_int64(st, 9);
    sc->last_job_id = sq_col_dup(st, 10);
    sc->skipped = sqlite3_column_int64(st, 11);
    sc->anchor_ms = sqlite3_column_int64(st, 12);
    sc->created_at = sqlite3_column_int64(st, 13);
    sc->updated_at = sqlite3_column_int64(st, 14);
}

static void bind_slot(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static int sq_schedule_add(struct store *s, const struct schedule *sc, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO schedules (" SCHED_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                          &q->sd[SD_ADD], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sd[SD_ADD];
    sqlite3_bind_text(st, 1, sc->id, -1, SQLITE_STATIC);
    sq_bind_text(st, 2, sc->workspace);
    sq_bind_text(st, 3, sc->name);
    sq_bind_text(st, 4, sc->cron);
    sq_bind_text(st, 5, sc->timezone);
    sq_bind_text(st, 6, sc->job);
    sqlite3_bind_text(st, 7, schedule_missed_name(sc->missed), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 8, sc->paused);
    bind_slot(st, 9, sc->next_slot);
    bind_slot(st, 10, sc->last_slot);
    sq_bind_text(st, 11, sc->last_job_id);
    sqlite3_bind_int64(st, 12, sc->skipped);
    sqlite3_bind_int64(st, 13, sc->anchor_ms);
    sqlite3_bind_int64(st, 14, sc->created_at);
    sqlite3_bind_int64(st, 15, sc->updated_at);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_CONSTRAINT_UNIQUE || step == SQLITE_CONSTRAINT_PRIMARYKEY)
        return err_set(e, TRAWL_ESTATE, false, "a schedule named \"%s\" exists already", sc->name);
    if (step != SQLITE_DONE)
        return sq_err(q->w, step, e, "add a schedule");
    return 0;
}

static int sq_schedule_get(struct store *s, const char *workspace, const char *key, bool writer,
                           struct schedule *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    sqlite3 *db = writer ? q->w : q->r;
    if (!writer)
        pthread_mutex_lock(&q->rlock);
    /* an id and a name never meet: a name that looks like an id is refused by the API */
    int rc = sq_prep_once(db,
                          "SELECT " SCHED_COLS " FROM schedules WHERE workspace = ?1 AND "
                          "(id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1",
                          &q->sd[writer ? SD_GET_W : SD_GET_R], e);
    if (!rc) {
        sqlite3_stmt *st = q->sd[writer ? SD_GET_W : SD_GET_R];
        sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_fn(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "schedule %s not found", key);
        else
            rc = sq_err(db, step, e, "read a schedule");
        sqlite3_reset(st);
    }
    if (!writer)
        pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int sq_schedule_list(struct store *s, const char *workspace, struct schedule **out,
                            size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " SCHED_COLS " FROM schedules WHERE workspace = ?1 ORDER BY "
                          "name",
                          &q->sd[SD_LIST], e);
    if (!rc) {
        sqlite3_bind_text(q->sd[SD_LIST], 1, workspace, -1, SQLITE_STATIC);
        rc = sq_collect_rows(q->r, q->sd[SD_LIST], sizeof **out, row_fn, (void **)out, n, e,
                             "list schedules");
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* 0 when the last statement on the writer changed a row, else TRAWL_ENOTFOUND naming id. */
static int changed_one(struct sq *q, const char *id, struct err *e)
{
    if (sqlite3_changes(q->w) == 0)
        return err_set(e, TRAWL_ENOTFOUND, false, "schedule %s not found", id);
    return 0;
}

static int sq_schedule_set_paused(struct store *s, const char *id, bool paused, int64_t next_slot,
                                  int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE schedules SET paused = ?2, next_slot = CASE WHEN ?2 THEN "
                          "next_slot ELSE ?3 END, updated_at = ?4 WHERE id = ?1",
                          &q->sd[SD_PAUSE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sd[SD_PAUSE];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, paused);
    bind_slot(st, 3, next_slot);
    sqlite3_bind_int64(st, 4, now);
    rc = sq_step_done(q, st, e, "pause or resume a schedule");
    return rc ? rc : changed_one(q, id, e);
}

static int sq_schedule_delete(struct store *s, const char *id, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w, "DELETE FROM schedules WHERE id = ?1", &q->sd[SD_DELETE], e);
    if (rc)
        return rc;
    sqlite3_bind_text(q->sd[SD_DELETE], 1, id, -1, SQLITE_STATIC);
    rc = sq_step_done(q, q->sd[SD_DELETE], e, "delete a schedule");
    return rc ? rc : changed_one(q, id, e);
}

static int sq_schedule_due(struct store *s, int64_t now, size_t limit, struct schedule **out,
                           size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " SCHED_COLS " FROM schedules INDEXED BY schedules_due WHERE "
                          "paused = 0 AND next_slot IS NOT NULL AND next_slot <= ?1 ORDER BY "
                          "next_slot LIMIT ?2",
                          &q->sd[SD_DUE], e);
    if (!rc) {
        sqlite3_stmt *st = q->sd[SD_DUE];
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, limit ? (int64_t)limit : 100);
        rc = sq_collect_rows(q->r, st, sizeof **out, row_fn, (void **)out, n, e,
                             "read due schedules");
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int sq_schedule_next_due(struct store *s, int64_t *at, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT min(next_slot) FROM schedules INDEXED BY schedules_due WHERE "
                          "paused = 0 AND next_slot IS NOT NULL",
                          &q->sd[SD_NEXT_DUE], e);
    if (!rc) {
        sqlite3_stmt *st = q->sd[SD_NEXT_DUE];
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            *at = sqlite3_column_int64(st, 0);
        else
            rc = sq_err(q->r, step, e, "read the next due schedule");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static int sq_schedule_advance(struct store *s, const struct schedule_step *step, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE schedules SET next_slot = ?3, last_slot = coalesce(?4, "
                          "last_slot), skipped = skipped + ?5, updated_at = ?6 WHERE id = ?1 AND "
                          "next_slot = ?2 AND paused = 0",
                          &q->sd[SD_ADVANCE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sd[SD_ADVANCE];
    sqlite3_bind_text(st, 1, step->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, step->expect_next);
    bind_slot(st, 3, step->next_slot);
    bind_slot(st, 4, step->last_slot);
    sqlite3_bind_int64(st, 5, step->skipped);
    sqlite3_bind_int64(st, 6, step->now);
    rc = sq_step_done(q, st, e, "advance a schedule");
    if (rc)
        return rc;
    return sqlite3_changes(q->w) == 1;
}

static int sq_schedule_set_last_job(struct store *s, const char *id, const char *job_id,
                                    struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w, "UPDATE schedules SET last_job_id = ?2 WHERE id = ?1",
                          &q->sd[SD_LAST_JOB], e);
    if (rc)
        return rc;
    sqlite3_bind_text(q->sd[SD_LAST_JOB], 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q->sd[SD_LAST_JOB], 2, job_id, -1, SQLITE_STATIC);
    return sq_step_done(q, q->sd[SD_LAST_JOB], e, "note a schedule's last job");
}

const struct store_schedule_ops sq_schedule_ops = {
    .version = STORE_SCHEDULE_VERSION,
    .add = sq_schedule_add,
    .get = sq_schedule_get,
    .list = sq_schedule_list,
    .set_paused = sq_schedule_set_paused,
    .del = sq_schedule_delete,
    .due = sq_schedule_due,
    .next_due = sq_schedule_next_due,
    .advance = sq_schedule_advance,
    .set_last_job = sq_schedule_set_last_job,
};
