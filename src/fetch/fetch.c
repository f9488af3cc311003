/* The fetcher's thread and its state: a curl multi handle, the transfers submitted by callers, and
 * one record per origin (scheme://host:port) holding its politeness clock, its requests in
 * flight, its robots.txt and the transfers waiting for it. Redirects are followed here, hop by
 * hop, so every hop goes through the same checks as the first. */
#include "fetch/fetch_int.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "fetch/robots.h"
#include "fetch/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

const char *fetch_kind_name(enum fetch_kind k)
{
    static const char *const names[] = {
        "ok",          "http_status", "dns",       "connect",   "timeout", "reset",
        "tls",         "protocol",    "too_large", "redirects", "robots",  "ssrf",
        "invalid_url", "deferred",    "cancelled", "not_html",
    };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static int64_t now_ms(void)
{
    return clock_mono_ms();
}

static void hop_cleanup(struct xfer *x)
{
    if (x->state == X_RUNNING) {
        if (x->run_prev)
            x->run_prev->run_next = x->run_next;
        else
            x->f->running = x->run_next;
        if (x->run_next)
            x->run_next->run_prev = x->run_prev;
        x->run_prev = x->run_next = NULL;
        x->state = X_NEW;
    }
    if (x->easy) {
        curl_multi_remove_handle(x->f->multi, x->easy);
        curl_easy_cleanup(x->easy);
        x->easy = NULL;
    }
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
}

static void robots_done(struct fetcher *f, struct xfer *x);
static void service_origin(struct fetcher *f, struct origin *o);

/* The transfer is over: hand the result to the caller. */
static void finish(struct fetcher *f, struct xfer *x)
{
    hop_cleanup(x);
    x->res->elapsed_ms = now_ms() - (x->res->elapsed_ms);
    if (!x->res->final_url)
        x->res->final_url = xstrdup(x->url);
    if (x->robots_for) {
        robots_done(f, x);
        return;
    }
    pthread_mutex_lock(&f->lock);
    if (x->res->kind == FETCH_OK)
        f->stats.ok++;
    else if (x->res->kind == FETCH_DEFERRED)
        f->stats.deferred++;
    else
        f->stats.failed++;
    if ((unsigned)x->res->kind < FETCH_KIND_COUNT)
        f->stats.by_kind[x->res->kind]++;
    f->stats.bytes += x->res->body.len;
    x->state = X_DONE;
    x->done = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&f->lock);
}

/* ---- libcurl callbacks (on the fetcher thread) ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    x->got_byte = true;
    if (x->req && x->req->html_only && x->res->body.alloc == 0) {
        char *ct = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        if (ct && !strcasestr(ct, "html")) {
            x->not_html = true;
            return 0; /* stops the transfer */
        }
    }
    if (x->req && x->req->sink) {
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && code < 300) {
            int64_t cap = x->req->sink_max > 0 ? x->req->sink_max : (int64_t)x->f->o.max_body;
            if (x->sunk + (int64_t)len > cap) {
                x->too_big = true;
                return 0;
            }
            if (x->req->sink(x->req->sink_ctx, data, len) != 0) {
                x->sink_failed = true;
                return 0;
            }
            x->sunk += (int64_t)len;
            return len;
        }
    }
    if (x->res->body.alloc == 0) {
        /* room for the whole body at once when its length is announced (and allowed) */
        curl_off_t cl = -1;
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        size_t want = cl > 0 && (size_t)cl < x->f->o.max_body ? (size_t)cl : 16384;
        buf_reserve(&x->res->body, want < x->f->o.max_body ? want : x->f->o.max_body);
    }
    if (buf_add(&x->res->body, data, len) != 0) {
        x->too_big = true;
        return 0; /* stops the transfer: CURLE_WRITE_ERROR */
    }
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;
    x->got_byte = true;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        buf_clear(&x->raw_headers); /* a new response (after 100 Continue): its headers only */
    else if (x->raw_headers.len + len < HEADERS_MAX)
        buf_add(&x->raw_headers, data, len);
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct xfer *x = arg;
    if (x->req && x->req->cancel && atomic_load(x->req->cancel)) {
        x->cancelled = true;
        return 1;
    }
    if (!x->got_byte && now_ms() - x->hop_start_ms > x->f->o.first_byte_timeout_ms) {
        x->first_byte_timeout = true;
        return 1;
    }
    return 0;
}

