/* XML product feeds: libxml2's xmlTextReader pulls the feed through feed_src_read, and each
 * product element (a Google Merchant RSS item or Atom entry, or the element that repeats under
 * the root) becomes a record of the elements and attributes under it. No DTD or external entity
 * is ever loaded, and libxml2's own caps (10 MB of text, 256 levels) stay on. */
#include "parse/feed_int.h"

#include "base/xalloc.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlreader.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOOGLE_NS "http://base.google.com/ns/1.0"
/* XML_PARSE_NONET: nothing from the network. Never XML_PARSE_NOENT or XML_PARSE_DTDLOAD (they
 * would load external entities and DTDs: XXE), nor XML_PARSE_HUGE (it lifts the caps on text
 * nodes, lookahead and depth that bound memory, and on entity amplification). BIG_LINES keeps
 * the line of text nodes past 65535, which node_line() needs. */
#define XML_OPTIONS    (XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_COMPACT)
#define LINE_SATURATED 65535              /* libxml2 keeps an element's line in 16 bits */
#define NAME_MAX_BYTES 1024               /* of a field's name: the path of qualified names */
#define RAW_KEEP       (FEED_RAW_MAX + 8) /* feed_out_* cut the raw text between characters */
#define DETECT_KEYS    1024               /* (depth, name) pairs the detection counts */
#define LIBXML2_DEPTH  256                /* libxml2's own cap on nesting */

/* A byte buffer whose callers keep it under a cap of their own (field_max, NAME_MAX_BYTES,
 * RAW_KEEP); its memory is reused from record to record. */
struct xbuf {
    char *p;
    size_t len, cap;
};

static void xbuf_init(struct xbuf *b, size_t cap)
{
    b->p = xmalloc(cap);
    b->len = 0;
    b->cap = cap;
}

static void xbuf_grow(struct xbuf *b, size_t n)
{
    b->cap = b->len + n > 2 * b->cap ? b->len + n : 2 * b->cap;
    b->p = xrealloc(b->p, b->cap);
}

