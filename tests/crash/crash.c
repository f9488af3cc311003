/* The crash test: kill -9 a real `trawl serve` again and again while `trawl enqueue` processes
 * (also killed at random) add work to the same database, then let one last serve drain it and
 * check what is on disk:
 *   - every job whose id an enqueuer printed (acknowledged) exists and ended completed;
 *   - no job exists that no enqueuer asked for (at most the jobs requested are there);
 *   - SQLite's integrity_check is "ok";
 *   - every job's history is one unbroken chain: each change starts where the last ended, each
 *     claim is attempt + 1, a job runs again only after its attempt ended (lease expired or
 *     released), and completed is reached once, as the last change;
 *   - sleep jobs slept their whole time, and some resumed from a checkpoint after a kill;
 *   - a serve stopped with SIGTERM exits 0 within its grace period;
 *   - the "@every 1s" schedule (missed: all) made before the first serve has exactly one job per
 *     slot, from its first slot to the one before its next_slot, 1 s apart: no slot twice and
 *     none skipped, across every kill and the rounds with two serves ticking at once.
 * Every other round runs two serve processes on the database at once, like two nodes.
 * It reads the database with its own connection (read-only SQLite, or libpq): an independent look
 * at what the engine left behind (the schedule is made with the library, as the API would make
 * it). With --pg it runs on a database of its own on that PostgreSQL server (a libpq keyword
 * string), made at the start and dropped at the end; SQLite's integrity_check is then not run.
 * usage: crash --trawl PATH [--kills N] [--seed N] [--keep] [--pg CONNINFO] */
#include "engine/engine.h"
#include "engine/scheduler.h"
#include "store/schedule.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ID_LEN    36
#define MAX_ACKED 200000

static const char *trawl_;
static char dir_[512], db_[1200], log_[600];
static const char *pg_; /* --pg: the server; the test makes its own database on it */
static char pgdb_[64];
static char (*acked_)[ID_LEN + 1];
static size_t nacked_;
static long long requested_;
static int failures_;

static void fail(const char *fmt, ...)
{
    if (++failures_ > 40) {
        if (failures_ == 41)
            puts("crash: (more failures not shown)");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("crash: FAIL: ", stdout);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    fflush(stdout);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t rng_;
static unsigned rnd(unsigned n)
{
    rng_ ^= rng_ << 13;
    rng_ ^= rng_ >> 7;
    rng_ ^= rng_ << 17;
    return (unsigned)(rng_ % n);
}

/* Start argv[] with stdout to out_fd (or the log) and stderr to the log. */
static pid_t spawn(char *const argv[], int out_fd)
{
    pid_t pid = fork();
    if (pid < 0) {
        perror("crash: fork");
        exit(2);
    }
    if (pid == 0) {
        int lf = open(log_, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lf >= 0) {
            dup2(out_fd >= 0 ? out_fd : lf, 1);
            dup2(lf, 2);
        }
        execv(argv[0], argv);
        perror("crash: exec");
        _exit(127);
    }
    return pid;
}

static pid_t start_serve(void)
{
    char *argv[] = {(char *)trawl_,
                    "serve",
                    "--db",
                    db_,
                    "--workers",
                    "8",
                    "--batch",
                    "64",
                    "--grace",
                    "1000",
                    "--sweep",
                    "200",
                    "--type",
                    "sleep.lease_ms=1500",
                    "--type",
                    "noop.lease_ms=1500",
                    "--log-level",
                    "warn",
                    "--listen",
                    "127.0.0.1:0",
                    "--crawl-workers",
                    "0",
                    NULL};
    return spawn(argv, -1);
}

/* An enqueuer: trawl enqueue with its stdout on a pipe. */
struct enqueuer {
    pid_t pid;
    int fd;
    char line[128];
    size_t len;
    bool eof;
};

static void start_enqueuer(struct enqueuer *q)
{
    char args[96], count[16];
    const char *type;
    int n;
    if (rnd(3) == 0) {
        /* long enough to be caught by a kill, short enough to drain quickly */
        type = "sleep";
        snprintf(args, sizeof args, "{\"ms\":%u,\"step_ms\":40}", 100 + rnd(400));
        n = 1 + (int)rnd(4);
    } else {
        type = "noop";
        snprintf(args, sizeof args, "{}");
        n = 1 + (int)rnd(200);
    }
    snprintf(count, sizeof count, "%d", n);
    int p[2];
    if (pipe(p) != 0) {
        perror("crash: pipe");
        exit(2);
    }
    char *argv[] = {(char *)trawl_, "enqueue",    "--db", db_, "--max-attempts", "100", "--count",
                    count,          (char *)type, args,   NULL};
    q->pid = spawn(argv, p[1]);
    close(p[1]);
    q->fd = p[0];
    q->len = 0;
    q->eof = false;
    requested_ += n;
}

/* Read what the enqueuer printed so far; each whole line is an acknowledged id. */
static void drain_enqueuer(struct enqueuer *q, int timeout_ms)
{
    struct pollfd pf = {.fd = q->fd, .events = POLLIN};
    while (!q->eof && poll(&pf, 1, timeout_ms) > 0) {
        char buf[4096];
        ssize_t r = read(q->fd, buf, sizeof buf);
        if (r <= 0) {
            q->eof = true;
            break;
        }
        for (ssize_t i = 0; i < r; i++) {
            if (buf[i] != '\n') {
                if (q->len < sizeof q->line - 1)
                    q->line[q->len++] = buf[i];
                continue;
            }
            q->line[q->len] = 0;
            if (q->len == ID_LEN && nacked_ < MAX_ACKED)
                memcpy(acked_[nacked_++], q->line, ID_LEN + 1);
            else if (q->len != ID_LEN)
                fail("enqueuer printed an unexpected line: '%s'", q->line);
            q->len = 0;
        }
        timeout_ms = 0;
    }
}

static int wait_exit(pid_t pid, int64_t timeout_ms, int *status)
{
    int64_t end = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (now_ms() > end)
            return -1;
        sleep_ms(10);
    }
}

/* SIGTERM: serve must exit 0 within its grace period and some. */
/* Whether pid handles SIGTERM yet: trawl blocks it in every thread and takes it with sigwait,
 * so the main thread's blocked mask holds it once that is set up. A SIGTERM sent before that
 * (a serve just started) kills it as the default action would. */
static bool handles_sigterm(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    bool yes = false;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "SigBlk:", 7) == 0)
            yes = (strtoull(line + 7, NULL, 16) >> (SIGTERM - 1)) & 1;
    if (f)
        fclose(f);
    return yes;
}

