/* The multi-node test: several `trawl serve` processes on one PostgreSQL database, like nodes of
 * one deployment, while this program enqueues the work (from a process of its own, so the nodes
 * are woken by its NOTIFY, not by polling). Partway through, one node is killed with SIGKILL.
 * Then it reads the database with its own libpq connection and checks:
 *   - every job enqueued exists and ended completed: none lost, none extra;
 *   - every job's history (job_events) is one unbroken chain: each change starts where the last
 *     ended, each claim is attempt + 1 and follows a state that is not processing (so no job was
 *     claimed twice within a lease), completed is reached once, as the last change, and the
 *     job's event_seq counts its events;
 *   - the jobs the killed node held were requeued by another node's sweep within lease + one
 *     sweep interval of the kill (with 1 s of slack for a loaded machine), and ended completed;
 *   - a wait in this process (which runs no job) on a job the nodes run is answered within 2 s:
 *     by the node's NOTIFY, since a wait does not poll;
 *   - with --restart, the server is killed as a crash would and started again (CMD, e.g.
 *     `sh scripts/pg-cluster.sh restart DIR`) when two thirds are done: the nodes reconnect by
 *     themselves and the checks above still hold (nothing acknowledged lost, no half-written
 *     job, no history broken);
 *   - the nodes left stop with SIGTERM and exit 0.
 * usage: multinode --trawl PATH --pg CONNINFO [--jobs N] [--nodes N] [--restart CMD] [--keep]
 *   CONNINFO: a libpq keyword string of a server (the test makes and drops its own database) */
#include "engine/engine.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 8
#define LEASE_MS  3000
#define SWEEP_MS  1000
#define SLEEPERS  240 /* sleep jobs of SLEEP_MS: work a node surely holds when it is killed */
#define SLEEP_MS  1500
#define CHUNK     1000 /* jobs per enqueue call */

static const char *trawl_;
static char db_[1200], admin_[1000], dbname_[64], log_[600];
static int failures_;
static pid_t nodes_[MAX_NODES]; /* the nodes started, 0 once stopped: killed if the test dies */
static int nnodes_;

