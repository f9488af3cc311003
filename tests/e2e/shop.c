/* A generated online shop for the end-to-end tests of scraping sessions: categories with
 * pagination, product pages with their data planted as JSON-LD, microdata or OpenGraph (some with
 * two at once), sitemaps (two of them gzipped), robots.txt, redirects, broken, flaky and gone
 * pages, and /__manifest: the products a crawler must find. Everything is made from --seed and is
 * the same on every run; with --write DIR the same site is written as static files for nginx
 * instead.
 *
 * HTTP/1.1 on plain sockets, a thread per connection, keep-alive: the plumbing it shares with
 * tests/e2e/origin.c, in tests/e2e/testsrv.c. Absolute URLs (robots.txt, sitemaps, canonical
 * links, JSON-LD, the manifest) use the request's Host header. /__hits, /__reset and /__manifest
 * are for the tests and are not counted. `shop --help` lists the URLs. */
#include "testsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#define BASE_MAX     320 /* "http://" and a Host header */
#define URL_MAX      (BASE_MAX + 128)
#define PER_PAGE     10 /* products on a category page */
#define NCAT         6  /* categories */
#define NRELATED     4  /* related-product links on a product page */
#define NFLAKY       3  /* products that answer 500 once */
#define NBROKEN      2  /* /product/broken-N, always 500 */
#define PDF_BYTES    (5 << 20)
#define PRODUCTS_MAX 1000000
#define PAGE_KB_MAX  100000
#define TYPE_XML     "application/xml; charset=utf-8"
#define TYPE_TEXT    "text/plain; charset=utf-8"
#define SITE_NAME    "Trawl Furniture"
#define SITEMAPS_NS  "http://www.sitemaps.org/schemas/sitemap/0.9"

/* ---- the site's data, all of it from the seed ---- */

struct category {
    const char *slug, *name, *code;
    const char *types[3];     /* kinds of product, for names */
    const char *materials[4]; /* what its products are made of */
    const char *local[2];     /* names with non-ASCII letters */
    int width[2], height[2], depth[2], euros[2];
};

static const struct category cats_[NCAT] = {
    {"oak-tables",
     "Oak Tables",
     "OT",
     {"Dining Table", "Coffee Table", "Side Table"},
     {"oak", "oak", "oak", "oak"},
     {"Table en chêne", "Esstisch Eiche"},
     {40, 240},
     {45, 78},
     {40, 110},
     {149, 2499}},
    {"dining-chairs",
     "Dining Chairs",
     "DC",
     {"Dining Chair", "Armchair", "Bar Stool"},
     {"beech", "walnut", "steel", "rattan"},
     {"Stuhl Müller", "Chaise Léa"},
     {40, 65},
     {75, 110},
     {45, 60},
     {59, 689}},
    {"bookshelves",
     "Bookshelves",
     "BS",
     {"Bookshelf", "Wall Shelf", "Ladder Shelf"},
     {"pine", "walnut", "steel", "ash"},
     {"Étagère Noël", "Bücherregal Jürgen"},
     {60, 200},
     {30, 220},
     {20, 45},
     {79, 1299}},
    {"sofas-armchairs",
     "Sofas & Armchairs",
     "SA",
     {"Sofa", "Lounge Chair", "Daybed"},
     {"velvet", "linen", "leather", "wool"},
     {"Sofa Ångström", "Canapé Zoé"},
     {80, 260},
     {70, 95},
     {80, 110},
     {399, 3999}},
    {"desk-lamps",
     "Desk Lamps",
     "DL",
     {"Desk Lamp", "Reading Lamp", "Task Light"},
     {"brass", "steel", "glass", "aluminium"},
     {"Lampe Café", "Leuchte Größe"},
     {12, 40},
     {30, 70},
     {12, 40},
     {29, 349}},
    {"beds",
     "Beds",
     "BD",
     {"Bed Frame", "Bunk Bed", "Headboard"},
     {"oak", "pine", "walnut", "linen"},
     {"Bett Österlund", "Lit Hélène"},
     {90, 200},
     {30, 180},
     {200, 220},
     {249, 2999}},
};

static const char *const models_[] = {
    "Nora", "Alva",  "Bruno", "Greta", "Linus", "Mira", "Otto",  "Ida",   "Kasper", "Freya",
    "Emil", "Lotta", "Hugo",  "Saga",  "Felix", "Vera", "Arvid", "Tilda", "Jonas",  "Elin",
};
static const char *const brands_[] = {
    "Nordholz",   "Atelier Lumière", "Brandt & Söhne", "Oakridge Works",
    "Casa Verde", "Fjordline",       "Müller Möbel",   "Studio Kōji",
};
static const char *const colors_[] = {
    "natural",    "black",     "white",      "grey",  "walnut brown",
    "sage green", "navy blue", "terracotta", "cream",
};
static const char *const reviewers_[] = {
    "Anna K.", "Jörg W.", "Claire D.", "Sam P.", "Léa M.", "Tomasz Z.", "Priya S.", "Ole H.",
};
static const char *const words_[] = {
    "solid",    "timber",    "hand",     "finished",   "with",     "a",         "natural",
    "oil",      "that",      "brings",   "out",        "the",      "grain",     "every",
    "piece",    "is",        "made",     "to",         "order",    "in",        "our",
    "workshop", "joints",    "are",      "glued",      "and",      "pinned",    "for",
    "decades",  "of",        "daily",    "use",        "surface",  "resists",   "water",
    "heat",     "scratches", "clean",    "it",         "damp",     "cloth",     "mild",
    "soap",     "colour",    "may",      "vary",       "slightly", "from",      "photos",
    "because",  "wood",      "living",   "material",   "delivery", "includes",  "assembly",
    "tools",    "legs",      "frame",    "upholstery", "cushions", "removable", "covers",
    "washable", "at",        "thirty",   "degrees",    "designed", "Berlin",    "sustainably",
    "sourced",  "certified", "forests",  "warranty",   "ten",      "years",     "comfortable",
    "sturdy",   "elegant",   "timeless", "shape",      "fits",     "small",     "apartments",
    "large",    "family",    "homes",    "alike",
};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* How availability is written: the manifest and schema.org, OpenGraph, the page's text. */
static const struct {
    const char *schema, *og, *text;
} avails_[] = {
    {"InStock", "in stock", "In stock"},
    {"OutOfStock", "out of stock", "Out of stock"},
    {"PreOrder", "preorder", "Pre-order"},
};
/* The spellings of the schema.org context (and of availability: full URL, http URL, bare). */
static const char *const contexts_[] = {"https://schema.org", "http://schema.org",
                                        "https://schema.org/"};

enum { PLANT_JSONLD = 1, PLANT_MICRODATA = 2, PLANT_OPENGRAPH = 4 };
enum shape { SHAPE_OFFER, SHAPE_AGGREGATE, SHAPE_GRAPH, SHAPE_ARRAY };
static const char *const shapes_[] = {"offer", "aggregate", "graph", "offers-array"};
enum image_style { IMG_RELATIVE, IMG_ABSOLUTE, IMG_SCHEME_RELATIVE };

struct product {
    int id, cat;
    char name[96], sku[24];
    const char *brand, *material, *color, *currency;
    int width, height, depth;    /* cm */
    long long cents, high_cents; /* high_cents: an AggregateOffer's highPrice */
    int offer_count, avail, nimages;
    int related[NRELATED], nrelated;
    int planted;      /* PLANT_* bits */
    enum shape shape; /* of the JSON-LD */
    enum image_style images;
    int sitemap;       /* 0: in no sitemap, else 1 or 2 */
    int context;       /* index into contexts_ */
    bool listed;       /* linked from its category's pages */
    bool via_old;      /* the listing links to /old/<id> */
    bool flaky;        /* 500 to the first request */
    bool downloads;    /* links to the PDF and the image */
    bool bad_jsonld;   /* carries an extra JSON-LD block that is not valid JSON */
    bool ld_in_body;   /* the JSON-LD is at the end of <body>, not in <head> */
    bool ld_ascii;     /* the JSON-LD escapes non-ASCII and '/' */
    bool price_number; /* the JSON-LD price is a number, not a string */
    bool brand_plain;  /* the JSON-LD brand is a string, not a Brand */
};

struct listing {
    int *ids; /* listed products, ascending */
    int n, pages;
};

/* Test infrastructure, so globals: the counters under their mutexes, and the site, written once
 * in main before the first thread starts. */
static struct counters hits_ = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct counters flaky_ = {.mu = PTHREAD_MUTEX_INITIALIZER};
static struct {
    uint64_t seed;
    int nproducts, ngone;
    struct product *products; /* products[id - 1] */
    struct listing lists[NCAT];
    size_t page_min, page_max; /* bytes */
    char listen_base[64];      /* for requests without a Host header */
    char *pdf;
    size_t pdf_len;
} site_;

static const unsigned char jpeg_[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J',  'F',
                                      'I',  'F',  0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
                                      0x00, 0x01, 0x00, 0x00, 0xff, 0xd9};

/* How a page is rendered: the absolute URL prefix, and whether for static files (no redirects,
 * pagination as /category/<slug>/page/<n>). */
struct view {
    const char *base; /* "http://host:port", no trailing slash */
    bool static_site;
};

/* splitmix64: each product and page gets its own stream from (seed, salt, a, b), so one
 * product's data does not depend on how many products there are. */
