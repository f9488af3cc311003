/* The insides of the feed parser, shared by feed.c (sniffing, gzip, charsets, records) and the
 * format parsers feed_csv.c, feed_json.c and feed_xml.c. Not for use outside src/parse/. */
#ifndef TRAWL_PARSE_FEED_INT_H
#define TRAWL_PARSE_FEED_INT_H

#include "parse/feed.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The bytes a format parser reads: first the sniffed head again, then the rest, gunzipped and
 * (for CSV and JSON) converted to UTF-8 already; XML gets the bytes as they are (libxml2 reads
 * its own declaration and BOM). */
struct feed_src;
/* Up to cap bytes into buf; 0 at the end; a negative code with e set. */
ssize_t feed_src_read(struct feed_src *s, void *buf, size_t cap, struct err *e);

/* The options with every default filled in. */
struct feed_limits {
    size_t field_max, fields_max, record_max;
    int depth_max;
};

/* A record being built: fields appended in order, given to the sink at its end. Names and values
 * are copied. */
struct feed_rec {
    struct feed_field *fields;
    size_t n, cap;
    char *text; /* the names and values, each NUL-terminated */
    size_t len, tcap;
    size_t *offs; /* per field: where its name and value start in text (2 per field) */
};

void feed_rec_reset(struct feed_rec *r);
void feed_rec_release(struct feed_rec *r);
/* Append a field. TRAWL_EINVAL with e saying which when the record has fields_max fields already,
 * the value is longer than field_max, the record's names and values would pass record_max, or
 * the value is not UTF-8 (the caller makes that a row error). */
int feed_rec_add(struct feed_rec *r, const char *name, size_t name_len, const char *value,
                 size_t value_len, const struct feed_limits *l, struct err *e);

/* What a format parser hands its records and errors to: counts them and calls the sink. */
struct feed_out {
    const struct feed_sink *sink;
    struct feed_stats *st;
};
/* Tell the sink what was found (before the first record). */
int feed_out_begin(struct feed_out *o, const struct feed_info *info, struct err *e);
/* Give r's fields as record number, starting on line, with its raw text (cut to FEED_RAW_MAX
 * between characters here), then reset r. */
int feed_out_record(struct feed_out *o, struct feed_rec *r, int64_t number, int64_t line,
                    const char *raw, size_t raw_len, struct err *e);
/* A row error (msg lowercase), with the raw text cut as above. */
int feed_out_row_error(struct feed_out *o, int64_t number, int64_t line, const char *msg,
                       const char *raw, size_t raw_len, struct err *e);

/* Each format's parser: read all of src, giving records and row errors to out. info holds what
 * feed.c found (format, encoding, gzip); the parser fills in its own fields (delimiter, quote,
 * header; record_element; json_path) and calls feed_out_begin once before its first record.
 * head/nhead are the first bytes of src (what src gives first), for the parser's own sniffing.
 * Returns 0, or a negative code with e saying why and where (line and column). */
int feed_csv_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                   const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                   struct feed_out *out, struct err *e);
int feed_json_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                    const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                    struct feed_out *out, struct err *e);
int feed_xml_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                   const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                   struct feed_out *out, struct err *e);

#endif
