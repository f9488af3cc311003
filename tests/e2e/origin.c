/* The origin server trawl's end-to-end tests and benchmarks fetch from: HTTP/1.1 on plain sockets,
 * a thread per connection, and routes that stall, trickle, reset, lie about lengths, send bombs
 * and redirect on purpose, precisely and repeatably. It counts the requests each path got.
 *
 * The routes are in the table `routes` below, each with a line of help that `origin --help`
 * prints. Query parameters are matched by exact name and percent-decoded (`+` stays a `+`); a
 * number that does not parse or is out of range gets a 400 that says which. Every route answers
 * any method (HEAD without the body); request bodies with a Content-Length are read and dropped,
 * chunked request bodies get a 501. /__hits and /__reset are not counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define HEAD_MAX    65536         /* request line and headers */
#define HDRS_MAX    128           /* header lines in a request */
#define PAGE_MAX    (64LL << 20)  /* /page?size= */
#define BOMB_MB_MAX 16384         /* /gzip-bomb?mb= */
#define WAIT_MS_MAX 3600000LL     /* any ?ms= or ?interval_ms= */
#define BIG_MAX     (1LL << 40)   /* /big?bytes= and /trickle?bytes= */
#define UNIT        64            /* one filler paragraph */
#define BLOCK       (1024 * UNIT) /* 64 KiB of filler paragraphs */
#define TYPE_HTML   "text/html; charset=utf-8"
#define TYPE_JSON   "application/json"

struct hdr {
    char *name, *value;
};

struct req {
    char *method, *target;
    char *path;        /* target without the query or scheme and host; NUL-terminated copy */
    const char *query; /* after the '?', or "" */
    struct hdr hdr[HDRS_MAX];
    int nhdr;
    long long body_len;
    bool head, http10, keep_alive;
    char err[160]; /* why a query parameter was refused */
};

struct conn {
    int fd;      /* -1 once a route closed it itself */
    size_t len;  /* bytes in buf */
    size_t used; /* bytes of buf the current request took (headers and buffered body) */
    char buf[HEAD_MAX];
    char path[HEAD_MAX];
};

struct sb {
    char *p;
    size_t len, cap;
};

/* How many requests a key got: paths for /__hits, keys for /flaky. */
struct counter {
    struct counter *next;
    long long n;
    char key[];
};

#define COUNTER_BUCKETS 256
struct counters {
    pthread_mutex_t mu;
    struct counter *bucket[COUNTER_BUCKETS];
};

/* A compressed bomb, made on first use and kept for the life of the process. */
struct bomb {
    struct bomb *next;
    bool zlib_format;
    long long mb;
    unsigned char *data;
    size_t len;
};

/* Test infrastructure, so globals: counters under their mutexes, bombs under theirs, and the rest
 * written once in main before the first thread starts. */
static struct counters hits_ = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct counters flaky_ = {.mu = PTHREAD_MUTEX_INITIALIZER};
static pthread_mutex_t bombs_mu_ = PTHREAD_MUTEX_INITIALIZER;
static struct bomb *bombs_;
static char *robots_;
static size_t robots_len_;
static int robots_status_ = 200;
static char filler_[BLOCK];             /* 1024 paragraphs of UNIT bytes */
static char endless_chunk_[BLOCK + 16]; /* filler_ framed as one chunk */
static size_t endless_chunk_len_;
static char spaces_[UNIT];

static const char lorem_[] =
    "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut "
    "labore et dolore magna aliqua Ut enim ad minim veniam quis nostrud exercitation ullamco "
    "laboris nisi ut aliquip ex ea commodo consequat Duis aute irure dolor in reprehenderit in "
    "voluptate velit esse cillum dolore eu fugiat nulla pariatur Excepteur sint occaecat cupidatat "
    "non proident sunt in culpa qui officia deserunt mollit anim id est laborum Sed ut "
    "perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium "
    "totam rem aperiam eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae "
    "vitae dicta sunt explicabo Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit ";

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "origin: out of memory\n");
        abort();
    }
    return p;
}

static void sb_add(struct sb *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            fprintf(stderr, "origin: out of memory\n");
            abort();
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < (int)sizeof small) {
        sb_add(b, small, (size_t)n);
        return;
    }
    char *big = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

/* The text so far; "" before the first add. */
static const char *sb_str(const struct sb *b)
{
    return b->p ? b->p : "";
}