struct rng {
    uint64_t s;
};

enum { SALT_PRODUCT = 1, SALT_PAGE, SALT_DESC, SALT_RELATED, SALT_FLAKY };

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static struct rng rng_for(int salt, uint64_t a, uint64_t b)
{
    uint64_t s = mix64(site_.seed ^ 0x5eed);
    s = mix64(s ^ (uint64_t)salt);
    s = mix64(s ^ a);
    return (struct rng){mix64(s ^ b)};
}

static uint64_t rng_next(struct rng *r)
{
    r->s += 0x9e3779b97f4a7c15ull;
    return mix64(r->s);
}

/* 0 to n-1. */
static int rng_below(struct rng *r, int n)
{
    return (int)(rng_next(r) % (uint64_t)n);
}

static int rng_range(struct rng *r, const int lo_hi[2])
{
    return lo_hi[0] + rng_below(r, lo_hi[1] - lo_hi[0] + 1);
}

static const struct product *product_get(int id)
{
    return id >= 1 && id <= site_.nproducts ? &site_.products[id - 1] : NULL;
}

/* The first ids show every way of planting data, so that a small --products still has each. */
static const struct {
    int planted;
    enum shape shape;
} forced_[] = {
    {PLANT_JSONLD, SHAPE_OFFER},
    {PLANT_JSONLD, SHAPE_AGGREGATE},
    {PLANT_JSONLD, SHAPE_GRAPH},
    {PLANT_JSONLD, SHAPE_ARRAY},
    {PLANT_MICRODATA, SHAPE_OFFER},
    {PLANT_OPENGRAPH, SHAPE_OFFER},
    {PLANT_JSONLD | PLANT_MICRODATA, SHAPE_OFFER},
    {PLANT_JSONLD | PLANT_OPENGRAPH, SHAPE_GRAPH},
    {PLANT_MICRODATA | PLANT_OPENGRAPH, SHAPE_OFFER},
};

static void product_make(struct product *p, int id)
{
    struct rng r = rng_for(SALT_PRODUCT, (uint64_t)id, 0);
    memset(p, 0, sizeof *p);
    p->id = id;
    p->cat = rng_below(&r, NCAT);
    if (id <= NCAT)
        p->cat = id - 1; /* every category has products */
    const struct category *c = &cats_[p->cat];
    p->material = c->materials[rng_below(&r, 4)];
    p->color = colors_[rng_below(&r, (int)NELEM(colors_))];
    p->brand = brands_[rng_below(&r, (int)NELEM(brands_))];
    const char *model = models_[rng_below(&r, (int)NELEM(models_))];
    const char *type = c->types[rng_below(&r, 3)];
    if (rng_below(&r, 7) == 0 || id == 2) {
        snprintf(p->name, sizeof p->name, "%s %s", c->local[rng_below(&r, 2)], model);
    } else {
        char mat[32];
        snprintf(mat, sizeof mat, "%s", p->material);
        mat[0] = (char)(mat[0] - 'a' + 'A');
        snprintf(p->name, sizeof p->name, "%s %s %s", model, mat, type);
    }
    snprintf(p->sku, sizeof p->sku, "TRW-%s-%05d", c->code, id);
    p->width = rng_range(&r, c->width);
    p->height = rng_range(&r, c->height);
    p->depth = rng_range(&r, c->depth);
    static const int tails[] = {0, 90, 95, 99, 50};
    long long euros = rng_range(&r, c->euros);
    p->cents = euros * 100 + tails[rng_below(&r, (int)NELEM(tails))];
    p->high_cents = (euros + euros * (10 + rng_below(&r, 30)) / 100) * 100 + 99;
    p->offer_count = 2 + rng_below(&r, 4);
    p->currency = rng_below(&r, 10) < 7 ? "EUR" : "USD";
    int a = rng_below(&r, 20);
    p->avail = a < 14 ? 0 : a < 17 ? 1 : 2;
    p->nimages = 1 + rng_below(&r, 3);
    p->images = (enum image_style)rng_below(&r, 3);
    p->context = rng_below(&r, 3);
    int roll = rng_below(&r, 20);
    p->shape = (enum shape)rng_below(&r, 4);
    p->planted = roll < 8    ? PLANT_JSONLD
                 : roll < 12 ? PLANT_MICRODATA
                 : roll < 15 ? PLANT_OPENGRAPH
                 : roll < 17 ? PLANT_JSONLD | PLANT_MICRODATA
                 : roll < 19 ? PLANT_JSONLD | PLANT_OPENGRAPH
                             : PLANT_MICRODATA | PLANT_OPENGRAPH;
    if (id <= (int)NELEM(forced_)) {
        p->planted = forced_[id - 1].planted;
        p->shape = forced_[id - 1].shape;
    }
    bool in_sitemap = rng_below(&r, 4) != 0;
    p->listed = !in_sitemap || rng_below(&r, 12) != 0;
    p->via_old = p->listed && rng_below(&r, 10) == 0;
    p->bad_jsonld = rng_below(&r, 8) == 0;
    p->ld_in_body = rng_below(&r, 4) == 0;
    p->ld_ascii = rng_below(&r, 5) == 0;
    p->price_number = rng_below(&r, 3) == 0;
    p->brand_plain = rng_below(&r, 3) == 0;
    /* small sites still have each way of being found */
    switch (id) {
    case 1: /* the page with the downloads */
        in_sitemap = p->listed = true;
        p->via_old = false;
        p->downloads = true;
        break;
    case 2: /* only by links */
        in_sitemap = false;
        p->listed = true;
        break;
    case 3: /* only by the sitemap */
        in_sitemap = true;
        p->listed = p->via_old = false;
        break;
    case 4: /* through a redirect, and in a sitemap */
        in_sitemap = p->listed = p->via_old = true;
        break;
    case 5: /* only through a redirect */
        in_sitemap = false;
        p->listed = p->via_old = true;
        break;
    }
    p->sitemap = in_sitemap ? 1 : 0; /* which one is decided once the count is known */
}

static void site_make(uint64_t seed, int n, size_t page_min, size_t page_max)
{
    site_.seed = seed;
    site_.nproducts = n;
    site_.ngone = n / 40 > 2 ? n / 40 : 2;
    site_.page_min = page_min;
    site_.page_max = page_max;
    site_.products = xcalloc((size_t)n, sizeof *site_.products);
    for (int i = 0; i < NCAT; i++)
        site_.lists[i].ids = xcalloc((size_t)n, sizeof(int));
    for (int id = 1; id <= n; id++) {
        struct product *p = &site_.products[id - 1];
        product_make(p, id);
        if (p->sitemap)
            p->sitemap = id <= (n + 1) / 2 ? 1 : 2;
        if (p->listed) {
            struct listing *l = &site_.lists[p->cat];
            l->ids[l->n++] = id;
        }
    }
    for (int i = 0; i < NCAT; i++) {
        struct listing *l = &site_.lists[i];
        l->pages = l->n ? (l->n + PER_PAGE - 1) / PER_PAGE : 1;
    }
    /* related products: listed ones only, so that the sitemap-only products stay so */
    for (int id = 1; id <= n; id++) {
        struct product *p = &site_.products[id - 1];
        struct rng r = rng_for(SALT_RELATED, (uint64_t)id, 0);
        for (int tries = 0; tries < 16 && p->nrelated < NRELATED; tries++) {
            const struct listing *l = &site_.lists[tries < 12 ? p->cat : rng_below(&r, NCAT)];
            if (!l->n)
                continue;
            int other = l->ids[rng_below(&r, l->n)];
            bool dup = other == id;
            for (int k = 0; k < p->nrelated; k++)
                dup |= p->related[k] == other;
            if (!dup)
                p->related[p->nrelated++] = other;
        }
    }
    struct rng r = rng_for(SALT_FLAKY, 0, 0);
    for (int k = 0; k < (n < NFLAKY ? n : NFLAKY);) {
        int id = 1 + rng_below(&r, n);
        if (!site_.products[id - 1].flaky) {
            site_.products[id - 1].flaky = true;
            k++;
        }
    }
}

/* ---- rendering ---- */

/* The shop's attributes are all double-quoted, so its pages leave ' as it is. */
static void put_text(struct sb *b, const char *s)
{
    sb_put_html(b, s, false);
}

static void price_plain(char *out, size_t n, long long cents)
{
    snprintf(out, n, "%lld.%02lld", cents / 100, cents % 100);
}

/* As a shop shows it: "1.299,90 €" or "$1,299.90". */
static void put_price(struct sb *b, long long cents, const char *currency)
{
    bool eur = strcmp(currency, "EUR") == 0;
    long long whole = cents / 100;
    char digits[32], grouped[48];
    snprintf(digits, sizeof digits, "%lld", whole);
    size_t nd = strlen(digits), o = 0;
    for (size_t i = 0; i < nd; i++) {
        if (i > 0 && (nd - i) % 3 == 0)
            grouped[o++] = eur ? '.' : ',';
        grouped[o++] = digits[i];
    }
    grouped[o] = '\0';
    if (eur)
        sb_printf(b, "%s,%02lld €", grouped, cents % 100);
    else
        sb_printf(b, "$%s.%02lld", grouped, cents % 100);
}

