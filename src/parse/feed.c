/* Reading a product feed: the layers under the format parsers (the caller's reader, gzip with
 * its caps, the sniffed head read again, the charset turned into UTF-8), the sniffing that picks
 * the format and charset, and the records the parsers build and hand to the sink. */
#include "parse/feed_int.h"

#include "base/utf8.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ucnv.h>
#include <zlib.h>

#define CHUNK 65536
#define PIVOT 4096

struct feed_src {
    feed_read_fn read;
    void *ctx;
    struct feed_stats *st;
    /* gzip */
    bool gz, zdone, zeof;
    z_stream z;
    unsigned char zin[CHUNK];
    int64_t inflate_max;
    /* the plain head (after gzip), read again first */
    unsigned char head[FEED_SNIFF_BYTES];
    size_t nhead, hpos;
    /* the charset: from -> UTF-8 (from NULL: none) */
    UConverter *from, *to;
    const char *encoding;
    UChar pivot[PIVOT], *psrc, *ptgt;
    bool cfirst, ceof;
    unsigned char cin[CHUNK];
    size_t cin_len, cin_pos;
    /* the converted head, read again first by the parser */
    unsigned char head2[FEED_SNIFF_BYTES];
    size_t nhead2, h2pos;
};

const char *feed_format_name(enum feed_format f)
{
    switch (f) {
    case FEED_CSV:
        return "csv";
    case FEED_JSON:
        return "json";
    case FEED_XML:
        return "xml";
    default:
        return "unknown";
    }
}

enum feed_format feed_format_parse(const char *s)
{
    if (!s)
        return FEED_UNKNOWN;
    if (strcmp(s, "csv") == 0)
        return FEED_CSV;
    if (strcmp(s, "json") == 0)
        return FEED_JSON;
    if (strcmp(s, "xml") == 0)
        return FEED_XML;
    return FEED_UNKNOWN;
}

/* ---- the layers ---- */

static ssize_t read_raw(struct feed_src *s, void *buf, size_t cap, struct err *e)
{
    ssize_t k = s->read(s->ctx, buf, cap, e);
    if (k > 0)
        s->st->bytes_in += k;
    return k;
}

/* Gunzip, member after member, refusing a bomb: more than inflate_max bytes out, or more than
 * FEED_INFLATE_RATIO bytes out per byte in (past the first megabyte). */
static ssize_t read_gz(struct feed_src *s, unsigned char *buf, size_t cap, struct err *e)
{
    s->z.next_out = buf;
    s->z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
    while (s->z.avail_out == cap && !s->zdone) {
        if (s->z.avail_in == 0 && !s->zeof) {
            ssize_t k = read_raw(s, s->zin, sizeof s->zin, e);
            if (k < 0)
                return k;
            if (k == 0)
                s->zeof = true;
            s->z.next_in = s->zin;
            s->z.avail_in = (uInt)k;
        }
        if (s->z.avail_in == 0 && s->zeof) {
            /* input ended: fine between members, truncated inside one */
            if (s->z.total_in > 0 || s->z.total_out > 0)
                return err_set(e, TRAWL_EINVAL, false,
                               "the gzip data ends before its end (truncated feed)");
            s->zdone = true;
            break;
        }
        int zr = inflate(&s->z, Z_NO_FLUSH);
        if (zr == Z_STREAM_END) {
            /* another member may follow (concatenated gzip files) */
            inflateReset(&s->z);
            if (s->z.avail_in == 0 && s->zeof)
                s->zdone = true;
        } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
            return err_set(e, TRAWL_EINVAL, false, "the feed's gzip data is corrupt: %s",
                           s->z.msg ? s->z.msg : "inflate failed");
        }
    }
    size_t got = cap - s->z.avail_out;
    s->st->bytes_out += (int64_t)got;
    if (s->st->bytes_out > s->inflate_max)
        return err_set(e, TRAWL_EINVAL, false,
                       "the feed inflates to more than %lld bytes (a gzip bomb?)",
                       (long long)s->inflate_max);
    if (s->st->bytes_out > (1 << 20) && s->st->bytes_out / FEED_INFLATE_RATIO > s->st->bytes_in)
        return err_set(e, TRAWL_EINVAL, false,
                       "the feed inflates more than %d times (%lld bytes from %lld): a gzip bomb?",
                       FEED_INFLATE_RATIO, (long long)s->st->bytes_out, (long long)s->st->bytes_in);
    return (ssize_t)got;
}

