/* The xml_import job: a feed imported from its file (fetched first when the import names a URL),
 * stage by stage as import.h says. The import's own status and counts are written as it goes
 * (each write refused once the import was cancelled); the job's checkpoint says how far the
 * processing got, and the store's records say which were delivered. */
#include "handlers/import.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "handlers/import_int.h"
#include "parse/feed_detect.h"
#include "parse/feed_map.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int import_feed_path(const char *dir, const char *id, char *out, size_t n)
{
    int k = snprintf(out, n, "%s/%s.feed", dir, id);
    return k < 0 || (size_t)k >= n ? TRAWL_ETOOBIG : 0;
}

/* ---- the import's row ---- */

struct set_args {
    const char *id;
    struct import_update u;
    int64_t now;
};

static int set_fn(struct store *s, void *arg, struct err *e)
{
    struct set_args *a = arg;
    return store_import_update(s, a->id, &a->u, a->now, e) < 0 ? e->code : 0;
}

int import_set(struct import_run *u, struct import_update *up, struct err *e)
{
    if (!up->if_status)
        up->if_status = IMPORT_NOT_ENDED;
    struct set_args a = {u->im.id, *up, engine_now(u->eng)};
    return engine_exec(u->eng, set_fn, &a, e);
}

int import_set_status(struct import_run *u, int status, const char *stage, int progress)
{
    struct err e;
    err_clear(&e);
    struct import_update up = {.set = IMPORT_SET_STATUS, .status = status};
    if (status == IMPORT_COMPLETED) {
        up.set |= IMPORT_SET_COMPLETED_AT;
        up.completed_at = engine_now(u->eng);
    }
    int rc = import_set(u, &up, &e);
    if (rc == TRAWL_ESTATE)
        return job_ctx_fail(u->ctx, false, "the import was cancelled");
    if (rc)
        return job_ctx_fail(u->ctx, true, "store: %s", e.msg);
    u->im.status = status;
    job_ctx_progress(u->ctx, progress, stage);
    return 0;
}

int import_fail(struct import_run *u, bool retryable, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct job *job = job_ctx_job(u->ctx);
    if (!retryable || job->attempt >= job->max_attempts) {
        /* the job ends here: so does the import, saying why */
        struct err e;
        err_clear(&e);
        struct import_update up = {
            .set = IMPORT_SET_STATUS | IMPORT_SET_ERROR | IMPORT_SET_COMPLETED_AT,
            .status = IMPORT_FAILED,
            .error_message = msg,
            .completed_at = engine_now(u->eng),
        };
        if (import_set(u, &up, &e) != 0 && e.code != TRAWL_ESTATE)
            log_warn("import %s: recording its failure: %s", u->im.id, e.msg);
    }
    return job_ctx_fail(u->ctx, retryable, "%s", msg);
}

/* ---- the feed's file ---- */

static int sink_write(void *ctx, const void *data, size_t n)
{
    return fwrite(data, 1, n, ctx) == n ? 0 : -1;
}

/* Fetch the import's URL into its file (under a temporary name, renamed once complete and
 * synced, so a crash leaves no half feed behind). */
static int download(struct import_run *u, const char *path)
{
    struct importer *imp = u->imp;
    if (!imp->cr || !imp->cr->fetcher)
        return import_fail(u, false, "this worker has no fetcher to download %s with",
                           u->im.source_url);
    char tmp[4300];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return import_fail(u, true, "cannot write %s: %s", tmp, strerror(errno));
    struct fetch_req req = {
        .url = u->im.source_url,
        .cancel = job_ctx_cancel_flag(u->ctx),
        .no_robots = true, /* the user named this one file */
        .no_defer = true,
        .sink = sink_write,
        .sink_ctx = f,
        .sink_max = imp->url_max > 0 ? imp->url_max : IMPORT_URL_MAX_DEFAULT,
        .timeout_ms = 3600 * 1000,
    };
    struct fetch_result res;
    fetch_run(imp->cr->fetcher, &req, &res);
    bool ok = res.kind == FETCH_OK && res.http_status >= 200 && res.http_status < 300;
    bool flushed = fflush(f) == 0 && fsync(fileno(f)) == 0;
    fclose(f);
    int ret = 0;
    if (!ok) {
        unlink(tmp);
        ret = import_fail(u, res.retryable, "fetching %s: %s", u->im.source_url,
                          res.error[0] ? res.error : "no answer");
    } else if (!flushed || rename(tmp, path) != 0) {
        unlink(tmp);
        ret = import_fail(u, true, "keeping the feed of %s: %s", u->im.source_url, strerror(errno));
    }
    fetch_result_release(&res);
    return ret;
}

ssize_t import_read(void *ctx, void *buf, size_t cap, struct err *e)
{
    struct import_reader *r = ctx;
    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n >= 0) {
            r->bytes += n;
            return n;
        }
        if (errno != EINTR)
            return err_set(e, TRAWL_EIO, true, "reading the feed: %s", strerror(errno));
    }
}

