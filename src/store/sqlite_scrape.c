/* The SQLite store's scraping sessions: the session rows, their frontier of pages and their
 * records (migration 0004, whose triggers keep a session's counts in step). Reads run on the
 * reader under its lock; writes on the writer, inside the committer's transaction. */
#include "store/sqlite_int.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SC_SESSION_ADD,
    SC_SESSION_GET,
    SC_SESSION_BY_JOB,
    SC_SESSION_LIST,
    SC_SESSION_COUNT,
    SC_SESSION_NOTE,
    SC_SESSION_SET_JOB,
    SC_PAGE_ADD,
    SC_PAGES_DUE,
    SC_PAGE_TAKE,
    SC_NEXT_DUE,
    SC_PAGE_FINISH,
    SC_REQUEUE_FETCHING,
    SC_REQUEUE_FAILED,
    SC_PAGES_LIST,
    SC_PAGE_CONTENT,
    SC_RECORD_PUT,
    SC_RECORDS_LIST,
    SC_COUNT_,
};

_Static_assert(SC_COUNT_ <= 24, "struct sq has room for the statements");

#define SESSION_COLS                                                                               \
    "id, background_job_id, workspace, source_url, config, total_pages, completed_pages, "         \
    "failed_pages, skipped_pages, materials_processed, warnings, error_message, created_at, "      \
    "updated_at, extract_job_id, sync_job_id, extract_gen"

#define PAGE_COLS                                                                                  \
    "id, url, depth, source, status, attempt, not_before, http_status, error, records, "           \
    "fetch_ms, discovered_at, fetched_at, lastmod"

static void row_to_session(sqlite3_stmt *st, struct scrape_session *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", (const char *)sqlite3_column_text(st, 0));
    snprintf(s->job_id, sizeof s->job_id, "%s", (const char *)sqlite3_column_text(st, 1));
    s->workspace = sq_col_dup(st, 2);
    s->source_url = sq_col_dup(st, 3);
    s->config = sq_col_dup(st, 4);
    s->total_pages = sqlite3_column_int64(st, 5);
    s->completed_pages = sqlite3_column_int64(st, 6);
    s->failed_pages = sqlite3_column_int64(st, 7);
    s->skipped_pages = sqlite3_column_int64(st, 8);
    s->materials = sqlite3_column_int64(st, 9);
    s->warnings = sqlite3_column_int64(st, 10);
    s->error_message = sq_col_dup(st, 11);
    s->created_at = sqlite3_column_int64(st, 12);
    s->updated_at = sqlite3_column_int64(st, 13);
    const unsigned char *x = sqlite3_column_text(st, 14), *y = sqlite3_column_text(st, 15);
    snprintf(s->extract_job_id, sizeof s->extract_job_id, "%s", x ? (const char *)x : "");
    snprintf(s->sync_job_id, sizeof s->sync_job_id, "%s", y ? (const char *)y : "");
    s->extract_gen = sqlite3_column_int(st, 16);
}

static void row_to_page(sqlite3_stmt *st, struct scrape_page *p)
{
    memset(p, 0, sizeof *p);
    p->id = sqlite3_column_int64(st, 0);
    p->url = sq_col_dup(st, 1);
    p->depth = sqlite3_column_int(st, 2);
    p->source = sq_col_dup(st, 3);
    p->status = page_status_parse((const char *)sqlite3_column_text(st, 4));
    p->attempt = sqlite3_column_int(st, 5);
    p->not_before = sqlite3_column_int64(st, 6);
    p->http_status = sqlite3_column_int(st, 7);
    p->error = sq_col_dup(st, 8);
    p->records = sqlite3_column_int(st, 9);
    p->fetch_ms = sqlite3_column_int64(st, 10);
    p->discovered_at = sqlite3_column_int64(st, 11);
    p->fetched_at = sqlite3_column_int64(st, 12);
    p->lastmod = sq_col_dup(st, 13);
}

static void session_row_fn(sqlite3_stmt *st, void *p)
{
    row_to_session(st, p);
}

static void page_row_fn(sqlite3_stmt *st, void *p)
{
    row_to_page(st, p);
}

/* ---- sessions ---- */