static ssize_t read_body(struct feed_src *s, unsigned char *buf, size_t cap, struct err *e)
{
    if (s->gz)
        return read_gz(s, buf, cap, e);
    ssize_t k = read_raw(s, buf, cap, e);
    if (k > 0)
        s->st->bytes_out += k;
    return k;
}

/* The plain bytes: the head again, then the rest. */
static ssize_t read_plain(struct feed_src *s, unsigned char *buf, size_t cap, struct err *e)
{
    if (s->hpos < s->nhead) {
        size_t k = s->nhead - s->hpos < cap ? s->nhead - s->hpos : cap;
        memcpy(buf, s->head + s->hpos, k);
        s->hpos += k;
        return (ssize_t)k;
    }
    return read_body(s, buf, cap, e);
}

/* The plain bytes in UTF-8. */
static ssize_t read_conv(struct feed_src *s, unsigned char *buf, size_t cap, struct err *e)
{
    if (!s->from)
        return read_plain(s, buf, cap, e);
    char *t = (char *)buf, *tend = (char *)buf + cap;
    for (;;) {
        if (s->cin_pos == s->cin_len && !s->ceof) {
            ssize_t k = read_plain(s, s->cin, sizeof s->cin, e);
            if (k < 0)
                return k;
            s->ceof = k == 0;
            s->cin_len = (size_t)k;
            s->cin_pos = 0;
        }
        const char *src = (const char *)s->cin + s->cin_pos;
        const char *send = (const char *)s->cin + s->cin_len;
        UErrorCode uerr = U_ZERO_ERROR;
        ucnv_convertEx(s->to, s->from, &t, tend, &src, send, s->pivot, &s->psrc, &s->ptgt,
                       s->pivot + PIVOT, s->cfirst, s->ceof, &uerr);
        s->cfirst = false;
        s->cin_pos = (size_t)(src - (const char *)s->cin);
        if (uerr == U_BUFFER_OVERFLOW_ERROR)
            break; /* buf is full */
        if (U_FAILURE(uerr))
            return err_set(e, TRAWL_EINVAL, false, "cannot read the feed as %s: %s", s->encoding,
                           u_errorName(uerr));
        if (s->cin_pos == s->cin_len && (s->ceof || t > (char *)buf))
            break;
    }
    return (ssize_t)(t - (char *)buf);
}

ssize_t feed_src_read(struct feed_src *s, void *buf, size_t cap, struct err *e)
{
    if (s->h2pos < s->nhead2) {
        size_t k = s->nhead2 - s->h2pos < cap ? s->nhead2 - s->h2pos : cap;
        memcpy(buf, s->head2 + s->h2pos, k);
        s->h2pos += k;
        return (ssize_t)k;
    }
    return read_conv(s, buf, cap, e);
}

/* Fill buf with up to cap bytes from fn, reading until full or the end. */
static ssize_t fill(struct feed_src *s,
                    ssize_t (*fn)(struct feed_src *, unsigned char *, size_t, struct err *),
                    unsigned char *buf, size_t cap, struct err *e)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t k = fn(s, buf + n, cap - n, e);
        if (k < 0)
            return k;
        if (k == 0)
            break;
        n += (size_t)k;
    }
    return (ssize_t)n;
}

/* ---- sniffing ---- */

/* Whether the head is UTF-8, but for a sequence it cut at its end (not a fault of the feed). */
static bool head_is_utf8(const unsigned char *h, size_t n)
{
    size_t k = n;
    for (size_t back = 0; back < 3 && k > 0 && (h[k - 1] & 0xc0) == 0x80; back++)
        k--;
    if (k > 0 && (h[k - 1] & 0xc0) == 0xc0)
        k--;
    return utf8_valid((const char *)h, k);
}

/* The charset of the head: a BOM (skipped, *skip its length), UTF-16 without one (NULs every
 * other byte), UTF-8 when it is valid (but for a sequence the head cut), else windows-1252. A
 * UTF-8 BOM before text that is not UTF-8 is a tool's mislabel of windows-1252 (spreadsheet
 * exports do it): the text decides. */
