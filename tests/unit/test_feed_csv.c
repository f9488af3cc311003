/* CSV product feeds through feed_parse(): the shapes suppliers send (comma, semicolon, tab,
 * windows-1252, UTF-16, BOMs, quotes spanning lines, no header, gzip) and the ones an import must
 * survive (ragged rows, an unterminated quote, a 100 MB field, bad UTF-8 past the sniffed head,
 * empty and binary files), read in chunks of every size and, for the big ones, generated as they
 * are read. */
#include "base/buf.h"
#include "feedutil.h"
#include "parse/feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zlib.h>

#include <criterion/criterion.h>

/* ---- readers ---- */

/* A buffer in memory, handed out chunk bytes at a time. */
/* pre, then n bytes of fill (a '\n' every nl_every bytes when nl_every > 0), then post: a feed of
 * any size that is never held. */
struct lazy {
    const char *pre, *post;
    size_t npre, npost;
    char fill;
    size_t nfill, nl_every;
    size_t pos;
};

static ssize_t lazy_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct lazy *z = ctx;
    char *out = buf;
    size_t o = 0;
    while (o < cap) {
        size_t p = z->pos;
        if (p < z->npre) {
            size_t k = z->npre - p < cap - o ? z->npre - p : cap - o;
            memcpy(out + o, z->pre + p, k);
            o += k;
            z->pos += k;
        } else if (p < z->npre + z->nfill) {
            size_t q = p - z->npre;
            if (z->nl_every && (q + 1) % z->nl_every == 0) {
                out[o++] = '\n';
                z->pos++;
                continue;
            }
            size_t k = z->npre + z->nfill - p;
            if (z->nl_every && k > z->nl_every - 1 - q % z->nl_every)
                k = z->nl_every - 1 - q % z->nl_every;
            if (k > cap - o)
                k = cap - o;
            memset(out + o, z->fill, k);
            o += k;
            z->pos += k;
        } else if (p < z->npre + z->nfill + z->npost) {
            size_t q = p - z->npre - z->nfill;
            size_t k = z->npost - q < cap - o ? z->npost - q : cap - o;
            memcpy(out + o, z->post + q, k);
            o += k;
            z->pos += k;
        } else {
            break;
        }
    }
    return (ssize_t)o;
}

/* ---- what the sink got ---- */

struct grec {
    int64_t number, line;
    size_t n;
    char **names, **values;
    size_t *lens;
    char *raw;
};

struct gerr {
    int64_t number, line;
    char *msg, *raw;
    size_t raw_len;
};

struct got {
    bool keep; /* copy the records (false: count them only) */
    int begins;
    bool record_before_begin;
    struct feed_info info;
    char encoding[32];
    struct grec *r;
    size_t nr, rcap;
    struct gerr *er;
    size_t ne, ecap;
    int64_t count, last_number, last_line;
    struct buf dump; /* everything, as text, to compare runs */
    int64_t stop_at; /* the record callback fails on this number */
};

static int got_begin(void *ctx, const struct feed_info *info, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    g->begins++;
    g->info = *info;
    snprintf(g->encoding, sizeof g->encoding, "%s", info->encoding ? info->encoding : "");
    g->info.encoding = g->encoding;
    g->info.record_element = g->info.json_path = NULL;
    buf_addf(&g->dump, "begin %s delim=%d quote=%d header=%d gzip=%d\n", g->encoding,
             info->delimiter, info->quote, info->header, info->gzip);
    return 0;
}

static int got_record(void *ctx, const struct feed_record *r, struct err *e)
{
    struct got *g = ctx;
    if (!g->begins)
        g->record_before_begin = true;
    g->count++;
    cr_assert_eq(r->raw[r->raw_len], 0);
    cr_assert_leq(r->raw_len, FEED_RAW_MAX);
    if (g->count > 1)
        cr_assert_gt(r->number, g->last_number, "records in order");
    g->last_number = r->number;
    g->last_line = r->line;
    if (g->stop_at && r->number == g->stop_at)
        return err_set(e, TRAWL_ECANCELLED, false, "the sink stops at %lld", (long long)r->number);
    if (!g->keep)
        return 0;
    buf_addf(&g->dump, "record %lld line %lld raw=[%s]", (long long)r->number, (long long)r->line,
             r->raw);
    if (g->nr == g->rcap) {
        g->rcap = g->rcap ? 2 * g->rcap : 16;
        g->r = realloc(g->r, g->rcap * sizeof *g->r);
    }
    struct grec *c = &g->r[g->nr++];
    c->number = r->number;
    c->line = r->line;
    c->n = r->nfields;
    c->names = calloc(r->nfields + 1, sizeof *c->names);
    c->values = calloc(r->nfields + 1, sizeof *c->values);
    c->lens = calloc(r->nfields + 1, sizeof *c->lens);
    for (size_t i = 0; i < r->nfields; i++) {
        cr_assert_eq(r->fields[i].value[r->fields[i].len], 0, "values are NUL-terminated");
        c->names[i] = strdup(r->fields[i].name);
        c->values[i] = malloc(r->fields[i].len + 1);
        memcpy(c->values[i], r->fields[i].value, r->fields[i].len + 1);
        c->lens[i] = r->fields[i].len;
        buf_addf(&g->dump, " %s=[%s]", r->fields[i].name, r->fields[i].value);
    }
    buf_adds(&g->dump, "\n");
    c->raw = strdup(r->raw);
    return 0;
}

