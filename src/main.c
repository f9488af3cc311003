/* trawl's command table: each command is a cmd_<name>() in src/cli/. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", cmd_serve, "run the HTTP API, the workers and the monitor on a database"},
    {"work", cmd_work, "run the jobs due now and exit (--once; for cron, also beside serve)"},
    {"submit", cmd_submit, "queue a crawl job for a URL"},
    {"batch", cmd_batch, "queue crawl jobs for a file of URLs, as one batch"},
    {"get", cmd_get, "show a crawl job, or its page with --html"},
    {"wait", cmd_wait, "wait for a crawl job to end"},
    {"job", cmd_job, "show a job of any type and its history"},
    {"jobs", cmd_jobs, "list jobs, newest first, by status, type or batch"},
    {"batches", cmd_batches, "list batches with their progress"},
    {"batch-status", cmd_batch_status, "show a batch's counts and jobs"},
    {"retry", cmd_retry, "retry a batch's failed jobs, or one job"},
    {"cancel", cmd_cancel, "cancel a job (a chain's root: the whole chain)"},
    {"chain", cmd_chain, "show a job's chain as a tree: every stage, its status and error"},
    {"pipeline", cmd_pipeline, "submit a pipeline (a named chain of stages) from a JSON file"},
    {"pipelines", cmd_pipelines, "list pipelines with where each stands"},
    {"schedules", cmd_schedules, "list schedules (cron jobs) with their next and last run"},
    {"schedule", cmd_schedule, "add, pause, resume or remove a schedule"},
    {"scrape", cmd_scrape, "crawl a site into product records, with live progress"},
    {"sessions", cmd_sessions, "list scraping sessions"},
    {"session", cmd_session, "show, cancel or retry a scraping session; list its pages"},
    {"import", cmd_import, "import a product feed (XML, CSV, JSON) and deliver it, live"},
    {"imports", cmd_imports, "list feed imports"},
    {"import-status", cmd_import_status, "show, start, retry or cancel an import; its rows, calls"},
    {"watch", cmd_watch, "show live events (jobs, batches, sessions, breakers, alerts)"},
    {"token", cmd_token, "make, list and revoke API tokens (local)"},
    {"enqueue", cmd_enqueue, "add a job of any type to a database (local)"},
    {"stats", cmd_stats, "count jobs by status (local)"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: trawl <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
    fprintf(f,
            "\n'trawl <command> --help' shows a command's options. Commands marked local work\n"
            "on the database file (--db, $TRAWL_DB); the others talk to `trawl serve` over HTTP\n"
            "(--server, $TRAWL_SERVER; --token, $TRAWL_TOKEN).\n");
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
