/* trawl import: send a product feed (a file, uploaded as it is read, or a URL the server
 * fetches) to trawl serve as an import, show its progress live (rows, rows/s, failed rows,
 * products delivered) and a summary; trawl imports lists them; trawl import-status shows one and
 * acts on it. Like the other client commands they talk to the server only through the HTTP API;
 * the import runs there and goes on if this command stops. */
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
#include <sys/stat.h>
#include <unistd.h>

#define POLL_MS        500
#define LOG_EVERY_MS   10000 /* progress lines when stderr is not a terminal */
#define UPLOAD_TIMEOUT (24 * 3600 * 1000L)

static const char usage_[] =
    "usage: trawl import [options] FILE|URL\n"
    "import a product feed (XML, CSV or JSON): upload FILE (or have the server fetch URL),\n"
    "detect its fields, map its rows onto product records and deliver them to a webhook;\n"
    "shows progress and a summary (exit 0 completed, 1 failed or cancelled)\n"
    "  --source NAME      the feed's name (default: the file's or URL's)\n"
    "  --type T           xml, csv or json (default: detected)\n"
    "  --map FIELD=COLUMN the product field FIELD from the feed's COLUMN (repeatable; a field\n"
    "                     given twice takes the first column that has a value; images all)\n"
    "  --webhook URL      deliver the products to URL in signed batches\n"
    "  --secret SECRET    the webhook's signing secret (Standard Webhooks; whsec_... or text)\n"
    "  --batch-size N     products per delivery (default 500)\n"
    "  --preview          detect the fields and wait: start it with\n"
    "                     `trawl import-status ID --start [--map ...]`\n"
    "  --detach           print the import's id and return at once\n"
    "  --follow ID        follow an import already started\n" CLI_COMMON_USAGE;

static atomic_bool interrupted_;

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&interrupted_, true);
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static bool ended(const char *status)
{
    return !strcmp(status, "completed") || !strcmp(status, "failed") ||
           !strcmp(status, "cancelled") || !strcmp(status, "awaiting_mappings");
}

/* Add FIELD=COLUMN to the mappings: a field given again becomes a list of columns. */
static bool add_map(json_t *maps, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) {
        fprintf(stderr, "trawl: --map takes FIELD=COLUMN (e.g. --map name=title), not '%s'\n", arg);
        return false;
    }
    char field[64];
    if ((size_t)(eq - arg) >= sizeof field) {
        fprintf(stderr, "trawl: --map: '%.*s' is not a product field\n", (int)(eq - arg), arg);
        return false;
    }
    snprintf(field, sizeof field, "%.*s", (int)(eq - arg), arg);
    json_t *have = json_object_get(maps, field);
    if (!have) {
        json_object_set_new(maps, field, json_string(eq + 1));
    } else if (json_is_string(have)) {
        json_object_set_new(maps, field, json_pack("[O, s]", have, eq + 1));
    } else {
        json_array_append_new(have, json_string(eq + 1));
    }
    return true;
}

/* ---- progress ---- */

struct sent {
    bool tty;
    int64_t t0, last;
};

static int show_upload(void *arg, int64_t sent, int64_t total)
{
    struct sent *s = arg;
    int64_t now = clock_mono_ms();
    if (s->tty && total > 0 && now - s->last >= 200) {
        s->last = now;
        char b[40];
        double pct = 100.0 * (double)sent / (double)total;
        cli_bar(b, sizeof b, pct, 24);
        double secs = (double)(now - s->t0) / 1000;
        fprintf(stderr, "\r\033[K%s %5.1f%%  uploading %.1f of %.1f MB  %.1f MB/s", b, pct,
                (double)sent / 1e6, (double)total / 1e6, secs > 0 ? (double)sent / 1e6 / secs : 0);
        fflush(stderr);
    }
    return atomic_load(&interrupted_) ? 1 : 0;
}

