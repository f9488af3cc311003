/* The SQLite store's share of a session's extract and sync stages (migration 0008): the pages
 * whose records are of an older extraction generation, with their kept bodies; the records a new
 * generation did not find again; and the source's destination, which each sync updates and the
 * next one of the same source is compared with. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SY_SET_STAGES,
    SY_TO_EXTRACT,
    SY_EXTRACTED,
    SY_PRUNE,
    SY_SRC_GET,
    SY_SRC_ADD,
    SY_SRC_SEEN,
    SY_SRC_SET,
    SY_MARK,
    SY_KEEP_REMOVED,
    SY_DROP_REMOVED,
    SY_REMOVED_LIST,
    SY_BEGIN,
    SY_COUNTS,
    SY_REMOVED_COUNT,
    SY_COUNT_,
};

_Static_assert(SY_COUNT_ <= 16, "struct sq has room for the statements");

int sq_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                          int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE scrape_sessions SET extract_job_id = coalesce(?2, "
                          "extract_job_id), sync_job_id = coalesce(?3, sync_job_id), config = "
                          "coalesce(?4, config), extract_gen = CASE WHEN ?5 >= 0 THEN ?5 ELSE "
                          "extract_gen END, updated_at = ?6 WHERE id = ?1",
                          &q->sy[SY_SET_STAGES], e);
    if (rc)
        return rc;
    sqlite3_stmt *p = q->sy[SY_SET_STAGES];
    sqlite3_bind_text(p, 1, id, -1, SQLITE_STATIC);
    sq_bind_text(p, 2, st->extract_job_id);
    sq_bind_text(p, 3, st->sync_job_id);
    sq_bind_text(p, 4, st->config);
    sqlite3_bind_int(p, 5, st->extract_gen);
    sqlite3_bind_int64(p, 6, now);
    rc = sq_step_done(q, p, e, "set a session's stages");
    sqlite3_clear_bindings(p);
    if (!rc && sqlite3_changes(q->w) == 0)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "scraping session %s not found", id);
    return rc;
}

static void body_fn(sqlite3_stmt *st, void *p)
{
    struct page_body *b = p;
    memset(b, 0, sizeof *b);
    b->id = sqlite3_column_int64(st, 0);
    b->url = sq_col_dup(st, 1);
    b->content_type = sq_col_dup(st, 2);
    const void *blob = sqlite3_column_blob(st, 3);
    int n = sqlite3_column_bytes(st, 3);
    if (blob && n > 0) {
        b->body = xmalloc((size_t)n);
        memcpy(b->body, blob, (size_t)n);
        b->body_len = (size_t)n;
    }
}

int sq_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                        size_t limit, struct page_body **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    /* by rowid from the cursor on: a session's pages lie together, and the status index would
     * sort every done page of the session again for each batch */
    int rc = sq_prep_once(q->r,
                          "SELECT id, url, content_type, body FROM scrape_pages NOT INDEXED "
                          "WHERE id > ?3 AND session_id = ?1 AND status = 'done' AND "
                          "(extracted_gen IS NULL OR extracted_gen <> ?2) ORDER BY id LIMIT ?4",
                          &q->sy[SY_TO_EXTRACT], e);
    if (!rc) {
        sqlite3_stmt *st = q->sy[SY_TO_EXTRACT];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, gen);
        sqlite3_bind_int64(st, 3, after_id);
        sqlite3_bind_int64(st, 4, limit ? (sqlite3_int64)limit : 100);
        void *rows;
        rc = sq_collect_rows(q->r, st, sizeof **out, body_fn, &rows, n, e, "find pages to extract");
        *out = rows;
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                      int records, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE scrape_pages SET extracted_gen = ?3, records = ?4 WHERE id = ?2 "
                          "AND session_id = ?1",
                          &q->sy[SY_EXTRACTED], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sy[SY_EXTRACTED];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, page_id);
    sqlite3_bind_int(st, 3, gen);
    sqlite3_bind_int(st, 4, records);
    return sq_step_done(q, st, e, "mark a page extracted");
}

