/* Chains in the store: the store's chains domain. It reads a job's children and a chain's jobs
 * (for the engine's chain steps, inside its transactions, and for showing a chain), keeps a join's
 * counter, and keeps pipelines, the names given to chains submitted in one call. The jobs
 * themselves are rows of the jobs domain (store/job.h); their parent_id, root_id, role and
 * join_id say how they hang together.
 *
 * Writes (join_arrive, pipeline_add, and jobs or count with writer set) are made inside the
 * committer's transaction; the other reads from any thread. */
#ifndef TRAWL_CHAIN_H
#define TRAWL_CHAIN_H

#include "store/job.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROLE_MASK(r) (1u << (r))

/* Which jobs of a chain: the children of parent_id, or (parent_id NULL) every job of the chain
 * rooted at root_id except the root itself. Zero masks do not filter. In id order. */
struct chain_filter {
    const char *parent_id;
    const char *root_id;
    unsigned role_mask;   /* ROLE_MASK(...) | ... */
    unsigned status_mask; /* JOB_MASK(...) | ... */
    const char *after_id; /* cursor: only ids greater than this */
    size_t limit;         /* most rows; 0 means 1000 */
};

/* A job as a chain shows it: no args, result or checkpoint. Strings owned by the node
 * (chain_nodes_free). */
struct chain_node {
    char id[UUID_STR_LEN];
    char *type;
    char *parent_id;
    char *join_id;
    char *error;
    char *stage;
    enum job_role role;
    enum job_status status;
    int attempt, max_attempts, progress, depth;
    int64_t created_at, started_at, completed_at, failed_at, updated_at;
};

void chain_nodes_free(struct chain_node *nodes, size_t n);

/* A named chain: its root job and its name. Strings owned (pipeline_release). */
struct pipeline {
    char id[UUID_STR_LEN]; /* the root job's id */
    char *workspace;
    char *name;
    int stages;
    int64_t created_at;
};

void pipeline_release(struct pipeline *p);
void pipeline_array_free(struct pipeline *p, size_t n);

#define STORE_CHAIN_VERSION 1
struct store_chain_ops {
    int version; /* STORE_CHAIN_VERSION */
    int (*jobs)(struct store *s, const struct chain_filter *f, bool writer, struct job **out,
                size_t *n, struct err *e);
    int (*nodes)(struct store *s, const struct chain_filter *f, struct chain_node **out, size_t *n,
                 struct err *e);
    int (*count)(struct store *s, const struct chain_filter *f, bool writer,
                 int64_t counts[JOB_STATUS_COUNT], struct err *e);
    int (*join_arrive)(struct store *s, const char *join_id, int delta, int64_t now, int *remaining,
                       struct err *e);
    int (*release)(struct store *s, const char *const *parents, size_t n, int64_t now,
                   const char *message, struct job **out, size_t *nout, struct err *e);
    int (*pipeline_add)(struct store *s, const struct pipeline *p, struct err *e);
    int (*pipeline_get)(struct store *s, const char *workspace, const char *id,
                        struct pipeline *out, struct err *e);
    int (*pipeline_list)(struct store *s, const char *workspace, const char *name, size_t limit,
                         size_t offset, struct pipeline **out, size_t *n, int64_t *total,
                         struct err *e);
};

/* The jobs f selects, whole rows, in id order; writer: inside the committer's transaction.
 * Returns the number listed. */
int store_chain_jobs(struct store *s, const struct chain_filter *f, bool writer, struct job **out,
                     size_t *n, struct err *e);
/* The jobs f selects as a chain shows them, in id order (read). Returns the number listed. */
int store_chain_nodes(struct store *s, const struct chain_filter *f, struct chain_node **out,
                      size_t *n, struct err *e);
/* How many jobs f selects are in each status (f's limit and cursor are ignored). */
int store_chain_count(struct store *s, const struct chain_filter *f, bool writer,
                      int64_t counts[JOB_STATUS_COUNT], struct err *e);
/* Add delta to the counter of a waiting join (write); *remaining gets the new count. TRAWL_ESTATE
 * when the job is not waiting (its count no longer matters), TRAWL_ENOTFOUND when there is none. */
int store_join_arrive(struct store *s, const char *join_id, int delta, int64_t now, int *remaining,
                      struct err *e);
/* Release the waiting next-stages of n parents that have just completed (write): each becomes
 * pending, due now, with its parent's result (as stored now) as its input, and gets an event with
 * message. *out gets the jobs released (id, type, workspace, batch_id, parent_id, root_id,
 * attempt, event_seq, created_at; job_array_free). Returns how many. */
int store_chain_release(struct store *s, const char *const *parents, size_t n, int64_t now,
                        const char *message, struct job **out, size_t *nout, struct err *e);
/* Keep a pipeline's name (write); its root job is enqueued in the same transaction. */
int store_pipeline_add(struct store *s, const struct pipeline *p, struct err *e);
/* A workspace's pipeline by its root job's id; TRAWL_ENOTFOUND when there is none. Read. */
int store_pipeline_get(struct store *s, const char *workspace, const char *id, struct pipeline *out,
                       struct err *e);
/* A workspace's pipelines (of one name, or all when name is NULL), newest first; *total the count.
 * Returns the number listed. Read. */
int store_pipeline_list(struct store *s, const char *workspace, const char *name, size_t limit,
                        size_t offset, struct pipeline **out, size_t *n, int64_t *total,
                        struct err *e);

#endif
