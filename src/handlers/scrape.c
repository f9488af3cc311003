/* The web_scraping handler, a session's ingest stage: discovery (sitemaps, then links as pages
 * are read), a few fetching threads that take pages from the frontier in the store, and each
 * page's outcome committed with its body, the links it gave and, extracted as it arrives (which is
 * faster than a second pass), its records. The frontier, the counts, the bodies and the records
 * are all in the store; the handler holds only the pages in flight. */
#include "handlers/scrape_int.h"

#include "base/backoff.h"
#include "base/clock.h"
#include "base/hashset.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/xalloc.h"
#include "base/zstd.h"
#include "fetch/robots.h"
#include "fetch/url.h"
#include "parse/html.h"
#include "parse/product.h"
#include "parse/sitemap.h"
#include "parse/tree.h"
#include "store/scrape.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SITEMAPS        500 /* sitemap files read by one session */
#define ADD_BATCH           500 /* pages added per transaction during discovery */
#define PAGE_ATTEMPTS       3   /* a page that fails with a retryable error is tried this often */
#define PAGE_BACKOFF_BASE   1000
#define PAGE_BACKOFF_CAP    30000
#define CHECKPOINT_EVERY_MS 60000

/* ---- what belongs to the session ---- */

static const char *const skip_ext_[] = {
    ".pdf",  ".jpg",  ".jpeg", ".png",  ".gif",   ".webp", ".svg", ".ico", ".bmp",  ".tif", ".tiff",
    ".css",  ".js",   ".zip",  ".gz",   ".tgz",   ".rar",  ".7z",  ".mp4", ".mp3",  ".avi", ".mov",
    ".webm", ".wav",  ".ogg",  ".woff", ".woff2", ".ttf",  ".eot", ".exe", ".dmg",  ".doc", ".docx",
    ".xls",  ".xlsx", ".ppt",  ".pptx", ".csv",   ".json", ".xml", ".rss", ".atom", ".apk", ".iso"};

/* The host (without its port, an IPv6 one without brackets, as url_split gives it) and the path
 * with its query of a normalized URL, read from the string: links come normalized, and this runs
 * for every one. False when u is not one. */
static bool split_normal(const char *u, char *host, size_t hn, const char **path)
{
    const char *h = strstr(u, "://");
    if (!h)
        return false;
    h += 3;
    const char *end = h + strcspn(h, "/?#");
    const char *from = h, *to;
    if (*h == '[') {
        from = h + 1;
        to = memchr(from, ']', (size_t)(end - from));
        if (!to)
            return false;
    } else {
        to = h + strcspn(h, ":/?#");
    }
    size_t hl = (size_t)(to - from);
    if (hl == 0 || hl >= hn || *end != '/')
        return false;
    memcpy(host, from, hl);
    host[hl] = 0;
    *path = end;
    return true;
}

/* The URL to queue for u (a normalized URL; a new string, its query dropped when the session
 * ignores queries), or NULL when u is outside the session, with the reason in *why. */
static char *scope(const struct cfg *c, const char *u, const char **why)
{
    char host[256];
    const char *path;
    *why = NULL;
    if (!split_normal(u, host, sizeof host, &path)) {
        *why = "not a url the session can fetch";
        return NULL;
    }
    bool same = strcmp(host, c->host) == 0;
    if (!same && c->subdomains) {
        size_t hl = strlen(host), sl = strlen(c->site);
        same = strcmp(host, c->site) == 0 ||
               (hl > sl && host[hl - sl - 1] == '.' && strcmp(host + hl - sl, c->site) == 0);
    }
    if (!same) {
        *why = "off-site";
        return NULL;
    }
    size_t plen = strcspn(path, "?");
    for (size_t i = 0; i < sizeof skip_ext_ / sizeof skip_ext_[0]; i++) {
        size_t el = strlen(skip_ext_[i]);
        if (plen >= el && strncasecmp(path + plen - el, skip_ext_[i], el) == 0) {
            *why = "not a page (by its extension)";
            return NULL;
        }
    }
    bool inc = c->ninc == 0;
    for (int i = 0; i < c->ninc && !inc; i++)
        inc = regexec(&c->inc[i], path, 0, NULL, 0) == 0;
    if (!inc) {
        *why = "not in include_paths";
        return NULL;
    }
    for (int i = 0; i < c->nexc; i++)
        if (regexec(&c->exc[i], path, 0, NULL, 0) == 0) {
            *why = "in exclude_paths";
            return NULL;
        }
    char *out = xstrdup(u);
    if (c->ignore_query) {
        char *qm = strchr(out, '?');
        if (qm)
            *qm = 0;
    }
    return out;
}

