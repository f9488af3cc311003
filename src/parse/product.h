/* Product and material records out of a page: schema.org data from JSON-LD (Product, Offer,
 * AggregateOffer, BreadcrumbList; in @graph, in arrays, nested), microdata (itemscope /
 * itemprop with a schema.org Product itemtype) and OpenGraph / product meta tags, merged into one
 * record per product; and records made by a user's rules (XPath or CSS per field) for sites
 * without structured data.
 *
 * A record is a JSON object with these members when known: name, sku, brand, material, color,
 * dimensions (an object: width, height, depth, length, weight, each a string with its unit as
 * given), price (a number), currency, availability ("in_stock", "out_of_stock", "preorder",
 * "backorder", "discontinued", or the value as given), images (an array of absolute URLs),
 * category (from BreadcrumbList, "A > B > C", or the item's category), url (absolute; the
 * product's own url or the page's), description, gtin, mpn, and "sources" (which of "jsonld",
 * "microdata", "opengraph", "rules" it came from), plus "raw": the structured data it was made
 * from, as found.
 *
 * Ownership: returned JSON belongs to the caller (json_decref). */
#ifndef TRAWL_PRODUCT_H
#define TRAWL_PRODUCT_H

#include "parse/html.h"

#include <jansson.h>

/* The products of the page as a new JSON array of records (possibly empty). Invalid JSON-LD
 * blocks and other unusable data are skipped and described in *warnings, a new JSON array of
 * strings (possibly empty). Records of one product found by several means (JSON-LD and
 * microdata for the same sku or url) are merged, JSON-LD first. */
int product_extract(const struct html_doc *d, json_t **records, json_t **warnings, struct err *e);

/* A record made by rules: {"name": {"xpath": "//h1"}, "price": {"css": ".price::text",
 * "type": "number"}, "images": {"css": "img.gallery::attr(src)", "all": true, "type": "url"}}.
 * Each field takes the first match (or all, as an array, with "all": true); "type" may be
 * "string" (default), "number" (the first number in the text, with , or . decimals) or "url"
 * (resolved against the page). A field without a match is left out. A rule that is malformed or
 * whose selector cannot be parsed is TRAWL_EINVAL naming the field. The record gets "url" (the
 * page) and "sources": ["rules"]. */
int product_from_rules(const struct html_doc *d, const json_t *rules, json_t **record,
                       struct err *e);
/* Check rules without a page (for the API): TRAWL_EINVAL naming the first bad field. */
int product_rules_check(const json_t *rules, struct err *e);

#endif
