/* The PostgreSQL store's schedules domain. Reads run on the reader unless asked for inside the
 * transaction (on the writer). Several nodes may run a scheduler on one database: what keeps a
 * slot to one job is the guarded advance (and under it the unique index jobs_schedule_slot), not
 * the read of the due schedules. */
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_COLS                                                                                 \
    "id, workspace, name, cron, timezone, job, missed, paused, next_slot, last_slot, "             \
    "last_job_id, skipped, anchor_ms, created_at, updated_at"

static void row_to_schedule(const PGresult *r, int row, struct schedule *sc)
{
    memset(sc, 0, sizeof *sc);
    snprintf(sc->id, sizeof sc->id, "%s", PQgetvalue(r, row, 0));
    sc->workspace = pg_dup(r, row, 1);
    sc->name = pg_dup(r, row, 2);
    sc->cron = pg_dup(r, row, 3);
    sc->timezone = pg_dup(r, row, 4);
    sc->job = pg_dup(r, row, 5);
    int m = schedule_missed_parse(PQgetvalue(r, row, 6));
    sc->missed = m < 0 ? MISSED_SKIP : (enum schedule_missed)m;
    sc->paused = pg_int(r, row, 7) != 0;
    sc->next_slot = pg_i64(r, row, 8);
    sc->last_slot = pg_i64(r, row, 9);
    sc->last_job_id = pg_dup(r, row, 10);
    sc->skipped = pg_i64(r, row, 11);
    sc->anchor_ms = pg_i64(r, row, 12);
    sc->created_at = pg_i64(r, row, 13);
    sc->updated_at = pg_i64(r, row, 14);
}

/* Every row of r as schedules into *out and *n; returns n. */
static int collect(const PGresult *r, struct schedule **out, size_t *n)
{
    int rows = PQntuples(r);
    struct schedule *list = rows ? xcalloc((size_t)rows, sizeof *list) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_schedule(r, i, &list[i]);
    *out = list;
    *n = (size_t)rows;
    return rows;
}

/* A slot in ms; 0 (none) is NULL. */
static void add_slot(struct pg_args *a, int64_t ms)
{
    if (ms)
        pa_i64(a, ms);
    else
        pa_text(a, NULL);
}

/* A taken id or name makes the INSERT do nothing (also when another node inserts it at the same
 * moment: the INSERT waits for that one's commit), so a conflict is told apart without an error
 * that would abort the caller's transaction. */
static int pg_schedule_add(struct store *s, const struct schedule *sc, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "INSERT INTO schedules (" SCHED_COLS ") VALUES ($1, $2, $3, $4, $5, "
                              "$6, $7, $8::int, $9::bigint, $10::bigint, $11, $12, $13, $14, $15) "
                              "ON CONFLICT DO NOTHING";
    struct pg_args a = {0};
    pa_text(&a, sc->id);
    pa_text(&a, sc->workspace);
    pa_text(&a, sc->name);
    pa_text(&a, sc->cron);
    pa_text(&a, sc->timezone);
    pa_text(&a, sc->job);
    pa_text(&a, schedule_missed_name(sc->missed));
    pa_int(&a, sc->paused ? 1 : 0);
    add_slot(&a, sc->next_slot);
    add_slot(&a, sc->last_slot);
    pa_text(&a, sc->last_job_id);
    pa_i64(&a, sc->skipped);
    pa_i64(&a, sc->anchor_ms);
    pa_i64(&a, sc->created_at);
    pa_i64(&a, sc->updated_at);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "add a schedule");
    if (rc)
        return rc;
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return err_set(e, TRAWL_ESTATE, false, "a schedule named \"%s\" exists already", sc->name);
    return 0;
}

static int pg_schedule_get(struct store *s, const char *workspace, const char *key, bool writer,
                           struct schedule *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    /* an id and a name never meet: a name that looks like an id is refused by the API */
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE workspace = $1 AND "
                              "(id = $2::text OR name = $2::text) ORDER BY id = $2::text DESC "
                              "LIMIT 1";
    struct pg_args a = {0};
    pa_text(&a, workspace);
    pa_text(&a, key);
    struct pg_conn *c = writer ? &p->w : pg_reader(p);
    PGresult *r;
    int rc = pg_run(c, sql, &a, &r, e, "read a schedule");
    if (!writer)
        pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) == 1)
        row_to_schedule(r, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "schedule %s not found", key);
    PQclear(r);
    return rc;
}

static int pg_schedule_list(struct store *s, const char *workspace, struct schedule **out,
                            size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE workspace = $1 ORDER BY "
                              "name";
    struct pg_args a = {0};
    pa_text(&a, workspace);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list schedules");
    pg_reader_done(p);
    if (rc)
        return rc;
    rc = collect(r, out, n);
    PQclear(r);
    return rc;
}

