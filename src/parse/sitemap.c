/* Sitemaps: gzip is inflated in pieces straight into libxml2's SAX2 push parser, so neither the
 * decompressed document nor a tree is ever held in memory, and every entry closed before an
 * error is kept. */
#include "parse/sitemap.h"

#include "base/buf.h"
#include "base/xalloc.h"

#include <libxml/parser.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define LOC_MAX      8192u       /* longer <loc> values are skipped */
#define LOC_SLACK    1024u       /* room for the whitespace around a <loc> of LOC_MAX bytes */
#define LASTMOD_MAX  256u        /* a W3C datetime is at most 35 bytes; longer ones are dropped */
#define PIECE_BYTES  (64u << 10) /* input handed to the parser, output asked of zlib, at a time */
#define NAME_SHOWN   64          /* bytes of an element name quoted in a message */
#define XML_MSG_SIZE 256

/* What ended the reading early; the first one wins, since whatever follows it is a consequence
 * (a cut-off document always ends in an XML error). */
enum stop {
    STOP_NONE,
    STOP_TOO_LARGE,   /* SITEMAP_MAX_BYTES reached */
    STOP_GZIP_SHORT,  /* the gzip stream ends before its trailer */
    STOP_GZIP_BAD,    /* the gzip stream cannot be inflated */
    STOP_XML,         /* the parser's first fatal error */
    STOP_TOO_MANY,    /* an entry past SITEMAP_MAX_URLS */
    STOP_NOT_SITEMAP, /* the root element is something else */
};

enum field { FIELD_NONE, FIELD_LOC, FIELD_LASTMOD };

struct state {
    struct sitemap *out;
    xmlParserCtxtPtr ctxt;
    size_t alloc; /* of out->entries */
    bool gzip;

    enum stop stop;
    char stop_msg[XML_MSG_SIZE]; /* zlib's or libxml2's message */
    int stop_line;

    size_t fed;           /* bytes handed to the parser */
    bool started;         /* past the whitespace skipped at the start */
    int skipped_newlines; /* so that line numbers still match the input */

    int depth; /* of the element the parser is in; the root is 1 */
    bool root_seen;
    char root_name[NAME_SHOWN * 2 + 2];
    char *ns; /* the root element's namespace URI, or NULL */
    const char *entry_name;

    bool in_entry;
    enum field field;
    bool loc_seen, lastmod_seen, loc_long, lastmod_long;
    struct buf loc, lastmod;
    size_t long_locs;
};

static void init_once(void)
{
    xmlInitParser();
}

/* Copy at most max bytes of src, stopping at a UTF-8 boundary and replacing control
 * characters, so that messages stay printable. */
static void copy_printable(char *dst, size_t n, const char *src, size_t max)
{
    size_t len = strlen(src);
    if (len > max)
        len = max;
    if (len >= n)
        len = n - 1;
    if (len < strlen(src))
        while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
            len--;
    for (size_t i = 0; i < len; i++)
        dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
    dst[len] = '\0';
}

static void stop_with(struct state *st, enum stop why, const char *msg)
{
    if (st->stop != STOP_NONE)
        return;
    st->stop = why;
    if (msg)
        copy_printable(st->stop_msg, sizeof st->stop_msg, msg, sizeof st->stop_msg - 1);
}

