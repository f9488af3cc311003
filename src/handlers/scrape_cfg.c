/* A scraping session's settings: checked as a user sends them (every field named in its error),
 * completed with their defaults, and read back from the session's row by its stages. */
#include "handlers/scrape_int.h"

#include "base/xalloc.h"
#include "fetch/url.h"
#include "parse/product.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cfg_release(struct cfg *c)
{
    free(c->source);
    for (int i = 0; i < c->ninc; i++)
        regfree(&c->inc[i]);
    for (int i = 0; i < c->nexc; i++)
        regfree(&c->exc[i]);
    json_decref(c->rules);
    for (int i = 0; i < c->ncats; i++)
        free(c->cats[i]);
    free(c->webhook_url);
    free(c->webhook_secret);
    memset(c, 0, sizeof *c);
}

static int field_int(const json_t *in, const char *k, int64_t min, int64_t max, int64_t def,
                     int64_t *out, struct err *e)
{
    json_t *v = json_object_get(in, k);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(e, TRAWL_EINVAL, false, "%s must be an integer from %lld to %lld", k,
                       (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static int field_bool(const json_t *in, const char *k, bool def, bool *out, struct err *e)
{
    json_t *v = json_object_get(in, k);
    if (!v || json_is_null(v)) {
        *out = def;
        return 0;
    }
    if (!json_is_boolean(v))
        return err_set(e, TRAWL_EINVAL, false, "%s must be true or false", k);
    *out = json_is_true(v);
    return 0;
}

static int patterns(const json_t *in, const char *k, regex_t *re, int *n, struct err *e)
{
    json_t *a = json_object_get(in, k);
    *n = 0;
    if (!a || json_is_null(a))
        return 0;
    if (!json_is_array(a) || json_array_size(a) > MAX_PATTERNS)
        return err_set(e, TRAWL_EINVAL, false,
                       "%s must be an array of at most %d regular expressions", k, MAX_PATTERNS);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *p = json_string_value(json_array_get(a, i));
        if (!p || !*p || strlen(p) > 1000)
            return err_set(e, TRAWL_EINVAL, false,
                           "%s[%zu] must be a regular expression of 1 to 1000 characters", k, i);
        int rc = regcomp(&re[*n], p, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char msg[256];
            regerror(rc, &re[*n], msg, sizeof msg);
            return err_set(e, TRAWL_EINVAL, false,
                           "%s[%zu] '%s' is not a valid regular expression: %s", k, i, p, msg);
        }
        (*n)++;
    }
    return 0;
}

/* The sync stage's settings: {"mode": "replace" | "diff", "webhook": {"url", "secret",
 * "batch_size"}}. */
static int sync_load(const json_t *in, struct cfg *c, struct err *e)
{
    c->sync_mode = SYNC_REPLACE;
    c->webhook_batch = 100;
    json_t *sy = json_object_get(in, "sync");
    if (!sy || json_is_null(sy))
        return 0;
    if (!json_is_object(sy))
        return err_set(e, TRAWL_EINVAL, false, "sync must be an object");
    const char *k;
    json_t *v;
    json_object_foreach(sy, k, v)
    {
        if (strcmp(k, "mode") && strcmp(k, "webhook"))
            return err_set(e, TRAWL_EINVAL, false,
                           "unknown setting \"sync.%s\" (expected mode or webhook)", k);
    }
    json_t *mode = json_object_get(sy, "mode");
    if (mode && !json_is_null(mode)) {
        const char *m = json_string_value(mode);
        if (!m || (strcmp(m, "replace") && strcmp(m, "diff")))
            return err_set(e, TRAWL_EINVAL, false, "sync.mode must be \"replace\" or \"diff\"");
        c->sync_mode = strcmp(m, "diff") == 0 ? SYNC_DIFF : SYNC_REPLACE;
    }
    json_t *wh = json_object_get(sy, "webhook");
    if (!wh || json_is_null(wh))
        return 0;
    if (!json_is_object(wh))
        return err_set(e, TRAWL_EINVAL, false, "sync.webhook must be an object");
    json_object_foreach(wh, k, v)
    {
        if (strcmp(k, "url") && strcmp(k, "secret") && strcmp(k, "batch_size"))
            return err_set(e, TRAWL_EINVAL, false,
                           "unknown setting \"sync.webhook.%s\" (expected url, secret or "
                           "batch_size)",
                           k);
    }
    const char *url = json_string_value(json_object_get(wh, "url"));
    if (!url)
        return err_set(e, TRAWL_EINVAL, false, "sync.webhook.url is required: where to POST");
    struct err e1;
    if (url_normalize(url, &c->webhook_url, &e1) != 0)
        return err_set(e, TRAWL_EINVAL, false, "sync.webhook.url: %s", e1.msg);
    json_t *sec = json_object_get(wh, "secret");
    if (sec && !json_is_null(sec)) {
        const char *s = json_string_value(sec);
        if (!s || !*s || strlen(s) > 256)
            return err_set(e, TRAWL_EINVAL, false,
                           "sync.webhook.secret must be a string of 1 to 256 characters");
        c->webhook_secret = xstrdup(s);
    }
    int64_t bs;
    if (field_int(wh, "batch_size", 1, 1000, 100, &bs, &e1))
        return err_set(e, TRAWL_EINVAL, false, "sync.webhook.%s", e1.msg);
    c->webhook_batch = (int)bs;
    return 0;
}

int cfg_load(const json_t *in, struct cfg *c, json_t **out, struct err *e)
{
    memset(c, 0, sizeof *c);
    int rc = 0;
    if (!json_is_object(in))
        return err_set(e, TRAWL_EINVAL, false, "the session's settings must be a JSON object");
    const char *src = json_string_value(json_object_get(in, "source_url"));
    if (!src)
        return err_set(e, TRAWL_EINVAL, false, "source_url is required: the site's start page");
    struct err e1;
    if (url_normalize(src, &c->source, &e1) != 0)
        return err_set(e, TRAWL_EINVAL, false, "source_url: %s", e1.msg);
    struct url_parts up;
    if (url_split(c->source, &up, &e1) != 0) {
        rc = err_set(e, TRAWL_EINVAL, false, "source_url: %s", e1.msg);
        goto fail;
    }
    snprintf(c->host, sizeof c->host, "%s", up.host);
    url_parts_release(&up);
    snprintf(c->site, sizeof c->site, "%s",
             strncmp(c->host, "www.", 4) == 0 ? c->host + 4 : c->host);
    url_origin(c->source, c->origin, sizeof c->origin, &e1);
    const char *mode = json_string_value(json_object_get(in, "mode"));
    if (json_object_get(in, "mode") && !mode) {
        rc = err_set(e, TRAWL_EINVAL, false, "mode must be \"sitemap\", \"crawl\" or \"both\"");
        goto fail;
    }
    if (!mode || !strcmp(mode, "both"))
        c->mode = MODE_SITEMAP | MODE_CRAWL;
    else if (!strcmp(mode, "sitemap"))
        c->mode = MODE_SITEMAP;
    else if (!strcmp(mode, "crawl"))
        c->mode = MODE_CRAWL;
    else {
        rc = err_set(e, TRAWL_EINVAL, false,
                     "mode must be \"sitemap\", \"crawl\" or \"both\", not \"%s\"", mode);
        goto fail;
    }
    int64_t v;
    if ((rc = field_int(in, "max_pages", 1, 1000000, 1000, &v, e)))
        goto fail;
    c->max_pages = (int)v;
    if ((rc = field_int(in, "max_depth", 0, 10000, 3, &v, e)))
        goto fail;
    c->max_depth = (int)v;
    if ((rc = field_int(in, "concurrency", 1, 32, 4, &v, e)))
        goto fail;
    c->concurrency = (int)v;
    if ((rc = field_int(in, "delay_ms", 0, 60000, 0, &c->delay_ms, e)) ||
        (rc = field_int(in, "timeout_ms", 1000, 300000, 0, &c->timeout_ms, e)) ||
        (rc = field_bool(in, "allow_subdomains", false, &c->subdomains, e)) ||
        (rc = field_bool(in, "ignore_query_parameters", false, &c->ignore_query, e)) ||
        (rc = field_bool(in, "respect_robots", true, &c->robots, e)) ||
        (rc = patterns(in, "include_paths", c->inc, &c->ninc, e)) ||
        (rc = patterns(in, "exclude_paths", c->exc, &c->nexc, e)))
        goto fail;
    json_t *cats = json_object_get(in, "categories");
    if (cats && !json_is_null(cats)) {
        if (!json_is_array(cats) || json_array_size(cats) > MAX_CATEGORIES) {
            rc = err_set(e, TRAWL_EINVAL, false,
                         "categories must be an array of at most %d strings", MAX_CATEGORIES);
            goto fail;
        }
        for (size_t i = 0; i < json_array_size(cats); i++) {
            const char *s = json_string_value(json_array_get(cats, i));
            if (!s || !*s) {
                rc = err_set(e, TRAWL_EINVAL, false, "categories[%zu] must be a non-empty string",
                             i);
                goto fail;
            }
            c->cats[c->ncats++] = xstrdup(s);
        }
    }
    json_t *ex = json_object_get(in, "extract");
    c->structured = true;
    if (ex && !json_is_null(ex)) {
        if (!json_is_object(ex)) {
            rc = err_set(e, TRAWL_EINVAL, false, "extract must be an object");
            goto fail;
        }
        if ((rc = field_bool(ex, "structured", true, &c->structured, e)))
            goto fail;
        json_t *rules = json_object_get(ex, "rules");
        if (rules && !json_is_null(rules)) {
            if ((rc = product_rules_check(rules, &e1))) {
                rc = err_set(e, TRAWL_EINVAL, false, "extract.rules: %s", e1.msg);
                goto fail;
            }
            c->rules = json_incref(rules);
        }
        json_t *fm = json_object_get(ex, "formats");
        if (fm && !json_is_null(fm)) {
            if (!json_is_array(fm)) {
                rc = err_set(e, TRAWL_EINVAL, false, "extract.formats must be an array");
                goto fail;
            }
            static const char *const names[] = {"markdown", "text", "html", "links", "metadata"};
            for (size_t i = 0; i < json_array_size(fm); i++) {
                const char *f = json_string_value(json_array_get(fm, i));
                unsigned bit = 0;
                for (unsigned k = 0; f && k < 5; k++)
                    if (!strcmp(f, names[k]))
                        bit = 1u << k;
                if (!bit) {
                    rc = err_set(
                        e, TRAWL_EINVAL, false,
                        "extract.formats[%zu] must be markdown, text, html, links or metadata", i);
                    goto fail;
                }
                c->formats |= bit;
            }
        }
    }
    if ((rc = sync_load(in, c, e)))
        goto fail;
    if (out) {
        json_t *o = json_deep_copy(in);
        json_object_set_new(o, "source_url", json_string(c->source)); /* set_new steals */
        static const char *const modes[] = {"", "sitemap", "crawl", "both"};
        json_object_set_new(o, "mode", json_string(modes[c->mode]));
        json_object_set_new(o, "max_pages", json_integer(c->max_pages));
        json_object_set_new(o, "max_depth", json_integer(c->max_depth));
        json_object_set_new(o, "concurrency", json_integer(c->concurrency));
        json_object_set_new(o, "delay_ms", json_integer(c->delay_ms));
        json_object_set_new(o, "allow_subdomains", json_boolean(c->subdomains));
        json_object_set_new(o, "ignore_query_parameters", json_boolean(c->ignore_query));
        json_object_set_new(o, "respect_robots", json_boolean(c->robots));
        json_t *oex = json_object_get(o, "extract");
        if (!json_is_object(oex)) {
            oex = json_object();
            json_object_set_new(o, "extract", oex);
        }
        json_object_set_new(oex, "structured", json_boolean(c->structured));
        json_t *osync = json_object_get(o, "sync");
        if (!json_is_object(osync)) {
            osync = json_object();
            json_object_set_new(o, "sync", osync);
        }
        json_object_set_new(osync, "mode",
                            json_string(c->sync_mode == SYNC_DIFF ? "diff" : "replace"));
        json_t *owh = json_object_get(osync, "webhook");
        if (json_is_object(owh)) {
            json_object_set_new(owh, "url", json_string(c->webhook_url));
            json_object_set_new(owh, "batch_size", json_integer(c->webhook_batch));
        }
        *out = o;
    }
    return 0;
fail:
    cfg_release(c);
    return rc;
}

static bool known_key(const char *k, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, keys[i]))
            return true;
    return false;
}

