/* Cron expressions: the field parser is ours, because no Debian package has a C library that
 * reads them (apt has Perl and Ruby ones only); the time zones and their rules come from ICU
 * (libicu-dev), which Debian ships and keeps up to date with the tz database.
 *
 * The parser reads each field into a bit mask. cron_next walks the wall clock a field at a time
 * (month, day, hour, minute) with plain Gregorian arithmetic and asks ICU only what the zone
 * decides: the UTC offset at an instant and the next transition, between which wall time and
 * instants differ by a constant. */
#include "engine/cron.h"

#include "base/xalloc.h"

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MS_PER_MIN  60000LL
#define MS_PER_HOUR 3600000LL
#define MS_PER_DAY  86400000LL
#define ALL_HOURS   0xffffffu
#define EVERY_MAX_S (366LL * 86400)
/* How much of an expression or a field a message quotes; the rest is "...". */
#define QUOTE_EXPR  48
#define QUOTE_FIELD 32

struct cron {
    uint64_t minutes; /* bit m: minute m */
    uint32_t hours;   /* bit h: hour h */
    uint32_t mdays;   /* bit d: day d of the month, 1-31 */
    uint16_t months;  /* bit m: month m, 1-12 */
    uint8_t wdays;    /* bit d: weekday d, Sunday 0 */
    bool mday_star;   /* the day-of-month field starts with '*' (Vixie cron's DOM_STAR) */
    bool wday_star;   /* the day-of-week field does (DOW_STAR) */
    int64_t every_ms; /* > 0: an "@every" schedule; the fields above are unused */
    char expr[CRON_EXPR_MAX + 1]; /* as given, for messages */
};

/* ---- messages ---- */

/* s[0..n) in double quotes for a message: printable ASCII as it is ('"' and '\' escaped), other
 * bytes as \xNN; after max bytes of s, "...". dst must hold 4 * max + 8 bytes. */
static const char *quote(char *dst, const char *s, size_t n, size_t max)
{
    char *p = dst;
    *p++ = '"';
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = (char)ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
            *p++ = (char)ch;
        } else {
            p += sprintf(p, "\\x%02x", ch);
        }
    }
    if (n > max)
        p += sprintf(p, "...");
    *p++ = '"';
    *p = 0;
    return dst;
}

/* ---- parsing ---- */

