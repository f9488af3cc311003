/* The client commands: they read like the API and talk to trawl serve only through it. Output is
 * a table for people, or the server's JSON with --json for scripts; long waits show progress on
 * a terminal. Exit status: 0 ok, 1 failure (the job failed, or the call was refused), 2 bad
 * usage, 3 a wait that timed out. */
#include "cli/cli.h"
#include "cli/client.h"

#include "base/clock.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool tty(void)
{
    return isatty(STDERR_FILENO);
}

/* ---- submit ---- */

static const char submit_usage_[] =
    "usage: trawl submit [options] URL\n"
    "queue a crawl job for URL and print its id\n"
    "  --priority N     -1000..1000, higher first\n"
    "  --max-attempts N attempts before the job fails for good\n"
    "  --timeout MS     most time for the fetch\n"
    "  --header 'N: V'  send this header with the request (repeatable)\n"
    "  --batch ID       put the job in batch ID\n"
    "  --wait           wait for the job to end and show it\n" CLI_COMMON_USAGE;

static int show_crawl_job(json_t *job, bool json, json_t *all);
static int wait_for(struct cli_common *o, const char *id, int64_t timeout_ms, bool html);

int cmd_submit(int argc, char **argv)
{
    static const struct option longs[] = {
        {"priority", required_argument, 0, 'p'},
        {"max-attempts", required_argument, 0, 'm'},
        {"timeout", required_argument, 0, 't'},
        {"header", required_argument, 0, 'H'},
        {"batch", required_argument, 0, 'b'},
        {"wait", no_argument, 0, 'w'},
        CLI_COMMON_OPTS,
        {0, 0, 0, 0},
    };
    struct cli_common o = {0};
    json_t *body = json_object(), *headers = NULL;
    bool wait = false;
    int c, rc = 2;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, submit_usage_);
        if (k < 0) {
            rc = 0;
            goto out;
        }
        if (k)
            continue;
        switch (c) {
        case 'p':
            if (!cli_int("--priority", optarg, -1000, 1000, &v))
                goto out;
            json_object_set_new(body, "priority", json_integer(v));
            break;
        case 'm':
            if (!cli_int("--max-attempts", optarg, 1, 1000, &v))
                goto out;
            json_object_set_new(body, "maxAttempts", json_integer(v));
            break;
        case 't':
            if (!cli_int("--timeout", optarg, 1000, 300000, &v))
                goto out;
            json_object_set_new(body, "timeoutMs", json_integer(v));
            break;
        case 'H': {
            const char *colon = strchr(optarg, ':');
            if (!colon || colon == optarg) {
                fprintf(stderr, "trawl: --header: expected 'Name: value', got '%s'\n", optarg);
                goto out;
            }
            if (!headers)
                headers = json_object();
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(colon - optarg), optarg);
            const char *val = colon + 1;
            while (*val == ' ')
                val++;
            json_object_set_new(headers, name, json_string(val));
            break;
        }
        case 'b':
            json_object_set_new(body, "batchId", json_string(optarg));
            break;
        case 'w':
            wait = true;
            break;
        default:
            fputs(submit_usage_, stderr);
            goto out;
        }
    }
    if (optind != argc - 1) {
        fputs(submit_usage_, stderr);
        goto out;
    }
    json_t *url = json_string(argv[optind]);
    if (!url) {
        fprintf(stderr, "trawl: the URL is not valid UTF-8\n");
        goto out;
    }
    json_object_set_new(body, "url", url);
    if (headers) {
        json_object_set_new(body, "headers", headers);
        headers = NULL;
    }
    json_t *ans;
    long status;
    rc = 1;
    if (cli_call(&o.conn, "POST", "/v1/crawl-jobs", body, &ans, &status) != 0) {
        json_decref(ans);
        goto out;
    }
    const char *id = cli_str(ans, "jobId");
    if (o.json && !wait)
        cli_print_json(ans);
    else if (!wait)
        printf("%s\n", id);
    rc = 0;
    if (wait) {
        char idc[64];
        snprintf(idc, sizeof idc, "%s", id);
        rc = wait_for(&o, idc, 0, false);
    }
    json_decref(ans);
out:
    json_decref(headers);
    json_decref(body);
    return rc;
}

/* ---- batch ---- */

