/* robots.txt (RFC 9309): a line parser that keeps only the rules of the groups naming one crawler,
 * and a matcher that decides a path by the longest matching rule in time linear in its input. */
#include "fetch/robots.h"
#include "base/xalloc.h"

#include <stdlib.h>
#include <string.h>

#define RULES_MAX      10000 /* per kind of group (the crawler's own, "*") */
#define SITEMAPS_MAX   10000
#define RULE_MAX_BYTES 16384 /* a pattern longer than any URL we fetch could only cost time */
#define DELAY_MAX_MS   ((int64_t)24 * 60 * 60 * 1000)

enum robots_mode {
    MODE_RULES,
    MODE_ALLOW_ALL,
    MODE_DISALLOW_ALL,
};

/* Patterns and paths are both normalized (see normalize) so that comparing them is comparing
 * bytes. */
struct robots_rule {
    char *pat;   /* normalized, runs of '*' collapsed, without the anchoring '$' */
    size_t len;  /* of pat */
    size_t prio; /* normalized length as written: what "longest match" measures */
    bool allow;
    bool anchored; /* the rule ended with '$' */
};

struct rule_list {
    struct robots_rule *v;
    size_t n, cap;
    int64_t delay_ms; /* -1: none given */
    bool named;       /* a group named this kind of agent, even one without rules */
};

struct robots {
    enum robots_mode mode;
    struct rule_list rules;
    char **sitemaps;
    size_t n_sitemaps, cap_sitemaps;
};

enum key {
    KEY_UNKNOWN,
    KEY_AGENT,
    KEY_ALLOW,
    KEY_DISALLOW,
    KEY_DELAY,
    KEY_SITEMAP,
};

/* The spellings Google's parser accepts besides the standard ones, since sites write them. */
static const struct {
    const char *name;
    enum key key;
} keys[] = {
    {"user-agent", KEY_AGENT},  {"useragent", KEY_AGENT},   {"user agent", KEY_AGENT},
    {"allow", KEY_ALLOW},       {"disallow", KEY_DISALLOW}, {"dissallow", KEY_DISALLOW},
    {"dissalow", KEY_DISALLOW}, {"disalow", KEY_DISALLOW},  {"diasllow", KEY_DISALLOW},
    {"disallaw", KEY_DISALLOW}, {"crawl-delay", KEY_DELAY}, {"crawldelay", KEY_DELAY},
    {"crawl delay", KEY_DELAY}, {"sitemap", KEY_SITEMAP},   {"site-map", KEY_SITEMAP},
};

struct parser {
    const char *agent; /* the crawler's product token, not NUL-terminated */
    size_t agent_len;
    struct rule_list own, star;
    bool in_agents;   /* the last group line was a User-agent line */
    bool cur_own;     /* the current group names the crawler */
    bool cur_star;    /* the current group names "*" */
    bool seen_agents; /* a User-agent line was seen: rules before it belong to no group */
    struct robots *r;
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* RFC 9309 allows letters, '-' and '_' in a product token; digits are taken too, so that a
 * "trawl2" group is not mistaken for one naming "trawl". */
static bool is_token(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_token((unsigned char)s[i]))
        i++;
    return i;
}