static bool ns_equal(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The trimmed text of b as a new string, or NULL when it is empty. */
static char *trimmed(const struct buf *b)
{
    const char *s = b->data, *e = b->data + b->len;
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    if (s == e)
        return NULL;
    char *r = xmalloc((size_t)(e - s) + 1);
    memcpy(r, s, (size_t)(e - s));
    r[e - s] = '\0';
    return r;
}

static void entry_end(struct state *st)
{
    if (st->loc_long) {
        st->long_locs++;
        return;
    }
    char *loc = trimmed(&st->loc);
    if (!loc)
        return;
    if (strlen(loc) > LOC_MAX) {
        st->long_locs++;
        free(loc);
        return;
    }
    struct sitemap *s = st->out;
    if (s->n == SITEMAP_MAX_URLS) {
        free(loc);
        stop_with(st, STOP_TOO_MANY, NULL);
        xmlStopParser(st->ctxt);
        return;
    }
    if (s->n == st->alloc) {
        st->alloc = st->alloc ? st->alloc * 2 : 64;
        s->entries = xrealloc(s->entries, st->alloc * sizeof *s->entries);
    }
    s->entries[s->n].loc = loc;
    s->entries[s->n].lastmod = st->lastmod_long ? NULL : trimmed(&st->lastmod);
    s->n++;
}

static void root_start(struct state *st, const char *name, const char *prefix, const char *uri)
{
    st->root_seen = true;
    char shown[NAME_SHOWN + 1];
    copy_printable(shown, sizeof shown, name, NAME_SHOWN);
    if (prefix) {
        char p[NAME_SHOWN + 1];
        copy_printable(p, sizeof p, prefix, NAME_SHOWN);
        snprintf(st->root_name, sizeof st->root_name, "%s:%s", p, shown);
    } else {
        snprintf(st->root_name, sizeof st->root_name, "%s", shown);
    }
    if (strcmp(name, "urlset") == 0) {
        st->entry_name = "url";
    } else if (strcmp(name, "sitemapindex") == 0) {
        st->entry_name = "sitemap";
        st->out->is_index = true;
    } else {
        stop_with(st, STOP_NOT_SITEMAP, NULL);
        xmlStopParser(st->ctxt);
        return;
    }
    /* Whatever namespace the root is in (sitemaps.org's, none, an old Google one, a misspelt
     * one) is the sitemap's: that keeps <image:loc> and other extensions out of the entries. */
    st->ns = uri ? xstrdup(uri) : NULL;
}

static void on_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
                     int nb_namespaces, const xmlChar **namespaces, int nb_attributes,
                     int nb_defaulted, const xmlChar **attributes)
{
    (void)nb_namespaces, (void)namespaces, (void)nb_attributes, (void)nb_defaulted,
        (void)attributes;
    struct state *st = ctx;
    const char *name = (const char *)localname;
    st->depth++;
    if (st->depth == 1) {
        root_start(st, name, (const char *)prefix, (const char *)uri);
        return;
    }
    if (!ns_equal((const char *)uri, st->ns))
        return;
    if (st->depth == 2 && strcmp(name, st->entry_name) == 0) {
        st->in_entry = true;
        st->loc_seen = st->lastmod_seen = st->loc_long = st->lastmod_long = false;
        buf_clear(&st->loc);
        buf_clear(&st->lastmod);
    } else if (st->depth == 3 && st->in_entry) {
        if (strcmp(name, "loc") == 0 && !st->loc_seen)
            st->field = FIELD_LOC;
        else if (strcmp(name, "lastmod") == 0 && !st->lastmod_seen)
            st->field = FIELD_LASTMOD;
    }
}

static void on_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
    (void)localname, (void)prefix, (void)uri;
    struct state *st = ctx;
    if (st->depth == 3 && st->field != FIELD_NONE) {
        if (st->field == FIELD_LOC)
            st->loc_seen = true;
        else
            st->lastmod_seen = true;
        st->field = FIELD_NONE;
    } else if (st->depth == 2 && st->in_entry) {
        st->in_entry = false;
        entry_end(st);
    }
    st->depth--;
}

static void on_text(void *ctx, const xmlChar *ch, int len)
{
    struct state *st = ctx;
    if (st->field == FIELD_NONE || st->depth != 3 || len <= 0)
        return;
    /* The parser hands text over in pieces, so a huge text node never reaches memory here. */
    if (st->field == FIELD_LOC && !st->loc_long)
        st->loc_long = buf_add(&st->loc, ch, (size_t)len) != 0;
    else if (st->field == FIELD_LASTMOD && !st->lastmod_long)
        st->lastmod_long = buf_add(&st->lastmod, ch, (size_t)len) != 0;
}

