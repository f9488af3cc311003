/* What the unit and end-to-end tests share about the store under test: the PostgreSQL server
 * named by $TRAWL_TEST_PG (scripts/run-tests.sh starts one), a database of it per test process
 * and name, made on first use, and the rows of a query on either store. */
#ifndef TRAWL_TEST_TESTDB_H
#define TRAWL_TEST_TESTDB_H

#include <stddef.h>

/* The server's libpq keyword string, or NULL when the tests run on SQLite. */
const char *tdb_pg(void);
/* The name of this process's database called name on that server ("<prefix><pid>_<name>" with
 * every character but [a-z0-9] as '_'), made with CREATE DATABASE on first use; the string
 * stays valid. Fails the test on error. */
const char *tdb_pg_database(char prefix, const char *name);
/* Drop every database tdb_pg_database made, in the process that made them (a forked child that
 * exits drops nothing). The callers choose when: at exit, after the processes using them. */
void tdb_drop_all(void);

/* The rows of a query on db (a PostgreSQL keyword string or an SQLite path), every cell as text
 * (NULL: SQL NULL); owned by the rows, freed by tdb_rows_free. */
struct tdb_rows {
    size_t n;    /* rows */
    int cols;    /* columns */
    char **cell; /* n * cols cells, row by row */
};
/* Run sql on db into *out; fails the test on error. Returns out->n. */
size_t tdb_rows(const char *db, const char *sql, struct tdb_rows *out);
/* The cell of row and col: NULL for SQL NULL. */
const char *tdb_cell(const struct tdb_rows *r, size_t row, int col);
void tdb_rows_free(struct tdb_rows *r);

#endif
