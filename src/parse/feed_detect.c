/* Field detection for product feeds: each value of a sample is classified (boolean, integer,
 * GTIN, price, date, URL, ...), a field's type is the one nearly all its values share, and the
 * mappings onto the product record weigh what a field is called against what it holds. */
#include "parse/feed_detect.h"

#include "base/xalloc.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DISTINCT_MAX 1000 /* distinct values remembered per field */
#define TYPE_SHARE   0.9  /* of the non-empty values, what a field's type must hold */
#define ENUM_MAX     30   /* distinct values an enumeration has at most */

const char *const feed_targets[] = {"name",   "sku",        "gtin",  "brand",      "material",
                                    "color",  "dimensions", "price", "currency",   "availability",
                                    "images", "category",   "url",   "description"};
const size_t feed_ntargets = sizeof feed_targets / sizeof *feed_targets;

const char *feed_type_name(enum feed_type t)
{
    static const char *const names[] = {"empty",     "boolean",     "integer", "decimal",
                                        "price",     "gtin",        "date",    "url",
                                        "image_url", "enumeration", "text"};
    return t >= 0 && t <= FEED_T_TEXT ? names[t] : "text";
}

/* ---- one value ---- */

int feed_gtin_valid(const char *s, size_t len)
{
    if (len != 8 && len != 12 && len != 13 && len != 14)
        return 0;
    int sum = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (i == len - 1)
            break;
        /* from the right, past the check digit, weights 3, 1, 3, ... */
        size_t from_right = len - 1 - i;
        sum += (s[i] - '0') * (from_right % 2 ? 3 : 1);
    }
    return (10 - sum % 10) % 10 == s[len - 1] - '0';
}

static bool is_digits(const char *s, size_t n)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* An integer: an optional sign, then digits without a leading zero (a code such as "007" is
 * text: its zeros matter). */
static bool is_integer(const char *s, size_t n)
{
    if (n && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    return is_digits(s, n) && (n == 1 || s[0] != '0') && n <= 18;
}

/* A decimal: digits with one '.' or ',' between them, and optionally thousands grouped by the
 * other ("1,299.00", "1.299,00"). */
static bool is_decimal(const char *s, size_t n)
{
    if (n && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    if (!n)
        return false;
    size_t digits = 0, seps = 0, last_sep = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digits++;
        } else if (s[i] == '.' || s[i] == ',') {
            if (i == 0 || i == n - 1)
                return false;
            seps++;
            last_sep = i;
        } else {
            return false;
        }
    }
    return digits > 0 && seps >= 1 && seps <= 3 && n - last_sep - 1 <= 4;
}

struct currency {
    const char *sym, *code;
};

static const struct currency currencies[] = {
    {"EUR", "EUR"},          {"USD", "USD"}, {"GBP", "GBP"},      {"CHF", "CHF"},
    {"SEK", "SEK"},          {"NOK", "NOK"}, {"DKK", "DKK"},      {"PLN", "PLN"},
    {"CZK", "CZK"},          {"JPY", "JPY"}, {"CAD", "CAD"},      {"AUD", "AUD"},
    {"\xe2\x82\xac", "EUR"}, {"$", "USD"},   {"\xc2\xa3", "GBP"}, {"\xc2\xa5", "JPY"},
    {"Fr.", "CHF"},          {"kr", "SEK"},
};

/* A price: a decimal or integer with a currency code or symbol before or after it. *code gets
 * the currency's ISO code. */
static bool is_price(const char *s, size_t n, const char **code)
{
    for (size_t c = 0; c < sizeof currencies / sizeof *currencies; c++) {
        size_t k = strlen(currencies[c].sym);
        const char *num = NULL;
        size_t nn = 0;
        if (n > k && memcmp(s, currencies[c].sym, k) == 0) {
            num = s + k;
            nn = n - k;
        } else if (n > k && memcmp(s + n - k, currencies[c].sym, k) == 0) {
            num = s;
            nn = n - k;
        } else {
            continue;
        }
        while (nn && *num == ' ') {
            num++;
            nn--;
        }
        while (nn && num[nn - 1] == ' ')
            nn--;
        if (is_decimal(num, nn) || is_integer(num, nn)) {
            *code = currencies[c].code;
            return true;
        }
    }
    return false;
}

