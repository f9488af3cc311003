/* Mapping feed records onto the product record: the mapping is compiled into a table of target
 * and sources, and each record's fields are looked up in it once, so a record costs one pass over
 * its fields whatever the mapping's size; the product is written as JSON text directly. */
#include "parse/feed_map.h"

#include "base/xalloc.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_NAME, T_SKU, T_GTIN, T_PRICE = 7, T_CURRENCY = 8, T_IMAGES = 10, T_URL = 12 };

struct feed_map {
    /* per target (feed_targets' order): its sources, NULL past the last */
    char *src[16][FEED_MAP_SOURCES];
    char currency[4]; /* of prices written without one */
};

void feed_map_free(struct feed_map *m)
{
    if (!m)
        return;
    for (size_t t = 0; t < feed_ntargets; t++)
        for (int i = 0; i < FEED_MAP_SOURCES; i++)
            free(m->src[t][i]);
    free(m);
}

static int target_of(const char *name)
{
    for (size_t t = 0; t < feed_ntargets; t++)
        if (strcmp(feed_targets[t], name) == 0)
            return (int)t;
    return -1;
}

int feed_map_parse(const char *json, struct feed_map **out, struct err *e)
{
    *out = NULL;
    json_error_t je;
    json_t *o = json_loads(json ? json : "", JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_set(e, TRAWL_EINVAL, false,
                       o ? "field_mappings must be an object of target: field"
                         : "field_mappings is not JSON: %s",
                       je.text);
    }
    struct feed_map *m = xcalloc(1, sizeof *m);
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        int t = target_of(k);
        if (t < 0) {
            err_set(e, TRAWL_EINVAL, false,
                    "field_mappings: \"%.60s\" is not a field of the product record (name, sku, "
                    "gtin, brand, material, color, dimensions, price, currency, availability, "
                    "images, category, url, description)",
                    k);
            goto bad;
        }
        if (json_is_null(v))
            continue; /* a target left unmapped on purpose */
        size_t n = json_is_array(v) ? json_array_size(v) : 1;
        if (!json_is_array(v) && !json_is_string(v)) {
            err_set(e, TRAWL_EINVAL, false,
                    "field_mappings.%s must be a field name or an array of field names", k);
            goto bad;
        }
        if (n > FEED_MAP_SOURCES) {
            err_set(e, TRAWL_EINVAL, false, "field_mappings.%s names %zu fields; at most %d", k, n,
                    FEED_MAP_SOURCES);
            goto bad;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *s = json_is_array(v) ? json_array_get(v, i) : v;
            const char *name = json_string_value(s);
            if (!name || !name[0] || strlen(name) > 512) {
                err_set(e, TRAWL_EINVAL, false,
                        "field_mappings.%s: a field name must be a string of 1 to 512 bytes", k);
                goto bad;
            }
            m->src[t][i] = xstrdup(name);
        }
    }
    json_decref(o);
    *out = m;
    return 0;
bad:
    json_decref(o);
    feed_map_free(m);
    return e->code;
}

void feed_map_set_currency(struct feed_map *m, const char *code)
{
    snprintf(m->currency, sizeof m->currency, "%s", code && strlen(code) == 3 ? code : "");
}

int feed_map_usable(const struct feed_map *m)
{
    return m->src[T_NAME][0] || m->src[T_SKU][0];
}

