/* The state machine: enqueue, claim, complete, fail, retry, cancel, fencing. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <string.h>

Test(engine, complete_records_result_and_history)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", "{\"a\":1}"));
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);

    struct job j;
    tu_claim_one(eng, "noop", "w1", &j);
    cr_assert_str_eq(j.id, id);
    cr_assert_eq(j.attempt, 1);
    cr_assert_str_eq(j.args, "{\"a\":1}");
    cr_assert_eq(tu_status(eng, id), JOB_PROCESSING);

    struct job_fence f = {.id = j.id, .attempt = j.attempt, .owner = j.lease_owner};
    struct err e = {0};
    cr_assert_eq(engine_complete(eng, &f, "{\"ok\":true}", &e), 0, "%s", e.msg);
    struct job got;
    cr_assert_eq(engine_get(eng, id, &got, &e), 0);
    cr_assert_eq(got.status, JOB_COMPLETED);
    cr_assert_str_eq(got.result, "{\"ok\":true}");
    cr_assert_null(got.lease_owner);
    cr_assert_gt(got.completed_at, 0);

    struct job_event *ev;
    size_t n;
    cr_assert_eq(engine_events(eng, id, &ev, &n, &e), 2);
    cr_assert_eq(ev[0].from, JOB_PENDING);
    cr_assert_eq(ev[0].to, JOB_PROCESSING);
    cr_assert_eq(ev[1].from, JOB_PROCESSING);
    cr_assert_eq(ev[1].to, JOB_COMPLETED);
    job_events_free(ev, n);
    job_release(&got);
    job_release(&j);
    engine_close(eng);
}

Test(engine, stale_completion_is_refused)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 1000000);
    struct engine *eng = tu_engine(NULL, &clk);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct job first;
    tu_claim_one(eng, "noop", "w1", &first);

    /* w1 goes silent; its lease expires and the monitor requeues the job */
    tu_clock_advance(&clk, ENGINE_DEFAULT_LEASE_MS + 1);
    struct sweep_report r;
    struct err e = {0};
    cr_assert_eq(engine_sweep(eng, &r, &e), 0, "%s", e.msg);
    cr_assert_eq(r.expired, 1);
    cr_assert_eq(r.promoted, 1);
    struct job second;
    tu_claim_one(eng, "noop", "w2", &second);
    cr_assert_eq(second.attempt, 2);

    /* the late completion of w1 is refused and changes nothing */
    struct job_fence f1 = {.id = first.id, .attempt = first.attempt, .owner = first.lease_owner};
    cr_assert_eq(engine_complete(eng, &f1, "{\"from\":\"w1\"}", &e), TRAWL_ESTALE);
    struct job now;
    cr_assert_eq(engine_get(eng, id, &now, &e), 0);
    cr_assert_eq(now.status, JOB_PROCESSING);
    cr_assert_str_eq(now.lease_owner, "w2");
    cr_assert_null(now.result);

    struct job_fence f2 = {.id = second.id, .attempt = second.attempt, .owner = second.lease_owner};
    cr_assert_eq(engine_complete(eng, &f2, "{\"from\":\"w2\"}", &e), 0, "%s", e.msg);
    job_release(&now);
    job_release(&first);
    job_release(&second);
    engine_close(eng);
}

/* A retryable failure with attempts left waits out a backoff delay in retrying, then runs again;
 * the last attempt's failure is final (the dead-letter queue), with its error kept. */
