/* Product records: pages as shops write them (Shopify, WooCommerce, microdata themes, OpenGraph
 * only, all three at once, category pages), prices in several locales, broken and hostile
 * structured data, and records made by a user's rules. */
#include "parse/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#define PAGE_URL "https://shop.example/products/oslo-chair"

static struct html_doc *page_at(const char *html, const char *url)
{
    struct html_doc *d = NULL;
    struct err e = {0};
    int rc = html_parse(html, strlen(html), url, "text/html; charset=utf-8", &d, &e);
    cr_assert_eq(rc, 0, "html_parse: %s", e.msg);
    return d;
}

/* The records of a page; *warnings (when not NULL) gets the warnings. */
static json_t *extract_at(const char *html, const char *url, json_t **warnings)
{
    struct html_doc *d = page_at(html, url);
    json_t *records = NULL, *w = NULL;
    struct err e = {0};
    int rc = product_extract(d, &records, &w, &e);
    cr_assert_eq(rc, 0, "product_extract: %s", e.msg);
    cr_assert(json_is_array(records));
    cr_assert(json_is_array(w));
    html_free(d);
    if (warnings)
        *warnings = w;
    else
        json_decref(w);
    return records;
}

static json_t *extract(const char *html, json_t **warnings)
{
    return extract_at(html, PAGE_URL, warnings);
}

/* A string member, or "(absent)", so that comparisons report what is missing. */
static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!v)
        return "(absent)";
    return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

static const char *at(json_t *arr, size_t i)
{
    json_t *v = json_array_get(arr, i);
    return json_is_string(v) ? json_string_value(v) : "(absent)";
}

/* The "sources" of a record joined with ",". */
static const char *sources(json_t *rec)
{
    static char buf[128];
    buf[0] = 0;
    json_t *s = json_object_get(rec, "sources");
    for (size_t i = 0; i < json_array_size(s); i++) {
        if (i)
            strcat(buf, ",");
        strcat(buf, at(s, i));
    }
    return buf;
}

static bool warned(json_t *warnings, const char *part)
{
    for (size_t i = 0; i < json_array_size(warnings); i++)
        if (strstr(at(warnings, i), part))
            return true;
    return false;
}

#define EXPECT_PRICE(rec, want)                                                                    \
    cr_expect_float_eq(num(rec, "price"), want, 1e-9, "price %.6f, want %.6f", num(rec, "price"),  \
                       (double)(want))

/* ---- JSON-LD ---- */

static const char shopify[] =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Oslo Chair – Nordic Home</title>\n"
    "<script type=\"application/ld+json\">\n"
    "{\n"
    "  \"@context\": \"http://schema.org/\",\n"
    "  \"@type\": \"Product\",\n"
    "  \"@id\": \"https://shop.example/products/oslo-chair#product\",\n"
    "  \"name\": \"Oslo Chair\",\n"
    "  \"url\": \"https://shop.example/products/oslo-chair\",\n"
    "  \"image\": [\"//cdn.shop.example/s/files/1/oslo-1.jpg?v=1700\",\n"
    "            \"//cdn.shop.example/s/files/1/oslo-2.jpg?v=1700\"],\n"
    "  \"description\": \"A solid oak dining chair.\\nHand-finished in Denmark.\",\n"
    "  \"sku\": \"OSLO-OAK\",\n"
    "  \"gtin13\": 5701234567890,\n"
    "  \"brand\": {\"@type\": \"Brand\", \"name\": \"Nordic Home\"},\n"
    "  \"offers\": [\n"
    "    {\"@type\": \"Offer\", \"sku\": \"OSLO-OAK\", \"price\": \"\",\n"
    "     \"availability\": \"http://schema.org/InStock\", \"priceCurrency\": \"EUR\"},\n"
    "    {\"@type\": \"Offer\", \"sku\": \"OSLO-OAK-2\", \"price\": \"249.00\",\n"
    "     \"priceCurrency\": \"EUR\", \"availability\": \"http://schema.org/OutOfStock\",\n"
    "     \"url\": \"https://shop.example/products/oslo-chair?variant=2\"},\n"
    "    {\"@type\": \"Offer\", \"price\": \"279.00\", \"priceCurrency\": \"EUR\"}\n"
    "  ]\n"
    "}\n"
    "</script></head><body><h1>Oslo Chair</h1></body></html>";

Test(product, shopify_offers_array)
{
    json_t *w;
    json_t *recs = extract(shopify, &w);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Oslo Chair");
    cr_expect_str_eq(str(r, "sku"), "OSLO-OAK");
    cr_expect_str_eq(str(r, "gtin"), "5701234567890");
    cr_expect_str_eq(str(r, "brand"), "Nordic Home");
    /* the first offer has no price: the second's price, currency and availability */
    EXPECT_PRICE(r, 249.0);
    cr_expect_str_eq(str(r, "currency"), "EUR");
    cr_expect_str_eq(str(r, "availability"), "out_of_stock");
    json_t *img = json_object_get(r, "images");
    cr_assert_eq(json_array_size(img), 2);
    cr_expect_str_eq(at(img, 0), "https://cdn.shop.example/s/files/1/oslo-1.jpg?v=1700");
    cr_expect_str_eq(at(img, 1), "https://cdn.shop.example/s/files/1/oslo-2.jpg?v=1700");
    cr_expect_str_eq(str(r, "url"), "https://shop.example/products/oslo-chair");
    cr_expect_str_eq(str(r, "description"), "A solid oak dining chair.\nHand-finished in Denmark.");
    cr_expect_str_eq(sources(r), "jsonld");
    json_t *raw = json_object_get(json_object_get(r, "raw"), "jsonld");
    cr_expect_str_eq(str(raw, "@id"), "https://shop.example/products/oslo-chair#product");
    cr_expect_eq(json_object_get(r, "category"), NULL);
    json_decref(recs);
    json_decref(w);
}

