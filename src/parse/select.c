/* Selecting parts of a page with XPath 1.0 (libxml2's engine) or with CSS selectors, which are
 * translated to XPath first, as Scrapy and lxml do. */
#include "parse/html.h"

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELECTOR_MAX 4096        /* bytes of a selector, CSS or XPath */
#define XPATH_MAX    (64u << 10) /* bytes of the XPath a CSS selector becomes */
#define SELECT_OPS   50000000ul  /* XPath steps one evaluation may take (about a second) */
#define SELECT_BYTES (16u << 20) /* bytes of strings one selection may give */

/* ---- CSS to XPath ---- */

struct css {
    const char *s; /* the selector */
    size_t pos;
    struct buf *out;
    struct err *e;
};

/* A selector as a message can show it: at most 100 bytes, control characters as '?'. */
static void shown(const char *s, char *out, size_t n)
{
    size_t k = 0, len = strlen(s);
    for (size_t i = 0; i < len && k + 4 < n && i < 100; i++)
        out[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (len > 100 && k + 4 < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = 0;
}

static int fail(struct css *c, const char *what)
{
    char sel[128];
    shown(c->s, sel, sizeof sel);
    return err_set(c->e, TRAWL_EINVAL, false, "css selector '%s': %s at %zu", sel, what, c->pos);
}

static char peek(const struct css *c)
{
    return c->s[c->pos];
}

static bool space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f';
}

static bool skip_space(struct css *c)
{
    size_t from = c->pos;
    while (space(peek(c)))
        c->pos++;
    return c->pos > from;
}

static bool ident_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-' ||
           (unsigned char)ch >= 0x80;
}

static bool ident_char(char ch)
{
    return ident_start(ch) || (ch >= '0' && ch <= '9');
}

/* An identifier into id (lowercased when lower: HTML names are case-insensitive and libxml2
 * keeps them in lowercase). */
static int ident(struct css *c, char *id, size_t n, bool lower, const char *what)
{
    size_t k = 0;
    if (peek(c) == '\\')
        return fail(c, "escapes are not supported");
    if (!ident_start(peek(c)) || (peek(c) == '-' && !ident_start(c->s[c->pos + 1])))
        return fail(c, what);
    while (ident_char(peek(c))) {
        if (k + 1 >= n)
            return fail(c, "name too long");
        char ch = c->s[c->pos++];
        id[k++] = lower && ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
    }
    if (peek(c) == '\\')
        return fail(c, "escapes are not supported");
    id[k] = 0;
    return 0;
}

/* A string as an XPath 1.0 literal, which has no escapes: 'it''s' is concat('it', "'", 's'). */
static void literal(struct buf *b, const char *s)
{
    if (!strchr(s, '\'')) {
        buf_addf(b, "'%s'", s);
        return;
    }
    if (!strchr(s, '"')) {
        buf_addf(b, "\"%s\"", s);
        return;
    }
    buf_adds(b, "concat(");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, "'");
        if (p != s)
            buf_adds(b, ", ");
        if (n) {
            buf_addf(b, "'%.*s'", (int)n, p);
            p += n;
        } else {
            size_t q = strspn(p, "'");
            buf_addf(b, "\"%.*s\"", (int)q, p);
            p += q;
        }
    }
    buf_adds(b, ")");
}

/* An attribute value: an identifier or a quoted string. */
static int value(struct css *c, char *v, size_t n)
{
    char q = peek(c);
    if (q != '"' && q != '\'')
        return ident(c, v, n, false, "expected a value");
    size_t k = 0;
    c->pos++;
    for (;;) {
        char ch = peek(c);
        if (!ch)
            return fail(c, "unterminated string");
        c->pos++;
        if (ch == q)
            break;
        if (ch == '\\') {
            ch = peek(c);
            if (!ch)
                return fail(c, "unterminated string");
            if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))
                return fail(c, "hex escapes are not supported");
            c->pos++;
        }
        if (k + 1 >= n)
            return fail(c, "value too long");
        v[k++] = ch;
    }
    v[k] = 0;
    return 0;
}

static void class_test(struct buf *b, const char *attr, const char *v)
{
    buf_addf(b, "[contains(concat(' ', normalize-space(@%s), ' '), ", attr);
    struct buf lit;
    buf_init(&lit, 0);
    char *padded = xmalloc(strlen(v) + 3);
    sprintf(padded, " %s ", v);
    literal(&lit, padded);
    buf_add(b, lit.data, lit.len);
    buf_adds(b, ")]");
    free(padded);
    buf_release(&lit);
}