int scrape_config_check(const json_t *in, json_t **out, struct err *e)
{
    static const char *const keys[] = {"source_url",
                                       "mode",
                                       "max_pages",
                                       "max_depth",
                                       "include_paths",
                                       "exclude_paths",
                                       "allow_subdomains",
                                       "ignore_query_parameters",
                                       "categories",
                                       "extract",
                                       "concurrency",
                                       "delay_ms",
                                       "respect_robots",
                                       "timeout_ms",
                                       "sync"};
    static const char *const ekeys[] = {"structured", "rules", "formats"};
    const char *k;
    json_t *v;
    /* a misspelt setting would otherwise be ignored without a word */
    json_object_foreach((json_t *)in, k, v)
    {
        if (!known_key(k, keys, sizeof keys / sizeof keys[0]))
            return err_set(e, TRAWL_EINVAL, false, "unknown setting \"%s\"", k);
    }
    json_t *ex = json_object_get(in, "extract");
    if (json_is_object(ex)) {
        json_object_foreach(ex, k, v)
        {
            if (!known_key(k, ekeys, sizeof ekeys / sizeof ekeys[0]))
                return err_set(e, TRAWL_EINVAL, false,
                               "unknown setting \"extract.%s\" (expected structured, rules or "
                               "formats)",
                               k);
        }
    }
    struct cfg c;
    int rc = cfg_load(in, &c, out, e);
    if (!rc)
        cfg_release(&c);
    return rc;
}

int stage_session(struct job_ctx *ctx, struct scrape_session *ss, struct cfg *c)
{
    json_t *args = json_loads(job_ctx_args(ctx), 0, NULL);
    const char *sid = json_string_value(json_object_get(args, "session_id"));
    char id[UUID_STR_LEN];
    snprintf(id, sizeof id, "%s", sid ? sid : "");
    json_decref(args);
    if (!uuid_valid(id))
        return job_ctx_fail(ctx, false, "invalid_args: args.session_id is not a session id");
    struct err e;
    err_clear(&e);
    struct store *s = engine_store(job_ctx_engine(ctx));
    if (store_session_get(s, NULL, id, false, ss, &e) != 0)
        return job_ctx_fail(ctx, e.code != TRAWL_ENOTFOUND, "session: %s", e.msg);
    json_t *config = json_loads(ss->config, 0, NULL);
    int rc = config ? cfg_load(config, c, NULL, &e)
                    : err_set(&e, TRAWL_EINVAL, false, "stored settings are not JSON");
    json_decref(config);
    if (rc) {
        scrape_session_release(ss);
        return job_ctx_fail(ctx, false, "session settings: %s", e.msg);
    }
    return 0;
}