struct field {
    const char *name;
    int min, max;             /* the values it accepts */
    int last;                 /* where "*" and "a/n" end: max, but Saturday (6) for day-of-week */
    const char *const *names; /* three-letter names of the values from name_base, or NULL */
    int names_n;
    int name_base;
    const char *name_kind;  /* "month", "day" */
    const char *name_range; /* "JAN-DEC" */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const wday_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field fields[5] = {
    {"minute", 0, 59, 59, NULL, 0, 0, NULL, NULL},
    {"hour", 0, 23, 23, NULL, 0, 0, NULL, NULL},
    {"day-of-month", 1, 31, 31, NULL, 0, 0, NULL, NULL},
    {"month", 1, 12, 12, month_names, 12, 1, "month", "JAN-DEC"},
    {"day-of-week", 0, 7, 6, wday_names, 7, 0, "day", "SUN-SAT"},
};

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A number or a name at *pp (before end, in the item that starts at item) into *v, moving *pp
 * past it; -1 with why set. */
static int parse_value(const struct field *f, const char *item, const char **pp, const char *end,
                       int *v, char *why, size_t whysz)
{
    const char *p = *pp;
    char q[4 * QUOTE_FIELD + 8];
    if (p < end && is_digit(*p)) {
        long x = 0;
        const char *d = p;
        for (; p < end && is_digit(*p); p++)
            if (x < 1000000)
                x = x * 10 + (*p - '0');
        if (x < f->min || x > f->max) {
            int n = (int)(p - d);
            snprintf(why, whysz, "%.*s%s is out of range %d-%d", n > 12 ? 12 : n, d,
                     n > 12 ? "..." : "", f->min, f->max);
            return -1;
        }
        *v = (int)x;
        *pp = p;
        return 0;
    }
    if (p < end && is_alpha(*p)) {
        const char *w = p;
        for (; p < end && is_alpha(*p); p++)
            ;
        size_t n = (size_t)(p - w);
        if (!f->names) {
            snprintf(why, whysz, "expected a number, got %s", quote(q, w, n, QUOTE_FIELD));
            return -1;
        }
        for (int i = 0; n == 3 && i < f->names_n; i++) {
            if (strncasecmp(w, f->names[i], 3) == 0) {
                *v = f->name_base + i;
                *pp = p;
                return 0;
            }
        }
        snprintf(why, whysz, "unknown %s name %s (expected %s)", f->name_kind,
                 quote(q, w, n, QUOTE_FIELD), f->name_range);
        return -1;
    }
    if (p == end)
        snprintf(why, whysz, "a value is missing after %s",
                 quote(q, item, (size_t)(p - item), QUOTE_FIELD));
    else
        snprintf(why, whysz, "expected a number at %s",
                 quote(q, p, (size_t)(end - p), QUOTE_FIELD));
    return -1;
}

/* One list item [item, end) of field f, added to *mask; -1 with why set. */
static int parse_item(const struct field *f, const char *item, const char *end, uint64_t *mask,
                      char *why, size_t whysz)
{
    const char *p = item;
    char q[4 * QUOTE_FIELD + 8], q2[4 * QUOTE_FIELD + 8];
    int lo, hi, step = 1;
    if (*p == '*') {
        lo = f->min;
        hi = f->last;
        p++;
    } else {
        if (parse_value(f, item, &p, end, &lo, why, whysz) < 0)
            return -1;
        hi = lo;
        if (p < end && *p == '-') {
            p++;
            if (parse_value(f, item, &p, end, &hi, why, whysz) < 0)
                return -1;
            if (hi < lo) {
                snprintf(why, whysz, "range %s goes backwards (%d is after %d)",
                         quote(q, item, (size_t)(p - item), QUOTE_FIELD), lo, hi);
                return -1;
            }
        } else if (p < end && *p == '/') {
            hi = f->last > lo ? f->last : lo;
        }
    }
    if (p < end && *p == '/') {
        const char *d = ++p;
        long x = 0;
        for (; p < end && is_digit(*p); p++)
            if (x < 1000000)
                x = x * 10 + (*p - '0');
        int size = f->last - f->min + 1;
        if (p == d) {
            snprintf(why, whysz, "a step is missing after \"/\"");
            return -1;
        }
        if (x < 1 || x > size) {
            int n = (int)(p - d);
            snprintf(why, whysz, "step %.*s%s is out of range 1-%d", n > 12 ? 12 : n, d,
                     n > 12 ? "..." : "", size);
            return -1;
        }
        step = (int)x;
    }
    if (p < end) {
        snprintf(why, whysz, "unexpected %s after %s", quote(q, p, (size_t)(end - p), QUOTE_FIELD),
                 quote(q2, item, (size_t)(p - item), QUOTE_FIELD));
        return -1;
    }
    for (int v = lo; v <= hi; v += step)
        *mask |= 1ULL << v;
    return 0;
}

/* Field f from [s, s + n) into *mask; -1 with why set. */
static int parse_field(const struct field *f, const char *s, size_t n, uint64_t *mask, char *why,
                       size_t whysz)
{
    const char *end = s + n;
    *mask = 0;
    for (const char *p = s;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item_end = comma ? comma : end;
        if (item_end == p) {
            snprintf(why, whysz, "an item of the list is empty");
            return -1;
        }
        if (parse_item(f, p, item_end, mask, why, whysz) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

struct word {
    const char *s;
    size_t n;
};

/* Split [s, s + n) at runs of spaces and tabs into up to max words; returns how many there are
 * (which may be more than max). */
static int split(const char *s, size_t n, struct word *w, int max)
{
    int count = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i == n)
            return count;
        size_t start = i;
        while (i < n && s[i] != ' ' && s[i] != '\t')
            i++;
        if (count < max)
            w[count] = (struct word){s + start, i - start};
        count++;
    }
}

/* The five fields w[0..5) into c; on error, the message quotes expr (qexpr). */
static int parse_fields(struct cron *c, const struct word *w, const char *qexpr, struct err *e)
{
    uint64_t mask[5];
    for (int i = 0; i < 5; i++) {
        char why[256], q[4 * QUOTE_FIELD + 8];
        if (parse_field(&fields[i], w[i].s, w[i].n, &mask[i], why, sizeof why) < 0)
            return err_set(e, TRAWL_EINVAL, false, "cron %s: field %d (%s) %s: %s", qexpr, i + 1,
                           fields[i].name, quote(q, w[i].s, w[i].n, QUOTE_FIELD), why);
    }
    c->minutes = mask[0];
    c->hours = (uint32_t)mask[1];
    c->mdays = (uint32_t)mask[2];
    c->months = (uint16_t)mask[3];
    /* 7 is Sunday too */
    c->wdays = (uint8_t)((mask[4] | mask[4] >> 7) & 0x7f);
    c->mday_star = w[2].s[0] == '*';
    c->wday_star = w[4].s[0] == '*';
    return 0;
}

/* An "@every" duration [s, s + n) into *ms; -1 with why set. */
static int parse_duration(const char *s, size_t n, int64_t *ms, char *why, size_t whysz)
{
    static const struct {
        char unit;
        int64_t s;
    } units[] = {{'d', 86400}, {'h', 3600}, {'m', 60}, {'s', 1}};
    const char *p = s, *end = s + n;
    size_t next_unit = 0;
    int64_t total = 0;
    char q[4 * QUOTE_FIELD + 8];
    while (p < end) {
        if (!is_digit(*p)) {
            snprintf(why, whysz,
                     "expected a number at %s (a duration is like 30s, 5m, 1h30m or 1d)",
                     quote(q, p, (size_t)(end - p), QUOTE_FIELD));
            return -1;
        }
        int64_t x = 0;
        for (; p < end && is_digit(*p); p++)
            if (x < 1000000000000LL)
                x = x * 10 + (*p - '0');
        if (p == end) {
            snprintf(why, whysz, "a unit is missing at the end (d, h, m or s)");
            return -1;
        }
        size_t u = 0;
        while (u < 4 && units[u].unit != *p)
            u++;
        if (u == 4 && *p == '.') {
            snprintf(why, whysz, "fractions are not supported (write 1h30m, not 1.5h)");
            return -1;
        }
        if (u == 4) {
            snprintf(why, whysz, "unknown unit %s (d, h, m or s)", quote(q, p, 1, 1));
            return -1;
        }
        if (units[u].unit == 'm' && p + 1 < end && p[1] == 's') {
            snprintf(why, whysz, "milliseconds are not supported; the shortest interval is 1s");
            return -1;
        }
        if (u < next_unit) {
            snprintf(why, whysz,
                     "units must go from largest to smallest, each once (like 1d2h3m4s)");
            return -1;
        }
        next_unit = u + 1;
        total += x * units[u].s;
        p++;
    }
    if (total < 1) {
        snprintf(why, whysz, "the interval must be at least 1s");
        return -1;
    }
    if (total > EVERY_MAX_S) {
        snprintf(why, whysz, "the interval must be at most 366d");
        return -1;
    }
    *ms = total * 1000;
    return 0;
}

static const struct {
    const char *name;
    const char *fields;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* A macro (w[0] starts with '@', count words) into c. */
static int parse_macro(struct cron *c, const struct word *w, int count, const char *qexpr,
                       struct err *e)
{
    char q[4 * QUOTE_FIELD + 8], why[256];
    if (w[0].n == 6 && strncasecmp(w[0].s, "@every", 6) == 0) {
        if (count < 2)
            return err_set(e, TRAWL_EINVAL, false,
                           "cron %s: @every needs a duration, like @every 5m", qexpr);
        if (count > 2)
            return err_set(e, TRAWL_EINVAL, false, "cron %s: unexpected %s after the duration",
                           qexpr, quote(q, w[2].s, w[2].n, QUOTE_FIELD));
        if (parse_duration(w[1].s, w[1].n, &c->every_ms, why, sizeof why) < 0)
            return err_set(e, TRAWL_EINVAL, false, "cron %s: duration %s: %s", qexpr,
                           quote(q, w[1].s, w[1].n, QUOTE_FIELD), why);
        return 0;
    }
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (strlen(macros[i].name) != w[0].n || strncasecmp(w[0].s, macros[i].name, w[0].n) != 0)
            continue;
        if (count > 1)
            return err_set(e, TRAWL_EINVAL, false, "cron %s: unexpected %s after %s", qexpr,
                           quote(q, w[1].s, w[1].n, QUOTE_FIELD), macros[i].name);
        struct word mw[5];
        split(macros[i].fields, strlen(macros[i].fields), mw, 5);
        return parse_fields(c, mw, qexpr, e);
    }
    return err_set(e, TRAWL_EINVAL, false,
                   "cron %s: unknown macro %s (expected @yearly, @annually, @monthly, @weekly, "
                   "@daily, @midnight, @hourly or @every <duration>)",
                   qexpr, quote(q, w[0].s, w[0].n, QUOTE_FIELD));
}

int cron_parse(const char *expr, struct cron **out, struct err *e)
{
    *out = NULL;
    if (!expr)
        return err_set(e, TRAWL_EINVAL, false, "cron: no expression given");
    size_t n = strnlen(expr, CRON_EXPR_MAX + 1);
    char qexpr[4 * QUOTE_EXPR + 8];
    quote(qexpr, expr, n, QUOTE_EXPR);
    if (n > CRON_EXPR_MAX)
        return err_set(e, TRAWL_EINVAL, false, "cron %s: longer than %d bytes", qexpr,
                       CRON_EXPR_MAX);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)expr[i];
        if (ch != '\t' && (ch < 0x20 || ch >= 0x7f))
            return err_set(e, TRAWL_EINVAL, false,
                           "cron %s: byte %zu is 0x%02x; only printable ASCII, spaces and tabs "
                           "are allowed",
                           qexpr, i + 1, ch);
    }
    struct word w[5];
    int count = split(expr, n, w, 5);
    if (count == 0)
        return err_set(e, TRAWL_EINVAL, false,
                       "cron %s: empty; expected 5 fields (minute hour day-of-month month "
                       "day-of-week) or a macro such as @daily",
                       qexpr);
    struct cron c = {0};
    memcpy(c.expr, expr, n);
    int rc;
    if (w[0].s[0] == '@')
        rc = parse_macro(&c, w, count, qexpr, e);
    else if (count != 5)
        rc = err_set(e, TRAWL_EINVAL, false,
                     "cron %s: expected 5 fields (minute hour day-of-month month day-of-week), "
                     "got %d",
                     qexpr, count);
    else
        rc = parse_fields(&c, w, qexpr, e);
    if (rc < 0)
        return rc;
    *out = xmalloc(sizeof c);
    **out = c;
    return 0;
}

