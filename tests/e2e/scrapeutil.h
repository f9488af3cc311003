/* What the scraping-session tests share (scrapeutil.c): a trawl serve set up for sessions over
 * the generated shop (tests/e2e/shop.c) on 127.0.0.2, and the calls that start, read and wait for
 * a session and export its records. Every call fails the test on an unexpected answer. */
#ifndef TRAWL_SCRAPEUTIL_H
#define TRAWL_SCRAPEUTIL_H

#include "e2eutil.h"

struct env {
    struct serve s;
    struct origin shop;
    char token[128];
};

/* trawl serve's arguments for sessions: the shop's address allowed, crawl workers, short leases */
extern const char *const scr_serve_args[];
void scr_start_serve(struct env *v, const char *db);
/* The shop with this many products, a serve on a new database, a token of workspace "shop". */
void scr_setup(struct env *v, int products);
void scr_teardown(struct env *v);
/* GET path from the shop (its JSON). */
json_t *scr_shop_json(struct env *v, const char *path);
/* Start a session with the settings in cfg (stolen), at the shop unless cfg names a source_url;
 * its id into id. */
void scr_start_session(struct env *v, json_t *cfg, char id[64]);
json_t *scr_get_session(struct env *v, const char *id);
json_int_t scr_num(json_t *o, const char *k);
const char *scr_str(json_t *o, const char *k);
/* Poll the session until it ends (ms at most), checking at every step that its counts add up. */
json_t *scr_wait_session(struct env *v, const char *id, int64_t ms);
/* The session's records as a JSON array, read from the JSON Lines export. */
json_t *scr_records(struct env *v, const char *id);

#endif
