/* The PostgreSQL store's share of a session's extract and sync stages: the pages whose records
 * are of an older extraction generation, with their kept bodies; the records a new generation did
 * not find again; and the source's destination, which each sync updates and the next one of the
 * same source is compared with. Syncs of one source take turns under an advisory lock, as they do
 * on SQLite's single writer, so that what a sync reads of the destination is still so when it
 * writes. Reads run on the reader; writes on the writer, inside the committer's transaction. */
#include "store/pg_sync.h"
#include "store/pg_int.h"

#include "base/xalloc.h"

#include <jansson.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SYNC_LOCK_CLASS 0x73796e63 /* "sync": the first key of a source's advisory lock */

int pg_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                          int64_t now, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE scrape_sessions SET extract_job_id = coalesce($2::text, "
                              "extract_job_id), sync_job_id = coalesce($3::text, sync_job_id), "
                              "config = coalesce($4::text, config), extract_gen = CASE WHEN "
                              "$5::int >= 0 THEN $5::int ELSE extract_gen END, updated_at = "
                              "$6::bigint WHERE id = $1";
    struct pg_args a = {0};
    pa_text(&a, id);
    pa_text(&a, st->extract_job_id);
    pa_text(&a, st->sync_job_id);
    pa_text(&a, st->config);
    pa_int(&a, st->extract_gen);
    pa_i64(&a, now);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "set a session's stages");
    if (rc)
        return rc;
    if (pg_changes(r) == 0)
        rc = err_set(e, TRAWL_ENOTFOUND, false, "scraping session %s not found", id);
    PQclear(r);
    return rc;
}

int pg_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                        size_t limit, struct page_body **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT id, url, content_type, body FROM scrape_pages WHERE id > $3 "
                              "AND session_id = $1 AND status = 'done' AND (extracted_gen IS "
                              "NULL OR extracted_gen <> $2) ORDER BY id LIMIT $4";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_int(&a, gen);
    pa_i64(&a, after_id);
    pa_i64(&a, limit ? (int64_t)limit : 100);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "find pages to extract");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct page_body *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].id = pg_i64(r, i, 0);
        v[i].url = pg_dup(r, i, 1);
        v[i].content_type = pg_dup(r, i, 2);
        v[i].body = pg_bytes(r, i, 3, &v[i].body_len);
        if (v[i].body_len == 0) {
            free(v[i].body); /* an empty body is none, as on SQLite */
            v[i].body = NULL;
        }
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}

int pg_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                      int records, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "UPDATE scrape_pages SET extracted_gen = $3, records = $4 WHERE id "
                              "= $2 AND session_id = $1";
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_i64(&a, page_id);
    pa_int(&a, gen);
    pa_int(&a, records);
    return pg_run(&p->w, sql, &a, NULL, e, "mark a page extracted");
}

int pg_records_prune(struct store *s, const char *session_id, int gen, struct err *e)
{
    struct pg *p = (struct pg *)s;
    /* the records of a page fetched before bodies were kept cannot be made again: they stay */
    static const char sql[] = "DELETE FROM records WHERE session_id = $1 AND gen < $2 AND "
                              "(page_id IS NULL OR page_id NOT IN (SELECT id FROM scrape_pages "
                              "WHERE session_id = $1 AND status = 'done' AND body IS NULL))";
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_int(&a, gen);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "drop records of an older extraction");
    if (rc)
        return rc;
    int dropped = (int)pg_changes(r);
    PQclear(r);
    return dropped;
}

/* ---- the destination ---- */

/* The source's advisory lock, held to the end of the transaction: the syncs of one source (its
 * workspace and start URL), on any node, take turns, as on SQLite's one writer. Two sources whose
 * keys collide only wait for each other. */
static int source_lock(struct pg *p, const struct sync_batch *b, struct err *e)
{
    static const char sql[] = "SELECT pg_advisory_xact_lock($1::int, $2::int)";
    size_t wl = strlen(b->workspace), sl = strlen(b->source);
    char *k = xmalloc(wl + sl + 1);
    memcpy(k, b->workspace, wl);
    k[wl] = 0; /* a workspace cannot have a NUL: the pair is unambiguous */
    memcpy(k + wl + 1, b->source, sl);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)k, wl + sl + 1, md);
    free(k);
    uint32_t h = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    struct pg_args a = {0};
    pa_int(&a, SYNC_LOCK_CLASS);
    pa_int(&a, (int)(h & 0x7fffffff));
    return pg_run(&p->w, sql, &a, NULL, e, "lock the destination");
}

struct pick {
    const struct record_row *r;
    size_t i; /* its place in the batch */
};