static void stop_gracefully(pid_t pid, const char *which)
{
    int st;
    for (int64_t until = now_ms() + 10000; !handles_sigterm(pid) && now_ms() < until;)
        sleep_ms(10);
    kill(pid, SIGTERM);
    if (wait_exit(pid, 5000, &st) != 0) {
        fail("%s did not exit within 5 s of SIGTERM", which);
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fail("%s stopped by SIGTERM exited with status %d (see %s)", which, st, log_);
    }
}

/* The database as the test reads it: SQLite read-only, or a libpq connection. */
struct db {
    sqlite3 *lite;
    PGconn *pg;
};

static struct db *open_db(void)
{
    struct db *d = calloc(1, sizeof *d);
    if (pg_) {
        d->pg = PQconnectdb(db_);
        if (PQstatus(d->pg) != CONNECTION_OK) {
            fprintf(stderr, "crash: cannot connect to %s: %s\n", db_, PQerrorMessage(d->pg));
            exit(2);
        }
        return d;
    }
    if (sqlite3_open_v2(db_, &d->lite, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        fprintf(stderr, "crash: cannot open %s: %s\n", db_, sqlite3_errmsg(d->lite));
        exit(2);
    }
    sqlite3_busy_timeout(d->lite, 10000);
    return d;
}

static void close_db(struct db *d)
{
    if (d->pg)
        PQfinish(d->pg);
    else
        sqlite3_close(d->lite);
    free(d);
}

/* The rows of one query, read in turn. */
struct rows {
    sqlite3_stmt *st;
    PGresult *r;
    int i, n;
};

static bool rows_open(struct rows *q, struct db *d, const char *sql)
{
    memset(q, 0, sizeof *q);
    if (d->pg) {
        q->r = PQexec(d->pg, sql);
        if (PQresultStatus(q->r) != PGRES_TUPLES_OK) {
            fail("query '%s': %s", sql, PQerrorMessage(d->pg));
            PQclear(q->r);
            q->r = NULL;
            return false;
        }
        q->n = PQntuples(q->r);
        q->i = -1;
        return true;
    }
    if (sqlite3_prepare_v2(d->lite, sql, -1, &q->st, NULL) != SQLITE_OK) {
        fail("query '%s': %s", sql, sqlite3_errmsg(d->lite));
        return false;
    }
    return true;
}

static bool rows_next(struct rows *q)
{
    if (q->r)
        return ++q->i < q->n;
    return q->st && sqlite3_step(q->st) == SQLITE_ROW;
}

static const char *rows_text(struct rows *q, int c)
{
    if (q->r)
        return PQgetisnull(q->r, q->i, c) ? NULL : PQgetvalue(q->r, q->i, c);
    return (const char *)sqlite3_column_text(q->st, c);
}

static long long rows_int(struct rows *q, int c)
{
    const char *t = rows_text(q, c);
    return t ? strtoll(t, NULL, 10) : 0;
}

static void rows_close(struct rows *q)
{
    PQclear(q->r);
    sqlite3_finalize(q->st);
    memset(q, 0, sizeof *q);
}

static long long query_int(struct db *d, const char *sql)
{
    struct rows q;
    long long v = -1;
    if (!rows_open(&q, d, sql))
        return -1;
    if (rows_next(&q))
        v = rows_int(&q, 0);
    rows_close(&q);
    return v;
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* One job's history, checked as the rows come in order of (job_id, seq). */
struct chain {
    char id[ID_LEN + 1];
    char to[16];
    int attempt;
    long long seq;
    int completions;
    bool started;
};

static void chain_begin(struct chain *c, const char *id)
{
    memset(c, 0, sizeof *c);
    snprintf(c->id, sizeof c->id, "%s", id);
    snprintf(c->to, sizeof c->to, "pending");
}

static void chain_step(struct chain *c, long long seq, const char *from, const char *to,
                       int attempt, const char *msg)
{
    if (seq != c->seq + 1)
        fail("job %s: event %lld follows event %lld", c->id, seq, c->seq);
    c->seq = seq;
    if (strcmp(from, c->to) != 0)
        fail("job %s: event %lld goes %s -> %s but the job was %s", c->id, seq, from, to, c->to);
    if (c->completions)
        fail("job %s: event %lld (%s -> %s) after completion", c->id, seq, from, to);
    int want = c->attempt;
    if (!strcmp(to, "processing"))
        want = c->attempt + 1;
    else if (!strcmp(from, "processing") && !strcmp(to, "pending") && msg &&
             !strcmp(msg, "released before start"))
        want = c->attempt - 1;
    if (attempt != want)
        fail("job %s: event %lld (%s -> %s) has attempt %d, expected %d", c->id, seq, from, to,
             attempt, want);
    c->attempt = attempt;
    if (!strcmp(from, "processing") && strcmp(to, "completed") != 0 &&
        (!msg ||
         (strncmp(msg, "stuck: heartbeat timeout", 24) != 0 && strncmp(msg, "released", 8) != 0)))
        fail("job %s: attempt %d ended (%s -> %s) for no crash-related reason: %s", c->id, attempt,
             from, to, msg ? msg : "(none)");
    if (!strcmp(to, "completed"))
        c->completions++;
    snprintf(c->to, sizeof c->to, "%s", to);
}

/* Jobs of the schedule's slots, which no enqueuer asked for. */
#define SLOT_JOB     "(unique_key >= 'schedule:' AND unique_key < 'schedule;')"
#define NOT_SLOT_JOB "(unique_key IS NULL OR NOT " SLOT_JOB ")"

static char sched_id_[ID_LEN + 1];
static int64_t sched_first_;

static int add_fn(struct store *s, void *arg, struct err *e)
{
    return store_schedule_add(s, arg, e);
}

/* The schedule, made before any serve runs: "@every 1s", every missed slot enqueued. */
static void make_schedule(void)
{
    struct store *s;
    struct engine *eng;
    struct err e;
    err_clear(&e);
    if (store_open(db_, STORE_DURABLE, &s, &e) != 0 || engine_open(s, NULL, &eng, &e) != 0) {
        fprintf(stderr, "crash: cannot open %s: %s\n", db_, e.msg);
        exit(2);
    }
    struct schedule sc = {.workspace = "default",
                          .name = "every-second",
                          .cron = "@every 1s",
                          .timezone = "UTC",
                          .job = "{\"type\":\"noop\",\"maxAttempts\":100}",
                          .missed = MISSED_ALL};
    if (schedule_prepare(eng, &sc, &e) != 0 || engine_exec(eng, add_fn, &sc, &e) != 0) {
        fprintf(stderr, "crash: cannot make the schedule: %s\n", e.msg);
        exit(2);
    }
    memcpy(sched_id_, sc.id, sizeof sched_id_);
    sched_first_ = sc.next_slot;
    engine_close(eng);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* One job per slot from the first to the one before next_slot; only the newest may be open. */
static void verify_schedule(struct db *db)
{
    struct rows st;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT next_slot FROM schedules WHERE id = '%s'", sched_id_);
    long long next = query_int(db, sql);
    size_t n = 0, cap = 1024;
    int64_t *slots = malloc(cap * sizeof *slots);
    long long open = 0, open_old = 0;
    rows_open(&st, db, "SELECT unique_key, status FROM jobs WHERE " SLOT_JOB);
    while (rows_next(&st)) {
        const char *key = rows_text(&st, 0);
        size_t pre = strlen("schedule:") + ID_LEN;
        if (strncmp(key + strlen("schedule:"), sched_id_, ID_LEN) != 0 || key[pre] != ':') {
            fail("a slot job of no schedule: %s", key);
            continue;
        }
        if (n == cap)
            slots = realloc(slots, (cap *= 2) * sizeof *slots);
        slots[n++] = strtoll(key + pre + 1, NULL, 10);
        if (strcmp(rows_text(&st, 1), "completed") != 0) {
            open++;
            if (slots[n - 1] < next - 3000)
                open_old++;
        }
    }
    rows_close(&st);
    qsort(slots, n, sizeof *slots, cmp_i64);
    long long dups = 0, gaps = 0;
    for (size_t i = 1; i < n; i++) {
        if (slots[i] == slots[i - 1] && dups++ < 5)
            fail("schedule slot %lld has two jobs", (long long)slots[i]);
        else if (slots[i] != slots[i - 1] + 1000 && slots[i] != slots[i - 1] && gaps++ < 5)
            fail("schedule slots %lld and %lld have no slot between them enqueued (%lld s gap)",
                 (long long)slots[i - 1], (long long)slots[i],
                 (long long)(slots[i] - slots[i - 1]) / 1000);
    }
    if (n == 0)
        fail("the schedule enqueued no slot");
    else if (slots[0] != sched_first_)
        fail("the schedule's first job is for slot %lld, its first slot was %lld",
             (long long)slots[0], (long long)sched_first_);
    else if (slots[n - 1] + 1000 != next)
        fail("the schedule's last job is for slot %lld but its next slot is %lld",
             (long long)slots[n - 1], next);
    if (open_old)
        fail("%lld slot jobs older than the last three slots did not complete", open_old);
    printf("crash: the schedule enqueued %zu slots, %lld duplicated, %lld gaps, %lld still "
           "open at the end\n",
           n, dups, gaps, open);
    free(slots);
}

static void verify(void)
{
    struct db *db = open_db();
    struct rows st;

    /* integrity (SQLite's own check; PostgreSQL has none to run here) */
    if (!pg_ && rows_open(&st, db, "PRAGMA integrity_check")) {
        while (rows_next(&st)) {
            const char *r = rows_text(&st, 0);
            if (strcmp(r, "ok") != 0)
                fail("integrity_check: %s", r);
        }
        rows_close(&st);
    }

    /* no phantom, none unfinished */
    long long total = query_int(db, "SELECT count(*) FROM jobs WHERE " NOT_SLOT_JOB);
    long long done =
        query_int(db, "SELECT count(*) FROM jobs WHERE status = 'completed' AND " NOT_SLOT_JOB);
    printf("crash: %lld jobs requested, %zu acknowledged, %lld in the database, %lld completed\n",
           requested_, nacked_, total, done);
    if (total > requested_)
        fail("%lld jobs in the database but only %lld were ever requested", total, requested_);
    if (total < (long long)nacked_)
        fail("%lld jobs in the database but %zu were acknowledged", total, nacked_);
    if (done != total)
        fail("%lld of %lld jobs did not complete", total - done, total);

    /* every acknowledged job is there and completed */
    qsort(acked_, nacked_, sizeof acked_[0], cmp_id);
    for (size_t i = 1; i < nacked_; i++)
        if (!strcmp(acked_[i], acked_[i - 1]))
            fail("id %s was acknowledged twice", acked_[i]);
    /* both in id order: one pass over the jobs finds every acknowledged one */
    rows_open(&st, db, "SELECT id, status FROM jobs WHERE " NOT_SLOT_JOB " ORDER BY id");
    size_t lost = 0, i = 0;
    bool more = rows_next(&st);
    while (i < nacked_) {
        int c = more ? strcmp(rows_text(&st, 0), acked_[i]) : 1;
        if (c < 0) {
            more = rows_next(&st);
            continue;
        }
        if (c > 0) {
            if (lost++ < 5)
                fail("acknowledged job %s is not in the database", acked_[i]);
        } else if (strcmp(rows_text(&st, 1), "completed") != 0) {
            fail("acknowledged job %s ended %s", acked_[i], rows_text(&st, 1));
        }
        i++;
    }
    rows_close(&st);
    if (lost)
        fail("%zu acknowledged jobs lost", lost);

    /* histories */
    rows_open(&st, db,
              "SELECT job_id, seq, from_status, to_status, attempt, message "
              "FROM job_events ORDER BY job_id, seq");
    struct chain c = {0};
    long long chains = 0, reruns = 0;
    while (rows_next(&st)) {
        const char *id = rows_text(&st, 0);
        if (strcmp(id, c.id) != 0) {
            chain_begin(&c, id);
            chains++;
        }
        const char *to = rows_text(&st, 3);
        if (!strcmp(to, "processing") && c.attempt > 0)
            reruns++;
        chain_step(&c, rows_int(&st, 1), rows_text(&st, 2), to, (int)rows_int(&st, 4),
                   rows_text(&st, 5));
    }
    rows_close(&st);
    /* a slot job enqueued at the very end may not have run yet: no history */
    long long ran =
        total + query_int(db, "SELECT count(*) FROM jobs WHERE event_seq > 0 AND " SLOT_JOB);
    if (chains != ran)
        fail("%lld jobs have a history, %lld jobs have run", chains, ran);
    long long mismatched = query_int(
        db, "SELECT count(*) FROM jobs j WHERE j.event_seq != "
            "(SELECT count(*) FROM job_events e WHERE e.job_id = j.id) OR j.attempt != "
            "(SELECT e.attempt FROM job_events e WHERE e.job_id = j.id ORDER BY seq DESC LIMIT 1)");
    if (mismatched)
        fail("%lld jobs disagree with their history (event_seq or attempt)", mismatched);

    /* sleep jobs slept their whole time; some resumed from a checkpoint */
    long long short_sleep =
        query_int(db, pg_ ? "SELECT count(*) FROM jobs WHERE type = 'sleep' AND "
                            "(result::json->>'slept_ms')::bigint < (args::json->>'ms')::bigint"
                          : "SELECT count(*) FROM jobs WHERE type = 'sleep' AND "
                            "json_extract(result, '$.slept_ms') < json_extract(args, '$.ms')");
    long long resumed = query_int(db, pg_ ? "SELECT count(*) FROM jobs WHERE type = 'sleep' AND "
                                            "(result::json->>'resumed_from_ms')::bigint > 0"
                                          : "SELECT count(*) FROM jobs WHERE type = 'sleep' AND "
                                            "json_extract(result, '$.resumed_from_ms') > 0");
    if (short_sleep)
        fail("%lld sleep jobs did not sleep their whole time", short_sleep);
    printf("crash: %lld attempts re-run after a crash, %lld sleep jobs resumed from a "
           "checkpoint\n",
           reruns, resumed);
    verify_schedule(db);
    close_db(db);
}

/* A statement on the server's own database (making and dropping the test's). */
static void pg_admin(const char *verb, const char *name)
{
    char sql[160];
    snprintf(sql, sizeof sql, "%s DATABASE %s%s", verb, name,
             strcmp(verb, "DROP") == 0 ? " WITH (FORCE)" : "");
    PGconn *c = PQconnectdb(pg_);
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "crash: %s: %s\n", sql, PQerrorMessage(c));
        exit(2);
    }
    PQclear(r);
    PQfinish(c);
}

static int usage(void)
{
    fputs("usage: crash --trawl PATH [--kills N] [--seed N] [--keep] [--pg CONNINFO]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option longs[] = {
        {"trawl", required_argument, 0, 't'}, {"kills", required_argument, 0, 'k'},
        {"seed", required_argument, 0, 's'},  {"keep", no_argument, 0, 'K'},
        {"pg", required_argument, 0, 'p'},    {0, 0, 0, 0},
    };
    int kills = 50, c;
    bool keep = false;
    rng_ = (uint64_t)time(NULL) * 2654435761u + (uint64_t)getpid();
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 't':
            trawl_ = optarg;
            break;
        case 'k':
            kills = atoi(optarg);
            break;
        case 's':
            rng_ = strtoull(optarg, NULL, 10);
            break;
        case 'K':
            keep = true;
            break;
        case 'p':
            pg_ = optarg;
            break;
        default:
            return usage();
        }
    }
    if (!trawl_ || kills < 1)
        return usage();
    if (!rng_)
        rng_ = 88172645463325252ull;
    printf("crash: seed %" PRIu64 "\n", rng_);
    const char *tmp = getenv("TMPDIR");
    snprintf(dir_, sizeof dir_, "%s/trawl-crash-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir_)) {
        perror("crash: mkdtemp");
        return 2;
    }
    snprintf(db_, sizeof db_, "%s/trawl.db", dir_);
    snprintf(log_, sizeof log_, "%s/trawl.log", dir_);
    if (pg_) {
        snprintf(pgdb_, sizeof pgdb_, "crash_%d", (int)getpid());
        snprintf(db_, sizeof db_, "%s dbname=%s", pg_, pgdb_);
        pg_admin("CREATE", pgdb_);
        printf("crash: on PostgreSQL, database %s\n", pgdb_);
    }
    acked_ = calloc(MAX_ACKED, sizeof *acked_);
    if (!acked_)
        return 2;
    signal(SIGPIPE, SIG_IGN);

    make_schedule();
    int64_t t0 = now_ms();
    int terms = 0;
    for (int k = 1; k <= kills; k++) {
        /* every other round two serve processes share the database, as two nodes would: they
         * race for the same jobs, and a claim must never take one the other holds */
        pid_t serve[2] = {start_serve(), k % 2 ? start_serve() : -1};
        int64_t until = now_ms() + 200 + rnd(900);
        /* enqueuers come and go while serve runs; the last one may be killed mid-commit */
        while (now_ms() < until) {
            struct enqueuer q;
            start_enqueuer(&q);
            /* one in four is killed early, perhaps in the middle of its commit */
            int64_t end = now_ms() + (rnd(4) == 0 ? rnd(60) : 5000);
            while (!q.eof && now_ms() < end)
                drain_enqueuer(&q, 20);
            int st;
            if (!q.eof)
                kill(q.pid, SIGKILL);
            waitpid(q.pid, &st, 0);
            drain_enqueuer(&q, 0);
            close(q.fd);
            if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
                fail("trawl enqueue exited %d (see %s)", WEXITSTATUS(st), log_);
            sleep_ms(20 + rnd(100));
        }
        for (int i = 0; i < 2; i++) {
            int st;
            if (serve[i] < 0)
                continue;
            if (k % 7 == 0) {
                stop_gracefully(serve[i], "serve");
                terms += i == 0;
            } else {
                kill(serve[i], SIGKILL);
                waitpid(serve[i], &st, 0);
                if (!WIFSIGNALED(st))
                    fail("serve was dead before its kill (status %d; see %s)", st, log_);
            }
        }
        if (k % 10 == 0) {
            printf("crash: %d/%d kills, %zu jobs acknowledged, %.1f s\n", k, kills, nacked_,
                   (double)(now_ms() - t0) / 1000);
            fflush(stdout);
        }
    }

    /* drain: one last serve runs until every job is finished */
    pid_t serve = start_serve();
    struct db *db = open_db();
    int st;
    bool alive = true;
    int64_t end = now_ms() + 120000;
    long long open_jobs = -1;
    while (now_ms() < end) {
        if (waitpid(serve, &st, WNOHANG) == serve) {
            fail("the last serve exited early with status %d (see %s)", st, log_);
            alive = false;
            break;
        }
        open_jobs = query_int(db, "SELECT count(*) FROM jobs WHERE status IN "
                                  "('pending','processing','retrying')");
        if (open_jobs == 0)
            break;
        sleep_ms(200);
    }
    close_db(db);
    if (open_jobs != 0)
        fail("%lld jobs still unfinished 120 s after the last restart", open_jobs);
    if (alive)
        stop_gracefully(serve, "the last serve");

    verify();
    printf("crash: %d kills (%d of them SIGTERM) in %.1f s: %s\n", kills, terms,
           (double)(now_ms() - t0) / 1000, failures_ ? "FAILED" : "ok");
    if (failures_ || keep) {
        printf("crash: database and log kept in %s\n", dir_);
    } else {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
        if (system(cmd) != 0)
            fprintf(stderr, "crash: could not remove %s\n", dir_);
        if (pg_)
            pg_admin("DROP", pgdb_);
    }
    free(acked_);
    return failures_ ? 1 : 0;
}