static void url_of(char *out, size_t n, const struct view *v, const char *path)
{
    snprintf(out, n, "%s%s", v->base, path);
}

static void product_path(char *out, size_t n, int id)
{
    snprintf(out, n, "/product/%d", id);
}

/* Where a listing links to a product. */
static void listing_href(char *out, size_t n, const struct view *v, const struct product *p)
{
    snprintf(out, n, p->via_old && !v->static_site ? "/old/%d" : "/product/%d", p->id);
}

static void category_href(char *out, size_t n, const struct view *v, int cat, int page)
{
    if (page <= 1)
        snprintf(out, n, "/category/%s", cats_[cat].slug);
    else if (v->static_site)
        snprintf(out, n, "/category/%s/page/%d", cats_[cat].slug, page);
    else
        snprintf(out, n, "/category/%s?page=%d", cats_[cat].slug, page);
}

static void image_path(char *out, size_t n, const struct product *p, int k)
{
    snprintf(out, n, "/img/products/%d-%d.jpg", p->id, k + 1);
}

/* The k-th image as the page writes it: relative, absolute or scheme-relative. */
static void image_src(char *out, size_t n, const struct view *v, const struct product *p, int k)
{
    char path[64];
    image_path(path, sizeof path, p, k);
    const char *slashes = strstr(v->base, "//");
    if (p->images == IMG_ABSOLUTE)
        snprintf(out, n, "%s%s", v->base, path);
    else if (p->images == IMG_SCHEME_RELATIVE && slashes)
        snprintf(out, n, "%s%s", slashes, path);
    else
        snprintf(out, n, "%s", path);
}

static void put_sentence(struct sb *b, struct rng *r)
{
    int n = 6 + rng_below(r, 11);
    for (int i = 0; i < n; i++) {
        const char *w = words_[rng_below(r, (int)NELEM(words_))];
        if (i == 0) {
            char first = w[0] >= 'a' && w[0] <= 'z' ? (char)(w[0] - 'a' + 'A') : w[0];
            sb_add(b, &first, 1);
            sb_puts(b, w + 1);
        } else {
            sb_add(b, " ", 1);
            sb_puts(b, w);
        }
    }
    sb_puts(b, ". ");
}

static void put_paragraph(struct sb *b, struct rng *r)
{
    sb_puts(b, "<p>");
    for (int i = 3 + rng_below(r, 5); i > 0; i--)
        put_sentence(b, r);
    sb_puts(b, "</p>\n");
}

static void put_review(struct sb *b, struct rng *r)
{
    int stars = 3 + rng_below(r, 3);
    sb_puts(b, "<article class=\"review\">\n<h3>");
    put_text(b, reviewers_[rng_below(r, (int)NELEM(reviewers_))]);
    sb_puts(b, "</h3>\n<p class=\"stars\">");
    for (int i = 0; i < 5; i++)
        sb_puts(b, i < stars ? "★" : "☆");
    sb_puts(b, "</p>\n");
    put_paragraph(b, r);
    sb_puts(b, "</article>\n");
}

static size_t page_target(struct rng *r)
{
    size_t span = site_.page_max - site_.page_min;
    return site_.page_min + (size_t)(rng_next(r) % (span + 1));
}

static void put_meta(struct sb *b, const char *property, const char *content)
{
    sb_printf(b, "<meta property=\"%s\" content=\"", property);
    put_text(b, content);
    sb_puts(b, "\">\n");
}

/* <head> (with head_extra) and the site header; canonical is a path. */
static void page_open(struct sb *b, const struct view *v, const char *title, const char *desc,
                      const char *canonical, const char *head_extra)
{
    sb_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>");
    put_text(b, title);
    sb_puts(b, "</title>\n<meta name=\"description\" content=\"");
    put_text(b, desc);
    sb_printf(b, "\">\n<link rel=\"canonical\" href=\"%s%s\">\n", v->base, canonical);
    put_meta(b, "og:site_name", SITE_NAME);
    sb_puts(b, head_extra ? head_extra : "");
    sb_puts(b, "</head>\n<body id=\"top\">\n<header class=\"site\">\n"
               "<a class=\"logo\" href=\"/\">" SITE_NAME "</a>\n<nav class=\"main\">\n<ul>\n");
    for (int i = 0; i < NCAT; i++) {
        sb_printf(b, "<li><a href=\"/category/%s\">", cats_[i].slug);
        put_text(b, cats_[i].name);
        sb_puts(b, "</a></li>\n");
    }
    sb_puts(b, "</ul>\n</nav>\n</header>\n");
}

/* Filler (paragraphs and reviews), then the footer: the page is exactly target bytes unless its
 * content alone is more. The last paragraph is cut to fit and newlines make up the rest. */
static void page_close(struct sb *b, struct rng *r, size_t target)
{
    static const char footer[] =
        "</section>\n<footer class=\"site\">\n<nav>\n<a href=\"/about\">About us</a> ·\n"
        "<a href=\"/contact\">Contact</a> ·\n<a href=\"/shipping\">Shipping &amp; returns</a> ·\n"
        "<a href=\"#top\">Back to top</a>\n</nav>\n"
        "<p>Follow us on <a href=\"https://social.example/shop\" rel=\"noopener\">Social</a> ·\n"
        "<a href=\"tel:+49301234567\">+49 30 1234567</a></p>\n"
        "<p>© 2024 " SITE_NAME " GmbH · All prices include VAT.</p>\n</footer>\n"
        "</body>\n</html>\n";
    sb_puts(b, "<section class=\"more\">\n<h2>Reviews and stories</h2>\n");
    size_t end = target > sizeof footer - 1 ? target - (sizeof footer - 1) : 0;
    struct sb t = {0};
    for (;;) {
        t.len = 0;
        if (rng_below(r, 3) == 0)
            put_review(&t, r);
        else
            put_paragraph(&t, r);
        if (b->len + t.len > end)
            break;
        sb_add(b, t.p, t.len);
    }
    sb_release(&t);
    if (b->len + 16 <= end) { /* "<p>", words, ".</p>\n" */
        sb_puts(b, "<p>Made");
        for (;;) {
            const char *w = words_[rng_below(r, (int)NELEM(words_))];
            if (b->len + 1 + strlen(w) + 6 > end)
                break;
            sb_add(b, " ", 1);
            sb_puts(b, w);
        }
        sb_puts(b, ".</p>\n");
    }
    while (b->len < end)
        sb_add(b, "\n", 1);
    sb_puts(b, footer);
}

/* ---- JSON-LD ---- */

/* json_object_set_new steals v; NULL (a string that is not UTF-8: a bug here) aborts. */
static void jset(json_t *o, const char *key, json_t *v)
{
    if (!v || json_object_set_new(o, key, v) != 0) {
        fprintf(stderr, "shop: cannot build json for %s\n", key);
        abort();
    }
}

static json_t *jstr(const char *s)
{
    return json_string(s);
}

static json_t *jtyped(const char *type)
{
    json_t *o = json_object();
    jset(o, "@type", jstr(type));
    return o;
}

static json_t *ld_price(const struct product *p, long long cents)
{
    char s[32];
    price_plain(s, sizeof s, cents);
    return p->price_number ? json_real((double)cents / 100.0) : jstr(s);
}

static json_t *ld_availability(const struct product *p)
{
    static const char *const prefix[] = {"https://schema.org/", "http://schema.org/", ""};
    char s[64];
    snprintf(s, sizeof s, "%s%s", prefix[p->context], avails_[p->avail].schema);
    return jstr(s);
}

static json_t *ld_offer(const struct view *v, const struct product *p, const char *seller)
{
    char path[64], url[URL_MAX];
    product_path(path, sizeof path, p->id);
    url_of(url, sizeof url, v, path);
    json_t *o = jtyped("Offer");
    jset(o, "price", ld_price(p, p->cents));
    jset(o, "priceCurrency", jstr(p->currency));
    jset(o, "availability", ld_availability(p));
    jset(o, "itemCondition", jstr("https://schema.org/NewCondition"));
    jset(o, "url", jstr(url));
    json_t *s = jtyped("Organization");
    jset(s, "name", jstr(seller));
    jset(o, "seller", s);
    return o;
}

static json_t *ld_offers(const struct view *v, const struct product *p)
{
    if (p->shape == SHAPE_AGGREGATE) {
        json_t *o = jtyped("AggregateOffer");
        jset(o, "lowPrice", ld_price(p, p->cents));
        jset(o, "highPrice", ld_price(p, p->high_cents));
        jset(o, "priceCurrency", jstr(p->currency));
        jset(o, "offerCount", json_integer(p->offer_count));
        jset(o, "availability", ld_availability(p));
        return o;
    }
    if (p->shape == SHAPE_ARRAY) { /* two sellers, the same price */
        json_t *a = json_array();
        json_array_append_new(a, ld_offer(v, p, SITE_NAME));
        json_array_append_new(a, ld_offer(v, p, SITE_NAME " Outlet"));
        return a;
    }
    return ld_offer(v, p, SITE_NAME);
}