static int pick_cmp(const void *pa, const void *pb)
{
    const struct pick *a = pa, *b = pb;
    int c = strcmp(a->r->key, b->r->key);
    return c ? c : a->i < b->i ? -1 : a->i > b->i;
}

/* Under the source's lock: one read of what the destination has of the batch's keys, then, once
 * C has hashed and compared them, one statement that writes the records delivered and marks them
 * on the session. The hash and the diff are made in C, as on SQLite. */
int pg_source_sync(struct store *s, struct sync_batch *b, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char old[] = "SELECT key, hash, data, sync_job_id FROM source_records WHERE "
                              "workspace = $1 AND source = $2 AND key = ANY ($3::text[]) ORDER "
                              "BY key";
    static const char put[] =
        "WITH v AS (SELECT * FROM unnest($3::text[], $4::text[], $5::text[]) AS v (key, hash, "
        "data)), "
        "up AS (INSERT INTO source_records (workspace, source, key, hash, data, session_id, "
        "sync_job_id, updated_at) SELECT $1::text, $2::text, key, hash, data, $6::text, $7::text, "
        "$8::bigint FROM v ON CONFLICT (workspace, source, key) DO UPDATE SET hash = "
        "excluded.hash, data = excluded.data, session_id = excluded.session_id, sync_job_id = "
        "excluded.sync_job_id, updated_at = excluded.updated_at RETURNING 1), "
        "m AS (UPDATE records r SET change = m.change, changed_fields = m.fields FROM "
        "unnest($9::bigint[], $10::text[], $11::text[]) AS m (id, change, fields) WHERE r.id = "
        "m.id RETURNING 1) "
        "SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM m)";
    b->added = b->changed = b->unchanged = 0;
    if (b->n == 0)
        return 0;
    int rc = source_lock(p, b, e);
    if (rc)
        return rc;
    size_t n = b->n;
    /* by key, so that the rows read (in the same order: keys are COLLATE "C", strcmp's order)
     * are met in one pass, and a key given twice is delivered once, as SQLite's second look finds
     * it delivered by this sync */
    struct pick *pk = xcalloc(n, sizeof *pk);
    const char **keys = xcalloc(n, sizeof *keys), **hashes = xcalloc(n, sizeof *hashes);
    const char **data = xcalloc(n, sizeof *data), **ids = xcalloc(n, sizeof *ids);
    const char **changes = xcalloc(n, sizeof *changes);
    char **fields = xcalloc(n, sizeof *fields);
    char(*hash)[65] = xcalloc(n, sizeof *hash);
    char(*num)[24] = xcalloc(n, sizeof *num);
    for (size_t i = 0; i < n; i++) {
        pk[i] = (struct pick){&b->recs[i], i};
        keys[i] = b->recs[i].key;
    }
    qsort(pk, n, sizeof *pk, pick_cmp);
    char *karr = pg_array(keys, n);
    struct pg_args a = {0};
    pa_text(&a, b->workspace);
    pa_text(&a, b->source);
    pa_text(&a, karr);
    PGresult *r;
    rc = pg_run(&p->w, old, &a, &r, e, "read the destination");
    free(karr);
    if (rc)
        goto out;
    size_t nw = 0;
    int row = 0, rows = PQntuples(r);
    const char *prev = NULL;
    for (size_t j = 0; j < n; j++) {
        const struct record_row *rec = pk[j].r;
        if (prev && strcmp(prev, rec->key) == 0)
            continue;
        prev = rec->key;
        while (row < rows && strcmp(PQgetvalue(r, row, 0), rec->key) < 0)
            row++;
        bool found = row < rows && strcmp(PQgetvalue(r, row, 0), rec->key) == 0;
        if (found && strcmp(PQgetvalue(r, row, 3), b->sync_job_id) == 0)
            continue; /* this sync delivered it already, in an attempt that did not finish */
        record_hash(rec->data, hash[nw]);
        if (!found) {
            changes[nw] = "new";
            b->added++;
        } else if (strcmp(PQgetvalue(r, row, 1), hash[nw]) == 0) {
            changes[nw] = "unchanged";
            b->unchanged++;
        } else {
            changes[nw] = "changed";
            if (b->diff)
                fields[nw] = record_fields_changed(PQgetvalue(r, row, 2), rec->data);
            b->changed++;
        }
        keys[nw] = rec->key;
        hashes[nw] = hash[nw];
        data[nw] = rec->data;
        snprintf(num[nw], sizeof num[nw], "%lld", (long long)rec->id);
        ids[nw] = num[nw];
        nw++;
    }
    PQclear(r);
    if (nw) {
        char *arr[6] = {pg_array(keys, nw),    pg_array(hashes, nw),
                        pg_array(data, nw),    pg_array(ids, nw),
                        pg_array(changes, nw), pg_array((const char *const *)fields, nw)};
        struct pg_args w = {0};
        pa_text(&w, b->workspace);
        pa_text(&w, b->source);
        for (int k = 0; k < 3; k++)
            pa_text(&w, arr[k]);
        pa_text(&w, b->session_id);
        pa_text(&w, b->sync_job_id);
        pa_i64(&w, b->now);
        for (int k = 3; k < 6; k++)
            pa_text(&w, arr[k]);
        rc = pg_run(&p->w, put, &w, NULL, e, "deliver records");
        for (int k = 0; k < 6; k++)
            free(arr[k]);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(fields[i]);
    free(pk);
    free(keys);
    free(hashes);
    free(data);
    free(ids);
    free(changes);
    free(fields);
    free(hash);
    free(num);
    return rc;
}

/* Under the source's lock, one statement: the rows this sync did not deliver leave the
 * destination and go to the session's removed list (replacing what an earlier attempt put
 * there, as SQLite's INSERT OR REPLACE does). */
int pg_source_prune(struct store *s, const struct sync_batch *b, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "WITH d AS (DELETE FROM source_records WHERE workspace = $1 AND source = $2 AND "
        "sync_job_id <> $4::text RETURNING key, data), "
        "k AS (INSERT INTO sync_removed (session_id, key, data, sync_job_id, removed_at) SELECT "
        "$3::text, key, data, $4::text, $5::bigint FROM d ON CONFLICT (session_id, key) DO UPDATE "
        "SET data = excluded.data, sync_job_id = excluded.sync_job_id, removed_at = "
        "excluded.removed_at) "
        "SELECT count(*) FROM d";
    int rc = source_lock(p, b, e);
    if (rc)
        return rc;
    struct pg_args a = {0};
    pa_text(&a, b->workspace);
    pa_text(&a, b->source);
    pa_text(&a, b->session_id);
    pa_text(&a, b->sync_job_id);
    pa_i64(&a, b->now);
    PGresult *r;
    rc = pg_run(&p->w, sql, &a, &r, e, "drop removed records");
    if (rc)
        return rc;
    int removed = (int)pg_i64(r, 0, 0);
    PQclear(r);
    return removed;
}

/* One DELETE of the session's own rows: a session has one sync running at a time. */
int pg_sync_begin(struct store *s, const struct sync_batch *b, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "DELETE FROM sync_removed WHERE session_id = $1 AND sync_job_id <> "
                              "$2";
    struct pg_args a = {0};
    pa_text(&a, b->session_id);
    pa_text(&a, b->sync_job_id);
    return pg_run(&p->w, sql, &a, NULL, e, "start a sync");
}

int pg_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT change, count(*) FROM records WHERE session_id = $1 AND "
                              "change IS NOT NULL GROUP BY change UNION ALL SELECT 'removed', "
                              "count(*) FROM sync_removed WHERE session_id = $1";
    static const char *const names[] = {"new", "changed", "unchanged", "removed"};
    struct pg_args a = {0};
    pa_text(&a, session_id);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "count a sync's records");
    pg_reader_done(p);
    if (rc)
        return rc;
    for (int i = 0; i < PQntuples(r); i++)
        for (int k = 0; k < 4; k++)
            if (strcmp(PQgetvalue(r, i, 0), names[k]) == 0)
                counts[k] = pg_i64(r, i, 1);
    PQclear(r);
    return 0;
}

int pg_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                    struct record_row **out, size_t *n, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] = "SELECT key, data FROM sync_removed WHERE session_id = $1 AND key > "
                              "$2 ORDER BY key LIMIT $3";
    *out = NULL;
    *n = 0;
    struct pg_args a = {0};
    pa_text(&a, session_id);
    pa_text(&a, after_key ? after_key : "");
    pa_i64(&a, limit ? (int64_t)limit : 500);
    PGresult *r;
    int rc = pg_run(pg_reader(p), sql, &a, &r, e, "list removed records");
    pg_reader_done(p);
    if (rc)
        return rc;
    int rows = PQntuples(r);
    struct record_row *v = rows ? xcalloc((size_t)rows, sizeof *v) : NULL;
    for (int i = 0; i < rows; i++) {
        v[i].key = pg_dup(r, i, 0);
        v[i].data = pg_dup(r, i, 1);
        v[i].change = xstrdup("removed");
    }
    PQclear(r);
    *out = v;
    *n = (size_t)rows;
    return rows;
}