Test(engine, retryable_failure_backs_off_then_fails_for_good)
{
    struct tu_clock clk;
    tu_clock_init(&clk, 5000000);
    struct engine *eng = tu_engine(NULL, &clk);
    struct job_spec s = {
        .type = "noop", .max_attempts = 2, .backoff_base_ms = 1000, .backoff_cap_ms = 8000};
    struct enqueue_result r;
    struct err e = {0};
    cr_assert_eq(engine_enqueue(eng, &s, &r, &e), 0, "%s", e.msg);

    struct job j;
    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "upstream said 503", true, &e), JOB_RETRYING, "%s",
                 e.msg);
    job_release(&j);
    struct job got;
    tu_get(eng, r.id, &got);
    cr_assert_eq(got.status, JOB_RETRYING);
    cr_assert_str_eq(got.error, "upstream said 503");
    cr_assert_null(got.lease_owner);
    /* full jitter: the delay of the retry after attempt 1 is within [0, base] */
    cr_assert_geq(got.run_at, 5000000);
    cr_assert_leq(got.run_at, 5000000 + 1000);
    int64_t due = got.run_at;
    job_release(&got);

    /* not claimable while retrying, even when due, until a sweep makes it pending */
    struct job *jobs;
    size_t n;
    const char *type = "noop";
    cr_assert_eq(engine_claim(eng, &type, 1, 10, "w", 0, &jobs, &n, &e), 0);
    if (due > 5000000) {
        tu_clock_advance(&clk, due - 5000000 - 1);
        cr_assert_eq(tu_sweep(eng).promoted, 0, "promoted before it was due");
    }
    tu_clock_advance(&clk, 1);
    cr_assert_eq(tu_sweep(eng).promoted, 1);
    cr_assert_eq(tu_status(eng, r.id), JOB_PENDING);

    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(j.attempt, 2);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "still 503", true, &e), JOB_FAILED, "%s", e.msg);
    job_release(&j);
    tu_get(eng, r.id, &got);
    cr_assert_eq(got.status, JOB_FAILED);
    cr_assert_str_eq(got.error, "still 503");
    cr_assert_gt(got.failed_at, 0);
    job_release(&got);

    struct job_event *ev;
    cr_assert_eq(engine_events(eng, r.id, &ev, &n, &e), 5);
    enum job_status want[][2] = {{JOB_PENDING, JOB_PROCESSING},
                                 {JOB_PROCESSING, JOB_RETRYING},
                                 {JOB_RETRYING, JOB_PENDING},
                                 {JOB_PENDING, JOB_PROCESSING},
                                 {JOB_PROCESSING, JOB_FAILED}};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(ev[i].from, want[i][0], "event %zu", i);
        cr_assert_eq(ev[i].to, want[i][1], "event %zu", i);
    }
    cr_assert_str_eq(ev[1].message, "upstream said 503");
    cr_assert_eq(ev[4].attempt, 2);
    job_events_free(ev, n);
    engine_close(eng);
}

Test(engine, non_retryable_failure_fails_at_once)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct job j;
    tu_claim_one(eng, "noop", "w", &j);
    struct err e = {0};
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "bad input", false, &e), JOB_FAILED);
    cr_assert_eq(j.max_attempts, ENGINE_DEFAULT_ATTEMPTS);
    job_release(&j);
    cr_assert_eq(tu_status(eng, id), JOB_FAILED);
    engine_close(eng);
}