static void show_progress(json_t *im, double rate, bool tty)
{
    json_t *job = json_object_get(im, "job");
    double pct = (double)num(job, "progress");
    char b[40];
    cli_bar(b, sizeof b, pct, 24);
    fprintf(stderr, "%s%s %3.0f%%  %-10s %lld rows  %lld failed  %lld delivered  %.0f rows/s%s",
            tty ? "\r\033[K" : "", b, pct, cli_str(im, "status"),
            (long long)(num(im, "processed_products") + num(im, "failed_products")),
            (long long)num(im, "failed_products"), (long long)num(im, "delivered_products"), rate,
            tty ? "" : "\n");
    fflush(stderr);
}

/* Follow import id until it ends (or waits for its mappings); *final gets its last state. */
static int follow(const struct cli_conn *c, const char *id, bool quiet, json_t **final)
{
    bool tty = isatty(STDERR_FILENO) && !quiet;
    char path[160];
    snprintf(path, sizeof path, "/v1/imports/%s", id);
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
        json_t *im = json_object_get(ans, "import");
        int64_t now = clock_mono_ms();
        json_int_t done = num(im, "processed_products") + num(im, "failed_products");
        if (!strcmp(cli_str(im, "status"), "delivering"))
            done = num(im, "delivered_products");
        if (last_done >= 0 && now > last_t && done >= last_done) {
            double inst = (double)(done - last_done) * 1000.0 / (double)(now - last_t);
            rate = rate == 0 ? inst : rate * 0.6 + inst * 0.4;
        }
        last_done = done;
        last_t = now;
        bool end = ended(cli_str(im, "status"));
        if (tty || (!quiet && (end || now - last_log >= LOG_EVERY_MS))) {
            show_progress(im, rate, tty);
            last_log = now;
        }
        if (end) {
            if (tty)
                fputc('\n', stderr);
            *final = json_incref(im);
            json_decref(ans);
            return 0;
        }
        json_decref(ans);
        if (atomic_load(&interrupted_)) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr,
                    "trawl: import %s goes on on the server; follow it with `trawl import "
                    "--follow %s`, or stop it with `trawl import-status %s --cancel`\n",
                    id, id, id);
            return 130;
        }
        clock_sleep_ms(POLL_MS);
    }
}

/* The detected fields and the suggested mappings of a preview. */
static void print_fields(json_t *ans)
{
    json_t *det = json_object_get(ans, "detected");
    if (!json_is_object(det)) {
        printf("no fields detected yet (status %s)\n", cli_str(ans, "status"));
        return;
    }
    printf("format %s, encoding %s, %lld rows sampled\n", cli_str(det, "format"),
           cli_str(det, "encoding"), (long long)num(det, "sampled"));
    printf("%-28s  %-10s  %5s  %s\n", "FIELD", "TYPE", "FILL", "EXAMPLE");
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(det, "fields"), i, f)
    {
        const char *ex = json_string_value(json_array_get(json_object_get(f, "examples"), 0));
        printf("%-28s  %-10s  %4.0f%%  %.60s\n", cli_str(f, "name"), cli_str(f, "type"),
               100 * json_number_value(json_object_get(f, "fill_rate")), ex ? ex : "");
    }
    printf("\n%-14s  %-28s  %5s  %s\n", "PRODUCT FIELD", "FROM", "CONF", "WHY");
    json_array_foreach(json_object_get(det, "suggested"), i, f)
    {
        char from[256] = "";
        size_t j;
        json_t *src;
        json_array_foreach(json_object_get(f, "sources"), j, src)
        {
            size_t l = strlen(from);
            snprintf(from + l, sizeof from - l, "%s%s", j ? ", " : "", json_string_value(src));
        }
        printf("%-14s  %-28s  %5.2f  %s\n", cli_str(f, "target"), from,
               json_number_value(json_object_get(f, "confidence")), cli_str(f, "reason"));
    }
    json_t *m = json_object_get(ans, "field_mappings");
    if (json_is_object(m)) {
        char *text = json_dumps(m, JSON_COMPACT);
        printf("\nmappings given: %s\n", text ? text : "?");
        free(text);
    }
}

