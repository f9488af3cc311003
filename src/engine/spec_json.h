/* Job specs read from JSON, as the API, pipelines and schedules take them:
 *   {"type": "...", "queue": "...", "args": {...}, "priority": 0, "maxAttempts": 3,
 *    "timeoutMs": ..., "backoffBaseMs": ..., "backoffCapMs": ..., "runAt": ms, "delayMs": ms,
 *    "batchId": "...", "parentId": "...", "uniqueKey": "...", "input": <any JSON>,
 *    "next": spec | [spec, ...], "join": spec}
 * next and join nest to any depth (the engine refuses a chain deeper than CHAIN_DEPTH_MAX).
 *
 * Ownership: the spec's strings borrow from the JSON object, which must outlive it; what the
 * reader allocates (args and input texts, the arrays of next stages) is kept in a struct
 * spec_mem, freed by spec_mem_release. */
#ifndef TRAWL_SPEC_JSON_H
#define TRAWL_SPEC_JSON_H

#include "engine/engine.h"

#include <jansson.h>

struct spec_mem {
    void **ptrs;
    size_t n, cap;
};

void spec_mem_release(struct spec_mem *m);

struct spec_json_opts {
    const char *workspace; /* every job's workspace; NULL: the spec's default */
    int64_t now;           /* for delayMs */
    /* NULL, or a check of each job's type: NULL when it may be enqueued this way, else why not */
    const char *(*refuse_type)(const char *type);
};

/* Read the spec in obj into out. where names it in messages ("jobs[2]", "stages[0]"; "" or NULL
 * for a lone job: "the job", and its stages "next[0]"...); an error
 * is TRAWL_EINVAL with a message naming the field and the stage it is in
 * ("jobs[2].next[0]: maxAttempts must be an integer from 1 to 1000"). */
int spec_from_json(const json_t *obj, const struct spec_json_opts *o, const char *where,
                   struct job_spec *out, struct spec_mem *mem, struct err *e);

#endif
