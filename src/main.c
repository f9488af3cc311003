/* trawl's command table: each command is a cmd_<name>() in src/cli/. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run workers and the monitor on a database"},
    {"enqueue", cmd_enqueue, "add a job to a database (local)"},
    {"job", cmd_job, "show a job and its history (local)"},
    {"jobs", cmd_jobs, "list jobs, newest first, by status, type or batch (local)"},
    {"stats", cmd_stats, "count jobs by status (local)"},
    {"cancel", cmd_cancel, "cancel a job (local)"},
    {"retry", cmd_retry, "retry a failed or cancelled job (local)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: trawl <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'trawl <command> --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "trawl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