static inline void xbuf_add(struct xbuf *b, const void *s, size_t n)
{
    if (b->len + n > b->cap)
        xbuf_grow(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* An element's or attribute's name, measured once. */
struct qn {
    const xmlChar *prefix, *local;
    size_t plen, llen;
    const xmlChar *href; /* its namespace */
};

static inline struct qn qn_of(const xmlNs *ns, const xmlChar *local)
{
    struct qn q = {.local = local, .llen = strlen((const char *)local)};
    if (ns) {
        q.href = ns->href;
        if (ns->prefix) {
            q.prefix = ns->prefix;
            q.plen = strlen((const char *)ns->prefix);
        }
    }
    return q;
}

/* An element open inside the product being read. */
struct frame {
    struct qn name;
    size_t path_len;         /* its field name is path[0, path_len) */
    size_t text_start, trim; /* its text is text[text_start, trim): trimmed */
    size_t raw_mark;         /* raw.len after its start tag */
    bool has_child, has_attr;
};

struct xml_parse {
    const struct feed_limits *l;
    struct feed_out *out;
    struct feed_info *info;
    xmlTextReaderPtr r;
    /* the input */
    struct feed_src *src;
    size_t nhead, given; /* bytes of the head; bytes handed to libxml2 */
    unsigned char *pre;  /* the first bytes, rearranged (see lead_blank) */
    size_t npre;
    bool past_head, src_eof;
    int src_rc;
    struct err src_err;
    /* libxml2's first error */
    bool xerr;
    int xcode, xline, xcol;
    xmlParserCtxtPtr end_ctxt; /* the parser's, from its "extra content" error */
    char xmsg[256];
    /* the product element */
    const char *rec_name; /* NULL until known */
    char *rec_own;        /* rec_name when detected */
    int rec_depth;        /* the reader's depth of products; -1: any (the outermost) */
    bool rec_local;       /* match the local name, whatever the prefix */
    char *no_rec;         /* why detection found none: raised once the head is read */
    bool begun, seen_root;
    /* the root element, for the message of a truncated feed; how many elements are open */
    const xmlChar *root_prefix, *root_local;
    int64_t root_line;
    int open_n;
    /* the product being read; pending: read whole, given at the next node (see flush) */
    bool in_rec, skipping, ws_over, pending;
    int rdepth; /* the reader's depth of the product */
    int64_t number, line;
    char row_msg[sizeof((struct err *)0)->msg];
    struct feed_rec rec;
    struct frame *frames;
    size_t frames_cap;
    struct xbuf path, text, raw, tmp;
};

static bool is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool qname_eq(const xmlChar *prefix, const xmlChar *local, const char *s)
{
    if (prefix) {
        size_t n = strlen((const char *)prefix);
        if (strncmp(s, (const char *)prefix, n) != 0 || s[n] != ':')
            return false;
        s += n + 1;
    }
    return strcmp(s, (const char *)local) == 0;
}

static void init_once(void)
{
    xmlInitParser();
}

/* ---- input ---- */

/* The read callback of the reader: the feed's bytes as they are (libxml2 reads the declaration,
 * BOM and charset itself), the first ones rearranged by lead_blank. A failure of the source is
 * kept for fail_xml() to report. */
static int io_read(void *ctx, char *buf, int len)
{
    struct xml_parse *x = ctx;
    if (x->src_rc)
        return -1;
    if (x->given >= x->nhead)
        x->past_head = true;
    ssize_t k = feed_src_read(x->src, buf, (size_t)len, &x->src_err);
    if (k < 0) {
        x->src_rc = (int)k;
        return -1;
    }
    if (k == 0) {
        x->src_eof = true;
        return 0;
    }
    if (x->given < x->npre) {
        size_t n = x->npre - x->given < (size_t)k ? x->npre - x->given : (size_t)k;
        memcpy(buf, x->pre + x->given, n);
    }
    x->given += (size_t)k;
    return (int)k;
}

/* Blanks before "<?xml" are a common slip of the templates that make feeds, and a fatal error
 * for libxml2. They are moved after the declaration, where they are allowed: every byte keeps
 * its place, so lines and columns stay the feed's. Only before "<?xml", so that a UTF-16 feed
 * is left alone. */
static void lead_blank(struct xml_parse *x, const unsigned char *head, size_t n)
{
    size_t i = 0;
    while (i < n && is_blank(head[i]))
        i++;
    if (i == 0 || n - i < 5 || memcmp(head + i, "<?xml", 5) != 0)
        return;
    const unsigned char *q = head + i;
    for (; q + 1 < head + n; q++)
        if (q[0] == '?' && q[1] == '>')
            break;
    if (q + 1 >= head + n)
        return;
    size_t decl = (size_t)(q + 2 - (head + i));
    x->npre = i + decl;
    x->pre = xmalloc(x->npre);
    memcpy(x->pre, head + i, decl);
    memcpy(x->pre + decl, head, i);
}

/* The charset to make libxml2 use: the caller's; else the sniffed one when the bytes have
 * nothing libxml2 would go by (a BOM, "<?xml" in UTF-16, an encoding declaration): a Latin-1
 * feed without a declaration, UTF-16 without a BOM. NULL: libxml2 decides. */
static const char *forced_encoding(const struct feed_opts *o, const struct feed_info *info,
                                   const unsigned char *h, size_t n)
{
    if (o->encoding)
        return o->encoding;
    const char *enc = info->encoding;
    if (!enc)
        return NULL;
    if (strcmp(enc, "UTF-16LE") == 0 || strcmp(enc, "UTF-16BE") == 0)
        return n >= 4 && memchr(h, '?', 4) ? NULL : enc;
    if (strcmp(enc, "windows-1252") != 0)
        return NULL;
    if (n >= 5 && memcmp(h, "<?xml", 5) == 0) {
        const unsigned char *end = memchr(h, '>', n);
        size_t m = end ? (size_t)(end - h) : n;
        for (size_t i = 0; i + 8 <= m; i++)
            if (memcmp(h + i, "encoding", 8) == 0)
                return NULL;
    }
    return enc;
}

/* ---- errors ---- */

/* Keep libxml2's first error (its later ones for the same fault only say where it surfaced
 * last, e.g. an entity loop found inside the entities and then in the document). Warnings and
 * namespace errors (an undeclared g: prefix, say) do not stop the reader and are not kept. */
static void on_error(void *ctx, xmlErrorPtr er)
{
    struct xml_parse *x = ctx;
    if (!er || er->level < XML_ERR_ERROR || er->domain == XML_FROM_NAMESPACE)
        return;
    /* only the document's parser raises this one (the parsers of entities never do), so its
     * context is the reader's, alive until the reader is freed */
    if (er->code == XML_ERR_DOCUMENT_END && er->domain == XML_FROM_PARSER)
        x->end_ctxt = er->ctxt;
    if (x->xerr) {
        if (er->code == x->xcode) {
            x->xline = er->line;
            x->xcol = er->int2;
        }
        return;
    }
    x->xerr = true;
    x->xcode = er->code;
    x->xline = er->line;
    x->xcol = er->int2;
    const char *m = er->message ? er->message : "unknown error";
    size_t n = strcspn(m, "\n");
    if (n >= sizeof x->xmsg)
        n = sizeof x->xmsg - 1;
    memcpy(x->xmsg, m, n);
    while (n > 0 && is_blank((unsigned char)x->xmsg[n - 1]))
        n--;
    x->xmsg[n] = 0;
    if (x->xmsg[0] >= 'A' && x->xmsg[0] <= 'Z')
        x->xmsg[0] = (char)(x->xmsg[0] - 'A' + 'a');
}

static void ignore_error(void *ctx, xmlErrorPtr er)
{
    (void)ctx;
    (void)er;
}

/* The error of a reader that stopped: the source's, else libxml2's, said in the feed's terms. */
static int fail_xml(struct xml_parse *x, struct err *e)
{
    if (x->src_rc) {
        err_copy(e, &x->src_err);
        return x->src_rc;
    }
    int64_t line = x->xerr ? x->xline : x->r ? xmlTextReaderGetParserLineNumber(x->r) : 0;
    int col = x->xerr ? x->xcol : x->r ? xmlTextReaderGetParserColumnNumber(x->r) : 0;
    const char *msg = x->xerr ? x->xmsg : "the parser stopped";
    if (!x->seen_root)
        return err_set(e, TRAWL_EINVAL, false, "the feed is not XML: at line %lld, column %d: %s",
                       (long long)line, col, msg);
    /* libxml2 says "extra content at the end of the document" for a feed cut short too: then
     * elements are still open */
    if (x->xcode == XML_ERR_DOCUMENT_END &&
        (x->end_ctxt ? x->end_ctxt->nodeNr > 0 : x->src_eof && x->open_n > 0))
        return err_set(e, TRAWL_EINVAL, false,
                       "malformed XML at line %lld, column %d: the feed ends before <%s%s%s> "
                       "(line %lld) is closed (truncated?)",
                       (long long)line, col, x->root_prefix ? (const char *)x->root_prefix : "",
                       x->root_prefix ? ":" : "", (const char *)x->root_local,
                       (long long)x->root_line);
    if (strstr(msg, "huge") || strstr(msg, "HUGE") || strstr(msg, "too big") ||
        strstr(msg, "too long")) {
        char m[sizeof x->xmsg];
        snprintf(m, sizeof m, "%s", msg);
        char *cut = strstr(m, " use XML_PARSE_HUGE");
        if (cut)
            *cut = 0;
        if (x->in_rec && strstr(msg, "huge text node") && x->path.len > 0)
            return err_set(e, TRAWL_EINVAL, false,
                           "field %.*s of product %lld (line %lld) is longer than %d bytes, "
                           "libxml2's cap on a text",
                           (int)(x->path.len > 64 ? 64 : x->path.len), x->path.p,
                           (long long)x->number, (long long)x->line, XML_MAX_TEXT_LENGTH);
        return err_set(e, TRAWL_EINVAL, false,
                       "the XML is too large for libxml2 at line %lld, column %d: %s",
                       (long long)line, col, m);
    }
    return err_set(e, TRAWL_EINVAL, false, "malformed XML at line %lld, column %d: %s",
                   (long long)line, col, msg);
}

/* ---- lines ---- */

static int64_t newlines(const xmlChar *s)
{
    int64_t n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* An element's line. libxml2 stores it in 16 bits, so past line 65535 it is found from the
 * first text inside (elements with no text between them start on one line), whose line
 * BIG_LINES keeps: the line where that text ends, less its newlines. When the parser has not
 * reached any text yet, it is still on the element's line. */
static int64_t node_line(struct xml_parse *x, xmlNodePtr n)
{
    if (n->line < LINE_SATURATED)
        return n->line;
    for (xmlNodePtr c = n->children; c; c = c->children) {
        if (c->type == XML_TEXT_NODE && c->line == LINE_SATURATED && c->psvi)
            return (int64_t)(ptrdiff_t)c->psvi - newlines(c->content);
        if (c->type != XML_ELEMENT_NODE)
            break;
    }
    return xmlTextReaderGetParserLineNumber(x->r);
}

/* ---- records ---- */

static void rec_fail(struct xml_parse *x, const char *msg)
{
    if (x->skipping)
        return;
    x->skipping = true;
    snprintf(x->row_msg, sizeof x->row_msg, "%s", msg);
}

static void rec_field(struct xml_parse *x, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
    if (x->skipping)
        return;
    struct err fe;
    if (feed_rec_add(&x->rec, name, name_len, value, value_len, x->l, &fe) != 0)
        rec_fail(x, fe.msg);
}

static void too_long(struct xml_parse *x, size_t name_len)
{
    char m[160];
    snprintf(m, sizeof m, "field %.*s is longer than %zu bytes",
             (int)(name_len > 64 ? 64 : name_len), x->path.p, x->l->field_max);
    rec_fail(x, m);
}

static void name_too_long(struct xml_parse *x)
{
    char m[96];
    snprintf(m, sizeof m, "a field name is longer than %d bytes", NAME_MAX_BYTES);
    rec_fail(x, m);
}

static inline void raw_add(struct xml_parse *x, const void *s, size_t n)
{
    if (x->raw.len >= RAW_KEEP)
        return;
    if (n > RAW_KEEP - x->raw.len)
        n = RAW_KEEP - x->raw.len;
    xbuf_add(&x->raw, s, n);
}

#define RAW_LIT(x, s) raw_add(x, s, sizeof s - 1)

/* Text (n bytes) or an attribute value as XML again, escaped. */
static void raw_esc(struct xml_parse *x, const char *s, size_t n, bool attr)
{
    const char *end = s + n;
    while (s < end && x->raw.len < RAW_KEEP) {
        size_t k = strcspn(s, attr ? "&<\"" : "&<>");
        if (k > (size_t)(end - s))
            k = (size_t)(end - s);
        raw_add(x, s, k);
        s += k;
        if (s == end)
            break;
        if (*s == '&')
            RAW_LIT(x, "&amp;");
        else if (*s == '<')
            RAW_LIT(x, "&lt;");
        else if (*s == '>')
            RAW_LIT(x, "&gt;");
        else
            RAW_LIT(x, "&quot;");
        s++;
    }
}

static void raw_name(struct xml_parse *x, const struct qn *q)
{
    if (x->raw.len >= RAW_KEEP)
        return;
    if (q->prefix) {
        raw_add(x, q->prefix, q->plen);
        RAW_LIT(x, ":");
    }
    raw_add(x, q->local, q->llen);
}

/* Append a name to path: its qualified name, with the Google namespace always as "g:" whatever
 * prefix the feed bound it to (none, for a default namespace). */
static void path_name(struct xml_parse *x, const struct qn *q)
{
    if (q->prefix && q->plen == 1 && q->prefix[0] == 'g') {
        xbuf_add(&x->path, "g:", 2);
    } else if (q->href && strcmp((const char *)q->href, GOOGLE_NS) == 0) {
        xbuf_add(&x->path, "g:", 2);
    } else if (q->prefix) {
        xbuf_add(&x->path, q->prefix, q->plen);
        xbuf_add(&x->path, ":", 1);
    }
    xbuf_add(&x->path, q->local, q->llen);
}

/* An attribute's value: its one text, or its pieces joined (entity references as written),
 * up to just past field_max. */
static const char *attr_value(struct xml_parse *x, const xmlAttr *a, size_t *len)
{
    const xmlNode *c = a->children;
    if (!c) {
        *len = 0;
        return "";
    }
    if (c->type == XML_TEXT_NODE && !c->next && c->content) {
        *len = strlen((const char *)c->content);
        return (const char *)c->content;
    }
    x->tmp.len = 0;
    for (; c && x->tmp.len <= x->l->field_max; c = c->next) {
        if (c->type == XML_TEXT_NODE && c->content) {
            xbuf_add(&x->tmp, c->content, strlen((const char *)c->content));
        } else if (c->type == XML_ENTITY_REF_NODE) {
            xbuf_add(&x->tmp, "&", 1);
            xbuf_add(&x->tmp, c->name, strlen((const char *)c->name));
            xbuf_add(&x->tmp, ";", 1);
        }
    }
    xbuf_add(&x->tmp, "", 1);
    *len = x->tmp.len - 1;
    return x->tmp.p;
}

/* An element's namespace declarations and attributes: into the raw text, and (the product is
 * being read) as fields "<path>@<name>". Returns whether it has attributes. */
static bool attributes(struct xml_parse *x, xmlNodePtr n)
{
    for (const xmlNs *ns = n->nsDef; ns && x->raw.len < RAW_KEEP; ns = ns->next) {
        RAW_LIT(x, " xmlns");
        if (ns->prefix) {
            RAW_LIT(x, ":");
            raw_add(x, ns->prefix, strlen((const char *)ns->prefix));
        }
        RAW_LIT(x, "=\"");
        if (ns->href)
            raw_esc(x, (const char *)ns->href, strlen((const char *)ns->href), true);
        RAW_LIT(x, "\"");
    }
    size_t base = x->path.len;
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        size_t vlen;
        const char *value = attr_value(x, a, &vlen);
        struct qn q = qn_of(a->ns, a->name);
        RAW_LIT(x, " ");
        raw_name(x, &q);
        RAW_LIT(x, "=\"");
        raw_esc(x, value, vlen, true);
        RAW_LIT(x, "\"");
        if (x->skipping)
            continue;
        xbuf_add(&x->path, "@", 1);
        path_name(x, &q);
        if (x->path.len > NAME_MAX_BYTES)
            name_too_long(x);
        else if (vlen > x->l->field_max)
            too_long(x, x->path.len);
        else
            rec_field(x, x->path.p, x->path.len, value, vlen);
        x->path.len = base;
    }
    return n->properties != NULL;
}

/* Text of the innermost open element, trimmed as it comes: leading blanks are not kept, trailing
 * ones may be and are cut off by trim. All the text pending (a mixed-content parent's and its
 * child's) stays within field_max; blanks past it are dropped, and text after them is too much. */
static void text_add(struct xml_parse *x, struct frame *f, const char *s, size_t n)
{
    if (x->skipping)
        return;
    if (x->text.len == f->text_start)
        while (n > 0 && is_blank((unsigned char)*s)) {
            s++;
            n--;
        }
    if (n == 0)
        return;
    size_t last = n;
    while (last > 0 && is_blank((unsigned char)s[last - 1]))
        last--;
    size_t trim = last ? x->text.len + last : f->trim;
    if ((last && x->ws_over) || trim > x->l->field_max) {
        too_long(x, f->path_len);
        return;
    }
    if (n > x->l->field_max - x->text.len) {
        n = x->l->field_max - x->text.len;
        x->ws_over = true;
    }
    xbuf_add(&x->text, s, n);
    f->trim = trim;
}

static struct frame *frame_at(struct xml_parse *x, size_t i)
{
    if (i >= x->frames_cap) {
        x->frames_cap = i + 16;
        x->frames = xrealloc(x->frames, x->frames_cap * sizeof *x->frames);
    }
    return &x->frames[i];
}

/* A product read whole is given to the sink only when the reader gives the next node: when
 * libxml2 fails, the reader gives none of the nodes it parsed in the same chunk, and walk_rest
 * gives them instead, but cannot tell whether the last element in the tree was closed. Holding
 * the product until something follows it makes both ways (and every chunk size) give the same
 * products before an error. */
static int flush(struct xml_parse *x, struct err *e)
{
    x->pending = false;
    if (x->skipping) {
        feed_rec_reset(&x->rec);
        return feed_out_row_error(x->out, x->number, x->line, x->row_msg, x->raw.p, x->raw.len, e);
    }
    return feed_out_record(x->out, &x->rec, x->number, x->line, x->raw.p, x->raw.len, e);
}

static void rec_begin(struct xml_parse *x, xmlNodePtr n, int d)
{
    x->in_rec = true;
    x->skipping = false;
    x->ws_over = false;
    x->rdepth = d;
    x->number++;
    x->line = node_line(x, n);
    feed_rec_reset(&x->rec);
    x->path.len = x->text.len = x->raw.len = 0;
    struct frame *f = frame_at(x, 0);
    memset(f, 0, sizeof *f);
}

/* A child element of the product (at frame i), started. */
static void child_begin(struct xml_parse *x, const struct qn *q, size_t i)
{
    struct frame *p = frame_at(x, i - 1);
    p->has_child = true;
    /* a mixed-content parent's blanks before the child are not kept */
    x->text.len = p->trim;
    x->ws_over = false;
    size_t path_len = p->path_len;
    struct frame *f = frame_at(x, i);
    x->path.len = path_len;
    if (!x->skipping) {
        if (i > 1)
            xbuf_add(&x->path, "/", 1);
        path_name(x, q);
        if (x->path.len > NAME_MAX_BYTES)
            name_too_long(x);
    }
    f->name = *q;
    f->path_len = x->path.len;
    f->text_start = f->trim = x->text.len;
    f->has_child = f->has_attr = false;
}

/* A child element of the product (at frame i), ended: its text is a field unless it is blank
 * and the element had children or attributes (those are its fields). */
static void child_end(struct xml_parse *x, size_t i)
{
    struct frame *f = &x->frames[i];
    if (!x->skipping && (f->trim > f->text_start || (!f->has_child && !f->has_attr)))
        rec_field(x, x->path.p, f->path_len, x->text.p + f->text_start, f->trim - f->text_start);
    x->text.len = f->text_start;
    x->ws_over = false;
    x->path.len = x->frames[i - 1].path_len;
}

/* ---- reading the tree ---- */

/* What drive() gives each node: an element's start (end: its end), or a leaf, at reader depth
 * d. 0 goes on; a negative code stops with e set; a positive one stops without an error. */
typedef int (*node_fn)(void *ctx, xmlNodePtr n, int d, bool end, struct err *e);

/* Whether an element the reader did not reach can have been closed: not when it is the last
 * node of the tree libxml2 built, or an ancestor of it, which is where the parser stopped. */
static bool closed(const xmlNode *n)
{
    for (; n && n->type == XML_ELEMENT_NODE; n = n->parent)
        if (n->next)
            return true;
    return false;
}

/* After the reader failed: the nodes libxml2 parsed before the error that the reader did not
 * give (it gives none once the parser has failed, and the parser reads ahead by a chunk), in
 * document order from cur (at depth d, under par) on. */
static int walk_rest(xmlNodePtr par, xmlNodePtr cur, int d, node_fn fn, void *ctx, struct err *e)
{
    for (;;) {
        int rc;
        if (!cur) {
            /* the end of par's children: par ends, unless the parser stopped inside it */
            if (!par || par->type != XML_ELEMENT_NODE || !closed(par) || d == 0)
                return 0;
            d--;
            if ((rc = fn(ctx, par, d, true, e)) != 0)
                return rc;
            cur = par->next;
            par = par->parent;
            continue;
        }
        if (cur->type == XML_DTD_NODE) {
            cur = cur->next;
            continue;
        }
        if ((rc = fn(ctx, cur, d, false, e)) != 0)
            return rc;
        if (cur->type == XML_ELEMENT_NODE) {
            if (cur->children) {
                par = cur;
                cur = cur->children;
                d++;
                continue;
            }
            if (!closed(cur))
                return 0;
            if ((rc = fn(ctx, cur, d, true, e)) != 0)
                return rc;
        }
        cur = cur->next;
    }
}

/* Read r to its end, giving fn each node: the reader's, then, when it fails, walk_rest's. *failed
 * says whether it did; *doc is a document the caller frees after the reader (the reader leaves
 * it when asked for it, which walk_rest needs when the reader gave no node at all). Returns 0
 * or what fn returned to stop. */
static int drive(xmlTextReaderPtr r, node_fn fn, void *ctx, bool *failed, xmlDocPtr *doc,
                 struct err *e)
{
    xmlNodePtr last = NULL;
    int last_d = 0, k, rc = 0;
    bool entered = false;
    *failed = false;
    *doc = NULL;
    /* The elements open, by depth: an element the reader gives again at its depth is its end.
     * (xmlTextReaderNodeType would say so too, but for every blank text it first looks for
     * xml:space in the attributes of all its ancestors.) */
    xmlNodePtr open[LIBXML2_DEPTH + 1];
    int nopen = 0;
    while ((k = xmlTextReaderRead(r)) == 1) {
        xmlNodePtr n = xmlTextReaderCurrentNode(r);
        int d = xmlTextReaderDepth(r);
        if (!n || d < 0)
            continue;
        last = n;
        last_d = d;
        entered = false;
        switch (n->type) {
        case XML_ELEMENT_NODE:
            if (d > LIBXML2_DEPTH ? xmlTextReaderNodeType(r) == XML_READER_TYPE_END_ELEMENT
                                  : d < nopen && open[d] == n) {
                nopen = d < nopen ? d : nopen;
                rc = fn(ctx, n, d, true, e);
                break;
            }
            rc = fn(ctx, n, d, false, e);
            if (rc)
                break;
            if (xmlTextReaderIsEmptyElement(r) == 1) {
                rc = fn(ctx, n, d, true, e);
            } else if (d <= LIBXML2_DEPTH) {
                open[d] = n;
                nopen = d + 1;
                entered = true;
            } else {
                entered = true;
            }
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
        case XML_ENTITY_REF_NODE:
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            rc = fn(ctx, n, d, false, e);
            break;
        default:
            break;
        }
        if (rc)
            return rc;
    }
    if (k == 0)
        return 0;
    *failed = true;
    /* Where the failed call left the reader: on the last node it gave (last, which is then
     * intact); on a text node it moved to and was reading to its end (the node before it may be
     * freed); on the document, past the root. */
    xmlNodePtr at = xmlTextReaderCurrentNode(r);
    if (!last) {
        *doc = xmlTextReaderCurrentDoc(r);
        return *doc ? walk_rest((xmlNodePtr)*doc, (*doc)->children, 0, fn, ctx, e) : 0;
    }
    if (at == last)
        return entered ? walk_rest(last, last->children, last_d + 1, fn, ctx, e)
                       : walk_rest(last->parent, last->next, last_d, fn, ctx, e);
    if (at && (at->type == XML_TEXT_NODE || at->type == XML_CDATA_SECTION_NODE))
        return walk_rest(at->parent, at, xmlTextReaderDepth(r), fn, ctx, e);
    return 0;
}

/* ---- finding the product element ---- */

/* One (depth, qualified name) of the head, and how it occurs. */
struct dkey {
    char *name;
    int depth;
    int64_t count;
    int64_t content;                   /* occurrences with attributes or child elements */
    int64_t children;                  /* occurrences with child elements */
    int64_t run, max_run, last_parent; /* occurrences under one parent element */
};

struct detect {
    struct xml_parse *x;
    struct dkey *keys;
    size_t nkeys;
    int dmax;
    int64_t next;    /* elements seen */
    int64_t *serial; /* per depth: the open element's number */
    int *key;        /* ... its key (-1: none) */
    bool *content, *childful;
    char *root;
    struct xbuf qn;
};

/* An element's qualified name, NUL-terminated in t->qn. */
static const char *qname(struct xbuf *b, const xmlNode *n)
{
    b->len = 0;
    if (n->ns && n->ns->prefix) {
        xbuf_add(b, n->ns->prefix, strlen((const char *)n->ns->prefix));
        xbuf_add(b, ":", 1);
    }
    xbuf_add(b, n->name, strlen((const char *)n->name) + 1);
    return b->p;
}

static int dkey_find(struct detect *t, const char *name, int depth)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (t->keys[i].depth == depth && strcmp(t->keys[i].name, name) == 0)
            return (int)i;
    if (t->nkeys == DETECT_KEYS)
        return -1;
    struct dkey *k = &t->keys[t->nkeys];
    memset(k, 0, sizeof *k);
    k->name = xstrdup(name);
    k->depth = depth;
    k->last_parent = -1;
    return (int)t->nkeys++;
}

static void set_record(struct xml_parse *x, const char *name, int depth, bool local)
{
    x->rec_own = xstrdup(name);
    x->rec_name = x->rec_own;
    x->rec_depth = depth;
    x->rec_local = local;
}

/* drive()'s callback over the head: counts the elements; stops at a root it knows. */
static int detect_node(void *ctx, xmlNodePtr n, int d, bool end, struct err *e)
{
    struct detect *t = ctx;
    if (end || n->type != XML_ELEMENT_NODE || d < 0 || d >= t->dmax)
        return 0;
    const char *name = qname(&t->qn, n);
    const char *local = (const char *)n->name;
    t->serial[d] = ++t->next;
    if (d == 0) {
        if (t->root)
            return 1;
        t->root = xstrdup(name);
        t->key[0] = -1;
        if (strcmp(local, "rss") == 0)
            set_record(t->x, "item", 2, true);
        else if (strcmp(local, "feed") == 0)
            set_record(t->x, "entry", 1, true);
        else if (strcmp(local, "RDF") == 0)
            set_record(t->x, "item", 1, true);
        else if (strcmp(local, "html") == 0)
            return err_set(e, TRAWL_EINVAL, false,
                           "the feed is an HTML page (its root element is <%s>), not an XML "
                           "product feed",
                           name);
        return t->x->rec_name ? 1 : 0;
    }
    int k = dkey_find(t, name, d);
    int p = t->key[d - 1];
    if (p >= 0 && !t->childful[d - 1]) {
        t->childful[d - 1] = true;
        t->keys[p].children++;
        if (!t->content[d - 1]) {
            t->content[d - 1] = true;
            t->keys[p].content++;
        }
    }
    t->key[d] = k;
    t->childful[d] = false;
    t->content[d] = false;
    if (k < 0)
        return 0;
    struct dkey *dk = &t->keys[k];
    dk->count++;
    dk->run = dk->last_parent == t->serial[d - 1] ? dk->run + 1 : 1;
    dk->last_parent = t->serial[d - 1];
    if (dk->run > dk->max_run)
        dk->max_run = dk->run;
    if (n->properties) {
        t->content[d] = true;
        dk->content++;
    }
    return 0;
}

/* The detected element: see detect(). -1: none. */
static int detect_pick(const struct detect *t, bool whole)
{
    int best = -1;
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct dkey *k = &t->keys[i];
        if (k->max_run < 2 || k->content * 2 < k->count)
            continue;
        if (best < 0) {
            best = (int)i;
            continue;
        }
        const struct dkey *b = &t->keys[best];
        bool kc = k->children * 2 >= k->count, bc = b->children * 2 >= b->count;
        if (k->depth < b->depth ||
            (k->depth == b->depth && (kc > bc || (kc == bc && k->count > b->count))))
            best = (int)i;
    }
    if (best >= 0 || !whole)
        return best;
    /* the whole feed was read: one product under the root? */
    int only = -1, n1 = 0;
    for (size_t i = 0; i < t->nkeys; i++)
        if (t->keys[i].depth == 1) {
            n1++;
            only = (int)i;
        }
    return n1 == 1 && t->keys[only].count == 1 && t->keys[only].content == 1 ? only : -1;
}

