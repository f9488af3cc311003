/* Chains: stages that run once the stage before them completed, with its result as input; fan-out
 * children and the join that runs once they all ended; blocked stages; a retry that continues a
 * chain; cancelling a chain; what bad chains get; and the join's count under injected store
 * failures at every step of a child's completion. */
#include "testutil.h"

#include "store/chain.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Claim the one pending job of type. */
static void claim(struct engine *eng, const char *type, struct job *out)
{
    tu_claim_one(eng, type, "w", out);
}

static void complete(struct engine *eng, const struct job *j, const char *result)
{
    struct err e = {0};
    cr_assert_eq(engine_complete(eng, &TU_FENCE(*j), result, &e), 0, "complete %s: %s", j->type,
                 e.msg);
}

static int64_t n_events(struct engine *eng, const char *id)
{
    struct job_event *ev;
    size_t n;
    struct err e = {0};
    int rc = engine_events(eng, id, &ev, &n, &e);
    cr_assert_geq(rc, 0, "%s", e.msg);
    job_events_free(ev, n);
    return (int64_t)n;
}

/* A's result reaches B, B's reaches C; each runs only after the one before completed, and each
 * knows its parent and the chain's root. */
Test(chain, stages_run_in_order_with_the_result_before_as_input)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec c = {.type = "c"};
    struct job_spec b = {.type = "b", .next = &c, .nnext = 1};
    struct job_spec a = {.type = "a", .args = "{\"x\":1}", .next = &b, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 2);
    /* the later stages cannot be claimed yet */
    const char *types[] = {"b", "c"};
    struct job *jobs;
    size_t n;
    cr_assert_eq(engine_claim(eng, types, 2, 10, "w", 0, &jobs, &n, &e), 0);
    struct job ja, jb, jc;
    claim(eng, "a", &ja);
    cr_assert_str_eq(ja.id, r.id);
    cr_assert_null(ja.input);
    complete(eng, &ja, "{\"found\":3}");
    cr_assert_eq(tu_count(eng, JOB_WAITING), 1);
    claim(eng, "b", &jb);
    cr_assert_str_eq(jb.input, "{\"found\":3}");
    cr_assert_str_eq(jb.parent_id, r.id);
    cr_assert_str_eq(jb.root_id, r.id);
    cr_assert_eq(jb.role, ROLE_NEXT);
    cr_assert_eq(jb.depth, 1);
    complete(eng, &jb, "{\"b\":true}");
    claim(eng, "c", &jc);
    cr_assert_str_eq(jc.input, "{\"b\":true}");
    cr_assert_str_eq(jc.parent_id, jb.id);
    cr_assert_str_eq(jc.root_id, r.id);
    cr_assert_eq(jc.depth, 2);
    complete(eng, &jc, NULL);
    cr_assert_eq(tu_count(eng, JOB_COMPLETED), 3);
    /* waiting -> pending -> processing -> completed */
    cr_assert_eq(n_events(eng, jc.id), 3);
    job_release(&ja);
    job_release(&jb);
    job_release(&jc);
    engine_close(eng);
}

/* A stage with several next stages starts all of them; a stage that fails for good leaves the
 * later ones blocked, visible, never run; a retry by hand continues from there and does not run
 * what completed again. */