/* Home > category (> last, without an item: the page itself). */
static json_t *ld_breadcrumbs(const struct view *v, int cat, const char *last, const char *id)
{
    char url[URL_MAX], path[128];
    json_t *list = jtyped("BreadcrumbList");
    if (id)
        jset(list, "@id", jstr(id));
    json_t *items = json_array();
    for (int i = 1; i <= (last ? 3 : 2); i++) {
        json_t *it = jtyped("ListItem");
        jset(it, "position", json_integer(i));
        if (i == 1) {
            jset(it, "name", jstr("Home"));
            url_of(url, sizeof url, v, "/");
            jset(it, "item", jstr(url));
        } else if (i == 2) {
            jset(it, "name", jstr(cats_[cat].name));
            category_href(path, sizeof path, v, cat, 1);
            url_of(url, sizeof url, v, path);
            jset(it, "item", jstr(url));
        } else {
            jset(it, "name", jstr(last));
        }
        json_array_append_new(items, it);
    }
    jset(list, "itemListElement", items);
    return list;
}

static json_t *ld_product(const struct view *v, const struct product *p, const char *desc)
{
    char path[64], url[URL_MAX], s[URL_MAX + 16];
    product_path(path, sizeof path, p->id);
    url_of(url, sizeof url, v, path);
    json_t *o = json_object();
    if (p->shape != SHAPE_GRAPH)
        jset(o, "@context", jstr(contexts_[p->context]));
    jset(o, "@type", jstr("Product"));
    if (p->shape == SHAPE_GRAPH) {
        snprintf(s, sizeof s, "%s#product", url);
        jset(o, "@id", jstr(s));
    }
    jset(o, "name", jstr(p->name));
    jset(o, "sku", jstr(p->sku));
    if (p->brand_plain) {
        jset(o, "brand", jstr(p->brand));
    } else {
        json_t *brand = jtyped("Brand");
        jset(brand, "name", jstr(p->brand));
        jset(o, "brand", brand);
    }
    jset(o, "category", jstr(cats_[p->cat].name));
    jset(o, "material", jstr(p->material));
    jset(o, "color", jstr(p->color));
    snprintf(s, sizeof s, "%d cm", p->width);
    jset(o, "width", jstr(s));
    snprintf(s, sizeof s, "%d cm", p->height);
    jset(o, "height", jstr(s));
    snprintf(s, sizeof s, "%d cm", p->depth);
    jset(o, "depth", jstr(s));
    if (p->nimages == 1) {
        image_src(s, sizeof s, v, p, 0);
        jset(o, "image", jstr(s));
    } else {
        json_t *a = json_array();
        for (int k = 0; k < p->nimages; k++) {
            image_src(s, sizeof s, v, p, k);
            json_array_append_new(a, jstr(s));
        }
        jset(o, "image", a);
    }
    jset(o, "description", jstr(desc));
    jset(o, "url", jstr(url));
    jset(o, "offers", ld_offers(v, p));
    if (p->shape == SHAPE_GRAPH) {
        json_t *page = json_object();
        jset(page, "@id", jstr(url));
        jset(o, "mainEntityOfPage", page);
    }
    return o;
}

static void put_ld_script(struct sb *b, json_t *root, size_t flags)
{
    char *s = json_dumps(root, flags | JSON_REAL_PRECISION(10));
    json_decref(root);
    if (!s)
        oom();
    sb_puts(b, "<script type=\"application/ld+json\">\n");
    sb_puts(b, s);
    sb_puts(b, "\n</script>\n");
    free(s);
}

static void product_ld(struct sb *b, const struct view *v, const struct product *p,
                       const char *desc)
{
    json_t *root = ld_product(v, p, desc);
    if (p->shape == SHAPE_GRAPH) {
        char path[64], url[URL_MAX], id[URL_MAX + 16];
        product_path(path, sizeof path, p->id);
        url_of(url, sizeof url, v, path);
        snprintf(id, sizeof id, "%s#breadcrumb", url);
        json_t *page = jtyped("WebPage");
        jset(page, "@id", jstr(url));
        jset(page, "url", jstr(url));
        jset(page, "name", jstr(p->name));
        json_t *ref = json_object();
        jset(ref, "@id", jstr(id));
        jset(page, "breadcrumb", ref);
        json_t *graph = json_array();
        json_array_append_new(graph, page);
        json_array_append_new(graph, ld_breadcrumbs(v, p->cat, p->name, id));
        json_array_append_new(graph, root);
        root = json_object();
        jset(root, "@context", jstr(contexts_[p->context]));
        jset(root, "@graph", graph);
    }
    size_t flags =
        p->ld_ascii ? JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH | JSON_INDENT(1) : JSON_INDENT(2);
    put_ld_script(b, root, flags);
}

/* ---- pages ---- */

static void product_description(struct sb *b, const struct product *p)
{
    struct rng r = rng_for(SALT_DESC, (uint64_t)p->id, 0);
    sb_printf(b, "The %s by %s is made of %s, in %s. ", p->name, p->brand, p->material, p->color);
    put_sentence(b, &r);
    put_sentence(b, &r);
    if (b->len && b->p[b->len - 1] == ' ')
        b->p[--b->len] = '\0';
}

static void og_tags(struct sb *b, const struct view *v, const struct product *p, const char *desc)
{
    char path[64], url[URL_MAX], price[32];
    product_path(path, sizeof path, p->id);
    url_of(url, sizeof url, v, path);
    put_meta(b, "og:type", "product");
    put_meta(b, "og:title", p->name);
    put_meta(b, "og:url", url);
    put_meta(b, "og:description", desc);
    for (int k = 0; k < p->nimages; k++) { /* OpenGraph wants absolute URLs */
        char img[64], abs[URL_MAX];
        image_path(img, sizeof img, p, k);
        url_of(abs, sizeof abs, v, img);
        put_meta(b, "og:image", abs);
    }
    price_plain(price, sizeof price, p->cents);
    put_meta(b, "product:brand", p->brand);
    put_meta(b, "product:availability", avails_[p->avail].og);
    put_meta(b, "product:condition", "new");
    put_meta(b, "product:price:amount", price);
    put_meta(b, "product:price:currency", p->currency);
    put_meta(b, "product:retailer_item_id", p->sku);
    put_meta(b, "product:category", cats_[p->cat].name);
    put_meta(b, "product:color", p->color);
    put_meta(b, "product:material", p->material);
}

static const char bad_ld_[] = "<script type=\"application/ld+json\">\n"
                              "{\"@context\": \"https://schema.org\", \"@type\": \"Organization\", "
                              "\"name\": \"" SITE_NAME "\", \"url\": \"/\",}\n</script>\n";

