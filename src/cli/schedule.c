/* The client commands of schedules: `trawl schedules` lists them as a table; `trawl schedule add`
 * makes one (from its name, cron expression and job type, or from a JSON file as POST
 * /v1/schedules takes it); `trawl schedule pause|resume|rm NAME` pause, resume and delete one. */
#include "cli/cli.h"
#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char schedules_usage_[] = "usage: trawl schedules [options]\n"
                                       "list the schedules: cron, time zone, next and last run\n"
                                       "(exit 0)\n" CLI_COMMON_USAGE;

/* Only the common options and no argument; -1 to go on, else the exit status. (One argument:
 * cli_id_args.) */
static int common_args(int argc, char **argv, const char *usage, struct cli_common *o)
{
    static const struct option longs[] = {CLI_COMMON_OPTS, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, o, usage);
        if (k < 0)
            return 0;
        if (!k) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (argc != optind) {
        fputs(usage, stderr);
        return 2;
    }
    return -1;
}

int cmd_schedules(int argc, char **argv)
{
    struct cli_common o = {0};
    int rc = common_args(argc, argv, schedules_usage_, &o);
    if (rc >= 0)
        return rc;
    json_t *ans;
    long status;
    if (cli_call(&o.conn, "GET", "/v1/schedules", NULL, &ans, &status) != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json) {
        cli_print_json(ans);
        json_decref(ans);
        return 0;
    }
    printf("%-20s %-16s %-16s %-6s %-7s %-24s %s\n", "NAME", "CRON", "TIMEZONE", "MISSED", "STATE",
           "NEXT RUN", "LAST RUN");
    size_t i;
    json_t *s;
    json_t *list = json_object_get(ans, "schedules");
    json_array_foreach(list, i, s)
    {
        printf("%-20.20s %-16.16s %-16.16s %-6s %-7s %-24s %s\n", cli_str(s, "name"),
               cli_str(s, "cron"), cli_str(s, "timezone"), cli_str(s, "missed"),
               json_is_true(json_object_get(s, "paused")) ? "paused" : "active",
               cli_str(s, "nextRunAt"), cli_str(s, "lastRunAt"));
    }
    printf("%zu schedules\n", json_array_size(list));
    json_decref(ans);
    return 0;
}

static const char schedule_usage_[] =
    "usage: trawl schedule add NAME CRON --type TYPE [--args JSON] [--tz ZONE] [--missed M]\n"
    "       trawl schedule add FILE.json     (FILE - for stdin: the body of POST /v1/schedules)\n"
    "       trawl schedule pause|resume|rm NAME\n"
    "make, pause, resume or delete a schedule. CRON is five fields (\"*/5 * * * *\"), a macro\n"
    "(\"@hourly\") or \"@every 30s\"; each of its times runs one job of TYPE with args JSON.\n"
    "  --type TYPE      the job's type (required with NAME CRON)\n"
    "  --args JSON      the job's args (default {})\n"
    "  --tz ZONE        the time zone CRON is read in (default UTC)\n"
    "  --missed M       times missed while no server ran: skip (default), once or all\n" CLI_COMMON_USAGE;

