/* The wrappers of the store's alerts domain. */
#include "store/alert.h"

int store_alert_take(struct store *s, const char *key, int64_t now, int64_t window_ms, bool *sent,
                     int64_t *suppressed, struct err *e)
{
    STORE_WRAP(s, s->alerts, "alerts",
               s->alerts->take(s, key, now, window_ms, sent, suppressed, e));
}