static bool eq_nocase(const char *a, size_t n, const char *b, size_t m)
{
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static bool is_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* The bytes url_normalize percent-encodes, so that a raw rule meets a normalized path. */
static bool must_escape(int c)
{
    if (c <= 0x20 || c >= 0x7f)
        return true;
    switch (c) {
    case '"':
    case '<':
    case '>':
    case '\\':
    case '^':
    case '`':
    case '{':
    case '|':
    case '}':
        return true;
    default:
        return false;
    }
}

/* Write s (n bytes) into out (room for 3n + 1) in the form url_normalize gives a path: escapes
 * of unreserved characters decoded, other escapes in uppercase hex, raw non-ASCII and other
 * unsafe bytes (and a '%' that starts no escape) escaped, as in the table of RFC 9309 section
 * 2.2.2. In a path, '*' and '$' are escaped as well, since they are plain characters
 * there; in a rule they stay raw, as wildcard and anchor, and an escaped %2A or %24 in the rule
 * is how a site names the plain character. Returns the length written. */
static size_t normalize(const char *s, size_t n, char *out, bool is_path)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%' && n - i >= 3 && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            int v = hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]);
            i += 2;
            if (is_unreserved(v)) {
                out[w++] = (char)v;
                continue;
            }
            c = v;
        } else if (!must_escape(c) && c != '%' && !(is_path && (c == '*' || c == '$'))) {
            out[w++] = (char)c;
            continue;
        }
        out[w++] = '%';
        out[w++] = hex[c >> 4];
        out[w++] = hex[c & 15];
    }
    out[w] = '\0';
    return w;
}

static void rule_list_release(struct rule_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].pat);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static void add_rule(struct rule_list *l, bool allow, const char *v, size_t n)
{
    /* A path pattern starts with "/" (RFC 9309) or, as sites write them, "*"; anything else
     * (a full URL, a bare word) could never match a path. */
    if (n == 0 || n > RULE_MAX_BYTES || (v[0] != '/' && v[0] != '*') || l->n >= RULES_MAX)
        return;
    /* A '$' anchors only at the end; elsewhere it is the plain character. */
    bool anchored = v[n - 1] == '$';
    size_t body = anchored ? n - 1 : n;
    char *pat = xmalloc(3 * n + 1);
    size_t len = 0;
    for (size_t i = 0; i < body;) {
        const char *dollar = memchr(v + i, '$', body - i);
        size_t run = dollar ? (size_t)(dollar - (v + i)) : body - i;
        len += normalize(v + i, run, pat + len, false);
        i += run;
        if (dollar) {
            memcpy(pat + len, "%24", 3);
            len += 3;
            i++;
        }
    }
    pat[len] = '\0';
    size_t prio = len + (anchored ? 1 : 0);
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        if (!(pat[i] == '*' && w > 0 && pat[w - 1] == '*'))
            pat[w++] = pat[i];
    pat[w] = '\0';
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (struct robots_rule){pat, w, prio, allow, anchored};
}

/* Digits with an optional fraction ("10", "0.5", ".5"); milliseconds past the third decimal are
 * dropped. -1 for anything else (a sign, a unit, an exponent, nothing). */
static int64_t parse_delay_ms(const char *s, size_t n)
{
    int64_t ms = 0;
    size_t i = 0, digits = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++)
        if (ms <= DELAY_MAX_MS)
            ms = ms * 10 + (s[i] - '0') * 1000;
    if (i < n && s[i] == '.') {
        int64_t scale = 100;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
            ms += (s[i] - '0') * scale;
            scale /= 10;
        }
    }
    if (i != n || digits == 0)
        return -1;
    return ms > DELAY_MAX_MS ? DELAY_MAX_MS : ms;
}

static void add_sitemap(struct robots *r, const char *v, size_t n)
{
    if (n == 0 || r->n_sitemaps >= SITEMAPS_MAX)
        return;
    /* Control bytes (NUL above all) mean garbage, not a URL; the caller gets C strings. */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return;
    if (r->n_sitemaps == r->cap_sitemaps) {
        r->cap_sitemaps = r->cap_sitemaps ? 2 * r->cap_sitemaps : 4;
        r->sitemaps = xrealloc(r->sitemaps, r->cap_sitemaps * sizeof *r->sitemaps);
    }
    char *s = xmalloc(n + 1);
    memcpy(s, v, n);
    s[n] = '\0';
    r->sitemaps[r->n_sitemaps++] = s;
}

static enum key classify(const char *k, size_t n)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (eq_nocase(k, n, keys[i].name, strlen(keys[i].name)))
            return keys[i].key;
    return KEY_UNKNOWN;
}