Test(chain, failure_blocks_later_stages_and_a_retry_continues_the_chain)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec c = {.type = "c"};
    struct job_spec b = {.type = "b", .max_attempts = 1, .next = &c, .nnext = 1};
    struct job_spec a = {.type = "a", .next = &b, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    struct job ja, jb, jc;
    claim(eng, "a", &ja);
    complete(eng, &ja, "{\"a\":1}");
    claim(eng, "b", &jb);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(jb), "upstream is down", true, &e), JOB_FAILED);
    cr_assert_eq(tu_count(eng, JOB_BLOCKED), 1);
    struct job_filter f = {.parent_id = jb.id};
    struct job *list;
    size_t n;
    cr_assert_eq(engine_list(eng, "blocked", &f, &list, &n, &e), 1, "%s", e.msg);
    char cid[UUID_STR_LEN];
    strcpy(cid, list[0].id);
    cr_assert_str_eq(list[0].type, "c");
    job_array_free(list, n);
    /* a blocked stage cannot be retried itself: its failed stage can */
    cr_assert_eq(engine_retry(eng, cid, 0, &e), TRAWL_ESTATE);
    cr_assert(strstr(e.msg, "retry that stage"), "%s", e.msg);
    cr_assert_eq(engine_retry(eng, jb.id, 1, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_status(eng, cid), JOB_WAITING);
    job_release(&jb);
    claim(eng, "b", &jb);
    cr_assert_str_eq(jb.input, "{\"a\":1}", "the retried stage keeps its input");
    complete(eng, &jb, "{\"b\":2}");
    claim(eng, "c", &jc);
    cr_assert_str_eq(jc.input, "{\"b\":2}");
    complete(eng, &jc, NULL);
    /* a ran once */
    struct job now;
    tu_get(eng, ja.id, &now);
    cr_assert_eq(now.attempt, 1);
    cr_assert_eq(now.status, JOB_COMPLETED);
    job_release(&now);
    job_release(&ja);
    job_release(&jb);
    job_release(&jc);
    engine_close(eng);
}

/* A stage whose parent fails with attempts left keeps waiting; only the end of the parent's last
 * attempt blocks it. The monitor's failure of a stuck job blocks too. */
Test(chain, only_a_failure_for_good_blocks)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 1000000000);
    struct engine *eng = tu_engine(NULL, &clk);
    struct job_spec b = {.type = "b"};
    struct job_spec a = {.type = "a", .max_attempts = 2, .next = &b, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    struct job ja;
    claim(eng, "a", &ja);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(ja), "flaky", true, &e), JOB_RETRYING);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 1);
    job_release(&ja);
    tu_clock_advance(&clk, 60000);
    tu_sweep(eng);
    claim(eng, "a", &ja);
    /* its worker dies: the lease runs out on the last attempt */
    tu_clock_advance(&clk, 10 * 60000);
    struct sweep_report sr = tu_sweep(eng);
    cr_assert_eq(sr.failed, 1);
    cr_assert_eq(tu_count(eng, JOB_BLOCKED), 1);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 0);
    job_release(&ja);
    engine_close(eng);
}

/* Cancelling a chain's root cancels every job of the chain that has not ended, even when the root
 * itself completed; cancelling a middle stage blocks what comes after it. */
Test(chain, cancelling_the_root_cancels_the_chain)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec d = {.type = "d"};
    struct job_spec c = {.type = "c", .next = &d, .nnext = 1};
    struct job_spec b[2] = {{.type = "b"}, {.type = "b2"}};
    b[0].next = &c;
    b[0].nnext = 1;
    struct job_spec a = {.type = "a", .next = b, .nnext = 2};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    struct job ja, jb;
    claim(eng, "a", &ja);
    complete(eng, &ja, NULL);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 2, "both next stages run");
    claim(eng, "b", &jb);
    cr_assert_eq(engine_cancel(eng, r.id, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_status(eng, r.id), JOB_COMPLETED, "what completed stays completed");
    cr_assert_eq(tu_count(eng, JOB_CANCELLED), 4, "b (running), b2, c, d");
    cr_assert_eq(
        tu_count(eng, JOB_WAITING) + tu_count(eng, JOB_PENDING) + tu_count(eng, JOB_PROCESSING), 0);
    /* its worker is refused */
    int rc = engine_complete(eng, &TU_FENCE(jb), NULL, &e);
    cr_assert(rc == TRAWL_ESTATE || rc == TRAWL_ESTALE, "%d %s", rc, e.msg);
    /* a chain that has ended cannot be cancelled again */
    cr_assert_eq(engine_cancel(eng, r.id, &e), TRAWL_ESTATE);
    job_release(&ja);
    job_release(&jb);

    /* a middle stage */
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    claim(eng, "a", &ja);
    complete(eng, &ja, NULL);
    claim(eng, "b", &jb);
    cr_assert_eq(engine_cancel(eng, jb.id, &e), 0, "%s", e.msg);
    struct job_filter f = {.parent_id = jb.id};
    struct job *list;
    size_t n;
    cr_assert_eq(engine_list(eng, "blocked", &f, &list, &n, &e), 1);
    job_array_free(list, n);
    cr_assert_eq(tu_count(eng, JOB_BLOCKED), 2, "c and, below it, d");
    job_release(&ja);
    job_release(&jb);
    engine_close(eng);
}

