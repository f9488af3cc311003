/* trawl scrape: start a scraping session on trawl serve, show its progress live (pages, pages/s,
 * records), and write its records when it ends. Like the other client commands it talks to the
 * server only through the HTTP API; the session runs there and goes on if this command stops. */
#include "cli/cli.h"
#include "cli/client.h"

#include "base/clock.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS      500
#define LOG_EVERY_MS 10000 /* progress lines when stderr is not a terminal */
#define PATTERNS_MAX 32

static const char usage_[] =
    "usage: trawl scrape [options] URL\n"
    "crawl a site into product records: start a scraping session on trawl serve, show its\n"
    "progress, and write its records when it ends (exit 0 completed, 1 failed or cancelled)\n"
    "  --max-pages N     most pages (default 1000)\n"
    "  --max-depth N     most links followed from the start page (default 3)\n"
    "  --mode M          sitemap, crawl or both (default both)\n"
    "  --include REGEX   only paths that match (repeatable)\n"
    "  --exclude REGEX   skip paths that match (repeatable)\n"
    "  --concurrency N   pages fetched at once (default 4)\n"
    "  --delay MS        pause between requests to the site\n"
    "  --subdomains      follow links to the site's subdomains\n"
    "  --ignore-query    a URL's query does not make it another page\n"
    "  --ignore-robots   do not obey the site's robots.txt\n"
    "  --config FILE     the session's settings as a JSON object (the flags override it)\n"
    "  -o, --output FILE write the records to FILE (default standard output)\n"
    "  --format F        jsonl, csv or json (default: from FILE's extension, else jsonl)\n"
    "  --follow ID       follow a session already started, then write its records\n"
    "  --detach          print the session's id and return at once\n"
    "  --server URL      trawl serve's address (default $TRAWL_SERVER or http://127.0.0.1:8080)\n"
    "  --token TOKEN     API token (default $TRAWL_TOKEN)\n"
    "  --json            print the session as JSON when it ends (records then need -o)\n";

static atomic_bool interrupted_;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted_, true);
}

static const char *format_of(const char *out)
{
    const char *dot = out ? strrchr(out, '.') : NULL;
    if (dot && strcmp(dot, ".csv") == 0)
        return "csv";
    if (dot && strcmp(dot, ".json") == 0)
        return "json";
    return "jsonl";
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void show_progress(json_t *s, double rate, bool tty)
{
    double pct = json_number_value(json_object_get(s, "progress_percentage"));
    char b[40];
    cli_bar(b, sizeof b, pct, 24);
    fprintf(stderr, "%s%s %5.1f%%  %lld/%lld pages  %lld failed  %lld records  %.1f pages/s  %s%s",
            tty ? "\r\033[K" : "", b, pct,
            (long long)(num(s, "completed_pages") + num(s, "failed_pages")),
            (long long)num(s, "total_pages"), (long long)num(s, "failed_pages"),
            (long long)num(s, "materials_processed"), rate, cli_str(s, "status"), tty ? "" : "\n");
    fflush(stderr);
}

static bool ended(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "failed") ||
           !strcmp(status, "cancelled") || !strcmp(status, "unknown");
}

/* Write the session's records to out (or stdout): into a .part file renamed when complete, so
 * a failed export never leaves a file that looks whole. */
static int write_records(const struct cli_conn *c, const char *id, const char *out,
                         const char *format)
{
    char path[256];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s/records?format=%s", id, format);
    long status;
    if (!out || strcmp(out, "-") == 0)
        return cli_download(c, path, stdout, &status) == 0 && fflush(stdout) == 0 ? 0 : 1;
    size_t n = strlen(out) + 6;
    char *part = malloc(n);
    if (!part)
        return 1;
    snprintf(part, n, "%s.part", out);
    FILE *f = fopen(part, "w");
    if (!f) {
        fprintf(stderr, "trawl: cannot write %s: %s\n", part, strerror(errno));
        free(part);
        return 1;
    }
    int rc = cli_download(c, path, f, &status);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fprintf(stderr, "trawl: cannot write %s: %s\n", part, strerror(errno));
        rc = -1;
    }
    fclose(f);
    if (rc == 0 && rename(part, out) != 0) {
        fprintf(stderr, "trawl: cannot rename %s to %s: %s\n", part, out, strerror(errno));
        rc = -1;
    }
    if (rc != 0)
        unlink(part);
    free(part);
    return rc == 0 ? 0 : 1;
}

