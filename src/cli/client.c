/* The HTTP side of the client commands: one call to trawl serve's API with libcurl, the server
 * address and token from flags or the environment, and errors printed as the server gave them. */
#include "cli/client.h"

#include "cli/cli.h"

#include "base/buf.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_MAX (256u << 20)

const char *cli_server(const char *flag)
{
    if (flag && *flag)
        return flag;
    const char *s = getenv("TRAWL_SERVER");
    return s && *s ? s : "http://127.0.0.1:8080";
}

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;
    return buf_add(b, data, size * n) == 0 ? size * n : 0;
}

/* A libcurl handle for server + path, with the token's Authorization header in *hdrs (the
 * caller frees both); *server and *token say what was used. NULL when libcurl cannot start. */
static CURL *start(const struct cli_conn *c, const char *path, const char **server,
                   const char **token, struct curl_slist **hdrs)
{
    CURL *h = curl_easy_init();
    if (!h) {
        fprintf(stderr, "trawl: cannot start libcurl\n");
        return NULL;
    }
    char url[4096];
    *server = cli_server(c->server);
    size_t sl = strlen(*server);
    snprintf(url, sizeof url, "%.*s%s", (int)(sl && (*server)[sl - 1] == '/' ? sl - 1 : sl),
             *server, path);
    curl_easy_setopt(h, CURLOPT_URL, url); /* libcurl copies it */
    *token = c->token && *c->token ? c->token : getenv("TRAWL_TOKEN");
    if (*token && **token) {
        char auth[1024];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", *token);
        *hdrs = curl_slist_append(*hdrs, auth); /* copied too */
    }
    return h;
}

/* Perform h (its URL, method and body set) and read its JSON answer into *out: cli_call's
 * answer handling. Frees h and hdrs. */
static int perform_json(const struct cli_conn *c, CURL *h, struct curl_slist *hdrs,
                        const char *server, const char *token, json_t **out, long *status)
{
    struct buf resp;
    buf_init(&resp, RESPONSE_MAX);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms > 0 ? c->timeout_ms : 600000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (cc != CURLE_OK) {
        fprintf(stderr,
                "trawl: cannot reach the server at %s: %s\n  (is `trawl serve` running? "
                "set --server or TRAWL_SERVER)\n",
                server, errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = -1;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    json_error_t je;
    *out = json_loadb(resp.data, resp.len, 0, &je);
    if (!*out) {
        fprintf(stderr, "trawl: the server answered %ld with something that is not JSON\n",
                *status);
        rc = -1;
        goto out;
    }
    if (*status >= 400) {
        json_t *err = json_object_get(*out, "error");
        const char *msg = json_string_value(json_object_get(err, "message"));
        fprintf(stderr, "trawl: %s (HTTP %ld)\n", msg ? msg : "request failed", *status);
        if (*status == 401 && !(token && *token))
            fprintf(stderr, "  set --token or TRAWL_TOKEN (make one with `trawl token create "
                            "--workspace NAME`)\n");
        rc = -1;
    }
out:
    buf_release(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

int cli_call(const struct cli_conn *c, const char *method, const char *path, json_t *body,
             json_t **out, long *status)
{
    *out = NULL;
    *status = 0;
    const char *server, *token;
    struct curl_slist *hdrs = NULL;
    CURL *h = start(c, path, &server, &token, &hdrs);
    if (!h)
        return -1;
    char *payload = NULL;
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
    }
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    int rc = perform_json(c, h, hdrs, server, token, out, status);
    free(payload);
    return rc;
}

struct upload_progress {
    cli_upload_fn fn;
    void *arg;
};

static int on_xfer(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    struct upload_progress *p = arg;
    return p->fn ? p->fn(p->arg, (int64_t)ulnow, (int64_t)ultotal) : 0;
}

int cli_upload(const struct cli_conn *c, const char *path, const char *file, json_t *fields,
               cli_upload_fn progress, void *arg, json_t **out, long *status)
{
    *out = NULL;
    *status = 0;
    const char *server, *token;
    struct curl_slist *hdrs = NULL;
    CURL *h = start(c, path, &server, &token, &hdrs);
    if (!h)
        return -1;
    hdrs = curl_slist_append(hdrs, "Expect:"); /* the server answers an upload at its end */
    curl_mime *mime = curl_mime_init(h);
    const char *k;
    json_t *v;
    json_object_foreach(fields, k, v)
    {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        curl_mimepart *part = curl_mime_addpart(mime);
        curl_mime_name(part, k);
        curl_mime_data(part, text ? text : json_string_value(v), CURL_ZERO_TERMINATED);
        free(text);
    }
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, "file");
    if (curl_mime_filedata(part, file) != CURLE_OK) { /* streamed from the file as it is sent */
        fprintf(stderr, "trawl: cannot read %s\n", file);
        curl_mime_free(mime);
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(h);
        return -1;
    }
    struct upload_progress up = {progress, arg};
    curl_easy_setopt(h, CURLOPT_MIMEPOST, mime);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xfer);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &up);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    int rc = perform_json(c, h, hdrs, server, token, out, status);
    curl_mime_free(mime);
    return rc;
}

struct download {
    CURL *h;
    FILE *out;
    long status;    /* 0 until the first data */
    struct buf err; /* an error answer, kept to show its message */
    bool write_failed;
};

