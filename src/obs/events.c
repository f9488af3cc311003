/* The live events' bus: a ring of formatted events under one lock, the engine's and the breakers'
 * listeners that publish into it, the thread that publishes batch and session progress and wakes
 * parked subscribers, and the subscribers' reads. */
#include "obs/events.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "engine/breaker.h"
#include "store/batch.h"
#include "store/import.h"
#include "store/scrape.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MESSAGE_MAX 1024 /* of a job event's message: errors can be long */
#define DIRTY_MAX   4096 /* batches and sessions waiting for their progress event */

static const char *const kind_names[EV_KINDS] = {"job",     "progress", "batch", "session",
                                                 "breaker", "alert",    "import"};

const char *ev_kind_name(enum ev_kind k)
{
    return (unsigned)k < EV_KINDS ? kind_names[k] : "?";
}

int ev_kinds_parse(const char *list, unsigned *mask, struct err *e)
{
    *mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int k = 0;
        while (k < EV_KINDS && !(strlen(kind_names[k]) == n && strncmp(p, kind_names[k], n) == 0))
            k++;
        if (k == EV_KINDS)
            return err_set(e, TRAWL_EINVAL, false,
                           "unknown event type '%.*s' (known: job, progress, batch, session, "
                           "breaker, alert)",
                           (int)(n > 64 ? 64 : n), p);
        *mask |= 1u << k;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* One event in the ring: one allocation holding its strings and its SSE text. */
struct ev {
    uint64_t id;
    enum ev_kind kind;
    const char *workspace, *batch, *session; /* into blob; NULL: none */
    const char *text;                        /* "id: ...\nevent: ...\ndata: ...\n\n" */
    size_t len;
    char *blob;
};

/* A batch, session or import whose progress event is due. */
enum dirty_kind { DIRTY_BATCH, DIRTY_SESSION, DIRTY_IMPORT };
struct dirty {
    /* the batch id, or the session's or import's job id */
    char key[UUID_STR_LEN > 257 ? UUID_STR_LEN : 257];
    char workspace[257];
    enum dirty_kind kind;
};

struct ev_sub {
    struct ev_bus *bus;
    struct ev_sub *prev, *next;
    unsigned kinds;
    char *workspace, *batch, *session;
    uint64_t cursor; /* the next event id it reads */
    bool gap;        /* it asked to resume from an event the ring no longer has: say so first */
    uint64_t gap_from;
    bool parked, closing;
    bool dropped; /* told it was dropped: the next read ends the stream */
    int64_t last_write_ms;
    void (*wake)(void *ctx);
    void *ctx;
};

struct ev_bus {
    struct engine *eng;
    struct breakers *breakers;
    struct ev_opts o;
    pthread_mutex_t lock;
    pthread_cond_t cv, gone;
    struct ev *ring;
    uint64_t first_id; /* the id of the first event ever published here */
    uint64_t next_id;  /* the id the next event gets */
    struct ev_sub *subs;
    size_t nsubs;
    uint64_t dropped;
    bool stop, kicked;
    pthread_t thread;
    struct dirty *dirty;
    size_t ndirty;
    int64_t progress_at; /* monotonic ms of the last progress tick */
};

/* ---- publishing ---- */

static char *put(char **at, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = *at;
    memcpy(p, s, n);
    *at += n;
    return p;
}

uint64_t ev_publish(struct ev_bus *b, enum ev_kind k, const char *workspace, const char *batch,
                    const char *session, const char *data)
{
    size_t ws = workspace ? strlen(workspace) + 1 : 0, bl = batch ? strlen(batch) + 1 : 0,
           sl = session ? strlen(session) + 1 : 0, dl = strlen(data);
    /* "id: " 20 digits "\nevent: " kind "\ndata: " data "\n\n" */
    char *blob = xmalloc(ws + bl + sl + dl + 64);
    char *at = blob;
    struct ev ev = {.kind = k};
    ev.workspace = put(&at, workspace);
    ev.batch = put(&at, batch);
    ev.session = put(&at, session);
    ev.blob = blob;
    pthread_mutex_lock(&b->lock);
    ev.id = b->next_id++;
    int n = sprintf(at, "id: %llu\nevent: %s\ndata: ", (unsigned long long)ev.id, kind_names[k]);
    memcpy(at + n, data, dl);
    memcpy(at + n + dl, "\n\n", 3);
    ev.text = at;
    ev.len = (size_t)n + dl + 2;
    struct ev *slot = &b->ring[ev.id % b->o.capacity];
    char *old = slot->blob;
    *slot = ev;
    if (!b->kicked) {
        b->kicked = true;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->lock);
    free(old);
    return ev.id;
}

/* s (at most max bytes of it) as a quoted JSON string into out (cap bytes, at least 6 * max +
 * 8), or null. Cheap: this runs on the committer thread for every change. Bytes that are not
 * well-formed UTF-8 are replaced. */
static void json_str(char *out, size_t cap, const char *s, size_t max)
{
    if (!s) {
        memcpy(out, "null", 5);
        return;
    }
    size_t n = strnlen(s, max);
    char *clean = NULL;
    if (!utf8_valid(s, n)) {
        clean = utf8_sanitize(s, n, &n);
        s = clean;
        if (n > max)
            n = max;
    }
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[c >> 4];
            out[o + 5] = hex[c & 15];
            o += 6;
        } else {
            out[o++] = (char)c;
        }
    }
    /* a cut in the middle of a character would be invalid: drop the incomplete one */
    if (o > 1) {
        size_t st = o - 1;
        while (st > 1 && ((unsigned char)out[st] & 0xc0) == 0x80)
            st--;
        unsigned char lead = (unsigned char)out[st];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (o - st < need)
            o = st;
    }
    out[o++] = '"';
    out[o] = 0;
    free(clean);
}

