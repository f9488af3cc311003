/* Mappings of feed records onto the product record: the mapping JSON a user gives (each wrong key
 * named in its error), the suggested mapping's text read back as the same mapping, and records
 * applied: the product as JSON a receiver reads (trimmed, first source with a value, currency
 * from the price or the detection), and the row error of each record that is not a product. */
#include "base/utf8.h"
#include "parse/feed_map.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A record of pairs of name, value (NULL-terminated). */
struct rec {
    struct feed_field f[16];
    struct feed_record r;
};

static const struct feed_record *rec_of(struct rec *rc, const char *const *kv)
{
    size_t n = 0;
    for (; kv[2 * n]; n++)
        rc->f[n] = (struct feed_field){
            .name = kv[2 * n], .value = kv[2 * n + 1], .len = strlen(kv[2 * n + 1])};
    rc->r = (struct feed_record){.number = 1, .line = 2, .fields = rc->f, .nfields = n};
    return &rc->r;
}

static struct feed_map *map_ok(const char *json)
{
    struct feed_map *m;
    struct err e;
    err_clear(&e);
    cr_assert_eq(feed_map_parse(json, &m, &e), 0, "%s: %s", json, e.msg);
    cr_assert_not_null(m);
    return m;
}

/* The error feed_map_parse gives json: its code is TRAWL_EINVAL and *out NULL. */
static const char *map_error(const char *json)
{
    static struct err e;
    struct feed_map *m = (struct feed_map *)&e; /* not NULL: parse must clear it */
    err_clear(&e);
    cr_assert_eq(feed_map_parse(json, &m, &e), TRAWL_EINVAL, "%s", json ? json : "NULL");
    cr_assert_null(m, "%s: no map on an error", json ? json : "NULL");
    cr_assert(e.msg[0], "%s: the error says why", json ? json : "NULL");
    return e.msg;
}

/* Apply m to the record kv: the product as a JSON object (decref it), failing the test when the
 * record is not one. */
static json_t *product_of(const struct feed_map *m, const char *const *kv)
{
    struct rec rc;
    struct buf out;
    buf_init(&out, 0);
    char why[FEED_MAP_WHY_MAX];
    cr_assert_eq(feed_map_apply(m, rec_of(&rc, kv), &out, why), 0, "a row error: %s", why);
    json_error_t je;
    json_t *o = json_loads(out.data, 0, &je);
    cr_assert(json_is_object(o), "not a JSON object (%s): %s", je.text, out.data);
    buf_release(&out);
    return o;
}

/* Apply m to the record kv, which is not a product: the why, with out left as it was. */
static const char *why_of(const struct feed_map *m, const char *const *kv)
{
    static char why[FEED_MAP_WHY_MAX];
    struct rec rc;
    struct buf out;
    buf_init(&out, 0);
    buf_adds(&out, "[kept]");
    cr_assert_eq(feed_map_apply(m, rec_of(&rc, kv), &out, why), 1, "a product: %s", out.data);
    cr_assert_str_eq(out.data, "[kept]", "a row error leaves out as it was");
    cr_assert_eq(out.len, 6);
    buf_release(&out);
    cr_assert(utf8_valid(why, strlen(why)), "the why is text: %s", why);
    return why;
}

static const char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

Test(feed_map, a_mapping_of_fields_and_lists_of_fields_parses)
{
    struct feed_map *m = map_ok("{\"name\": \"title\", \"sku\": \"id\", \"price\": \"g:price\", "
                                "\"images\": [\"image_link\", \"additional_image_link\"], "
                                "\"description\": [\"a\", \"b\", \"c\", \"d\"], \"color\": null}");
    cr_assert(feed_map_usable(m));
    feed_map_free(m);
    m = map_ok("{}");
    cr_assert_not(feed_map_usable(m), "an empty mapping maps no name or sku");
    feed_map_free(m);
    m = map_ok("{\"sku\": \"id\"}");
    cr_assert(feed_map_usable(m), "a sku alone makes products");
    feed_map_free(m);
    m = map_ok("{\"name\": [\"title\"]}");
    cr_assert(feed_map_usable(m), "a list of one name");
    feed_map_free(m);
    m = map_ok("{\"price\": \"p\", \"gtin\": \"ean\", \"name\": null, \"sku\": []}");
    cr_assert_not(feed_map_usable(m), "name left null and sku an empty list map neither");
    feed_map_free(m);
    feed_map_free(NULL);
}

