/* Product records out of a page: JSON-LD, microdata and OpenGraph read into one shape (microdata
 * is turned into JSON-LD-like objects so that one mapping serves both), merged per product, and
 * records made by a user's rules for pages without structured data. */
#include "parse/product.h"

#include "base/utf8.h"
#include "base/xalloc.h"
#include "parse/tree.h"

#include <ctype.h>
#include <float.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH       64         /* JSON-LD and microdata nesting that is followed */
#define MAX_RECORDS     1000       /* products kept from one page */
#define MAX_WARNINGS    100        /* warnings kept from one page */
#define MAX_IMAGES      100        /* images kept per product */
#define MAX_LIST        256        /* elements of one array looked at for offers, images, texts */
#define MAX_CRUMBS      32         /* breadcrumb entries kept */
#define MAX_IDS         10000      /* JSON-LD nodes indexed by @id */
#define MAX_ITEMS       20000      /* microdata items converted from one page */
#define MAX_BLOCK_BYTES (4u << 20) /* one JSON-LD block */
#define MAX_LD_BYTES    (8u << 20) /* all JSON-LD blocks of a page together */
#define MAX_RULE_VALUES 1000       /* values of one "all" rule */

enum source { SRC_JSONLD = 1, SRC_MICRODATA = 2, SRC_OG = 4 };

static const char *source_name(unsigned s)
{
    return s == SRC_JSONLD ? "jsonld" : s == SRC_MICRODATA ? "microdata" : "opengraph";
}

/* A product as found, before the records of the page are merged. */
struct rec {
    json_t *obj; /* the members of the record, without "sources" and "raw" */
    json_t *raw; /* source name -> the data as found */
    char *sku;   /* merge keys, from the item's own data (not from a group's defaults) */
    char *url;
    unsigned sources; /* enum source bits */
};

struct recs {
    struct rec *v;
    size_t n, alloc;
};

struct ctx {
    const struct html_doc *d;
    json_t *warnings;
    json_t *ids;       /* @id -> node of the page's JSON-LD (references held by the index) */
    json_t *crumbs;    /* names of the page's first BreadcrumbList, or NULL */
    struct recs *into; /* where walk() puts records */
    unsigned source;   /* what walk() is reading */
    size_t nrecords;   /* records found so far, from all sources */
    size_t nitems;     /* microdata items converted so far */
    bool full;         /* MAX_RECORDS reached: nothing more is read */
    bool deep_warned;  /* the nesting warning is given once */
    bool items_warned;
};

static void warn(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct ctx *c, const char *fmt, ...)
{
    size_t n = json_array_size(c->warnings);
    if (n > MAX_WARNINGS)
        return;
    if (n == MAX_WARNINGS) {
        /* json_array_append_new steals the new string */
        json_array_append_new(c->warnings, json_string("too many warnings; the rest are left out"));
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* jansson's messages quote the input, and truncation may split a character */
    size_t len = strlen(msg);
    if (utf8_valid(msg, len)) {
        json_array_append_new(c->warnings, json_string(msg)); /* steals */
    } else {
        size_t clen;
        char *clean = utf8_sanitize(msg, len, &clen);
        json_array_append_new(c->warnings, json_stringn(clean, clen)); /* steals */
        free(clean);
    }
}

/* ---- text ---- */

static bool is_ws(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* A copy of s with character references decoded when entities (JSON-LD is often written
 * HTML-escaped), the ends trimmed and, when collapse, runs of whitespace (a no-break space too)
 * made one space; NULL when nothing is left. */
static char *clean_text(const char *s, bool collapse, bool entities)
{
    size_t len = strlen(s);
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t n, olen;
        if (entities && s[i] == '&' &&
            (n = tree_reference(s + i, s + len, false, out + o, &olen))) {
            i += n;
            o += olen;
        } else {
            out[o++] = s[i++];
        }
    }
    out[o] = 0;
    /* in place: the write index never passes the read index */
    size_t w = 0;
    bool space = false;
    for (size_t r = 0; r < o; r++) {
        unsigned char ch = (unsigned char)out[r];
        size_t n = ch == 0xc2 && (unsigned char)out[r + 1] == 0xa0 ? 2 : is_ws(ch) ? 1 : 0;
        if (n && (collapse || w == 0)) {
            space = w > 0;
            r += n - 1;
            continue;
        }
        if (space)
            out[w++] = ' ';
        space = false;
        out[w++] = (char)ch;
    }
    while (w > 0 && is_ws((unsigned char)out[w - 1]))
        w--;
    while (w > 1 && (unsigned char)out[w - 2] == 0xc2 && (unsigned char)out[w - 1] == 0xa0) {
        w -= 2;
        while (w > 0 && is_ws((unsigned char)out[w - 1]))
            w--;
    }
    out[w] = 0;
    if (!w) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- numbers ---- */

/* The first number in s. Digits may be grouped by '.', ',', '\'' or a space (a space or '\''
 * only before exactly three digits). The decimal separator is the last '.' or ',' when the other
 * one also occurs or a space grouped the digits; a ',' or '.' that occurs more than once groups
 * thousands; a lone ',' before exactly three digits and after at most three groups thousands
 * ("1,299"), else it is the decimal separator ("12,50", "0,125", "12345,678"); a lone '.' is
 * decimal when dot_decimal (schema.org's rule), else it is read like a lone ','. Groups of
 * thousands must have three digits: the number ends before one that does not ("1.5.2024" is 1). A
 * '-' right before the first digit counts when signed. */
static bool parse_number(const char *s, bool dot_decimal, bool signed_ok, double *out)
{
    enum { MAXG = 24 };
    const char *p = s;
    while (*p && !isdigit((unsigned char)*p))
        p++;
    if (!*p)
        return false;
    bool neg = signed_ok && p > s && p[-1] == '-';
    const char *at[MAXG];
    size_t len[MAXG];
    char sep[MAXG];
    size_t ng = 0;
    for (;;) {
        const char *q = p;
        while (isdigit((unsigned char)*q))
            q++;
        at[ng] = p;
        len[ng] = (size_t)(q - p);
        ng++;
        if (ng == MAXG)
            break;
        const unsigned char *u = (const unsigned char *)q;
        char kind = 0;
        size_t sl = 1;
        if (*q == '.' || *q == ',' || *q == '\'' || *q == ' ')
            kind = *q;
        else if (u[0] == 0xc2 && u[1] == 0xa0)
            kind = ' ', sl = 2; /* no-break space */
        else if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xaf || u[2] == 0x89))
            kind = ' ', sl = 3; /* narrow no-break space, thin space */
        if (!kind || !isdigit((unsigned char)q[sl]))
            break;
        if (kind == ' ' || kind == '\'') {
            size_t k = 0;
            while (isdigit((unsigned char)q[sl + k]))
                k++;
            if (k != 3)
                break;
        }
        sep[ng - 1] = kind == '\'' ? ' ' : kind;
        p = q + sl;
    }
    long dec;
    for (;;) {
        size_t dots = 0, commas = 0, spaces = 0;
        long last = -1;
        for (size_t i = 0; i + 1 < ng; i++) {
            if (sep[i] == '.')
                dots++, last = (long)i;
            else if (sep[i] == ',')
                commas++, last = (long)i;
            else
                spaces++;
        }
        dec = -1;
        if (last >= 0) {
            char k = sep[last];
            size_t same = k == '.' ? dots : commas, other = k == '.' ? commas : dots;
            if (same == 1) {
                bool three = len[last + 1] == 3;
                bool lead0 = last == 0 && len[0] == 1 && at[0][0] == '0';
                if (other || spaces || lead0 || !three || len[0] > 3 || (k == '.' && dot_decimal))
                    dec = last;
            }
        }
        if (dec >= 0)
            ng = (size_t)dec + 2; /* nothing groups digits after the decimal separator */
        size_t bad = 0;
        for (size_t i = 0; i + 1 < ng && !bad; i++)
            if ((long)i != dec && len[i + 1] != 3)
                bad = i + 1;
        if (!bad)
            break;
        ng = bad;
    }
    uint64_t mant = 0;
    int digits = 0, exp10 = 0;
    for (size_t i = 0; i < ng; i++) {
        bool frac = dec >= 0 && (long)i > dec;
        for (size_t k = 0; k < len[i]; k++) {
            if (digits < 18) {
                mant = mant * 10 + (uint64_t)(at[i][k] - '0');
                digits += mant != 0;
                exp10 -= frac;
            } else if (!frac) {
                exp10++;
            }
        }
    }
    double v = (double)mant, p10 = 1;
    int e = exp10 < 0 ? -exp10 : exp10;
    for (int i = 0; i < e && p10 <= DBL_MAX; i++)
        p10 *= 10;
    v = exp10 < 0 ? v / p10 : v * p10;
    if (!(v <= DBL_MAX))
        return false;
    *out = neg ? -v : v;
    return true;
}