static int schedule_add(int argc, char **argv)
{
    static const struct option longs[] = {
        {"type", required_argument, 0, 'y'},
        {"args", required_argument, 0, 'a'},
        {"tz", required_argument, 0, 'z'},
        {"missed", required_argument, 0, 'm'},
        CLI_COMMON_OPTS,
        {0, 0, 0, 0},
    };
    struct cli_common o = {0};
    const char *type = NULL, *args = NULL, *tz = NULL, *missed = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, schedule_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        switch (c) {
        case 'y':
            type = optarg;
            break;
        case 'a':
            args = optarg;
            break;
        case 'z':
            tz = optarg;
            break;
        case 'm':
            missed = optarg;
            break;
        default:
            fputs(schedule_usage_, stderr);
            return 2;
        }
    }
    int left = argc - optind;
    json_t *body = NULL;
    if (left == 1) {
        if (type || args || tz || missed) {
            fprintf(stderr, "trawl: schedule add FILE takes no --type, --args, --tz or --missed: "
                            "the file says them\n");
            return 2;
        }
        const char *file = argv[optind];
        json_error_t je;
        body = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(file, 0, &je);
        if (!body) {
            fprintf(stderr, "trawl: %s: not JSON: %s (line %d, column %d)\n", file, je.text,
                    je.line, je.column);
            return 2;
        }
    } else if (left == 2) {
        if (!type) {
            fprintf(stderr, "trawl: schedule add NAME CRON: --type is required\n");
            return 2;
        }
        json_t *a = NULL;
        if (args) {
            json_error_t je;
            a = json_loads(args, 0, &je);
            if (!json_is_object(a)) {
                fprintf(stderr, "trawl: --args: not a JSON object: %s\n",
                        a ? "another JSON value" : je.text);
                json_decref(a);
                return 2;
            }
        }
        json_t *job = json_pack("{s:s}", "type", type);
        if (a)
            json_object_set_new(job, "args", a);
        body = json_pack("{s:s, s:s, s:o}", "name", argv[optind], "cron", argv[optind + 1], "job",
                         job);
        if (tz)
            json_object_set_new(body, "timezone", json_string(tz));
        if (missed)
            json_object_set_new(body, "missed", json_string(missed));
        if (!body) {
            fprintf(stderr, "trawl: NAME and CRON must be UTF-8\n");
            return 2;
        }
    } else {
        fputs(schedule_usage_, stderr);
        return 2;
    }
    json_t *ans;
    long status;
    int rc = cli_call(&o.conn, "POST", "/v1/schedules", body, &ans, &status);
    json_decref(body);
    if (rc != 0) {
        json_decref(ans);
        return 1;
    }
    json_t *sc = json_object_get(ans, "schedule");
    if (o.json)
        cli_print_json(ans);
    else
        printf("%s  next run %s\n", cli_str(sc, "id"), cli_str(sc, "nextRunAt"));
    json_decref(ans);
    return 0;
}

/* pause, resume, rm */
static int schedule_act(int argc, char **argv, const char *method, const char *action)
{
    struct cli_common o = {0};
    int rc = cli_id_args(argc, argv, schedule_usage_, &o, NULL, NULL);
    if (rc >= 0)
        return rc;
    char key[600], path[700];
    cli_enc(argv[optind], key, sizeof key);
    snprintf(path, sizeof path, "/v1/schedules/%s%s", key, action);
    json_t *ans;
    long status;
    json_t *body = strcmp(method, "POST") ? NULL : json_object();
    rc = cli_call(&o.conn, method, path, body, &ans, &status);
    json_decref(body);
    if (rc != 0) {
        json_decref(ans);
        return 1;
    }
    json_t *sc = json_object_get(ans, "schedule");
    if (o.json)
        cli_print_json(ans);
    else if (!sc)
        printf("deleted %s\n", argv[optind]);
    else
        printf("%s %s, next run %s\n", cli_str(sc, "name"),
               json_is_true(json_object_get(sc, "paused")) ? "paused" : "active",
               json_is_true(json_object_get(sc, "paused")) ? "-" : cli_str(sc, "nextRunAt"));
    json_decref(ans);
    return 0;
}

int cmd_schedule(int argc, char **argv)
{
    if (argc < 2) {
        fputs(schedule_usage_, stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        fputs(schedule_usage_, stdout);
        return 0;
    }
    if (!strcmp(sub, "add"))
        return schedule_add(argc - 1, argv + 1);
    if (!strcmp(sub, "pause"))
        return schedule_act(argc - 1, argv + 1, "POST", "/pause");
    if (!strcmp(sub, "resume"))
        return schedule_act(argc - 1, argv + 1, "POST", "/resume");
    if (!strcmp(sub, "rm"))
        return schedule_act(argc - 1, argv + 1, "DELETE", "");
    fprintf(stderr, "trawl: schedule: unknown action '%s' (add, pause, resume, rm)\n\n", sub);
    fputs(schedule_usage_, stderr);
    return 2;
}