/* ---- the run ---- */

struct run {
    struct job_ctx *ctx;
    struct crawler *cr;
    struct engine *eng;
    struct cfg c;
    char sid[UUID_STR_LEN];
    pthread_mutex_t lock;
    pthread_cond_t cv;
    struct scrape_page *batch;
    size_t bn, bi;
    int in_flight;
    int64_t ended; /* pages whose commit has ended (tally), for next_page */
    /* the URLs known to be pages of the session in the store, so that the links every page
     * repeats (navigation, categories) are not inserted again at each page, which was half
     * the committer's time: 2^17 slots (1 MiB, whatever the session's size) */
    struct hashset seen;
    bool stop, refilling;
    int64_t next_due;
    int64_t known;     /* pages in the frontier, for max_pages */
    int64_t marked_at; /* the last checkpoint with the counts (monotonic ms) */
    int64_t total, completed, failed;
    int gen; /* the session's extraction generation: its records are of it */
    char first_error[1024];
    char first_skip[1024];
};

struct add_args {
    const char *sid;
    const struct page_new *p;
    size_t n;
    int64_t cap; /* max_pages */
    int64_t now;
    int added;
};

static int add_pages_fn(struct store *s, void *arg, struct err *e)
{
    struct add_args *a = arg;
    int rc = store_pages_add(s, a->sid, a->p, a->n, a->cap, a->now, e);
    if (rc < 0)
        return rc;
    a->added = rc;
    return 0;
}

/* Add pages, as many as max_pages still allows. Returns how many were new, or an error. */
static int add_pages(struct run *r, const struct page_new *p, size_t n, struct err *e)
{
    pthread_mutex_lock(&r->lock);
    int64_t room = r->c.max_pages - r->known;
    pthread_mutex_unlock(&r->lock);
    if (room <= 0 || n == 0)
        return 0;
    if ((int64_t)n > room)
        n = (size_t)room;
    struct add_args a = {r->sid, p, n, r->c.max_pages, engine_now(r->eng), 0};
    int rc = engine_exec(r->eng, add_pages_fn, &a, e);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->lock);
    r->known += a.added;
    r->total += a.added;
    pthread_mutex_unlock(&r->lock);
    return a.added;
}

struct note_args {
    const char *sid;
    const char *error;
    int warnings;
    int64_t now;
};

static int note_fn(struct store *s, void *arg, struct err *e)
{
    struct note_args *a = arg;
    return store_session_note(s, a->sid, a->error, a->warnings, a->now, e);
}

static void warn(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct run *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_info("session %s: %s", r->sid, msg);
    struct note_args a = {r->sid, NULL, 1, engine_now(r->eng)};
    struct err e;
    /* the warning is counted; its text is in the log and, for pages, on the page */
    engine_exec(r->eng, note_fn, &a, &e);
}

/* A request for url as the session makes them: its timeout, robots.txt as it says, its delay
 * between requests to the site, and stopped when the job is. */
static struct fetch_req page_req(struct run *r, const char *url)
{
    return (struct fetch_req){
        .url = url,
        .timeout_ms = r->c.timeout_ms,
        .cancel = job_ctx_cancel_flag(r->ctx),
        .no_robots = !r->c.robots,
        .no_defer = true,
        .host_delay_ms = r->c.delay_ms,
    };
}

/* Fetch url whole (sitemaps, robots.txt); 0 and out filled, or an error message in out. */
static int fetch_whole(struct run *r, const char *url, bool no_robots, struct fetch_result *out)
{
    struct fetch_req req = page_req(r, url);
    req.no_robots = req.no_robots || no_robots;
    return fetch_run(r->cr->fetcher, &req, out);
}

/* Report progress; and once a minute a checkpoint with the counts, which the engine sees as
 * progress too: a long session on a large site may keep the same percentage for a long time
 * without being stuck. */