int sq_session_add(struct store *s, const struct scrape_session *ss, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO scrape_sessions (id, background_job_id, workspace, "
                          "source_url, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, "
                          "?6, ?6)",
                          &q->sc[SC_SESSION_ADD], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_SESSION_ADD];
    sqlite3_bind_text(st, 1, ss->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ss->job_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ss->workspace, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, ss->source_url, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, ss->config, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, ss->created_at);
    rc = sq_step_done(q, st, e, "add scraping session");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                   struct scrape_session *out, struct err *e)
{
    struct sq *q = (struct sq *)s;
    pthread_mutex_lock(&q->rlock);
    sqlite3_stmt **slot = &q->sc[by_job ? SC_SESSION_BY_JOB : SC_SESSION_GET];
    int rc = sq_prep_once(q->r,
                          by_job ? "SELECT " SESSION_COLS " FROM scrape_sessions WHERE "
                                   "(background_job_id = ?1 OR extract_job_id = ?1 OR "
                                   "sync_job_id = ?1) AND (?2 IS NULL OR workspace = ?2)"
                                 : "SELECT " SESSION_COLS " FROM scrape_sessions WHERE id = ?1 "
                                   "AND (?2 IS NULL OR workspace = ?2)",
                          slot, e);
    if (!rc) {
        sqlite3_stmt *st = *slot;
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sq_bind_text(st, 2, workspace);
        int step = sqlite3_step(st);
        if (step == SQLITE_ROW)
            row_to_session(st, out);
        else if (step == SQLITE_DONE)
            rc = err_set(e, TRAWL_ENOTFOUND, false, "scraping session %s not found", id);
        else
            rc = sq_err(q->r, step, e, "get scraping session");
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                    struct scrape_session **out, size_t *n, int64_t *total, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " SESSION_COLS " FROM scrape_sessions WHERE workspace = ?1 "
                          "ORDER BY workspace, created_at DESC, id LIMIT ?2 OFFSET ?3",
                          &q->sc[SC_SESSION_LIST], e);
    if (!rc)
        rc = sq_prep_once(q->r, "SELECT count(*) FROM scrape_sessions WHERE workspace = ?1",
                          &q->sc[SC_SESSION_COUNT], e);
    if (rc)
        goto out;
    sqlite3_stmt *st = q->sc[SC_SESSION_COUNT];
    sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *total = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (step != SQLITE_ROW) {
        rc = sq_err(q->r, step, e, "count scraping sessions");
        goto out;
    }
    st = q->sc[SC_SESSION_LIST];
    sqlite3_bind_text(st, 1, workspace, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, limit ? (sqlite3_int64)limit : 20);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)offset);
    void *rows;
    rc = sq_collect_rows(q->r, st, sizeof **out, session_row_fn, &rows, n, e,
                         "list scraping sessions");
    *out = rows;
    if (rc < 0) {
        scrape_session_array_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
out:
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_session_note(struct store *s, const char *id, const char *error, int warnings, int64_t now,
                    struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE scrape_sessions SET error_message = coalesce(?2, error_message), "
                          "warnings = warnings + ?3, "
                          "updated_at = ?4 WHERE id = ?1",
                          &q->sc[SC_SESSION_NOTE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_SESSION_NOTE];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sq_bind_text(st, 2, error);
    sqlite3_bind_int(st, 3, warnings);
    sqlite3_bind_int64(st, 4, now);
    rc = sq_step_done(q, st, e, "note on scraping session");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_session_set_job(struct store *s, const char *id, const char *old_job, const char *job_id,
                       int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc =
        sq_prep_once(q->w,
                     "UPDATE scrape_sessions SET background_job_id = ?2, error_message = NULL, "
                     "updated_at = ?3 WHERE id = ?1 AND background_job_id = ?4",
                     &q->sc[SC_SESSION_SET_JOB], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_SESSION_SET_JOB];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, job_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, old_job, -1, SQLITE_STATIC);
    rc = sq_step_done(q, st, e, "set the job of a scraping session");
    sqlite3_clear_bindings(st);
    if (!rc && sqlite3_changes(q->w) == 0)
        rc = err_set(e, TRAWL_ESTALE, false, "scraping session %s is not run by job %s", id,
                     old_job);
    return rc;
}

/* ---- pages ---- */

int sq_pages_add(struct store *s, const char *session_id, const struct page_new *p, size_t n,
                 int64_t cap, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          /* the cap is read from the session's counts, which the insert
                           * trigger keeps, so it holds row by row inside one statement batch */
                          "INSERT INTO scrape_pages (session_id, url, depth, source, "
                          "discovered_at, lastmod) SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE ?7 <= 0 "
                          "OR (SELECT total_pages + skipped_pages FROM scrape_sessions WHERE id "
                          "= ?1) < ?7 ON CONFLICT (session_id, url) DO NOTHING",
                          &q->sc[SC_PAGE_ADD], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_PAGE_ADD];
    int added = 0;
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_int64(st, 7, cap);
    for (size_t i = 0; i < n; i++) {
        sqlite3_bind_text(st, 2, p[i].url, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, p[i].depth);
        sqlite3_bind_text(st, 4, p[i].source ? p[i].source : "link", -1, SQLITE_STATIC);
        sq_bind_text(st, 6, p[i].lastmod);
        rc = sq_step_done(q, st, e, "add pages");
        if (rc)
            break;
        added += sqlite3_changes(q->w);
    }
    sqlite3_clear_bindings(st);
    return rc ? rc : added;
}