/* 0 when the command r reports changed a row, else TRAWL_ENOTFOUND naming id. */
static int changed_one(PGresult *r, const char *id, struct err *e)
{
    int64_t n = pg_changes(r);
    PQclear(r);
    if (n == 0)
        return err_set(e, TRAWL_ENOTFOUND, false, "schedule %s not found", id);
    return 0;
}

static int pg_schedule_set_paused(struct store *s, const char *id, bool paused, int64_t next_slot,
                                  int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE schedules SET paused = $2::int, next_slot = CASE WHEN "
                              "$2::int <> 0 THEN next_slot ELSE $3::bigint END, updated_at = $4 "
                              "WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_int(&a, paused ? 1 : 0);
    add_slot(&a, next_slot);
    pa_i64(&a, now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "pause or resume a schedule");
    return rc ? rc : changed_one(r, id, e);
}

static int pg_schedule_delete(struct store *s, const char *id, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "DELETE FROM schedules WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, id);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "delete a schedule");
    return rc ? rc : changed_one(r, id, e);
}

/* A plain read, not FOR UPDATE SKIP LOCKED: the scheduler reads the due schedules outside any
 * transaction (it plans each one's slots before its transaction begins), so a lock taken here
 * would end with the statement and keep nothing from another node. Two nodes may therefore both
 * list a schedule; the advance below, in the write transaction, decides which one enqueues. Ties
 * of next_slot go by id (creation order, as SQLite's rowid order). */
static int pg_schedule_due(struct store *s, int64_t now, size_t limit, struct schedule **out,
                           size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " SCHED_COLS " FROM schedules WHERE paused = 0 AND "
                              "next_slot IS NOT NULL AND next_slot <= $1 ORDER BY next_slot, id "
                              "LIMIT $2";
    struct pg_args a = {0};
    pa_i64(&a, now);
    pa_i64(&a, limit ? (int64_t)limit : 100);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "read due schedules");
    pg_reader_done(p);
    if (rc)
        return rc;
    rc = collect(r, out, n);
    PQclear(r);
    return rc;
}

static int pg_schedule_next_due(struct store *s, int64_t *at, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT min(next_slot) FROM schedules WHERE paused = 0 AND "
                              "next_slot IS NOT NULL";
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, NULL, &r, e, "read the next due schedule");
    pg_reader_done(p);
    if (rc)
        return rc;
    *at = pg_i64(r, 0, 0);
    PQclear(r);
    return 0;
}

/* The guard, in the caller's transaction: the row is locked (FOR UPDATE) and its next_slot must
 * still be the one the scheduler read, checked on the row's newest committed version. So of the
 * nodes that read a schedule as due, only the first to lock it moves it past a slot; the row
 * stays locked until that transaction ends, and one that comes later finds next_slot moved and
 * enqueues nothing. SKIP LOCKED: a schedule another node's transaction holds is not waited for
 * (that would stall this node's every write behind the other's commit, and could deadlock two
 * committers); it answers 0 at once, as when the other has moved it on. Should the other roll
 * back, next_slot is unchanged and the next tick of any node enqueues the slot. */
static int pg_schedule_advance(struct store *s, const struct schedule_step *st, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH c AS MATERIALIZED (SELECT id FROM schedules WHERE id = $1 AND next_slot = $2 AND "
        "paused = 0 FOR UPDATE SKIP LOCKED) "
        "UPDATE schedules s SET next_slot = $3::bigint, last_slot = coalesce($4::bigint, "
        "s.last_slot), skipped = s.skipped + $5, updated_at = $6 FROM c WHERE s.id = c.id";
    struct pg_args a = {0};
    pa_text(&a, st->id);
    pa_i64(&a, st->expect_next);
    add_slot(&a, st->next_slot);
    add_slot(&a, st->last_slot);
    pa_i64(&a, st->skipped);
    pa_i64(&a, st->now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "advance a schedule");
    if (rc)
        return rc;
    int64_t n = pg_changes(r);
    PQclear(r);
    return n == 1;
}

static int pg_schedule_set_last_job(struct store *s, const char *id, const char *job_id,
                                    struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE schedules SET last_job_id = $2 WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, job_id);
    return pg_run(&p->w, sql, &a, NULL, e, "note a schedule's last job");
}

const struct store_schedule_ops pg_schedule_ops = {
    .version = STORE_SCHEDULE_VERSION,
    .add = pg_schedule_add,
    .get = pg_schedule_get,
    .list = pg_schedule_list,
    .set_paused = pg_schedule_set_paused,
    .del = pg_schedule_delete,
    .due = pg_schedule_due,
    .next_due = pg_schedule_next_due,
    .advance = pg_schedule_advance,
    .set_last_job = pg_schedule_set_last_job,
};
