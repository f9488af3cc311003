/* The PostgreSQL store's alerts domain: one upsert per alert raised, on the writer in the
 * transaction that raises it. Two nodes raising one alert at once: the second waits on the row
 * for the first's commit, then reads what it wrote, so one alert goes out per window. */
#include "store/pg_int.h"

#include <string.h>

/* Every SET reads the row as it was, so each CASE asks the same question: did the window pass? */
static int al_take(struct store *s, const char *key, int64_t now, int64_t window_ms, bool *sent,
                   int64_t *suppressed, struct err *e)
{
    struct pg *p = (struct pg *)s;
    static const char sql[] =
        "INSERT INTO alert_limits AS l (key, sent_at) VALUES ($1, $2) "
        "ON CONFLICT (key) DO UPDATE SET "
        "sent = $2::bigint - l.sent_at >= $3::bigint, "
        "told = CASE WHEN $2::bigint - l.sent_at >= $3::bigint THEN l.held ELSE l.told END, "
        "held = CASE WHEN $2::bigint - l.sent_at >= $3::bigint THEN 0 ELSE l.held + 1 END, "
        "sent_at = CASE WHEN $2::bigint - l.sent_at >= $3::bigint THEN $2::bigint "
        "ELSE l.sent_at END "
        "RETURNING sent, told";
    struct pg_args a = {0};
    pa_text(&a, key);
    pa_i64(&a, now);
    pa_i64(&a, window_ms);
    PGresult *r;
    int rc = pg_run(&p->w, sql, &a, &r, e, "take an alert's rate limit");
    if (rc)
        return rc;
    *sent = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    *suppressed = *sent ? pg_i64(r, 0, 1) : 0;
    PQclear(r);
    return 0;
}

const struct store_alert_ops pg_alert_ops = {
    .version = STORE_ALERT_VERSION,
    .take = al_take,
};
