/* What the end-to-end tests share: a real `trawl serve` on a free port in the test's own
 * directory, on SQLite or on a PostgreSQL server ($TRAWL_TEST_PG), the misbehaving origin server,
 * API tokens, and HTTP calls with libcurl. Criterion runs each test in its own process; the
 * processes a test starts are stopped by their PIDs when it ends. */
#ifndef TRAWL_E2EUTIL_H
#define TRAWL_E2EUTIL_H

#include "common/testdb.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A new empty directory for this test (removed at exit); e2e_path joins a name to it. */
const char *e2e_dir(void);
const char *e2e_path(const char *name);
/* The store under test: SQLite files in the test's directory, or, when $TRAWL_TEST_PG holds the
 * libpq keyword string of a PostgreSQL server (scripts/run-tests.sh starts one), a database of
 * that server per name and test process, made on first use and dropped at exit. */
/* The server's keyword string, or NULL when the tests run on SQLite. */
const char *e2e_pg(void);
/* Skip the calling test on PostgreSQL, saying why it is about SQLite only. */
void e2e_sqlite_only(const char *why);
/* What `trawl ... --db` takes for the database name: e2e_path(name) on SQLite, else the keyword
 * string of name's PostgreSQL database. A static buffer that the next call overwrites. */
const char *e2e_db(const char *name);
/* The rows of a query on db (as e2e_db gives it): tdb_rows (common/testdb.h). */

/* The build's trawl binary and origin server (next to this test binary's directory). */
const char *e2e_trawl(void);
const char *e2e_origin_bin(void);

struct serve {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    char db[1100];
    char log[1100];
};

/* Start trawl serve on 127.0.0.1:0 with the database db (NULL: e2e_db("trawl.db")) and the
 * extra arguments (NULL-terminated); wait until it listens. Fails the test when it does not. */
void e2e_serve(struct serve *s, const char *db, const char *const *args);
#define E2E_SERVE(s, db, ...) e2e_serve((s), (db), (const char *const[]){__VA_ARGS__, NULL})
/* SIGTERM, wait up to ms for the exit; returns the exit status (or -1 after a SIGKILL). */
int e2e_serve_stop(struct serve *s, int ms);
/* Wait up to ms for serve to exit by itself (after a signal the test sent); as e2e_serve_stop. */
int e2e_serve_wait(struct serve *s, int ms);
/* The serve's log, for assertion messages (static buffer, last 4 KiB). */
const char *e2e_serve_log(const struct serve *s);

/* Start the origin server (robots: NULL for the default, a file path, "404" or "500"). */
struct origin {
    pid_t pid;
    int port;
    char base[64];
};
void e2e_origin(struct origin *o, const char *robots);
void e2e_origin_stop(struct origin *o);
/* Start the generated shop (tests/e2e/shop.c) with this many products, on 127.0.0.2; stop it
 * with e2e_origin_stop. */
void e2e_shop(struct origin *o, int products);
/* Start the Sentry and alert-webhook receiver (tests/e2e/sentryrx.c) on 127.0.0.2:port (0: a
 * free one), taking the public key key and signing secret secret; stop it with
 * e2e_origin_stop. */
void e2e_sentry(struct origin *o, int port, const char *key, const char *secret);
/* Start the Standard Webhooks receiver of feed imports (tests/e2e/hookrx.c) on 127.0.0.2:port
 * (0: a free one), checking signatures with secret (its bytes, or for "whsec_<base64>" the bytes
 * it decodes to); stop it with e2e_origin_stop. Its deliveries go to o->base + "/hook". */
void e2e_hookrx(struct origin *o, int port, const char *secret);
/* What the receiver counted, GET /received parsed (with "numbers", the sorted distinct product
 * numbers, when numbers); the caller's to json_decref. Fails the test when it does not answer. */
json_t *e2e_hookrx_received(const struct origin *o, bool numbers);
/* Set the receiver's misbehaviour: POST /mode with the JSON text mode_json, e.g.
 * {"mode":"429","count":2,"retry_after":1}. Fails the test when it is refused. */
void e2e_hookrx_mode(const struct origin *o, const char *mode_json);
/* A port nobody listens on at the IPv4 address addr just now. */
int e2e_free_port(const char *addr);
/* How many requests the origin saw for path (without query). */
long e2e_origin_hits(const struct origin *o, const char *path);

/* A new API token for workspace, made with `trawl token create` on db. Static buffer. */
const char *e2e_token(const char *db, const char *workspace);

struct resp {
    long status;
    json_t *json; /* NULL when the body was not JSON */
    char *body;
    size_t len;
    char headers[4096];
};
/* Call base+path with method and a raw body (NULL: none) and content type (NULL: JSON when a
 * body is given), with token as bearer (NULL: none). */
void e2e_http(struct resp *r, const char *base, const char *method, const char *path,
              const char *token, const char *body, size_t body_len, const char *ctype);
/* The same with a JSON body (stolen, may be NULL). */
void e2e_call(struct resp *r, const struct serve *s, const char *method, const char *path,
              const char *token, json_t *body);
void e2e_resp_release(struct resp *r);
/* The error message of a failed call, or "". */
const char *e2e_err(const struct resp *r);

/* As the external worker "w": claim one job of type (the test fails when there is none), and
 * get its id and lease token; then end it with e2e_worker_end: how is "complete", "fail" (for
 * good) or "retry" (a retryable failure), with error as the failure's message. */
void e2e_claim(const struct serve *s, const char *token, const char *type, char id[64],
               char lease[64]);
void e2e_worker_end(const struct serve *s, const char *token, const char *id, const char *lease,
                    const char *how, const char *error);

/* Run the trawl binary with args (NULL-terminated) and environment additions (NULL-terminated
 * "NAME=value"); capture exit status, stdout and stderr. */
struct run {
    int status;
    char out[65536];
    char err[16384];
};
void e2e_run(struct run *r, const char *const *env, const char *const *args);
#define E2E_RUN(r, env, ...) e2e_run((r), (env), (const char *const[]){__VA_ARGS__, NULL})

/* Start the trawl binary with args (NULL-terminated) in the background, its stdout written to
 * the file out and its stderr appended to the file err; it is killed at the test's end if it
 * still runs. */
pid_t e2e_start(const char *const *args, const char *out, const char *err);
/* Wait for a process e2e_start started to exit; its exit status, or 128 + the signal. */
int e2e_reap(pid_t pid);
/* The last cap - 1 bytes of the file at path into buf ("" when there is none). */
void e2e_read_tail(const char *path, char *buf, size_t cap);

int64_t e2e_ms(void);
void e2e_sleep_ms(int64_t ms);

#endif
