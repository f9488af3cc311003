/* Mapping a feed's records onto trawl's product record: a mapping names, for each target field
 * (feed_targets: name, sku, gtin, ..., description), the feed field or fields it is taken from,
 * as the JSON object {"name": "title", "price": "g:price", "images": ["image_link",
 * "additional_image_link"]}. Applying it to a record gives the product as a JSON object, or says
 * why the record is not a product (the row error an import keeps).
 *
 * A product has a name or a sku; its price, when mapped, is a number (a currency written with it
 * is its currency unless one is mapped); its gtin, when mapped, holds the GS1 check digit; its
 * url and images are http(s) URLs. Text values are trimmed; empty ones are absent.
 *
 * Ownership: feed_map_parse's map belongs to the caller (feed_map_free); the JSON texts returned
 * are the caller's to free(). */
#ifndef TRAWL_PARSE_FEED_MAP_H
#define TRAWL_PARSE_FEED_MAP_H

#include "base/buf.h"
#include "base/err.h"
#include "parse/feed.h"
#include "parse/feed_detect.h"

#include <stddef.h>

#define FEED_MAP_WHY_MAX 300 /* a row error's message, with the value that failed */

struct feed_map;

/* Parse and check a mapping: an object whose keys are targets and whose values are a field name
 * or an array of at most FEED_MAP_SOURCES field names, tried in order until one has a value
 * (images takes the values of all). TRAWL_EINVAL names the key that is wrong. */
int feed_map_parse(const char *json, struct feed_map **out, struct err *e);
void feed_map_free(struct feed_map *m);
/* The currency of prices that carry none (the one detection found in the price field); NULL
 * keeps none. Copied. */
void feed_map_set_currency(struct feed_map *m, const char *code);
/* Whether the mapping names a name or a sku source: without one no record is a product. */
int feed_map_usable(const struct feed_map *m);

/* The mapping JSON text of suggested mappings (feed_suggest). */
char *feed_map_suggested(const struct feed_mapping *m, size_t n);

/* Append r as a product (a JSON object) to out. Returns 0, 1 when r is not a product (why says
 * so, out as it was), or TRAWL_ETOOBIG when out's cap is reached. */
int feed_map_apply(const struct feed_map *m, const struct feed_record *r, struct buf *out,
                   char why[FEED_MAP_WHY_MAX]);

#endif
