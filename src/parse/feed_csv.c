/* CSV product feeds (feed.h): libcsv splits the UTF-8 text into fields and rows; this file sniffs
 * the delimiter, the quote and the header, names the columns, keeps track of lines and of each
 * row's raw text, and turns rows into records or row errors, with every buffer capped. */
#include "parse/feed_int.h"

#include "base/hashset.h"
#include "base/utf8.h"
#include "base/xalloc.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_CHUNK (64 * 1024)        /* read at a time, and the most libcsv is given at once */
#define CSV_BLK    (64 * 1024)        /* libcsv's first field buffer, and its least growth step */
#define RAW_KEEP   (FEED_RAW_MAX + 4) /* of a row's text: enough for feed_out_* to cut it */
#define SNIFF_ROWS 64                 /* rows of the head the delimiter is sniffed on */

static const char delims[] = {',', ';', '\t', '|'};

/* A list of strings (the first row's values, the column names), each NUL-terminated. */
struct strs {
    char *text;
    size_t len, cap;
    size_t *off, *slen;
    size_t n, ncap;
};

static void strs_add(struct strs *s, const char *p, size_t n)
{
    if (s->n == s->ncap) {
        s->ncap = s->ncap ? 2 * s->ncap : 16;
        s->off = xrealloc(s->off, s->ncap * sizeof *s->off);
        s->slen = xrealloc(s->slen, s->ncap * sizeof *s->slen);
    }
    if (s->len + n + 1 > s->cap) {
        s->cap = s->len + n + 1 > 2 * s->cap ? s->len + n + 1 : 2 * s->cap;
        s->text = xrealloc(s->text, s->cap);
    }
    s->off[s->n] = s->len;
    s->slen[s->n++] = n;
    if (n)
        memcpy(s->text + s->len, p, n);
    s->len += n;
    s->text[s->len++] = 0;
}

static const char *strs_at(const struct strs *s, size_t i)
{
    return s->text + s->off[i];
}

static void strs_release(struct strs *s)
{
    free(s->text);
    free(s->off);
    free(s->slen);
    memset(s, 0, sizeof *s);
}

struct csvr {
    struct csv_parser p;
    const struct feed_limits *l;
    struct feed_info *info;
    struct feed_out *out;
    struct err *e;
    int rc; /* a fatal error found in a callback (libcsv's cannot return one); e says it */
    unsigned char delim, quote;
    /* where we are */
    int64_t line;  /* the line of the next byte */
    bool after_cr; /* the last byte was a CR: a LF now ends no other line */
    bool in_row, row_done;
    int64_t row_line, field_line; /* where the current row and field start */
    /* the current row */
    char raw[RAW_KEEP];
    size_t raw_len;
    bool raw_blank; /* only spaces and tabs so far */
    size_t nf;      /* its fields so far */
    bool bad;       /* a field could not be taken; bad_msg says why */
    char bad_msg[sizeof((struct err *)0)->msg];
    /* the columns */
    bool have_cols, begun;
    struct strs first; /* the first row, until we know whether it names the columns */
    struct strs cols;
    struct feed_rec rec;
    int64_t number;
    unsigned char buf[READ_CHUNK];
};

/* ---- sniffing ---- */

static bool is_delim(unsigned char c)
{
    return memchr(delims, c, sizeof delims) != NULL;
}

/* The quote the head uses: '\'' only when it clearly quotes fields with it (fields that start and
 * end with it, twice at least) and never with '"'; else '"'. *seen gets the quote found at the
 * start of a field, or 0 when the head quotes nothing. */
static char sniff_quote(const unsigned char *h, size_t n, char *seen)
{
    size_t open_dq = 0, open_sq = 0, close_sq = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i] != '"' && h[i] != '\'')
            continue;
        bool at_start = i == 0 || h[i - 1] == '\n' || h[i - 1] == '\r' || is_delim(h[i - 1]);
        bool at_end = i + 1 == n || h[i + 1] == '\n' || h[i + 1] == '\r' || is_delim(h[i + 1]);
        if (h[i] == '"') {
            open_dq += at_start;
        } else {
            open_sq += at_start;
            close_sq += at_end;
        }
    }
    if (open_dq == 0 && open_sq >= 2 && close_sq >= 2) {
        *seen = '\'';
        return '\'';
    }
    *seen = open_dq ? '"' : 0;
    return '"';
}

