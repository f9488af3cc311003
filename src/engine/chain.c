/* Chains: what a job's change does to the jobs that hang from it, in the transaction of the
 * change itself, so no chain is ever half-advanced. A completion releases the stages waiting for
 * it (with its result as their input), enqueues the children it fans out and counts toward its
 * join; a failure for good or a cancellation blocks the stages below; a retry unblocks them. A
 * join counts down, in each end's own transaction, the ends it waits for (its parent's
 * completion, then each child's end), and is released when none is left: exact whatever crashes,
 * since the count and the ends it counts commit together. */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"
#include "store/chain.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_MASK                                                                                  \
    (JOB_MASK(JOB_PENDING) | JOB_MASK(JOB_PROCESSING) | JOB_MASK(JOB_RETRYING) |                   \
     JOB_MASK(JOB_WAITING) | JOB_MASK(JOB_BLOCKED))
#define PAGE             1000
#define JOIN_RESULTS_MAX 1000      /* children whose results a join gets in its input */
#define JOIN_INPUT_MAX   (1 << 20) /* bytes of those results */
#define STAGE_MASK       (ROLE_MASK(ROLE_NEXT) | ROLE_MASK(ROLE_JOIN))

/* Move row (as read) from `from` to `to`, with its history and counters. */
static int move(struct commit_tx *tx, const struct job *row, int from, int to, unsigned set,
                const char *input, const char *message, int64_t now, struct err *e)
{
    struct job_update u = {
        .id = row->id,
        .from_mask = JOB_MASK(from),
        .to = to,
        .set = set | (to == JOB_CANCELLED ? UPD_CLEAR_LEASE : 0),
        .input = input,
        .run_at = now,
        .now = now,
        .message = message,
    };
    int rc = store_update(commit_store(tx), &u, e);
    if (rc)
        return rc;
    eng_record_job(tx, row, from, to, row->attempt, message, NULL, now);
    return 0;
}

/* Visit the jobs f selects, a page at a time, in id order. fn may change them. */
static int each(struct commit_tx *tx, struct chain_filter f,
                int (*fn)(struct commit_tx *tx, struct job *row, void *arg, struct err *e),
                void *arg, struct err *e)
{
    char after[UUID_STR_LEN] = "";
    f.limit = PAGE;
    for (;;) {
        f.after_id = after[0] ? after : NULL;
        struct job *rows;
        size_t n;
        int rc = store_chain_jobs(commit_store(tx), &f, true, &rows, &n, e);
        if (rc < 0)
            return rc;
        for (size_t i = 0; i < n && rc >= 0; i++)
            rc = fn(tx, &rows[i], arg, e);
        if (n)
            memcpy(after, rows[n - 1].id, UUID_STR_LEN);
        job_array_free(rows, n);
        if (rc < 0)
            return rc;
        if (n < PAGE)
            return 0;
    }
}

/* ---- a join ---- */

/* What a join gets: how its children ended and, for up to JOIN_RESULTS_MAX of them within
 * JOIN_INPUT_MAX bytes, their results or errors (in the order they were fanned out). */
static int join_input(struct commit_tx *tx, const char *parent_id, char **out, struct err *e)
{
    struct chain_filter f = {.parent_id = parent_id, .role_mask = ROLE_MASK(ROLE_CHILD)};
    int64_t counts[JOB_STATUS_COUNT];
    int rc = store_chain_count(commit_store(tx), &f, true, counts, e);
    if (rc < 0)
        return rc;
    int64_t total = 0;
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        total += counts[s];
    json_t *in =
        json_pack("{s:s, s:I, s:I, s:I, s:I}", "parent", parent_id, "children", (json_int_t)total,
                  "completed", (json_int_t)counts[JOB_COMPLETED], "failed",
                  (json_int_t)counts[JOB_FAILED], "cancelled", (json_int_t)counts[JOB_CANCELLED]);
    json_t *results = json_array();
    bool all = total <= JOIN_RESULTS_MAX;
    if (all && total > 0) {
        f.limit = JOIN_RESULTS_MAX;
        struct job *rows;
        size_t n;
        rc = store_chain_jobs(commit_store(tx), &f, true, &rows, &n, e);
        if (rc < 0) {
            json_decref(in);
            json_decref(results);
            return rc;
        }
        size_t bytes = 0;
        for (size_t i = 0; i < n && all; i++) {
            json_t *r = json_pack("{s:s, s:s}", "id", rows[i].id, "status",
                                  job_status_name(rows[i].status));
            json_t *v = rows[i].result ? json_loads(rows[i].result, JSON_DECODE_ANY, NULL) : NULL;
            if (v)
                json_object_set_new(r, "result", v); /* set_new steals v */
            if (rows[i].error)
                json_object_set_new(r, "error", json_string(rows[i].error));
            bytes += (rows[i].result ? strlen(rows[i].result) : 0) +
                     (rows[i].error ? strlen(rows[i].error) : 0) + 80;
            if (bytes > JOIN_INPUT_MAX) {
                json_decref(r);
                all = false;
                break;
            }
            json_array_append_new(results, r);
        }
        job_array_free(rows, n);
    }
    json_object_set_new(in, "results", results);
    /* when not all: GET /v1/jobs/{parent}/children pages through them */
    json_object_set_new(in, "results_complete", json_boolean(all));
    *out = json_dumps(in, JSON_COMPACT);
    json_decref(in);
    return 0;
}