int sq_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                  struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    *next_due = 0;
    int rc = sq_prep_once(q->w,
                          "SELECT " PAGE_COLS " FROM scrape_pages INDEXED BY scrape_pages_status "
                          "WHERE session_id = ?1 AND status = 'pending' AND not_before <= ?2 "
                          "ORDER BY session_id, status, depth, id LIMIT ?3",
                          &q->sc[SC_PAGES_DUE], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "UPDATE scrape_pages SET status = 'fetching', attempt = attempt + 1 "
                          "WHERE id = ?1 AND status = 'pending'",
                          &q->sc[SC_PAGE_TAKE], e);
    if (!rc)
        rc = sq_prep_once(q->w,
                          "SELECT min(not_before) FROM scrape_pages WHERE session_id = ?1 AND "
                          "status = 'pending' AND not_before > ?2",
                          &q->sc[SC_NEXT_DUE], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_PAGES_DUE];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
    void *rows;
    size_t cnt;
    rc = sq_collect_rows(q->w, st, sizeof **out, page_row_fn, &rows, &cnt, e, "find due pages");
    sqlite3_clear_bindings(st);
    struct scrape_page *pages = rows;
    if (rc < 0) {
        scrape_page_array_free(pages, cnt);
        return rc;
    }
    sqlite3_stmt *up = q->sc[SC_PAGE_TAKE];
    for (size_t i = 0; i < cnt; i++) {
        sqlite3_bind_int64(up, 1, pages[i].id);
        rc = sq_step_done(q, up, e, "take page");
        if (rc) {
            scrape_page_array_free(pages, cnt);
            return rc;
        }
        pages[i].status = PAGE_FETCHING;
        pages[i].attempt++;
    }
    if (cnt < limit) {
        sqlite3_stmt *nd = q->sc[SC_NEXT_DUE];
        sqlite3_bind_text(nd, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(nd, 2, now);
        if (sqlite3_step(nd) == SQLITE_ROW)
            *next_due = sqlite3_column_int64(nd, 0);
        sqlite3_reset(nd);
        sqlite3_clear_bindings(nd);
    }
    *out = pages;
    *n = cnt;
    return (int)cnt;
}

int sq_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                   int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "UPDATE scrape_pages SET status = ?3, http_status = ?4, error = ?5, "
                          "fetch_ms = ?6, records = ?7, not_before = ?8, fetched_at = ?9, "
                          "content = ?10, attempt = max(attempt - ?11, 0), body = ?12, "
                          "content_type = ?13, extracted_gen = CASE WHEN ?3 = 'done' THEN ?14 "
                          "ELSE NULL END WHERE id = ?2 AND session_id = ?1",
                          &q->sc[SC_PAGE_FINISH], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_PAGE_FINISH];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, o->page_id);
    sqlite3_bind_text(st, 3, page_status_name(o->status), -1, SQLITE_STATIC);
    if (o->http_status)
        sqlite3_bind_int(st, 4, o->http_status);
    else
        sqlite3_bind_null(st, 4);
    sq_bind_text(st, 5, o->error);
    sqlite3_bind_int64(st, 6, o->fetch_ms);
    sqlite3_bind_int(st, 7, o->records);
    sqlite3_bind_int64(st, 8, o->not_before);
    sqlite3_bind_int64(st, 9, now);
    if (o->content)
        sqlite3_bind_blob64(st, 10, o->content, o->content_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 10);
    sqlite3_bind_int(st, 11, o->not_tried ? 1 : 0);
    if (o->body)
        sqlite3_bind_blob64(st, 12, o->body, o->body_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 12);
    sq_bind_text(st, 13, o->content_type);
    sqlite3_bind_int(st, 14, o->extracted_gen);
    rc = sq_step_done(q, st, e, "finish page");
    sqlite3_clear_bindings(st);
    return rc;
}

int sq_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int k = failed ? SC_REQUEUE_FAILED : SC_REQUEUE_FETCHING;
    int rc = sq_prep_once(q->w,
                          failed ? "UPDATE scrape_pages SET status = 'pending', attempt = 0, "
                                   "not_before = 0, error = NULL WHERE session_id = ?1 AND "
                                   "status = 'failed'"
                                 : "UPDATE scrape_pages SET status = 'pending' WHERE "
                                   "session_id = ?1 AND status = 'fetching'",
                          &q->sc[k], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[k];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    rc = sq_step_done(q, st, e, "requeue pages");
    return rc ? rc : sqlite3_changes(q->w);
}