/* How many fields each of the head's first rows has with delimiter d (quotes as libcsv reads
 * them: a quote opens a field only at its start). Rows cut by the end of a full head are not
 * counted. */
static size_t count_fields(const unsigned char *h, size_t n, bool complete, char d, char q,
                           size_t counts[SNIFF_ROWS])
{
    size_t rows = 0, fields = 1;
    bool inq = false, at_start = true, content = false;
    for (size_t i = 0; i < n && rows < SNIFF_ROWS; i++) {
        unsigned char c = h[i];
        if (inq) {
            if (c == (unsigned char)q) {
                if (i + 1 < n && h[i + 1] == (unsigned char)q)
                    i++;
                else
                    inq = false;
            }
            continue;
        }
        if (c == '\r' || c == '\n') {
            if (content)
                counts[rows++] = fields;
            fields = 1;
            at_start = true;
            content = false;
            continue;
        }
        content = true;
        if (c == (unsigned char)d) {
            fields++;
            at_start = true;
        } else if (c == (unsigned char)q && at_start) {
            inq = true;
            at_start = false;
        } else {
            at_start = false;
        }
    }
    if (complete && content && !inq && rows < SNIFF_ROWS)
        counts[rows++] = fields;
    return rows;
}

/* The delimiter that gives the same field count (more than one) on the most rows of the head.
 * On a tie, tab, then ';', then '|', then ',': a ';' file often has decimal commas that split
 * every row alike, while a ',' file rarely has a ';' in every row. ',' when none splits. */
static char sniff_delim(const unsigned char *h, size_t n, char q)
{
    static const char order[] = {'\t', ';', '|', ','};
    bool complete = n < FEED_SNIFF_BYTES; /* the head is the whole input */
    char best = ',';
    size_t best_score = 0;
    for (size_t k = 0; k < sizeof order; k++) {
        size_t counts[SNIFF_ROWS];
        size_t rows = count_fields(h, n, complete, order[k], q, counts);
        size_t score = 0;
        for (size_t i = 0; i < rows; i++) {
            if (counts[i] < 2)
                continue;
            size_t same = 0;
            for (size_t j = 0; j < rows; j++)
                same += counts[j] == counts[i];
            if (same > score)
                score = same;
        }
        if (score > best_score) {
            best_score = score;
            best = order[k];
        }
    }
    return best;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A number as feeds write them: "-12", "3.50", "3,50", "1e6". */
static bool is_number(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && is_digit(s[i]); i++)
        digits++;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        for (i++; i < n && is_digit(s[i]); i++)
            digits++;
    }
    if (!digits)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i == n || !is_digit(s[i]))
            return false;
        while (i < n && is_digit(s[i]))
            i++;
    }
    return i == n;
}

/* The first row's values trimmed of white space, into t. */
static void trim_all(const struct strs *first, struct strs *t)
{
    for (size_t i = 0; i < first->n; i++) {
        const char *s = strs_at(first, i);
        size_t a = 0, b = first->slen[i];
        while (a < b && is_space((unsigned char)s[a]))
            a++;
        while (b > a && is_space((unsigned char)s[b - 1]))
            b--;
        strs_add(t, s + a, b - a);
    }
}

static unsigned set_bits(size_t n)
{
    unsigned bits = 6;
    while (((size_t)1 << bits) < 8 * n) /* a quarter full at most: the set never empties */
        bits++;
    return bits;
}

/* Whether the (trimmed) first row names the columns: every name there (no NUL, valid UTF-8),
 * most of them not numbers, and at least three quarters of them distinct (a header may repeat a
 * name now and then; a data row of repeated values is not a header). */