static int got_row_error(void *ctx, const struct feed_row_error *er, struct err *e)
{
    (void)e;
    struct got *g = ctx;
    cr_assert_eq(er->raw[er->raw_len], 0);
    cr_assert_leq(er->raw_len, FEED_RAW_MAX);
    buf_addf(&g->dump, "row error %lld line %lld: %s raw=[%s]\n", (long long)er->number,
             (long long)er->line, er->msg, er->raw);
    if (g->ne == g->ecap) {
        g->ecap = g->ecap ? 2 * g->ecap : 16;
        g->er = realloc(g->er, g->ecap * sizeof *g->er);
    }
    struct gerr *c = &g->er[g->ne++];
    c->number = er->number;
    c->line = er->line;
    c->msg = strdup(er->msg);
    c->raw = strdup(er->raw);
    c->raw_len = er->raw_len;
    return 0;
}

static void got_init(struct got *g, bool keep)
{
    memset(g, 0, sizeof *g);
    g->keep = keep;
    buf_init(&g->dump, 0);
}

static void got_release(struct got *g)
{
    for (size_t i = 0; i < g->nr; i++) {
        for (size_t j = 0; j < g->r[i].n; j++) {
            free(g->r[i].names[j]);
            free(g->r[i].values[j]);
        }
        free(g->r[i].names);
        free(g->r[i].values);
        free(g->r[i].lens);
        free(g->r[i].raw);
    }
    for (size_t i = 0; i < g->ne; i++) {
        free(g->er[i].msg);
        free(g->er[i].raw);
    }
    free(g->r);
    free(g->er);
    buf_release(&g->dump);
}

static int parse_with(const struct feed_opts *o, feed_read_fn rd, void *ctx, struct got *g,
                      struct feed_stats *st, struct err *e)
{
    struct feed_sink sink = {got_begin, got_record, got_row_error, g};
    err_clear(e);
    int rc = feed_parse(o, rd, ctx, &sink, st, e);
    buf_addf(&g->dump, "end %d %s\n", rc, rc ? e->msg : "");
    return rc;
}

static int parse_mem(const void *d, size_t n, size_t chunk, const struct feed_opts *o,
                     struct got *g, struct feed_stats *st, struct err *e)
{
    struct fu_mem m = {d, n, 0, chunk};
    return parse_with(o, fu_mem_read, &m, g, st, e);
}

/* Parse a feed that must parse; fails the test otherwise. */
static void parse_ok(const char *csv, struct got *g)
{
    struct err e;
    got_init(g, true);
    int rc = parse_mem(csv, strlen(csv), 1 << 20, NULL, g, NULL, &e);
    cr_assert_eq(rc, 0, "feed_parse: %s", e.msg);
    cr_assert_eq(g->begins, 1);
    cr_assert_not(g->record_before_begin);
    cr_assert_eq(g->info.format, FEED_CSV);
}

/* The value of field name in record i (NULL when it has none). */
static const char *val(const struct got *g, size_t i, const char *name)
{
    cr_assert_lt(i, g->nr, "record %zu missing (%zu records)", i, g->nr);
    for (size_t j = 0; j < g->r[i].n; j++)
        if (strcmp(g->r[i].names[j], name) == 0)
            return g->r[i].values[j];
    return NULL;
}

static void expect_val(const struct got *g, size_t i, const char *name, const char *want)
{
    const char *v = val(g, i, name);
    cr_expect(v && strcmp(v, want) == 0, "record %zu: %s is [%s], expected [%s]", i, name,
              v ? v : "(none)", want);
}