static const char batch_usage_[] =
    "usage: trawl batch [options] FILE|-\n"
    "queue a crawl job for every URL in FILE (one per line; - reads standard input; blank lines\n"
    "and lines starting with # are skipped), all in one batch, and print the batch id\n"
    "  --batch-id ID    the batch's id (default: a new one)\n"
    "  --priority N     -1000..1000, higher first\n"
    "  --max-attempts N attempts before a job fails for good\n" CLI_COMMON_USAGE;

#define BATCH_CALL_URLS 10000

int cmd_batch(int argc, char **argv)
{
    static const struct option longs[] = {
        {"batch-id", required_argument, 0, 'b'},
        {"priority", required_argument, 0, 'p'},
        {"max-attempts", required_argument, 0, 'm'},
        CLI_COMMON_OPTS,
        {0, 0, 0, 0},
    };
    struct cli_common o = {0};
    const char *batch = NULL;
    int64_t prio = 0, attempts = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, batch_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        switch (c) {
        case 'b':
            batch = optarg;
            break;
        case 'p':
            if (!cli_int("--priority", optarg, -1000, 1000, &prio))
                return 2;
            break;
        case 'm':
            if (!cli_int("--max-attempts", optarg, 1, 1000, &attempts))
                return 2;
            break;
        default:
            fputs(batch_usage_, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(batch_usage_, stderr);
        return 2;
    }
    const char *path = argv[optind];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "trawl: cannot read %s: %m\n", path);
        return 1;
    }
    char batch_id[256] = "";
    if (batch)
        snprintf(batch_id, sizeof batch_id, "%s", batch);
    long total = 0, ok = 0, bad = 0, lineno = 0, calls = 0;
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    json_t *urls = json_array(), *invalid_all = json_array();
    bool eof = false;
    while (!eof) {
        len = getline(&line, &cap, f);
        if (len < 0)
            eof = true;
        if (!eof) {
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                               line[len - 1] == ' ' || line[len - 1] == '\t'))
                line[--len] = 0;
            char *s = line;
            while (*s == ' ' || *s == '\t')
                s++;
            if (!*s || *s == '#')
                continue;
            json_t *u = json_string(s);
            if (!u) {
                fprintf(stderr, "trawl: %s:%ld: not valid UTF-8; skipped\n", path, lineno);
                bad++;
                total++;
                continue;
            }
            json_array_append_new(urls, u);
        }
        if (json_array_size(urls) == 0 || (!eof && json_array_size(urls) < BATCH_CALL_URLS))
            continue;
        json_t *body = json_pack("{s:O}", "urls", urls);
        if (batch_id[0])
            json_object_set_new(body, "batchId", json_string(batch_id));
        if (prio)
            json_object_set_new(body, "priority", json_integer(prio));
        if (attempts)
            json_object_set_new(body, "maxAttempts", json_integer(attempts));
        json_t *ans;
        long status;
        int crc = cli_call(&o.conn, "POST", "/v1/crawl-jobs/batch", body, &ans, &status);
        json_decref(body);
        total += (long)json_array_size(urls);
        json_array_clear(urls);
        calls++;
        if (crc != 0 && status != 400) {
            json_decref(ans);
            rc = 1;
            break;
        }
        ok += (long)json_integer_value(json_object_get(ans, "successCount"));
        bad += (long)json_integer_value(json_object_get(ans, "failedCount"));
        if (!batch_id[0] && json_string_value(json_object_get(ans, "batchId")))
            snprintf(batch_id, sizeof batch_id, "%s", cli_str(ans, "batchId"));
        json_array_extend(invalid_all, json_object_get(ans, "invalid"));
        json_decref(ans);
        if (tty() && !o.json)
            fprintf(stderr, "\rsubmitted %ld URLs", total);
    }
    if (tty() && !o.json && calls)
        fprintf(stderr, "\n");
    free(line);
    if (f != stdin)
        fclose(f);
    json_decref(urls);
    if (o.json) {
        json_t *sum = json_pack("{s:s, s:I, s:I, s:I, s:O}", "batchId", batch_id, "total",
                                (json_int_t)total, "successCount", (json_int_t)ok, "failedCount",
                                (json_int_t)bad, "invalid", invalid_all);
        cli_print_json(sum);
        json_decref(sum);
    } else if (total == 0 && rc == 0) {
        fprintf(stderr, "trawl: %s holds no URLs\n", path);
        rc = 1;
    } else if (rc == 0) {
        size_t i;
        json_t *inv;
        json_array_foreach(invalid_all, i, inv)
        {
            fprintf(stderr, "invalid: %s: %s\n", cli_str(inv, "url"), cli_str(inv, "error"));
        }
        printf("%s\n", batch_id);
        fprintf(stderr, "%ld queued, %ld invalid, in batch %s\n", ok, bad, batch_id);
    }
    json_decref(invalid_all);
    return rc ? rc : ok == 0 ? 1 : 0;
}