static void on_agent(struct parser *p, const char *v, size_t n)
{
    /* User-agent lines in a row (blank lines, comments and unknown lines between them do not
     * count) open one group together; after a group's rules, one opens the next group. */
    if (!p->in_agents) {
        p->cur_own = p->cur_star = false;
        p->in_agents = true;
    }
    p->seen_agents = true;
    size_t t = token_len(v, n);
    if (t == 0 && n > 0 && v[0] == '*' && (n == 1 || !is_token((unsigned char)v[1]))) {
        p->cur_star = true;
        p->star.named = true;
    } else if (t > 0 && eq_nocase(v, t, p->agent, p->agent_len)) {
        p->cur_own = true;
        p->own.named = true;
    }
}

static void on_group_line(struct parser *p, enum key key, const char *v, size_t n)
{
    p->in_agents = false;
    if (!p->seen_agents)
        return;
    struct rule_list *lists[2] = {p->cur_own ? &p->own : NULL, p->cur_star ? &p->star : NULL};
    int64_t delay = key == KEY_DELAY ? parse_delay_ms(v, n) : -1;
    for (int i = 0; i < 2; i++) {
        struct rule_list *l = lists[i];
        if (!l)
            continue;
        if (key == KEY_DELAY) {
            /* Merged groups that disagree get the politer delay. */
            if (delay > l->delay_ms)
                l->delay_ms = delay;
        } else {
            add_rule(l, key == KEY_ALLOW, v, n);
        }
    }
}

static void parse_line(struct parser *p, const char *s, size_t n)
{
    const char *hash = memchr(s, '#', n);
    if (hash)
        n = (size_t)(hash - s);
    while (n > 0 && is_space((unsigned char)*s))
        s++, n--;
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return;

    const char *key = s, *val;
    size_t key_len, val_len;
    const char *colon = memchr(s, ':', n);
    if (colon) {
        key_len = (size_t)(colon - s);
        val = colon + 1;
        val_len = n - key_len - 1;
    } else {
        /* Like Google, accept "Disallow /path" when the line is exactly two words. */
        key_len = 0;
        while (key_len < n && !is_space((unsigned char)s[key_len]))
            key_len++;
        val = s + key_len;
        val_len = n - key_len;
        if (val_len == 0)
            return;
    }
    while (key_len > 0 && is_space((unsigned char)key[key_len - 1]))
        key_len--;
    while (val_len > 0 && is_space((unsigned char)*val))
        val++, val_len--;
    if (!colon)
        for (size_t i = 0; i < val_len; i++)
            if (is_space((unsigned char)val[i]))
                return;

    enum key k = classify(key, key_len);
    switch (k) {
    case KEY_AGENT:
        on_agent(p, val, val_len);
        break;
    case KEY_ALLOW:
    case KEY_DISALLOW:
    case KEY_DELAY:
        on_group_line(p, k, val, val_len);
        break;
    case KEY_SITEMAP:
        add_sitemap(p->r, val, val_len);
        break;
    case KEY_UNKNOWN:
        break;
    }
}

static struct robots *robots_new(enum robots_mode mode)
{
    struct robots *r = xcalloc(1, sizeof *r);
    r->mode = mode;
    r->rules.delay_ms = -1;
    return r;
}

struct robots *robots_parse(const char *text, size_t len, const char *agent)
{
    struct parser p = {0};
    p.r = robots_new(MODE_RULES);
    p.own.delay_ms = p.star.delay_ms = -1;
    if (!agent)
        agent = "";
    p.agent = agent;
    p.agent_len = token_len(agent, strlen(agent));
    if (!text)
        len = 0;