void cron_free(struct cron *c)
{
    free(c);
}

bool cron_is_every(const struct cron *c, int64_t *interval_ms)
{
    if (c->every_ms <= 0)
        return false;
    if (interval_ms)
        *interval_ms = c->every_ms;
    return true;
}

/* ---- the calendar ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar, and back: Howard
 * Hinnant's algorithms, which count in 400-year eras of 146,097 days starting in March. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    days += 719468;
    int64_t era = floor_div(days, 146097);
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = era * 400 + yoe + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dim[m - 1];
}

/* The lowest set bit of mask at or above from, or -1. */
static int next_bit(uint64_t mask, int from)
{
    if (from > 63)
        return -1;
    mask &= ~0ULL << from;
    return mask ? __builtin_ctzll(mask) : -1;
}

static bool day_matches(const struct cron *c, int mday, int wday)
{
    bool dom = c->mdays >> mday & 1;
    bool dow = c->wdays >> wday & 1;
    return c->mday_star || c->wday_star ? dom && dow : dom || dow;
}

/* The first whole minute of wall time in [lo, hi) that c matches, into *out. Wall times are
 * milliseconds since 1970-01-01 00:00 of the zone's clock, as if the zone were UTC. A field that
 * does not match moves to the start of the next month, day or hour, so a yearly schedule takes
 * a step per month of the year, not one per minute. */