/* ---- get and wait ---- */

static int show_crawl_job(json_t *job, bool json, json_t *all)
{
    if (json) {
        cli_print_json(all);
        return 0;
    }
    static const char *const fields[] = {"id",         "url",          "status",
                                         "attempt",    "http_status",  "content_type",
                                         "final_url",  "html_length",  "processing_time_ms",
                                         "created_at", "completed_at", "error"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(job, fields[i]);
        if (!v || json_is_null(v))
            continue;
        if (json_is_string(v))
            printf("%-19s %s\n", fields[i], json_string_value(v));
        else if (json_is_integer(v))
            printf("%-19s %lld\n", fields[i], (long long)json_integer_value(v));
    }
    return 0;
}

static const char get_usage_[] =
    "usage: trawl get [options] ID\n"
    "show a crawl job\n"
    "  --html           print the fetched page instead\n" CLI_COMMON_USAGE;

int cmd_get(int argc, char **argv)
{
    struct cli_common o = {0};
    bool html = false;
    int rc = cli_id_args(argc, argv, get_usage_, &o, "html", &html);
    if (rc >= 0)
        return rc;
    char path[512], id[200];
    cli_enc(argv[optind], id, sizeof id);
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s%s", id, html || o.json ? "" : "?html=false");
    json_t *ans;
    long status;
    if (cli_call(&o.conn, "GET", path, NULL, &ans, &status) != 0) {
        json_decref(ans);
        return 1;
    }
    if (html && !o.json) {
        json_t *h = json_object_get(ans, "html");
        if (json_is_string(h))
            fwrite(json_string_value(h), 1, json_string_length(h), stdout);
        else
            fprintf(stderr, "trawl: job %s has no page (status %s)\n", argv[optind],
                    cli_str(json_object_get(ans, "job"), "status"));
        rc = json_is_string(h) ? 0 : 1;
        json_decref(ans);
        return rc;
    }
    show_crawl_job(json_object_get(ans, "job"), o.json, ans);
    json_decref(ans);
    return 0;
}

/* Wait for a crawl job, in calls of at most 30 s, showing its status on a terminal. */
static int wait_for(struct cli_common *o, const char *id, int64_t timeout_ms, bool html)
{
    char path[512], eid[200];
    cli_enc(id, eid, sizeof eid);
    snprintf(path, sizeof path, "/v1/crawl-jobs/%s/wait%s", eid, html ? "?html=true" : "");
    int64_t start = clock_mono_ms();
    for (;;) {
        int64_t left = timeout_ms > 0 ? timeout_ms - (clock_mono_ms() - start) : 30000;
        if (left < 0)
            left = 0;
        json_t *body =
            json_pack("{s:I}", "maxWaitTimeMs", (json_int_t)(left > 30000 ? 30000 : left));
        json_t *ans;
        long status;
        int crc = cli_call(&o->conn, "POST", path, body, &ans, &status);
        json_decref(body);
        if (crc != 0) {
            json_decref(ans);
            return 1;
        }
        json_t *job = json_object_get(ans, "job");
        const char *st = cli_str(job, "status");
        bool done = json_is_true(json_object_get(ans, "completed"));
        if (done || (timeout_ms > 0 && clock_mono_ms() - start >= timeout_ms)) {
            if (tty() && !o->json)
                fprintf(stderr, "\r\033[K");
            show_crawl_job(job, o->json, ans);
            int rc = !done ? 3 : strcmp(st, "completed") == 0 ? 0 : 1;
            if (!done)
                fprintf(stderr, "trawl: job %s is still %s after %lld ms\n", id, st,
                        (long long)timeout_ms);
            json_decref(ans);
            return rc;
        }
        if (tty() && !o->json)
            fprintf(stderr, "\r\033[Kjob %s: %s (attempt %lld), %.0f s", id, st,
                    (long long)json_integer_value(json_object_get(job, "attempt")),
                    (double)(clock_mono_ms() - start) / 1000);
        json_decref(ans);
    }
}

