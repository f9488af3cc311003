/* Job specs read from JSON (spec_json.h): one reader for every surface that takes them. */
#include "engine/spec_json.h"

#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS (INT64_C(24) * 3600 * 1000)

void spec_mem_release(struct spec_mem *m)
{
    for (size_t i = 0; m && i < m->n; i++)
        free(m->ptrs[i]);
    if (m) {
        free(m->ptrs);
        memset(m, 0, sizeof *m);
    }
}

static void *keep(struct spec_mem *m, void *p)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->ptrs = xrealloc(m->ptrs, m->cap * sizeof *m->ptrs);
    }
    m->ptrs[m->n++] = p;
    return p;
}

static int get_str(const json_t *obj, const char *key, size_t max, const char *where,
                   const char **out, struct err *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return err_set(e, TRAWL_EINVAL, false, "%s: %s must be a string", where, key);
    if (json_string_length(v) == 0 || json_string_length(v) > max)
        return err_set(e, TRAWL_EINVAL, false, "%s: %s must be 1 to %zu characters", where, key,
                       max);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return err_set(e, TRAWL_EINVAL, false, "%s: %s must not contain NUL characters", where,
                       key);
    *out = json_string_value(v);
    return 0;
}

static int get_int(const json_t *obj, const char *key, int64_t min, int64_t max, const char *where,
                   int64_t *out, struct err *e)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return err_set(e, TRAWL_EINVAL, false, "%s: %s must be an integer from %lld to %lld", where,
                       key, (long long)min, (long long)max);
    *out = json_integer_value(v);
    return 0;
}

static const char *const keys_[] = {
    "type",          "queue",        "args",  "priority", "maxAttempts", "timeoutMs",
    "backoffBaseMs", "backoffCapMs", "runAt", "delayMs",  "batchId",     "parentId",
    "uniqueKey",     "input",        "next",  "join",
};

/* path: where the spec is ("jobs[2].next[0]"; "" for a lone job, named "the job" in messages) */
static int read_one(const json_t *obj, const struct spec_json_opts *o, const char *path,
                    struct job_spec *s, struct spec_mem *m, int depth, struct err *e)
{
    const char *where = *path ? path : "the job";
    const char *dot = *path ? "." : "";
    memset(s, 0, sizeof *s);
    if (!json_is_object(obj))
        return err_set(e, TRAWL_EINVAL, false, "%s must be a JSON object", where);
    if (depth > CHAIN_DEPTH_MAX)
        return err_set(e, TRAWL_EINVAL, false, "the chain is deeper than %d stages (at %.100s)",
                       CHAIN_DEPTH_MAX, where);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof keys_ / sizeof keys_[0] && !known; i++)
            known = strcmp(k, keys_[i]) == 0;
        /* a misspelt field (nxt, maxAttempt) would otherwise be dropped without a word */
        if (!known)
            return err_set(e, TRAWL_EINVAL, false, "%s: unknown field \"%.64s\"", where, k);
    }
    s->workspace = o->workspace;
    int rc;
    if ((rc = get_str(obj, "type", JOB_TYPE_MAX, where, &s->type, e)) ||
        (rc = get_str(obj, "queue", JOB_KEY_MAX, where, &s->queue, e)) ||
        (rc = get_str(obj, "batchId", JOB_KEY_MAX, where, &s->batch_id, e)) ||
        (rc = get_str(obj, "parentId", 64, where, &s->parent_id, e)) ||
        (rc = get_str(obj, "uniqueKey", JOB_KEY_MAX, where, &s->unique_key, e)))
        return rc;
    if (!s->type)
        return err_set(e, TRAWL_EINVAL, false, "%s: type is required", where);
    const char *why = o->refuse_type ? o->refuse_type(s->type) : NULL;
    if (why)
        return err_set(e, TRAWL_EINVAL, false, "%s: %s", where, why);
    int64_t v64 = 0;
    if ((rc = get_int(obj, "priority", JOB_PRIORITY_MIN, JOB_PRIORITY_MAX, where, &v64, e)))
        return rc;
    s->priority = (int)v64;
    v64 = 0;
    if ((rc = get_int(obj, "maxAttempts", 1, JOB_ATTEMPTS_MAX, where, &v64, e)))
        return rc;
    s->max_attempts = (int)v64;
    int64_t delay = 0;
    if ((rc = get_int(obj, "timeoutMs", 1, 7 * DAY_MS, where, &s->timeout_ms, e)) ||
        (rc = get_int(obj, "backoffBaseMs", 1, DAY_MS, where, &s->backoff_base_ms, e)) ||
        (rc = get_int(obj, "backoffCapMs", 1, DAY_MS, where, &s->backoff_cap_ms, e)) ||
        (rc = get_int(obj, "runAt", 1, INT64_C(1) << 50, where, &s->run_at, e)) ||
        (rc = get_int(obj, "delayMs", 0, 365 * DAY_MS, where, &delay, e)))
        return rc;
    if (delay > 0)
        s->run_at = o->now + delay;
    json_t *args = json_object_get(obj, "args");
    if (args && !json_is_null(args)) {
        if (!json_is_object(args))
            return err_set(e, TRAWL_EINVAL, false, "%s: args must be a JSON object", where);
        s->args = keep(m, json_dumps(args, JSON_COMPACT));
    }
    json_t *input = json_object_get(obj, "input");
    if (input)
        s->input = keep(m, json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY));
    json_t *next = json_object_get(obj, "next");
    if (next && !json_is_null(next)) {
        bool one = json_is_object(next);
        if (!one && !json_is_array(next))
            return err_set(e, TRAWL_EINVAL, false,
                           "%s: next must be a job spec or an array of job specs", where);
        size_t n = one ? 1 : json_array_size(next);
        if (n > CHAIN_SPEC_MAX)
            return err_set(e, TRAWL_EINVAL, false, "%s: next holds more than %d stages", where,
                           CHAIN_SPEC_MAX);
        struct job_spec *arr = keep(m, xcalloc(n ? n : 1, sizeof *arr));
        for (size_t i = 0; i < n; i++) {
            char sub[256];
            if (one)
                snprintf(sub, sizeof sub, "%.200s%snext", path, dot);
            else
                snprintf(sub, sizeof sub, "%.200s%snext[%zu]", path, dot, i);
            rc = read_one(one ? next : json_array_get(next, i), o, sub, &arr[i], m, depth + 1, e);
            if (rc)
                return rc;
        }
        s->next = arr;
        s->nnext = n;
    }
    json_t *join = json_object_get(obj, "join");
    if (join && !json_is_null(join)) {
        char sub[256];
        snprintf(sub, sizeof sub, "%.200s%sjoin", path, dot);
        struct job_spec *js = keep(m, xcalloc(1, sizeof *js));
        rc = read_one(join, o, sub, js, m, depth + 1, e);
        if (rc)
            return rc;
        s->join = js;
    }
    return 0;
}

int spec_from_json(const json_t *obj, const struct spec_json_opts *o, const char *where,
                   struct job_spec *out, struct spec_mem *mem, struct err *e)
{
    struct spec_json_opts none = {0};
    return read_one(obj, o ? o : &none, where ? where : "", out, mem, 0, e);
}