static bool wall_next(const struct cron *c, int64_t lo, int64_t hi, int64_t *out)
{
    if (lo >= hi)
        return false;
    int64_t t = floor_div(lo + MS_PER_MIN - 1, MS_PER_MIN) * MS_PER_MIN;
    int64_t dn = floor_div(t, MS_PER_DAY);
    int64_t last_dn = floor_div(hi - 1, MS_PER_DAY);
    int minute_of_day = (int)((t - dn * MS_PER_DAY) / MS_PER_MIN);
    int h = minute_of_day / 60, mi = minute_of_day % 60;
    int64_t y;
    int mo, d;
    civil_from_days(dn, &y, &mo, &d);
    while (dn <= last_dn) {
        if (!(c->months >> mo & 1) || d > days_in_month(y, mo)) {
            int next = next_bit(c->months, mo + 1);
            if (next < 0) {
                y++;
                next = next_bit(c->months, 1);
            }
            mo = next;
            d = 1;
            h = mi = 0;
            dn = days_from_civil(y, mo, d);
            continue;
        }
        /* 1970-01-01 was a Thursday */
        int wday = (int)(dn + 4 - floor_div(dn + 4, 7) * 7);
        int hour = day_matches(c, d, wday) ? next_bit(c->hours, h) : -1;
        if (hour < 0) {
            d++;
            dn++;
            h = mi = 0;
            continue;
        }
        if (hour != h) {
            h = hour;
            mi = 0;
        }
        int minute = next_bit(c->minutes, mi);
        if (minute < 0) {
            h++;
            mi = 0;
            continue;
        }
        int64_t w = dn * MS_PER_DAY + h * MS_PER_HOUR + minute * MS_PER_MIN;
        if (w >= hi)
            return false;
        *out = w;
        return true;
    }
    return false;
}

