/* Shared test helpers. */
#include "testutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir_[512];

static void rm_dir(void)
{
    if (!dir_[0] || getenv("TRAWL_KEEP_TMP"))
        return;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir_);
}

const char *tu_tmpdir(void)
{
    if (dir_[0])
        return dir_;
    const char *base = getenv("TMPDIR");
    snprintf(dir_, sizeof dir_, "%s/trawl-test-XXXXXX", base && *base ? base : "/tmp");
    cr_assert(mkdtemp(dir_) != NULL, "mkdtemp failed");
    atexit(rm_dir);
    return dir_;
}

const char *tu_path(const char *name)
{
    static char p[700];
    snprintf(p, sizeof p, "%s/%s", tu_tmpdir(), name);
    return p;
}

static int64_t fake_now(void *ctx)
{
    struct tu_clock *c = ctx;
    return atomic_load(&c->now_ms);
}

void tu_clock_init(struct tu_clock *c, int64_t start_ms)
{
    atomic_store(&c->now_ms, start_ms);
    c->clock.now_ms = fake_now;
    c->clock.ctx = c;
}

void tu_clock_advance(struct tu_clock *c, int64_t ms)
{
    atomic_fetch_add(&c->now_ms, ms);
}

struct engine *tu_engine(const char *path, struct tu_clock *c)
{
    struct store *s;
    struct err e = {0};
    int rc = store_sqlite_open(path ? path : tu_path("trawl.db"), NULL, &s, &e);
    cr_assert_eq(rc, 0, "store_sqlite_open: %s", e.msg);
    struct engine_opts o = {.clock = c ? &c->clock : NULL};
    struct engine *eng;
    rc = engine_open(s, &o, &eng, &e);
    cr_assert_eq(rc, 0, "engine_open: %s", e.msg);
    return eng;
}

const char *tu_enqueue(struct engine *eng, const char *type, const char *args)
{
    static struct enqueue_result r;
    struct job_spec s = {.type = type, .args = args};
    struct err e = {0};
    int rc = engine_enqueue(eng, &s, &r, &e);
    cr_assert_eq(rc, 0, "enqueue: %s", e.msg);
    return r.id;
}

void tu_claim_one(struct engine *eng, const char *type, const char *owner, struct job *out)
{
    struct job *jobs;
    size_t n;
    struct err e = {0};
    int rc = engine_claim(eng, &type, 1, 1, owner, 0, &jobs, &n, &e);
    cr_assert_eq(rc, 1, "claim: expected one job, got %d (%s)", rc, e.msg);
    *out = jobs[0];
    free(jobs);
}

enum job_status tu_status(struct engine *eng, const char *id)
{
    struct job j;
    struct err e = {0};
    int rc = engine_get(eng, id, &j, &e);
    cr_assert_eq(rc, 0, "get %s: %s", id, e.msg);
    enum job_status s = j.status;
    job_release(&j);
    return s;
}

void tu_get(struct engine *eng, const char *id, struct job *out)
{
    struct err e = {0};
    int rc = engine_get(eng, id, out, &e);
    cr_assert_eq(rc, 0, "get %s: %s", id, e.msg);
}

struct sweep_report tu_sweep(struct engine *eng)
{
    struct sweep_report r;
    struct err e = {0};
    int rc = engine_sweep(eng, &r, &e);
    cr_assert_eq(rc, 0, "sweep: %s", e.msg);
    return r;
}

int64_t tu_count(struct engine *eng, enum job_status s)
{
    int64_t counts[JOB_STATUS_COUNT];
    struct err e = {0};
    int rc = engine_counts(eng, counts, &e);
    cr_assert_eq(rc, 0, "counts: %s", e.msg);
    return counts[s];
}
