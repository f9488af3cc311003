/* Alerts' rate limits in the store: one row per alert fingerprint, so every node that shares the
 * database lets the same alert through at most once per window, and counts the ones it held back
 * for the next one that goes out. */
#ifndef TRAWL_STORE_ALERT_H
#define TRAWL_STORE_ALERT_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

#define STORE_ALERT_VERSION 1
struct store_alert_ops {
    int version; /* STORE_ALERT_VERSION */
    int (*take)(struct store *s, const char *key, int64_t now, int64_t window_ms, bool *sent,
                int64_t *suppressed, struct err *e);
};

/* Whether an alert with fingerprint key may go out at now (write, in the transaction that raises
 * it): yes when none went out in the window_ms before now. Then *sent is true and *suppressed
 * gets how many were held back since the last one that went out; else *sent is false and this
 * one is counted as held back. A rollback undoes both. Two nodes taking one key at once wait for
 * each other: one of them sends. */
int store_alert_take(struct store *s, const char *key, int64_t now, int64_t window_ms, bool *sent,
                     int64_t *suppressed, struct err *e);

#endif
