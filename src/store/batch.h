/* The stored shape of a batch: jobs submitted together under one batch id in one workspace,
 * with their counts per status kept in step with the jobs by the store itself. */
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

#endif
