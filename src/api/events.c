/* GET /v1/events: the live events as server-sent events, filtered by type, batch and session, in
 * the token's workspace. Last-Event-ID (the header, or the lastEventId parameter for clients that
 * cannot set it) resumes after that event. An idle stream's connection is suspended and woken by
 * the bus (obs/events.h), so a subscriber costs no thread and no polling. */
#include "api/api_int.h"

#include "base/xalloc.h"
#include "obs/events.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SSE_SNDBUF (64 * 1024)
#define SSE_NICE   19

struct sse {
    struct MHD_Connection *conn;
    struct ev_sub *sub;
    bool started;
};

static void park(void *ctx)
{
    struct sse *x = ctx;
    MHD_suspend_connection(x->conn);
}

static void wake(void *ctx)
{
    struct sse *x = ctx;
    MHD_resume_connection(x->conn);
}

/* Copying events to subscribers yields the CPU to the engine: libmicrohttpd's thread runs at a
 * lower priority (nice + SSE_NICE) while it does, so subscribers that want more than the machine
 * can give fall behind and are dropped instead of slowing the jobs. Only where the priority can
 * be raised back afterwards (root, or RLIMIT_NICE allows it): the thread also serves every other
 * request. */
static bool may_renice(int nice_now)
{
    static atomic_int known = -1; /* -1: not asked yet; else 0 or 1 */
    int k = atomic_load(&known);
    if (k < 0) {
        struct rlimit rl;
        k = geteuid() == 0 ||
            (getrlimit(RLIMIT_NICE, &rl) == 0 &&
             (rl.rlim_cur == RLIM_INFINITY || 20 - (long)rl.rlim_cur <= nice_now));
        atomic_store(&known, k);
    }
    return k == 1;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct sse *x = cls;
    if (!x->started) {
        /* at once, so the client knows it is subscribed; and how soon to reconnect */
        static const char hello[] = ": subscribed\nretry: 2000\n\n";
        x->started = true;
        if (max >= sizeof hello - 1) {
            memcpy(buf, hello, sizeof hello - 1);
            return (ssize_t)(sizeof hello - 1);
        }
    }
    id_t tid = (id_t)syscall(SYS_gettid);
    int was = getpriority(PRIO_PROCESS, tid);
    bool yield = may_renice(was);
    if (yield)
        setpriority(PRIO_PROCESS, tid, was + SSE_NICE);
    ssize_t n = ev_read(x->sub, buf, max, park, x);
    if (yield)
        setpriority(PRIO_PROCESS, tid, was);
    if (n == EV_DROPPED || n == EV_CLOSED)
        return MHD_CONTENT_READER_END_OF_STREAM;
    return n;
}

static void sse_free(void *cls)
{
    struct sse *x = cls;
    ev_unsubscribe(x->sub);
    free(x);
}

enum MHD_Result api_events(struct req *r)
{
    struct ev_bus *bus = r->api->deps.events;
    if (!bus)
        return api_reply_error(r, 503, "live events are not kept by this server");
    struct ev_filter f = {.workspace = r->workspace};
    const char *types = api_query(r, "types");
    const char *ws = api_query(r, "workspace");
    f.batch = api_query(r, "batch");
    f.session = api_query(r, "session");
    struct err e;
    err_clear(&e);
    if (types && ev_kinds_parse(types, &f.kinds, &e) < 0)
        return api_reply_err(r, &e);
    if (ws && strcmp(ws, r->workspace) != 0)
        return api_reply_error(r, 403, "this token sees workspace '%s' only", r->workspace);
    if (f.batch && !engine_name_valid(f.batch, JOB_KEY_MAX, true))
        return api_reply_error(r, 400, "batch must be 1-256 printable characters");
    if (f.session && !engine_name_valid(f.session, JOB_KEY_MAX, true))
        return api_reply_error(r, 400, "session must be 1-256 printable characters");
    const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
    if (!last)
        last = api_query(r, "lastEventId");
    uint64_t last_id = 0;
    if (last && *last) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(last, &end, 10);
        if (errno || *end || last[0] == '-' || v == 0)
            return api_reply_error(r, 400,
                                   "Last-Event-ID '%.64s' is not an event id from this "
                                   "server",
                                   last);
        last_id = v;
    }
    /* a small send buffer: a stalled subscriber holds 64 KiB of the kernel's memory, not
     * megabytes, and falls behind the ring (and is dropped) soon rather than late */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        int sndbuf = SSE_SNDBUF;
        setsockopt(ci->connect_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    }
    struct sse *x = xcalloc(1, sizeof *x);
    x->conn = r->conn;
    x->sub = ev_subscribe(bus, &f, last_id, wake, x);
    return api_reply_stream(r, "text/event-stream; charset=utf-8", NULL, sse_read, x, sse_free);
}
