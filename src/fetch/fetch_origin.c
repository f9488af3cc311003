/* The fetcher's origins: one record per scheme://host:port, found by hash, with the queue of
 * transfers waiting for it, and forgotten when idle. */
#include "fetch/fetch_int.h"

#include "base/clock.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned hash_key(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ORIGIN_BUCKETS;
}

struct origin *fetch_origin_get(struct fetcher *f, const char *key)
{
    struct origin **p = &f->bucket[hash_key(key)];
    for (; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0)
            return *p;
    struct origin *o = xcalloc(1, sizeof *o);
    snprintf(o->key, sizeof o->key, "%s", key);
    o->last_used_ms = clock_mono_ms();
    *p = o;
    f->norigins++;
    return o;
}

/* Forget origins nobody has used for a while (their robots.txt is stale by then anyway). */
void fetch_origins_sweep(struct fetcher *f)
{
    int64_t now = clock_mono_ms();
    if (now - f->last_sweep_ms < ORIGIN_IDLE_SWEEP_MS)
        return;
    f->last_sweep_ms = now;
    for (size_t i = 0; i < ORIGIN_BUCKETS; i++) {
        for (struct origin **p = &f->bucket[i]; *p;) {
            struct origin *o = *p;
            if (o->active == 0 && !o->wait_head && !o->robots_fetching && !o->in_wlist &&
                now - o->last_used_ms > f->o.robots_ttl_ms) {
                *p = o->next;
                robots_free(o->robots);
                free(o);
                f->norigins--;
            } else {
                p = &o->next;
            }
        }
    }
}

int64_t fetch_origin_delay(struct fetcher *f, struct origin *o)
{
    int64_t d = f->o.host_delay_ms;
    int64_t cd = o->robots && !f->o.ignore_robots ? robots_crawl_delay_ms(o->robots) : -1;
    if (cd > d)
        d = cd;
    return d;
}

void fetch_wait_push(struct fetcher *f, struct origin *o, struct xfer *x, bool front)
{
    x->state = X_WAITING;
    if (!o->in_wlist) {
        o->in_wlist = true;
        o->wnext = f->wlist;
        f->wlist = o;
    }
    if (front) {
        x->next = o->wait_head;
        o->wait_head = x;
        if (!o->wait_tail)
            o->wait_tail = x;
        return;
    }
    x->next = NULL;
    if (o->wait_tail)
        o->wait_tail->next = x;
    else
        o->wait_head = x;
    o->wait_tail = x;
}

struct xfer *fetch_wait_pop(struct origin *o)
{
    struct xfer *x = o->wait_head;
    if (x) {
        o->wait_head = x->next;
        if (!o->wait_head)
            o->wait_tail = NULL;
        x->next = NULL;
    }
    return x;
}