static void on_error(void *ctx, xmlErrorPtr err)
{
    struct state *st = ctx;
    /* Errors and warnings (an undefined namespace prefix, say) do not stop the parser. */
    if (!err || err->level != XML_ERR_FATAL || st->stop != STOP_NONE)
        return;
    char msg[XML_MSG_SIZE];
    copy_printable(msg, sizeof msg, err->message ? err->message : "unknown error", sizeof msg - 1);
    size_t n = strlen(msg);
    while (n > 0 && msg[n - 1] == ' ')
        msg[--n] = '\0';
    if (msg[0] >= 'A' && msg[0] <= 'Z')
        msg[0] = (char)(msg[0] - 'A' + 'a');
    stop_with(st, STOP_XML, msg);
    st->stop_line = err->line + st->skipped_newlines;
}

/* Hand n bytes of the document to the parser, up to SITEMAP_MAX_BYTES in all. */
static void feed(struct state *st, const char *p, size_t n)
{
    /* Leading blank lines before <?xml ...?> are a common server-side template slip, and a
     * fatal error for the parser. */
    while (!st->started && n > 0 && is_space(*p)) {
        st->skipped_newlines += *p == '\n';
        p++, n--;
    }
    if (n > 0)
        st->started = true;
    while (n > 0 && st->stop == STOP_NONE) {
        if (st->fed == SITEMAP_MAX_BYTES) {
            stop_with(st, STOP_TOO_LARGE, NULL);
            return;
        }
        size_t k = n < PIECE_BYTES ? n : PIECE_BYTES;
        if (k > SITEMAP_MAX_BYTES - st->fed)
            k = SITEMAP_MAX_BYTES - st->fed;
        xmlParseChunk(st->ctxt, p, (int)k, 0);
        st->fed += k;
        p += k, n -= k;
    }
}

static void gunzip(struct state *st, const unsigned char *in, size_t len)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
        stop_with(st, STOP_GZIP_BAD, zs.msg ? zs.msg : "zlib cannot start");
        return;
    }
    unsigned char *out = xmalloc(PIECE_BYTES);
    size_t pos = 0; /* of the input given to zlib so far */
    while (st->stop == STOP_NONE) {
        if (zs.avail_in == 0 && pos < len) {
            size_t k = len - pos < UINT_MAX ? len - pos : UINT_MAX;
            zs.next_in = (unsigned char *)in + pos;
            zs.avail_in = (uInt)k;
            pos += k;
        }
        zs.next_out = out;
        zs.avail_out = PIECE_BYTES;
        int zr = inflate(&zs, Z_NO_FLUSH);
        feed(st, (const char *)out, PIECE_BYTES - zs.avail_out);
        if (zr == Z_STREAM_END) {
            /* gzip allows members one after another (cat a.gz b.gz); anything else after the
             * first member is padding and is ignored, as gzip -d does. */
            size_t at = pos - zs.avail_in;
            if (len - at < 2 || in[at] != 0x1f || in[at + 1] != 0x8b)
                break;
            inflateReset(&zs);
        } else if (zr == Z_BUF_ERROR && zs.avail_in == 0) {
            if (pos == len)
                stop_with(st, STOP_GZIP_SHORT, NULL);
        } else if (zr != Z_OK) {
            stop_with(st, STOP_GZIP_BAD, zs.msg ? zs.msg : "invalid data");
        }
    }
    free(out);
    inflateEnd(&zs);
}

static void summarize(struct state *st)
{
    struct sitemap *s = st->out;
    char *w = s->warning;
    size_t size = sizeof s->warning;
    unsigned mib = SITEMAP_MAX_BYTES >> 20;
    switch (st->stop) {
    case STOP_TOO_LARGE:
        snprintf(w, size, "sitemap is larger than %u MiB%s; the first %zu entries are kept", mib,
                 st->gzip ? " after decompression" : "", s->n);
        break;
    case STOP_GZIP_SHORT:
        snprintf(w, size, "the gzip data ends early; the first %zu entries are kept", s->n);
        break;
    case STOP_GZIP_BAD:
        snprintf(w, size, "the gzip data is corrupt (%s); the first %zu entries are kept",
                 st->stop_msg, s->n);
        break;
    case STOP_XML:
        snprintf(w, size, "malformed XML at line %d: %s; the first %zu entries are kept",
                 st->stop_line, st->stop_msg, s->n);
        break;
    case STOP_TOO_MANY:
        snprintf(w, size, "more than %d entries; the first %d are kept", SITEMAP_MAX_URLS,
                 SITEMAP_MAX_URLS);
        break;
    case STOP_NONE:
    case STOP_NOT_SITEMAP:
        break;
    }
    if (st->long_locs) {
        size_t used = strlen(w);
        snprintf(w + used, size - used, "%s%zu <loc> longer than %u bytes skipped",
                 used ? "; " : "", st->long_locs, LOC_MAX);
    }
}

