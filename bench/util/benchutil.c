/* The benchmarks' shared helpers. */
#include "benchutil.h"

#include "base/clock.h"
#include "base/xalloc.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* the servers a benchmark started, stopped by bench_die too */
static pid_t started_[16];

static void track(pid_t pid)
{
    for (size_t i = 0; i < sizeof started_ / sizeof started_[0]; i++)
        if (!started_[i]) {
            started_[i] = pid;
            return;
        }
}

static void untrack(pid_t pid)
{
    for (size_t i = 0; i < sizeof started_ / sizeof started_[0]; i++)
        if (started_[i] == pid)
            started_[i] = 0;
}

double bench_fdatasync_us(const char *dir, int n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/fsync.probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bench: cannot open %s\n", path);
        exit(1);
    }
    char block[4096];
    memset(block, 'x', sizeof block);
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < n; i++)
        if (pwrite(fd, block, sizeof block, (off_t)i * 4096) != (ssize_t)sizeof block ||
            fdatasync(fd) != 0) {
            fprintf(stderr, "bench: fsync probe failed\n");
            exit(1);
        }
    int64_t dt = clock_mono_ns() - t0;
    close(fd);
    unlink(path);
    return (double)dt / 1e3 / n;
}

int64_t bench_cpu_us(pid_t pid)
{
    char p[64], line[2048];
    snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(p, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    /* after the command name (in parentheses, may hold spaces): fields 3.. */
    char *s = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    if (!s || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((ut + st) * 1000000ull / (unsigned long long)hz);
}

long bench_vmhwm_kb(pid_t pid)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

pid_t bench_serve(const char *trawl, const char *log, const char *const *args, int *port)
{
    char out[700];
    snprintf(out, sizeof out, "%s.out", log);
    const char *argv[64] = {trawl, "serve", "--listen", "127.0.0.1:0"};
    int k = 4;
    for (; args && *args && k < 63; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    /* an earlier server's answer must not be read as this one's port */
    unlink(out);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(trawl, (char *const *)argv);
        _exit(127);
    }
    track(pid);
    for (int t = 0; t < 10000; t += 10) {
        FILE *f = fopen(out, "r");
        char buf[256] = "";
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        buf[n] = 0;
        if (f)
            fclose(f);
        const char *p = strstr(buf, "listening on port ");
        if (p) {
            *port = atoi(p + strlen("listening on port "));
            return pid;
        }
        clock_sleep_ms(10);
    }
    fprintf(stderr, "bench: trawl serve did not start; see %s\n", log);
    kill(pid, SIGKILL);
    exit(1);
}

int bench_stop(pid_t pid)
{
    untrack(pid);
    kill(pid, SIGTERM);
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void bench_dir(char *out, size_t n, const char *given, const char *name)
{
    if (given) {
        snprintf(out, n, "%s", given);
        mkdir(out, 0755);
        return;
    }
    snprintf(out, n, "/tmp/trawl-bench-%s-XXXXXX", name);
    if (!mkdtemp(out))
        bench_die("cannot make a directory", out);
}

bool bench_dir_done(const char *dir, const char *given)
{
    if (given)
        return true;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) == 0)
        return true;
    fprintf(stderr, "bench: cannot remove %s\n", dir);
    return false;
}

void bench_die(const char *msg, const char *detail)
{
    fprintf(stderr, "bench: %s%s%s\n", msg, detail ? ": " : "", detail ? detail : "");
    for (size_t i = 0; i < sizeof started_ / sizeof started_[0]; i++)
        if (started_[i])
            bench_stop(started_[i]);
    exit(1);
}

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

void bench_token(const char *trawl, const char *db, char *out, size_t n)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' token create --workspace bench --db '%s' 2>/dev/null", trawl,
             db);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(out, (int)n, p))
        bench_die("cannot make a token", NULL);
    pclose(p);
    out[strcspn(out, "\n")] = 0;
}

void bench_srv_start(struct bench_srv *s, const char *trawl, const char *dir, const char *name,
                     const char *const *args)
{
    snprintf(s->db, sizeof s->db, "%s/%s.db", dir, name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -f '%s' '%s-wal' '%s-shm'", s->db, s->db, s->db);
    if (system(cmd) != 0)
        bench_die("cannot remove", s->db);
    bench_token(trawl, s->db, s->token, sizeof s->token);
    char log[700];
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    const char *argv[40] = {"--db", s->db};
    int k = 2;
    for (; args && *args && k < 38; args++)
        argv[k++] = *args;
    argv[k] = NULL;
    s->pid = bench_serve(trawl, log, argv, &s->port);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    struct bench_http *c = arg;
    c->resp = xrealloc(c->resp, c->len + size * n + 1);
    memcpy(c->resp + c->len, p, size * n);
    c->len += size * n;
    c->resp[c->len] = 0;
    return size * n;
}

void bench_http_init(struct bench_http *c, int port, const char *token)
{
    memset(c, 0, sizeof *c);
    CURL *h = curl_easy_init();
    c->h = h;
    snprintf(c->base, sizeof c->base, "http://127.0.0.1:%d", port);
    char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");
    c->hdrs = hdrs;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
}

void bench_http_release(struct bench_http *c)
{
    curl_slist_free_all(c->hdrs);
    curl_easy_cleanup(c->h);
    free(c->resp);
}

long bench_http_do(struct bench_http *c, const char *method, const char *path, const char *body)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", c->base, path);
    c->len = 0;
    if (c->resp)
        c->resp[0] = 0;
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    if (!body)
        curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
    CURLcode cc = curl_easy_perform(c->h);
    if (cc != CURLE_OK) {
        char msg[1200];
        snprintf(msg, sizeof msg, "%s %s: %s", method, path, curl_easy_strerror(cc));
        bench_die("request failed", msg);
    }
    long st = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

pid_t bench_nginx(const char *dir, int port, const char *root, const char *locations)
{
    char conf[700];
    chmod(dir, 0755); /* nginx's workers run as nobody */
    snprintf(conf, sizeof conf, "%s/nginx.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f)
        bench_die("cannot write", conf);
    fprintf(f,
            "daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/nginx.err;\n"
            "events { worker_connections 1024; }\n"
            "http { access_log off; keepalive_requests 100000;\n"
            "  include /etc/nginx/mime.types;\n"
            "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
            "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
            "  server { listen 127.0.0.1:%d; root %s;\n%s} }\n",
            dir, dir, dir, dir, dir, dir, dir, port, root, locations);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl("/usr/sbin/nginx", "nginx", "-p", dir, "-c", conf, (char *)NULL);
        _exit(127);
    }
    track(pid);
    for (int t = 0; t < 5000; t += 20) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(0x7f000001)};
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return pid;
        clock_sleep_ms(20);
    }
    bench_die("nginx did not start", conf);
}
