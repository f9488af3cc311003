/* The memory of the rows beside jobs: tokens, batches, crawl results. */
#include "store/batch.h"
#include "store/crawl.h"
#include "store/scrape.h"
#include "store/token.h"

#include <stdlib.h>
#include <string.h>

void api_token_release(struct api_token *t)
{
    if (!t)
        return;
    free(t->workspace);
    free(t->name);
    memset(t, 0, sizeof *t);
}

void api_token_array_free(struct api_token *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++)
        api_token_release(&t[i]);
    free(t);
}

void batch_info_release(struct batch_info *b)
{
    if (!b)
        return;
    free(b->id);
    free(b->workspace);
    memset(b, 0, sizeof *b);
}

void batch_info_array_free(struct batch_info *b, size_t n)
{
    for (size_t i = 0; b && i < n; i++)
        batch_info_release(&b[i]);
    free(b);
}

double batch_progress(const struct batch_info *b)
{
    if (b->total <= 0)
        return 0;
    int64_t ended = b->counts[JOB_COMPLETED] + b->counts[JOB_FAILED] + b->counts[JOB_CANCELLED];
    return 100.0 * (double)ended / (double)b->total;
}

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

static const char *const page_status_names_[PAGE_STATUS_COUNT] = {"pending", "fetching", "done",
                                                                  "failed", "skipped"};

const char *page_status_name(int s)
{
    return s >= 0 && s < PAGE_STATUS_COUNT ? page_status_names_[s] : NULL;
}

int page_status_parse(const char *name)
{
    for (int i = 0; name && i < PAGE_STATUS_COUNT; i++)
        if (strcmp(name, page_status_names_[i]) == 0)
            return i;
    return -1;
}

void scrape_session_release(struct scrape_session *s)
{
    if (!s)
        return;
    free(s->workspace);
    free(s->source_url);
    free(s->config);
    free(s->error_message);
    memset(s, 0, sizeof *s);
}

void scrape_session_array_free(struct scrape_session *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        scrape_session_release(&s[i]);
    free(s);
}

void scrape_page_release(struct scrape_page *p)
{
    free(p->url);
    free(p->source);
    free(p->error);
    free(p->lastmod);
    memset(p, 0, sizeof *p);
}

void scrape_page_array_free(struct scrape_page *p, size_t n)
{
    for (size_t i = 0; p && i < n; i++)
        scrape_page_release(&p[i]);
    free(p);
}

void record_row_array_free(struct record_row *r, size_t n)
{
    for (size_t i = 0; r && i < n; i++)
        free(r[i].data);
    free(r);
}
