/* The end-to-end tests' harness: processes started by fork/exec and stopped by their PIDs, a
 * directory per test (and PostgreSQL databases per test under $TRAWL_TEST_PG), and HTTP through
 * libcurl. */
#include "e2eutil.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir_[512];
static pid_t children_[16];
static int nchildren_;

int64_t e2e_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void e2e_sleep_ms(int64_t ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static void cleanup(void)
{
    for (int i = 0; i < nchildren_; i++)
        if (children_[i] > 0) {
            kill(children_[i], SIGKILL);
            waitpid(children_[i], NULL, 0);
        }
    /* after the serves that used them are gone */
    tdb_drop_all();
    if (dir_[0] && !getenv("E2E_KEEP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir_);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", dir_);
    }
}

const char *e2e_dir(void)
{
    if (!dir_[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir_, sizeof dir_, "%s/trawl-e2e-XXXXXX", t && *t ? t : "/tmp");
        cr_assert_not_null(mkdtemp(dir_), "mkdtemp");
        atexit(cleanup);
        curl_global_init(CURL_GLOBAL_DEFAULT);
    }
    return dir_;
}

const char *e2e_path(const char *name)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", e2e_dir(), name);
    return p;
}

/* ---- the store under test: SQLite, or PostgreSQL when $TRAWL_TEST_PG names a server ---- */

const char *e2e_pg(void)
{
    return tdb_pg();
}

void e2e_sqlite_only(const char *why)
{
    if (e2e_pg())
        cr_skip_test("SQLite only: %s", why);
}

/* The database of name for this test process (an identifier: "e<pid>_" and name): made on first
 * use, dropped at exit by the test directory's cleanup, after the processes that used it. */
static const char *pg_db(const char *name)
{
    e2e_dir(); /* its cleanup drops the databases */
    return tdb_pg_database('e', name);
}

const char *e2e_db(const char *name)
{
    static char db[1024];
    if (e2e_pg())
        snprintf(db, sizeof db, "%s dbname=%s", e2e_pg(), pg_db(name));
    else
        snprintf(db, sizeof db, "%s", e2e_path(name));
    return db;
}

static const char *sibling(const char *rel)
{
    static char path[2][PATH_MAX + 64];
    static int k;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    cr_assert_gt(n, 0);
    self[n] = 0;
    *strrchr(self, '/') = 0; /* BUILD/tests */
    char *p = path[k++ % 2];
    snprintf(p, PATH_MAX + 64, "%s/%s", self, rel);
    cr_assert_eq(access(p, X_OK), 0, "%s is not built", p);
    return p;
}

const char *e2e_trawl(void)
{
    return sibling("../trawl");
}

const char *e2e_origin_bin(void)
{
    return sibling("origin");
}

static void track(pid_t pid)
{
    if (nchildren_ < 16)
        children_[nchildren_++] = pid;
}

static void untrack(pid_t pid)
{
    for (int i = 0; i < nchildren_; i++)
        if (children_[i] == pid)
            children_[i] = 0;
}

void e2e_read_tail(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    if (size > (long)cap - 1)
        fseek(f, size - (long)cap + 1, SEEK_SET);
    else
        fseek(f, 0, SEEK_SET);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = 0;
    fclose(f);
}

