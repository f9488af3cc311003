/* Feed imports (store/import.h): the xml_import job that reads a product feed (an upload kept in
 * the import folder, or a URL fetched into it through the fetcher and its guards), detects its
 * fields, maps every record onto the product record, keeps the products and the rows that are
 * none in the store, and delivers the products to the import's webhook in signed batches; and the
 * webhook_redeliver job that sends one recorded call again.
 *
 * Stages, each the job's stage as it runs: parsing (the feed fetched and opened), detecting (a
 * sample's fields and the suggested mappings), processing (records kept, in transactions of
 * IMPORT_FLUSH records; the checkpoint names the last one kept), delivering (batch after batch,
 * each marked delivered in the transaction that records the receiver's 2xx, so a crash sends at
 * most one batch again, with the same webhook-id), done.
 *
 * Ownership: the importer is borrowed by the handlers and must outlive the pool. */
#ifndef TRAWL_HANDLERS_IMPORT_H
#define TRAWL_HANDLERS_IMPORT_H

#include "engine/worker.h"
#include "handlers/crawl.h"

#include <stddef.h>
#include <stdint.h>

#define IMPORT_JOB_TYPE        "xml_import" /* the type name of the seeds, whatever the format */
#define REDELIVER_JOB_TYPE     "webhook_redeliver"
#define IMPORT_FLUSH           2000               /* records kept per transaction */
#define IMPORT_URL_MAX_DEFAULT ((int64_t)4 << 30) /* a feed fetched from a URL, bytes */

struct importer {
    struct crawler *cr;
    const char *dir; /* the import folder: one file <import id>.feed per import */
    int64_t url_max; /* 0: IMPORT_URL_MAX_DEFAULT */
};

/* The path of import id's feed in dir. Returns 0, or TRAWL_ETOOBIG when n is too small. */
int import_feed_path(const char *dir, const char *id, char *out, size_t n);

/* The handlers; register them with arg pointing at a struct importer. */
int handler_import(struct job_ctx *ctx);
int handler_redeliver(struct job_ctx *ctx);

#endif
