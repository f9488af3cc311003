/* The receiver trawl's feed-import tests and benchmarks deliver products to: Standard Webhooks
 * deliveries at POST /hook, whose signature it checks with libcrypto directly (not with trawl's
 * code, so a bug there cannot hide itself), de-duplicated by webhook-id as a real receiver would.
 * It remembers every accepted delivery and the set of product numbers (a bitmap, so ten million
 * of them stay small), answers what it saw at GET /received, and misbehaves on request (slow,
 * 429, 500, 503, down) so retries and backoff can be tested.
 *
 * HTTP/1.1 on plain sockets, a thread per connection, keep-alive (tests/e2e/testsrv.c). The
 * routes are listed in usage_ below. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <yajl/yajl_parse.h>

#define DELAY_MS_MAX     600000LL
#define MODE_N_MAX       1000000000LL
#define RETRY_AFTER_MAX  86400LL
#define NUMBER_MAX       100000000LL /* the bitmap is at most 12.5 MB */
#define LIST_NUMBERS_MAX 1000000LL   /* numbers GET /received?numbers=1 lists */
#define SKEW_S           300         /* how far webhook-timestamp may be from now */
#define ID_MAX           255         /* bytes of a webhook-id */
#define KEY_MAX          1024        /* bytes of the HMAC key */
#define SIG_LEN          47          /* "v1," and the base64 of 32 bytes */

enum mode { MODE_OK, MODE_SLOW, MODE_429, MODE_500, MODE_503, MODE_DOWN };

static const char *const mode_names_[] = {"ok", "slow", "429", "500", "503", "down"};
#define NMODES ((int)(sizeof mode_names_ / sizeof mode_names_[0]))

/* One accepted delivery; the strings are owned by it. */
struct delivery {
    char *id;        /* the webhook-id as received */
    char *import_id; /* the body's import_id */
    long long batch, products;
};

/* What was received and how to misbehave, under mu_. Test infrastructure, so globals; key_ is
 * written once in main before the first thread starts. */
struct state {
    long long requests;       /* POST /hook, refused ones too */
    long long duplicates;     /* deliveries with a webhook-id already accepted */
    long long dup_mismatch;   /* of those, how many differ from the first in import_id, batch or
                                 number of products */
    long long bad_signatures; /* refused 401: webhook-* headers missing, stale or not matching */
    long long malformed;      /* refused 400 or 415: the body is not an import batch */
    long long misbehaved;     /* answered 429, 500 or 503 or closed by the mode */
    long long dup_products;   /* product numbers received again under another webhook-id */
    long long repeated;       /* product numbers repeated within one delivery */
    /* the accepted deliveries in arrival order */
    struct delivery *deliv;
    size_t ndeliv, capdeliv;
    /* the webhook-ids of deliv: an open-addressing table of index + 1 (0: empty) */
    size_t *slots;
    size_t nslots; /* a power of two, or 0 */
    /* the distinct product numbers */
    uint64_t *bits;
    size_t nwords;
    long long distinct, min, max;
    /* the misbehaviour */
    enum mode mode;
    long long left;        /* requests the mode still applies to; -1: until changed */
    long long delay_ms;    /* MODE_SLOW */
    long long after;       /* requests still answered as in ok mode before the mode applies */
    long long retry_after; /* seconds for Retry-After in 429 and 503 modes; -1: no header */
};

#define STATE_INIT                                                                                 \
    {                                                                                              \
        .left = -1, .delay_ms = 1000, .retry_after = -1, .min = -1, .max = -1                      \
    }

static pthread_mutex_t mu_ = PTHREAD_MUTEX_INITIALIZER;
static struct state rx_ = STATE_INIT;

static unsigned char key_[KEY_MAX]; /* the HMAC key: --secret, decoded when it is whsec_ */
static int key_len_;

static void status_page(struct sb *b, int code)
{
    sb_printf(b, "<!DOCTYPE html>\n<html><head><title>%d %s</title></head></html>\n", code,
              reason(code));
}

/* A JSON error {"detail": "..."} with code; also said on stderr, so a failing test's log shows
 * why a delivery was refused. */
__attribute__((format(printf, 5, 6))) static int
refuse_json(struct conn *c, const struct req *r, int code, const char *extra, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "hookrx: %s %s: %d %s\n", r->method, r->path, code, msg);
    char *m = text_dup_for_json(msg);
    json_t *j = json_pack("{s:s}", "detail", m);
    free(m);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        oom();
    int rc = respond(c, r, code, TYPE_JSON, extra, s, strlen(s));
    free(s);
    return rc;
}