/* The join's count reached 0: it runs now, with its children's outcome as input. */
static int release_join(struct commit_tx *tx, const char *join_id, int64_t now, struct err *e)
{
    struct job j;
    int rc = store_fetch(commit_store(tx), join_id, &j, e);
    if (rc)
        return rc;
    char *input = NULL;
    rc = j.parent_id ? join_input(tx, j.parent_id, &input, e)
                     : err_set(e, TRAWL_ESTORE, false, "join %s has no parent", join_id);
    if (!rc) {
        char msg[160];
        json_t *v = json_loads(input, 0, NULL);
        snprintf(msg, sizeof msg, "its %lld children ended (%lld completed)",
                 (long long)json_integer_value(json_object_get(v, "children")),
                 (long long)json_integer_value(json_object_get(v, "completed")));
        json_decref(v);
        rc = move(tx, &j, JOB_WAITING, JOB_PENDING, UPD_INPUT | UPD_RUN_AT, input, msg, now, e);
    }
    free(input);
    job_release(&j);
    return rc;
}

/* Add delta to a waiting join's count; release it at 0. A join that is no longer waiting (it ran
 * already, or was cancelled) counts nothing more. */
static int arrive(struct commit_tx *tx, const char *join_id, int delta, int64_t now, struct err *e)
{
    int remaining = -1;
    struct err e1;
    err_clear(&e1);
    int rc = store_join_arrive(commit_store(tx), join_id, delta, now, &remaining, &e1);
    if (rc == TRAWL_ESTATE || rc == TRAWL_ENOTFOUND)
        return 0;
    if (rc) {
        err_copy(e, &e1);
        return rc;
    }
    return remaining == 0 ? release_join(tx, join_id, now, e) : 0;
}

/* ---- stages ---- */

#define RELEASED "the stage before it completed"

/* Release the waiting next-stages of n parents that have just completed, in one statement of
 * the store's; released[i] (may be NULL) gets how many were parent i's. */
static int release_next(struct commit_tx *tx, const char *const *parents, size_t n, int64_t now,
                        int *released, struct err *e)
{
    struct job *rows;
    size_t k;
    int rc = store_chain_release(commit_store(tx), parents, n, now, RELEASED, &rows, &k, e);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < k; i++) {
        eng_record_job(tx, &rows[i], JOB_WAITING, JOB_PENDING, rows[i].attempt, RELEASED, NULL,
                       now);
        for (size_t p = 0; released && p < n; p++)
            if (rows[i].parent_id && strcmp(rows[i].parent_id, parents[p]) == 0)
                released[p]++;
    }
    if (k)
        commit_available(tx);
    job_array_free(rows, k);
    return 0;
}

static int find_join(struct commit_tx *tx, struct job *row, void *arg, struct err *e)
{
    (void)tx;
    (void)e;
    memcpy(arg, row->id, UUID_STR_LEN);
    return 0;
}

/* The join job j names, when it waits: its id into out ("" when none). */
static int join_of(struct commit_tx *tx, const struct job *j, char out[UUID_STR_LEN], struct err *e)
{
    out[0] = 0;
    struct chain_filter f = {.parent_id = j->id,
                             .role_mask = ROLE_MASK(ROLE_JOIN),
                             .status_mask = JOB_MASK(JOB_WAITING)};
    return each(tx, f, find_join, out, e);
}

struct walk {
    int from, to;
    const char *message;
    int64_t now;
};

/* Move a stage (and, below it, the stages waiting for it) from walk's from to its to. */
static int walk_one(struct commit_tx *tx, struct job *row, void *arg, struct err *e)
{
    struct walk *w = arg;
    int rc = move(tx, row, w->from, w->to, 0, NULL, w->message, w->now, e);
    if (rc || row->successors == 0)
        return rc;
    struct chain_filter f = {
        .parent_id = row->id, .role_mask = STAGE_MASK, .status_mask = JOB_MASK(w->from)};
    return each(tx, f, walk_one, w, e);
}

static int walk_below(struct commit_tx *tx, const struct job *j, int from, int to,
                      const char *message, int64_t now, struct err *e)
{
    if (j->successors == 0)
        return 0;
    struct walk w = {from, to, message, now};
    struct chain_filter f = {
        .parent_id = j->id, .role_mask = STAGE_MASK, .status_mask = JOB_MASK(from)};
    return each(tx, f, walk_one, &w, e);
}