static void expect_names(const struct got *g, size_t i, const char *const *names, size_t n)
{
    cr_assert_lt(i, g->nr);
    cr_assert_eq(g->r[i].n, n, "record %zu has %zu fields, expected %zu", i, g->r[i].n, n);
    for (size_t j = 0; j < n; j++)
        cr_expect_str_eq(g->r[i].names[j], names[j], "record %zu field %zu", i, j);
}

/* ---- the shapes suppliers send ---- */

Test(feed_csv, comma_with_header)
{
    struct got g;
    parse_ok("sku,title,price,note\n"
             "A-1,Red shoe,19.90, spaced \n"
             "A-2,\"Blue, big\",5,\n",
             &g);
    cr_expect_eq(g.info.delimiter, ',');
    cr_expect_eq(g.info.quote, '"');
    cr_expect_eq(g.info.header, 1);
    cr_expect_str_eq(g.info.encoding, "UTF-8");
    cr_expect_eq(g.info.gzip, 0);
    cr_assert_eq(g.nr, 2);
    static const char *const names[] = {"sku", "title", "price", "note"};
    expect_names(&g, 0, names, 4);
    expect_names(&g, 1, names, 4);
    expect_val(&g, 0, "sku", "A-1");
    expect_val(&g, 0, "title", "Red shoe");
    expect_val(&g, 0, "price", "19.90");
    expect_val(&g, 0, "note", " spaced "); /* values are not trimmed */
    expect_val(&g, 1, "title", "Blue, big");
    expect_val(&g, 1, "note", "");
    cr_expect_eq(g.r[0].number, 1);
    cr_expect_eq(g.r[0].line, 2);
    cr_expect_eq(g.r[1].number, 2);
    cr_expect_eq(g.r[1].line, 3);
    cr_expect_str_eq(g.r[0].raw, "A-1,Red shoe,19.90, spaced ");
    cr_expect_str_eq(g.r[1].raw, "A-2,\"Blue, big\",5,");
    cr_expect_eq(g.ne, 0);
    got_release(&g);
}

Test(feed_csv, semicolon_in_windows_1252)
{
    /* no BOM, bytes that are not UTF-8: read as windows-1252 (0xe9 é, 0xe8 è, 0x80 €) */
    const char *csv = "sku;name;price\r\n"
                      "1;Caf\xe9 cr\xe8me;3,50 \x80\r\n"
                      "2;Th\xe9;4,20 \x80\r\n";
    struct got g;
    parse_ok(csv, &g);
    cr_expect_str_eq(g.info.encoding, "windows-1252");
    cr_expect_eq(g.info.delimiter, ';');
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "name", "Caf\xc3\xa9 cr\xc3\xa8me");
    expect_val(&g, 0, "price", "3,50 \xe2\x82\xac");
    expect_val(&g, 1, "name", "Th\xc3\xa9");
    cr_expect_eq(g.r[1].line, 3);
    got_release(&g);
}

Test(feed_csv, utf8_bom_is_not_in_the_first_name)
{
    struct got g;
    parse_ok("\xef\xbb\xbfsku,name\n1,cr\xc3\xa8me\n", &g);
    cr_expect_str_eq(g.info.encoding, "UTF-8");
    cr_assert_eq(g.nr, 1);
    static const char *const names[] = {"sku", "name"};
    expect_names(&g, 0, names, 2);
    expect_val(&g, 0, "sku", "1");
    expect_val(&g, 0, "name", "cr\xc3\xa8me");
    cr_expect_eq(g.r[0].line, 2);
    got_release(&g);
}

Test(feed_csv, utf16le_with_bom)
{
    const char *text = "sku;name\n1;Caf\xe9\n2;\x80 off\n"; /* as Latin-1 code points */
    unsigned char b[128];
    size_t n = 0;
    b[n++] = 0xff;
    b[n++] = 0xfe;
    for (const char *p = text; *p; p++) {
        unsigned cp = (unsigned char)*p == 0x80 ? 0x20ac : (unsigned char)*p;
        b[n++] = (unsigned char)(cp & 0xff);
        b[n++] = (unsigned char)(cp >> 8);
    }
    for (size_t chunk = 1; chunk <= 1024; chunk *= 32) {
        struct got g;
        struct err e;
        got_init(&g, true);
        cr_assert_eq(parse_mem(b, n, chunk, NULL, &g, NULL, &e), 0, "%s", e.msg);
        cr_expect(strncmp(g.info.encoding, "UTF-16", 6) == 0, "encoding %s", g.info.encoding);
        cr_expect_eq(g.info.delimiter, ';');
        cr_assert_eq(g.nr, 2, "chunk %zu: %zu records", chunk, g.nr);
        static const char *const names[] = {"sku", "name"};
        expect_names(&g, 0, names, 2);
        expect_val(&g, 0, "name", "Caf\xc3\xa9");
        expect_val(&g, 1, "name", "\xe2\x82\xac off");
        cr_expect_eq(g.r[1].line, 3);
        got_release(&g);
    }
}

