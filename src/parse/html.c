/* Parsing HTML with libxml2: the encoding decided before the parser sees a byte (libxml2 would
 * otherwise take a page without a declared charset for Latin-1), invalid UTF-8 replaced so the
 * parser never stops early, and the network never touched. */
#include "parse/html.h"

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "fetch/url.h"
#include "parse/tree.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <libxml/HTMLtree.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void init_once(void)
{
    xmlInitParser();
}

/* The charset named in a Content-Type, or in a <meta charset> or <meta http-equiv> near the
 * start of the page; "" when none. */
static void find_charset(const char *data, size_t len, const char *content_type, char *out,
                         size_t n)
{
    out[0] = 0;
    const char *p = content_type ? strcasestr(content_type, "charset=") : NULL;
    if (!p) {
        size_t scan = len < 2048 ? len : 2048;
        char head[2049];
        memcpy(head, data, scan);
        head[scan] = 0;
        for (size_t i = 0; i < scan; i++)
            if (!head[i])
                head[i] = ' ';
        p = strcasestr(head, "charset=");
        if (!p)
            return;
        p += 8;
        while (*p == '"' || *p == '\'' || *p == ' ')
            p++;
        size_t k = 0;
        while (k + 1 < n && (isalnum((unsigned char)p[k]) || p[k] == '-' || p[k] == '_'))
            out[k] = p[k], k++;
        out[k] = 0;
        return;
    }
    p += 8;
    while (*p == '"' || *p == ' ')
        p++;
    size_t k = 0;
    while (k + 1 < n && (isalnum((unsigned char)p[k]) || p[k] == '-' || p[k] == '_'))
        out[k] = p[k], k++;
    out[k] = 0;
}

/* The n bytes of s in the encoding charset, as UTF-8 (a new string, its length in *out_len);
 * bytes the encoding does not map become U+FFFD. NULL when iconv does not know the encoding.
 * The labels HTML reads as windows-1252 (latin1, iso-8859-1, ascii) are read so. */
static char *to_utf8(const char *s, size_t n, const char *charset, size_t *out_len)
{
    static const char *const cp1252[] = {"iso-8859-1", "iso8859-1", "latin1",    "l1",
                                         "us-ascii",   "ascii",     "iso_8859-1"};
    for (size_t i = 0; i < sizeof cp1252 / sizeof cp1252[0]; i++)
        if (strcasecmp(charset, cp1252[i]) == 0)
            charset = "WINDOWS-1252";
    iconv_t cd = iconv_open("UTF-8", charset);
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap = n * 3 + 16; /* what no single-byte encoding exceeds; grown when one does */
    char *out = xmalloc(cap);
    char *in = (char *)s;
    size_t left = n, o = 0;
    while (left) {
        if (cap - o < 16) { /* room for a U+FFFD and the NUL, whatever came before */
            cap *= 2;
            out = xrealloc(out, cap);
        }
        char *op = out + o;
        size_t room = cap - o - 4;
        size_t r = iconv(cd, &in, &left, &op, &room);
        o = (size_t)(op - out);
        if (r != (size_t)-1)
            break;
        if (errno == E2BIG) {
            cap *= 2;
            out = xrealloc(out, cap);
        } else { /* a byte the encoding does not map, or a sequence cut off at the end */
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            in++;
            left--;
        }
    }
    iconv_close(cd);
    out[o] = 0;
    *out_len = o;
    return out;
}

int html_parse(const char *data, size_t len, const char *url, const char *content_type,
               struct html_doc **out, struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_once);
    *out = NULL;
    if (len > HTML_MAX_BYTES)
        return err_set(e, TRAWL_ETOOBIG, false, "page is %zu bytes; at most %u are parsed", len,
                       HTML_MAX_BYTES);
    char *norm;
    if (!url || url_normalize(url, &norm, e) != 0)
        return url ? TRAWL_EINVAL : err_set(e, TRAWL_EINVAL, false, "no page url given");
    if (!data)
        data = "", len = 0;
    char charset[64];
    find_charset(data, len, content_type, charset, sizeof charset);
    /* a byte order mark says more than any label */
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
        data += 3, len -= 3, charset[0] = 0;
    else if (len >= 2 && memcmp(data, "\xff\xfe", 2) == 0)
        data += 2, len -= 2, snprintf(charset, sizeof charset, "UTF-16LE");
    else if (len >= 2 && memcmp(data, "\xfe\xff", 2) == 0)
        data += 2, len -= 2, snprintf(charset, sizeof charset, "UTF-16BE");
    bool utf8 =
        !charset[0] || strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0;
    char *clean = NULL;
    size_t clen = len;
    if (!utf8) /* an encoding iconv does not know is read as UTF-8 */
        clean = to_utf8(data, len, charset, &clen);
    if (!clean && !utf8_valid(data, len))
        clean = utf8_sanitize(data, len, &clen);
    xmlDocPtr doc = htmlNewDocNoDtD(NULL, NULL);
    if (!doc) {
        free(clean);
        free(norm);
        return err_set(e, TRAWL_ENOMEM, false, "cannot parse the page");
    }
    doc->URL = xmlStrdup(BAD_CAST norm);
    struct html_doc *d = xcalloc(1, sizeof *d);
    d->doc = doc;
    d->url = norm;
    d->cut = tree_build(clean ? clean : data, clean ? clen : len, doc, &d->arena) == 1;
    free(clean);
    /* <base href> changes what relative links mean */
    d->base = xstrdup(norm);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    for (xmlNodePtr n = root ? root->children : NULL; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || xmlStrcasecmp(n->name, BAD_CAST "head") != 0)
            continue;
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE || xmlStrcasecmp(c->name, BAD_CAST "base") != 0)
                continue;
            char *href = html_attr(c, "href");
            char *abs = NULL;
            struct err e2;
            if (href && url_resolve(norm, href, &abs, &e2) == 0) {
                free(d->base);
                d->base = abs;
            }
            free(href);
            break;
        }
    }
    *out = d;
    return 0;
}