static const char *header(const struct req *r, const char *name)
{
    for (int i = 0; i < r->nhdr; i++)
        if (strcasecmp(r->hdr[i].name, name) == 0)
            return r->hdr[i].value;
    return NULL;
}

static void sleep_ms(long long ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void count(long long *counter)
{
    pthread_mutex_lock(&mu_);
    (*counter)++;
    pthread_mutex_unlock(&mu_);
}

/* ---- the webhook-ids seen ---- */

static size_t id_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

/* The index in rx_.deliv of the delivery with webhook-id id, or -1; under mu_. */
static long long id_find(const char *id)
{
    if (!rx_.nslots)
        return -1;
    for (size_t i = id_hash(id) & (rx_.nslots - 1);; i = (i + 1) & (rx_.nslots - 1)) {
        size_t s = rx_.slots[i];
        if (!s)
            return -1;
        if (strcmp(rx_.deliv[s - 1].id, id) == 0)
            return (long long)(s - 1);
    }
}

static void id_put(size_t *slots, size_t nslots, size_t index)
{
    size_t i = id_hash(rx_.deliv[index].id) & (nslots - 1);
    while (slots[i])
        i = (i + 1) & (nslots - 1);
    slots[i] = index + 1;
}

/* Appends d to the deliveries and its id to the table (it takes d's strings); under mu_. */
static void delivery_add(struct delivery d)
{
    if (rx_.ndeliv == rx_.capdeliv) {
        rx_.capdeliv = rx_.capdeliv ? rx_.capdeliv * 2 : 1024;
        struct delivery *p = realloc(rx_.deliv, rx_.capdeliv * sizeof *p);
        if (!p)
            oom();
        rx_.deliv = p;
    }
    rx_.deliv[rx_.ndeliv++] = d;
    /* at most half full, so probes stay short */
    if (rx_.ndeliv * 2 > rx_.nslots) {
        size_t n = rx_.nslots ? rx_.nslots * 2 : 2048;
        size_t *slots = xcalloc(n, sizeof *slots);
        for (size_t i = 0; i + 1 < rx_.ndeliv; i++)
            id_put(slots, n, i);
        free(rx_.slots);
        rx_.slots = slots;
        rx_.nslots = n;
    }
    id_put(rx_.slots, rx_.nslots, rx_.ndeliv - 1);
}

/* ---- the product numbers seen ---- */

/* Sets the bit of n; whether it was set before. Under mu_. */
static bool number_add(long long n)
{
    size_t w = (size_t)n / 64;
    if (w >= rx_.nwords) {
        size_t words = rx_.nwords ? rx_.nwords : 1024;
        while (words <= w)
            words *= 2;
        uint64_t *p = realloc(rx_.bits, words * sizeof *p);
        if (!p)
            oom();
        memset(p + rx_.nwords, 0, (words - rx_.nwords) * sizeof *p);
        rx_.bits = p;
        rx_.nwords = words;
    }
    uint64_t bit = (uint64_t)1 << ((size_t)n % 64);
    if (rx_.bits[w] & bit)
        return true;
    rx_.bits[w] |= bit;
    rx_.distinct++;
    if (rx_.min < 0 || n < rx_.min)
        rx_.min = n;
    if (n > rx_.max)
        rx_.max = n;
    return false;
}

/* ---- POST /hook ---- */

/* Counts a delivery and applies the misbehaviour mode: 1 when it answered (429, 500 or 503) and
 * the delivery is not accepted, 0 to go on (after sleeping in slow mode), -1 to close the
 * connection (down mode, or the client is gone). */
static int misbehave(struct conn *c, const struct req *r)
{
    pthread_mutex_lock(&mu_);
    rx_.requests++;
    enum mode m = rx_.mode;
    long long delay = rx_.delay_ms, retry_after = rx_.retry_after;
    if (rx_.after > 0) {
        rx_.after--;
        m = MODE_OK;
    } else if (m != MODE_OK && rx_.left > 0 && --rx_.left == 0) {
        rx_.mode = MODE_OK;
        rx_.left = -1;
    }
    if (m != MODE_OK && m != MODE_SLOW)
        rx_.misbehaved++;
    pthread_mutex_unlock(&mu_);
    char extra[64] = "";
    if (retry_after >= 0)
        snprintf(extra, sizeof extra, "Retry-After: %lld\r\n", retry_after);
    int rc = 0;
    switch (m) {
    case MODE_OK:
        return 0;
    case MODE_SLOW:
        sleep_ms(delay);
        return 0;
    case MODE_429:
        rc = refuse_json(c, r, 429, extra, "rate limited (mode 429)");
        break;
    case MODE_500:
        rc = refuse_json(c, r, 500, NULL, "internal error (mode 500)");
        break;
    case MODE_503:
        rc = refuse_json(c, r, 503, extra, "unavailable (mode 503)");
        break;
    case MODE_DOWN:
        fprintf(stderr, "hookrx: %s %s: closed without an answer (mode down)\n", r->method,
                r->path);
        return -1;
    }
    return rc < 0 ? -1 : 1;
}

/* "v1," + base64 of HMAC-SHA256(key_, id "." ts "." body), as the Standard Webhooks spec says. */
static void expected_signature(const char *id, const char *ts, const char *body, size_t len,
                               char out[SIG_LEN + 1])
{
    struct sb msg = {0};
    sb_printf(&msg, "%s.%s.", id, ts);
    sb_add(&msg, body, len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdn = 0;
    if (!HMAC(EVP_sha256(), key_, key_len_, (const unsigned char *)msg.p, msg.len, md, &mdn) ||
        mdn != 32)
        oom();
    sb_release(&msg);
    memcpy(out, "v1,", 3);
    EVP_EncodeBlock((unsigned char *)out + 3, md, (int)mdn);
}

/* Checks the webhook-* headers of r: 0, or -1 with why set. */
static int verify(const struct req *r, char *why, size_t cap)
{
    const char *id = header(r, "webhook-id"), *ts = header(r, "webhook-timestamp");
    const char *sig = header(r, "webhook-signature");
    if (!id || !ts || !sig) {
        snprintf(why, cap, "missing %s",
                 !id   ? "webhook-id"
                 : !ts ? "webhook-timestamp"
                       : "webhook-signature");
        return -1;
    }
    size_t idn = strlen(id);
    bool printable = idn > 0 && idn <= ID_MAX;
    for (const char *p = id; printable && *p; p++)
        printable = *p > 0x20 && *p < 0x7f;
    if (!printable) {
        snprintf(why, cap, "webhook-id is not 1 to %d printable ASCII characters", ID_MAX);
        return -1;
    }
    size_t tsn = strlen(ts);
    if (tsn == 0 || tsn > 18 || strspn(ts, "0123456789") != tsn) {
        snprintf(why, cap, "webhook-timestamp %.40s is not seconds since the epoch", ts);
        return -1;
    }
    long long skew = strtoll(ts, NULL, 10) - (long long)time(NULL);
    if (skew > SKEW_S || skew < -SKEW_S) {
        snprintf(why, cap, "webhook-timestamp %s is %lld seconds %s now (at most %d allowed)", ts,
                 skew < 0 ? -skew : skew, skew < 0 ? "before" : "after", SKEW_S);
        return -1;
    }
    char want[SIG_LEN + 1];
    expected_signature(id, ts, r->body, (size_t)r->body_len, want);
    int given = 0, v1 = 0;
    for (const char *p = sig + strspn(sig, " "); *p; p += strspn(p, " ")) {
        size_t n = strcspn(p, " ");
        given++;
        if (n > 3 && strncmp(p, "v1,", 3) == 0)
            v1++;
        if (n == SIG_LEN && CRYPTO_memcmp(p, want, SIG_LEN) == 0)
            return 0;
        p += n;
    }
    if (v1 == 0)
        snprintf(why, cap, "webhook-signature has no v1 signature (%d given)", given);
    else
        snprintf(why, cap, "no webhook-signature matches id.timestamp.body (%d v1 given)", v1);
    return -1;
}

/* An import batch as parsed from a body: the product numbers sorted and each once. */
struct batch {
    char *import_id;
    long long batch, products, repeated;
    long long *nums;
    size_t n;
};

static void batch_release(struct batch *b)
{
    free(b->import_id);
    free(b->nums);
    memset(b, 0, sizeof *b);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The state of parsing one body with yajl's callbacks: the containers open (lvl: 1 inside the
 * top object, 2 inside products, 3 inside one product), where the parse is, and the first error. */
enum top_key { KEY_TYPE, KEY_IMPORT_ID, KEY_BATCH, KEY_PRODUCTS, KEY_OTHER };
static const char *const top_keys_[] = {"type", "import_id", "batch", "products"};

struct sax {
    struct batch *b;
    int lvl;
    enum top_key key;  /* the member of the top object whose value comes next */
    bool seen[4];      /* which of top_keys_ the body had */
    bool in_products;  /* lvl 2 is the products array */
    bool in_product;   /* lvl 3 is a product */
    bool number_next;  /* the value that comes next is the product's number */
    bool have_number;  /* the product had its number */
    size_t index, cap; /* the product's index; the capacity of b->nums */
    char *why;
    size_t why_cap;
};

/* Says why in s->why and returns 0, which makes yajl stop. */
__attribute__((format(printf, 2, 3))) static int sax_fail(struct sax *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, s->why_cap, fmt, ap);
    va_end(ap);
    return 0;
}

enum kind { KIND_SCALAR, KIND_INT, KIND_STR, KIND_MAP, KIND_ARRAY };

/* A value at s->lvl (a map or array before it opens): 1, or 0 after sax_fail. */
static int sax_value(struct sax *s, enum kind k, long long v, const unsigned char *str, size_t len)
{
    struct batch *b = s->b;
    if (s->lvl == 0)
        return k == KIND_MAP ? 1 : sax_fail(s, "body is not a json object");
    if (s->lvl == 1) {
        switch (s->key) {
        case KEY_TYPE:
            if (k != KIND_STR || len != 15 || memcmp(str, "import.products", 15) != 0)
                return sax_fail(s, "type is not \"import.products\"");
            break;
        case KEY_IMPORT_ID:
            if (k != KIND_STR || len == 0)
                return sax_fail(s, "import_id is not a non-empty string");
            if (!(b->import_id = strndup((const char *)str, len)))
                oom();
            break;
        case KEY_BATCH:
            if (k != KIND_INT || v < 0)
                return sax_fail(s, "batch is not an integer from 0");
            b->batch = v;
            break;
        case KEY_PRODUCTS:
            if (k != KIND_ARRAY)
                return sax_fail(s, "products is not an array");
            s->in_products = true;
            break;
        case KEY_OTHER:
            break;
        }
        return 1;
    }
    if (s->lvl == 2 && s->in_products) {
        if (k != KIND_MAP)
            return sax_fail(s, "products[%zu] is not an object", s->index);
        s->in_product = true;
        s->have_number = false;
        return 1;
    }
    if (s->lvl == 3 && s->in_product && s->number_next) {
        s->number_next = false;
        if (k != KIND_INT || v < 0 || v > NUMBER_MAX)
            return sax_fail(s, "products[%zu].number is not an integer from 0 to %lld", s->index,
                            NUMBER_MAX);
        if (b->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 512;
            long long *p = realloc(b->nums, s->cap * sizeof *p);
            if (!p)
                oom();
            b->nums = p;
        }
        b->nums[b->n++] = v;
        s->have_number = true;
    }
    return 1;
}

static int sax_null(void *ctx)
{
    return sax_value(ctx, KIND_SCALAR, 0, NULL, 0);
}

static int sax_bool(void *ctx, int v)
{
    (void)v;
    return sax_value(ctx, KIND_SCALAR, 0, NULL, 0);
}

static int sax_int(void *ctx, long long v)
{
    return sax_value(ctx, KIND_INT, v, NULL, 0);
}

static int sax_double(void *ctx, double v)
{
    (void)v;
    return sax_value(ctx, KIND_SCALAR, 0, NULL, 0);
}

static int sax_string(void *ctx, const unsigned char *str, size_t len)
{
    return sax_value(ctx, KIND_STR, 0, str, len);
}

static int sax_start_map(void *ctx)
{
    struct sax *s = ctx;
    if (!sax_value(s, KIND_MAP, 0, NULL, 0))
        return 0;
    s->lvl++;
    return 1;
}

static int sax_key(void *ctx, const unsigned char *key, size_t len)
{
    struct sax *s = ctx;
    if (s->lvl == 1) {
        s->key = KEY_OTHER;
        for (int i = 0; i < (int)(sizeof top_keys_ / sizeof top_keys_[0]); i++)
            if (strlen(top_keys_[i]) == len && memcmp(key, top_keys_[i], len) == 0) {
                if (s->seen[i])
                    return sax_fail(s, "the body has %s twice", top_keys_[i]);
                s->seen[i] = true;
                s->key = (enum top_key)i;
            }
    } else if (s->lvl == 3 && s->in_product) {
        s->number_next = len == 6 && memcmp(key, "number", 6) == 0;
        if (s->number_next && s->have_number)
            return sax_fail(s, "products[%zu] has number twice", s->index);
    }
    return 1;
}

static int sax_end_map(void *ctx)
{
    struct sax *s = ctx;
    if (s->lvl == 3 && s->in_product) {
        if (!s->have_number)
            return sax_fail(s, "products[%zu] has no number", s->index);
        s->in_product = false;
        s->index++;
    }
    s->lvl--;
    return 1;
}

static int sax_start_array(void *ctx)
{
    struct sax *s = ctx;
    if (!sax_value(s, KIND_ARRAY, 0, NULL, 0))
        return 0;
    s->lvl++;
    return 1;
}

static int sax_end_array(void *ctx)
{
    struct sax *s = ctx;
    if (s->lvl == 2 && s->in_products)
        s->in_products = false;
    s->lvl--;
    return 1;
}

static const yajl_callbacks sax_callbacks_ = {
    .yajl_null = sax_null,
    .yajl_boolean = sax_bool,
    .yajl_integer = sax_int,
    .yajl_double = sax_double,
    .yajl_string = sax_string,
    .yajl_start_map = sax_start_map,
    .yajl_map_key = sax_key,
    .yajl_end_map = sax_end_map,
    .yajl_start_array = sax_start_array,
    .yajl_end_array = sax_end_array,
};

/* Parses {"type":"import.products","import_id":S,"batch":K,"products":[{"number":N,...},...]}
 * into b: 0, or -1 with why set. With yajl's callbacks rather than a jansson tree: a 500-product
 * body of 150 KB takes 0.15 ms so, 2 ms as a tree, and a benchmark's receiver must not be what
 * it measures. */
static int batch_parse(const char *body, size_t len, struct batch *b, char *why, size_t cap)
{
    memset(b, 0, sizeof *b);
    struct sax s = {.b = b, .why = why, .why_cap = cap};
    why[0] = '\0';
    yajl_handle h = yajl_alloc(&sax_callbacks_, NULL, &s);
    if (!h)
        oom();
    yajl_status st = yajl_parse(h, (const unsigned char *)body, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    if (st == yajl_status_error) {
        unsigned char *e = yajl_get_error(h, 0, (const unsigned char *)body, len);
        snprintf(why, cap, "body is not json: %s", e ? (const char *)e : "?");
        if (e)
            yajl_free_error(h, e);
        /* yajl's message ends in a newline */
        for (size_t n = strlen(why); n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' ');)
            why[--n] = '\0';
    }
    yajl_free(h);
    for (int i = 0; st == yajl_status_ok && i < (int)(sizeof top_keys_ / sizeof top_keys_[0]); i++)
        if (!s.seen[i]) {
            snprintf(why, cap, "the body has no %s", top_keys_[i]);
            st = yajl_status_error;
        }
    if (st != yajl_status_ok) {
        batch_release(b);
        return -1;
    }
    size_t n = b->n, k = 0;
    if (n > 1)
        qsort(b->nums, n, sizeof *b->nums, cmp_ll);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || b->nums[k - 1] != b->nums[i])
            b->nums[k++] = b->nums[i];
    b->n = k;
    b->products = (long long)n;
    b->repeated = (long long)(n - k);
    return 0;
}

