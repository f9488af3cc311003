/* struct sse_parser: a server-sent-events (text/event-stream) parser with no I/O, fed the bytes
 * of a stream in pieces of any size, as the WHATWG HTML standard describes it: lines end in
 * "\n", "\r\n" or "\r"; "field: value" with at most one space dropped after the colon; lines that
 * start with ':' are comments; "data" lines are joined with "\n"; a blank line dispatches the
 * event; an event without "data" is not dispatched; "id" persists from event to event.
 *
 * Bounded: an event whose lines (comments included) exceed SSE_EVENT_MAX bytes is discarded, up
 * to the blank line that ends it, and counted; the parser never holds much more than that.
 *
 * Ownership: the parser owns its memory (sse_release frees it); the data fed in is borrowed;
 * the strings the callback gets are the parser's and valid only during the call. */
#ifndef TRAWL_SSE_H
#define TRAWL_SSE_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define SSE_EVENT_MAX (1u << 20)

struct sse_parser {
    struct buf line;     /* the line being read */
    struct buf data;     /* the event's data lines, each followed by "\n" */
    struct buf event;    /* the event's type; empty: "message" */
    struct buf id;       /* the last event id buffer: set by "id", kept across events */
    struct buf last_id;  /* the id as of the last dispatch (what to resume from) */
    long retry_ms;       /* the last valid "retry" field; -1 while there was none */
    size_t event_bytes;  /* bytes of the event being read so far */
    size_t discarded;    /* events discarded as too large, since sse_init */
    unsigned bom;        /* bytes of a leading UTF-8 BOM matched; 3 once past the start */
    bool cr;             /* the last byte was "\r": a "\n" right after it ends no other line */
    bool skipping;       /* the event being read is too large: drop it up to its blank line */
    bool skip_line_used; /* while skipping: the current line has bytes (it is not blank) */
};

void sse_init(struct sse_parser *p);
/* Free the memory; sse_init again before another use. Accepts NULL. */
void sse_release(struct sse_parser *p);
/* The start of a new stream (a reconnection): forget the line and event being read, keep the
 * last event id and retry_ms. */
void sse_reset(struct sse_parser *p);

/* Parse n bytes of the stream; on_event(ctx, id, event, data) is called for each event they
 * complete, in order: id is the last event id ("" when none was given), event its type
 * ("message" when it had no "event" field), data its data lines joined with "\n" (without the
 * last one's). Returns how many events these bytes made the parser discard as too large (0
 * normally), for the caller to warn about. */
size_t sse_feed(struct sse_parser *p, const char *data, size_t n,
                void (*on_event)(void *ctx, const char *id, const char *event, const char *data),
                void *ctx);

/* The last event id as of the last dispatched event or blank line ("" when none): what to send
 * as Last-Event-ID when reconnecting. Valid until the next sse_feed or sse_release. */
const char *sse_last_id(const struct sse_parser *p);

#endif
