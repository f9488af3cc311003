/* Chains over HTTP: a job's whole chain as a tree, a job's children page by page, and pipelines
 * (a named chain submitted in one call, its stages in order). */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "engine/spec_json.h"
#include "store/chain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAIN_VIEW_MAX    10000 /* jobs of a chain one answer shows */
#define CHILDREN_SHOWN    100   /* fanned-out children shown under their parent in a tree */
#define PIPELINE_NAME_MAX 128
#define STAGES_MAX        CHAIN_DEPTH_MAX

static json_t *counts_json(const int64_t counts[JOB_STATUS_COUNT])
{
    json_t *o = json_object();
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        json_object_set_new(o, job_status_name(s), json_integer(counts[s]));
    return o;
}

static json_t *node_json(const struct chain_node *c)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s?, s:s?, s:o, s:o, s:o, s:o, s:o}", "id",
                  c->id, "type", c->type ? c->type : "", "status", job_status_name(c->status),
                  "attempt", c->attempt, "max_attempts", c->max_attempts, "progress", c->progress,
                  "stage", c->stage, "error", c->error, "created_at", api_time(c->created_at),
                  "started_at", api_time(c->started_at), "completed_at", api_time(c->completed_at),
                  "failed_at", api_time(c->failed_at), "updated_at", api_time(c->updated_at));
    json_object_set_new(o, "role",
                        c->role == ROLE_NONE ? json_string("root")
                                             : json_string(job_role_name(c->role)));
    if (c->join_id)
        json_object_set_new(o, "join_id", json_string(c->join_id));
    int64_t end = c->completed_at ? c->completed_at : c->failed_at;
    if (c->started_at && end >= c->started_at)
        json_object_set_new(o, "duration_ms", json_integer(end - c->started_at));
    json_object_set_new(o, "children", json_array());
    return o;
}

static void node_of_job(const struct job *j, struct chain_node *c)
{
    memset(c, 0, sizeof *c);
    memcpy(c->id, j->id, UUID_STR_LEN);
    c->type = j->type;
    c->parent_id = j->parent_id;
    c->join_id = j->join_id;
    c->error = j->error;
    c->stage = j->stage;
    c->role = j->role;
    c->status = j->status;
    c->attempt = j->attempt;
    c->max_attempts = j->max_attempts;
    c->progress = j->progress;
    c->depth = j->depth;
    c->created_at = j->created_at;
    c->started_at = j->started_at;
    c->completed_at = j->completed_at;
    c->failed_at = j->failed_at;
    c->updated_at = j->updated_at;
}

/* The chain of root (a job of the caller's workspace) as {rootId, jobs, truncated, counts,
 * tree}: every job under its parent, at most CHAIN_VIEW_MAX in all and CHILDREN_SHOWN fanned-out
 * children under one parent (the rest summed up in moreChildren and childrenCounts). */