static void sb_release(struct sb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t counter_hash(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % COUNTER_BUCKETS;
}

/* Adds d to key's count and returns the new count (d == 0 reads it without adding the key). */
static long long counters_add(struct counters *t, const char *key, long long d)
{
    pthread_mutex_lock(&t->mu);
    struct counter **pp = &t->bucket[counter_hash(key)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    if (!*pp && d) {
        size_t n = strlen(key);
        struct counter *e = xmalloc(sizeof *e + n + 1);
        e->next = NULL;
        e->n = 0;
        memcpy(e->key, key, n + 1);
        *pp = e;
    }
    long long v = *pp ? ((*pp)->n += d) : 0;
    pthread_mutex_unlock(&t->mu);
    return v;
}

static void counters_clear(struct counters *t)
{
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < COUNTER_BUCKETS; i++)
        while (t->bucket[i]) {
            struct counter *e = t->bucket[i];
            t->bucket[i] = e->next;
            free(e);
        }
    pthread_mutex_unlock(&t->mu);
}

/* jansson refuses strings that are not UTF-8; request bytes may be anything, so those become '?'.
 */
static char *text_dup_for_json(const char *s)
{
    json_t *probe = json_string(s);
    char *d = strdup(s);
    if (!d) {
        fprintf(stderr, "origin: out of memory\n");
        abort();
    }
    if (!probe)
        for (char *p = d; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
    json_decref(probe);
    return d;
}

/* Sets o[key] = a string of val, both made UTF-8 first (json_object_set_new steals the value). */
static void set_str(json_t *o, const char *key, const char *val)
{
    char *k = text_dup_for_json(key), *v = text_dup_for_json(val);
    json_object_set_new(o, k, json_string(v));
    free(k);
    free(v);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A NUL-terminated copy of the n bytes of s with %XX decoded; a malformed % stays as it is. */
static char *pct_decode(const char *s, size_t n)
{
    char *d = xmalloc(n + 1), *o = d;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return d;
}

/* The decoded value of the query parameter name ("" when it has no '='), or NULL; free() it. */
static char *query_dup(const char *q, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = q; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len >= nl && strncmp(p, name, nl) == 0 && (len == nl || p[nl] == '=')) {
            const char *v = len == nl ? p + len : p + nl + 1;
            return pct_decode(v, (size_t)(p + len - v));
        }
        p += len;
        if (*p)
            p++;
    }
    return NULL;
}

/* *out = the integer parameter name, or def when absent; -1 with r->err set when it is not a
 * decimal integer from lo to hi. */
static int query_num(struct req *r, const char *name, long long def, long long lo, long long hi,
                     long long *out)
{
    char *v = query_dup(r->query, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    bool ok = *v && !*end && !errno && n >= lo && n <= hi;
    free(v);
    if (!ok) {
        snprintf(r->err, sizeof r->err, "bad query parameter %s: want an integer from %lld to %lld",
                 name, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

/* A string parameter that goes into a header: no CR or LF, so it cannot add header lines. */
static int query_header_value(struct req *r, const char *name, char **out)
{
    *out = query_dup(r->query, name);
    if (*out && strpbrk(*out, "\r\n")) {
        snprintf(r->err, sizeof r->err, "bad query parameter %s: no CR or LF in headers", name);
        free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static const char *reason(int code)
{
    static const struct {
        int code;
        const char *text;
    } t[] = {
        {100, "Continue"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {203, "Non-Authoritative Information"},
        {204, "No Content"},
        {206, "Partial Content"},
        {300, "Multiple Choices"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {402, "Payment Required"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {406, "Not Acceptable"},
        {407, "Proxy Authentication Required"},
        {408, "Request Timeout"},
        {409, "Conflict"},
        {410, "Gone"},
        {411, "Length Required"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {415, "Unsupported Media Type"},
        {416, "Range Not Satisfiable"},
        {418, "I'm a teapot"},
        {421, "Misdirected Request"},
        {422, "Unprocessable Content"},
        {425, "Too Early"},
        {426, "Upgrade Required"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {451, "Unavailable For Legal Reasons"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
        {507, "Insufficient Storage"},
        {508, "Loop Detected"},
        {511, "Network Authentication Required"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].code == code)
            return t[i].text;
    return "Unknown";
}

/* Sends all of a then all of b; -1 when the client is gone. */
static int send_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
{
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    struct iovec *v = iov;
    int n = 2;
    while (n > 0) {
        struct msghdr m = {.msg_iov = v, .msg_iovlen = (size_t)n};
        ssize_t k = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -1;
        while (n > 0 && (size_t)k >= v->iov_len) {
            k -= (ssize_t)v->iov_len;
            v++;
            n--;
        }
        if (n > 0) {
            v->iov_base = (char *)v->iov_base + k;
            v->iov_len -= (size_t)k;
        }
    }
    return 0;
}

static int send_str(int fd, const char *s)
{
    return send_all(fd, s, strlen(s), NULL, 0);
}

/* Waits ms, or returns -1 as soon as the client closes or resets the connection. Pipelined
 * requests do not wake it: only POLLRDHUP is asked for. */
static int pause_ms(int fd, long long ms)
{
    long long end = now_ms() + ms;
    for (;;) {
        long long left = end - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLRDHUP};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)))
            return -1;
    }
}

/* The status line and headers of a response; len < 0 leaves Content-Length out, and so do 204
 * and 304. extra: more header lines, each ending in CRLF, or NULL. */
static void response_head(struct sb *h, const struct req *r, int code, const char *ctype,
                          const char *extra, long long len)
{
    sb_printf(h, "HTTP/1.1 %d %s\r\nServer: trawl-origin\r\n", code, reason(code));
    if (ctype)
        sb_printf(h, "Content-Type: %s\r\n", ctype);
    if (len >= 0 && code != 204 && code != 304)
        sb_printf(h, "Content-Length: %lld\r\n", len);
    if (extra)
        sb_puts(h, extra);
    if (!r->keep_alive)
        sb_puts(h, "Connection: close\r\n");
    else if (r->http10)
        sb_puts(h, "Connection: keep-alive\r\n");
    sb_puts(h, "\r\n");
}

/* A whole response; the body is left out for HEAD, 204 and 304. -1 when the client is gone. */
static int respond(struct conn *c, const struct req *r, int code, const char *ctype,
                   const char *extra, const void *body, size_t len)
{
    struct sb h = {0};
    response_head(&h, r, code, ctype, extra, (long long)len);
    bool with_body = !r->head && code != 204 && code != 304;
    int rc = send_all(c->fd, h.p, h.len, body, with_body ? len : 0);
    sb_release(&h);
    return rc;
}

static int respond_json(struct conn *c, const struct req *r, json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s) {
        fprintf(stderr, "origin: json_dumps failed\n");
        abort();
    }
    int rc = respond(c, r, 200, TYPE_JSON, NULL, s, strlen(s));
    free(s);
    return rc;
}

/* A small page for the status code, or body verbatim when it is not NULL. */
static int respond_status(struct conn *c, const struct req *r, int code, const char *extra,
                          const char *body)
{
    struct sb b = {0};
    if (body)
        sb_puts(&b, body);
    else
        sb_printf(&b,
                  "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
                  "<body><h1>%d %s</h1></body></html>\n",
                  code, reason(code), code, reason(code));
    int rc = respond(c, r, code, TYPE_HTML, extra, b.p, b.len);
    sb_release(&b);
    return rc;
}

static int respond_bad(struct conn *c, const struct req *r)
{
    struct sb b = {0};
    sb_printf(&b, "%s\n", r->err[0] ? r->err : "bad request");
    int rc = respond(c, r, 400, "text/plain; charset=utf-8", NULL, b.p, b.len);
    sb_release(&b);
    return rc;
}

static void html_escape(struct sb *b, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&':
            sb_puts(b, "&amp;");
            break;
        case '<':
            sb_puts(b, "&lt;");
            break;
        case '>':
            sb_puts(b, "&gt;");
            break;
        case '"':
            sb_puts(b, "&quot;");
            break;
        case '\'':
            sb_puts(b, "&#39;");
            break;
        default:
            sb_add(b, s, 1);
        }
}

static void url_escape(struct sb *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-._~", ch))
            sb_add(b, s, 1);
        else
            sb_printf(b, "%%%02X", ch);
    }
}

/* A well-formed page titled "page ID" with links to /page?id=ID-i, padded with paragraphs to
 * exactly size bytes (or just the head and links when those are more). */
static void page_build(struct sb *b, const char *id, long long size, long long links)
{
    struct sb e = {0};
    html_escape(&e, id);
    sb_printf(b,
              "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
              "<title>page %s</title>\n<meta name=\"description\" content=\"test page %s\">\n"
              "</head>\n<body>\n<h1>page %s</h1>\n",
              sb_str(&e), sb_str(&e), sb_str(&e));
    sb_release(&e);
    if (links > 0) {
        struct sb u = {0};
        url_escape(&u, id);
        sb_puts(b, "<ul>\n");
        for (long long i = 0; i < links; i++)
            sb_printf(b, "<li><a href=\"/page?id=%s-%lld\">link %lld</a></li>\n", sb_str(&u), i, i);
        sb_puts(b, "</ul>\n");
        sb_release(&u);
    }
    static const char tail[] = "</body>\n</html>\n";
    size_t want = (size_t)size, have = b->len + strlen(tail);
    for (size_t k = 0; have < want; k++) {
        size_t room = want - have;
        if (room < 8) { /* too little for "<p></p>\n" */
            sb_add(b, spaces_, room);
            break;
        }
        size_t n = room - 8 < 400 ? room - 8 : 400;
        sb_puts(b, "<p>");
        sb_add(b, lorem_ + (k % 7) * 20, n);
        sb_puts(b, "</p>\n");
        have += n + 8;
    }
    sb_puts(b, tail);
}

static int respond_page(struct conn *c, const struct req *r, const char *id, long long size)
{
    struct sb b = {0};
    page_build(&b, id, size, 0);
    int rc = respond(c, r, 200, TYPE_HTML, NULL, b.p, b.len);
    sb_release(&b);
    return rc;
}

static int route_page(struct conn *c, struct req *r)
{
    long long size, links;
    if (query_num(r, "size", 2000, 0, PAGE_MAX, &size) < 0 ||
        query_num(r, "links", 0, 0, 1000000, &links) < 0)
        return respond_bad(c, r);
    char *id = query_dup(r->query, "id");
    struct sb b = {0};
    page_build(&b, id ? id : "0", size, links);
    int rc = respond(c, r, 200, TYPE_HTML, NULL, b.p, b.len);
    sb_release(&b);
    free(id);
    return rc;
}

static int route_slow_first_byte(struct conn *c, struct req *r)
{
    long long ms;
    if (query_num(r, "ms", 10000, 0, WAIT_MS_MAX, &ms) < 0)
        return respond_bad(c, r);
    if (pause_ms(c->fd, ms) < 0)
        return -1;
    return respond_page(c, r, "slow", 500);
}

static int route_slow_headers(struct conn *c, struct req *r)
{
    long long ms;
    if (query_num(r, "ms", 10000, 0, WAIT_MS_MAX, &ms) < 0)
        return respond_bad(c, r);
    static const char body[] = "<!DOCTYPE html>\n<html><head><title>slow headers</title></head>"
                               "<body><p>late</p></body></html>\n";
    struct sb h = {0};
    response_head(&h, r, 200, TYPE_HTML, NULL, (long long)strlen(body));
    size_t line = (size_t)(strstr(h.p, "\r\n") + 2 - h.p);
    int rc = send_all(c->fd, h.p, line, NULL, 0);
    if (rc == 0)
        rc = pause_ms(c->fd, ms);
    if (rc == 0)
        rc = send_all(c->fd, h.p + line, h.len - line, body, r->head ? 0 : strlen(body));
    sb_release(&h);
    return rc;
}

static int route_trickle(struct conn *c, struct req *r)
{
    long long n, interval;
    if (query_num(r, "bytes", 100000, 0, BIG_MAX, &n) < 0 ||
        query_num(r, "interval_ms", 200, 0, WAIT_MS_MAX, &interval) < 0)
        return respond_bad(c, r);
    struct sb h = {0};
    response_head(&h, r, 200, TYPE_HTML, NULL, n);
    int rc = send_all(c->fd, h.p, h.len, NULL, 0);
    sb_release(&h);
    for (long long i = 0; rc == 0 && !r->head && i < n; i++) {
        if (i > 0)
            rc = pause_ms(c->fd, interval);
        if (rc == 0)
            rc = send_all(c->fd, filler_ + i % BLOCK, 1, NULL, 0);
    }
    return rc;
}

static int route_endless(struct conn *c, struct req *r)
{
    /* HTTP/1.0 has no chunked encoding: the body ends with the connection instead */
    if (r->http10)
        r->keep_alive = false;
    struct sb h = {0};
    response_head(&h, r, 200, TYPE_HTML, r->http10 ? NULL : "Transfer-Encoding: chunked\r\n", -1);
    int rc = send_all(c->fd, h.p, h.len, NULL, 0);
    sb_release(&h);
    if (r->head)
        return rc;
    while (rc == 0)
        rc = r->http10 ? send_all(c->fd, filler_, BLOCK, NULL, 0)
                       : send_all(c->fd, endless_chunk_, endless_chunk_len_, NULL, 0);
    return -1;
}

/* The gzip (or zlib) stream of mb MiB of 'a', made by streaming deflate over one block of 'a'
 * so the uncompressed data is never held. Z_RLE finds the same 258-byte matches as level 9 in
 * half the time: about 1 MB and 2 s for 1 GiB. */
static const struct bomb *bomb_get(bool zlib_format, long long mb)
{
    pthread_mutex_lock(&bombs_mu_);
    struct bomb *b = bombs_;
    while (b && (b->zlib_format != zlib_format || b->mb != mb))
        b = b->next;
    if (!b) {
        static unsigned char in[BLOCK];
        memset(in, 'a', sizeof in);
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 9, Z_DEFLATED, zlib_format ? 15 : 15 + 16, 9, Z_RLE) != Z_OK) {
            fprintf(stderr, "origin: deflateInit2 failed\n");
            abort();
        }
        struct sb out = {0};
        unsigned char buf[BLOCK];
        long long blocks = mb * ((1 << 20) / BLOCK);
        int zr = Z_OK;
        for (long long i = 0; zr != Z_STREAM_END; i++) {
            z.next_in = in;
            z.avail_in = i < blocks ? BLOCK : 0;
            do {
                z.next_out = buf;
                z.avail_out = sizeof buf;
                zr = deflate(&z, i < blocks ? Z_NO_FLUSH : Z_FINISH);
                sb_add(&out, buf, sizeof buf - z.avail_out);
            } while (z.avail_out == 0 || (i >= blocks && zr != Z_STREAM_END));
        }
        deflateEnd(&z);
        b = xmalloc(sizeof *b);
        *b = (struct bomb){bombs_, zlib_format, mb, (unsigned char *)out.p, out.len};
        bombs_ = b;
    }
    pthread_mutex_unlock(&bombs_mu_);
    return b;
}

static int respond_bomb(struct conn *c, struct req *r, bool zlib_format)
{
    long long mb;
    if (query_num(r, "mb", 1024, 0, BOMB_MB_MAX, &mb) < 0)
        return respond_bad(c, r);
    const struct bomb *b = bomb_get(zlib_format, mb);
    return respond(c, r, 200, TYPE_HTML,
                   zlib_format ? "Content-Encoding: deflate\r\n" : "Content-Encoding: gzip\r\n",
                   b->data, b->len);
}

static int route_gzip_bomb(struct conn *c, struct req *r)
{
    return respond_bomb(c, r, false);
}

static int route_deflate_bomb(struct conn *c, struct req *r)
{
    return respond_bomb(c, r, true);
}

static int respond_redirect(struct conn *c, const struct req *r, int code, const char *to)
{
    struct sb h = {0};
    sb_printf(&h, "Location: %s\r\n", to);
    static const char body[] = "<!DOCTYPE html>\n<html><head><title>moved</title></head>"
                               "<body><p>moved</p></body></html>\n";
    int rc = respond(c, r, code, TYPE_HTML, h.p, body, strlen(body));
    sb_release(&h);
    return rc;
}

static int route_redirect(struct conn *c, struct req *r)
{
    long long code;
    char *to;
    if (query_num(r, "code", 302, 200, 999, &code) < 0 || query_header_value(r, "to", &to) < 0)
        return respond_bad(c, r);
    if (!to) {
        snprintf(r->err, sizeof r->err, "missing query parameter to");
        return respond_bad(c, r);
    }
    int rc = respond_redirect(c, r, (int)code, to);
    free(to);
    return rc;
}

static int route_redirect_loop(struct conn *c, struct req *r)
{
    return respond_redirect(c, r, 302, "/redirect-loop-b");
}

static int route_redirect_loop_b(struct conn *c, struct req *r)
{
    return respond_redirect(c, r, 302, "/redirect-loop");
}

static int route_redirect_chain(struct conn *c, struct req *r)
{
    long long n;
    if (query_num(r, "n", 3, 0, 1000000000, &n) < 0)
        return respond_bad(c, r);
    if (n == 0)
        return respond_page(c, r, "chain", 500);
    char to[64];
    snprintf(to, sizeof to, "/redirect-chain?n=%lld", n - 1);
    return respond_redirect(c, r, 302, to);
}

/* Status code with an optional Retry-After given verbatim: /status and failing /flaky. */
static int respond_status_retry(struct conn *c, const struct req *r, int code,
                                const char *retry_after, const char *body)
{
    struct sb h = {0};
    if (retry_after)
        sb_printf(&h, "Retry-After: %s\r\n", retry_after);
    int rc = respond_status(c, r, code, h.p, body);
    sb_release(&h);
    return rc;
}

static int route_status(struct conn *c, struct req *r)
{
    long long code;
    char *retry = NULL;
    if (query_num(r, "code", 200, 200, 999, &code) < 0 ||
        query_header_value(r, "retry_after", &retry) < 0)
        return respond_bad(c, r);
    char *body = query_dup(r->query, "body");
    int rc = respond_status_retry(c, r, (int)code, retry, body);
    free(retry);
    free(body);
    return rc;
}

static int route_flaky(struct conn *c, struct req *r)
{
    long long fail, code;
    char *retry = NULL;
    if (query_num(r, "fail", 2, 0, 1000000000, &fail) < 0 ||
        query_num(r, "code", 503, 200, 999, &code) < 0 ||
        query_header_value(r, "retry_after", &retry) < 0)
        return respond_bad(c, r);
    char *key = query_dup(r->query, "key");
    long long n = counters_add(&flaky_, key ? key : "", 1);
    free(key);
    int rc = n <= fail ? respond_status_retry(c, r, (int)code, retry, NULL)
                       : respond_page(c, r, "flaky", 500);
    free(retry);
    return rc;
}

/* Linger on with a zero timeout makes close() send RST instead of FIN. */
static int route_reset(struct conn *c, struct req *r)
{
    (void)r;
    struct linger l = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(c->fd);
    c->fd = -1;
    return -1;
}

static int route_close_early(struct conn *c, struct req *r)
{
    struct sb h = {0};
    response_head(&h, r, 200, TYPE_HTML, NULL, 100000);
    send_all(c->fd, h.p, h.len, filler_, r->head ? 0 : 1000);
    sb_release(&h);
    return -1;
}

/* Framing errors, whatever the method; only "over" keeps the connection. */
static int route_bad_length(struct conn *c, struct req *r)
{
    char *kind = query_dup(r->query, "kind");
    const char *k = kind ? kind : "over";
    struct sb b = {0};
    int rc = -1;
    sb_puts(&b, "HTTP/1.1 200 OK\r\nServer: trawl-origin\r\nContent-Type: " TYPE_HTML "\r\n");
    if (strcmp(k, "over") == 0) {
        /* the 10 extra bytes arrive where the next response on this connection should start */
        sb_puts(&b, "Content-Length: 10\r\n\r\n0123456789abcdefghij");
        rc = 0;
    } else if (strcmp(k, "dup") == 0) {
        sb_puts(&b, "Content-Length: 10\r\nContent-Length: 20\r\nConnection: close\r\n\r\n"
                    "0123456789abcdefghij");
    } else if (strcmp(k, "chunk") == 0) {
        sb_puts(&b, "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                    "5\r\nhello\r\nzz\r\nnot a chunk size\r\n0\r\n\r\n");
    } else if (strcmp(k, "both") == 0) {
        sb_puts(&b, "Transfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                    "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n");
    } else if (strcmp(k, "negative") == 0) {
        sb_puts(&b, "Content-Length: -1\r\nConnection: close\r\n\r\nnegative");
    } else {
        snprintf(r->err, sizeof r->err,
                 "bad query parameter kind: over, dup, chunk, both or "
                 "negative");
        rc = respond_bad(c, r);
        goto out;
    }
    if (send_all(c->fd, b.p, b.len, NULL, 0) < 0)
        rc = -1;
out:
    sb_release(&b);
    free(kind);
    return rc;
}

static int route_headers(struct conn *c, struct req *r)
{
    json_t *h = json_object();
    for (int i = 0; i < r->nhdr; i++) {
        char *name = text_dup_for_json(r->hdr[i].name);
        for (char *p = name; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        const char *prev = json_string_value(json_object_get(h, name));
        if (prev) { /* a repeated header joins its values, as a list would */
            struct sb v = {0};
            sb_printf(&v, "%s, %s", prev, r->hdr[i].value);
            set_str(h, name, v.p);
            sb_release(&v);
        } else {
            set_str(h, name, r->hdr[i].value);
        }
        free(name);
    }
    json_t *o = json_object();
    set_str(o, "method", r->method);
    set_str(o, "path", r->path);
    set_str(o, "target", r->target);
    json_object_set_new(o, "headers", h);
    return respond_json(c, r, o);
}

static int route_invalid_utf8(struct conn *c, struct req *r)
{
    long long nul;
    if (query_num(r, "nul", 0, 0, 1, &nul) < 0)
        return respond_bad(c, r);
    /* the literals are split so that no \x escape runs into a hex digit that follows it */
    static const char head[] = "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n"
                               "<title>bad \xff\xfe"
                               " bytes</title>\n</head>\n<body>\n"
                               "<p>invalid: \xff\xfe"
                               " overlong: \xc0\xaf"
                               " surrogate: \xed\xa0\x80"
                               " truncated: \xe2\x82"
                               " end</p>\n"
                               "<p>controls: \x01\x02\x07\x08\x0b\x0c\x1b\x7f"
                               " end</p>\n"
                               "<p>valid: caf\xc3\xa9"
                               " \xe2\x82\xac"
                               " \xf0\x9f\x98\x80"
                               "</p>\n";
    static const char with_nul[] = "<p>nul: \0 end</p>\n";
    static const char tail[] = "</body>\n</html>\n";
    struct sb b = {0};
    sb_add(&b, head, sizeof head - 1);
    if (nul)
        sb_add(&b, with_nul, sizeof with_nul - 1);
    sb_add(&b, tail, sizeof tail - 1);
    int rc = respond(c, r, 200, TYPE_HTML, NULL, b.p, b.len);
    sb_release(&b);
    return rc;
}

static int route_big(struct conn *c, struct req *r)
{
    long long n;
    if (query_num(r, "bytes", 1000000, 0, BIG_MAX, &n) < 0)
        return respond_bad(c, r);
    static const char pre[] = "<!DOCTYPE html>\n<html><head><title>big</title></head><body>\n";
    static const char post[] = "</body></html>\n";
    long long fixed = (long long)(sizeof pre - 1 + sizeof post - 1);
    struct sb h = {0};
    response_head(&h, r, 200, TYPE_HTML, NULL, n);
    int rc = send_all(c->fd, h.p, h.len, NULL, 0);
    sb_release(&h);
    if (r->head || rc < 0)
        return rc;
    if (n < fixed) /* too small for the frame: just filler */
        return send_all(c->fd, filler_, (size_t)n, NULL, 0);
    long long mid = n - fixed;
    rc = send_all(c->fd, pre, sizeof pre - 1, NULL, 0);
    while (rc == 0 && mid >= UNIT) { /* whole paragraphs, then spaces */
        long long k = mid / UNIT * UNIT < BLOCK ? mid / UNIT * UNIT : BLOCK;
        rc = send_all(c->fd, filler_, (size_t)k, NULL, 0);
        mid -= k;
    }
    if (rc == 0)
        rc = send_all(c->fd, spaces_, (size_t)mid, post, sizeof post - 1);
    return rc;
}

static int route_content_type(struct conn *c, struct req *r)
{
    char *type;
    if (query_header_value(r, "type", &type) < 0)
        return respond_bad(c, r);
    static const char body[] = "<!DOCTYPE html>\n<html><head><title>typed</title></head>"
                               "<body><p>typed</p></body></html>\n";
    /* absent: the usual type; present but empty: no Content-Type header at all */
    int rc = respond(c, r, 200, !type ? TYPE_HTML : *type ? type : NULL, NULL, body, strlen(body));
    free(type);
    return rc;
}

static int route_robots(struct conn *c, struct req *r)
{
    if (robots_status_ != 200)
        return respond_status(c, r, robots_status_, NULL, NULL);
    return respond(c, r, 200, "text/plain; charset=utf-8", NULL, robots_, robots_len_);
}

static int route_private(struct conn *c, struct req *r)
{
    return respond_page(c, r, "private", 500);
}

static int route_hits(struct conn *c, struct req *r)
{
    char *path = query_dup(r->query, "path");
    json_t *o = json_object();
    if (path) {
        set_str(o, "path", path);
        json_object_set_new(o, "hits", json_integer(counters_add(&hits_, path, 0)));
        free(path);
        return respond_json(c, r, o);
    }
    pthread_mutex_lock(&hits_.mu);
    for (int i = 0; i < COUNTER_BUCKETS; i++)
        for (struct counter *e = hits_.bucket[i]; e; e = e->next) {
            char *k = text_dup_for_json(e->key);
            json_object_set_new(o, k, json_integer(e->n));
            free(k);
        }
    pthread_mutex_unlock(&hits_.mu);
    return respond_json(c, r, o);
}

static int route_reset_counters(struct conn *c, struct req *r)
{
    counters_clear(&hits_);
    counters_clear(&flaky_);
    return respond_json(c, r, json_pack("{s:b}", "ok", 1));
}

struct route {
    const char *path;
    bool prefix; /* path is a prefix of the request's */
    int (*fn)(struct conn *c, struct req *r);
    const char *help;
};

static const struct route routes[] = {
    {"/page", false, route_page, "?size=2000&id=0&links=0  page of exactly size bytes"},
    {"/slow-first-byte", false, route_slow_first_byte, "?ms=10000  nothing, then a page"},
    {"/slow-headers", false, route_slow_headers, "?ms=10000  status line, wait, the rest"},
    {"/trickle", false, route_trickle, "?bytes=100000&interval_ms=200  one body byte at a time"},
    {"/endless", false, route_endless, "  chunked 64 KiB chunks until the client leaves"},
    {"/gzip-bomb", false, route_gzip_bomb, "?mb=1024  gzip of mb MiB of 'a'"},
    {"/deflate-bomb", false, route_deflate_bomb, "?mb=1024  the same as deflate (zlib)"},
    {"/redirect", false, route_redirect, "?to=URL&code=302  Location: URL"},
    {"/redirect-loop", false, route_redirect_loop, "  302 to /redirect-loop-b"},
    {"/redirect-loop-b", false, route_redirect_loop_b, "  302 to /redirect-loop"},
    {"/redirect-chain", false, route_redirect_chain, "?n=3  302 to n-1; a page at 0"},
    {"/status", false, route_status, "?code=200&retry_after=S&body=TEXT  any status"},
    {"/flaky", false, route_flaky,
     "?key=K&fail=2&code=503&retry_after=S  code for the key's first fail requests"},
    {"/reset", false, route_reset, "  read the request, answer with a TCP reset"},
    {"/close-early", false, route_close_early, "  Content-Length 100000, 1000 bytes, close"},
    {"/bad-length", false, route_bad_length,
     "?kind=over  framing errors. over: Content-Length 10, 20 bytes sent, kept alive;\n"
     "      dup: two Content-Lengths; chunk: a bad chunk size; both: chunked and\n"
     "      Content-Length; negative: Content-Length -1 (all but over then close)"},
    {"/headers", false, route_headers, "  the request's method, path and headers as JSON"},
    {"/invalid-utf8", false, route_invalid_utf8,
     "?nul=0  a utf-8 page with invalid bytes and controls (and a NUL with nul=1)"},
    {"/big", false, route_big, "?bytes=1000000  a page of exactly that many bytes"},
    {"/content-type", false, route_content_type, "?type=T  Content-Type T (empty: none)"},
    {"/robots.txt", false, route_robots, "  --robots file, or the default, or 404/500"},
    {"/private/", true, route_private, "...  a page robots.txt disallows"},
    {"/__hits", false, route_hits, "?path=P  {\"path\":P,\"hits\":N}, or all counts"},
    {"/__reset", false, route_reset_counters, "  zero the counts and the flaky keys"},
};

static int dispatch(struct conn *c, struct req *r)
{
    if (strcmp(r->path, "/__hits") != 0 && strcmp(r->path, "/__reset") != 0)
        counters_add(&hits_, r->path, 1);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route *rt = &routes[i];
        if (rt->prefix ? strncmp(r->path, rt->path, strlen(rt->path)) == 0
                       : strcmp(r->path, rt->path) == 0)
            return rt->fn(c, r);
    }
    return respond_status(c, r, 404, NULL, NULL);
}

/* An error answered before the request was understood; the connection closes after it. */
static int refuse(struct conn *c, int code)
{
    struct req r = {.keep_alive = false};
    respond_status(c, &r, code, NULL, NULL);
    return -1;
}

static int parse_head(struct conn *c, struct req *r, char *head)
{
    char *line_end = strstr(head, "\r\n");
    char *next = line_end ? line_end + 2 : head + strlen(head);
    if (line_end)
        *line_end = '\0';
    r->method = head;
    char *sp = strchr(head, ' ');
    if (!sp || sp == head)
        return refuse(c, 400);
    *sp = '\0';
    r->target = sp + 1;
    sp = strchr(r->target, ' ');
    if (!sp || sp == r->target)
        return refuse(c, 400);
    *sp = '\0';
    const char *version = sp + 1;
    if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
        return refuse(c, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400);
    r->http10 = strcmp(version, "HTTP/1.0") == 0;
    r->head = strcmp(r->method, "HEAD") == 0;
    r->keep_alive = !r->http10;
    for (char *p = next; *p; p = next) {
        line_end = strstr(p, "\r\n");
        next = line_end ? line_end + 2 : p + strlen(p);
        if (line_end)
            *line_end = '\0';
        char *colon = strchr(p, ':');
        if (!colon || colon == p || strcspn(p, " \t") < (size_t)(colon - p))
            return refuse(c, 400);
        if (r->nhdr == HDRS_MAX)
            return refuse(c, 431);
        *colon = '\0';
        char *v = colon + 1, *e = v + strlen(v);
        while (*v == ' ' || *v == '\t')
            v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        r->hdr[r->nhdr++] = (struct hdr){p, v};
    }
    r->body_len = -1;
    for (int i = 0; i < r->nhdr; i++) {
        const char *n = r->hdr[i].name, *v = r->hdr[i].value;
        if (strcasecmp(n, "content-length") == 0) {
            char *end;
            errno = 0;
            long long len = strtoll(v, &end, 10);
            if (!*v || *end || errno || len < 0 || (r->body_len >= 0 && len != r->body_len))
                return refuse(c, 400); /* a repeated Content-Length must agree */
            r->body_len = len;
        } else if (strcasecmp(n, "transfer-encoding") == 0) {
            return refuse(c, 501);
        } else if (strcasecmp(n, "connection") == 0) {
            if (strcasestr(v, "close"))
                r->keep_alive = false;
            else if (strcasestr(v, "keep-alive"))
                r->keep_alive = true;
        }
    }
    if (r->body_len < 0)
        r->body_len = 0;
    /* origin-form "/p?q", or absolute-form "http://host/p?q" */
    const char *t = r->target;
    const char *scheme = t[0] == '/' ? NULL : strstr(t, "://");
    if (scheme) {
        t = strchr(scheme + 3, '/');
        t = t ? t : "/";
    }
    snprintf(c->path, sizeof c->path, "%s", t);
    r->path = c->path;
    char *q = strchr(r->path, '?');
    r->query = "";
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    return 0;
}

/* Reads the next request into c->buf and drops its body. 1: a request; 0: the client closed
 * between requests; -1: close the connection (an error was answered or the client is gone). */
static int read_request(struct conn *c, struct req *r)
{
    char *end;
    for (;;) {
        /* blank lines before a request line are allowed */
        size_t skip = 0;
        while (skip + 1 < c->len && c->buf[skip] == '\r' && c->buf[skip + 1] == '\n')
            skip += 2;
        if (skip) {
            memmove(c->buf, c->buf + skip, c->len - skip);
            c->len -= skip;
        }
        end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end)
            break;
        if (c->len == sizeof c->buf)
            return refuse(c, 431);
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return c->len ? -1 : 0;
        c->len += (size_t)n;
    }
    memset(r, 0, sizeof *r);
    size_t head_len = (size_t)(end - c->buf) + 4;
    *end = '\0';
    if (parse_head(c, r, c->buf) < 0)
        return -1;
    size_t buffered = c->len - head_len;
    if ((unsigned long long)r->body_len <= buffered) {
        c->used = head_len + (size_t)r->body_len;
        return 1;
    }
    c->used = c->len;
    long long left = r->body_len - (long long)buffered;
    for (int i = 0; i < r->nhdr; i++)
        if (!r->http10 && strcasecmp(r->hdr[i].name, "expect") == 0 &&
            strcasecmp(r->hdr[i].value, "100-continue") == 0 &&
            send_str(c->fd, "HTTP/1.1 100 Continue\r\n\r\n") < 0)
            return -1;
    char scratch[16384];
    while (left > 0) {
        ssize_t n = recv(c->fd, scratch,
                         left < (long long)sizeof scratch ? (size_t)left : sizeof scratch, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        left -= n;
    }
    return 1;
}

/* Closing with unread request bytes (a 431, pipelined requests after a close) would make the
 * kernel send a reset that can destroy the answer before the client reads it: send FIN first and
 * read what is still coming for a moment. */
static void close_gently(int fd)
{
    shutdown(fd, SHUT_WR);
    char scratch[16384];
    long long end = now_ms() + 500;
    for (long long left = 500; left > 0; left = end - now_ms()) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) <= 0 || recv(fd, scratch, sizeof scratch, 0) <= 0)
            break;
    }
    close(fd);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    for (;;) {
        struct req r;
        if (read_request(c, &r) <= 0)
            break;
        if (dispatch(c, &r) < 0 || !r.keep_alive)
            break;
        memmove(c->buf, c->buf + c->used, c->len - c->used);
        c->len -= c->used;
    }
    if (c->fd >= 0)
        close_gently(c->fd);
    free(c);
    return NULL;
}

static void *accept_main(void *arg)
{
    int lfd = *(int *)arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                poll(NULL, 0, 10); /* out of descriptors: let some connections end */
            continue;
        }
        /* trickle and slow-headers must leave in the pieces they are written in */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xmalloc(sizeof *c);
        c->fd = fd;
        c->len = c->used = 0;
        pthread_t t;
        if (pthread_create(&t, &attr, conn_main, c) != 0) {
            close(fd);
            free(c);
        }
    }
    return NULL;
}

static const char usage_[] =
    "usage: origin [--port N] [--portfile PATH] [--robots PATH|404|500] [--host ADDR]\n"
    "  --port N        port to listen on (default 0: a free one; printed on stdout)\n"
    "  --portfile PATH write the port there (through PATH.tmp) once listening\n"
    "  --robots PATH   serve that file as /robots.txt; 404 or 500: answer that status\n"
    "  --host ADDR     IPv4 address to listen on (default 127.0.0.1)\n";

static void usage_routes(void)
{
    printf("%sroutes (the defaults of their query parameters shown):\n", usage_);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        printf("  %s%s\n", routes[i].path, routes[i].help);
    printf("any other path gets a 404; SIGTERM or SIGINT ends it with status 0\n");
}

/* Exit status 2 for bad arguments, after saying which. */
static int bad_args(const char *what, const char *arg)
{
    fprintf(stderr, "origin: %s: %s\n%s(origin --help lists the routes)\n", what, arg, usage_);
    return 2;
}

static void load_robots(const char *arg)
{
    static const char def[] = "User-agent: *\nDisallow: /private/\nCrawl-delay: 0\n";
    if (!arg) {
        robots_ = (char *)def;
        robots_len_ = sizeof def - 1;
        return;
    }
    if (strcmp(arg, "404") == 0 || strcmp(arg, "500") == 0) {
        robots_status_ = atoi(arg);
        return;
    }
    FILE *f = fopen(arg, "rb");
    struct sb b = {0};
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0 && b.len < (1 << 20))
        sb_add(&b, buf, n);
    if (!f || ferror(f)) {
        fprintf(stderr, "origin: cannot read robots file %s: %s\n", arg, strerror(errno));
        exit(2);
    }
    fclose(f);
    robots_ = b.p ? b.p : (char *)"";
    robots_len_ = b.len;
}

