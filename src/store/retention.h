/* Retention in the store: finished jobs, with everything kept beside them, deleted a small batch
 * at a time, oldest first, so that a database that runs for months stays the size of its recent
 * work and (on PostgreSQL) autovacuum keeps up with the space each batch frees. */
#ifndef TRAWL_STORE_RETENTION_H
#define TRAWL_STORE_RETENTION_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* Which jobs may go: a job is prunable when it is completed or cancelled and was last changed
 * before `before`, or failed (in the dead-letter queue) and last changed before dead_before (0:
 * failed jobs are kept). A job is pruned only with its whole chain: every stage of its chain
 * (its root and all the root's descendants) must be prunable. Kept whatever their age: a member
 * of a batch with jobs still live or changed since `before`; a scraping session's jobs (its
 * chain, its extract and sync stages), which go with their session; an import's job and every
 * stage of its chain, which go with their import. */
struct prune_req {
    int64_t before, dead_before; /* ms since the epoch */
    size_t limit;                /* jobs deleted at most */
};

/* How many jobs of one workspace, type and status a prune deleted. */
struct prune_group {
    char *workspace, *type;
    int status; /* enum job_status */
    int64_t n;
};

void prune_groups_free(struct prune_group *g, size_t n);

#define STORE_RETENTION_VERSION 1
struct store_retention_ops {
    int version; /* STORE_RETENTION_VERSION */
    int (*prune_jobs)(struct store *s, const struct prune_req *r, struct prune_group **out,
                      size_t *n, struct err *e);
};

/* Delete up to r->limit prunable jobs, oldest change first (write), with their events, webhook
 * calls, crawl result and pipeline, and then the batches left with no job that nothing changed
 * since r->before. *out gets how many of each workspace, type and status went (the job counters
 * are the caller's to lower). Returns the number of jobs deleted. On PostgreSQL, jobs that
 * another node is pruning at the same moment are skipped, not waited for. */
int store_prune_jobs(struct store *s, const struct prune_req *r, struct prune_group **out,
                     size_t *n, struct err *e);

#endif