/* The characters of a UTF-8 string, as XPath's string-length() counts them. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* [attr], [attr=v], [attr~=v], [attr|=v], [attr^=v], [attr$=v], [attr*=v] */
static int attribute(struct css *c, struct buf *preds)
{
    char name[256], v[SELECTOR_MAX];
    c->pos++; /* [ */
    skip_space(c);
    if (!peek(c))
        return fail(c, "unterminated [");
    int rc = ident(c, name, sizeof name, true, "expected an attribute name");
    if (rc)
        return rc;
    skip_space(c);
    char op = peek(c);
    if (!op)
        return fail(c, "unterminated [");
    if (op == ']') {
        c->pos++;
        buf_addf(preds, "[@%s]", name);
        return 0;
    }
    if (op == '=') {
        c->pos++;
    } else if (strchr("~|^$*", op) && op && c->s[c->pos + 1] == '=') {
        c->pos += 2;
    } else {
        return fail(c, "expected an operator or ]");
    }
    skip_space(c);
    if (!peek(c))
        return fail(c, "unterminated [");
    if ((rc = value(c, v, sizeof v)))
        return rc;
    skip_space(c);
    if (!peek(c))
        return fail(c, "unterminated [");
    if (peek(c) != ']')
        return fail(c, "expected ]");
    c->pos++;
    struct buf lit;
    buf_init(&lit, 0);
    literal(&lit, v);
    /* the selectors that look for a substring match nothing with an empty one (as CSS says) */
    bool empty = !*v;
    switch (op) {
    case '=':
        buf_addf(preds, "[@%s = %s]", name, lit.data);
        break;
    case '~':
        if (empty || strpbrk(v, " \t\n\r\f"))
            buf_adds(preds, "[false()]");
        else
            class_test(preds, name, v);
        break;
    case '|':
        buf_addf(preds, "[@%s = %s or starts-with(@%s, concat(%s, '-'))]", name, lit.data, name,
                 lit.data);
        break;
    case '^':
        if (empty)
            buf_adds(preds, "[false()]");
        else
            buf_addf(preds, "[starts-with(@%s, %s)]", name, lit.data);
        break;
    case '$':
        if (empty)
            buf_adds(preds, "[false()]");
        else
            buf_addf(preds, "[substring(@%s, string-length(@%s) - %zu) = %s]", name, name,
                     chars(v) - 1, lit.data);
        break;
    case '*':
        if (empty)
            buf_adds(preds, "[false()]");
        else
            buf_addf(preds, "[contains(@%s, %s)]", name, lit.data);
        break;
    }
    buf_release(&lit);
    return 0;
}

/* The an+b of :nth-child(): "odd", "even", "3", "2n+1", "-n + 3", "n". */
static int nth(struct css *c, long *a, long *b)
{
    skip_space(c);
    const char *p = c->s + c->pos;
    size_t used = 0;
    if (strncasecmp(p, "odd", 3) == 0 && !ident_char(p[3])) {
        *a = 2, *b = 1, used = 3;
    } else if (strncasecmp(p, "even", 4) == 0 && !ident_char(p[4])) {
        *a = 2, *b = 0, used = 4;
    } else {
        const char *q = p;
        long sign = 1;
        if (*q == '+' || *q == '-')
            sign = *q++ == '-' ? -1 : 1;
        long num = -1;
        if (*q >= '0' && *q <= '9') {
            num = 0;
            while (*q >= '0' && *q <= '9' && num < 1000000)
                num = num * 10 + (*q++ - '0');
            if (*q >= '0' && *q <= '9')
                return fail(c, "number too large");
        }
        if (*q == 'n' || *q == 'N') {
            *a = sign * (num < 0 ? 1 : num);
            q++;
            while (space(*q))
                q++;
            *b = 0;
            if (*q == '+' || *q == '-') {
                long bs = *q++ == '-' ? -1 : 1;
                while (space(*q))
                    q++;
                if (!(*q >= '0' && *q <= '9'))
                    return fail(c, "invalid :nth-child() argument");
                long bn = 0;
                while (*q >= '0' && *q <= '9' && bn < 1000000)
                    bn = bn * 10 + (*q++ - '0');
                if (*q >= '0' && *q <= '9')
                    return fail(c, "number too large");
                *b = bs * bn;
            }
        } else if (num >= 0) {
            *a = 0;
            *b = sign * num;
        } else {
            return fail(c, "invalid :nth-child() argument");
        }
        used = (size_t)(q - p);
    }
    c->pos += used;
    skip_space(c);
    if (!peek(c))
        return fail(c, "unterminated (");
    if (peek(c) != ')')
        return fail(c, "invalid :nth-child() argument");
    c->pos++;
    return 0;
}