static int chain_json(struct req *r, const struct job *root, json_t **out, struct err *e)
{
    struct store *s = engine_store(r->api->deps.eng);
    int64_t counts[JOB_STATUS_COUNT] = {0};
    struct chain_filter cf = {.root_id = root->id};
    int rc = store_chain_count(s, &cf, false, counts, e);
    if (rc < 0)
        return rc;
    counts[root->status]++;
    int64_t total = 0;
    for (int k = 0; k < JOB_STATUS_COUNT; k++)
        total += counts[k];
    json_t *byid = json_object(); /* id -> node, each node's reference held here */
    struct chain_node top;
    node_of_job(root, &top);
    json_t *tree = node_json(&top);
    json_object_set(byid, root->id, tree);
    /* read in id order; a node's parent may come after it (ids made in one millisecond are
     * ordered by chance), so the tree is put together once all are read */
    json_t *all = json_array();
    char after[UUID_STR_LEN] = "";
    size_t shown = 1;
    bool truncated = false;
    while (!truncated) {
        struct chain_node *nodes;
        size_t n;
        cf.after_id = after[0] ? after : NULL;
        cf.limit = 1000;
        rc = store_chain_nodes(s, &cf, &nodes, &n, e);
        if (rc < 0) {
            json_decref(byid);
            json_decref(all);
            json_decref(tree);
            return rc;
        }
        for (size_t i = 0; i < n; i++) {
            if (shown >= CHAIN_VIEW_MAX) {
                truncated = true;
                break;
            }
            json_t *o = node_json(&nodes[i]);
            json_object_set_new(o, "parent_id",
                                json_string(nodes[i].parent_id ? nodes[i].parent_id : root->id));
            json_object_set(byid, nodes[i].id, o);
            json_array_append_new(all, o);
            shown++;
        }
        if (n)
            memcpy(after, nodes[n - 1].id, UUID_STR_LEN);
        chain_nodes_free(nodes, n);
        if (n < 1000)
            break;
    }
    size_t i;
    json_t *o;
    json_array_foreach(all, i, o)
    {
        const char *pid = json_string_value(json_object_get(o, "parent_id"));
        json_t *parent = json_object_get(byid, pid);
        if (!parent)
            parent = tree; /* its parent was past what is shown */
        json_t *kids = json_object_get(parent, "children");
        bool child = strcmp(json_string_value(json_object_get(o, "role")), "child") == 0;
        json_int_t seen = json_integer_value(json_object_get(parent, "children_seen"));
        if (child)
            json_object_set_new(parent, "children_seen", json_integer(seen + 1));
        if (child && seen >= CHILDREN_SHOWN)
            continue;
        json_array_append(kids, o);
    }
    /* parents with more children than shown: how many, and how they stand */
    const char *key;
    json_object_foreach(byid, key, o)
    {
        json_int_t seen = json_integer_value(json_object_get(o, "children_seen"));
        json_object_del(o, "children_seen");
        json_object_del(o, "parent_id");
        if (seen <= CHILDREN_SHOWN)
            continue;
        struct chain_filter kf = {.parent_id = json_string_value(json_object_get(o, "id")),
                                  .role_mask = ROLE_MASK(ROLE_CHILD)};
        int64_t kc[JOB_STATUS_COUNT];
        if (store_chain_count(s, &kf, false, kc, e) < 0)
            continue;
        int64_t kt = 0;
        for (int k = 0; k < JOB_STATUS_COUNT; k++)
            kt += kc[k];
        json_object_set_new(o, "more_children", json_integer(kt - CHILDREN_SHOWN));
        json_object_set_new(o, "children_counts", counts_json(kc));
    }
    json_decref(all);
    json_t *body = json_pack("{s:s, s:I, s:I, s:b, s:o, s:o}", "root_id", root->id, "jobs",
                             (json_int_t)total, "shown", (json_int_t)shown, "truncated", truncated,
                             "counts", counts_json(counts), "tree", tree);
    json_decref(byid);
    *out = body;
    return 0;
}

/* The root of j's chain, read; false when the reply has been sent. */
static bool root_of(struct req *r, const struct job *j, struct job *root)
{
    if (!j->root_id) {
        job_copy(root, j);
        return true;
    }
    struct err e;
    err_clear(&e);
    int rc = engine_get(r->api->deps.eng, j->root_id, root, &e);
    if (rc) {
        api_reply_err(r, &e);
        return false;
    }
    return true;
}

enum MHD_Result api_jobs_chain(struct req *r)
{
    struct job j, root;
    if (!api_own_job(r, &j))
        return MHD_YES;
    bool ok = root_of(r, &j, &root);
    job_release(&j);
    if (!ok)
        return MHD_YES;
    json_t *chain;
    struct err e;
    err_clear(&e);
    int rc = chain_json(r, &root, &chain, &e);
    job_release(&root);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *body = api_ok();
    json_object_set_new(body, "chain", chain);
    return api_reply(r, 200, body);
}

