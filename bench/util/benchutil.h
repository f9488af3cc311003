/* What the benchmarks share: the disk's own fsync pace, a process's peak memory, and a real
 * `trawl serve` started on a free port. */
#ifndef TRAWL_BENCHUTIL_H
#define TRAWL_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Microseconds per (4 KiB pwrite + fdatasync) in dir, over n rounds; exits on failure. */
double bench_fdatasync_us(const char *dir, int n);
/* CPU time (user + system) pid has used so far, in microseconds, or -1. */
int64_t bench_cpu_us(pid_t pid);
/* Peak resident memory (VmHWM) of pid in KiB, or -1. */
long bench_vmhwm_kb(pid_t pid);
/* Start `trawl serve --listen 127.0.0.1:0` with args (NULL-terminated) and its log in log;
 * returns its pid and writes its port. Exits when it does not come up within 10 s. */
pid_t bench_serve(const char *trawl, const char *log, const char *const *args, int *port);
/* SIGTERM and wait; returns the exit status or -1. */
int bench_stop(pid_t pid);

/* The benchmark's directory into out (size n): given (made when missing), or a new one
 * /tmp/trawl-bench-NAME-XXXXXX; exits when it cannot be made. */
void bench_dir(char *out, size_t n, const char *given, const char *name);
/* The benchmark is over: its directory is removed unless it was given. false when it cannot be. */
bool bench_dir_done(const char *dir, const char *given);
/* Print "bench: msg: detail" and exit 1. */
void bench_die(const char *msg, const char *detail) __attribute__((noreturn));
/* A port free on 127.0.0.1 just now. */
int bench_free_port(void);

/* A new API token for workspace "bench" in the database db (made with `trawl token create`),
 * into out (size n); exits when it cannot be made. */
void bench_token(const char *trawl, const char *db, char *out, size_t n);

/* A trawl serve for one benchmark: a fresh database DIR/NAME.db with a token for workspace
 * "bench", and serve started on it with args (NULL-terminated), its log in DIR/NAME.log. */
struct bench_srv {
    pid_t pid;
    int port;
    char db[600];
    char token[128];
};
void bench_srv_start(struct bench_srv *s, const char *trawl, const char *dir, const char *name,
                     const char *const *args);

/* Start nginx (one worker process) on 127.0.0.1:port serving root, with these location blocks,
 * its files under dir; returns once it answers. Stop it with bench_stop. */
pid_t bench_nginx(const char *dir, int port, const char *root, const char *locations);

/* A small HTTP client (libcurl) for a serve's API, with its token. */
struct bench_http {
    void *h;    /* CURL * */
    void *hdrs; /* struct curl_slist * */
    char base[64];
    char *resp; /* the last answer's body, NUL-terminated */
    size_t len;
};
void bench_http_init(struct bench_http *c, int port, const char *token);
void bench_http_release(struct bench_http *c);
/* method path body (NULL: none) -> the HTTP status; the answer is in c->resp. Exits when the
 * server cannot be reached. */
long bench_http_do(struct bench_http *c, const char *method, const char *path, const char *body);

#endif
