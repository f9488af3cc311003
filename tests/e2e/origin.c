/* The origin server trawl's end-to-end tests and benchmarks fetch from: HTTP/1.1 on plain sockets,
 * a thread per connection (tests/e2e/testsrv.c, shared with the shop), and routes that stall,
 * trickle, reset, lie about lengths, send bombs and redirect on purpose, precisely and repeatably.
 * It counts the requests each path got.
 *
 * The routes are in the table `routes` below, each with a line of help that `origin --help`
 * prints. Query parameters are matched by exact name and percent-decoded (`+` stays a `+`); a
 * number that does not parse or is out of range gets a 400 that says which. Every route answers
 * any method (HEAD without the body); request bodies with a Content-Length are read and dropped,
 * chunked request bodies get a 501. /__hits and /__reset are not counted. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define PAGE_MAX    (64LL << 20)  /* /page?size= */
#define BOMB_MB_MAX 16384         /* /gzip-bomb?mb= */
#define WAIT_MS_MAX 3600000LL     /* any ?ms= or ?interval_ms= */
#define BIG_MAX     (1LL << 40)   /* /big?bytes= and /trickle?bytes= */
#define UNIT        64            /* one filler paragraph */
#define BLOCK       (1024 * UNIT) /* 64 KiB of filler paragraphs */

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

/* Sets o[key] = a string of val, both made UTF-8 first (json_object_set_new steals the value). */
static void set_str(json_t *o, const char *key, const char *val)
{
    char *k = text_dup_for_json(key), *v = text_dup_for_json(val);
    json_object_set_new(o, k, json_string(v));
    free(k);
    free(v);
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

/* A small page for the status code. */
static void status_page(struct sb *b, int code)
{
    sb_printf(b,
              "<!DOCTYPE html>\n<html><head><title>%d %s</title></head>"
              "<body><h1>%d %s</h1></body></html>\n",
              code, reason(code), code, reason(code));
}

/* The status code's page, or body verbatim when it is not NULL. */
static int respond_status(struct conn *c, const struct req *r, int code, const char *extra,
                          const char *body)
{
    struct sb b = {0};
    if (body)
        sb_puts(&b, body);
    else
        status_page(&b, code);
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
    sb_put_html(&e, id, true);
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
    response_head(&h, c, r, 200, TYPE_HTML, NULL, (long long)strlen(body));
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
    response_head(&h, c, r, 200, TYPE_HTML, NULL, n);
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
    response_head(&h, c, r, 200, TYPE_HTML, r->http10 ? NULL : "Transfer-Encoding: chunked\r\n",
                  -1);
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
    response_head(&h, c, r, 200, TYPE_HTML, NULL, 100000);
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
    response_head(&h, c, r, 200, TYPE_HTML, NULL, n);
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

/* A page of n empty <br> tags after a title: more nodes than any real page has, in few bytes. */
static int route_tags(struct conn *c, struct req *r)
{
    long long n;
    if (query_num(r, "n", 1000, 0, 100000000, &n) < 0)
        return respond_bad(c, r);
    static const char pre[] = "<!DOCTYPE html>\n<html><head><title>tags</title></head><body>";
    static char brs[4 * 16384];
    for (size_t i = 0; i < sizeof brs; i += 4)
        memcpy(brs + i, "<br>", 4);
    struct sb h = {0};
    response_head(&h, c, r, 200, TYPE_HTML, NULL, (long long)(sizeof pre - 1) + 4 * n);
    int rc = send_all(c->fd, h.p, h.len, NULL, 0);
    sb_release(&h);
    if (r->head || rc < 0)
        return rc;
    rc = send_all(c->fd, pre, sizeof pre - 1, NULL, 0);
    for (long long left = n; rc == 0 && left > 0;) {
        long long k = left < 16384 ? left : 16384;
        rc = send_all(c->fd, brs, (size_t)(4 * k), NULL, 0);
        left -= k;
    }
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
    return respond_hits(c, r, &hits_);
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
    {"/tags", false, route_tags, "?n=1000  a page of n <br> tags"},
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

static const struct testsrv origin_ = {
    .server = "trawl-origin",
    .dispatch = dispatch,
    .status_page = status_page,
    .expect_continue = true,
};

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

    int bound;
    int lfd = testsrv_listen(&sa, host, &bound);
    if (lfd < 0)
        return 1;
    return testsrv_run(&origin_, lfd, bound, portfile);
}