/* "2026-03-08T07:00:00Z" of ms, into buf (at least 80 bytes, for any int64_t). */
static const char *format_utc(char *buf, size_t size, int64_t ms)
{
    int64_t dn = floor_div(ms, MS_PER_DAY), y;
    int64_t sec = (ms - dn * MS_PER_DAY) / 1000;
    int m, d;
    civil_from_days(dn, &y, &m, &d);
    snprintf(buf, size, "%04lld-%02d-%02dT%02lld:%02lld:%02lldZ", (long long)y, m, d,
             (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60));
    return buf;
}

/* ---- the zone, from ICU ---- */

static int icu_error(struct err *e, const char *what, UErrorCode st)
{
    return err_set(e, TRAWL_EINVAL, false, "icu: %s: %s", what, u_errorName(st));
}

/* tz as ICU's UTF-16 into id (CRON_ZONE_MAX + 1 units), *len, after checking that ICU knows it
 * as a system zone (not Etc/Unknown, not a custom GMT+hh:mm). */
static int zone_id(const char *tz, UChar *id, int32_t *len, struct err *e)
{
    if (!tz)
        return err_set(e, TRAWL_EINVAL, false, "no time zone given");
    size_t n = strnlen(tz, CRON_ZONE_MAX + 1);
    /* u_charsToUChars converts ICU's invariant characters only; zone names use fewer */
    bool ok = n > 0 && n <= CRON_ZONE_MAX;
    for (size_t i = 0; ok && i < n; i++)
        ok = is_alpha(tz[i]) || is_digit(tz[i]) || strchr("/_+-", tz[i]);
    if (ok) {
        UChar canonical[128];
        UBool system = 0;
        UErrorCode st = U_ZERO_ERROR;
        u_charsToUChars(tz, id, (int32_t)n);
        ucal_getCanonicalTimeZoneID(id, (int32_t)n, canonical, 128, &system, &st);
        if (U_FAILURE(st) && st != U_ILLEGAL_ARGUMENT_ERROR)
            return icu_error(e, "checking the time zone", st);
        ok = U_SUCCESS(st) && system;
    }
    if (!ok) {
        char q[4 * CRON_ZONE_MAX + 8];
        return err_set(e, TRAWL_EINVAL, false,
                       "unknown time zone %s (expected an IANA name such as UTC or "
                       "Europe/Berlin)",
                       quote(q, tz, n, CRON_ZONE_MAX));
    }
    *len = (int32_t)n;
    return 0;
}

int cron_zone_check(const char *tz, struct err *e)
{
    UChar id[CRON_ZONE_MAX + 1];
    int32_t len;
    return zone_id(tz, id, &len, e);
}

/* The zone's UTC offset at instant t (wall time = t + offset). */
static int zone_offset(UCalendar *cal, int64_t t, int64_t *off, struct err *e)
{
    UErrorCode st = U_ZERO_ERROR;
    ucal_setMillis(cal, (UDate)t, &st);
    int32_t zone = ucal_get(cal, UCAL_ZONE_OFFSET, &st);
    int32_t dst = ucal_get(cal, UCAL_DST_OFFSET, &st);
    if (U_FAILURE(st))
        return icu_error(e, "reading the zone's offset", st);
    *off = (int64_t)zone + dst;
    return 0;
}

/* The zone's transition nearest t in direction type (UCAL_TZ_TRANSITION_NEXT: the first after
 * t; _PREVIOUS: the last before), into *when: 1; 0 when there is none. */
static int zone_transition(UCalendar *cal, int64_t t, UTimeZoneTransitionType type, int64_t *when,
                           struct err *e)
{
    UErrorCode st = U_ZERO_ERROR;
    UDate d = 0;
    ucal_setMillis(cal, (UDate)t, &st);
    UBool found = ucal_getTimeZoneTransitionDate(cal, type, &d, &st);
    if (U_FAILURE(st))
        return icu_error(e, "reading the zone's transitions", st);
    if (!found)
        return 0;
    *when = (int64_t)d;
    return 1;
}