static void progress(struct run *r, const char *stage)
{
    pthread_mutex_lock(&r->lock);
    int64_t total = r->total, done = r->completed + r->failed, known = r->known;
    int64_t now = clock_mono_ms();
    bool mark = now - r->marked_at >= CHECKPOINT_EVERY_MS;
    if (mark)
        r->marked_at = now;
    pthread_mutex_unlock(&r->lock);
    int pct = total > 0 ? (int)(done * 100 / total) : 0;
    job_ctx_progress(r->ctx, pct > 99 && done < total ? 99 : pct, stage);
    if (mark) {
        char cp[128];
        bool scraping = strcmp(stage, "discovering") != 0;
        snprintf(cp, sizeof cp, "{\"phase\":\"%s\",\"%s\":%lld}",
                 scraping ? "scraping" : "discovering", scraping ? "pages_done" : "pages_found",
                 (long long)(scraping ? done : known));
        struct err e;
        if (job_ctx_save_checkpoint(r->ctx, cp, &e) != 0)
            log_warn("session %s: checkpoint: %s", r->sid, e.msg);
    }
}

/* Sitemaps: robots.txt's Sitemap lines and /sitemap.xml, indexes followed, every page URL in
 * the session's scope added. */
static void discover_sitemaps(struct run *r)
{
    char **queue = xcalloc(MAX_SITEMAPS + 2, sizeof *queue);
    size_t qn = 0, qi = 0;
    char robots_url[400], def[400];
    snprintf(robots_url, sizeof robots_url, "%s/robots.txt", r->c.origin);
    snprintf(def, sizeof def, "%s/sitemap.xml", r->c.origin);
    struct fetch_result res;
    if (fetch_whole(r, robots_url, true, &res) == 0) {
        struct robots *rb = robots_parse(res.body.data, res.body.len, "trawl");
        size_t ns;
        const char *const *sm = robots_sitemaps(rb, &ns);
        for (size_t i = 0; i < ns && qn < MAX_SITEMAPS; i++) {
            char *u;
            struct err e;
            if (url_resolve(robots_url, sm[i], &u, &e) == 0)
                queue[qn++] = u;
        }
        robots_free(rb);
    }
    fetch_result_release(&res);
    bool have_def = false;
    for (size_t i = 0; i < qn; i++)
        have_def = have_def || strcmp(queue[i], def) == 0;
    if (!have_def)
        queue[qn++] = xstrdup(def);
    struct page_new *batch = xcalloc(ADD_BATCH, sizeof *batch);
    char **owned = xcalloc(2 * ADD_BATCH, sizeof *owned);
    size_t nb = 0;
    bool full = false;
    for (; qi < qn && !full && !job_ctx_cancelled(r->ctx); qi++) {
        const char *smu = queue[qi];
        int rc = fetch_whole(r, smu, false, &res);
        if (rc != 0) {
            /* a missing /sitemap.xml is normal; others are worth a warning */
            if (!(res.http_status == 404 && strcmp(smu, def) == 0))
                warn(r, "sitemap %s: %s", smu, res.error);
            fetch_result_release(&res);
            continue;
        }
        struct sitemap sm;
        struct err e;
        if (sitemap_parse(res.body.data, res.body.len, &sm, &e) != 0) {
            warn(r, "sitemap %s: %s", smu, e.msg);
            fetch_result_release(&res);
            continue;
        }
        if (sm.warning[0])
            warn(r, "sitemap %s: %s", smu, sm.warning);
        for (size_t i = 0; i < sm.n && !full; i++) {
            char *u;
            if (url_resolve(smu, sm.entries[i].loc, &u, &e) != 0)
                continue;
            if (sm.is_index) {
                bool seen = false;
                for (size_t k = 0; k < qn && !seen; k++)
                    seen = strcmp(queue[k], u) == 0;
                if (seen || qn >= MAX_SITEMAPS) {
                    if (!seen)
                        warn(r, "more than %d sitemaps; %s and later ones are not read",
                             MAX_SITEMAPS, u);
                    free(u);
                    continue;
                }
                queue[qn++] = u;
                continue;
            }
            const char *why;
            char *in = scope(&r->c, u, &why);
            free(u);
            if (!in)
                continue;
            /* the URL and its lastmod, which must outlive this sitemap */
            const char *lm = sm.entries[i].lastmod;
            owned[2 * nb] = in;
            owned[2 * nb + 1] = lm ? xstrdup(lm) : NULL;
            batch[nb] = (struct page_new){in, 0, "sitemap", owned[2 * nb + 1]};
            nb++;
            if (nb == ADD_BATCH) {
                if (add_pages(r, batch, nb, &e) < 0)
                    warn(r, "cannot add pages: %s", e.msg);
                html_strings_free(owned, 2 * nb);
                owned = xcalloc(2 * ADD_BATCH, sizeof *owned);
                nb = 0;
                pthread_mutex_lock(&r->lock);
                full = r->known >= r->c.max_pages;
                pthread_mutex_unlock(&r->lock);
                progress(r, "discovering");
            }
        }
        sitemap_release(&sm);
        fetch_result_release(&res);
    }
    struct err e;
    if (nb && add_pages(r, batch, nb, &e) < 0)
        warn(r, "cannot add pages: %s", e.msg);
    html_strings_free(owned, 2 * nb);
    free(batch);
    for (size_t i = 0; i < qn; i++)
        free(queue[i]);
    free(queue);
}

