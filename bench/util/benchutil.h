/* What the benchmarks share: the disk's own fsync pace, a process's peak memory, and a real
 * `trawl serve` started on a free port. */
#ifndef TRAWL_BENCHUTIL_H
#define TRAWL_BENCHUTIL_H

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

#endif
