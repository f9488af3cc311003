/* Specs into job rows: a spec and the stages it names (next, join, theirs...) checked and laid
 * out as one tree of rows, its top first, for an enqueue or for the children a job fans out. */
#include "engine/engine.h"

#include "base/xalloc.h"
#include "engine/engine_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rows_release(struct job_rows *r)
{
    if (!r)
        return;
    job_array_free(r->rows, r->n);
    free(r->tops);
    memset(r, 0, sizeof *r);
}

static struct job *row_new(struct job_rows *r)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->rows = xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    struct job *j = &r->rows[r->n++];
    memset(j, 0, sizeof *j);
    return j;
}

/* The row of one spec, with owned strings. */
static void row_of(struct engine *eng, const struct job_spec *s, int64_t now, struct job *j)
{
    struct job_type_config cfg;
    engine_type(eng, s->type, &cfg);
    uuid_v7(j->id, now);
    j->type = xstrdup(s->type);
    j->queue = xstrdup(s->queue ? s->queue : "default");
    j->status = JOB_PENDING;
    j->priority = s->priority;
    j->max_attempts = s->max_attempts ? s->max_attempts : cfg.max_attempts;
    j->run_at = s->run_at ? s->run_at : now;
    j->timeout_ms = s->timeout_ms;
    j->backoff_base_ms = s->backoff_base_ms;
    j->backoff_cap_ms = s->backoff_cap_ms;
    j->args = xstrdup(s->args ? s->args : "{}");
    j->batch_id = xstrdup(s->batch_id);
    j->parent_id = xstrdup(s->parent_id);
    j->root_id = xstrdup(s->root_id);
    j->unique_key = xstrdup(s->unique_key);
    j->workspace = xstrdup(s->workspace ? s->workspace : "default");
    j->input = xstrdup(s->input);
    j->created_at = now;
    j->updated_at = now;
}

/* path.name[i] (or path.join when i is -1), its start cut to "..." when it grows long, so that
 * a message about a deep stage still says what is wrong with it */
static void sub_path(char *out, size_t n, const char *path, const char *name, size_t i)
{
    char tail[32];
    if (i == (size_t)-1)
        snprintf(tail, sizeof tail, "%s%s", *path ? "." : "", name);
    else
        snprintf(tail, sizeof tail, "%s%s[%zu]", *path ? "." : "", name, i);
    size_t pl = strlen(path);
    if (pl > 120)
        snprintf(out, n, "...%s%s", path + pl - 100, tail);
    else
        snprintf(out, n, "%s%s", path, tail);
}

struct lay {
    struct engine *eng;
    struct job_rows *r;
    int64_t now;
    size_t first; /* the tree's top row */
    const char *workspace;
    int deepest;
};

/* Check s (a stage when depth > 0) and add its row and those of what it names. Returns the index
 * of its row, or an error; path names it in messages ("next[0].join"). */
static int lay_out(struct lay *l, const struct job_spec *s, int depth, const char *path, size_t *at,
                   struct err *e)
{
    struct err e1;
    err_clear(&e1);
    const char *sep = *path ? ": " : "";
    if (engine_validate(s, &e1))
        return err_set(e, e1.code, false, "%s%s%s", path, sep, e1.msg);
    if (depth > 0) {
        const char *bad = s->unique_key  ? "unique_key"
                          : s->run_at    ? "run_at"
                          : s->parent_id ? "parent_id"
                          : s->root_id   ? "root_id"
                          : s->input     ? "input"
                                         : NULL;
        if (bad)
            return err_set(e, TRAWL_EINVAL, false,
                           "%s: %s is allowed on a chain's first stage only", path, bad);
    }
    if (depth >= CHAIN_DEPTH_MAX)
        return err_set(e, TRAWL_EINVAL, false, "the chain is deeper than %d stages (at %s)",
                       CHAIN_DEPTH_MAX, path);
    if (l->r->n - l->first >= CHAIN_SPEC_MAX)
        return err_set(e, TRAWL_EINVAL, false, "the chain names more than %d jobs", CHAIN_SPEC_MAX);
    if (s->nnext > 0 && !s->next)
        return err_set(e, TRAWL_EINVAL, false, "%s%snext is missing", path, sep);
    size_t me = l->r->n;
    struct job *j = row_new(l->r);
    row_of(l->eng, s, l->now, j);
    if (depth > 0 && l->workspace) {
        /* a chain lives in one workspace: its first stage's */
        free(j->workspace);
        j->workspace = xstrdup(l->workspace);
    }
    j->depth = depth;
    if (depth > l->deepest)
        l->deepest = depth;
    char sub[512];
    for (size_t i = 0; i < s->nnext; i++) {
        sub_path(sub, sizeof sub, path, "next", i);
        size_t k;
        int rc = lay_out(l, &s->next[i], depth + 1, sub, &k, e);
        if (rc)
            return rc;
        struct job *c = &l->r->rows[k];
        c->role = ROLE_NEXT;
        c->status = JOB_WAITING;
        c->waits = 1;
        c->parent_id = xstrdup(l->r->rows[me].id);
        l->r->rows[me].successors++;
    }
    if (s->join) {
        sub_path(sub, sizeof sub, path, "join", (size_t)-1);
        size_t k;
        int rc = lay_out(l, s->join, depth + 1, sub, &k, e);
        if (rc)
            return rc;
        struct job *c = &l->r->rows[k];
        c->role = ROLE_JOIN;
        c->status = JOB_WAITING;
        c->waits = 1; /* its parent's completion; the children it fans out are added then */
        c->parent_id = xstrdup(l->r->rows[me].id);
        l->r->rows[me].successors++;
    }
    *at = me;
    return 0;
}