    if (len > ROBOTS_MAX_BYTES) {
        /* A line cut by the limit could say less than it meant ("Disallow: /p" of
         * "Disallow: /private" would block every path under /p): drop it. */
        bool cut_at_eol = text[ROBOTS_MAX_BYTES] == '\n' || text[ROBOTS_MAX_BYTES] == '\r';
        len = ROBOTS_MAX_BYTES;
        if (!cut_at_eol)
            while (len > 0 && text[len - 1] != '\n' && text[len - 1] != '\r')
                len--;
    }
    size_t i = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    while (i < len) {
        size_t start = i;
        while (i < len && text[i] != '\n' && text[i] != '\r')
            i++;
        parse_line(&p, text + start, i - start);
        /* CRLF needs no special case: the empty line between CR and LF is skipped. */
        if (i < len)
            i++;
    }

    struct rule_list *keep = p.own.named ? &p.own : &p.star;
    struct rule_list *drop = p.own.named ? &p.star : &p.own;
    p.r->rules = *keep;
    rule_list_release(drop);
    return p.r;
}

struct robots *robots_allow_all(void)
{
    return robots_new(MODE_ALLOW_ALL);
}

struct robots *robots_disallow_all(void)
{
    return robots_new(MODE_DISALLOW_ALL);
}

void robots_free(struct robots *r)
{
    if (!r)
        return;
    rule_list_release(&r->rules);
    for (size_t i = 0; i < r->n_sitemaps; i++)
        free(r->sitemaps[i]);
    free(r->sitemaps);
    free(r);
}

/* With only '*' as wildcard, taking each piece between stars at its leftmost place after the
 * previous one is never worse than any later place, so one pass with memmem (linear in glibc)
 * decides the match: no backtracking, whatever the pattern. */
static bool rule_matches(const struct robots_rule *rule, const char *path, size_t n)
{
    const char *p = rule->pat, *end = rule->pat + rule->len;
    const char *star = memchr(p, '*', rule->len);
    if (!star) {
        if (rule->anchored)
            return n == rule->len && memcmp(path, p, n) == 0;
        return n >= rule->len && memcmp(path, p, rule->len) == 0;
    }
    size_t pos = (size_t)(star - p);
    if (n < pos || memcmp(path, p, pos) != 0)
        return false;
    for (p = star + 1;; p = star + 1) {
        star = memchr(p, '*', (size_t)(end - p));
        size_t seg = (size_t)((star ? star : end) - p);
        if (!star && rule->anchored)
            return n - pos >= seg && memcmp(path + n - seg, p, seg) == 0;
        if (seg > 0) {
            const char *hit = memmem(path + pos, n - pos, p, seg);
            if (!hit)
                return false;
            pos = (size_t)(hit - path) + seg;
        }
        if (!star)
            return true;
    }
}

bool robots_allowed(const struct robots *r, const char *path)
{
    if (!path || !*path)
        path = "/";
    size_t n = strlen(path);
    char *norm = xmalloc(3 * n + 1);
    size_t len = normalize(path, n, norm, true);
    bool allowed = true;

    if (len == strlen("/robots.txt") && memcmp(norm, "/robots.txt", len) == 0)
        goto out;
    if (r->mode != MODE_RULES) {
        allowed = r->mode == MODE_ALLOW_ALL;
        goto out;
    }
    size_t best = 0;
    bool matched = false;
    for (size_t i = 0; i < r->rules.n; i++) {
        const struct robots_rule *rule = &r->rules.v[i];
        if (matched && (rule->prio < best || (rule->prio == best && !rule->allow)))
            continue;
        if (!rule_matches(rule, norm, len))
            continue;
        if (!matched || rule->prio > best || rule->allow) {
            allowed = rule->allow;
            best = rule->prio;
            matched = true;
        }
    }
out:
    free(norm);
    return allowed;
}

int64_t robots_crawl_delay_ms(const struct robots *r)
{
    return r->rules.delay_ms;
}

const char *const *robots_sitemaps(const struct robots *r, size_t *n)
{
    if (n)
        *n = r->n_sitemaps;
    return (const char *const *)r->sitemaps;
}