static const char wait_usage_[] =
    "usage: trawl wait [options] ID\n"
    "wait until a crawl job ends, then show it; exit 0 completed, 1 failed or cancelled,\n"
    "3 still running when --timeout passed\n"
    "  --timeout MS     give up after this long (default: wait as long as it takes)\n" CLI_COMMON_USAGE;

int cmd_wait(int argc, char **argv)
{
    static const struct option longs[] = {
        {"timeout", required_argument, 0, 't'}, CLI_COMMON_OPTS, {0, 0, 0, 0}};
    struct cli_common o = {0};
    int64_t timeout = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, wait_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        if (c == 't') {
            if (!cli_int("--timeout", optarg, 1, INT64_MAX / 4, &timeout))
                return 2;
            continue;
        }
        fputs(wait_usage_, stderr);
        return 2;
    }
    if (optind != argc - 1) {
        fputs(wait_usage_, stderr);
        return 2;
    }
    return wait_for(&o, argv[optind], timeout, false);
}

/* ---- lists ---- */

static const char jobs_usage_[] =
    "usage: trawl jobs [options]\n"
    "list jobs, newest first\n"
    "  --status S       pending, processing, retrying, completed,\n"
    "                   failed or cancelled\n"
    "  --type T         only jobs of this type\n"
    "  --batch ID       only jobs of this batch\n"
    "  --limit N        at most N (default 50)\n"
    "  --cursor ID      continue after this job id\n" CLI_COMMON_USAGE;

int cmd_jobs(int argc, char **argv)
{
    static const struct option longs[] = {
        {"status", required_argument, 0, 's'},
        {"type", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},
        {"limit", required_argument, 0, 'n'},
        {"cursor", required_argument, 0, 'c'},
        CLI_COMMON_OPTS,
        {0, 0, 0, 0},
    };
    struct cli_common o = {0};
    char q[2048] = "";
    int c;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, jobs_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        const char *name = c == 's'   ? "status"
                           : c == 't' ? "type"
                           : c == 'b' ? "batch"
                           : c == 'n' ? "limit"
                           : c == 'c' ? "cursor"
                                      : NULL;
        if (!name) {
            fputs(jobs_usage_, stderr);
            return 2;
        }
        if (c == 'n' && !cli_int("--limit", optarg, 1, 1000, &v))
            return 2;
        char e[600];
        cli_enc(optarg, e, sizeof e);
        size_t l = strlen(q);
        snprintf(q + l, sizeof q - l, "%c%s=%s", l ? '&' : '?', name, e);
    }
    if (optind != argc) {
        fputs(jobs_usage_, stderr);
        return 2;
    }
    char path[2200];
    snprintf(path, sizeof path, "/v1/jobs%s", q);
    json_t *ans;
    long status;
    if (cli_call(&o.conn, "GET", path, NULL, &ans, &status) != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json) {
        cli_print_json(ans);
    } else {
        printf("%-36s  %-12s  %-10s  %-7s  %s\n", "ID", "TYPE", "STATUS", "ATTEMPT", "ERROR");
        size_t i;
        json_t *j;
        json_array_foreach(json_object_get(ans, "jobs"), i, j)
        {
            char att[32];
            snprintf(att, sizeof att, "%lld/%lld",
                     (long long)json_integer_value(json_object_get(j, "attempt")),
                     (long long)json_integer_value(json_object_get(j, "max_attempts")));
            printf("%-36s  %-12s  %-10s  %-7s  %.60s\n", cli_str(j, "id"), cli_str(j, "type"),
                   cli_str(j, "status"), att,
                   json_is_string(json_object_get(j, "error")) ? cli_str(j, "error") : "");
        }
        json_t *next = json_object_get(ans, "nextCursor");
        if (json_is_string(next))
            fprintf(stderr, "more: --cursor %s\n", json_string_value(next));
    }
    json_decref(ans);
    return 0;
}

static const char batches_usage_[] = "usage: trawl batches [options]\n"
                                     "list batches, newest first\n"
                                     "  --limit N        at most N (default 20)\n"
                                     "  --offset N       skip the first N\n" CLI_COMMON_USAGE;