/* Follow session id until it ends, showing progress; *final gets its last state. */
static int follow(const struct cli_conn *c, const char *id, bool quiet, json_t **final)
{
    bool tty = isatty(STDERR_FILENO) && !quiet;
    char path[160];
    snprintf(path, sizeof path, "/v1/scraping-sessions/%s", id);
    int64_t last_t = clock_mono_ms(), last_log = 0;
    json_int_t last_done = -1;
    double rate = 0;
    *final = NULL;
    for (;;) {
        json_t *ans;
        long status;
        if (cli_call(c, "GET", path, NULL, &ans, &status) != 0) {
            json_decref(ans);
            return 1;
        }
        json_t *s = json_object_get(ans, "session");
        int64_t now = clock_mono_ms();
        json_int_t done = num(s, "completed_pages") + num(s, "failed_pages");
        if (last_done >= 0 && now > last_t) {
            /* smoothed over the last few polls */
            double inst = (double)(done - last_done) * 1000.0 / (double)(now - last_t);
            rate = rate == 0 ? inst : rate * 0.6 + inst * 0.4;
        }
        last_done = done;
        last_t = now;
        bool end = ended(cli_str(s, "status"));
        if (tty || (!quiet && (end || now - last_log >= LOG_EVERY_MS))) {
            show_progress(s, rate, tty);
            last_log = now;
        }
        if (end) {
            if (tty)
                fputc('\n', stderr);
            *final = json_incref(s);
            json_decref(ans);
            return 0;
        }
        json_decref(ans);
        if (atomic_load(&interrupted_)) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr,
                    "trawl: session %s goes on on the server; follow it with `trawl scrape "
                    "--follow %s`, or cancel it with POST /v1/scraping-sessions/%s/cancel\n",
                    id, id, id);
            return 130;
        }
        clock_sleep_ms(POLL_MS);
    }
}

