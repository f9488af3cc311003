/* The insides of the import handlers, shared by their files (import.c: the job and the feed's
 * file; import_process.c: detecting and processing; import_deliver.c: the webhook batches and
 * redeliveries). Not for use outside src/handlers/import*.c. */
#ifndef TRAWL_HANDLERS_IMPORT_INT_H
#define TRAWL_HANDLERS_IMPORT_INT_H

#include "handlers/import.h"
#include "parse/feed.h"
#include "store/import.h"

#include <stdbool.h>
#include <stdint.h>

/* One run of an import's job. */
struct import_run {
    struct job_ctx *ctx;
    struct engine *eng;
    struct importer *imp;
    struct import im;
    bool have_im;
    char *secret;  /* the webhook's; NULL: none */
    int64_t after; /* processing's checkpoint: the records numbered up to it are kept */
};

/* The feed's file, read through feed_parse. */
struct import_reader {
    int fd;
    int64_t size, bytes; /* the file's size, and what was read of it */
};

/* Write up into the import (if_status 0: IMPORT_NOT_ENDED), in the committer's transaction.
 * TRAWL_ESTATE when the import has ended (cancelled). */
int import_set(struct import_run *u, struct import_update *up, struct err *e);
/* The import's status, and the job's stage and progress; 0 or the handler's return (the job
 * failed: cancelled, or the store refused). */
int import_set_status(struct import_run *u, int status, const char *stage, int progress);
/* Fail the job (job_ctx_fail) with the message; when it will not run again (not retryable, or
 * its last attempt) the import fails too, with the message as its error. */
int import_fail(struct import_run *u, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open the import's feed, fetching it first when it names a URL and has no file yet. 0 or the
 * handler's return. */
int import_open(struct import_run *u, struct import_reader *r);
void import_close(struct import_reader *r);
/* The feed_read_fn of a reader (ctx a struct import_reader). */
ssize_t import_read(void *ctx, void *buf, size_t cap, struct err *e);
/* feed_parse's options for the import (its type, when given or detected). */
struct feed_opts import_feed_opts(const struct import_run *u);

/* Read a sample of the feed, and write what its fields hold, the suggested mappings and the
 * type into the import (and, without mappings of its own and not a preview, the suggested ones
 * as its mappings). 0 or the handler's return. */
int import_detect(struct import_run *u);
/* Read the whole feed, keeping its products and bad rows from after u->after on; the import's
 * counts as the store has them at the end. 0 or the handler's return. */
int import_process(struct import_run *u);
/* Deliver the undelivered records in batches to the webhook. 0 or the handler's return. */
int import_deliver(struct import_run *u);

#endif