/* ---- pages ---- */

struct take_args {
    const char *sid;
    size_t limit;
    int64_t now;
    struct scrape_page *pages;
    size_t n;
    int64_t next_due;
};

static int take_fn(struct store *s, void *arg, struct err *e)
{
    struct take_args *a = arg;
    scrape_page_array_free(a->pages, a->n); /* a second run after a rollback */
    a->pages = NULL;
    a->n = 0;
    int rc = store_pages_take(s, a->sid, a->limit, a->now, &a->pages, &a->n, &a->next_due, e);
    return rc < 0 ? rc : 0;
}

/* The next page to fetch, or false when the session has none left (or stops). */
static bool next_page(struct run *r, struct scrape_page *out)
{
    pthread_mutex_lock(&r->lock);
    for (;;) {
        if (r->stop || job_ctx_cancelled(r->ctx)) {
            r->stop = true;
            pthread_cond_broadcast(&r->cv);
            pthread_mutex_unlock(&r->lock);
            return false;
        }
        /* pages whose commits are not yet durable count: at most as many again as the threads */
        if (r->in_flight >= 2 * r->c.concurrency) {
            pthread_cond_wait(&r->cv, &r->lock);
            continue;
        }
        if (r->bi < r->bn) {
            *out = r->batch[r->bi];
            memset(&r->batch[r->bi], 0, sizeof r->batch[r->bi]);
            r->bi++;
            r->in_flight++;
            pthread_mutex_unlock(&r->lock);
            return true;
        }
        if (!r->refilling) {
            r->refilling = true;
            int64_t ended = r->ended;
            pthread_mutex_unlock(&r->lock);
            struct take_args a = {r->sid, (size_t)r->c.concurrency * 4, engine_now(r->eng), NULL, 0,
                                  0};
            struct err e;
            int rc = engine_exec(r->eng, take_fn, &a, &e);
            pthread_mutex_lock(&r->lock);
            r->refilling = false;
            if (rc) {
                log_warn("session %s: cannot take pages: %s", r->sid, e.msg);
                scrape_page_array_free(a.pages, a.n);
                pthread_mutex_unlock(&r->lock);
                clock_sleep_ms(1000);
                pthread_mutex_lock(&r->lock);
                continue;
            }
            scrape_page_array_free(r->batch, r->bn);
            r->batch = a.pages;
            r->bn = a.n;
            r->bi = 0;
            r->next_due = a.next_due;
            pthread_cond_broadcast(&r->cv);
            if (a.n)
                continue;
            /* a page whose commit landed after the take read the store may have left pages
             * (its links, itself for a retry) that the take did not see: look again */
            if (r->ended != ended)
                continue;
            if (r->in_flight == 0 && r->next_due == 0) {
                r->stop = true; /* nothing pending, nothing in flight: the session is done */
                pthread_cond_broadcast(&r->cv);
                pthread_mutex_unlock(&r->lock);
                return false;
            }
        }
        /* wait for a page in flight to add more, or for a retried one to be due */
        int64_t wait = 500;
        if (r->next_due) {
            int64_t d = r->next_due - engine_now(r->eng);
            wait = d < 10 ? 10 : d < 500 ? d : 500;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(wait % 1000) * 1000000;
        ts.tv_sec += wait / 1000 + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&r->cv, &r->lock, &ts);
    }
}

