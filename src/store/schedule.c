/* The memory of schedules, their missed policies' names, and the wrappers of the store's
 * schedules domain. */
#include "store/schedule.h"

#include <stdlib.h>
#include <string.h>

static const char *const missed_names_[] = {"skip", "once", "all"};

const char *schedule_missed_name(enum schedule_missed m)
{
    return (unsigned)m < 3 ? missed_names_[m] : NULL;
}

int schedule_missed_parse(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, missed_names_[i]) == 0)
            return i;
    return -1;
}

void schedule_release(struct schedule *sc)
{
    if (!sc)
        return;
    free(sc->workspace);
    free(sc->name);
    free(sc->cron);
    free(sc->timezone);
    free(sc->job);
    free(sc->last_job_id);
    memset(sc, 0, sizeof *sc);
}

void schedule_array_free(struct schedule *sc, size_t n)
{
    for (size_t i = 0; sc && i < n; i++)
        schedule_release(&sc[i]);
    free(sc);
}

/* ---- wrappers ---- */

int store_schedule_add(struct store *s, const struct schedule *sc, struct err *e)
{
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->add(s, sc, e));
}

int store_schedule_get(struct store *s, const char *workspace, const char *key, bool writer,
                       struct schedule *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->get(s, workspace, key, writer, out, e));
}

int store_schedule_list(struct store *s, const char *workspace, struct schedule **out, size_t *n,
                        struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->list(s, workspace, out, n, e));
}

int store_schedule_set_paused(struct store *s, const char *id, bool paused, int64_t next_slot,
                              int64_t now, struct err *e)
{
    STORE_WRAP(s, s->schedules, "schedules",
               s->schedules->set_paused(s, id, paused, next_slot, now, e));
}

int store_schedule_delete(struct store *s, const char *id, struct err *e)
{
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->del(s, id, e));
}

int store_schedule_due(struct store *s, int64_t now, size_t limit, struct schedule **out, size_t *n,
                       struct err *e)
{
    *out = NULL;
    *n = 0;
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->due(s, now, limit, out, n, e));
}

int store_schedule_next_due(struct store *s, int64_t *at, struct err *e)
{
    *at = 0;
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->next_due(s, at, e));
}

int store_schedule_advance(struct store *s, const struct schedule_step *st, struct err *e)
{
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->advance(s, st, e));
}

int store_schedule_set_last_job(struct store *s, const char *id, const char *job_id, struct err *e)
{
    STORE_WRAP(s, s->schedules, "schedules", s->schedules->set_last_job(s, id, job_id, e));
}
