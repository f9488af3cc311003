/* The wrappers of the store's metrics domain, and the memory of what it reads. */
#include "store/stats.h"

#include <stdlib.h>

int store_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                    struct err *e)
{
    STORE_WRAP(s, s->stats, "metrics", s->stats->add(s, d, n, now, e));
}

int store_stats(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->stats, "metrics", s->stats->read(s, q, out, n, e));
}

void stats_rows_free(struct stats_row *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++) {
        free(rows[i].workspace);
        free(rows[i].type);
    }
    free(rows);
}

int store_stats_minutes(struct store *s, const struct stats_query *q, struct stats_minute **out,
                        size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->stats, "metrics", s->stats->minutes(s, q, out, n, e));
}

void stats_minutes_free(struct stats_minute *rows, size_t n)
{
    for (size_t i = 0; rows && i < n; i++)
        free(rows[i].type);
    free(rows);
}