/* A price given as a JSON number or a string; false when there is none or it is negative. */
static bool price_of(json_t *v, double *out)
{
    if (json_is_array(v))
        v = json_array_get(v, 0);
    double x;
    if (json_is_number(v))
        x = json_number_value(v);
    else if (json_is_string(v) && parse_number(json_string_value(v), true, true, &x))
        ;
    else
        return false;
    if (!(x >= 0 && x <= DBL_MAX))
        return false;
    *out = x;
    return true;
}

/* ---- JSON-LD values ---- */

static json_t *get(json_t *o, const char *key)
{
    return json_object_get(o, key); /* NULL for what is no object */
}

/* A node that is only a reference ({"@id": ...}) replaced by the node of the page with that
 * @id, when there is one. Callers follow references from an item's own members only, and every
 * path that follows them is depth-capped, so reference loops end. */
static json_t *deref(struct ctx *c, json_t *v)
{
    if (!c->ids || !json_is_object(v) || json_object_size(v) != 1)
        return v;
    json_t *id = json_object_get(v, "@id");
    if (!json_is_string(id))
        return v;
    json_t *t = json_object_get(c->ids, json_string_value(id));
    return t ? t : v;
}

/* The text of a value: a string, a number, the first text of an array, or an object's @value or
 * name ({"@type": "Brand", "name": ...}). A new string, or NULL. */
static char *to_text(struct ctx *c, json_t *v, bool collapse, int depth)
{
    char num[64];
    if (!v || depth > 4)
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return clean_text(json_string_value(v), collapse, true);
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return xstrdup(num);
    case JSON_REAL:
        snprintf(num, sizeof num, "%.15g", json_real_value(v));
        return xstrdup(num);
    case JSON_ARRAY: {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i >= MAX_LIST)
                break;
            char *s = to_text(c, x, collapse, depth + 1);
            if (s)
                return s;
        }
        return NULL;
    }
    case JSON_OBJECT: {
        v = deref(c, v);
        char *s = to_text(c, get(v, "@value"), collapse, depth + 1);
        return s ? s : to_text(c, get(v, "name"), collapse, depth + 1);
    }
    default:
        return NULL;
    }
}

/* Texts of an array joined with ", " ("material": ["Oak", "Steel"]), or the one text. */
static char *join_text(struct ctx *c, json_t *v)
{
    if (!json_is_array(v))
        return to_text(c, v, true, 0);
    char *out = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x)
    {
        if (i >= 16)
            break;
        char *s = to_text(c, x, true, 1);
        if (!s)
            continue;
        if (!out) {
            out = s;
            continue;
        }
        size_t a = strlen(out), b = strlen(s);
        out = xrealloc(out, a + b + 3);
        memcpy(out + a, ", ", 2);
        memcpy(out + a + 2, s, b + 1);
        free(s);
    }
    return out;
}

/* An absolute URL from a string, the first of an array, or an object's url or @id. */
static char *url_of(struct ctx *c, json_t *v, int depth)
{
    if (!v || depth > 3)
        return NULL;
    if (json_is_string(v))
        return html_resolve(c->d, json_string_value(v));
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i >= MAX_LIST)
                break;
            char *u = url_of(c, x, depth + 1);
            if (u)
                return u;
        }
        return NULL;
    }
    v = deref(c, v);
    char *u = url_of(c, get(v, "url"), depth + 1);
    return u ? u : url_of(c, get(v, "@id"), depth + 1);
}

/* Takes s (may be NULL). json_object_set_new steals the new string; json_string refuses what
 * is not UTF-8, and a NULL value is not set. */
static void set_text(json_t *o, const char *key, char *s)
{
    if (s)
        json_object_set_new(o, key, json_string(s));
    free(s);
}

static const char *strip_schema(const char *t)
{
    static const char *const prefixes[] = {"http://schema.org/", "https://schema.org/",
                                           "http://www.schema.org/", "https://www.schema.org/",
                                           "schema:"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncasecmp(t, prefixes[i], n) == 0)
            return t + n;
    }
    return t;
}

static bool name_in(const char *t, const char *const *names)
{
    t = strip_schema(t);
    for (; *names; names++)
        if (strcasecmp(t, *names) == 0)
            return true;
    return false;
}

/* Whether the object's @type (a string or an array of them) is one of names. */
static bool has_type(json_t *o, const char *const *names)
{
    json_t *t = json_object_get(o, "@type");
    if (json_is_string(t))
        return name_in(json_string_value(t), names);
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x)
    {
        if (i >= 16)
            break;
        if (json_is_string(x) && name_in(json_string_value(x), names))
            return true;
    }
    return false;
}

static const char *const product_types[] = {"Product", "ProductModel", "IndividualProduct",
                                            "SomeProducts", NULL};