pid_t e2e_start(const char *const *args, const char *out, const char *err)
{
    const char *argv[64] = {e2e_trawl()};
    int k = 1;
    for (; *args && k < 63; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    track(pid);
    return pid;
}

int e2e_reap(pid_t pid)
{
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    untrack(pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void e2e_serve(struct serve *s, const char *db, const char *const *args)
{
    memset(s, 0, sizeof *s);
    snprintf(s->db, sizeof s->db, "%s", db ? db : e2e_db("trawl.db"));
    static int n;
    char name[64];
    snprintf(name, sizeof name, "serve%d.log", n);
    snprintf(s->log, sizeof s->log, "%s", e2e_path(name));
    snprintf(name, sizeof name, "serve%d.out", n++);
    char out[1100];
    snprintf(out, sizeof out, "%s", e2e_path(name));
    const char *argv[64] = {"serve", "--db", s->db, "--listen", "127.0.0.1:0"};
    int k = 5;
    for (; args && *args && k < 62; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    pid_t pid = e2e_start(argv, out, s->log);
    s->pid = pid;
    for (int t = 0; t < 10000; t += 10) {
        char buf[256];
        e2e_read_tail(out, buf, sizeof buf);
        const char *p = strstr(buf, "listening on port ");
        if (p) {
            s->port = atoi(p + strlen("listening on port "));
            snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            untrack(pid);
            cr_assert_fail("trawl serve exited (status %d) before listening: %s", st,
                           e2e_serve_log(s));
        }
        e2e_sleep_ms(10);
    }
    cr_assert_fail("trawl serve did not listen within 10 s: %s", e2e_serve_log(s));
}

int e2e_serve_stop(struct serve *s, int ms)
{
    if (s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    return e2e_serve_wait(s, ms);
}

int e2e_serve_wait(struct serve *s, int ms)
{
    if (s->pid <= 0)
        return -1;
    int st;
    for (int t = 0; t < ms; t += 10) {
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            untrack(s->pid);
            s->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        e2e_sleep_ms(10);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &st, 0);
    untrack(s->pid);
    s->pid = 0;
    return -1;
}

const char *e2e_serve_log(const struct serve *s)
{
    static char buf[4096];
    e2e_read_tail(s->log, buf, sizeof buf);
    return buf;
}

/* Start a test server (argv[0], with --portfile appended) and wait for its port. */
static void start_server(struct origin *o, const char *const *args, const char *what)
{
    memset(o, 0, sizeof *o);
    static int n;
    char name[64];
    snprintf(name, sizeof name, "server%d.port", n++);
    char portfile[1100];
    snprintf(portfile, sizeof portfile, "%s", e2e_path(name));
    const char *argv[24];
    int k = 0;
    for (; args[k] && k < 20; k++)
        argv[k] = args[k];
    argv[k++] = "--portfile";
    argv[k++] = portfile;
    argv[k] = NULL;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    track(pid);
    o->pid = pid;
    for (int t = 0; t < 5000; t += 10) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int port = 0;
            if (fscanf(f, "%d", &port) == 1 && port > 0) {
                fclose(f);
                o->port = port;
                snprintf(o->base, sizeof o->base, "http://127.0.0.2:%d", port);
                return;
            }
            fclose(f);
        }
        e2e_sleep_ms(10);
    }
    cr_assert_fail("the %s server did not start", what);
}

void e2e_origin(struct origin *o, const char *robots)
{
    /* 127.0.0.2: the only address the tests' serve lets through its SSRF guard */
    const char *argv[8] = {e2e_origin_bin(), "--host", "127.0.0.2"};
    if (robots) {
        argv[3] = "--robots";
        argv[4] = robots;
    }
    start_server(o, argv, "origin");
}

void e2e_shop(struct origin *o, int products)
{
    char n[32];
    snprintf(n, sizeof n, "%d", products);
    const char *argv[] = {sibling("shop"), "--host", "127.0.0.2", "--products", n, NULL};
    start_server(o, argv, "shop");
}

void e2e_claim(const struct serve *s, const char *token, const char *type, char id[64],
               char lease[64])
{
    struct resp r;
    e2e_call(&r, s, "POST", "/v1/jobs/claim", token,
             json_pack("{s:[s], s:s, s:i}", "types", type, "worker", "w", "limit", 1));
    cr_assert_eq(r.status, 200, "claim: HTTP %ld %s", r.status, r.body ? r.body : "");
    json_t *j = json_array_get(json_object_get(r.json, "jobs"), 0);
    cr_assert_not_null(j, "nothing to claim: %s", r.body);
    snprintf(id, 64, "%s", json_string_value(json_object_get(j, "id")));
    snprintf(lease, 64, "%s", json_string_value(json_object_get(j, "leaseToken")));
    e2e_resp_release(&r);
}

void e2e_worker_end(const struct serve *s, const char *token, const char *id, const char *lease,
                    const char *how, const char *error)
{
    bool done = strcmp(how, "complete") == 0;
    char path[128];
    snprintf(path, sizeof path, "/v1/jobs/%s/%s", id, done ? "complete" : "fail");
    json_t *body = json_pack("{s:s, s:s}", "worker", "w", "leaseToken", lease);
    if (!done) {
        json_object_set_new(body, "error", json_string(error ? error : "it broke"));
        json_object_set_new(body, "retryable", json_boolean(strcmp(how, "retry") == 0));
    }
    struct resp r;
    e2e_call(&r, s, "POST", path, token, body);
    cr_assert_eq(r.status, 200, "%s: HTTP %ld %s", how, r.status, r.body ? r.body : "");
    e2e_resp_release(&r);
}

void e2e_sentry(struct origin *o, int port, const char *key, const char *secret)
{
    char n[16];
    snprintf(n, sizeof n, "%d", port);
    const char *argv[] = {sibling("sentryrx"), "--host", "127.0.0.2", "--port", n, "--key", key,
                          "--secret",          secret,   NULL};
    start_server(o, argv, "sentryrx");
}

void e2e_hookrx(struct origin *o, int port, const char *secret)
{
    char n[16];
    snprintf(n, sizeof n, "%d", port);
    const char *argv[] = {sibling("hookrx"), "--host", "127.0.0.2", "--port", n,
                          "--secret",        secret,   NULL};
    start_server(o, argv, "hookrx");
}

json_t *e2e_hookrx_received(const struct origin *o, bool numbers)
{
    struct resp r;
    e2e_http(&r, o->base, "GET", numbers ? "/received?numbers=1" : "/received", NULL, NULL, 0,
             NULL);
    cr_assert_eq(r.status, 200, "hookrx /received: HTTP %ld %s", r.status, r.body ? r.body : "");
    cr_assert_not_null(r.json, "hookrx /received: not json: %s", r.body ? r.body : "");
    json_t *j = r.json;
    r.json = NULL; /* the caller's now */
    e2e_resp_release(&r);
    return j;
}

void e2e_hookrx_mode(const struct origin *o, const char *mode_json)
{
    struct resp r;
    e2e_http(&r, o->base, "POST", "/mode", NULL, mode_json, strlen(mode_json), NULL);
    cr_assert_eq(r.status, 200, "hookrx /mode %s: HTTP %ld %s", mode_json, r.status,
                 r.body ? r.body : "");
    e2e_resp_release(&r);
}

int e2e_free_port(const char *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &sa.sin_addr);
    cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind %s: %s", addr,
                 strerror(errno));
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

void e2e_origin_stop(struct origin *o)
{
    if (o->pid > 0) {
        kill(o->pid, SIGTERM);
        waitpid(o->pid, NULL, 0);
        untrack(o->pid);
        o->pid = 0;
    }
}

long e2e_origin_hits(const struct origin *o, const char *path)
{
    char q[1024];
    char *enc = curl_easy_escape(NULL, path, 0);
    snprintf(q, sizeof q, "/__hits?path=%s", enc);
    curl_free(enc);
    struct resp r;
    e2e_http(&r, o->base, "GET", q, NULL, NULL, 0, NULL);
    cr_assert_eq(r.status, 200, "origin /__hits: %ld", r.status);
    long n = (long)json_integer_value(json_object_get(r.json, "hits"));
    e2e_resp_release(&r);
    return n;
}

const char *e2e_token(const char *db, const char *workspace)
{
    static char tok[2][128];
    static int k;
    struct run r;
    char env[1200];
    snprintf(env, sizeof env, "TRAWL_DB=%s", db);
    const char *envv[] = {env, NULL};
    E2E_RUN(&r, envv, "token", "create", "--workspace", workspace);
    cr_assert_eq(r.status, 0, "token create: %s", r.err);
    char *t = tok[k++ % 2];
    snprintf(t, 128, "%.49s", r.out);
    return t;
}

struct sink {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    char *d = realloc(s->data, s->len + len + 1);
    if (!d)
        return 0;
    memcpy(d + s->len, p, len);
    s->len += len;
    d[s->len] = 0;
    s->data = d;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    size_t len = size * n, used = strlen(r->headers);
    if (used + len < sizeof r->headers) {
        memcpy(r->headers + used, p, len);
        r->headers[used + len] = 0;
    }
    return len;
}

void e2e_http(struct resp *r, const char *base, const char *method, const char *path,
              const char *token, const char *body, size_t body_len, const char *ctype)
{
    memset(r, 0, sizeof *r);
    CURL *h = curl_easy_init();
    cr_assert_not_null(h);
    char url[16384];
    snprintf(url, sizeof url, "%s%s", base, path);
    struct curl_slist *hdrs = NULL;
    char auth[512], ct[256];
    if (token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
        hdrs = curl_slist_append(hdrs, ct);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    struct sink s = {0};
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK)
        r->status = -(long)cc;
    r->body = s.data;
    r->len = s.len;
    if (s.data)
        r->json = json_loadb(s.data, s.len, 0, NULL);
}

void e2e_call(struct resp *r, const struct serve *s, const char *method, const char *path,
              const char *token, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    e2e_http(r, s->base, method, path, token, text, text ? strlen(text) : 0, NULL);
    free(text);
}

void e2e_resp_release(struct resp *r)
{
    json_decref(r->json);
    free(r->body);
    memset(r, 0, sizeof *r);
}

const char *e2e_err(const struct resp *r)
{
    const char *m =
        json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
    return m ? m : (r->body ? r->body : "");
}

void e2e_run(struct run *r, const char *const *env, const char *const *args)
{
    const char *argv[64] = {e2e_trawl()};
    int n = 1;
    for (; args[n - 1] && n < 63; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    /* not e2e_path(): the caller's arguments may live in its buffer */
    char out[1100], err[1100];
    snprintf(out, sizeof out, "%s/run.out", e2e_dir());
    snprintf(err, sizeof err, "%s/run.err", e2e_dir());
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        for (; env && *env; env++)
            putenv((char *)*env);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int in = open("/dev/null", O_RDONLY);
        dup2(in, 0);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    FILE *f = fopen(out, "r");
    size_t k = f ? fread(r->out, 1, sizeof r->out - 1, f) : 0;
    r->out[k] = 0;
    if (f)
        fclose(f);
    f = fopen(err, "r");
    k = f ? fread(r->err, 1, sizeof r->err - 1, f) : 0;
    r->err[k] = 0;
    if (f)
        fclose(f);
}