static bool looks_like_header(const struct strs *t)
{
    if (t->n == 0)
        return false;
    size_t numeric = 0, dups = 0;
    struct hashset seen;
    hashset_init(&seen, set_bits(t->n));
    bool ok = true;
    for (size_t i = 0; i < t->n && ok; i++) {
        const char *s = strs_at(t, i);
        size_t n = t->slen[i];
        if (n == 0 || memchr(s, 0, n) || !utf8_valid(s, n)) {
            ok = false;
            break;
        }
        numeric += is_number(s, n);
        if (hashset_has(&seen, s))
            dups++;
        else
            hashset_add(&seen, s);
    }
    hashset_release(&seen);
    return ok && 2 * numeric < t->n && 4 * dups <= t->n;
}

/* The column names from the trimmed header t. A name seen before gets a suffix, "name_2",
 * "name_3", ..., skipping any name the header has itself, so that every column has a name of its
 * own and a mapping by name is never ambiguous. (At most a quarter of the names repeat, see
 * looks_like_header, so the search for a free suffix stays small.) */
static void name_columns(struct strs *cols, const struct strs *t)
{
    struct hashset orig, used;
    hashset_init(&orig, set_bits(2 * t->n));
    hashset_init(&used, set_bits(2 * t->n));
    for (size_t i = 0; i < t->n; i++)
        hashset_add(&orig, strs_at(t, i));
    char *cand = NULL;
    for (size_t i = 0; i < t->n; i++) {
        const char *name = strs_at(t, i);
        size_t n = t->slen[i];
        if (!hashset_has(&used, name)) {
            strs_add(cols, name, n);
            hashset_add(&used, name);
            continue;
        }
        cand = xrealloc(cand, n + 24);
        size_t k = 2, m;
        do
            m = (size_t)snprintf(cand, n + 24, "%s_%zu", name, k++);
        while (hashset_has(&orig, cand) || hashset_has(&used, cand));
        strs_add(cols, cand, m);
        hashset_add(&used, cand);
    }
    free(cand);
    hashset_release(&orig);
    hashset_release(&used);
}

/* ---- rows ---- */

static int begin(struct csvr *c)
{
    if (c->begun)
        return 0;
    c->begun = true;
    return feed_out_begin(c->out, c->info, c->e);
}

/* The row's raw text for the sink, made valid UTF-8 (a row refused for bad bytes has them);
 * *tofree gets what to free. */
static const char *row_raw(struct csvr *c, size_t *len, char **tofree)
{
    size_t n = c->raw_len;
    *tofree = NULL;
    if (n > FEED_RAW_MAX) { /* kept a little over: cut between characters first */
        n = FEED_RAW_MAX;
        while (n > 0 && ((unsigned char)c->raw[n] & 0xc0) == 0x80)
            n--;
    }
    *len = n;
    if (utf8_valid(c->raw, n))
        return c->raw;
    *tofree = utf8_sanitize(c->raw, n, len);
    return *tofree;
}

static int row_error(struct csvr *c, int64_t number, const char *msg)
{
    size_t len;
    char *tofree;
    const char *raw = row_raw(c, &len, &tofree);
    int rc = feed_out_row_error(c->out, number, c->row_line, msg, raw, len, c->e);
    free(tofree);
    return rc;
}

static int give_record(struct csvr *c, int64_t number)
{
    size_t len;
    char *tofree;
    const char *raw = row_raw(c, &len, &tofree);
    int rc = feed_out_record(c->out, &c->rec, number, c->row_line, raw, len, c->e);
    free(tofree);
    return rc;
}

