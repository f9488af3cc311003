/* The JSON parser of product feeds (feed.h): a top-level array of objects, NDJSON, or an object
 * holding its products in an array, read as a stream through yajl's callbacks into records, with
 * every buffer the input can grow (yajl's included) held to the caps of feed_limits.
 *
 * How it works. The bytes are read in chunks of CHUNK and handed to yajl; its callbacks build the
 * records. yajl keeps a token that a chunk cuts in a buffer of its own and lexes it again from
 * its start with each chunk, so a long string would cost memory and quadratic time: a token that
 * crosses a chunk's end is therefore followed here (a cheap scan of its bytes only), and a string
 * that grows past field_max is cut: yajl is given a closing quote instead of the rest, the string
 * is skipped up to its real end, and the product it is in becomes a row error.
 * yajl_get_bytes_consumed() called inside a callback says where the token just read ends (yajl 2
 * moves it as it lexes), which gives each product's first line and raw text and each error's line
 * and column (lines are counted with memchr as positions are asked for, once per byte). */
#include "parse/feed_int.h"

#include "base/utf8.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#define CHUNK 65536

enum shape {
    SHAPE_ARRAY,  /* [ {...}, ... ] */
    SHAPE_NDJSON, /* {...}\n{...}\n ...: top-level values one after the other */
    SHAPE_OBJECT  /* { ..., "products": [ {...}, ... ], ... } */
};

enum pend { PEND_NONE, PEND_STRING, PEND_BARE }; /* the token a chunk's end cuts */
enum skip { SKIP_NONE, SKIP_STRING, SKIP_LINE };
enum stop { STOP_NONE, STOP_DEPTH, STOP_SINK, STOP_FATAL, STOP_TRAILING };
enum kind { K_OBJ = 1, K_ARR = 2 };

struct fj {
    yajl_handle h;
    const struct feed_limits *l;
    struct feed_info *info;
    struct feed_out *out;
    struct err *e;
    enum shape shape;

    /* the chunk: buf[0..n) is at absolute offset base of the (UTF-8) input */
    unsigned char *buf;
    size_t n;
    int64_t base;
    int64_t seg; /* absolute offset of what yajl is being given */

    /* lines: counted up to lc_pos, which is on line lc_line; lc_nl is the last '\n' before it */
    int64_t lc_pos, lc_line, lc_nl;

    /* the token after the last callback's: ws_from is where the last callback's token ended */
    int64_t ws_from;
    uint64_t ncb;
    enum pend pend;
    int64_t pend_start, pend_line, pend_col;
    size_t slen; /* bytes of the pending string so far */
    int esc;     /* in a string: 0, 1 after '\\', 2..5 in the hex digits of \u */
    enum skip skip;
    bool cut_pending; /* yajl is given the closing quote of a string cut at field_max */
    char *hold;       /* the pending string's bytes after the chunk it started in */
    size_t nhold, hold_cap;
    int64_t hold_start;

    /* the tree: depth 0 is outside every value */
    int depth;
    unsigned char *kind; /* per depth */
    size_t *plen;        /* per depth: the length of the name its children's names start with */
    int objchain;        /* depths 1..objchain are all objects */
    char *path;          /* the current name */
    size_t keylen, pcap;

    /* where the products are: the elements of the container at depth prod (0: the top-level
     * values of NDJSON; -1: not found yet, in an object) */
    int prod;
    int ignore; /* >= 0: events deeper than this are not looked at */
    bool wrap_done, top_done;
    /* the search in an object: the array just opened in the object chain, waiting for its first
     * element, and the first empty one seen */
    int cand_arr;
    bool cand_first;
    char *empty_path;
    char *json_path;

    /* the element being read */
    int64_t number; /* elements so far */
    bool open;      /* an element of the products is being read */
    bool in_rec;    /* ... and it is an object: a record (or the object itself, cand) */
    bool cand;
    bool elem_bad; /* ... it is an array: a row error at its end */
    int rec_depth;
    int64_t cur_num, cur_line;
    struct feed_rec rec;
    bool bad;
    char bad_msg[512];
    /* its raw text, copied from the chunks up to raw_to */
    bool cap_on;
    int64_t raw_to;
    char raw[FEED_RAW_MAX + 1];
    size_t raw_len;

    /* why a callback stopped yajl */
    enum stop stop;
    int64_t stop_pos;
    int rc;
    char stop_msg[160];
};

/* ---- positions, lines, raw text ---- */

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

static int64_t cb_pos(struct fj *p)
{
    return p->seg + (int64_t)yajl_get_bytes_consumed(p->h);
}

/* The line of pos, which is in the chunk and not before an earlier pos asked for. */
static int64_t line_at(struct fj *p, int64_t pos)
{
    int64_t end = p->base + (int64_t)p->n;
    if (pos > end)
        pos = end;
    if (pos > p->lc_pos) {
        const unsigned char *s = p->buf + (p->lc_pos - p->base);
        const unsigned char *lim = p->buf + (pos - p->base);
        const unsigned char *q;
        while (s < lim && (q = memchr(s, '\n', (size_t)(lim - s)))) {
            p->lc_line++;
            p->lc_nl = p->base + (q - p->buf);
            s = q + 1;
        }
        p->lc_pos = pos;
    }
    return p->lc_line;
}

