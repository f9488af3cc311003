/* The client commands end to end: the trawl binary talking to a real trawl serve over HTTP, as a
 * user at a terminal or a script with --json would. */
#include "e2eutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct env {
    struct serve s;
    struct origin o;
    char server[80], token[128];
    const char *envp[3];
};

static void setup(struct env *v)
{
    e2e_origin(&v->o, NULL);
    E2E_SERVE(&v->s, NULL, "--allow-private", "127.0.0.2/32", "--workers", "0", "--type",
              "crawl.backoff_base_ms=100");
    snprintf(v->server, sizeof v->server, "TRAWL_SERVER=%s", v->s.base);
    snprintf(v->token, sizeof v->token, "TRAWL_TOKEN=%s", e2e_token(v->s.db, "cli"));
    v->envp[0] = v->server;
    v->envp[1] = v->token;
    v->envp[2] = NULL;
}

static void teardown(struct env *v)
{
    e2e_serve_stop(&v->s, 20000);
    e2e_origin_stop(&v->o);
}

static json_t *json_out(const struct run *r)
{
    json_error_t je;
    json_t *j = json_loads(r->out, 0, &je);
    cr_assert_not_null(j, "--json output is not JSON (%s): %s", je.text, r->out);
    return j;
}

Test(client, submit_wait_get)
{
    struct env v;
    setup(&v);
    char url[256];
    snprintf(url, sizeof url, "%s/page?id=cli1&size=5000", v.o.base);
    struct run r;
    E2E_RUN(&r, v.envp, "submit", url);
    cr_assert_eq(r.status, 0, "%s", r.err);
    char id[64];
    snprintf(id, sizeof id, "%.36s", r.out);
    E2E_RUN(&r, v.envp, "wait", id);
    cr_assert_eq(r.status, 0, "wait: %s %s", r.out, r.err);
    cr_assert(strstr(r.out, "completed") && strstr(r.out, "http_status") && strstr(r.out, "200"),
              "%s", r.out);
    E2E_RUN(&r, v.envp, "get", "--html", id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "<title>page cli1</title>") != NULL, "%s", r.out);
    E2E_RUN(&r, v.envp, "get", "--json", id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    json_t *j = json_out(&r);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "job"), "status")),
                     "completed");
    json_decref(j);
    /* submit --wait in one step, and a URL that fails */
    snprintf(url, sizeof url, "%s/status?code=404", v.o.base);
    E2E_RUN(&r, v.envp, "submit", "--wait", url);
    cr_assert_eq(r.status, 1, "a failed job must exit 1: %s %s", r.out, r.err);
    cr_assert(strstr(r.out, "failed") && strstr(r.out, "404"), "%s", r.out);
    teardown(&v);
}

Test(client, clear_errors)
{
    struct env v;
    setup(&v);
    struct run r;
    E2E_RUN(&r, v.envp, "submit", "ftp://example.com/");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "scheme") != NULL, "%s", r.err);
    E2E_RUN(&r, v.envp, "get", "00000000-0000-7000-8000-000000000000");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "not found") != NULL, "%s", r.err);
    const char *notoken[] = {v.server, NULL};
    E2E_RUN(&r, notoken, "jobs");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "token") != NULL, "%s", r.err);
    const char *noserver[] = {"TRAWL_SERVER=http://127.0.0.1:1", v.token, NULL};
    E2E_RUN(&r, noserver, "jobs");
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "cannot reach the server") != NULL, "%s", r.err);
    E2E_RUN(&r, v.envp, "batch", e2e_path("no-such-file"));
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "cannot read") != NULL, "%s", r.err);
    teardown(&v);
}

Test(client, batch_file_batches_status_retry)
{
    struct env v;
    setup(&v);
    FILE *f = fopen(e2e_path("urls.txt"), "w");
    cr_assert_not_null(f);
    fprintf(f, "# a shop\n\n");
    for (int i = 0; i < 12; i++)
        fprintf(f, "%s/page?id=f%d\n", v.o.base, i);
    fprintf(f, "%s/flaky?key=x&fail=3&code=500\n", v.o.base);
    fprintf(f, "not a url\n");
    fclose(f);
    struct run r;
    E2E_RUN(&r, v.envp, "batch", "--batch-id", "file-1", "--max-attempts", "1",
            e2e_path("urls.txt"));
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "file-1") != NULL, "%s", r.out);
    cr_assert(strstr(r.err, "13 queued, 1 invalid") != NULL, "%s", r.err);
    cr_assert(strstr(r.err, "not a url") != NULL, "%s", r.err);
    /* wait for the batch to end */
    json_t *j = NULL;
    for (int i = 0; i < 300; i++) {
        E2E_RUN(&r, v.envp, "batch-status", "--json", "file-1");
        cr_assert_eq(r.status, 0, "%s", r.err);
        json_decref(j);
        j = json_out(&r);
        if (json_real_value(json_object_get(j, "progress")) >= 100.0)
            break;
        e2e_sleep_ms(100);
    }
    json_t *c = json_object_get(j, "counts");
    cr_assert_eq(json_integer_value(json_object_get(c, "completed")), 12, "%s", r.out);
    cr_assert_eq(json_integer_value(json_object_get(c, "failed")), 1, "%s", r.out);
    json_decref(j);
    E2E_RUN(&r, v.envp, "batch-status", "file-1", "--status", "failed");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "flaky") != NULL && strstr(r.out, "500") != NULL, "%s", r.out);
    E2E_RUN(&r, v.envp, "batches");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "file-1") && strstr(r.out, "100.0%"), "%s", r.out);
    /* retry the failed one: it fails twice more at the origin, then succeeds on its 4th try */
    E2E_RUN(&r, v.envp, "retry", "file-1");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "1 failed jobs") != NULL, "%s", r.out);
    E2E_RUN(&r, v.envp, "jobs", "--batch", "file-1", "--status", "failed", "--json");
    cr_assert_eq(r.status, 0, "%s", r.err);
    teardown(&v);
}

Test(client, cancel_and_jobs)
{
    struct env v;
    setup(&v);
    char url[256];
    snprintf(url, sizeof url, "%s/slow-first-byte?ms=20000", v.o.base);
    struct run r;
    E2E_RUN(&r, v.envp, "submit", url);
    char id[64];
    snprintf(id, sizeof id, "%.36s", r.out);
    E2E_RUN(&r, v.envp, "cancel", id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    E2E_RUN(&r, v.envp, "cancel", id);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.err, "cancelled") != NULL, "%s", r.err);
    E2E_RUN(&r, v.envp, "jobs", "--status", "cancelled");
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, id) != NULL, "%s", r.out);
    E2E_RUN(&r, v.envp, "job", id);
    cr_assert_eq(r.status, 0, "%s", r.err);
    cr_assert(strstr(r.out, "history:") && strstr(r.out, "cancelled"), "%s", r.out);
    teardown(&v);
}
