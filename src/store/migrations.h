/* The numbered SQL migrations, embedded at build time from src/store/migrations/NNNN_name.sql
 * by scripts/embed-sql.sh. Version N is the N-th entry. */
#ifndef TRAWL_MIGRATIONS_H
#define TRAWL_MIGRATIONS_H

struct migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct migration store_migrations[];
extern const int store_migrations_count;

#endif
