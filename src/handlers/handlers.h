/* The built-in job types: their handlers and their default settings. */
#ifndef TRAWL_HANDLERS_H
#define TRAWL_HANDLERS_H

#include "engine/worker.h"

/* The built-in handlers (static array) and their count. */
const struct job_handler *handlers_builtin(size_t *n);
/* Register the default settings of every built-in type, including those of kinds whose handlers
 * come later (web_scraping, import, pdf), so their stuck thresholds hold from the start. */
int handlers_configure(struct engine *eng, struct err *e);

int handler_noop(struct job_ctx *ctx);
int handler_sleep(struct job_ctx *ctx);

#endif