Test(engine, cancel_and_retry_by_hand_keep_history)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct err e = {0};
    cr_assert_eq(engine_cancel(eng, id, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_status(eng, id), JOB_CANCELLED);
    /* a cancelled job is not claimed and cannot be cancelled again */
    struct job *jobs;
    size_t n;
    const char *type = "noop";
    cr_assert_eq(engine_claim(eng, &type, 1, 10, "w", 0, &jobs, &n, &e), 0);
    cr_assert_eq(engine_cancel(eng, id, &e), TRAWL_ESTATE);
    cr_assert(strstr(e.msg, "cancelled") != NULL, "message: %s", e.msg);

    cr_assert_eq(engine_retry(eng, id, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_status(eng, id), JOB_PENDING);
    struct job j;
    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(engine_fail(eng, &TU_FENCE(j), "boom", false, &e), JOB_FAILED);
    job_release(&j);

    /* retry a failed job by hand: new attempts on top of the ones used */
    cr_assert_eq(engine_retry(eng, id, 2, &e), 0, "%s", e.msg);
    struct job got;
    tu_get(eng, id, &got);
    cr_assert_eq(got.status, JOB_PENDING);
    cr_assert_eq(got.attempt, 1);
    cr_assert_eq(got.max_attempts, 3);
    cr_assert_null(got.error);
    cr_assert_eq(got.failed_at, 0, "a retried job is no longer failed: failed_at cleared");
    job_release(&got);
    struct job_event *ev;
    cr_assert_eq(engine_events(eng, id, &ev, &n, &e), 5);
    cr_assert_eq(ev[0].to, JOB_CANCELLED);
    cr_assert_str_eq(ev[1].message, "retried by hand");
    cr_assert_eq(ev[4].from, JOB_FAILED);
    cr_assert_eq(ev[4].to, JOB_PENDING);
    job_events_free(ev, n);

    /* completed jobs can be neither cancelled nor retried; unknown ids are not found */
    tu_claim_one(eng, "noop", "w", &j);
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j), NULL, &e), 0);
    job_release(&j);
    cr_assert_eq(engine_cancel(eng, id, &e), TRAWL_ESTATE);
    cr_assert_eq(engine_retry(eng, id, 0, &e), TRAWL_ESTATE);
    cr_assert_eq(engine_cancel(eng, "01234567-89ab-7def-8123-456789abcdef", &e), TRAWL_ENOTFOUND);
    engine_close(eng);
}

/* Every change a worker makes is fenced by its attempt and its lease owner. */
Test(engine, fencing_refuses_wrong_owner_and_attempt)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct job j;
    tu_claim_one(eng, "noop", "w1", &j);
    struct err e = {0};
    /* w1 gives the job back and claims it again: attempt 1 is now a stale attempt of w1's */
    cr_assert_eq(engine_release(eng, &TU_FENCE(j), true, &e), 0, "%s", e.msg);
    struct job_fence old = {.id = j.id, .attempt = j.attempt, .owner = "w1"};
    job_release(&j);
    tu_claim_one(eng, "noop", "w1", &j);
    cr_assert_eq(j.attempt, 2);
    struct job_fence other = {.id = j.id, .attempt = j.attempt, .owner = "w2"};
    struct job_fence never = {.id = j.id, .attempt = 0, .owner = "w1"};
    struct heartbeat hb = {.set = UPD_PROGRESS, .progress = 50};
    cr_assert_eq(engine_heartbeat(eng, &never, &hb, &e), TRAWL_EINVAL);
    cr_assert_eq(engine_heartbeat(eng, &other, &hb, &e), TRAWL_ESTALE);
    cr_assert(strlen(e.msg) > 0);
    cr_assert_eq(engine_heartbeat(eng, &old, &hb, &e), TRAWL_ESTALE);
    cr_assert_eq(engine_complete(eng, &other, NULL, &e), TRAWL_ESTALE);
    cr_assert_eq(engine_fail(eng, &old, "x", true, &e), TRAWL_ESTALE);
    cr_assert_eq(engine_release(eng, &other, false, &e), TRAWL_ESTALE);
    struct job got;
    tu_get(eng, id, &got);
    cr_assert_eq(got.status, JOB_PROCESSING);
    cr_assert_eq(got.progress, 0);
    cr_assert_str_eq(got.lease_owner, "w1");
    job_release(&got);
    size_t n;
    struct job_event *ev;
    cr_assert_eq(engine_events(eng, id, &ev, &n, &e), 3);
    job_events_free(ev, n);

    /* the holder's heartbeat writes progress, stage and checkpoint and renews the lease */
    hb = (struct heartbeat){.set = UPD_PROGRESS | UPD_STAGE | UPD_CHECKPOINT,
                            .progress = 40,
                            .stage = "parsing",
                            .checkpoint = "{\"row\":400}",
                            .lease_ms = 60000};
    int64_t before = engine_now(eng);
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &hb, &e), 0, "%s", e.msg);
    tu_get(eng, id, &got);
    cr_assert_eq(got.progress, 40);
    cr_assert_str_eq(got.stage, "parsing");
    cr_assert_str_eq(got.checkpoint, "{\"row\":400}");
    cr_assert_geq(got.lease_expires_at, before + 60000);
    job_release(&got);
    /* one without a length renews for as long as the lease held (60 s), not the type's */
    struct heartbeat plain = {0};
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &plain, &e), 0, "%s", e.msg);
    tu_get(eng, id, &got);
    cr_assert_eq(got.lease_expires_at - got.last_heartbeat, 60000);
    job_release(&got);
    /* a bad checkpoint or progress is refused */
    hb.checkpoint = "{not json";
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &hb, &e), TRAWL_EINVAL);
    hb.checkpoint = NULL;
    hb.set = UPD_PROGRESS;
    hb.progress = 101;
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &hb, &e), TRAWL_EINVAL);
    job_release(&j);
    engine_close(eng);
}

