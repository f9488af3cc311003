/* Fault injection: the store wrappers fail their Nth call. For every N until a whole cycle runs
 * clean, a fresh database goes through enqueue (many, then one), claim, heartbeat with a
 * checkpoint, complete, fail, and a sweep; each step either is acknowledged or reports an error.
 * Then, with faults off, the database must hold exactly what was acknowledged: no job lost, none
 * half-written, every history matching its job, and the engine still working. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

struct expect {
    char id[UUID_STR_LEN];
    bool exists;
    enum job_status status;
    int attempt;
    int max_attempts;
    bool checkpoint;
    int events;
};

static struct expect *find(struct expect *x, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(x[i].id, id))
            return &x[i];
    return NULL;
}

/* Run one cycle with call n failing; returns true when no call failed. */
static bool cycle(long n)
{
    char name[32];
    snprintf(name, sizeof name, "fault-%ld.db", n);
    struct tu_clock clk;
    tu_clock_init(&clk, 50000000);
    struct engine *eng = tu_engine(tu_path(name), &clk);
    struct store *s = engine_store(eng);
    store_fail_nth(s, n);
    struct expect x[8];
    memset(x, 0, sizeof x);
    size_t nx = 0;
    int failures = 0;
    struct err e = {0};
#define STEP(call)                                                                                 \
    ({                                                                                             \
        int rc_ = (call);                                                                          \
        if (rc_ < 0) {                                                                             \
            cr_assert_eq(rc_, TRAWL_EINJECTED, "N=%ld: %s: %s", n, #call, e.msg);                  \
            failures++;                                                                            \
        }                                                                                          \
        rc_;                                                                                       \
    })

    /* enqueue three in one call, then one */
    struct job_spec specs[3] = {{.type = "t", .args = "{\"i\":0}"},
                                {.type = "t", .args = "{\"i\":1}", .unique_key = "u"},
                                {.type = "t", .args = "{\"i\":2}", .priority = 5}};
    struct enqueue_result res[3];
    if (STEP(engine_enqueue_many(eng, specs, 3, res, &e)) == 0) {
        for (int i = 0; i < 3; i++) {
            strcpy(x[nx].id, res[i].id);
            x[nx].max_attempts = ENGINE_DEFAULT_ATTEMPTS;
            x[nx++].exists = true;
        }
    }
    struct job_spec one = {.type = "t", .max_attempts = 1};
    struct enqueue_result r1;
    if (STEP(engine_enqueue(eng, &one, &r1, &e)) == 0) {
        strcpy(x[nx].id, r1.id);
        x[nx].max_attempts = 1;
        x[nx++].exists = true;
    }
    /* claim */
    const char *type = "t";
    struct job *jobs = NULL;
    size_t nj = 0;
    if (STEP(engine_claim(eng, &type, 1, 10, "w", 0, &jobs, &nj, &e)) >= 0) {
        cr_assert_eq(nj, nx, "N=%ld: claimed %zu of %zu", n, nj, nx);
        for (size_t i = 0; i < nj; i++) {
            struct expect *p = find(x, nx, jobs[i].id);
            cr_assert_not_null(p, "N=%ld: claimed a job never acknowledged", n);
            p->status = JOB_PROCESSING;
            p->attempt = 1;
            p->events = 1;
        }
    } else {
        cr_assert_eq(nj, 0, "N=%ld: a failed claim returned jobs", n);
    }
    /* heartbeat with a checkpoint, then finish each job a different way */
    for (size_t i = 0; i < nj; i++) {
        struct expect *p = find(x, nx, jobs[i].id);
        struct heartbeat hb = {
            .set = UPD_CHECKPOINT | UPD_PROGRESS, .progress = 50, .checkpoint = "{\"half\":true}"};
        if (STEP(engine_heartbeat(eng, &TU_FENCE(jobs[i]), &hb, &e)) == 0)
            p->checkpoint = true;
        int rc;
        switch (i % 3) {
        case 0:
            if (STEP(engine_complete(eng, &TU_FENCE(jobs[i]), "{\"ok\":1}", &e)) == 0) {
                p->status = JOB_COMPLETED;
                p->events++;
            }
            break;
        case 1:
            rc = STEP(engine_fail(eng, &TU_FENCE(jobs[i]), "try again", true, &e));
            if (rc > 0) {
                p->status = (enum job_status)rc;
                p->events++;
            }
            break;
        default:
            rc = STEP(engine_fail(eng, &TU_FENCE(jobs[i]), "broken", false, &e));
            if (rc > 0) {
                cr_assert_eq(rc, JOB_FAILED);
                p->status = JOB_FAILED;
                p->events++;
            }
            break;
        }
    }
    /* the sweep: time passes beyond every lease and backoff */
    tu_clock_advance(&clk, 10 * 60 * 1000);
    struct sweep_report sr;
    if (STEP(engine_sweep(eng, &sr, &e)) == 0) {
        for (size_t i = 0; i < nx; i++) {
            if (x[i].status == JOB_PROCESSING && x[i].attempt >= x[i].max_attempts) {
                /* lease expired on the last attempt: failed */
                x[i].status = JOB_FAILED;
                x[i].events++;
            } else if (x[i].status == JOB_PROCESSING) {
                /* lease expired with attempts left: requeued, then promoted */
                x[i].status = JOB_PENDING;
                x[i].events += 2;
            } else if (x[i].status == JOB_RETRYING) {
                x[i].status = JOB_PENDING;
                x[i].events++;
            }
        }
    }
#undef STEP
    job_array_free(jobs, nj);

    /* faults off: what is stored is exactly what was acknowledged */
    store_fail_nth(s, 0);
    int64_t total = 0;
    for (int st = 0; st < JOB_STATUS_COUNT; st++)
        total += tu_count(eng, (enum job_status)st);
    cr_assert_eq(total, (int64_t)nx, "N=%ld: %lld jobs stored, %zu acknowledged", n,
                 (long long)total, nx);
    for (size_t i = 0; i < nx; i++) {
        struct job j;
        tu_get(eng, x[i].id, &j);
        cr_assert_eq(j.status, x[i].status, "N=%ld: job %zu is %s, expected %s", n, i,
                     job_status_name(j.status), job_status_name(x[i].status));
        cr_assert_eq(j.attempt, x[i].attempt, "N=%ld: job %zu attempt", n, i);
        cr_assert_eq(j.checkpoint != NULL, x[i].checkpoint, "N=%ld: job %zu checkpoint", n, i);
        if (j.status == JOB_COMPLETED)
            cr_assert_str_eq(j.result, "{\"ok\":1}");
        if (j.status == JOB_PENDING || j.status == JOB_COMPLETED || j.status == JOB_FAILED)
            cr_assert_null(j.lease_owner, "N=%ld: job %zu kept a lease", n, i);
        struct job_event *ev;
        size_t ne;
        cr_assert_eq(engine_events(eng, x[i].id, &ev, &ne, &e), x[i].events,
                     "N=%ld: job %zu history", n, i);
        for (size_t k = 1; k < ne; k++)
            cr_assert_eq(ev[k].from, ev[k - 1].to, "N=%ld: job %zu history broken at %zu", n, i, k);
        if (ne)
            cr_assert_eq(ev[ne - 1].to, j.status);
        job_events_free(ev, ne);
        job_release(&j);
    }
    cr_assert_eq(store_check(s, &e), 0, "N=%ld: %s", n, e.msg);
    /* and the engine still works */
    tu_enqueue(eng, "after", NULL);
    struct job j;
    tu_claim_one(eng, "after", "w", &j);
    cr_assert_eq(engine_complete(eng, &TU_FENCE(j), NULL, &e), 0, "N=%ld: %s", n, e.msg);
    job_release(&j);
    engine_close(eng);
    return failures == 0;
}

Test(faults, every_store_call_can_fail, .timeout = 300)
{
    long n = 1;
    while (!cycle(n)) {
        n++;
        cr_assert_lt(n, 2000, "the cycle never ran clean");
    }
    cr_assert_gt(n, 20, "only %ld store calls in a whole cycle?", n - 1);
    fprintf(stderr, "faults: each of the %ld store calls of a cycle failed once; nothing lost\n",
            n - 1);
}