int cmd_batches(int argc, char **argv)
{
    struct cli_common o = {0};
    int64_t limit, offset;
    json_t *ans;
    int rc = cli_list(argc, argv, batches_usage_, "/v1/batches", &o, &limit, &offset, &ans);
    if (rc >= 0)
        return rc;
    printf("%-36s  %7s  %-22s  %6s  %9s  %6s  %s\n", "BATCH", "TOTAL", "PROGRESS", "DONE",
           "COMPLETED", "FAILED", "CREATED");
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(ans, "batches"), i, b)
    {
        json_t *cnt = json_object_get(b, "counts");
        double pct = json_number_value(json_object_get(b, "progress"));
        char bar[32];
        cli_bar(bar, sizeof bar, pct, 20);
        printf("%-36s  %7lld  %s  %5.1f%%  %9lld  %6lld  %s\n", cli_str(b, "batchId"),
               (long long)json_integer_value(json_object_get(b, "total")), bar, pct,
               (long long)json_integer_value(json_object_get(cnt, "completed")),
               (long long)json_integer_value(json_object_get(cnt, "failed")),
               cli_str(b, "created_at"));
    }
    cli_list_more(ans, "batches", limit, offset);
    json_decref(ans);
    return 0;
}

static const char status_usage_[] =
    "usage: trawl batch-status [options] BATCH\n"
    "show a batch's counts and its jobs\n"
    "  --status S       only jobs in this status\n"
    "  --limit N        at most N jobs (default 20)\n"
    "  --offset N       skip the first N jobs\n"
    "  --watch          keep showing the progress until every job has ended\n" CLI_COMMON_USAGE;

