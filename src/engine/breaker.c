/* Breakers in a hash table under one mutex. Closed breakers without failures are forgotten, so
 * the table holds only services that are failing or recovering. */
#include "engine/breaker.h"

#include "base/log.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 1024

struct entry {
    struct entry *next;
    struct breaker_state st;
    int64_t open_ms;      /* length of the current or next open period */
    int64_t probe_out_ms; /* when the current probe was let through; 0: none */
};

struct breakers {
    pthread_mutex_t lock;
    struct breaker_opts o;
    struct clock clock;
    struct entry *bucket[BUCKETS];
    breaker_watch_fn watch; /* told of every change of state, outside the lock */
    void *watch_ctx;
};

const char *breaker_state_name(enum breaker_mode s)
{
    switch (s) {
    case BREAKER_CLOSED:
        return "closed";
    case BREAKER_OPEN:
        return "open";
    case BREAKER_HALF_OPEN:
        return "half-open";
    }
    return "?";
}

struct breakers *breakers_new(const struct breaker_opts *o, const struct clock *clock)
{
    struct breakers *b = xcalloc(1, sizeof *b);
    pthread_mutex_init(&b->lock, NULL);
    b->o.failures = o && o->failures > 0 ? o->failures : 5;
    b->o.open_ms = o && o->open_ms > 0 ? o->open_ms : 30000;
    b->o.open_max_ms = o && o->open_max_ms > 0 ? o->open_max_ms : 600000;
    if (b->o.open_max_ms < b->o.open_ms)
        b->o.open_max_ms = b->o.open_ms;
    b->clock = clock ? *clock : clock_real;
    return b;
}

void breakers_free(struct breakers *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct entry *e = b->bucket[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    pthread_mutex_destroy(&b->lock);
    free(b);
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % BUCKETS;
}

/* under lock */
static struct entry **find(struct breakers *b, const char *service)
{
    struct entry **p = &b->bucket[hash(service)];
    while (*p && strcmp((*p)->st.service, service) != 0)
        p = &(*p)->next;
    return p;
}

void breakers_watch(struct breakers *b, breaker_watch_fn fn, void *ctx)
{
    pthread_mutex_lock(&b->lock);
    b->watch = fn;
    b->watch_ctx = ctx;
    pthread_mutex_unlock(&b->lock);
}

/* After a change of state, with the lock released: tell the watcher. */
static void tell(struct breakers *b, const struct breaker_state *st)
{
    pthread_mutex_lock(&b->lock);
    breaker_watch_fn fn = b->watch;
    void *ctx = b->watch_ctx;
    pthread_mutex_unlock(&b->lock);
    if (fn)
        fn(ctx, st);
}

bool breaker_allow(struct breakers *b, const char *service, bool *probe, int64_t *retry_at_ms)
{
    *probe = false;
    *retry_at_ms = 0;
    int64_t now = clock_now_ms(&b->clock);
    pthread_mutex_lock(&b->lock);
    struct entry *e = *find(b, service);
    bool ok = true, changed = false;
    struct breaker_state st;
    if (e && e->st.state == BREAKER_OPEN) {
        if (now >= e->st.retry_at_ms) {
            e->st.state = BREAKER_HALF_OPEN;
            e->probe_out_ms = now;
            *probe = true;
            changed = true;
            st = e->st;
            log_info("breaker %s: half-open, letting one probe through", service);
        } else {
            ok = false;
            *retry_at_ms = e->st.retry_at_ms;
        }
    } else if (e && e->st.state == BREAKER_HALF_OPEN) {
        /* one probe at a time; a probe that never reports is replaced after an open period */
        if (now - e->probe_out_ms >= e->open_ms) {
            e->probe_out_ms = now;
            *probe = true;
        } else {
            ok = false;
            *retry_at_ms = e->probe_out_ms + e->open_ms;
        }
    }
    pthread_mutex_unlock(&b->lock);
    if (changed)
        tell(b, &st);
    return ok;
}

void breaker_success(struct breakers *b, const char *service)
{
    pthread_mutex_lock(&b->lock);
    struct entry **p = find(b, service);
    struct entry *e = *p;
    bool changed = false;
    struct breaker_state st;
    if (e) {
        if (e->st.state != BREAKER_CLOSED) {
            log_info("breaker %s: closed (a probe succeeded)", service);
            changed = true;
            st = e->st;
            st.state = BREAKER_CLOSED;
            st.failures = 0;
        }
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(&b->lock);
    if (changed)
        tell(b, &st);
}

void breaker_release(struct breakers *b, const char *service)
{
    pthread_mutex_lock(&b->lock);
    struct entry *e = *find(b, service);
    if (e && e->st.state == BREAKER_HALF_OPEN)
        e->probe_out_ms = -e->open_ms; /* due now */
    pthread_mutex_unlock(&b->lock);
}

void breaker_failure(struct breakers *b, const char *service)
{
    int64_t now = clock_now_ms(&b->clock);
    pthread_mutex_lock(&b->lock);
    struct entry **p = find(b, service);
    struct entry *e = *p;
    if (!e) {
        e = xcalloc(1, sizeof *e);
        snprintf(e->st.service, sizeof e->st.service, "%s", service);
        e->open_ms = b->o.open_ms;
        *p = e;
    }
    e->st.failures++;
    enum breaker_mode was = e->st.state;
    if (e->st.state == BREAKER_HALF_OPEN) {
        e->open_ms = e->open_ms * 2 < b->o.open_max_ms ? e->open_ms * 2 : b->o.open_max_ms;
        e->st.state = BREAKER_OPEN;
        e->st.opened_at_ms = now;
        e->st.retry_at_ms = now + e->open_ms;
        e->probe_out_ms = 0;
        log_warn("breaker %s: the probe failed; open again for %lld ms", service,
                 (long long)e->open_ms);
    } else if (e->st.state == BREAKER_CLOSED && e->st.failures >= b->o.failures) {
        e->st.state = BREAKER_OPEN;
        e->st.opened_at_ms = now;
        e->st.retry_at_ms = now + e->open_ms;
        log_warn("breaker %s: open after %d failures in a row; its jobs wait %lld ms", service,
                 e->st.failures, (long long)e->open_ms);
    }
    struct breaker_state st = e->st;
    pthread_mutex_unlock(&b->lock);
    if (st.state != was)
        tell(b, &st);
}

size_t breakers_snapshot(struct breakers *b, struct breaker_state **out)
{
    size_t n = 0, cap = 0;
    struct breaker_state *list = NULL;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < BUCKETS; i++)
        for (struct entry *e = b->bucket[i]; e; e = e->next) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                list = xrealloc(list, cap * sizeof *list);
            }
            list[n++] = e->st;
        }
    pthread_mutex_unlock(&b->lock);
    *out = list;
    return n;
}

void breakers_snapshot_free(struct breaker_state *s, size_t n)
{
    (void)n;
    free(s);
}
