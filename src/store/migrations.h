/* The numbered SQL migrations, embedded at build time by scripts/embed-sql.sh: SQLite's from
 * src/store/migrations/NNNN_name.sql, PostgreSQL's from src/store/pg_migrations/. Version N is
 * the N-th entry. */
#ifndef TRAWL_MIGRATIONS_H
#define TRAWL_MIGRATIONS_H

struct migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct migration store_migrations[];
extern const int store_migrations_count;
extern const struct migration store_pg_migrations[];
extern const int store_pg_migrations_count;

#endif