Test(feed_csv, tab_separated)
{
    struct got g;
    parse_ok("id\tname\tnote\n"
             "1\tA, b\t x;y \n"
             "2\tC|d\t\n",
             &g);
    cr_expect_eq(g.info.delimiter, '\t');
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "name", "A, b");
    expect_val(&g, 0, "note", " x;y ");
    expect_val(&g, 1, "name", "C|d");
    expect_val(&g, 1, "note", "");
    got_release(&g);
}

Test(feed_csv, pipe_and_forced_delimiter)
{
    struct got g;
    parse_ok("id|name\n1|a,b\n2|c;d\n", &g);
    cr_expect_eq(g.info.delimiter, '|');
    expect_val(&g, 1, "name", "c;d");
    got_release(&g);

    /* told ';', a file that would sniff as ',' */
    struct feed_opts o = {.delimiter = ';'};
    struct err e;
    const char *csv = "a,b;c\n1,2;3\n";
    got_init(&g, true);
    cr_assert_eq(parse_mem(csv, strlen(csv), 64, &o, &g, NULL, &e), 0, "%s", e.msg);
    cr_expect_eq(g.info.delimiter, ';');
    cr_assert_eq(g.nr, 1);
    expect_val(&g, 0, "a,b", "1,2");
    expect_val(&g, 0, "c", "3");
    got_release(&g);
}

Test(feed_csv, semicolon_with_decimal_commas_and_no_header)
{
    struct got g;
    parse_ok("1;3,50;4,20\n2;5,10;6,30\n", &g);
    cr_expect_eq(g.info.delimiter, ';');
    cr_expect_eq(g.info.header, 0);
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "column2", "3,50");
    expect_val(&g, 1, "column3", "6,30");
    got_release(&g);
}

Test(feed_csv, quoted_fields_span_lines)
{
    const char *csv = "id,desc,n\n"
                      "1,\"a, b\",x\n"
                      "2,\"line1\nline2\n\",y\n"
                      "3,\"say \"\"hi\"\"\",z\n"
                      "4,plain,\"\"\n";
    for (int crlf = 0; crlf < 2; crlf++) {
        struct buf b;
        buf_init(&b, 0);
        for (const char *p = csv; *p; p++) {
            if (*p == '\n' && crlf)
                buf_add(&b, "\r", 1);
            buf_add(&b, p, 1);
        }
        struct got g;
        parse_ok(b.data, &g);
        cr_assert_eq(g.nr, 4);
        expect_val(&g, 0, "desc", "a, b");
        expect_val(&g, 1, "desc", crlf ? "line1\r\nline2\r\n" : "line1\nline2\n");
        expect_val(&g, 1, "n", "y");
        expect_val(&g, 2, "desc", "say \"hi\"");
        expect_val(&g, 3, "desc", "plain");
        expect_val(&g, 3, "n", "");
        cr_expect_eq(g.r[0].line, 2);
        cr_expect_eq(g.r[1].line, 3);
        cr_expect_eq(g.r[2].line, 6, "crlf %d: line %lld", crlf, (long long)g.r[2].line);
        cr_expect_eq(g.r[3].line, 7);
        cr_expect_eq(g.r[3].number, 4);
        cr_expect_str_eq(g.r[1].raw,
                         crlf ? "2,\"line1\r\nline2\r\n\",y" : "2,\"line1\nline2\n\",y");
        got_release(&g);
        buf_release(&b);
    }
}

Test(feed_csv, single_quotes_when_the_file_uses_them)
{
    struct got g;
    parse_ok("'sku','name'\n'1','x,y'\n'2','it''s'\n", &g);
    cr_expect_eq(g.info.quote, '\'');
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "sku", "1");
    expect_val(&g, 0, "name", "x,y");
    expect_val(&g, 1, "name", "it's");
    got_release(&g);

    parse_ok("sku,name\n1,it's\n2,'quoted'\n", &g); /* an apostrophe is not a quote */
    cr_expect_eq(g.info.quote, 0);
    expect_val(&g, 0, "name", "it's");
    expect_val(&g, 1, "name", "'quoted'");
    got_release(&g);
}

