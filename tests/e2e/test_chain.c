/* Chains end to end: a real trawl serve driven over HTTP as an external worker would. A chain
 * submitted in one call runs stage by stage with each result as the next input; children fanned
 * out with a completion and their join; a failed stage blocks the rest until it is retried; the
 * chain as a tree over HTTP and in `trawl chain`; pipelines; and what bad chains get. */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OK_STATUS(r, want)                                                                         \
    cr_assert_eq((r).status, (want), "HTTP %ld (want %d): %s", (r).status, (want),                 \
                 (r).body ? (r).body : "")

struct ctx {
    struct serve s;
    char token[128];
};

static void start(struct ctx *c)
{
    /* no workers of its own: the test is the worker */
    E2E_SERVE(&c->s, NULL, "--crawl-workers", "0", "--workers", "0");
    snprintf(c->token, sizeof c->token, "%s", e2e_token(c->s.db, "acme"));
}

/* Claim one job of type as worker "w"; the claimed job's JSON (decref it) and its lease. */
static json_t *claim(struct ctx *c, const char *type, char lease[64])
{
    struct resp r;
    e2e_call(&r, &c->s, "POST", "/v1/jobs/claim", c->token,
             json_pack("{s:[s], s:s}", "types", type, "worker", "w"));
    OK_STATUS(r, 200);
    json_t *j = json_incref(json_array_get(json_object_get(r.json, "jobs"), 0));
    cr_assert_not_null(j, "no %s job to claim: %s", type, r.body);
    snprintf(lease, 64, "%s", json_string_value(json_object_get(j, "leaseToken")));
    e2e_resp_release(&r);
    return j;
}

static void complete(struct ctx *c, json_t *job, const char *lease, json_t *result,
                     json_t *children)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete",
             json_string_value(json_object_get(job, "id")));
    json_t *body = json_pack("{s:s, s:s}", "worker", "w", "leaseToken", lease);
    if (result)
        json_object_set_new(body, "result", result);
    if (children)
        json_object_set_new(body, "children", children);
    struct resp r;
    e2e_call(&r, &c->s, "POST", path, c->token, body);
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
}

static json_t *get_chain(struct ctx *c, const char *id)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/chain", id);
    struct resp r;
    e2e_call(&r, &c->s, "GET", path, c->token, NULL);
    OK_STATUS(r, 200);
    json_t *chain = json_incref(json_object_get(r.json, "chain"));
    e2e_resp_release(&r);
    return chain;
}

static int64_t count(json_t *chain, const char *status)
{
    return json_integer_value(json_object_get(json_object_get(chain, "counts"), status));
}

/* One POST: extract -> transform -> load. Each stage is claimed only once the one before it
 * completed, with that stage's result as its input; the tree shows all three throughout. */
Test(chain_api, a_chain_submitted_in_one_call_runs_stage_by_stage)
{
    struct ctx c;
    start(&c);
    struct resp r;
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token,
             json_pack("{s:s, s:{s:s}, s:{s:s, s:i, s:{s:s}}}", "type", "extract", "args", "src",
                       "feed.xml", "next", "type", "transform", "maxAttempts", 2, "next", "type",
                       "load"));
    OK_STATUS(r, 201);
    char root[64];
    snprintf(root, sizeof root, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    json_t *chain = get_chain(&c, root);
    cr_assert_eq(json_integer_value(json_object_get(chain, "jobs")), 3);
    cr_assert_eq(count(chain, "waiting"), 2);
    json_decref(chain);
    /* transform cannot be claimed before extract completed */
    e2e_call(&r, &c.s, "POST", "/v1/jobs/claim", c.token,
             json_pack("{s:[s,s], s:s}", "types", "transform", "load", "worker", "w"));
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0, "%s", r.body);
    e2e_resp_release(&r);
    char lease[64];
    json_t *j = claim(&c, "extract", lease);
    complete(&c, j, lease, json_pack("{s:i}", "rows", 42), NULL);
    json_decref(j);
    j = claim(&c, "transform", lease);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "input"), "rows")), 42,
                 "the stage's input is the result before it");
    cr_assert_str_eq(json_string_value(json_object_get(j, "root_id")), root);
    cr_assert_str_eq(json_string_value(json_object_get(j, "role")), "next");
    complete(&c, j, lease, json_pack("{s:b}", "clean", 1), NULL);
    json_decref(j);
    j = claim(&c, "load", lease);
    cr_assert(json_is_true(json_object_get(json_object_get(j, "input"), "clean")));
    complete(&c, j, lease, NULL, NULL);
    json_decref(j);
    chain = get_chain(&c, root);
    cr_assert_eq(count(chain, "completed"), 3);
    json_t *tree = json_object_get(chain, "tree");
    cr_assert_str_eq(json_string_value(json_object_get(tree, "type")), "extract");
    json_t *t2 = json_array_get(json_object_get(tree, "children"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t2, "type")), "transform");
    json_t *t3 = json_array_get(json_object_get(t2, "children"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t3, "type")), "load");
    cr_assert_not_null(json_object_get(t3, "duration_ms"));
    json_decref(chain);
    cr_assert_eq(e2e_serve_stop(&c.s, 15000), 0);
}

