/* One parsed page of a scraping session into what the session keeps of it: its records (from
 * structured data and the session's rules, in its categories) and the formats it asks for. The
 * ingest stage does this as pages arrive; the extract stage again from the stored bodies. */
#include "handlers/scrape_int.h"

#include "base/xalloc.h"
#include "base/zstd.h"
#include "parse/product.h"
#include "parse/tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool category_wanted(const struct cfg *c, json_t *rec)
{
    if (c->ncats == 0)
        return true;
    const char *cat = json_string_value(json_object_get(rec, "category"));
    for (int i = 0; cat && i < c->ncats; i++)
        if (strcasestr(cat, c->cats[i]))
            return true;
    return false;
}

/* Records of a parsed page; *warnings gets what was wrong with its structured data (a JSON
 * array, possibly empty). */
/* The records of d: its structured data (JSON-LD, microdata, OpenGraph, merged per product) and
 * what the session's rules select, in the session's categories; warnings for what was broken. */
static size_t page_records(const struct cfg *c, const struct html_doc *d, json_t **recs_out,
                           json_t **warnings)
{
    json_t *recs = json_array();
    *warnings = NULL;
    if (c->structured) {
        json_t *found = NULL;
        struct err e;
        if (product_extract(d, &found, warnings, &e) == 0) {
            size_t i;
            json_t *rec;
            json_array_foreach(found, i, rec)
            {
                if (category_wanted(c, rec))
                    json_array_append(recs, rec);
            }
        }
        json_decref(found);
    }
    if (c->rules) {
        json_t *rec = NULL;
        struct err e;
        /* a rule record counts when it found something beyond its url and sources */
        if (product_from_rules(d, c->rules, &rec, &e) == 0 && json_object_size(rec) > 2 &&
            category_wanted(c, rec))
            json_array_append(recs, rec);
        json_decref(rec);
    }
    *recs_out = recs;
    return json_array_size(recs);
}

void page_recs_extract(const struct cfg *c, const struct html_doc *d, const char *url, int gen,
                       struct page_recs *out)
{
    memset(out, 0, sizeof *out);
    json_t *warnings;
    size_t nr = page_records(c, d, &out->recs, &warnings);
    if (d->cut) { /* a page past what a tree holds: its end was not read, and it says so */
        if (!warnings)
            warnings = json_array();
        char msg[160];
        snprintf(msg, sizeof msg,
                 "the page has more than %d elements, attributes and texts; the rest of it was "
                 "not read",
                 TREE_MAX_NODES);
        json_array_insert_new(warnings, 0, json_string(msg));
    }
    size_t nw = json_array_size(warnings);
    if (nw) /* invalid JSON-LD and the like: on the page, and counted on the session */
        snprintf(out->warning, sizeof out->warning, "warning: %s%s",
                 json_string_value(json_array_get(warnings, 0)),
                 nw > 1 ? " (and more; see the page's structured data)" : "");
    json_decref(warnings);
    if (nr) {
        out->rows = xcalloc(nr, sizeof *out->rows);
        out->text = xcalloc(nr, sizeof *out->text);
    }
    for (size_t i = 0; i < nr; i++) {
        json_t *rec = json_array_get(out->recs, i);
        const char *sku = json_string_value(json_object_get(rec, "sku"));
        const char *rurl = json_string_value(json_object_get(rec, "url"));
        /* 15 digits: a price of 975.9 is written 975.9, not 975.89999999999998 */
        out->text[i] = json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(15));
        out->rows[out->n++] = (struct record_new){sku && *sku ? sku
                                                  : rurl      ? rurl
                                                              : url,
                                                  rurl, out->text[i], gen};
    }
}

void page_recs_release(struct page_recs *p)
{
    for (size_t i = 0; p && i < p->n; i++)
        free(p->text[i]);
    if (!p)
        return;
    free(p->text);
    free(p->rows);
    json_decref(p->recs);
    memset(p, 0, sizeof *p);
}

void *page_formats(const struct cfg *c, const struct html_doc *d, size_t *len)
{
    if (!c->formats)
        return NULL;
    json_t *o = json_object();
    if (c->formats & FMT_MARKDOWN) {
        char *s = html_markdown(d);
        json_object_set_new(o, "markdown", json_string(s ? s : "")); /* set_new steals */
        free(s);
    }
    if (c->formats & FMT_TEXT) {
        char *s = html_text(d);
        json_object_set_new(o, "text", json_string(s ? s : ""));
        free(s);
    }
    if (c->formats & FMT_HTML) {
        char *s = html_clean(d);
        json_object_set_new(o, "html", json_string(s ? s : ""));
        free(s);
    }
    if (c->formats & FMT_LINKS) {
        char **links;
        size_t n;
        json_t *a = json_array();
        if (html_links(d, false, &links, &n) == 0) {
            for (size_t i = 0; i < n; i++)
                json_array_append_new(a, json_string(links[i]));
            html_strings_free(links, n);
        }
        json_object_set_new(o, "links", a);
    }
    if (c->formats & FMT_METADATA)
        json_object_set_new(o, "metadata", html_metadata(d));
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    void *z = NULL;
    struct err e;
    if (text && zframe_compress(text, strlen(text), 0, &z, len, &e) != 0)
        z = NULL;
    free(text);
    return z;
}