static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)purpose;
    struct xfer *x = arg;
    const char *why = ssrf_check(x->f->policy, &a->addr);
    if (why) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr)->sin_addr, ip, sizeof ip);
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr)->sin6_addr, ip, sizeof ip);
        x->ssrf_blocked = true;
        snprintf(x->ssrf_why, sizeof x->ssrf_why, "%s is %s", ip, why);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* ---- starting a hop ---- */

static bool launch(struct fetcher *f, struct xfer *x, struct origin *o)
{
    CURL *c = curl_easy_init();
    if (!c) {
        fetch_set_error(x, FETCH_PROTOCOL, true, "cannot start a transfer (out of memory)");
        return false;
    }
    x->easy = c;
    x->hop_start_ms = now_ms();
    x->got_byte = x->too_big = x->first_byte_timeout = x->ssrf_blocked = x->not_html = false;
    x->sink_failed = false;
    x->curl_err[0] = 0;
    buf_clear(&x->raw_headers);
    buf_clear(&x->res->body);
    int64_t total = x->req && x->req->timeout_ms > 0 ? x->req->timeout_ms : f->o.total_timeout_ms;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    curl_easy_setopt(c, CURLOPT_PRIVATE, x);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the guard checks where connections go: no proxy */
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_USERAGENT, f->user_agent);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)f->o.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)total);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, f->o.min_speed_bps);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)((f->o.min_speed_ms + 999) / 1000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(x->req && x->req->sink && x->req->sink_max > 0
                                      ? x->req->sink_max
                                      : (int64_t)f->o.max_body));
    if (f->resolve)
        curl_easy_setopt(c, CURLOPT_RESOLVE, f->resolve);
    if (x->req && x->req->headers && !x->cross_origin) {
        for (const char *const *h = x->req->headers; *h; h++)
            x->hdrs = curl_slist_append(x->hdrs, *h);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs);
    }
    if (x->req && x->req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, x->req->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req->body_len);
    }
    if (curl_multi_add_handle(f->multi, c) != CURLM_OK) {
        curl_easy_cleanup(c);
        x->easy = NULL;
        fetch_set_error(x, FETCH_PROTOCOL, true, "cannot start a transfer");
        return false;
    }
    x->state = X_RUNNING;
    x->run_prev = NULL;
    x->run_next = f->running;
    if (f->running)
        f->running->run_prev = x;
    f->running = x;
    if (o) {
        o->active++;
        o->last_used_ms = x->hop_start_ms;
        int64_t delay = fetch_origin_delay(f, o);
        if (x->req && x->req->host_delay_ms > delay)
            delay = x->req->host_delay_ms;
        o->next_at_ms = x->hop_start_ms + delay + o->penalty_ms;
    }
    pthread_mutex_lock(&f->lock);
    f->stats.started++;
    pthread_mutex_unlock(&f->lock);
    return true;
}

static void start_robots(struct fetcher *f, struct origin *o)
{
    struct xfer *x = xcalloc(1, sizeof *x);
    x->f = f;
    x->res = xcalloc(1, sizeof *x->res);
    buf_init(&x->res->body, ROBOTS_MAX_BYTES);
    buf_init(&x->raw_headers, HEADERS_MAX);
    char url[ORIGIN_KEY_MAX + 16];
    snprintf(url, sizeof url, "%s/robots.txt", o->key);
    x->url = xstrdup(url);
    x->robots_for = o;
    x->res->elapsed_ms = now_ms();
    o->robots_fetching = true;
    pthread_mutex_lock(&f->lock);
    f->stats.robots_fetched++;
    pthread_mutex_unlock(&f->lock);
    if (!launch(f, x, NULL))
        finish(f, x);
}

enum advance { ADV_STARTED, ADV_FINISHED, ADV_WAIT };

