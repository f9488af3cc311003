/* The PostgreSQL store's scraping sessions: the session rows, their frontier of pages and their
 * records, whose counts on the session row the schema's triggers keep in step. Several nodes may
 * fetch the pages of one session: a take skips the pages another node has locked, and the
 * frontier grows under the session row's lock, so the max_pages cap holds across nodes. Reads run
 * on the reader; writes on the writer, inside the committer's transaction. */
#include "store/pg_int.h"
#include "store/pg_sync.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_COLS                                                                               \
    "id, background_job_id, workspace, source_url, config, total_pages, completed_pages, "         \
    "failed_pages, skipped_pages, materials_processed, warnings, error_message, created_at, "      \
    "updated_at, extract_job_id, sync_job_id, extract_gen"

#define PAGE_COLS                                                                                  \
    "id, url, depth, source, status, attempt, not_before, http_status, error, records, "           \
    "fetch_ms, discovered_at, fetched_at, lastmod"

static void row_to_session(const PGresult *r, int row, struct scrape_session *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", PQgetvalue(r, row, 0));
    snprintf(s->job_id, sizeof s->job_id, "%s", PQgetvalue(r, row, 1));
    s->workspace = pg_dup(r, row, 2);
    s->source_url = pg_dup(r, row, 3);
    s->config = pg_dup(r, row, 4);
    s->total_pages = pg_i64(r, row, 5);
    s->completed_pages = pg_i64(r, row, 6);
    s->failed_pages = pg_i64(r, row, 7);
    s->skipped_pages = pg_i64(r, row, 8);
    s->materials = pg_i64(r, row, 9);
    s->warnings = pg_i64(r, row, 10);
    s->error_message = pg_dup(r, row, 11);
    s->created_at = pg_i64(r, row, 12);
    s->updated_at = pg_i64(r, row, 13);
    snprintf(s->extract_job_id, sizeof s->extract_job_id, "%s", PQgetvalue(r, row, 14));
    snprintf(s->sync_job_id, sizeof s->sync_job_id, "%s", PQgetvalue(r, row, 15));
    s->extract_gen = pg_int(r, row, 16);
}

/* The PAGE_COLS columns from column c of row. */
static void row_to_page(const PGresult *r, int row, int c, struct scrape_page *p)
{
    memset(p, 0, sizeof *p);
    p->id = pg_i64(r, row, c);
    p->url = pg_dup(r, row, c + 1);
    p->depth = pg_int(r, row, c + 2);
    p->source = pg_dup(r, row, c + 3);
    p->status = page_status_parse(PQgetvalue(r, row, c + 4));
    p->attempt = pg_int(r, row, c + 5);
    p->not_before = pg_i64(r, row, c + 6);
    p->http_status = pg_int(r, row, c + 7);
    p->error = pg_dup(r, row, c + 8);
    p->records = pg_int(r, row, c + 9);
    p->fetch_ms = pg_i64(r, row, c + 10);
    p->discovered_at = pg_i64(r, row, c + 11);
    p->fetched_at = pg_i64(r, row, c + 12);
    p->lastmod = pg_dup(r, row, c + 13);
}

/* ---- sessions ---- */

static int pg_session_add(struct store *s, const struct scrape_session *ss, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "INSERT INTO scrape_sessions (id, background_job_id, workspace, "
                              "source_url, config, created_at, updated_at) VALUES ($1, $2, $3, "
                              "$4, $5, $6, $6)";
    struct pg_args a = {0};
    pa_text(&a, ss->id);
    pa_text(&a, ss->job_id);
    pa_text(&a, ss->workspace);
    pa_text(&a, ss->source_url);
    pa_text(&a, ss->config);
    pa_i64(&a, ss->created_at);
    return pg_run(&p->w, sql, &a, NULL, e, "add scraping session");
}

static int pg_session_get(struct store *s, const char *workspace, const char *id, bool by_job,
                          struct scrape_session *out, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char by_id[] = "SELECT " SESSION_COLS " FROM scrape_sessions WHERE id = $1 AND "
                                "($2::text IS NULL OR workspace = $2)";
    static const char by_stage[] = "SELECT " SESSION_COLS " FROM scrape_sessions WHERE "
                                   "(background_job_id = $1 OR extract_job_id = $1 OR "
                                   "sync_job_id = $1) AND ($2::text IS NULL OR workspace = $2) "
                                   "LIMIT 1";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, workspace);
    PGresult *r;
    int rc = pg_run(pg_reader(p), by_job ? by_stage : by_id, &a, &r, e, "get scraping session");
    pg_reader_done(p);
    if (rc)
        return rc;
    if (PQntuples(r) > 0)
        row_to_session(r, 0, out);
    else
        rc = err_set(e, TRAWL_ENOTFOUND, false, "scraping session %s not found", id);
    PQclear(r);
    return rc;
}

