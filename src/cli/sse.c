/* The server-sent-events parser of trawl watch: bytes of a text/event-stream in, events out, with
 * every event bounded so a stream that never sends a blank line cannot grow memory. */
#include "cli/sse.h"

#include <stdint.h>
#include <string.h>

typedef void event_fn(void *ctx, const char *id, const char *event, const char *data);

static const unsigned char bom_[3] = {0xef, 0xbb, 0xbf};

void sse_init(struct sse_parser *p)
{
    memset(p, 0, sizeof *p);
    /* the caps are a backstop: event_bytes keeps every buffer below SSE_EVENT_MAX */
    buf_init(&p->line, SSE_EVENT_MAX + 1);
    buf_init(&p->data, SSE_EVENT_MAX + 1);
    buf_init(&p->event, SSE_EVENT_MAX + 1);
    buf_init(&p->id, SSE_EVENT_MAX + 1);
    buf_init(&p->last_id, SSE_EVENT_MAX + 1);
    p->retry_ms = -1;
}

void sse_release(struct sse_parser *p)
{
    if (!p)
        return;
    buf_release(&p->line);
    buf_release(&p->data);
    buf_release(&p->event);
    buf_release(&p->id);
    buf_release(&p->last_id);
}

static void forget_event(struct sse_parser *p)
{
    buf_clear(&p->line);
    buf_clear(&p->data);
    buf_clear(&p->event);
    p->event_bytes = 0;
}

void sse_reset(struct sse_parser *p)
{
    forget_event(p);
    /* an id read in an event the old stream never finished does not count */
    buf_clear(&p->id);
    buf_add(&p->id, p->last_id.data, p->last_id.len);
    p->bom = 0;
    p->cr = false;
    p->skipping = false;
    p->skip_line_used = false;
}

const char *sse_last_id(const struct sse_parser *p)
{
    return p->last_id.data;
}

static void start_skipping(struct sse_parser *p, bool line_used)
{
    forget_event(p);
    p->skipping = true;
    p->skip_line_used = line_used;
}

/* Count n more bytes of the event; false (and skipping from now on) when that is too many. */
static bool count(struct sse_parser *p, size_t n, bool line_used)
{
    if (n > SSE_EVENT_MAX - p->event_bytes) {
        start_skipping(p, line_used);
        return false;
    }
    p->event_bytes += n;
    return true;
}

/* Bytes of a line, without its end. */
static void take(struct sse_parser *p, const char *s, size_t n)
{
    if (p->skipping) {
        p->skip_line_used = true;
        return;
    }
    if (count(p, n, true) && buf_add(&p->line, s, n) != 0)
        start_skipping(p, true);
}

static bool is_field(const char *name, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(name, want, n) == 0;
}

static void set(struct sse_parser *p, struct buf *b, const char *s, size_t n)
{
    buf_clear(b);
    if (buf_add(b, s, n) != 0)
        start_skipping(p, false);
}

static void field(struct sse_parser *p)
{
    const char *s = p->line.data;
    size_t n = p->line.len;
    const char *colon = memchr(s, ':', n);
    if (colon == s)
        return; /* a comment */
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    if (colon && v < s + n && *v == ' ')
        v++;
    size_t vn = (size_t)(s + n - v);
    if (is_field(s, name_len, "data")) {
        if (buf_add(&p->data, v, vn) != 0 || buf_add(&p->data, "\n", 1) != 0)
            start_skipping(p, false);
    } else if (is_field(s, name_len, "event")) {
        set(p, &p->event, v, vn);
    } else if (is_field(s, name_len, "id")) {
        if (!memchr(v, '\0', vn))
            set(p, &p->id, v, vn);
    } else if (is_field(s, name_len, "retry")) {
        long ms = 0;
        size_t i = 0;
        while (i < vn && v[i] >= '0' && v[i] <= '9' && ms <= (INT32_MAX - 9) / 10)
            ms = ms * 10 + (v[i++] - '0');
        if (vn && i == vn)
            p->retry_ms = ms;
    }
    /* any other field is ignored, as the standard says */
}

static void dispatch(struct sse_parser *p, event_fn *on_event, void *ctx)
{
    if (p->last_id.len != p->id.len || memcmp(p->last_id.data, p->id.data, p->id.len) != 0) {
        buf_clear(&p->last_id);
        buf_add(&p->last_id, p->id.data, p->id.len); /* same cap as id: cannot fail */
    }
    if (p->data.len) {
        p->data.data[--p->data.len] = '\0'; /* the "\n" after the last data line */
        on_event(ctx, p->last_id.data, p->event.len ? p->event.data : "message", p->data.data);
    }
    forget_event(p);
}

/* The end of a line. */
static void end_line(struct sse_parser *p, event_fn *on_event, void *ctx)
{
    if (p->skipping) {
        if (!p->skip_line_used) { /* the blank line that ends the event too large */
            p->skipping = false;
            p->discarded++;
            forget_event(p);
        }
        p->skip_line_used = false;
        return;
    }
    if (p->line.len == 0) {
        dispatch(p, on_event, ctx);
        return;
    }
    if (count(p, 1, false))
        field(p);
    buf_clear(&p->line);
}

size_t sse_feed(struct sse_parser *p, const char *data, size_t n, event_fn *on_event, void *ctx)
{
    size_t discarded = p->discarded;
    size_t i = 0;
    /* a UTF-8 byte order mark at the start of the stream is not part of the first line */
    while (p->bom < 3 && i < n) {
        if ((unsigned char)data[i] == bom_[p->bom]) {
            p->bom++;
            i++;
            continue;
        }
        take(p, (const char *)bom_, p->bom); /* a false start: those bytes were text */
        p->bom = 3;
    }
    while (i < n) {
        if (p->cr) {
            p->cr = false;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        size_t j = i;
        while (j < n && data[j] != '\n' && data[j] != '\r')
            j++;
        if (j > i)
            take(p, data + i, j - i);
        if (j == n)
            break;
        p->cr = data[j] == '\r';
        end_line(p, on_event, ctx);
        i = j + 1;
    }
    return p->discarded - discarded;
}