static const char *const group_types[] = {"ProductGroup", NULL};
static const char *const breadcrumb_types[] = {"BreadcrumbList", NULL};

/* schema.org's ItemAvailability (and OpenGraph's spellings) in the record's words; others as
 * given. */
static char *availability(const char *s)
{
    static const struct {
        const char *key;
        const char *word;
    } map[] = {{"instock", "in_stock"},         {"limitedavailability", "in_stock"},
               {"onlineonly", "in_stock"},      {"instoreonly", "in_stock"},
               {"outofstock", "out_of_stock"},  {"soldout", "out_of_stock"},
               {"oos", "out_of_stock"},         {"preorder", "preorder"},
               {"presale", "preorder"},         {"backorder", "backorder"},
               {"discontinued", "discontinued"}};
    char key[32];
    size_t k = 0;
    const char *t = strip_schema(s);
    for (; *t && k + 1 < sizeof key; t++)
        if (isalnum((unsigned char)*t))
            key[k++] = (char)tolower((unsigned char)*t);
    key[k] = 0;
    if (!*t)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(key, map[i].key) == 0)
                return xstrdup(map[i].word);
    return clean_text(s, true, true);
}

/* ---- mapping an item to a record ---- */

struct offer {
    bool has_price;
    double price;
    char *currency;
    char *avail;
    char *url;
};

static void take(char **dst, char *s, bool replace)
{
    if (s && (replace || !*dst)) {
        free(*dst);
        *dst = s;
    } else {
        free(s);
    }
}

/* Offers: an Offer, an AggregateOffer (its lowPrice), an array of them (the first with a valid
 * price), a priceSpecification, or an AggregateOffer's own offers one level down. Currency and
 * availability come from the offer that gives the price, else from the first that has them. */
static void scan_offer(struct ctx *c, json_t *o, struct offer *best, int depth)
{
    if (depth > 3)
        return;
    o = deref(c, o);
    if (json_is_array(o)) {
        size_t i;
        json_t *x;
        json_array_foreach(o, i, x)
        {
            if (i >= MAX_LIST)
                break;
            scan_offer(c, x, best, depth + 1);
        }
        return;
    }
    if (!json_is_object(o))
        return;
    double p = 0;
    json_t *cur = get(o, "priceCurrency");
    bool got = false;
    if (!best->has_price) {
        got = price_of(get(o, "lowPrice"), &p) || price_of(get(o, "price"), &p);
        json_t *spec = deref(c, get(o, "priceSpecification"));
        if (json_is_array(spec)) {
            size_t i;
            json_t *x;
            json_array_foreach(spec, i, x)
            {
                if (i >= MAX_LIST)
                    break;
                if (price_of(get(deref(c, x), "price"), &p)) {
                    spec = deref(c, x);
                    break;
                }
            }
        }
        if (!got && price_of(get(spec, "price"), &p)) {
            got = true;
            if (!cur)
                cur = get(spec, "priceCurrency");
        }
    }
    if (got) {
        best->has_price = true;
        best->price = p;
    }
    take(&best->currency, to_text(c, cur, true, 1), got);
    json_t *av = get(o, "availability");
    take(&best->avail, json_is_string(av) ? availability(json_string_value(av)) : NULL, got);
    take(&best->url, url_of(c, get(o, "url"), 1), false);
    if (!best->has_price || !best->avail)
        scan_offer(c, get(o, "offers"), best, depth + 1);
}

static const char *unit_name(const char *code)
{
    static const char *const units[][2] = {
        {"CMT", "cm"}, {"MMT", "mm"}, {"MTR", "m"},  {"DMT", "dm"}, {"INH", "in"},
        {"FOT", "ft"}, {"YRD", "yd"}, {"KGM", "kg"}, {"GRM", "g"},  {"MGM", "mg"},
        {"LBR", "lb"}, {"ONZ", "oz"}, {"TNE", "t"},  {"LTR", "l"},  {"MLT", "ml"}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(code, units[i][0]) == 0)
            return units[i][1];
    return code;
}

/* A dimension: "120 cm" from a QuantitativeValue {value, unitText or unitCode}, or the text as
 * given. */
static char *quantity_text(struct ctx *c, json_t *v, int depth)
{
    if (!v || depth > 2)
        return NULL;
    v = deref(c, v);
    if (json_is_array(v))
        return quantity_text(c, json_array_get(v, 0), depth + 1);
    if (!json_is_object(v))
        return to_text(c, v, true, 1);
    char *num = to_text(c, get(v, "value"), true, 1);
    if (!num)
        return to_text(c, get(v, "name"), true, 1);
    char *unit = to_text(c, get(v, "unitText"), true, 1);
    if (!unit) {
        char *code = to_text(c, get(v, "unitCode"), true, 1);
        unit = code ? xstrdup(unit_name(code)) : NULL;
        free(code);
    }
    if (!unit)
        return num;
    size_t a = strlen(num), b = strlen(unit);
    char *out = xmalloc(a + b + 2);
    memcpy(out, num, a);
    out[a] = ' ';
    memcpy(out + a + 1, unit, b + 1);
    free(num);
    free(unit);
    return out;
}

static bool has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        if (strcmp(json_string_value(x), s) == 0)
            return true;
    }
    return false;
}

/* image: a URL, an ImageObject {url or contentUrl}, or an array of them. */
static void add_images(struct ctx *c, json_t *arr, json_t *v, int depth)
{
    if (!v || depth > 3 || json_array_size(arr) >= MAX_IMAGES)
        return;
    v = deref(c, v);
    if (json_is_string(v)) {
        char *u = html_resolve(c->d, json_string_value(v));
        if (u && !has_string(arr, u))
            json_array_append_new(arr, json_string(u)); /* steals */
        free(u);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i >= MAX_LIST)
                break;
            add_images(c, arr, x, depth + 1);
        }
    } else if (json_is_object(v)) {
        json_t *u = get(v, "url");
        add_images(c, arr, u ? u : get(v, "contentUrl"), depth + 1);
    }
}

