/* The readable content of a page: its main content chosen and stripped of what is not content
 * (navigation, page headers and footers, scripts, forms, hidden elements), then written as plain
 * text, as Markdown or as cleaned HTML. */
#include "parse/html.h"

#include "base/buf.h"
#include "base/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Output past this is cut: a page of HTML_MAX_BYTES whose relative links all become absolute
 * can grow, but not without bound. */
#define OUT_CAP ((size_t)4 * HTML_MAX_BYTES)
/* Elements nested deeper than this are written as their plain text, so that the recursive
 * walks below cannot exhaust the stack whatever the tree (the parser stops at TREE_MAX_DEPTH,
 * 512, but a tree may be built otherwise). */
#define MAX_DEPTH 512

/* ---- what an element is ---- */

enum kind {
    K_INLINE, /* anything not listed: its content, in line */
    K_DROP,   /* not content: left out with everything in it */
    K_BLOCK,
    K_HEADING,
    K_LIST,
    K_ITEM,
    K_QUOTE,
    K_PRE,
    K_CODE,
    K_STRONG,
    K_EM,
    K_DEL,
    K_LINK,
    K_IMG,
    K_TABLE,
    K_BR,
    K_HR,
    K_LANDMARK, /* <header>, <footer>: left out when they belong to the page, not a section */
    K_FORM,
};

/* The elements of each kind, each name between spaces. */
static const struct {
    enum kind kind;
    const char *names;
} kinds[] = {
    {K_DROP, " applet area aside audio base button canvas datalist embed frame frameset head iframe"
             " input link map meta nav noembed noframes noscript object optgroup option param"
             " script select source style svg template textarea title track video "},
    {K_BLOCK, " address article body caption center dd details dialog div dl dt fieldset"
              " figcaption figure hgroup html legend main p section summary tbody td tfoot th"
              " thead tr "},
    {K_HEADING, " h1 h2 h3 h4 h5 h6 "},
    {K_LIST, " dir menu ol ul "},
    {K_ITEM, " li "},
    {K_QUOTE, " blockquote "},
    {K_PRE, " listing plaintext pre xmp "},
    {K_CODE, " code kbd samp tt "},
    {K_STRONG, " b strong "},
    {K_EM, " em i "},
    {K_DEL, " del s strike "},
    {K_LINK, " a "},
    {K_IMG, " img "},
    {K_TABLE, " table "},
    {K_BR, " br "},
    {K_HR, " hr "},
    {K_LANDMARK, " footer header "},
    {K_FORM, " form "},
};