static const char woocommerce[] =
    "<html><head><title>Oak Table &amp; Bench</title>\n"
    "<script type=\"application/ld+json\" class=\"yoast-schema-graph\">"
    "{\"@context\":\"https://schema.org\",\"@graph\":["
    "{\"@type\":\"WebPage\",\"@id\":\"https://shop.example/product/oak-table/\","
    "\"url\":\"https://shop.example/product/oak-table/\",\"name\":\"Oak Table - Shop\","
    "\"breadcrumb\":{\"@id\":\"https://shop.example/product/oak-table/#breadcrumb\"},"
    "\"primaryImageOfPage\":{\"@id\":\"https://shop.example/product/oak-table/#primaryimage\"}},"
    "{\"@type\":\"ImageObject\",\"@id\":\"https://shop.example/product/oak-table/#primaryimage\","
    "\"url\":\"https://shop.example/wp-content/uploads/2024/05/oak-table.jpg\",\"width\":1200,"
    "\"height\":800},"
    "{\"@type\":\"BreadcrumbList\",\"@id\":\"https://shop.example/product/oak-table/#breadcrumb\","
    "\"itemListElement\":["
    "{\"@type\":\"ListItem\",\"position\":1,\"name\":\"Home\",\"item\":\"https://shop.example/\"},"
    "{\"@type\":\"ListItem\",\"position\":3,\"name\":\"Oak Table &amp; Bench\"},"
    "{\"@type\":\"ListItem\",\"position\":2,\"item\":{\"@id\":\"https://shop.example/tables/\","
    "\"name\":\"Tables\"}}]},"
    "{\"@type\":\"Organization\",\"@id\":\"https://shop.example/#organization\",\"name\":\"Shop\"},"
    "{\"@type\":\"Brand\",\"@id\":\"https://shop.example/#brand\",\"name\":\"Eiche &amp; Co\"}"
    "]}</script>\n"
    "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org/\",\"@graph\":[{"
    "\"@context\":\"https://schema.org/\",\"@type\":\"Product\","
    "\"@id\":\"https://shop.example/product/oak-table/#product\",\"name\":\"Oak Table &amp; Bench\","
    "\"url\":\"https://shop.example/product/oak-table/\","
    "\"description\":\"Solid oak, seats six.\","
    "\"image\":{\"@id\":\"https://shop.example/product/oak-table/#primaryimage\"},"
    "\"brand\":{\"@id\":\"https://shop.example/#brand\"},"
    "\"sku\":\"OT-140\",\"mpn\":\"OT140-N\",\"material\":[\"Oak\",\"Steel\"],"
    "\"width\":{\"@type\":\"QuantitativeValue\",\"value\":140,\"unitCode\":\"CMT\"},"
    "\"height\":{\"@type\":\"QuantitativeValue\",\"value\":\"75\",\"unitText\":\"cm\"},"
    "\"depth\":\"80 cm\","
    "\"weight\":{\"@type\":\"QuantitativeValue\",\"value\":32.5,\"unitCode\":\"KGM\"},"
    "\"offers\":[{\"@type\":\"Offer\",\"priceValidUntil\":\"2026-12-31\","
    "\"priceSpecification\":{\"@type\":\"UnitPriceSpecification\",\"price\":\"1299.00\","
    "\"priceCurrency\":\"USD\",\"valueAddedTaxIncluded\":\"false\"},"
    "\"availability\":\"http://schema.org/BackOrder\","
    "\"url\":\"https://shop.example/product/oak-table/\","
    "\"seller\":{\"@type\":\"Organization\",\"name\":\"Shop\",\"url\":\"https://shop.example\"}}]"
    "}]}</script></head><body></body></html>";

Test(product, woocommerce_graph_with_breadcrumb)
{
    json_t *w;
    json_t *recs = extract_at(woocommerce, "https://shop.example/product/oak-table/", &w);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Oak Table & Bench");
    cr_expect_str_eq(str(r, "sku"), "OT-140");
    cr_expect_str_eq(str(r, "mpn"), "OT140-N");
    /* references by @id to nodes of another block, followed one level */
    cr_expect_str_eq(str(r, "brand"), "Eiche & Co");
    json_t *img = json_object_get(r, "images");
    cr_expect_eq(json_array_size(img), 1);
    cr_expect_str_eq(at(img, 0), "https://shop.example/wp-content/uploads/2024/05/oak-table.jpg");
    cr_expect_str_eq(str(r, "material"), "Oak, Steel");
    /* the price from the offer's priceSpecification */
    EXPECT_PRICE(r, 1299.0);
    cr_expect_str_eq(str(r, "currency"), "USD");
    cr_expect_str_eq(str(r, "availability"), "backorder");
    json_t *dim = json_object_get(r, "dimensions");
    cr_expect_str_eq(str(dim, "width"), "140 cm");
    cr_expect_str_eq(str(dim, "height"), "75 cm");
    cr_expect_str_eq(str(dim, "depth"), "80 cm");
    cr_expect_str_eq(str(dim, "weight"), "32.5 kg");
    /* breadcrumbs in position order, without the product itself */
    cr_expect_str_eq(str(r, "category"), "Home > Tables");
    cr_expect_str_eq(str(r, "url"), "https://shop.example/product/oak-table/");
    json_decref(recs);
    json_decref(w);
}

static const char product_group[] =
    "<html><head>"
    "<meta property=\"og:type\" content=\"product\">"
    "<meta property=\"og:title\" content=\"Linen Shirt\">"
    "<meta property=\"og:url\" content=\"https://shop.example/p/linen-shirt\">"
    "<meta property=\"og:image\" content=\"https://shop.example/img/og-shirt.jpg\">"
    "<script type=\"application/ld+json\">"
    "{\"@context\":\"https://schema.org/\",\"@type\":\"ProductGroup\",\"name\":\"Linen Shirt\","
    "\"productGroupID\":\"LS-1\",\"brand\":{\"@type\":\"Brand\",\"name\":\"Acme\"},"
    "\"description\":\"Breathable linen.\",\"material\":\"Linen\","
    "\"url\":\"https://shop.example/p/linen-shirt\",\"image\":\"/img/ls.jpg\","
    "\"variesBy\":[\"https://schema.org/color\",\"https://schema.org/size\"],"
    "\"hasVariant\":["
    "{\"@type\":\"Product\",\"sku\":\"LS-1-WHT-M\",\"name\":\"Linen Shirt White M\","
    "\"color\":\"White\",\"size\":\"M\",\"image\":\"/img/ls-white.jpg\","
    "\"offers\":{\"@type\":\"Offer\",\"price\":49.9,\"priceCurrency\":\"USD\","
    "\"availability\":\"https://schema.org/InStock\","
    "\"url\":\"/p/linen-shirt?color=white&size=m\"}},"
    "{\"@type\":\"Product\",\"sku\":\"LS-1-BLU-M\",\"color\":\"Blue\",\"size\":\"M\","
    "\"offers\":{\"@type\":\"Offer\",\"price\":\"54.90\",\"priceCurrency\":\"USD\","
    "\"availability\":\"https://schema.org/OutOfStock\","
    "\"url\":\"/p/linen-shirt?color=blue&size=m\"}}]}"
    "</script></head><body></body></html>";

Test(product, product_group_variants)
{
    json_t *recs = extract_at(product_group, "https://shop.example/p/linen-shirt", NULL);
    /* two variants; the OpenGraph tags describe the same page and add no third record */
    cr_assert_eq(json_array_size(recs), 2);
    json_t *a = json_array_get(recs, 0), *b = json_array_get(recs, 1);
    cr_expect_str_eq(str(a, "sku"), "LS-1-WHT-M");
    cr_expect_str_eq(str(a, "name"), "Linen Shirt White M");
    cr_expect_str_eq(str(a, "color"), "White");
    cr_expect_str_eq(str(a, "brand"), "Acme");
    cr_expect_str_eq(str(a, "material"), "Linen");
    EXPECT_PRICE(a, 49.9);
    cr_expect_str_eq(str(a, "availability"), "in_stock");
    cr_expect_str_eq(at(json_object_get(a, "images"), 0), "https://shop.example/img/ls-white.jpg");
    /* the variant's own url, from its offer */
    cr_expect_str_eq(str(a, "url"), "https://shop.example/p/linen-shirt?color=white&size=m");

    cr_expect_str_eq(str(b, "sku"), "LS-1-BLU-M");
    cr_expect_str_eq(str(b, "name"), "Linen Shirt"); /* the group's */
    cr_expect_str_eq(str(b, "color"), "Blue");
    cr_expect_str_eq(str(b, "description"), "Breathable linen.");
    EXPECT_PRICE(b, 54.9);
    cr_expect_str_eq(str(b, "availability"), "out_of_stock");
    cr_expect_str_eq(at(json_object_get(b, "images"), 0), "https://shop.example/img/ls.jpg");
    cr_expect_str_eq(str(json_object_get(json_object_get(b, "raw"), "jsonld"), "sku"),
                     "LS-1-BLU-M");
    json_decref(recs);
}

