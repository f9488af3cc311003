/* The trawl binary itself: bad arguments get a clear message and exit status 2 and change
 * nothing; the local commands work on a database; serve stops cleanly on SIGTERM, giving its
 * running job back at once, and exits at once on a second signal. The binary is the trawl next
 * to this test binary's directory (BUILD/trawl for BUILD/tests/unit_tests). */
#include "testutil.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *trawl_bin(void)
{
    static char path[PATH_MAX + 16];
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = 0;
    *strrchr(self, '/') = 0; /* BUILD/tests */
    *strrchr(self, '/') = 0; /* BUILD */
    snprintf(path, sizeof path, "%s/trawl", self);
    cr_assert_eq(access(path, X_OK), 0, "%s is not built", path);
    return path;
}

struct run {
    int status; /* exit status, or 128 + signal */
    char out[8192];
    char err[8192];
};

static void slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f)
        fclose(f);
}

/* Run trawl with args (NULL-terminated), TRAWL_DB pointing into the test's directory. */
static void run(struct run *r, const char *const *args)
{
    const char *argv[32] = {trawl_bin()};
    int n = 1;
    for (; args[n - 1]; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    char out[700], err[700];
    snprintf(out, sizeof out, "%s", tu_path("out.txt"));
    snprintf(err, sizeof err, "%s", tu_path("err.txt"));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        setenv("TRAWL_DB", tu_path("cli.db"), 1);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(out, r->out, sizeof r->out);
    slurp(err, r->err, sizeof r->err);
}

#define RUN(r, ...) run((r), (const char *const[]){__VA_ARGS__, NULL})

static void refused(const char *needle, const char *const *args)
{
    struct run r;
    run(&r, args);
    cr_assert_eq(r.status, 2, "%s %s: exit %d, stderr: %s", args[0], args[1] ? args[1] : "",
                 r.status, r.err);
    cr_assert(strstr(r.err, needle) != NULL, "%s: stderr lacks '%s': %s", args[0], needle, r.err);
}

#define REFUSED(needle, ...) refused((needle), (const char *const[]){__VA_ARGS__, NULL})

Test(cli, bad_arguments_are_refused_clearly)
{
    REFUSED("usage", "no-such-command");
    REFUSED("args", "enqueue", "noop", "{not json");
    REFUSED("priority", "enqueue", "--priority", "5000", "noop");
    REFUSED("not a whole number", "enqueue", "--max-attempts", "three", "noop");
    REFUSED("--count and --unique-key", "enqueue", "--count", "2", "--unique-key", "k", "noop");
    REFUSED("kept for schedules", "enqueue", "--unique-key", "schedule:x:1", "noop");
    REFUSED("--workers", "serve", "--workers", "-1");
    REFUSED("--listen", "serve", "--listen", "nowhere");
    REFUSED("--allow-private", "serve", "--allow-private", "300.1.1.1/8");
    REFUSED("--resolve", "serve", "--resolve", "example.com");
    REFUSED("--workspace", "token", "create");
    REFUSED("usage", "submit");
    REFUSED("--limit", "jobs", "--limit", "0");
    REFUSED("--durability", "serve", "--durability", "sometimes");
    REFUSED("TYPE.KEY=VALUE", "serve", "--type", "noop");
    REFUSED("unknown setting", "serve", "--type", "noop.colour=3");
    REFUSED("only --once is supported", "work");
    REFUSED("unknown job type 'nope'; known: noop, sleep", "work", "--once", "--types",
            "noop,nope");
    REFUSED("--limit", "work", "--once", "--limit", "0");
    REFUSED("not a whole number", "work", "--once", "--max-seconds", "soon");
    REFUSED("--concurrency", "work", "--once", "--concurrency", "-1");
    REFUSED("no database at", "work", "--once", "--db", "/nonexistent/trawl.db");
    REFUSED("unexpected argument", "work", "--once", "extra");
    REFUSED("usage: trawl schedule add", "schedule");
    REFUSED("unknown action 'frob'", "schedule", "frob", "x");
    REFUSED("--type is required", "schedule", "add", "nightly", "@daily");
    REFUSED("--args: not a JSON object", "schedule", "add", "n", "@daily", "--type", "noop",
            "--args", "[1]");
    REFUSED("takes no --type", "schedule", "add", "s.json", "--type", "noop");
    REFUSED("usage: trawl schedule add", "schedule", "pause");
    REFUSED("usage: trawl schedules", "schedules", "extra");
    /* nothing was enqueued by any of them */
    struct run r;
    RUN(&r, "stats");
    cr_assert_eq(r.status, 0, "stats: %s", r.err);
    cr_assert(strstr(r.out, "pending     0") != NULL, "stats: %s", r.out);
}

Test(cli, local_commands_work_on_the_database)
{
    struct run r;
    RUN(&r, "enqueue", "--count", "3", "--batch", "b7", "noop", "{\"n\":1}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert_eq(strlen(r.out), 3 * 37, "three ids, one per line: %s", r.out);
    RUN(&r, "stats");
    cr_assert(strstr(r.out, "pending     3") != NULL, "stats: %s", r.out);
    /* a token is shown once; the database keeps only its hash */
    RUN(&r, "token", "create", "--workspace", "acme", "--name", "ci");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strncmp(r.out, "trawl_", 6) == 0 && strlen(r.out) == 50, "token: %s", r.out);
    char token[64];
    snprintf(token, sizeof token, "%.49s", r.out);
    RUN(&r, "token", "list");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "acme") && strstr(r.out, "ci"), "list: %s", r.out);
    cr_assert_null(strstr(r.out, token), "the token itself must not be listed");
    char id[UUID_STR_LEN];
    const char *line = strchr(r.out, '\n');
    cr_assert_not_null(line);
    snprintf(id, sizeof id, "%.36s", line + 1);
    RUN(&r, "token", "revoke", "abc");
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "at least its first 8") != NULL, "%s", r.err);
    RUN(&r, "token", "revoke", id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    RUN(&r, "token", "revoke", id);
    cr_assert_neq(r.status, 0);
    cr_assert(strstr(r.err, "already revoked") != NULL, "%s", r.err);
}