static void print_summary(json_t *im, double secs)
{
    fprintf(stderr, "import %s %s: %lld products, %lld failed rows, %lld delivered (%s, %.1f s)\n",
            cli_str(im, "id"), cli_str(im, "status"), (long long)num(im, "processed_products"),
            (long long)num(im, "failed_products"), (long long)num(im, "delivered_products"),
            cli_str(im, "import_type"), secs);
    const char *msg = json_string_value(json_object_get(im, "error_message"));
    if (msg && strcmp(cli_str(im, "status"), "completed") != 0)
        fprintf(stderr, "trawl: %s\n", msg);
    if (num(im, "failed_products") > 0)
        fprintf(stderr, "  the failed rows: trawl import-status %s --items\n", cli_str(im, "id"));
}

/* ---- trawl import ---- */

enum { I_SOURCE = 400, I_TYPE, I_MAP, I_WEBHOOK, I_SECRET, I_BATCH, I_PREVIEW, I_DETACH, I_FOLLOW };

static bool is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int cmd_import(int argc, char **argv)
{
    static const struct option longs[] = {{"source", required_argument, 0, I_SOURCE},
                                          {"type", required_argument, 0, I_TYPE},
                                          {"map", required_argument, 0, I_MAP},
                                          {"webhook", required_argument, 0, I_WEBHOOK},
                                          {"secret", required_argument, 0, I_SECRET},
                                          {"batch-size", required_argument, 0, I_BATCH},
                                          {"preview", no_argument, 0, I_PREVIEW},
                                          {"detach", no_argument, 0, I_DETACH},
                                          {"follow", required_argument, 0, I_FOLLOW},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    json_t *opts = json_object(), *maps = json_object(), *wh = json_object();
    const char *follow_id = NULL;
    bool detach = false;
    int rc = 2, c;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, usage_);
        if (k) {
            if (k < 0) {
                rc = 0;
                goto out;
            }
            continue;
        }
        switch (c) {
        case I_SOURCE:
            json_object_set_new(opts, "source_name", json_string(optarg));
            break;
        case I_TYPE:
            if (strcmp(optarg, "xml") && strcmp(optarg, "csv") && strcmp(optarg, "json")) {
                fprintf(stderr, "trawl: --type must be xml, csv or json, not '%s'\n", optarg);
                goto out;
            }
            json_object_set_new(opts, "import_type", json_string(optarg));
            break;
        case I_MAP:
            if (!add_map(maps, optarg))
                goto out;
            break;
        case I_WEBHOOK:
            json_object_set_new(wh, "url", json_string(optarg));
            break;
        case I_SECRET:
            json_object_set_new(wh, "secret", json_string(optarg));
            break;
        case I_BATCH:
            if (!cli_int("--batch-size", optarg, 1, 10000, &v))
                goto out;
            json_object_set_new(wh, "batch_size", json_integer(v));
            break;
        case I_PREVIEW:
            json_object_set_new(opts, "mode", json_string("preview"));
            break;
        case I_DETACH:
            detach = true;
            break;
        case I_FOLLOW:
            follow_id = optarg;
            break;
        default:
            fputs(usage_, stderr);
            goto out;
        }
    }
    if (follow_id ? optind != argc : optind != argc - 1) {
        fprintf(stderr, follow_id ? "trawl import: --follow takes no FILE or URL\n"
                                  : "trawl import: give the feed: a FILE or a URL\n");
        fputs(usage_, stderr);
        goto out;
    }
    if (json_object_size(wh) && !json_object_get(wh, "url")) {
        fprintf(stderr, "trawl import: --secret and --batch-size go with --webhook URL\n");
        goto out;
    }
    char id[64];
    if (follow_id) {
        if (strlen(follow_id) >= sizeof id ||
            strspn(follow_id, "0123456789abcdef-") != strlen(follow_id)) {
            fprintf(stderr, "trawl: --follow: '%s' is not an import id\n", follow_id);
            goto out;
        }
        snprintf(id, sizeof id, "%s", follow_id);
    } else {
        const char *feed = argv[optind];
        if (json_object_size(maps))
            json_object_set(opts, "field_mappings", maps);
        json_t *ans = NULL;
        long status;
        int crc;
        if (is_url(feed)) {
            json_object_set_new(opts, "url", json_string(feed));
            if (json_object_size(wh))
                json_object_set(opts, "webhook", wh);
            crc = cli_call(&o.conn, "POST", "/v1/imports", opts, &ans, &status);
        } else {
            struct stat st;
            if (stat(feed, &st) != 0 || !S_ISREG(st.st_mode)) {
                fprintf(stderr, "trawl import: %s: %s\n", feed,
                        errno ? strerror(errno) : "not a file");
                goto out;
            }
            /* the form's fields: the names POST /v1/imports takes for an upload */
            const char *k;
            json_t *x;
            json_object_foreach(wh, k, x)
            {
                char name[32];
                snprintf(name, sizeof name, "%s%s", strcmp(k, "batch_size") ? "webhook_" : "", k);
                json_object_set(opts, name, x);
            }
            if (!json_object_get(opts, "source_name")) {
                const char *base = strrchr(feed, '/');
                json_object_set_new(opts, "source_name", json_string(base ? base + 1 : feed));
            }
            struct cli_conn up = o.conn;
            up.timeout_ms = UPLOAD_TIMEOUT;
            struct sent s = {.tty = isatty(STDERR_FILENO) && !o.json, .t0 = clock_mono_ms()};
            crc = cli_upload(&up, "/v1/imports", feed, opts, show_upload, &s, &ans, &status);
            if (s.tty)
                fputs("\r\033[K", stderr);
        }
        if (crc != 0) {
            json_decref(ans);
            rc = status == 400 || status == 413 || status == 415 ? 2 : 1;
            goto out;
        }
        snprintf(id, sizeof id, "%s", cli_str(json_object_get(ans, "import"), "id"));
        json_decref(ans);
        if (detach) {
            printf("%s\n", id);
            rc = 0;
            goto out;
        }
        if (!o.json)
            fprintf(stderr, "import %s: %s\n", id, feed);
    }
    rc = 1;
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
    if (o.json) {
        cli_print_json(final);
    } else if (!strcmp(st, "awaiting_mappings")) {
        char path[160];
        snprintf(path, sizeof path, "/v1/imports/%s/fields", id);
        json_t *ans;
        long status;
        if (cli_call(&o.conn, "GET", path, NULL, &ans, &status) == 0)
            print_fields(ans);
        json_decref(ans);
        fprintf(stderr,
                "\nimport %s waits for its mappings: start it with `trawl import-status %s "
                "--start` (the suggested ones) or with --map FIELD=COLUMN ...\n",
                id, id);
    } else {
        print_summary(final, secs);
    }
    rc = !strcmp(st, "completed") || !strcmp(st, "awaiting_mappings") ? 0 : 1;
    json_decref(final);
