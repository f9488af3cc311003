/* Cron schedules: parse a cron expression (five fields, a macro such as @daily, or "@every 5m")
 * and find its next time in an IANA time zone, with the zone's rules (DST included) from ICU.
 *
 * Ownership: cron_parse's result belongs to the caller (cron_free); every string is borrowed.
 * A parsed schedule is never changed, so any number of threads may use one at once. */
#ifndef TRAWL_CRON_H
#define TRAWL_CRON_H

#include "base/err.h"

#include <stdbool.h>
#include <stdint.h>

/* The longest expression cron_parse reads, in bytes (without the terminating NUL). */
#define CRON_EXPR_MAX 256
/* The longest time-zone name cron_zone_check accepts (IANA's longest is 32). */
#define CRON_ZONE_MAX 64
/* How far cron_next looks before it gives up: five years of 366 days. */
#define CRON_HORIZON_MS (5LL * 366 * 86400 * 1000)
/* The times cron_next accepts, CRON_MIN_MS <= t < CRON_MAX_MS: 0001-01-01 to 9990-01-01 UTC. */
#define CRON_MIN_MS (-62135596800000LL)
#define CRON_MAX_MS (253086768000000LL)

struct cron; /* a parsed schedule */

/* Parse expr into a new schedule (*out; cron_free). What is read:
 *
 *   - five fields separated by spaces or tabs: "minute hour day-of-month month day-of-week",
 *     ranges 0-59, 0-23, 1-31, 1-12 and 0-7 (0 and 7 are both Sunday). A field is a list of
 *     items "a,b,c"; an item is "*", "n", "a-b" (a <= b), or one of these with a step "/n"
 *     ("*" with a step: from the field's first value; "a/n" means from a to the field's last
 *     value, 6 for day-of-week). A step is 1 to the field's size (60, 24, 31, 12, 7). Months may
 *     be named JAN-DEC and weekdays SUN-SAT, in any case, also in ranges (MON-FRI).
 *   - the macros @yearly and @annually ("0 0 1 1 *"), @monthly ("0 0 1 * *"), @weekly
 *     ("0 0 * * 0"), @daily and @midnight ("0 0 * * *"), @hourly ("0 * * * *"), in any case.
 *   - "@every D", D a duration: numbers with units d, h, m, s from largest to smallest, each
 *     unit at most once ("30s", "5m", "1h30m", "90m", "1d12h"); from 1 s to 366 d.
 *
 * Leading and trailing spaces are allowed. Anything else (a control character or a byte that is
 * not ASCII, more than CRON_EXPR_MAX bytes, a value out of range, a step of 0, "5-1", "1,,2",
 * "1-2-3", a trailing "x") is TRAWL_EINVAL with a message that quotes the expression and names
 * the field, such as
 *   cron "0,30 25 * * *": field 2 (hour) "25": 25 is out of range 0-23
 * and *out is NULL. An expression that parses may still never match ("0 0 30 2 *"): cron_next
 * says so. */
int cron_parse(const char *expr, struct cron **out, struct err *e);
/* Accepts NULL. */
void cron_free(struct cron *c);

/* 0 when tz is a time zone ICU knows by that name: an IANA name ("UTC", "Europe/Berlin") or one
 * of its aliases ("US/Eastern"), spelled with the case IANA uses. TRAWL_EINVAL for anything
 * else, including NULL, "" and ICU's custom "GMT+05:00" form. */
int cron_zone_check(const char *tz, struct err *e);

/* The first time of c strictly after after_ms, into *next_ms (times are milliseconds since the
 * Unix epoch). Field schedules run at whole minutes of the wall clock in time zone tz (which
 * must pass cron_zone_check; callers pick "UTC" when the user named none):
 *
 *   - day-of-month and day-of-week as Vixie cron: when both fields are restricted (neither
 *     starts with "*"), a day matches when either field does; otherwise when both do.
 *   - every-hour schedules (an hour field that matches all 24 hours: "*", "0-23", "*" with step
 *     1) follow elapsed time: a time runs whenever the wall clock shows a matching minute. On a
 *     fall-back day they run in both occurrences of the repeated hour ("0,30 * * * *" in New
 *     York on 2026-11-01: 1:00 and 1:30 EDT, then 1:00 and 1:30 EST); a spring-forward gap has
 *     no wall times, so none of theirs runs in it and none is made up.
 *   - other schedules (hours restricted: "30 2 * * *") run once per matching wall time: when the
 *     wall time happens twice (fall back), at its first occurrence only; when it does not happen
 *     (spring forward), at the instant the gap ends (03:00 local in New York on 2026-03-08 for
 *     "30 2 * * *"), once, however many of the schedule's wall times the gap swallowed, and not
 *     again when the gap's end is itself a time of the schedule.
 *
 * "@every D" runs at anchor_ms + k*D for k >= 0 (the first one strictly after after_ms); tz and
 * the calendar play no part, and tz is not read (it may be NULL).
 *
 * Returns 0; TRAWL_ENOTFOUND when c has no time in the CRON_HORIZON_MS after after_ms (Feb 30
 * never comes); TRAWL_EINVAL for a zone that fails cron_zone_check, or after_ms (or, for
 * "@every", anchor_ms) outside [CRON_MIN_MS, CRON_MAX_MS); on an error *next_ms is left as it
 * was. Thread-safe: it opens its own ICU calendar for the call. */
int cron_next(const struct cron *c, const char *tz, int64_t anchor_ms, int64_t after_ms,
              int64_t *next_ms, struct err *e);

/* true when c is an "@every" schedule; *interval_ms (when not NULL) is then its length. */
bool cron_is_every(const struct cron *c, int64_t *interval_ms);

#endif
