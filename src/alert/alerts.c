/* Raising alerts in the transaction of their cause (the engine's hook): of any job, of scraping
 * sessions and of feed imports, rate-limited per fingerprint in the store, and delivering them as
 * jobs: the handler that POSTs a Sentry envelope or a signed webhook under the destination's
 * breaker. */
#include "alert/alerts.h"

#include "alert/format.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/uuid.h"
#include "base/xalloc.h"
#include "engine/breaker.h"
#include "fetch/url.h"
#include "obs/events.h"
#include "store/alert.h"
#include "store/import.h"
#include "store/scrape.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define RETRY_AFTER_MAX_MS (3600 * 1000)
#define ANSWER_MAX         2048 /* of a receiver's answer kept for the job's error */

struct alerter {
    struct engine *eng;
    struct ev_bus *bus;
    struct breakers *breakers;
    struct alert_opts o;
    char *webhook, *secret, *session_type, *import_type;
    struct sentry_dsn dsn;
    bool sentry;
    char host[256];
};

int alert_opts_check(const struct alert_opts *o, struct err *e)
{
    if (o->sentry_dsn) {
        struct sentry_dsn d;
        struct err e1;
        err_clear(&e1);
        if (sentry_dsn_parse(o->sentry_dsn, &d, &e1) < 0)
            return err_set(e, TRAWL_EINVAL, false, "--sentry-dsn (or SENTRY_DSN): %s", e1.msg);
    }
    if (o->webhook_url) {
        char *n = NULL;
        struct err e1;
        err_clear(&e1);
        if (url_normalize(o->webhook_url, &n, &e1) < 0)
            return err_set(e, TRAWL_EINVAL, false, "--alert-webhook: %s", e1.msg);
        free(n);
        if (!o->webhook_secret || !*o->webhook_secret)
            return err_set(e, TRAWL_EINVAL, false,
                           "--alert-webhook needs a secret to sign its deliveries: set "
                           "TRAWL_ALERT_SECRET or --alert-secret");
    }
    return 0;
}

/* ---- raising ---- */

static const char *or_none(const char *s)
{
    return s && *s ? s : "none";
}

/* A failure's kind: the word before the first ':' of its error when it is one ("http_status:
 * 404 ..." is http_status), else "error". */
static void error_type(const char *error, char *out, size_t n)
{
    snprintf(out, n, "error");
    if (!error)
        return;
    size_t k = 0;
    while (error[k] && ((error[k] >= 'a' && error[k] <= 'z') || error[k] == '_'))
        k++;
    if (k > 0 && k < n && error[k] == ':')
        snprintf(out, n, "%.*s", (int)k, error);
}

/* An import's failure kind: its error's word before ':' when it has one (as error_type), else the
 * stage it failed in ("detecting_error"): an import's errors are sentences, and the stage tells a
 * feed that cannot be read or parsed from a receiver that refuses the products. */
static void import_error_type(const struct job *j, char *out, size_t n)
{
    error_type(j->error, out, n);
    if (strcmp(out, "error") == 0 && j->stage && *j->stage)
        snprintf(out, n, "%.40s_error", j->stage);
}

static json_t *import_context(const struct import *im)
{
    return json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:I, s:I, s:I, s:I}", "id", im->id, "sourceName",
                     im->source_name, "sourceUrl", im->source_url, "importType",
                     import_type_name(im->type), "status", or_none(import_status_name(im->status)),
                     "totalProducts", (json_int_t)im->total_products, "processedProducts",
                     (json_int_t)im->processed_products, "failedProducts",
                     (json_int_t)im->failed_products, "deliveredProducts",
                     (json_int_t)im->delivered_products);
}

static json_t *job_context(const struct job *j)
{
    return json_pack(
        "{s:s, s:s, s:s, s:i, s:i, s:i, s:s?, s:s?, s:s?, s:I, s:I, s:I, s:I}", "id", j->id, "type",
        j->type, "status", job_status_name(j->status), "attempt", j->attempt, "maxAttempts",
        j->max_attempts, "progress", j->progress, "stage", j->stage, "error", j->error, "batchId",
        j->batch_id, "createdAt", (json_int_t)j->created_at, "startedAt", (json_int_t)j->started_at,
        "lastHeartbeat", (json_int_t)j->last_heartbeat, "progressAt", (json_int_t)j->progress_at);
}

/* What is left to do once an alert's transaction ends. */
struct raised {
    struct alerter *a;
    char *workspace;
    char *text; /* the alert, for the live events */
};