/* The record of one Product-like item (JSON-LD, or microdata in the same shape). */
static json_t *map_item(struct ctx *c, json_t *it)
{
    json_t *rec = json_object();
    set_text(rec, "name", to_text(c, get(it, "name"), true, 0));
    set_text(rec, "sku", to_text(c, get(it, "sku"), true, 0));
    static const char *const gtins[] = {"gtin", "gtin13", "gtin14", "gtin12", "gtin8"};
    for (size_t i = 0; i < sizeof gtins / sizeof gtins[0] && !get(rec, "gtin"); i++)
        set_text(rec, "gtin", to_text(c, get(it, gtins[i]), true, 0));
    set_text(rec, "mpn", to_text(c, get(it, "mpn"), true, 0));
    set_text(rec, "brand", to_text(c, get(it, "brand"), true, 0));
    set_text(rec, "material", join_text(c, get(it, "material")));
    set_text(rec, "color", join_text(c, get(it, "color")));

    static const char *const dims[] = {"width", "height", "depth", "length", "weight"};
    json_t *dim = NULL;
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
        char *s = quantity_text(c, get(it, dims[i]), 0);
        if (s && !dim)
            dim = json_object();
        set_text(dim, dims[i], s);
    }
    if (dim)
        json_object_set_new(rec, "dimensions", dim); /* steals dim */

    struct offer best = {0};
    json_t *offers = get(it, "offers");
    if (offers)
        scan_offer(c, offers, &best, 0);
    else if (get(it, "price") || get(it, "lowPrice")) /* price written on the product itself */
        scan_offer(c, it, &best, 0);
    if (best.has_price)
        json_object_set_new(rec, "price", json_real(best.price)); /* steals */
    set_text(rec, "currency", best.currency);
    set_text(rec, "availability", best.avail);

    json_t *images = json_array();
    add_images(c, images, get(it, "image"), 0);
    if (json_array_size(images))
        json_object_set_new(rec, "images", images); /* steals */
    else
        json_decref(images);

    set_text(rec, "category", to_text(c, get(it, "category"), true, 0));
    char *url = url_of(c, get(it, "url"), 0);
    take(&url, best.url, false);
    set_text(rec, "url", url);
    set_text(rec, "description", to_text(c, get(it, "description"), false, 0));
    return rec;
}

/* ---- collecting records ---- */

static void rec_release(struct rec *r)
{
    json_decref(r->obj);
    json_decref(r->raw);
    free(r->sku);
    free(r->url);
}

static char *member_dup(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? xstrdup(s) : NULL;
}

/* Add a record (taking obj) made from item (borrowed); the record, or NULL past MAX_RECORDS. The
 * merge keys are read now, before a group's defaults are filled in. */
static struct rec *push(struct ctx *c, json_t *obj, json_t *item)
{
    if (c->nrecords >= MAX_RECORDS) {
        if (!c->full)
            warn(c, "the page has more than %d products; the rest are left out", MAX_RECORDS);
        c->full = true;
        json_decref(obj);
        return NULL;
    }
    struct recs *rs = c->into;
    if (rs->n == rs->alloc) {
        rs->alloc = rs->alloc ? rs->alloc * 2 : 8;
        rs->v = xrealloc(rs->v, rs->alloc * sizeof *rs->v);
    }
    struct rec *r = &rs->v[rs->n++];
    c->nrecords++;
    r->obj = obj;
    r->raw = json_object();
    json_object_set(r->raw, source_name(c->source), item); /* takes its own reference */
    r->sku = member_dup(obj, "sku");
    r->url = member_dup(obj, "url");
    r->sources = c->source;
    return r;
}

/* A group's members as defaults of a variant's record; never its identifiers. */
static void fill_defaults(json_t *rec, json_t *group)
{
    const char *k;
    json_t *v;
    json_object_foreach(group, k, v)
    {
        if (strcmp(k, "sku") == 0 || strcmp(k, "gtin") == 0 || strcmp(k, "mpn") == 0)
            continue;
        if (!json_object_get(rec, k))
            json_object_set_new(rec, k, json_deep_copy(v)); /* steals the copy */
    }
}

/* A ProductGroup: a record per variant (hasVariant) with the group's members as defaults, or
 * the group itself when it names no variant. */
static void add_group(struct ctx *c, json_t *g)
{
    json_t *grp = map_item(c, g);
    if (!json_object_get(grp, "sku"))
        set_text(grp, "sku", to_text(c, get(g, "productGroupID"), true, 0));
    json_t *vars = deref(c, get(g, "hasVariant"));
    size_t n = 0, count = json_is_array(vars) ? json_array_size(vars) : 1;
    for (size_t i = 0; i < count && !c->full; i++) {
        json_t *v = deref(c, json_is_array(vars) ? json_array_get(vars, i) : vars);
        if (!json_is_object(v))
            continue;
        struct rec *r = push(c, map_item(c, v), v);
        if (r) {
            fill_defaults(r->obj, grp);
            n++;
        }
    }
    if (n == 0 && !c->full)
        push(c, grp, g);
    else
        json_decref(grp);
}

struct crumb {
    double pos;
    size_t ord;
    char *name;
};

/* The first BreadcrumbList of the page with a name in it becomes the default category. */
static void take_breadcrumb(struct ctx *c, json_t *bl)
{
    if (c->crumbs)
        return;
    json_t *items = deref(c, get(bl, "itemListElement"));
    size_t count = json_is_array(items) ? json_array_size(items) : items ? 1 : 0;
    struct crumb cr[MAX_CRUMBS];
    size_t n = 0;
    for (size_t i = 0; i < count && n < MAX_CRUMBS; i++) {
        json_t *li = deref(c, json_is_array(items) ? json_array_get(items, i) : items);
        char *name = to_text(c, get(li, "name"), true, 0);
        json_t *item = deref(c, get(li, "item"));
        if (!name && json_is_object(item)) /* an item that is a bare URL has no name */
            name = to_text(c, get(item, "name"), true, 0);
        if (!name)
            continue;
        double pos = DBL_MAX;
        json_t *p = get(li, "position");
        if (json_is_number(p))
            pos = json_number_value(p);
        else if (!json_is_string(p) || !parse_number(json_string_value(p), true, false, &pos))
            pos = DBL_MAX;
        cr[n++] = (struct crumb){pos, i, name};
    }
    /* by position; entries without one keep their place after those with one */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && (cr[j - 1].pos > cr[j].pos ||
                                     (cr[j - 1].pos == cr[j].pos && cr[j - 1].ord > cr[j].ord));
             j--) {
            struct crumb t = cr[j];
            cr[j] = cr[j - 1];
            cr[j - 1] = t;
        }
    if (!n)
        return;
    c->crumbs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(c->crumbs, json_string(cr[i].name)); /* steals */
        free(cr[i].name);
    }
}

/* Products anywhere in a JSON-LD value (or a microdata item in the same shape): in arrays,
 * @graph, ItemList elements, a WebPage's mainEntity, an Offer's itemOffered. A product's own
 * members are not searched for more products. */