Test(feed_map, a_wrong_mapping_names_what_is_wrong)
{
    cr_assert(strstr(map_error("{\"name\": \"t\", \"colour\": \"c\"}"), "\"colour\""),
              "an unknown target is named");
    cr_assert(strstr(map_error("{\"colour\": \"c\"}"), "is not a field of the product record"));
    cr_assert(strstr(map_error("[\"title\"]"), "must be an object"), "an array");
    cr_assert(strstr(map_error("\"title\""), "field_mappings"), "a string");
    cr_assert(strstr(map_error("{\"name\": \"t\"} x"), "not JSON"), "text after the object");
    cr_assert(strstr(map_error("{\"name\": "), "not JSON"), "cut JSON");
    cr_assert(strstr(map_error(""), "not JSON"));
    cr_assert(strstr(map_error(NULL), "not JSON"));
    cr_assert(strstr(map_error("{\"name\": \"a\", \"name\": \"b\"}"), "not JSON"),
              "a target given twice is refused, not one of them kept");

    const char *msg = map_error("{\"images\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}");
    cr_assert(strstr(msg, "field_mappings.images") && strstr(msg, "5 fields") &&
                  strstr(msg, "at most 4"),
              "%s", msg);
    msg = map_error("{\"name\": 5}");
    cr_assert(strstr(msg, "field_mappings.name must be a field name"), "%s", msg);
    msg = map_error("{\"sku\": {\"field\": \"id\"}}");
    cr_assert(strstr(msg, "field_mappings.sku must be a field name"), "%s", msg);
    msg = map_error("{\"price\": true}");
    cr_assert(strstr(msg, "field_mappings.price"), "%s", msg);
    msg = map_error("{\"images\": [\"a\", 7]}");
    cr_assert(strstr(msg, "field_mappings.images: a field name must be a string"), "%s", msg);
    msg = map_error("{\"images\": [\"a\", null]}");
    cr_assert(strstr(msg, "field_mappings.images"), "%s", msg);
    msg = map_error("{\"brand\": \"\"}");
    cr_assert(strstr(msg, "field_mappings.brand"), "an empty field name: %s", msg);
    char long_name[600];
    snprintf(long_name, sizeof long_name, "{\"url\": \"%0513d\"}", 0);
    msg = map_error(long_name);
    cr_assert(strstr(msg, "field_mappings.url") && strstr(msg, "512"), "%s", msg);
    snprintf(long_name, sizeof long_name, "{\"url\": \"%0512d\"}", 0);
    feed_map_free(map_ok(long_name));
}

