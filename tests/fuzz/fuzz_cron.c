/* libFuzzer target: a cron expression from anywhere (engine/cron.c), its next times in two zones,
 * and the same bytes as a time-zone name. Run by scripts/run-fuzz.sh. */
#include "engine/cron.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    struct err e;
    cron_zone_check(s, &e);
    struct cron *c = NULL;
    if (cron_parse(s, &c, &e) == 0) {
        static const char *zones[] = {"America/New_York", "Australia/Lord_Howe"};
        /* 2026-03-07T00:00Z, a day before New York springs forward */
        int64_t t = 1772841600000LL, next;
        for (int i = 0; i < 8; i++) {
            if (cron_next(c, zones[i % 2], t - 3600000, t, &next, &e) != 0)
                break;
            if (next <= t) /* the next time is after the last, always */
                __builtin_trap();
            t = next;
        }
        cron_free(c);
    }
    free(s);
    return 0;
}
