/* GET /healthz (the process answers), GET /readyz (it can serve: the store answers and it is not
 * stopping), GET /v1/breakers (circuit breaker states). */
#include "api/api_int.h"

#include "engine/breaker.h"

enum MHD_Result api_healthz(struct req *r)
{
    return api_reply(r, 200, json_pack("{s:s}", "status", "ok"));
}

enum MHD_Result api_readyz(struct req *r)
{
    if (atomic_load(&r->api->stopping))
        return api_reply_error(r, 503, "shutting down");
    struct err e;
    err_clear(&e);
    struct job j;
    /* a read that touches the jobs table: any id will do */
    int rc =
        store_get(engine_store(r->api->deps.eng), "00000000-0000-7000-8000-000000000000", &j, &e);
    if (rc == 0)
        job_release(&j);
    if (rc && rc != TRAWL_ENOTFOUND)
        return api_reply_err(r, &e);
    /* reads can work while writes fail (a lock held elsewhere, a full disk): the last write
     * tells */
    struct engine_stats st;
    engine_stats(r->api->deps.eng, &st);
    if (st.last_failure_ms > st.last_commit_ms)
        return api_reply_error_hdr(r, 503, "Retry-After", "1", "the store refuses writes: %s",
                                   st.last_failure);
    return api_reply(r, 200, json_pack("{s:s}", "status", "ready"));
}

enum MHD_Result api_breakers(struct req *r)
{
    json_t *list = json_array();
    if (r->api->deps.breakers) {
        struct breaker_state *st;
        size_t n = breakers_snapshot(r->api->deps.breakers, &st);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(
                list,
                json_pack("{s:s, s:s, s:I, s:o, s:o}", "service", st[i].service, "state",
                          breaker_state_name(st[i].state), "failures", (json_int_t)st[i].failures,
                          "opened_at", api_time(st[i].opened_at_ms), "retry_at",
                          api_time(st[i].state == BREAKER_CLOSED ? 0 : st[i].retry_at_ms)));
        }
        breakers_snapshot_free(st, n);
    }
    json_t *body = api_ok();
    json_object_set_new(body, "breakers", list);
    return api_reply(r, 200, body);
}