out:
    json_decref(opts);
    json_decref(maps);
    json_decref(wh);
    return rc;
}

/* ---- trawl imports ---- */

static const char imports_usage_[] = "usage: trawl imports [options]\n"
                                     "list feed imports, newest first\n"
                                     "  --limit N        at most N (default 20)\n"
                                     "  --offset N       skip the first N\n" CLI_COMMON_USAGE;

int cmd_imports(int argc, char **argv)
{
    struct cli_common o = {0};
    int64_t limit, offset;
    json_t *ans;
    int rc = cli_list(argc, argv, imports_usage_, "/v1/imports", &o, &limit, &offset, &ans);
    if (rc >= 0)
        return rc;
    printf("%-36s  %-17s  %-4s  %8s  %7s  %9s  %s\n", "IMPORT", "STATUS", "TYPE", "PRODUCTS",
           "FAILED", "DELIVERED", "SOURCE");
    size_t i;
    json_t *im;
    json_array_foreach(json_object_get(ans, "imports"), i, im)
    {
        printf("%-36s  %-17s  %-4s  %8lld  %7lld  %9lld  %s\n", cli_str(im, "id"),
               cli_str(im, "status"), cli_str(im, "import_type"),
               (long long)num(im, "processed_products"), (long long)num(im, "failed_products"),
               (long long)num(im, "delivered_products"), cli_str(im, "source_name"));
    }
    cli_list_more(ans, "imports", limit, offset);
    json_decref(ans);
    return 0;
}

/* ---- trawl import-status ---- */

