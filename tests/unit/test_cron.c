/* Cron schedules: what parses and what each bad expression's message names, the next times of
 * tables of expressions (checked by hand and with date(1) on glibc's zone data) in UTC and
 * across DST in four zones, and a minute-by-minute reference on glibc's zone data. */
#include "engine/cron.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* "2026-03-08T07:00Z" as milliseconds since the epoch. */
static int64_t at(const char *iso)
{
    struct tm tm = {0};
    int n = sscanf(iso, "%d-%d-%dT%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                   &tm.tm_min);
    cr_assert_eq(n, 5, "the test's time %s is not YYYY-MM-DDTHH:MMZ", iso);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm) * 1000;
}

/* ms as "2026-03-08T07:00:00.000Z", in one of four static buffers (for messages). */
static const char *iso(int64_t ms)
{
    static char buf[4][40];
    static int k;
    char *b = buf[k++ % 4];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(b, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(b + n, 40 - n, ".%03dZ", (int)(ms % 1000));
    return b;
}

static struct cron *parse(const char *expr)
{
    struct cron *c = NULL;
    struct err e = {0};
    int rc = cron_parse(expr, &c, &e);
    cr_assert_eq(rc, 0, "cron_parse(\"%s\"): %s", expr, e.msg);
    cr_assert_not_null(c);
    return c;
}

/* An expression, a zone, the time to start after, and the times it should give in turn. */
struct want {
    const char *expr;
    const char *tz;
    const char *after;
    const char *next[8];
};

static void check(const struct want *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct cron *c = parse(w[i].expr);
        int64_t t = at(w[i].after);
        for (int k = 0; k < 8 && w[i].next[k]; k++) {
            int64_t next = 0;
            struct err e = {0};
            int rc = cron_next(c, w[i].tz, 0, t, &next, &e);
            cr_assert_eq(rc, 0, "\"%s\" in %s after %s: %s", w[i].expr, w[i].tz, iso(t), e.msg);
            cr_expect_eq(next, at(w[i].next[k]), "\"%s\" in %s after %s: %s, want %s", w[i].expr,
                         w[i].tz, iso(t), iso(next), iso(at(w[i].next[k])));
            t = next;
        }
        cron_free(c);
    }
}

#define CHECK(table) check(table, sizeof table / sizeof table[0])

Test(cron, fields_in_utc)
{
    static const struct want w[] = {
        {"* * * * *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-01T00:01Z", "2026-01-01T00:02Z", "2026-01-01T00:03Z"}},
        {"*/5 * * * *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-01T00:05Z", "2026-01-01T00:10Z", "2026-01-01T00:15Z"}},
        {"*/5 * * * *",
         "UTC",
         "2026-01-01T23:50Z",
         {"2026-01-01T23:55Z", "2026-01-02T00:00Z", "2026-01-02T00:05Z"}},
        {"10-12 * * * *",
         "UTC",
         "2026-01-01T00:11Z",
         {"2026-01-01T00:12Z", "2026-01-01T01:10Z", "2026-01-01T01:11Z", "2026-01-01T01:12Z",
          "2026-01-01T02:10Z"}},
        {"0,15,45 9 * * *",
         "UTC",
         "2026-01-01T09:20Z",
         {"2026-01-01T09:45Z", "2026-01-02T09:00Z", "2026-01-02T09:15Z", "2026-01-02T09:45Z"}},
        {"10-40/15 * * * *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-01T00:10Z", "2026-01-01T00:25Z", "2026-01-01T00:40Z", "2026-01-01T01:10Z"}},
        /* a/n is a-59/n */
        {"50/5 * * * *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-01T00:50Z", "2026-01-01T00:55Z", "2026-01-01T01:50Z"}},
        {"0 */6 * * *",
         "UTC",
         "2026-01-01T05:00Z",
         {"2026-01-01T06:00Z", "2026-01-01T12:00Z", "2026-01-01T18:00Z", "2026-01-02T00:00Z"}},
        {"30 8-10,14 * * *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-01T08:30Z", "2026-01-01T09:30Z", "2026-01-01T10:30Z", "2026-01-01T14:30Z",
          "2026-01-02T08:30Z"}},
        /* names, any case; 2026-01-01 is a Thursday */
        {"0 12 * JAN,jul Mon-Wed",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-05T12:00Z", "2026-01-06T12:00Z", "2026-01-07T12:00Z", "2026-01-12T12:00Z"}},
        {"0 12 * JAN,jul Mon-Wed",
         "UTC",
         "2026-01-28T13:00Z",
         {"2026-07-01T12:00Z", "2026-07-06T12:00Z"}},
        {"0 0 1 feb-apr/2 *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-02-01T00:00Z", "2026-04-01T00:00Z", "2027-02-01T00:00Z"}},
        /* 0 and 7 are both Sunday (2026-01-04) */
        {"0 8 * * 7", "UTC", "2026-01-01T00:00Z", {"2026-01-04T08:00Z", "2026-01-11T08:00Z"}},
        {"0 8 * * 0", "UTC", "2026-01-01T00:00Z", {"2026-01-04T08:00Z", "2026-01-11T08:00Z"}},
        {"0 8 * * SUN", "UTC", "2026-01-01T00:00Z", {"2026-01-04T08:00Z", "2026-01-11T08:00Z"}},
        {"0 8 * * 5-7",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-02T08:00Z", "2026-01-03T08:00Z", "2026-01-04T08:00Z", "2026-01-09T08:00Z"}},
        {"0 8 * * 0,7", "UTC", "2026-01-04T08:00Z", {"2026-01-11T08:00Z"}},
        /* "*" and step 1 are the whole range */
        {"*/1 0-23 1-31 1-12 0-7",
         "UTC",
         "2026-01-31T23:59Z",
         {"2026-02-01T00:00Z", "2026-02-01T00:01Z"}},
    };
    CHECK(w);
}