/* Take x as far as it can go now: refuse it, start it, or leave it waiting for its origin. */
static enum advance advance(struct fetcher *f, struct xfer *x, struct origin *o)
{
    int64_t now = now_ms();
    o->last_used_ms = now;
    if (x->req->cancel && atomic_load(x->req->cancel)) {
        fetch_set_error(x, FETCH_CANCELLED, false, "cancelled");
        finish(f, x);
        return ADV_FINISHED;
    }
    if (!f->o.ignore_robots && !x->req->no_robots && !x->req->body) {
        if (o->robots_fail_until_ms > now) {
            fetch_set_error(x, o->robots_fail_kind, o->robots_fail_retryable, "%s",
                            o->robots_error);
            finish(f, x);
            return ADV_FINISHED;
        }
        if (!o->robots || o->robots_until_ms <= now) {
            if (!o->robots_fetching)
                start_robots(f, o);
            return ADV_WAIT;
        }
        if (!robots_allowed(o->robots, x->path)) {
            fetch_set_error(x, FETCH_ROBOTS, false, "robots: %s is disallowed by %s/robots.txt",
                            x->url, o->key);
            finish(f, x);
            return ADV_FINISHED;
        }
    }
    if (o->active >= f->o.host_connections)
        return ADV_WAIT;
    if (o->next_at_ms > now) {
        int64_t wait = o->next_at_ms - now;
        if (wait > f->o.defer_after_ms && !x->req->no_defer) {
            /* each deferred transfer gets a slot of its own after the last one handed out, so
             * a queue of jobs for a slow site comes back one by one, not all at the next slot */
            int64_t step = fetch_origin_delay(f, o) + o->penalty_ms;
            int64_t slot = o->reserved_ms > o->next_at_ms ? o->reserved_ms + step : o->next_at_ms;
            o->reserved_ms = slot;
            wait = slot - now;
            x->res->defer_until_ms = clock_now_ms(&clock_real) + wait;
            fetch_set_error(x, FETCH_DEFERRED, true, "deferred: %s asks to wait %lld ms", o->key,
                            (long long)wait);
            finish(f, x);
            return ADV_FINISHED;
        }
        return ADV_WAIT;
    }
    if (!launch(f, x, o)) {
        finish(f, x);
        return ADV_FINISHED;
    }
    return ADV_STARTED;
}