enum MHD_Result api_jobs_children(struct req *r)
{
    struct job j;
    if (!api_own_job(r, &j))
        return MHD_YES;
    job_release(&j);
    int64_t limit;
    if (!api_query_int(r, "limit", 1, 1000, 100, &limit))
        return MHD_YES;
    struct chain_filter f = {.parent_id = r->params[0], .limit = (size_t)limit};
    const char *role = api_query(r, "role"), *status = api_query(r, "status");
    const char *after = api_query(r, "cursor");
    if (role) {
        int ro = job_role_parse(role);
        if (ro <= 0)
            return api_reply_error(r, 400, "unknown role \"%s\" (expected next, child or join)",
                                   role);
        f.role_mask = ROLE_MASK(ro);
    }
    if (status) {
        int st = job_status_parse(status);
        if (st < 0)
            return api_reply_error(r, 400, "unknown status \"%s\"", status);
        f.status_mask = JOB_MASK(st);
    }
    if (after && !uuid_valid(after))
        return api_reply_error(r, 400, "cursor is not a job id");
    f.after_id = after;
    struct job *jobs;
    size_t n;
    struct err e;
    err_clear(&e);
    int rc = store_chain_jobs(engine_store(r->api->deps.eng), &f, false, &jobs, &n, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = api_job_json(&jobs[i], true);
        json_t *v;
        if (jobs[i].result && (v = json_loads(jobs[i].result, JSON_DECODE_ANY, NULL)))
            json_object_set_new(o, "result", v);
        json_array_append_new(arr, o);
    }
    json_t *body = api_ok();
    json_object_set_new(body, "jobs", arr);
    json_object_set_new(body, "nextCursor",
                        n == (size_t)limit ? json_string(jobs[n - 1].id) : json_null());
    job_array_free(jobs, n);
    return api_reply(r, 200, body);
}

/* ---- pipelines ---- */

struct pipe_add {
    struct pipeline p;
    struct enqueue_result *res;
};

static int pipeline_add_fn(struct store *s, void *arg, struct err *e)
{
    struct pipe_add *a = arg;
    memcpy(a->p.id, a->res->id, UUID_STR_LEN);
    return store_pipeline_add(s, &a->p, e);
}

/* Stage i's parent: the stage its "after" names, else the one before it. -1 for the first. */
static int parent_of(json_t *stages, size_t i, int *out, char *why, size_t wn)
{
    json_t *st = json_array_get(stages, i);
    json_t *after = json_object_get(st, "after");
    if (!after || json_is_null(after)) {
        *out = (int)i - 1;
        return 0;
    }
    if (i == 0) {
        snprintf(why, wn, "stages[0] is the first stage: it follows nothing (remove \"after\")");
        return -1;
    }
    if (!json_is_string(after)) {
        snprintf(why, wn, "stages[%zu]: after must be the name of another stage", i);
        return -1;
    }
    for (size_t k = 0; k < json_array_size(stages); k++) {
        const char *nm = json_string_value(json_object_get(json_array_get(stages, k), "name"));
        if (nm && strcmp(nm, json_string_value(after)) == 0) {
            if (k == i) {
                snprintf(why, wn, "stages[%zu]: a stage cannot follow itself", i);
                return -1;
            }
            *out = (int)k;
            return 0;
        }
    }
    snprintf(why, wn, "stages[%zu]: after names \"%.64s\", which is no stage's name", i,
             json_string_value(after));
    return -1;
}