static void walk(struct ctx *c, json_t *v, int depth)
{
    if (c->full)
        return;
    if (depth > MAX_DEPTH) {
        if (!c->deep_warned)
            warn(c, "%s nested deeper than %d levels; the deeper part is left out",
                 source_name(c->source), MAX_DEPTH);
        c->deep_warned = true;
        return;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (c->full)
                break;
            walk(c, x, depth + 1);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    if (has_type(v, group_types)) {
        add_group(c, v);
        return;
    }
    if (has_type(v, product_types)) {
        push(c, map_item(c, v), v);
        return;
    }
    if (has_type(v, breadcrumb_types)) {
        take_breadcrumb(c, v);
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        if (json_is_object(x) || json_is_array(x))
            walk(c, x, depth + 1);
    }
}

/* ---- JSON-LD ---- */

static bool is_ldjson(const char *type)
{
    if (!type)
        return false;
    while (is_ws((unsigned char)*type))
        type++;
    size_t n = strcspn(type, ";");
    while (n > 0 && is_ws((unsigned char)type[n - 1]))
        n--;
    return n == 19 && strncasecmp(type, "application/ld+json", 19) == 0;
}

/* Remove what pages wrap JSON-LD in: <!-- -->, <![CDATA[ ]]> (also behind // or in slash-star
 * comments), and a trailing semicolon. Works in place on s; returns the start, *len the length. */
static char *unwrap(char *s, size_t *len)
{
    static const char *const heads[] = {"<!--", "//<![CDATA[", "/*<![CDATA[*/", "<![CDATA["};
    static const char *const tails[] = {"-->", "//]]>", "/*]]>*/", "]]>", ";"};
    size_t n = *len;
    for (bool changed = true; changed;) {
        changed = false;
        while (n > 0 && is_ws((unsigned char)*s))
            s++, n--;
        while (n > 0 && is_ws((unsigned char)s[n - 1]))
            n--;
        for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
            size_t h = strlen(heads[i]);
            if (n >= h && strncmp(s, heads[i], h) == 0) {
                s += h, n -= h, changed = true;
                break;
            }
        }
        for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
            size_t t = strlen(tails[i]);
            if (n >= t && strncmp(s + n - t, tails[i], t) == 0) {
                n -= t, changed = true;
                break;
            }
        }
    }
    *len = n;
    return s;
}

/* Raw control characters inside strings (line breaks in descriptions are common) made spaces,
 * in place: JSON forbids them, browsers and search engines accept them. Whether any was found. */
static bool blank_controls(char *s, size_t n)
{
    bool in = false, esc = false, found = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (in && ch < 0x20) {
            s[i] = ' ';
            found = true;
            esc = false;
        } else if (esc) {
            esc = false;
        } else if (in && ch == '\\') {
            esc = true;
        } else if (ch == '"') {
            in = !in;
        }
    }
    return found;
}

/* The parsed JSON-LD blocks of the page, in document order, into blocks. */
static void jsonld_blocks(struct ctx *c, json_t *blocks)
{
    xmlNodePtr root = (xmlNodePtr)c->d->doc;
    size_t index = 0, total = 0;
    for (xmlNodePtr n = root->children; n; n = html_next(n, root, true)) {
        if (!html_is(n, "script"))
            continue;
        char *type = html_attr(n, "type");
        bool ld = is_ldjson(type);
        free(type);
        if (!ld)
            continue;
        index++;
        xmlChar *raw = xmlNodeGetContent(n);
        size_t len = raw ? strlen((const char *)raw) : 0;
        if (len > MAX_BLOCK_BYTES || total + len > MAX_LD_BYTES) {
            warn(c, "json-ld block %zu is %zu bytes; at most %u per block and %u per page are read",
                 index, len, MAX_BLOCK_BYTES, MAX_LD_BYTES);
            xmlFree(raw);
            continue;
        }
        total += len;
        char *s = raw ? unwrap((char *)raw, &len) : NULL;
        if (!s || !len) {
            xmlFree(raw);
            continue;
        }
        json_error_t je;
        json_t *v = json_loadb(s, len, JSON_DECODE_ANY, &je);
        if (!v && blank_controls(s, len))
            v = json_loadb(s, len, JSON_DECODE_ANY, NULL);
        if (v)
            json_array_append_new(blocks, v); /* steals v */
        else
            warn(c, "json-ld block %zu is not valid json (%s, line %d, column %d); left out", index,
                 je.text, je.line, je.column);
        xmlFree(raw);
    }
}

static void index_ids(struct ctx *c, json_t *v, int depth)
{
    if (depth > MAX_DEPTH || json_object_size(c->ids) >= MAX_IDS)
        return;
    size_t i;
    json_t *x;
    if (json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            index_ids(c, x, depth + 1);
        }
        return;
    }
    if (!json_is_object(v))
        return;
    json_t *id = json_object_get(v, "@id");
    if (json_is_string(id) && json_object_size(v) > 1 &&
        !json_object_get(c->ids, json_string_value(id)))
        json_object_set(c->ids, json_string_value(id), v); /* the index takes a reference */
    const char *k;
    json_object_foreach(v, k, x)
    {
        index_ids(c, x, depth + 1);
    }
}

/* ---- microdata ---- */

static bool has_attr(xmlNodePtr n, const char *name)
{
    char *v = html_attr(n, name);
    free(v);
    return v != NULL;
}

/* A property's value by the microdata spec, with a content attribute first on any element (as
 * search engines read it). URLs are made absolute; one that cannot be is kept as written. */
static json_t *md_value(struct ctx *c, xmlNodePtr n)
{
    static const char *const src[] = {"audio",  "embed", "iframe", "img",
                                      "source", "track", "video"};
    static const char *const href[] = {"a", "area", "link"};
    char *v = html_attr(n, "content");
    const char *url_attr = NULL;
    for (size_t i = 0; !v && !url_attr && i < sizeof src / sizeof src[0]; i++)
        if (html_is(n, src[i]))
            url_attr = "src";
    for (size_t i = 0; !v && !url_attr && i < sizeof href / sizeof href[0]; i++)
        if (html_is(n, href[i]))
            url_attr = "href";
    if (!v && !url_attr && html_is(n, "object"))
        url_attr = "data";
    if (url_attr) {
        v = html_attr(n, url_attr);
        char *abs = html_resolve(c->d, v);
        if (abs) {
            free(v);
            v = abs;
        }
    }
    if (!v && (html_is(n, "data") || html_is(n, "meter")))
        v = html_attr(n, "value");
    if (!v && html_is(n, "time"))
        v = html_attr(n, "datetime");
    if (!v)
        v = html_node_text(n);
    char *t = clean_text(v, false, false); /* the parser has decoded the page's references */
    free(v);
    json_t *j = json_string(t ? t : "");
    free(t);
    return j;
}

/* A property added to an item: a second value makes the member an array (microdata values are
 * never arrays themselves, so an array means repeated). Takes a reference to val. */
static void add_prop(json_t *o, const char *name, json_t *val)
{
    json_t *have = json_object_get(o, name);
    if (!have)
        json_object_set(o, name, val);
    else if (json_is_array(have))
        json_array_append(have, val);
    else {
        json_t *arr = json_array();
        json_array_append(arr, have);
        json_array_append(arr, val);
        json_object_set_new(o, name, arr); /* steals arr */
    }
}