int sq_pages_list(struct store *s, const char *session_id, int status, size_t limit, size_t offset,
                  struct scrape_page **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT " PAGE_COLS " FROM scrape_pages WHERE session_id = ?1 AND (?2 "
                          "IS NULL OR status = ?2) ORDER BY id LIMIT ?3 OFFSET ?4",
                          &q->sc[SC_PAGES_LIST], e);
    if (!rc) {
        sqlite3_stmt *st = q->sc[SC_PAGES_LIST];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        if (status >= 0)
            sqlite3_bind_text(st, 2, page_status_name(status), -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : 100);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
        void *rows;
        rc = sq_collect_rows(q->r, st, sizeof **out, page_row_fn, &rows, n, e, "list pages");
        sqlite3_clear_bindings(st);
        *out = rows;
        if (rc < 0) {
            scrape_page_array_free(*out, *n);
            *out = NULL;
            *n = 0;
        }
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

int sq_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                    size_t *len, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *len = 0;
    pthread_mutex_lock(&q->rlock);
    int rc =
        sq_prep_once(q->r, "SELECT content FROM scrape_pages WHERE session_id = ?1 AND id = ?2",
                     &q->sc[SC_PAGE_CONTENT], e);
    if (!rc) {
        sqlite3_stmt *st = q->sc[SC_PAGE_CONTENT];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, page_id);
        int step = sqlite3_step(st);
        const void *b = step == SQLITE_ROW ? sqlite3_column_blob(st, 0) : NULL;
        int bl = step == SQLITE_ROW ? sqlite3_column_bytes(st, 0) : 0;
        if (b && bl > 0) {
            *out = xmalloc((size_t)bl);
            memcpy(*out, b, (size_t)bl);
            *len = (size_t)bl;
        } else if (step == SQLITE_ROW || step == SQLITE_DONE) {
            rc = err_set(e, TRAWL_ENOTFOUND, false, "page %lld has no stored content",
                         (long long)page_id);
        } else {
            rc = sq_err(q->r, step, e, "get page content");
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}

/* ---- records ---- */

int sq_record_put(struct store *s, const char *session_id, const struct record_new *r,
                  int64_t page_id, int64_t now, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc =
        sq_prep_once(q->w,
                     "INSERT INTO records (session_id, key, url, data, page_id, created_at, "
                     "updated_at, gen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7) ON CONFLICT "
                     "(session_id, key) DO UPDATE SET url = excluded.url, data = excluded.data, "
                     "page_id = excluded.page_id, updated_at = excluded.updated_at, gen = "
                     "excluded.gen",
                     &q->sc[SC_RECORD_PUT], e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->sc[SC_RECORD_PUT];
    sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->key, -1, SQLITE_STATIC);
    sq_bind_text(st, 3, r->url);
    sqlite3_bind_text(st, 4, r->data, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, page_id);
    sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_int(st, 7, r->gen);
    rc = sq_step_done(q, st, e, "keep record");
    sqlite3_clear_bindings(st);
    return rc;
}

void sq_record_row(sqlite3_stmt *st, void *p)
{
    struct record_row *r = p;
    r->id = sqlite3_column_int64(st, 0);
    r->key = sq_col_dup(st, 1);
    r->data = sq_col_dup(st, 2);
    r->change = sq_col_dup(st, 3);
    r->changed_fields = sq_col_dup(st, 4);
}

int sq_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                    struct record_row **out, size_t *n, struct err *e)
{
    struct sq *q = (struct sq *)s;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&q->rlock);
    int rc = sq_prep_once(q->r,
                          "SELECT id, key, data, change, changed_fields FROM records WHERE "
                          "session_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
                          &q->sc[SC_RECORDS_LIST], e);
    if (!rc) {
        sqlite3_stmt *st = q->sc[SC_RECORDS_LIST];
        sqlite3_bind_text(st, 1, session_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, after_id);
        sqlite3_bind_int64(st, 3, limit ? (sqlite3_int64)limit : 500);
        void *rows;
        rc = sq_collect_rows(q->r, st, sizeof **out, sq_record_row, &rows, n, e, "list records");
        sqlite3_clear_bindings(st);
        *out = rows;
        if (rc < 0) {
            record_row_array_free(*out, *n);
            *out = NULL;
            *n = 0;
        }
    }
    pthread_mutex_unlock(&q->rlock);
    return rc;
}