static pid_t start_serve(void)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int e = open(tu_path("serve.log"), O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(e, 1);
        dup2(e, 2);
        execl(trawl_bin(), trawl_bin(), "serve", "--db", tu_path("cli.db"), "--workers", "1",
              "--grace", "300", "--listen", "127.0.0.1:0", "--crawl-workers", "0", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_exit(pid_t pid, int ms, int *status)
{
    for (int t = 0; t < ms; t += 10) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return t;
        clock_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, status, 0);
    return -1;
}

/* Wait up to 5 s for a worker to start the job. */
static void wait_processing(struct engine *eng, const char *id)
{
    enum job_status s = JOB_PENDING;
    for (int t = 0; t < 5000 && s != JOB_PROCESSING; t += 20) {
        clock_sleep_ms(20);
        s = tu_status(eng, id);
    }
    cr_assert_eq(s, JOB_PROCESSING);
}

/* The first SIGTERM: stop, let the grace period pass, give the running job back. */
Test(cli, serve_stops_gracefully_and_gives_jobs_back)
{
    struct run r;
    RUN(&r, "enqueue", "sleep", "{\"ms\":60000,\"step_ms\":50}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char id[UUID_STR_LEN];
    snprintf(id, sizeof id, "%.36s", r.out);
    pid_t pid = start_serve();
    struct engine *eng = tu_engine(tu_path("cli.db"), NULL);
    wait_processing(eng, id);
    clock_sleep_ms(200);
    kill(pid, SIGTERM);
    int st;
    int took = wait_exit(pid, 5000, &st);
    cr_assert_geq(took, 0, "serve did not exit within 5 s of SIGTERM");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    struct job j;
    tu_get(eng, id, &j);
    cr_assert_eq(j.status, JOB_PENDING, "the running job was not given back");
    cr_assert_null(j.lease_owner);
    cr_assert_not_null(j.checkpoint);
    job_release(&j);
    engine_close(eng);
}

/* A second signal exits at once; the job comes back when its lease expires (not tested here:
 * the monitor tests cover that). */
Test(cli, serve_exits_at_once_on_a_second_signal)
{
    struct run r;
    RUN(&r, "enqueue", "sleep", "{\"ms\":60000,\"step_ms\":50}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    pid_t pid = start_serve();
    clock_sleep_ms(700);
    kill(pid, SIGINT);
    clock_sleep_ms(20);
    kill(pid, SIGINT);
    int st;
    int took = wait_exit(pid, 2000, &st);
    cr_assert_geq(took, 0, "serve did not exit on the second signal");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %d", st);
}

/* trawl work --once runs what is due, up to its limit, says what became of it, and its exit
 * status says whether anything failed. */
Test(cli, work_once_runs_what_is_due_and_says_so)
{
    struct run r;
    RUN(&r, "enqueue", "--count", "3", "noop");
    cr_assert_eq(r.status, 0, "%s", r.err);
    RUN(&r, "work", "--once", "--limit", "2");
    cr_assert_eq(r.status, 0, "exit %d: %s", r.status, r.err);
    cr_assert(strstr(r.out, "work: 2 jobs: 2 completed, 0 retrying, 0 failed (") == r.out,
              "summary: %s", r.out);
    RUN(&r, "enqueue", "sleep", "{\"ms\":\"not a number\"}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    RUN(&r, "work", "--once", "--json");
    cr_assert_eq(r.status, 1, "a failed job makes exit 1: %d %s", r.status, r.err);
    cr_assert(strstr(r.out, "\"jobs\":2,\"completed\":1,\"retrying\":0,\"failed\":1") != NULL,
              "summary: %s", r.out);
    RUN(&r, "work", "--once");
    cr_assert_eq(r.status, 0, "nothing due is fine: %s", r.err);
    cr_assert(strstr(r.out, "work: 0 jobs (") == r.out, "summary: %s", r.out);
    RUN(&r, "stats");
    cr_assert(strstr(r.out, "completed   3") && strstr(r.out, "failed      1"), "%s", r.out);
}

/* SIGTERM: claim nothing more, give the running job back after the grace period, print the
 * summary. */
Test(cli, work_once_stops_on_a_signal_and_gives_the_job_back)
{
    struct run r;
    RUN(&r, "enqueue", "sleep", "{\"ms\":60000,\"step_ms\":50}");
    cr_assert_eq(r.status, 0, "%s", r.err);
    char id[UUID_STR_LEN];
    snprintf(id, sizeof id, "%.36s", r.out);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(tu_path("work.out"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(tu_path("work.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execl(trawl_bin(), trawl_bin(), "work", "--once", "--db", tu_path("cli.db"), "--grace",
              "300", (char *)NULL);
        _exit(127);
    }
    struct engine *eng = tu_engine(tu_path("cli.db"), NULL);
    wait_processing(eng, id);
    kill(pid, SIGTERM);
    int st;
    cr_assert_geq(wait_exit(pid, 5000, &st), 0, "work did not exit within 5 s of SIGTERM");
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
    char out[512];
    slurp(tu_path("work.out"), out, sizeof out);
    cr_assert(strstr(out, "1 given back") && strstr(out, "stopped by a signal"), "summary: %s",
              out);
    struct job j;
    tu_get(eng, id, &j);
    cr_assert_eq(j.status, JOB_PENDING, "the running job was not given back");
    cr_assert_null(j.lease_owner);
    job_release(&j);
    engine_close(eng);
}
