/* The benchmarks' shared helpers. */
#include "benchutil.h"

#include "base/clock.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, 1);
        dup2(e, 2);
        execv(trawl, (char *const *)argv);
        _exit(127);
    }
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
    kill(pid, SIGTERM);
    int st;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