static int route_hook(struct conn *c, struct req *r)
{
    int rc = misbehave(c, r);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    char why[400];
    if (verify(r, why, sizeof why) < 0) {
        count(&rx_.bad_signatures);
        return refuse_json(c, r, 401, NULL, "%s", why);
    }
    const char *ctype = header(r, "content-type");
    if (!ctype || strncasecmp(ctype, TYPE_JSON, strlen(TYPE_JSON)) != 0 ||
        (ctype[strlen(TYPE_JSON)] && ctype[strlen(TYPE_JSON)] != ';')) {
        count(&rx_.malformed);
        return refuse_json(c, r, 415, NULL, "content-type %.80s is not application/json",
                           ctype ? ctype : "missing");
    }
    struct batch b;
    if (batch_parse(r->body, (size_t)r->body_len, &b, why, sizeof why) < 0) {
        count(&rx_.malformed);
        return refuse_json(c, r, 400, NULL, "%s", why);
    }
    const char *id = header(r, "webhook-id");
    pthread_mutex_lock(&mu_);
    long long known = id_find(id);
    if (known >= 0) {
        const struct delivery *d = &rx_.deliv[known];
        rx_.duplicates++;
        if (d->batch != b.batch || d->products != b.products || strcmp(d->import_id, b.import_id))
            rx_.dup_mismatch++;
    } else {
        char *idc = strdup(id);
        if (!idc)
            oom();
        delivery_add((struct delivery){idc, b.import_id, b.batch, b.products});
        b.import_id = NULL; /* the delivery has it */
        for (size_t i = 0; i < b.n; i++)
            if (number_add(b.nums[i]))
                rx_.dup_products++;
        rx_.repeated += b.repeated;
    }
    pthread_mutex_unlock(&mu_);
    batch_release(&b);
    return respond_json(c, r, json_pack("{s:b,s:b}", "ok", 1, "duplicate", known >= 0));
}