enum MHD_Result api_pipelines_create(struct req *r)
{
    const char *name = NULL;
    if (!r->json || !api_get_str(r, r->json, "name", PIPELINE_NAME_MAX, &name))
        return r->json
                   ? MHD_YES
                   : api_reply_error(r, 400, "the body must be {\"name\": ..., \"stages\": [...]}");
    if (!name)
        return api_reply_error(r, 400, "name is required: what the pipeline is called");
    if (!engine_name_valid(name, PIPELINE_NAME_MAX, true))
        return api_reply_error(r, 400, "name must be printable characters");
    json_t *stages = json_object_get(r->json, "stages");
    size_t n = json_array_size(stages);
    if (!json_is_array(stages) || n == 0)
        return api_reply_error(r, 400, "stages must be an array of 1 or more job specs");
    if (n > STAGES_MAX * 4)
        return api_reply_error(r, 400, "stages: at most %d", STAGES_MAX * 4);
    /* names, unique */
    for (size_t i = 0; i < n; i++) {
        json_t *st = json_array_get(stages, i);
        if (!json_is_object(st))
            return api_reply_error(r, 400, "stages[%zu] must be a job spec", i);
        json_t *nm = json_object_get(st, "name");
        if (nm && (!json_is_string(nm) || !engine_name_valid(json_string_value(nm), 64, false)))
            return api_reply_error(r, 400, "stages[%zu]: name must be 1-64 printable characters",
                                   i);
        for (size_t k = 0; nm && k < i; k++) {
            const char *other =
                json_string_value(json_object_get(json_array_get(stages, k), "name"));
            if (other && strcmp(other, json_string_value(nm)) == 0)
                return api_reply_error(
                    r, 400, "stages[%zu]: the name \"%s\" is taken by stages[%zu]", i, other, k);
        }
    }
    int *parent = xcalloc(n, sizeof *parent);
    char why[256];
    for (size_t i = 0; i < n; i++) {
        if (parent_of(stages, i, &parent[i], why, sizeof why) != 0) {
            free(parent);
            return api_reply_error(r, 400, "%s", why);
        }
    }
    /* every stage must lead back to the first: a loop of "after"s never does */
    for (size_t i = 1; i < n; i++) {
        int at = (int)i;
        size_t steps = 0;
        while (at > 0 && steps <= n) {
            at = parent[at];
            steps++;
        }
        if (at != 0) {
            free(parent);
            return api_reply_error(r, 400, "stages[%zu]: its \"after\"s go round in a cycle", i);
        }
    }
    /* the specs: each stage without its pipeline fields, with its followers as next */
    struct spec_mem mem = {0};
    struct job_spec *specs = xcalloc(n, sizeof *specs);
    json_t **bare = xcalloc(n, sizeof *bare);
    enum MHD_Result ret = MHD_YES;
    for (size_t i = 0; i < n; i++) {
        bare[i] = json_deep_copy(json_array_get(stages, i));
        json_object_del(bare[i], "name");
        json_object_del(bare[i], "after");
        if (json_object_get(bare[i], "next") || json_object_get(bare[i], "join")) {
            ret = api_reply_error(r, 400,
                                  "stages[%zu]: a pipeline's stages follow each other by order or "
                                  "\"after\", not by next or join",
                                  i);
            goto out;
        }
        char where[32];
        snprintf(where, sizeof where, "stages[%zu]", i);
        if (!api_read_spec(r, bare[i], where, &specs[i], &mem))
            goto out;
    }
    size_t *nkids = xcalloc(n, sizeof *nkids);
    for (size_t i = 1; i < n; i++)
        nkids[parent[i]]++;
    for (size_t i = 0; i < n; i++) {
        if (!nkids[i])
            continue;
        specs[i].next = xcalloc(nkids[i], sizeof *specs[i].next);
        specs[i].nnext = nkids[i];
    }
    /* a spec's next array holds copies, so each stage is copied into its parent's array once
     * its own array is filled: deepest first (by the number of steps to the first stage) */
    int *depth = xcalloc(n, sizeof *depth);
    int maxd = 0;
    for (size_t i = 1; i < n; i++) {
        for (int at = (int)i; at > 0; at = parent[at])
            depth[i]++;
        if (depth[i] > maxd)
            maxd = depth[i];
    }
    size_t *filled = xcalloc(n, sizeof *filled);
    for (int d = maxd; d >= 1; d--)
        for (size_t i = 1; i < n; i++)
            if (depth[i] == d) {
                struct job_spec *p = &specs[parent[i]];
                ((struct job_spec *)p->next)[filled[parent[i]]++] = specs[i];
            }
    struct enqueue_result res;
    struct pipe_add pa = {.p = {.workspace = (char *)r->workspace,
                                .name = (char *)name,
                                .stages = (int)n,
                                .created_at = engine_now(r->api->deps.eng)},
                          .res = &res};
    struct err e;
    err_clear(&e);
    int rc = engine_enqueue_with(r->api->deps.eng, &specs[0], &res, pipeline_add_fn, &pa, &e);
    if (rc) {
        ret = api_reply_err(r, &e);
    } else {
        json_t *body = api_ok();
        json_object_set_new(body, "pipelineId", json_string(res.id));
        json_object_set_new(body, "rootId", json_string(res.id));
        json_object_set_new(body, "name", json_string(name));
        json_object_set_new(body, "stages", json_integer((json_int_t)n));
        json_object_set_new(body, "existed", json_boolean(res.existed));
        ret = api_reply(r, res.existed ? 200 : 201, body);
    }
    for (size_t i = 0; i < n; i++)
        free((void *)specs[i].next);
    free(filled);
    free(depth);
    free(nkids);
out:
    for (size_t i = 0; i < n; i++)
        json_decref(bare[i]);
    free(bare);
    spec_mem_release(&mem);
    free(specs);
    free(parent);
    return ret;
}

