/* Product feeds read as a stream: CSV, JSON or XML, from a reader the caller gives, never held
 * whole. feed_parse() sniffs what the bytes are (gzip, the format, for CSV the charset, the
 * delimiter and the header, for XML the repeating product element), then hands each product to
 * the sink as a record of named text fields, in order, numbered from 1. A product that cannot be
 * read is a row error, given to the sink with its number and its raw text, and parsing goes on;
 * input that cannot be read any further (malformed XML or JSON, an unterminated quote, a field
 * past its cap, a gzip bomb) ends the parse with an error that says where (line and column);
 * the records before it were given.
 *
 * Field names: CSV, the header's (or "column1", "column2", ... without one). JSON, the keys,
 * nested objects joined with '.' ("price.amount"), array elements repeating their name
 * ("images" once per element). XML, the child elements' qualified names ("g:price", "title"),
 * nested ones joined with '/' ("shipping/g:price"), attributes after '@' ("link@href"), repeated
 * elements repeating their name. Values are UTF-8, whatever the input's charset.
 *
 * Ownership: everything the sink is given is borrowed for the call only. */
#ifndef TRAWL_PARSE_FEED_H
#define TRAWL_PARSE_FEED_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum feed_format { FEED_UNKNOWN, FEED_CSV, FEED_JSON, FEED_XML };

/* "unknown", "csv", "json", "xml"; parse gives FEED_UNKNOWN for another word. */
const char *feed_format_name(enum feed_format f);
enum feed_format feed_format_parse(const char *s);

#define FEED_RAW_MAX       4096               /* of a record's raw text kept for row errors */
#define FEED_FIELD_MAX     (1024 * 1024)      /* default cap of one field's value, bytes */
#define FEED_FIELDS_MAX    1024               /* default cap of the fields of one record */
#define FEED_RECORD_MAX    (16 * 1024 * 1024) /* default cap of one record's names and values */
#define FEED_DEPTH_MAX     64                 /* default cap of JSON and XML nesting */
#define FEED_INFLATE_MAX   (16LL << 30)       /* default cap of a gzip feed's inflated size */
#define FEED_INFLATE_RATIO 1000               /* ... and of inflated bytes per compressed byte */
#define FEED_SNIFF_BYTES   (64 * 1024)        /* read before the format is decided */

/* Fills buf with up to cap bytes; returns how many, 0 at the end, or a negative TRAWL_E* code
 * with e set. */
typedef ssize_t (*feed_read_fn)(void *ctx, void *buf, size_t cap, struct err *e);

struct feed_field {
    const char *name;  /* NUL-terminated */
    const char *value; /* UTF-8, NUL-terminated; len bytes */
    size_t len;
};

struct feed_record {
    int64_t
        number;   /* 1, 2, ...: the product's place in the feed (CSV: data rows after the header) */
    int64_t line; /* the input line it starts on (1-based) */
    const struct feed_field *fields;
    size_t nfields;
    const char *raw; /* the record as read, UTF-8, at most FEED_RAW_MAX bytes (cut between
                        characters), NUL-terminated */
    size_t raw_len;
};

/* A product that could not be read; parsing goes on after it. */
struct feed_row_error {
    int64_t number, line;
    const char *msg; /* lowercase, ready to print: "row has 5 fields, the header 7" */
    const char *raw;
    size_t raw_len;
};

/* What the sniffing found, given to the sink before the first record. */
struct feed_info {
    enum feed_format format;
    const char *encoding; /* the input's charset as found: "UTF-8", "UTF-16LE", "windows-1252" */
    int gzip;             /* the input was gzip-compressed */
    char delimiter;       /* CSV: ',', ';', '\t', '|' */
    char quote;           /* CSV: '"' or '\'' (0: none seen) */
    int header;           /* CSV: the first row names the columns */
    const char *record_element; /* XML: the repeating product element ("item", "entry", ...) */
    const char *json_path;      /* JSON: where the products are: "[]" (a top-level array),
                                   "ndjson", or the key of the array in the top-level object */
};

/* The sink's calls return 0 to go on, or a negative code with e set to stop the parse (feed_parse
 * then returns that code and e). Any may be NULL. */
struct feed_sink {
    int (*begin)(void *ctx, const struct feed_info *info, struct err *e);
    int (*record)(void *ctx, const struct feed_record *r, struct err *e);
    int (*row_error)(void *ctx, const struct feed_row_error *er, struct err *e);
    void *ctx;
};

struct feed_opts {
    enum feed_format format;    /* FEED_UNKNOWN: sniffed */
    char delimiter;             /* CSV: 0 sniffs */
    const char *encoding;       /* NULL sniffs (BOM, valid UTF-8, else windows-1252) */
    const char *record_element; /* XML: NULL sniffs */
    size_t field_max;           /* 0: FEED_FIELD_MAX */
    size_t fields_max;          /* 0: FEED_FIELDS_MAX */
    size_t record_max;          /* 0: FEED_RECORD_MAX, or twice field_max when more */
    int depth_max;              /* 0: FEED_DEPTH_MAX */
    int64_t inflate_max;        /* 0: FEED_INFLATE_MAX */
};

/* What a parse read. */
struct feed_stats {
    int64_t records, row_errors;
    int64_t bytes_in;  /* read from the reader */
    int64_t bytes_out; /* after gzip, before charset conversion */
};

/* Parse the feed read through read(ctx, ...) into sink. Returns 0 when the whole feed was read
 * (row errors included), or a negative code with e saying why it stopped and where: TRAWL_EINVAL
 * for input that is none of the formats, malformed or past a cap; the reader's or the sink's
 * code when they stopped it. st (may be NULL) gets what was read either way. */
int feed_parse(const struct feed_opts *o, feed_read_fn read, void *ctx,
               const struct feed_sink *sink, struct feed_stats *st, struct err *e);

#endif