/* Its column, in bytes from 1, after line_at(pos). */
static int64_t col_at(struct fj *p, int64_t pos)
{
    return pos > p->lc_nl ? pos - p->lc_nl : 1;
}

static void cap_start(struct fj *p, int64_t pos)
{
    p->cap_on = true;
    p->raw_len = 0;
    p->raw_to = pos;
}

/* Copy the raw text up to pos (or the chunk's end); FEED_RAW_MAX + 1 bytes are kept, so that
 * feed.c can cut it between characters. */
static void cap_to(struct fj *p, int64_t pos)
{
    int64_t end = p->base + (int64_t)p->n;
    if (pos > end)
        pos = end;
    if (!p->cap_on || pos <= p->raw_to || p->raw_to < p->base)
        return;
    size_t room = sizeof p->raw - p->raw_len;
    size_t k = (size_t)(pos - p->raw_to);
    if (k > room)
        k = room;
    memcpy(p->raw + p->raw_len, p->buf + (p->raw_to - p->base), k);
    p->raw_len += k;
    p->raw_to = pos;
}

/* ---- records ---- */

static void set_bad(struct fj *p, const char *msg)
{
    if (!p->bad) {
        p->bad = true;
        snprintf(p->bad_msg, sizeof p->bad_msg, "%s", msg);
    }
}

/* Give the sink a row error, with the raw text captured (if any). */
static int row_error(struct fj *p, int64_t number, int64_t line, const char *msg)
{
    char full[640];
    if (p->shape == SHAPE_NDJSON)
        snprintf(full, sizeof full, "line %lld: %s", (long long)line, msg);
    else
        snprintf(full, sizeof full, "%s", msg);
    size_t rl = p->raw_len;
    while (rl > 0 && (p->raw[rl - 1] == '\n' || p->raw[rl - 1] == '\r'))
        rl--;
    int rc = feed_out_row_error(p->out, number, line, full, p->raw, p->cap_on ? rl : 0, p->e);
    p->cap_on = false;
    return rc;
}

static int stop_sink(struct fj *p, int rc)
{
    p->stop = STOP_SINK;
    p->rc = rc;
    return 0;
}

static void elem_start(struct fj *p, int64_t pos)
{
    p->open = true;
    p->cur_num = ++p->number;
    p->cur_line = line_at(p, pos);
    cap_start(p, pos);
}

static void rec_start(struct fj *p, int64_t pos)
{
    elem_start(p, pos);
    p->in_rec = true;
    p->rec_depth = p->depth;
    p->plen[p->depth] = 0;
    p->bad = false;
    feed_rec_reset(&p->rec);
}

static void elem_end(struct fj *p)
{
    p->open = p->in_rec = p->cand = p->elem_bad = p->bad = false;
    p->cap_on = false;
}

static int rec_end(struct fj *p, int64_t end)
{
    cap_to(p, end);
    int rc;
    if (p->bad) {
        feed_rec_reset(&p->rec);
        rc = row_error(p, p->cur_num, p->cur_line, p->bad_msg);
    } else {
        rc = feed_out_record(p->out, &p->rec, p->cur_num, p->cur_line, p->raw, p->raw_len, p->e);
    }
    elem_end(p);
    return rc ? stop_sink(p, rc) : 1;
}

static int begin(struct fj *p, const char *json_path)
{
    p->info->json_path = json_path;
    return feed_out_begin(p->out, p->info, p->e);
}

/* ---- the tree ---- */

static bool ignored(const struct fj *p)
{
    return p->ignore >= 0 && p->depth > p->ignore;
}

static void push(struct fj *p, enum kind k)
{
    int d = ++p->depth;
    p->kind[d] = (unsigned char)k;
    p->plen[d] = d == 1 ? 0 : p->kind[d - 1] == K_OBJ ? p->keylen : p->plen[d - 1];
    if (k == K_OBJ && p->objchain == d - 1)
        p->objchain = d;
}

static void pop(struct fj *p)
{
    if (p->objchain == p->depth)
        p->objchain--;
    p->depth--;
}

/* The name of a value at the current depth: the key's path in an object, the array's own name
 * for its elements (so that an array repeats its name). */
static size_t name_len(const struct fj *p)
{
    return p->kind[p->depth] == K_OBJ ? p->keylen : p->plen[p->depth];
}

static const char *type_name(int c)
{
    switch (c) {
    case '"':
        return "a string";
    case 'n':
        return "null";
    case 't':
    case 'f':
        return "a boolean";
    case '[':
        return "an array";
    default:
        return "a number";
    }
}

/* A new top-level value after the object that held the products. */
static int trailing(struct fj *p, int64_t pos)
{
    p->stop = STOP_TRAILING;
    p->stop_pos = pos;
    return 0;
}

static int too_deep(struct fj *p)
{
    if (p->depth < p->l->depth_max)
        return 0;
    p->stop = STOP_DEPTH;
    p->stop_pos = cb_pos(p) - 1;
    return 1;
}