struct nodeq {
    xmlNodePtr *v;
    size_t head, n, alloc;
};

static void nodeq_push(struct nodeq *q, xmlNodePtr n)
{
    if (q->n == q->alloc) {
        q->alloc = q->alloc ? q->alloc * 2 : 16;
        q->v = xrealloc(q->v, q->alloc * sizeof *q->v);
    }
    q->v[q->n++] = n;
}

/* An item as a JSON-LD-like object: "@type" (the itemtype, an array when it names several),
 * "@id" (itemid) and each property, nested items as objects. Elements inside the item that are
 * items of their own (itemscope without itemprop) go to roots. Every element of the page is
 * looked at by one item at most. */
static json_t *md_item(struct ctx *c, xmlNodePtr item, int depth, struct nodeq *roots)
{
    c->nitems++;
    json_t *o = json_object();
    char *type = html_attr(item, "itemtype");
    if (type) {
        json_t *types = json_array();
        for (char *save = NULL, *t = strtok_r(type, " \t\n\r\f", &save); t;
             t = strtok_r(NULL, " \t\n\r\f", &save))
            json_array_append_new(types, json_string(t)); /* steals */
        if (json_array_size(types) == 1)
            json_object_set(o, "@type", json_array_get(types, 0));
        else if (json_array_size(types) > 1)
            json_object_set(o, "@type", types);
        json_decref(types);
        free(type);
    }
    set_text(o, "@id", html_attr(item, "itemid"));
    xmlNodePtr n = item->children;
    while (n) {
        bool descend = true;
        if (n->type == XML_ELEMENT_NODE) {
            char *prop = html_attr(n, "itemprop");
            bool scope = has_attr(n, "itemscope");
            if (prop) {
                json_t *val = NULL;
                if (!scope)
                    val = md_value(c, n);
                else if (depth < MAX_DEPTH && c->nitems < MAX_ITEMS)
                    val = md_item(c, n, depth + 1, roots);
                else if (depth >= MAX_DEPTH && !c->deep_warned) {
                    warn(c, "microdata nested deeper than %d levels; the deeper part is left out",
                         MAX_DEPTH);
                    c->deep_warned = true;
                } else if (depth < MAX_DEPTH && !c->items_warned) {
                    warn(c, "the page has more than %d microdata items; the rest are left out",
                         MAX_ITEMS);
                    c->items_warned = true;
                }
                for (char *save = NULL, *t = strtok_r(prop, " \t\n\r\f", &save); t && val;
                     t = strtok_r(NULL, " \t\n\r\f", &save))
                    if (*strip_schema(t))
                        add_prop(o, strip_schema(t), val);
                json_decref(val);
                free(prop);
            } else if (scope) {
                nodeq_push(roots, n);
            }
            descend = !scope;
        }
        n = html_next(n, item, descend);
    }
    return o;
}

static void microdata(struct ctx *c)
{
    struct nodeq roots = {0};
    xmlNodePtr root = (xmlNodePtr)c->d->doc;
    xmlNodePtr n = root->children;
    while (n && !c->full) {
        bool descend = true;
        if (n->type == XML_ELEMENT_NODE && has_attr(n, "itemscope")) {
            /* an item outside any item, and the items found inside it, in document order */
            roots.head = roots.n = 0;
            nodeq_push(&roots, n);
            while (roots.head < roots.n && !c->full) {
                if (c->nitems >= MAX_ITEMS) {
                    if (!c->items_warned)
                        warn(c, "the page has more than %d microdata items; the rest are left out",
                             MAX_ITEMS);
                    c->items_warned = true;
                    break;
                }
                json_t *item = md_item(c, roots.v[roots.head++], 0, &roots);
                walk(c, item, 0);
                json_decref(item); /* records keep their own references */
            }
            descend = false;
        }
        n = html_next(n, root, descend);
    }
    free(roots.v);
}

/* ---- OpenGraph ---- */

static char *og_text(json_t *props, const char *a, const char *b)
{
    json_t *v = json_object_get(props, a);
    if (!v && b)
        v = json_object_get(props, b);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    return json_is_string(v) ? clean_text(json_string_value(v), true, false) : NULL;
}

static void opengraph(struct ctx *c)
{
    json_t *props = json_object();
    xmlNodePtr root = (xmlNodePtr)c->d->doc;
    for (xmlNodePtr n = root->children; n; n = html_next(n, root, true)) {
        if (!html_is(n, "meta"))
            continue;
        char *p = html_attr(n, "property");
        if (!p)
            p = html_attr(n, "name");
        char *content = p ? html_attr(n, "content") : NULL;
        if (content && (strncasecmp(p, "og:", 3) == 0 || strncasecmp(p, "product:", 8) == 0)) {
            for (char *q = p; *q; q++)
                *q = (char)tolower((unsigned char)*q);
            json_t *v = json_string(content);
            if (v)
                add_prop(props, p, v);
            json_decref(v);
        }
        free(p);
        free(content);
    }
    char *type = og_text(props, "og:type", NULL);
    bool product = type && strncasecmp(type, "product", 7) == 0;
    free(type);
    const char *k;
    json_t *v;
    json_object_foreach(props, k, v)
    {
        product = product || strncmp(k, "product:", 8) == 0;
    }
    if (!product) {
        json_decref(props);
        return;
    }
    json_t *rec = json_object();
    set_text(rec, "name", og_text(props, "og:title", NULL));
    set_text(rec, "sku", og_text(props, "product:retailer_item_id", NULL));
    set_text(rec, "brand", og_text(props, "product:brand", "og:brand"));
    set_text(rec, "material", og_text(props, "product:material", NULL));
    set_text(rec, "color", og_text(props, "product:color", NULL));
    set_text(rec, "category", og_text(props, "product:category", NULL));
    set_text(rec, "gtin", og_text(props, "product:gtin", NULL));
    set_text(rec, "mpn", og_text(props, "product:mfr_part_no", NULL));
    char *price = og_text(props, "product:price:amount", "og:price:amount");
    double x;
    if (price && parse_number(price, true, false, &x))
        json_object_set_new(rec, "price", json_real(x)); /* steals */
    free(price);
    set_text(rec, "currency", og_text(props, "product:price:currency", "og:price:currency"));
    char *av = og_text(props, "product:availability", "og:availability");
    set_text(rec, "availability", av ? availability(av) : NULL);
    free(av);
    json_t *images = json_array();
    add_images(c, images, get(props, "og:image"), 0);
    add_images(c, images, get(props, "og:image:url"), 0);
    if (!json_array_size(images))
        add_images(c, images, get(props, "og:image:secure_url"), 0);
    if (json_array_size(images))
        json_object_set_new(rec, "images", images); /* steals */
    else
        json_decref(images);
    char *url = og_text(props, "og:url", NULL);
    set_text(rec, "url", html_resolve(c->d, url));
    free(url);
    set_text(rec, "description", og_text(props, "og:description", NULL));
    push(c, rec, props);
    json_decref(props);
}

