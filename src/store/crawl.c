/* The memory of crawl results, and the wrappers of the store's crawl domain. */
#include "store/crawl.h"

#include <stdlib.h>
#include <string.h>

void crawl_result_release(struct crawl_result *r)
{
    if (!r)
        return;
    free(r->url);
    free(r->final_url);
    free(r->content_type);
    free(r->headers);
    free(r->body_z);
    free(r->method);
    memset(r, 0, sizeof *r);
}

/* ---- wrappers ---- */

int store_crawl_save(struct store *s, const struct crawl_result *r, int attempt, const char *owner,
                     struct err *e)
{
    STORE_WRAP(s, s->crawl, "crawl results", s->crawl->save(s, r, attempt, owner, e));
}

int store_crawl_get(struct store *s, const char *job_id, bool with_body, struct crawl_result *out,
                    struct err *e)
{
    STORE_WRAP(s, s->crawl, "crawl results", s->crawl->get(s, job_id, with_body, out, e));
}

int store_crawl_expire(struct store *s, int64_t before, size_t limit, struct err *e)
{
    STORE_WRAP(s, s->crawl, "crawl results", s->crawl->expire(s, before, limit, e));
}
