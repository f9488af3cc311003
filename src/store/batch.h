/* Batches in the store: jobs submitted together under one batch id in one workspace, with their
 * counts per status kept in step with the jobs by the store itself; and the store's batches
 * domain, which reads them. */
#ifndef TRAWL_BATCH_H
#define TRAWL_BATCH_H

#include "store/job.h"

#include <stddef.h>
#include <stdint.h>

/* Strings are owned by the batch and freed by batch_info_release(). */
struct batch_info {
    char *id;
    char *workspace;
    int64_t created_at;
    int64_t updated_at;
    int64_t total;
    int64_t counts[JOB_STATUS_COUNT];
};

void batch_info_release(struct batch_info *b);
void batch_info_array_free(struct batch_info *b, size_t n);
/* Percentage of the batch's jobs that have ended (completed, failed or cancelled), 0-100. */
double batch_progress(const struct batch_info *b);

/* The jobs of one batch, oldest first, optionally of one status; offset pagination. */
struct batch_filter {
    const char *workspace; /* required */
    const char *batch_id;  /* required */
    int status;            /* a job_status or -1 */
    size_t limit;          /* most rows; 0 means 100 */
    size_t offset;
};

#define STORE_BATCH_VERSION 1
struct store_batch_ops {
    int version; /* STORE_BATCH_VERSION */
    int (*jobs)(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                size_t *n, struct err *e);
    int (*get)(struct store *s, const char *workspace, const char *id, struct batch_info *out,
               struct err *e);
    int (*list)(struct store *s, const char *workspace, size_t limit, size_t offset,
                struct batch_info **out, size_t *n, int64_t *total, struct err *e);
};

/* The jobs of a batch (f->workspace and f->batch_id required), oldest first; returns the number
 * listed. writer: read on the write connection, inside the committer's transaction. */
int store_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e);
/* One batch with its counts; TRAWL_ENOTFOUND when the workspace has no such batch. */
int store_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                    struct err *e);
/* A workspace's batches, newest first; *total gets how many it has in all. Returns the number
 * listed. */
int store_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                     struct batch_info **out, size_t *n, int64_t *total, struct err *e);

#endif