/* The number of a decimal or integer (is_decimal, is_integer): the last separator is the decimal
 * point, except a lone one before three digits of a number not starting "0" (thousands). */
static double number_of(const char *s, size_t n)
{
    size_t last = n, seps = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '.' || s[i] == ',') {
            last = i;
            seps++;
        }
    bool neg = n && s[0] == '-';
    size_t i0 = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (seps == 1 && n - last - 1 == 3 && !(last - i0 == 1 && s[i0] == '0'))
        last = n; /* "1,299": grouping, not a decimal point */
    else if (seps > 1 && s[last] == s[i0 + strcspn(s + i0, ".,")])
        last = n; /* "1,299,000": the same separator throughout groups */
    double v = 0, scale = 1;
    for (size_t i = i0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            continue;
        if (i > last) {
            scale /= 10;
            v += (s[i] - '0') * scale;
        } else {
            v = v * 10 + (s[i] - '0');
        }
    }
    return neg ? -v : v;
}

int feed_price_parse(const char *s, size_t n, double *amount, char code[4])
{
    const char *num = s;
    size_t nn = n;
    code[0] = 0;
    while (nn && isspace((unsigned char)*num)) {
        num++;
        nn--;
    }
    while (nn && isspace((unsigned char)num[nn - 1]))
        nn--;
    for (size_t c = 0; c < sizeof currencies / sizeof *currencies; c++) {
        size_t k = strlen(currencies[c].sym);
        if (nn > k && memcmp(num, currencies[c].sym, k) == 0) {
            num += k;
            nn -= k;
        } else if (nn > k && memcmp(num + nn - k, currencies[c].sym, k) == 0) {
            nn -= k;
        } else {
            continue;
        }
        memcpy(code, currencies[c].code, 4);
        while (nn && *num == ' ') {
            num++;
            nn--;
        }
        while (nn && num[nn - 1] == ' ')
            nn--;
        break;
    }
    if (!is_decimal(num, nn) && !is_integer(num, nn) && !(nn == 1 && *num == '0') &&
        !(nn > 1 && is_digits(num, nn)))
        return 0;
    /* hundreds of digits overflow to inf, which a product's JSON cannot hold */
    double v = number_of(num, nn);
    if (!isfinite(v))
        return 0;
    *amount = v;
    return 1;
}

static bool digits_at(const char *s, size_t n)
{
    return is_digits(s, n);
}

/* A date: YYYY-MM-DD (with an optional time), DD.MM.YYYY or DD/MM/YYYY. */
static bool is_date(const char *s, size_t n)
{
    if (n >= 10 && digits_at(s, 4) && s[4] == '-' && digits_at(s + 5, 2) && s[7] == '-' &&
        digits_at(s + 8, 2)) {
        int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
        if (mo < 1 || mo > 12 || d < 1 || d > 31)
            return false;
        return n == 10 || s[10] == 'T' || s[10] == ' ';
    }
    if (n == 10 && digits_at(s, 2) && (s[2] == '.' || s[2] == '/') && digits_at(s + 3, 2) &&
        s[5] == s[2] && digits_at(s + 6, 4)) {
        int a = (s[0] - '0') * 10 + (s[1] - '0'), b = (s[3] - '0') * 10 + (s[4] - '0');
        return a >= 1 && a <= 31 && b >= 1 && b <= 31 && (a <= 12 || b <= 12);
    }
    return false;
}

bool feed_is_http_url(const char *s, size_t n)
{
    return (n > 8 && strncasecmp(s, "https://", 8) == 0) ||
           (n > 7 && strncasecmp(s, "http://", 7) == 0);
}

/* A URL whose path ends in an image's extension (before any query). */
static bool is_image_url(const char *s, size_t n)
{
    static const char *const ext[] = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".svg"};
    size_t end = n;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '?' || s[i] == '#') {
            end = i;
            break;
        }
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
        size_t k = strlen(ext[i]);
        if (end > k && strncasecmp(s + end - k, ext[i], k) == 0)
            return true;
    }
    return false;
}