/* The test that the element is child number an+b counted from the start (or the end). */
static void nth_test(struct buf *preds, long a, long b, bool last)
{
    const char *axis = last ? "following-sibling" : "preceding-sibling";
    if (a == 0) {
        /* [k] on a sibling axis stops at the k-th sibling, where count() would visit them all */
        if (b < 1)
            buf_adds(preds, "[false()]");
        else if (b == 1)
            buf_addf(preds, "[not(%s::*)]", axis);
        else
            buf_addf(preds, "[%s::*[%ld] and not(%s::*[%ld])]", axis, b - 1, axis, b);
        return;
    }
    /* position p = count + 1; p = an + b for some n >= 0: (p - b) mod a = 0, p on b's side */
    long k = 1 - b;
    buf_addf(preds, "[(count(%s::*) %c %ld) mod %ld = 0 and count(%s::*) + 1 %s %ld]", axis,
             k < 0 ? '-' : '+', k < 0 ? -k : k, a < 0 ? -a : a, axis, a > 0 ? ">=" : "<=", b);
}

static int pseudo_class(struct css *c, struct buf *preds)
{
    char name[64];
    c->pos++; /* : */
    size_t at = c->pos;
    int rc = ident(c, name, sizeof name, true, "expected a pseudo-class");
    if (rc)
        return rc;
    if (strcmp(name, "first-child") == 0) {
        buf_adds(preds, "[not(preceding-sibling::*)]");
    } else if (strcmp(name, "last-child") == 0) {
        buf_adds(preds, "[not(following-sibling::*)]");
    } else if (strcmp(name, "only-child") == 0) {
        buf_adds(preds, "[not(preceding-sibling::*) and not(following-sibling::*)]");
    } else if (strcmp(name, "nth-child") == 0 || strcmp(name, "nth-last-child") == 0) {
        if (peek(c) != '(')
            return fail(c, "expected (");
        c->pos++;
        long a = 0, b = 0;
        if ((rc = nth(c, &a, &b)))
            return rc;
        nth_test(preds, a, b, name[4] == 'l');
    } else {
        char what[128];
        snprintf(what, sizeof what, "unsupported pseudo-class ':%s'", name);
        c->pos = at - 1;
        return fail(c, what);
    }
    return 0;
}

/* ::text or ::attr(name) into tail ("/text()", "/@name"). */
static int pseudo_element(struct css *c, struct buf *tail)
{
    char name[64], attr[256];
    c->pos += 2; /* :: */
    size_t at = c->pos - 2;
    int rc = ident(c, name, sizeof name, true, "expected a pseudo-element");
    if (rc)
        return rc;
    if (strcmp(name, "text") == 0) {
        buf_adds(tail, "/text()");
    } else if (strcmp(name, "attr") == 0) {
        if (peek(c) != '(')
            return fail(c, "expected (");
        c->pos++;
        skip_space(c);
        if (!peek(c))
            return fail(c, "unterminated (");
        if ((rc = ident(c, attr, sizeof attr, true, "expected an attribute name")))
            return rc;
        skip_space(c);
        if (!peek(c))
            return fail(c, "unterminated (");
        if (peek(c) != ')')
            return fail(c, "expected )");
        c->pos++;
        buf_addf(tail, "/@%s", attr);
    } else {
        char what[128];
        snprintf(what, sizeof what, "unsupported pseudo-element '::%s'", name);
        c->pos = at;
        return fail(c, what);
    }
    size_t end = c->pos;
    skip_space(c);
    if (peek(c) && peek(c) != ',') {
        c->pos = end;
        return fail(c, "a pseudo-element must end the selector");
    }
    return 0;
}

/* One compound selector (div#main.x[a]:first-child): its element name into test ("*" when none)
 * and its conditions into preds; a pseudo-element at its end into tail. */