struct page_commit {
    const char *sid;
    struct page_outcome o;
    struct page_new *links;
    size_t nlinks;
    struct record_new *recs;
    size_t nrecs;
    int64_t cap; /* max_pages: the store adds links only below it */
    int64_t now;
    int added;
    bool warned; /* the page's data had problems: the session's warnings count it */
};

/* The page's outcome, the pages it adds and the records it gave: one transaction. */
static int page_commit_fn(struct store *s, void *arg, struct err *e)
{
    struct page_commit *pc = arg;
    int rc = store_page_finish(s, pc->sid, &pc->o, pc->now, e);
    if (rc < 0)
        return rc;
    pc->added = 0;
    if (pc->nlinks) {
        rc = store_pages_add(s, pc->sid, pc->links, pc->nlinks, pc->cap, pc->now, e);
        if (rc < 0)
            return rc;
        pc->added = rc;
    }
    for (size_t i = 0; i < pc->nrecs; i++)
        if ((rc = store_record_put(s, pc->sid, &pc->recs[i], pc->o.page_id, pc->now, e)) < 0)
            return rc;
    if (pc->warned && (rc = store_session_note(s, pc->sid, NULL, 1, pc->now, e)) < 0)
        return rc;
    return 0;
}

static bool retryable_kind(const struct fetch_result *f)
{
    return f->retryable && f->kind != FETCH_CANCELLED;
}

/* What a page gave, with the strings its commit borrows. */
struct page_work {
    struct page_commit pc;
    char **owned; /* the URLs pc.links points into */
    size_t nowned;
    struct page_recs recs; /* which pc.recs points into */
    char *ctype;           /* the body's content type, which pc.o points at */
    char error[600];
};

static void page_work_release(struct page_work *w)
{
    page_recs_release(&w->recs);
    html_strings_free(w->owned, w->nowned);
    free(w->pc.links);
    free((void *)w->pc.o.content);
    free((void *)w->pc.o.body);
    free(w->ctype);
}

static const char *add_link(struct run *r, struct page_work *w, const char *url, int depth,
                            const char *source, const char **why)
{
    char *in = scope(&r->c, url, why);
    if (!in)
        return NULL;
    w->owned[w->nowned++] = in;
    pthread_mutex_lock(&r->lock);
    bool known = hashset_has(&r->seen, in);
    pthread_mutex_unlock(&r->lock);
    if (!known) /* a URL the store has already would only be an insert that changes nothing */
        w->pc.links[w->pc.nlinks++] = (struct page_new){in, depth, source, NULL};
    return in;
}

/* Fetch the page through the site's circuit breaker (shared with crawl jobs): while it is open
 * the page is not fetched (FETCH_DEFERRED) and waits without spending an attempt. */
static void fetch_page(struct run *r, const struct scrape_page *pg, const char *origin,
                       struct fetch_result *f)
{
    struct fetch_req req = page_req(r, pg->url);
    req.no_follow = true; /* a redirect's target is a page of its own, checked like a link */
    req.html_only = true;
    bool probe = false;
    int64_t retry_at = 0;
    struct breakers *br = r->cr->breakers;
    memset(f, 0, sizeof *f);
    if (br && !breaker_allow(br, origin, &probe, &retry_at)) {
        f->kind = FETCH_DEFERRED;
        f->defer_until_ms = retry_at;
        return;
    }
    fetch_run(r->cr->fetcher, &req, f);
    if (!br)
        return;
    if (f->kind == FETCH_CANCELLED || f->kind == FETCH_DEFERRED) {
        if (probe)
            breaker_release(br, origin); /* the probe learnt nothing */
    } else if (crawl_host_trouble(f)) {
        breaker_failure(br, origin);
    } else {
        breaker_success(br, origin);
    }
}