int import_open(struct import_run *u, struct import_reader *r)
{
    char path[4200];
    if (import_feed_path(u->imp->dir, u->im.id, path, sizeof path) != 0)
        return import_fail(u, false, "the import folder's path is too long");
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0 && errno == ENOENT && u->im.source_url) {
        int ret = import_set_status(u, IMPORT_PARSING, "parsing", 0);
        if (ret)
            return ret;
        if ((ret = download(u, path)) != 0)
            return ret;
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    if (r->fd < 0)
        return import_fail(u, false, "the feed's file %s cannot be read: %s", path,
                           strerror(errno));
    struct stat st;
    r->size = fstat(r->fd, &st) == 0 ? st.st_size : 0;
    r->bytes = 0;
    return 0;
}

void import_close(struct import_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
}

struct feed_opts import_feed_opts(const struct import_run *u)
{
    struct feed_opts o = {0};
    o.format = u->im.type == IMPORT_XML    ? FEED_XML
               : u->im.type == IMPORT_CSV  ? FEED_CSV
               : u->im.type == IMPORT_JSON ? FEED_JSON
                                           : FEED_UNKNOWN;
    return o;
}

/* ---- the handler ---- */

static int finish(struct import_run *u)
{
    struct err e;
    err_clear(&e);
    struct store *s = engine_store(u->eng);
    struct import_record_counts rc;
    int64_t failed = 0;
    if (store_import_records_count(s, u->im.id, &rc, &e) != 0 ||
        store_import_items_count(s, u->im.id, &failed, &e) != 0)
        return import_fail(u, true, "store: %s", e.msg);
    int ret = import_set_status(u, IMPORT_COMPLETED, "done", 100);
    if (ret)
        return ret;
    json_t *res = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}", "import_id", u->im.id, "status",
                            "completed", "total_products", (json_int_t)(rc.total + failed),
                            "processed_products", (json_int_t)rc.total, "failed_products",
                            (json_int_t)failed, "delivered_products", (json_int_t)rc.delivered);
    if (u->im.webhook_url)
        json_object_set_new(res, "webhook_batches", json_integer(rc.last_batch + 1));
    char *text = json_dumps(res, JSON_COMPACT);
    job_ctx_set_result(u->ctx, text);
    free(text);
    json_decref(res);
    return 0;
}

int handler_import(struct job_ctx *ctx)
{
    struct import_run u = {.ctx = ctx, .eng = job_ctx_engine(ctx), .imp = job_ctx_arg(ctx)};
    struct err e;
    err_clear(&e);
    json_t *args = json_loads(job_ctx_args(ctx), 0, NULL);
    const char *id = json_string_value(json_object_get(args, "import_id"));
    bool started = json_is_true(json_object_get(args, "started"));
    int ret = 0;
    if (!u.imp || !u.imp->dir) {
        ret = job_ctx_fail(ctx, false, "this worker has no import folder");
        goto out;
    }
    if (!id) {
        ret = job_ctx_fail(ctx, false, "args: import_id is required");
        goto out;
    }
    struct store *s = engine_store(u.eng);
    int rc = store_import_get(s, NULL, id, false, &u.im, &e);
    if (rc) {
        ret = job_ctx_fail(ctx, rc != TRAWL_ENOTFOUND, "import %s: %s", id, e.msg);
        goto out;
    }
    u.have_im = true;
    if (u.im.status == IMPORT_CANCELLED) {
        ret = job_ctx_fail(ctx, false, "the import was cancelled");
        goto out;
    }
    if (u.im.webhook_url && store_import_secret(s, id, &u.secret, &e) != 0) {
        ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
        goto out;
    }
    const char *cp = job_ctx_checkpoint(ctx);
    json_t *cpj = cp ? json_loads(cp, 0, NULL) : NULL;
    const char *phase = json_string_value(json_object_get(cpj, "phase"));
    u.after = json_integer_value(json_object_get(cpj, "after"));
    bool processed = phase && strcmp(phase, "delivering") == 0;
    json_decref(cpj);

    if (!processed) {
        if (!u.im.detected_fields) {
            if ((ret = import_detect(&u)) != 0)
                goto out;
            if (u.im.mode == IMPORT_PREVIEW && !started) {
                ret = import_set_status(&u, IMPORT_AWAITING_MAPPINGS, "detecting", 100);
                if (!ret) {
                    char res[200];
                    snprintf(res, sizeof res,
                             "{\"import_id\":\"%s\",\"status\":\"awaiting_mappings\"}", id);
                    job_ctx_set_result(ctx, res);
                }
                goto out;
            }
        }
        if ((ret = import_process(&u)) != 0)
            goto out;
        if (job_ctx_save_checkpoint(ctx, "{\"phase\":\"delivering\"}", &e) != 0)
            log_warn("import %s: checkpoint: %s", id, e.msg);
    }
    if (u.im.webhook_url && (ret = import_deliver(&u)) != 0)
        goto out;
    ret = finish(&u);
out:
    json_decref(args);
    if (u.have_im)
        import_release(&u.im);
    free(u.secret);
    return ret;
}
