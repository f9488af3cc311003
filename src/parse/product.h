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
 * from, as found: an object with a member per source ("jsonld": the Product object as written,
 * @id references unresolved; "microdata": the item as JSON, {"@type": itemtype, "@id": itemid,
 * property: value or [values], nested items as objects}; "opengraph": {"og:title": ...} with the
 * og:* and product:* properties, repeated ones as arrays).
 *
 * How the data is read:
 * - Every <script type="application/ld+json"> (any case, parameters allowed), with <!-- -->
 *   and CDATA wrappers removed and raw line breaks inside strings tolerated; @type with or
 *   without the schema.org prefix, a string or an array. Product-like types are Product,
 *   ProductModel, IndividualProduct, SomeProducts; a ProductGroup gives a record per hasVariant
 *   item with the group's members as defaults (never its sku, gtin or mpn), or one record when
 *   it names no variant. Products are found anywhere in a block (ItemList elements, a page's
 *   mainEntity, @graph) but not inside another product. A member that is only {"@id": ...} is
 *   replaced by the node of the page with that @id, one level deep.
 * - price: the first offer with a valid price (an AggregateOffer's lowPrice, an Offer's price
 *   or priceSpecification); strings as shops write them ("1,299.00", "1.299,00 €", "€ 12.50";
 *   a lone '.' is decimal as schema.org says). currency and availability come from that offer,
 *   else from the first offer that has them. url falls back to the offer's url.
 * - Text is trimmed and HTML character references in JSON-LD text are decoded.
 * - The first BreadcrumbList of the page (JSON-LD, then microdata) becomes the category of the
 *   records without one, in position order, without a last entry that is the product's name.
 *
 * Merging: records of one product are merged, JSON-LD first, then microdata, then OpenGraph
 * filling gaps; records are one product when their skus are equal, or, when one has no sku,
 * their urls (the product's own url, not the page's). A microdata product that matches nothing
 * still joins the page's only JSON-LD product when it is the page's only microdata product and
 * their skus and urls do not differ. OpenGraph describes the page: it joins the record it
 * matches, else the page's only record; on a page with several products and no match it adds
 * nothing.
 *
 * Limits: nesting deeper than 64 levels, more than 1000 records per page, JSON-LD blocks past 4
 * MiB (8 MiB per page) and more than 20000 microdata items are left out with a warning.
 *
 * Ownership: returned JSON belongs to the caller (json_decref). Thread-safe for distinct
 * documents. */
#ifndef TRAWL_PRODUCT_H
#define TRAWL_PRODUCT_H

#include "parse/html.h"

#include <jansson.h>

/* The products of the page as a new JSON array of records (possibly empty), in the order they
 * were found. Invalid JSON-LD blocks and other unusable data are skipped and described in
 * *warnings, a new JSON array of strings (possibly empty; blocks are counted from 1 in document
 * order: "json-ld block 2 is not valid json (...)"); warnings may be NULL when they are not
 * wanted. Records of one product found by several means (JSON-LD and microdata for the same sku
 * or url) are merged, JSON-LD first. TRAWL_EINVAL only when d or records is NULL. */
int product_extract(const struct html_doc *d, json_t **records, json_t **warnings, struct err *e);

/* A record made by rules: {"name": {"xpath": "//h1"}, "price": {"css": ".price::text",
 * "type": "number"}, "images": {"css": "img.gallery::attr(src)", "all": true, "type": "url"}}.
 * Each field takes the first match (or all, as an array, with "all": true); "type" may be
 * "string" (default; trimmed, whitespace collapsed), "number" (the first number in the text,
 * with , or . decimals: "1.299,00 €" is 1299, "12,50" is 12.5, "-2.5" is -2.5) or "url"
 * (resolved against the page; what is not an http(s) URL is skipped). Matches that give no
 * value (empty text, no number) are skipped; a field without a value is left out, as is an
 * "all" field whose array would be empty (at most 1000 values are kept). A rule is an object
 * with exactly one of "xpath" and "css" (a non-empty string) and optionally "type" and "all"
 * (a boolean); anything else, an empty rules object, the field name "sources", or a selector
 * that cannot be parsed is TRAWL_EINVAL with a message that names the field ("rule 'price':
 * ..."), checked in the order of the rules object; on error *record is NULL. The record gets
 * "url" (the page, unless a rule named "url" gave one) and "sources": ["rules"]. */
int product_from_rules(const struct html_doc *d, const json_t *rules, json_t **record,
                       struct err *e);
/* Check rules without a page (for the API): TRAWL_EINVAL naming the first bad field, with the
 * message product_from_rules would give. */
int product_rules_check(const json_t *rules, struct err *e);

#endif