/* The products are the elements of the array at depth d, its first one an object: the object is
 * not a product itself. */
static int found(struct fj *p, int d)
{
    p->prod = d;
    size_t n = p->plen[d];
    p->json_path = xmalloc(n + 1);
    memcpy(p->json_path, p->path, n);
    p->json_path[n] = 0;
    feed_rec_reset(&p->rec);
    elem_end(p);
    p->number = 0; /* the object was counted as a product */
    int rc = begin(p, p->json_path);
    return rc ? stop_sink(p, rc) : 1;
}

/* ---- yajl's callbacks ---- */

static int on_scalar(struct fj *p, int type, const char *v, size_t n)
{
    int64_t end = cb_pos(p), s = p->ws_from;
    p->ws_from = end;
    p->ncb++;
    bool cut = p->cut_pending;
    p->cut_pending = false;
    if (ignored(p))
        return 1;
    if (p->depth == p->prod || p->depth == 0) {
        /* where the token starts: after the last one and its ',' (in this chunk) */
        int64_t lim = p->base + (int64_t)p->n;
        if (s < p->base)
            s = p->base;
        while (s < end && s < lim && (is_ws(p->buf[s - p->base]) || p->buf[s - p->base] == ','))
            s++;
    }
    if (p->depth == 0 && p->top_done)
        return trailing(p, s);
    if (p->depth == 0 && p->shape == SHAPE_OBJECT) {
        p->stop = STOP_FATAL;
        p->stop_pos = s;
        snprintf(p->stop_msg, sizeof p->stop_msg,
                 "the feed holds %s, not an array or an object of products", type_name(type));
        return 0;
    }
    if (p->depth == p->prod) {
        /* a product that is not an object */
        elem_start(p, s);
        cap_to(p, end);
        char msg[64];
        snprintf(msg, sizeof msg, "%s, not an object", type_name(type));
        int rc = row_error(p, p->cur_num, p->cur_line, msg);
        elem_end(p);
        return rc ? stop_sink(p, rc) : 1;
    }
    if (p->cand_arr == p->depth && p->cand_first)
        p->cand_first = false;
    if (!p->in_rec || p->bad)
        return 1;
    size_t nl = name_len(p);
    if (cut) {
        char msg[200];
        snprintf(msg, sizeof msg, "field %.*s is longer than %zu bytes", (int)(nl > 64 ? 64 : nl),
                 p->path, p->l->field_max);
        set_bad(p, msg);
        return 1;
    }
    struct err fe;
    if (feed_rec_add(&p->rec, p->path, nl, v, n, p->l, &fe) < 0)
        set_bad(p, fe.msg);
    return 1;
}

static int cb_null(void *ctx)
{
    return on_scalar(ctx, 'n', "", 0);
}

static int cb_boolean(void *ctx, int b)
{
    return on_scalar(ctx, b ? 't' : 'f', b ? "true" : "false", b ? 4 : 5);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    return on_scalar(ctx, '0', s, n);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    return on_scalar(ctx, '"', (const char *)s, n);
}

static int cb_map_key(void *ctx, const unsigned char *k, size_t n)
{
    struct fj *p = ctx;
    p->ws_from = cb_pos(p);
    p->ncb++;
    bool cut = p->cut_pending;
    p->cut_pending = false;
    if (ignored(p) || !p->in_rec)
        return 1;
    size_t pre = p->plen[p->depth];
    size_t need = pre + (pre ? 1 : 0) + n;
    if (cut || need > p->l->field_max) {
        char msg[96];
        snprintf(msg, sizeof msg, "a field name is longer than %zu bytes", p->l->field_max);
        set_bad(p, msg);
        p->keylen = pre;
        return 1;
    }
    /* yajl's check of UTF-8 lets overlong forms and surrogates through; "\u0000" would end the
     * name early */
    if (!utf8_valid((const char *)k, n) || memchr(k, 0, n)) {
        set_bad(p, memchr(k, 0, n) ? "a field name holds a NUL character"
                                   : "a field name is not valid UTF-8");
        p->keylen = pre;
        return 1;
    }
    if (need > p->pcap) {
        p->pcap = need > 2 * p->pcap ? need : 2 * p->pcap;
        p->path = xrealloc(p->path, p->pcap);
    }
    if (pre)
        p->path[pre] = '.';
    memcpy(p->path + pre + (pre ? 1 : 0), k, n);
    p->keylen = need;
    return 1;
}

static int on_open(struct fj *p, enum kind k)
{
    int64_t pos = cb_pos(p) - 1;
    p->ws_from = pos + 1;
    p->ncb++;
    if (too_deep(p))
        return 0;
    if (ignored(p)) {
        push(p, k);
        return 1;
    }
    int d = p->depth;
    if (d == 0 && p->top_done)
        return trailing(p, pos);
    if (d == 0 && p->shape == SHAPE_OBJECT) {
        /* the top-level object: a product itself unless it holds an array of them */
        push(p, k);
        rec_start(p, pos);
        p->cand = true;
        return 1;
    }
    if (d == 0 && p->shape == SHAPE_ARRAY) {
        push(p, k);
        return 1;
    }
    if (p->cand && p->cand_arr == d && p->cand_first) {
        p->cand_first = false;
        if (k == K_OBJ && !found(p, d))
            return 0;
    }
    if (d == p->prod) {
        push(p, k);
        if (k == K_OBJ) {
            rec_start(p, pos);
        } else {
            elem_start(p, pos);
            p->elem_bad = true;
            p->ignore = d;
        }
        return 1;
    }
    /* an array in the chain of objects from the top: perhaps the products */
    if (p->cand && k == K_ARR && p->objchain == d) {
        p->cand_arr = d + 1;
        p->cand_first = true;
    }
    push(p, k);
    return 1;
}