/* The engine's listener, on the committer thread: job and progress events, and the batches and
 * sessions whose progress event is due. */
static void on_change(void *ctx, const struct job_change *c)
{
    struct ev_bus *b = ctx;
    char id[64], type[JOB_TYPE_MAX * 6 + 8], ws[256 * 6 + 8], batch[256 * 6 + 8];
    char root[UUID_STR_LEN * 6 + 8];
    char text[MESSAGE_MAX * 6 + 4 * 256 * 6 + UUID_STR_LEN * 6 + 512];
    json_str(type, sizeof type, c->type, JOB_TYPE_MAX);
    json_str(ws, sizeof ws, c->workspace, 256);
    json_str(batch, sizeof batch, c->batch_id, 256);
    json_str(root, sizeof root, c->root_id, UUID_STR_LEN - 1);
    snprintf(id, sizeof id, "\"%s\"", c->id);
    if (c->from == c->to) {
        char stage[256 * 6 + 8];
        json_str(stage, sizeof stage, c->stage, 256);
        char prog[16] = "null";
        if (c->progress >= 0)
            snprintf(prog, sizeof prog, "%d", c->progress);
        snprintf(text, sizeof text,
                 "{\"id\":%s,\"type\":%s,\"workspace\":%s,\"batchId\":%s,\"rootId\":%s,"
                 "\"progress\":%s,\"stage\":%s,\"at\":%lld}",
                 id, type, ws, batch, root, prog, stage, (long long)c->at);
        ev_publish(b, EV_PROGRESS, c->workspace, c->batch_id, NULL, text);
    } else {
        char msg[MESSAGE_MAX * 6 + 8];
        json_str(msg, sizeof msg, c->message, MESSAGE_MAX);
        snprintf(text, sizeof text,
                 "{\"id\":%s,\"type\":%s,\"workspace\":%s,\"batchId\":%s,\"rootId\":%s,"
                 "\"from\":%s%s%s,\"to\":\"%s\",\"attempt\":%d,\"message\":%s,\"at\":%lld}",
                 id, type, ws, batch, root, c->from >= 0 ? "\"" : "",
                 c->from >= 0 ? job_status_name(c->from) : "null", c->from >= 0 ? "\"" : "",
                 job_status_name(c->to), c->attempt, msg, (long long)c->at);
        ev_publish(b, EV_JOB, c->workspace, c->batch_id, NULL, text);
    }
    enum dirty_kind kind = DIRTY_BATCH;
    if (b->o.session_type && scrape_stage_type(c->type))
        kind = DIRTY_SESSION;
    else if (b->o.import_type && strcmp(c->type, b->o.import_type) == 0)
        kind = DIRTY_IMPORT;
    if (!c->batch_id && kind == DIRTY_BATCH)
        return;
    pthread_mutex_lock(&b->lock);
    const char *key = kind != DIRTY_BATCH ? c->id : c->batch_id;
    size_t i = 0;
    while (i < b->ndirty && !(b->dirty[i].kind == kind && strcmp(b->dirty[i].key, key) == 0))
        i++;
    if (i == b->ndirty && b->ndirty < DIRTY_MAX) {
        struct dirty *d = &b->dirty[b->ndirty++];
        snprintf(d->key, sizeof d->key, "%s", key);
        snprintf(d->workspace, sizeof d->workspace, "%s", c->workspace ? c->workspace : "");
        d->kind = kind;
    }
    pthread_mutex_unlock(&b->lock);
}

