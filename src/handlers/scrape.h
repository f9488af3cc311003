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

#define SCRAPE_TYPE "web_scraping"

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

/* The handler; register it with arg pointing at a struct crawler (the same as crawl jobs'). */
int handler_scrape(struct job_ctx *ctx);

#endif
