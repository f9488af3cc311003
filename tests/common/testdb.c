/* The store under test, shared by the unit and end-to-end tests (testdb.h). */
#include "common/testdb.h"

#include "store/store.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DBS 512
static char dbs_[MAX_DBS][64];
static int ndbs_;
static pid_t owner_;

const char *tdb_pg(void)
{
    const char *c = getenv("TRAWL_TEST_PG");
    return c && *c ? c : NULL;
}

void tdb_drop_all(void)
{
    if (!ndbs_ || getpid() != owner_)
        return;
    PGconn *c = PQconnectdb(tdb_pg());
    for (int i = 0; PQstatus(c) == CONNECTION_OK && i < ndbs_; i++) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbs_[i]);
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    ndbs_ = 0;
}

const char *tdb_pg_database(char prefix, const char *name)
{
    char id[64];
    size_t k = (size_t)snprintf(id, sizeof id, "%c%ld_", prefix, (long)getpid());
    for (const char *p = name; *p && k < sizeof id - 1; p++)
        id[k++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
    id[k] = 0;
    for (int i = 0; i < ndbs_; i++)
        if (strcmp(dbs_[i], id) == 0)
            return dbs_[i];
    cr_assert_lt(ndbs_, MAX_DBS, "too many databases in one test");
    PGconn *c = PQconnectdb(tdb_pg());
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect to $TRAWL_TEST_PG: %s", PQerrorMessage(c));
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", id);
    PGresult *r = PQexec(c, sql);
    cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    owner_ = getpid();
    snprintf(dbs_[ndbs_], sizeof dbs_[ndbs_], "%s", id);
    return dbs_[ndbs_++];
}

static void rows_add(struct tdb_rows *out, size_t *cap, const char *const *cells)
{
    if (out->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        out->cell = realloc(out->cell, (*cap * (size_t)out->cols + 1) * sizeof *out->cell);
        cr_assert_not_null(out->cell);
    }
    for (int k = 0; k < out->cols; k++)
        out->cell[out->n * (size_t)out->cols + (size_t)k] = cells[k] ? strdup(cells[k]) : NULL;
    out->n++;
}

size_t tdb_rows(const char *db, const char *sql, struct tdb_rows *out)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0;
    const char *cells[64];
    if (store_is_pg(db)) {
        PGconn *c = PQconnectdb(db);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
        out->cols = PQnfields(r);
        cr_assert_leq(out->cols, 64, "%s: too many columns", sql);
        for (int i = 0; i < PQntuples(r); i++) {
            for (int k = 0; k < out->cols; k++)
                cells[k] = PQgetisnull(r, i, k) ? NULL : PQgetvalue(r, i, k);
            rows_add(out, &cap, cells);
        }
        PQclear(r);
        PQfinish(c);
        return out->n;
    }
    sqlite3 *d;
    cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "open %s", db);
    sqlite3_busy_timeout(d, 5000);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(d, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(d));
    out->cols = sqlite3_column_count(st);
    cr_assert_leq(out->cols, 64, "%s: too many columns", sql);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int k = 0; k < out->cols; k++)
            cells[k] = (const char *)sqlite3_column_text(st, k);
        rows_add(out, &cap, cells);
    }
    cr_assert_eq(step, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(d));
    sqlite3_finalize(st);
    sqlite3_close(d);
    return out->n;
}

const char *tdb_cell(const struct tdb_rows *r, size_t row, int col)
{
    cr_assert(row < r->n && col >= 0 && col < r->cols, "no cell %zu,%d in %zu rows of %d", row, col,
              r->n, r->cols);
    return r->cell[row * (size_t)r->cols + (size_t)col];
}

void tdb_rows_free(struct tdb_rows *r)
{
    if (!r)
        return;
    for (size_t i = 0; r->cell && i < r->n * (size_t)r->cols; i++)
        free(r->cell[i]);
    free(r->cell);
    memset(r, 0, sizeof *r);
}