static void on_breaker(void *ctx, const struct breaker_state *st)
{
    struct ev_bus *b = ctx;
    json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:I}", "service", st->service, "state",
                          breaker_state_name(st->state), "failures", st->failures, "openedAt",
                          (json_int_t)st->opened_at_ms, "retryAt", (json_int_t)st->retry_at_ms);
    char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (t)
        ev_publish(b, EV_BREAKER, NULL, NULL, NULL, t);
    free(t);
    json_decref(j);
}

/* An import's progress event: where it stands and its counts, for its job jid. */
static void import_event(struct ev_bus *b, struct store *s, const char *jid, int64_t now)
{
    struct import im;
    struct err e;
    if (store_import_get(s, NULL, jid, true, &im, &e) != 0)
        return;
    struct job j;
    bool have = store_get(s, jid, &j, &e) == 0;
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:I, s:I, s:I, s:I, s:I}", "importId", im.id,
                  "jobId", im.job_id, "workspace", im.workspace, "sourceName", im.source_name,
                  "importType", import_type_name(im.type), "status", import_status_name(im.status),
                  "total", (json_int_t)im.total_products, "processed",
                  (json_int_t)im.processed_products, "failed", (json_int_t)im.failed_products,
                  "delivered", (json_int_t)im.delivered_products, "at", (json_int_t)now);
    if (o && have) {
        json_object_set_new(o, "jobStatus", json_string(job_status_name(j.status)));
        json_object_set_new(o, "progress", json_integer(j.progress));
        if (j.stage)
            json_object_set_new(o, "stage", json_string(j.stage));
    }
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (t)
        ev_publish(b, EV_IMPORT, im.workspace, NULL, NULL, t);
    free(t);
    json_decref(o);
    if (have)
        job_release(&j);
    import_release(&im);
}