static const char *sniff_encoding(const unsigned char *h, size_t n, size_t *skip)
{
    *skip = 0;
    if (n >= 3 && h[0] == 0xef && h[1] == 0xbb && h[2] == 0xbf) {
        *skip = 3;
        return head_is_utf8(h + 3, n - 3) ? "UTF-8" : "windows-1252";
    }
    if (n >= 4 && h[0] == 0xff && h[1] == 0xfe && h[2] == 0 && h[3] == 0)
        return "UTF-32"; /* ICU's UTF-32 reads the BOM */
    if (n >= 2 && ((h[0] == 0xff && h[1] == 0xfe) || (h[0] == 0xfe && h[1] == 0xff)))
        return "UTF-16";
    size_t even = 0, odd = 0, m = n < 1024 ? n : 1024;
    for (size_t i = 0; i < m; i++)
        if (!h[i] && i % 2)
            odd++;
        else if (!h[i])
            even++;
    if (m >= 4 && odd > m / 4 && even == 0)
        return "UTF-16LE";
    if (m >= 4 && even > m / 4 && odd == 0)
        return "UTF-16BE";
    return head_is_utf8(h, n) ? "UTF-8" : "windows-1252";
}

/* The first character that is not white space, in the head's charset (0: none). */
static int first_char(const unsigned char *h, size_t n, const char *enc, size_t skip)
{
    size_t step = 1, lo = 0;
    if (strcmp(enc, "UTF-16LE") == 0 || (strcmp(enc, "UTF-16") == 0 && h[0] == 0xff)) {
        step = 2;
        lo = 0;
    } else if (strcmp(enc, "UTF-16BE") == 0 || strcmp(enc, "UTF-16") == 0) {
        step = 2;
        lo = 1;
    } else if (strcmp(enc, "UTF-32") == 0) {
        step = 4;
    }
    size_t i = skip ? skip : (step > 1 && (h[0] == 0xff || h[0] == 0xfe) ? step : 0);
    for (; i + step <= n; i += step) {
        int c = h[i + lo];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
            return c;
    }
    return 0;
}

/* Whether the head looks like text: no NUL (outside UTF-16/32) and few control characters. */
static bool looks_like_text(const unsigned char *h, size_t n, const char *enc)
{
    if (strncmp(enc, "UTF-16", 6) == 0 || strcmp(enc, "UTF-32") == 0)
        return true;
    size_t ctl = 0;
    for (size_t i = 0; i < n; i++) {
        if (!h[i])
            return false;
        if (h[i] < 0x20 && h[i] != '\t' && h[i] != '\r' && h[i] != '\n' && h[i] != '\f')
            ctl++;
    }
    return ctl * 100 <= n;
}

/* ---- records ---- */

void feed_rec_reset(struct feed_rec *r)
{
    r->n = 0;
    r->len = 0;
}

void feed_rec_release(struct feed_rec *r)
{
    if (!r)
        return;
    free(r->fields);
    free(r->text);
    free(r->offs);
    memset(r, 0, sizeof *r);
}

int feed_rec_add(struct feed_rec *r, const char *name, size_t name_len, const char *value,
                 size_t value_len, const struct feed_limits *l, struct err *e)
{
    /* a name in a message is cut at 64 bytes, between characters */
    int shown = (int)(name_len > 64 ? 64 : name_len);
    while (shown > 0 && shown < (int)name_len && ((unsigned char)name[shown] & 0xc0) == 0x80)
        shown--;
    if (r->n >= l->fields_max)
        return err_set(e, TRAWL_EINVAL, false, "more than %zu fields", l->fields_max);
    if (value_len > l->field_max)
        return err_set(e, TRAWL_EINVAL, false, "field %.*s is longer than %zu bytes", shown, name,
                       l->field_max);
    if (r->len + name_len + value_len + 2 > l->record_max)
        return err_set(e, TRAWL_EINVAL, false,
                       "the record is longer than %zu bytes (at field %.*s)", l->record_max, shown,
                       name);
    if (!utf8_valid(value, value_len))
        return err_set(e, TRAWL_EINVAL, false, "field %.*s is not valid UTF-8", shown, name);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->fields = xrealloc(r->fields, r->cap * sizeof *r->fields);
        r->offs = xrealloc(r->offs, 2 * r->cap * sizeof *r->offs);
    }
    size_t need = r->len + name_len + value_len + 2;
    if (need > r->tcap) {
        r->tcap = need > 2 * r->tcap ? need : 2 * r->tcap;
        r->text = xrealloc(r->text, r->tcap);
    }
    r->offs[2 * r->n] = r->len;
    memcpy(r->text + r->len, name, name_len);
    r->len += name_len;
    r->text[r->len++] = 0;
    r->offs[2 * r->n + 1] = r->len;
    memcpy(r->text + r->len, value, value_len);
    r->len += value_len;
    r->text[r->len++] = 0;
    r->fields[r->n].len = value_len;
    r->n++;
    return 0;
}

