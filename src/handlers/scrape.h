/* Scraping sessions: a web_scraping job that crawls a whole site into product and material
 * records. It discovers pages from robots.txt's sitemaps, /sitemap.xml and the links of the pages
 * themselves, keeps its frontier in the store (the scrape_pages rows), fetches the pages through
 * the fetcher with a few threads of its own, and extracts records from each page, writing the
 * page's outcome, the links it adds and the records it found in one transaction. A session that
 * stops (kill -9, a lost lease, shutdown) resumes from the store: pages already done are not
 * fetched again.
 *
 * Job args: {"session_id": id}; the session's settings are on its scrape_sessions row. */
#ifndef TRAWL_HANDLERS_SCRAPE_H
#define TRAWL_HANDLERS_SCRAPE_H

#include "engine/worker.h"
#include "handlers/crawl.h"

#include <jansson.h>

#define SCRAPE_TYPE         "web_scraping" /* the ingest stage, the chain's root */
#define SCRAPE_EXTRACT_TYPE "scrape_extract"
#define SCRAPE_SYNC_TYPE    "scrape_sync"

/* Check a session's settings as a user sends them, and give them back complete (defaults filled
 * in, source_url normalized) as a new JSON object in *out. TRAWL_EINVAL names the field. The
 * settings: source_url (required), mode ("sitemap", "crawl" or "both"; default both), max_pages
 * (1-1000000; default 1000), max_depth (0-10000; default 3), include_paths and exclude_paths
 * (arrays of POSIX extended regular expressions matched against the path and query),
 * allow_subdomains (default false), ignore_query_parameters (default false: a URL's query
 * makes it another page), categories (array of strings: keep only records whose category
 * contains one of them, case-insensitively), extract ({"structured": true, "rules": {...} (see
 * parse/product.h), "formats": ["markdown", "text", "html", "links", "metadata"]}),
 * concurrency (1-32; default 4), delay_ms (0-60000; default 0), respect_robots (default true),
 * timeout_ms (per page, 1000-300000; default the fetcher's). */
int scrape_config_check(const json_t *in, json_t **out, struct err *e);

/* The ingest stage's handler; register it with arg pointing at a struct crawler (the same as
 * crawl jobs'). */
int handler_scrape(struct job_ctx *ctx);
/* The extract stage: the session's pages done whose records are not of its current extraction
 * generation are extracted again from their stored bodies (no fetch), page by page, each page's
 * records committed with it; then the records the generation did not find again are dropped.
 * After an ingest that extracted as pages arrived, it finds nothing to do. Job args as ingest's;
 * no arg needed. */
int handler_scrape_extract(struct job_ctx *ctx);
/* The sync stage: the session's records to the destination of its source (the last records
 * delivered for the same workspace and start URL), each marked new, changed or unchanged, and the
 * source's records this session no longer has removed; then, when the session names a webhook,
 * deliveries of them as webhook jobs it fans out. */
int handler_scrape_sync(struct job_ctx *ctx);

#endif