/* Start hop x->url: parse it, refuse literal addresses the guard refuses, then advance or wait. */
static void begin_hop(struct fetcher *f, struct xfer *x)
{
    struct url_parts p;
    struct err e;
    if (url_split(x->url, &p, &e) != 0) {
        fetch_set_error(x, FETCH_INVALID_URL, false, "invalid url: %s", e.msg);
        finish(f, x);
        return;
    }
    free(x->path);
    x->path = p.path;
    p.path = NULL;
    url_origin(x->url, x->origin, sizeof x->origin, &e);
    /* a literal address is judged before any connection is tried, for a clearer error */
    struct sockaddr_storage ss = {0};
    bool literal = false;
    if (inet_pton(AF_INET, p.host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        literal = true;
    } else if (inet_pton(AF_INET6, p.host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        literal = true;
    }
    url_parts_release(&p);
    if (literal) {
        const char *why = ssrf_check(f->policy, (struct sockaddr *)&ss);
        if (why) {
            fetch_set_error(x, FETCH_SSRF, false, "ssrf: blocked %s: the address is %s%s", x->url,
                            why, x->res->redirects ? " (reached by a redirect)" : "");
            finish(f, x);
            return;
        }
    }
    if (x->robots_for) {
        /* robots.txt itself: no robots check, no politeness queue */
        if (!launch(f, x, NULL))
            finish(f, x);
        return;
    }
    struct origin *o = fetch_origin_get(f, x->origin);
    if (advance(f, x, o) == ADV_WAIT)
        fetch_wait_push(f, o, x, false);
}

/* Let the waiting transfers of o go as far as they can, in order. */
static void service_origin(struct fetcher *f, struct origin *o)
{
    struct xfer *x;
    while ((x = fetch_wait_pop(o)) != NULL) {
        if (advance(f, x, o) == ADV_WAIT) {
            fetch_wait_push(f, o, x, true);
            return;
        }
    }
}

/* ---- a hop is over ---- */

static void hop_done(struct fetcher *f, struct xfer *x, CURLcode cc)
{
    struct origin *o = x->robots_for ? NULL : fetch_origin_get(f, x->origin);
    if (o && o->active > 0)
        o->active--;
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    x->res->http_status = (int)status;
    if (cc != CURLE_OK) {
        fetch_classify_curl(x, cc);
        goto out;
    }
    char *ct = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
    free(x->res->content_type);
    x->res->content_type = xstrdup(ct);
    free(x->res->headers);
    x->res->headers = fetch_headers_json(&x->raw_headers);
    curl_off_t ra = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra);
    if (status == 429 || status == 503) {
        int64_t wait = ra > 0 ? (int64_t)ra * 1000 : 0;
        if (wait > RETRY_AFTER_MAX_MS)
            wait = RETRY_AFTER_MAX_MS;
        x->res->retry_after_ms = wait;
        if (o) {
            o->penalty_ms = o->penalty_ms ? o->penalty_ms * 2 : 1000;
            if (o->penalty_ms > PENALTY_MAX_MS)
                o->penalty_ms = PENALTY_MAX_MS;
            int64_t until = now_ms() + (wait > o->penalty_ms ? wait : o->penalty_ms);
            if (until > o->next_at_ms)
                o->next_at_ms = until;
            log_info("%s answered %ld: slowing down for %lld ms", o->key, status,
                     (long long)(until - now_ms()));
        }
    } else if (o && status >= 200 && status < 400) {
        o->penalty_ms /= 2;
    }
    if (status >= 300 && status < 400 && status != 304) {
        char *loc = NULL;
        curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc);
        if (!loc) {
            /* curl gives no redirect URL for one it cannot use; say what the server sent */
            fetch_set_error(x, FETCH_REDIRECTS, false,
                            "redirects: %ld from %s without a usable Location", status, x->url);
            goto out;
        }
        if (x->req && (x->req->no_follow || x->req->body)) {
            char *to = NULL;
            struct err e2;
            if (url_resolve(x->url, loc, &to, &e2) != 0) {
                fetch_set_error(x, FETCH_REDIRECTS, false,
                                "redirects: %s redirects to an unusable URL: %s", x->url, e2.msg);
                goto out;
            }
            x->res->location = to;
            fetch_set_error(x, FETCH_HTTP_STATUS, false, "redirect: %s answered %ld, to %s", x->url,
                            status, to);
            goto out;
        }
        int max = x->robots_for ? 5 : f->o.max_redirects;
        if (x->res->redirects >= max) {
            fetch_set_error(x, FETCH_REDIRECTS, false,
                            "redirects: more than %d redirects (last %s)", max, x->url);
            goto out;
        }
        char *next;
        struct err e;
        if (url_resolve(x->url, loc, &next, &e) != 0) {
            fetch_set_error(x, FETCH_REDIRECTS, false,
                            "redirects: %s redirects to an unusable URL: %s", x->url, e.msg);
            goto out;
        }
        for (int i = 0; i < x->nseen; i++) {
            if (strcmp(x->seen[i], next) == 0) {
                fetch_set_error(x, FETCH_REDIRECTS, false,
                                "redirects: a loop: %s redirects back to %s", x->url, next);
                free(next);
                goto out;
            }
        }
        if (x->nseen < (int)(sizeof x->seen / sizeof x->seen[0]))
            x->seen[x->nseen++] = xstrdup(x->url);
        hop_cleanup(x);
        char was[ORIGIN_KEY_MAX], now_o[ORIGIN_KEY_MAX];
        struct err e3;
        if (url_origin(x->url, was, sizeof was, &e3) != 0 ||
            url_origin(next, now_o, sizeof now_o, &e3) != 0 || strcmp(was, now_o) != 0)
            x->cross_origin = true; /* no Authorization or Cookie for another site */
        free(x->url);
        x->url = next;
        x->res->redirects++;
        if (o)
            service_origin(f, o);
        begin_hop(f, x);
        return;
    }
    if (status >= 200 && status < 300) {
        x->res->kind = FETCH_OK;
        x->res->retryable = false;
        x->res->error[0] = 0;
    } else {
        bool retry = status == 408 || status == 429 || status >= 500;
        const char *reason = status == 404   ? " Not Found"
                             : status == 403 ? " Forbidden"
                             : status == 410 ? " Gone"
                             : status == 429 ? " Too Many Requests"
                             : status == 500 ? " Internal Server Error"
                             : status == 502 ? " Bad Gateway"
                             : status == 503 ? " Service Unavailable"
                             : status == 504 ? " Gateway Timeout"
                                             : "";
        fetch_set_error(x, FETCH_HTTP_STATUS, retry, "http_status: %s answered %ld%s", x->url,
                        status, reason);
    }
out:
    if (x->res->kind != FETCH_OK)
        buf_clear(&x->raw_headers);
    finish(f, x);
    if (o)
        service_origin(f, o);
}