static enum kind kind_of(xmlNodePtr n)
{
    char needle[16];
    size_t len = strlen((const char *)n->name);
    if (len + 3 > sizeof needle)
        return K_INLINE;
    needle[0] = ' ';
    for (size_t i = 0; i < len; i++) {
        char c = (char)n->name[i];
        needle[i + 1] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    needle[len + 1] = ' ';
    needle[len + 2] = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strstr(kinds[i].names, needle))
            return kinds[i].kind;
    return K_INLINE;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Whether the whitespace-separated list holds tok, ASCII case-insensitively. */
static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    for (const char *p = list; *p;) {
        while (*p && is_space((unsigned char)*p))
            p++;
        const char *s = p;
        while (*p && !is_space((unsigned char)*p))
            p++;
        if ((size_t)(p - s) == tl && strncasecmp(s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* Whether an inline style hides the element (display:none, visibility:hidden). */
static bool style_hides(const char *style)
{
    char *s = xmalloc(strlen(style) + 1);
    size_t o = 0;
    for (const char *p = style; *p; p++)
        if (!is_space((unsigned char)*p))
            s[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
    s[o] = 0;
    bool hides = strstr(s, "display:none") || strstr(s, "visibility:hidden");
    free(s);
    return hides;
}

/* Whether the element is hidden or marked as something other than content by its attributes. */
static bool hidden(xmlNodePtr n)
{
    static const char *const roles[] = {"navigation",    "banner", "contentinfo",
                                        "complementary", "search", "dialog",
                                        "alertdialog",   "menu",   "menubar"};
    bool hide = false;
    if (html_is(n, "dialog")) {
        char *open = html_attr(n, "open");
        hide = !open;
        free(open);
    }
    for (xmlAttrPtr a = n->properties; a && !hide; a = a->next) {
        const char *an = (const char *)a->name;
        if (strcasecmp(an, "hidden") == 0) {
            hide = true;
            continue;
        }
        bool aria = strcasecmp(an, "aria-hidden") == 0, style = strcasecmp(an, "style") == 0;
        bool role = strcasecmp(an, "role") == 0;
        if (!aria && !style && !role)
            continue;
        xmlChar *raw = xmlNodeListGetString(n->doc, a->children, 1);
        const char *v = raw ? (const char *)raw : "";
        if (aria)
            hide = strcasecmp(v, "true") == 0;
        else if (style)
            hide = style_hides(v);
        else
            for (size_t i = 0; i < sizeof roles / sizeof roles[0] && !hide; i++)
                hide = has_token(v, roles[i]);
        xmlFree(raw);
    }
    return hide;
}

/* Whether n has an element named one of names among its descendants (an iterative scan). */
static bool has_descendant(xmlNodePtr n, const char *const *names, size_t count)
{
    for (xmlNodePtr x = n->children; x; x = html_next(x, n, true)) {
        if (x->type != XML_ELEMENT_NODE)
            continue;
        for (size_t i = 0; i < count; i++)
            if (html_is(x, names[i]))
                return true;
    }
    return false;
}

/* Whether an element is left out of the content, with everything in it. */
static bool skipped(xmlNodePtr n)
{
    enum kind k = kind_of(n);
    if (k == K_DROP)
        return true;
    if (k == K_LANDMARK) {
        /* a <header> or <footer> is the page's banner or footer unless it belongs to an
         * article, aside, main, nav or section (as ARIA maps them): then it holds that part's
         * title or byline, which is content */
        bool page = true;
        for (xmlNodePtr p = n->parent; p && page; p = p->parent)
            if (html_is(p, "article") || html_is(p, "aside") || html_is(p, "main") ||
                html_is(p, "nav") || html_is(p, "section"))
                page = false;
        if (page)
            return true;
    }
    if (k == K_FORM) {
        /* search boxes and logins are left out, but some sites (ASP.NET WebForms) wrap the whole
         * page in one form */
        static const char *const page[] = {"main", "article", "h1"};
        if (!has_descendant(n, page, 3))
            return true;
    }
    return hidden(n);
}

static bool role_main(xmlNodePtr n)
{
    char *role = html_attr(n, "role");
    bool main = role && has_token(role, "main");
    free(role);
    return main;
}

/* The element that holds the page's main content: the first <main> (or role="main"), else the
 * <article> when there is exactly one (several are a listing, which <body> holds), else <body>. */
static xmlNodePtr content_root(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr body = NULL, article = NULL;
    size_t articles = 0;
    for (xmlNodePtr n = root; n;) {
        bool down = true;
        if (n->type == XML_ELEMENT_NODE) {
            if (n != root && skipped(n)) {
                down = false;
            } else if (html_is(n, "main") || role_main(n)) {
                return n;
            } else if (html_is(n, "body")) {
                body = body ? body : n;
            } else if (html_is(n, "article")) {
                article = articles++ ? article : n;
                down = false; /* articles within an article are its comments */
            }
        }
        n = html_next(n, root, down);
    }
    if (articles == 1)
        return article;
    return body ? body : root;
}

/* ---- text and Markdown ---- */

struct level {
    char cont[24];   /* the prefix of the level's lines: "> ", or the indent of a list item */
    char marker[24]; /* a list item's marker ("- ", "12. "), in place of cont on its first line */
    bool pending;    /* the marker is not written yet */
};

struct md {
    const struct html_doc *d;
    bool markdown; /* false: plain text */
    bool full;     /* OUT_CAP reached: nothing more is written */
    struct buf out;
    struct level *lv; /* blockquotes and list items, outermost first (Markdown only) */
    size_t nlv, alv;
    int brk;          /* newlines wanted before the next content: 1 ends the line, 2 a blank line */
    int nl;           /* newlines that end out (at most 2; 2 at the start) */
    bool hard;        /* the wanted line end is a <br> (Markdown writes two spaces before it) */
    bool space;       /* collapsed whitespace waits to be written before the next word */
    bool fresh;       /* nothing but the prefix is on the current line */
    int inline_only;  /* in a heading, link or table cell: blocks are separated by spaces */
    bool cell;        /* in a table cell, where '|' is escaped */
    struct buf opens; /* openers ("**", "[", "## ") written only if content follows */
    int strong, em, del, link, lists;
};

static void md_init(struct md *m, const struct html_doc *d, bool markdown)
{
    memset(m, 0, sizeof *m);
    m->d = d;
    m->markdown = markdown;
    buf_init(&m->out, OUT_CAP);
    buf_init(&m->opens, 0);
    m->nl = 2;
}

static void md_release(struct md *m)
{
    buf_release(&m->out);
    buf_release(&m->opens);
    free(m->lv);
}

static void put(struct md *m, const char *s, size_t n)
{
    if (!m->full && n && buf_add(&m->out, s, n) != 0)
        m->full = true;
}

static void put_str(struct md *m, const char *s)
{
    put(m, s, strlen(s));
}

static void trim_spaces(struct md *m, size_t from)
{
    while (m->out.len > from && m->out.data[m->out.len - 1] == ' ')
        m->out.data[--m->out.len] = 0;
}

static bool any_pending(const struct md *m)
{
    for (size_t i = 0; i < m->nlv; i++)
        if (m->lv[i].pending)
            return true;
    return false;
}

/* The prefix of a line: each level's continuation, or its marker on the item's first line. */
static void put_prefix(struct md *m, bool markers)
{
    for (size_t i = 0; i < m->nlv; i++) {
        struct level *l = &m->lv[i];
        if (markers && l->pending) {
            put_str(m, l->marker);
            l->pending = false;
        } else {
            put_str(m, l->cont);
        }
    }
}

/* Write the newlines wanted so far; a blank line carries the '>' of the blockquotes it is in. */
static void flush_breaks(struct md *m)
{
    while (m->nl < m->brk) {
        if (m->nl == 0) {
            if (m->hard && m->markdown)
                put(m, "  ", 2);
        } else {
            size_t start = m->out.len;
            put_prefix(m, false);
            trim_spaces(m, start);
        }
        put(m, "\n", 1);
        m->nl++;
    }
    m->brk = 0;
    m->hard = false;
}

/* Ask for a line end (1) or a blank line (2) before the next content. */
static void block(struct md *m, int n)
{
    if (m->inline_only) {
        m->space = true;
        return;
    }
    m->space = false;
    /* the marker of a list item starts the item's first block on its own line */
    if (any_pending(m))
        return;
    if (n > m->brk)
        m->brk = n;
}

/* Get ready to write inline content: the wanted newlines, the prefix, a pending space and the
 * pending openers. */
static void begin_content(struct md *m)
{
    flush_breaks(m);
    if (m->nl > 0) {
        put_prefix(m, true);
        m->nl = 0;
        m->fresh = true;
        m->space = false;
    }
    if (m->space && !m->fresh)
        put(m, " ", 1);
    m->space = false;
    if (m->opens.len) {
        put(m, m->opens.data, m->opens.len);
        buf_clear(&m->opens);
        m->fresh = false;
    }
}

/* Start a line of its own (a fence, a table row, a rule) after the wanted newlines. */
static void start_line(struct md *m)
{
    flush_breaks(m);
    if (m->nl == 0) {
        put(m, "\n", 1);
        m->nl = 1;
    }
    put_prefix(m, true);
    m->nl = 0;
    m->fresh = true;
    m->space = false;
}

static void push_level(struct md *m, const char *cont, const char *marker)
{
    flush_breaks(m); /* the newlines before the level belong to the lines outside it */
    if (m->nlv == m->alv) {
        m->alv = m->alv ? 2 * m->alv : 8;
        m->lv = xrealloc(m->lv, m->alv * sizeof *m->lv);
    }
    struct level *l = &m->lv[m->nlv++];
    snprintf(l->cont, sizeof l->cont, "%s", cont);
    snprintf(l->marker, sizeof l->marker, "%s", marker ? marker : "");
    l->pending = marker != NULL;
}

static bool word_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Write a run of text with the characters Markdown would read as markup escaped. */
static void put_escaped(struct md *m, const char *w, size_t n)
{
    size_t i = 0;
    if (!m->markdown) {
        put(m, w, n);
        m->fresh = false;
        return;
    }
    if (m->fresh && n) {
        /* what would start a block at the start of a line: "# ", "> ", "- ", "+ ", "1. " */
        if (strchr("#>+-=", w[0])) {
            put(m, "\\", 1);
        } else {
            size_t k = 0;
            while (k < n && is_digit(w[k]))
                k++;
            if (k > 0 && k <= 9 && k < n && (w[k] == '.' || w[k] == ')')) {
                put(m, w, k);
                put(m, "\\", 1);
                put(m, w + k, 1);
                i = k + 1;
            }
        }
    }
    size_t from = i;
    for (; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        bool esc = false;
        switch (c) {
        case '\\':
        case '`':
        case '*':
        case '[':
        case ']':
        case '<':
        case '~':
            esc = true;
            break;
        case '_': /* snake_case stays as it is: an underscore inside a word is no emphasis */
            esc = !(i > 0 && word_char((unsigned char)w[i - 1]) && i + 1 < n &&
                    word_char((unsigned char)w[i + 1]));
            break;
        case '&': /* what would read as an entity */
            esc = i + 1 < n &&
                  (w[i + 1] == '#' || ((w[i + 1] | 0x20) >= 'a' && (w[i + 1] | 0x20) <= 'z'));
            break;
        case '|':
            esc = m->cell;
            break;
        default:
            break;
        }
        if (esc) {
            put(m, w + from, i - from);
            put(m, "\\", 1);
            from = i;
        }
    }
    put(m, w + from, n - from);
    m->fresh = false;
}

/* Length of the whitespace character at s (a no-break space counts, as in html_node_text). */
static size_t space_len(const char *s)
{
    if (is_space((unsigned char)s[0]))
        return 1;
    if ((unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xa0)
        return 2;
    return 0;
}

/* Text as a browser shows it: runs of whitespace become one space. */
static void text(struct md *m, const char *s)
{
    size_t i = 0;
    while (s[i] && !m->full) {
        size_t sp = space_len(s + i);
        if (sp) {
            m->space = true;
            i += sp;
            continue;
        }
        size_t j = i;
        while (s[j] && !space_len(s + j))
            j++;
        begin_content(m);
        put_escaped(m, s + i, j - i);
        i = j;
    }
}

/* A URL as a link destination: parentheses that do not pair up are escaped. */
static void put_url(struct md *m, const char *url)
{
    int depth = 0;
    bool balanced = true;
    for (const char *p = url; *p && balanced; p++) {
        depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
        balanced = depth >= 0;
    }
    balanced = balanced && depth == 0;
    for (const char *p = url; *p; p++) {
        if (!balanced && (*p == '(' || *p == ')'))
            put(m, "\\", 1);
        put(m, p, 1);
    }
}

static void walk(struct md *m, xmlNodePtr n, int depth);

static void children(struct md *m, xmlNodePtr n, int depth)
{
    for (xmlNodePtr c = n->children; c && !m->full; c = c->next)
        walk(m, c, depth + 1);
}

static void drop_opens(struct md *m, size_t mark)
{
    m->opens.len = mark;
    m->opens.data[mark] = 0;
}

static bool has_block_child(xmlNodePtr n)
{
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        enum kind k = kind_of(c);
        if (k == K_BLOCK || k == K_HEADING || k == K_LIST || k == K_ITEM || k == K_QUOTE ||
            k == K_PRE || k == K_TABLE || k == K_HR)
            return true;
    }
    return false;
}

/* Emphasis and strikethrough: delim around the content, none when the content is empty, nested
 * in itself or made of blocks (which no delimiter can span). */
static void delimited(struct md *m, xmlNodePtr n, int depth, int *count, const char *delim)
{
    if (!m->markdown || *count > 0 || has_block_child(n)) {
        children(m, n, depth);
        return;
    }
    size_t mark = m->opens.len;
    buf_adds(&m->opens, delim);
    (*count)++;
    children(m, n, depth);
    (*count)--;
    if (m->opens.len > mark)
        drop_opens(m, mark);
    else if (m->nl == 0)
        put_str(m, delim);
}

static void heading(struct md *m, xmlNodePtr n, int depth)
{
    if (m->inline_only || !m->markdown) {
        block(m, 2);
        children(m, n, depth);
        block(m, 2);
        return;
    }
    block(m, 2);
    int level = n->name[1] - '0';
    size_t mark = m->opens.len;
    buf_add(&m->opens, "######", (size_t)level);
    buf_add(&m->opens, " ", 1);
    m->inline_only++;
    children(m, n, depth);
    m->inline_only--;
    if (m->opens.len > mark)
        drop_opens(m, mark);
    block(m, 2);
}

static void link(struct md *m, xmlNodePtr n, int depth)
{
    char *href = html_attr(n, "href");
    char *url = m->markdown && !m->link ? html_resolve(m->d, href) : NULL;
    free(href);
    if (!url) { /* javascript:, #top, mailto: or a link in a link: the text alone */
        children(m, n, depth);
        return;
    }
    size_t mark = m->opens.len;
    buf_add(&m->opens, "[", 1);
    m->link++;
    m->inline_only++;
    children(m, n, depth);
    m->inline_only--;
    m->link--;
    if (m->opens.len > mark) {
        drop_opens(m, mark); /* a link without text or image is left out */
    } else if (m->nl == 0) {
        put(m, "](", 2);
        put_url(m, url);
        put(m, ")", 1);
    }
    free(url);
}

static char *collapsed_attr(xmlNodePtr n, const char *name)
{
    char *v = html_attr(n, name);
    return v ? html_collapse(v) : NULL;
}

static void image(struct md *m, xmlNodePtr n)
{
    if (!m->markdown)
        return;
    char *src = html_attr(n, "src");
    char *url = html_resolve(m->d, src);
    free(src);
    if (!url) { /* lazy loading keeps the real address aside */
        src = html_attr(n, "data-src");
        url = html_resolve(m->d, src);
        free(src);
    }
    if (!url)
        return;
    char *alt = collapsed_attr(n, "alt");
    begin_content(m);
    put(m, "![", 2);
    if (alt)
        put_escaped(m, alt, strlen(alt));
    put(m, "](", 2);
    put_url(m, url);
    put(m, ")", 1);
    m->fresh = false;
    free(alt);
    free(url);
}

static void code_span(struct md *m, const char *t)
{
    size_t run = 0, cur = 0, len = strlen(t);
    for (size_t i = 0; i < len; i++) {
        cur = t[i] == '`' ? cur + 1 : 0;
        run = cur > run ? cur : run;
    }
    begin_content(m);
    char ticks[16];
    size_t k = run + 1 < sizeof ticks ? run + 1 : sizeof ticks - 1;
    memset(ticks, '`', k);
    bool pad = t[0] == '`' || t[len - 1] == '`';
    put(m, ticks, k);
    if (pad)
        put(m, " ", 1);
    for (const char *p = t; *p; p++) {
        if (*p == '|' && m->cell) /* GFM reads '|' as a cell border even in code */
            put(m, "\\", 1);
        put(m, p, 1);
    }
    if (pad)
        put(m, " ", 1);
    put(m, ticks, k);
    m->fresh = false;
}

static void code(struct md *m, xmlNodePtr n, int depth)
{
    if (!m->markdown) {
        children(m, n, depth);
        return;
    }
    char *t = html_node_text(n);
    if (*t)
        code_span(m, t);
    free(t);
}

/* The text of a <pre> as it is, with <br> as a line end; an iterative walk. */
static char *pre_text(xmlNodePtr n)
{
    struct buf b;
    buf_init(&b, OUT_CAP);
    for (xmlNodePtr x = n->children; x; x = html_next(x, n, true)) {
        if (x->type == XML_TEXT_NODE || x->type == XML_CDATA_SECTION_NODE) {
            if (x->content && buf_adds(&b, (const char *)x->content) != 0)
                break;
        } else if (html_is(x, "br")) {
            buf_add(&b, "\n", 1);
        }
    }
    /* \r\n and \r are line ends; the newline right after <pre> is not content (HTML says so) */
    size_t o = 0;
    for (size_t i = 0; i < b.len; i++) {
        if (b.data[i] == '\r') {
            b.data[o++] = '\n';
            if (i + 1 < b.len && b.data[i + 1] == '\n')
                i++;
        } else {
            b.data[o++] = b.data[i];
        }
    }
    while (o > 0 && is_space((unsigned char)b.data[o - 1]))
        o--;
    b.len = o;
    char *s = buf_detach(&b);
    s[o] = 0;
    if (s[0] == '\n')
        memmove(s, s + 1, o);
    return s;
}

/* The language of a code block from class="language-x" (or lang-x) on <pre> or its <code>. */
static void code_lang(xmlNodePtr n, char *out, size_t size)
{
    out[0] = 0;
    xmlNodePtr code = NULL;
    for (xmlNodePtr c = n->children; c && !code; c = c->next)
        if (html_is(c, "code"))
            code = c;
    xmlNodePtr nodes[2] = {n, code};
    for (size_t i = 0; i < 2 && !out[0]; i++) {
        char *cls = nodes[i] ? html_attr(nodes[i], "class") : NULL;
        for (char *p = cls; p && *p && !out[0];) {
            while (*p && is_space((unsigned char)*p))
                p++;
            char *s = p;
            while (*p && !is_space((unsigned char)*p))
                p++;
            size_t pl = strncmp(s, "language-", 9) == 0 ? 9 : strncmp(s, "lang-", 5) == 0 ? 5 : 0;
            if (!pl)
                continue;
            size_t k = 0;
            for (s += pl; s < p && k + 1 < size; s++) {
                /* ASCII letters, digits and + - _ . # ("c++", "objective-c", "c#") */
                if ((unsigned char)*s >= 0x80 ||
                    !(word_char((unsigned char)*s) || strchr("+-_.#", *s)))
                    break;
                out[k++] = *s;
            }
            out[k] = 0;
        }
        free(cls);
    }
}

static void pre(struct md *m, xmlNodePtr n)
{
    char *t = pre_text(n);
    if (m->inline_only) { /* a code block in a table cell or link: a code span */
        if (m->markdown) {
            char *flat = html_node_text(n);
            if (*flat)
                code_span(m, flat);
            free(flat);
        } else {
            text(m, t);
        }
        free(t);
        return;
    }
    if (!*t) {
        free(t);
        return;
    }
    block(m, 2);
    char fence[64] = "";
    if (m->markdown) {
        size_t run = 0, cur = 0;
        for (const char *p = t; *p; p++) {
            cur = *p == '`' ? cur + 1 : 0;
            run = cur > run ? cur : run;
        }
        size_t k = run + 1 > 3 ? run + 1 : 3;
        k = k < 32 ? k : 32;
        memset(fence, '`', k);
        fence[k] = 0;
        start_line(m);
        put_str(m, fence);
        char lang[32];
        code_lang(n, lang, sizeof lang);
        put_str(m, lang);
        put(m, "\n", 1);
    } else {
        start_line(m);
    }
    for (const char *p = t;;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        size_t start = m->out.len;
        put_prefix(m, false);
        if (len)
            put(m, p, len);
        else /* an empty line gets no trailing spaces from the indent of a list */
            trim_spaces(m, start);
        if (!e || m->full)
            break;
        put(m, "\n", 1);
        p = e + 1;
    }
    if (m->markdown) {
        put(m, "\n", 1);
        put_prefix(m, false);
        put_str(m, fence);
    }
    m->nl = 0;
    m->fresh = false;
    free(t);
    block(m, 2);
}

/* The content of n rendered on one line, for a table cell. */
static char *render_inline(const struct md *parent, xmlNodePtr n, int depth)
{
    struct md sub;
    md_init(&sub, parent->d, parent->markdown);
    sub.inline_only = 1;
    sub.cell = parent->markdown;
    children(&sub, n, depth);
    size_t len = sub.out.len;
    while (len > 0 && is_space((unsigned char)sub.out.data[len - 1]))
        len--;
    char *s = buf_detach(&sub.out);
    s[len] = 0;
    md_release(&sub);
    return s;
}

struct row {
    xmlNodePtr tr;
    size_t cols; /* cells, counting colspan */
};

static long colspan(xmlNodePtr cell)
{
    char *v = html_attr(cell, "colspan");
    long span = v ? strtol(v, NULL, 10) : 1;
    free(v);
    return span < 1 ? 1 : span > 100 ? 100 : span;
}

static bool is_cell(xmlNodePtr c)
{
    return html_is(c, "td") || html_is(c, "th");
}

/* A table with at least two columns and no table inside is data: a pipe table. Others lay out
 * a page and are read as the blocks they hold. */
static void table(struct md *m, xmlNodePtr n, int depth)
{
    if (m->inline_only) {
        block(m, 2);
        children(m, n, depth);
        block(m, 2);
        return;
    }
    struct row *rows = NULL;
    size_t nrows = 0, arows = 0, ncols = 0;
    xmlNodePtr caption = NULL;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (html_is(c, "caption") && !caption)
            caption = c;
        bool group = html_is(c, "thead") || html_is(c, "tbody") || html_is(c, "tfoot");
        for (xmlNodePtr r = group ? c->children : c; r; r = group ? r->next : NULL) {
            if (!html_is(r, "tr"))
                continue;
            size_t cols = 0;
            for (xmlNodePtr cell = r->children; cell; cell = cell->next)
                if (is_cell(cell))
                    cols += (size_t)colspan(cell);
            if (nrows == arows) {
                arows = arows ? 2 * arows : 8;
                rows = xrealloc(rows, arows * sizeof *rows);
            }
            rows[nrows++] = (struct row){r, cols};
            ncols = cols > ncols ? cols : ncols;
        }
    }
    static const char *const nested[] = {"table"};
    if (nrows == 0 || ncols < 2 || has_descendant(n, nested, 1)) {
        free(rows);
        block(m, 2);
        children(m, n, depth);
        block(m, 2);
        return;
    }
    if (caption)
        walk(m, caption, depth + 1);
    block(m, 2);
    for (size_t i = 0; i < nrows && !m->full; i++) {
        start_line(m);
        if (m->markdown)
            put(m, "|", 1);
        size_t col = 0;
        for (xmlNodePtr cell = rows[i].tr->children; cell; cell = cell->next) {
            if (!is_cell(cell))
                continue;
            char *s = render_inline(m, cell, depth + 2);
            for (long span = colspan(cell); span > 0; span--, col++) {
                if (m->markdown) {
                    put(m, " ", 1);
                    put_str(m, s);
                    put(m, " |", 2);
                } else {
                    put_str(m, col ? "\t" : "");
                    put_str(m, s);
                }
                s[0] = 0; /* a spanned cell repeats as empty cells */
            }
            free(s);
        }
        for (; m->markdown && col < ncols; col++)
            put(m, "  |", 3);
        if (i == 0 && m->markdown) {
            put(m, "\n", 1);
            put_prefix(m, false);
            put(m, "|", 1);
            for (size_t k = 0; k < ncols; k++)
                put(m, " --- |", 6);
        }
        m->nl = 0;
    }
    m->fresh = false;
    free(rows);
    block(m, 2);
}

static void item(struct md *m, xmlNodePtr n, int depth, bool ordered, long num)
{
    block(m, 1);
    if (m->inline_only || !m->markdown) {
        children(m, n, depth);
        block(m, 1);
        return;
    }
    char marker[24];
    snprintf(marker, sizeof marker, ordered ? "%ld. " : "- ", num);
    char cont[24];
    size_t w = strlen(marker);
    memset(cont, ' ', w);
    cont[w] = 0;
    push_level(m, cont, marker);
    children(m, n, depth);
    m->nlv--;
    block(m, 1);
}

static void list(struct md *m, xmlNodePtr n, int depth)
{
    bool ordered = html_is(n, "ol");
    long num = 1;
    if (ordered) {
        char *start = html_attr(n, "start");
        num = start ? strtol(start, NULL, 10) : 1;
        num = num < 0 ? 0 : num > 999999999 ? 999999999 : num;
        free(start);
    }
    block(m, m->lists ? 1 : 2);
    m->lists++;
    for (xmlNodePtr c = n->children; c && !m->full; c = c->next) {
        if (html_is(c, "li") && !skipped(c))
            item(m, c, depth + 1, ordered, num < 999999999 ? num++ : num);
        else
            walk(m, c, depth + 1);
    }
    m->lists--;
    block(m, m->lists ? 1 : 2);
}

static void quote(struct md *m, xmlNodePtr n, int depth)
{
    block(m, 2);
    if (m->inline_only || !m->markdown) {
        children(m, n, depth);
        block(m, 2);
        return;
    }
    push_level(m, "> ", NULL);
    children(m, n, depth);
    m->nlv--;
    block(m, 2);
}

static void walk(struct md *m, xmlNodePtr n, int depth)
{
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content)
            text(m, (const char *)n->content);
        return;
    }
    if (n->type != XML_ELEMENT_NODE || skipped(n))
        return;
    if (depth > MAX_DEPTH) {
        char *t = html_node_text(n);
        text(m, t);
        free(t);
        return;
    }
    switch (kind_of(n)) {
    case K_DROP:
    case K_LANDMARK:
    case K_FORM:
    case K_BLOCK:
        block(m, 2);
        children(m, n, depth);
        block(m, 2);
        break;
    case K_HEADING:
        heading(m, n, depth);
        break;
    case K_LIST:
        list(m, n, depth);
        break;
    case K_ITEM: /* an <li> outside a list */
        item(m, n, depth, false, 0);
        break;
    case K_QUOTE:
        quote(m, n, depth);
        break;
    case K_PRE:
        pre(m, n);
        break;
    case K_CODE:
        code(m, n, depth);
        break;
    case K_STRONG:
        delimited(m, n, depth, &m->strong, "**");
        break;
    case K_EM:
        delimited(m, n, depth, &m->em, "*");
        break;
    case K_DEL:
        delimited(m, n, depth, &m->del, "~~");
        break;
    case K_LINK:
        link(m, n, depth);
        break;
    case K_IMG:
        image(m, n);
        break;
    case K_TABLE:
        table(m, n, depth);
        break;
    case K_BR:
        if (m->inline_only) {
            m->space = true;
        } else if (m->brk == 1 && m->hard) { /* <br><br> ends a paragraph */
            m->brk = 2;
            m->hard = false;
        } else {
            block(m, 1);
            m->hard = m->brk == 1;
        }
        break;
    case K_HR:
        block(m, 2);
        if (m->markdown && !m->inline_only) {
            start_line(m);
            put(m, "---", 3);
            m->fresh = false;
            block(m, 2);
        }
        break;
    case K_INLINE:
        children(m, n, depth);
        break;
    }
}

static char *render(const struct html_doc *d, bool markdown)
{
    struct md m;
    md_init(&m, d, markdown);
    xmlNodePtr root = content_root(d->doc);
    if (root)
        walk(&m, root, 0);
    size_t len = m.out.len;
    while (len > 0 && is_space((unsigned char)m.out.data[len - 1]))
        len--;
    m.out.len = len;
    m.out.data[len] = 0;
    if (markdown && len) /* a Markdown document ends its last line */
        buf_add(&m.out, "\n", 1);
    char *s = buf_detach(&m.out);
    md_release(&m);
    return s;
}

char *html_text(const struct html_doc *d)
{
    return render(d, false);
}

char *html_markdown(const struct html_doc *d)
{
    return render(d, true);
}

/* ---- cleaned HTML ---- */

struct clean {
    const struct html_doc *d;
    struct buf out;
    bool full;
    int pre; /* inside <pre>: whitespace is kept */
};

static void cput(struct clean *c, const char *s, size_t n)
{
    if (!c->full && n && buf_add(&c->out, s, n) != 0)
        c->full = true;
}

static void cput_str(struct clean *c, const char *s)
{
    cput(c, s, strlen(s));
}

/* s with &, <, > (and " in attributes) written as entities; with collapse, each run of
 * whitespace as one space, or one newline when it had one. */
static void cput_escaped(struct clean *c, const char *s, bool attr, bool collapse)
{
    size_t from = 0, i = 0;
    while (s[i]) {
        unsigned char ch = (unsigned char)s[i];
        const char *rep = NULL;
        size_t len = 1;
        if (ch == '&') {
            rep = "&amp;";
        } else if (ch == '<') {
            rep = "&lt;";
        } else if (ch == '>') {
            rep = "&gt;";
        } else if (ch == '"' && attr) {
            rep = "&quot;";
        } else if (collapse && is_space(ch)) {
            bool newline = false;
            while (s[i + len - 1] && is_space((unsigned char)s[i + len - 1])) {
                newline = newline || s[i + len - 1] == '\n';
                len++;
            }
            len--;
            rep = newline ? "\n" : " ";
            if (len == 1 && ch == ' ')
                rep = NULL; /* a single space stays as it is */
        }
        if (!rep) {
            i += len;
            continue;
        }
        cput(c, s + from, i - from);
        cput_str(c, rep);
        i += len;
        from = i;
    }
    cput(c, s + from, i - from);
}

static bool safe_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!word_char((unsigned char)*s) || (unsigned char)*s >= 0x80)
            if (*s != '-' && *s != '_' && *s != ':' && *s != '.')
                return false;
    return true;
}