/* The progress events of the batches, sessions and imports that changed since the last tick. */
static void progress_tick(struct ev_bus *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->ndirty;
    struct dirty *d = n ? xmalloc(n * sizeof *d) : NULL;
    if (n)
        memcpy(d, b->dirty, n * sizeof *d);
    b->ndirty = 0;
    pthread_mutex_unlock(&b->lock);
    struct store *s = engine_store(b->eng);
    int64_t now = engine_now(b->eng);
    for (size_t i = 0; i < n; i++) {
        struct err e;
        err_clear(&e);
        json_t *j = NULL;
        if (d[i].kind == DIRTY_IMPORT) {
            import_event(b, s, d[i].key, now);
        } else if (d[i].kind == DIRTY_SESSION) {
            struct scrape_session ss;
            if (store_session_get(s, NULL, d[i].key, true, &ss, &e) == 0) {
                struct job st[3];
                bool have[3] = {false, false, false};
                const char *ids[3] = {ss.job_id, ss.extract_job_id, ss.sync_job_id};
                for (int k = 0; k < 3; k++)
                    have[k] = ids[k][0] && store_get(s, ids[k], &st[k], &e) == 0;
                const char *status =
                    scrape_session_status(have[0] ? &st[0] : NULL, have[1] ? &st[1] : NULL,
                                          have[2] ? &st[2] : NULL, NULL);
                j = json_pack(
                    "{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "sessionId", ss.id,
                    "jobId", ss.job_id, "workspace", ss.workspace, "sourceUrl", ss.source_url,
                    "status", status, "totalPages", (json_int_t)ss.total_pages, "completedPages",
                    (json_int_t)ss.completed_pages, "failedPages", (json_int_t)ss.failed_pages,
                    "skippedPages", (json_int_t)ss.skipped_pages, "records",
                    (json_int_t)ss.materials, "at", (json_int_t)now);
                for (int k = 0; k < 3; k++)
                    if (have[k])
                        job_release(&st[k]);
                char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (t)
                    ev_publish(b, EV_SESSION, ss.workspace, NULL, ss.id, t);
                free(t);
                scrape_session_release(&ss);
            }
        } else {
            struct batch_info bi;
            if (store_batch_get(s, d[i].workspace, d[i].key, &bi, &e) == 0) {
                int64_t ended =
                    bi.counts[JOB_COMPLETED] + bi.counts[JOB_FAILED] + bi.counts[JOB_CANCELLED];
                j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I}", "batchId",
                              bi.id, "workspace", bi.workspace, "total", (json_int_t)bi.total,
                              "pending", (json_int_t)bi.counts[JOB_PENDING], "processing",
                              (json_int_t)bi.counts[JOB_PROCESSING], "retrying",
                              (json_int_t)bi.counts[JOB_RETRYING], "completed",
                              (json_int_t)bi.counts[JOB_COMPLETED], "failed",
                              (json_int_t)bi.counts[JOB_FAILED], "cancelled",
                              (json_int_t)bi.counts[JOB_CANCELLED], "progress",
                              bi.total ? 100.0 * (double)ended / (double)bi.total : 100.0, "at",
                              (json_int_t)now);
                char *t = j ? json_dumps(j, JSON_COMPACT) : NULL;
                if (t)
                    ev_publish(b, EV_BATCH, bi.workspace, bi.id, NULL, t);
                free(t);
                batch_info_release(&bi);
            }
        }
        json_decref(j);
    }
    free(d);
}

/* ---- the bus's thread: wakes parked subscribers, at most every coalesce_ms ---- */

static void *loop(void *arg)
{
    struct ev_bus *b = arg;
    pthread_setname_np(pthread_self(), "events");
    size_t cap = 0;
    struct ev_sub **wake = NULL;
    pthread_mutex_lock(&b->lock);
    while (!b->stop) {
        if (!b->kicked && !b->ndirty) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = ts.tv_nsec + (b->o.ping_ms / 2 % 1000) * 1000000;
            ts.tv_sec += b->o.ping_ms / 2 / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait(&b->cv, &b->lock, &ts);
        }
        b->kicked = false;
        pthread_mutex_unlock(&b->lock);
        int64_t now = clock_mono_ms();
        if (now - b->progress_at >= b->o.progress_ms) {
            b->progress_at = now;
            progress_tick(b);
        }
        pthread_mutex_lock(&b->lock);
        size_t n = 0;
        for (struct ev_sub *s = b->subs; s; s = s->next) {
            if (!s->parked)
                continue;
            if (s->cursor < b->next_id || s->closing || s->gap ||
                now - s->last_write_ms >= b->o.ping_ms) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 64;
                    wake = xrealloc(wake, cap * sizeof *wake);
                }
                s->parked = false;
                wake[n++] = s;
            }
        }
        pthread_mutex_unlock(&b->lock);
        /* a parked subscriber is a suspended connection, which cannot go away until woken: the
         * calls are safe without the lock */
        for (size_t i = 0; i < n; i++)
            wake[i]->wake(wake[i]->ctx);
        struct timespec pause = {0, b->o.coalesce_ms * 1000000};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    free(wake);
    return NULL;
}