Test(feed_csv, stray_quotes_in_unquoted_fields_are_kept)
{
    struct got g;
    parse_ok("id,size,name\n1,5\" screen,TV \"Max\"\n2,x,y\n", &g);
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "size", "5\" screen");
    expect_val(&g, 0, "name", "TV \"Max\"");
    got_release(&g);
}

Test(feed_csv, no_header)
{
    struct got g;
    parse_ok("1,2.5,3\n4,-5,6e3\n", &g);
    cr_expect_eq(g.info.header, 0);
    cr_assert_eq(g.nr, 2);
    static const char *const names[] = {"column1", "column2", "column3"};
    expect_names(&g, 0, names, 3);
    expect_names(&g, 1, names, 3);
    expect_val(&g, 0, "column2", "2.5");
    expect_val(&g, 1, "column3", "6e3");
    cr_expect_eq(g.r[0].number, 1);
    cr_expect_eq(g.r[0].line, 1);
    cr_expect_eq(g.r[1].number, 2);
    cr_expect_eq(g.r[1].line, 2);
    got_release(&g);

    /* an empty name, or a first row of repeated values, is not a header either */
    parse_ok("a,,c\nd,e,f\n", &g);
    cr_expect_eq(g.info.header, 0);
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "column2", "");
    got_release(&g);
    parse_ok("yes,yes\nno,no\n", &g);
    cr_expect_eq(g.info.header, 0);
    cr_expect_eq(g.nr, 2);
    got_release(&g);
}

Test(feed_csv, header_names_trimmed_and_made_unique)
{
    struct got g;
    parse_ok(" id ,name,name,\tprice\t,stock,color,size,name_2\n"
             "1,a,b,3,4,red,L,c\n",
             &g);
    cr_expect_eq(g.info.header, 1);
    static const char *const names[] = {"id",    "name",  "name_3", "price",
                                        "stock", "color", "size",   "name_2"};
    expect_names(&g, 0, names, 8);
    expect_val(&g, 0, "name", "a");
    expect_val(&g, 0, "name_3", "b");
    expect_val(&g, 0, "name_2", "c");
    got_release(&g);
}

Test(feed_csv, blank_lines_and_line_endings)
{
    struct got g;
    parse_ok("a,b\n\n  \n1,2\n\r\n3,4", &g); /* the last row has no line break */
    cr_assert_eq(g.nr, 2);
    cr_expect_eq(g.r[0].line, 4);
    cr_expect_eq(g.r[1].line, 6);
    cr_expect_eq(g.r[1].number, 2);
    expect_val(&g, 1, "b", "4");
    got_release(&g);

    parse_ok("a,b\r1,2\r3,4\r", &g); /* old Mac line breaks */
    cr_assert_eq(g.nr, 2);
    cr_expect_eq(g.r[1].line, 3);
    got_release(&g);

    parse_ok("a,b\n", &g); /* a header alone */
    cr_expect_eq(g.nr, 0);
    cr_expect_eq(g.info.header, 1);
    got_release(&g);
}

/* ---- what an import must survive ---- */

