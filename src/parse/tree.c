/* The HTML tokenizer and tree builder of tree.h. One pass over the page: memchr finds each '<',
 * a tag's name is looked up once in a table of the elements HTML gives rules to, and every node,
 * name and string is carved out of one arena, so a document costs a few allocations and is freed
 * at once. The nodes are plain libxml2 structs filled in here; libxml2 never allocates or frees
 * them (tree_release detaches them before xmlFreeDoc). */
#include "parse/tree.h"

#include "base/xalloc.h"

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the arena ---- */

struct chunk {
    struct chunk *next;
    size_t size;
    char data[];
};

struct tree_arena {
    struct chunk *head;
    char *cur, *end;
    size_t next_size;
};

static void *arena_alloc(struct tree_arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(a->end - a->cur) < n) {
        size_t size = a->next_size > n ? a->next_size : n;
        struct chunk *c = xmalloc(sizeof *c + size);
        c->next = a->head;
        c->size = size;
        a->head = c;
        a->cur = c->data;
        a->end = c->data + size;
        if (a->next_size < (8u << 20))
            a->next_size *= 2;
    }
    void *p = a->cur;
    a->cur += n;
    return p;
}

static void arena_free(struct tree_arena *a)
{
    if (!a)
        return;
    for (struct chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

/* ---- the elements HTML has rules for ---- */

enum {
    F_VOID = 1 << 0,     /* no content, never on the stack */
    F_RAW = 1 << 1,      /* content is text as written, to the end tag */
    F_RCDATA = 1 << 2,   /* the same with character references decoded */
    F_HEAD = 1 << 3,     /* goes into <head> before the body starts */
    F_CLOSE_P = 1 << 4,  /* its start tag closes an open <p> */
    F_SPECIAL = 1 << 5,  /* a block: inline end tags do not close across it */
    F_SCOPE = 1 << 6,    /* start and end tags do not reach past it */
    F_HEADING = 1 << 7,  /* h1 ... h6 */
    F_BREAKOUT = 1 << 8, /* its start tag leaves svg and math */
    F_FOREIGN = 1 << 9,  /* svg, math */
    F_TABLE = 1 << 10,   /* the parts of a table: their end tags reach past cells */
};

enum tag_id {
    T_OTHER,
    T_HTML,
    T_HEAD,
    T_BODY,
    T_P,
    T_LI,
    T_DT,
    T_DD,
    T_OPTION,
    T_OPTGROUP,
    T_TR,
    T_TD,
    T_TH,
    T_THEAD,
    T_TBODY,
    T_TFOOT,
    T_TABLE,
    T_A,
    T_BUTTON,
    T_BR,
    T_PLAINTEXT,
    T_ADDRESS,
    T_DIV,
    T_TEMPLATE,
};

struct tag {
    const char *name;
    unsigned flags;
    enum tag_id id;
};

#define BLOCK     (F_CLOSE_P | F_SPECIAL)
#define BLOCK_OUT (F_CLOSE_P | F_SPECIAL | F_BREAKOUT)

static const struct tag tags[] = {
    {"a", 0, T_A},
    {"address", BLOCK, T_ADDRESS},
    {"applet", F_SPECIAL | F_SCOPE, T_OTHER},
    {"area", F_VOID | F_SPECIAL, T_OTHER},
    {"article", BLOCK, T_OTHER},
    {"aside", BLOCK, T_OTHER},
    {"b", F_BREAKOUT, T_OTHER},
    {"base", F_VOID | F_HEAD | F_SPECIAL, T_OTHER},
    {"basefont", F_VOID | F_HEAD | F_SPECIAL, T_OTHER},
    {"bgsound", F_VOID | F_HEAD | F_SPECIAL, T_OTHER},
    {"big", F_BREAKOUT, T_OTHER},
    {"blockquote", BLOCK_OUT, T_OTHER},
    {"body", F_SPECIAL | F_BREAKOUT, T_BODY},
    {"br", F_VOID | F_SPECIAL | F_BREAKOUT, T_BR},
    {"button", F_SPECIAL, T_BUTTON},
    {"caption", F_SPECIAL | F_SCOPE | F_TABLE, T_OTHER},
    {"center", BLOCK_OUT, T_OTHER},
    {"code", F_BREAKOUT, T_OTHER},
    {"col", F_VOID | F_SPECIAL, T_OTHER},
    {"colgroup", F_SPECIAL, T_OTHER},
    {"dd", BLOCK_OUT, T_DD},
    {"details", BLOCK, T_OTHER},
    {"dialog", BLOCK, T_OTHER},
    {"dir", BLOCK, T_OTHER},
    {"div", BLOCK_OUT, T_DIV},
    {"dl", BLOCK_OUT, T_OTHER},
    {"dt", BLOCK_OUT, T_DT},
    {"em", F_BREAKOUT, T_OTHER},
    {"embed", F_VOID | F_SPECIAL | F_BREAKOUT, T_OTHER},
    {"fieldset", BLOCK, T_OTHER},
    {"figcaption", BLOCK, T_OTHER},
    {"figure", BLOCK, T_OTHER},
    {"footer", BLOCK, T_OTHER},
    {"form", BLOCK, T_OTHER},
    {"frame", F_VOID | F_SPECIAL, T_OTHER},
    {"frameset", F_SPECIAL, T_OTHER},
    {"h1", BLOCK_OUT | F_HEADING, T_OTHER},
    {"h2", BLOCK_OUT | F_HEADING, T_OTHER},
    {"h3", BLOCK_OUT | F_HEADING, T_OTHER},
    {"h4", BLOCK_OUT | F_HEADING, T_OTHER},
    {"h5", BLOCK_OUT | F_HEADING, T_OTHER},
    {"h6", BLOCK_OUT | F_HEADING, T_OTHER},
    {"head", F_SPECIAL | F_BREAKOUT, T_HEAD},
    {"header", BLOCK, T_OTHER},
    {"hgroup", BLOCK, T_OTHER},
    {"hr", F_VOID | BLOCK_OUT, T_OTHER},
    {"html", F_SPECIAL | F_SCOPE, T_HTML},
    {"i", F_BREAKOUT, T_OTHER},
    {"iframe", F_RAW | F_SPECIAL, T_OTHER},
    {"img", F_VOID | F_SPECIAL | F_BREAKOUT, T_OTHER},
    {"input", F_VOID | F_SPECIAL, T_OTHER},
    {"keygen", F_VOID | F_SPECIAL, T_OTHER},
    {"li", BLOCK_OUT, T_LI},
    {"link", F_VOID | F_HEAD | F_SPECIAL, T_OTHER},
    {"listing", BLOCK_OUT, T_OTHER},
    {"main", BLOCK, T_OTHER},
    {"marquee", F_SPECIAL | F_SCOPE, T_OTHER},
    {"math", F_FOREIGN, T_OTHER},
    {"menu", BLOCK_OUT, T_OTHER},
    {"meta", F_VOID | F_HEAD | F_SPECIAL | F_BREAKOUT, T_OTHER},
    {"nav", BLOCK, T_OTHER},
    {"nobr", F_BREAKOUT, T_OTHER},
    {"noembed", F_RAW | F_SPECIAL, T_OTHER},
    {"noframes", F_RAW | F_HEAD | F_SPECIAL, T_OTHER},
    {"noscript", F_HEAD | F_SPECIAL, T_OTHER},
    {"object", F_SPECIAL | F_SCOPE, T_OTHER},
    {"ol", BLOCK_OUT, T_OTHER},
    {"optgroup", 0, T_OPTGROUP},
    {"option", 0, T_OPTION},
    {"p", BLOCK_OUT, T_P},
    {"param", F_VOID | F_SPECIAL, T_OTHER},
    {"plaintext", BLOCK, T_PLAINTEXT},
    {"pre", BLOCK_OUT, T_OTHER},
    {"ruby", F_BREAKOUT, T_OTHER},
    {"s", F_BREAKOUT, T_OTHER},
    {"script", F_RAW | F_HEAD | F_SPECIAL, T_OTHER},
    {"search", BLOCK, T_OTHER},
    {"section", BLOCK, T_OTHER},
    {"select", F_SPECIAL, T_OTHER},
    {"small", F_BREAKOUT, T_OTHER},
    {"source", F_VOID | F_SPECIAL, T_OTHER},
    {"span", F_BREAKOUT, T_OTHER},
    {"strike", F_BREAKOUT, T_OTHER},
    {"strong", F_BREAKOUT, T_OTHER},
    {"style", F_RAW | F_HEAD | F_SPECIAL, T_OTHER},
    {"sub", F_BREAKOUT, T_OTHER},
    {"summary", BLOCK, T_OTHER},
    {"sup", F_BREAKOUT, T_OTHER},
    {"svg", F_FOREIGN, T_OTHER},
    {"table", BLOCK_OUT | F_SCOPE | F_TABLE, T_TABLE},
    {"tbody", F_SPECIAL | F_TABLE, T_TBODY},
    {"td", F_SPECIAL | F_SCOPE | F_TABLE, T_TD},
    {"template", F_HEAD | F_SPECIAL | F_SCOPE, T_TEMPLATE},
    {"textarea", F_RCDATA | F_SPECIAL, T_OTHER},
    {"tfoot", F_SPECIAL | F_TABLE, T_TFOOT},
    {"th", F_SPECIAL | F_SCOPE | F_TABLE, T_TH},
    {"thead", F_SPECIAL | F_TABLE, T_THEAD},
    {"title", F_RCDATA | F_HEAD | F_SPECIAL, T_OTHER},
    {"tr", F_SPECIAL | F_TABLE, T_TR},
    {"track", F_VOID | F_SPECIAL, T_OTHER},
    {"tt", F_BREAKOUT, T_OTHER},
    {"u", F_BREAKOUT, T_OTHER},
    {"ul", BLOCK_OUT, T_OTHER},
    {"var", F_BREAKOUT, T_OTHER},
    {"wbr", F_VOID | F_SPECIAL, T_OTHER},
    {"xmp", F_RAW | BLOCK, T_OTHER},
};

#define NTAGS (sizeof tags / sizeof tags[0])
#define SLOTS 512 /* a power of two, over four times NTAGS */

static const struct tag *slot[SLOTS];
static const struct tag other = {NULL, 0, T_OTHER};

static unsigned name_hash(const char *s, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static void tags_init(void)
{
    for (size_t i = 0; i < NTAGS; i++) {
        unsigned h = name_hash(tags[i].name, strlen(tags[i].name)) & (SLOTS - 1);
        while (slot[h])
            h = (h + 1) & (SLOTS - 1);
        slot[h] = &tags[i];
    }
}

/* The table's entry for a lowercase name of n bytes, or &other. */
static const struct tag *tag_of(const char *s, size_t n)
{
    for (unsigned h = name_hash(s, n) & (SLOTS - 1); slot[h]; h = (h + 1) & (SLOTS - 1))
        if (strncmp(slot[h]->name, s, n) == 0 && !slot[h]->name[n])
            return slot[h];
    return &other;
}

/* ---- characters ---- */

static bool is_ws(char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
    return (unsigned char)((c | 0x20) - 'a') < 26;
}

static bool is_alnum(char c)
{
    return is_alpha(c) || (unsigned char)(c - '0') < 10;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* What HTML makes of the numeric references &#128; ... &#159; (windows-1252's characters). */
static const uint16_t c1[32] = {
    0x20ac, 0x81,   0x201a, 0x192,  0x201e, 0x2026, 0x2020, 0x2021, 0x2c6,  0x2030, 0x160,
    0x2039, 0x152,  0x8d,   0x17d,  0x8f,   0x90,   0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x2dc,  0x2122, 0x161,  0x203a, 0x153,  0x9d,   0x17e,  0x178,
};

/* The character a named reference stands for (with its ';' when semi), 0 when none: HTML 4's
 * names and &apos;; without ';', only those of Latin-1. */
static uint32_t named(const char *name, bool semi)
{
    uint32_t cp;
    if (strcmp(name, "amp") == 0)
        cp = '&';
    else if (strcmp(name, "lt") == 0)
        cp = '<';
    else if (strcmp(name, "gt") == 0)
        cp = '>';
    else if (strcmp(name, "quot") == 0)
        cp = '"';
    else if (strcmp(name, "nbsp") == 0)
        cp = 0xa0;
    else if (strcmp(name, "apos") == 0)
        cp = semi ? '\'' : 0;
    else {
        const htmlEntityDesc *e = htmlEntityLookup((const xmlChar *)name);
        cp = e ? e->value : 0;
    }
    return !semi && cp > 0xff ? 0 : cp;
}

/* tree.h */
size_t tree_reference(const char *s, const char *end, bool in_attr, char *o, size_t *olen)
{
    const char *p = s + 1;
    if (p < end && *p == '#') {
        p++;
        bool hex = p < end && (*p | 0x20) == 'x';
        p += hex;
        uint32_t cp = 0;
        const char *digits = p;
        for (; p < end; p++) {
            unsigned d;
            if ((unsigned char)(*p - '0') < 10)
                d = (unsigned)(*p - '0');
            else if (hex && (unsigned char)((*p | 0x20) - 'a') < 6)
                d = (unsigned)((*p | 0x20) - 'a' + 10);
            else
                break;
            if (cp <= 0x10ffff)
                cp = cp * (hex ? 16 : 10) + d;
        }
        if (p == digits)
            return 0;
        if (p < end && *p == ';')
            p++;
        if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            cp = 0xfffd;
        else if (cp >= 0x80 && cp <= 0x9f)
            cp = c1[cp - 0x80];
        *olen = put_utf8(o, cp);
        return (size_t)(p - s);
    }
    char name[33];
    size_t n = 0;
    while (p + n < end && n < 32 && is_alnum(p[n]))
        name[n] = p[n], n++;
    if (!n)
        return 0;
    name[n] = 0;
    if (p + n < end && p[n] == ';') {
        uint32_t cp = named(name, true);
        if (cp) {
            *olen = put_utf8(o, cp);
            return n + 2;
        }
    }
    /* without ';' only the Latin-1 names count, as the longest that starts the run ("&copy2024"
     * is "©2024"); in an attribute not when a '=' or a letter or digit follows, as URLs carry
     * such query strings ("&copy=1") */
    for (size_t k = n < 6 ? n : 6; k >= 2; k--) {
        name[k] = 0;
        uint32_t cp = named(name, false);
        if (!cp)
            continue;
        if (in_attr && k < n)
            return 0;
        if (in_attr && p + k < end && p[k] == '=')
            return 0;
        *olen = put_utf8(o, cp);
        return 1 + k;
    }
    return 0;
}

/* The n bytes at s with their references decoded, into o (room for n bytes); the length. */
static size_t decode(const char *s, size_t n, bool in_attr, char *o)
{
    const char *end = s + n;
    size_t k = 0;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        if (!amp) {
            memcpy(o + k, s, (size_t)(end - s));
            return k + (size_t)(end - s);
        }
        memcpy(o + k, s, (size_t)(amp - s));
        k += (size_t)(amp - s);
        size_t w;
        size_t took = tree_reference(amp, end, in_attr, o + k, &w);
        if (took) {
            k += w;
            s = amp + took;
        } else {
            o[k++] = '&';
            s = amp + 1;
        }
    }
    return k;
}

/* ---- the builder ---- */

#define MAX_ATTRS 256 /* an element keeps its first 256 attributes */

struct builder {
    xmlDocPtr doc;
    struct tree_arena *a;
    xmlNodePtr html, head, body;
    xmlNodePtr stack[TREE_MAX_DEPTH];
    const struct tag *stag[TREE_MAX_DEPTH];
    int n;       /* elements open: stack[0] is <html> */
    int foreign; /* svg and math elements open */
    size_t nodes;
    bool cut;   /* TREE_MAX_NODES reached: something was left out */
    char *text; /* text read but not yet in the tree */
    size_t tlen, tcap;
};

static xmlNodePtr new_node(struct builder *b, xmlElementType type, const xmlChar *name)
{
    xmlNodePtr x = arena_alloc(b->a, sizeof *x);
    memset(x, 0, sizeof *x);
    x->type = type;
    x->name = name;
    x->doc = b->doc;
    b->nodes++;
    return x;
}

static void append(xmlNodePtr parent, xmlNodePtr x)
{
    x->parent = parent;
    x->prev = parent->last;
    if (parent->last)
        parent->last->next = x;
    else
        parent->children = x;
    parent->last = x;
}

static char *arena_str(struct builder *b, const char *s, size_t n)
{
    char *p = arena_alloc(b->a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* A text node of n bytes (already decoded) at the end of parent's children, joined to a text node
 * that is there already. */
static void add_text(struct builder *b, xmlNodePtr parent, const char *s, size_t n)
{
    xmlNodePtr last = parent->last;
    if (last && last->type == XML_TEXT_NODE) {
        size_t old = strlen((const char *)last->content);
        char *p = arena_alloc(b->a, old + n + 1);
        memcpy(p, last->content, old);
        memcpy(p + old, s, n);
        p[old + n] = 0;
        last->content = (xmlChar *)p;
        return;
    }
    xmlNodePtr t = new_node(b, XML_TEXT_NODE, xmlStringText);
    t->content = (xmlChar *)arena_str(b, s, n);
    append(parent, t);
}

static xmlNodePtr current(struct builder *b)
{
    return b->stack[b->n - 1];
}

static void push(struct builder *b, xmlNodePtr x, const struct tag *t)
{
    b->stack[b->n] = x;
    b->stag[b->n] = t;
    b->n++;
    if (t->flags & F_FOREIGN)
        b->foreign++;
}

/* Close the open elements down to depth n (stack[0], <html>, stays). */
static void pop_to(struct builder *b, int n)
{
    if (n < 1)
        n = 1;
    while (b->n > n) {
        b->n--;
        if (b->stag[b->n]->flags & F_FOREIGN)
            b->foreign--;
    }
}

static void start_body(struct builder *b)
{
    if (b->body)
        return;
    pop_to(b, 1);
    b->body = new_node(b, XML_ELEMENT_NODE, BAD_CAST "body");
    append(b->html, b->body);
    push(b, b->body, tag_of("body", 4));
}

/* Put the text read so far into the tree. Before the body, whitespace is dropped and other text
 * starts the body. */
static void flush_text(struct builder *b)
{
    if (!b->tlen)
        return;
    const char *s = b->text;
    size_t n = b->tlen;
    b->tlen = 0;
    if (b->nodes >= TREE_MAX_NODES) {
        b->cut = true;
        return;
    }
    if (!b->body) {
        while (n && is_ws(*s))
            s++, n--;
        if (!n)
            return;
        start_body(b);
    }
    add_text(b, current(b), s, n);
}

static void text_add(struct builder *b, const char *s, size_t n)
{
    if (b->tlen + n > b->tcap) {
        b->tcap = (b->tlen + n) * 2;
        b->text = xrealloc(b->text, b->tcap);
    }
    memcpy(b->text + b->tlen, s, n);
    b->tlen += n;
}

/* Text of the page (references not yet decoded). */
static void text_raw(struct builder *b, const char *s, size_t n)
{
    if (!memchr(s, '&', n)) {
        text_add(b, s, n);
        return;
    }
    if (b->tlen + n > b->tcap) {
        b->tcap = (b->tlen + n) * 2;
        b->text = xrealloc(b->text, b->tcap);
    }
    b->tlen += decode(s, n, false, b->text + b->tlen);
}

/* Close an open <p> that no scope boundary or <button> separates from here. */
static void close_p(struct builder *b)
{
    for (int i = b->n - 1; i >= 1; i--) {
        if (b->stag[i]->id == T_P) {
            pop_to(b, i);
            return;
        }
        if ((b->stag[i]->flags & F_SCOPE) || b->stag[i]->id == T_BUTTON)
            return;
    }
}

/* The table-scope boundaries: <table>, <template> (and <html>, never passed). */
static bool table_edge(const struct tag *t)
{
    return t->id == T_TABLE || t->id == T_TEMPLATE || t->id == T_HTML;
}

/* Close the nearest open element whose id is one of ids, looking no further than a table edge. */
static void close_in_table(struct builder *b, const enum tag_id *ids, size_t nids)
{
    for (int i = b->n - 1; i >= 1 && !table_edge(b->stag[i]); i--)
        for (size_t k = 0; k < nids; k++)
            if (b->stag[i]->id == ids[k]) {
                pop_to(b, i);
                return;
            }
}

/* What a start tag t closes before it is inserted. */
static void auto_close(struct builder *b, const struct tag *t)
{
    if (b->foreign && (t->flags & F_BREAKOUT)) { /* out of the outermost svg or math */
        int i = 1;
        while (!(b->stag[i]->flags & F_FOREIGN))
            i++;
        pop_to(b, i);
    }
    switch (t->id) {
    case T_LI:
    case T_DT:
    case T_DD:
        for (int i = b->n - 1; i >= 1; i--) {
            enum tag_id id = b->stag[i]->id;
            bool same = t->id == T_LI ? id == T_LI : (id == T_DT || id == T_DD);
            if (same) {
                pop_to(b, i);
                break;
            }
            if ((b->stag[i]->flags & F_SPECIAL) && id != T_ADDRESS && id != T_DIV && id != T_P)
                break;
        }
        break;
    case T_OPTION:
        if (b->stag[b->n - 1]->id == T_OPTION)
            pop_to(b, b->n - 1);
        break;
    case T_OPTGROUP:
        if (b->stag[b->n - 1]->id == T_OPTION)
            pop_to(b, b->n - 1);
        if (b->stag[b->n - 1]->id == T_OPTGROUP)
            pop_to(b, b->n - 1);
        break;
    case T_TR: {
        static const enum tag_id ids[] = {T_TR};
        close_in_table(b, ids, 1);
        break;
    }
    case T_TD:
    case T_TH: {
        static const enum tag_id ids[] = {T_TD, T_TH};
        close_in_table(b, ids, 2);
        break;
    }
    case T_THEAD:
    case T_TBODY:
    case T_TFOOT: {
        /* the outermost open section, row or cell of the table */
        int at = 0;
        for (int i = b->n - 1; i >= 1 && !table_edge(b->stag[i]); i--) {
            enum tag_id id = b->stag[i]->id;
            if (id == T_THEAD || id == T_TBODY || id == T_TFOOT || id == T_TR || id == T_TD ||
                id == T_TH)
                at = i;
        }
        if (at)
            pop_to(b, at);
        break;
    }
    case T_A:
    case T_BUTTON:
        for (int i = b->n - 1; i >= 1 && !(b->stag[i]->flags & F_SCOPE); i--)
            if (b->stag[i]->id == t->id) {
                pop_to(b, i);
                break;
            }
        break;
    default:
        break;
    }
    if (t->flags & F_CLOSE_P)
        close_p(b);
    if ((t->flags & F_HEADING) && (b->stag[b->n - 1]->flags & F_HEADING))
        pop_to(b, b->n - 1);
}

struct attr {
    const char *name; /* lowercased, in the arena */
    size_t nlen;
    const char *value; /* raw, in the page */
    size_t vlen;
};

/* Add attributes to x, skipping names it has (the first wins). */
static void add_attrs(struct builder *b, xmlNodePtr x, const struct attr *at, size_t n)
{
    xmlAttrPtr last = x->properties;
    size_t have = last != NULL;
    while (last && last->next)
        last = last->next, have++;
    for (size_t i = 0; i < n && have < MAX_ATTRS; i++) {
        bool dup = false;
        for (xmlAttrPtr p = x->properties; p && !dup; p = p->next)
            dup = strcmp((const char *)p->name, at[i].name) == 0;
        if (dup)
            continue;
        have++;
        xmlAttrPtr a = arena_alloc(b->a, sizeof *a);
        memset(a, 0, sizeof *a);
        a->type = XML_ATTRIBUTE_NODE;
        a->name = (const xmlChar *)at[i].name;
        a->parent = x;
        a->doc = b->doc;
        char *v = arena_alloc(b->a, at[i].vlen + 1);
        size_t vn = memchr(at[i].value, '&', at[i].vlen)
                        ? decode(at[i].value, at[i].vlen, true, v)
                        : (memcpy(v, at[i].value, at[i].vlen), at[i].vlen);
        v[vn] = 0;
        xmlNodePtr t = new_node(b, XML_TEXT_NODE, xmlStringText);
        t->content = (xmlChar *)v;
        t->parent = (xmlNodePtr)a;
        a->children = a->last = t;
        a->prev = last;
        if (last)
            last->next = a;
        else
            x->properties = a;
        last = a;
        b->nodes++;
    }
}

/* Where the builder takes a start tag; returns the element made (NULL when none: the tag only
 * added attributes, or was ignored) and whether it stays open in *opened. */
static xmlNodePtr start_tag(struct builder *b, const struct tag *t, const char *name, size_t nlen,
                            const struct attr *at, size_t nat, bool self_closing, bool *opened)
{
    *opened = false;
    if (t->id == T_HTML) {
        add_attrs(b, b->html, at, nat);
        return NULL;
    }
    if (t->id == T_HEAD) {
        if (!b->body)
            add_attrs(b, b->head, at, nat);
        return NULL;
    }
    if (t->id == T_BODY) {
        /* text before the body's tag starts it; a later tag leaves the text around it whole (a
         * flush there would copy a growing text node again for each "x<body>" of a page) */
        if (!b->body) {
            flush_text(b);
            start_body(b);
        }
        add_attrs(b, b->body, at, nat);
        return NULL;
    }
    flush_text(b);
    if (b->nodes >= TREE_MAX_NODES) {
        b->cut = true;
        return NULL;
    }
    if (!b->body && !(t->flags & F_HEAD))
        start_body(b);
    if (b->body)
        auto_close(b, t);
    if (b->n >= TREE_MAX_DEPTH) /* as deep as a tree goes: a sibling of the deepest */
        pop_to(b, b->n - 1);
    const xmlChar *ename =
        t->name ? (const xmlChar *)t->name : (const xmlChar *)arena_str(b, name, nlen);
    xmlNodePtr x = new_node(b, XML_ELEMENT_NODE, ename);
    add_attrs(b, x, at, nat);
    append(current(b), x);
    bool in_foreign = b->foreign > 0 || (t->flags & F_FOREIGN);
    if ((t->flags & F_VOID) || (self_closing && in_foreign))
        return x;
    push(b, x, t);
    *opened = true;
    return x;
}

static void end_tag(struct builder *b, const struct tag *t, const char *name, size_t nlen)
{
    if (t->id == T_HTML || t->id == T_HEAD || t->id == T_BODY)
        return;
    if (t->id == T_BR) {
        bool opened;
        start_tag(b, t, name, nlen, NULL, 0, false, &opened);
        return;
    }
    /* table parts reach past cells; other block end tags stop at the scope boundaries; inline
     * ones also at any block. An end tag that closes nothing leaves the text around it whole. */
    unsigned barrier = (t->flags & F_TABLE) ? 0 : F_SCOPE;
    if (!(t->flags & F_SPECIAL))
        barrier |= F_SPECIAL;
    for (int i = b->n - 1; i >= 1; i--) {
        const char *open = (const char *)b->stack[i]->name;
        if (strncmp(open, name, nlen) == 0 && !open[nlen]) {
            flush_text(b);
            pop_to(b, i);
            return;
        }
        if ((b->stag[i]->flags & barrier) || table_edge(b->stag[i]))
            return;
    }
}

static void add_comment(struct builder *b, const char *s, size_t n)
{
    flush_text(b);
    if (b->nodes >= TREE_MAX_NODES) {
        b->cut = true;
        return;
    }
    xmlNodePtr c = new_node(b, XML_COMMENT_NODE, xmlStringComment);
    c->content = (xmlChar *)arena_str(b, s, n);
    append(current(b), c);
}

/* ---- the tokenizer ---- */

/* The end of the content of a raw-text element named name (n bytes, lowercase) that starts at
 * p: the '<' of its end tag, or end. */
static const char *raw_end(const char *p, const char *end, const char *name, size_t n)
{
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            return end;
        const char *q = lt + 2;
        if (q + n <= end && lt[1] == '/') {
            size_t k = 0;
            while (k < n && lower(q[k]) == name[k])
                k++;
            if (k == n && (q + n == end || is_ws(q[n]) || q[n] == '/' || q[n] == '>'))
                return lt;
        }
        p = lt + 1;
    }
    return end;
}

/* Past the '>' that ends a tag whose rest starts at p (quoted values may hold '>'); NULL when the
 * page ends first. Used for end tags, whose attributes count for nothing. */
static const char *skip_tag(const char *p, const char *end)
{
    while (p < end) {
        char c = *p;
        if (c == '>')
            return p + 1;
        if (c == '=') {
            p++;
            while (p < end && is_ws(*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
                if (!q)
                    return NULL;
                p = q + 1;
                continue;
            }
            continue;
        }
        p++;
    }
    return NULL;
}

/* A start tag whose name starts at p (after '<'): read, built; returns where reading goes on. */
static const char *read_start(struct builder *b, const char *p, const char *end)
{
    char lname[64];
    const char *ns = p;
    while (p < end && !is_ws(*p) && *p != '/' && *p != '>')
        p++;
    size_t nlen = (size_t)(p - ns);
    char *name = nlen < sizeof lname ? lname : xmalloc(nlen + 1);
    for (size_t i = 0; i < nlen; i++)
        name[i] = lower(ns[i]);
    name[nlen] = 0;
    struct attr at[MAX_ATTRS];
    size_t nat = 0;
    bool self_closing = false;
    const char *ret = NULL;
    while (p < end) {
        while (p < end && (is_ws(*p) || *p == '/')) {
            self_closing = *p == '/' && p + 1 < end && p[1] == '>';
            p++;
        }
        if (p >= end)
            break;
        if (*p == '>') {
            ret = p + 1;
            break;
        }
        self_closing = false;
        const char *an = p++; /* a first '=' belongs to the name */
        while (p < end && !is_ws(*p) && *p != '/' && *p != '>' && *p != '=')
            p++;
        size_t alen = (size_t)(p - an);
        while (p < end && is_ws(*p))
            p++;
        const char *v = p;
        size_t vlen = 0;
        if (p < end && *p == '=') {
            p++;
            while (p < end && is_ws(*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
                if (!q)
                    break;
                v = p + 1;
                vlen = (size_t)(q - v);
                p = q + 1;
            } else {
                v = p;
                while (p < end && !is_ws(*p) && *p != '>')
                    p++;
                vlen = (size_t)(p - v);
            }
        }
        if (nat < MAX_ATTRS) {
            char *nm = arena_alloc(b->a, alen + 1);
            for (size_t i = 0; i < alen; i++)
                nm[i] = lower(an[i]);
            nm[alen] = 0;
            at[nat++] = (struct attr){nm, alen, v, vlen};
        }
    }
    if (!ret) { /* the page ended inside the tag: it is dropped */
        if (name != lname)
            free(name);
        return end;
    }
    const struct tag *t = tag_of(name, nlen);
    bool opened;
    xmlNodePtr x = start_tag(b, t, name, nlen, at, nat, self_closing, &opened);
    p = ret;
    if (x && opened && !b->foreign && (t->flags & (F_RAW | F_RCDATA))) {
        const char *e = raw_end(p, end, name, nlen);
        if (e > p) {
            if (t->flags & F_RCDATA)
                text_raw(b, p, (size_t)(e - p));
            else
                text_add(b, p, (size_t)(e - p));
            add_text(b, x, b->text, b->tlen);
            b->tlen = 0;
        }
        pop_to(b, b->n - 1);
        p = e < end ? skip_tag(e + 2, end) : end;
        if (!p)
            p = end;
    } else if (x && opened && t->id == T_PLAINTEXT && !b->foreign) {
        add_text(b, x, p, (size_t)(end - p));
        p = end;
    }
    if (name != lname)
        free(name);
    return p;
}

/* An end tag whose name starts at p (after "</"). */
static const char *read_end(struct builder *b, const char *p, const char *end)
{
    char lname[64];
    const char *ns = p;
    while (p < end && !is_ws(*p) && *p != '/' && *p != '>')
        p++;
    size_t nlen = (size_t)(p - ns);
    const char *ret = skip_tag(p, end);
    if (!ret)
        return end;
    char *name = nlen < sizeof lname ? lname : xmalloc(nlen + 1);
    for (size_t i = 0; i < nlen; i++)
        name[i] = lower(ns[i]);
    name[nlen] = 0;
    end_tag(b, tag_of(name, nlen), name, nlen);
    if (name != lname)
        free(name);
    return ret;
}

static bool starts(const char *p, const char *end, const char *s, bool nocase)
{
    size_t n = strlen(s);
    if ((size_t)(end - p) < n)
        return false;
    return nocase ? strncasecmp(p, s, n) == 0 : memcmp(p, s, n) == 0;
}

/* "<!" at p: a comment, a DOCTYPE, a CDATA section or a bogus comment. */
static const char *read_bang(struct builder *b, const char *p, const char *end)
{
    if (starts(p, end, "<!--", false)) {
        const char *s = p + 4;
        if (starts(s, end, ">", false) || starts(s, end, "->", false)) { /* <!--> and <!---> */
            add_comment(b, "", 0);
            return s + (*s == '>' ? 1 : 2);
        }
        for (const char *q = s; q < end;) {
            const char *dash = memchr(q, '-', (size_t)(end - q));
            if (!dash)
                break;
            if (starts(dash, end, "-->", false)) {
                add_comment(b, s, (size_t)(dash - s));
                return dash + 3;
            }
            if (starts(dash, end, "--!>", false)) {
                add_comment(b, s, (size_t)(dash - s));
                return dash + 4;
            }
            q = dash + 1;
        }
        add_comment(b, s, (size_t)(end - s));
        return end;
    }
    if (b->foreign && starts(p, end, "<![CDATA[", false)) {
        const char *s = p + 9;
        const char *e = memmem(s, (size_t)(end - s), "]]>", 3);
        text_add(b, s, (size_t)((e ? e : end) - s));
        return e ? e + 3 : end;
    }
    bool doctype = starts(p, end, "<!doctype", true);
    const char *gt = memchr(p, '>', (size_t)(end - p));
    const char *e = gt ? gt : end;
    if (!doctype && !starts(p, end, "<![CDATA[", false))
        add_comment(b, p + 2, (size_t)(e - p - 2));
    return gt ? gt + 1 : end;
}

static void tokenize(struct builder *b, const char *p, const char *end)
{
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt) {
            text_raw(b, p, (size_t)(end - p));
            return;
        }
        if (lt > p)
            text_raw(b, p, (size_t)(lt - p));
        p = lt;
        char c = p + 1 < end ? p[1] : 0;
        if (is_alpha(c)) {
            p = read_start(b, p + 1, end);
        } else if (c == '/' && p + 2 < end && is_alpha(p[2])) {
            p = read_end(b, p + 2, end);
        } else if (c == '/' && p + 2 < end && p[2] == '>') {
            p += 3;
        } else if (c == '/' && p + 2 < end) { /* "</3" and the like: a bogus comment */
            const char *gt = memchr(p, '>', (size_t)(end - p));
            add_comment(b, p + 2, (size_t)((gt ? gt : end) - p - 2));
            p = gt ? gt + 1 : end;
        } else if (c == '!') {
            p = read_bang(b, p, end);
        } else if (c == '?') { /* a processing instruction: dropped */
            const char *gt = memchr(p, '>', (size_t)(end - p));
            p = gt ? gt + 1 : end;
        } else {
            text_add(b, p, 1);
            p++;
        }
    }
}

int tree_build(const char *s, size_t len, xmlDocPtr doc, struct tree_arena **arena)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, tags_init);
    struct builder *b = xcalloc(1, sizeof *b);
    b->doc = doc;
    b->a = xcalloc(1, sizeof *b->a);
    /* a tree takes about ten times its page; one chunk for most pages */
    b->a->next_size = len * 10 < 16384 ? 16384 : len * 10 > (8u << 20) ? (8u << 20) : len * 10;
    char *copy = NULL;
    if (memchr(s, 0, len)) { /* NUL bytes become U+FFFD, so every string is a C string */
        size_t nuls = 0;
        for (size_t i = 0; i < len; i++)
            nuls += !s[i];
        copy = xmalloc(len + 2 * nuls + 1);
        size_t k = 0;
        for (size_t i = 0; i < len; i++)
            if (s[i])
                copy[k++] = s[i];
            else
                k += put_utf8(copy + k, 0xfffd);
        s = copy;
        len = k;
    }
    b->html = new_node(b, XML_ELEMENT_NODE, BAD_CAST "html");
    b->html->parent = (xmlNodePtr)doc;
    doc->children = doc->last = b->html;
    b->head = new_node(b, XML_ELEMENT_NODE, BAD_CAST "head");
    append(b->html, b->head);
    push(b, b->html, tag_of("html", 4));
    push(b, b->head, tag_of("head", 4));
    tokenize(b, s, s + len);
    flush_text(b);
    start_body(b);
    *arena = b->a;
    int rc = b->cut ? 1 : 0;
    free(copy);
    free(b->text);
    free(b);
    return rc;
}

void tree_release(xmlDocPtr doc, struct tree_arena *arena)
{
    if (!arena) /* a tree built otherwise (by hand, in tests) is the document's own */
        return;
    if (doc)
        doc->children = doc->last = NULL;
    arena_free(arena);
}