/* The first time of field schedule c after after_ms: the zone's history in segments between
 * transitions, each with one offset, searched in turn for a matching wall time. For schedules
 * with restricted hours, hw (the highest wall time seen before the current segment) keeps a
 * wall time that repeats after a fall back from running again, and a segment whose wall clock
 * starts above hw follows a gap, whose matching wall times run once at the segment's start. */
static int walk(const struct cron *c, UCalendar *cal, int64_t after_ms, int64_t *next_ms,
                struct err *e)
{
    int64_t s = after_ms + 1, horizon = after_ms + CRON_HORIZON_MS;
    bool every_hour = (c->hours & ALL_HOURS) == ALL_HOURS;
    int64_t off, hw = 0, w;
    int rc;
    if (!every_hour) {
        int64_t p, off_p;
        if ((rc = zone_offset(cal, s - 1, &off, e)) < 0)
            return rc;
        hw = s + off;
        /* after_ms may be in the second pass of a repeated hour */
        if ((rc = zone_transition(cal, s, UCAL_TZ_TRANSITION_PREVIOUS, &p, e)) < 0)
            return rc;
        if (rc > 0) {
            if ((rc = zone_offset(cal, p - 1, &off_p, e)) < 0)
                return rc;
            if (p + off_p > hw)
                hw = p + off_p;
        }
    }
    while (s <= horizon) {
        int64_t t;
        if ((rc = zone_offset(cal, s, &off, e)) < 0)
            return rc;
        if ((rc = zone_transition(cal, s, UCAL_TZ_TRANSITION_NEXT, &t, e)) < 0)
            return rc;
        if (rc == 0 || t > horizon)
            t = horizon + 1;
        int64_t wall = s + off, end = t + off;
        if (!every_hour && hw < wall && wall_next(c, hw, wall, &w)) {
            *next_ms = s;
            return 0;
        }
        if (wall_next(c, every_hour || hw < wall ? wall : hw, end, &w)) {
            *next_ms = w - off;
            return 0;
        }
        if (end > hw)
            hw = end;
        s = t;
    }
    return TRAWL_ENOTFOUND;
}

int cron_next(const struct cron *c, const char *tz, int64_t anchor_ms, int64_t after_ms,
              int64_t *next_ms, struct err *e)
{
    char q[4 * QUOTE_EXPR + 8], when[80];
    if (after_ms < CRON_MIN_MS || after_ms >= CRON_MAX_MS)
        return err_set(e, TRAWL_EINVAL, false,
                       "cron %s: time %lld is out of range (years 1 to 9989)",
                       quote(q, c->expr, strlen(c->expr), QUOTE_EXPR), (long long)after_ms);
    if (c->every_ms > 0) {
        if (anchor_ms < CRON_MIN_MS || anchor_ms >= CRON_MAX_MS)
            return err_set(e, TRAWL_EINVAL, false,
                           "cron %s: anchor %lld is out of range (years 1 to 9989)",
                           quote(q, c->expr, strlen(c->expr), QUOTE_EXPR), (long long)anchor_ms);
        if (after_ms < anchor_ms)
            *next_ms = anchor_ms;
        else
            *next_ms = anchor_ms + ((after_ms - anchor_ms) / c->every_ms + 1) * c->every_ms;
        return 0;
    }
    UChar id[CRON_ZONE_MAX + 1];
    int32_t len;
    int rc = zone_id(tz, id, &len, e);
    if (rc < 0)
        return rc;
    UErrorCode st = U_ZERO_ERROR;
    UCalendar *cal = ucal_open(id, len, "", UCAL_GREGORIAN, &st);
    if (U_FAILURE(st)) {
        if (cal)
            ucal_close(cal);
        return icu_error(e, "opening a calendar", st);
    }
    rc = walk(c, cal, after_ms, next_ms, e);
    ucal_close(cal);
    if (rc == TRAWL_ENOTFOUND)
        return err_set(e, TRAWL_ENOTFOUND, false, "cron %s: no time in %s in the 5 years after %s",
                       quote(q, c->expr, strlen(c->expr), QUOTE_EXPR), tz,
                       format_utc(when, sizeof when, after_ms));
    return rc;
}