/* Which element is the product, from the head alone (read by a second reader over memory,
 * tolerating that it is cut):
 *  - RSS (<rss><channel><item>: Google Merchant's RSS feeds), RSS 1.0 (<rdf:RDF><item>) and Atom
 *    (<feed><entry>: Google's Atom feeds) by the root element;
 *  - else the element that repeats as a sibling (twice under one parent) at the shallowest depth
 *    below the root, among those that mostly have child elements or attributes (a product has
 *    fields; a repeated leaf such as <image> or <category> is a field or a side table): at that
 *    depth the one that mostly has child elements, then the one seen most often. So
 *    <catalog><product>... gives "product", <export><shop><offers><offer>... "offer" even with
 *    <categories><category> beside it, <products><product id= price=/>... "product";
 *  - else, when the whole feed is in the head and the root holds one element with fields, that
 *    one (a feed of one product).
 * Otherwise x->no_rec says what the root held; it is raised once the main reader is past the
 * head, so that a head malformed before that gets libxml2's error instead. */
static int detect(struct xml_parse *x, const unsigned char *head, size_t nhead, const char *enc,
                  struct err *e)
{
    xmlTextReaderPtr r = xmlReaderForMemory((const char *)head, (int)nhead, NULL, enc, XML_OPTIONS);
    if (!r)
        return err_set(e, TRAWL_ENOMEM, false, "cannot start libxml2's reader");
    xmlTextReaderSetStructuredErrorHandler(r, ignore_error, NULL);
    struct detect t = {.x = x};
    t.keys = xcalloc(DETECT_KEYS, sizeof *t.keys);
    t.dmax = x->l->depth_max < LIBXML2_DEPTH ? x->l->depth_max : LIBXML2_DEPTH;
    t.serial = xcalloc((size_t)t.dmax + 1, sizeof *t.serial);
    t.key = xcalloc((size_t)t.dmax + 1, sizeof *t.key);
    t.content = xcalloc((size_t)t.dmax + 1, sizeof *t.content);
    t.childful = xcalloc((size_t)t.dmax + 1, sizeof *t.childful);
    xbuf_init(&t.qn, 64);
    bool failed;
    xmlDocPtr doc;
    int rc = drive(r, detect_node, &t, &failed, &doc, e);
    if (rc < 0)
        goto out;
    rc = 0;
    if (x->rec_name || !t.root)
        goto out;
    int best = detect_pick(&t, !failed && nhead < FEED_SNIFF_BYTES);
    if (best >= 0) {
        set_record(x, t.keys[best].name, t.keys[best].depth, false);
        goto out;
    }
    char kids[256] = "";
    size_t len = 0, shown = 0, n1 = 0;
    for (size_t i = 0; i < t.nkeys; i++) {
        if (t.keys[i].depth != 1)
            continue;
        n1++;
        if (shown < 6 && len + 80 < sizeof kids) {
            len += (size_t)snprintf(kids + len, sizeof kids - len, "%s<%.60s>", shown ? ", " : "",
                                    t.keys[i].name);
            shown++;
        }
    }
    if (n1 > shown)
        snprintf(kids + len, sizeof kids - len, ", ...");
    char msg[512];
    if (n1 == 0)
        snprintf(msg, sizeof msg,
                 "no product element: the root <%.60s> holds no elements in the first %zu bytes",
                 t.root, nhead);
    else
        snprintf(msg, sizeof msg,
                 "cannot tell which element is a product: none repeats under the root <%.60s> "
                 "in the first %zu bytes (it holds %s); name it with the record element option",
                 t.root, nhead, kids);
    x->no_rec = xstrdup(msg);
out:
    xmlFreeTextReader(r);
    if (doc)
        xmlFreeDoc(doc);
    for (size_t i = 0; i < t.nkeys; i++)
        free(t.keys[i].name);
    free(t.keys);
    free(t.serial);
    free(t.key);
    free(t.content);
    free(t.childful);
    free(t.root);
    free(t.qn.p);
    return rc;
}