/* Shutdown gives jobs back at once: a job not started keeps its attempt count. */
Test(engine, release_gives_the_job_back)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char a[UUID_STR_LEN], b[UUID_STR_LEN];
    strcpy(a, tu_enqueue(eng, "noop", NULL));
    strcpy(b, tu_enqueue(eng, "noop", NULL));
    struct job ja, jb;
    tu_claim_one(eng, "noop", "w", &ja);
    tu_claim_one(eng, "noop", "w", &jb);
    struct err e = {0};
    cr_assert_eq(engine_release(eng, &TU_FENCE(ja), false, &e), 0, "%s", e.msg);
    cr_assert_eq(engine_release(eng, &TU_FENCE(jb), true, &e), 0, "%s", e.msg);
    struct job got;
    tu_get(eng, ja.id, &got);
    cr_assert_eq(got.status, JOB_PENDING);
    cr_assert_eq(got.attempt, 0);
    cr_assert_null(got.lease_owner);
    job_release(&got);
    tu_get(eng, jb.id, &got);
    cr_assert_eq(got.status, JOB_PENDING);
    cr_assert_eq(got.attempt, 1);
    job_release(&got);
    job_release(&ja);
    job_release(&jb);
    engine_close(eng);
}

/* Bad specs are refused with a message naming the field, and nothing is enqueued. */
Test(engine, invalid_specs_are_refused_and_change_nothing)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct {
        struct job_spec s;
        const char *needle;
    } bad[] = {
        {{.type = NULL}, "type"},
        {{.type = "has space"}, "type"},
        {{.type = "noop", .priority = 1001}, "priority"},
        {{.type = "noop", .priority = -1001}, "priority"},
        {{.type = "noop", .max_attempts = -1}, "max_attempts"},
        {{.type = "noop", .max_attempts = 1001}, "max_attempts"},
        {{.type = "noop", .args = "{\"a\":"}, "args"},
        {{.type = "noop", .args = "[1,2]"}, "args"},
        {{.type = "noop", .run_at = -5}, "run_at"},
        {{.type = "noop", .timeout_ms = -1}, "timeout"},
        {{.type = "noop", .backoff_base_ms = 5000, .backoff_cap_ms = 10}, "backoff"},
        {{.type = "noop", .parent_id = "not-an-id"}, "parent_id"},
        {{.type = "noop", .parent_id = "01234567-89ab-7def-8123-456789abcdef"}, "parent"},
    };
    struct enqueue_result r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct err e = {0};
        int rc = engine_enqueue(eng, &bad[i].s, &r, &e);
        cr_assert_eq(rc, TRAWL_EINVAL, "spec %zu: rc %d", i, rc);
        cr_assert(strstr(e.msg, bad[i].needle) != NULL, "spec %zu: message '%s' lacks '%s'", i,
                  e.msg, bad[i].needle);
    }
    /* one bad spec among many: none of them is enqueued, and the error names its index */
    struct job_spec many[5];
    for (int i = 0; i < 5; i++)
        many[i] = (struct job_spec){.type = "noop"};
    many[3].args = "nope";
    struct enqueue_result rs[5];
    struct err e = {0};
    cr_assert_eq(engine_enqueue_many(eng, many, 5, rs, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "jobs[3]") != NULL, "message: %s", e.msg);
    /* a listing by an unknown status is refused */
    struct job *jobs;
    size_t n;
    cr_assert_eq(engine_list(eng, "running", NULL, &jobs, &n, &e), TRAWL_EINVAL);
    cr_assert(strstr(e.msg, "running") != NULL, "message: %s", e.msg);
    for (int s = 0; s < JOB_STATUS_COUNT; s++)
        cr_assert_eq(tu_count(eng, (enum job_status)s), 0);
    engine_close(eng);
}