Test(feed_csv, ragged_rows_are_row_errors)
{
    struct got g;
    struct feed_stats st;
    struct err e;
    const char *csv = "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n";
    got_init(&g, true);
    cr_assert_eq(parse_mem(csv, strlen(csv), 3, NULL, &g, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(g.nr, 2);
    cr_assert_eq(g.ne, 2);
    cr_expect_eq(g.r[0].number, 1);
    cr_expect_eq(g.r[1].number, 4);
    expect_val(&g, 1, "c", "12");
    cr_expect_eq(g.er[0].number, 2);
    cr_expect_eq(g.er[0].line, 3);
    cr_expect_str_eq(g.er[0].msg, "row has 2 fields, the header 3");
    cr_expect_str_eq(g.er[0].raw, "4,5");
    cr_expect_eq(g.er[1].number, 3);
    cr_expect_eq(g.er[1].line, 4);
    cr_expect_str_eq(g.er[1].msg, "row has 4 fields, the header 3");
    cr_expect_str_eq(g.er[1].raw, "6,7,8,9");
    cr_expect_eq(st.records, 2);
    cr_expect_eq(st.row_errors, 2);
    got_release(&g);

    parse_ok("1,2\n3\n", &g);
    cr_assert_eq(g.ne, 1);
    cr_expect_str_eq(g.er[0].msg, "row has 1 field, the first row 2");
    got_release(&g);
}

Test(feed_csv, unterminated_quote_is_fatal_with_its_line)
{
    struct got g;
    struct err e;
    const char *csv = "a,b\n1,2\n3,4\n5,\"open\n6,7\n8,9\n";
    got_init(&g, true);
    int rc = parse_mem(csv, strlen(csv), 5, NULL, &g, NULL, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "unterminated quoted field that starts on line 4");
    cr_assert_eq(g.nr, 2, "the records before it are given");
    expect_val(&g, 1, "a", "3");
    got_release(&g);

    /* a quoted field that starts on a later line of its row */
    csv = "a,b,c\n1,\"x\ny\",\"open\n";
    got_init(&g, true);
    rc = parse_mem(csv, strlen(csv), 1, NULL, &g, NULL, &e);
    cr_assert_eq(rc, TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "unterminated quoted field that starts on line 3");
    got_release(&g);
}

Test(feed_csv, a_100_mb_field_is_a_row_error_in_bounded_memory)
{
    static const char pre[] = "id,desc,tail\n1,short,x\n2,";
    static const char post[] = ",y\n3,ok,z\n";
    struct lazy z = {.pre = pre,
                     .npre = sizeof pre - 1,
                     .fill = 'x',
                     .nfill = 100u << 20,
                     .post = post,
                     .npost = sizeof post - 1};
    struct got g;
    struct err e;
    struct feed_stats st;
    got_init(&g, true);
    long before = fu_peak_rss_kb();
    cr_assert_eq(parse_with(NULL, lazy_read, &z, &g, &st, &e), 0, "%s", e.msg);
    long after = fu_peak_rss_kb();
    cr_assert_eq(g.nr, 2);
    expect_val(&g, 0, "desc", "short");
    expect_val(&g, 1, "id", "3");
    expect_val(&g, 1, "tail", "z");
    cr_expect_eq(g.r[1].number, 3);
    cr_expect_eq(g.r[1].line, 4);
    cr_assert_eq(g.ne, 1);
    cr_expect_eq(g.er[0].number, 2);
    cr_expect_eq(g.er[0].line, 3);
    cr_expect_str_eq(g.er[0].msg, "field desc is longer than 1048576 bytes");
    cr_expect_eq(g.er[0].raw_len, FEED_RAW_MAX);
    cr_expect(strncmp(g.er[0].raw, "2,xxxx", 6) == 0);
    cr_expect_eq(st.bytes_in, (int64_t)(z.npre + z.nfill + z.npost));
    /* the field went through, it was not held: far less than 100 MB */
    if (fu_rss_meaningful())
        cr_expect_lt(after, 48 * 1024, "peak RSS %ld KiB (before the parse %ld KiB)", after,
                     before);
    got_release(&g);
}

Test(feed_csv, a_long_quoted_field_over_many_lines)
{
    /* 20 MB in quotes with a line break every 1,000 bytes: refused, and the lines after it right */
    static const char pre[] = "id,desc\n1,\"";
    static const char post[] = "\"\n2,ok\n";
    struct lazy z = {.pre = pre,
                     .npre = sizeof pre - 1,
                     .fill = 'q',
                     .nfill = 20u << 20,
                     .nl_every = 1000,
                     .post = post,
                     .npost = sizeof post - 1};
    struct got g;
    struct err e;
    struct feed_opts o = {.field_max = 100000};
    got_init(&g, true);
    cr_assert_eq(parse_with(&o, lazy_read, &z, &g, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(g.ne, 1);
    cr_expect_str_eq(g.er[0].msg, "field desc is longer than 100000 bytes");
    cr_expect_eq(g.er[0].line, 2);
    cr_assert_eq(g.nr, 1);
    expect_val(&g, 0, "desc", "ok");
    cr_expect_eq(g.r[0].number, 2);
    cr_expect_eq(g.r[0].line, 3 + (int64_t)(z.nfill / 1000));
    got_release(&g);
}

Test(feed_csv, caps_on_the_first_row_are_fatal)
{
    struct got g;
    struct err e;
    struct feed_opts o = {.field_max = 8};
    const char *csv = "id,a_very_long_name\n1,2\n";
    got_init(&g, true);
    cr_assert_eq(parse_mem(csv, strlen(csv), 1, &o, &g, NULL, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "field 2 of the first row (line 1) is longer than 8 bytes");
    got_release(&g);

    struct feed_opts o2 = {.fields_max = 3};
    csv = "a,b,c,d\n1,2,3,4\n";
    got_init(&g, true);
    cr_assert_eq(parse_mem(csv, strlen(csv), 1, &o2, &g, NULL, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "the first row (line 1) has more than 3 fields");
    got_release(&g);

    /* a value over the cap in a data row is a row error, the rows after it are read */
    csv = "a,b\n1,123456789\n2,3\n";
    got_init(&g, true);
    cr_assert_eq(parse_mem(csv, strlen(csv), 1, &o, &g, NULL, &e), 0, "%s", e.msg);
    cr_assert_eq(g.ne, 1);
    cr_expect_str_eq(g.er[0].msg, "field b is longer than 8 bytes");
    cr_expect_str_eq(g.er[0].raw, "1,123456789");
    cr_assert_eq(g.nr, 1);
    expect_val(&g, 0, "a", "2");
    got_release(&g);
}

Test(feed_csv, invalid_utf8_past_the_head_is_a_row_error)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "id,name\n");
    int i = 1;
    for (; b.len < 100 * 1024; i++)
        buf_addf(&b, "%d,item %d\n", i, i);
    int bad = i;
    buf_addf(&b, "%d,bad \xff\xfe byte\n", i++);
    buf_addf(&b, "%d,caf\xc3\xa9\n", i++);
    struct got g;
    struct err e;
    got_init(&g, true);
    cr_assert_eq(parse_mem(b.data, b.len, 4096, NULL, &g, NULL, &e), 0, "%s", e.msg);
    cr_expect_str_eq(g.info.encoding, "UTF-8");
    cr_assert_eq(g.ne, 1);
    cr_expect_eq(g.er[0].number, bad);
    cr_expect_eq(g.er[0].line, bad + 1);
    cr_expect_str_eq(g.er[0].msg, "field name is not valid UTF-8");
    char want[64];
    snprintf(want, sizeof want, "%d,bad \xef\xbf\xbd\xef\xbf\xbd byte", bad);
    cr_expect_str_eq(g.er[0].raw, want, "the raw text is made valid UTF-8");
    cr_assert_eq(g.nr, (size_t)bad);
    expect_val(&g, g.nr - 1, "name", "caf\xc3\xa9");
    cr_expect_eq(g.r[g.nr - 1].number, bad + 1);
    got_release(&g);
    buf_release(&b);
}

Test(feed_csv, gzip_input)
{
    const char *csv = "sku;name\n1;Caf\xe9\n2;b\n"; /* windows-1252 inside the gzip */
    struct buf z;
    fu_gzip(csv, strlen(csv), &z);
    cr_assert_eq((unsigned char)z.data[0], 0x1f);
    for (size_t chunk = 1; chunk <= 4096; chunk *= 64) {
        struct got g;
        struct err e;
        got_init(&g, true);
        cr_assert_eq(parse_mem(z.data, z.len, chunk, NULL, &g, NULL, &e), 0, "%s", e.msg);
        cr_expect_eq(g.info.gzip, 1);
        cr_expect_str_eq(g.info.encoding, "windows-1252");
        cr_assert_eq(g.nr, 2);
        expect_val(&g, 0, "name", "Caf\xc3\xa9");
        expect_val(&g, 1, "sku", "2");
        got_release(&g);
    }
    buf_release(&z);
}

Test(feed_csv, empty_and_blank_feeds)
{
    static const char *const feeds[] = {"", "  \n\t\r\n\n"};
    static const struct feed_opts csv = {.format = FEED_CSV};
    for (size_t i = 0; i < 2; i++) {
        for (int forced = 0; forced < 2; forced++) {
            struct got g;
            struct err e;
            got_init(&g, true);
            int rc = parse_mem(feeds[i], strlen(feeds[i]), 1, forced ? &csv : NULL, &g, NULL, &e);
            cr_expect_eq(rc, TRAWL_EINVAL);
            cr_expect_str_eq(e.msg, "the feed is empty");
            cr_expect_eq(g.count, 0);
            got_release(&g);
        }
    }
}

Test(feed_csv, binary_is_not_a_feed)
{
    unsigned char b[4096];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof b; i++) {
        x = x * 1103515245 + 12345;
        b[i] = (unsigned char)(x >> 16);
    }
    b[0] = 'P', b[1] = 'K', b[2] = 3, b[3] = 4; /* a zip file, say */
    struct got g;
    struct err e;
    got_init(&g, true);
    cr_assert_eq(parse_mem(b, sizeof b, 512, NULL, &g, NULL, &e), TRAWL_EINVAL);
    cr_expect(strstr(e.msg, "not CSV, JSON or XML") && strstr(e.msg, "50 4b 03 04"), "%s", e.msg);
    cr_expect_eq(g.count, 0);
    got_release(&g);
}

Test(feed_csv, the_sink_can_stop_the_parse)
{
    struct got g;
    struct err e;
    const char *csv = "a\n1\n2\n3\n";
    got_init(&g, true);
    g.stop_at = 2;
    cr_assert_eq(parse_mem(csv, strlen(csv), 1, NULL, &g, NULL, &e), TRAWL_ECANCELLED);
    cr_expect_str_eq(e.msg, "the sink stops at 2");
    cr_expect_eq(g.count, 2);
    got_release(&g);
}

/* A feed of everything above, long enough (about 300 KB) that the parser reads it in many
 * chunks of its own past the sniffed head. Read a byte at a time, every row goes through libcsv;
 * in big chunks, whole lines without a quote are split by feed_csv.c itself: the test compares
 * the two. */
static void mixed_feed(struct buf *b)
{
    buf_init(b, 0);
    buf_adds(b, "sku,title,desc,price\r\n");
    for (int i = 1; b->len < 300 * 1024; i++) {
        switch (i % 7) {
        case 0:
            buf_addf(b, "%d,\"multi\nline %d\",\"say \"\"%d\"\"\",1.5\n", i, i, i);
            break;
        case 1:
            buf_addf(b, "%d,caf\xc3\xa9 \xe2\x82\xac%d,,2\r\n", i, i);
            break;
        case 2:
            buf_addf(b, "%d,ragged\n", i);
            break;
        case 3:
            buf_adds(b, "\n   \n");
            break;
        case 4:
            buf_addf(b, "%d,\"a,b\",\"\",\"%0*d\"\n", i, 3000, i); /* raw over its cap */
            break;
        case 5:
            buf_addf(b, " %d ,\tt%d, d , %d \n,,,\n", i, i, i); /* spaces kept; empty fields */
            break;
        default:
            buf_addf(b, "%d,t%d,d%d,%d.99\n", i, i, i, i);
        }
    }
    buf_adds(b, "last,row,without,newline");
}

Test(feed_csv, the_same_records_whatever_the_chunk_size)
{
    struct buf b;
    mixed_feed(&b);
    static const size_t chunks[] = {1, 7, 4096, 65535, 1 << 20};
    struct buf first;
    buf_init(&first, 0);
    for (size_t k = 0; k < sizeof chunks / sizeof *chunks; k++) {
        struct got g;
        struct err e;
        got_init(&g, true);
        cr_assert_eq(parse_mem(b.data, b.len, chunks[k], NULL, &g, NULL, &e), 0, "%s", e.msg);
        cr_assert_gt(g.nr, 300, "%zu records", g.nr);
        cr_assert_gt(g.ne, 80, "%zu row errors", g.ne);
        expect_val(&g, g.nr - 1, "price", "newline");
        if (k == 0)
            buf_add(&first, g.dump.data, g.dump.len);
        else
            cr_assert(g.dump.len == first.len && memcmp(g.dump.data, first.data, first.len) == 0,
                      "chunk %zu reads differently from chunk 1", chunks[k]);
        got_release(&g);
    }
    buf_release(&first);
    buf_release(&b);
}

/* "id,name,price" and then n rows, generated as they are read. */
struct rows {
    int64_t i, n;
    char pending[128];
    size_t plen, ppos;
};

static ssize_t rows_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    (void)e;
    struct rows *r = ctx;
    char *out = buf;
    size_t o = 0;
    while (o < cap) {
        if (r->ppos == r->plen) {
            if (r->i > r->n)
                break;
            int k = r->i == 0 ? snprintf(r->pending, sizeof r->pending, "id,name,price\n")
                              : snprintf(r->pending, sizeof r->pending,
                                         "%lld,product number %lld,%lld.99\n", (long long)r->i,
                                         (long long)r->i, (long long)(r->i % 1000));
            r->plen = (size_t)k;
            r->ppos = 0;
            r->i++;
        }
        size_t k = r->plen - r->ppos < cap - o ? r->plen - r->ppos : cap - o;
        memcpy(out + o, r->pending + r->ppos, k);
        o += k;
        r->ppos += k;
    }
    return (ssize_t)o;
}

Test(feed_csv, a_million_rows)
{
    struct rows r = {.n = 1000000};
    struct got g;
    struct err e;
    struct feed_stats st;
    got_init(&g, false);
    cr_assert_eq(parse_with(NULL, rows_read, &r, &g, &st, &e), 0, "%s", e.msg);
    cr_expect_eq(g.count, 1000000);
    cr_expect_eq(st.records, 1000000);
    cr_expect_eq(st.row_errors, 0);
    cr_expect_eq(g.last_number, 1000000);
    cr_expect_eq(g.last_line, 1000001);
    got_release(&g);
}