static bool is_boolean(const char *s, size_t n)
{
    static const char *const words[] = {"true", "false", "yes", "no", "y", "n", "0", "1"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
            return true;
    return false;
}

enum { K_BOOL, K_INT, K_DEC, K_PRICE, K_GTIN, K_DATE, K_URL, K_IMAGE, K_COUNT };

/* Which kinds a value is (several at once: "1" is boolean and integer). */
static unsigned kinds(const char *s, size_t n, const char **code)
{
    unsigned k = 0;
    if (is_boolean(s, n))
        k |= 1u << K_BOOL;
    if (is_integer(s, n))
        k |= 1u << K_INT;
    if (is_decimal(s, n) || is_integer(s, n))
        k |= 1u << K_DEC;
    if (is_price(s, n, code))
        k |= 1u << K_PRICE;
    if (feed_gtin_valid(s, n))
        k |= 1u << K_GTIN;
    if (is_date(s, n))
        k |= 1u << K_DATE;
    if (feed_is_http_url(s, n)) {
        k |= 1u << K_URL;
        if (is_image_url(s, n))
            k |= 1u << K_IMAGE;
    }
    return k;
}

/* ---- the sample ---- */

struct field_acc {
    char *name;
    int64_t present, nonempty_seen, last_record, last_present;
    int64_t chars; /* of the non-empty values */
    int64_t kind[K_COUNT];
    char **distinct;
    size_t ndistinct;
    bool distinct_full;
    int repeated;
    /* currencies seen with prices, by code */
    const char *cur[8];
    int64_t cur_n[8];
};

struct feed_sample {
    size_t max;
    int64_t records;
    struct field_acc *f;
    size_t n, cap;
};

struct feed_sample *feed_sample_new(size_t max)
{
    struct feed_sample *s = xcalloc(1, sizeof *s);
    s->max = max ? max : FEED_SAMPLE_DEFAULT;
    return s;
}

void feed_sample_free(struct feed_sample *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->f[i].name);
        for (size_t k = 0; k < s->f[i].ndistinct; k++)
            free(s->f[i].distinct[k]);
        free(s->f[i].distinct);
    }
    free(s->f);
    free(s);
}

static struct field_acc *acc_of(struct feed_sample *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].name, name) == 0)
            return &s->f[i];
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->f = xrealloc(s->f, s->cap * sizeof *s->f);
    }
    struct field_acc *a = &s->f[s->n++];
    memset(a, 0, sizeof *a);
    a->name = xstrdup(name);
    a->last_record = a->last_present = -1;
    return a;
}

/* Trim ASCII white space: values are judged as a person reads them. */
static void trimmed(const char *v, size_t len, const char **s, size_t *n)
{
    while (len && isspace((unsigned char)*v)) {
        v++;
        len--;
    }
    while (len && isspace((unsigned char)v[len - 1]))
        len--;
    *s = v;
    *n = len;
}

static void remember(struct field_acc *a, const char *v, size_t n)
{
    if (a->distinct_full)
        return;
    for (size_t i = 0; i < a->ndistinct; i++)
        if (strlen(a->distinct[i]) == n && memcmp(a->distinct[i], v, n) == 0)
            return;
    if (a->ndistinct == DISTINCT_MAX) {
        a->distinct_full = true;
        return;
    }
    if (a->ndistinct % 16 == 0)
        a->distinct = xrealloc(a->distinct, (a->ndistinct + 16) * sizeof *a->distinct);
    size_t k = n > 200 ? 200 : n;
    char *copy = xmalloc(k + 1);
    memcpy(copy, v, k);
    copy[k] = 0;
    a->distinct[a->ndistinct++] = copy;
}

int feed_sample_add(struct feed_sample *s, const struct feed_record *r)
{
    if ((size_t)s->records >= s->max)
        return 0;
    int64_t rec = s->records++;
    for (size_t i = 0; i < r->nfields; i++) {
        struct field_acc *a = acc_of(s, r->fields[i].name);
        const char *v;
        size_t n;
        trimmed(r->fields[i].value, r->fields[i].len, &v, &n);
        if (a->last_record == rec)
            a->repeated = 1;
        a->last_record = rec;
        if (!n)
            continue;
        if (a->last_present != rec) {
            a->present++;
            a->last_present = rec;
        }
        a->nonempty_seen++;
        a->chars += (int64_t)n;
        const char *code = NULL;
        unsigned k = kinds(v, n, &code);
        for (int b = 0; b < K_COUNT; b++)
            if (k & (1u << b))
                a->kind[b]++;
        if (code) {
            for (int c = 0; c < 8; c++) {
                if (!a->cur[c] || strcmp(a->cur[c], code) == 0) {
                    a->cur[c] = code;
                    a->cur_n[c]++;
                    break;
                }
            }
        }
        remember(a, v, n);
    }
    return (size_t)s->records < s->max;
}