static int cb_start_map(void *ctx)
{
    return on_open(ctx, K_OBJ);
}

static int cb_start_array(void *ctx)
{
    return on_open(ctx, K_ARR);
}

static int on_close(struct fj *p)
{
    int64_t end = cb_pos(p);
    p->ws_from = end;
    p->ncb++;
    int d = p->depth;
    if (p->cand && p->cand_arr == d && p->cand_first) {
        /* an empty array: no products, if nothing better comes */
        p->cand_first = false;
        if (!p->empty_path) {
            size_t n = p->plen[d];
            p->empty_path = xmalloc(n + 1);
            memcpy(p->empty_path, p->path, n);
            p->empty_path[n] = 0;
        }
    }
    pop(p);
    if (p->elem_bad && p->depth == p->ignore) {
        cap_to(p, end);
        p->ignore = p->wrap_done ? 0 : -1;
        int rc = row_error(p, p->cur_num, p->cur_line, "an array, not an object");
        elem_end(p);
        return rc ? stop_sink(p, rc) : 1;
    }
    if (ignored(p))
        return 1;
    if (p->in_rec && d == p->rec_depth) {
        if (!p->cand)
            return rec_end(p, end);
        /* the top-level object ends and holds no array of objects */
        p->top_done = true;
        int rc;
        if (p->empty_path) {
            elem_end(p);
            rc = begin(p, p->empty_path);
        } else {
            /* the object is the one product: NDJSON, whose next values are products too */
            p->cand = false;
            p->shape = SHAPE_NDJSON;
            p->prod = 0;
            p->top_done = false;
            rc = begin(p, "ndjson");
            if (!rc)
                return rec_end(p, end);
        }
        return rc ? stop_sink(p, rc) : 1;
    }
    if (p->shape == SHAPE_OBJECT && p->prod >= 0 && d == p->prod) {
        /* the products' array ends: the rest of the object is not looked at */
        p->wrap_done = true;
        p->ignore = 0;
    }
    if (p->depth == 0 && p->shape == SHAPE_OBJECT)
        p->top_done = true;
    return 1;
}