/* ---- control ---- */

static json_t *mode_json(void)
{
    json_t *j =
        json_pack("{s:s,s:I,s:I,s:I}", "mode", mode_names_[rx_.mode], "count", (json_int_t)rx_.left,
                  "delay_ms", (json_int_t)rx_.delay_ms, "after", (json_int_t)rx_.after);
    /* json_object_set_new steals the new value */
    json_object_set_new(j, "retry_after",
                        rx_.retry_after >= 0 ? json_integer(rx_.retry_after) : json_null());
    return j;
}

/* *out = the flag parameter name (absent: false); -1 after answering 400 when it is not 0 or 1. */
static int query_flag(struct conn *c, struct req *r, const char *name, bool def, bool *out)
{
    char *v = query_dup(r->query, name);
    *out = def;
    if (!v)
        return 0;
    bool one = strcmp(v, "1") == 0 || strcmp(v, "true") == 0 || !*v;
    bool zero = strcmp(v, "0") == 0 || strcmp(v, "false") == 0;
    free(v);
    if (!one && !zero) {
        refuse_json(c, r, 400, NULL, "bad query parameter %s: want 1 or 0", name);
        return -1;
    }
    *out = one;
    return 0;
}

static int route_received(struct conn *c, struct req *r)
{
    bool numbers, deliveries;
    if (query_flag(c, r, "numbers", false, &numbers) < 0 ||
        query_flag(c, r, "deliveries", true, &deliveries) < 0)
        return 0;
    pthread_mutex_lock(&mu_);
    if (numbers && rx_.distinct > LIST_NUMBERS_MAX) {
        long long n = rx_.distinct;
        pthread_mutex_unlock(&mu_);
        return refuse_json(c, r, 400, NULL, "numbers=1: too large (%lld numbers, at most %lld)", n,
                           LIST_NUMBERS_MAX);
    }
    json_t *j = json_object();
    /* json_object_set_new steals each value */
    json_object_set_new(j, "requests", json_integer(rx_.requests));
    json_object_set_new(j, "accepted", json_integer((json_int_t)rx_.ndeliv));
    json_object_set_new(j, "duplicates", json_integer(rx_.duplicates));
    json_object_set_new(j, "duplicates_mismatched", json_integer(rx_.dup_mismatch));
    json_object_set_new(j, "products", json_integer(rx_.distinct));
    json_object_set_new(j, "dup_products", json_integer(rx_.dup_products));
    json_object_set_new(j, "repeated_in_delivery", json_integer(rx_.repeated));
    json_object_set_new(j, "bad_signatures", json_integer(rx_.bad_signatures));
    json_object_set_new(j, "malformed", json_integer(rx_.malformed));
    json_object_set_new(j, "misbehaved", json_integer(rx_.misbehaved));
    json_object_set_new(j, "numbers_min", rx_.min >= 0 ? json_integer(rx_.min) : json_null());
    json_object_set_new(j, "numbers_max", rx_.max >= 0 ? json_integer(rx_.max) : json_null());
    json_object_set_new(j, "mode", mode_json());
    if (deliveries) {
        json_t *a = json_array();
        for (size_t i = 0; i < rx_.ndeliv; i++) {
            const struct delivery *d = &rx_.deliv[i];
            json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:I}", "id", d->id, "import_id",
                                               d->import_id, "batch", (json_int_t)d->batch,
                                               "products", (json_int_t)d->products));
        }
        json_object_set_new(j, "deliveries", a);
    }
    if (numbers) {
        json_t *a = json_array();
        for (size_t w = 0; w < rx_.nwords; w++)
            for (uint64_t bits = rx_.bits[w]; bits; bits &= bits - 1)
                json_array_append_new(
                    a, json_integer((json_int_t)(w * 64 + (size_t)__builtin_ctzll(bits))));
        json_object_set_new(j, "numbers", a);
    }
    pthread_mutex_unlock(&mu_);
    return respond_json(c, r, j);
}

