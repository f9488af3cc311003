/* The PostgreSQL sessions domain's share of the extract and sync stages (pg_sync.c), declared for
 * the domain's table of operations in pg_scrape.c. Not for use outside src/store/. The semantics
 * are store_session_set_stages() and the others of scrape.h. */
#ifndef TRAWL_PG_SYNC_H
#define TRAWL_PG_SYNC_H

#include "store/scrape.h"

int pg_session_set_stages(struct store *s, const char *id, const struct session_stages *st,
                          int64_t now, struct err *e);
int pg_pages_to_extract(struct store *s, const char *session_id, int gen, int64_t after_id,
                        size_t limit, struct page_body **out, size_t *n, struct err *e);
int pg_page_extracted(struct store *s, const char *session_id, int64_t page_id, int gen,
                      int records, struct err *e);
int pg_records_prune(struct store *s, const char *session_id, int gen, struct err *e);
int pg_source_sync(struct store *s, struct sync_batch *b, struct err *e);
int pg_source_prune(struct store *s, const struct sync_batch *b, struct err *e);
int pg_sync_begin(struct store *s, const struct sync_batch *b, struct err *e);
int pg_sync_counts(struct store *s, const char *session_id, int64_t counts[4], struct err *e);
int pg_removed_list(struct store *s, const char *session_id, const char *after_key, size_t limit,
                    struct record_row **out, size_t *n, struct err *e);

#endif