static int compound(struct css *c, char *test, size_t n, struct buf *preds, struct buf *tail)
{
    size_t start = c->pos;
    int rc = 0;
    snprintf(test, n, "*");
    if (peek(c) == '*') {
        c->pos++;
    } else if (ident_start(peek(c)) || peek(c) == '\\') {
        if ((rc = ident(c, test, n, true, "expected an element name")))
            return rc;
    }
    for (;;) {
        char ch = peek(c);
        char name[SELECTOR_MAX];
        if (ch == '#') {
            c->pos++;
            if ((rc = ident(c, name, sizeof name, false, "expected an id after #")))
                return rc;
            struct buf lit;
            buf_init(&lit, 0);
            literal(&lit, name);
            buf_addf(preds, "[@id = %s]", lit.data);
            buf_release(&lit);
        } else if (ch == '.') {
            c->pos++;
            if ((rc = ident(c, name, sizeof name, false, "expected a class name after .")))
                return rc;
            class_test(preds, "class", name);
        } else if (ch == '[') {
            if ((rc = attribute(c, preds)))
                return rc;
        } else if (ch == ':' && c->s[c->pos + 1] == ':') {
            return pseudo_element(c, tail);
        } else if (ch == ':') {
            if ((rc = pseudo_class(c, preds)))
                return rc;
        } else {
            break;
        }
    }
    if (c->pos == start)
        return fail(c, peek(c) ? "expected a selector" : "selector ends too early");
    return 0;
}

/* One selector of a group, written right to left so that the element selected is the subject
 * and every combinator is a test of its ancestors or preceding siblings: "a b > c" is
 * //c[parent::b[ancestor::a]]. libxml2 merges node sets in quadratic time when a step such as
 * //a//b starts from many nested nodes; a predicate visits each candidate's ancestors only. */
static int selector(struct css *c)
{
    struct part {
        char test[256];
        struct buf preds;
        char comb; /* the combinator before this part: ' ', '>', '+', '~'; 0 for the first */
    } *parts = NULL;
    size_t n = 0, alloc = 0;
    struct buf tail;
    buf_init(&tail, 0);
    int rc = 0;
    char comb = 0;
    for (;;) {
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 4;
            parts = xrealloc(parts, alloc * sizeof *parts);
        }
        struct part *p = &parts[n];
        buf_init(&p->preds, 0);
        p->comb = comb;
        n++;
        if ((rc = compound(c, p->test, sizeof p->test, &p->preds, &tail)))
            goto out;
        if (tail.len) /* a pseudo-element ended the selector */
            break;
        bool sp = skip_space(c);
        char ch = peek(c);
        if (!ch || ch == ',')
            break;
        if (ch == '>' || ch == '+' || ch == '~') {
            comb = ch;
            c->pos++;
            skip_space(c);
            if (!peek(c) || peek(c) == ',') {
                char what[64];
                snprintf(what, sizeof what, "expected a selector after %c", ch);
                rc = fail(c, what);
                goto out;
            }
        } else if (sp) {
            comb = ' ';
        } else {
            char what[64];
            snprintf(what, sizeof what, "unexpected '%c'", ch);
            rc = fail(c, what);
            goto out;
        }
    }
    struct buf *o = c->out;
    buf_addf(o, "//%s%s", parts[n - 1].test, parts[n - 1].preds.data);
    for (size_t i = n - 1; i > 0; i--) {
        const struct part *p = &parts[i - 1];
        bool any = strcmp(p->test, "*") == 0;
        switch (parts[i].comb) {
        case ' ':
            buf_addf(o, "[ancestor::%s%s", p->test, p->preds.data);
            break;
        case '>':
            buf_addf(o, "[parent::%s%s", p->test, p->preds.data);
            break;
        case '+':
            buf_addf(o, "[preceding-sibling::*[1]%s%s%s%s",
                     any ? "" : "[self::", any ? "" : p->test, any ? "" : "]", p->preds.data);
            break;
        default:
            buf_addf(o, "[preceding-sibling::%s%s", p->test, p->preds.data);
            break;
        }
    }
    for (size_t i = 1; i < n; i++)
        buf_add(o, "]", 1);
    buf_add(o, tail.data, tail.len);
out:
    for (size_t i = 0; i < n; i++)
        buf_release(&parts[i].preds);
    free(parts);
    buf_release(&tail);
    return rc;
}