static void robots_done(struct fetcher *f, struct xfer *x)
{
    struct origin *o = x->robots_for;
    int64_t now = now_ms();
    o->robots_fetching = false;
    robots_free(o->robots);
    o->robots = NULL;
    int st = x->res->http_status;
    if (x->res->kind == FETCH_OK || x->res->kind == FETCH_TOO_LARGE) {
        /* an oversized robots.txt: its first ROBOTS_MAX_BYTES count, as RFC 9309 allows */
        o->robots = robots_parse(x->res->body.data, x->res->body.len, f->robots_agent);
    } else if (x->res->kind == FETCH_HTTP_STATUS && st >= 400 && st < 500) {
        o->robots = robots_allow_all(); /* RFC 9309: "unavailable" means no rules */
    } else if (x->res->kind == FETCH_REDIRECTS || x->res->kind == FETCH_PROTOCOL) {
        o->robots = robots_allow_all();
    } else {
        /* unreachable or 5xx: RFC 9309 says assume a complete disallow; jobs are told to come
         * back later rather than failed for good */
        o->robots_fail_until_ms = now + ROBOTS_FAIL_MS;
        /* the job's error names what went wrong (dns, connect, timeout, 5xx), as for a page */
        o->robots_fail_kind = x->res->kind;
        o->robots_fail_retryable = x->res->retryable;
        snprintf(o->robots_error, sizeof o->robots_error,
                 "%s (while reading %s/robots.txt; the site is not crawled until it can be read)",
                 x->res->error, o->key);
    }
    if (o->robots)
        o->robots_until_ms = now + f->o.robots_ttl_ms;
    free(x->url);
    free(x->path);
    for (int i = 0; i < x->nseen; i++)
        free(x->seen[i]);
    buf_release(&x->raw_headers);
    fetch_result_release(x->res);
    free(x->res);
    free(x);
    service_origin(f, o);
}

/* ---- the thread ---- */

/* The earliest time a waiting transfer could start, in ms from now (bounded); origins whose
 * waiters are gone leave the list here. */
static long wait_timeout(struct fetcher *f, long curl_ms)
{
    long t = curl_ms < 0 || curl_ms > 200 ? 200 : curl_ms;
    int64_t now = now_ms();
    for (struct origin **p = &f->wlist; *p;) {
        struct origin *o = *p;
        if (!o->wait_head) {
            o->in_wlist = false;
            *p = o->wnext;
            continue;
        }
        if (o->active < f->o.host_connections && !o->robots_fetching) {
            int64_t d = o->next_at_ms - now;
            if (d < 0)
                d = 0;
            if (d < t)
                t = (long)d;
        }
        p = &o->wnext;
    }
    return t;
}

static void service_due(struct fetcher *f)
{
    int64_t now = now_ms();
    for (struct origin *o = f->wlist; o; o = o->wnext)
        if (o->wait_head && o->active < f->o.host_connections && o->next_at_ms <= now &&
            !o->robots_fetching)
            service_origin(f, o);
}