static void render_product(struct sb *b, const struct view *v, const struct product *p)
{
    bool md = p->planted & PLANT_MICRODATA;
    struct rng r = rng_for(SALT_PAGE, 1, (uint64_t)p->id);
    size_t target = page_target(&r);
    struct sb desc = {0}, head = {0}, ld = {0}, title = {0};
    product_description(&desc, p);
    if (p->planted & PLANT_OPENGRAPH)
        og_tags(&head, v, p, desc.p);
    if (p->planted & PLANT_JSONLD)
        product_ld(&ld, v, p, desc.p);
    if (!p->ld_in_body)
        sb_puts(&head, sb_str(&ld));
    if (p->bad_jsonld)
        sb_puts(&head, bad_ld_);
    char path[64], href[128], s[URL_MAX], price[32];
    product_path(path, sizeof path, p->id);
    sb_printf(&title, "%s | %s", p->name, SITE_NAME);
    page_open(b, v, title.p, desc.p, path, head.p);

    category_href(href, sizeof href, v, p->cat, 1);
    sb_printf(b, "<nav class=\"breadcrumb\"><a href=\"/\">Home</a> › <a href=\"%s\">", href);
    put_text(b, cats_[p->cat].name);
    sb_puts(b, "</a> › <span>");
    put_text(b, p->name);
    sb_puts(b, "</span></nav>\n<main>\n");
    sb_puts(b,
            md ? "<article class=\"product\" itemscope itemtype=\"https://schema.org/Product\">\n"
               : "<article class=\"product\">\n");
    sb_puts(b, md ? "<h1 itemprop=\"name\">" : "<h1>");
    put_text(b, p->name);
    sb_puts(b, "</h1>\n<p class=\"brand\">by ");
    if (md)
        sb_puts(b, "<span itemprop=\"brand\" itemscope itemtype=\"https://schema.org/Brand\">"
                   "<span itemprop=\"name\">");
    put_text(b, p->brand);
    sb_puts(b, md ? "</span></span></p>\n" : "</p>\n");
    sb_printf(b, "<p class=\"sku\">Article no. <span%s>%s</span></p>\n",
              md ? " itemprop=\"sku\"" : "", p->sku);
    if (md) {
        sb_puts(b, "<meta itemprop=\"category\" content=\"");
        put_text(b, cats_[p->cat].name);
        sb_puts(b, "\">\n");
    }
    sb_puts(b, "<div class=\"gallery\">\n");
    for (int k = 0; k < p->nimages; k++) {
        image_src(s, sizeof s, v, p, k);
        sb_printf(b, "<img%s src=\"%s\" alt=\"", md ? " itemprop=\"image\"" : "", s);
        put_text(b, p->name);
        sb_printf(b, ", view %d\" width=\"800\" height=\"600\">\n", k + 1);
    }
    sb_puts(b, "</div>\n");
    price_plain(price, sizeof price, p->cents);
    if (md)
        sb_puts(b, "<div class=\"buy\" itemprop=\"offers\" itemscope "
                   "itemtype=\"https://schema.org/Offer\">\n");
    else
        sb_puts(b, "<div class=\"buy\">\n");
    if (md)
        sb_printf(b,
                  "<meta itemprop=\"priceCurrency\" content=\"%s\">"
                  "<span class=\"price\" itemprop=\"price\" content=\"%s\">",
                  p->currency, price);
    else
        sb_puts(b, "<span class=\"price\">");
    put_price(b, p->cents, p->currency);
    sb_puts(b, "</span>\n");
    if (md)
        sb_printf(b, "<link itemprop=\"availability\" href=\"https://schema.org/%s\">",
                  avails_[p->avail].schema);
    sb_printf(b,
              "<span class=\"stock\">%s</span>\n"
              "<button type=\"button\" class=\"add\">Add to cart</button>\n</div>\n",
              avails_[p->avail].text);
    sb_puts(b, "<table class=\"specs\">\n");
    sb_printf(b, "<tr><th>Material</th><td%s>%s</td></tr>\n", md ? " itemprop=\"material\"" : "",
              p->material);
    sb_printf(b, "<tr><th>Colour</th><td%s>%s</td></tr>\n", md ? " itemprop=\"color\"" : "",
              p->color);
    sb_printf(b, "<tr><th>Width</th><td%s>%d cm</td></tr>\n", md ? " itemprop=\"width\"" : "",
              p->width);
    sb_printf(b, "<tr><th>Height</th><td%s>%d cm</td></tr>\n", md ? " itemprop=\"height\"" : "",
              p->height);
    sb_printf(b, "<tr><th>Depth</th><td%s>%d cm</td></tr>\n", md ? " itemprop=\"depth\"" : "",
              p->depth);
    sb_puts(b, "<tr><th>Delivery</th><td>3 to 5 working days</td></tr>\n</table>\n");
    sb_puts(b, md ? "<div class=\"description\" itemprop=\"description\">\n<p>"
                  : "<div class=\"description\">\n<p>");
    put_text(b, desc.p);
    sb_puts(b, "</p>\n</div>\n</article>\n");
    if (p->downloads)
        sb_puts(b,
                "<p class=\"downloads\"><a href=\"/downloads/catalogue.pdf\">Download the "
                "catalogue (PDF, 5 MB)</a> · <a href=\"/img/x.jpg\">Photo in full size</a></p>\n");
    if (p->nrelated) {
        sb_puts(b, "<section class=\"related\">\n<h2>You may also like</h2>\n<ul>\n");
        for (int k = 0; k < p->nrelated; k++) {
            const struct product *o = product_get(p->related[k]);
            sb_printf(b, "<li><a href=\"/product/%d\">", o->id);
            put_text(b, o->name);
            sb_puts(b, "</a> <span class=\"price\">");
            put_price(b, o->cents, o->currency);
            sb_puts(b, "</span></li>\n");
        }
        sb_puts(b, "</ul>\n</section>\n");
    }
    sb_puts(b, "</main>\n");
    if (p->ld_in_body)
        sb_puts(b, sb_str(&ld));
    page_close(b, &r, target);
    sb_release(&desc);
    sb_release(&head);
    sb_release(&ld);
    sb_release(&title);
}

/* The broken product (1-based) a category's first page links to, or 0. */
static int broken_on(int cat)
{
    for (int k = 1; k <= NBROKEN; k++)
        if ((k - 1) % NCAT == cat)
            return k;
    return 0;
}

static void render_category(struct sb *b, const struct view *v, int cat, int page)
{
    const struct listing *l = &site_.lists[cat];
    struct rng r = rng_for(SALT_PAGE, 2, (uint64_t)(cat * 100000 + page));
    size_t target = page_target(&r);
    char self[128], href[128];
    category_href(self, sizeof self, v, cat, page);
    struct sb head = {0}, title = {0}, desc = {0};
    if (page > 1) {
        category_href(href, sizeof href, v, cat, page - 1);
        sb_printf(&head, "<link rel=\"prev\" href=\"%s%s\">\n", v->base, href);
    }
    if (page < l->pages) {
        category_href(href, sizeof href, v, cat, page + 1);
        sb_printf(&head, "<link rel=\"next\" href=\"%s%s\">\n", v->base, href);
    }
    json_t *crumbs = ld_breadcrumbs(v, cat, NULL, NULL);
    json_t *root = json_object();
    jset(root, "@context", jstr("https://schema.org"));
    json_object_update(root, crumbs);
    json_decref(crumbs);
    put_ld_script(&head, root, JSON_INDENT(2));
    if (page > 1)
        sb_printf(&title, "%s – page %d | %s", cats_[cat].name, page, SITE_NAME);
    else
        sb_printf(&title, "%s | %s", cats_[cat].name, SITE_NAME);
    sb_printf(&desc, "%s from %s: %d pieces, delivered to your door.", cats_[cat].name, SITE_NAME,
              l->n);
    page_open(b, v, title.p, desc.p, self, head.p);
    sb_puts(b, "<nav class=\"breadcrumb\"><a href=\"/\">Home</a> › <span>");
    put_text(b, cats_[cat].name);
    sb_puts(b, "</span></nav>\n<main>\n<h1>");
    put_text(b, cats_[cat].name);
    sb_puts(b, "</h1>\n<p class=\"intro\">");
    put_text(b, desc.p);
    sb_puts(b, "</p>\n<ul class=\"products\">\n");
    for (int i = (page - 1) * PER_PAGE; i < page * PER_PAGE && i < l->n; i++) {
        const struct product *p = product_get(l->ids[i]);
        char img[64];
        listing_href(href, sizeof href, v, p);
        image_path(img, sizeof img, p, 0);
        sb_printf(b,
                  "<li class=\"card\"><a href=\"%s\"><img src=\"%s\" alt=\"\" loading=\"lazy\" "
                  "width=\"300\" height=\"225\"><span class=\"name\">",
                  href, img);
        put_text(b, p->name);
        sb_puts(b, "</span></a> <span class=\"price\">");
        put_price(b, p->cents, p->currency);
        sb_printf(b, "</span> <span class=\"stock\">%s</span></li>\n", avails_[p->avail].text);
    }
    int broken = page == 1 ? broken_on(cat) : 0;
    if (broken)
        sb_printf(b,
                  "<li class=\"card\"><a href=\"/product/broken-%d\"><span class=\"name\">"
                  "Clearance piece</span></a> <span class=\"price\">ask us</span></li>\n",
                  broken);
    sb_puts(b, "</ul>\n<nav class=\"pagination\">\n");
    if (page > 1) {
        category_href(href, sizeof href, v, cat, page - 1);
        sb_printf(b, "<a rel=\"prev\" href=\"%s\">« Previous</a>\n", href);
    }
    /* the first, the last and two either side, as shops do: large sites keep small pages, and
     * every page is still reached through rel=next */
    for (int n = 1; n <= l->pages; n++) {
        if (n > 1 && n < page - 2) {
            sb_puts(b, "<span class=\"gap\">…</span>\n");
            n = page - 3;
            continue;
        }
        if (n > page + 2 && n < l->pages) {
            sb_puts(b, "<span class=\"gap\">…</span>\n");
            n = l->pages - 1;
            continue;
        }
        category_href(href, sizeof href, v, cat, n);
        if (n == page)
            sb_printf(b, "<span class=\"current\">%d</span>\n", n);
        else
            sb_printf(b, "<a href=\"%s\">%d</a>\n", href, n);
    }
    if (page < l->pages) {
        category_href(href, sizeof href, v, cat, page + 1);
        sb_printf(b, "<a rel=\"next\" href=\"%s\">Next »</a>\n", href);
    }
    sb_puts(b, "</nav>\n</main>\n");
    page_close(b, &r, target);
    sb_release(&head);
    sb_release(&title);
    sb_release(&desc);
}

static void render_home(struct sb *b, const struct view *v)
{
    struct rng r = rng_for(SALT_PAGE, 3, 0);
    size_t target = page_target(&r);
    char url[URL_MAX];
    url_of(url, sizeof url, v, "/");
    json_t *site = jtyped("WebSite");
    jset(site, "@context", jstr("https://schema.org"));
    jset(site, "name", jstr(SITE_NAME));
    jset(site, "url", jstr(url));
    json_t *org = jtyped("Organization");
    jset(org, "@context", jstr("https://schema.org"));
    jset(org, "name", jstr(SITE_NAME " GmbH"));
    jset(org, "url", jstr(url));
    json_t *same = json_array();
    json_array_append_new(same, jstr("https://social.example/shop"));
    jset(org, "sameAs", same);
    json_t *both = json_array();
    json_array_append_new(both, site);
    json_array_append_new(both, org);
    struct sb head = {0};
    put_ld_script(&head, both, JSON_INDENT(2));
    page_open(b, v, SITE_NAME " – furniture made to last",
              "Tables, chairs, shelves, sofas, lamps and beds, made to order.", "/", head.p);
    sb_puts(b, "<main>\n<h1>Furniture made to last</h1>\n<section class=\"categories\">\n<ul>\n");
    for (int i = 0; i < NCAT; i++) {
        sb_printf(b, "<li><a href=\"/category/%s\"><img src=\"/img/categories/%s.jpg\" alt=\"\">",
                  cats_[i].slug, cats_[i].slug);
        put_text(b, cats_[i].name);
        sb_printf(b, "</a> <span class=\"count\">%d pieces</span></li>\n", site_.lists[i].n);
    }
    sb_puts(b, "</ul>\n</section>\n<section class=\"links\">\n"
               "<p><a href=\"http://offsite.example/partners\">Our partners</a> · "
               "<a href=\"https://social.example/shop\">Follow us</a></p>\n"
               "<p><a href=\"/admin/dashboard\">Staff login</a> · "
               "<a href=\"mailto:hello@trawl-furniture.example\">Write to us</a> · "
               "<a href=\"javascript:void(0)\" onclick=\"openChat()\">Chat with us</a></p>\n"
               "</section>\n</main>\n");
    page_close(b, &r, target);
    sb_release(&head);
}