Test(product, product_group_without_variants_is_one_record)
{
    const char *html = "<script type=\"application/ld+json\">{\"@type\":\"ProductGroup\","
                       "\"name\":\"Sofa\",\"productGroupID\":\"SOFA\",\"hasVariant\":[]}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "Sofa");
    cr_expect_str_eq(str(json_array_get(recs, 0), "sku"), "SOFA");
    json_decref(recs);
}

Test(product, aggregate_offer)
{
    const char *html =
        "<html><head><script type=\"application/ld+json\">"
        "{\"@context\":\"https://schema.org\",\"@type\":\"Product\",\"name\":\"Desk Lamp\","
        "\"image\":{\"@type\":\"ImageObject\",\"contentUrl\":\"lamp.png\"},"
        "\"brand\":\"Lumen\",\"category\":\"Lighting\","
        "\"offers\":{\"@type\":\"AggregateOffer\",\"lowPrice\":\"19.99\",\"highPrice\":\"39.99\","
        "\"priceCurrency\":\"GBP\",\"offerCount\":3,\"availability\":\"InStock\"}}"
        "</script></head></html>";
    json_t *recs = extract_at(html, "https://shop.example/lighting/desk-lamp", NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    EXPECT_PRICE(r, 19.99);
    cr_expect_str_eq(str(r, "currency"), "GBP");
    cr_expect_str_eq(str(r, "availability"), "in_stock");
    cr_expect_str_eq(str(r, "brand"), "Lumen");
    cr_expect_str_eq(str(r, "category"), "Lighting");
    cr_expect_str_eq(at(json_object_get(r, "images"), 0), "https://shop.example/lighting/lamp.png");
    /* no url of its own: the page's */
    cr_expect_str_eq(str(r, "url"), "https://shop.example/lighting/desk-lamp");
    json_decref(recs);
}

Test(product, aggregate_offer_with_nested_offers)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Kettle\","
        "\"offers\":{\"@type\":\"AggregateOffer\",\"offerCount\":2,\"offers\":["
        "{\"@type\":\"Offer\",\"price\":\"35,00\",\"priceCurrency\":\"EUR\","
        "\"availability\":\"https://schema.org/PreOrder\"},"
        "{\"@type\":\"Offer\",\"price\":\"31,50\",\"priceCurrency\":\"EUR\"}]}}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    EXPECT_PRICE(json_array_get(recs, 0), 35.0);
    cr_expect_str_eq(str(json_array_get(recs, 0), "availability"), "preorder");
    json_decref(recs);
}

struct price_case {
    const char *json; /* the price as written in JSON */
    double want;      /* < 0: no price */
};

Test(product, price_strings_in_several_locales)
{
    static const struct price_case cases[] = {
        {"\"1,299.00\"", 1299.0},
        {"\"1.299,00 €\"", 1299.0},
        {"\"€ 12.50\"", 12.5},
        {"\"1\\u00a0299,00 €\"", 1299.0},
        {"\"1 299,00 €\"", 1299.0},
        {"\"CHF 1'299.50\"", 1299.5},
        {"\"19,99\"", 19.99},
        {"\"$1,299\"", 1299.0},
        {"\"¥12,800\"", 12800.0},
        {"\"1.299\"", 1.299}, /* schema.org: '.' is decimal */
        {"\"12.5\"", 12.5},
        {"\"R$ 2.499,90\"", 2499.9},
        {"\"1,234,567.89\"", 1234567.89},
        {"\"0,50\"", 0.5},
        {"\"12345,678\"", 12345.678},
        {"1299", 1299.0},
        {"12.75", 12.75},
        {"\"0\"", 0.0},
        {"\"Call for price\"", -1},
        {"\"\"", -1},
        {"-5", -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char html[512];
        snprintf(html, sizeof html,
                 "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"X\","
                 "\"offers\":{\"@type\":\"Offer\",\"price\":%s,\"priceCurrency\":\"EUR\"}}"
                 "</script>",
                 cases[i].json);
        json_t *recs = extract(html, NULL);
        cr_assert_eq(json_array_size(recs), 1, "%s", cases[i].json);
        json_t *price = json_object_get(json_array_get(recs, 0), "price");
        if (cases[i].want < 0) {
            cr_expect_null(price, "%s: a price of %f", cases[i].json, json_number_value(price));
        } else {
            cr_expect(json_is_number(price), "%s: no price", cases[i].json);
            cr_expect_float_eq(json_number_value(price), cases[i].want, 1e-9, "%s: %f, want %f",
                               cases[i].json, json_number_value(price), cases[i].want);
        }
        json_decref(recs);
    }
}

Test(product, type_spellings_and_script_types)
{
    const char *html =
        "<script type=\"Application/LD+JSON; charset=utf-8\">"
        "{\"@type\":[\"https://schema.org/Product\",\"Thing\"],\"name\":\"One\",\"sku\":\"1\"}"
        "</script>"
        "<script type=\" application/ld+json \">{\"@type\":\"http://schema.org/IndividualProduct\","
        "\"name\":\"Two\",\"sku\":\"2\"}</script>"
        "<script type=\"application/ld+json\">[{\"@type\":\"schema:ProductModel\",\"name\":\"Three\","
        "\"sku\":3}]</script>"
        "<script type=\"application/json\">{\"@type\":\"Product\",\"name\":\"Not JSON-LD\"}</script>"
        "<script>var x = {\"@type\":\"Product\",\"name\":\"Script\"};</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 3);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "One");
    cr_expect_str_eq(str(json_array_get(recs, 1), "name"), "Two");
    cr_expect_str_eq(str(json_array_get(recs, 2), "name"), "Three");
    cr_expect_str_eq(str(json_array_get(recs, 2), "sku"), "3");
    json_decref(recs);
}

Test(product, brand_image_and_text_forms)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Product\","
        "\"name\":{\"@value\":\"  Chaise   longue \",\"@language\":\"fr\"},"
        "\"brand\":[{\"@type\":\"Organization\",\"name\":\"Maison\"}],"
        "\"image\":[{\"@type\":\"ImageObject\",\"url\":\"/a.jpg\"},\"/b.jpg\",\"/a.jpg\","
        "\"javascript:alert(1)\"],"
        "\"color\":[\"Red\",\"Green\"],\"gtin\":\"0012345678905\","
        "\"offers\":{\"@type\":\"Offer\",\"price\":10,\"availability\":\"SoldOut\"}}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Chaise longue");
    cr_expect_str_eq(str(r, "brand"), "Maison");
    json_t *img = json_object_get(r, "images");
    cr_expect_eq(json_array_size(img), 2, "images: %zu", json_array_size(img));
    cr_expect_str_eq(at(img, 0), "https://shop.example/a.jpg");
    cr_expect_str_eq(at(img, 1), "https://shop.example/b.jpg");
    cr_expect_str_eq(str(r, "color"), "Red, Green");
    cr_expect_str_eq(str(r, "gtin"), "0012345678905");
    cr_expect_str_eq(str(r, "availability"), "out_of_stock");
    cr_expect_null(json_object_get(r, "currency"));
    json_decref(recs);
}

