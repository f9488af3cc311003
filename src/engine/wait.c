/* Waiters in a small hash table of lists, keyed by job id; one mutex, one condition variable per
 * waiter, so waking one job's waiters wakes nobody else. */
#include "engine/wait.h"

#include "base/clock.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS 256

struct waiter {
    struct waiter *next, **pprev;
    char id[UUID_STR_LEN];
    pthread_cond_t cv;
    bool woken;
};

struct waiters {
    pthread_mutex_t lock;
    atomic_long count;
    bool closed;
    struct waiter *bucket[BUCKETS];
};

static unsigned bucket_of(const char *id)
{
    /* UUIDv7 ids end in random hex digits */
    size_t n = strlen(id);
    unsigned h = 2166136261u;
    for (size_t i = n > 8 ? n - 8 : 0; i < n; i++)
        h = (h ^ (unsigned char)id[i]) * 16777619u;
    return h % BUCKETS;
}

struct waiters *waiters_new(void)
{
    struct waiters *ws = xcalloc(1, sizeof *ws);
    pthread_mutex_init(&ws->lock, NULL);
    atomic_init(&ws->count, 0);
    return ws;
}

void waiters_free(struct waiters *ws)
{
    if (!ws)
        return;
    pthread_mutex_destroy(&ws->lock);
    free(ws);
}

struct waiter *waiter_add(struct waiters *ws, const char *id)
{
    struct waiter *w = xcalloc(1, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&ws->lock);
    struct waiter **head = &ws->bucket[bucket_of(w->id)];
    w->next = *head;
    if (*head)
        (*head)->pprev = &w->next;
    w->pprev = head;
    *head = w;
    atomic_fetch_add(&ws->count, 1);
    pthread_mutex_unlock(&ws->lock);
    return w;
}

bool waiter_wait(struct waiters *ws, struct waiter *w, int64_t deadline_ms)
{
    struct timespec ts = {.tv_sec = deadline_ms / 1000, .tv_nsec = (deadline_ms % 1000) * 1000000};
    pthread_mutex_lock(&ws->lock);
    while (!w->woken && !ws->closed && clock_mono_ms() < deadline_ms)
        if (pthread_cond_timedwait(&w->cv, &ws->lock, &ts) != 0)
            break;
    bool woken = w->woken;
    pthread_mutex_unlock(&ws->lock);
    return woken;
}

void waiter_remove(struct waiters *ws, struct waiter *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&ws->lock);
    *w->pprev = w->next;
    if (w->next)
        w->next->pprev = w->pprev;
    atomic_fetch_sub(&ws->count, 1);
    pthread_mutex_unlock(&ws->lock);
    pthread_cond_destroy(&w->cv);
    free(w);
}

void waiters_wake(struct waiters *ws, const char *id)
{
    if (atomic_load(&ws->count) == 0)
        return;
    pthread_mutex_lock(&ws->lock);
    for (struct waiter *w = ws->bucket[bucket_of(id)]; w; w = w->next) {
        if (strcmp(w->id, id) == 0) {
            w->woken = true;
            pthread_cond_signal(&w->cv);
        }
    }
    pthread_mutex_unlock(&ws->lock);
}

void waiters_close(struct waiters *ws)
{
    pthread_mutex_lock(&ws->lock);
    ws->closed = true;
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct waiter *w = ws->bucket[i]; w; w = w->next)
            pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&ws->lock);
}
