/* The SQLite store's alerts domain (migration 0011): one upsert per alert raised, on the writer in
 * the transaction that raises it. */
#include "store/sqlite_int.h"

/* Every SET reads the row as it was, so each CASE asks the same question: did the window pass? */
static int al_take(struct store *s, const char *key, int64_t now, int64_t window_ms, bool *sent,
                   int64_t *suppressed, struct err *e)
{
    struct sq *q = (struct sq *)s;
    int rc = sq_prep_once(q->w,
                          "INSERT INTO alert_limits AS l (key, sent_at) VALUES (?1, ?2) "
                          "ON CONFLICT (key) DO UPDATE SET "
                          "sent = ?2 - l.sent_at >= ?3, "
                          "told = CASE WHEN ?2 - l.sent_at >= ?3 THEN l.held ELSE l.told END, "
                          "held = CASE WHEN ?2 - l.sent_at >= ?3 THEN 0 ELSE l.held + 1 END, "
                          "sent_at = CASE WHEN ?2 - l.sent_at >= ?3 THEN ?2 ELSE l.sent_at END "
                          "RETURNING sent, told",
                          &q->al_take, e);
    if (rc)
        return rc;
    sqlite3_stmt *st = q->al_take;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, window_ms);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        *sent = sqlite3_column_int(st, 0) != 0;
        *suppressed = *sent ? sqlite3_column_int64(st, 1) : 0;
        step = sqlite3_step(st);
    }
    rc = step == SQLITE_DONE ? 0 : sq_err(q->w, step, e, "take an alert's rate limit");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

const struct store_alert_ops sq_alerts = {
    .version = STORE_ALERT_VERSION,
    .take = al_take,
};