/* A stage fans out children with its completion; the join it names runs once they all ended,
 * with their results and errors. */
Test(chain_api, children_and_their_join)
{
    struct ctx c;
    start(&c);
    struct resp r;
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token,
             json_pack("{s:s, s:{s:s}}", "type", "split", "join", "type", "merge"));
    OK_STATUS(r, 201);
    char root[64];
    snprintf(root, sizeof root, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    char lease[64];
    json_t *j = claim(&c, "split", lease);
    json_t *kids = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(kids, json_pack("{s:s, s:{s:i}, s:i}", "type", "part", "args", "n", i,
                                              "maxAttempts", 1));
    /* a bad child refuses the completion: nothing completes, nothing is fanned out */
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/complete",
             json_string_value(json_object_get(j, "id")));
    e2e_call(&r, &c.s, "POST", path, c.token,
             json_pack("{s:s, s:s, s:[{s:s}]}", "worker", "w", "leaseToken", lease, "children",
                       "typ", "part"));
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "children[0]: unknown field \"typ\""), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    complete(&c, j, lease, NULL, kids);
    json_decref(j);
    for (int i = 0; i < 3; i++) {
        j = claim(&c, "part", lease);
        if (i == 1) {
            e2e_worker_end(&c.s, c.token, json_string_value(json_object_get(j, "id")), lease,
                           "fail", "part 1 is corrupt");
        } else {
            complete(&c, j, lease,
                     json_pack(
                         "{s:i}", "part",
                         (int)json_integer_value(json_object_get(json_object_get(j, "args"), "n"))),
                     NULL);
        }
        json_decref(j);
    }
    j = claim(&c, "merge", lease);
    json_t *in = json_object_get(j, "input");
    cr_assert_eq(json_integer_value(json_object_get(in, "children")), 3, "%s", json_dumps(in, 0));
    cr_assert_eq(json_integer_value(json_object_get(in, "completed")), 2);
    cr_assert_eq(json_integer_value(json_object_get(in, "failed")), 1);
    cr_assert_eq(json_array_size(json_object_get(in, "results")), 3);
    complete(&c, j, lease, NULL, NULL);
    json_decref(j);
    /* the children, page by page */
    snprintf(path, sizeof path, "/v1/jobs/%s/children?role=child&limit=2", root);
    e2e_call(&r, &c.s, "GET", path, c.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 2);
    cr_assert(json_is_string(json_object_get(r.json, "nextCursor")));
    e2e_resp_release(&r);
    json_t *chain = get_chain(&c, root);
    cr_assert_eq(json_integer_value(json_object_get(chain, "jobs")), 5);
    json_decref(chain);
    cr_assert_eq(e2e_serve_stop(&c.s, 15000), 0);
}

/* A stage that fails for good blocks what comes after it (listed as blocked); retrying it by hand
 * continues the chain, and `trawl chain` draws it. */
Test(chain_api, a_retried_stage_continues_the_chain)
{
    struct ctx c;
    start(&c);
    struct resp r;
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token,
             json_pack("{s:s, s:{s:s, s:i, s:{s:s}}}", "type", "a", "next", "type", "b",
                       "maxAttempts", 1, "next", "type", "c"));
    OK_STATUS(r, 201);
    char root[64];
    snprintf(root, sizeof root, "%s", json_string_value(json_object_get(r.json, "jobId")));
    e2e_resp_release(&r);
    char lease[64];
    json_t *j = claim(&c, "a", lease);
    complete(&c, j, lease, json_pack("{s:i}", "a", 1), NULL);
    json_decref(j);
    j = claim(&c, "b", lease);
    char bid[64];
    snprintf(bid, sizeof bid, "%s", json_string_value(json_object_get(j, "id")));
    e2e_worker_end(&c.s, c.token, bid, lease, "fail", "the warehouse is down");
    json_decref(j);
    e2e_call(&r, &c.s, "GET", "/v1/jobs?status=blocked", c.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 1, "%s", r.body);
    e2e_resp_release(&r);
    struct run run;
    char env_server[128], env_token[160];
    snprintf(env_server, sizeof env_server, "TRAWL_SERVER=%s", c.s.base);
    snprintf(env_token, sizeof env_token, "TRAWL_TOKEN=%s", c.token);
    E2E_RUN(&run, ((const char *const[]){env_server, env_token, NULL}), "chain", root);
    cr_assert_eq(run.status, 1, "a failed chain: exit 1\n%s%s", run.out, run.err);
    cr_assert(strstr(run.out, "failed") && strstr(run.out, "the warehouse is down") &&
                  strstr(run.out, "blocked"),
              "%s", run.out);
    e2e_call(&r, &c.s, "GET", "/v1/metrics", c.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "blockedJobs")), 1, "%s", r.body);
    e2e_resp_release(&r);
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/retry", bid);
    e2e_call(&r, &c.s, "POST", path, c.token, json_object());
    OK_STATUS(r, 200);
    e2e_resp_release(&r);
    j = claim(&c, "b", lease);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "input"), "a")), 1);
    complete(&c, j, lease, NULL, NULL);
    json_decref(j);
    j = claim(&c, "c", lease);
    complete(&c, j, lease, NULL, NULL);
    json_decref(j);
    E2E_RUN(&run, ((const char *const[]){env_server, env_token, NULL}), "chain", root);
    cr_assert_eq(run.status, 0, "%s%s", run.out, run.err);
    cr_assert(strstr(run.out, "3 jobs (3 completed)"), "%s", run.out);
    cr_assert_eq(e2e_serve_stop(&c.s, 15000), 0);
}