/* A bad stage anywhere refuses the whole submission, naming it; nothing is enqueued. So do a
 * unique key or a run time on a later stage, and a chain deeper than 64 stages. */
Test(chain, a_bad_stage_refuses_the_whole_submission)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct err e = {0};
    struct enqueue_result r[2];
    struct job_spec bad[2] = {{.type = "ok"}, {.type = NULL}};
    struct job_spec b = {.type = "b", .next = bad, .nnext = 2};
    struct job_spec a[2] = {{.type = "first"}, {.type = "a", .next = &b, .nnext = 1}};
    cr_assert_eq(engine_enqueue_many(eng, a, 2, r, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "jobs[1].next[0].next[1]: type is required"), "%s", e.msg);
    struct job_spec keyed = {.type = "k", .unique_key = "once"};
    struct job_spec holder = {.type = "h", .next = &keyed, .nnext = 1};
    cr_assert_eq(engine_enqueue(eng, &holder, r, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "next[0]: unique_key is allowed on a chain's first stage only"), "%s",
              e.msg);
    struct job_spec badjoin = {.type = "j", .args = "[1]"};
    struct job_spec joined = {.type = "p", .join = &badjoin};
    cr_assert_eq(engine_enqueue(eng, &joined, r, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "join: args must be a JSON object"), "%s", e.msg);
    /* 64 stages are taken, 65 are not */
    struct job_spec line[65];
    for (int i = 0; i < 65; i++) {
        line[i] = (struct job_spec){.type = "s"};
        if (i < 64) {
            line[i].next = &line[i + 1];
            line[i].nnext = 1;
        }
    }
    cr_assert_eq(engine_enqueue(eng, &line[0], r, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "deeper than 64 stages"), "%s", e.msg);
    int64_t total = 0;
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        total += tu_count(eng, (enum job_status)s);
    cr_assert_eq(total, 0, "nothing was enqueued");
    line[63].next = NULL;
    line[63].nnext = 0;
    cr_assert_eq(engine_enqueue(eng, &line[0], r, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 63);
    /* and none may be added below the last */
    struct job_spec under = {.type = "s"};
    struct job *all;
    size_t n;
    struct job_filter f = {.limit = 1};
    cr_assert_eq(engine_list(eng, "waiting", &f, &all, &n, &e), 1);
    under.parent_id = all[0].id; /* the newest: the deepest */
    cr_assert_eq(all[0].depth, 63);
    cr_assert_eq(engine_enqueue(eng, &under, r, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "deeper than 64"), "%s", e.msg);
    job_array_free(all, n);
    engine_close(eng);
}

/* Fan out children with the completion; the join named on the parent runs once, after the last
 * of them ended, with their results and errors as input; a unique key on the root returns the
 * live chain instead of a second one. */