/* A page that came back as HTML: its links, its records, its formats. */
static void read_html(struct run *r, const struct scrape_page *pg, const struct fetch_result *f,
                      struct page_work *w)
{
    struct page_commit *pc = &w->pc;
    struct html_doc *d;
    struct err e;
    if (html_parse(f->body.data, f->body.len, f->final_url ? f->final_url : pg->url,
                   f->content_type, &d, &e) != 0) {
        pc->o.status = PAGE_FAILED;
        snprintf(w->error, sizeof w->error, "parse: %s", e.msg);
        return;
    }
    pc->o.status = PAGE_DONE;
    char **links;
    size_t n;
    if ((r->c.mode & MODE_CRAWL) && pg->depth < r->c.max_depth &&
        html_links(d, false, &links, &n) == 0) {
        w->owned = xcalloc(n + 1, sizeof *w->owned);
        pc->links = xcalloc(n + 1, sizeof *pc->links);
        const char *why;
        for (size_t i = 0; i < n; i++)
            add_link(r, w, links[i], pg->depth + 1, "link", &why);
        html_strings_free(links, n);
    }
    page_recs_extract(&r->c, d, pg->url, r->gen, &w->recs);
    if (w->recs.warning[0]) {
        snprintf(w->error, sizeof w->error, "%s", w->recs.warning);
        pc->warned = true;
    }
    pc->recs = w->recs.rows;
    pc->nrecs = w->recs.n;
    pc->o.records = (int)pc->nrecs;
    pc->o.extracted_gen = r->gen;
    /* the body as fetched, for the extract stage to read again (level 1: as small as 3 for
     * HTML, a third faster) */
    void *z = NULL;
    size_t zn = 0;
    if (zframe_compress(f->body.data, f->body.len, 1, &z, &zn, &e) == 0) {
        pc->o.body = z;
        pc->o.body_len = zn;
        w->ctype = xstrdup(f->content_type); /* f goes before the commit lands */
        pc->o.content_type = w->ctype;
    }
    pc->o.content = page_formats(&r->c, d, &pc->o.content_len);
    html_free(d);
}

/* What becomes of a page that did not come back as HTML. */
static void judge(struct run *r, const struct scrape_page *pg, const struct fetch_result *f,
                  const char *origin, struct page_work *w)
{
    struct page_outcome *o = &w->pc.o;
    char *error = w->error;
    size_t en = sizeof w->error;
    if (f->kind == FETCH_HTTP_STATUS && f->location) {
        /* a redirect: its target is a page of the session when it is in scope */
        w->owned = xcalloc(2, sizeof *w->owned);
        w->pc.links = xcalloc(1, sizeof *w->pc.links);
        const char *why;
        const char *in = add_link(r, w, f->location, pg->depth, "redirect", &why);
        o->status = PAGE_SKIPPED;
        if (in)
            snprintf(error, en, "redirect: %d to %s", f->http_status, in);
        else
            snprintf(error, en, "redirect: %d to %s, which is %s", f->http_status, f->location,
                     why);
    } else if (f->kind == FETCH_NOT_HTML || (f->kind == FETCH_ROBOTS && !f->retryable)) {
        o->status = PAGE_SKIPPED;
        snprintf(error, en, "%s", f->error);
    } else if (f->kind == FETCH_CANCELLED) {
        o->status = PAGE_PENDING; /* not tried: it goes back as it was */
        o->not_tried = true;
    } else if (f->kind == FETCH_DEFERRED) {
        o->status = PAGE_PENDING; /* the site asks to wait: back, without spending an attempt */
        o->not_tried = true;
        o->not_before = f->defer_until_ms > w->pc.now ? f->defer_until_ms : w->pc.now + 1000;
        if (f->error[0])
            snprintf(error, en, "%s", f->error);
        else
            snprintf(error, en, "deferred: the circuit breaker for %s is open", origin);
    } else if (retryable_kind(f) && pg->attempt < PAGE_ATTEMPTS) {
        struct backoff b = {PAGE_BACKOFF_BASE, PAGE_BACKOFF_CAP};
        int64_t delay = backoff_delay_ms(&b, pg->attempt, rand_u64());
        if (f->retry_after_ms > delay)
            delay = f->retry_after_ms;
        o->status = PAGE_PENDING;
        o->not_before = w->pc.now + delay;
        snprintf(error, en, "%s (attempt %d of %d; tried again)", f->error, pg->attempt,
                 PAGE_ATTEMPTS);
    } else {
        o->status = PAGE_FAILED;
        snprintf(error, en, "%s", f->error);
    }
}