static int cb_end(void *ctx)
{
    return on_close(ctx);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_boolean,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

static yajl_handle new_handle(struct fj *p)
{
    yajl_handle h = yajl_alloc(&callbacks, NULL, p);
    if (!h)
        abort(); /* yajl's malloc failed: out of memory, as xmalloc */
    /* an object takes more values too: NDJSON whose first product holds no array of objects */
    if (p->shape != SHAPE_ARRAY)
        yajl_config(h, yajl_allow_multiple_values, 1);
    return h;
}

/* ---- tokens cut by a chunk's end ---- */

/* Follow the pending string through buf[i..n): returns where it ends (pend is then PEND_NONE),
 * or where to cut it once it is longer than max (*cut; never inside an escape or a character),
 * or n. A control character, which no string holds, ends the following too (pend PEND_NONE, at
 * it): yajl, given the bytes, says what is wrong there. */
static size_t str_follow(struct fj *p, size_t i, size_t n, size_t max, bool *cut)
{
    const unsigned char *b = p->buf;
    while (i < n) {
        unsigned char c = b[i];
        if (p->esc == 0) {
            if (p->slen <= max) {
                /* no cut can come before max: a plain loop to the next byte that matters */
                size_t lim = max - p->slen + 1 < n - i ? i + (max - p->slen + 1) : n, j = i;
                while (j < lim && b[j] != '"' && b[j] != '\\' && b[j] >= 0x20)
                    j++;
                p->slen += j - i;
                i = j;
                if (i == lim)
                    continue;
                c = b[i];
            } else if (c != '"' && c >= 0x20 && (c & 0xc0) != 0x80) {
                *cut = true;
                return i;
            }
            if (c == '"' || c < 0x20) {
                p->pend = PEND_NONE;
                return c == '"' ? i + 1 : i;
            }
            if (c == '\\')
                p->esc = 1;
        } else if (p->esc == 1) {
            p->esc = c == 'u' ? 2 : 0;
        } else {
            p->esc = p->esc == 5 ? 0 : p->esc + 1;
        }
        p->slen++;
        i++;
    }
    return n;
}

/* Keep buf[i..n), the middle of a string that goes on past the chunk, for yajl to have at once
 * with its end: yajl lexes a token it holds again from its start with every call. */
static void hold_add(struct fj *p, size_t i, size_t n)
{
    if (p->nhold == 0)
        p->hold_start = p->base + (int64_t)i;
    if (p->nhold + (n - i) > p->hold_cap) {
        size_t want = p->nhold + (n - i);
        p->hold_cap = want > 2 * p->hold_cap ? want : 2 * p->hold_cap;
        p->hold = xrealloc(p->hold, p->hold_cap);
    }
    memcpy(p->hold + p->nhold, p->buf + i, n - i);
    p->nhold += n - i;
}

/* Skip the rest of a cut string: 1 with *i past its quote, 0 at the chunk's end, -1 at a control
 * character (*i at it), which no string holds. */
static int str_skip(struct fj *p, size_t *i)
{
    const unsigned char *b = p->buf;
    size_t k = *i, n = p->n;
    while (k < n) {
        unsigned char c = b[k];
        if (p->esc == 0) {
            if (c == '"') {
                *i = k + 1;
                return 1;
            }
            if (c == '\\')
                p->esc = 1;
            else if (c < 0x20) {
                *i = k;
                return -1;
            }
        } else if (p->esc == 1) {
            p->esc = c == 'u' ? 2 : 0;
        } else {
            p->esc = p->esc == 5 ? 0 : p->esc + 1;
        }
        k++;
    }
    *i = n;
    return 0;
}

/* ---- errors ---- */

/* Start again after an error in NDJSON: a new yajl at buf[r] (r == n: at the next line). */
static void restart(struct fj *p, size_t r)
{
    yajl_free(p->h);
    p->h = new_handle(p);
    p->depth = 0;
    p->objchain = 0;
    p->ignore = -1;
    elem_end(p);
    feed_rec_reset(&p->rec);
    p->pend = PEND_NONE;
    p->nhold = 0;
    p->esc = 0;
    p->cut_pending = false;
    p->ws_from = p->base + (int64_t)r;
}

/* The input cannot be read at pos (absolute, in the chunk): in NDJSON a row error, and the
 * parse goes on at *resume (set; SKIP_LINE when the line goes on past the chunk); else the
 * parse's error. Returns 0 to go on or a negative code. */
static int json_error_at(struct fj *p, int64_t pos, int64_t line, int64_t col, const char *what,
                         const char *msg, size_t *resume)
{
    if (p->shape != SHAPE_NDJSON || p->stop == STOP_TRAILING)
        return err_set(p->e, TRAWL_EINVAL, false, "%s at line %lld, column %lld%s%s", what,
                       (long long)line, (long long)col, msg ? ": " : "", msg ? msg : "");
    int64_t number = p->open && p->depth > 0 ? p->cur_num : ++p->number;
    int64_t first = p->open && p->depth > 0 ? p->cur_line : line;
    /* A value that began on an earlier line: the error's line may be the next value's start
     * (a line cut short), so read that line again; else go on at the next line. */
    size_t r = p->n;
    bool again = first < line && p->lc_nl + 1 >= p->base;
    if (again) {
        r = (size_t)(p->lc_nl + 1 - p->base);
    } else {
        size_t at = pos > p->base ? (size_t)(pos - p->base) : 0;
        const unsigned char *q = at < p->n ? memchr(p->buf + at, '\n', p->n - at) : NULL;
        if (q)
            r = (size_t)(q - p->buf) + 1;
    }
    if (!p->cap_on) {
        /* a value that had not opened: its raw text is its line's, from this chunk */
        int64_t ls = p->lc_nl + 1 >= p->base ? p->lc_nl + 1 : p->base;
        cap_start(p, ls);
    }
    cap_to(p, p->base + (int64_t)r);
    char full[512];
    snprintf(full, sizeof full, "%s%s%s", what, msg ? ": " : "", msg ? msg : "");
    int rc = row_error(p, number, first, full);
    if (rc)
        return rc;
    restart(p, r);
    if (again) {
        p->lc_pos = p->base + (int64_t)r;
        p->lc_nl = p->lc_pos - 1;
    }
    if (r == p->n && !(r > 0 && p->buf[r - 1] == '\n'))
        p->skip = SKIP_LINE;
    *resume = r;
    return 0;
}

static int json_error(struct fj *p, int64_t pos, const char *what, const char *msg, size_t *resume)
{
    /* a position before those counted already (in a string held from an earlier chunk) is on
     * the last line counted: no string holds a newline */
    int64_t line = line_at(p, pos);
    return json_error_at(p, pos, line, col_at(p, pos), what, msg, resume);
}

/* yajl's message without its "parse error: " and its newline. */
static void yajl_msg(struct fj *p, char *out, size_t cap, bool *lexical)
{
    unsigned char *m = yajl_get_error(p->h, 0, NULL, 0);
    const char *s = m ? (const char *)m : "parse error";
    *lexical = strncmp(s, "lexical error: ", 15) == 0;
    if (*lexical)
        s += 15;
    else if (strncmp(s, "parse error: ", 13) == 0)
        s += 13;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '.' || s[n - 1] == ' '))
        n--;
    snprintf(out, cap, "%.*s", (int)n, s);
    if (m)
        yajl_free_error(p->h, m);
}

/* yajl stops after the byte that shows a character is malformed (q): the character starts at
 * the lead byte before it, unless q is a stray continuation byte or there is no lead. */