/* The first row ended: it names the columns, or it is record 1 of columns "column1", ... */
static int first_row(struct csvr *c)
{
    struct strs t = {0};
    trim_all(&c->first, &t);
    bool header = looks_like_header(&t);
    c->info->header = header;
    int rc = begin(c);
    if (rc)
        goto out;
    c->have_cols = true;
    if (header) {
        name_columns(&c->cols, &t);
        goto out;
    }
    for (size_t i = 0; i < c->first.n; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "column%zu", i + 1);
        strs_add(&c->cols, name, (size_t)n);
    }
    c->number = 1;
    for (size_t i = 0; i < c->first.n; i++) {
        struct err fe;
        if (feed_rec_add(&c->rec, strs_at(&c->cols, i), c->cols.slen[i], strs_at(&c->first, i),
                         c->first.slen[i], c->l, &fe)) {
            rc = row_error(c, 1, fe.msg);
            goto out;
        }
    }
    rc = give_record(c, 1);
out:
    strs_release(&t);
    strs_release(&c->first);
    return rc;
}

/* A row ended (libcsv called on_row): a record, a row error, or nothing for a blank line. */
static int end_row(struct csvr *c)
{
    int rc = 0;
    size_t nf = c->nf;
    bool bad = c->bad;
    c->in_row = c->row_done = c->bad = false;
    c->nf = 0;
    if (nf == 1 && c->raw_blank) {
        /* a line of spaces is as empty as an empty line (which libcsv skips itself) */
        c->first.n = c->first.len = 0;
    } else if (!c->have_cols) {
        rc = first_row(c);
    } else {
        int64_t number = ++c->number;
        if (nf != c->cols.n) {
            char msg[96];
            snprintf(msg, sizeof msg, "row has %zu field%s, the %s %zu", nf, nf == 1 ? "" : "s",
                     c->info->header ? "header" : "first row", c->cols.n);
            rc = row_error(c, number, msg);
        } else if (bad) {
            rc = row_error(c, number, c->bad_msg);
        } else {
            rc = give_record(c, number);
        }
    }
    feed_rec_reset(&c->rec);
    if (csv_get_buffer_size(&c->p) > 2 * CSV_BLK) {
        /* a long field made libcsv's buffer grow: give it back (libcsv starts a new one, and
         * between rows it holds nothing) */
        csv_free(&c->p);
        csv_set_blk_size(&c->p, CSV_BLK);
    }
    return rc;
}

/* libcsv's field callback. */
static void on_field(void *s, size_t n, void *data)
{
    struct csvr *c = data;
    size_t i = c->nf++;
    c->field_line = c->line; /* the next field starts after this delimiter, on this line */
    if (c->rc || c->bad)
        return;
    if (!c->have_cols) {
        if (i >= c->l->fields_max)
            c->rc = err_set(c->e, TRAWL_EINVAL, false,
                            "the first row (line %lld) has more than %zu fields",
                            (long long)c->row_line, c->l->fields_max);
        else if (n > c->l->field_max)
            c->rc = err_set(c->e, TRAWL_EINVAL, false,
                            "field %zu of the first row (line %lld) is longer than %zu bytes",
                            i + 1, (long long)c->row_line, c->l->field_max);
        else
            strs_add(&c->first, s, n);
        return;
    }
    if (i >= c->cols.n)
        return; /* the row has too many fields: said when it ends */
    struct err fe;
    if (feed_rec_add(&c->rec, strs_at(&c->cols, i), c->cols.slen[i], s, n, c->l, &fe)) {
        c->bad = true;
        snprintf(c->bad_msg, sizeof c->bad_msg, "%s", fe.msg);
    }
}

/* libcsv's row callback: the row ends at the end of the bytes it was given (see feed_piece). */
static void on_row(int term, void *data)
{
    (void)term;
    struct csvr *c = data;
    c->row_done = true;
}

/* libcsv trims spaces and tabs around unquoted fields unless told that nothing is a space; a
 * feed's values are kept as they are. */
static int never_space(unsigned char ch)
{
    (void)ch;
    return 0;
}