int html_css_to_xpath(const char *css, char **xpath, struct err *e)
{
    *xpath = NULL;
    if (!css)
        return err_set(e, TRAWL_EINVAL, false, "no css selector given");
    size_t len = strlen(css);
    if (len > SELECTOR_MAX)
        return err_set(e, TRAWL_EINVAL, false, "css selector is %zu bytes; at most %d are allowed",
                       len, SELECTOR_MAX);
    struct buf out;
    buf_init(&out, 0); /* a selector of SELECTOR_MAX bytes cannot grow without bound */
    struct css c = {.s = css, .out = &out, .e = e};
    int rc = 0;
    skip_space(&c);
    if (!peek(&c)) {
        rc = err_set(e, TRAWL_EINVAL, false, "css selector is empty");
        goto out;
    }
    for (;;) {
        if ((rc = selector(&c)))
            goto out;
        skip_space(&c);
        if (!peek(&c))
            break;
        c.pos++; /* , */
        skip_space(&c);
        if (!peek(&c)) {
            rc = fail(&c, "expected a selector after ,");
            goto out;
        }
        buf_adds(&out, " | ");
    }
    if (out.len > XPATH_MAX) {
        rc = fail(&c, "selector too complex");
        goto out;
    }
    *xpath = buf_detach(&out);
out:
    buf_release(&out);
    return rc;
}

/* ---- evaluation ---- */

struct xpath_error {
    char msg[200];
    char generic[200];
    int code;
    int at;
};

/* libxml2 reports XPath errors here instead of on stderr. */
static void on_xpath_error(void *data, xmlErrorPtr err)
{
    struct xpath_error *x = data;
    if (x->code)
        return; /* the first error is the cause */
    x->code = err->code ? err->code : -1;
    x->at = err->int1;
    const char *m = err->message ? err->message : "";
    size_t k = 0;
    for (; m[k] && m[k] != '\n' && k + 1 < sizeof x->msg; k++)
        x->msg[k] = k == 0 && m[k] >= 'A' && m[k] <= 'Z' ? (char)(m[k] - 'A' + 'a') : m[k];
    x->msg[k] = 0;
}

/* libxml2 reports some XPath errors (an unknown function) through the generic handler, which
 * prints to stderr unless replaced: keep the message instead. */
