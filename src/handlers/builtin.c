/* The table of built-in job types and their default stuck thresholds. */
#include "handlers/handlers.h"

#include <string.h>

static const struct job_handler builtin_[] = {
    {"noop", handler_noop, NULL},
    {"sleep", handler_sleep, NULL},
};

const struct job_handler *handlers_builtin(size_t *n)
{
    *n = sizeof builtin_ / sizeof builtin_[0];
    return builtin_;
}

#define MIN_MS(m) ((int64_t)(m)*60 * 1000)

int handlers_configure(struct engine *eng, struct err *e)
{
    static const struct job_type_config defaults[] = {
        {.name = "noop"},
        {.name = "sleep"},
        {.name = "web_scraping", .no_progress_ms = MIN_MS(30)},
        /* a session's later stages: each attempt has its own time, and reports progress by
         * page or batch of records */
        {.name = "scrape_extract", .timeout_ms = MIN_MS(10), .no_progress_ms = MIN_MS(5)},
        {.name = "scrape_sync", .timeout_ms = MIN_MS(5), .no_progress_ms = MIN_MS(5)},
        /* an import with no update for 20 minutes is stuck (the seeds' monitoring) */
        {.name = "xml_import", .no_progress_ms = MIN_MS(20)},
        {.name = "webhook_redeliver", .max_attempts = 5, .timeout_ms = MIN_MS(2)},
        {.name = "pdf", .no_progress_ms = MIN_MS(5), .lease_ms = MIN_MS(15)},
        /* alert deliveries (alert/alerts.h) retry for about two hours before they land in the
         * dead-letter queue */
        {.name = "alert",
         .max_attempts = 25,
         .backoff = {2000, MIN_MS(5)},
         .lease_ms = MIN_MS(1),
         .timeout_ms = MIN_MS(5)},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        int rc = engine_set_type(eng, &defaults[i], e);
        if (rc)
            return rc;
    }
    return 0;
}