char *feed_map_suggested(const struct feed_mapping *m, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        if (!m[i].sources[0])
            continue;
        if (!m[i].sources[1]) {
            json_object_set_new(o, m[i].target, json_string(m[i].sources[0]));
            continue;
        }
        json_t *a = json_array();
        for (int k = 0; k < FEED_MAP_SOURCES && m[i].sources[k]; k++)
            json_array_append_new(a, json_string(m[i].sources[k]));
        json_object_set_new(o, m[i].target, a);
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* ---- applying ---- */

struct val {
    const char *s;
    size_t n;
};

#define IMAGES_MAX 32

struct picked {
    struct val v[16];
    int rank[16]; /* of the source that gave v: lower is better; FEED_MAP_SOURCES: none */
    struct val images[IMAGES_MAX];
    size_t nimages;
};

static void trim(const char **s, size_t *n)
{
    while (*n && ((unsigned char)**s <= ' '))
        (*s)++, (*n)--;
    while (*n && ((unsigned char)(*s)[*n - 1] <= ' '))
        (*n)--;
}

static void pick(const struct feed_map *m, const struct feed_record *r, struct picked *p)
{
    for (size_t t = 0; t < feed_ntargets; t++)
        p->rank[t] = FEED_MAP_SOURCES;
    p->nimages = 0;
    for (size_t f = 0; f < r->nfields; f++) {
        const char *s = r->fields[f].value;
        size_t n = r->fields[f].len;
        trim(&s, &n);
        if (!n)
            continue;
        const char *name = r->fields[f].name;
        for (size_t t = 0; t < feed_ntargets; t++)
            for (int k = 0; k < FEED_MAP_SOURCES && m->src[t][k]; k++) {
                if (strcmp(m->src[t][k], name) != 0)
                    continue;
                if (t == T_IMAGES) {
                    if (p->nimages < IMAGES_MAX)
                        p->images[p->nimages++] = (struct val){s, n};
                } else if (k < p->rank[t]) {
                    p->rank[t] = k;
                    p->v[t] = (struct val){s, n};
                }
                break;
            }
    }
}

static void quote_why(char *why, const char *what, const struct val *v, const char *tail)
{
    size_t n = v->n > 80 ? 80 : v->n;
    /* cut before a character, not inside one: the why is kept and shown as text */
    while (n < v->n && n && ((unsigned char)v->s[n] & 0xc0) == 0x80)
        n--;
    snprintf(why, FEED_MAP_WHY_MAX, "%s \"%.*s%s\" %s", what, (int)n, v->s, n < v->n ? "..." : "",
             tail);
}

int feed_map_apply(const struct feed_map *m, const struct feed_record *r, struct buf *out,
                   char why[FEED_MAP_WHY_MAX])
{
    struct picked p;
    pick(m, r, &p);
    why[0] = 0;
    if (p.rank[T_NAME] == FEED_MAP_SOURCES && p.rank[T_SKU] == FEED_MAP_SOURCES) {
        snprintf(why, FEED_MAP_WHY_MAX,
                 "no name or sku: the fields mapped to them (%s%s%s) are "
                 "empty or absent",
                 m->src[T_NAME][0] ? m->src[T_NAME][0] : "",
                 m->src[T_NAME][0] && m->src[T_SKU][0] ? ", " : "",
                 m->src[T_SKU][0] ? m->src[T_SKU][0] : "");
        return 1;
    }
    double price = 0;
    char code[4] = "";
    bool has_price = p.rank[T_PRICE] != FEED_MAP_SOURCES;
    if (has_price && !feed_price_parse(p.v[T_PRICE].s, p.v[T_PRICE].n, &price, code)) {
        quote_why(why, "price", &p.v[T_PRICE], "is not a number");
        return 1;
    }
    if (p.rank[T_GTIN] != FEED_MAP_SOURCES && !feed_gtin_valid(p.v[T_GTIN].s, p.v[T_GTIN].n)) {
        quote_why(why, "gtin", &p.v[T_GTIN], "is not a GTIN (8, 12, 13 or 14 digits, check digit)");
        return 1;
    }
    if (p.rank[T_URL] != FEED_MAP_SOURCES && !feed_is_http_url(p.v[T_URL].s, p.v[T_URL].n)) {
        quote_why(why, "url", &p.v[T_URL], "is not an http(s) URL");
        return 1;
    }
    for (size_t i = 0; i < p.nimages; i++)
        if (!feed_is_http_url(p.images[i].s, p.images[i].n)) {
            quote_why(why, "image", &p.images[i], "is not an http(s) URL");
            return 1;
        }
    size_t len0 = out->len;
    int rc = buf_add(out, "{", 1);
    bool first = true;
    for (size_t t = 0; t < feed_ntargets && !rc; t++) {
        if (t == T_IMAGES || t == T_PRICE || t == T_CURRENCY)
            continue;
        if (p.rank[t] == FEED_MAP_SOURCES)
            continue;
        rc = buf_addf(out, "%s\"%s\":", first ? "" : ",", feed_targets[t]);
        if (!rc)
            rc = buf_add_json_str(out, p.v[t].s, p.v[t].n);
        first = false;
    }
    if (has_price && !rc) {
        rc = buf_addf(out, "%s\"price\":%.15g", first ? "" : ",", price);
        first = false;
    }
    struct val cur = {NULL, 0};
    char code2[4] = "";
    double ignored;
    if (p.rank[T_CURRENCY] != FEED_MAP_SOURCES && p.v[T_CURRENCY].n <= 3)
        cur = p.v[T_CURRENCY];
    else if (p.rank[T_CURRENCY] != FEED_MAP_SOURCES &&
             feed_price_parse(p.v[T_CURRENCY].s, p.v[T_CURRENCY].n, &ignored, code2) && code2[0])
        cur = (struct val){code2, strlen(code2)}; /* a price's field, which names its currency */
    else if (code[0])
        cur = (struct val){code, strlen(code)};
    else if (has_price && m->currency[0])
        cur = (struct val){m->currency, strlen(m->currency)};
    if (cur.s && !rc) {
        rc = buf_addf(out, "%s\"currency\":", first ? "" : ",");
        if (!rc)
            rc = buf_add_json_str(out, cur.s, cur.n);
        first = false;
    }
    if (p.nimages && !rc) {
        rc = buf_addf(out, "%s\"images\":[", first ? "" : ",");
        for (size_t i = 0; i < p.nimages && !rc; i++) {
            if (i)
                rc = buf_add(out, ",", 1);
            if (!rc)
                rc = buf_add_json_str(out, p.images[i].s, p.images[i].n);
        }
        if (!rc)
            rc = buf_add(out, "]", 1);
    }
    if (!rc)
        rc = buf_add(out, "}", 1);
    if (rc) {
        out->len = len0;
        out->data[len0] = 0;
        return rc;
    }
    return 0;
}