/* The field libcsv is in the middle of is longer than field_max: the row is refused. */
static void field_too_long(struct csvr *c)
{
    if (!c->have_cols) {
        /* in on_field's order, so that the error is the same however the row came in */
        if (c->nf >= c->l->fields_max)
            c->rc = err_set(c->e, TRAWL_EINVAL, false,
                            "the first row (line %lld) has more than %zu fields",
                            (long long)c->row_line, c->l->fields_max);
        else
            c->rc = err_set(c->e, TRAWL_EINVAL, false,
                            "field %zu of the first row (line %lld) is longer than %zu bytes",
                            c->nf + 1, (long long)c->row_line, c->l->field_max);
        return;
    }
    char name[32];
    const char *nm = name;
    if (c->nf < c->cols.n)
        nm = strs_at(&c->cols, c->nf);
    else
        snprintf(name, sizeof name, "column%zu", c->nf + 1);
    c->bad = true;
    snprintf(c->bad_msg, sizeof c->bad_msg, "field %.64s is longer than %zu bytes", nm,
             c->l->field_max);
}

/* A whole row on one line with no quote in it, as most rows of most feeds are: split at the
 * delimiter here, just as libcsv would split it (nothing trimmed, the row ends at the line break,
 * libcsv left between rows), without libcsv's byte-at-a-time state machine, which is otherwise
 * most of the parse's time. */
static void split_plain(struct csvr *c, const unsigned char *s, size_t n)
{
    const unsigned char *end = s + n;
    for (;;) {
        const unsigned char *d = memchr(s, c->delim, (size_t)(end - s));
        if (!d) {
            on_field((void *)s, (size_t)(end - s), c);
            break;
        }
        on_field((void *)s, (size_t)(d - s), c);
        s = d + 1;
    }
    c->row_done = true;
}

/* Read n bytes that end at the first CR or LF (or at the end of the chunk): a row can only end
 * at the last of them, so when it ends (on_row) we know where, and every byte but the last is on
 * line c->line. */
static int feed_piece(struct csvr *c, const unsigned char *s, size_t n)
{
    unsigned char last = s[n - 1];
    bool term = last == '\r' || last == '\n';
    bool starts = !c->in_row && !(n == 1 && term);
    if (starts) {
        /* a row starts here (libcsv skips line breaks between rows, and nothing else) */
        c->in_row = true;
        c->row_line = c->field_line = c->line;
        c->raw_len = 0;
        c->raw_blank = true;
    }
    if (c->in_row) {
        size_t k = n - term, room = RAW_KEEP - c->raw_len;
        memcpy(c->raw + c->raw_len, s, k < room ? k : room);
        c->raw_len += k < room ? k : room;
        for (size_t i = 0; c->raw_blank && i < k; i++)
            c->raw_blank = s[i] == ' ' || s[i] == '\t';
    }
    size_t done = n;
    if (starts && term && !memchr(s, c->quote, n - 1))
        split_plain(c, s, n - 1);
    else
        done = csv_parse(&c->p, s, n, on_field, on_row, c);
    if (c->rc)
        return c->rc;
    if (done < n)
        return err_set(c->e, TRAWL_EINVAL, false, "cannot read line %lld: %s", (long long)c->line,
                       csv_strerror(csv_error(&c->p)));
    if (c->row_done) {
        int rc = end_row(c);
        if (rc)
            return rc;
    } else if (c->in_row) {
        if (term && c->raw_len < RAW_KEEP)
            c->raw[c->raw_len++] = (char)last; /* a line break inside quotes */
        if (!c->bad && c->p.entry_pos > c->l->field_max) {
            field_too_long(c);
            if (c->rc)
                return c->rc;
        }
        /* A refused row's field is not kept: its bytes in libcsv's buffer are dropped as they
         * come, so that a field of any length takes no more than a chunk of memory. entry_pos
         * (public in csv.h) stays at 1 or more: after a closing quote libcsv takes back that
         * quote with entry_pos -= spaces + 1, and spaces is always 0 here (never_space). */
        if (c->bad && c->p.entry_pos > 1)
            c->p.entry_pos = 1;
        /* libcsv grows its buffer by a fixed step: make the step the size so far, which makes
         * the growth geometric */
        size_t have = csv_get_buffer_size(&c->p);
        csv_set_blk_size(&c->p, have > CSV_BLK ? have : CSV_BLK);
    }
    if (last == '\r') {
        c->line++;
        c->after_cr = true;
    } else {
        if (last == '\n' && !(n == 1 && c->after_cr))
            c->line++;
        c->after_cr = false;
    }
    return 0;
}

