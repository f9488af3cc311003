/* The memory of batches, their progress, and the wrappers of the store's batches domain. */
#include "store/batch.h"

#include <stdlib.h>
#include <string.h>

void batch_info_release(struct batch_info *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->workspace);
    memset(b, 0, sizeof *b);
}

void batch_info_array_free(struct batch_info *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        batch_info_release(&b[i]);
    free(b);
}

double batch_progress(const struct batch_info *b)
{
    if (b->total <= 0)
        return 0;
    int64_t ended = b->counts[JOB_COMPLETED] + b->counts[JOB_FAILED] + b->counts[JOB_CANCELLED];
    return 100.0 * (double)ended / (double)b->total;
}

/* ---- wrappers ---- */

int store_batch_jobs(struct store *s, const struct batch_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e)
{
    STORE_WRAP(s, s->batches, "batches", s->batches->jobs(s, f, writer, out, n, e));
}

int store_batch_get(struct store *s, const char *workspace, const char *id, struct batch_info *out,
                    struct err *e)
{
    STORE_WRAP(s, s->batches, "batches", s->batches->get(s, workspace, id, out, e));
}

int store_batch_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                     struct batch_info **out, size_t *n, int64_t *total, struct err *e)
{
    STORE_WRAP(s, s->batches, "batches",
               s->batches->list(s, workspace, limit, offset, out, n, total, e));
}
