/* Retention: finished jobs deleted a small batch per transaction, so the writer is never held
 * long and (on PostgreSQL) autovacuum reuses the space of one batch while the next is made. */
#include "store/retention.h"
#include "base/clock.h"
#include "engine/commit.h"
#include "engine/engine_int.h"

struct prune_pass {
    struct prune_req req;
    int64_t deleted; /* by the pass that committed */
};

static int prune_pass(struct engine_tx *etx, void *arg, struct err *e)
{
    struct prune_pass *p = arg;
    struct commit_tx *tx = (struct commit_tx *)etx;
    struct prune_group *g;
    size_t n;
    int rc = store_prune_jobs(commit_store(tx), &p->req, &g, &n, e);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; i++)
        commit_uncount(tx, g[i].workspace, g[i].type, g[i].status, g[i].n);
    prune_groups_free(g, n);
    p->deleted = rc; /* a pass run again after a rollback counts its last run only */
    return 0;
}

int engine_prune(struct engine *eng, int64_t keep_ms, int64_t dead_keep_ms, int64_t budget_ms,
                 int64_t *pruned, bool *more, struct err *e)
{
    *pruned = 0;
    *more = false;
    if (keep_ms <= 0 && dead_keep_ms <= 0)
        return 0;
    int64_t now = engine_now(eng);
    struct prune_pass p = {
        .req = {.before = keep_ms > 0 ? now - keep_ms : 0,
                .dead_before = dead_keep_ms > 0 ? now - dead_keep_ms : 0,
                .limit = ENGINE_PRUNE_BATCH},
    };
    int64_t end = clock_mono_ms() + budget_ms;
    do {
        p.deleted = 0;
        int rc = engine_exec_tx(eng, prune_pass, &p, e);
        if (rc < 0)
            return rc;
        *pruned += p.deleted;
        *more = p.deleted == ENGINE_PRUNE_BATCH;
    } while (*more && clock_mono_ms() < end);
    return 0;
}