/* Feed a chunk piece by piece. The next CR and LF are remembered so that finding them stays
 * linear in the chunk whatever the line endings. */
static int feed_chunk(struct csvr *c, const unsigned char *s, size_t n)
{
    size_t lf = 0, cr = 0;
    bool lf_ok = false, cr_ok = false;
    for (size_t i = 0; i < n;) {
        if (!lf_ok || lf < i) {
            const unsigned char *p = memchr(s + i, '\n', n - i);
            lf = p ? (size_t)(p - s) : n;
            lf_ok = true;
        }
        if (!cr_ok || cr < i) {
            const unsigned char *p = memchr(s + i, '\r', n - i);
            cr = p ? (size_t)(p - s) : n;
            cr_ok = true;
        }
        size_t end = lf < cr ? lf : cr;
        end = end < n ? end + 1 : n;
        int rc = feed_piece(c, s + i, end - i);
        if (rc)
            return rc;
        i = end;
    }
    return 0;
}

int feed_csv_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                   const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                   struct feed_out *out, struct err *e)
{
    struct csvr *c = xcalloc(1, sizeof *c);
    c->l = l;
    c->info = info;
    c->out = out;
    c->e = e;
    c->line = 1;
    int rc = 0;

    char seen;
    char q = sniff_quote(head, nhead, &seen);
    char d = o->delimiter ? o->delimiter : sniff_delim(head, nhead, q);
    if (d == '\r' || d == '\n') {
        rc = err_set(e, TRAWL_EINVAL, false, "a line break cannot be the CSV delimiter");
        goto out;
    }
    if (d == q) { /* asked for the quote as the delimiter: quote with the other one */
        q = q == '"' ? '\'' : '"';
        seen = 0;
    }
    info->delimiter = d;
    info->quote = seen;
    c->delim = (unsigned char)d;
    c->quote = (unsigned char)q;

    /* Not CSV_STRICT: a quote inside an unquoted field is kept as it is (5" screen), and one
     * after a closing quote goes on with the quoted field, as libcsv reads them by default. */
    csv_init(&c->p, 0);
    csv_set_delim(&c->p, (unsigned char)d);
    csv_set_quote(&c->p, (unsigned char)q);
    csv_set_space_func(&c->p, never_space);
    csv_set_realloc_func(&c->p, xrealloc); /* out of memory aborts, as everywhere in trawl */
    csv_set_blk_size(&c->p, CSV_BLK);

    for (;;) {
        ssize_t k = feed_src_read(src, c->buf, sizeof c->buf, e);
        if (k < 0) {
            rc = (int)k;
            goto out;
        }
        if (k == 0)
            break;
        rc = feed_chunk(c, c->buf, (size_t)k);
        if (rc)
            goto out;
    }
    /* the end: the last row may have no line break; a quoted field may never have ended */
    csv_set_opts(&c->p, CSV_STRICT | CSV_STRICT_FINI);
    if (csv_fini(&c->p, on_field, on_row, c) != 0) {
        rc = err_set(e, TRAWL_EINVAL, false, "unterminated quoted field that starts on line %lld",
                     (long long)c->field_line);
        goto out;
    }
    if (c->rc) {
        rc = c->rc;
        goto out;
    }
    if (c->row_done) {
        rc = end_row(c);
        if (rc)
            goto out;
    }
    rc = begin(c);
out:
    csv_free(&c->p);
    feed_rec_release(&c->rec);
    strs_release(&c->first);
    strs_release(&c->cols);
    free(c);
    return rc;
}