int sitemap_parse(const void *data, size_t len, struct sitemap *out, struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    memset(out, 0, sizeof *out);
    if (!data)
        len = 0;

    int rc = 0;
    struct state st;
    memset(&st, 0, sizeof st);
    st.out = out;
    buf_init(&st.loc, LOC_MAX + LOC_SLACK);
    buf_init(&st.lastmod, LASTMOD_MAX);

    /* Only the namespace-aware callbacks: with no entity declaration handler the parser never
     * records an entity, so none can be expanded (billion laughs, external entities), and with
     * no tree builder nothing but the entries is kept. */
    xmlSAXHandler sax;
    memset(&sax, 0, sizeof sax);
    sax.initialized = XML_SAX2_MAGIC;
    sax.startElementNs = on_start;
    sax.endElementNs = on_end;
    sax.characters = on_text;
    sax.cdataBlock = on_text;
    sax.ignorableWhitespace = on_text;
    sax.serror = on_error;
    st.ctxt = xmlCreatePushParserCtxt(&sax, &st, NULL, 0, NULL);
    if (!st.ctxt) {
        rc = err_set(e, TRAWL_ENOMEM, false, "cannot create an XML parser");
        goto out;
    }
    xmlCtxtUseOptions(st.ctxt, XML_PARSE_NONET);

    const unsigned char *p = data;
    st.gzip = len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
    if (st.gzip)
        gunzip(&st, p, len);
    else
        feed(&st, data, len);
    if (st.stop == STOP_NONE)
        xmlParseChunk(st.ctxt, NULL, 0, 1);

    if (!st.root_seen) {
        if (st.stop == STOP_GZIP_SHORT || st.stop == STOP_GZIP_BAD)
            rc = err_set(e, TRAWL_EINVAL, false, "not a sitemap: the gzip data %s%s%s",
                         st.stop == STOP_GZIP_SHORT ? "ends early" : "is corrupt (", st.stop_msg,
                         st.stop == STOP_GZIP_SHORT ? "" : ")");
        else if (st.stop == STOP_XML)
            rc = err_set(e, TRAWL_EINVAL, false, "not XML: %s", st.stop_msg);
        else if (st.stop == STOP_TOO_LARGE)
            rc = err_set(e, TRAWL_EINVAL, false, "not a sitemap: no element in the first %u MiB",
                         SITEMAP_MAX_BYTES >> 20);
        else
            rc = err_set(e, TRAWL_EINVAL, false, "not XML: no element");
        goto out;
    }
    if (st.stop == STOP_NOT_SITEMAP) {
        rc = err_set(e, TRAWL_EINVAL, false, "not a sitemap: the root element is <%s>",
                     st.root_name);
        goto out;
    }
    summarize(&st);

out:
    if (st.ctxt) {
        xmlFreeDoc(st.ctxt->myDoc); /* made for a DOCTYPE, even without a tree builder */
        st.ctxt->myDoc = NULL;
        xmlFreeParserCtxt(st.ctxt);
    }
    free(st.ns);
    buf_release(&st.loc);
    buf_release(&st.lastmod);
    if (rc)
        sitemap_release(out);
    return rc;
}

void sitemap_release(struct sitemap *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->entries[i].loc);
        free(s->entries[i].lastmod);
    }
    free(s->entries);
    memset(s, 0, sizeof *s);
}
