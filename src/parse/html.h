/* HTML documents as trawl reads them: parsed with libxml2's forgiving HTML parser (the parser
 * behind lxml and Scrapy's selectors), in UTF-8 whatever the page's encoding, never failing on
 * broken markup, and never reaching the network. What is read out of a document lives in the
 * files beside this one: links and metadata (links.c), text, Markdown and cleaned HTML
 * (markdown.c), XPath and CSS selection (select.c), product records (product.c).
 *
 * Ownership: a struct html_doc belongs to its maker (html_free). Strings and JSON returned by the
 * functions that read it belong to the caller (free(), json_decref). Thread-safe for distinct
 * documents. */
#ifndef TRAWL_HTML_H
#define TRAWL_HTML_H

#include "base/err.h"

#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#define HTML_MAX_BYTES (32u << 20) /* larger pages are refused: TRAWL_ETOOBIG */

struct html_doc {
    xmlDocPtr doc; /* never NULL once parsed: an empty page is an empty document */
    char *url;     /* the page's URL (the base for its relative links, unless <base> says) */
    char *base;    /* the URL relative links resolve against: <base href> or url */
};

/* Parse len bytes of HTML fetched from url. content_type (may be NULL) can name the charset
 * ("text/html; charset=iso-8859-1"); otherwise <meta charset> and then UTF-8 are assumed, and
 * bytes that are not valid in the encoding are replaced, not refused. TRAWL_ETOOBIG over
 * HTML_MAX_BYTES; TRAWL_EINVAL when url is not an absolute http(s) URL. */
int html_parse(const char *data, size_t len, const char *url, const char *content_type,
               struct html_doc **out, struct err *e);
void html_free(struct html_doc *d);

/* The text of a node and its descendants with runs of whitespace collapsed to one space and
 * the ends trimmed (a new string). */
char *html_node_text(xmlNodePtr n);
/* An attribute's value (a new string), or NULL. Names are matched case-insensitively. */
char *html_attr(xmlNodePtr n, const char *name);
/* Resolve ref (an href, a src) against the document's base and normalize it (fetch/url.h);
 * NULL when it is not an http(s) URL. */
char *html_resolve(const struct html_doc *d, const char *ref);

/* ---- links.c ---- */

/* The page's links to follow: <a href>, <area href>, <link rel="next|prev|alternate|canonical">
 * and <iframe src>, resolved and normalized, without fragments, de-duplicated, in document
 * order; javascript:, mailto:, tel:, data: and other schemes are skipped, as are links marked
 * rel="nofollow" when skip_nofollow. *urls gets a new array of new strings (html_strings_free). */
int html_links(const struct html_doc *d, bool skip_nofollow, char ***urls, size_t *n);
void html_strings_free(char **s, size_t n);

/* The page's metadata as a JSON object: title, description, language (<html lang>), canonical
 * (resolved), robots (meta robots), og (an object of the og:* properties without the prefix),
 * twitter (likewise). Absent values are left out. */
json_t *html_metadata(const struct html_doc *d);

/* ---- markdown.c ---- */

/* The main content of the page: the <main> or <article> element when there is one, else <body>,
 * without scripts, styles, navigation, headers, footers, asides, forms and hidden elements. */
/* as plain text, paragraphs separated by blank lines */
char *html_text(const struct html_doc *d);
/* as Markdown: headings, paragraphs, lists (nested), links [text](url) with absolute URLs,
 * images ![alt](url), emphasis, code, blockquotes and tables (pipe tables) */
char *html_markdown(const struct html_doc *d);
/* as cleaned HTML: the same content without scripts, styles, event-handler attributes,
 * javascript: URLs, comments and inline styles; links made absolute */
char *html_clean(const struct html_doc *d);

/* ---- select.c ---- */

/* Select nodes with an XPath 1.0 expression (css false) or a CSS selector (css true; a subset:
 * type, #id, .class, [attr], [attr=v], [attr~=v], [attr^=v], [attr$=v], [attr*=v], descendant,
 * child >, adjacent +, sibling ~, groups with commas, :first-child, :last-child,
 * :nth-child(n), and ::text and ::attr(name) at the end as in Scrapy) and give their values as
 * a JSON array of strings: an element's text (html_node_text), an attribute's value, a text
 * node's text; XPath results that are numbers, strings or booleans give one string. A selector
 * that cannot be parsed is TRAWL_EINVAL with a message that names it. */
int html_select(const struct html_doc *d, const char *selector, bool css, json_t **out,
                struct err *e);
/* The XPath for a CSS selector (a new string), as html_select translates it. */
int html_css_to_xpath(const char *css, char **xpath, struct err *e);

#endif
