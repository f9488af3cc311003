/* What the commands that run jobs (trawl serve, trawl work) share: their common options (the
 * database, job type settings, logging, alerts, fetching), opening the engine with the fetcher,
 * breakers, live events and alerter under it, the one table of job handlers with the pool each
 * runs in, and the thread that takes SIGINT and SIGTERM.
 *
 * Ownership: a struct setup owns what setup_open made and what its options hold; option strings
 * are borrowed from argv. setup_release frees it all. */
#ifndef TRAWL_SETUP_H
#define TRAWL_SETUP_H

#include "alert/alerts.h"
#include "engine/breaker.h"
#include "engine/worker.h"
#include "fetch/fetch.h"
#include "handlers/crawl.h"
#include "handlers/import.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The usage lines of the shared options: the general ones, then the sections "alerts:" and
 * "fetching:". */
extern const char setup_usage[];
extern const char setup_usage_alerts[];

struct ev_bus;

struct setup {
    /* options: setup_init's defaults, changed by setup_option */
    const char *db; /* NULL: not given */
    enum store_durability durability;
    int64_t grace_ms;
    struct fetch_opts fetch;
    struct breaker_opts breaker;
    struct alert_opts alerts;
    struct ssrf_policy *policy;
    const char **resolve; /* NULL-terminated */
    const char **types;   /* --type settings, NULL-terminated */
    size_t nresolve, ntypes;
    const char *import_dir; /* NULL: beside the database */
    /* made by setup_open */
    struct engine *eng;
    struct breakers *breakers;
    struct fetcher *fetcher;
    struct ev_bus *bus; /* NULL unless asked for */
    struct alerter *alerter;
    struct crawler crawler;
    char import_path[4096]; /* the import folder as used */
    struct importer importer;
};

/* Defaults; argc bounds the repeatable options. */
void setup_init(struct setup *s, int argc);
/* Free what s holds and close what setup_open opened (alerter, events, fetcher, breakers, then
 * the engine). Accepts a setup never opened. */
void setup_release(struct setup *s);

/* A command's own option c (the val of its struct option) with its argument (NULL when it takes
 * none): false when the value is bad, with the message printed. */
typedef bool (*setup_take_fn)(void *ctx, int c, const char *arg);
/* Parse argv (argv[0] the command): the shared options into s, the command's own (own, ended by
 * a zero entry, with vals below SETUP_OPT_FIRST) through take(ctx, ...); --help prints usage to
 * stdout, bad usage prints it to stderr. Returns -1 to go on, else the exit status (0 after
 * --help, 2 for bad usage). */
#define SETUP_OPT_FIRST 1024
int setup_parse(struct setup *s, int argc, char **argv, const struct option *own,
                void (*usage)(FILE *f), setup_take_fn take, void *ctx);

/* Open the engine on s->db with the --type settings, then breakers, live events (when
 * event_capacity > 0), the fetcher and the alerter. Returns 0, or the exit status with the
 * message printed: 2 for bad settings, 1 when the database or a part could not be opened. */
int setup_open(struct setup *s, const char *cmd, size_t event_capacity);

/* The pools of trawl serve: the built-in types and alert deliveries, and the pool that fetches
 * (crawl jobs, and a scraping session's three stages, which go with its fetching ingest). */
enum setup_pool { SETUP_POOL_WORKERS, SETUP_POOL_FETCHING, SETUP_POOL_ANY };
/* The handlers of every job type the binary runs, of pool (SETUP_POOL_ANY: all), into out
 * (ENGINE_CLAIM_TYPES_MAX entries); returns how many. Their args point into s, which must be
 * open; with s NULL the args are NULL (for the names). */
size_t setup_handlers(struct setup *s, enum setup_pool pool, struct job_handler *out);
/* The handler of type into out; false when no handler runs type. */
bool setup_handler(struct setup *s, const char *type, struct job_handler *out);

/* Block SIGINT and SIGTERM in every thread (call before starting any) and take them on a thread
 * of their own: the first one calls the callback set with setup_on_signal and wakes
 * setup_wait_signal; a second exits the process at once with status 130. */
void setup_signals(void);
/* fn(arg) on the first signal, from the signal thread; at once when it came already. */
void setup_on_signal(void (*fn)(void *arg), void *arg);
/* Wait up to ms for the first signal; true once it came. */
bool setup_wait_signal(int64_t ms);

#endif