/* ---- merging ---- */

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Two records are one product when their skus are equal, or, when one has no sku, their urls. */
static bool match(const struct rec *a, const struct rec *b)
{
    if (a->sku && b->sku)
        return strcmp(a->sku, b->sku) == 0;
    return same(a->url, b->url);
}

static bool conflict(const struct rec *a, const struct rec *b)
{
    return (a->sku && b->sku && strcmp(a->sku, b->sku) != 0) ||
           (a->url && b->url && strcmp(a->url, b->url) != 0);
}

/* Fill the gaps of x from r (r is emptied, not freed). */
static void merge(struct rec *x, struct rec *r)
{
    const char *k;
    json_t *v;
    json_object_foreach(r->obj, k, v)
    {
        json_t *have = json_object_get(x->obj, k);
        if (!have) {
            json_object_set(x->obj, k, v);
        } else if (json_is_object(have) && json_is_object(v)) {
            /* a copy, for the object may be shared with another record */
            json_t *dim = json_deep_copy(have);
            json_object_update_missing(dim, v);
            json_object_set_new(x->obj, k, dim); /* steals dim */
        }
    }
    json_object_update_missing(x->raw, r->raw);
    x->sources |= r->sources;
    if (!x->sku)
        x->sku = r->sku, r->sku = NULL;
    if (!x->url)
        x->url = r->url, r->url = NULL;
}

static struct rec *find_match(struct recs *out, const struct rec *r)
{
    for (size_t i = 0; i < out->n; i++)
        if (match(&out->v[i], r))
            return &out->v[i];
    return NULL;
}

static void add_merged(struct recs *out, struct rec *r)
{
    if (out->n == out->alloc) {
        out->alloc = out->alloc ? out->alloc * 2 : 8;
        out->v = xrealloc(out->v, out->alloc * sizeof *out->v);
    }
    out->v[out->n++] = *r;
    *r = (struct rec){0};
}

/* JSON-LD records, then microdata, then OpenGraph. A microdata record that matches nothing by
 * sku or url is still the page's one JSON-LD product when each source has one product and their
 * keys do not disagree. OpenGraph describes the page: it joins the record it matches, else the
 * page's only record, and is left out when the page has several other products. */
static void merge_all(struct recs *out, struct recs *ld, struct recs *md, struct recs *og)
{
    for (size_t i = 0; i < ld->n; i++) {
        struct rec *x = find_match(out, &ld->v[i]);
        if (x)
            merge(x, &ld->v[i]);
        else
            add_merged(out, &ld->v[i]);
    }
    size_t nld = out->n;
    for (size_t i = 0; i < md->n; i++) {
        struct rec *x = find_match(out, &md->v[i]);
        if (!x && nld == 1 && md->n == 1 && !conflict(&out->v[0], &md->v[i]))
            x = &out->v[0];
        if (x)
            merge(x, &md->v[i]);
        else
            add_merged(out, &md->v[i]);
    }
    for (size_t i = 0; i < og->n; i++) {
        struct rec *x = find_match(out, &og->v[i]);
        if (!x && out->n == 1)
            x = &out->v[0];
        if (x)
            merge(x, &og->v[i]);
        else if (out->n == 0)
            add_merged(out, &og->v[i]);
    }
}

/* The breadcrumb as a category: "A > B > C", without a last entry that is the product itself. */
static char *crumbs_for(json_t *crumbs, const char *name)
{
    size_t n = json_array_size(crumbs);
    if (n > 1 && name && strcasecmp(json_string_value(json_array_get(crumbs, n - 1)), name) == 0)
        n--;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(json_string_value(json_array_get(crumbs, i))) + 3;
    if (!n)
        return NULL;
    char *out = xmalloc(len + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_get(crumbs, i));
        if (i)
            memcpy(o, " > ", 3), o += 3;
        size_t l = strlen(s);
        memcpy(o, s, l);
        o += l;
    }
    *o = 0;
    return out;
}

/* The record as returned: members in a fixed order, the page's defaults, sources and raw. */
static json_t *finish(struct ctx *c, struct rec *r)
{
    static const char *const order[] = {"name",     "sku",      "gtin",         "mpn",
                                        "brand",    "material", "color",        "dimensions",
                                        "price",    "currency", "availability", "images",
                                        "category", "url",      "description"};
    json_t *o = json_object();
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        json_t *v = json_object_get(r->obj, order[i]);
        if (v)
            json_object_set(o, order[i], v);
        else if (strcmp(order[i], "category") == 0 && c->crumbs)
            set_text(o, "category",
                     crumbs_for(c->crumbs, json_string_value(json_object_get(r->obj, "name"))));
        else if (strcmp(order[i], "url") == 0)
            json_object_set_new(o, "url", json_string(c->d->url)); /* steals */
    }
    json_t *sources = json_array();
    for (unsigned s = SRC_JSONLD; s <= SRC_OG; s <<= 1)
        if (r->sources & s)
            json_array_append_new(sources, json_string(source_name(s))); /* steals */
    json_object_set_new(o, "sources", sources);                          /* steals */
    json_object_set(o, "raw", r->raw);
    return o;
}

static void recs_release(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        rec_release(&rs->v[i]);
    free(rs->v);
}

int product_extract(const struct html_doc *d, json_t **records, json_t **warnings, struct err *e)
{
    if (records)
        *records = NULL;
    if (warnings)
        *warnings = NULL;
    if (!d || !d->doc || !records)
        return err_set(e, TRAWL_EINVAL, false, "no page given to read products from");
    struct recs ld = {0}, md = {0}, og = {0}, out = {0};
    struct ctx c = {.d = d, .warnings = json_array(), .ids = json_object()};

    json_t *blocks = json_array();
    jsonld_blocks(&c, blocks);
    index_ids(&c, blocks, 0);
    c.into = &ld;
    c.source = SRC_JSONLD;
    walk(&c, blocks, 0);

    c.into = &md;
    c.source = SRC_MICRODATA;
    c.deep_warned = false;
    microdata(&c);

    c.into = &og;
    c.source = SRC_OG;
    if (!c.full)
        opengraph(&c);

    merge_all(&out, &ld, &md, &og);
    json_t *arr = json_array();
    for (size_t i = 0; i < out.n; i++)
        json_array_append_new(arr, finish(&c, &out.v[i])); /* steals */

    recs_release(&ld);
    recs_release(&md);
    recs_release(&og);
    recs_release(&out);
    json_decref(c.crumbs);
    json_decref(c.ids);
    json_decref(blocks);
    *records = arr;
    if (warnings)
        *warnings = c.warnings;
    else
        json_decref(c.warnings);
    return 0;
}