Test(feed_map, a_record_becomes_the_product_a_receiver_reads)
{
    struct feed_map *m = map_ok(
        "{\"name\": [\"title\", \"name\"], \"sku\": \"id\", \"gtin\": \"gtin\", \"price\": "
        "\"g:price\", \"images\": [\"image_link\", \"additional_image_link\"], \"url\": \"link\", "
        "\"description\": \"description\", \"brand\": \"brand\", \"color\": \"color\"}");
    const char *kv[] = {"name",
                        "the second source",
                        "id",
                        "M-1",
                        "title",
                        "  Blue \"Mug\"\t\n",
                        "gtin",
                        "4006381333931",
                        "g:price",
                        "12,99 EUR",
                        "image_link",
                        "https://shop.example/a.jpg",
                        "additional_image_link",
                        "HTTP://shop.example/b.png",
                        "additional_image_link",
                        "  ",
                        "link",
                        "https://shop.example/p/1",
                        "description",
                        "line 1\nline 2 \\ caf\xc3\xa9",
                        "brand",
                        "   ",
                        "unmapped",
                        "whatever",
                        NULL};
    json_t *o = product_of(m, kv);
    cr_assert_str_eq(str_of(o, "name"), "Blue \"Mug\"", "the first source with a value, trimmed");
    cr_assert_str_eq(str_of(o, "sku"), "M-1");
    cr_assert_str_eq(str_of(o, "gtin"), "4006381333931");
    cr_assert(json_is_number(json_object_get(o, "price")), "the price is a number");
    cr_assert_float_eq(json_number_value(json_object_get(o, "price")), 12.99, 1e-9);
    cr_assert_str_eq(str_of(o, "currency"), "EUR", "the currency written with the price");
    json_t *img = json_object_get(o, "images");
    cr_assert_eq(json_array_size(img), 2, "every image field's value, the blank one left out");
    cr_assert_str_eq(json_string_value(json_array_get(img, 0)), "https://shop.example/a.jpg");
    cr_assert_str_eq(json_string_value(json_array_get(img, 1)), "HTTP://shop.example/b.png");
    cr_assert_str_eq(str_of(o, "url"), "https://shop.example/p/1");
    cr_assert_str_eq(str_of(o, "description"), "line 1\nline 2 \\ caf\xc3\xa9");
    cr_assert_null(json_object_get(o, "brand"), "a blank value is absent");
    cr_assert_null(json_object_get(o, "color"), "a field the record lacks is absent");
    cr_assert_null(json_object_get(o, "unmapped"));
    cr_assert_eq(json_object_size(o), 8);
    json_decref(o);

    /* the second source when the first is blank; a sku alone; appended after what out held */
    const char *kv2[] = {"title", " ", "name", "Cup", NULL};
    o = product_of(m, kv2);
    cr_assert_str_eq(str_of(o, "name"), "Cup");
    cr_assert_eq(json_object_size(o), 1);
    json_decref(o);
    struct rec rc;
    struct buf out;
    buf_init(&out, 0);
    buf_adds(&out, "[");
    char why[FEED_MAP_WHY_MAX];
    const char *kv3[] = {"id", "S-9", NULL};
    cr_assert_eq(feed_map_apply(m, rec_of(&rc, kv3), &out, why), 0);
    cr_assert_str_eq(out.data, "[{\"sku\":\"S-9\"}");
    buf_release(&out);
    feed_map_free(m);
}

Test(feed_map, the_currency_comes_from_the_price_the_mapping_or_the_detection)
{
    struct feed_map *m = map_ok("{\"sku\": \"id\", \"price\": \"p\"}");
    const char *plain[] = {"id", "1", "p", "5", NULL};
    json_t *o = product_of(m, plain);
    cr_assert_null(json_object_get(o, "currency"), "none written, none detected");
    json_decref(o);
    feed_map_set_currency(m, "CHF");
    o = product_of(m, plain);
    cr_assert_str_eq(str_of(o, "currency"), "CHF", "the detected one");
    json_decref(o);
    const char *usd[] = {"id", "1", "p", "$5", NULL};
    o = product_of(m, usd);
    cr_assert_str_eq(str_of(o, "currency"), "USD", "the one written with the price wins");
    cr_assert_float_eq(json_number_value(json_object_get(o, "price")), 5.0, 1e-9);
    json_decref(o);
    const char *no_price[] = {"id", "1", NULL};
    o = product_of(m, no_price);
    cr_assert_null(json_object_get(o, "currency"), "no price, no detected currency");
    json_decref(o);
    feed_map_set_currency(m, "EURO");
    o = product_of(m, plain);
    cr_assert_null(json_object_get(o, "currency"), "not an ISO code: none kept");
    json_decref(o);
    feed_map_set_currency(m, "GBP");
    feed_map_set_currency(m, NULL);
    o = product_of(m, plain);
    cr_assert_null(json_object_get(o, "currency"), "NULL keeps none");
    json_decref(o);
    feed_map_free(m);

    /* a mapped currency field: its code, or the code of a price written in it */
    m = map_ok("{\"sku\": \"id\", \"price\": \"p\", \"currency\": \"cur\"}");
    feed_map_set_currency(m, "CHF");
    const char *mapped[] = {"id", "1", "p", "12.50 USD", "cur", " SEK ", NULL};
    o = product_of(m, mapped);
    cr_assert_str_eq(str_of(o, "currency"), "SEK", "a mapped currency wins");
    json_decref(o);
    const char *in_price[] = {"id", "1", "p", "12.50", "cur", "9,99 EUR", NULL};
    o = product_of(m, in_price);
    cr_assert_str_eq(str_of(o, "currency"), "EUR");
    json_decref(o);
    feed_map_free(m);
}