/* raw cut to FEED_RAW_MAX bytes between characters, NUL-terminated in out. */
static size_t cut_raw(const char *raw, size_t n, char out[FEED_RAW_MAX + 1])
{
    if (!raw)
        n = 0;
    if (n > FEED_RAW_MAX) {
        n = FEED_RAW_MAX;
        while (n > 0 && ((unsigned char)raw[n] & 0xc0) == 0x80)
            n--;
    }
    /* a parser may have cut it already, inside a character: drop the part */
    size_t start = n;
    while (start > 0 && n - start < 4 && ((unsigned char)raw[start - 1] & 0xc0) == 0x80)
        start--;
    if (start > 0 && n - start < 4) {
        unsigned char lead = (unsigned char)raw[start - 1];
        size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (n - (start - 1) < want)
            n = start - 1;
    }
    if (n)
        memcpy(out, raw, n);
    out[n] = 0;
    return n;
}

int feed_out_begin(struct feed_out *o, const struct feed_info *info, struct err *e)
{
    if (o->sink && o->sink->begin)
        return o->sink->begin(o->sink->ctx, info, e);
    return 0;
}

int feed_out_record(struct feed_out *o, struct feed_rec *r, int64_t number, int64_t line,
                    const char *raw, size_t raw_len, struct err *e)
{
    for (size_t i = 0; i < r->n; i++) {
        r->fields[i].name = r->text + r->offs[2 * i];
        r->fields[i].value = r->text + r->offs[2 * i + 1];
    }
    char cut[FEED_RAW_MAX + 1];
    struct feed_record rec = {.number = number,
                              .line = line,
                              .fields = r->fields,
                              .nfields = r->n,
                              .raw = cut,
                              .raw_len = cut_raw(raw, raw_len, cut)};
    o->st->records++;
    int rc = o->sink && o->sink->record ? o->sink->record(o->sink->ctx, &rec, e) : 0;
    feed_rec_reset(r);
    return rc;
}

int feed_out_row_error(struct feed_out *o, int64_t number, int64_t line, const char *msg,
                       const char *raw, size_t raw_len, struct err *e)
{
    char cut[FEED_RAW_MAX + 1];
    struct feed_row_error er = {.number = number,
                                .line = line,
                                .msg = msg,
                                .raw = cut,
                                .raw_len = cut_raw(raw, raw_len, cut)};
    o->st->row_errors++;
    return o->sink && o->sink->row_error ? o->sink->row_error(o->sink->ctx, &er, e) : 0;
}

/* ---- the parse ---- */

static int open_converter(struct feed_src *s, const char *enc, struct err *e)
{
    UErrorCode uerr = U_ZERO_ERROR;
    s->from = ucnv_open(enc, &uerr);
    if (U_FAILURE(uerr) || !s->from)
        return err_set(e, TRAWL_EINVAL, false, "unknown charset %s", enc);
    uerr = U_ZERO_ERROR;
    s->to = ucnv_open("UTF-8", &uerr);
    if (U_FAILURE(uerr) || !s->to)
        return err_set(e, TRAWL_EINVAL, false, "cannot open a UTF-8 converter: %s",
                       u_errorName(uerr));
    s->psrc = s->ptgt = s->pivot;
    s->cfirst = true;
    return 0;
}