/* The run's own counts after a page's commit, for progress and the session's end. */
static void tally(struct run *r, const struct scrape_page *pg, const struct page_work *w, bool ok)
{
    pthread_mutex_lock(&r->lock);
    r->in_flight--;
    r->ended++;
    for (size_t i = 0; ok && i < w->pc.nlinks; i++) /* in the store now (or past max_pages) */
        hashset_add(&r->seen, w->pc.links[i].url);
    if (ok) {
        r->known += w->pc.added;
        r->total += w->pc.added;
        if (w->pc.o.status == PAGE_DONE) {
            r->completed++;
        } else if (w->pc.o.status == PAGE_FAILED) {
            r->failed++;
            if (!r->first_error[0])
                snprintf(r->first_error, sizeof r->first_error, "%.300s: %.400s", pg->url,
                         w->error);
        } else if (w->pc.o.status == PAGE_SKIPPED) {
            r->total--; /* skipped pages are not counted */
            if (!r->first_skip[0])
                snprintf(r->first_skip, sizeof r->first_skip, "%.300s: %.400s", pg->url, w->error);
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->lock);
}

/* A page on its way to the store: what it gave, kept until its commit is durable. */
struct page_job {
    struct run *r;
    struct scrape_page pg;
    struct page_work w;
};

/* The page's commit is durable (or failed): counted, and freed. Runs on the committer's thread,
 * so it takes no engine call. */
static void page_done(void *ctx, int rc, const struct err *e)
{
    struct page_job *pj = ctx;
    if (rc)
        log_warn("session %s: page %s not recorded: %s", pj->r->sid, pj->pg.url, e->msg);
    tally(pj->r, &pj->pg, &pj->w, rc == 0);
    page_work_release(&pj->w);
    scrape_page_release(&pj->pg);
    free(pj);
}

/* Fetch and read the page, and hand its outcome to the committer without waiting for it: the
 * thread goes on to the next page while the commit becomes durable (a page whose commit is lost
 * in a crash is still fetching in the store, and is fetched again on resume). */
static void process_page(struct run *r, struct scrape_page *pg)
{
    char origin[300]; /* scheme://host[:port] of the normalized URL: the breaker's key */
    const char *h = strstr(pg->url, "://");
    snprintf(origin, sizeof origin, "%.*s", h ? (int)(h + 3 - pg->url + strcspn(h + 3, "/?#")) : 0,
             pg->url);
    struct page_job *pj = xcalloc(1, sizeof *pj);
    pj->r = r;
    pj->pg = *pg;
    pg = &pj->pg;
    struct page_work *w = &pj->w;
    w->pc = (struct page_commit){.sid = r->sid, .cap = r->c.max_pages, .now = engine_now(r->eng)};
    struct fetch_result f;
    int64_t t0 = clock_mono_ms();
    fetch_page(r, pg, origin, &f);
    w->pc.o.page_id = pg->id;
    w->pc.o.http_status = f.http_status;
    w->pc.o.fetch_ms = clock_mono_ms() - t0;
    if (f.kind == FETCH_OK)
        read_html(r, pg, &f, w);
    else
        judge(r, pg, &f, origin, w);
    fetch_result_release(&f);
    w->pc.o.error = w->error[0] ? w->error : NULL;
    engine_exec_async(r->eng, page_commit_fn, &w->pc, page_done, pj);
    progress(r, "scraping");
}

static void *scrape_thread(void *arg)
{
    struct run *r = arg;
    pthread_setname_np(pthread_self(), "scrape");
    struct scrape_page pg;
    while (next_page(r, &pg))
        process_page(r, &pg); /* which takes pg over */
    return NULL;
}

struct requeue_args {
    const char *sid;
};

static int requeue_fn(struct store *s, void *arg, struct err *e)
{
    struct requeue_args *a = arg;
    int rc = store_pages_requeue(s, a->sid, false, e);
    return rc < 0 ? rc : 0;
}

int handler_scrape(struct job_ctx *ctx)
{
    struct run r = {.ctx = ctx, .cr = job_ctx_arg(ctx), .eng = job_ctx_engine(ctx)};
    const struct job *job = job_ctx_job(ctx);
    json_error_t je;
    json_t *args = json_loads(job_ctx_args(ctx), 0, &je);
    const char *sid = json_string_value(json_object_get(args, "session_id"));
    if (!sid) {
        json_decref(args);
        return job_ctx_fail(ctx, false, "invalid_args: args.session_id is missing");
    }
    snprintf(r.sid, sizeof r.sid, "%s", sid);
    /* a job of retry-failed runs a session whose pages are known */
    bool resume = json_is_true(json_object_get(args, "resume"));
    json_decref(args);
    struct scrape_session ss;
    struct err e;
    if (store_session_get(engine_store(r.eng), NULL, job->id, true, &ss, &e) != 0)
        return job_ctx_fail(ctx, e.code != TRAWL_ENOTFOUND, "session: %s", e.msg);
    json_t *config = json_loads(ss.config, 0, &je);
    int rc = config ? cfg_load(config, &r.c, NULL, &e)
                    : err_set(&e, TRAWL_EINVAL, false, "stored settings are not JSON");
    json_decref(config);
    r.known = ss.total_pages + ss.skipped_pages;
    r.total = ss.total_pages;
    r.completed = ss.completed_pages;
    r.failed = ss.failed_pages;
    r.gen = ss.extract_gen;
    scrape_session_release(&ss);
    if (rc)
        return job_ctx_fail(ctx, false, "session settings: %s", e.msg);
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.marked_at = clock_mono_ms();
    hashset_init(&r.seen, 17);

    /* where it stopped: discovery is done once; pages left fetching go back to pending */
    const char *cp = job_ctx_checkpoint(ctx);
    bool discovered = resume || (cp && strstr(cp, "\"scraping\"") != NULL);
    int ret = 0;
    if (!discovered) {
        job_ctx_progress(ctx, 0, "discovering");
        struct page_new seed = {r.c.source, 0, "seed", NULL};
        if (add_pages(&r, &seed, 1, &e) < 0) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
        if (r.c.mode & MODE_SITEMAP)
            discover_sitemaps(&r);
        if (job_ctx_cancelled(ctx)) {
            ret = job_ctx_fail(ctx, false, "cancelled while discovering");
            goto out;
        }
        if (job_ctx_save_checkpoint(ctx, "{\"phase\":\"scraping\"}", &e) != 0) {
            ret = job_ctx_fail(ctx, true, "checkpoint: %s", e.msg);
            goto out;
        }
    } else {
        struct requeue_args a = {r.sid};
        if (engine_exec(r.eng, requeue_fn, &a, &e) != 0) {
            ret = job_ctx_fail(ctx, true, "store: %s", e.msg);
            goto out;
        }
    }
    progress(&r, "scraping");
    pthread_t th[32];
    int nth = 0;
    for (; nth < r.c.concurrency; nth++)
        if (pthread_create(&th[nth], NULL, scrape_thread, &r) != 0)
            break;
    if (nth == 0)
        scrape_thread(&r);
    for (int i = 0; i < nth; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_lock(&r.lock); /* the last commits, whose callbacks use the run */
    while (r.in_flight > 0)
        pthread_cond_wait(&r.cv, &r.lock);
    pthread_mutex_unlock(&r.lock);
    if (job_ctx_cancelled(ctx)) {
        ret = job_ctx_fail(ctx, false, "cancelled after %lld pages", (long long)r.completed);
        goto out;
    }
    job_ctx_progress(ctx, 100, "done");
    if (r.completed == 0) {
        /* not a single page read: the site is down, or its start page leads nowhere the
         * session may go (a redirect off-site or inward, robots.txt, not HTML) */
        char why[1200];
        snprintf(why, sizeof why, "no page could be read; %s",
                 r.first_error[0]  ? r.first_error
                 : r.first_skip[0] ? r.first_skip
                                   : "the start page and the sitemaps gave no page");
        struct note_args a = {r.sid, why, 0, engine_now(r.eng)};
        engine_exec(r.eng, note_fn, &a, &e);
        ret = job_ctx_fail(ctx, false, "%s", why);
        goto out;
    }
    /* the result from the store's counts (a product met on several pages is one record) */
    if (store_session_get(engine_store(r.eng), NULL, job->id, true, &ss, &e) == 0) {
        char res[256];
        snprintf(res, sizeof res,
                 "{\"total_pages\":%lld,\"completed_pages\":%lld,\"failed_pages\":%lld,"
                 "\"records\":%lld}",
                 (long long)ss.total_pages, (long long)ss.completed_pages,
                 (long long)ss.failed_pages, (long long)ss.materials);
        job_ctx_set_result(ctx, res);
        scrape_session_release(&ss);
    }
out:
    scrape_page_array_free(r.batch, r.bn);
    pthread_mutex_destroy(&r.lock);
    pthread_cond_destroy(&r.cv);
    cfg_release(&r.c);
    hashset_release(&r.seen);
    return ret;
}