static size_t on_download(char *data, size_t size, size_t n, void *arg)
{
    struct download *d = arg;
    if (!d->status)
        curl_easy_getinfo(d->h, CURLINFO_RESPONSE_CODE, &d->status);
    if (d->status >= 400)
        return buf_add(&d->err, data, size * n) == 0 ? size * n : 0;
    if (fwrite(data, size, n, d->out) != n) {
        d->write_failed = true;
        return 0;
    }
    return size * n;
}

int cli_download(const struct cli_conn *c, const char *path, FILE *out, long *status)
{
    *status = 0;
    const char *server, *token;
    struct curl_slist *hdrs = NULL;
    CURL *h = start(c, path, &server, &token, &hdrs);
    if (!h)
        return -1;
    struct download d = {.h = h, .out = out};
    buf_init(&d.err, 1u << 20);
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_download);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (c->timeout_ms > 0)
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    int rc = 0;
    if (d.write_failed) {
        perror("trawl: cannot write the output");
        rc = -1;
    } else if (*status >= 400) {
        json_t *ans = json_loadb(d.err.data, d.err.len, 0, NULL);
        const char *msg =
            json_string_value(json_object_get(json_object_get(ans, "error"), "message"));
        fprintf(stderr, "trawl: %s (HTTP %ld)\n", msg ? msg : "request failed", *status);
        json_decref(ans);
        rc = -1;
    } else if (cc != CURLE_OK) {
        fprintf(stderr, "trawl: the download from %s stopped: %s\n", server,
                errbuf[0] ? errbuf : curl_easy_strerror(cc));
        rc = -1;
    }
    buf_release(&d.err);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return rc;
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

const char *cli_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

int cli_common_opt(int c, struct cli_common *o, const char *usage)
{
    switch (c) {
    case 'S':
        o->conn.server = optarg;
        return 1;
    case 'T':
        o->conn.token = optarg;
        return 1;
    case 'J':
        o->json = true;
        return 1;
    case 'h':
        fputs(usage, stdout);
        return -1;
    }
    return 0;
}

void cli_bar(char *out, size_t n, double pct, int width)
{
    int full = (int)(pct / 100 * width + 0.5);
    size_t o = 0;
    out[o++] = '[';
    for (int i = 0; i < width && o + 2 < n; i++)
        out[o++] = i < full ? '#' : '.';
    out[o++] = ']';
    out[o] = 0;
}

int cli_list_args(int argc, char **argv, const char *usage, struct cli_common *o, int64_t *limit,
                  int64_t *offset)
{
    static const struct option longs[] = {{"limit", required_argument, 0, 'n'},
                                          {"offset", required_argument, 0, 'f'},
                                          CLI_COMMON_OPTS,
                                          {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        int k = cli_common_opt(c, o, usage);
        if (k < 0)
            return 0;
        if (k)
            continue;
        if (c == 'n' && cli_int("--limit", optarg, 1, 1000, limit))
            continue;
        if (c == 'f' && cli_int("--offset", optarg, 0, INT32_MAX, offset))
            continue;
        if (c != 'n' && c != 'f')
            fputs(usage, stderr);
        return 2;
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    return -1;
}

/* URL-encode s into out (for path segments and query values). */
void cli_enc(const char *s, char *out, size_t n)
{
    size_t o = 0;
    for (; *s && o + 4 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-._~:", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, n - o, "%%%02X", c);
    }
    out[o] = 0;
}

/* The arguments of a command that takes the common options, one ID and, when flag is not NULL,
 * the option --FLAG (which sets *set): -1 to go on (the ID is argv[optind]), else the exit
 * status. */
int cli_id_args(int argc, char **argv, const char *usage, struct cli_common *o, const char *flag,
                bool *set)
{
    struct option longs[6] = {CLI_COMMON_OPTS}; /* the rest zero: the end of the list */
    if (flag)
        longs[4] = (struct option){flag, no_argument, 0, 'F'};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        int k = cli_common_opt(c, o, usage);
        if (k < 0)
            return 0;
        if (k)
            continue;
        if (c == 'F') {
            *set = true;
            continue;
        }
        fputs(usage, stderr);
        return 2;
    }
    if (optind != argc - 1) {
        fputs(usage, stderr);
        return 2;
    }
    return -1;
}

int cli_list(int argc, char **argv, const char *usage, const char *path, struct cli_common *o,
             int64_t *limit, int64_t *offset, json_t **ans)
{
    *limit = 20;
    *offset = 0;
    *ans = NULL;
    int rc = cli_list_args(argc, argv, usage, o, limit, offset);
    if (rc >= 0)
        return rc;
    char url[256];
    snprintf(url, sizeof url, "%s?limit=%lld&offset=%lld", path, (long long)*limit,
             (long long)*offset);
    long status;
    if (cli_call(&o->conn, "GET", url, NULL, ans, &status) != 0) {
        json_decref(*ans);
        *ans = NULL;
        return 1;
    }
    if (o->json) {
        cli_print_json(*ans);
        json_decref(*ans);
        *ans = NULL;
        return 0;
    }
    return -1;
}

void cli_list_more(json_t *ans, const char *what, int64_t limit, int64_t offset)
{
    long long total = (long long)json_integer_value(json_object_get(ans, "total"));
    if (offset + limit < total)
        fprintf(stderr, "%lld %s in all; more: --offset %lld\n", total, what,
                (long long)(offset + limit));
}
