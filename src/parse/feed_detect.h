/* What the fields of a product feed hold, from a sample of its records: each field's type and
 * fill rate, and the mappings it suggests onto trawl's product record, each with a confidence
 * and a reason a person can check. Nothing here reads the feed: the caller adds the records it
 * got from feed_parse (parse/feed.h).
 *
 * Ownership: feed_sample_add copies what it keeps. The arrays feed_sample_fields and
 * feed_suggest return belong to the caller (feed_fields_free, feed_mappings_free). */
#ifndef TRAWL_PARSE_FEED_DETECT_H
#define TRAWL_PARSE_FEED_DETECT_H

#include "parse/feed.h"

#include <stddef.h>
#include <stdint.h>

enum feed_type {
    FEED_T_EMPTY,   /* no value seen */
    FEED_T_BOOLEAN, /* true/false, yes/no, y/n, 0/1 */
    FEED_T_INTEGER,
    FEED_T_DECIMAL,
    FEED_T_PRICE,     /* a number with a currency: "12.99 EUR", "€12,99", "USD 5" */
    FEED_T_GTIN,      /* 8, 12, 13 or 14 digits whose GS1 check digit holds (EAN, UPC) */
    FEED_T_DATE,      /* ISO 8601, or DD.MM.YYYY, DD/MM/YYYY */
    FEED_T_URL,       /* http:// or https:// */
    FEED_T_IMAGE_URL, /* a URL of an image (.jpg, .png, .webp, ...) */
    FEED_T_ENUM,      /* text of few distinct values */
    FEED_T_TEXT,
};

/* "empty", "boolean", "integer", "decimal", "price", "gtin", "date", "url", "image_url",
 * "enumeration", "text". */
const char *feed_type_name(enum feed_type t);

#define FEED_SAMPLE_DEFAULT 1000 /* records a sample keeps by default */
#define FEED_EXAMPLES       3    /* example values kept per field */

struct feed_field_info {
    char *name;
    enum feed_type type;
    int64_t present;  /* records with a non-empty value */
    double fill_rate; /* present / records sampled */
    double type_rate; /* of the non-empty values, the share that are of type */
    int64_t distinct; /* distinct values seen (counted up to 1000) */
    char *currency;   /* FEED_T_PRICE: the ISO code most of the values carry; else NULL */
    char *examples[FEED_EXAMPLES]; /* the first distinct values; NULL past the last */
    int repeated;                  /* a record held it more than once (images, say) */
};

/* The product record's fields, the targets of a mapping: "name", "sku", "gtin", "brand",
 * "material", "color", "dimensions", "price", "currency", "availability", "images", "category",
 * "url", "description". */
extern const char *const feed_targets[];
extern const size_t feed_ntargets;

#define FEED_MAP_SOURCES 4

struct feed_mapping {
    const char *target;              /* one of feed_targets (static) */
    char *sources[FEED_MAP_SOURCES]; /* the feed's fields, best first (images may take
                                        several); NULL past the last */
    double confidence;               /* 0..1 */
    char *reason;                    /* "field g:price: name matches; 100% prices (EUR)" */
};

struct feed_sample;

/* A sample of at most max records (0: FEED_SAMPLE_DEFAULT). */
struct feed_sample *feed_sample_new(size_t max);
void feed_sample_free(struct feed_sample *s);
/* Count r's fields into the sample; records past the sample's size are ignored. Returns whether
 * the sample wants more. */
int feed_sample_add(struct feed_sample *s, const struct feed_record *r);
/* The sample's fields, in the order first seen. Returns the number of fields. */
size_t feed_sample_fields(const struct feed_sample *s, struct feed_field_info **out);
void feed_fields_free(struct feed_field_info *f, size_t n);

/* The suggested mappings of fields onto the product record: at most one per target, each field
 * the source of at most one target (but a price's currency, and images from several fields),
 * ordered as feed_targets. Targets nothing fits are left out. Returns the number of mappings. */
size_t feed_suggest(const struct feed_field_info *f, size_t n, struct feed_mapping **out);
void feed_mappings_free(struct feed_mapping *m, size_t n);

/* Whether s (len bytes) is a GTIN: 8, 12, 13 or 14 digits whose last is the GS1 check digit. */
int feed_gtin_valid(const char *s, size_t len);

/* A price: a number ("12.99", "1.299,00", "1,299.00") with an optional currency code or symbol
 * before or after it ("EUR 12.99", "12,99 €", "$5"). *amount gets the number; code (4 bytes)
 * the ISO code, "" when none was written. Returns whether s (n bytes) is one. A single separator
 * followed by three digits groups thousands ("1,299" is 1299) unless the integer part is 0. A
 * number past what a double holds is not a price. */
int feed_price_parse(const char *s, size_t n, double *amount, char code[4]);
/* Whether the n bytes at s begin with http:// or https:// (any case) and have more after it. */
bool feed_is_http_url(const char *s, size_t n);

#endif