static int pg_session_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                           struct scrape_session **out, size_t *n, int64_t *total, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char count[] = "SELECT count(*) FROM scrape_sessions WHERE workspace = $1";
    static const char list[] = "SELECT " SESSION_COLS " FROM scrape_sessions WHERE workspace = "
                               "$1 ORDER BY workspace, created_at DESC, id LIMIT $2 OFFSET $3";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, workspace);
    struct pg_conn *c = pg_reader(p);
    PGresult *r;
    int rc = pg_run(c, count, &a, &r, e, "count scraping sessions");
    if (!rc) {
        *total = pg_i64(r, 0, 0);
        PQclear(r);
        pa_i64(&a, limit ? (int64_t)limit : 20);
        pa_i64(&a, (int64_t)offset);
        rc = pg_run(c, list, &a, &r, e, "list scraping sessions");
    }
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct scrape_session *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_session(r, i, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

/* One UPDATE: the warnings are added under the row's lock, so notes from several nodes add up. */
static int pg_session_note(struct store *s, const char *id, const char *error, int warnings,
                           int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE scrape_sessions SET error_message = coalesce($2::text, "
                              "error_message), warnings = warnings + $3::int, updated_at = "
                              "$4::bigint WHERE id = $1";
    char *tmp;
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, pg_valid_text(error, &tmp));
    pa_int(&a, warnings);
    pa_i64(&a, now);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "note on scraping session");
    free(tmp);
    return rc;
}

/* Fenced by the old job in the WHERE: of two nodes that run the session again at once, the
 * second finds it run by the first's job and gets TRAWL_ESTALE. */
static int pg_session_set_job(struct store *s, const char *id, const char *old_job,
                              const char *job_id, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE scrape_sessions SET background_job_id = $2, error_message "
                              "= NULL, updated_at = $3 WHERE id = $1 AND background_job_id = $4";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, job_id);
    pa_i64(&a, now);
    pa_text(&a, old_job);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "set the job of a scraping session");
    if (rc)
        return rc;
    if (pg_changes(r) == 0)
        rc = err_set(e, TRAWL_ESTALE, false, "scraping session %s is not run by job %s", id,
                     old_job);
    PQclear(r);
    return rc;
}

/* ---- pages ---- */

/* The session row is locked first, in a statement of its own: a transaction that adds pages to a
 * session holds that lock from before its first page to its commit (the insert trigger takes it
 * anyway), so the adds of two nodes take turns, the count read under it is exact, and the INSERT,
 * whose snapshot is taken after the lock, sees every page the other node added. Taking the lock
 * before any page row also means two nodes adding the same URL cannot deadlock (one waiting on
 * the other's page, the other on its session row). The new pages are then one INSERT: the first
 * of each URL not yet known, in the order given, as many as the cap leaves room for; which is
 * what SQLite's row by row check gives. */
static int pg_pages_add(struct store *s, const char *session_id, const struct page_new *pg,
                        size_t n, int64_t cap, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char lock[] = "SELECT total_pages + skipped_pages FROM scrape_sessions WHERE id "
                               "= $1 FOR UPDATE";
    static const char sql[] =
        "WITH v AS (SELECT * FROM unnest($2::text[], $3::int[], $4::text[], $5::text[]) WITH "
        "ORDINALITY AS v (url, depth, source, lastmod, i)), "
        "f AS (SELECT DISTINCT ON (url) url, depth, source, lastmod, i FROM v WHERE NOT EXISTS "
        "(SELECT 1 FROM scrape_pages p WHERE p.session_id = $1::text AND p.url = v.url) ORDER BY "
        "url, i), "
        "k AS (SELECT f.*, row_number() OVER (ORDER BY i) AS k FROM f) "
        "INSERT INTO scrape_pages (session_id, url, depth, source, discovered_at, lastmod) "
        "SELECT $1::text, url, depth, source, $6::bigint, lastmod FROM k WHERE $7::bigint < 0 OR "
        "k <= $7::bigint ORDER BY i ON CONFLICT (session_id, url) DO NOTHING";
    if (n == 0)
        return 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    PGresult *r;
    int rc = pg_run(&p->w, lock, &a, &r, e, "add pages");
    if (rc)
        return rc;
    int64_t room = -1; /* no cap */
    if (cap > 0) {
        /* no session: nothing is below its cap, as SQLite's check finds */
        room = PQntuples(r) ? cap - pg_i64(r, 0, 0) : 0;
        room = room > 0 ? room : 0;
    }
    PQclear(r);
    if (room == 0)
        return 0;
    const char **urls = xcalloc(n, sizeof *urls), **depths = xcalloc(n, sizeof *depths);
    const char **sources = xcalloc(n, sizeof *sources), **mods = xcalloc(n, sizeof *mods);
    char(*num)[12] = xcalloc(n, sizeof *num);
    for (size_t i = 0; i < n; i++) {
        urls[i] = pg[i].url;
        snprintf(num[i], sizeof num[i], "%d", pg[i].depth);
        depths[i] = num[i];
        sources[i] = pg[i].source ? pg[i].source : "link";
        mods[i] = pg[i].lastmod;
    }
    char *arr[4] = {pg_array(urls, n), pg_array(depths, n), pg_array(sources, n),
                    pg_array(mods, n)};
    for (int k = 0; k < 4; k++)
        pa_text(&a, arr[k]);
    pa_i64(&a, now);
    pa_i64(&a, room);
    rc = pg_run(&p->w, sql, &a, &r, e, "add pages");
    for (int k = 0; k < 4; k++)
        free(arr[k]);
    free(urls);
    free(depths);
    free(sources);
    free(mods);
    free(num);
    if (rc)
        return rc;
    int added = (int)pg_changes(r);
    PQclear(r);
    return added;
}

