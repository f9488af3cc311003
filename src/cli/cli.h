/* The commands of the trawl binary; each takes argv with argv[0] the command name and returns
 * the process exit code (0 ok, 1 failure, 2 bad usage). */
#ifndef TRAWL_CLI_H
#define TRAWL_CLI_H

#include "engine/engine.h"

#include <stdbool.h>
#include <stdint.h>

int cmd_serve(int argc, char **argv);
int cmd_work(int argc, char **argv);
/* local: on the database file */
int cmd_enqueue(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* remote: through the HTTP API */
int cmd_submit(int argc, char **argv);
int cmd_batch(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_job(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_batches(int argc, char **argv);
int cmd_batch_status(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_retry(int argc, char **argv);
int cmd_scrape(int argc, char **argv);
int cmd_sessions(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_imports(int argc, char **argv);
int cmd_import_status(int argc, char **argv);
int cmd_session(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_chain(int argc, char **argv);
int cmd_pipeline(int argc, char **argv);
int cmd_pipelines(int argc, char **argv);
int cmd_schedules(int argc, char **argv);
int cmd_schedule(int argc, char **argv);

/* Shared helpers (cli_util.c). */
/* Parse a whole decimal integer in [min, max]; on failure print "trawl: OPTION: ..." and
 * return false. */
bool cli_int(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);
/* Open the store at path and an engine on it; print the error and return nonzero on failure. */
int cli_open(const char *path, enum store_durability d, struct engine **out);
/* The default database path: $TRAWL_DB or ./trawl.db. */
const char *cli_default_db(void);
/* Parse "[--db PATH] [ID]" (ID when id is not NULL); -1 to go on, else the exit status. */
int cli_db_args(int argc, char **argv, const char *usage, const char **db, const char **id);

#endif
