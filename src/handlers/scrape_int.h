/* The insides of scraping sessions shared by their three stage handlers (scrape.c: ingest,
 * scrape_extract.c, scrape_sync.c): a session's settings read back, and the extraction of one
 * parsed page into records and formats (scrape_page.c). Not for use outside src/handlers/. */
#ifndef TRAWL_SCRAPE_INT_H
#define TRAWL_SCRAPE_INT_H

#include "handlers/scrape.h"
#include "parse/html.h"
#include "store/scrape.h"

#include <jansson.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_PATTERNS   32
#define MAX_CATEGORIES 64
enum { MODE_SITEMAP = 1, MODE_CRAWL = 2 };
enum { FMT_MARKDOWN = 1, FMT_TEXT = 2, FMT_HTML = 4, FMT_LINKS = 8, FMT_METADATA = 16 };

/* The sync stage's settings: where the records go. */
enum { SYNC_REPLACE, SYNC_DIFF };

struct cfg {
    char *source;
    char host[256];   /* the source's host */
    char site[256];   /* the host without a leading "www.", for allow_subdomains */
    char origin[300]; /* scheme://host[:port] */
    unsigned mode;
    int max_pages, max_depth, concurrency;
    int64_t delay_ms, timeout_ms;
    bool subdomains, ignore_query, robots, structured;
    regex_t inc[MAX_PATTERNS], exc[MAX_PATTERNS];
    int ninc, nexc;
    json_t *rules;
    unsigned formats;
    char *cats[MAX_CATEGORIES];
    int ncats;
    int sync_mode;        /* SYNC_REPLACE or SYNC_DIFF */
    char *webhook_url;    /* NULL: no webhook */
    char *webhook_secret; /* NULL: deliveries are not signed */
    int webhook_batch;    /* records per delivery */
};

/* Read settings (as sent, or as stored) into c; out (may be NULL) gets them complete. TRAWL_EINVAL
 * names the field. cfg_release frees what c holds (also after a failure: c is zeroed first). */
int cfg_load(const json_t *in, struct cfg *c, json_t **out, struct err *e);
void cfg_release(struct cfg *c);

/* What one page gave: its records, as JSON and as rows for the store, and its warnings. */
struct page_recs {
    json_t *recs;            /* array of the records */
    char **text;             /* each record's JSON text, which rows point into */
    struct record_new *rows; /* keyed by sku, else the record's URL, else the page's */
    size_t n;
    char warning[600]; /* "" or "warning: <the first>" (with "and more" when there are more) */
};

/* The records of page url (parsed as d) under c's extraction settings (structured data, rules,
 * categories), each row of generation gen. */
void page_recs_extract(const struct cfg *c, const struct html_doc *d, const char *url, int gen,
                       struct page_recs *out);
void page_recs_release(struct page_recs *p);
/* The formats c asks for (markdown, text, html, links, metadata) as a zstd frame of a JSON object,
 * *len its size; NULL when none is asked for. */
void *page_formats(const struct cfg *c, const struct html_doc *d, size_t *len);

/* The session of a stage job: its id from the job's args, its row, and its settings (c). On
 * failure the job has been failed (the return value is the handler's) and nothing is held. */
int stage_session(struct job_ctx *ctx, struct scrape_session *ss, struct cfg *c);

#endif