int rows_add(struct engine *eng, struct job_rows *r, const struct job_spec *spec, int64_t now,
             const char *where, struct err *e)
{
    size_t first = r->n;
    struct lay l = {eng, r, now, first, spec->workspace ? spec->workspace : "default", 0};
    size_t top;
    int rc = lay_out(&l, spec, 0, where ? where : "", &top, e);
    if (rc) {
        for (size_t i = first; i < r->n; i++)
            job_release(&r->rows[i]);
        r->n = first;
        return rc;
    }
    if (r->ntops == r->tcap) {
        r->tcap = r->tcap ? r->tcap * 2 : 8;
        r->tops = xrealloc(r->tops, r->tcap * sizeof *r->tops);
    }
    r->tops[r->ntops++] = first;
    if (l.deepest > r->deepest)
        r->deepest = l.deepest;
    /* a tree without a parent is a chain of its own: its top is the root */
    if (!r->rows[first].parent_id)
        rows_place(r, r->ntops - 1, r->rows[first].root_id, 0);
    return 0;
}

size_t rows_tree_end(const struct job_rows *r, size_t t)
{
    return t + 1 < r->ntops ? r->tops[t + 1] : r->n;
}

void rows_place(struct job_rows *r, size_t t, const char *root_id, int depth)
{
    size_t first = r->tops[t], end = rows_tree_end(r, t);
    struct job *top = &r->rows[first];
    if (top->root_id != root_id) {
        char *root = xstrdup(root_id);
        free(top->root_id);
        top->root_id = root;
    }
    const char *root = top->root_id ? top->root_id : top->id;
    int was = top->depth; /* depths below are relative to the top's: placing again is harmless */
    for (size_t i = first; i < end; i++) {
        struct job *j = &r->rows[i];
        j->depth = j->depth - was + depth;
        if (i > first) {
            free(j->root_id);
            j->root_id = xstrdup(root);
        }
    }
}

int rows_tree_depth(const struct job_rows *r, size_t t)
{
    size_t first = r->tops[t], end = rows_tree_end(r, t);
    int deepest = 0;
    for (size_t i = first; i < end; i++)
        if (r->rows[i].depth - r->rows[first].depth > deepest)
            deepest = r->rows[i].depth - r->rows[first].depth;
    return deepest;
}

int engine_check_spec(struct engine *eng, const struct job_spec *spec, struct err *e)
{
    struct job_rows r = {0};
    int rc = rows_add(eng, &r, spec, engine_now(eng), NULL, e);
    rows_release(&r);
    return rc;
}

/* ---- children to fan out ---- */

struct job_children *engine_children_new(void)
{
    return xcalloc(1, sizeof(struct job_children));
}

void engine_children_free(struct job_children *c)
{
    if (!c)
        return;
    rows_release(&c->rows);
    free(c);
}

size_t engine_children_count(const struct job_children *c)
{
    return c ? c->rows.ntops : 0;
}

int engine_children_add(struct engine *eng, struct job_children *c, const struct job_spec *spec,
                        struct err *e)
{
    if (c->rows.ntops >= FANOUT_MAX)
        return err_set(e, TRAWL_ETOOBIG, false, "a job fans out at most %d children", FANOUT_MAX);
    char where[32];
    snprintf(where, sizeof where, "children[%zu]", c->rows.ntops);
    const char *bad = spec->unique_key  ? "unique_key"
                      : spec->run_at    ? "run_at"
                      : spec->parent_id ? "parent_id"
                      : spec->root_id   ? "root_id"
                                        : NULL;
    if (bad)
        return err_set(e, TRAWL_EINVAL, false, "%s: a child may not have a %s", where, bad);
    return rows_add(eng, &c->rows, spec, engine_now(eng), where, e);
}
