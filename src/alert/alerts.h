/* Alerts: a job that failed for good, a stuck job (heartbeat or no-progress timeout), a stuck or
 * failed scraping session, a stuck or failed feed import, and what recovery made of a stuck job
 * (requeued to resume from its checkpoint, or failed after its last restart).
 *
 * An alert is raised inside the transaction of the change that causes it: one job of type
 * ALERT_TYPE per destination (Sentry, the alert webhook) is enqueued in that transaction, so the
 * alert is durable exactly when its cause is, and delivered by the job with its retries, backoff
 * and breaker. A destination that is down, slow or answering 429 delays alerts and loses none;
 * the engine never waits for it. Alerts with one fingerprint are rate-limited: within the window,
 * later ones are counted and the count goes out with the next one sent. The limit is kept in the
 * store (store/alert.h), in the raising transaction, so every node sharing a database limits
 * alike and a rolled-back transaction neither sent nor counted its alert. Every alert is also a
 * live event (obs/events.h) of the workspace of its job.
 *
 * Ownership: the engine, bus and breakers are borrowed and must outlive the alerter. */
#ifndef TRAWL_ALERTS_H
#define TRAWL_ALERTS_H

#include "base/err.h"
#include "engine/engine.h"
#include "engine/worker.h"

#define ALERT_TYPE "alert"

struct alert_opts {
    const char *sentry_dsn;     /* NULL: no Sentry */
    const char *webhook_url;    /* NULL: no webhook */
    const char *webhook_secret; /* the HMAC key; required with webhook_url */
    int64_t rate_window_ms;     /* alerts with one fingerprint at most once per window; default
                                   60000; -1: no limit */
    int64_t timeout_ms;         /* of one delivery; default 10000 */
    const char *session_type;   /* the job type of scraping sessions; NULL: none */
    const char *import_type;    /* the job type of feed imports (store/import.h); NULL: none */
};

/* Check the settings: a malformed DSN or webhook URL, or a webhook without a secret, is refused
 * with a message that names it. */
int alert_opts_check(const struct alert_opts *o, struct err *e);

struct ev_bus;
struct breakers;
struct alerter;

/* Raise alerts for eng's changes from now on (eng's one transaction hook). bus and breakers may
 * be NULL. */
int alerter_new(struct engine *eng, struct ev_bus *bus, struct breakers *breakers,
                const struct alert_opts *o, struct alerter **out, struct err *e);
/* Accepts NULL. */
void alerter_free(struct alerter *a);

/* The handler of ALERT_TYPE jobs; its arg is the alerter. */
int handler_alert(struct job_ctx *ctx);

#endif
