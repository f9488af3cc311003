/* The plumbing the end-to-end tests' own servers share (tests/e2e/origin.c, tests/e2e/shop.c,
 * tests/e2e/sentryrx.c and tests/e2e/hookrx.c): allocation that aborts, a string builder, hit
 * counters, query parameters, and HTTP/1.1 on plain sockets with a thread per connection and
 * keep-alive. A server brings its answers as a struct testsrv. It is test infrastructure, linked
 * into those programs only.
 *
 * Parameters are borrowed; what xmalloc, xcalloc and the _dup functions return is the caller's to
 * free(). Running out of memory aborts after saying so on stderr. */
#ifndef TRAWL_TESTSRV_H
#define TRAWL_TESTSRV_H

#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define HEAD_MAX  65536     /* request line and headers */
#define HDRS_MAX  128       /* header lines in a request */
#define BODY_MAX  (8 << 20) /* a request body a keep_body server is given; larger ones get 413 */
#define TYPE_HTML "text/html; charset=utf-8"
#define TYPE_JSON "application/json"

/* ---- memory and text ---- */

/* Says "out of memory" on stderr, with the program's name, and aborts. */
_Noreturn void oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);

/* A growing NUL-terminated string; {0} is an empty one. */
struct sb {
    char *p;
    size_t len, cap;
};

void sb_add(struct sb *b, const void *s, size_t n);
void sb_puts(struct sb *b, const char *s);
__attribute__((format(printf, 2, 3))) void sb_printf(struct sb *b, const char *fmt, ...);
/* Adds s escaped for HTML text and double-quoted attributes (& < > "), and ' too when apos. */
void sb_put_html(struct sb *b, const char *s, bool apos);
/* The text so far; "" before the first add. */
const char *sb_str(const struct sb *b);
/* Frees the text and leaves an empty builder. */
void sb_release(struct sb *b);

/* A monotonic clock in milliseconds. */
long long now_ms(void);

/* jansson refuses strings that are not UTF-8; request bytes may be anything, so the copy has '?'
 * for every byte from 0x80 when s is not UTF-8. */
char *text_dup_for_json(const char *s);
/* The percent-decoded value of the query parameter name in q ("" when it has no '='), or NULL
 * when q has none. '+' stays a '+'; a malformed % stays as it is. */
char *query_dup(const char *q, const char *name);

/* ---- hit counters ---- */

/* How many requests a key got (a path, a flaky key). */
struct counter {
    struct counter *next;
    long long n;
    char key[];
};

/* A hash table of counters; initialise mu with PTHREAD_MUTEX_INITIALIZER and the rest with 0.
 * Readers that walk the buckets hold mu. */
#define COUNTER_BUCKETS 256
struct counters {
    pthread_mutex_t mu;
    struct counter *bucket[COUNTER_BUCKETS];
};

/* Adds d to key's count and returns the new count (d == 0 reads it without adding the key). */
long long counters_add(struct counters *t, const char *key, long long d);
/* Forgets every key. */
void counters_clear(struct counters *t);

/* ---- HTTP ---- */

struct hdr {
    char *name, *value;
};

/* A parsed request; its strings point into the connection's buffers. */
struct req {
    char *method, *target;
    char *path;        /* target without the query or scheme and host; NUL-terminated copy */
    const char *query; /* after the '?', or "" */
    struct hdr hdr[HDRS_MAX];
    int nhdr;
    long long body_len;
    /* The body_len bytes of the body and a NUL after them, when the server asked to keep bodies;
     * else NULL. Freed by the plumbing after dispatch returns. */
    char *body;
    bool head, http10, keep_alive;
    char err[160]; /* why the server refused a query parameter, for its 400 answer */
};

struct testsrv;

struct conn {
    const struct testsrv *srv;
    int fd;      /* -1 once a route closed it itself */
    size_t len;  /* bytes in buf */
    size_t used; /* bytes of buf the current request took (headers and buffered body) */
    char buf[HEAD_MAX];
    char path[HEAD_MAX];
};

/* What a server brings to the plumbing. */
struct testsrv {
    const char *server; /* the Server header of every response */
    /* Answers a request (its body is already read: dropped, or in r->body with keep_body); -1
     * closes the connection, as when the client is gone. */
    int (*dispatch)(struct conn *c, struct req *r);
    /* The HTML page for code, answered to requests refused before dispatch: 400, 431, 501, 505. */
    void (*status_page)(struct sb *b, int code);
    /* Answer "Expect: 100-continue" before reading a body that has not arrived yet. */
    bool expect_continue;
    /* Read request bodies into r->body (at most BODY_MAX bytes: a larger one is answered 413 and
     * the connection closed) instead of dropping them. */
    bool keep_body;
};

/* The reason phrase of an HTTP status code; "Unknown" for codes it does not know. */
const char *reason(int code);
/* Sends all of a then all of b; -1 when the client is gone. */
int send_all(int fd, const void *a, size_t alen, const void *b, size_t blen);
/* Adds the status line and headers of a response to h; len < 0 leaves Content-Length out, and so
 * do 204 and 304. extra: more header lines, each ending in CRLF, or NULL. */
void response_head(struct sb *h, const struct conn *c, const struct req *r, int code,
                   const char *ctype, const char *extra, long long len);
/* A whole response; the body is left out for HEAD, 204 and 304. -1 when the client is gone. */
int respond(struct conn *c, const struct req *r, int code, const char *ctype, const char *extra,
            const void *body, size_t len);
/* A 200 with j as compact JSON; takes j (it is decref'd here). */
int respond_json(struct conn *c, const struct req *r, json_t *j);
/* /__hits: {"path":P,"hits":N} for ?path=P, else an object of every key's count in hits. */
int respond_hits(struct conn *c, const struct req *r, struct counters *hits);

/* Listens on sa (port 0: a free one) and sets *port to the port it got. The listening socket, or
 * -1 after saying why on stderr (host is sa's address as the user wrote it, for that message). */
int testsrv_listen(const struct sockaddr_in *sa, const char *host, int *port);
/* Says port on stdout and, when portfile is not NULL, in that file (through portfile.tmp), then
 * serves srv on lfd from other threads until SIGTERM or SIGINT: 0 then, 1 after saying on stderr
 * why it could not start. SIGPIPE is ignored from here on. */
int testsrv_run(const struct testsrv *srv, int lfd, int port, const char *portfile);

#endif