Test(chain, a_join_runs_once_after_every_child_ended)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec after = {.type = "after"};
    struct job_spec join = {.type = "join", .next = &after, .nnext = 1};
    struct job_spec split = {.type = "split", .unique_key = "catalogue", .join = &join};
    struct enqueue_result r, r2;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &split, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_enqueue(eng, &split, &r2, &e), 0, "%s", e.msg);
    cr_assert(r2.existed);
    cr_assert_str_eq(r2.id, r.id);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 2, "the join and the stage after it, once");
    struct job js;
    claim(eng, "split", &js);
    struct job_children *ch = engine_children_new();
    for (int i = 0; i < 5; i++) {
        char args[32];
        snprintf(args, sizeof args, "{\"page\":%d}", i);
        struct job_spec c = {.type = "page", .args = args, .max_attempts = 1};
        cr_assert_eq(engine_children_add(eng, ch, &c, &e), 0, "%s", e.msg);
    }
    struct job_spec keyed = {.type = "page", .unique_key = "k"};
    cr_assert_eq(engine_children_add(eng, ch, &keyed, &e), TRAWL_EINVAL);
    cr_assert_eq(engine_complete_children(eng, &TU_FENCE(js), "{\"pages\":5}", ch, &e), 0, "%s",
                 e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 5);
    struct job join_row;
    struct job_filter f = {.parent_id = js.id};
    struct job *list;
    size_t n;
    cr_assert_eq(engine_list(eng, "waiting", &f, &list, &n, &e), 1);
    char jid[UUID_STR_LEN];
    strcpy(jid, list[0].id);
    cr_assert_eq(list[0].waits, 5);
    job_array_free(list, n);
    for (int i = 0; i < 5; i++) {
        struct job c;
        claim(eng, "page", &c);
        cr_assert_str_eq(c.parent_id, js.id);
        cr_assert_str_eq(c.root_id, r.id);
        cr_assert_str_eq(c.join_id, jid);
        cr_assert_eq(c.role, ROLE_CHILD);
        cr_assert_eq(tu_status(eng, jid), JOB_WAITING, "the join waits for every child");
        if (i == 2) {
            cr_assert_eq(engine_fail(eng, &TU_FENCE(c), "page 2 is broken", false, &e), JOB_FAILED);
        } else {
            char res[32];
            snprintf(res, sizeof res, "{\"records\":%d}", i);
            complete(eng, &c, res);
        }
        job_release(&c);
    }
    tu_get(eng, jid, &join_row);
    cr_assert_eq(join_row.status, JOB_PENDING);
    json_t *in = json_loads(join_row.input, 0, NULL);
    cr_assert_not_null(in, "%s", join_row.input);
    cr_assert_eq(json_integer_value(json_object_get(in, "children")), 5);
    cr_assert_eq(json_integer_value(json_object_get(in, "completed")), 4);
    cr_assert_eq(json_integer_value(json_object_get(in, "failed")), 1);
    json_t *results = json_object_get(in, "results");
    cr_assert_eq(json_array_size(results), 5);
    cr_assert(json_is_true(json_object_get(in, "results_complete")));
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(results, 2), "error")),
                     "page 2 is broken");
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_array_get(results, 4), "result"), "records")),
                 4);
    json_decref(in);
    /* it runs once: waiting -> pending, nothing more */
    cr_assert_eq(n_events(eng, jid), 1);
    job_release(&join_row);
    struct job jj, ja;
    claim(eng, "join", &jj);
    complete(eng, &jj, "{\"joined\":true}");
    claim(eng, "after", &ja);
    cr_assert_str_eq(ja.input, "{\"joined\":true}");
    complete(eng, &ja, NULL);
    job_release(&jj);
    job_release(&ja);
    job_release(&js);
    engine_close(eng);
}

/* A join whose parent fans out nothing runs as soon as the parent completed; a join whose parent
 * failed is blocked with the parent's other stages. */
Test(chain, a_join_without_children_runs_at_once)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec join = {.type = "join"};
    struct job_spec p = {.type = "p", .max_attempts = 1, .join = &join};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
    struct job j;
    claim(eng, "p", &j);
    complete(eng, &j, NULL);
    job_release(&j);
    claim(eng, "join", &j);
    json_t *in = json_loads(j.input, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(in, "children")), 0);
    json_decref(in);
    job_release(&j);
    cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
    claim(eng, "p", &j);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "no", false, &e), JOB_FAILED);
    cr_assert_eq(tu_count(eng, JOB_BLOCKED), 1);
    job_release(&j);
    engine_close(eng);
}

/* A child that failed for good counted as ended; retried by hand while the join still waits, it
 * counts again, so the join waits for its new end and runs once. */