/* ---- rules ---- */

enum rule_type { RULE_STRING, RULE_NUMBER, RULE_URL };

struct rule {
    const char *sel;
    bool css;
    bool all;
    enum rule_type type;
};

/* A field name fit for a message: at most 64 bytes, cut at a character boundary, without
 * control characters. */
static void shown(const char *s, char out[72])
{
    size_t n = 0;
    while (s[n] && n < 64)
        n++;
    if (s[n]) /* cut before a character that did not fit whole */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    out[n] = 0;
    if (s[n])
        memcpy(out + n, "...", 4);
}

static int rule_parse(const char *field, json_t *spec, struct rule *r, struct err *e)
{
    char f[72];
    shown(field, f);
    if (!*field)
        return err_set(e, TRAWL_EINVAL, false, "a rule has an empty field name");
    if (strcmp(field, "sources") == 0)
        return err_set(e, TRAWL_EINVAL, false, "rule 'sources': the field name is reserved");
    if (!json_is_object(spec))
        return err_set(e, TRAWL_EINVAL, false,
                       "rule '%s' must be an object with \"xpath\" or \"css\"", f);
    *r = (struct rule){0};
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v)
    {
        if (strcmp(k, "xpath") == 0 || strcmp(k, "css") == 0) {
            if (r->sel)
                return err_set(e, TRAWL_EINVAL, false,
                               "rule '%s' has both \"xpath\" and \"css\"; give one", f);
            if (!json_is_string(v) || !json_string_length(v))
                return err_set(e, TRAWL_EINVAL, false,
                               "rule '%s': \"%s\" must be a non-empty string", f, k);
            r->sel = json_string_value(v);
            r->css = k[0] == 'c';
        } else if (strcmp(k, "type") == 0) {
            const char *t = json_string_value(v);
            if (t && strcmp(t, "string") == 0)
                r->type = RULE_STRING;
            else if (t && strcmp(t, "number") == 0)
                r->type = RULE_NUMBER;
            else if (t && strcmp(t, "url") == 0)
                r->type = RULE_URL;
            else
                return err_set(e, TRAWL_EINVAL, false,
                               "rule '%s': \"type\" must be \"string\", \"number\" or \"url\"", f);
        } else if (strcmp(k, "all") == 0) {
            if (!json_is_boolean(v))
                return err_set(e, TRAWL_EINVAL, false, "rule '%s': \"all\" must be true or false",
                               f);
            r->all = json_is_true(v);
        } else {
            char kk[72];
            shown(k, kk);
            return err_set(e, TRAWL_EINVAL, false,
                           "rule '%s': unknown member '%s' (expected xpath, css, type, all)", f,
                           kk);
        }
    }
    if (!r->sel)
        return err_set(e, TRAWL_EINVAL, false, "rule '%s' needs \"xpath\" or \"css\"", f);
    return 0;
}

/* Run the rule's selector on d; a selector that cannot be parsed names the field. */
static int rule_select(const struct html_doc *d, const char *field, const struct rule *r,
                       json_t **vals, struct err *e)
{
    struct err e2 = {0};
    int rc = html_select(d, r->sel, r->css, vals, &e2);
    if (rc == 0)
        return 0;
    char f[72];
    shown(field, f);
    return err_set(e, rc, false, "rule '%s': %s", f, e2.msg[0] ? e2.msg : err_str(rc));
}

static int rules_shape(const json_t *rules, struct err *e)
{
    if (!json_is_object(rules))
        return err_set(e, TRAWL_EINVAL, false, "rules must be a json object of fields");
    if (!json_object_size(rules))
        return err_set(e, TRAWL_EINVAL, false, "rules name no fields");
    const char *k;
    json_t *v;
    struct rule r;
    json_object_foreach((json_t *)rules, k, v)
    {
        int rc = rule_parse(k, v, &r, e);
        if (rc)
            return rc;
    }
    return 0;
}

/* One selected value in the rule's type, or NULL when it has none. */
static json_t *rule_value(const struct html_doc *d, const struct rule *r, const char *s)
{
    json_t *v = NULL;
    if (r->type == RULE_NUMBER) {
        double x;
        if (parse_number(s, false, true, &x))
            v = json_real(x);
    } else if (r->type == RULE_URL) {
        char *u = html_resolve(d, s);
        v = u ? json_string(u) : NULL;
        free(u);
    } else {
        char *t = clean_text(s, true, false);
        v = t ? json_string(t) : NULL;
        free(t);
    }
    return v;
}

int product_rules_check(const json_t *rules, struct err *e)
{
    int rc = rules_shape(rules, e);
    if (rc)
        return rc;
    /* selectors are checked as product_from_rules would run them: on an empty page */
    struct html_doc *d = NULL;
    rc = html_parse("<html></html>", 13, "http://localhost/", NULL, &d, e);
    if (rc)
        return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rules, k, v)
    {
        struct rule r;
        json_t *vals = NULL;
        rule_parse(k, v, &r, NULL);
        rc = rule_select(d, k, &r, &vals, e);
        json_decref(vals);
        if (rc)
            break;
    }
    html_free(d);
    return rc;
}

int product_from_rules(const struct html_doc *d, const json_t *rules, json_t **record,
                       struct err *e)
{
    *record = NULL;
    if (!d || !d->doc)
        return err_set(e, TRAWL_EINVAL, false, "no page given to apply rules to");
    int rc = rules_shape(rules, e);
    if (rc)
        return rc;
    json_t *rec = json_object();
    const char *k;
    json_t *spec;
    json_object_foreach((json_t *)rules, k, spec)
    {
        struct rule r;
        json_t *vals = NULL;
        rule_parse(k, spec, &r, NULL);
        rc = rule_select(d, k, &r, &vals, e);
        if (rc)
            goto out;
        json_t *all = r.all ? json_array() : NULL, *one = NULL;
        size_t i;
        json_t *s;
        json_array_foreach(vals, i, s)
        {
            json_t *v = json_is_string(s) ? rule_value(d, &r, json_string_value(s)) : NULL;
            if (!v)
                continue;
            if (!all) {
                one = v;
                break;
            }
            json_array_append_new(all, v); /* steals v */
            if (json_array_size(all) >= MAX_RULE_VALUES)
                break;
        }
        json_decref(vals);
        if (all && json_array_size(all))
            one = all;
        else
            json_decref(all);
        if (one)
            json_object_set_new(rec, k, one); /* steals one */
    }
    if (!json_object_get(rec, "url"))
        json_object_set_new(rec, "url", json_string(d->url)); /* steals */
    json_t *sources = json_array();
    json_array_append_new(sources, json_string("rules")); /* steals */
    json_object_set_new(rec, "sources", sources);         /* steals */
out:
    if (rc)
        json_decref(rec);
    else
        *record = rec;
    return rc;
}
