/* Job counters in the store, which metrics are answered from: how many jobs of each workspace and
 * type are in each status, and what ended in each minute. The engine adds up what each
 * transaction changed and writes the sums at its end, in the same transaction, so no metric ever
 * counts the jobs table. */
#ifndef TRAWL_STATS_H
#define TRAWL_STATS_H

#include "store/job.h"
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* What one transaction changed for one workspace's jobs of one type (store_stats_add). */
struct stats_delta {
    const char *workspace, *type;
    int64_t status[JOB_STATUS_COUNT];   /* change in the number of jobs in each status */
    int64_t completed, failed, retried; /* attempts that ended so */
    int64_t proc_ms, proc_n; /* summed processing time of completions whose start is known */
};

/* The counters of one workspace's jobs of one type (store_stats). */
struct stats_row {
    char *workspace, *type;
    int64_t status[JOB_STATUS_COUNT];                    /* jobs in each status now */
    int64_t completed, failed, retried, proc_ms, proc_n; /* in the minutes asked for */
};

/* What ended in one minute, for one type (store_stats_minutes). */
struct stats_minute {
    int64_t minute; /* ms since the epoch / 60000 */
    char *type;
    int64_t completed, failed, retried, proc_ms, proc_n;
};

/* Which counters to read: NULL does not filter. */
struct stats_query {
    const char *workspace;
    const char *type;
    int64_t since; /* ms since the epoch: sum the minutes from the one holding this on */
};

#define STORE_STATS_VERSION 1
struct store_stats_ops {
    int version; /* STORE_STATS_VERSION */
    int (*add)(struct store *s, const struct stats_delta *d, size_t n, int64_t now, struct err *e);
    int (*read)(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                struct err *e);
    int (*minutes)(struct store *s, const struct stats_query *q, struct stats_minute **out,
                   size_t *n, struct err *e);
};

/* Add what a transaction changed to the counters (write): the jobs per status, and the minute
 * holding now. */
int store_stats_add(struct store *s, const struct stats_delta *d, size_t n, int64_t now,
                    struct err *e);
/* The counters of every workspace and type that q selects, one row each. Read; never counts the
 * jobs table. Returns the number of rows. */
int store_stats(struct store *s, const struct stats_query *q, struct stats_row **out, size_t *n,
                struct err *e);
void stats_rows_free(struct stats_row *rows, size_t n);
/* What ended in each minute from q->since's on, per type (summed over q's workspaces), oldest
 * first; minutes with nothing ended are left out. Read. Returns the number of rows. */
int store_stats_minutes(struct store *s, const struct stats_query *q, struct stats_minute **out,
                        size_t *n, struct err *e);
void stats_minutes_free(struct stats_minute *rows, size_t n);

#endif