Test(chain, a_retried_child_is_waited_for_again)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec join = {.type = "join"};
    struct job_spec p = {.type = "p", .join = &join};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
    struct job jp;
    claim(eng, "p", &jp);
    struct job_children *ch = engine_children_new();
    struct job_spec c1 = {.type = "c1", .max_attempts = 1}, c2 = {.type = "c2"};
    cr_assert_eq(engine_children_add(eng, ch, &c1, &e), 0);
    cr_assert_eq(engine_children_add(eng, ch, &c2, &e), 0);
    cr_assert_eq(engine_complete_children(eng, &TU_FENCE(jp), NULL, ch, &e), 0, "%s", e.msg);
    struct job a, b;
    claim(eng, "c1", &a);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(a), "bad", false, &e), JOB_FAILED);
    cr_assert_eq(engine_retry(eng, a.id, 1, &e), 0, "%s", e.msg);
    claim(eng, "c2", &b);
    complete(eng, &b, NULL);
    cr_assert_eq(tu_count(eng, JOB_WAITING), 1, "the join still waits for the retried child");
    job_release(&a);
    claim(eng, "c1", &a);
    complete(eng, &a, "{\"second\":true}");
    struct job_filter f = {.parent_id = jp.id};
    struct job *list;
    size_t n;
    cr_assert_eq(engine_list(eng, "pending", &f, &list, &n, &e), 1);
    cr_assert_str_eq(list[0].type, "join");
    json_t *in = json_loads(list[0].input, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(in, "completed")), 2);
    json_decref(in);
    job_array_free(list, n);
    job_release(&a);
    job_release(&b);
    job_release(&jp);
    engine_close(eng);
}

/* A child that fans out children of its own, with a join of its own: the two joins count their own
 * children. */
Test(chain, nested_joins_count_their_own_children)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec inner_join = {.type = "inner_join"};
    struct job_spec outer_join = {.type = "outer_join"};
    struct job_spec p = {.type = "p", .join = &outer_join};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
    struct job jp, jm, jl;
    claim(eng, "p", &jp);
    struct job_children *ch = engine_children_new();
    struct job_spec mid = {.type = "mid", .join = &inner_join};
    cr_assert_eq(engine_children_add(eng, ch, &mid, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_complete_children(eng, &TU_FENCE(jp), NULL, ch, &e), 0, "%s", e.msg);
    claim(eng, "mid", &jm);
    ch = engine_children_new();
    struct job_spec leaf = {.type = "leaf"};
    cr_assert_eq(engine_children_add(eng, ch, &leaf, &e), 0);
    cr_assert_eq(engine_children_add(eng, ch, &leaf, &e), 0);
    cr_assert_eq(engine_complete_children(eng, &TU_FENCE(jm), NULL, ch, &e), 0, "%s", e.msg);
    /* mid completed: the outer join's only child ended; the inner join waits for two leaves */
    struct job oj;
    claim(eng, "outer_join", &oj);
    job_release(&oj);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(tu_count(eng, JOB_WAITING), 1);
        claim(eng, "leaf", &jl);
        cr_assert_eq(jl.depth, 2);
        complete(eng, &jl, NULL);
        job_release(&jl);
    }
    claim(eng, "inner_join", &oj);
    cr_assert_str_eq(oj.parent_id, jm.id);
    job_release(&oj);
    job_release(&jp);
    job_release(&jm);
    engine_close(eng);
}

/* engine_wait returns for a stage that is blocked: it cannot run until someone retries. */
Test(chain, wait_returns_when_a_stage_is_blocked)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec b = {.type = "b"};
    struct job_spec a = {.type = "a", .max_attempts = 1, .next = &b, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    struct job ja, got;
    claim(eng, "a", &ja);
    struct job_filter f = {.parent_id = ja.id};
    struct job *list;
    size_t n;
    cr_assert_eq(engine_list(eng, "waiting", &f, &list, &n, &e), 1);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(ja), "no", false, &e), JOB_FAILED);
    cr_assert_eq(engine_wait(eng, list[0].id, 5000, &got, &e), 0, "%s", e.msg);
    cr_assert_eq(got.status, JOB_BLOCKED);
    job_release(&got);
    job_array_free(list, n);
    job_release(&ja);
    engine_close(eng);
}

/* 100,000 children, one join: every child's end is counted once, and the join runs once, after
 * the last. The children's completions go through the committer many at a time, as a pool's do. */
struct done_count {
    atomic_int n, failed;
};