/* The type nearly every value of a shares, the most specific first. */
static enum feed_type type_of(const struct field_acc *a, double *share)
{
    *share = 1;
    if (!a->nonempty_seen)
        return FEED_T_EMPTY;
    double n = (double)a->nonempty_seen;
    static const struct {
        int kind;
        enum feed_type type;
    } order[] = {{K_GTIN, FEED_T_GTIN},       {K_BOOL, FEED_T_BOOLEAN}, {K_INT, FEED_T_INTEGER},
                 {K_DEC, FEED_T_DECIMAL},     {K_PRICE, FEED_T_PRICE},  {K_DATE, FEED_T_DATE},
                 {K_IMAGE, FEED_T_IMAGE_URL}, {K_URL, FEED_T_URL}};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        double sh = (double)a->kind[order[i].kind] / n;
        /* 0/1 alone is boolean; other integers are integers */
        if (order[i].type == FEED_T_BOOLEAN && a->ndistinct > 2)
            continue;
        if (sh >= TYPE_SHARE) {
            *share = sh;
            return order[i].type;
        }
    }
    if (!a->distinct_full && a->ndistinct <= ENUM_MAX && a->nonempty_seen >= 10 &&
        (double)a->ndistinct <= n / 3 && a->chars / a->nonempty_seen <= 40) {
        *share = 1;
        return FEED_T_ENUM;
    }
    return FEED_T_TEXT;
}

size_t feed_sample_fields(const struct feed_sample *s, struct feed_field_info **out)
{
    *out = xcalloc(s->n ? s->n : 1, sizeof **out);
    for (size_t i = 0; i < s->n; i++) {
        const struct field_acc *a = &s->f[i];
        struct feed_field_info *f = &(*out)[i];
        f->name = xstrdup(a->name);
        f->type = type_of(a, &f->type_rate);
        f->present = a->present;
        f->fill_rate = s->records ? (double)a->present / (double)s->records : 0;
        f->distinct = (int64_t)a->ndistinct;
        f->repeated = a->repeated;
        for (size_t k = 0; k < FEED_EXAMPLES && k < a->ndistinct; k++)
            f->examples[k] = xstrdup(a->distinct[k]);
        if (f->type == FEED_T_PRICE) {
            int best = 0;
            for (int c = 1; c < 8 && a->cur[c]; c++)
                if (a->cur_n[c] > a->cur_n[best])
                    best = c;
            f->currency = a->cur[best] ? xstrdup(a->cur[best]) : NULL;
        }
    }
    return s->n;
}

void feed_fields_free(struct feed_field_info *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++) {
        free(f[i].name);
        free(f[i].currency);
        for (int k = 0; k < FEED_EXAMPLES; k++)
            free(f[i].examples[k]);
    }
    free(f);
}

/* ---- mappings ---- */

/* What each target is called in feeds (lowercase; compared without '_', '-', ' ' and the
 * namespace prefix), in English, German and French, and the types its values may have. */
struct target_rule {
    const char *target;
    const char *names[12];
    unsigned types; /* 1 << enum feed_type */
};

#define T(x) (1u << (x))