static int route_reset(struct conn *c, struct req *r)
{
    pthread_mutex_lock(&mu_);
    for (size_t i = 0; i < rx_.ndeliv; i++) {
        free(rx_.deliv[i].id);
        free(rx_.deliv[i].import_id);
    }
    free(rx_.deliv);
    free(rx_.slots);
    free(rx_.bits);
    rx_ = (struct state)STATE_INIT;
    pthread_mutex_unlock(&mu_);
    return respond_json(c, r, json_pack("{s:b}", "ok", 1));
}

/* *out = the integer member name of o, or def when absent; -1 with why set when it is not an
 * integer from lo to hi (or -1 when minus_one). */
static int member_num(const json_t *o, const char *name, long long def, long long lo, long long hi,
                      bool minus_one, long long *out, char *why, size_t cap)
{
    json_t *v = json_object_get(o, name);
    *out = def;
    if (!v)
        return 0;
    long long n = json_is_integer(v) ? (long long)json_integer_value(v) : lo - 1;
    if ((n < lo || n > hi) && !(minus_one && n == -1)) {
        snprintf(why, cap, "%s is not an integer from %lld to %lld%s", name, lo, hi,
                 minus_one ? " or -1" : "");
        return -1;
    }
    *out = n;
    return 0;
}

static int route_mode_set(struct conn *c, struct req *r)
{
    json_error_t je;
    json_t *j = json_loadb(r->body, (size_t)r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        return refuse_json(c, r, 400, NULL, "body is not a json object");
    }
    char why[200] = "";
    const char *name = json_string_value(json_object_get(j, "mode"));
    int m = -1;
    for (int i = 0; name && i < NMODES; i++)
        if (strcmp(name, mode_names_[i]) == 0)
            m = i;
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        if (strcmp(k, "mode") && strcmp(k, "count") && strcmp(k, "delay_ms") &&
            strcmp(k, "after") && strcmp(k, "retry_after")) {
            char *kk = text_dup_for_json(k);
            snprintf(why, sizeof why, "unknown member %.60s", kk);
            free(kk);
        }
    }
    long long n = -1, delay = 1000, after = 0, retry_after = -1;
    if (!why[0] && m < 0)
        snprintf(why, sizeof why, "mode is not ok, slow, 429, 500, 503 or down");
    /* each stops at the first bad member: why is set then */
    if (!why[0] && member_num(j, "count", -1, 1, MODE_N_MAX, true, &n, why, sizeof why) == 0 &&
        member_num(j, "delay_ms", 1000, 0, DELAY_MS_MAX, false, &delay, why, sizeof why) == 0 &&
        member_num(j, "after", 0, 0, MODE_N_MAX, false, &after, why, sizeof why) == 0)
        member_num(j, "retry_after", -1, 0, RETRY_AFTER_MAX, true, &retry_after, why, sizeof why);
    json_decref(j);
    if (why[0])
        return refuse_json(c, r, 400, NULL, "%s", why);
    pthread_mutex_lock(&mu_);
    rx_.mode = (enum mode)m;
    rx_.left = m == MODE_OK ? -1 : n;
    rx_.delay_ms = delay;
    rx_.after = after;
    rx_.retry_after = retry_after;
    json_t *answer = mode_json();
    pthread_mutex_unlock(&mu_);
    return respond_json(c, r, answer);
}