static const struct {
    const char *path, *title;
} info_[] = {
    {"/about", "About us"},
    {"/contact", "Contact"},
    {"/shipping", "Shipping & returns"},
};

static void render_info(struct sb *b, const struct view *v, int i)
{
    struct rng r = rng_for(SALT_PAGE, 4, (uint64_t)i);
    size_t target = page_target(&r);
    struct sb title = {0};
    sb_printf(&title, "%s | %s", info_[i].title, SITE_NAME);
    page_open(b, v, title.p, info_[i].title, info_[i].path, NULL);
    sb_puts(b, "<main>\n<h1>");
    put_text(b, info_[i].title);
    sb_puts(b, "</h1>\n");
    put_paragraph(b, &r);
    sb_puts(b, "</main>\n");
    page_close(b, &r, target);
    sb_release(&title);
}

static void render_status(struct sb *b, int code)
{
    sb_printf(b,
              "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%d %s</title></head>"
              "<body><h1>%d %s</h1></body></html>\n",
              code, reason(code), code, reason(code));
}

static void render_robots(struct sb *b, const struct view *v)
{
    sb_printf(b, "User-agent: *\nDisallow: /admin/\n\nSitemap: %s/sitemap_index.xml\n", v->base);
}

static void render_sitemap_index(struct sb *b, const struct view *v)
{
    static const char *const maps[] = {"/sitemap-products-1.xml.gz", "/sitemap-products-2.xml.gz",
                                       "/sitemap-categories.xml"};
    sb_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sitemapindex xmlns=\"" SITEMAPS_NS
               "\">\n");
    for (size_t i = 0; i < NELEM(maps); i++)
        sb_printf(b,
                  "  <sitemap>\n    <loc>%s%s</loc>\n    <lastmod>2024-05-0%zu</lastmod>\n"
                  "  </sitemap>\n",
                  v->base, maps[i], i + 1);
    sb_puts(b, "</sitemapindex>\n");
}

static void sitemap_url(struct sb *b, const struct view *v, const char *path, int day)
{
    sb_printf(b,
              "  <url>\n    <loc>%s%s</loc>\n    <lastmod>2024-%02d-%02d</lastmod>\n"
              "    <changefreq>weekly</changefreq>\n  </url>\n",
              v->base, path, 1 + day % 12, 1 + day % 28);
}

/* Products in sitemap k (1 or 2), with the gone ones interleaved. */
static void render_sitemap_products(struct sb *b, const struct view *v, int k)
{
    char path[64];
    sb_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"" SITEMAPS_NS "\">\n");
    int gone = 1;
    for (int id = 1; id <= site_.nproducts; id++) {
        const struct product *p = product_get(id);
        if (p->sitemap != k)
            continue;
        product_path(path, sizeof path, id);
        sitemap_url(b, v, path, id);
        if (id % 7 == 0) {
            for (; gone <= site_.ngone && (gone - 1) % 2 + 1 != k; gone++)
                ;
            if (gone <= site_.ngone) {
                snprintf(path, sizeof path, "/product/gone-%d", gone++);
                sitemap_url(b, v, path, id);
            }
        }
    }
    for (; gone <= site_.ngone; gone++)
        if ((gone - 1) % 2 + 1 == k) {
            snprintf(path, sizeof path, "/product/gone-%d", gone);
            sitemap_url(b, v, path, gone);
        }
    sb_puts(b, "</urlset>\n");
}

static void render_sitemap_categories(struct sb *b, const struct view *v)
{
    char path[128];
    sb_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"" SITEMAPS_NS "\">\n");
    sitemap_url(b, v, "/", 0);
    for (int i = 0; i < NCAT; i++) {
        category_href(path, sizeof path, v, i, 1);
        sitemap_url(b, v, path, i + 1);
    }
    sb_puts(b, "</urlset>\n");
}

static void gzip_sb(const struct sb *in, struct sb *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fprintf(stderr, "shop: deflateInit2 failed\n");
        abort();
    }
    uLong cap = deflateBound(&z, (uLong)in->len);
    unsigned char *buf = xmalloc(cap);
    z.next_in = (unsigned char *)(in->p ? in->p : "");
    z.avail_in = (uInt)in->len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
        fprintf(stderr, "shop: deflate failed\n");
        abort();
    }
    sb_add(out, buf, z.total_out);
    deflateEnd(&z);
    free(buf);
}

/* ---- the manifest ---- */

static void planted_name(char *out, size_t n, int planted)
{
    snprintf(out, n, "%s%s%s%s%s", planted & PLANT_JSONLD ? "jsonld" : "",
             (planted & PLANT_JSONLD) && (planted & ~PLANT_JSONLD) ? "+" : "",
             planted & PLANT_MICRODATA ? "microdata" : "",
             (planted & PLANT_MICRODATA) && (planted & PLANT_OPENGRAPH) ? "+" : "",
             planted & PLANT_OPENGRAPH ? "opengraph" : "");
}

static json_t *jpath(const struct view *v, const char *path, bool absolute)
{
    char url[URL_MAX];
    url_of(url, sizeof url, v, path);
    return jstr(absolute ? url : path);
}

static json_t *manifest_product(const struct view *v, const struct product *p)
{
    char path[64], s[URL_MAX];
    product_path(path, sizeof path, p->id);
    json_t *o = json_object();
    jset(o, "id", json_integer(p->id));
    jset(o, "url", jpath(v, path, true));
    jset(o, "name", jstr(p->name));
    jset(o, "sku", jstr(p->sku));
    jset(o, "brand", jstr(p->brand));
    jset(o, "material", jstr(p->material));
    jset(o, "color", jstr(p->color));
    if (p->planted & (PLANT_JSONLD | PLANT_MICRODATA)) { /* OpenGraph has no dimensions */
        json_t *d = json_object();
        snprintf(s, sizeof s, "%d cm", p->width);
        jset(d, "width", jstr(s));
        snprintf(s, sizeof s, "%d cm", p->height);
        jset(d, "height", jstr(s));
        snprintf(s, sizeof s, "%d cm", p->depth);
        jset(d, "depth", jstr(s));
        jset(o, "dimensions", d);
    }
    jset(o, "price", json_real((double)p->cents / 100.0));
    if ((p->planted & PLANT_JSONLD) && p->shape == SHAPE_AGGREGATE)
        jset(o, "high_price", json_real((double)p->high_cents / 100.0));
    jset(o, "currency", jstr(p->currency));
    jset(o, "availability", jstr(avails_[p->avail].schema));
    json_t *imgs = json_array();
    for (int k = 0; k < p->nimages; k++) {
        image_path(s, sizeof s, p, k);
        json_array_append_new(imgs, jpath(v, s, true));
    }
    jset(o, "images", imgs);
    jset(o, "category", jstr(cats_[p->cat].name));
    if ((p->planted & PLANT_JSONLD) && p->shape == SHAPE_GRAPH) {
        json_t *crumbs = json_array();
        json_array_append_new(crumbs, jstr("Home"));
        json_array_append_new(crumbs, jstr(cats_[p->cat].name));
        json_array_append_new(crumbs, jstr(p->name));
        jset(o, "breadcrumb", crumbs);
    }
    jset(o, "in_sitemap", json_boolean(p->sitemap != 0));
    if (p->sitemap) {
        snprintf(s, sizeof s, "/sitemap-products-%d.xml.gz", p->sitemap);
        jset(o, "sitemap", jstr(s));
    } else {
        jset(o, "sitemap", json_null());
    }
    jset(o, "linked", json_boolean(p->listed));
    planted_name(s, sizeof s, p->planted);
    jset(o, "planted", jstr(s));
    jset(o, "jsonld_shape", p->planted & PLANT_JSONLD ? jstr(shapes_[p->shape]) : json_null());
    return o;
}

