/* The live events: one bus per process that keeps the last events in a ring and hands them to
 * subscribers (GET /v1/events, server-sent events). Published: every durable job state change,
 * progress of running jobs, batch, scraping-session and feed-import progress (at most every
 * progress_ms per batch, session or import), breaker changes and alerts.
 *
 * Subscribers hold no buffer of their own: each keeps a cursor into the ring, so many of them
 * cost the publisher nothing. A subscriber that falls a whole ring behind is dropped. Event ids
 * grow across restarts (they start at the process's start time in microseconds), so a client
 * resuming with Last-Event-ID after the ring moved on, or after a restart, is told of the gap.
 *
 * Ownership: strings passed in are copied. Threads: every call is thread-safe. */
#ifndef TRAWL_OBS_EVENTS_H
#define TRAWL_OBS_EVENTS_H

#include "base/err.h"
#include "engine/engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ev_kind {
    EV_JOB,
    EV_PROGRESS,
    EV_BATCH,
    EV_SESSION,
    EV_BREAKER,
    EV_ALERT,
    EV_IMPORT,
    EV_KINDS
};

/* "job", "progress", "batch", "session", "breaker", "alert", "import". */
const char *ev_kind_name(enum ev_kind k);
/* A comma-separated list of kind names into a mask; TRAWL_EINVAL naming the unknown one. */
int ev_kinds_parse(const char *list, unsigned *mask, struct err *e);

struct breakers;

struct ev_opts {
    size_t capacity;          /* events kept for resuming; default 16384 */
    int64_t coalesce_ms;      /* subscribers are woken at most this often; default 20 */
    int64_t ping_ms;          /* an idle stream gets a comment this often; default 15000 */
    int64_t progress_ms;      /* batch and session events at most this often each; default 500 */
    const char *session_type; /* the job type of scraping sessions; NULL: no session events */
    const char *import_type;  /* the job type of feed imports; NULL: no import events */
};

struct ev_bus;

/* Listen to eng's changes (and to breakers' when not NULL); both borrowed, they must outlive
 * the bus. */
struct ev_bus *ev_bus_new(struct engine *eng, struct breakers *breakers, const struct ev_opts *o);
/* Ends every subscription (their streams end) and frees. Accepts NULL. */
void ev_bus_free(struct ev_bus *b);

/* Publish an event; data is a JSON object's text. workspace NULL: for every workspace (a breaker);
 * batch and session NULL: none. Returns its id. */
uint64_t ev_publish(struct ev_bus *b, enum ev_kind k, const char *workspace, const char *batch,
                    const char *session, const char *data);

/* ---- subscribers ---- */

struct ev_filter {
    unsigned kinds;        /* a mask of 1 << ev_kind; 0: every kind */
    const char *workspace; /* required: only this workspace's events (and global ones) */
    const char *batch;     /* NULL: any; else job events of its jobs and its batch events */
    const char *session;   /* NULL: any; else its session events and alerts */
};

struct ev_sub;

/* Subscribe. last_id 0: from the next event on; else resume after that event (Last-Event-ID).
 * wake(ctx) is called, from the bus's own thread, when a parked subscriber has something to
 * read (see ev_read); it must be quick. */
struct ev_sub *ev_subscribe(struct ev_bus *b, const struct ev_filter *f, uint64_t last_id,
                            void (*wake)(void *ctx), void *ctx);
/* Write the next events, as server-sent-event text, into buf (at most max bytes). Returns the
 * bytes written; 0 when there is nothing now: then park(ctx) was called with the bus locked (to
 * suspend the connection) and wake will be called later; EV_DROPPED when the subscriber fell a
 * whole ring behind (its last words are written first, when they fit); EV_CLOSED when the bus is
 * closing. */
#define EV_DROPPED (-1)
#define EV_CLOSED  (-2)
ssize_t ev_read(struct ev_sub *s, char *buf, size_t max, void (*park)(void *ctx), void *ctx);
/* Accepts NULL. */
void ev_unsubscribe(struct ev_sub *s);

/* Subscribers now, and dropped since start. */
void ev_counts(struct ev_bus *b, size_t *subscribers, uint64_t *dropped, uint64_t *published);

/* Ask every subscriber's stream to end (shutdown) and wait up to ms for them to be gone;
 * returns how many remain. */
size_t ev_close_all(struct ev_bus *b, int64_t ms);

#endif