struct ev_bus *ev_bus_new(struct engine *eng, struct breakers *breakers, const struct ev_opts *o)
{
    struct ev_bus *b = xcalloc(1, sizeof *b);
    b->eng = eng;
    b->breakers = breakers;
    if (o)
        b->o = *o;
    if (!b->o.capacity)
        b->o.capacity = 16384;
    if (!b->o.coalesce_ms)
        b->o.coalesce_ms = 20;
    if (!b->o.ping_ms)
        b->o.ping_ms = 15000;
    if (!b->o.progress_ms)
        b->o.progress_ms = 500;
    b->ring = xcalloc(b->o.capacity, sizeof *b->ring);
    b->dirty = xcalloc(DIRTY_MAX, sizeof *b->dirty);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    /* ids keep growing across restarts: microseconds at start */
    b->first_id = b->next_id = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cv, NULL);
    pthread_cond_init(&b->gone, NULL);
    if (pthread_create(&b->thread, NULL, loop, b) != 0) {
        log_error("cannot start the events thread");
        abort();
    }
    if (engine_listen(eng, on_change, b) != 0)
        log_warn("events: too many engine listeners; no job events");
    if (breakers)
        breakers_watch(breakers, on_breaker, b);
    return b;
}

size_t ev_close_all(struct ev_bus *b, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    pthread_mutex_lock(&b->lock);
    for (struct ev_sub *s = b->subs; s; s = s->next)
        s->closing = true;
    b->kicked = true;
    pthread_cond_signal(&b->cv);
    while (b->nsubs > 0 && clock_mono_ms() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&b->gone, &b->lock, &ts);
    }
    size_t left = b->nsubs;
    pthread_mutex_unlock(&b->lock);
    return left;
}

void ev_bus_free(struct ev_bus *b)
{
    if (!b)
        return;
    engine_unlisten(b->eng, on_change, b);
    if (b->breakers)
        breakers_watch(b->breakers, NULL, NULL);
    ev_close_all(b, 2000);
    pthread_mutex_lock(&b->lock);
    b->stop = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    /* subscribers still there (a connection that never ended) keep a bus that is no more: they
     * are detached, and end at their next read */
    for (struct ev_sub *s = b->subs; s; s = s->next)
        s->bus = NULL;
    for (size_t i = 0; i < b->o.capacity; i++)
        free(b->ring[i].blob);
    free(b->ring);
    free(b->dirty);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cv);
    pthread_cond_destroy(&b->gone);
    free(b);
}

void ev_counts(struct ev_bus *b, size_t *subscribers, uint64_t *dropped, uint64_t *published)
{
    pthread_mutex_lock(&b->lock);
    *subscribers = b->nsubs;
    *dropped = b->dropped;
    *published = b->next_id - b->first_id;
    pthread_mutex_unlock(&b->lock);
}

/* ---- subscribers ---- */

struct ev_sub *ev_subscribe(struct ev_bus *b, const struct ev_filter *f, uint64_t last_id,
                            void (*wake)(void *ctx), void *ctx)
{
    struct ev_sub *s = xcalloc(1, sizeof *s);
    s->bus = b;
    s->kinds = f->kinds ? f->kinds : (1u << EV_KINDS) - 1;
    s->workspace = xstrdup(f->workspace);
    s->batch = xstrdup(f->batch);
    s->session = xstrdup(f->session);
    s->wake = wake;
    s->ctx = ctx;
    s->last_write_ms = clock_mono_ms();
    pthread_mutex_lock(&b->lock);
    uint64_t oldest = b->next_id > b->o.capacity ? b->next_id - b->o.capacity : 0;
    if (oldest < b->first_id)
        oldest = b->first_id;
    if (last_id == 0) {
        s->cursor = b->next_id;
    } else if (last_id + 1 >= oldest && last_id < b->next_id) {
        s->cursor = last_id + 1;
    } else {
        /* events after last_id are gone (the ring moved on, or the server restarted) */
        s->gap = true;
        s->gap_from = last_id + 1;
        s->cursor = oldest;
    }
    s->next = b->subs;
    if (b->subs)
        b->subs->prev = s;
    b->subs = s;
    b->nsubs++;
    pthread_mutex_unlock(&b->lock);
    return s;
}