Test(feed_map, a_record_that_is_not_a_product_says_why)
{
    struct feed_map *m = map_ok("{\"name\": \"title\", \"sku\": \"id\", \"price\": \"p\", "
                                "\"gtin\": \"ean\", \"url\": \"link\", \"images\": \"img\"}");
    const char *none[] = {"title", "  ", "p", "5", NULL};
    cr_assert_str_eq(why_of(m, none),
                     "no name or sku: the fields mapped to them (title, id) are empty or absent");
    const char *price[] = {"id", "1", "p", "call us", NULL};
    cr_assert_str_eq(why_of(m, price), "price \"call us\" is not a number");
    const char *price2[] = {"id", "1", "p", "12.99.00,5 EUR EUR", NULL};
    cr_assert(strstr(why_of(m, price2), "is not a number"));
    const char *gtin[] = {"id", "1", "ean", "4006381333932", NULL};
    cr_assert_str_eq(why_of(m, gtin),
                     "gtin \"4006381333932\" is not a GTIN (8, 12, 13 or 14 digits, check digit)");
    const char *gtin2[] = {"id", "1", "ean", "400638133393", NULL};
    cr_assert(strstr(why_of(m, gtin2), "is not a GTIN"), "12 digits, a wrong check digit");
    const char *url[] = {"id", "1", "link", "ftp://shop.example/p/1", NULL};
    cr_assert_str_eq(why_of(m, url), "url \"ftp://shop.example/p/1\" is not an http(s) URL");
    const char *url2[] = {"id", "1", "link", "https://", NULL};
    cr_assert(strstr(why_of(m, url2), "is not an http(s) URL"), "a scheme and nothing else");
    const char *img[] = {"id", "1", "img", "https://shop.example/a.jpg", "img", "/img/b.jpg", NULL};
    cr_assert_str_eq(why_of(m, img), "image \"/img/b.jpg\" is not an http(s) URL",
                     "one bad image of several");
    feed_map_free(m);

    /* a mapping with a sku only names that field */
    m = map_ok("{\"sku\": \"id\"}");
    const char *empty[] = {NULL};
    cr_assert_str_eq(why_of(m, empty),
                     "no name or sku: the fields mapped to them (id) are empty or absent");
    feed_map_free(m);
}

Test(feed_map, a_long_value_in_a_why_is_cut_between_characters)
{
    struct feed_map *m = map_ok("{\"sku\": \"id\", \"price\": \"p\"}");
    char v[400];
    memset(v, 'x', sizeof v - 1);
    v[sizeof v - 1] = 0;
    const char *kv[] = {"id", "1", "p", v, NULL};
    const char *why = why_of(m, kv);
    cr_assert(strncmp(why, "price \"xxxx", 11) == 0, "%s", why);
    cr_assert(strstr(why, "...\" is not a number"), "a long value is cut, and says so: %s", why);
    cr_assert_lt(strlen(why), 120, "%s", why);
    /* a two-byte character across the cut: the why stays UTF-8 (why_of checks) */
    for (int at = 76; at < 84; at++) {
        memset(v, 'x', sizeof v - 1);
        memcpy(v + at, "\xc3\xa9\xe2\x82\xac", 5); /* é€ */
        why = why_of(m, kv);
        cr_assert(strstr(why, "is not a number"), "%s", why);
    }
    feed_map_free(m);
}

Test(feed_map, a_product_past_the_buffers_cap_is_too_big_and_out_stays)
{
    struct feed_map *m = map_ok("{\"name\": \"title\", \"description\": \"d\"}");
    char d[200];
    memset(d, 'x', sizeof d - 1);
    d[sizeof d - 1] = 0;
    const char *kv[] = {"title", "Mug", "d", d, NULL};
    struct rec rc;
    struct buf out;
    buf_init(&out, 100);
    buf_adds(&out, "{\"kept\":1}\n");
    char why[FEED_MAP_WHY_MAX];
    cr_assert_eq(feed_map_apply(m, rec_of(&rc, kv), &out, why), TRAWL_ETOOBIG);
    cr_assert_str_eq(out.data, "{\"kept\":1}\n", "out as it was");
    cr_assert_eq(out.len, 11);
    /* the same record fits a larger cap */
    out.cap = 300;
    cr_assert_eq(feed_map_apply(m, rec_of(&rc, kv), &out, why), 0);
    json_t *o = json_loads(out.data + 11, 0, NULL);
    cr_assert(json_is_object(o), "%s", out.data);
    cr_assert_eq(strlen(str_of(o, "description")), sizeof d - 1);
    json_decref(o);
    buf_release(&out);
    feed_map_free(m);
}