static void cancel_all(struct fetcher *f)
{
    /* transfers still running or waiting end as cancelled */
    for (size_t i = 0; i < ORIGIN_BUCKETS; i++)
        for (struct origin *o = f->bucket[i]; o; o = o->next) {
            struct xfer *x;
            while ((x = fetch_wait_pop(o)) != NULL) {
                fetch_set_error(x, FETCH_CANCELLED, false, "cancelled: the fetcher is stopping");
                finish(f, x);
            }
        }
    while (f->running) {
        struct xfer *x = f->running;
        fetch_set_error(x, FETCH_CANCELLED, false, "cancelled: the fetcher is stopping");
        finish(f, x);
    }
}

static void *fetch_main(void *arg)
{
    struct fetcher *f = arg;
    pthread_setname_np(pthread_self(), "fetcher");
    for (;;) {
        pthread_mutex_lock(&f->lock);
        struct xfer *list = f->submit_head;
        f->submit_head = f->submit_tail = NULL;
        bool stop = f->stopping;
        pthread_mutex_unlock(&f->lock);
        for (struct xfer *x = list, *next; x; x = next) {
            next = x->next;
            x->next = NULL;
            if (stop) {
                fetch_set_error(x, FETCH_CANCELLED, false, "cancelled: the fetcher is stopping");
                finish(f, x);
            } else {
                begin_hop(f, x);
            }
        }
        if (stop) {
            cancel_all(f);
            break;
        }
        service_due(f);
        int running = 0;
        curl_multi_perform(f->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            hop_done(f, x, m->data.result);
        }
        fetch_origins_sweep(f);
        long tmo = -1;
        curl_multi_timeout(f->multi, &tmo);
        curl_multi_poll(f->multi, NULL, 0, (int)wait_timeout(f, tmo), NULL);
    }
    return NULL;
}

/* ---- public ---- */

int fetch_header_check(const char *name, const char *value, size_t value_len, struct err *e)
{
    static const char *const owned[] = {
        "host", "content-length", "transfer-encoding", "connection",          "upgrade",
        "te",   "trailer",        "keep-alive",        "proxy-authorization", "proxy-connection"};
    if (!*name || strlen(name) > 128)
        return err_set(e, TRAWL_EINVAL, false, "header name must be 1 to 128 characters");
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p)))
            return err_set(e, TRAWL_EINVAL, false, "'%.128s' is not a valid header name", name);
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        if (strcasecmp(name, owned[i]) == 0)
            return err_set(e, TRAWL_EINVAL, false, "%s cannot be set; the fetcher sets it", name);
    for (size_t i = 0; i < value_len; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == 0)
            return err_set(e, TRAWL_EINVAL, false, "the value of %s has a line break or NUL", name);
    return 0;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void opts_defaults(struct fetch_opts *o)
{
    if (!o->max_body)
        o->max_body = 10u << 20;
    if (o->max_redirects <= 0)
        o->max_redirects = 5;
    if (o->connect_timeout_ms <= 0)
        o->connect_timeout_ms = 10000;
    if (o->first_byte_timeout_ms <= 0)
        o->first_byte_timeout_ms = 30000;
    if (o->total_timeout_ms <= 0)
        o->total_timeout_ms = 60000;
    if (o->min_speed_bps <= 0)
        o->min_speed_bps = 512;
    if (o->min_speed_ms <= 0)
        o->min_speed_ms = 20000;
    if (o->host_connections <= 0)
        o->host_connections = 8;
    if (o->host_delay_ms < 0)
        o->host_delay_ms = 0;
    if (o->robots_ttl_ms <= 0)
        o->robots_ttl_ms = 3600 * 1000;
    if (o->defer_after_ms <= 0)
        o->defer_after_ms = 2000;
    if (o->max_connections <= 0)
        o->max_connections = 512;
}