static int64_t bad_utf8_at(const struct fj *p, int64_t q)
{
    const unsigned char *b = p->buf;
    int64_t lo = p->seg - p->base, i = q - p->base, k = i - 1;
    if ((b[i] & 0xc0) == 0x80)
        return q;
    for (int steps = 0; k >= lo && steps < 3 && (b[k] & 0xc0) == 0x80; steps++)
        k--;
    return k >= lo && b[k] >= 0xc0 ? p->base + k : q;
}

/* yajl returned st on what it was given at p->seg: go on (0, *resume set in NDJSON), or the
 * parse's error. */
static int yajl_failed(struct fj *p, yajl_status st, size_t *resume)
{
    if (st == yajl_status_client_canceled) {
        enum stop why = p->stop;
        p->stop = STOP_NONE;
        char msg[200];
        switch (why) {
        case STOP_SINK:
            return p->rc;
        case STOP_DEPTH:
            snprintf(msg, sizeof msg, "JSON nested deeper than %d levels", p->l->depth_max);
            return json_error(p, p->stop_pos, msg, NULL, resume);
        case STOP_TRAILING:
            p->stop = STOP_TRAILING;
            return json_error(p, p->stop_pos, "invalid JSON",
                              "more data after the top-level object", resume);
        default:
            return json_error(p, p->stop_pos, "invalid JSON", p->stop_msg, resume);
        }
    }
    char msg[200];
    bool lexical;
    yajl_msg(p, msg, sizeof msg, &lexical);
    int64_t pos = p->seg + (int64_t)yajl_get_bytes_consumed(p->h);
    /* a parse error is found after its token, a lexical one at its byte (but for a character
     * that starts no token: after it) */
    if ((!lexical || strcmp(msg, "invalid char in json text") == 0) && pos > p->seg)
        pos--;
    else if (strcmp(msg, "invalid bytes in UTF8 string") == 0 && pos > p->seg)
        pos = bad_utf8_at(p, pos - 1);
    return json_error(p, pos, "invalid JSON", msg, resume);
}

/* ---- the chunks ---- */

/* After yajl read buf[a..n): the token it holds unfinished, if any, and its length's cap. */
static int after_feed(struct fj *p, size_t a, uint64_t ncb, size_t *resume)
{
    if (p->ncb != ncb)
        p->pend = PEND_NONE;
    int64_t end = p->base + (int64_t)p->n;
    if (p->pend == PEND_NONE) {
        int64_t from = p->ws_from > p->base + (int64_t)a ? p->ws_from : p->base + (int64_t)a;
        size_t s = (size_t)(from - p->base);
        while (s < p->n && (is_ws(p->buf[s]) || p->buf[s] == ',' || p->buf[s] == ':'))
            s++;
        if (s == p->n)
            return 0;
        p->pend_start = p->base + (int64_t)s;
        p->pend_line = line_at(p, p->pend_start);
        p->pend_col = col_at(p, p->pend_start);
        if (p->buf[s] == '"') {
            p->pend = PEND_STRING;
            p->esc = 0;
            p->slen = 0;
            bool cut = false;
            str_follow(p, s + 1, p->n, SIZE_MAX - 1, &cut);
            return 0;
        }
        p->pend = PEND_BARE;
    }
    if (p->pend == PEND_BARE && (uint64_t)(end - p->pend_start) > p->l->field_max) {
        char msg[96];
        snprintf(msg, sizeof msg, "a number longer than %zu bytes", p->l->field_max);
        return json_error_at(p, p->pend_start, p->pend_line, p->pend_col, "invalid JSON", msg,
                             resume);
    }
    return 0;
}

/* Give yajl buf[a..b); 0, 1 when it stopped and the parse goes on at *resume, or a negative
 * code. */
static int feed(struct fj *p, size_t a, size_t b, size_t *resume)
{
    if (a == b)
        return 0;
    p->seg = p->base + (int64_t)a;
    yajl_status st = yajl_parse(p->h, p->buf + a, b - a);
    if (st == yajl_status_ok)
        return 0;
    int rc = yajl_failed(p, st, resume);
    return rc ? rc : 1;
}

/* Give yajl the string bytes held (from earlier chunks), as feed(). */
static int feed_hold(struct fj *p, size_t *resume)
{
    if (p->nhold == 0)
        return 0;
    p->seg = p->hold_start;
    yajl_status st = yajl_parse(p->h, (const unsigned char *)p->hold, p->nhold);
    p->nhold = 0;
    if (st == yajl_status_ok)
        return 0;
    int rc = yajl_failed(p, st, resume);
    return rc ? rc : 1;
}