static void raised_after(void *arg, bool committed)
{
    struct raised *p = arg;
    if (committed && p->a->bus && p->text)
        ev_publish(p->a->bus, EV_ALERT, p->workspace, NULL, NULL, p->text);
    free(p->workspace);
    free(p->text);
    free(p);
}

/* Whether an alert with fingerprint [f0, f1] is to go out (the rate limit, kept in the store so
 * that every node sharing it limits alike), before anything is built for it; *suppressed gets how
 * many were held back since the last one that went out. Taken in tx: a rollback undoes it. */
static bool due(struct alerter *a, struct engine_tx *tx, const char *f0, const char *f1,
                int64_t *suppressed)
{
    *suppressed = 0;
    if (a->o.rate_window_ms < 0)
        return true;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", f0, f1);
    bool sent = false;
    struct err e;
    err_clear(&e);
    if (store_alert_take(engine_tx_store(tx), key, engine_now(a->eng), a->o.rate_window_ms, &sent,
                         suppressed, &e) < 0) {
        log_error("alert %s: %s", key, e.msg);
        return false;
    }
    if (!sent)
        log_info("alert %s held back (rate limit)", key);
    return sent;
}

/* Enqueue the deliveries of one alert (due said it may go) in the transaction tx. */
static void raise_alert(struct alerter *a, struct engine_tx *tx, json_t *alert,
                        const char *workspace, int64_t suppressed)
{
    json_object_set_new(alert, "suppressed", json_integer(suppressed));
    log_warn("alert %s: %s", json_string_value(json_object_get(alert, "kind")),
             json_string_value(json_object_get(alert, "message")));
    const char *targets[2];
    int nt = 0;
    if (a->sentry)
        targets[nt++] = "sentry";
    if (a->webhook)
        targets[nt++] = "webhook";
    for (int i = 0; i < nt; i++) {
        json_t *args = json_pack("{s:s, s:O}", "target", targets[i], "alert", alert);
        char *text = json_dumps(args, JSON_COMPACT);
        json_decref(args);
        struct job_spec spec = {.type = ALERT_TYPE, .args = text, .workspace = workspace};
        struct enqueue_result res;
        struct err e;
        err_clear(&e);
        if (engine_tx_enqueue(a->eng, tx, &spec, &res, &e) < 0)
            log_error("alert: cannot enqueue its delivery to %s: %s", targets[i], e.msg);
        free(text);
    }
    struct raised *p = xmalloc(sizeof *p);
    p->a = a;
    p->workspace = xstrdup(workspace);
    p->text = json_dumps(alert, JSON_COMPACT);
    engine_tx_after(tx, raised_after, p);
}

static json_t *new_alert(struct alerter *a, const char *kind, const char *level, json_t *tags,
                         json_t *context, json_t *fingerprint, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static json_t *new_alert(struct alerter *a, const char *kind, const char *level, json_t *tags,
                         json_t *context, json_t *fingerprint, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int64_t now = engine_now(a->eng);
    char id[UUID_STR_LEN];
    uuid_v7(id, now);
    return json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:o}", "id", id, "at", (json_int_t)now,
                     "kind", kind, "level", level, "message", msg, "tags", tags, "context", context,
                     "fingerprint", fingerprint);
}