int fetcher_new(const struct fetch_opts *o, struct fetcher **out, struct err *e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    *out = NULL;
    struct fetcher *f = xcalloc(1, sizeof *f);
    if (o)
        f->o = *o;
    opts_defaults(&f->o);
    f->user_agent = xstrdup(f->o.user_agent ? f->o.user_agent : FETCH_DEFAULT_AGENT);
    f->robots_agent = xstrdup(f->o.robots_agent ? f->o.robots_agent : "trawl");
    f->o.user_agent = f->user_agent;
    f->o.robots_agent = f->robots_agent;
    if (f->o.ssrf) {
        f->policy = f->o.ssrf;
    } else {
        f->own_policy = ssrf_policy_new();
        f->policy = f->own_policy;
    }
    for (const char *const *r = f->o.resolve; r && *r; r++)
        f->resolve = curl_slist_append(f->resolve, *r);
    f->o.resolve = NULL;
    f->multi = curl_multi_init();
    if (!f->multi) {
        fetcher_free(f);
        return err_set(e, TRAWL_ENOMEM, false, "cannot start libcurl");
    }
    curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)f->o.host_connections);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)f->o.max_connections);
    curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->o.max_connections);
    pthread_mutex_init(&f->lock, NULL);
    if (pthread_create(&f->thread, NULL, fetch_main, f) != 0) {
        pthread_mutex_destroy(&f->lock);
        curl_multi_cleanup(f->multi);
        f->multi = NULL;
        fetcher_free(f);
        return err_set(e, TRAWL_ENOMEM, false, "cannot start the fetcher thread");
    }
    *out = f;
    return 0;
}

void fetcher_free(struct fetcher *f)
{
    if (!f)
        return;
    if (f->multi) {
        pthread_mutex_lock(&f->lock);
        f->stopping = true;
        pthread_mutex_unlock(&f->lock);
        curl_multi_wakeup(f->multi);
        pthread_join(f->thread, NULL);
        for (size_t i = 0; i < ORIGIN_BUCKETS; i++)
            for (struct origin *o = f->bucket[i], *next; o; o = next) {
                next = o->next;
                robots_free(o->robots);
                free(o);
            }
        curl_multi_cleanup(f->multi);
        pthread_mutex_destroy(&f->lock);
    }
    curl_slist_free_all(f->resolve);
    ssrf_policy_free(f->own_policy);
    free(f->user_agent);
    free(f->robots_agent);
    free(f);
}

int fetch_run(struct fetcher *f, const struct fetch_req *r, struct fetch_result *out)
{
    memset(out, 0, sizeof *out);
    buf_init(&out->body, f->o.max_body);
    char *url;
    struct err e;
    if (!r->url || url_normalize(r->url, &url, &e) != 0) {
        out->kind = FETCH_INVALID_URL;
        snprintf(out->error, sizeof out->error, "invalid url: %.480s",
                 r->url ? e.msg : "no url given");
        out->final_url = xstrdup(r->url);
        return TRAWL_EINVAL;
    }
    struct xfer x = {0};
    x.f = f;
    x.req = r;
    x.res = out;
    x.url = url;
    out->elapsed_ms = now_ms(); /* finish() turns it into the elapsed time */
    buf_init(&x.raw_headers, HEADERS_MAX);
    pthread_cond_init(&x.cv, NULL);
    pthread_mutex_lock(&f->lock);
    if (f->submit_tail)
        f->submit_tail->next = &x;
    else
        f->submit_head = &x;
    f->submit_tail = &x;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    pthread_mutex_lock(&f->lock);
    while (!x.done)
        pthread_cond_wait(&x.cv, &f->lock);
    pthread_mutex_unlock(&f->lock);
    pthread_cond_destroy(&x.cv);
    buf_release(&x.raw_headers);
    free(x.url);
    free(x.path);
    for (int i = 0; i < x.nseen; i++)
        free(x.seen[i]);
    if (out->kind == FETCH_OK)
        return 0;
    return out->kind == FETCH_CANCELLED     ? TRAWL_ECANCELLED
           : out->kind == FETCH_INVALID_URL ? TRAWL_EINVAL
                                            : TRAWL_EIO;
}

void fetch_result_release(struct fetch_result *r)
{
    if (!r)
        return;
    free(r->final_url);
    free(r->content_type);
    free(r->headers);
    free(r->location);
    buf_release(&r->body);
    memset(r, 0, sizeof *r);
}

void fetch_stats(struct fetcher *f, struct fetch_stats *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->stats;
    out->origins = f->norigins;
    pthread_mutex_unlock(&f->lock);
}