/* JSON-LD written HTML-escaped, as some shops do: every reference a page's text may hold is
 * decoded, named (HTML 4's), numeric, with or without ';' where HTML allows it */
Test(product, character_references_in_jsonld_text)
{
    const char *html = "<script type=\"application/ld+json\">{\"@type\":\"Product\","
                       "\"name\":\"Caf&eacute; cr&egrave;me &amp; lait&nbsp;&#8211; &#x2605;\","
                       "\"brand\":\"Ol&eacute&#241;a &copy2024 &unknown; &#;\"}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Caf\xc3\xa9 cr\xc3\xa8me & lait \xe2\x80\x93 \xe2\x98\x85");
    cr_expect_str_eq(str(r, "brand"), "Ol\xc3\xa9\xc3\xb1"
                                      "a \xc2\xa9"
                                      "2024 &unknown; &#;");
    json_decref(recs);
}

Test(product, availability_words)
{
    static const char *const cases[][2] = {
        {"https://schema.org/InStock", "in_stock"},
        {"http://schema.org/OutOfStock", "out_of_stock"},
        {"PreOrder", "preorder"},
        {"https://schema.org/BackOrder", "backorder"},
        {"https://schema.org/Discontinued", "discontinued"},
        {"https://schema.org/LimitedAvailability", "in_stock"},
        {"https://schema.org/InStoreOnly", "in_stock"},
        {"schema:SoldOut", "out_of_stock"},
        {"https://schema.org/Reserved", "https://schema.org/Reserved"},
        {"Ships in 3 weeks", "Ships in 3 weeks"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char html[512];
        snprintf(html, sizeof html,
                 "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"X\","
                 "\"offers\":{\"price\":\"1\",\"availability\":\"%s\"}}</script>",
                 cases[i][0]);
        json_t *recs = extract(html, NULL);
        cr_expect_str_eq(str(json_array_get(recs, 0), "availability"), cases[i][1], "%s",
                         cases[i][0]);
        json_decref(recs);
    }
}

/* ---- microdata ---- */

static const char microdata_page[] =
    "<!DOCTYPE html><html><head><title>Walnut Bookshelf</title></head><body>\n"
    "<ol itemscope itemtype=\"https://schema.org/BreadcrumbList\">\n"
    " <li itemprop=\"itemListElement\" itemscope itemtype=\"https://schema.org/ListItem\">\n"
    "  <a itemprop=\"item\" href=\"/\"><span itemprop=\"name\">Home</span></a>\n"
    "  <meta itemprop=\"position\" content=\"1\"></li>\n"
    " <li itemprop=\"itemListElement\" itemscope itemtype=\"https://schema.org/ListItem\">\n"
    "  <a itemprop=\"item\" href=\"/shelves\"><span itemprop=\"name\">Shelves</span></a>\n"
    "  <meta itemprop=\"position\" content=\"2\"></li>\n"
    "</ol>\n"
    "<div class=\"product\" itemscope itemtype=\"https://schema.org/Product\">\n"
    "  <h1 itemprop=\"name\">Walnut   Bookshelf</h1>\n"
    "  <img itemprop=\"image\" src=\"/images/bookshelf.jpg\" alt=\"\">\n"
    "  <img itemprop=\"image\" src=\"/images/bookshelf-2.jpg\" alt=\"\">\n"
    "  <div itemprop=\"brand\" itemscope itemtype=\"https://schema.org/Brand\">\n"
    "    by <span itemprop=\"name\">Woodcraft</span></div>\n"
    "  <meta itemprop=\"sku\" content=\"WB-200\">\n"
    "  <p>Material: <span itemprop=\"material\">Walnut</span></p>\n"
    "  <div itemprop=\"offers\" itemscope itemtype=\"https://schema.org/Offer\">\n"
    "    <span itemprop=\"priceCurrency\" content=\"EUR\">€</span>\n"
    "    <span itemprop=\"price\" content=\"899.00\">899,00</span>\n"
    "    <link itemprop=\"availability\" href=\"https://schema.org/PreOrder\">Pre-order now\n"
    "    <time itemprop=\"priceValidUntil\" datetime=\"2026-12-31\">end of year</time>\n"
    "  </div>\n"
    "  <div itemprop=\"height\" itemscope itemtype=\"https://schema.org/QuantitativeValue\">\n"
    "    <meta itemprop=\"value\" content=\"180\"><meta itemprop=\"unitCode\" content=\"CMT\">"
    "</div>\n"
    "  <div itemprop=\"description\"><p>Solid walnut.</p> <p>Five shelves.</p></div>\n"
    "</div>\n"
    "</body></html>";

Test(product, microdata_only)
{
    json_t *w;
    json_t *recs = extract_at(microdata_page, "https://shop.example/shelves/walnut", &w);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Walnut Bookshelf");
    cr_expect_str_eq(str(r, "sku"), "WB-200");
    cr_expect_str_eq(str(r, "brand"), "Woodcraft");
    cr_expect_str_eq(str(r, "material"), "Walnut");
    EXPECT_PRICE(r, 899.0);
    cr_expect_str_eq(str(r, "currency"), "EUR");
    cr_expect_str_eq(str(r, "availability"), "preorder");
    json_t *img = json_object_get(r, "images");
    cr_assert_eq(json_array_size(img), 2);
    cr_expect_str_eq(at(img, 0), "https://shop.example/images/bookshelf.jpg");
    cr_expect_str_eq(at(img, 1), "https://shop.example/images/bookshelf-2.jpg");
    cr_expect_str_eq(str(json_object_get(r, "dimensions"), "height"), "180 cm");
    cr_expect_str_eq(str(r, "description"), "Solid walnut. Five shelves.");
    cr_expect_str_eq(str(r, "category"), "Home > Shelves");
    cr_expect_str_eq(str(r, "url"), "https://shop.example/shelves/walnut");
    cr_expect_str_eq(sources(r), "microdata");
    /* raw: the microdata as JSON, nested items as objects */
    json_t *raw = json_object_get(json_object_get(r, "raw"), "microdata");
    cr_expect_str_eq(str(raw, "@type"), "https://schema.org/Product");
    cr_expect_eq(json_array_size(json_object_get(raw, "image")), 2);
    json_t *offer = json_object_get(raw, "offers");
    cr_expect_str_eq(str(offer, "price"), "899.00");
    cr_expect_str_eq(str(offer, "availability"), "https://schema.org/PreOrder");
    cr_expect_str_eq(str(offer, "priceValidUntil"), "2026-12-31");
    json_decref(recs);
    json_decref(w);
}

Test(product, microdata_price_in_text_and_nested_in_other_items)
{
    /* a product inside a WebPage item, and one inside a list item of its own (itemscope
     * without itemprop); prices only as visible text */
    const char *html =
        "<body itemscope itemtype=\"http://schema.org/WebPage\">"
        "<main itemprop=\"mainEntity\" itemscope itemtype=\"http://schema.org/Product\">"
        "<span itemprop=\"name\">Teapot</span><span itemprop=\"productID\">TP</span>"
        "<a itemprop=\"url\" href=\"/teapot\">link</a>"
        "<span itemprop=\"offers\" itemscope itemtype=\"http://schema.org/Offer\">"
        "<span itemprop=\"price\">€ 24,95</span></span></main>"
        "<ul itemprop=\"relatedLink\"><li itemscope itemtype=\"http://schema.org/Product\">"
        "<span itemprop=\"name\">Cup</span><data itemprop=\"sku\" value=\"CUP-1\">cup</data>"
        "</li></ul></body>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 2);
    json_t *a = json_array_get(recs, 0), *b = json_array_get(recs, 1);
    cr_expect_str_eq(str(a, "name"), "Teapot");
    EXPECT_PRICE(a, 24.95);
    cr_expect_str_eq(str(a, "url"), "https://shop.example/teapot");
    cr_expect_str_eq(str(b, "name"), "Cup");
    cr_expect_str_eq(str(b, "sku"), "CUP-1");
    json_decref(recs);
}

/* ---- OpenGraph ---- */

static const char og_page[] =
    "<html prefix=\"og: https://ogp.me/ns# product: https://ogp.me/ns/product#\"><head>\n"
    "<meta property=\"og:type\" content=\"product.item\">\n"
    "<meta property=\"og:title\" content=\"Ceramic Mug\">\n"
    "<meta property=\"og:description\" content=\"Hand-thrown, 350 ml.\">\n"
    "<meta property=\"og:url\" content=\"https://shop.example/products/mug?utm_source=x\">\n"
    "<meta property=\"og:image\" content=\"https://cdn.shop.example/mug-1.jpg\">\n"
    "<meta property=\"og:image\" content=\"/mug-2.jpg\">\n"
    "<meta property=\"product:price:amount\" content=\"12,50\">\n"
    "<meta property=\"product:price:currency\" content=\"EUR\">\n"
    "<meta property=\"product:availability\" content=\"in stock\">\n"
    "<meta property=\"product:brand\" content=\"Potter &amp; Co\">\n"
    "<meta property=\"product:retailer_item_id\" content=\"MUG-1\">\n"
    "<meta property=\"product:color\" content=\"Blue\">\n"
    "<meta property=\"product:material\" content=\"Stoneware\">\n"
    "</head><body><h1>Ceramic Mug</h1></body></html>";

Test(product, opengraph_only)
{
    json_t *recs = extract(og_page, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Ceramic Mug");
    cr_expect_str_eq(str(r, "sku"), "MUG-1");
    cr_expect_str_eq(str(r, "brand"), "Potter & Co");
    cr_expect_str_eq(str(r, "color"), "Blue");
    cr_expect_str_eq(str(r, "material"), "Stoneware");
    EXPECT_PRICE(r, 12.5);
    cr_expect_str_eq(str(r, "currency"), "EUR");
    cr_expect_str_eq(str(r, "availability"), "in_stock");
    json_t *img = json_object_get(r, "images");
    cr_assert_eq(json_array_size(img), 2);
    cr_expect_str_eq(at(img, 0), "https://cdn.shop.example/mug-1.jpg");
    cr_expect_str_eq(at(img, 1), "https://shop.example/mug-2.jpg");
    cr_expect_str_eq(str(r, "url"), "https://shop.example/products/mug?utm_source=x");
    cr_expect_str_eq(str(r, "description"), "Hand-thrown, 350 ml.");
    cr_expect_str_eq(sources(r), "opengraph");
    json_t *raw = json_object_get(json_object_get(r, "raw"), "opengraph");
    cr_expect_str_eq(str(raw, "og:type"), "product.item");
    cr_expect_eq(json_array_size(json_object_get(raw, "og:image")), 2);
    json_decref(recs);
}

Test(product, opengraph_shopify_price_tags)
{
    /* Shopify themes write og:price:* and og:type product */
    const char *html = "<meta property=\"og:type\" content=\"product\">"
                       "<meta property=\"og:title\" content=\"Wool Scarf\">"
                       "<meta property=\"og:price:amount\" content=\"1,049.00\">"
                       "<meta property=\"og:price:currency\" content=\"CAD\">";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    EXPECT_PRICE(json_array_get(recs, 0), 1049.0);
    cr_expect_str_eq(str(json_array_get(recs, 0), "currency"), "CAD");
    cr_expect_str_eq(str(json_array_get(recs, 0), "url"), PAGE_URL);
    json_decref(recs);
}

/* ---- merging ---- */

static const char three_sources[] =
    "<html><head>\n"
    "<meta property=\"og:type\" content=\"product\">\n"
    "<meta property=\"og:title\" content=\"Oslo Chair | Nordic Home\">\n"
    "<meta property=\"og:url\" content=\"https://shop.example/products/oslo-chair\">\n"
    "<meta property=\"og:image\" content=\"https://shop.example/og/oslo.jpg\">\n"
    "<meta property=\"product:retailer_item_id\" content=\"OSLO-OAK\">\n"
    "<meta property=\"product:material\" content=\"Oak\">\n"
    "<meta property=\"product:price:amount\" content=\"999.00\">\n"
    "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\","
    "\"@type\":\"Product\",\"name\":\"Oslo Chair\",\"sku\":\"OSLO-OAK\","
    "\"url\":\"/products/oslo-chair\",\"offers\":{\"@type\":\"Offer\",\"price\":\"249.00\","
    "\"priceCurrency\":\"EUR\"}}</script>\n"
    "</head><body>\n"
    "<div itemscope itemtype=\"http://schema.org/Product\">\n"
    " <h1 itemprop=\"name\">Oslo Chair (Oak)</h1>\n"
    " <meta itemprop=\"sku\" content=\"OSLO-OAK\">\n"
    " <span itemprop=\"color\">Natural</span>\n"
    " <img itemprop=\"image\" src=\"/img/oslo.jpg\">\n"
    " <div itemprop=\"offers\" itemscope itemtype=\"http://schema.org/Offer\">"
    "<meta itemprop=\"price\" content=\"249.00\">"
    "<link itemprop=\"availability\" href=\"http://schema.org/InStock\"></div>\n"
    "</div></body></html>";

Test(product, jsonld_microdata_and_opengraph_merge_into_one)
{
    json_t *recs = extract(three_sources, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(sources(r), "jsonld,microdata,opengraph");
    /* JSON-LD first */
    cr_expect_str_eq(str(r, "name"), "Oslo Chair");
    EXPECT_PRICE(r, 249.0);
    cr_expect_str_eq(str(r, "currency"), "EUR");
    /* gaps filled from microdata, then OpenGraph */
    cr_expect_str_eq(str(r, "color"), "Natural");
    cr_expect_str_eq(str(r, "availability"), "in_stock");
    cr_expect_str_eq(at(json_object_get(r, "images"), 0), "https://shop.example/img/oslo.jpg");
    cr_expect_eq(json_array_size(json_object_get(r, "images")), 1);
    cr_expect_str_eq(str(r, "material"), "Oak");
    json_t *raw = json_object_get(r, "raw");
    cr_expect_eq(json_object_size(raw), 3);
    cr_expect_str_eq(str(json_object_get(raw, "jsonld"), "name"), "Oslo Chair");
    cr_expect_str_eq(str(json_object_get(raw, "microdata"), "name"), "Oslo Chair (Oak)");
    cr_expect_str_eq(str(json_object_get(raw, "opengraph"), "og:title"),
                     "Oslo Chair | Nordic Home");
    json_decref(recs);
}

Test(product, opengraph_without_keys_joins_the_only_product)
{
    /* og:url carries tracking and no retailer id: still the page's one product */
    const char *html =
        "<meta property=\"og:type\" content=\"product\">"
        "<meta property=\"og:title\" content=\"Lamp\">"
        "<meta property=\"og:url\" content=\"https://shop.example/lamp?ref=feed\">"
        "<meta property=\"product:brand\" content=\"Lumen\">"
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Desk Lamp\","
        "\"sku\":\"L-1\",\"url\":\"https://shop.example/lamp\"}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Desk Lamp");
    cr_expect_str_eq(str(r, "brand"), "Lumen");
    cr_expect_str_eq(str(r, "url"), "https://shop.example/lamp");
    cr_expect_str_eq(sources(r), "jsonld,opengraph");
    json_decref(recs);
}

Test(product, microdata_without_keys_joins_the_only_jsonld_product)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Vase\","
        "\"sku\":\"V-9\"}</script>"
        "<div itemscope itemtype=\"https://schema.org/Product\"><h1 itemprop=\"name\">Vase</h1>"
        "<span itemprop=\"color\">Green</span></div>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_str_eq(sources(json_array_get(recs, 0)), "jsonld,microdata");
    cr_expect_str_eq(str(json_array_get(recs, 0), "color"), "Green");
    json_decref(recs);
}

Test(product, different_skus_stay_apart)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"A\","
        "\"sku\":\"A-1\"}</script>"
        "<div itemscope itemtype=\"https://schema.org/Product\"><span itemprop=\"name\">B</span>"
        "<meta itemprop=\"sku\" content=\"B-1\"></div>"
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"A again\","
        "\"sku\":\"A-1\",\"color\":\"Red\"}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 2);
    json_t *a = json_array_get(recs, 0);
    cr_expect_str_eq(str(a, "name"), "A");
    cr_expect_str_eq(str(a, "color"), "Red"); /* the same sku twice in JSON-LD: one record */
    cr_expect_str_eq(str(json_array_get(recs, 1), "name"), "B");
    json_decref(recs);
}