/* In the transaction of every state change: the alerts it causes. */
static void on_change_tx(void *ctx, struct engine_tx *tx, const struct job_change *c)
{
    struct alerter *a = ctx;
    if (!c->type || strcmp(c->type, ALERT_TYPE) == 0)
        return; /* a delivery that fails is in the dead-letter queue, not another alert */
    bool stuck = c->cause && strcmp(c->cause, "timeout") != 0;
    if (c->to != JOB_FAILED && !stuck)
        return;
    struct job j;
    struct err e;
    err_clear(&e);
    if (store_fetch(engine_tx_store(tx), c->id, &j, &e) != 0) {
        log_error("alert for job %s: %s", c->id, e.msg);
        return;
    }
    bool session = a->session_type && strcmp(c->type, a->session_type) == 0;
    struct scrape_session ss = {0};
    bool have_ss =
        session && store_session_get(engine_tx_store(tx), NULL, j.id, true, &ss, &e) == 0;
    bool import = !session && a->import_type && strcmp(c->type, a->import_type) == 0;
    struct import im = {0};
    bool have_im = import && store_import_get(engine_tx_store(tx), NULL, j.id, true, &im, &e) == 0;
    const char *source = have_ss ? ss.source_url : have_im ? im.source_name : "unknown";
    json_t *ctxj = json_pack("{s:o}", "job", job_context(&j));
    if (have_im)
        json_object_set_new(ctxj, "import", import_context(&im));
    int64_t now = engine_now(a->eng), sup;
    json_t *alert;
    if (stuck) {
        int64_t since =
            strcmp(c->cause, "heartbeat_timeout") == 0 ? j.last_heartbeat : j.progress_at;
        json_object_set_new(ctxj, "stuck",
                            json_pack("{s:s, s:I, s:I}", "reason", c->cause, "stuckForMs",
                                      (json_int_t)(since > 0 ? now - since : 0), "detectedAt",
                                      (json_int_t)now));
        if (session && due(a, tx, "stuck-scraping-session", source, &sup)) {
            alert = new_alert(
                a, "session_stuck", "error",
                json_pack("{s:s, s:s, s:s, s:s, s:s}", "session_id", have_ss ? ss.id : "unknown",
                          "source_url", source, "job_id", j.id, "failure_reason", c->cause,
                          "workspace", j.workspace),
                json_incref(ctxj), json_pack("[s, s]", "stuck-scraping-session", source),
                "scraping session of %s is stuck (%s): %s", source, c->cause, or_none(c->message));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        } else if (import && due(a, tx, "stuck-import-job", source, &sup)) {
            alert = new_alert(
                a, "stuck_import_job", "error",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "import_job_id",
                          have_im ? im.id : "unknown", "job_type", j.type, "source_name", source,
                          "job_id", j.id, "failure_reason", c->cause, "workspace", j.workspace),
                json_incref(ctxj), json_pack("[s, s]", "stuck-import-job", source),
                "import of %s is stuck (%s): %s", source, c->cause, or_none(c->message));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        } else if (!session && !import && due(a, tx, "stuck-job", c->cause, &sup)) {
            alert = new_alert(a, "stuck_job", "error",
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "job_id", j.id, "job_type",
                                        j.type, "error_type", "stuck_job", "failure_reason",
                                        c->cause, "workspace", j.workspace),
                              json_incref(ctxj), json_pack("[s, s]", "stuck-job", c->cause),
                              "job %s (%s) is stuck: %s", j.id, j.type, or_none(c->message));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        }
        /* what recovery made of it */
        if (c->to == JOB_FAILED && due(a, tx, "restarts-exhausted", j.type, &sup)) {
            alert = new_alert(a, "restarts_exhausted", "error",
                              json_pack("{s:s, s:s, s:s, s:s}", "job_id", j.id, "job_type", j.type,
                                        "failure_reason", c->cause, "workspace", j.workspace),
                              json_incref(ctxj), json_pack("[s, s]", "restarts-exhausted", j.type),
                              "job %s (%s) failed after its last restart (%d of %d attempts)", j.id,
                              j.type, j.attempt, j.max_attempts);
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        } else if (c->to != JOB_FAILED && due(a, tx, "job-resumed", j.type, &sup)) {
            alert = new_alert(a, "job_resumed", "warning",
                              json_pack("{s:s, s:s, s:s, s:s}", "job_id", j.id, "job_type", j.type,
                                        "failure_reason", c->cause, "workspace", j.workspace),
                              json_incref(ctxj), json_pack("[s, s]", "job-resumed", j.type),
                              "job %s (%s) requeued to resume from its %s (attempt %d of %d next)",
                              j.id, j.type, j.checkpoint ? "checkpoint" : "start", j.attempt + 1,
                              j.max_attempts);
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        }
    } else {
        char etype[64];
        error_type(j.error, etype, sizeof etype);
        char fp0[JOB_TYPE_MAX + 16];
        snprintf(fp0, sizeof fp0, "%s-failed", j.type);
        if (session && due(a, tx, "scraping-session-failed", source, &sup)) {
            alert =
                new_alert(a, "session_failed", "error",
                          json_pack("{s:s, s:s, s:s, s:s, s:s}", "session_id",
                                    have_ss ? ss.id : "unknown", "source_url", source, "job_id",
                                    j.id, "error_type", etype, "workspace", j.workspace),
                          json_incref(ctxj), json_pack("[s, s]", "scraping-session-failed", source),
                          "scraping session of %s failed: %s", source, or_none(j.error));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        } else if (import && due(a, tx, "xml-import-job-failed", source, &sup)) {
            import_error_type(&j, etype, sizeof etype);
            alert = new_alert(
                a, "xml_import_job_failed", "error",
                json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "job_id", j.id, "source_name", source,
                          "error_type", etype, "import_job_id", have_im ? im.id : "unknown",
                          "stage", or_none(j.stage), "workspace", j.workspace),
                json_incref(ctxj), json_pack("[s, s]", "xml-import-job-failed", source),
                "import of %s failed after %d attempt%s: %s", source, j.attempt,
                j.attempt == 1 ? "" : "s", or_none(j.error));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        } else if (!session && !import && due(a, tx, fp0, or_none(j.stage), &sup)) {
            alert = new_alert(a, "job_failed", "error",
                              json_pack("{s:s, s:s, s:s, s:s, s:s}", "job_id", j.id, "job_type",
                                        j.type, "error_type", etype, "stage", or_none(j.stage),
                                        "workspace", j.workspace),
                              json_incref(ctxj), json_pack("[s, s]", fp0, or_none(j.stage)),
                              "job %s (%s) failed for good after %d attempt%s: %s", j.id, j.type,
                              j.attempt, j.attempt == 1 ? "" : "s", or_none(j.error));
            raise_alert(a, tx, alert, j.workspace, sup);
            json_decref(alert);
        }
    }
    json_decref(ctxj);
    if (have_ss)
        scrape_session_release(&ss);
    if (have_im)
        import_release(&im);
    job_release(&j);
}