static void on_generic_error(void *data, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void on_generic_error(void *data, const char *fmt, ...)
{
    struct xpath_error *x = data;
    if (x->generic[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->generic, sizeof x->generic, fmt, ap);
    va_end(ap);
    x->generic[strcspn(x->generic, "\n")] = 0;
}

/* Append s (len bytes) to the array as a JSON string; invalid UTF-8 is replaced. */
static int add_string(json_t *arr, const char *s, size_t len, size_t *total, struct err *e)
{
    *total += len + 8;
    if (*total > SELECT_BYTES)
        return err_set(e, TRAWL_ETOOBIG, false, "the selection is larger than %u bytes",
                       SELECT_BYTES);
    json_t *v = json_stringn(s, len);
    if (!v) {
        size_t clen;
        char *clean = utf8_sanitize(s, len, &clen);
        v = json_stringn(clean, clen);
        free(clean);
    }
    if (v)
        json_array_append_new(arr, v); /* steals v */
    return 0;
}

static int add_node(json_t *arr, xmlNodePtr n, size_t *total, struct err *e)
{
    char *s = NULL;
    switch (n->type) {
    case XML_DOCUMENT_NODE:
    case XML_HTML_DOCUMENT_NODE:
        n = xmlDocGetRootElement((xmlDocPtr)n);
        if (!n)
            return add_string(arr, "", 0, total, e);
        /* fall through */
    case XML_ELEMENT_NODE:
    case XML_TEXT_NODE:
    case XML_CDATA_SECTION_NODE:
        /* capped: the text of an element holds that of every element inside it, so a selection
         * of nested elements can be far larger than the page (0 would mean no cap) */
        s = html_node_text_max(n, SELECT_BYTES - *total + 1);
        if (!s)
            return err_set(e, TRAWL_ETOOBIG, false, "the selection is larger than %u bytes",
                           SELECT_BYTES);
        if (!*s && n->type != XML_ELEMENT_NODE) { /* the whitespace between tags */
            free(s);
            return 0;
        }
        break;
    case XML_ATTRIBUTE_NODE:
    case XML_COMMENT_NODE:
    case XML_PI_NODE: {
        xmlChar *v = xmlNodeGetContent(n);
        s = xstrdup(v ? (const char *)v : "");
        xmlFree(v);
        break;
    }
    case XML_NAMESPACE_DECL: { /* a namespace node is an xmlNs, not an xmlNode */
        xmlNsPtr ns = (xmlNsPtr)n;
        s = xstrdup(ns->href ? (const char *)ns->href : "");
        break;
    }
    default:
        return 0;
    }
    int rc = add_string(arr, s, strlen(s), total, e);
    free(s);
    return rc;
}

/* Evaluate xpath against the document; what names the selector in messages. */
static int evaluate(const struct html_doc *d, const char *xpath, const char *what, json_t **out,
                    struct err *e)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(d->doc);
    if (!ctx)
        return err_set(e, TRAWL_ENOMEM, false, "cannot evaluate %s: out of memory", what);
    struct xpath_error xe = {0};
    ctx->node = (xmlNodePtr)d->doc;
    ctx->error = on_xpath_error;
    ctx->userData = &xe;
    ctx->opLimit = SELECT_OPS;
    /* the generic handler is per thread in libxml2: borrowed for this call, then given back */
    xmlGenericErrorFunc old = xmlGenericError;
    void *old_ctx = xmlGenericErrorContext;
    xmlSetGenericErrorFunc(&xe, on_generic_error);
    xmlXPathObjectPtr res = xmlXPathEval(BAD_CAST xpath, ctx);
    xmlSetGenericErrorFunc(old_ctx, old);
    int rc = 0;
    if (!res) {
        /* "xmlXPathCompOpEval: function foo not found" says more than "invalid expression" */
        const char *detail = strstr(xe.generic, ": ");
        if (detail && strstr(detail, "not found"))
            snprintf(xe.msg, sizeof xe.msg, "%s", detail + 2);
        if (xe.code == XML_XPATH_EXPRESSION_OK - XPATH_EXPRESSION_OK + XPATH_OP_LIMIT_EXCEEDED)
            rc = err_set(e, TRAWL_ETOOBIG, false,
                         "%s: too costly to evaluate (more than %lu steps)", what, SELECT_OPS);
        else if (xe.code ==
                 XML_XPATH_EXPRESSION_OK - XPATH_EXPRESSION_OK + XPATH_RECURSION_LIMIT_EXCEEDED)
            rc = err_set(e, TRAWL_EINVAL, false, "%s: nested too deeply", what);
        else
            rc = err_set(e, TRAWL_EINVAL, false, "%s: %s at %d", what,
                         xe.msg[0] ? xe.msg : "invalid expression", xe.at);
        goto out;
    }
    json_t *arr = json_array();
    size_t total = 0;
    char num[64];
    switch (res->type) {
    case XPATH_NODESET:
        for (int i = 0; res->nodesetval && i < res->nodesetval->nodeNr && rc == 0; i++)
            rc = add_node(arr, res->nodesetval->nodeTab[i], &total, e);
        break;
    case XPATH_STRING:
        rc = add_string(arr, (const char *)res->stringval, strlen((const char *)res->stringval),
                        &total, e);
        break;
    case XPATH_NUMBER: {
        xmlChar *s = xmlXPathCastNumberToString(res->floatval);
        snprintf(num, sizeof num, "%s", s ? (const char *)s : "NaN");
        xmlFree(s);
        rc = add_string(arr, num, strlen(num), &total, e);
        break;
    }
    case XPATH_BOOLEAN:
        rc = add_string(arr, res->boolval ? "true" : "false", res->boolval ? 4 : 5, &total, e);
        break;
    default:
        break;
    }
    if (rc)
        json_decref(arr);
    else
        *out = arr;
out:
    xmlXPathFreeObject(res);
    xmlXPathFreeContext(ctx);
    return rc;
}

int html_select(const struct html_doc *d, const char *selector_, bool css, json_t **out,
                struct err *e)
{
    *out = NULL;
    if (!selector_)
        return err_set(e, TRAWL_EINVAL, false, "no selector given");
    char sel[128], what[160];
    shown(selector_, sel, sizeof sel);
    if (css) {
        char *xpath;
        int rc = html_css_to_xpath(selector_, &xpath, e);
        if (rc)
            return rc;
        snprintf(what, sizeof what, "css selector '%s'", sel);
        rc = evaluate(d, xpath, what, out, e);
        free(xpath);
        return rc;
    }
    size_t len = strlen(selector_);
    if (len > SELECTOR_MAX)
        return err_set(e, TRAWL_EINVAL, false, "xpath is %zu bytes; at most %d are allowed", len,
                       SELECTOR_MAX);
    if (!*selector_)
        return err_set(e, TRAWL_EINVAL, false, "xpath is empty");
    snprintf(what, sizeof what, "xpath '%s'", sel);
    return evaluate(d, selector_, what, out, e);
}
