/* Field detection: each value kind on its own (GTIN check digits, prices with currencies, dates,
 * image URLs), a field's type from a sample with a few stray values, and the mappings a
 * Merchant feed, a German CSV and an NDJSON export suggest, which the tests know are right. */
#include "parse/feed_detect.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Records of ncols named columns from rows of values (NULL: the field is absent). */
static struct feed_sample *sample_of(const char *const *cols, int ncols, const char *const *rows,
                                     int nrows)
{
    struct feed_sample *s = feed_sample_new(0);
    for (int r = 0; r < nrows; r++) {
        struct feed_field f[16];
        size_t n = 0;
        for (int c = 0; c < ncols; c++) {
            const char *v = rows[r * ncols + c];
            if (!v)
                continue;
            f[n++] = (struct feed_field){.name = cols[c], .value = v, .len = strlen(v)};
        }
        struct feed_record rec = {.number = r + 1, .fields = f, .nfields = n};
        feed_sample_add(s, &rec);
    }
    return s;
}

static const struct feed_field_info *field(const struct feed_field_info *f, size_t n,
                                           const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return &f[i];
    cr_assert_fail("no field %s", name);
    return NULL;
}

static const struct feed_mapping *mapping(const struct feed_mapping *m, size_t n,
                                          const char *target)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].target, target) == 0)
            return &m[i];
    return NULL;
}

Test(feed_detect, gtin_check_digits)
{
    cr_assert(feed_gtin_valid("4006381333931", 13), "an EAN-13 with its right check digit");
    cr_assert_not(feed_gtin_valid("4006381333932", 13), "the same with a wrong check digit");
    cr_assert(feed_gtin_valid("036000291452", 12), "a UPC-A");
    cr_assert(feed_gtin_valid("96385074", 8), "an EAN-8");
    cr_assert(feed_gtin_valid("00012345600012", 14), "a GTIN-14");
    cr_assert_not(feed_gtin_valid("400638133393", 12), "12 digits whose last is not a check digit");
    cr_assert_not(feed_gtin_valid("40063813339a1", 13));
    cr_assert_not(feed_gtin_valid("1234567", 7));
}