static int route_mode_get(struct conn *c, struct req *r)
{
    pthread_mutex_lock(&mu_);
    json_t *answer = mode_json();
    pthread_mutex_unlock(&mu_);
    return respond_json(c, r, answer);
}

/* ---- dispatch ---- */

static int dispatch(struct conn *c, struct req *r)
{
    bool post = strcmp(r->method, "POST") == 0;
    bool get = strcmp(r->method, "GET") == 0 || r->head;
    if (strcmp(r->path, "/hook") == 0)
        return post ? route_hook(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    if (strcmp(r->path, "/received") == 0)
        return get ? route_received(c, r)
                   : refuse_json(c, r, 405, "Allow: GET, HEAD\r\n", "method not allowed");
    if (strcmp(r->path, "/mode") == 0)
        return post  ? route_mode_set(c, r)
               : get ? route_mode_get(c, r)
                     : refuse_json(c, r, 405, "Allow: GET, HEAD, POST\r\n", "method not allowed");
    if (strcmp(r->path, "/reset") == 0)
        return post ? route_reset(c, r)
                    : refuse_json(c, r, 405, "Allow: POST\r\n", "method not allowed");
    return refuse_json(c, r, 404, NULL, "no such route");
}

static const struct testsrv hookrx_ = {
    .server = "trawl-hookrx",
    .dispatch = dispatch,
    .status_page = status_page,
    .expect_continue = true,
    .keep_body = true,
};

static const char usage_[] =
    "usage: hookrx --secret SECRET [--port N] [--port-file PATH] [--host ADDR]\n"
    "  --secret S        the signing secret: its bytes are the HMAC key, or, for whsec_<base64>,\n"
    "                    the bytes the base64 decodes to (required)\n"
    "  --port N          port to listen on (default 0: a free one; printed on stdout)\n"
    "  --port-file PATH  write the port there (through PATH.tmp) once listening (or --portfile)\n"
    "  --host ADDR       IPv4 address to listen on (default 127.0.0.2)\n"
    "routes:\n"
    "  POST /hook      a Standard Webhooks delivery of an import batch. 401 {\"detail\":why} unless\n"
    "                  webhook-id (1 to 255 printable ASCII), webhook-timestamp (seconds since\n"
    "                  the epoch, within 300 of now) and webhook-signature (space-separated, one\n"
    "                  of them v1,base64(HMAC-SHA256(key, id.timestamp.body))) check out; 415\n"
    "                  unless Content-Type: application/json; 400 unless the body is\n"
    "                  {\"type\":\"import.products\",\"import_id\":S,\"batch\":K,\n"
    "                   \"products\":[{\"number\":N,...},...]} with N from 0 to 100000000.\n"
    "                  Else 200 {\"ok\":true,\"duplicate\":D}: a webhook-id seen before is a\n"
    "                  duplicate and its products are not counted again\n"
    "  GET  /received  {\"requests\" (POST /hook, refused ones too), \"accepted\" (distinct\n"
    "                  webhook-ids), \"duplicates\", \"duplicates_mismatched\" (duplicates whose\n"
    "                  import_id, batch or product count differ from the first), \"products\"\n"
    "                  (distinct numbers), \"dup_products\" (numbers received again under another\n"
    "                  webhook-id), \"repeated_in_delivery\" (numbers twice in one body),\n"
    "                  \"bad_signatures\" (401s), \"malformed\" (400s and 415s), \"misbehaved\"\n"
    "                  (answered or closed by the mode), \"numbers_min\", \"numbers_max\" (null\n"
    "                  when none), \"mode\", \"deliveries\":[{\"id\",\"import_id\",\"batch\",\n"
    "                  \"products\"}...] in arrival order}. ?numbers=1 adds \"numbers\": the\n"
    "                  distinct numbers sorted (400 past 1000000); ?deliveries=0 leaves the\n"
    "                  deliveries out\n"
    "  POST /mode      {\"mode\":\"ok|slow|429|500|503|down\",\"count\":N,\"delay_ms\":D,\"after\":M,\n"
    "                   \"retry_after\":S}: the next M (default 0) deliveries are handled as in ok\n"
    "                  mode, then the next N (default -1: all until changed) get the mode: slow\n"
    "                  sleeps D ms (default 1000) and goes on; 429, 500 and 503 answer that\n"
    "                  status and accept nothing (429 and 503 with Retry-After: S when given);\n"
    "                  down closes the connection without an answer. Then ok again. Answers the\n"
    "                  mode as GET /mode does\n"
    "  GET  /mode      {\"mode\",\"count\" (left),\"delay_ms\",\"after\" (left),\"retry_after\"}\n"
    "  POST /reset     forget everything and go back to ok mode\n"
    "SIGTERM or SIGINT ends it with status 0\n";

static int bad_args(const char *what, const char *arg)
{
    fprintf(stderr, "hookrx: %s: %s\n%s", what, arg, usage_);
    return 2;
}

/* The HMAC key of a --secret into key_: 0, or -1 when a whsec_ secret is not base64. */
static int key_set(const char *secret)
{
    if (strncmp(secret, "whsec_", 6) != 0) {
        size_t n = strlen(secret);
        if (n == 0 || n > KEY_MAX)
            return -1;
        memcpy(key_, secret, n);
        key_len_ = (int)n;
        return 0;
    }
    const char *b64 = secret + 6;
    size_t n = strlen(b64);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > KEY_MAX)
        return -1;
    int k = EVP_DecodeBlock(key_, (const unsigned char *)b64, (int)n);
    if (k < 0)
        return -1;
    /* EVP_DecodeBlock counts the padding's zero bytes in */
    for (size_t i = n; i > n - 2 && b64[i - 1] == '='; i--)
        k--;
    key_len_ = k;
    return k > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    long port = 0;
    const char *portfile = NULL, *host = "127.0.0.2", *secret = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_, stdout);
            return 0;
        }
        bool known = strcmp(a, "--port") == 0 || strcmp(a, "--port-file") == 0 ||
                     strcmp(a, "--portfile") == 0 || strcmp(a, "--secret") == 0 ||
                     strcmp(a, "--host") == 0;
        if (!known)
            return bad_args("unknown option", a);
        if (i + 1 >= argc)
            return bad_args("missing value for", a);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            char *end;
            port = strtol(v, &end, 10);
            if (!*v || *end || port < 0 || port > 65535)
                return bad_args("bad port (want 0 to 65535)", v);
        } else if (strcmp(a, "--secret") == 0) {
            secret = v;
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else {
            portfile = v;
        }
    }
    if (!secret)
        return bad_args("missing option", "--secret");
    if (key_set(secret) < 0)
        return bad_args("bad secret (want 1 to 1024 bytes, or whsec_ and their base64)", secret);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return bad_args("bad host (want an IPv4 address)", host);
    int bound;
    int lfd = testsrv_listen(&sa, host, &bound);
    if (lfd < 0)
        return 1;
    return testsrv_run(&hookrx_, lfd, bound, portfile);
}