int feed_parse(const struct feed_opts *o, feed_read_fn read, void *ctx,
               const struct feed_sink *sink, struct feed_stats *st, struct err *e)
{
    static const struct feed_opts none;
    if (!o)
        o = &none;
    struct feed_stats own = {0};
    if (!st)
        st = &own;
    memset(st, 0, sizeof *st);
    struct feed_limits l = {.field_max = o->field_max ? o->field_max : FEED_FIELD_MAX,
                            .fields_max = o->fields_max ? o->fields_max : FEED_FIELDS_MAX,
                            .record_max = o->record_max ? o->record_max : FEED_RECORD_MAX,
                            .depth_max = o->depth_max ? o->depth_max : FEED_DEPTH_MAX};
    /* a record holds at least one field of the largest size allowed */
    if (!o->record_max && l.record_max < 2 * l.field_max)
        l.record_max = 2 * l.field_max;
    struct feed_src *s = xcalloc(1, sizeof *s);
    s->read = read;
    s->ctx = ctx;
    s->st = st;
    s->inflate_max = o->inflate_max ? o->inflate_max : FEED_INFLATE_MAX;
    struct feed_info info = {0};
    struct feed_out out = {.sink = sink, .st = st};
    int rc;

    /* gzip is known by its first two bytes */
    unsigned char magic[2];
    ssize_t k = read_raw(s, magic, 2, e);
    if (k == 1) {
        ssize_t k2 = read_raw(s, magic + 1, 1, e);
        if (k2 < 0) {
            rc = (int)k2;
            goto out;
        }
        k += k2;
    }
    if (k < 0) {
        rc = (int)k;
        goto out;
    }
    if (k == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->gz = true;
        info.gzip = 1;
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            rc = err_set(e, TRAWL_ENOMEM, false, "cannot start gunzipping the feed");
            goto out;
        }
        memcpy(s->zin, magic, 2);
        s->z.next_in = s->zin;
        s->z.avail_in = 2;
    } else {
        memcpy(s->head, magic, (size_t)k);
        s->nhead = (size_t)k;
        st->bytes_out += k;
    }
    ssize_t h = fill(s, read_body, s->head + s->nhead, sizeof s->head - s->nhead, e);
    if (h < 0) {
        rc = (int)h;
        goto out;
    }
    s->nhead += (size_t)h;

    size_t skip = 0;
    const char *enc = o->encoding ? o->encoding : sniff_encoding(s->head, s->nhead, &skip);
    int c = first_char(s->head, s->nhead, enc, skip);
    /* a head of white space only, but more to come: look further (white space before the
     * first byte that tells the format says nothing, so it is dropped) */
    for (int64_t blank = 0; c == 0 && s->nhead == sizeof s->head; blank += (int64_t)s->nhead) {
        if (blank > (64 << 20)) {
            rc = err_set(e, TRAWL_EINVAL, false,
                         "the feed starts with more than 64 MB of white space");
            goto out;
        }
        h = fill(s, read_body, s->head, sizeof s->head, e);
        if (h < 0) {
            rc = (int)h;
            goto out;
        }
        s->nhead = (size_t)h;
        skip = 0;
        c = first_char(s->head, s->nhead, enc, 0);
    }
    if (c == 0) {
        rc = err_set(e, TRAWL_EINVAL, false, "the feed is empty");
        goto out;
    }
    enum feed_format f = o->format;
    if (f == FEED_UNKNOWN) {
        if (!looks_like_text(s->head, s->nhead, enc)) {
            rc = err_set(e, TRAWL_EINVAL, false,
                         "the feed is not CSV, JSON or XML: it starts with the bytes "
                         "%02x %02x %02x %02x, which are not text",
                         s->head[0], s->nhead > 1 ? s->head[1] : 0, s->nhead > 2 ? s->head[2] : 0,
                         s->nhead > 3 ? s->head[3] : 0);
            goto out;
        }
        f = c == '<' ? FEED_XML : c == '[' || c == '{' ? FEED_JSON : FEED_CSV;
    }
    info.format = f;
    /* ICU's UTF-16 reads the BOM; the name shown says which it found */
    info.encoding = strcmp(enc, "UTF-16") == 0   ? (s->head[0] == 0xff ? "UTF-16LE" : "UTF-16BE")
                    : strcmp(enc, "UTF-32") == 0 ? "UTF-32LE"
                                                 : enc;
    s->hpos = f == FEED_XML ? 0 : skip; /* libxml2 reads its BOM itself */
    if (f != FEED_XML && strcmp(enc, "UTF-8") != 0) {
        rc = open_converter(s, enc, e);
        if (rc)
            goto out;
    }
    s->encoding = enc;
    h = fill(s, read_conv, s->head2, sizeof s->head2, e);
    if (h < 0) {
        rc = (int)h;
        goto out;
    }
    s->nhead2 = (size_t)h;
    switch (f) {
    case FEED_CSV:
        rc = feed_csv_parse(s, s->head2, s->nhead2, o, &l, &info, &out, e);
        break;
    case FEED_JSON:
        rc = feed_json_parse(s, s->head2, s->nhead2, o, &l, &info, &out, e);
        break;
    default:
        rc = feed_xml_parse(s, s->head2, s->nhead2, o, &l, &info, &out, e);
        break;
    }
out:
    if (s->gz)
        inflateEnd(&s->z);
    if (s->from)
        ucnv_close(s->from);
    if (s->to)
        ucnv_close(s->to);
    free(s);
    return rc;
}
