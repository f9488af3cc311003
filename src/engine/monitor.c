/* The monitor thread. Errors are logged and the next sweep tries again: a locked or full database
 * must not stop recovery once the cause goes away. */
#include "engine/monitor.h"

#include "base/log.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct monitor {
    struct engine *eng;
    int64_t interval_ms;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cv;
    bool stop;
};

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    pthread_setname_np(pthread_self(), "monitor");
    int64_t last_err = 0;
    pthread_mutex_lock(&m->lock);
    while (!m->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += m->interval_ms / 1000;
        ts.tv_nsec += (long)(m->interval_ms % 1000) * 1000000;
        ts.tv_sec += ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&m->cv, &m->lock, &ts);
        if (m->stop)
            break;
        pthread_mutex_unlock(&m->lock);
        struct sweep_report r;
        struct err e;
        if (engine_sweep(m->eng, &r, &e) != 0) {
            if (clock_mono_ms() - last_err > 10000) {
                log_error("monitor: sweep failed: %s", e.msg);
                last_err = clock_mono_ms();
            }
        } else if (r.expired || r.no_progress || r.timed_out) {
            log_info("monitor: ended %d attempts (%d lease expired, %d no progress, %d timed "
                     "out), %d failed for good",
                     r.expired + r.no_progress + r.timed_out, r.expired, r.no_progress, r.timed_out,
                     r.failed);
        }
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

struct monitor *monitor_start(struct engine *eng, int64_t interval_ms)
{
    struct monitor *m = xcalloc(1, sizeof *m);
    m->eng = eng;
    m->interval_ms = interval_ms > 0 ? interval_ms : 2000;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
        log_error("cannot start the monitor thread");
        abort();
    }
    return m;
}

void monitor_stop(struct monitor *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->cv);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cv);
    free(m);
}