static int run_chunk(struct fj *p)
{
    size_t i = 0, n = p->n;
    while (i < n) {
        size_t resume = n;
        int rc;
        if (p->skip == SKIP_LINE) {
            const unsigned char *q = memchr(p->buf + i, '\n', n - i);
            if (!q)
                return 0;
            i = (size_t)(q - p->buf) + 1;
            p->skip = SKIP_NONE;
            p->ws_from = p->base + (int64_t)i;
            continue;
        }
        if (p->skip == SKIP_STRING) {
            int r = str_skip(p, &i);
            if (r == 0)
                return 0;
            if (r < 0) {
                p->skip = SKIP_NONE;
                rc = json_error(p, p->base + (int64_t)i, "invalid JSON",
                                "invalid character inside string", &resume);
                if (rc)
                    return rc;
                i = resume;
                continue;
            }
            p->skip = SKIP_NONE;
            p->ws_from = p->base + (int64_t)i;
            continue;
        }
        size_t end = n;
        bool cut = false;
        uint64_t ncb = p->ncb;
        if (p->pend == PEND_STRING) {
            size_t k = str_follow(p, i, n, p->l->field_max, &cut);
            if (!cut && p->pend == PEND_STRING) {
                hold_add(p, i, n);
                return 0;
            }
            if (cut)
                end = k;
            rc = feed_hold(p, &resume);
            if (rc < 0)
                return rc;
            if (rc > 0) {
                i = resume;
                continue;
            }
        }
        rc = feed(p, i, end, &resume);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            i = resume;
            continue;
        }
        if (cut) {
            /* the string is too long: yajl gets its end now, the rest is skipped */
            p->cut_pending = true;
            p->seg = p->base + (int64_t)end;
            yajl_status st = yajl_parse(p->h, (const unsigned char *)"\"", 1);
            p->cut_pending = false;
            p->pend = PEND_NONE;
            if (st != yajl_status_ok) {
                rc = yajl_failed(p, st, &resume);
                if (rc)
                    return rc;
                i = resume;
                continue;
            }
            p->skip = SKIP_STRING;
            p->esc = 0;
            i = end;
            continue;
        }
        rc = after_feed(p, i, ncb, &resume);
        if (rc)
            return rc;
        i = resume;
    }
    return 0;
}

/* The input ended: what yajl holds must be complete. */
static int finish(struct fj *p)
{
    int64_t end = p->base + (int64_t)p->n;
    size_t resume;
    if (p->skip == SKIP_STRING)
        return json_error(p, end, "invalid JSON", "premature EOF (in a string)", &resume);
    if (p->skip == SKIP_LINE)
        return 0;
    /* NDJSON with nothing open is complete; yajl would call a fresh parser's nothing an error */
    if (p->shape == SHAPE_NDJSON && p->depth == 0 && p->pend == PEND_NONE)
        return 0;
    p->seg = end;
    yajl_status st = yajl_complete_parse(p->h);
    if (st != yajl_status_ok) {
        if (st == yajl_status_client_canceled)
            return yajl_failed(p, st, &resume);
        char msg[200];
        bool lexical;
        yajl_msg(p, msg, sizeof msg, &lexical);
        return json_error(p, end, "invalid JSON", msg, &resume);
    }
    return 0;
}

/* ---- the shape, from the head ---- */

struct sniff {
    yajl_handle h;
    int depth, depth_max;
    bool done, ending; /* ending: in yajl_complete_parse, the value ends with the head */
    size_t end;
};

static int sn_open(void *ctx)
{
    struct sniff *s = ctx;
    return ++s->depth <= s->depth_max;
}

static int sn_close(void *ctx)
{
    struct sniff *s = ctx;
    if (--s->depth > 0)
        return 1;
    s->done = true;
    s->end = s->ending ? SIZE_MAX : yajl_get_bytes_consumed(s->h);
    return 0;
}

static int sn_scalar(struct sniff *s)
{
    if (s->depth > 0)
        return 1;
    s->done = true;
    s->end = s->ending ? SIZE_MAX : yajl_get_bytes_consumed(s->h);
    return 0;
}

static int sn_null(void *ctx)
{
    return sn_scalar(ctx);
}

static int sn_bool(void *ctx, int b)
{
    (void)b;
    return sn_scalar(ctx);
}

static int sn_str(void *ctx, const unsigned char *v, size_t n)
{
    (void)v;
    (void)n;
    return sn_scalar(ctx);
}

static int sn_num(void *ctx, const char *v, size_t n)
{
    (void)v;
    (void)n;
    return sn_scalar(ctx);
}

static int sn_key(void *ctx, const unsigned char *v, size_t n)
{
    (void)ctx;
    (void)v;
    (void)n;
    return 1;
}

static const yajl_callbacks sniff_callbacks = {
    .yajl_null = sn_null,
    .yajl_boolean = sn_bool,
    .yajl_number = sn_num,
    .yajl_string = sn_str,
    .yajl_start_map = sn_open,
    .yajl_map_key = sn_key,
    .yajl_end_map = sn_close,
    .yajl_start_array = sn_open,
    .yajl_end_array = sn_close,
};

/* A top-level array; NDJSON when the head holds a whole first value and another on a later line
 * (or a first line yajl cannot read and a later line that starts an object); else an object
 * (which the parse turns into products, or an error for anything else). */
