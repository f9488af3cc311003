/* The client commands of chains: `trawl chain ID` draws a job's whole chain as a tree, with each
 * stage's status, attempts, time and error; `trawl pipeline FILE` submits a pipeline (a named
 * chain, as POST /v1/pipelines takes it); `trawl pipelines` lists them. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char chain_usage_[] =
    "usage: trawl chain [options] ID\n"
    "show the chain a job belongs to, from its root, as a tree\n"
    "(exit 0 all completed, 1 a stage failed or is blocked)\n" CLI_COMMON_USAGE;

static void short_id(const char *id, char *out, size_t n)
{
    size_t l = strlen(id);
    /* a UUIDv7's end is its random part: what tells apart jobs made in the same millisecond */
    snprintf(out, n, "%.8s..%s", id, l > 6 ? id + l - 6 : id);
}

static void print_node(json_t *node, const char *prefix, bool last, bool root)
{
    char sid[32];
    short_id(cli_str(node, "id"), sid, sizeof sid);
    const char *role = cli_str(node, "role");
    char extra[160] = "";
    json_t *dur = json_object_get(node, "duration_ms");
    if (dur)
        snprintf(extra, sizeof extra, "  %lld ms", (long long)json_integer_value(dur));
    const char *status = cli_str(node, "status");
    printf("%s%s%s  %-14s %-10s %lld/%lld%s%s%s", prefix,
           root   ? ""
           : last ? "└─ "
                  : "├─ ",
           sid, cli_str(node, "type"), status,
           (long long)json_integer_value(json_object_get(node, "attempt")),
           (long long)json_integer_value(json_object_get(node, "max_attempts")), extra,
           strcmp(role, "root") && strcmp(role, "next") ? "  " : "",
           strcmp(role, "root") && strcmp(role, "next") ? role : "");
    json_t *err = json_object_get(node, "error");
    if (json_is_string(err) && (!strcmp(status, "failed") || !strcmp(status, "retrying")))
        printf("  error: %.120s", json_string_value(err));
    printf("\n");
    char sub[1024];
    snprintf(sub, sizeof sub, "%s%s", prefix, root ? "" : last ? "   " : "│  ");
    json_t *kids = json_object_get(node, "children");
    json_t *more = json_object_get(node, "more_children");
    size_t n = json_array_size(kids), i;
    json_t *k;
    json_array_foreach(kids, i, k) print_node(k, sub, i == n - 1 && !more, false);
    if (more) {
        json_t *c = json_object_get(node, "children_counts");
        printf(
            "%s└─ ... %lld more children (%lld completed, %lld failed, %lld running or to run)\n",
            sub, (long long)json_integer_value(more),
            (long long)json_integer_value(json_object_get(c, "completed")),
            (long long)json_integer_value(json_object_get(c, "failed")),
            (long long)(json_integer_value(json_object_get(c, "pending")) +
                        json_integer_value(json_object_get(c, "processing")) +
                        json_integer_value(json_object_get(c, "retrying")) +
                        json_integer_value(json_object_get(c, "waiting"))));
    }
}

int cmd_chain(int argc, char **argv)
{
    struct cli_common o = {0};
    int rc = cli_id_args(argc, argv, chain_usage_, &o, NULL, NULL);
    if (rc >= 0)
        return rc;
    char id[400], path[512];
    cli_enc(argv[optind], id, sizeof id);
    snprintf(path, sizeof path, "/v1/jobs/%s/chain", id);
    json_t *ans;
    long status;
    if (cli_call(&o.conn, "GET", path, NULL, &ans, &status) != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json) {
        cli_print_json(ans);
        json_decref(ans);
        return 0;
    }
    json_t *chain = json_object_get(ans, "chain");
    json_t *counts = json_object_get(chain, "counts");
    printf("chain %s: %lld jobs", cli_str(chain, "root_id"),
           (long long)json_integer_value(json_object_get(chain, "jobs")));
    const char *key;
    json_t *v;
    const char *sep = " (";
    json_object_foreach(counts, key, v)
    {
        if (json_integer_value(v) > 0) {
            printf("%s%lld %s", sep, (long long)json_integer_value(v), key);
            sep = ", ";
        }
    }
    printf("%s\n", *sep == ',' ? ")" : "");
    print_node(json_object_get(chain, "tree"), "", true, true);
    if (json_is_true(json_object_get(chain, "truncated")))
        printf("(the first %lld jobs are shown)\n",
               (long long)json_integer_value(json_object_get(chain, "shown")));
    bool bad = json_integer_value(json_object_get(counts, "failed")) > 0 ||
               json_integer_value(json_object_get(counts, "blocked")) > 0;
    json_decref(ans);
    return bad ? 1 : 0;
}

static const char pipeline_usage_[] =
    "usage: trawl pipeline [options] FILE\n"
    "submit a pipeline: FILE (- for stdin) holds {\"name\": ..., \"stages\": [{\"type\": ...,\n"
    "\"args\": {...}, \"timeoutMs\": ..., \"maxAttempts\": ..., \"name\": ..., \"after\": ...}, ...]};\n"
    "each stage runs once the one before it (or the one it names in \"after\") completed, with\n"
    "that stage's result as its input. Prints the pipeline's id (its first stage's job id)\n" CLI_COMMON_USAGE;

int cmd_pipeline(int argc, char **argv)
{
    struct cli_common o = {0};
    int rc = cli_id_args(argc, argv, pipeline_usage_, &o, NULL, NULL);
    if (rc >= 0)
        return rc;
    const char *file = argv[optind];
    json_error_t je;
    json_t *body =
        strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(file, 0, &je);
    if (!body) {
        fprintf(stderr, "trawl: %s: not JSON: %s (line %d, column %d)\n", file, je.text, je.line,
                je.column);
        return 2;
    }
    json_t *ans;
    long status;
    rc = cli_call(&o.conn, "POST", "/v1/pipelines", body, &ans, &status);
    json_decref(body);
    if (rc != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json)
        cli_print_json(ans);
    else
        printf("%s\n", cli_str(ans, "pipelineId"));
    json_decref(ans);
    return 0;
}

static const char pipelines_usage_[] = "usage: trawl pipelines [options]\n"
                                       "list pipelines, newest first, with where each stands\n"
                                       "  --limit N        at most N (default 20)\n"
                                       "  --offset N       skip the first N\n" CLI_COMMON_USAGE;

int cmd_pipelines(int argc, char **argv)
{
    struct cli_common o = {0};
    int64_t limit, offset;
    json_t *ans;
    int rc = cli_list(argc, argv, pipelines_usage_, "/v1/pipelines", &o, &limit, &offset, &ans);
    if (rc >= 0)
        return rc;
    printf("%-36s  %-24s %-10s %6s  %s\n", "ID", "NAME", "STATUS", "STAGES", "CREATED");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(ans, "pipelines"), i, p)
    {
        printf("%-36s  %-24.24s %-10s %6lld  %s\n", cli_str(p, "id"), cli_str(p, "name"),
               cli_str(p, "status"), (long long)json_integer_value(json_object_get(p, "stages")),
               cli_str(p, "created_at"));
    }
    printf("%lld pipelines\n", (long long)json_integer_value(json_object_get(ans, "total")));
    json_decref(ans);
    return 0;
}