static json_t *read_config(const char *file)
{
    json_error_t je;
    json_t *cfg = json_load_file(file, 0, &je);
    if (!cfg) {
        fprintf(stderr, "trawl: --config %s: %s (line %d)\n", file, je.text, je.line);
        return NULL;
    }
    if (!json_is_object(cfg)) {
        fprintf(stderr, "trawl: --config %s: the settings must be a JSON object\n", file);
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

enum {
    O_MAX_PAGES = 256,
    O_MAX_DEPTH,
    O_MODE,
    O_INCLUDE,
    O_EXCLUDE,
    O_CONCURRENCY,
    O_DELAY,
    O_SUBDOMAINS,
    O_IGNORE_QUERY,
    O_IGNORE_ROBOTS,
    O_CONFIG,
    O_FORMAT,
    O_FOLLOW,
    O_DETACH,
};

int cmd_scrape(int argc, char **argv)
{
    static const struct option longs[] = {{"max-pages", required_argument, 0, O_MAX_PAGES},
                                          {"max-depth", required_argument, 0, O_MAX_DEPTH},
                                          {"mode", required_argument, 0, O_MODE},
                                          {"include", required_argument, 0, O_INCLUDE},
                                          {"exclude", required_argument, 0, O_EXCLUDE},
                                          {"concurrency", required_argument, 0, O_CONCURRENCY},
                                          {"delay", required_argument, 0, O_DELAY},
                                          {"subdomains", no_argument, 0, O_SUBDOMAINS},
                                          {"ignore-query", no_argument, 0, O_IGNORE_QUERY},
                                          {"ignore-robots", no_argument, 0, O_IGNORE_ROBOTS},
                                          {"config", required_argument, 0, O_CONFIG},
                                          {"output", required_argument, 0, 'o'},
                                          {"format", required_argument, 0, O_FORMAT},
                                          {"follow", required_argument, 0, O_FOLLOW},
                                          {"detach", no_argument, 0, O_DETACH},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    json_t *set = json_object(); /* what the flags say */
    json_t *inc = json_array(), *exc = json_array();
    const char *config = NULL, *out = NULL, *format = NULL, *follow_id = NULL;
    bool detach = false;
    int rc = 2, c;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, usage_);
        if (k) {
            if (k < 0) {
                rc = 0;
                goto out;
            }
            continue;
        }
        switch (c) {
        case O_MAX_PAGES:
            if (!cli_int("--max-pages", optarg, 1, 1000000, &v))
                goto out;
            json_object_set_new(set, "max_pages", json_integer(v));
            break;
        case O_MAX_DEPTH:
            if (!cli_int("--max-depth", optarg, 0, 10000, &v))
                goto out;
            json_object_set_new(set, "max_depth", json_integer(v));
            break;
        case O_CONCURRENCY:
            if (!cli_int("--concurrency", optarg, 1, 32, &v))
                goto out;
            json_object_set_new(set, "concurrency", json_integer(v));
            break;
        case O_DELAY:
            if (!cli_int("--delay", optarg, 0, 60000, &v))
                goto out;
            json_object_set_new(set, "delay_ms", json_integer(v));
            break;
        case O_MODE:
            if (strcmp(optarg, "sitemap") && strcmp(optarg, "crawl") && strcmp(optarg, "both")) {
                fprintf(stderr, "trawl: --mode must be sitemap, crawl or both, not '%s'\n", optarg);
                goto out;
            }
            json_object_set_new(set, "mode", json_string(optarg));
            break;
        case O_INCLUDE:
        case O_EXCLUDE:
            if (json_array_size(c == O_INCLUDE ? inc : exc) >= PATTERNS_MAX) {
                fprintf(stderr, "trawl: at most %d --include and %d --exclude patterns\n",
                        PATTERNS_MAX, PATTERNS_MAX);
                goto out;
            }
            json_array_append_new(c == O_INCLUDE ? inc : exc, json_string(optarg));
            break;
        case O_SUBDOMAINS:
            json_object_set_new(set, "allow_subdomains", json_true());
            break;
        case O_IGNORE_QUERY:
            json_object_set_new(set, "ignore_query_parameters", json_true());
            break;
        case O_IGNORE_ROBOTS:
            json_object_set_new(set, "respect_robots", json_false());
            break;
        case O_CONFIG:
            config = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case O_FORMAT:
            if (strcmp(optarg, "jsonl") && strcmp(optarg, "csv") && strcmp(optarg, "json")) {
                fprintf(stderr, "trawl: --format must be jsonl, csv or json, not '%s'\n", optarg);
                goto out;
            }
            format = optarg;
            break;
        case O_FOLLOW:
            follow_id = optarg;
            break;
        case O_DETACH:
            detach = true;
            break;
        default:
            fputs(usage_, stderr);
            goto out;
        }
    }
    if (follow_id ? optind != argc : optind != argc - 1) {
        fprintf(stderr, follow_id ? "trawl scrape: --follow takes no URL\n"
                                  : "trawl scrape: give the site's start URL\n");
        fputs(usage_, stderr);
        goto out;
    }
    if (!format)
        format = format_of(out);
    rc = 1;
    char id[64];
    if (follow_id) {
        if (strlen(follow_id) >= sizeof id ||
            strspn(follow_id, "0123456789abcdef-") != strlen(follow_id)) {
            fprintf(stderr, "trawl: --follow: '%s' is not a session id\n", follow_id);
            rc = 2;
            goto out;
        }
        snprintf(id, sizeof id, "%s", follow_id);
    } else {
        json_t *body = config ? read_config(config) : json_object();
        if (!body) {
            rc = 2;
            goto out;
        }
        json_object_update(body, set);
        json_object_set_new(body, "source_url", json_string(argv[optind]));
        if (json_array_size(inc))
            json_object_set(body, "include_paths", inc);
        if (json_array_size(exc))
            json_object_set(body, "exclude_paths", exc);
        json_t *ans;
        long status;
        int crc = cli_call(&o.conn, "POST", "/v1/scraping-sessions", body, &ans, &status);
        json_decref(body);
        if (crc != 0) {
            json_decref(ans);
            rc = status == 400 ? 2 : 1;
            goto out;
        }
        snprintf(id, sizeof id, "%s", cli_str(json_object_get(ans, "session"), "id"));
        json_decref(ans);
        if (detach) {
            printf("%s\n", id);
            rc = 0;
            goto out;
        }
        fprintf(stderr, "session %s: scraping %s\n", id, argv[optind]);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    json_t *final;
    int64_t t0 = clock_mono_ms();
    int frc = follow(&o.conn, id, o.json, &final);
    double secs = (double)(clock_mono_ms() - t0) / 1000;
    if (frc != 0) {
        rc = frc;
        goto out;
    }
    const char *st = cli_str(final, "status");
    if (o.json)
        cli_print_json(final);
    else
        fprintf(stderr,
                "session %s %s: %lld pages done, %lld failed, %lld skipped; %lld records%s%s "
                "(%.1f s)\n",
                id, st, (long long)num(final, "completed_pages"),
                (long long)num(final, "failed_pages"), (long long)num(final, "skipped_pages"),
                (long long)num(final, "materials_processed"), out ? " in " : "", out ? out : "",
                secs);
    const char *msg = json_string_value(json_object_get(final, "error_message"));
    if (msg && strcmp(st, "completed") != 0)
        fprintf(stderr, "trawl: %s\n", msg);
    /* the records found are written whatever the end: a failed session may have some */
    int wrc = o.json && !out ? 0 : write_records(&o.conn, id, out, format);
    rc = wrc ? 1 : strcmp(st, "completed") == 0 ? 0 : 1;
    json_decref(final);
out:
    json_decref(set);
    json_decref(inc);
    json_decref(exc);
    return rc;
}

/* ---- trawl sessions, trawl session ---- */

static const char sessions_usage_[] = "usage: trawl sessions [options]\n"
                                      "list scraping sessions, newest first\n"
                                      "  --limit N        at most N (default 20)\n"
                                      "  --offset N       skip the first N\n"
                                      "  --server URL, --token TOKEN, --json as for trawl scrape\n";

int cmd_sessions(int argc, char **argv)
{
    struct cli_common o = {0};
    int64_t limit, offset;
    json_t *ans;
    int rc =
        cli_list(argc, argv, sessions_usage_, "/v1/scraping-sessions", &o, &limit, &offset, &ans);
    if (rc >= 0)
        return rc;
    printf("%-36s  %-9s  %6s  %6s  %6s  %7s  %s\n", "SESSION", "STATUS", "PCT", "PAGES", "FAILED",
           "RECORDS", "SOURCE");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(ans, "sessions"), i, s)
    {
        printf("%-36s  %-9s  %5.1f%%  %6lld  %6lld  %7lld  %s\n", cli_str(s, "id"),
               cli_str(s, "status"), json_number_value(json_object_get(s, "progress_percentage")),
               (long long)num(s, "total_pages"), (long long)num(s, "failed_pages"),
               (long long)num(s, "materials_processed"), cli_str(s, "source_url"));
    }
    cli_list_more(ans, "sessions", limit, offset);
    json_decref(ans);
    return 0;
}

static const char session_usage_[] =
    "usage: trawl session [options] ID\n"
    "show a scraping session, or act on it\n"
    "  --cancel         stop it (the pages and records found so far are kept)\n"
    "  --retry-failed   fetch its failed pages again (once it has ended)\n"
    "  --extract FILE   extract its records again from the kept pages with the extraction\n"
    "                   settings in FILE ({\"structured\": ..., \"rules\": {...}}; - for\n"
    "                   stdin): no page is fetched\n"
    "  --pages          list its pages (--status pending|fetching|done|failed|skipped,\n"
    "                   --limit N, --offset N)\n"
    "  --server URL, --token TOKEN, --json as for trawl scrape\n";

int cmd_session(int argc, char **argv)
{
    enum { S_CANCEL = 300, S_RETRY, S_PAGES, S_STATUS, S_LIMIT, S_OFFSET, S_EXTRACT };
    static const struct option longs[] = {{"cancel", no_argument, 0, S_CANCEL},
                                          {"retry-failed", no_argument, 0, S_RETRY},
                                          {"extract", required_argument, 0, S_EXTRACT},
                                          {"pages", no_argument, 0, S_PAGES},
                                          {"status", required_argument, 0, S_STATUS},
                                          {"limit", required_argument, 0, S_LIMIT},
                                          {"offset", required_argument, 0, S_OFFSET},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    int action = 0;
    const char *pstatus = NULL, *extract = NULL;
    int64_t limit = 100, offset = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, session_usage_);
        if (k < 0)
            return 0;
        if (k)
            continue;
        switch (c) {
        case S_CANCEL:
        case S_RETRY:
        case S_PAGES:
        case S_EXTRACT:
            if (action && action != c) {
                fprintf(stderr,
                        "trawl session: one of --cancel, --retry-failed, --extract, --pages\n");
                return 2;
            }
            action = c;
            if (c == S_EXTRACT)
                extract = optarg;
            break;
        case S_STATUS:
            pstatus = optarg;
            break;
        case S_LIMIT:
            if (!cli_int("--limit", optarg, 1, 1000, &limit))
                return 2;
            break;
        case S_OFFSET:
            if (!cli_int("--offset", optarg, 0, INT32_MAX, &offset))
                return 2;
            break;
        default:
            fputs(session_usage_, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fputs(session_usage_, stderr);
        return 2;
    }
    const char *id = argv[optind];
    if (strlen(id) > 40 || strspn(id, "0123456789abcdef-") != strlen(id)) {
        fprintf(stderr, "trawl session: '%s' is not a session id\n", id);
        return 2;
    }
    if (pstatus && strspn(pstatus, "abcdefghijklmnopqrstuvwxyz") != strlen(pstatus)) {
        fprintf(stderr, "trawl session: --status: '%s' is not a page status\n", pstatus);
        return 2;
    }
    char path[256];
    const char *method = "GET";
    if (action == S_CANCEL || action == S_RETRY) {
        method = "POST";
        snprintf(path, sizeof path, "/v1/scraping-sessions/%s/%s", id,
                 action == S_CANCEL ? "cancel" : "retry-failed");
    } else if (action == S_PAGES) {
        snprintf(path, sizeof path, "/v1/scraping-sessions/%s/pages?limit=%lld&offset=%lld%s%s", id,
                 (long long)limit, (long long)offset, pstatus ? "&status=" : "",
                 pstatus ? pstatus : "");
    } else {
        snprintf(path, sizeof path, "/v1/scraping-sessions/%s", id);
    }
    json_t *body = strcmp(method, "POST") == 0 ? json_object() : NULL;
    if (action == S_EXTRACT) {
        json_error_t je;
        json_t *ex =
            strcmp(extract, "-") == 0 ? json_loadf(stdin, 0, &je) : json_load_file(extract, 0, &je);
        if (!ex) {
            fprintf(stderr, "trawl session: %s: not JSON: %s (line %d, column %d)\n", extract,
                    je.text, je.line, je.column);
            return 2;
        }
        method = "POST";
        snprintf(path, sizeof path, "/v1/scraping-sessions/%s/extract", id);
        body = json_pack("{s:o}", "extract", ex); /* o steals ex */
    }
    json_t *ans;
    long status;
    int crc = cli_call(&o.conn, method, path, body, &ans, &status);
    json_decref(body);
    if (crc != 0) {
        json_decref(ans);
        return 1;
    }
    if (o.json) {
        cli_print_json(ans);
    } else if (action == S_PAGES) {
        printf("%-8s  %-8s  %4s  %5s  %7s  %s\n", "PAGE", "STATUS", "HTTP", "DEPTH", "RECORDS",
               "URL / ERROR");
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(ans, "pages"), i, p)
        {
            json_t *hs = json_object_get(p, "http_status");
            const char *err = json_string_value(json_object_get(p, "error"));
            char http[16] = "-";
            if (json_is_integer(hs))
                snprintf(http, sizeof http, "%lld", (long long)json_integer_value(hs));
            printf("%-8lld  %-8s  %4s  %5lld  %7lld  %s%s%s\n", (long long)num(p, "id"),
                   cli_str(p, "status"), http, (long long)num(p, "depth"),
                   (long long)num(p, "records"), cli_str(p, "url"), err ? "\n          " : "",
                   err ? err : "");
        }
        if (json_is_integer(json_object_get(ans, "nextOffset")))
            fprintf(stderr, "more: --offset %lld\n", (long long)num(ans, "nextOffset"));
    } else {
        json_t *s = json_object_get(ans, "session");
        printf("session   %s\nstatus    %s (%s)\nsource    %s\nprogress  %.1f%%: %lld of %lld "
               "pages done, %lld failed, %lld skipped\nrecords   %lld\nwarnings  %lld\njob       "
               "%s\ncreated   %s\n",
               cli_str(s, "id"), cli_str(s, "status"), cli_str(s, "stage"),
               cli_str(s, "source_url"),
               json_number_value(json_object_get(s, "progress_percentage")),
               (long long)num(s, "completed_pages"), (long long)num(s, "total_pages"),
               (long long)num(s, "failed_pages"), (long long)num(s, "skipped_pages"),
               (long long)num(s, "materials_processed"), (long long)num(s, "warnings"),
               cli_str(s, "background_job_id"), cli_str(s, "created_at"));
        if (json_is_string(json_object_get(s, "error_message")))
            printf("error     %s\n", cli_str(s, "error_message"));
        if (action == S_RETRY)
            printf("requeued  %lld failed pages\n", (long long)num(ans, "requeued"));
    }
    json_decref(ans);
    return 0;
}