Test(feed_map, a_price_past_what_a_double_holds_is_not_a_number)
{
    struct feed_map *m = map_ok("{\"sku\": \"id\", \"price\": \"p\"}");
    char v[420];
    memset(v, '9', 400);
    v[400] = 0;
    const char *kv[] = {"id", "1", "p", v, NULL};
    cr_assert(strstr(why_of(m, kv), "is not a number"),
              "400 digits: a row error, not a product whose price is not JSON");
    strcpy(v + 400, ",50 EUR");
    cr_assert(strstr(why_of(m, kv), "is not a number"));
    /* 20 digits are a number a double holds */
    const char *big[] = {"id", "1", "p", "99999999999999999999", NULL};
    json_t *o = product_of(m, big);
    cr_assert(isfinite(json_number_value(json_object_get(o, "price"))));
    cr_assert_gt(json_number_value(json_object_get(o, "price")), 9.9e19);
    json_decref(o);
    feed_map_free(m);
}

Test(feed_map, the_suggested_mapping_reads_back_as_the_same_mapping)
{
    struct feed_mapping sug[4] = {
        {.target = "name", .sources = {"title"}, .confidence = 0.9},
        {.target = "price", .sources = {"g:price"}, .confidence = 0.8},
        {.target = "images", .sources = {"image_link", "additional_image_link"}},
        {.target = "brand", .sources = {NULL}},
    };
    char *text = feed_map_suggested(sug, 4);
    cr_assert_str_eq(text,
                     "{\"images\":[\"image_link\",\"additional_image_link\"],\"name\":"
                     "\"title\",\"price\":\"g:price\"}",
                     "a target without a source is left out");
    struct feed_map *m = map_ok(text);
    free(text);
    cr_assert(feed_map_usable(m));
    const char *kv[] = {"title",
                        "Mug",
                        "g:price",
                        "3.50",
                        "image_link",
                        "https://a.example/1.jpg",
                        "additional_image_link",
                        "https://a.example/2.jpg",
                        "brand",
                        "Acme",
                        NULL};
    json_t *o = product_of(m, kv);
    cr_assert_str_eq(str_of(o, "name"), "Mug");
    cr_assert_float_eq(json_number_value(json_object_get(o, "price")), 3.5, 1e-9);
    cr_assert_eq(json_array_size(json_object_get(o, "images")), 2);
    cr_assert_null(json_object_get(o, "brand"));
    json_decref(o);
    feed_map_free(m);

    /* every target with all its sources; and none at all */
    struct feed_mapping all[16];
    char names[16][4][32];
    cr_assert_leq(feed_ntargets, 16);
    for (size_t t = 0; t < feed_ntargets; t++) {
        all[t] = (struct feed_mapping){.target = feed_targets[t]};
        for (int k = 0; k < FEED_MAP_SOURCES; k++) {
            snprintf(names[t][k], sizeof names[t][k], "f%d.%d \"q\"", (int)t, k);
            all[t].sources[k] = names[t][k];
        }
    }
    text = feed_map_suggested(all, feed_ntargets);
    m = map_ok(text);
    free(text);
    const char *last[] = {names[0][3], "by its fourth source", NULL};
    o = product_of(m, last);
    cr_assert_str_eq(str_of(o, "name"), "by its fourth source", "a quoted field name kept");
    json_decref(o);
    feed_map_free(m);
    text = feed_map_suggested(NULL, 0);
    cr_assert_str_eq(text, "{}");
    m = map_ok(text);
    cr_assert_not(feed_map_usable(m));
    feed_map_free(m);
    free(text);
}