void html_free(struct html_doc *d)
{
    if (!d)
        return;
    tree_release(d->doc, d->arena);
    xmlFreeDoc(d->doc);
    free(d->url);
    free(d->base);
    free(d);
}

bool html_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && xmlStrcasecmp(n->name, BAD_CAST name) == 0;
}

xmlNodePtr html_next(xmlNodePtr n, xmlNodePtr root, bool descend)
{
    if (descend && n->type == XML_ELEMENT_NODE && n->children)
        return n->children;
    while (n && n != root) {
        if (n->next)
            return n->next;
        n = n->parent;
    }
    return NULL;
}

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

char *html_collapse(char *s)
{
    size_t o = 0;
    bool space = false;
    for (size_t i = 0; s[i]; i++) {
        if (ascii_space(s[i])) {
            space = o > 0;
            continue;
        }
        if (space)
            s[o++] = ' ';
        space = false;
        s[o++] = s[i];
    }
    s[o] = 0;
    return s;
}

/* Whitespace in a node's text: ASCII's, \v, and the no-break space (U+00A0). */
static size_t text_space(const char *s)
{
    if (ascii_space(*s) || *s == '\v')
        return 1;
    return (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xa0 ? 2 : 0;
}

/* Walked iteratively into a buffer that grows geometrically: libxml2's xmlNodeGetContent grows
 * its buffer by a few bytes at a time, a copy of the whole text per step wherever realloc
 * cannot grow in place, and recursion would let a deep page exhaust the stack. */
char *html_node_text_max(xmlNodePtr n, size_t cap)
{
    struct buf b;
    buf_init(&b, cap);
    bool space = false;
    for (xmlNodePtr x = n; x;) {
        if ((x->type == XML_TEXT_NODE || x->type == XML_CDATA_SECTION_NODE) && x->content) {
            for (const char *p = (const char *)x->content; *p;) {
                size_t w = text_space(p);
                if (w) {
                    space = b.len > 0;
                    p += w;
                    continue;
                }
                size_t k = 0;
                while (p[k] && !text_space(p + k))
                    k++;
                if ((space && buf_add(&b, " ", 1) != 0) || buf_add(&b, p, k) != 0) {
                    buf_release(&b);
                    return NULL;
                }
                space = false;
                p += k;
            }
        }
        /* into elements (and an attribute's value), then on to the next sibling or up, never
         * above n */
        if ((x->type == XML_ELEMENT_NODE || (x == n && x->type == XML_ATTRIBUTE_NODE)) &&
            x->children) {
            x = x->children;
            continue;
        }
        while (x && x != n && !x->next)
            x = x->parent;
        x = x && x != n ? x->next : NULL;
    }
    return buf_detach(&b);
}

char *html_node_text(xmlNodePtr n)
{
    return html_node_text_max(n, 0);
}

char *html_attr(xmlNodePtr n, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE)
        return NULL;
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        if (xmlStrcasecmp(a->name, BAD_CAST name) != 0)
            continue;
        xmlChar *v = xmlNodeListGetString(n->doc, a->children, 1);
        char *s = xstrdup(v ? (const char *)v : "");
        xmlFree(v);
        return s;
    }
    return NULL;
}

char *html_resolve(const struct html_doc *d, const char *ref)
{
    if (!ref)
        return NULL;
    while (*ref == ' ' || *ref == '\t' || *ref == '\n' || *ref == '\r')
        ref++;
    if (!*ref || *ref == '#')
        return NULL;
    char *abs;
    struct err e;
    if (url_resolve_normal(d->base, ref, &abs, &e) != 0)
        return NULL;
    return abs;
}
