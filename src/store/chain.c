/* The memory of chain nodes and pipelines, and the wrappers of the store's chains domain. */
#include "store/chain.h"

#include <stdlib.h>
#include <string.h>

void chain_nodes_free(struct chain_node *nodes, size_t n)
{
    for (size_t i = 0; nodes && i < n; i++) {
        free(nodes[i].type);
        free(nodes[i].parent_id);
        free(nodes[i].join_id);
        free(nodes[i].error);
        free(nodes[i].stage);
    }
    free(nodes);
}

void pipeline_release(struct pipeline *p)
{
    if (!p)
        return;
    free(p->workspace);
    free(p->name);
    memset(p, 0, sizeof *p);
}

void pipeline_array_free(struct pipeline *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        pipeline_release(&p[i]);
    free(p);
}

/* ---- wrappers ---- */

int store_chain_jobs(struct store *s, const struct chain_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->chains, "chains", s->chains->jobs(s, f, writer, out, n, e));
}

int store_chain_nodes(struct store *s, const struct chain_filter *f, struct chain_node **out,
                      size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->chains, "chains", s->chains->nodes(s, f, out, n, e));
}

int store_chain_count(struct store *s, const struct chain_filter *f, bool writer,
                      int64_t counts[JOB_STATUS_COUNT], struct err *e)
{
    memset(counts, 0, sizeof(int64_t) * JOB_STATUS_COUNT);
    STORE_WRAP(s, s->chains, "chains", s->chains->count(s, f, writer, counts, e));
}

int store_join_arrive(struct store *s, const char *join_id, int delta, int64_t now, int *remaining,
                      struct err *e)
{
    STORE_WRAP(s, s->chains, "chains",
               s->chains->join_arrive(s, join_id, delta, now, remaining, e));
}

int store_chain_release(struct store *s, const char *const *parents, size_t n, int64_t now,
                        const char *message, struct job **out, size_t *nout, struct err *e)
{
    *out = NULL;
    *nout = 0;
    STORE_WRAP(s, s->chains, "chains",
               s->chains->release(s, parents, n, now, message, out, nout, e));
}

int store_pipeline_add(struct store *s, const struct pipeline *p, struct err *e)
{
    STORE_WRAP(s, s->chains, "pipelines", s->chains->pipeline_add(s, p, e));
}

int store_pipeline_get(struct store *s, const char *workspace, const char *id, struct pipeline *out,
                       struct err *e)
{
    STORE_WRAP(s, s->chains, "pipelines", s->chains->pipeline_get(s, workspace, id, out, e));
}

int store_pipeline_list(struct store *s, const char *workspace, const char *name, size_t limit,
                        size_t offset, struct pipeline **out, size_t *n, int64_t *total,
                        struct err *e)
{
    *out = NULL;
    *n = 0;
    *total = 0;
    STORE_WRAP(s, s->chains, "pipelines",
               s->chains->pipeline_list(s, workspace, name, limit, offset, out, n, total, e));
}