static void on_done(void *ctx, int rc, const struct err *e)
{
    struct done_count *d = ctx;
    (void)e;
    if (rc)
        atomic_fetch_add(&d->failed, 1);
    atomic_fetch_add(&d->n, 1);
}

Test(chain, a_join_over_100000_children_stays_exact, .timeout = 600)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec join = {.type = "join"};
    struct job_spec p = {.type = "p", .join = &join};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
    struct job jp;
    claim(eng, "p", &jp);
    struct job_children *ch = engine_children_new();
    struct job_spec c = {.type = "c"};
    for (int i = 0; i < FANOUT_MAX; i++)
        cr_assert_eq(engine_children_add(eng, ch, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_children_add(eng, ch, &c, &e), TRAWL_ETOOBIG);
    cr_assert_eq(engine_complete_children(eng, &TU_FENCE(jp), NULL, ch, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), FANOUT_MAX);
    const char *type = "c";
    int completed = 0;
    while (completed < FANOUT_MAX) {
        struct job *jobs;
        size_t n;
        cr_assert_geq(engine_claim(eng, &type, 1, 2000, "w", 600000, &jobs, &n, &e), 0, "%s",
                      e.msg);
        cr_assert_gt(n, 0, "claimed nothing after %d", completed);
        struct done_count d = {0};
        for (size_t i = 0; i < n; i++) {
            struct job_fence f = TU_FENCE(jobs[i]);
            engine_complete_async(eng, &f, NULL, on_done, &d);
        }
        while (atomic_load(&d.n) < (int)n)
            clock_sleep_ms(1);
        cr_assert_eq(atomic_load(&d.failed), 0);
        completed += (int)n;
        if (completed < FANOUT_MAX)
            cr_assert_eq(tu_count(eng, JOB_WAITING), 1, "released early, after %d", completed);
        job_array_free(jobs, n);
    }
    struct job j;
    claim(eng, "join", &j);
    json_t *in = json_loads(j.input, 0, NULL);
    cr_assert_eq(json_integer_value(json_object_get(in, "children")), FANOUT_MAX);
    cr_assert_eq(json_integer_value(json_object_get(in, "completed")), FANOUT_MAX);
    cr_assert(json_is_false(json_object_get(in, "results_complete")));
    json_decref(in);
    cr_assert_eq(n_events(eng, j.id), 2, "released once, then claimed");
    struct chain_filter cf = {.parent_id = jp.id, .role_mask = ROLE_MASK(ROLE_CHILD)};
    int64_t counts[JOB_STATUS_COUNT];
    cr_assert_eq(store_chain_count(engine_store(eng), &cf, false, counts, &e), 0);
    cr_assert_eq(counts[JOB_COMPLETED], FANOUT_MAX);
    job_release(&j);
    job_release(&jp);
    engine_close(eng);
}

/* Every store call of a child's completion fails once in turn. A completion that reports an error
 * changed nothing (the child still runs, the join's count is as it was); one that succeeds counted
 * once. Whatever failed, the join runs exactly once, after the last child. */
