/* Helpers the commands share: strict number parsing and opening a database. */
#include "cli/cli.h"

#include "handlers/handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

bool cli_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end) {
        fprintf(stderr, "trawl: %s: '%s' is not a whole number\n", opt, s);
        return false;
    }
    if (v < min || v > max) {
        fprintf(stderr, "trawl: %s: %lld is out of range (%lld to %lld)\n", opt, v, (long long)min,
                (long long)max);
        return false;
    }
    *out = v;
    return true;
}

const char *cli_default_db(void)
{
    const char *p = getenv("TRAWL_DB");
    return p && *p ? p : "trawl.db";
}

int cli_open(const char *path, enum store_durability d, struct engine **out)
{
    struct err e;
    struct store *s;
    if (store_open(path, d, &s, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 1;
    }
    if (engine_open(s, NULL, out, &e) || handlers_configure(*out, &e)) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 1;
    }
    return 0;
}
