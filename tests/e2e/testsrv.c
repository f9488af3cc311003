/* The plumbing of the end-to-end tests' own servers, origin, shop, sentryrx and hookrx: what
 * testsrv.h declares. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- memory and text ---- */

void oom(void)
{
    fprintf(stderr, "%s: out of memory\n", program_invocation_short_name);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom();
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom();
    return p;
}

void sb_add(struct sb *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            oom();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_puts(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

void sb_printf(struct sb *b, const char *fmt, ...)
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

void sb_put_html(struct sb *b, const char *s, bool apos)
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
            sb_puts(b, apos ? "&#39;" : "'");
            break;
        default:
            sb_add(b, s, 1);
        }
}

const char *sb_str(const struct sb *b)
{
    return b->p ? b->p : "";
}

void sb_release(struct sb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *text_dup_for_json(const char *s)
{
    json_t *probe = json_string(s);
    char *d = strdup(s);
    if (!d)
        oom();
    if (!probe)
        for (char *p = d; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
    json_decref(probe);
    return d;
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

char *query_dup(const char *q, const char *name)
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

/* ---- hit counters ---- */

static size_t counter_hash(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % COUNTER_BUCKETS;
}

long long counters_add(struct counters *t, const char *key, long long d)
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

void counters_clear(struct counters *t)
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

/* ---- responses ---- */

const char *reason(int code)
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

int send_all(int fd, const void *a, size_t alen, const void *b, size_t blen)
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

void response_head(struct sb *h, const struct conn *c, const struct req *r, int code,
                   const char *ctype, const char *extra, long long len)
{
    sb_printf(h, "HTTP/1.1 %d %s\r\nServer: %s\r\n", code, reason(code), c->srv->server);
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

int respond(struct conn *c, const struct req *r, int code, const char *ctype, const char *extra,
            const void *body, size_t len)
{
    struct sb h = {0};
    response_head(&h, c, r, code, ctype, extra, (long long)len);
    bool with_body = !r->head && code != 204 && code != 304;
    int rc = send_all(c->fd, h.p, h.len, body, with_body ? len : 0);
    sb_release(&h);
    return rc;
}

int respond_json(struct conn *c, const struct req *r, json_t *j)
{
    /* the shop's prices are reals: 10 digits keep them as they were made */
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(j);
    if (!s)
        oom();
    int rc = respond(c, r, 200, TYPE_JSON, NULL, s, strlen(s));
    free(s);
    return rc;
}

int respond_hits(struct conn *c, const struct req *r, struct counters *hits)
{
    char *path = query_dup(r->query, "path");
    json_t *o = json_object();
    if (path) {
        char *p = text_dup_for_json(path);
        json_object_set_new(o, "path", json_string(p));
        json_object_set_new(o, "hits", json_integer(counters_add(hits, path, 0)));
        free(p);
        free(path);
        return respond_json(c, r, o);
    }
    pthread_mutex_lock(&hits->mu);
    for (int i = 0; i < COUNTER_BUCKETS; i++)
        for (struct counter *e = hits->bucket[i]; e; e = e->next) {
            char *k = text_dup_for_json(e->key);
            json_object_set_new(o, k, json_integer(e->n));
            free(k);
        }
    pthread_mutex_unlock(&hits->mu);
    return respond_json(c, r, o);
}

/* ---- requests ---- */

/* An error answered before the request was understood; the connection closes after it. */
static int refuse(struct conn *c, int code)
{
    struct req r = {.keep_alive = false};
    struct sb b = {0};
    c->srv->status_page(&b, code);
    respond(c, &r, code, TYPE_HTML, NULL, b.p, b.len);
    sb_release(&b);
    return -1;
}

/* Ends the line at p at its CRLF and returns where the next line starts (the end of p when it
 * has no CRLF). */
static char *cut_line(char *p)
{
    char *end = strstr(p, "\r\n");
    if (!end)
        return p + strlen(p);
    *end = '\0';
    return end + 2;
}

static int parse_request_line(struct conn *c, struct req *r, char *line)
{
    r->method = line;
    char *sp = strchr(line, ' ');
    if (!sp || sp == line)
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
    return 0;
}

/* The header lines from p on into r->hdr, their values trimmed. */
static int parse_header_lines(struct conn *c, struct req *r, char *p)
{
    for (char *next; *p; p = next) {
        next = cut_line(p);
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
    return 0;
}

/* The body's length and whether the connection stays open, from the headers. */
static int parse_framing(struct conn *c, struct req *r)
{
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
    return 0;
}

/* r->path and r->query from the origin-form "/p?q" or the absolute-form "http://host/p?q". */
static void split_target(struct conn *c, struct req *r)
{
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
}

/* Parses the NUL-terminated head; -1 after refusing it. */
static int parse_head(struct conn *c, struct req *r, char *head)
{
    char *next = cut_line(head);
    if (parse_request_line(c, r, head) < 0 || parse_header_lines(c, r, next) < 0 ||
        parse_framing(c, r) < 0)
        return -1;
    split_target(c, r);
    return 0;
}

/* Reads until c->buf holds a whole request head. 1 with *end at the CRLFCRLF that ends it; 0: the
 * client closed between requests; -1: close the connection. */
static int read_head(struct conn *c, char **end)
{
    for (;;) {
        size_t skip = 0; /* blank lines before a request line are allowed */
        while (skip + 1 < c->len && c->buf[skip] == '\r' && c->buf[skip + 1] == '\n')
            skip += 2;
        if (skip) {
            memmove(c->buf, c->buf + skip, c->len - skip);
            c->len -= skip;
        }
        *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (*end)
            return 1;
        if (c->len == sizeof c->buf)
            return refuse(c, 431);
        ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return c->len ? -1 : 0;
        c->len += (size_t)n;
    }
}

/* An HTTP/1.1 client that asked for it waits for "100 Continue" before it sends the body. */
static int send_continue(const struct conn *c, const struct req *r)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    for (int i = 0; i < r->nhdr; i++)
        if (!r->http10 && strcasecmp(r->hdr[i].name, "expect") == 0 &&
            strcasecmp(r->hdr[i].value, "100-continue") == 0 &&
            send_all(c->fd, line, sizeof line - 1, NULL, 0) < 0)
            return -1;
    return 0;
}

/* Reads and drops the left bytes of a body that are not in c->buf; 1, or -1 when the client is
 * gone. */
static int drop_body(struct conn *c, const struct req *r, long long left)
{
    if (c->srv->expect_continue && send_continue(c, r) < 0)
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

/* Reads the whole body into r->body: the bytes already in c->buf after the head_len bytes of the
 * head, then the rest from the socket. 1, or -1 after refusing a body past BODY_MAX or when the
 * client is gone. */
static int keep_body(struct conn *c, struct req *r, size_t head_len)
{
    if (r->body_len > BODY_MAX)
        return refuse(c, 413);
    size_t n = (size_t)r->body_len, buffered = c->len - head_len;
    if (buffered > n)
        buffered = n;
    r->body = xmalloc(n + 1);
    memcpy(r->body, c->buf + head_len, buffered);
    c->used = head_len + buffered;
    if (buffered < n && c->srv->expect_continue && send_continue(c, r) < 0)
        goto fail;
    for (size_t got = buffered; got < n;) {
        ssize_t k = recv(c->fd, r->body + got, n - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            goto fail;
        got += (size_t)k;
    }
    r->body[n] = '\0';
    return 1;
fail:
    free(r->body);
    r->body = NULL;
    return -1;
}

/* Reads the next request into c->buf and drops its body, or keeps it (srv->keep_body). 1: a
 * request; 0: the client closed between requests; -1: close the connection (an error was answered
 * or the client is gone). */
static int read_request(struct conn *c, struct req *r)
{
    char *end;
    int rc = read_head(c, &end);
    if (rc <= 0)
        return rc;
    memset(r, 0, sizeof *r);
    size_t head_len = (size_t)(end - c->buf) + 4;
    *end = '\0';
    if (parse_head(c, r, c->buf) < 0)
        return -1;
    if (c->srv->keep_body)
        return keep_body(c, r, head_len);
    size_t buffered = c->len - head_len;
    if ((unsigned long long)r->body_len <= buffered) {
        c->used = head_len + (size_t)r->body_len;
        return 1;
    }
    c->used = c->len;
    return drop_body(c, r, r->body_len - (long long)buffered);
}

/* ---- connections ---- */

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
        int rc = c->srv->dispatch(c, &r);
        free(r.body);
        if (rc < 0 || !r.keep_alive)
            break;
        memmove(c->buf, c->buf + c->used, c->len - c->used);
        c->len -= c->used;
    }
    if (c->fd >= 0)
        close_gently(c->fd);
    free(c);
    return NULL;
}

/* What the accept thread serves; it owns this. */
struct listener {
    const struct testsrv *srv;
    int fd;
};

static void *accept_main(void *arg)
{
    struct listener l = *(struct listener *)arg;
    free(arg);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    for (;;) {
        int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                poll(NULL, 0, 10); /* out of descriptors: let some connections end */
            continue;
        }
        /* the origin's trickle and slow-headers must leave in the pieces they are written in */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = xmalloc(sizeof *c);
        c->srv = l.srv;
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

/* ---- the process ---- */

int testsrv_listen(const struct sockaddr_in *sa, const char *host, int *port)
{
    struct sockaddr_in bound = *sa;
    socklen_t len = sizeof bound;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (const struct sockaddr *)sa, sizeof *sa) < 0 ||
        listen(lfd, SOMAXCONN) < 0 || getsockname(lfd, (struct sockaddr *)&bound, &len) < 0) {
        int err = errno;
        fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", program_invocation_short_name, host,
                ntohs(sa->sin_port), strerror(err));
        if (lfd >= 0)
            close(lfd);
        return -1;
    }
    *port = ntohs(bound.sin_port);
    return lfd;
}

/* Written through a temporary file so that a reader never sees half of it. */
static int write_portfile(const char *portfile, int port)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", program_invocation_short_name, portfile,
                strerror(errno));
        return -1;
    }
    return 0;
}

int testsrv_run(const struct testsrv *srv, int lfd, int port, const char *portfile)
{
    /* SIGTERM and SIGINT are taken by sigwait below; every thread inherits the mask */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("%d\n", port);
    fflush(stdout);
    if (portfile && write_portfile(portfile, port) < 0)
        return 1;
    struct listener *l = xmalloc(sizeof *l);
    *l = (struct listener){srv, lfd};
    pthread_t t;
    if (pthread_create(&t, NULL, accept_main, l) != 0) {
        fprintf(stderr, "%s: cannot start the accept thread\n", program_invocation_short_name);
        free(l);
        return 1;
    }
    int sig;
    sigwait(&stop, &sig);
    return 0;
}