/* ---- category pages ---- */

Test(product, category_item_list_gives_three_records)
{
    const char *html =
        "<html><head><meta property=\"og:type\" content=\"website\">"
        "<meta property=\"og:title\" content=\"Chairs\">"
        "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\","
        "\"@type\":\"ItemList\",\"itemListElement\":["
        "{\"@type\":\"ListItem\",\"position\":1,\"item\":{\"@type\":\"Product\",\"name\":\"Oslo\","
        "\"url\":\"/p/oslo\",\"offers\":{\"@type\":\"Offer\",\"price\":\"249\","
        "\"priceCurrency\":\"EUR\"}}},"
        "{\"@type\":\"ListItem\",\"position\":2,\"item\":{\"@type\":\"Product\",\"name\":\"Bergen\","
        "\"url\":\"/p/bergen\",\"offers\":{\"@type\":\"Offer\",\"price\":\"199\","
        "\"priceCurrency\":\"EUR\"}}},"
        "{\"@type\":\"ListItem\",\"position\":3,\"item\":{\"@type\":\"Product\",\"name\":\"Malmo\","
        "\"url\":\"/p/malmo\",\"offers\":{\"@type\":\"Offer\",\"price\":\"299\","
        "\"priceCurrency\":\"EUR\"}}}]}</script></head><body></body></html>";
    json_t *recs = extract_at(html, "https://shop.example/c/chairs", NULL);
    cr_assert_eq(json_array_size(recs), 3);
    static const char *const names[] = {"Oslo", "Bergen", "Malmo"};
    static const char *const urls[] = {"https://shop.example/p/oslo",
                                       "https://shop.example/p/bergen",
                                       "https://shop.example/p/malmo"};
    static const double prices[] = {249, 199, 299};
    for (size_t i = 0; i < 3; i++) {
        json_t *r = json_array_get(recs, i);
        cr_expect_str_eq(str(r, "name"), names[i]);
        cr_expect_str_eq(str(r, "url"), urls[i]);
        EXPECT_PRICE(r, prices[i]);
    }
    json_decref(recs);
}

