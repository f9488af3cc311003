/* The wrappers of the store's retention domain. */
#include "store/retention.h"

#include <stdlib.h>

void prune_groups_free(struct prune_group *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(g[i].workspace);
        free(g[i].type);
    }
    free(g);
}

int store_prune_jobs(struct store *s, const struct prune_req *r, struct prune_group **out,
                     size_t *n, struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->retention, "retention", s->retention->prune_jobs(s, r, out, n, e));
}
