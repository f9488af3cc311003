/* trawl token: make, list and revoke API tokens, on the database file (a token is needed before
 * the API can be used, so this cannot go through the API). */
#include "cli/cli.h"

#include "api/auth.h"
#include "store/token.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char usage_[] =
    "usage: trawl token create --workspace NAME [--name TEXT] [--db PATH]\n"
    "       trawl token list [--db PATH]\n"
    "       trawl token revoke ID [--db PATH]\n"
    "a token gives access to one workspace's jobs through the HTTP API; it is shown once, when\n"
    "it is made: only its hash is kept.\n";

static int add_token(struct store *s, void *arg, struct err *e)
{
    return store_token_add(s, arg, e);
}

struct revoke {
    const char *id;
    int64_t now;
};

static int revoke_token(struct store *s, void *arg, struct err *e)
{
    struct revoke *r = arg;
    int rc = store_token_revoke(s, r->id, r->now, e);
    /* a refusal is not a store failure, but it must reach the caller: keep it as the error */
    return rc;
}

static int create(int argc, char **argv)
{
    static const struct option longs[] = {
        {"workspace", required_argument, 0, 'w'},
        {"name", required_argument, 0, 'n'},
        {"db", required_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *ws = NULL, *name = NULL, *db = cli_default_db();
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        if (c == 'w')
            ws = optarg;
        else if (c == 'n')
            name = optarg;
        else if (c == 'd')
            db = optarg;
        else if (c == 'h') {
            fputs(usage_, stdout);
            return 0;
        } else {
            fputs(usage_, stderr);
            return 2;
        }
    }
    if (optind != argc || !ws) {
        fprintf(stderr, "trawl token create: --workspace NAME is required\n");
        return 2;
    }
    size_t wl = strlen(ws);
    bool ok = wl > 0 && wl <= JOB_KEY_MAX;
    for (size_t i = 0; ok && i < wl; i++)
        ok = ws[i] > 0x20 && ws[i] < 0x7f;
    if (!ok) {
        fprintf(stderr,
                "trawl token create: --workspace must be 1-%d printable characters "
                "without spaces\n",
                JOB_KEY_MAX);
        return 2;
    }
    if (name && strlen(name) > 200) {
        fprintf(stderr, "trawl token create: --name is longer than 200 characters\n");
        return 2;
    }
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct api_token t = {.workspace = (char *)ws, .name = (char *)name};
    char token[AUTH_TOKEN_LEN + 1];
    auth_token_new(token, t.hash);
    t.created_at = engine_now(eng);
    uuid_v7(t.id, t.created_at);
    struct err e;
    int rc = engine_exec(eng, add_token, &t, &e);
    engine_close(eng);
    if (rc) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 1;
    }
    printf("%s\n", token);
    fprintf(stderr,
            "token %s for workspace %s; shown only now: keep it (send it as "
            "Authorization: Bearer <token>, or set TRAWL_TOKEN)\n",
            t.id, ws);
    return 0;
}

static void when(int64_t ms, char *out, size_t n)
{
    if (!ms) {
        snprintf(out, n, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static int list(int argc, char **argv)
{
    const char *db;
    int rc = cli_db_args(argc, argv, usage_, &db, NULL);
    if (rc >= 0)
        return rc;
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct api_token *t;
    size_t n;
    struct err e;
    rc = store_token_list(engine_store(eng), &t, &n, &e);
    if (rc < 0) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        engine_close(eng);
        return 1;
    }
    printf("%-36s  %-20s  %-20s  %-20s  %s\n", "ID", "WORKSPACE", "CREATED", "REVOKED", "NAME");
    for (size_t i = 0; i < n; i++) {
        char c[32], r[32];
        when(t[i].created_at, c, sizeof c);
        when(t[i].revoked_at, r, sizeof r);
        printf("%-36s  %-20s  %-20s  %-20s  %s\n", t[i].id, t[i].workspace, c, r,
               t[i].name ? t[i].name : "");
    }
    api_token_array_free(t, n);
    engine_close(eng);
    return 0;
}

static int revoke(int argc, char **argv)
{
    const char *db, *id;
    int rc = cli_db_args(argc, argv, usage_, &db, &id);
    if (rc >= 0)
        return rc;
    struct engine *eng;
    if (cli_open(db, STORE_DURABLE, &eng))
        return 1;
    struct revoke r = {id, engine_now(eng)};
    struct err e;
    rc = engine_exec(eng, revoke_token, &r, &e);
    engine_close(eng);
    if (rc) {
        fprintf(stderr, "trawl: %s\n", e.msg);
        return 1;
    }
    printf("token %s revoked; the server stops accepting it within a few seconds\n", id);
    return 0;
}

int cmd_token(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "create"))
        return create(argc - 1, argv + 1);
    if (!strcmp(argv[1], "list"))
        return list(argc - 1, argv + 1);
    if (!strcmp(argv[1], "revoke"))
        return revoke(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_, stdout);
        return 0;
    }
    fprintf(stderr, "trawl token: unknown subcommand '%s'\n", argv[1]);
    fputs(usage_, stderr);
    return 2;
}