static const char status_usage_[] =
    "usage: trawl import-status [options] ID\n"
    "show a feed import, or act on it\n"
    "  --fields          its detected fields and the suggested mappings\n"
    "  --items           its failed rows (--limit N)\n"
    "  --calls           its webhook calls (--status pending|success|retrying|failed)\n"
    "  --start           start a preview: with --map FIELD=COLUMN ..., or the suggested ones\n"
    "  --retry-failed    run a completed or failed import again: its failed rows are read\n"
    "                    again and what was not delivered is delivered\n"
    "  --redeliver CALL  send webhook call CALL (an id from --calls) again\n"
    "  --cancel          stop it\n" CLI_COMMON_USAGE;

int cmd_import_status(int argc, char **argv)
{
    enum {
        A_FIELDS = 500,
        A_ITEMS,
        A_CALLS,
        A_START,
        A_RETRY,
        A_REDELIVER,
        A_CANCEL,
        A_MAP,
        A_STATUS,
        A_LIMIT
    };
    static const struct option longs[] = {{"fields", no_argument, 0, A_FIELDS},
                                          {"items", no_argument, 0, A_ITEMS},
                                          {"calls", no_argument, 0, A_CALLS},
                                          {"start", no_argument, 0, A_START},
                                          {"retry-failed", no_argument, 0, A_RETRY},
                                          {"redeliver", required_argument, 0, A_REDELIVER},
                                          {"cancel", no_argument, 0, A_CANCEL},
                                          {"map", required_argument, 0, A_MAP},
                                          {"status", required_argument, 0, A_STATUS},
                                          {"limit", required_argument, 0, A_LIMIT},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    struct cli_common o = {0};
    int action = 0, rc = 2, c;
    const char *cstatus = NULL, *call = NULL;
    int64_t limit = 100;
    json_t *maps = json_object();
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, &o, status_usage_);
        if (k < 0) {
            rc = 0;
            goto out;
        }
        if (k)
            continue;
        switch (c) {
        case A_FIELDS:
        case A_ITEMS:
        case A_CALLS:
        case A_START:
        case A_RETRY:
        case A_REDELIVER:
        case A_CANCEL:
            if (action && action != c) {
                fprintf(stderr, "trawl import-status: one of --fields, --items, --calls, "
                                "--start, --retry-failed, --redeliver, --cancel\n");
                goto out;
            }
            action = c;
            if (c == A_REDELIVER)
                call = optarg;
            break;
        case A_MAP:
            if (!add_map(maps, optarg))
                goto out;
            break;
        case A_STATUS:
            cstatus = optarg;
            break;
        case A_LIMIT:
            if (!cli_int("--limit", optarg, 1, 1000, &limit))
                goto out;
            break;
        default:
            fputs(status_usage_, stderr);
            goto out;
        }
    }
    if (optind != argc - 1) {
        fputs(status_usage_, stderr);
        goto out;
    }
    const char *id = argv[optind];
    if (strlen(id) > 40 || strspn(id, "0123456789abcdef-") != strlen(id)) {
        fprintf(stderr, "trawl import-status: '%s' is not an import id\n", id);
        goto out;
    }
    if (json_object_size(maps) && action != A_START) {
        fprintf(stderr, "trawl import-status: --map goes with --start\n");
        goto out;
    }
    if (cstatus && strspn(cstatus, "abcdefghijklmnopqrstuvwxyz") != strlen(cstatus)) {
        fprintf(stderr, "trawl import-status: --status: '%s' is not a call status\n", cstatus);
        goto out;
    }
    if (call && (!*call || strspn(call, "0123456789") != strlen(call) || strlen(call) > 19)) {
        fprintf(stderr, "trawl import-status: --redeliver: '%s' is not a call id\n", call);
        goto out;
    }
    char path[256];
    const char *method = "POST";
    json_t *body = json_object();
    switch (action) {
    case A_FIELDS:
        method = "GET";
        snprintf(path, sizeof path, "/v1/imports/%s/fields", id);
        break;
    case A_ITEMS:
        method = "GET";
        snprintf(path, sizeof path, "/v1/imports/%s/items?limit=%lld", id, (long long)limit);
        break;
    case A_CALLS:
        method = "GET";
        snprintf(path, sizeof path, "/v1/imports/%s/webhook-calls?limit=%lld%s%s", id,
                 (long long)limit, cstatus ? "&status=" : "", cstatus ? cstatus : "");
        break;
    case A_START:
        snprintf(path, sizeof path, "/v1/imports/%s/start", id);
        if (json_object_size(maps))
            json_object_set(body, "field_mappings", maps);
        break;
    case A_RETRY:
    case A_CANCEL:
        snprintf(path, sizeof path, "/v1/imports/%s/%s", id,
                 action == A_RETRY ? "retry-failed" : "cancel");
        break;
    case A_REDELIVER:
        snprintf(path, sizeof path, "/v1/webhook-calls/%s/redeliver", call);
        break;
    default:
        method = "GET";
        snprintf(path, sizeof path, "/v1/imports/%s", id);
    }
    if (!strcmp(method, "GET")) {
        json_decref(body);
        body = NULL;
    }
    json_t *ans;
    long status;
    rc = cli_call(&o.conn, method, path, body, &ans, &status) == 0 ? 0 : 1;
    json_decref(body);
    if (rc) {
        json_decref(ans);
        goto out;
    }
    size_t i;
    json_t *x;
    if (o.json) {
        cli_print_json(ans);
    } else if (action == A_FIELDS) {
        print_fields(ans);
    } else if (action == A_ITEMS) {
        printf("%-8s  %-6s  %s\n", "ROW", "LINE", "ERROR / RAW");
        json_array_foreach(json_object_get(ans, "items"), i, x)
        {
            json_t *line = json_object_get(x, "line");
            printf("%-8lld  %-6lld  %s\n          %.100s\n", (long long)num(x, "number"),
                   json_is_integer(line) ? (long long)json_integer_value(line) : 0LL,
                   cli_str(x, "error"), cli_str(x, "raw"));
        }
    } else if (action == A_CALLS) {
        printf("%-8s  %-8s  %4s  %5s  %7s  %s\n", "CALL", "STATUS", "HTTP", "TRIES", "MS",
               "DELIVERY / ERROR");
        json_array_foreach(json_object_get(ans, "webhook_calls"), i, x)
        {
            json_t *hs = json_object_get(x, "response_status");
            const char *err = json_string_value(json_object_get(x, "error_message"));
            printf("%-8lld  %-8s  %4lld  %5lld  %7lld  %s%s%s\n", (long long)num(x, "id"),
                   cli_str(x, "status"),
                   json_is_integer(hs) ? (long long)json_integer_value(hs) : 0LL,
                   (long long)num(x, "retry_count") + 1, (long long)num(x, "response_time_ms"),
                   cli_str(x, "delivery_id"), err ? "\n          " : "", err ? err : "");
        }
    } else if (action == A_REDELIVER) {
        printf("call %s is sent again by job %s\n", call, cli_str(ans, "job_id"));
    } else {
        json_t *im = json_object_get(ans, "import");
        json_t *job = json_object_get(im, "job");
        json_t *w = json_object_get(im, "webhook");
        printf("import     %s\nstatus     %s (job %s, %s, %lld%%)\nsource     %s%s%s\ntype       "
               "%s, mode %s\nproducts   %lld kept, %lld failed rows, %lld delivered\nwebhook    "
               "%s\ncreated    %s\ncompleted  %s\n",
               cli_str(im, "id"), cli_str(im, "status"), cli_str(job, "status"),
               cli_str(job, "stage"), (long long)num(job, "progress"), cli_str(im, "source_name"),
               json_is_string(json_object_get(im, "source_url")) ? " " : "",
               json_is_string(json_object_get(im, "source_url")) ? cli_str(im, "source_url") : "",
               cli_str(im, "import_type"), cli_str(im, "mode"),
               (long long)num(im, "processed_products"), (long long)num(im, "failed_products"),
               (long long)num(im, "delivered_products"),
               json_is_object(w) ? cli_str(w, "url") : "-", cli_str(im, "created_at"),
               cli_str(im, "completed_at"));
        if (json_is_string(json_object_get(im, "error_message")))
            printf("error      %s\n", cli_str(im, "error_message"));
    }
    json_decref(ans);
out:
    json_decref(maps);
    return rc;
}