Test(product, products_without_sku_or_url_are_not_merged)
{
    const char *html = "<script type=\"application/ld+json\">{\"@type\":\"ItemList\","
                       "\"itemListElement\":[{\"@type\":\"Product\",\"name\":\"A\"},"
                       "{\"@type\":\"Product\",\"name\":\"B\"},"
                       "{\"@type\":\"Product\",\"name\":\"C\"}]}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 3);
    for (size_t i = 0; i < 3; i++)
        cr_expect_str_eq(str(json_array_get(recs, i), "url"), PAGE_URL);
    json_decref(recs);
}

/* ---- broken data ---- */

Test(product, invalid_block_is_a_warning_and_others_are_read)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Organization\",\"name\":\"Shop\"}"
        "</script>"
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Broken\",}"
        "</script>"
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Fine\"}</script>";
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "Fine");
    cr_assert_eq(json_array_size(w), 1);
    cr_expect(strstr(at(w, 0), "json-ld block 2 ") != NULL, "warning: %s", at(w, 0));
    cr_expect(strstr(at(w, 0), "not valid json") != NULL, "warning: %s", at(w, 0));
    cr_expect(strstr(at(w, 0), "line 1") != NULL, "warning: %s", at(w, 0));
    json_decref(recs);
    json_decref(w);
}