static const struct target_rule rules[] = {
    {"name",
     {"name", "title", "productname", "producttitle", "bezeichnung", "produktname", "artikelname",
      "nom", "titre", "designation"},
     T(FEED_T_TEXT)},
    {"sku",
     {"sku", "id", "articlenumber", "artikelnummer", "artnr", "itemnumber", "productid", "mpn",
      "reference", "ref", "code"},
     T(FEED_T_TEXT) | T(FEED_T_INTEGER) | T(FEED_T_ENUM)},
    {"gtin",
     {"gtin", "ean", "upc", "barcode", "ean13", "gtin13", "isbn", "eancode"},
     T(FEED_T_GTIN)},
    {"brand",
     {"brand", "manufacturer", "marke", "hersteller", "marque", "fabricant", "vendor"},
     T(FEED_T_TEXT) | T(FEED_T_ENUM)},
    {"material",
     {"material", "materials", "werkstoff", "matiere", "fabric", "composition"},
     T(FEED_T_TEXT) | T(FEED_T_ENUM)},
    {"color", {"color", "colour", "farbe", "couleur"}, T(FEED_T_TEXT) | T(FEED_T_ENUM)},
    {"dimensions",
     {"dimensions", "size", "abmessungen", "masse", "groesse", "taille", "measurements"},
     T(FEED_T_TEXT) | T(FEED_T_ENUM)},
    {"price",
     {"price", "saleprice", "preis", "prix", "amount", "cost", "listprice", "vkpreis"},
     T(FEED_T_PRICE) | T(FEED_T_DECIMAL) | T(FEED_T_INTEGER)},
    {"currency",
     {"currency", "waehrung", "wahrung", "devise", "currencycode"},
     T(FEED_T_ENUM) | T(FEED_T_TEXT)},
    {"availability",
     {"availability", "stock", "instock", "available", "verfuegbarkeit", "lieferbar",
      "disponibilite", "stockstatus", "lagerbestand"},
     T(FEED_T_BOOLEAN) | T(FEED_T_ENUM) | T(FEED_T_INTEGER)},
    {"images",
     {"imagelink", "image", "images", "additionalimagelink", "imageurl", "picture", "bild",
      "bilder", "photo", "img"},
     T(FEED_T_IMAGE_URL) | T(FEED_T_URL)},
    {"category",
     {"category", "productcategory", "producttype", "googleproductcategory", "kategorie",
      "categorie", "warengruppe", "categorypath"},
     T(FEED_T_TEXT) | T(FEED_T_ENUM)},
    {"url", {"url", "link", "producturl", "deeplink", "producturl", "lien"}, T(FEED_T_URL)},
    {"description",
     {"description", "desc", "beschreibung", "longdescription", "body", "details", "summary"},
     T(FEED_T_TEXT)},
};

/* The field's own name for matching: its last path segment without a namespace prefix or an
 * attribute, lowercased, without '_', '-', '.', ' '. *nested says it was inside another. */
static void key_of(const char *name, char *out, size_t cap, bool *nested)
{
    const char *p = name, *last = name;
    *nested = false;
    for (; *p; p++)
        if (*p == '/' || *p == '.') {
            last = p + 1;
            *nested = true;
        }
    const char *colon = strchr(last, ':');
    if (colon)
        last = colon + 1;
    size_t k = 0;
    for (p = last; *p && *p != '@' && k + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '_' || c == '-' || c == ' ')
            continue;
        out[k++] = (char)tolower(c);
    }
    out[k] = 0;
}

/* How well field f fits rule r: 0 (not at all) to 1, and why. */
static double fit(const struct target_rule *r, const struct feed_field_info *f, char *why,
                  size_t cap)
{
    char key[128];
    bool nested;
    key_of(f->name, key, sizeof key, &nested);
    double name_score = 0;
    const char *how = "";
    for (int i = 0; i < 12 && r->names[i]; i++) {
        if (strcmp(key, r->names[i]) == 0) {
            name_score = i == 0 ? 1.0 : 0.9;
            how = "its name is a word for";
            break;
        }
        if (!name_score && strlen(r->names[i]) >= 4 && strstr(key, r->names[i])) {
            name_score = 0.6;
            how = "its name contains a word for";
        }
    }
    if (name_score && nested)
        name_score *= 0.8;
    /* an enumeration is text of few values: where text goes, it may too */
    bool type_ok =
        (r->types & T(f->type)) != 0 || (f->type == FEED_T_ENUM && (r->types & T(FEED_T_TEXT)));
    double type_score = type_ok ? f->type_rate : 0;
    /* values alone can identify a GTIN, an image URL or a price even under another name */
    bool by_values =
        f->type == FEED_T_GTIN || f->type == FEED_T_IMAGE_URL || f->type == FEED_T_PRICE;
    if (!name_score && !(by_values && type_ok))
        return 0;
    if (!type_ok && f->type != FEED_T_EMPTY && f->type != FEED_T_TEXT)
        return 0; /* the name says price, the values are URLs: not a price */
    double score = 0.55 * name_score + 0.35 * type_score + 0.10 * f->fill_rate;
    if (!name_score)
        score = 0.15 + 0.35 * type_score + 0.10 * f->fill_rate;
    else if (!type_ok)
        score = 0.3 * name_score; /* a name that fits, values that do not: ask a person */
    char values[96];
    if (f->type == FEED_T_PRICE && f->currency)
        snprintf(values, sizeof values, "%.0f%% prices in %s", f->type_rate * 100, f->currency);
    else
        snprintf(values, sizeof values, "%.0f%% %s", f->type_rate * 100, feed_type_name(f->type));
    if (name_score)
        snprintf(why, cap, "%s: %s %s; its values: %s%s; filled in %.0f%% of the sample", f->name,
                 how, r->target, values,
                 type_ok || f->type == FEED_T_EMPTY ? "" : ", not what it should hold",
                 f->fill_rate * 100);
    else
        snprintf(why, cap, "%s: by its values alone: %s; filled in %.0f%% of the sample", f->name,
                 values, f->fill_rate * 100);
    return score > 1 ? 1 : score;
}