/* A job given back before it started goes back to its previous attempt number, so a later claim
 * by the same worker name has the same attempt and owner as the first. The claim's lease token
 * (the job's event_seq at the claim) still tells them apart. */
Test(engine, lease_token_refuses_an_earlier_claim_with_the_same_attempt_and_owner)
{
    struct engine *eng = tu_engine(NULL, NULL);
    char id[UUID_STR_LEN];
    strcpy(id, tu_enqueue(eng, "noop", NULL));
    struct job first, second;
    tu_claim_one(eng, "noop", "w1", &first);
    struct err e = {0};
    cr_assert_eq(engine_release(eng, &TU_FENCE(first), false, &e), 0, "%s", e.msg);
    tu_claim_one(eng, "noop", "w1", &second);
    cr_assert_eq(second.attempt, first.attempt);
    cr_assert_str_eq(second.lease_owner, first.lease_owner);
    cr_assert_neq(second.event_seq, first.event_seq);

    cr_assert_eq(engine_complete(eng, &TU_FENCE(first), "{\"from\":\"first\"}", &e), TRAWL_ESTALE);
    cr_assert(strstr(e.msg, "changed state since") != NULL, "message: %s", e.msg);
    struct heartbeat hb = {.set = UPD_PROGRESS, .progress = 5};
    cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(first), &hb, &e), TRAWL_ESTALE);
    cr_assert_eq(tu_status(eng, id), JOB_PROCESSING);

    cr_assert_eq(engine_complete(eng, &TU_FENCE(second), "{\"from\":\"second\"}", &e), 0, "%s",
                 e.msg);
    struct job got;
    tu_get(eng, id, &got);
    cr_assert_str_eq(got.result, "{\"from\":\"second\"}");
    job_release(&got);
    job_release(&first);
    job_release(&second);
    engine_close(eng);
}

/* engine_exec_tx: jobs enqueued inside a write are durable with it, or not there at all when
 * the write refuses. */
struct two_jobs {
    struct engine *eng;
    bool refuse;
    struct enqueue_result r[2];
};

static int enqueue_two(struct engine_tx *tx, void *arg, struct err *e)
{
    struct two_jobs *t = arg;
    struct job_spec s = {.type = "tx"};
    for (int i = 0; i < 2; i++) {
        int rc = engine_tx_enqueue(t->eng, tx, &s, &t->r[i], e);
        if (rc)
            return rc;
    }
    return t->refuse ? err_set(e, TRAWL_ESTATE, false, "refused after enqueueing") : 0;
}

Test(engine, jobs_enqueued_in_a_write_land_with_it_or_not_at_all)
{
    struct engine *eng = tu_engine(NULL, NULL);
    struct two_jobs t = {.eng = eng, .refuse = true};
    struct err e = {0};
    cr_assert_eq(engine_exec_tx(eng, enqueue_two, &t, &e), TRAWL_ESTATE);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 0, "a refused write left its jobs behind");
    t.refuse = false;
    cr_assert_eq(engine_exec_tx(eng, enqueue_two, &t, &e), 0, "%s", e.msg);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 2);
    struct job j;
    tu_claim_one(eng, "tx", "w", &j);
    cr_assert(strcmp(j.id, t.r[0].id) == 0 || strcmp(j.id, t.r[1].id) == 0);
    job_release(&j);
    engine_close(eng);
}
