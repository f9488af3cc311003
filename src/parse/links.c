/* What a crawler takes from a page besides its content: the links to follow next and the
 * metadata that describes the page (title, description, language, canonical URL, Open Graph and
 * Twitter cards). */
#include "parse/html.h"

#include "base/xalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* Whether the whitespace-separated list holds tok (ASCII case-insensitively), as rel="" and
 * <meta name=robots content=""> (which also separates with commas) are read. */
static bool has_token(const char *list, const char *tok)
{
    size_t tl = strlen(tok);
    const char *p = list;
    while (p && *p) {
        while (*p && (is_space(*p) || *p == ','))
            p++;
        const char *s = p;
        while (*p && !is_space(*p) && *p != ',')
            p++;
        if ((size_t)(p - s) == tl && strncasecmp(s, tok, tl) == 0)
            return true;
    }
    return false;
}

/* A set of strings by open addressing, to drop duplicate links in linear time. */
struct strset {
    char **slot;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

/* Add s (borrowed; the set keeps the pointer); false when an equal string is there already. */
static bool strset_add(struct strset *set, char *s)
{
    if (2 * (set->n + 1) > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        char **slot = xcalloc(cap, sizeof *slot);
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slot[i])
                continue;
            size_t j = hash_str(set->slot[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = set->slot[i];
        }
        free(set->slot);
        set->slot = slot;
        set->cap = cap;
    }
    size_t j = hash_str(s) & (set->cap - 1);
    while (set->slot[j]) {
        if (strcmp(set->slot[j], s) == 0)
            return false;
        j = (j + 1) & (set->cap - 1);
    }
    set->slot[j] = s;
    set->n++;
    return true;
}

/* Whether <meta name="robots" content="nofollow"> (or "none") forbids following the page's
 * links. */
static bool page_nofollow(xmlNodePtr root)
{
    bool no = false;
    for (xmlNodePtr n = root; n && !no; n = html_next(n, root, true)) {
        if (!html_is(n, "meta"))
            continue;
        char *name = html_attr(n, "name");
        if (name && strcasecmp(name, "robots") == 0) {
            char *content = html_attr(n, "content");
            no = content && (has_token(content, "nofollow") || has_token(content, "none"));
            free(content);
        }
        free(name);
    }
    return no;
}

/* The attribute of n that names a link to follow, or NULL when n is no such link. */
static const char *link_attr(xmlNodePtr n, bool skip_nofollow)
{
    const char *attr = NULL;
    char *rel = html_attr(n, "rel");
    if (html_is(n, "a") || html_is(n, "area")) {
        attr = "href";
    } else if (html_is(n, "iframe")) {
        attr = "src";
    } else if (html_is(n, "link") && rel) {
        /* stylesheets and icons are resources, not pages, even as "alternate stylesheet" */
        bool page = has_token(rel, "next") || has_token(rel, "prev") ||
                    has_token(rel, "previous") || has_token(rel, "alternate") ||
                    has_token(rel, "canonical");
        if (page && !has_token(rel, "stylesheet") && !has_token(rel, "icon"))
            attr = "href";
    }
    if (attr && skip_nofollow && rel && has_token(rel, "nofollow"))
        attr = NULL;
    free(rel);
    return attr;
}

int html_links(const struct html_doc *d, bool skip_nofollow, char ***urls, size_t *n)
{
    *urls = NULL;
    *n = 0;
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    if (!root || (skip_nofollow && page_nofollow(root)))
        return 0;
    struct strset seen = {0};
    char **out = NULL;
    size_t len = 0, cap = 0;
    for (xmlNodePtr x = root; x; x = html_next(x, root, true)) {
        if (x->type != XML_ELEMENT_NODE)
            continue;
        const char *attr = link_attr(x, skip_nofollow);
        if (!attr)
            continue;
        char *ref = html_attr(x, attr);
        /* html_resolve refuses what is not http(s) (javascript:, mailto:, tel:, data:) and
         * normalizes, which drops the fragment */
        char *abs = html_resolve(d, ref);
        free(ref);
        if (!abs)
            continue;
        if (!strset_add(&seen, abs)) {
            free(abs);
            continue;
        }
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            out = xrealloc(out, cap * sizeof *out);
        }
        out[len++] = abs;
    }
    free(seen.slot);
    *urls = out;
    *n = len;
    return 0;
}