int sq_records_prune(struct store *s, const char *session_id, int gen, struct err *e)
{
    struct sq *q = (struct sq *)s;
    /* the records of a page fetched before bodies were kept cannot be made again: they stay */
    int rc = sq_prep_once(q->w,
                          "DELETE FROM records WHERE session_id = ?1 AND gen < ?2 AND (page_id IS "
                          "NULL OR page_id NOT IN (SELECT id FROM scrape_pages WHERE session_id = "
                          "?1 AND status = 'done' AND body IS NULL))",
                          &q->sy[SY_PRUNE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sy[SY_PRUNE];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, gen);
    rc = sq_step_done(q, st, e, "drop records of an older extraction");
    return rc ? rc : sqlite3_changes(q->w);
}

/* ---- the destination ---- */

static int mark(struct sq *q, int64_t id, const char *change, const char *fields, struct err *e)
{
    int rc = sq_prep_once(q->w, "UPDATE records SET change = ?2, changed_fields = ?3 WHERE id = ?1",
                          &q->sy[SY_MARK], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sy[SY_MARK];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_text(st, 2, change, -1, SQLITE_STATIC);
    sq_bind_text(st, 3, fields);
    rc = sq_step_done(q, st, e, "mark a record's change");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_source_sync(struct store *s, struct sync_batch *b, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "SELECT hash, data, sync_job_id FROM source_records WHERE workspace = "
                          "?1 AND source = ?2 AND key = ?3",
                          &q->sy[SY_SRC_GET], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "INSERT INTO source_records (workspace, source, key, hash, data, "
                          "session_id, sync_job_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                          "?7, ?8)",
                          &q->sy[SY_SRC_ADD], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "UPDATE source_records SET session_id = ?4, sync_job_id = ?5, "
                          "updated_at = ?6 WHERE workspace = ?1 AND source = ?2 AND key = ?3",
                          &q->sy[SY_SRC_SEEN], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "UPDATE source_records SET hash = ?4, data = ?5, session_id = ?6, "
                          "sync_job_id = ?7, updated_at = ?8 WHERE workspace = ?1 AND source = ?2 "
                          "AND key = ?3",
                          &q->sy[SY_SRC_SET], e);
    if (rc)
        return rc;
    b->added = b->changed = b->unchanged = 0;
    for (size_t i = 0; i < b->n && !rc; i++) {
        const struct record_row *r = &b->recs[i];
        char hash[65];
        record_hash(r->data, hash);
        sqlite3_stmt *g = q->sy[SY_SRC_GET];
        sqlite3_bind_text(g, 1, b->workspace, -1, SQLITE_STATIC);
        sqlite3_bind_text(g, 2, b->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(g, 3, r->key, -1, SQLITE_STATIC);
        int step = sqlite3_step(g);
        if (step != SQLITE_ROW && step != SQLITE_DONE) {
            rc = sq_err(q->w, step, e, "read the destination");
            sqlite3_reset(g);
            break;
        }
        bool found = step == SQLITE_ROW;
        char *old_hash = found ? sq_col_dup(g, 0) : NULL;
        char *old_data = found ? sq_col_dup(g, 1) : NULL;
        bool seen = found && sqlite3_column_text(g, 2) &&
                    strcmp((const char *)sqlite3_column_text(g, 2), b->sync_job_id) == 0;
        sqlite3_reset(g);
        const char *change = NULL;
        char *fields = NULL;
        sqlite3_stmt *w = NULL;
        if (seen) {
            /* this sync delivered it already, in an attempt that did not finish */
        } else if (!found) {
            w = q->sy[SY_SRC_ADD];
            sqlite3_bind_text(w, 4, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 5, r->data, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 6, b->session_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 7, b->sync_job_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(w, 8, b->now);
            change = "new";
            b->added++;
        } else if (strcmp(old_hash, hash) == 0) {
            w = q->sy[SY_SRC_SEEN];
            sqlite3_bind_text(w, 4, b->session_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 5, b->sync_job_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(w, 6, b->now);
            change = "unchanged";
            b->unchanged++;
        } else {
            w = q->sy[SY_SRC_SET];
            sqlite3_bind_text(w, 4, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 5, r->data, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 6, b->session_id, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 7, b->sync_job_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(w, 8, b->now);
            change = "changed";
            if (b->diff)
                fields = record_fields_changed(old_data, r->data);
            b->changed++;
        }
        if (w) {
            sqlite3_bind_text(w, 1, b->workspace, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 2, b->source, -1, SQLITE_STATIC);
            sqlite3_bind_text(w, 3, r->key, -1, SQLITE_STATIC);
            rc = sq_step_done(q, w, e, "deliver a record");
            sqlite3_clear_bindings(w);
            if (!rc)
                rc = mark(q, r->id, change, fields, e);
        }
        free(fields);
        free(old_hash);
        free(old_data);
    }
    return rc;
}

int sq_source_prune(struct store *s, const struct sync_batch *b, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT OR REPLACE INTO sync_removed (session_id, key, data, "
                          "sync_job_id, removed_at) SELECT ?3, key, data, ?4, ?5 FROM "
                          "source_records WHERE workspace = ?1 AND source = ?2 AND sync_job_id <> "
                          "?4",
                          &q->sy[SY_KEEP_REMOVED], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "DELETE FROM source_records WHERE workspace = ?1 AND source = ?2 AND "
                          "sync_job_id <> ?4",
                          &q->sy[SY_DROP_REMOVED], e);
    if (rc)
        return rc;
    /* the same parameters for both; the DELETE has no ?3 nor ?5, whose binding it ignores */
    for (int k = 0; k < 2 && !rc; k++) {
        sqlite3_stmt *st = q->sy[k == 0 ? SY_KEEP_REMOVED : SY_DROP_REMOVED];
        sqlite3_bind_text(st, 1, b->workspace, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, b->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, b->session_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, b->sync_job_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, b->now);
        rc = sq_step_done(q, st, e, k == 0 ? "keep removed records" : "drop removed records");
        sqlite3_clear_bindings(st);
    }
    return rc ? rc : sqlite3_changes(q->w);
}

int sq_sync_begin(struct store *s, const struct sync_batch *b, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc =
        sq_prep_once(q->w, "DELETE FROM sync_removed WHERE session_id = ?1 AND sync_job_id <> ?2",
                     &q->sy[SY_BEGIN], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sy[SY_BEGIN];
    sqlite3_bind_text(st, 1, b->session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b->sync_job_id, -1, SQLITE_STATIC);
    rc = sq_step_done(q, st, e, "start a sync");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e)
{
    struct sq *q = (struct sq *)s;
    static const char *const names[] = {"new", "changed", "unchanged"};
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT change, count(*) FROM records WHERE session_id = ?1 AND change "
                          "IS NOT NULL GROUP BY change",
                          &q->sy[SY_COUNTS], e);
    if (!rc)
        rc = sq_prep_once(q->r, "SELECT count(*) FROM sync_removed WHERE session_id = ?1",
                          &q->sy[SY_REMOVED_COUNT], e);
    int step = SQLITE_DONE;
    if (!rc) {
        sqlite3_stmt *st = q->sy[SY_COUNTS];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *c = (const char *)sqlite3_column_text(st, 0);
            for (int k = 0; k < 3; k++)
                if (c && strcmp(c, names[k]) == 0)
                    counts[k] = sqlite3_column_int64(st, 1);
        }
        sqlite3_reset(st);
        if (step != SQLITE_DONE)
            rc = sq_err(q->r, step, e, "count a sync's records");
    }
    if (!rc) {
        sqlite3_stmt *st = q->sy[SY_REMOVED_COUNT];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            counts[3] = sqlite3_column_int64(st, 0);
        else
            rc = sq_err(q->r, step, e, "count a sync's removed records");
        sqlite3_reset(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

static void removed_fn(sqlite3_stmt *st, void *p)
{
    struct record_row *r = p;
    memset(r, 0, sizeof *r);
    r->key = sq_col_dup(st, 0);
    r->data = sq_col_dup(st, 1);
    r->change = xstrdup("removed");
}

int sq_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                    struct record_row **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT key, data FROM sync_removed WHERE session_id = ?1 AND key > ?2 "
                          "ORDER BY session_id, key LIMIT ?3",
                          &q->sy[SY_REMOVED_LIST], e);
    if (!rc) {
        sqlite3_stmt *st = q->sy[SY_REMOVED_LIST];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, after_key ? after_key : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : 500);
        void *rows;
        rc = sq_collect_rows(q->r, st, sizeof **out, removed_fn, &rows, n, e,
                             "list removed records");
        *out = rows;
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}