Test(feed_detect, types_from_values_with_a_few_strays)
{
    const char *cols[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"};
    /* 20 rows; column g has one stray in 20 (95%: still decimal), h two blank */
    const char *rows[20 * 9];
    char dec[20][32];
    for (int r = 0; r < 20; r++) {
        snprintf(dec[r], sizeof dec[r], "%d.%02d", r + 1, r);
        const char *row[9] = {
            r % 2 ? "true" : "false",
            r % 3 ? "42" : "-7",
            "4006381333931",
            r % 2 ? "19,99 \xe2\x82\xac" : "5.00 EUR",
            "2026-12-07T10:00:00Z",
            "https://shop.example/img/p1.jpg?w=800",
            r == 5 ? "n/a" : dec[r],
            r < 2 ? "" : "https://shop.example/p/1",
            r % 4 == 0   ? "red"
            : r % 4 == 1 ? "blue"
            : r % 4 == 2 ? "green"
                         : "red",
        };
        memcpy(&rows[r * 9], row, sizeof row);
    }
    struct feed_sample *s = sample_of(cols, 9, rows, 20);
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    cr_assert_eq(n, 9);
    cr_assert_eq(field(f, n, "a")->type, FEED_T_BOOLEAN);
    cr_assert_eq(field(f, n, "b")->type, FEED_T_INTEGER);
    cr_assert_eq(field(f, n, "c")->type, FEED_T_GTIN);
    cr_assert_eq(field(f, n, "d")->type, FEED_T_PRICE, "%s",
                 feed_type_name(field(f, n, "d")->type));
    cr_assert_str_eq(field(f, n, "d")->currency, "EUR", "€ and EUR are both euros");
    cr_assert_eq(field(f, n, "e")->type, FEED_T_DATE);
    cr_assert_eq(field(f, n, "f")->type, FEED_T_IMAGE_URL);
    cr_assert_eq(field(f, n, "g")->type, FEED_T_DECIMAL, "one stray in 20 keeps the type");
    cr_assert_float_eq(field(f, n, "g")->type_rate, 0.95, 1e-9);
    cr_assert_eq(field(f, n, "h")->type, FEED_T_URL);
    cr_assert_float_eq(field(f, n, "h")->fill_rate, 0.9, 1e-9, "two blanks in 20");
    cr_assert_eq(field(f, n, "i")->type, FEED_T_ENUM);
    cr_assert_eq(field(f, n, "i")->distinct, 3);
    cr_assert_str_eq(field(f, n, "i")->examples[0], "red");
    feed_fields_free(f, n);
    feed_sample_free(s);
}

Test(feed_detect, a_merchant_feed_maps_onto_the_product_record)
{
    const char *cols[] = {"g:id",
                          "title",
                          "description",
                          "link",
                          "g:image_link",
                          "g:additional_image_link",
                          "g:price",
                          "g:availability",
                          "g:brand",
                          "g:gtin",
                          "g:color",
                          "g:material",
                          "g:google_product_category"};
    const char *rows[12 * 13];
    static char ids[12][16], gtins[12][16], titles[12][32];
    const char *gt[] = {"4006381333931", "036000291452", "96385074", "00012345600012"};
    const char *avail[] = {"in_stock", "out_of_stock", "preorder"};
    const char *colors[] = {"Black", "White", "Oak"};
    for (int r = 0; r < 12; r++) {
        snprintf(ids[r], sizeof ids[r], "SKU-%03d", r);
        snprintf(gtins[r], sizeof gtins[r], "%s", gt[r % 4]);
        snprintf(titles[r], sizeof titles[r], "Chair model %d", r);
        const char *row[13] = {ids[r],
                               titles[r],
                               "A chair of solid oak with a woven seat.",
                               "https://shop.example/p/chair",
                               "https://cdn.example/chair.jpg",
                               "https://cdn.example/chair-2.png",
                               "129.00 EUR",
                               avail[r % 3],
                               r % 2 ? "Nordic" : "Acme",
                               gtins[r],
                               colors[r % 3],
                               r % 2 ? "oak" : "beech",
                               "Furniture > Chairs"};
        memcpy(&rows[r * 13], row, sizeof row);
    }
    struct feed_sample *s = sample_of(cols, 13, rows, 12);
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    struct feed_mapping *m;
    size_t nm = feed_suggest(f, n, &m);
    struct {
        const char *target, *source;
    } want[] = {{"name", "title"},
                {"sku", "g:id"},
                {"gtin", "g:gtin"},
                {"brand", "g:brand"},
                {"material", "g:material"},
                {"color", "g:color"},
                {"price", "g:price"},
                {"currency", "g:price"},
                {"availability", "g:availability"},
                {"images", "g:image_link"},
                {"category", "g:google_product_category"},
                {"url", "link"},
                {"description", "description"}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const struct feed_mapping *mp = mapping(m, nm, want[i].target);
        cr_assert_not_null(mp, "no mapping for %s", want[i].target);
        cr_assert_str_eq(mp->sources[0], want[i].source, "%s <- %s (%s)", want[i].target,
                         mp->sources[0], mp->reason);
        cr_assert_gt(mp->confidence, 0.5, "%s: %.2f (%s)", want[i].target, mp->confidence,
                     mp->reason);
        cr_assert_not_null(strstr(mp->reason, want[i].source), "the reason names the field: %s",
                           mp->reason);
    }
    const struct feed_mapping *img = mapping(m, nm, "images");
    cr_assert_str_eq(img->sources[1], "g:additional_image_link", "images from both fields");
    cr_assert_null(mapping(m, nm, "dimensions"), "nothing in the feed is a dimension");
    cr_assert_not_null(strstr(mapping(m, nm, "currency")->reason, "EUR"));
    feed_mappings_free(m, nm);
    feed_fields_free(f, n);
    feed_sample_free(s);
}

Test(feed_detect, german_headers_and_a_gtin_under_another_name)
{
    const char *cols[] = {"Artikelnummer", "Bezeichnung", "Hersteller",  "Preis",
                          "Farbe",         "Nummer",      "Abmessungen", "Beschreibung"};
    const char *rows[10 * 8];
    for (int r = 0; r < 10; r++) {
        const char *row[8] = {r % 2 ? "A-1001" : "A-1002",
                              "Stuhl Eiche",
                              "Möbelwerk",
                              "129,90",
                              r % 2 ? "Natur" : "Schwarz",
                              "4006381333931",
                              "45 x 50 x 90 cm",
                              "Ein Stuhl aus massiver Eiche."};
        memcpy(&rows[r * 8], row, sizeof row);
    }
    struct feed_sample *s = sample_of(cols, 8, rows, 10);
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    struct feed_mapping *m;
    size_t nm = feed_suggest(f, n, &m);
    cr_assert_str_eq(mapping(m, nm, "sku")->sources[0], "Artikelnummer");
    cr_assert_str_eq(mapping(m, nm, "name")->sources[0], "Bezeichnung");
    cr_assert_str_eq(mapping(m, nm, "brand")->sources[0], "Hersteller");
    cr_assert_str_eq(mapping(m, nm, "price")->sources[0], "Preis");
    cr_assert_str_eq(mapping(m, nm, "color")->sources[0], "Farbe");
    cr_assert_str_eq(mapping(m, nm, "dimensions")->sources[0], "Abmessungen");
    cr_assert_str_eq(mapping(m, nm, "description")->sources[0], "Beschreibung");
    const struct feed_mapping *g = mapping(m, nm, "gtin");
    cr_assert_not_null(g, "valid check digits make a GTIN whatever the column is called");
    cr_assert_str_eq(g->sources[0], "Nummer");
    cr_assert_lt(g->confidence, mapping(m, nm, "price")->confidence,
                 "by its values alone: less sure than by name and values");
    cr_assert_null(mapping(m, nm, "currency"), "the price carries no currency");
    feed_mappings_free(m, nm);
    feed_fields_free(f, n);
    feed_sample_free(s);
}

Test(feed_detect, a_name_whose_values_do_not_fit_is_doubted)
{
    const char *cols[] = {"ean", "url"};
    const char *rows[] = {"12345", "not a link", "67890", "also not", "11111", "nope"};
    struct feed_sample *s = sample_of(cols, 2, rows, 3);
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    struct feed_mapping *m;
    size_t nm = feed_suggest(f, n, &m);
    const struct feed_mapping *g = mapping(m, nm, "gtin");
    cr_assert(!g || g->confidence < 0.5, "5-digit numbers are no GTIN: %.2f",
              g ? g->confidence : 0);
    const struct feed_mapping *u = mapping(m, nm, "url");
    cr_assert(!u || u->confidence < 0.5, "text is no URL");
    if (u)
        cr_assert_not_null(strstr(u->reason, "not what it should hold"), "%s", u->reason);
    feed_mappings_free(m, nm);
    feed_fields_free(f, n);
    feed_sample_free(s);
}

Test(feed_detect, nested_json_names_and_repeated_fields)
{
    /* what the JSON reader makes of {"id":..,"price":{"amount":..,"currency":..},"images":[..]} */
    struct feed_sample *s = feed_sample_new(0);
    for (int r = 0; r < 5; r++) {
        struct feed_field fl[] = {
            {.name = "id", .value = "P1", .len = 2},
            {.name = "price.amount", .value = "12.50", .len = 5},
            {.name = "price.currency", .value = "USD", .len = 3},
            {.name = "images", .value = "https://x.example/a.webp", .len = 24},
            {.name = "images", .value = "https://x.example/b.webp", .len = 24},
        };
        struct feed_record rec = {.number = r + 1, .fields = fl, .nfields = 5};
        feed_sample_add(s, &rec);
    }
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    cr_assert_eq(n, 4, "images once, however often a record holds it");
    cr_assert(field(f, n, "images")->repeated);
    cr_assert_float_eq(field(f, n, "images")->fill_rate, 1.0, 1e-9);
    struct feed_mapping *m;
    size_t nm = feed_suggest(f, n, &m);
    cr_assert_str_eq(mapping(m, nm, "price")->sources[0], "price.amount");
    cr_assert_str_eq(mapping(m, nm, "currency")->sources[0], "price.currency");
    cr_assert_str_eq(mapping(m, nm, "images")->sources[0], "images");
    feed_mappings_free(m, nm);
    feed_fields_free(f, n);
    feed_sample_free(s);
}

Test(feed_detect, the_sample_stops_at_its_size)
{
    struct feed_sample *s = feed_sample_new(3);
    struct feed_field fl = {.name = "x", .value = "1", .len = 1};
    struct feed_record rec = {.fields = &fl, .nfields = 1};
    cr_assert(feed_sample_add(s, &rec));
    cr_assert(feed_sample_add(s, &rec));
    cr_assert_not(feed_sample_add(s, &rec), "the third fills it");
    cr_assert_not(feed_sample_add(s, &rec));
    struct feed_field_info *f;
    size_t n = feed_sample_fields(s, &f);
    cr_assert_eq(f[0].present, 3);
    feed_fields_free(f, n);
    feed_sample_free(s);
}

/* feed_price_parse of s: whether it is a price, its amount and its code. */
static void price_is(const char *s, double amount, const char *code)
{
    double got = -1;
    char c[4] = "XXX";
    cr_assert(feed_price_parse(s, strlen(s), &got, c), "\"%s\" is a price", s);
    cr_assert(fabs(got - amount) <= 1e-9 * fmax(1, fabs(amount)), "\"%s\": %.17g, expected %.17g",
              s, got, amount);
    cr_assert_str_eq(c, code, "\"%s\"'s currency", s);
}

static void not_a_price(const char *s)
{
    double got = 0;
    char c[4];
    cr_assert_not(feed_price_parse(s, strlen(s), &got, c), "\"%s\" is not a price: %g", s, got);
}

Test(feed_detect, prices_as_feeds_write_them)
{
    price_is("12.99", 12.99, "");
    price_is("12,99", 12.99, "");
    price_is("1.299,00", 1299, "");
    price_is("1,299.00", 1299, "");
    price_is("1.299", 1299, ""); /* a lone separator before three digits groups thousands */
    price_is("1,299", 1299, "");
    price_is("0.299", 0.299, ""); /* unless the integer part is 0 */
    price_is("0,299", 0.299, "");
    price_is("1.299.000,50", 1299000.5, "");
    price_is("1,299,000", 1299000, "");
    price_is("12.5", 12.5, "");
    price_is("7", 7, "");
    price_is("0", 0, "");
    price_is("  7  ", 7, "");
    price_is("EUR 12,50", 12.5, "EUR");
    price_is("12.50 USD", 12.5, "USD");
    price_is("$5", 5, "USD");
    price_is("12,99 \xe2\x82\xac", 12.99, "EUR");
    price_is("\xc2\xa3"
             "3.20",
             3.2, "GBP");
    price_is("Fr. 9.90", 9.9, "CHF");
    price_is("99 kr", 99, "SEK");
    price_is("99999999999999999999", 1e20, ""); /* past 64 bits, but a double holds it */
    /* n bytes of s, not up to its NUL */
    double got = 0;
    char c[4];
    cr_assert(feed_price_parse("12.99 and more", 5, &got, c));
    cr_assert_float_eq(got, 12.99, 1e-9);
    cr_assert_not(feed_price_parse("12.99", 0, &got, c), "no bytes");
}

Test(feed_detect, what_is_not_a_price)
{
    not_a_price("");
    not_a_price("   ");
    not_a_price("abc");
    not_a_price("call us");
    not_a_price("EUR");
    not_a_price("$");
    not_a_price("12.");
    not_a_price(".5");
    not_a_price("1e5");
    not_a_price("0x10");
    not_a_price("12 34");
    not_a_price("12.99 EUR extra");
    not_a_price("12.99.x");
    not_a_price("EUR EUR 5");
    /* past what a double holds: not a price, rather than an amount of inf */
    char huge[420];
    memset(huge, '9', 400);
    huge[400] = 0;
    not_a_price(huge);
    strcpy(huge + 400, ",50 EUR");
    not_a_price(huge);
}
