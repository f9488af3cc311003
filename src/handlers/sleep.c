/* sleep: sleeps args.ms milliseconds (default 1000) in steps of args.step_ms (default 100),
 * reporting progress and saving a checkpoint after each step, so a recovered job sleeps only
 * what is left. Honours cancellation between steps. Result: {"slept_ms", "resumed_from_ms"}. */
#include "handlers/handlers.h"

#include "base/clock.h"

#include <jansson.h>
#include <stdio.h>

int handler_sleep(struct job_ctx *ctx)
{
    json_error_t je;
    json_t *args = json_loads(job_ctx_args(ctx), 0, &je);
    if (!args)
        return job_ctx_fail(ctx, false, "sleep: args are not JSON: %s", je.text);
    json_int_t ms = 1000, step = 100;
    json_t *v;
    if ((v = json_object_get(args, "ms")) && !json_is_integer(v)) {
        json_decref(args);
        return job_ctx_fail(ctx, false, "sleep: args.ms must be an integer");
    }
    if (v)
        ms = json_integer_value(v);
    if ((v = json_object_get(args, "step_ms")) && json_is_integer(v))
        step = json_integer_value(v);
    json_decref(args);
    if (ms < 0 || ms > 7 * 24 * 3600 * 1000LL)
        return job_ctx_fail(ctx, false, "sleep: args.ms must be between 0 and one week");
    if (step <= 0)
        step = 100;

    json_int_t done = 0, resumed = 0;
    const char *cp = job_ctx_checkpoint(ctx);
    if (cp) {
        json_t *c = json_loads(cp, 0, &je);
        if (c && json_is_integer(json_object_get(c, "slept_ms")))
            resumed = done = json_integer_value(json_object_get(c, "slept_ms"));
        json_decref(c);
    }
    job_ctx_progress(ctx, ms ? (int)(done * 100 / ms) : 100, "sleeping");
    while (done < ms) {
        if (job_ctx_cancelled(ctx))
            return job_ctx_fail(ctx, false, "sleep: cancelled after %lld ms", (long long)done);
        json_int_t d = ms - done < step ? ms - done : step;
        clock_sleep_ms(d);
        done += d;
        char buf[64];
        snprintf(buf, sizeof buf, "{\"slept_ms\":%lld}", (long long)done);
        struct err e;
        if (job_ctx_save_checkpoint(ctx, buf, &e) != 0)
            return job_ctx_fail(ctx, true, "sleep: %s", e.msg);
        job_ctx_progress(ctx, (int)(done * 100 / ms), "sleeping");
    }
    char res[96];
    snprintf(res, sizeof res, "{\"slept_ms\":%lld,\"resumed_from_ms\":%lld}", (long long)done,
             (long long)resumed);
    job_ctx_set_result(ctx, res);
    return 0;
}