void html_strings_free(char **s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* Set key to the string v (taken) unless the object has the key already or v is empty: the
 * first value in the page wins. */
static void set_first(json_t *obj, const char *key, char *v)
{
    if (v && *html_collapse(v) && !json_object_get(obj, key)) {
        json_t *s = json_string(v);
        if (s)
            json_object_set_new(obj, key, s); /* steals s */
    }
    free(v);
}

static bool inside(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr p = n->parent; p; p = p->parent)
        if (html_is(p, name))
            return true;
    return false;
}

/* A <meta> with a property or name of the form prefix:key sets key in the object under prefix
 * ("og", "twitter"). */
static void set_prefixed(const struct html_doc *d, json_t *meta, const char *prefix,
                         const char *name, char *content)
{
    size_t pl = strlen(prefix);
    if (strncasecmp(name, prefix, pl) != 0 || name[pl] != ':' || !name[pl + 1]) {
        free(content);
        return;
    }
    json_t *obj = json_object_get(meta, prefix);
    if (!obj) {
        obj = json_object();
        json_object_set_new(meta, prefix, obj); /* steals obj; meta keeps it alive below */
    }
    char *key = xstrdup(name + pl + 1);
    for (char *k = key; *k; k++)
        if (*k >= 'A' && *k <= 'Z')
            *k = (char)(*k - 'A' + 'a');
    /* the properties that are addresses are made absolute, as the page's links are */
    static const char *const urls[] = {"url",   "image", "image:url", "image:secure_url",
                                       "video", "audio", "image:src"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0] && content; i++) {
        if (strcmp(key, urls[i]) != 0)
            continue;
        char *abs = html_resolve(d, content);
        if (abs) {
            free(content);
            content = abs;
        }
    }
    set_first(obj, key, content);
    free(key);
}

static void read_meta(const struct html_doc *d, json_t *meta, xmlNodePtr n)
{
    char *name = html_attr(n, "name");
    char *prop = html_attr(n, "property");
    const char *key = prop && *prop ? prop : name;
    if (key) {
        if (strcasecmp(key, "description") == 0)
            set_first(meta, "description", html_attr(n, "content"));
        else if (strcasecmp(key, "robots") == 0)
            set_first(meta, "robots", html_attr(n, "content"));
        else if (strncasecmp(key, "og:", 3) == 0)
            set_prefixed(d, meta, "og", key, html_attr(n, "content"));
        else if (strncasecmp(key, "twitter:", 8) == 0)
            set_prefixed(d, meta, "twitter", key, html_attr(n, "content"));
    }
    /* a page may name the description both ways: <meta property="og:x" name="description"> */
    if (prop && *prop && name && strcasecmp(name, "description") == 0)
        set_first(meta, "description", html_attr(n, "content"));
    free(name);
    free(prop);
}

json_t *html_metadata(const struct html_doc *d)
{
    json_t *meta = json_object();
    xmlNodePtr root = xmlDocGetRootElement(d->doc);
    if (!root)
        return meta;
    if (html_is(root, "html"))
        set_first(meta, "language", html_attr(root, "lang"));
    for (xmlNodePtr n = root; n; n = html_next(n, root, true)) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        /* an <svg> has <title>s of its own */
        if (html_is(n, "title") && !json_object_get(meta, "title") && !inside(n, "svg")) {
            set_first(meta, "title", html_node_text(n));
        } else if (html_is(n, "meta")) {
            read_meta(d, meta, n);
        } else if (html_is(n, "link") && !json_object_get(meta, "canonical")) {
            char *rel = html_attr(n, "rel");
            if (rel && has_token(rel, "canonical")) {
                char *href = html_attr(n, "href");
                set_first(meta, "canonical", html_resolve(d, href));
                free(href);
            }
            free(rel);
        }
    }
    /* a prefix whose properties were all empty leaves no empty object behind */
    const char *groups[] = {"og", "twitter"};
    for (size_t i = 0; i < 2; i++) {
        json_t *obj = json_object_get(meta, groups[i]);
        if (obj && json_object_size(obj) == 0)
            json_object_del(meta, groups[i]);
    }
    return meta;
}