static bool wanted(const struct ev_sub *s, const struct ev *ev)
{
    if (!(s->kinds & (1u << ev->kind)))
        return false;
    if (ev->workspace && strcmp(ev->workspace, s->workspace) != 0)
        return false;
    if (s->batch && !(ev->batch && strcmp(ev->batch, s->batch) == 0))
        return false;
    if (s->session && !(ev->session && strcmp(ev->session, s->session) == 0))
        return false;
    return true;
}

ssize_t ev_read(struct ev_sub *s, char *buf, size_t max, void (*park)(void *ctx), void *ctx)
{
    struct ev_bus *b = s->bus;
    if (!b)
        return EV_CLOSED;
    size_t len = 0;
    pthread_mutex_lock(&b->lock);
    if (s->closing || s->dropped) {
        pthread_mutex_unlock(&b->lock);
        return s->dropped ? EV_DROPPED : EV_CLOSED;
    }
    uint64_t oldest = b->next_id > b->o.capacity ? b->next_id - b->o.capacity : 0;
    if (oldest < b->first_id)
        oldest = b->first_id;
    if (s->gap) {
        int n = snprintf(buf, max,
                         "event: gap\ndata: {\"missedFrom\":%llu,\"resumedAt\":%llu,\"reason\":"
                         "\"the events after Last-Event-ID are no longer kept (or the server "
                         "restarted): read the current state again\"}\n\n",
                         (unsigned long long)s->gap_from, (unsigned long long)s->cursor);
        if (n > 0 && (size_t)n < max) {
            len = (size_t)n;
            s->gap = false;
        }
    }
    if (s->cursor < oldest) {
        /* lapped: the events it has not read are gone. Drop it rather than keep them for it. */
        b->dropped++;
        int n = snprintf(buf + len, max - len,
                         "event: dropped\ndata: {\"reason\":\"this subscriber read too slowly and "
                         "fell %llu events behind\",\"lastEventId\":%llu}\n\n",
                         (unsigned long long)(b->next_id - s->cursor),
                         (unsigned long long)(s->cursor - 1));
        s->dropped = true;
        pthread_mutex_unlock(&b->lock);
        if (n > 0 && (size_t)n < max - len)
            return (ssize_t)(len + (size_t)n);
        return EV_DROPPED;
    }
    while (s->cursor < b->next_id) {
        const struct ev *ev = &b->ring[s->cursor % b->o.capacity];
        if (wanted(s, ev)) {
            if (ev->len > max && len == 0) {
                s->cursor++; /* larger than a whole block (cannot be, events are bounded): skip
                                it rather than stall */
                continue;
            }
            if (ev->len > max - len)
                break;
            memcpy(buf + len, ev->text, ev->len);
            len += ev->len;
        }
        s->cursor++;
    }
    int64_t now = clock_mono_ms();
    if (len == 0 && now - s->last_write_ms >= b->o.ping_ms) {
        static const char ping[] = ": ping\n\n";
        if (sizeof ping - 1 <= max) {
            memcpy(buf, ping, sizeof ping - 1);
            len = sizeof ping - 1;
        }
    }
    if (len) {
        s->last_write_ms = now;
    } else {
        s->parked = true;
        park(ctx);
    }
    pthread_mutex_unlock(&b->lock);
    return (ssize_t)len;
}

void ev_unsubscribe(struct ev_sub *s)
{
    if (!s)
        return;
    struct ev_bus *b = s->bus;
    if (b) {
        pthread_mutex_lock(&b->lock);
        if (s->prev)
            s->prev->next = s->next;
        else
            b->subs = s->next;
        if (s->next)
            s->next->prev = s->prev;
        b->nsubs--;
        pthread_cond_broadcast(&b->gone);
        pthread_mutex_unlock(&b->lock);
    }
    free(s->workspace);
    free(s->batch);
    free(s->session);
    free(s);
}