Test(chain, the_join_count_is_exact_when_any_store_call_of_a_completion_fails, .timeout = 300)
{
    long n = 1;
    bool clean = false;
    for (; !clean; n++) {
        cr_assert_lt(n, 500, "the completions never ran clean");
        char name[32];
        snprintf(name, sizeof name, "join-%ld.db", n);
        struct engine *eng = tu_engine(tu_path(name), NULL);
        struct job_spec join = {.type = "join"};
        struct job_spec p = {.type = "p", .join = &join};
        struct enqueue_result r;
        struct err e = {0};
        cr_assert_eq(engine_enqueue(eng, &p, &r, &e), 0, "%s", e.msg);
        struct job jp;
        claim(eng, "p", &jp);
        struct job_children *ch = engine_children_new();
        struct job_spec c = {.type = "c", .max_attempts = 1};
        for (int i = 0; i < 3; i++)
            cr_assert_eq(engine_children_add(eng, ch, &c, &e), 0);
        cr_assert_eq(engine_complete_children(eng, &TU_FENCE(jp), NULL, ch, &e), 0, "%s", e.msg);
        struct job kids[3];
        for (int i = 0; i < 3; i++)
            claim(eng, "c", &kids[i]);
        /* the store call counted from the first completion on; the checks between are not */
        struct store *s = engine_store(eng);
        long used = 0;
        int failures = 0;
        for (int i = 0; i < 3; i++) {
            long left = n - used;
            store_fail_nth(s, left > 0 ? left : 0);
            /* the first two complete, the last fails for good */
            int rc = i < 2 ? engine_complete(eng, &TU_FENCE(kids[i]), "{\"ok\":1}", &e)
                           : engine_fail(eng, &TU_FENCE(kids[i]), "broken", false, &e);
            used += atomic_load(&s->calls);
            store_fail_nth(s, 0);
            if (rc < 0) {
                cr_assert_eq(rc, TRAWL_EINJECTED, "N=%ld: %s", n, e.msg);
                failures++;
                cr_assert_eq(tu_status(eng, kids[i].id), JOB_PROCESSING,
                             "N=%ld: a failed completion changed the child", n);
                struct job_filter f = {.parent_id = jp.id};
                struct job *list;
                size_t k;
                cr_assert_eq(engine_list(eng, "waiting", &f, &list, &k, &e), 1, "N=%ld", n);
                cr_assert_eq(list[0].waits, 3 - i, "N=%ld: a failed completion was counted", n);
                job_array_free(list, k);
                /* and its worker tries again */
                rc = i < 2 ? engine_complete(eng, &TU_FENCE(kids[i]), "{\"ok\":1}", &e)
                           : engine_fail(eng, &TU_FENCE(kids[i]), "broken", false, &e);
                cr_assert_geq(rc, 0, "N=%ld: the retry: %s", n, e.msg);
            }
            struct job_filter f = {.parent_id = jp.id};
            struct job *list;
            size_t k;
            const char *want = i < 2 ? "waiting" : "pending";
            cr_assert_eq(engine_list(eng, want, &f, &list, &k, &e), 1,
                         "N=%ld: after child %d the join is not %s", n, i, want);
            cr_assert_eq(list[0].waits, 2 - i, "N=%ld: after child %d", n, i);
            job_array_free(list, k);
        }
        store_fail_nth(engine_store(eng), 0);
        struct job jj;
        claim(eng, "join", &jj);
        json_t *in = json_loads(jj.input, 0, NULL);
        cr_assert_eq(json_integer_value(json_object_get(in, "completed")), 2, "N=%ld", n);
        cr_assert_eq(json_integer_value(json_object_get(in, "failed")), 1, "N=%ld", n);
        json_decref(in);
        cr_assert_eq(n_events(eng, jj.id), 2, "N=%ld: the join was released more than once", n);
        job_release(&jj);
        for (int i = 0; i < 3; i++)
            job_release(&kids[i]);
        job_release(&jp);
        engine_close(eng);
        clean = failures == 0;
    }
    cr_assert_gt(n, 10, "only %ld store calls in three completions?", n - 1);
    fprintf(stderr, "chain: each of the %ld store calls of three children's ends failed once\n",
            n - 2);
}

/* Waiting and blocked jobs are counted in the job counters metrics read, per type. */
Test(chain, waiting_and_blocked_are_counted)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct job_spec b = {.type = "b"};
    struct job_spec a = {.type = "a", .max_attempts = 1, .next = &b, .nnext = 1};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &a, &r, &e), 0, "%s", e.msg);
    struct stats_query q = {.type = "b"};
    struct stats_row *rows;
    size_t n;
    cr_assert_eq(engine_job_stats(eng, &q, &rows, &n, &e), 1, "%s", e.msg);
    cr_assert_eq(rows[0].status[JOB_WAITING], 1);
    stats_rows_free(rows, n);
    struct job ja;
    claim(eng, "a", &ja);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(ja), "no", false, &e), JOB_FAILED);
    cr_assert_eq(engine_job_stats(eng, &q, &rows, &n, &e), 1, "%s", e.msg);
    cr_assert_eq(rows[0].status[JOB_WAITING], 0);
    cr_assert_eq(rows[0].status[JOB_BLOCKED], 1);
    stats_rows_free(rows, n);
    job_release(&ja);
    engine_close(eng);
}