/* ---- delivering ---- */

struct answer {
    char body[ANSWER_MAX];
    size_t len;
    int64_t retry_after_ms; /* from Retry-After; 0: none */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct answer *ans = arg;
    size_t len = size * n, room = sizeof ans->body - 1 - ans->len;
    size_t take = len < room ? len : room;
    memcpy(ans->body + ans->len, p, take);
    ans->len += take;
    ans->body[ans->len] = 0;
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct answer *ans = arg;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name && strncasecmp(p, name, sizeof name - 1) == 0) {
        char v[128];
        size_t k = len - (sizeof name - 1) < sizeof v - 1 ? len - (sizeof name - 1) : sizeof v - 1;
        memcpy(v, p + sizeof name - 1, k);
        v[k] = 0;
        char *end;
        long long secs = strtoll(v, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        if (end != v && !*end && secs >= 0) {
            ans->retry_after_ms = secs * 1000;
        } else {
            time_t t = curl_getdate(v, NULL);
            if (t > 0)
                ans->retry_after_ms = ((int64_t)t - (int64_t)time(NULL)) * 1000;
        }
        if (ans->retry_after_ms < 0)
            ans->retry_after_ms = 0;
        if (ans->retry_after_ms > RETRY_AFTER_MAX_MS)
            ans->retry_after_ms = RETRY_AFTER_MAX_MS;
    }
    return len;
}

/* POST body to url with headers; the HTTP status, or 0 with *why set when there was none. */
static long post(struct alerter *a, struct job_ctx *ctx, const char *url,
                 struct curl_slist *headers, const char *body, size_t len, struct answer *ans,
                 char *why, size_t nwhy)
{
    CURL *h = curl_easy_init();
    if (!h) {
        snprintf(why, nwhy, "cannot start an HTTP transfer");
        return 0;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)a->o.timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(a->o.timeout_ms / 2));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, ans);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "trawl-alerts");
    (void)ctx;
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(why, nwhy, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    curl_easy_cleanup(h);
    return status;
}