/* ---- the parse ---- */

/* The handlers take the nodes of the tree libxml2 builds, from the reader as it goes and from
 * walk_rest after it failed. */

static int on_start(struct xml_parse *x, xmlNodePtr n, int d, struct err *e)
{
    if (d + 1 > x->l->depth_max)
        return err_set(e, TRAWL_EINVAL, false,
                       "the XML nests deeper than %d elements at line %lld (the depth cap)",
                       x->l->depth_max, (long long)node_line(x, n));
    const xmlChar *prefix = n->ns ? n->ns->prefix : NULL;
    x->open_n = d + 1;
    if (d == 0 && !x->seen_root) {
        x->seen_root = true;
        x->root_prefix = prefix;
        x->root_local = n->name;
        x->root_line = node_line(x, n);
        const xmlChar *enc = xmlTextReaderConstEncoding(x->r);
        if (enc)
            x->info->encoding = (const char *)enc;
    }
    struct frame *f;
    if (!x->in_rec) {
        if (!x->rec_name || (x->rec_depth >= 0 && d != x->rec_depth))
            return 0;
        if (x->rec_local ? strcmp((const char *)n->name, x->rec_name) != 0
                         : !qname_eq(prefix, n->name, x->rec_name))
            return 0;
        if (!x->begun) {
            x->begun = true;
            x->info->record_element = x->rec_name;
            int rc = feed_out_begin(x->out, x->info, e);
            if (rc)
                return rc;
        }
        rec_begin(x, n, d);
        f = &x->frames[0];
        f->name = qn_of(n->ns, n->name);
    } else {
        size_t i = (size_t)(d - x->rdepth);
        struct qn q = qn_of(n->ns, n->name);
        child_begin(x, &q, i);
        f = &x->frames[i];
    }
    RAW_LIT(x, "<");
    raw_name(x, &f->name);
    f->has_attr = attributes(x, n);
    RAW_LIT(x, ">");
    f->raw_mark = x->raw.len;
    return 0;
}