int cmd_batch_status(int argc, char **argv)
{
    static const struct option longs[] = {{"status", required_argument, 0, 's'},
                                          {"limit", required_argument, 0, 'n'},
                                          {"offset", required_argument, 0, 'o'},
                                          {"watch", no_argument, 0, 'w'},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    int64_t limit = 20, offset = 0;
    const char *st = NULL;
    bool watch = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, status_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        if (c == 's') {
            st = optarg;
        } else if (c == 'w') {
            watch = true;
        } else if (c == 'n') {
            if (!cli_int("--limit", optarg, 1, 1000, &limit))
                return 2;
        } else if (c == 'o') {
            if (!cli_int("--offset", optarg, 0, INT32_MAX, &offset))
                return 2;
        } else {
            fputs(status_usage_, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(status_usage_, stderr);
        return 2;
    }
    char path[1024], bid[400], se[64] = "";
    cli_enc(argv[optind], bid, sizeof bid);
    if (st)
        cli_enc(st, se, sizeof se);
    snprintf(path, sizeof path, "/v1/batches/%s?limit=%lld&offset=%lld%s%s", bid,
             (long long)(watch ? 1 : limit), (long long)offset, st ? "&status=" : "", se);
    for (;;) {
        json_t *ans;
        long status;
        if (cli_call(&o.conn, "GET", path, NULL, &ans, &status) != 0) {
            json_decref(ans);
            return 1;
        }
        json_t *cnt = json_object_get(ans, "counts");
        double pct = json_number_value(json_object_get(ans, "progress"));
        long long total = (long long)json_integer_value(json_object_get(ans, "total"));
        if (watch) {
            char bar[32];
            cli_bar(bar, sizeof bar, pct, 20);
            fprintf(stderr,
                    "\r\033[K%s %5.1f%%  %lld jobs: %lld completed, %lld failed, %lld "
                    "processing, %lld pending, %lld retrying",
                    bar, pct, total,
                    (long long)json_integer_value(json_object_get(cnt, "completed")),
                    (long long)json_integer_value(json_object_get(cnt, "failed")),
                    (long long)json_integer_value(json_object_get(cnt, "processing")),
                    (long long)json_integer_value(json_object_get(cnt, "pending")),
                    (long long)json_integer_value(json_object_get(cnt, "retrying")));
            bool done = pct >= 100.0 || total == 0;
            json_decref(ans);
            if (done) {
                fprintf(stderr, "\n");
                return 0;
            }
            clock_sleep_ms(500);
            continue;
        }
        if (o.json) {
            cli_print_json(ans);
        } else {
            printf("batch     %s\ntotal     %lld\nprogress  %.1f%%\n", cli_str(ans, "batchId"),
                   total, pct);
            const char *names[] = {"pending",   "processing", "retrying",
                                   "completed", "failed",     "cancelled"};
            for (size_t i = 0; i < 6; i++)
                printf("%-9s %lld\n", names[i],
                       (long long)json_integer_value(json_object_get(cnt, names[i])));
            printf("\n%-36s  %-10s  %-7s  %s\n", "JOB", "STATUS", "ATTEMPT", "URL / ERROR");
            size_t i;
            json_t *j;
            json_array_foreach(json_object_get(ans, "jobs"), i, j)
            {
                printf("%-36s  %-10s  %-7lld  %s\n", cli_str(j, "id"), cli_str(j, "status"),
                       (long long)json_integer_value(json_object_get(j, "attempt")),
                       cli_str(j, "url"));
                if (json_is_string(json_object_get(j, "error")))
                    printf("%52s%.100s\n", "", cli_str(j, "error"));
            }
            if (json_is_integer(json_object_get(ans, "nextOffset")))
                fprintf(stderr, "more: --offset %lld\n",
                        (long long)json_integer_value(json_object_get(ans, "nextOffset")));
        }
        json_decref(ans);
        return 0;
    }
}

/* ---- changes ---- */

static const char retry_usage_[] =
    "usage: trawl retry [options] BATCH\n"
    "       trawl retry [options] --job ID\n"
    "put a batch's failed jobs (or one failed or cancelled job) back in the queue\n" CLI_COMMON_USAGE;

int cmd_retry(int argc, char **argv)
{
    struct cli_common o = {0};
    bool job = false;
    int rc = cli_id_args(argc, argv, retry_usage_, &o, "job", &job);
    if (rc >= 0)
        return rc;
    char path[512], id[400];
    cli_enc(argv[optind], id, sizeof id);
    snprintf(path, sizeof path, job ? "/v1/jobs/%s/retry" : "/v1/batches/%s/retry-failed", id);
    json_t *ans;
    long status;
    json_t *body = json_object();
    int crc = cli_call(&o.conn, "POST", path, body, &ans, &status);
    json_decref(body);
    if (crc != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json)
        cli_print_json(ans);
    else if (job)
        printf("job %s is %s again\n", argv[optind],
               cli_str(json_object_get(ans, "job"), "status"));
    else
        printf("%lld failed jobs of batch %s queued again\n",
               (long long)json_integer_value(json_object_get(ans, "count")), argv[optind]);
    json_decref(ans);
    return 0;
}

static const char cancel_usage_[] = "usage: trawl cancel [options] ID\n"
                                    "cancel a pending, retrying or running job\n" CLI_COMMON_USAGE;

int cmd_cancel(int argc, char **argv)
{
    struct cli_common o = {0};
    int rc = cli_id_args(argc, argv, cancel_usage_, &o, NULL, NULL);
    if (rc >= 0)
        return rc;
    char path[512], id[400];
    cli_enc(argv[optind], id, sizeof id);
    snprintf(path, sizeof path, "/v1/jobs/%s/cancel", id);
    json_t *ans, *body = json_object();
    long status;
    int crc = cli_call(&o.conn, "POST", path, body, &ans, &status);
    json_decref(body);
    if (crc != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json)
        cli_print_json(ans);
    else
        printf("job %s cancelled\n", argv[optind]);
    json_decref(ans);
    return 0;
}

static const char job_usage_[] = "usage: trawl job [options] ID\n"
                                 "show a job of any type and its history\n" CLI_COMMON_USAGE;

int cmd_job(int argc, char **argv)
{
    struct cli_common o = {0};
    int rc = cli_id_args(argc, argv, job_usage_, &o, NULL, NULL);
    if (rc >= 0)
        return rc;
    char path[512], id[400];
    cli_enc(argv[optind], id, sizeof id);
    snprintf(path, sizeof path, "/v1/jobs/%s", id);
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
    json_t *j = json_object_get(ans, "job");
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (json_is_null(v))
            continue;
        char *s = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%-17s %.200s\n", key, s ? s : json_string_value(v));
        free(s);
    }
    printf("\nhistory:\n");
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(ans, "events"), i, ev)
    {
        printf("  %s  %-10s -> %-10s attempt %lld  %s\n", cli_str(ev, "at"), cli_str(ev, "from"),
               cli_str(ev, "to"), (long long)json_integer_value(json_object_get(ev, "attempt")),
               json_is_string(json_object_get(ev, "message")) ? cli_str(ev, "message") : "");
    }
    json_decref(ans);
    return 0;
}