static void fail(const char *fmt, ...)
{
    if (++failures_ > 40) {
        if (failures_ == 41)
            puts("multinode: (more failures not shown)");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    fputs("multinode: FAIL: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("multinode: ", stdout);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    for (int i = 0; i < nnodes_; i++)
        if (nodes_[i] > 0)
            kill(nodes_[i], SIGKILL);
    exit(2);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static pid_t start_node(void)
{
    char *argv[] = {(char *)trawl_,
                    "serve",
                    "--db",
                    db_,
                    "--workers",
                    "4",
                    "--grace",
                    "2000",
                    "--sweep",
                    "1000",
                    "--type",
                    "sleep.lease_ms=3000",
                    "--type",
                    "noop.lease_ms=3000",
                    "--log-level",
                    "warn",
                    "--listen",
                    "127.0.0.1:0",
                    "--crawl-workers",
                    "0",
                    NULL};
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int lf = open(log_, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (lf >= 0) {
            dup2(lf, 1);
            dup2(lf, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

static PGconn *connect_or_die(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to %s: %s", conninfo, PQerrorMessage(c));
    return c;
}

static PGresult *query(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    return r;
}

static long long query_int(PGconn *c, const char *sql)
{
    PGresult *r = query(c, sql);
    long long v = PQntuples(r) ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return v;
}

/* The number of completed jobs, or -1 while the server cannot answer (it is restarting). */
static long long completed_now(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT count(*) FROM jobs WHERE status = 'completed'");
    long long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (v < 0 && PQstatus(c) != CONNECTION_OK)
        PQreset(c);
    return v;
}

/* The jobs held by the node with this pid now: their ids, in a new array. */
static char **held_by(PGconn *c, pid_t pid, size_t *n)
{
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT id FROM jobs WHERE status = 'processing' AND split_part(lease_owner, ':', 2) "
             "= '%d'",
             (int)pid);
    PGresult *r = query(c, sql);
    *n = (size_t)PQntuples(r);
    char **ids = calloc(*n + 1, sizeof *ids);
    for (size_t i = 0; i < *n; i++)
        ids[i] = strdup(PQgetvalue(r, (int)i, 0));
    PQclear(r);
    return ids;
}

struct history {
    char id[64];
    long long last_seq;
    char last_to[16];
    int claims;
    int completed;
};

static void hist_begin(struct history *h, const char *id)
{
    memset(h, 0, sizeof *h);
    snprintf(h->id, sizeof h->id, "%s", id);
    snprintf(h->last_to, sizeof h->last_to, "pending");
}

static void hist_step(struct history *h, long long seq, const char *from, const char *to,
                      int attempt)
{
    if (seq != h->last_seq + 1)
        fail("job %s: event %lld follows %lld", h->id, seq, h->last_seq);
    if (strcmp(from, h->last_to) != 0)
        fail("job %s: event %lld starts at %s, but the job was %s", h->id, seq, from, h->last_to);
    if (strcmp(to, "processing") == 0 && strcmp(from, "processing") != 0) {
        h->claims++;
        if (attempt != h->claims)
            fail("job %s: claim %d has attempt %d", h->id, h->claims, attempt);
    }
    if (h->completed)
        fail("job %s: event %lld after its completion", h->id, seq);
    if (strcmp(to, "completed") == 0)
        h->completed++;
    h->last_seq = seq;
    snprintf(h->last_to, sizeof h->last_to, "%s", to);
}

static void hist_end(const struct history *h, long long event_seq)
{
    if (!h->completed)
        fail("job %s: never completed (last %s)", h->id, h->last_to);
    if (h->last_seq != event_seq)
        fail("job %s: %lld events, but event_seq says %lld", h->id, h->last_seq, event_seq);
}

static void check_histories(PGconn *c, long long total)
{
    PGresult *r = query(c, "SELECT e.job_id, e.seq, e.from_status, e.to_status, e.attempt, "
                           "j.event_seq FROM job_events e JOIN jobs j ON j.id = e.job_id ORDER BY "
                           "e.job_id, e.seq");
    struct history h;
    long long jobs = 0, seq_of_job = 0;
    memset(&h, 0, sizeof h);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *id = PQgetvalue(r, i, 0);
        if (strcmp(id, h.id) != 0) {
            if (jobs)
                hist_end(&h, seq_of_job);
            hist_begin(&h, id);
            jobs++;
        }
        hist_step(&h, strtoll(PQgetvalue(r, i, 1), NULL, 10), PQgetvalue(r, i, 2),
                  PQgetvalue(r, i, 3), atoi(PQgetvalue(r, i, 4)));
        seq_of_job = strtoll(PQgetvalue(r, i, 5), NULL, 10);
    }
    if (jobs)
        hist_end(&h, seq_of_job);
    PQclear(r);
    if (jobs != total)
        fail("%lld jobs have a history, %lld were enqueued", jobs, total);
    printf("multinode: %lld histories checked, every one unbroken\n", jobs);
}

/* Each job the killed node held was requeued after the kill, by a sweep within lease + one
 * interval (+ slack), and completed later. */
static void check_recovery(PGconn *c, char **held, size_t n, int64_t killed_at)
{
    int64_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT min(at) FROM job_events WHERE job_id = '%s' AND from_status = "
                 "'processing' AND to_status <> 'completed' AND at >= %lld",
                 held[i], (long long)killed_at);
        long long at = query_int(c, sql);
        if (at == 0) {
            /* finished by the node before it died (its last commit landed), or never requeued */
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM job_events WHERE job_id = '%s' AND to_status = "
                     "'completed' AND at <= %lld",
                     held[i], (long long)killed_at + 50);
            if (query_int(c, sql) == 0)
                fail("job %s held by the killed node was never requeued", held[i]);
            continue;
        }
        if (at - killed_at > worst)
            worst = at - killed_at;
    }
    int64_t bound = LEASE_MS + SWEEP_MS + 1000;
    printf("multinode: the killed node held %zu jobs; the last was requeued %lld ms after the "
           "kill (bound: lease %d + sweep %d + 1000 slack)\n",
           n, (long long)worst, LEASE_MS, SWEEP_MS);
    if (worst > bound)
        fail("a job of the killed node waited %lld ms for a sweep (more than %lld)",
             (long long)worst, (long long)bound);
}

/* Waits across nodes: this process runs no job, so a wait here is answered only by a node's
 * completion heard through NOTIFY (engine_wait does not poll), and the idle nodes learn of each
 * job from this process's NOTIFY too. Each job sleeps 50 ms; a wait must end within 2 s. */
static int check_waits(struct engine *eng)
{
    enum { WAITS = 20 };
    int64_t worst = 0, sum = 0;
    for (int i = 0; i < WAITS; i++) {
        struct job_spec spec = {.type = "sleep", .args = "{\"ms\":50,\"step_ms\":50}"};
        struct enqueue_result res;
        struct err e = {0};
        int64_t t0 = now_ms();
        if (engine_enqueue(eng, &spec, &res, &e) != 0)
            die("enqueue: %s", e.msg);
        struct job j;
        if (engine_wait(eng, res.id, 10000, &j, &e) != 0)
            die("wait: %s", e.msg);
        int64_t dt = now_ms() - t0;
        if (j.status != JOB_COMPLETED)
            fail("a wait on job %s ended with it %s after %lld ms", res.id,
                 job_status_name(j.status), (long long)dt);
        job_release(&j);
        sum += dt;
        if (dt > worst)
            worst = dt;
    }
    printf("multinode: %d waits answered by other nodes' completions: mean %lld ms, worst %lld "
           "ms (the job sleeps 50 ms)\n",
           WAITS, (long long)(sum / WAITS), (long long)worst);
    if (worst > 2000)
        fail("a wait took %lld ms to learn of a completion on another node", (long long)worst);
    return WAITS;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: multinode --trawl PATH --pg CONNINFO [--jobs N] [--nodes N] [--keep]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *pg = NULL, *restart = NULL;
    long jobs = 100000;
    int nodes = 3;
    bool keep = false;
    static const struct option opts[] = {{"trawl", required_argument, 0, 't'},
                                         {"pg", required_argument, 0, 'p'},
                                         {"jobs", required_argument, 0, 'j'},
                                         {"nodes", required_argument, 0, 'n'},
                                         {"keep", no_argument, 0, 'k'},
                                         {"restart", required_argument, 0, 'r'},
                                         {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 't')
            trawl_ = optarg;
        else if (ch == 'p')
            pg = optarg;
        else if (ch == 'j')
            jobs = atol(optarg);
        else if (ch == 'n')
            nodes = atoi(optarg);
        else if (ch == 'k')
            keep = true;
        else if (ch == 'r')
            restart = optarg;
        else
            return usage();
    }
    if (!trawl_ || !pg || jobs < 1 || nodes < 2 || nodes > MAX_NODES)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    snprintf(admin_, sizeof admin_, "%s", pg);
    snprintf(dbname_, sizeof dbname_, "multinode_%d", (int)getpid());
    snprintf(db_, sizeof db_, "%s dbname=%s", pg, dbname_);
    snprintf(log_, sizeof log_, "/tmp/multinode-%d.log", (int)getpid());
    PGconn *adm = connect_or_die(admin_);
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", dbname_);
    PQclear(query(adm, sql));

    /* the schema first, so the nodes do not all wait on the migration lock */
    struct store *s;
    struct err e = {0};
    if (store_open(db_, STORE_DURABLE, &s, &e) != 0)
        die("open %s: %s", db_, e.msg);
    struct engine *eng;
    if (engine_open(s, NULL, &eng, &e) != 0)
        die("engine: %s", e.msg);

    pid_t pids[MAX_NODES];
    bool alive[MAX_NODES];
    for (int i = 0; i < nodes; i++) {
        pids[i] = start_node();
        alive[i] = true;
        nodes_[nnodes_++] = pids[i];
    }
    printf("multinode: %d nodes on %s; enqueuing %ld noop and %d sleep jobs\n", nodes, dbname_,
           jobs, SLEEPERS);
    fflush(stdout);
    int64_t t0 = now_ms();
    long long total = 0;
    struct job_spec *specs = calloc(CHUNK, sizeof *specs);
    struct enqueue_result *res = calloc(CHUNK, sizeof *res);
    char sleep_args[64];
    snprintf(sleep_args, sizeof sleep_args, "{\"ms\":%d,\"step_ms\":100}", SLEEP_MS);
    long sleepers_left = SLEEPERS;
    for (long done = 0; done < jobs;) {
        size_t k = 0;
        while (k < CHUNK && done < jobs) {
            /* a sleeper every jobs / SLEEPERS noops */
            if (sleepers_left && (done % (jobs / SLEEPERS + 1)) == 0 && k + 1 < CHUNK) {
                specs[k++] = (struct job_spec){.type = "sleep", .args = sleep_args};
                sleepers_left--;
            }
            specs[k++] = (struct job_spec){.type = "noop"};
            done++;
        }
        if (engine_enqueue_many(eng, specs, k, res, &e) != 0)
            die("enqueue: %s", e.msg);
        total += (long long)k;
    }
    free(specs);
    free(res);
    printf("multinode: %lld jobs enqueued in %.1f s\n", total, (double)(now_ms() - t0) / 1000);
    fflush(stdout);

    PGconn *c = connect_or_die(db_);
    /* kill node 0 once a third is done and it holds sleepers */
    int64_t deadline = now_ms() + 600000;
    char **held = NULL;
    size_t nheld = 0;
    int64_t killed_at = 0;
    bool restarted = false;
    for (;;) {
        long long done = completed_now(c);
        if (done < 0) {
            if (now_ms() > deadline) {
                fail("the server did not answer again within 600 s");
                break;
            }
            sleep_ms(200);
            continue;
        }
        if (restart && !restarted && killed_at && done >= total * 2 / 3) {
            int64_t r0 = now_ms();
            int rc = system(restart);
            restarted = true;
            printf("multinode: the server was killed and started again at %lld of %lld "
                   "completed (%s: exit %d, %lld ms)\n",
                   done, total, restart, rc, (long long)(now_ms() - r0));
            fflush(stdout);
            if (rc != 0)
                fail("%s failed (exit %d)", restart, rc);
            PQreset(c);
            continue;
        }
        if (!killed_at && done >= total / 3) {
            held = held_by(c, pids[0], &nheld);
            if (nheld > 0 || done >= total * 2 / 3) {
                kill(pids[0], SIGKILL);
                killed_at = now_ms();
                waitpid(pids[0], NULL, 0);
                nodes_[0] = 0;
                alive[0] = false;
                printf("multinode: killed node 0 (pid %d) at %lld of %lld completed, holding %zu "
                       "jobs\n",
                       (int)pids[0], done, total, nheld);
                fflush(stdout);
            } else {
                for (size_t i = 0; i < nheld; i++)
                    free(held[i]);
                free(held);
                held = NULL;
            }
        }
        if (done == total)
            break;
        if (now_ms() > deadline) {
            fail("only %lld of %lld jobs completed in 600 s", done, total);
            break;
        }
        sleep_ms(100);
    }
    double secs = (double)(now_ms() - t0) / 1000;
    printf("multinode: %lld jobs ended in %.1f s (%.0f jobs/s with %d nodes, one killed)\n", total,
           secs, (double)total / secs, nodes);

    total += check_waits(eng);

    for (int i = 0; i < nodes; i++) {
        if (!alive[i])
            continue;
        kill(pids[i], SIGTERM);
        int st = 0;
        int64_t until = now_ms() + 10000;
        pid_t w;
        while ((w = waitpid(pids[i], &st, WNOHANG)) == 0 && now_ms() < until)
            sleep_ms(20);
        nodes_[i] = 0;
        if (w == 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &st, 0);
            fail("node %d did not stop within 10 s of SIGTERM", i);
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fail("node %d exited with status %d", i, st);
        }
    }

    long long count = query_int(c, "SELECT count(*) FROM jobs");
    long long completed = query_int(c, "SELECT count(*) FROM jobs WHERE status = 'completed'");
    if (count != total)
        fail("%lld jobs in the database, %lld enqueued", count, total);
    if (completed != total)
        fail("%lld of %lld jobs completed", completed, total);
    check_histories(c, total);
    if (killed_at)
        check_recovery(c, held, nheld, killed_at);
    else
        fail("node 0 was never killed");
    if (restart && !restarted)
        fail("the server was never restarted");
    for (size_t i = 0; i < nheld; i++)
        free(held[i]);
    free(held);
    PQfinish(c);
    engine_close(eng);
    if (!keep) {
        PQreset(adm); /* made before a restart, it would fail */
        snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", dbname_);
        PQclear(query(adm, sql));
        if (!failures_)
            unlink(log_);
    }
    PQfinish(adm);
    if (failures_) {
        printf("multinode: %d failures (node logs: %s)\n", failures_, log_);
        return 1;
    }
    puts("multinode: ok");
    return 0;
}