int handler_alert(struct job_ctx *ctx)
{
    struct alerter *a = job_ctx_arg(ctx);
    json_error_t je;
    json_t *args = json_loads(job_ctx_args(ctx), 0, &je);
    const char *t = json_string_value(json_object_get(args, "target"));
    json_t *alert = json_object_get(args, "alert");
    char target[16]; /* outlives args */
    snprintf(target, sizeof target, "%s", t ? t : "");
    if (!t || !json_is_object(alert)) {
        json_decref(args);
        return job_ctx_fail(ctx, false, "invalid_args: an alert delivery needs target and alert");
    }
    bool sentry = strcmp(target, "sentry") == 0;
    if ((sentry && !a->sentry) || (!sentry && (strcmp(target, "webhook") != 0 || !a->webhook))) {
        json_decref(args);
        /* configured when it was raised, not now: kept in the dead-letter queue for a retry */
        return job_ctx_fail(ctx, false, "not_configured: no %s to deliver alerts to now", target);
    }
    const char *url = sentry ? a->dsn.envelope_url : a->webhook;
    char service[1100];
    struct err e;
    err_clear(&e);
    if (url_origin(url, service, sizeof service, &e) < 0)
        snprintf(service, sizeof service, "%.1000s", url);
    bool probe = false;
    int64_t retry_at = 0;
    if (a->breakers && !breaker_allow(a->breakers, service, &probe, &retry_at)) {
        json_decref(args);
        return job_ctx_defer(ctx, retry_at, "breaker for %s is open", service);
    }
    char *body;
    size_t len = 0;
    struct curl_slist *hdr = NULL;
    char line[1200];
    if (sentry) {
        body = sentry_envelope(&a->dsn, alert, a->host, &len, &e);
        if (!body) {
            json_decref(args);
            if (probe)
                breaker_release(a->breakers, service);
            return job_ctx_fail(ctx, false, "invalid_alert: %s", e.msg);
        }
        char *auth = sentry_auth_header(&a->dsn);
        snprintf(line, sizeof line, "X-Sentry-Auth: %s", auth);
        free(auth);
        hdr = curl_slist_append(hdr, line);
        hdr = curl_slist_append(hdr, "Content-Type: application/x-sentry-envelope");
    } else {
        body = alert_webhook_body(alert, &len);
        char sig[ALERT_SIGNATURE_LEN];
        alert_sign(a->secret, body, len, sig);
        snprintf(line, sizeof line, "X-Trawl-Signature: %s", sig);
        hdr = curl_slist_append(hdr, line);
        snprintf(line, sizeof line, "X-Trawl-Delivery: %s",
                 json_string_value(json_object_get(alert, "id")));
        hdr = curl_slist_append(hdr, line);
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
    }
    hdr = curl_slist_append(hdr, "Expect:");
    struct answer ans = {.len = 0};
    char why[CURL_ERROR_SIZE + 64] = "";
    long status = post(a, ctx, url, hdr, body, len, &ans, why, sizeof why);
    curl_slist_free_all(hdr);
    free(body);
    json_decref(args);
    int64_t now = engine_now(job_ctx_engine(ctx));
    if (status >= 200 && status < 300) {
        if (a->breakers)
            breaker_success(a->breakers, service);
        char res[64];
        snprintf(res, sizeof res, "{\"target\":\"%s\",\"status\":%ld}", target, status);
        job_ctx_set_result(ctx, res);
        return 0;
    }
    if (status == 429 || (status == 503 && ans.retry_after_ms > 0)) {
        /* the receiver asks to wait: not a failure, no attempt spent */
        if (probe)
            breaker_release(a->breakers, service);
        int64_t wait = ans.retry_after_ms > 0 ? ans.retry_after_ms : 60000;
        return job_ctx_defer(ctx, now + wait, "%s answered %ld: waiting %lld ms", target, status,
                             (long long)wait);
    }
    if (status == 0 || status == 408 || status >= 500) {
        if (a->breakers)
            breaker_failure(a->breakers, service);
        if (status)
            return job_ctx_fail(ctx, true, "http_status: %s answered %ld: %.200s", target, status,
                                ans.body);
        return job_ctx_fail(ctx, true, "connect: %s: %s", target, why);
    }
    /* the receiver refuses this alert (a bad key, a malformed envelope): retrying cannot help */
    if (probe)
        breaker_release(a->breakers, service);
    return job_ctx_fail(ctx, false, "http_status: %s refused the alert with %ld: %.200s", target,
                        status, ans.body);
}

int alerter_new(struct engine *eng, struct ev_bus *bus, struct breakers *breakers,
                const struct alert_opts *o, struct alerter **out, struct err *e)
{
    *out = NULL;
    int rc = alert_opts_check(o, e);
    if (rc)
        return rc;
    struct alerter *a = xcalloc(1, sizeof *a);
    a->eng = eng;
    a->bus = bus;
    a->breakers = breakers;
    a->o = *o;
    if (!a->o.rate_window_ms)
        a->o.rate_window_ms = 60000;
    if (a->o.timeout_ms <= 0)
        a->o.timeout_ms = 10000;
    if (o->sentry_dsn) {
        sentry_dsn_parse(o->sentry_dsn, &a->dsn, e);
        a->sentry = true;
    }
    a->webhook = xstrdup(o->webhook_url);
    a->secret = xstrdup(o->webhook_secret);
    a->session_type = xstrdup(o->session_type);
    a->import_type = xstrdup(o->import_type);
    a->o.sentry_dsn = a->o.webhook_url = a->o.webhook_secret = a->o.session_type = NULL;
    a->o.import_type = NULL;
    if (gethostname(a->host, sizeof a->host - 1) != 0)
        snprintf(a->host, sizeof a->host, "trawl");
    engine_set_tx_hook(eng, on_change_tx, a);
    *out = a;
    return 0;
}

void alerter_free(struct alerter *a)
{
    if (!a)
        return;
    engine_set_tx_hook(a->eng, NULL, NULL);
    free(a->webhook);
    free(a->secret);
    free(a->session_type);
    free(a->import_type);
    free(a);
}