/* One statement: the due pages are chosen and locked in a MATERIALIZED CTE with FOR UPDATE SKIP
 * LOCKED, so a page another node is taking is skipped rather than taken twice (and a page it took
 * and committed is no longer pending when the lock re-reads it), then marked fetching. When fewer
 * than limit were due, the same statement finds the earliest page not yet due. The pages' trigger
 * updates the session row, so the takes of two nodes still queue on that row's lock until the
 * first commits, but each gets a full batch of its own. */
static int pg_pages_take(struct store *s, const char *session_id, size_t limit, int64_t now,
                         struct scrape_page **out, size_t *n, int64_t *next_due, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH c AS MATERIALIZED (SELECT id FROM scrape_pages WHERE session_id = $1 AND status = "
        "'pending' AND not_before <= $2 ORDER BY depth, id LIMIT $3 FOR UPDATE SKIP LOCKED), "
        "u AS (UPDATE scrape_pages p SET status = 'fetching', attempt = p.attempt + 1 FROM c "
        "WHERE p.id = c.id AND p.status = 'pending' RETURNING p.id, p.url, p.depth, p.source, "
        "p.status, p.attempt, p.not_before, p.http_status, p.error, p.records, p.fetch_ms, "
        "p.discovered_at, p.fetched_at, p.lastmod), "
        "k AS (SELECT count(*) AS n FROM u) "
        "SELECT CASE WHEN k.n < $3 THEN (SELECT min(not_before) FROM scrape_pages WHERE "
        "session_id = $1 AND status = 'pending' AND not_before > $2) END, u.* FROM k LEFT JOIN "
        "u ON true ORDER BY u.depth, u.id";
    *out = NULL;
    *n = 0;
    *next_due = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_i64(&a, now);
    pa_i64(&a, (int64_t)limit);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "take pages");
    if (rc)
        return rc;
    int rows = PQntuples(r);
    *next_due = rows ? pg_i64(r, 0, 0) : 0;
    if (rows == 1 && pg_null(r, 0, 1))
        rows = 0; /* none taken: the row only carries next_due */
    struct scrape_page *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_page(r, i, 1, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

/* One UPDATE of a page this node took; its trigger moves the session's counts under the session
 * row's lock, so pages finished on several nodes are all counted. */
static int pg_page_finish(struct store *s, const char *session_id, const struct page_outcome *o,
                          int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "UPDATE scrape_pages SET status = $3::text, http_status = $4::int, error = $5::text, "
        "fetch_ms = $6::bigint, records = $7::int, not_before = $8::bigint, fetched_at = "
        "$9::bigint, content = $10::bytea, attempt = greatest(attempt - $11::int, 0), body = "
        "$12::bytea, content_type = $13::text, extracted_gen = CASE WHEN $3::text = 'done' THEN "
        "$14::int ELSE NULL END WHERE id = $2 AND session_id = $1";
    char *terr, *tct;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_i64(&a, o->page_id);
    pa_text(&a, page_status_name(o->status));
    if (o->http_status)
        pa_int(&a, o->http_status);
    else
        pa_text(&a, NULL);
    pa_text(&a, pg_valid_text(o->error, &terr));
    pa_i64(&a, o->fetch_ms);
    pa_int(&a, o->records);
    pa_i64(&a, o->not_before);
    pa_i64(&a, now);
    pa_bytes(&a, o->content, o->content_len);
    pa_int(&a, o->not_tried ? 1 : 0);
    pa_bytes(&a, o->body, o->body_len);
    pa_text(&a, pg_valid_text(o->content_type, &tct));
    pa_int(&a, o->extracted_gen);
    int rc = pg_run(&p->w, sql, &a, NULL, e, "finish page");
    free(terr);
    free(tct);
    return rc;
}

static int pg_pages_requeue(struct store *s, const char *session_id, bool failed, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char again[] = "UPDATE scrape_pages SET status = 'pending', attempt = 0, "
                                "not_before = 0, error = NULL WHERE session_id = $1 AND status = "
                                "'failed'";
    static const char back[] = "UPDATE scrape_pages SET status = 'pending' WHERE session_id = $1 "
                               "AND status = 'fetching'";
    struct pg_args a = {0};
    pa_text(&a, session_id);
    PGresult *r;
    int rc = pg_run(&p->w, failed ? again : back, &a, &r, e, "requeue pages");
    if (rc)
        return rc;
    int changed = (int)pg_changes(r);
    PQclear(r);
    return changed;
}

static int pg_pages_list(struct store *s, const char *session_id, int status, size_t limit,
                         size_t offset, struct scrape_page **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT " PAGE_COLS " FROM scrape_pages WHERE session_id = $1 AND "
                              "($2::text IS NULL OR status = $2) ORDER BY id LIMIT $3 OFFSET $4";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_text(&a, status >= 0 ? page_status_name(status) : NULL);
    pa_i64(&a, limit ? (int64_t)limit : 100);
    pa_i64(&a, (int64_t)offset);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list pages");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct scrape_page *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++)
        row_to_page(r, i, 0, &v[i]);
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

static int pg_page_content(struct store *s, const char *session_id, int64_t page_id, void **out,
                           size_t *len, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT content FROM scrape_pages WHERE session_id = $1 AND id = $2";
    *out = NULL;
    *len = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_i64(&a, page_id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "get page content");
    pg_reader_done(p);
    if (rc)
        return rc;
    size_t bl = 0;
    void *b = PQntuples(r) ? pg_bytes(r, 0, 0, &bl) : NULL;
    PQclear(r);
    if (b && bl > 0) {
        *out = b;
        *len = bl;
        return 0;
    }
    free(b); /* an empty one is none, as on SQLite */
    return err_set(e, TRAWL_ENOTFOUND, false, "page %lld has no stored content",
                   (long long)page_id);
}

/* ---- records ---- */

/* One upsert: a key another node is adding at the same moment makes this one wait for its commit
 * and then replace its data, as the later of two puts does on SQLite. */
static int pg_record_put(struct store *s, const char *session_id, const struct record_new *rec,
                         int64_t page_id, int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "INSERT INTO records (session_id, key, url, data, page_id, created_at, updated_at, gen) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (session_id, key) DO UPDATE SET url "
        "= excluded.url, data = excluded.data, page_id = excluded.page_id, updated_at = "
        "excluded.updated_at, gen = excluded.gen";
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_text(&a, rec->key);
    pa_text(&a, rec->url);
    pa_text(&a, rec->data);
    pa_i64(&a, page_id);
    pa_i64(&a, now);
    pa_int(&a, rec->gen);
    return pg_run(&p->w, sql, &a, NULL, e, "keep record");
}

static int pg_records_list(struct store *s, const char *session_id, int64_t after_id, size_t limit,
                           struct record_row **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT id, key, data, change, changed_fields FROM records WHERE "
                              "session_id = $1 AND id > $2 ORDER BY id LIMIT $3";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_i64(&a, after_id);
    pa_i64(&a, limit ? (int64_t)limit : 500);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list records");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct record_row *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].id = pg_i64(r, i, 0);
        v[i].key = pg_dup(r, i, 1);
        v[i].data = pg_dup(r, i, 2);
        v[i].change = pg_dup(r, i, 3);
        v[i].changed_fields = pg_dup(r, i, 4);
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

const struct store_session_ops pg_session_ops = {
    .version = STORE_SESSION_VERSION,
    .add = pg_session_add,
    .get = pg_session_get,
    .list = pg_session_list,
    .note = pg_session_note,
    .set_job = pg_session_set_job,
    .pages_add = pg_pages_add,
    .pages_take = pg_pages_take,
    .page_finish = pg_page_finish,
    .pages_requeue = pg_pages_requeue,
    .pages_list = pg_pages_list,
    .page_content = pg_page_content,
    .record_put = pg_record_put,
    .records_list = pg_records_list,
    .set_stages = pg_session_set_stages,
    .pages_to_extract = pg_pages_to_extract,
    .page_extracted = pg_page_extracted,
    .records_prune = pg_records_prune,
    .source_sync = pg_source_sync,
    .source_prune = pg_source_prune,
    .sync_begin = pg_sync_begin,
    .sync_counts = pg_sync_counts,
    .removed_list = pg_removed_list,
};