static enum shape sniff_shape(const unsigned char *h, size_t n, int depth_max)
{
    size_t i = 0;
    while (i < n && is_ws(h[i]))
        i++;
    if (i < n && h[i] == '[')
        return SHAPE_ARRAY;
    struct sniff s = {.depth_max = depth_max};
    s.h = yajl_alloc(&sniff_callbacks, NULL, &s);
    if (!s.h)
        abort();
    yajl_config(s.h, yajl_allow_multiple_values, 1);
    yajl_status st = yajl_parse(s.h, h + i, n - i);
    if (st == yajl_status_ok && n < FEED_SNIFF_BYTES) {
        s.ending = true;
        st = yajl_complete_parse(s.h); /* the head is the whole feed: end a last number */
    }
    enum shape shape = SHAPE_OBJECT;
    if (s.done) {
        size_t j = s.end == SIZE_MAX ? n : i + s.end;
        bool nl = false;
        while (j < n && is_ws(h[j]))
            nl |= h[j++] == '\n';
        if (j < n && nl)
            shape = SHAPE_NDJSON;
    } else if (st != yajl_status_ok && i < n && h[i] == '{') {
        /* malformed or too deep on the first line: NDJSON if the next line is an object */
        size_t at = i + yajl_get_bytes_consumed(s.h);
        const unsigned char *nl = memchr(h + i, '\n', n - i);
        if (nl && (size_t)(nl - h) + 1 >= at) {
            size_t j = (size_t)(nl - h) + 1;
            while (j < n && is_ws(h[j]))
                j++;
            if (j < n && h[j] == '{')
                shape = SHAPE_NDJSON;
        }
    }
    yajl_free(s.h);
    return shape;
}

/* ---- the parse ---- */

static ssize_t fill(struct feed_src *src, unsigned char *buf, size_t cap, struct err *e)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t k = feed_src_read(src, buf + n, cap - n, e);
        if (k < 0)
            return k;
        if (k == 0)
            break;
        n += (size_t)k;
    }
    return (ssize_t)n;
}

/* Shapes: a top-level array of objects (json_path "[]"); NDJSON (json_path "ndjson"), values
 * one after the other, whether one per line or not; a top-level object, whose products are the
 * elements of the first array of objects found going through its members in order, depth first
 * through the objects among them ({"data": {"items": [...]}} gives json_path "data.items"); the
 * members before and after it are not products. An object holding no array of objects but an
 * empty array has no products (json_path that array's); an object holding neither is itself the
 * one product (json_path "ndjson"), and then more values may follow it as NDJSON.
 *
 * Values: strings as they are, numbers as written (digits past 64 bits kept), true and false,
 * and null as a field with an empty value (so the field is there: a feed's "price": null says
 * the price is unknown, not that there is no such field). Empty objects and arrays give no
 * field. Names are limited to field_max bytes like values; a string is measured as written
 * (escapes included) while it streams, so a string longer than field_max as written is too
 * long even if its value would be shorter.
 *
 * Errors: an element that is not an object, a value longer than field_max and a product of more
 * than fields_max fields are row errors in every shape; in NDJSON so is anything that cannot be
 * read (malformed JSON, invalid UTF-8, nesting past depth_max, a truncated last line), and the
 * parse goes on at the next line. In an array or an object they end the parse, with their line
 * and column (in bytes, of the UTF-8 text, from 1). */
int feed_json_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                    const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                    struct feed_out *out, struct err *e)
{
    (void)o;
    struct fj *p = xcalloc(1, sizeof *p);
    p->l = l;
    p->info = info;
    p->out = out;
    p->e = e;
    p->buf = xmalloc(CHUNK);
    p->kind = xcalloc((size_t)l->depth_max + 2, 1);
    p->plen = xcalloc((size_t)l->depth_max + 2, sizeof *p->plen);
    p->pcap = 256;
    p->path = xmalloc(p->pcap);
    p->lc_line = 1;
    p->lc_nl = -1;
    p->ignore = -1;
    p->cand_arr = -1;
    p->shape = sniff_shape(head, nhead, l->depth_max);
    p->prod = p->shape == SHAPE_ARRAY ? 1 : p->shape == SHAPE_NDJSON ? 0 : -1;
    p->h = new_handle(p);
    int rc = 0;
    if (p->shape != SHAPE_OBJECT) {
        rc = begin(p, p->shape == SHAPE_ARRAY ? "[]" : "ndjson");
        if (rc)
            goto out;
    }
    for (;;) {
        ssize_t k = fill(src, p->buf, CHUNK, e);
        if (k < 0) {
            rc = (int)k;
            goto out;
        }
        p->n = (size_t)k;
        rc = run_chunk(p);
        if (rc)
            goto out;
        if (k < CHUNK)
            break; /* the last chunk stays for finish() to point into */
        line_at(p, p->base + (int64_t)p->n);
        cap_to(p, p->base + (int64_t)p->n);
        p->base += (int64_t)p->n;
        p->lc_pos = p->base;
    }
    rc = finish(p);
out:
    yajl_free(p->h);
    feed_rec_release(&p->rec);
    free(p->buf);
    free(p->kind);
    free(p->plen);
    free(p->path);
    free(p->hold);
    /* the sink has seen the path; it goes with the parse */
    if (info->json_path == p->json_path || info->json_path == p->empty_path)
        info->json_path = NULL;
    free(p->empty_path);
    free(p->json_path);
    free(p);
    return rc;
}