static void on_end(struct xml_parse *x, int d)
{
    x->open_n = d;
    if (!x->in_rec)
        return;
    const struct frame *f = &x->frames[d - x->rdepth];
    if (x->raw.len == f->raw_mark && f->raw_mark < RAW_KEEP) {
        /* nothing inside: <x/>, whichever way it was written */
        x->raw.len--;
        RAW_LIT(x, "/>");
    } else {
        RAW_LIT(x, "</");
        raw_name(x, &f->name);
        RAW_LIT(x, ">");
    }
    if (d == x->rdepth) {
        x->in_rec = false;
        x->pending = true;
    } else {
        child_end(x, (size_t)(d - x->rdepth));
    }
}

/* Text, CDATA, entity references (those libxml2 leaves as they are: any declared in the DTD,
 * which stay "&name;"; the predefined ones and character references come as text), comments
 * and processing instructions (raw text only). */
static void on_leaf(struct xml_parse *x, xmlNodePtr n, int d)
{
    x->open_n = d;
    if (!x->in_rec)
        return;
    const char *v;
    size_t len;
    switch (n->type) {
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        v = n->content ? (const char *)n->content : "";
        len = strlen(v);
        if (n->type == XML_CDATA_SECTION_NODE) {
            RAW_LIT(x, "<![CDATA[");
            raw_add(x, v, len);
            RAW_LIT(x, "]]>");
        } else {
            raw_esc(x, v, len, false);
        }
        break;
    case XML_ENTITY_REF_NODE:
        x->tmp.len = 0;
        xbuf_add(&x->tmp, "&", 1);
        xbuf_add(&x->tmp, n->name, strlen((const char *)n->name));
        xbuf_add(&x->tmp, ";", 1);
        v = x->tmp.p;
        len = x->tmp.len;
        raw_add(x, v, len);
        break;
    case XML_COMMENT_NODE:
        v = n->content ? (const char *)n->content : "";
        RAW_LIT(x, "<!--");
        raw_add(x, v, strlen(v));
        RAW_LIT(x, "-->");
        return;
    case XML_PI_NODE:
        v = n->content ? (const char *)n->content : "";
        RAW_LIT(x, "<?");
        raw_add(x, n->name, strlen((const char *)n->name));
        RAW_LIT(x, " ");
        raw_add(x, v, strlen(v));
        RAW_LIT(x, "?>");
        return;
    default:
        return;
    }
    /* the product's own text is not a field */
    size_t i = (size_t)(d - 1 - x->rdepth);
    if (i >= 1)
        text_add(x, &x->frames[i], v, len);
}