size_t feed_suggest(const struct feed_field_info *f, size_t n, struct feed_mapping **out)
{
    size_t nr = sizeof rules / sizeof *rules;
    *out = xcalloc(nr, sizeof **out);
    bool *used = xcalloc(n ? n : 1, sizeof *used);
    size_t m = 0;
    /* the targets whose values identify them best go first, so a GTIN column is not taken as
     * a sku before the gtin target sees it */
    static const char *const order[] = {
        "gtin",     "images",      "price", "url",      "name",       "sku",          "brand",
        "category", "description", "color", "material", "dimensions", "availability", "currency"};
    struct feed_mapping tmp[sizeof rules / sizeof *rules] = {{0}};
    for (size_t o = 0; o < sizeof order / sizeof *order; o++) {
        const struct target_rule *r = NULL;
        size_t ri = 0;
        for (; ri < nr; ri++)
            if (strcmp(rules[ri].target, order[o]) == 0) {
                r = &rules[ri];
                break;
            }
        double best = 0;
        size_t bi = 0;
        char why[512], best_why[512] = "";
        for (size_t i = 0; i < n; i++) {
            if (used[i])
                continue;
            double s = fit(r, &f[i], why, sizeof why);
            if (s > best) {
                best = s;
                bi = i;
                snprintf(best_why, sizeof best_why, "%s", why);
            }
        }
        if (best >= 0.3) {
            struct feed_mapping *mp = &tmp[ri];
            mp->target = r->target;
            mp->sources[0] = xstrdup(f[bi].name);
            mp->confidence = best;
            mp->reason = xstrdup(best_why);
            used[bi] = true;
            /* images: further image fields (additional_image_link) come along */
            for (size_t i = 0, k = 1;
                 strcmp(r->target, "images") == 0 && i < n && k < FEED_MAP_SOURCES; i++) {
                if (!used[i] && fit(r, &f[i], why, sizeof why) >= 0.3) {
                    mp->sources[k++] = xstrdup(f[i].name);
                    used[i] = true;
                }
            }
        }
    }
    /* the currency a price field carries in its values, when no field is one */
    size_t cur_i = 0, price_i = 0;
    for (size_t i = 0; i < nr; i++) {
        if (strcmp(rules[i].target, "currency") == 0)
            cur_i = i;
        if (strcmp(rules[i].target, "price") == 0)
            price_i = i;
    }
    if (!tmp[cur_i].target && tmp[price_i].target) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(f[i].name, tmp[price_i].sources[0]) == 0 && f[i].currency) {
                char why[512];
                snprintf(why, sizeof why, "the currency of %s's values: %s", f[i].name,
                         f[i].currency);
                tmp[cur_i].target = "currency";
                tmp[cur_i].sources[0] = xstrdup(f[i].name);
                tmp[cur_i].confidence = tmp[price_i].confidence * f[i].type_rate;
                tmp[cur_i].reason = xstrdup(why);
            }
        }
    }
    /* in feed_targets' order */
    for (size_t t = 0; t < feed_ntargets; t++)
        for (size_t i = 0; i < nr; i++)
            if (tmp[i].target && strcmp(tmp[i].target, feed_targets[t]) == 0)
                (*out)[m++] = tmp[i];
    free(used);
    return m;
}

void feed_mappings_free(struct feed_mapping *m, size_t n)
{
    if (!m)
        return;
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < FEED_MAP_SOURCES; k++)
            free(m[i].sources[k]);
        free(m[i].reason);
    }
    free(m);
}