/* What bad chains get: a 400 naming the stage and the field, and nothing enqueued. */
Test(chain_api, bad_chains_are_refused_whole)
{
    struct ctx c;
    start(&c);
    struct resp r;
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token,
             json_pack("{s:[{s:s}, {s:s, s:[{s:s}, {s:s, s:s}]}]}", "jobs", "type", "ok", "type",
                       "a", "next", "type", "b", "type", "c", "priority", "high"));
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "jobs[1].next[1]: priority must be an integer"), "%s",
              e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token,
             json_pack("{s:s, s:{s:s, s:s}}", "type", "a", "next", "type", "b", "uniqueKey", "k"));
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "first stage only"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    /* 65 stages, nested */
    json_t *spec = json_pack("{s:s}", "type", "s");
    for (int i = 0; i < 64; i++)
        spec = json_pack("{s:s, s:o}", "type", "s", "next", spec);
    e2e_call(&r, &c.s, "POST", "/v1/jobs", c.token, spec);
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "deeper than 64 stages"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    /* a pipeline whose "after"s go round */
    e2e_call(&r, &c.s, "POST", "/v1/pipelines", c.token,
             json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}]}", "name", "loop",
                       "stages", "type", "a", "name", "a", "type", "b", "name", "b", "after", "c",
                       "type", "c", "name", "c", "after", "b"));
    cr_assert_eq(r.status, 400, "%s", r.body);
    cr_assert(strstr(e2e_err(&r), "cycle"), "%s", e2e_err(&r));
    e2e_resp_release(&r);
    e2e_call(&r, &c.s, "GET", "/v1/jobs", c.token, NULL);
    OK_STATUS(r, 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "jobs")), 0, "something was enqueued: %s",
                 r.body);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&c.s, 15000), 0);
}

/* A pipeline: named, its stages in order unless one names the stage it follows; listed with where
 * it stands, and run to the end by the built-in workers. */
Test(chain_api, a_pipeline_runs_to_its_end)
{
    struct serve s;
    E2E_SERVE(&s, NULL, "--crawl-workers", "0");
    const char *tok = e2e_token(s.db, "acme");
    struct resp r;
    e2e_call(&r, &s, "POST", "/v1/pipelines", tok,
             json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:{s:i}}, {s:s, s:s, s:s}]}", "name", "nightly",
                       "stages", "type", "noop", "name", "fetch", "type", "sleep", "args", "ms", 50,
                       "type", "noop", "after", "fetch", "name", "index"));
    OK_STATUS(r, 201);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "pipelineId")));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "stages")), 3);
    e2e_resp_release(&r);
    char st[32] = "";
    for (int i = 0; i < 100; i++) {
        e2e_call(&r, &s, "GET", "/v1/pipelines", tok, NULL);
        OK_STATUS(r, 200);
        json_t *p = json_array_get(json_object_get(r.json, "pipelines"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(p, "name")), "nightly");
        snprintf(st, sizeof st, "%s", json_string_value(json_object_get(p, "status")));
        bool done = strcmp(st, "completed") == 0;
        e2e_resp_release(&r);
        if (done)
            break;
        e2e_sleep_ms(100);
    }
    cr_assert_str_eq(st, "completed");
    char path[128];
    snprintf(path, sizeof path, "/v1/pipelines/%s", id);
    e2e_call(&r, &s, "GET", path, tok, NULL);
    OK_STATUS(r, 200);
    /* fetch has two stages after it: sleep (in order) and index (by "after") */
    json_t *tree = json_object_get(json_object_get(r.json, "chain"), "tree");
    cr_assert_eq(json_array_size(json_object_get(tree, "children")), 2, "%s", r.body);
    e2e_resp_release(&r);
    cr_assert_eq(e2e_serve_stop(&s, 15000), 0);
}