static json_t *manifest_new(const struct view *v)
{
    char path[128];
    json_t *m = json_object();
    jset(m, "seed", json_integer((json_int_t)site_.seed));
    jset(m, "base", jstr(v->base));
    jset(m, "static", json_boolean(v->static_site));
    json_t *products = json_array(), *flaky = json_array(), *redirects = json_array(),
           *invalid = json_array(), *pages = json_array();
    json_array_append_new(pages, jstr("/"));
    for (int i = 0; i < NCAT; i++)
        for (int n = 1; n <= site_.lists[i].pages; n++) {
            category_href(path, sizeof path, v, i, n);
            json_array_append_new(pages, jstr(path));
        }
    for (int id = 1; id <= site_.nproducts; id++) {
        const struct product *p = product_get(id);
        json_array_append_new(products, manifest_product(v, p));
        product_path(path, sizeof path, id);
        json_array_append_new(pages, jstr(path));
        if (p->flaky && !v->static_site)
            json_array_append_new(flaky, jstr(path));
        if (p->bad_jsonld)
            json_array_append_new(invalid, jstr(path));
        if (p->via_old && !v->static_site) {
            char from[64];
            snprintf(from, sizeof from, "/old/%d", id);
            json_array_append_new(redirects, json_pack("{s:s, s:s}", "from", from, "to", path));
        }
    }
    for (size_t i = 0; i < NELEM(info_); i++)
        json_array_append_new(pages, jstr(info_[i].path));
    jset(m, "products", products);
    json_t *broken = json_array();
    for (int k = 1; k <= NBROKEN; k++) {
        snprintf(path, sizeof path, "/product/broken-%d", k);
        json_array_append_new(broken, jstr(path));
    }
    jset(m, "broken", broken);
    jset(m, "flaky", flaky);
    json_t *gone = json_array();
    for (int k = 1; k <= site_.ngone; k++) {
        snprintf(path, sizeof path, "/product/gone-%d", k);
        json_array_append_new(gone, jstr(path));
    }
    jset(m, "gone", gone);
    jset(m, "redirects", redirects);
    jset(m, "offsite",
         json_pack("[s, s]", "http://offsite.example/partners", "https://social.example/shop"));
    jset(m, "disallowed", json_pack("[s]", "/admin/dashboard"));
    jset(m, "skip", json_pack("[s, s]", "/downloads/catalogue.pdf", "/img/x.jpg"));
    jset(m, "invalid_jsonld", invalid);
    jset(m, "sitemaps",
         json_pack("[s, s, s, s]", "/sitemap_index.xml", "/sitemap-products-1.xml.gz",
                   "/sitemap-products-2.xml.gz", "/sitemap-categories.xml"));
    json_t *cats = json_array();
    for (int i = 0; i < NCAT; i++) {
        category_href(path, sizeof path, v, i, 1);
        json_array_append_new(cats,
                              json_pack("{s:s, s:s, s:o, s:i, s:i}", "slug", cats_[i].slug, "name",
                                        cats_[i].name, "url", jpath(v, path, true), "pages",
                                        site_.lists[i].pages, "products", site_.lists[i].n));
    }
    jset(m, "categories", cats);
    jset(m, "pages", pages);
    return m;
}

/* ---- the site's URLs, shared by the server and --write ---- */

struct reply {
    int code;
    const char *ctype;
    struct sb body;
    const void *data; /* a static body instead of body, when not NULL */
    size_t len;
    char location[URL_MAX]; /* for a 301, or "" */
};

/* A positive decimal without a leading zero, all of s; 0 when s is not one. */
static int parse_pos(const char *s)
{
    if (*s < '1' || *s > '9' || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
        return 0;
    return atoi(s);
}

/* The category page a path (and query) names: 1 with *cat and *page; 0 when it is not a
 * category path; -1 when it is one but the page does not exist. */
static int parse_category(const struct view *v, const char *path, const char *query, int *cat,
                          int *page)
{
    static const char prefix[] = "/category/";
    if (strncmp(path, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *slug = path + sizeof prefix - 1;
    *cat = -1;
    for (int i = 0; i < NCAT; i++) {
        size_t n = strlen(cats_[i].slug);
        if (strncmp(slug, cats_[i].slug, n) == 0 && (slug[n] == '\0' || slug[n] == '/')) {
            *cat = i;
            slug += n;
            break;
        }
    }
    if (*cat < 0)
        return -1;
    *page = 1;
    if (*slug) { /* /category/<slug>/page/<n>, static sites only */
        if (!v->static_site || strncmp(slug, "/page/", 6) != 0 || !(*page = parse_pos(slug + 6)))
            return -1;
    } else {
        char *q = query_dup(query, "page");
        if (q)
            *page = parse_pos(q);
        free(q);
    }
    return *page >= 1 && *page <= site_.lists[*cat].pages ? 1 : -1;
}

/* What GET path answers, apart from the flaky products and the test helpers. */
static void site_get(const struct view *v, const char *path, const char *query, struct reply *out)
{
    memset(out, 0, sizeof *out);
    out->code = 200;
    out->ctype = TYPE_HTML;
    int cat, page, id, k;
    if (strcmp(path, "/") == 0) {
        render_home(&out->body, v);
    } else if (strcmp(path, "/robots.txt") == 0) {
        out->ctype = TYPE_TEXT;
        render_robots(&out->body, v);
    } else if (strcmp(path, "/sitemap_index.xml") == 0) {
        out->ctype = TYPE_XML;
        render_sitemap_index(&out->body, v);
    } else if (strcmp(path, "/sitemap-categories.xml") == 0) {
        out->ctype = TYPE_XML;
        render_sitemap_categories(&out->body, v);
    } else if (strcmp(path, "/sitemap-products-1.xml.gz") == 0 ||
               strcmp(path, "/sitemap-products-2.xml.gz") == 0) {
        /* compressed files, not a Content-Encoding, as real sites serve them */
        k = path[18] - '0';
        out->ctype = k == 1 ? "application/gzip" : "application/x-gzip";
        struct sb xml = {0};
        render_sitemap_products(&xml, v, k);
        gzip_sb(&xml, &out->body);
        sb_release(&xml);
    } else if ((k = parse_category(v, path, query, &cat, &page)) != 0) {
        if (k > 0) {
            render_category(&out->body, v, cat, page);
        } else {
            out->code = 404;
            render_status(&out->body, 404);
        }
    } else if (strncmp(path, "/product/", 9) == 0 && (id = parse_pos(path + 9)) &&
               product_get(id)) {
        render_product(&out->body, v, product_get(id));
    } else if (strncmp(path, "/product/broken-", 16) == 0 && (k = parse_pos(path + 16)) &&
               k <= NBROKEN) {
        out->code = 500;
        render_status(&out->body, 500);
    } else if (!v->static_site && strncmp(path, "/old/", 5) == 0 && (id = parse_pos(path + 5)) &&
               product_get(id)) {
        out->code = 301;
        snprintf(out->location, sizeof out->location, "%s/product/%d", v->base, id);
        sb_puts(&out->body, "<!DOCTYPE html>\n<html><head><title>Moved</title></head><body>"
                            "<p>This page has moved.</p></body></html>\n");
    } else if (strcmp(path, "/downloads/catalogue.pdf") == 0) {
        out->ctype = "application/pdf";
        out->data = site_.pdf;
        out->len = site_.pdf_len;
    } else if (strncmp(path, "/img/", 5) == 0 && strlen(path) > 9 &&
               strcmp(path + strlen(path) - 4, ".jpg") == 0) {
        out->ctype = "image/jpeg";
        out->data = jpeg_;
        out->len = sizeof jpeg_;
    } else if (strncmp(path, "/admin/", 7) == 0) {
        sb_puts(&out->body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                            "<title>Admin dashboard</title></head><body><h1>Admin dashboard</h1>"
                            "<p>Orders, customers and stock. Robots keep out.</p>"
                            "<p><a href=\"/admin/orders\">Orders</a></p></body></html>\n");
    } else {
        for (size_t i = 0; i < NELEM(info_); i++)
            if (strcmp(path, info_[i].path) == 0) {
                render_info(&out->body, v, (int)i);
                return;
            }
        out->code = 404;
        render_status(&out->body, 404);
    }
}

/* ---- serving ---- */

/* "http://" and the Host header when it is a plain host[:port], else the listening address. */
static void base_for(const struct req *r, char *out, size_t n)
{
    for (int i = 0; i < r->nhdr; i++) {
        const char *h = r->hdr[i].value;
        if (strcasecmp(r->hdr[i].name, "host") == 0 && *h && strlen(h) < 256 &&
            strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]_") ==
                strlen(h)) {
            snprintf(out, n, "http://%s", h);
            return;
        }
    }
    snprintf(out, n, "%s", site_.listen_base);
}

static int dispatch(struct conn *c, struct req *r)
{
    char base[BASE_MAX];
    base_for(r, base, sizeof base);
    struct view v = {.base = base, .static_site = false};
    if (strcmp(r->path, "/__hits") == 0)
        return respond_hits(c, r, &hits_);
    if (strcmp(r->path, "/__reset") == 0) {
        counters_clear(&hits_);
        counters_clear(&flaky_);
        return respond_json(c, r, json_pack("{s:b}", "ok", 1));
    }
    if (strcmp(r->path, "/__manifest") == 0)
        return respond_json(c, r, manifest_new(&v));
    counters_add(&hits_, r->path, 1);
    int id = strncmp(r->path, "/product/", 9) == 0 ? parse_pos(r->path + 9) : 0;
    const struct product *p = product_get(id);
    if (p && p->flaky && counters_add(&flaky_, r->path, 1) == 1) {
        struct sb b = {0};
        render_status(&b, 500);
        int rc = respond(c, r, 500, TYPE_HTML, NULL, b.p, b.len);
        sb_release(&b);
        return rc;
    }
    struct reply rep;
    site_get(&v, r->path, r->query, &rep);
    char extra[URL_MAX + 32] = "";
    if (rep.location[0])
        snprintf(extra, sizeof extra, "Location: %s\r\n", rep.location);
    int rc = respond(c, r, rep.code, rep.ctype, extra[0] ? extra : NULL,
                     rep.data ? rep.data : rep.body.p, rep.data ? rep.len : rep.body.len);
    sb_release(&rep.body);
    return rc;
}

static const struct testsrv shop_ = {
    .server = "trawl-shop",
    .dispatch = dispatch,
    .status_page = render_status,
    .expect_continue = false, /* never did: such a client sends its body after a short wait */
};

/* ---- --write ---- */

/* Writes data to dir/rel, making the directories on the way; -1 after saying why. */
static int write_file(const char *dir, const char *rel, const void *data, size_t len)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) {
        fprintf(stderr, "shop: path too long: %s/%s\n", dir, rel);
        return -1;
    }
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        int rc = mkdir(path, 0755);
        int err = errno;
        *s = '/';
        if (rc < 0 && err != EEXIST) {
            fprintf(stderr, "shop: cannot make a directory for %s: %s\n", path, strerror(err));
            return -1;
        }
    }
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "shop: cannot write %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return 0;
}