Test(cron, the_next_time_is_strictly_after)
{
    static const struct want w[] = {
        /* on a slot: the one after it */
        {"0 * * * *", "UTC", "2026-01-01T10:00Z", {"2026-01-01T11:00Z"}},
        {"* * * * *", "UTC", "2026-01-01T10:00Z", {"2026-01-01T10:01Z"}},
    };
    CHECK(w);
    struct cron *c = parse("0 * * * *");
    int64_t next;
    struct err e = {0};
    /* a millisecond before a slot gives the slot; a millisecond after gives the next */
    cr_assert_eq(cron_next(c, "UTC", 0, at("2026-01-01T10:00Z") - 1, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T10:00Z"), "%s", iso(next));
    cr_assert_eq(cron_next(c, "UTC", 0, at("2026-01-01T10:00Z") + 1, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T11:00Z"), "%s", iso(next));
    /* before 1970 too */
    cr_assert_eq(cron_next(c, "UTC", 0, at("1969-12-31T23:30Z"), &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, 0, "%s", iso(next));
    cron_free(c);
}

/* Vixie cron: when day-of-month and day-of-week are both restricted, either one makes a day;
 * when either starts with "*", both must. */
Test(cron, day_of_month_or_day_of_week)
{
    static const struct want w[] = {
        /* the 13th, and every Friday: Jan 2, 9, 16 and 23 2026 are Fridays, the 13th a Tuesday */
        {"0 0 13 * 5",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-02T00:00Z", "2026-01-09T00:00Z", "2026-01-13T00:00Z", "2026-01-16T00:00Z",
          "2026-01-23T00:00Z"}},
        /* the 1st or 15th, and Mondays (Jan 5, 12, 19, 26) */
        {"0 0 1,15 * MON",
         "UTC",
         "2025-12-31T00:00Z",
         {"2026-01-01T00:00Z", "2026-01-05T00:00Z", "2026-01-12T00:00Z", "2026-01-15T00:00Z",
          "2026-01-19T00:00Z"}},
        /* a day-of-month starting with "*" is not restricted, even with a step: odd days that
         * are Mondays (Jan 5, 19; Feb 9, 23) */
        {"0 0 */2 * 1",
         "UTC",
         "2026-01-01T00:00Z",
         {"2026-01-05T00:00Z", "2026-01-19T00:00Z", "2026-02-09T00:00Z", "2026-02-23T00:00Z"}},
        /* "*" day-of-week: the day of the month alone */
        {"0 0 13 * *", "UTC", "2026-01-01T00:00Z", {"2026-01-13T00:00Z", "2026-02-13T00:00Z"}},
        /* "*" day-of-month: the weekday alone */
        {"0 0 * * 5", "UTC", "2026-01-01T00:00Z", {"2026-01-02T00:00Z", "2026-01-09T00:00Z"}},
    };
    CHECK(w);
}

Test(cron, macros)
{
    static const struct want w[] = {
        {"@hourly", "UTC", "2026-01-01T10:30Z", {"2026-01-01T11:00Z", "2026-01-01T12:00Z"}},
        {"@daily", "UTC", "2026-12-31T12:00Z", {"2027-01-01T00:00Z", "2027-01-02T00:00Z"}},
        {"@midnight", "UTC", "2026-12-31T12:00Z", {"2027-01-01T00:00Z", "2027-01-02T00:00Z"}},
        /* Sundays */
        {"@weekly", "UTC", "2026-01-01T00:00Z", {"2026-01-04T00:00Z", "2026-01-11T00:00Z"}},
        {"@monthly", "UTC", "2026-01-15T00:00Z", {"2026-02-01T00:00Z", "2026-03-01T00:00Z"}},
        {"@yearly", "UTC", "2026-06-01T00:00Z", {"2027-01-01T00:00Z", "2028-01-01T00:00Z"}},
        {"@annually", "UTC", "2026-06-01T00:00Z", {"2027-01-01T00:00Z", "2028-01-01T00:00Z"}},
        {"@DAILY", "UTC", "2026-01-01T00:00Z", {"2026-01-02T00:00Z"}},
        {"  @daily  ", "UTC", "2026-01-01T00:00Z", {"2026-01-02T00:00Z"}},
        /* in a zone: local midnight */
        {"@daily", "Europe/Berlin", "2026-01-01T00:00Z", {"2026-01-01T23:00Z"}},
    };
    CHECK(w);
}

Test(cron, month_ends_leap_years_and_new_year)
{
    static const struct want w[] = {
        /* the 31st skips the months without one */
        {"0 0 31 * *",
         "UTC",
         "2026-01-31T00:00Z",
         {"2026-03-31T00:00Z", "2026-05-31T00:00Z", "2026-07-31T00:00Z", "2026-08-31T00:00Z",
          "2026-10-31T00:00Z", "2026-12-31T00:00Z", "2027-01-31T00:00Z"}},
        {"59 23 30 * *", "UTC", "2026-01-30T23:59Z", {"2026-03-30T23:59Z", "2026-04-30T23:59Z"}},
        /* leap years: every four, not 2100, but 2000 */
        {"0 0 29 2 *",
         "UTC",
         "2026-01-01T00:00Z",
         {"2028-02-29T00:00Z", "2032-02-29T00:00Z", "2036-02-29T00:00Z"}},
        {"0 0 29 2 *", "UTC", "1999-01-01T00:00Z", {"2000-02-29T00:00Z", "2004-02-29T00:00Z"}},
        {"0 0 28-29 2 *",
         "UTC",
         "2100-02-01T00:00Z",
         {"2100-02-28T00:00Z", "2101-02-28T00:00Z", "2102-02-28T00:00Z", "2103-02-28T00:00Z",
          "2104-02-28T00:00Z", "2104-02-29T00:00Z"}},
        /* the last minute of the year, and past it */
        {"59 23 31 12 *", "UTC", "2026-12-31T23:59Z", {"2027-12-31T23:59Z", "2028-12-31T23:59Z"}},
        {"*/20 * * * *", "UTC", "2026-12-31T23:50Z", {"2027-01-01T00:00Z", "2027-01-01T00:20Z"}},
        {"0 0 1 1 *", "UTC", "2026-12-31T23:59Z", {"2027-01-01T00:00Z"}},
        /* the first Monday-or-1st of the year after a December that has none left */
        {"0 9 1 1 MON", "UTC", "2026-12-29T00:00Z", {"2027-01-01T09:00Z", "2027-01-04T09:00Z"}},
    };
    CHECK(w);
}

/* Yearly and leap-day schedules jump a field at a time: a century of them, all right. */
Test(cron, yearly_and_leap_day_over_a_century)
{
    struct cron *c = parse("0 0 1 1 *");
    int64_t t = at("2000-01-01T00:00Z"), next;
    struct err e = {0};
    for (int y = 2001; y <= 2100; y++) {
        cr_assert_eq(cron_next(c, "Europe/Berlin", 0, t, &next, &e), 0, "%s", e.msg);
        char want[32];
        snprintf(want, sizeof want, "%04d-12-31T23:00Z", y - 1); /* midnight CET */
        cr_assert_eq(next, at(want), "year %d: %s", y, iso(next));
        t = next;
    }
    cron_free(c);

    c = parse("0 0 29 2 *");
    t = at("2000-01-01T00:00Z");
    for (int y = 2000; y <= 2096; y += 4) {
        cr_assert_eq(cron_next(c, "UTC", 0, t, &next, &e), 0, "%s", e.msg);
        char want[32];
        snprintf(want, sizeof want, "%04d-02-29T00:00Z", y);
        cr_assert_eq(next, at(want), "leap year %d: %s", y, iso(next));
        t = next;
    }
    /* 2100 is no leap year and 2104 is more than five years on: cron_next's horizon */
    cr_expect_eq(cron_next(c, "UTC", 0, t, &next, &e), TRAWL_ENOTFOUND);
    cron_free(c);
}

Test(cron, every_counts_from_its_anchor)
{
    struct cron *c = parse("@every 90m");
    int64_t iv = 0, next = 0, anchor = at("2026-01-01T00:00Z");
    struct err e = {0};
    cr_assert(cron_is_every(c, &iv));
    cr_expect_eq(iv, 90 * 60000);
    cr_assert(cron_is_every(c, NULL));
    /* after the anchor: anchor + k * 90 min; the zone plays no part and may be NULL */
    cr_assert_eq(cron_next(c, NULL, anchor, at("2026-01-01T02:00Z"), &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T03:00Z"), "%s", iso(next));
    cr_assert_eq(cron_next(c, "Mars/Olympus", anchor, next, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T04:30Z"), "%s", iso(next));
    /* on the anchor: the next one; before it: the anchor */
    cr_assert_eq(cron_next(c, NULL, anchor, anchor, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T01:30Z"), "%s", iso(next));
    cr_assert_eq(cron_next(c, NULL, anchor, anchor - 1, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, anchor, "%s", iso(next));
    cr_assert_eq(cron_next(c, NULL, anchor, at("2025-06-01T00:00Z"), &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, anchor, "%s", iso(next));
    /* an anchor that is not on a minute stays off it */
    cr_assert_eq(cron_next(c, NULL, anchor + 1234, anchor + 1234, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, anchor + 1234 + 90 * 60000, "%s", iso(next));
    cron_free(c);

    static const struct {
        const char *expr;
        int64_t ms;
    } durations[] = {
        {"@every 1s", 1000},
        {"@every 30s", 30000},
        {"@every 5m", 300000},
        {"@every 1h30m", 5400000},
        {"@every 2h", 7200000},
        {"@every 1d", 86400000},
        {"@every 1d12h", 129600000},
        {"@every 1d2h3m4s", 93784000},
        {"@every 366d", 366LL * 86400000},
        {"@every 0d0h0m1s", 1000},
        {"@EVERY 5m", 300000},
        {"\t@every\t5m\t", 300000},
    };
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        c = parse(durations[i].expr);
        cr_expect(cron_is_every(c, &iv), "%s", durations[i].expr);
        cr_expect_eq(iv, durations[i].ms, "%s: %lld ms", durations[i].expr, (long long)iv);
        cron_free(c);
    }
    c = parse("@hourly");
    cr_expect(!cron_is_every(c, &iv), "@hourly is not @every");
    cron_free(c);
}

/* New York, 2026: 2:00 EST becomes 3:00 EDT on 03-08 (07:00Z); 2:00 EDT becomes 1:00 EST on
 * 11-01 (06:00Z), so 1:00-1:59 happens twice. */
Test(cron, dst_new_york)
{
    static const struct want w[] = {
        /* spring: 2:30 does not exist on 03-08; it runs once, at 3:00 EDT */
        {"30 2 * * *",
         "America/New_York",
         "2026-03-07T00:00Z",
         {"2026-03-07T07:30Z", "2026-03-08T07:00Z", "2026-03-09T06:30Z"}},
        /* two wall times in the gap: one run */
        {"0,30 2 * * *",
         "America/New_York",
         "2026-03-08T00:00Z",
         {"2026-03-08T07:00Z", "2026-03-09T06:00Z"}},
        /* the gap's end is a time of its own: still one run, then 3:30 */
        {"0,30 2,3 * * *",
         "America/New_York",
         "2026-03-08T00:00Z",
         {"2026-03-08T07:00Z", "2026-03-08T07:30Z", "2026-03-09T06:00Z"}},
        /* every-hour schedules follow elapsed time: 1:30 EST, then 3:00 EDT */
        {"*/30 * * * *",
         "America/New_York",
         "2026-03-08T06:00Z",
         {"2026-03-08T06:30Z", "2026-03-08T07:00Z", "2026-03-08T07:30Z"}},
        /* and make up nothing: 1:15 EST, 3:15 EDT an hour later */
        {"15 * * * *",
         "America/New_York",
         "2026-03-08T05:00Z",
         {"2026-03-08T05:15Z", "2026-03-08T06:15Z", "2026-03-08T07:15Z", "2026-03-08T08:15Z"}},
        /* fall: every half hour, both 1:00s and both 1:30s */
        {"*/30 * * * *",
         "America/New_York",
         "2026-11-01T04:45Z",
         {"2026-11-01T05:00Z", "2026-11-01T05:30Z", "2026-11-01T06:00Z", "2026-11-01T06:30Z",
          "2026-11-01T07:00Z"}},
        {"0 * * * *",
         "America/New_York",
         "2026-11-01T04:30Z",
         {"2026-11-01T05:00Z", "2026-11-01T06:00Z", "2026-11-01T07:00Z"}},
        /* restricted hours run at the first 1:30 only (EDT), then 1:30 EST the day after */
        {"30 1 * * *",
         "America/New_York",
         "2026-10-31T12:00Z",
         {"2026-11-01T05:30Z", "2026-11-02T06:30Z"}},
        /* after the first 1:30 and in the second pass of the hour: not again */
        {"30 1 * * *", "America/New_York", "2026-11-01T05:45Z", {"2026-11-02T06:30Z"}},
        {"30 1 * * *", "America/New_York", "2026-11-01T06:10Z", {"2026-11-02T06:30Z"}},
        {"*/20 1 * * *",
         "America/New_York",
         "2026-11-01T04:00Z",
         {"2026-11-01T05:00Z", "2026-11-01T05:20Z", "2026-11-01T05:40Z", "2026-11-02T06:00Z"}},
        /* 2:30 happens once on 11-01 (EST) */
        {"30 2 * * *",
         "America/New_York",
         "2026-10-31T12:00Z",
         {"2026-11-01T07:30Z", "2026-11-02T07:30Z"}},
    };
    CHECK(w);
}

/* Berlin, 2026: 2:00 CET becomes 3:00 CEST on 03-29 (01:00Z); 3:00 CEST becomes 2:00 CET on
 * 10-25 (01:00Z), so 2:00-2:59 happens twice. */
Test(cron, dst_berlin)
{
    static const struct want w[] = {
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-03-28T00:00Z",
         {"2026-03-28T01:30Z", "2026-03-29T01:00Z", "2026-03-30T00:30Z"}},
        {"*/30 * * * *",
         "Europe/Berlin",
         "2026-03-29T00:00Z",
         {"2026-03-29T00:30Z", "2026-03-29T01:00Z", "2026-03-29T01:30Z"}},
        /* once on the fall day, at 2:30 CEST */
        {"30 2 * * *",
         "Europe/Berlin",
         "2026-10-24T12:00Z",
         {"2026-10-25T00:30Z", "2026-10-26T01:30Z"}},
        {"*/30 * * * *",
         "Europe/Berlin",
         "2026-10-25T00:00Z",
         {"2026-10-25T00:30Z", "2026-10-25T01:00Z", "2026-10-25T01:30Z", "2026-10-25T02:00Z"}},
        {"0 * * * *",
         "Europe/Berlin",
         "2026-10-24T23:30Z",
         {"2026-10-25T00:00Z", "2026-10-25T01:00Z", "2026-10-25T02:00Z"}},
    };
    CHECK(w);
}

/* Lord Howe Island moves its clocks by half an hour: 2:00 (+11) becomes 1:30 (+10:30) on
 * 2026-04-05 (04-04T15:00Z); 2:00 (+10:30) becomes 2:30 (+11) on 2026-10-04 (10-03T15:30Z).
 * Kolkata is +5:30 all year. */
Test(cron, half_hour_zones)
{
    static const struct want w[] = {
        {"*/30 * * * *",
         "Australia/Lord_Howe",
         "2026-04-04T14:00Z",
         {"2026-04-04T14:30Z", "2026-04-04T15:00Z", "2026-04-04T15:30Z", "2026-04-04T16:00Z"}},
        {"45 1 * * *",
         "Australia/Lord_Howe",
         "2026-04-04T12:00Z",
         {"2026-04-04T14:45Z", "2026-04-05T15:15Z"}},
        {"15 2 * * *",
         "Australia/Lord_Howe",
         "2026-10-03T00:00Z",
         {"2026-10-03T15:30Z", "2026-10-04T15:15Z"}},
        {"*/15 * * * *",
         "Australia/Lord_Howe",
         "2026-10-03T15:00Z",
         {"2026-10-03T15:15Z", "2026-10-03T15:30Z", "2026-10-03T15:45Z"}},
        {"0 9 * * *",
         "Asia/Kolkata",
         "2026-01-01T00:00Z",
         {"2026-01-01T03:30Z", "2026-01-02T03:30Z"}},
    };
    CHECK(w);
}

/* Each bad expression, and the message that says what is wrong with it, as the user reads it. */
Test(cron, bad_expressions_say_where)
{
    static const struct {
        const char *expr;
        const char *msg;
    } bad[] = {
        {"*/5 25 * * *", "cron \"*/5 25 * * *\": field 2 (hour) \"25\": 25 is out of range 0-23"},
        {"* * *",
         "cron \"* * *\": expected 5 fields (minute hour day-of-month month day-of-week), got 3"},
        {"* * * * * *", "cron \"* * * * * *\": expected 5 fields (minute hour day-of-month month "
                        "day-of-week), got 6"},
        {"", "cron \"\": empty; expected 5 fields (minute hour day-of-month month day-of-week) or "
             "a macro such as @daily"},
        {" \t ", "cron \" \\x09 \": empty; expected 5 fields (minute hour day-of-month month "
                 "day-of-week) or a macro such as @daily"},
        {"60 * * * *", "cron \"60 * * * *\": field 1 (minute) \"60\": 60 is out of range 0-59"},
        {"-1 * * * *", "cron \"-1 * * * *\": field 1 (minute) \"-1\": expected a number at \"-1\""},
        {"1-2-3 * * * *",
         "cron \"1-2-3 * * * *\": field 1 (minute) \"1-2-3\": unexpected \"-3\" after \"1-2\""},
        {"*/0 * * * *", "cron \"*/0 * * * *\": field 1 (minute) \"*/0\": step 0 is out of range "
                        "1-60"},
        {"*/61 * * * *", "cron \"*/61 * * * *\": field 1 (minute) \"*/61\": step 61 is out of "
                         "range 1-60"},
        {"5-1 * * * *", "cron \"5-1 * * * *\": field 1 (minute) \"5-1\": range \"5-1\" goes "
                        "backwards (5 is after 1)"},
        {"1,,2 * * * *",
         "cron \"1,,2 * * * *\": field 1 (minute) \"1,,2\": an item of the list is empty"},
        {"1, * * * *",
         "cron \"1, * * * *\": field 1 (minute) \"1,\": an item of the list is empty"},
        {"5x * * * *",
         "cron \"5x * * * *\": field 1 (minute) \"5x\": unexpected \"x\" after \"5\""},
        {"5/ * * * *",
         "cron \"5/ * * * *\": field 1 (minute) \"5/\": a step is missing after \"/\""},
        {"1- * * * *",
         "cron \"1- * * * *\": field 1 (minute) \"1-\": a value is missing after \"1-\""},
        {"** * * * *",
         "cron \"** * * * *\": field 1 (minute) \"**\": unexpected \"*\" after \"*\""},
        {"a * * * *", "cron \"a * * * *\": field 1 (minute) \"a\": expected a number, got \"a\""},
        {"0 24 * * *", "cron \"0 24 * * *\": field 2 (hour) \"24\": 24 is out of range 0-23"},
        {"0 0 0 * *", "cron \"0 0 0 * *\": field 3 (day-of-month) \"0\": 0 is out of range 1-31"},
        {"0 0 32 * *",
         "cron \"0 0 32 * *\": field 3 (day-of-month) \"32\": 32 is out of range 1-31"},
        {"0 0 * 13 *", "cron \"0 0 * 13 *\": field 4 (month) \"13\": 13 is out of range 1-12"},
        {"0 0 * JAN-XYZ *", "cron \"0 0 * JAN-XYZ *\": field 4 (month) \"JAN-XYZ\": unknown month "
                            "name \"XYZ\" (expected JAN-DEC)"},
        {"0 0 * JANUARY *", "cron \"0 0 * JANUARY *\": field 4 (month) \"JANUARY\": unknown month "
                            "name \"JANUARY\" (expected JAN-DEC)"},
        {"0 0 * DEC-JAN *", "cron \"0 0 * DEC-JAN *\": field 4 (month) \"DEC-JAN\": range "
                            "\"DEC-JAN\" goes backwards (12 is after 1)"},
        {"0 0 * * 8", "cron \"0 0 * * 8\": field 5 (day-of-week) \"8\": 8 is out of range 0-7"},
        {"0 0 * * FRI-MON", "cron \"0 0 * * FRI-MON\": field 5 (day-of-week) \"FRI-MON\": range "
                            "\"FRI-MON\" goes backwards (5 is after 1)"},
        {"0 0 * * funday", "cron \"0 0 * * funday\": field 5 (day-of-week) \"funday\": unknown day "
                           "name \"funday\" (expected SUN-SAT)"},
        {"0 0 * * */8", "cron \"0 0 * * */8\": field 5 (day-of-week) \"*/8\": step 8 is out of "
                        "range 1-7"},
        {"0 0 * JAN 1-JAN", "cron \"0 0 * JAN 1-JAN\": field 5 (day-of-week) \"1-JAN\": unknown "
                            "day name \"JAN\" (expected SUN-SAT)"},
        {"JAN * * * *",
         "cron \"JAN * * * *\": field 1 (minute) \"JAN\": expected a number, got \"JAN\""},
        {"99999999999999 * * * *", "cron \"99999999999999 * * * *\": field 1 (minute) "
                                   "\"99999999999999\": 999999999999... is out of range 0-59"},
        {"0 0 1.5 * *", "cron \"0 0 1.5 * *\": field 3 (day-of-month) \"1.5\": unexpected \".5\" "
                        "after \"1\""},
        {"0 0 * * * ;rm", "cron \"0 0 * * * ;rm\": expected 5 fields (minute hour day-of-month "
                          "month day-of-week), got 6"},
        {"@daily x", "cron \"@daily x\": unexpected \"x\" after @daily"},
        {"@reboot", "cron \"@reboot\": unknown macro \"@reboot\" (expected @yearly, @annually, "
                    "@monthly, @weekly, @daily, @midnight, @hourly or @every <duration>)"},
        {"@", "cron \"@\": unknown macro \"@\" (expected @yearly, @annually, @monthly, @weekly, "
              "@daily, @midnight, @hourly or @every <duration>)"},
        {"@every", "cron \"@every\": @every needs a duration, like @every 5m"},
        {"@every 0s", "cron \"@every 0s\": duration \"0s\": the interval must be at least 1s"},
        {"@every 0d0h", "cron \"@every 0d0h\": duration \"0d0h\": the interval must be at least "
                        "1s"},
        {"@every 367d",
         "cron \"@every 367d\": duration \"367d\": the interval must be at most 366d"},
        {"@every 366d1s",
         "cron \"@every 366d1s\": duration \"366d1s\": the interval must be at most 366d"},
        {"@every 99999999999999999999d", "cron \"@every 99999999999999999999d\": duration "
                                         "\"99999999999999999999d\": the interval must be at most "
                                         "366d"},
        {"@every 5", "cron \"@every 5\": duration \"5\": a unit is missing at the end (d, h, m or "
                     "s)"},
        {"@every 5x", "cron \"@every 5x\": duration \"5x\": unknown unit \"x\" (d, h, m or s)"},
        {"@every 5M", "cron \"@every 5M\": duration \"5M\": unknown unit \"M\" (d, h, m or s)"},
        {"@every 1m1h", "cron \"@every 1m1h\": duration \"1m1h\": units must go from largest to "
                        "smallest, each once (like 1d2h3m4s)"},
        {"@every 1m1m", "cron \"@every 1m1m\": duration \"1m1m\": units must go from largest to "
                        "smallest, each once (like 1d2h3m4s)"},
        {"@every 500ms", "cron \"@every 500ms\": duration \"500ms\": milliseconds are not "
                         "supported; the shortest interval is 1s"},
        {"@every 1.5h", "cron \"@every 1.5h\": duration \"1.5h\": fractions are not supported "
                        "(write 1h30m, not 1.5h)"},
        {"@every h", "cron \"@every h\": duration \"h\": expected a number at \"h\" (a duration is "
                     "like 30s, 5m, 1h30m or 1d)"},
        {"@every -5m", "cron \"@every -5m\": duration \"-5m\": expected a number at \"-5m\" (a "
                       "duration is like 30s, 5m, 1h30m or 1d)"},
        {"@every 1m 2m", "cron \"@every 1m 2m\": unexpected \"2m\" after the duration"},
        {"0 0 * * *\n", "cron \"0 0 * * *\\x0a\": byte 10 is 0x0a; only printable ASCII, spaces "
                        "and tabs are allowed"},
        {"0 0\x07 * * *", "cron \"0 0\\x07 * * *\": byte 4 is 0x07; only printable ASCII, spaces "
                          "and tabs are allowed"},
        {"0 0 * * *\xc3\xa9", "cron \"0 0 * * *\\xc3\\xa9\": byte 10 is 0xc3; only printable "
                              "ASCII, spaces and tabs are allowed"},
        {"\"\\ * * * *",
         "cron \"\\\"\\\\ * * * *\": field 1 (minute) \"\\\"\\\\\": expected a number at "
         "\"\\\"\\\\\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static char sentinel;
        struct cron *c = (struct cron *)&sentinel; /* cron_parse must set it to NULL */
        struct err e = {0};
        int rc = cron_parse(bad[i].expr, &c, &e);
        cr_expect_eq(rc, TRAWL_EINVAL, "\"%s\" parsed (%d)", bad[i].expr, rc);
        cr_expect_eq(e.code, TRAWL_EINVAL, "\"%s\"", bad[i].expr);
        cr_expect_null(c, "\"%s\": *out is not NULL", bad[i].expr);
        cr_expect_str_eq(e.msg, bad[i].msg, "\"%s\"", bad[i].expr);
    }
}

/* Long, binary and random input: an error with a message, never a crash or a read past the
 * cap. */
Test(cron, hostile_input_is_refused)
{
    struct cron *c = NULL;
    struct err e = {0};
    cr_expect_eq(cron_parse(NULL, &c, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "cron: no expression given");

    /* 10 KB: refused by its length, quoted only in part */
    char *big = malloc(10241);
    for (int i = 0; i < 10240; i++)
        big[i] = "* "[i % 2];
    big[10240] = 0;
    cr_expect_eq(cron_parse(big, &c, &e), TRAWL_EINVAL);
    cr_expect_null(c);
    cr_expect_str_eq(e.msg,
                     "cron \"* * * * * * * * * * * * * * * * * * * * * * * * ...\": longer than "
                     "256 bytes");
    free(big);

    /* 256 bytes is the most, and is read; a 257th is refused */
    char *exact = malloc(CRON_EXPR_MAX + 1);
    memset(exact, ' ', CRON_EXPR_MAX);
    memcpy(exact, "0 0 * * *", 9);
    exact[CRON_EXPR_MAX] = 0;
    cr_expect_eq(cron_parse(exact, &c, &e), 0, "%s", e.msg);
    cron_free(c);
    char *over = malloc(CRON_EXPR_MAX + 2);
    memcpy(over, exact, CRON_EXPR_MAX);
    over[CRON_EXPR_MAX] = ' ';
    over[CRON_EXPR_MAX + 1] = 0;
    cr_expect_eq(cron_parse(over, &c, &e), TRAWL_EINVAL);
    cr_expect_null(c);
    free(exact);
    free(over);

    /* a long valid list inside the cap */
    char list[CRON_EXPR_MAX + 1] = "";
    for (int m = 0; m < 60; m++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", m ? "," : "", m);
    strcat(list, " 1 * * *");
    cr_assert_lt(strlen(list), CRON_EXPR_MAX);
    c = parse(list);
    int64_t next;
    cr_assert_eq(cron_next(c, "UTC", 0, at("2026-01-01T01:58Z"), &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, at("2026-01-01T01:59Z"), "%s", iso(next));
    cron_free(c);

    /* random bytes and random cron-ish text: 0 or TRAWL_EINVAL with a message */
    srand(12345);
    const char alphabet[] = "0123456789*/-,@ \tJANMONeveryhdms";
    for (int i = 0; i < 20000; i++) {
        char s[64];
        int n = rand() % 63;
        for (int k = 0; k < n; k++)
            s[k] = (char)(i % 2 ? rand() % 256 : alphabet[rand() % (sizeof alphabet - 1)]);
        s[n] = 0;
        c = NULL;
        memset(&e, 0, sizeof e);
        int rc = cron_parse(s, &c, &e);
        cr_assert(rc == 0 || rc == TRAWL_EINVAL, "rc %d", rc);
        if (rc == 0) {
            cr_assert_not_null(c);
            rc = cron_next(c, "Europe/Berlin", 0, at("2026-01-01T00:00Z"), &next, &e);
            cr_assert(rc == 0 || rc == TRAWL_ENOTFOUND, "rc %d: %s", rc, e.msg);
            cron_free(c);
        } else {
            cr_assert_null(c);
            cr_assert(e.msg[0] && strncmp(e.msg, "cron ", 5) == 0, "message \"%s\"", e.msg);
        }
    }
    cron_free(NULL);
}

Test(cron, zones_icu_knows_and_the_rest)
{
    static const char *known[] = {"UTC",
                                  "Etc/UTC",
                                  "GMT",
                                  "Europe/Berlin",
                                  "America/New_York",
                                  "US/Eastern",
                                  "Asia/Kolkata",
                                  "Australia/Lord_Howe",
                                  "America/Argentina/ComodRivadavia",
                                  "Etc/GMT+5"};
    struct err e = {0};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        cr_expect_eq(cron_zone_check(known[i], &e), 0, "%s: %s", known[i], e.msg);

    static const char *unknown[] = {"Mars/Olympus",     "utc",
                                    "europe/berlin",    "",
                                    "Etc/Unknown",      "GMT+5",
                                    "GMT+05:00",        "Z",
                                    "../../etc/passwd", "Europe/Berlin\n",
                                    "Europe/Berlin ",   "Europe/Berlín",
                                    "Europe/Berlin\x01"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        memset(&e, 0, sizeof e);
        cr_expect_eq(cron_zone_check(unknown[i], &e), TRAWL_EINVAL, "\"%s\" was accepted",
                     unknown[i]);
        cr_expect(strstr(e.msg, "unknown time zone \"") == e.msg, "%s", e.msg);
    }
    cr_expect_eq(cron_zone_check("Mars/Olympus", &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "unknown time zone \"Mars/Olympus\" (expected an IANA name such as "
                            "UTC or Europe/Berlin)");
    cr_expect_eq(cron_zone_check("a\tb", &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "unknown time zone \"a\\x09b\" (expected an IANA name such as UTC or "
                            "Europe/Berlin)");
    cr_expect_eq(cron_zone_check(NULL, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "no time zone given");
    char big[10001];
    memset(big, 'A', 10000);
    big[10000] = 0;
    cr_expect_eq(cron_zone_check(big, &e), TRAWL_EINVAL);
    cr_expect_lt(strlen(e.msg), 400, "%s", e.msg);

    /* cron_next checks the zone of a field schedule */
    struct cron *c = parse("0 0 * * *");
    int64_t next = 42;
    cr_expect_eq(cron_next(c, "Mars/Olympus", 0, 0, &next, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "unknown time zone \"Mars/Olympus\" (expected an IANA name such as "
                            "UTC or Europe/Berlin)");
    cr_expect_eq(cron_next(c, NULL, 0, 0, &next, &e), TRAWL_EINVAL);
    cr_expect_eq(cron_next(c, "Etc/Unknown", 0, 0, &next, &e), TRAWL_EINVAL);
    cr_expect_eq(next, 42, "*next_ms was written on an error");
    /* an alias is its zone */
    int64_t a, b;
    cr_assert_eq(cron_next(c, "US/Eastern", 0, at("2026-07-01T00:00Z"), &a, &e), 0, "%s", e.msg);
    cr_assert_eq(cron_next(c, "America/New_York", 0, at("2026-07-01T00:00Z"), &b, &e), 0, "%s",
                 e.msg);
    cr_expect_eq(a, b);
    cr_expect_eq(a, at("2026-07-01T04:00Z"), "%s", iso(a));
    cron_free(c);
}

Test(cron, no_time_is_not_found)
{
    static const char *never[] = {"0 0 30 2 *", "0 0 31 4 *", "0 0 31 jun,sep,nov *",
                                  "0 0 31 2,4 *"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
        struct cron *c = parse(never[i]);
        struct err e = {0};
        int64_t next = 42;
        cr_expect_eq(cron_next(c, "Europe/Berlin", 0, at("2026-01-01T00:00Z"), &next, &e),
                     TRAWL_ENOTFOUND, "%s", never[i]);
        cr_expect_eq(e.code, TRAWL_ENOTFOUND);
        cr_expect_eq(next, 42, "*next_ms was written");
        cron_free(c);
    }
    struct cron *c = parse("0 0 30 2 *");
    struct err e = {0};
    int64_t next;
    cr_expect_eq(cron_next(c, "UTC", 0, at("2026-01-01T00:00Z"), &next, &e), TRAWL_ENOTFOUND);
    cr_expect_str_eq(e.msg, "cron \"0 0 30 2 *\": no time in UTC in the 5 years after "
                            "2026-01-01T00:00:00Z");
    cron_free(c);
}

Test(cron, times_out_of_range)
{
    struct cron *c = parse("* * * * *");
    struct err e = {0};
    int64_t next;
    cr_expect_eq(cron_next(c, "UTC", 0, CRON_MAX_MS, &next, &e), TRAWL_EINVAL);
    cr_expect_str_eq(e.msg, "cron \"* * * * *\": time 253086768000000 is out of range (years 1 "
                            "to 9989)");
    cr_expect_eq(cron_next(c, "UTC", 0, INT64_MAX, &next, &e), TRAWL_EINVAL);
    cr_expect_eq(cron_next(c, "UTC", 0, INT64_MIN, &next, &e), TRAWL_EINVAL);
    cr_expect_eq(cron_next(c, "UTC", 0, CRON_MIN_MS - 1, &next, &e), TRAWL_EINVAL);
    cr_assert_eq(cron_next(c, "UTC", 0, CRON_MAX_MS - 60001, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, CRON_MAX_MS - 60000);
    cr_assert_eq(cron_next(c, "UTC", 0, CRON_MIN_MS, &next, &e), 0, "%s", e.msg);
    cr_expect_eq(next, CRON_MIN_MS + 60000);
    cron_free(c);
    c = parse("@every 1d");
    cr_expect_eq(cron_next(c, NULL, INT64_MIN, 0, &next, &e), TRAWL_EINVAL);
    cr_expect_eq(cron_next(c, NULL, 0, INT64_MAX, &next, &e), TRAWL_EINVAL);
    cr_assert_eq(cron_next(c, NULL, CRON_MIN_MS, CRON_MAX_MS - 1, &next, &e), 0, "%s", e.msg);
    cr_expect_gt(next, CRON_MAX_MS - 1);
    cr_expect_eq((next - CRON_MIN_MS) % 86400000, 0);
    cron_free(c);
}

/* ---- a reference: minute by minute on glibc's zone data ---- */

struct ref {
    const char *expr;
    bool every_hour; /* the hour field is "*" */
    bool (*match)(const struct tm *t);
};

static bool m_0230(const struct tm *t)
{
    return t->tm_hour == 2 && t->tm_min == 30;
}
static bool m_0_30_at_2_3(const struct tm *t)
{
    return (t->tm_hour == 2 || t->tm_hour == 3) && t->tm_min % 30 == 0;
}
static bool m_every_30(const struct tm *t)
{
    return t->tm_min % 30 == 0;
}
static bool m_15_hourly(const struct tm *t)
{
    return t->tm_min == 15;
}
static bool m_every_20_at_1(const struct tm *t)
{
    return t->tm_hour == 1 && t->tm_min % 20 == 0;
}
static bool m_45_at_1_to_3(const struct tm *t)
{
    return t->tm_hour >= 1 && t->tm_hour <= 3 && t->tm_min == 45;
}
static bool m_every_7_early_sunday(const struct tm *t)
{
    return t->tm_hour <= 5 && t->tm_min % 7 == 0 && t->tm_wday == 0;
}
static bool m_every_5_in_1_and_2(const struct tm *t)
{
    return (t->tm_hour == 1 || t->tm_hour == 2) && t->tm_min % 5 == 0;
}

static const struct ref refs[] = {
    {"30 2 * * *", false, m_0230},
    {"0,30 2,3 * * *", false, m_0_30_at_2_3},
    {"*/30 * * * *", true, m_every_30},
    {"15 * * * *", true, m_15_hourly},
    {"*/20 1 * * *", false, m_every_20_at_1},
    {"45 1-3 * * *", false, m_45_at_1_to_3},
    {"*/7 0-5 * * SUN", false, m_every_7_early_sunday},
    {"*/5 1,2 * * *", false, m_every_5_in_1_and_2},
};

/* Wall-clock minutes of instant t (seconds) in the zone TZ names. */
static int64_t wall_minutes(time_t t, struct tm *tm)
{
    localtime_r(&t, tm);
    struct tm copy = *tm;
    return (int64_t)timegm(&copy) / 60;
}

/* The times of r between from and to (seconds, whole minutes), by the header's rules, read off
 * glibc's clock one minute at a time; into out (up to max), returns how many. */
static size_t reference(const struct ref *r, time_t from, time_t to, int64_t *out, size_t max)
{
    size_t n = 0;
    struct tm tm;
    int64_t hw = wall_minutes(from, &tm); /* wall minutes below hw have been seen */
    for (time_t t = from; t <= to; t += 60) {
        int64_t wall = wall_minutes(t, &tm);
        bool slot;
        if (r->every_hour) {
            slot = r->match(&tm);
        } else {
            slot = wall >= hw && r->match(&tm);
            for (int64_t w = hw; w < wall && !slot; w++) { /* a gap: made up once, now */
                time_t ws = (time_t)(w * 60);
                struct tm g;
                gmtime_r(&ws, &g);
                slot = r->match(&g);
            }
            if (wall + 1 > hw)
                hw = wall + 1;
        }
        if (slot && n < max)
            out[n++] = (int64_t)t * 1000;
    }
    return n;
}

/* Every schedule of refs in zones with whole-hour, half-hour and 45-minute offsets and shifts,
 * two days around each of their 2026 transitions (found on glibc's data), against the
 * reference. */
Test(cron, matches_a_minute_by_minute_reference)
{
    static const char *zones[] = {"America/New_York", "Europe/Berlin",    "Australia/Lord_Howe",
                                  "Pacific/Chatham",  "America/St_Johns", "Europe/London"};
    int transitions = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        time_t start = (time_t)(at("2026-01-01T00:00Z") / 1000);
        struct tm tm;
        localtime_r(&start, &tm);
        long off = tm.tm_gmtoff;
        for (time_t h = start; h < start + 365 * 86400; h += 3600) {
            localtime_r(&h, &tm);
            if (tm.tm_gmtoff == off)
                continue;
            off = tm.tm_gmtoff;
            transitions++;
            time_t from = h - 86400 - h % 3600, to = h + 86400;
            for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
                int64_t want[4000];
                size_t n = reference(&refs[i], from, to, want, 4000);
                cr_assert_gt(n, 0, "%s in %s: no times around %s", refs[i].expr, zones[z],
                             iso((int64_t)h * 1000));
                struct cron *c = parse(refs[i].expr);
                int64_t t = (int64_t)from * 1000 - 1, next;
                struct err e = {0};
                for (size_t k = 0; k < n; k++) {
                    cr_assert_eq(cron_next(c, zones[z], 0, t, &next, &e), 0, "%s", e.msg);
                    cr_assert_eq(next, want[k], "%s in %s after %s: %s, want %s", refs[i].expr,
                                 zones[z], iso(t), iso(next), iso(want[k]));
                    t = next;
                }
                cr_assert_eq(cron_next(c, zones[z], 0, t, &next, &e), 0, "%s", e.msg);
                cr_assert_gt(next, (int64_t)to * 1000, "%s in %s: an extra time %s", refs[i].expr,
                             zones[z], iso(next));
                cron_free(c);
            }
        }
    }
    /* two a year in each zone */
    cr_expect_eq(transitions, 12, "%d transitions in glibc's zone data (is tzdata installed?)",
                 transitions);
}

/* ---- threads ---- */

struct thread_arg {
    const struct cron *c;
    const char *tz;
    int64_t want[200];
    int bad;
};

static void *run_chain(void *p)
{
    struct thread_arg *a = p;
    int64_t t = at("2026-03-01T00:00Z"), next;
    struct err e;
    for (int k = 0; k < 200; k++) {
        if (cron_next(a->c, a->tz, 0, t, &next, &e) != 0 || next != a->want[k])
            a->bad++;
        t = next;
    }
    return NULL;
}

/* One schedule, used by eight threads at once in four zones: the same times as one thread. */
Test(cron, threads_share_a_schedule)
{
    static const char *zones[] = {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                                  "UTC"};
    struct cron *c = parse("*/30 1-3 * * *");
    struct thread_arg args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (struct thread_arg){.c = c, .tz = zones[i % 4]};
        int64_t t = at("2026-03-01T00:00Z");
        struct err e = {0};
        for (int k = 0; k < 200; k++) {
            cr_assert_eq(cron_next(c, args[i].tz, 0, t, &args[i].want[k], &e), 0, "%s", e.msg);
            t = args[i].want[k];
        }
    }
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        cr_assert_eq(pthread_create(&th[i], NULL, run_chain, &args[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        cr_expect_eq(args[i].bad, 0, "thread %d (%s): %d times differ", i, args[i].tz, args[i].bad);
    }
    cron_free(c);
}