static void fill_blocks(void)
{
    /* 1024 paragraphs of exactly UNIT bytes: "<p>" + 56 letters + "</p>\n" */
    for (size_t i = 0; i < BLOCK / UNIT; i++) {
        char *u = filler_ + i * UNIT;
        memcpy(u, "<p>", 3);
        memcpy(u + 3, lorem_ + (i * 13) % (sizeof lorem_ - 60), UNIT - 8);
        memcpy(u + UNIT - 5, "</p>\n", 5);
    }
    int n = snprintf(endless_chunk_, sizeof endless_chunk_, "%x\r\n", BLOCK);
    memcpy(endless_chunk_ + n, filler_, BLOCK);
    memcpy(endless_chunk_ + n + BLOCK, "\r\n", 2);
    endless_chunk_len_ = (size_t)n + BLOCK + 2;
    memset(spaces_, ' ', sizeof spaces_);
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *portfile = NULL, *robots = NULL, *host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage_routes();
            return 0;
        }
        if (strcmp(a, "--port") != 0 && strcmp(a, "--portfile") != 0 &&
            strcmp(a, "--robots") != 0 && strcmp(a, "--host") != 0)
            return bad_args("unknown option", a);
        if (i + 1 >= argc)
            return bad_args("missing value for", a);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (!*v || *end || port < 0 || port > 65535)
                return bad_args("bad port (want 0 to 65535)", v);
        } else if (strcmp(a, "--portfile") == 0) {
            portfile = v;
        } else if (strcmp(a, "--robots") == 0) {
            robots = v;
        } else {
            host = v;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return bad_args("bad host (want an IPv4 address)", host);
    load_robots(robots);
    fill_blocks();

    /* SIGTERM and SIGINT are taken by sigwait in main; every thread inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    socklen_t salen = sizeof sa;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0) {
        fprintf(stderr, "origin: cannot listen on %s:%ld: %s\n", host, port, strerror(errno));
        return 1;
    }
    int bound = ntohs(sa.sin_port);
    printf("%d\n", bound);
    fflush(stdout);
    if (portfile) {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
        FILE *f = fopen(tmp, "w");
        if (!f || fprintf(f, "%d\n", bound) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
            fprintf(stderr, "origin: cannot write %s: %s\n", portfile, strerror(errno));
            return 1;
        }
    }
    pthread_t t;
    if (pthread_create(&t, NULL, accept_main, &lfd) != 0) {
        fprintf(stderr, "origin: cannot start the accept thread\n");
        return 1;
    }
    int sig;
    sigwait(&stop, &sig);
    return 0;
}