static json_t *pipeline_json(struct req *r, const struct pipeline *p)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:o}", "id", p->id, "name", p->name ? p->name : "",
                          "stages", p->stages, "created_at", api_time(p->created_at));
    struct job root;
    struct err e;
    err_clear(&e);
    if (engine_get(r->api->deps.eng, p->id, &root, &e) == 0) {
        int64_t counts[JOB_STATUS_COUNT] = {0};
        struct chain_filter cf = {.root_id = p->id};
        store_chain_count(engine_store(r->api->deps.eng), &cf, false, counts, &e);
        counts[root.status]++;
        json_object_set_new(o, "counts", counts_json(counts));
        /* where it stands: failed or blocked beats running beats waiting */
        const char *st = counts[JOB_FAILED] || counts[JOB_BLOCKED] ? "failed"
                         : counts[JOB_PROCESSING] || counts[JOB_PENDING] || counts[JOB_RETRYING] ||
                                 counts[JOB_WAITING]
                             ? "running"
                         : counts[JOB_CANCELLED] ? "cancelled"
                                                 : "completed";
        json_object_set_new(o, "status", json_string(st));
        job_release(&root);
    }
    return o;
}

enum MHD_Result api_pipelines_list(struct req *r)
{
    int64_t limit, offset;
    if (!api_query_page(r, 20, &limit, &offset))
        return MHD_YES;
    struct pipeline *ps;
    size_t n;
    int64_t total;
    struct err e;
    err_clear(&e);
    int rc = store_pipeline_list(engine_store(r->api->deps.eng), r->workspace, api_query(r, "name"),
                                 (size_t)limit, (size_t)offset, &ps, &n, &total, &e);
    if (rc < 0)
        return api_reply_err(r, &e);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, pipeline_json(r, &ps[i]));
    pipeline_array_free(ps, n);
    json_t *body = api_ok();
    json_object_set_new(body, "pipelines", arr);
    json_object_set_new(body, "total", json_integer(total));
    return api_reply(r, 200, body);
}

enum MHD_Result api_pipelines_get(struct req *r)
{
    if (!uuid_valid(r->params[0]))
        return api_reply_error(r, 404, "pipeline %s not found", r->params[0]);
    struct pipeline p;
    struct err e;
    err_clear(&e);
    int rc = store_pipeline_get(engine_store(r->api->deps.eng), r->workspace, r->params[0], &p, &e);
    if (rc == TRAWL_ENOTFOUND)
        return api_reply_error(r, 404, "pipeline %s not found", r->params[0]);
    if (rc)
        return api_reply_err(r, &e);
    json_t *body = api_ok();
    json_object_set_new(body, "pipeline", pipeline_json(r, &p));
    struct job root;
    if (engine_get(r->api->deps.eng, p.id, &root, &e) == 0) {
        json_t *chain;
        if (chain_json(r, &root, &chain, &e) == 0)
            json_object_set_new(body, "chain", chain);
        job_release(&root);
    }
    pipeline_release(&p);
    return api_reply(r, 200, body);
}