static bool void_element(const char *name)
{
    static const char *const names[] = {"area",  "base", "br",   "col",   "embed",  "hr",    "img",
                                        "input", "link", "meta", "param", "source", "track", "wbr"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static bool url_attribute(const char *name)
{
    static const char *const names[] = {"href",   "src",        "action",   "formaction", "cite",
                                        "poster", "background", "longdesc", "data"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Whether a URL runs code or embeds content when followed: javascript:, vbscript:, data:,
 * however spelled (browsers ignore whitespace and control characters in the scheme). */
static bool dangerous_url(const char *v)
{
    char scheme[16];
    size_t k = 0;
    for (const char *p = v; *p && k + 1 < sizeof scheme; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch <= 0x20 || ch == 0x7f)
            continue;
        scheme[k++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
        if (ch == ':')
            break;
    }
    scheme[k] = 0;
    return strncmp(scheme, "javascript:", 11) == 0 || strncmp(scheme, "vbscript:", 9) == 0 ||
           strncmp(scheme, "data:", 5) == 0;
}

/* A srcset ("a.jpg 1x, b.jpg 2x") with each URL made absolute and those that are not http(s)
 * dropped; NULL when none is left. As HTML parses it, a URL runs to the next whitespace (commas
 * inside it, as in data: URLs, are its own) and commas at its end end the candidate. */
static char *resolve_srcset(const struct html_doc *d, const char *v)
{
    struct buf b;
    buf_init(&b, 0);
    const char *p = v;
    for (;;) {
        while (*p && (is_space((unsigned char)*p) || *p == ','))
            p++;
        if (!*p)
            break;
        const char *u = p;
        while (*p && !is_space((unsigned char)*p))
            p++;
        const char *ue = p;
        const char *desc = p, *de = p;
        if (ue[-1] == ',') {
            while (ue > u && ue[-1] == ',')
                ue--;
        } else {
            while (*p && *p != ',')
                p++;
            de = p;
        }
        char *ref = xmalloc((size_t)(ue - u) + 1);
        memcpy(ref, u, (size_t)(ue - u));
        ref[ue - u] = 0;
        char *abs = html_resolve(d, ref);
        if (abs) {
            if (b.len)
                buf_adds(&b, ", ");
            buf_adds(&b, abs);
            while (desc < de && is_space((unsigned char)*desc))
                desc++;
            while (de > desc && is_space((unsigned char)de[-1]))
                de--;
            if (de > desc) {
                buf_add(&b, " ", 1);
                buf_add(&b, desc, (size_t)(de - desc));
            }
        }
        free(abs);
        free(ref);
    }
    if (!b.len) {
        buf_release(&b);
        return NULL;
    }
    return buf_detach(&b);
}

static void clean_attrs(struct clean *c, xmlNodePtr n)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *an = (const char *)a->name;
        if (!safe_name(an) || strncasecmp(an, "on", 2) == 0 || strcasecmp(an, "style") == 0 ||
            strcasecmp(an, "srcdoc") == 0)
            continue;
        xmlChar *raw = xmlNodeListGetString(n->doc, a->children, 1);
        char *v = xstrdup(raw ? (const char *)raw : "");
        xmlFree(raw);
        if (url_attribute(an)) {
            char *abs = html_resolve(c->d, v);
            if (abs) {
                free(v);
                v = abs;
            } else if (dangerous_url(v)) {
                free(v);
                continue;
            }
        } else if (strcasecmp(an, "srcset") == 0) {
            char *set = resolve_srcset(c->d, v);
            free(v);
            if (!set)
                continue;
            v = set;
        }
        cput(c, " ", 1);
        cput_str(c, an);
        cput(c, "=\"", 2);
        cput_escaped(c, v, true, false);
        cput(c, "\"", 1);
        free(v);
    }
}

static void clean_walk(struct clean *c, xmlNodePtr n, int depth);

static void clean_children(struct clean *c, xmlNodePtr n, int depth)
{
    for (xmlNodePtr ch = n->children; ch && !c->full; ch = ch->next)
        clean_walk(c, ch, depth + 1);
}

static void clean_walk(struct clean *c, xmlNodePtr n, int depth)
{
    if (c->full)
        return;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
        if (n->content)
            cput_escaped(c, (const char *)n->content, false, c->pre == 0);
        return;
    }
    /* comments and processing instructions are dropped with the rest that is not an element */
    if (n->type != XML_ELEMENT_NODE || skipped(n))
        return;
    if (depth > MAX_DEPTH) {
        char *t = html_node_text(n);
        cput_escaped(c, t, false, true);
        free(t);
        return;
    }
    const char *name = (const char *)n->name;
    bool tag = safe_name(name);
    if (tag) {
        cput(c, "<", 1);
        cput_str(c, name);
        clean_attrs(c, n);
        cput(c, ">", 1);
        if (void_element(name))
            return;
    }
    bool keep = kind_of(n) == K_PRE;
    c->pre += keep;
    clean_children(c, n, depth);
    c->pre -= keep;
    if (tag) {
        cput(c, "</", 2);
        cput_str(c, name);
        cput(c, ">", 1);
    }
}

char *html_clean(const struct html_doc *d)
{
    struct clean c = {.d = d};
    buf_init(&c.out, OUT_CAP);
    xmlNodePtr root = content_root(d->doc);
    if (root)
        clean_walk(&c, root, 0);
    return buf_detach(&c.out);
}
