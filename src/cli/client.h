/* Calling trawl serve's HTTP API from the client commands.
 *
 * Ownership: the JSON a call returns belongs to the caller (json_decref). */
#ifndef TRAWL_CLIENT_H
#define TRAWL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct cli_conn {
    const char *server; /* NULL: $TRAWL_SERVER or http://127.0.0.1:8080 */
    const char *token;  /* NULL: $TRAWL_TOKEN */
    long timeout_ms;    /* of the whole call; 0: 10 minutes */
};

/* The server address to use. */
const char *cli_server(const char *flag);
/* Call method path with body (may be NULL). 0 on a 2xx with a JSON answer (*out); -1 otherwise,
 * with the reason printed to stderr (the server's message on a 4xx or 5xx, and then *out still
 * holds the answer). *status gets the HTTP status, 0 when the server could not be reached. */
int cli_call(const struct cli_conn *c, const char *method, const char *path, json_t *body,
             json_t **out, long *status);
/* Progress of an upload: sent of total bytes (total 0: not known yet); nonzero stops it. */
typedef int (*cli_upload_fn)(void *arg, int64_t sent, int64_t total);
/* POST file as multipart/form-data to path: its part "file" read from the file as it is sent,
 * and one part per member of fields (strings as they are, other values as JSON); the JSON
 * answer is read as cli_call does; progress (may be NULL) is called as it goes. */
int cli_upload(const struct cli_conn *c, const char *path, const char *file, json_t *fields,
               cli_upload_fn progress, void *arg, json_t **out, long *status);
/* GET path and write the answer's body to out as it arrives (an export). 0 when the whole
 * answer was written; -1 otherwise, with the reason printed (the server's message on a 4xx or
 * 5xx; a cut answer or a failed write otherwise). *status gets the HTTP status. */
int cli_download(const struct cli_conn *c, const char *path, FILE *out, long *status);
/* The options every client command takes: --server, --token, --json, --help. */
#define CLI_COMMON_OPTS                                                                            \
    {"server", required_argument, 0, 'S'}, {"token", required_argument, 0, 'T'},                   \
        {"json", no_argument, 0, 'J'},                                                             \
    {                                                                                              \
        "help", no_argument, 0, 'h'                                                                \
    }

#define CLI_COMMON_USAGE                                                                           \
    "  --server URL     trawl serve's address (default $TRAWL_SERVER or http://127.0.0.1:8080)\n"  \
    "  --token TOKEN    API token (default $TRAWL_TOKEN)\n"                                        \
    "  --json           print the server's JSON answer\n"

struct cli_common {
    struct cli_conn conn;
    bool json;
};

/* Handle a common option (getopt's c, optarg); returns 1 when c was one, 0 when not, -1 for
 * --help (usage printed). */
int cli_common_opt(int c, struct cli_common *o, const char *usage);

/* The arguments of a listing command: the common options, --limit N (1 to 1000) and --offset N,
 * no other argument. -1 to go on, else the exit status. */
int cli_list_args(int argc, char **argv, const char *usage, struct cli_common *o, int64_t *limit,
                  int64_t *offset);

/* A listing command: its arguments (cli_list_args, default limit 20), then GET
 * path?limit=N&offset=M. -1: *ans is the answer, for the caller to print as a table (and free);
 * else the exit status, after --json printed the answer or the call failed. */
int cli_list(int argc, char **argv, const char *usage, const char *path, struct cli_common *o,
             int64_t *limit, int64_t *offset, json_t **ans);
/* After a listing's table: when the answer's "total" goes past this page, how to see more of
 * what (a plural noun). */
void cli_list_more(json_t *ans, const char *what, int64_t limit, int64_t offset);

/* The arguments of a command that takes the common options, one ID and, when flag is not NULL,
 * the option --FLAG (which sets *set): -1 to go on (the ID is argv[optind]), else the exit
 * status. */
int cli_id_args(int argc, char **argv, const char *usage, struct cli_common *o, const char *flag,
                bool *set);
/* URL-encode s into out (for path segments and query values). */
void cli_enc(const char *s, char *out, size_t n);

/* "[###.....]": pct (0-100) in width cells, into out (size n). */
void cli_bar(char *out, size_t n, double pct, int width);

/* Print v indented, for --json. */
void cli_print_json(json_t *v);
/* The string member key of o, or "-". */
const char *cli_str(json_t *o, const char *key);

#endif