/* The children a completion fans out: under j, in j's chain, counting toward its join. */
static int fan_out(struct commit_tx *tx, const struct job *j, struct job_children *c,
                   const char *join_id, struct err *e)
{
    struct job_rows *r = &c->rows;
    const char *root = j->root_id ? j->root_id : j->id;
    for (size_t t = 0; t < r->ntops; t++) {
        struct job *top = &r->rows[r->tops[t]];
        free(top->parent_id);
        top->parent_id = xstrdup(j->id);
        free(top->join_id);
        top->join_id = join_id ? xstrdup(join_id) : NULL;
        top->role = ROLE_CHILD;
        free(top->workspace);
        top->workspace = xstrdup(j->workspace);
        rows_place(r, t, root, j->depth + 1);
    }
    for (size_t i = 0; i < r->n; i++) {
        /* a chain lives in one workspace */
        if (strcmp(r->rows[i].workspace, j->workspace) != 0) {
            free(r->rows[i].workspace);
            r->rows[i].workspace = xstrdup(j->workspace);
        }
    }
    bool *existed = xcalloc(r->n, sizeof *existed);
    int rc = store_insert_many(commit_store(tx), r->rows, r->n, existed, e);
    free(existed);
    if (rc)
        return rc;
    for (size_t i = 0; i < r->n; i++)
        commit_count(tx, r->rows[i].workspace, r->rows[i].type, -1, r->rows[i].status, -1,
                     r->rows[i].created_at);
    commit_available(tx);
    return 0;
}

int eng_chain_step(struct engine *eng, struct commit_tx *tx, const struct job *j, int from, int to,
                   const char *result, struct job_children *children, int64_t now, struct err *e)
{
    (void)eng;
    int rc = 0;
    size_t nchildren = engine_children_count(children);
    if (to == JOB_COMPLETED) {
        (void)result; /* the store reads it from the completed row */
        int released = 0;
        char join[UUID_STR_LEN] = "";
        if (j->successors > 0) {
            const char *id = j->id;
            rc = release_next(tx, &id, 1, now, &released, e);
            /* what is left of its successors, if anything, is its join */
            if (!rc && released < j->successors)
                rc = join_of(tx, j, join, e);
        }
        if (!rc && nchildren)
            rc = fan_out(tx, j, children, join[0] ? join : NULL, e);
        /* the join waited for this completion, and now waits for each child too */
        if (!rc && join[0])
            rc = arrive(tx, join, (int)nchildren - 1, now, e);
    } else if (to == JOB_FAILED || to == JOB_CANCELLED) {
        rc = walk_below(tx, j, JOB_WAITING, JOB_BLOCKED,
                        to == JOB_FAILED ? "a stage before it failed"
                                         : "a stage before it was cancelled",
                        now, e);
    } else if ((from == JOB_FAILED || from == JOB_CANCELLED) && to == JOB_PENDING) {
        rc = walk_below(tx, j, JOB_BLOCKED, JOB_WAITING, "a stage before it was retried", now, e);
    }
    if (rc || j->role != ROLE_CHILD || !j->join_id)
        return rc;
    /* a child's end counts toward its join, whatever the end; a retry undoes that */
    bool ended = job_status_ended(to) && !job_status_ended(from);
    bool revived = job_status_ended(from) && !job_status_ended(to);
    if (ended || revived)
        rc = arrive(tx, j->join_id, ended ? -1 : 1, now, e);
    return rc;
}

int eng_chain_completed(struct engine *eng, struct commit_tx *tx, const struct job *const *jobs,
                        size_t n, int64_t now, struct err *e)
{
    (void)eng;
    const char *parents[64];
    int released[64];
    size_t np = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (jobs[i]->successors > 0) {
            parents[np] = jobs[i]->id;
            released[np++] = 0;
        }
        if (np == 64 || (i == n - 1 && np)) {
            rc = release_next(tx, parents, np, now, released, e);
            /* a parent with more successors than stages released names a join */
            for (size_t p = 0; p < np && !rc; p++) {
                for (size_t k = 0; k < n && !rc; k++) {
                    if (jobs[k]->id != parents[p] || released[p] >= jobs[k]->successors)
                        continue;
                    char join[UUID_STR_LEN];
                    rc = join_of(tx, jobs[k], join, e);
                    if (!rc && join[0])
                        rc = arrive(tx, join, -1, now, e);
                }
            }
            np = 0;
        }
    }
    for (size_t i = 0; i < n && !rc; i++)
        if (jobs[i]->role == ROLE_CHILD && jobs[i]->join_id)
            rc = arrive(tx, jobs[i]->join_id, -1, now, e);
    return rc;
}

struct cancel {
    int64_t now;
    int count;
};

static int cancel_one(struct commit_tx *tx, struct job *row, void *arg, struct err *e)
{
    struct cancel *c = arg;
    int rc =
        move(tx, row, row->status, JOB_CANCELLED, 0, NULL, "cancelled with its chain", c->now, e);
    if (!rc)
        c->count++;
    return rc;
}

int eng_chain_cancel(struct engine *eng, struct commit_tx *tx, const char *root_id, int64_t now,
                     struct err *e)
{
    (void)eng;
    struct cancel c = {now, 0};
    struct chain_filter f = {.root_id = root_id, .status_mask = LIVE_MASK};
    int rc = each(tx, f, cancel_one, &c, e);
    return rc < 0 ? rc : c.count;
}