Test(product, comment_and_cdata_wrappers_are_stripped)
{
    const char *html =
        "<script type=\"application/ld+json\"><!--\n{\"@type\":\"Product\",\"name\":\"One\"}\n-->"
        "</script>"
        "<script type=\"application/ld+json\">\n//<![CDATA[\n{\"@type\":\"Product\",\"name\":\"Two\"}"
        "\n//]]>\n</script>"
        "<script type=\"application/ld+json\"><![CDATA[ {\"@type\":\"Product\",\"name\":\"Three\"} "
        "]]></script>"
        "<script type=\"application/ld+json\">/*<![CDATA[*/{\"@type\":\"Product\",\"name\":\"Four\"};"
        "/*]]>*/</script>";
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    cr_assert_eq(json_array_size(recs), 4);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "One");
    cr_expect_str_eq(str(json_array_get(recs, 1), "name"), "Two");
    cr_expect_str_eq(str(json_array_get(recs, 2), "name"), "Three");
    cr_expect_str_eq(str(json_array_get(recs, 3), "name"), "Four");
    json_decref(recs);
    json_decref(w);
}

Test(product, raw_line_breaks_in_strings_are_read)
{
    const char *html =
        "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"Rug\","
        "\"description\":\"Wool.\n\tHand-knotted.\"}</script>";
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_str_eq(str(json_array_get(recs, 0), "description"), "Wool.  Hand-knotted.");
    json_decref(recs);
    json_decref(w);
}

Test(product, non_product_data_gives_no_record)
{
    const char *html =
        "<html><head><meta property=\"og:type\" content=\"website\">"
        "<meta property=\"og:title\" content=\"About us\">"
        "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":["
        "{\"@type\":\"Organization\",\"name\":\"Shop\",\"url\":\"https://shop.example/\","
        "\"logo\":\"https://shop.example/logo.png\"},"
        "{\"@type\":\"WebSite\",\"url\":\"https://shop.example/\",\"potentialAction\":"
        "{\"@type\":\"SearchAction\",\"target\":\"https://shop.example/?s={q}\"}}]}</script>"
        "</head><body><div itemscope itemtype=\"https://schema.org/Organization\">"
        "<span itemprop=\"name\">Shop</span></div></body></html>";
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 0);
    cr_expect_eq(json_array_size(w), 0, "warning: %s", at(w, 0));
    json_decref(recs);
    json_decref(w);
}

Test(product, empty_page)
{
    json_t *w;
    json_t *recs = extract("", &w);
    cr_expect_eq(json_array_size(recs), 0);
    cr_expect_eq(json_array_size(w), 0);
    json_decref(recs);
    json_decref(w);
}

/* ---- hostile input ---- */

static char *nested_product(size_t depth)
{
    const char *inner = "{\"@type\":\"Product\",\"name\":\"Deep\"}";
    size_t len = depth * 2 + strlen(inner) + 128;
    char *s = malloc(len), *p = s;
    p += sprintf(p, "<script type=\"application/ld+json\">");
    for (size_t i = 0; i < depth; i++)
        *p++ = '[';
    p += sprintf(p, "%s", inner);
    for (size_t i = 0; i < depth; i++)
        *p++ = ']';
    sprintf(p, "</script>");
    return s;
}

Test(product, deep_nesting_is_cut_with_a_warning)
{
    char *html = nested_product(30);
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 1, "30 levels are read");
    json_decref(recs);
    json_decref(w);
    free(html);

    html = nested_product(200);
    recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 0);
    cr_expect(warned(w, "deeper than 64"), "warning: %s", at(w, 0));
    json_decref(recs);
    json_decref(w);
    free(html);

    /* deeper than jansson parses: invalid JSON, not a crash */
    html = nested_product(100000);
    recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 0);
    cr_expect(warned(w, "json-ld block 1"), "warning: %s", at(w, 0));
    json_decref(recs);
    json_decref(w);
    free(html);
}

Test(product, huge_block_is_left_out_with_a_warning)
{
    size_t n = 5u << 20;
    char *html = malloc(n + 256), *p = html;
    p += sprintf(p, "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"name\":\"");
    memset(p, 'x', n);
    p += n;
    sprintf(p, "\"}</script><script type=\"application/ld+json\">{\"@type\":\"Product\","
               "\"name\":\"Small\"}</script>");
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_assert_eq(json_array_size(recs), 1);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "Small");
    cr_expect(warned(w, "json-ld block 1 is"), "warning: %s", at(w, 0));
    json_decref(recs);
    json_decref(w);
    free(html);
}

Test(product, too_many_products_are_capped)
{
    size_t n = 1500;
    char *html = malloc(n * 64 + 128), *p = html;
    p += sprintf(p, "<script type=\"application/ld+json\">[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s{\"@type\":\"Product\",\"sku\":\"S%zu\"}", i ? "," : "", i);
    sprintf(p, "]</script>");
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 1000);
    cr_expect(warned(w, "more than 1000 products"), "warning: %s", at(w, 0));
    cr_expect_str_eq(str(json_array_get(recs, 999), "sku"), "S999");
    json_decref(recs);
    json_decref(w);
    free(html);
}

Test(product, deep_microdata_is_cut)
{
    size_t n = 5000;
    const char *open =
        "<div itemprop=\"isRelatedTo\" itemscope itemtype=\"https://schema.org/Thing\">";
    char *html = malloc(n * (strlen(open) + 6) + 512), *p = html;
    p += sprintf(p, "<div itemscope itemtype=\"https://schema.org/Product\">"
                    "<span itemprop=\"name\">Top</span>");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", open);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "</div>");
    sprintf(p, "</div>");
    json_t *w;
    json_t *recs = extract(html, &w);
    cr_expect_eq(json_array_size(recs), 1);
    cr_expect_str_eq(str(json_array_get(recs, 0), "name"), "Top");
    json_decref(recs);
    json_decref(w);
    free(html);
}

Test(product, id_references_are_followed_one_level)
{
    /* a reference to itself, and offers that refer to each other, end */
    const char *html =
        "<script type=\"application/ld+json\">{\"@graph\":["
        "{\"@type\":\"Product\",\"@id\":\"#p\",\"name\":\"Loop\",\"brand\":{\"@id\":\"#p\"},"
        "\"offers\":{\"@id\":\"#o1\"},\"image\":{\"@id\":\"#i\"}},"
        "{\"@type\":\"Offer\",\"@id\":\"#o1\",\"offers\":{\"@id\":\"#o2\"}},"
        "{\"@type\":\"Offer\",\"@id\":\"#o2\",\"offers\":{\"@id\":\"#o1\"},\"price\":\"5.00\"},"
        "{\"@type\":\"ImageObject\",\"@id\":\"#i\",\"url\":{\"@id\":\"#i\"}}"
        "]}</script>";
    json_t *recs = extract(html, NULL);
    cr_assert_eq(json_array_size(recs), 1);
    json_t *r = json_array_get(recs, 0);
    cr_expect_str_eq(str(r, "name"), "Loop");
    cr_expect_str_eq(str(r, "brand"), "Loop");
    EXPECT_PRICE(r, 5.0);
    json_decref(recs);
}

/* ---- rules ---- */