/* One node, as the reader or walk_rest gives it: an element's start (end: its end), or a leaf.
 * The product read before it is given first. */
static int on_node(void *ctx, xmlNodePtr n, int d, bool end, struct err *e)
{
    struct xml_parse *x = ctx;
    if (!x->rec_name && x->past_head)
        return err_set(e, TRAWL_EINVAL, false, "%s",
                       x->no_rec ? x->no_rec : "no element found in the head of the feed");
    if (x->pending) {
        int rc = flush(x, e);
        if (rc)
            return rc;
    }
    if (n->type != XML_ELEMENT_NODE) {
        on_leaf(x, n, d);
        return 0;
    }
    if (end) {
        on_end(x, d);
        return 0;
    }
    return on_start(x, n, d, e);
}

int feed_xml_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                   const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                   struct feed_out *out, struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    struct xml_parse *x = xcalloc(1, sizeof *x);
    x->l = l;
    x->out = out;
    x->info = info;
    x->src = src;
    x->nhead = nhead;
    x->rec_depth = -1;
    xbuf_init(&x->path, 256);
    xbuf_init(&x->text, 1024);
    xbuf_init(&x->raw, RAW_KEEP);
    xbuf_init(&x->tmp, 256);
    xmlDocPtr doc = NULL;
    int rc = 0;

    lead_blank(x, head, nhead);
    size_t skip = 0;
    while (x->npre && skip < nhead && is_blank(head[skip]))
        skip++;
    const unsigned char *h = head + skip;
    size_t nh = nhead - skip;
    const char *enc = forced_encoding(o, info, h, nh);
    if (o->record_element && *o->record_element) {
        x->rec_name = o->record_element;
        x->rec_local = strchr(o->record_element, ':') == NULL;
    } else {
        rc = detect(x, h, nh, enc, e);
        if (rc)
            goto out;
    }

    x->r = xmlReaderForIO(io_read, NULL, x, NULL, enc, XML_OPTIONS);
    if (!x->r) {
        rc = x->src_rc ? fail_xml(x, e)
                       : err_set(e, TRAWL_ENOMEM, false, "cannot start libxml2's reader");
        goto out;
    }
    xmlTextReaderSetStructuredErrorHandler(x->r, on_error, x);
    bool failed;
    rc = drive(x->r, on_node, x, &failed, &doc, e);
    if (rc)
        goto out;
    if (failed || x->src_rc) {
        rc = fail_xml(x, e);
        goto out;
    }
    if (x->pending) {
        rc = flush(x, e);
        if (rc)
            goto out;
    }
    if (!x->rec_name)
        rc = err_set(e, TRAWL_EINVAL, false, "%s",
                     x->no_rec ? x->no_rec : "the feed holds no XML element");
    else if (!x->begun) {
        x->info->record_element = x->rec_name;
        rc = feed_out_begin(out, info, e);
    }
out:
    if (x->r)
        xmlFreeTextReader(x->r);
    if (doc)
        xmlFreeDoc(doc);
    feed_rec_release(&x->rec);
    free(x->frames);
    free(x->path.p);
    free(x->text.p);
    free(x->raw.p);
    free(x->tmp.p);
    free(x->pre);
    free(x->rec_own);
    free(x->no_rec);
    free(x);
    return rc;
}