/* The file for URL path (as nginx's try_files $uri $uri/index.html finds it). */
static int write_url(const char *dir, const struct view *v, const char *path)
{
    struct reply rep;
    site_get(v, path, "", &rep);
    if (rep.code != 200) {
        fprintf(stderr, "shop: %s answers %d when written\n", path, rep.code);
        sb_release(&rep.body);
        return -1;
    }
    char rel[PATH_MAX];
    const char *last = strrchr(path, '/');
    if (strcmp(path, "/") == 0)
        snprintf(rel, sizeof rel, "index.html");
    else if (strchr(last, '.'))
        snprintf(rel, sizeof rel, "%s", path + 1);
    else
        snprintf(rel, sizeof rel, "%s/index.html", path + 1);
    int rc =
        write_file(dir, rel, rep.data ? rep.data : rep.body.p, rep.data ? rep.len : rep.body.len);
    sb_release(&rep.body);
    return rc;
}

static int write_site(const char *dir, const char *base)
{
    struct view v = {.base = base, .static_site = true};
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "shop: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    static const char *const fixed[] = {
        "/",
        "/robots.txt",
        "/sitemap_index.xml",
        "/sitemap-products-1.xml.gz",
        "/sitemap-products-2.xml.gz",
        "/sitemap-categories.xml",
        "/admin/dashboard",
        "/downloads/catalogue.pdf",
        "/img/x.jpg",
    };
    char path[128];
    for (size_t i = 0; i < NELEM(fixed); i++)
        if (write_url(dir, &v, fixed[i]) < 0)
            return -1;
    for (size_t i = 0; i < NELEM(info_); i++)
        if (write_url(dir, &v, info_[i].path) < 0)
            return -1;
    for (int i = 0; i < NCAT; i++)
        for (int n = 1; n <= site_.lists[i].pages; n++) {
            category_href(path, sizeof path, &v, i, n);
            if (write_url(dir, &v, path) < 0)
                return -1;
        }
    for (int id = 1; id <= site_.nproducts; id++) {
        const struct product *p = product_get(id);
        product_path(path, sizeof path, id);
        if (write_url(dir, &v, path) < 0)
            return -1;
        for (int k = 0; k < p->nimages; k++) {
            image_path(path, sizeof path, p, k);
            if (write_url(dir, &v, path) < 0)
                return -1;
        }
    }
    json_t *m = manifest_new(&v);
    char *s = json_dumps(m, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
    json_decref(m);
    if (!s)
        oom();
    int rc = write_file(dir, "__manifest", s, strlen(s));
    free(s);
    return rc;
}

/* ---- main ---- */

static void make_pdf(void)
{
    static const char head[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
    static const char tail[] = "\n%%EOF\n";
    site_.pdf_len = PDF_BYTES;
    site_.pdf = xmalloc(PDF_BYTES);
    memcpy(site_.pdf, head, sizeof head - 1);
    for (size_t i = sizeof head - 1; i < PDF_BYTES - (sizeof tail - 1); i++)
        site_.pdf[i] = i % 64 == 0 ? '\n' : i % 64 == 1 ? '%' : (char)('a' + i % 26);
    memcpy(site_.pdf + PDF_BYTES - (sizeof tail - 1), tail, sizeof tail - 1);
}

static const char usage_[] =
    "usage: shop [--port N] [--host ADDR] [--portfile PATH] [--products N] [--seed S]\n"
    "            [--page-kb MIN:MAX] [--write DIR [--base URL]]\n"
    "  --port N          port to listen on (default 0: a free one; printed on stdout)\n"
    "  --host ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
    "  --portfile PATH   write the port there (through PATH.tmp) once listening\n"
    "  --products N      how many products (default 120)\n"
    "  --seed S          what the site is made from (default 1)\n"
    "  --page-kb MIN:MAX HTML pages are padded to a size in this range (default 15:40)\n"
    "  --write DIR       write the site as static files under DIR and exit\n"
    "  --base URL        the absolute URL prefix of the written site\n"
    "                    (default http://127.0.0.1:8080)\n";

static const char help_[] =
    "URLs (absolute ones are made from the Host header):\n"
    "  /robots.txt  /sitemap_index.xml  /sitemap-products-{1,2}.xml.gz  /sitemap-categories.xml\n"
    "  /  /category/<slug>[?page=N]  /product/<id>  /old/<id> (301)  /about /contact /shipping\n"
    "  /product/broken-N (500)  /product/gone-N (404, in sitemaps)  flaky products (500 once)\n"
    "  /downloads/catalogue.pdf (5 MB)  /img/...jpg  /admin/... (disallowed)\n"
    "  /__manifest  /__hits[?path=P]  /__reset  (not counted)\n"
    "SIGTERM or SIGINT ends it with status 0\n";

/* Exit status 2 for bad arguments, after saying which. */
static int bad_args(const char *what, const char *arg)
{
    fprintf(stderr, "shop: %s: %s\n%s", what, arg, usage_);
    return 2;
}

static bool parse_ll(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (!*s || *end || errno || n < lo || n > hi)
        return false;
    *out = n;
    return true;
}

int main(int argc, char **argv)
{
    long long port = 0, products = 120, seed = 1, kb_min = 15, kb_max = 40;
    const char *portfile = NULL, *host = "127.0.0.1", *write_dir = NULL;
    const char *base = "http://127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("%s%s", usage_, help_);
            return 0;
        }
        static const char *const opts[] = {"--port", "--host",    "--portfile", "--products",
                                           "--seed", "--page-kb", "--write",    "--base"};
        size_t o = 0;
        while (o < NELEM(opts) && strcmp(a, opts[o]) != 0)
            o++;
        if (o == NELEM(opts))
            return bad_args("unknown option", a);
        if (i + 1 >= argc)
            return bad_args("missing value for", a);
        const char *v = argv[++i];
        if (strcmp(a, "--port") == 0) {
            if (!parse_ll(v, 0, 65535, &port))
                return bad_args("bad port (want 0 to 65535)", v);
        } else if (strcmp(a, "--host") == 0) {
            host = v;
        } else if (strcmp(a, "--portfile") == 0) {
            portfile = v;
        } else if (strcmp(a, "--products") == 0) {
            if (!parse_ll(v, 1, PRODUCTS_MAX, &products))
                return bad_args("bad product count (want 1 to 1000000)", v);
        } else if (strcmp(a, "--seed") == 0) {
            if (!parse_ll(v, 0, LLONG_MAX, &seed))
                return bad_args("bad seed (want a non-negative integer)", v);
        } else if (strcmp(a, "--page-kb") == 0) {
            char lo[32];
            const char *colon = strchr(v, ':');
            size_t n = colon ? (size_t)(colon - v) : 0;
            if (!colon || n >= sizeof lo)
                return bad_args("bad page size (want MIN:MAX in KiB)", v);
            memcpy(lo, v, n);
            lo[n] = '\0';
            if (!parse_ll(lo, 0, PAGE_KB_MAX, &kb_min) ||
                !parse_ll(colon + 1, kb_min, PAGE_KB_MAX, &kb_max))
                return bad_args("bad page size (want MIN:MAX in KiB, MIN <= MAX)", v);
        } else if (strcmp(a, "--write") == 0) {
            write_dir = v;
        } else {
            if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
                return bad_args("bad base (want http://host:port)", v);
            if (strlen(v) >= BASE_MAX - 1 || strpbrk(v, "\"<>'& \t\r\n"))
                return bad_args("bad base (too long, or characters that need escaping)", v);
            base = v;
        }
    }
    site_make((uint64_t)seed, (int)products, (size_t)kb_min * 1024, (size_t)kb_max * 1024);
    make_pdf();
    if (write_dir) {
        char b[BASE_MAX];
        snprintf(b, sizeof b, "%s", base);
        while (strlen(b) > 8 && b[strlen(b) - 1] == '/')
            b[strlen(b) - 1] = '\0';
        return write_site(write_dir, b) < 0 ? 1 : 0;
    }

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return bad_args("bad host (want an IPv4 address)", host);
    int bound;
    int lfd = testsrv_listen(&sa, host, &bound);
    if (lfd < 0)
        return 1;
    snprintf(site_.listen_base, sizeof site_.listen_base, "http://%s:%d", host, bound);
    return testsrv_run(&shop_, lfd, bound, portfile);
}