static const char plain_page[] =
    "<html><head><title>Oak Stool</title></head><body>\n"
    "<h1 class=\"title\">  Oak   Stool </h1>\n"
    "<p class=\"price now\">Now 1.299,00 €</p>\n"
    "<div class=\"gallery\"><img class=\"gallery\" src=\"/img/1.jpg\">"
    "<img class=\"gallery\" src=\"img/2.jpg\"><img class=\"gallery\" "
    "src=\"https://cdn.example/3.jpg\"><img class=\"gallery\" src=\"javascript:void(0)\"></div>\n"
    "<table class=\"specs\"><tr><th>Material</th><td>Oak</td></tr>"
    "<tr><th>Height</th><td>45 cm</td></tr></table>\n"
    "<a class=\"next\" href=\"/products/oak-stool-2\">next</a>\n"
    "</body></html>";

static json_t *rules_from(const char *text)
{
    json_error_t je;
    json_t *r = json_loads(text, 0, &je);
    cr_assert(r, "rules do not parse: %s", je.text);
    return r;
}

Test(product, rules_xpath_and_css_fields)
{
    struct html_doc *d = page_at(plain_page, "https://shop.example/products/oak-stool");
    json_t *rules =
        rules_from("{"
                   "\"name\": {\"xpath\": \"//h1\"},"
                   "\"price\": {\"css\": \".price::text\", \"type\": \"number\"},"
                   "\"images\": {\"css\": \"img.gallery::attr(src)\", \"all\": true,"
                   "             \"type\": \"url\"},"
                   "\"material\": {\"xpath\": \"//th[.='Material']/following-sibling::td\"},"
                   "\"photo_count\": {\"xpath\": \"count(//img)\", \"type\": \"number\"},"
                   "\"next\": {\"css\": \"a.next::attr(href)\", \"type\": \"url\"},"
                   "\"sku\": {\"css\": \".sku\"},"
                   "\"colors\": {\"css\": \".swatch\", \"all\": true}"
                   "}");
    json_t *rec = NULL;
    struct err e = {0};
    int rc = product_from_rules(d, rules, &rec, &e);
    cr_assert_eq(rc, 0, "%s", e.msg);
    cr_expect_str_eq(str(rec, "name"), "Oak Stool");
    EXPECT_PRICE(rec, 1299.0);
    json_t *img = json_object_get(rec, "images");
    cr_assert_eq(json_array_size(img), 3, "images: %zu", json_array_size(img));
    cr_expect_str_eq(at(img, 0), "https://shop.example/img/1.jpg");
    cr_expect_str_eq(at(img, 1), "https://shop.example/products/img/2.jpg");
    cr_expect_str_eq(at(img, 2), "https://cdn.example/3.jpg");
    cr_expect_str_eq(str(rec, "material"), "Oak");
    cr_expect_float_eq(num(rec, "photo_count"), 4.0, 1e-9);
    cr_expect_str_eq(str(rec, "next"), "https://shop.example/products/oak-stool-2");
    /* fields without a match are left out */
    cr_expect_null(json_object_get(rec, "sku"));
    cr_expect_null(json_object_get(rec, "colors"));
    cr_expect_str_eq(str(rec, "url"), "https://shop.example/products/oak-stool");
    cr_expect_str_eq(sources(rec), "rules");
    json_decref(rec);
    json_decref(rules);
    html_free(d);
}

Test(product, rules_number_type_reads_the_first_number)
{
    struct html_doc *d = page_at("<p class=a>Save 15%</p><p class=b>-2.5 °C</p>"
                                 "<p class=c>n/a</p><p class=d>1,299</p>",
                                 PAGE_URL);
    json_t *rules = rules_from("{\"a\": {\"css\": \"p.a\", \"type\": \"number\"},"
                               " \"b\": {\"css\": \"p.b\", \"type\": \"number\"},"
                               " \"c\": {\"css\": \"p.c\", \"type\": \"number\"},"
                               " \"d\": {\"css\": \"p.d\", \"type\": \"number\"}}");
    json_t *rec = NULL;
    struct err e = {0};
    cr_assert_eq(product_from_rules(d, rules, &rec, &e), 0, "%s", e.msg);
    cr_expect_float_eq(num(rec, "a"), 15.0, 1e-9);
    cr_expect_float_eq(num(rec, "b"), -2.5, 1e-9);
    cr_expect_null(json_object_get(rec, "c"));
    cr_expect_float_eq(num(rec, "d"), 1299.0, 1e-9);
    json_decref(rec);
    json_decref(rules);
    html_free(d);
}

struct bad_rules {
    const char *rules;
    const char *msg; /* a part of the message */
};

Test(product, malformed_rules_name_the_field)
{
    static const struct bad_rules cases[] = {
        {"{\"name\": {\"xpath\": \"//h1\"}, \"price\": {\"css\": \".p\", \"type\": \"float\"}}",
         "rule 'price'"},
        {"{\"title\": \"//h1\"}", "rule 'title'"},
        {"{\"name\": {\"xpath\": \"//h1\", \"css\": \"h1\"}}", "rule 'name' has both"},
        {"{\"name\": {}}", "rule 'name' needs"},
        {"{\"name\": {\"xpath\": \"\"}}", "rule 'name'"},
        {"{\"name\": {\"xpath\": \"//h1\", \"all\": \"yes\"}}", "rule 'name': \"all\""},
        {"{\"name\": {\"xpath\": \"//h1\", \"typ\": \"string\"}}", "unknown member 'typ'"},
        {"{\"name\": {\"xpath\": \"//h1\"}, \"sources\": {\"css\": \"p\"}}", "rule 'sources'"},
        {"{\"ok\": {\"css\": \"h1\"}, \"weight\": {\"xpath\": \"//td[\"}}", "rule 'weight'"},
        {"{\"color\": {\"css\": \"div[\"}}", "rule 'color'"},
        {"[]", "rules must be"},
        {"{}", "no fields"},
    };
    struct html_doc *d = page_at(plain_page, PAGE_URL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *rules = rules_from(cases[i].rules);
        json_t *rec = (json_t *)1;
        struct err e = {0};
        int rc = product_from_rules(d, rules, &rec, &e);
        cr_expect_eq(rc, TRAWL_EINVAL, "%s: rc %d", cases[i].rules, rc);
        cr_expect_null(rec, "%s: a record", cases[i].rules);
        cr_expect(strstr(e.msg, cases[i].msg) != NULL, "%s: message '%s'", cases[i].rules, e.msg);

        struct err e2 = {0};
        cr_expect_eq(product_rules_check(rules, &e2), TRAWL_EINVAL, "%s: check", cases[i].rules);
        cr_expect_str_eq(e2.msg, e.msg, "%s: check says otherwise", cases[i].rules);
        json_decref(rules);
    }
    html_free(d);
}

Test(product, rules_check_accepts_good_rules)
{
    json_t *rules =
        rules_from("{\"name\": {\"xpath\": \"//h1\"},"
                   " \"price\": {\"css\": \".price::text\", \"type\": \"number\"},"
                   " \"images\": {\"css\": \"img::attr(src)\", \"all\": true,"
                   "              \"type\": \"url\"},"
                   " \"title\": {\"xpath\": \"//h2\", \"type\": \"string\", \"all\": false}}");
    struct err e = {0};
    cr_expect_eq(product_rules_check(rules, &e), 0, "%s", e.msg);
    json_decref(rules);
}
