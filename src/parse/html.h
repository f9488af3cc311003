/* HTML documents as trawl reads them: parsed by trawl's own tree builder (tree.h: HTML5's
 * tokenizer and the rules of its tree construction that shape real pages) into a libxml2 tree,
 * in UTF-8 whatever the page's encoding, never failing on broken markup, and never reaching the
 * network. What is read out of a document lives in the
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

struct tree_arena;

/* The nodes of a parsed document live in its arena (tree.h): libxml2's tree functions must not
 * add nodes to it or free its nodes. A document built by hand with them (arena NULL) is freed by
 * html_free as libxml2 frees any. */
struct html_doc {
    xmlDocPtr doc;            /* never NULL once parsed: an empty page is an empty document */
    struct tree_arena *arena; /* where the document's nodes live (parse/tree.h) */
    char *url;  /* the page's URL (the base for its relative links, unless <base> says) */
    char *base; /* the URL relative links resolve against: <base href> or url */
    bool cut;   /* the page has more nodes than a tree keeps (TREE_MAX_NODES): its end is missing */
};

/* Parse len bytes of HTML fetched from url. content_type (may be NULL) can name the charset
 * ("text/html; charset=iso-8859-1"); otherwise a charset in the first 2 KB (<meta charset>,
 * <meta http-equiv>) and then UTF-8 are assumed; a byte order mark (UTF-8, UTF-16) outranks
 * both. Other encodings are converted with iconv (latin1, iso-8859-1 and ascii read as
 * windows-1252, as browsers do); one iconv does not know is read as UTF-8. Bytes that are not
 * valid in the encoding are replaced by U+FFFD, not refused. TRAWL_ETOOBIG over HTML_MAX_BYTES;
 * TRAWL_EINVAL when url is not an absolute http(s) URL. */
int html_parse(const char *data, size_t len, const char *url, const char *content_type,
               struct html_doc **out, struct err *e);
void html_free(struct html_doc *d);

/* The text of a node and its descendants (or an attribute's value) with runs of whitespace
 * (ASCII's, \v and the no-break space) collapsed to one space and the ends trimmed (a new
 * string). html_node_text_max gives NULL when that is more than cap bytes (cap 0: no cap). */
char *html_node_text(xmlNodePtr n);
char *html_node_text_max(xmlNodePtr n, size_t cap);
/* s with runs of ASCII whitespace made one space and the ends trimmed, in place; returns s. */
char *html_collapse(char *s);
/* Whether n is an element named name (ASCII case-insensitively). */
bool html_is(xmlNodePtr n, const char *name);
/* The node after n in document order, staying inside root, going into n's children when descend
 * (and n is an element); NULL at the end. Iterative, so no nesting depth exhausts the stack. */
xmlNodePtr html_next(xmlNodePtr n, xmlNodePtr root, bool descend);
/* An attribute's value (a new string), or NULL. Names are matched case-insensitively. */
char *html_attr(xmlNodePtr n, const char *name);
/* Resolve ref (an href, a src) against the document's base and normalize it (fetch/url.h);
 * NULL when it is not an http(s) URL. */
char *html_resolve(const struct html_doc *d, const char *ref);

/* ---- links.c ---- */

/* The page's links to follow: <a href>, <area href>, <link rel="next|prev|alternate|canonical">
 * and <iframe src>, resolved and normalized, without fragments, de-duplicated, in document
 * order; javascript:, mailto:, tel:, data: and other schemes are skipped, as are links marked
 * rel="nofollow" when skip_nofollow (and then every link of a page whose <meta name="robots">
 * says nofollow or none). Stylesheets and icons (<link rel="alternate stylesheet">) are not
 * pages and are skipped. *urls gets a new array of new strings (html_strings_free), NULL when
 * there are none. Returns 0. */
int html_links(const struct html_doc *d, bool skip_nofollow, char ***urls, size_t *n);
void html_strings_free(char **s, size_t n);

/* The page's metadata as a JSON object: title (the first <title> outside an <svg>), description,
 * language (<html lang>), canonical (resolved), robots (meta robots), og (an object of the og:*
 * properties without the prefix, from <meta property> or <meta name>) and twitter (likewise);
 * og:url, og:image, og:video, og:audio and twitter:image are resolved like links. Values have
 * their whitespace collapsed; the first value of a key in the page wins. Absent and empty values
 * are left out. A new reference (json_decref). */
json_t *html_metadata(const struct html_doc *d);

/* ---- markdown.c ---- */

/* The main content of the page: the first <main> (or role="main") element when there is one,
 * else the <article> when there is exactly one (several are a listing, which <body> holds), else
 * <body>, without scripts, styles, navigation, page
 * headers and footers (a <header> or <footer> inside an article, aside, main, nav or section is
 * that part's own and stays), asides, forms (unless one wraps the page: it holds a main, article
 * or h1), embedded objects, form controls and hidden elements (hidden, aria-hidden="true",
 * display:none or visibility:hidden inline, a closed <dialog>, or role navigation, banner,
 * contentinfo, complementary, search, dialog, alertdialog, menu or menubar). Whitespace is
 * collapsed as a browser shows it (a no-break space too, as in html_node_text); no more than one
 * blank line comes in a row. Each returns a new string, "" for a page without content; output
 * past 4 * HTML_MAX_BYTES is cut. Elements nested deeper than 512 levels (no parsed page has
 * them: the parser stops at TREE_MAX_DEPTH) are read as their plain text. */
/* as plain text, paragraphs separated by blank lines, list items and table rows on lines of their
 * own (cells separated by tabs), without a final newline */
char *html_text(const struct html_doc *d);
/* as Markdown (CommonMark, with GFM tables and ~~strikethrough~~): ATX headings, paragraphs,
 * lists (nested), links [text](url) with absolute URLs (links that are not http(s), and links
 * without text, keep only their text), images ![alt](url) (src, else data-src), emphasis, code
 * spans and fenced code blocks (with the language of class="language-x"), blockquotes, <br> as
 * a hard line break, and tables of two columns or more as pipe tables whose first row is the
 * header (a table with a table inside lays out the page and is read as blocks). Characters that
 * Markdown would read as markup are escaped. Ends with a newline unless empty. */
char *html_markdown(const struct html_doc *d);
/* as cleaned HTML: the same content (the chosen element itself and what is inside it) without
 * scripts, styles, event-handler attributes (on*), srcdoc, comments and inline styles;
 * URLs (href, src, srcset, action, cite, poster and the like) made absolute, and those that are
 * javascript:, vbscript: or data: URLs removed (other schemes, such as mailto:, and #fragments stay
 * as they are). Whitespace outside <pre> is collapsed. */
char *html_clean(const struct html_doc *d);

/* ---- select.c ---- */

/* Select nodes with an XPath 1.0 expression (css false) or a CSS selector (css true; a subset:
 * type, *, #id, .class, [attr], [attr=v], [attr~=v], [attr|=v], [attr^=v], [attr$=v],
 * [attr*=v], descendant, child >, adjacent +, sibling ~, groups with commas, :first-child,
 * :last-child, :only-child, :nth-child(an+b) and :nth-last-child(an+b) (odd, even, 3, 2n+1, -n+3),
 * and ::text and ::attr(name) at the end as in Scrapy; element and attribute names are
 * case-insensitive, values are not) and give their values as a JSON array of strings: an
 * element's text (html_node_text), an attribute's value (as it is), a text node's text
 * (whitespace collapsed; text nodes of whitespace alone are left out); XPath results that are
 * numbers, strings or booleans give one string ("3", "1.5", "true"). The XPath is evaluated with
 * the document as the context node (so "html/body" works as "/html/body" does).
 * *out gets a new reference (json_decref); NULL on error.
 * Errors: TRAWL_EINVAL for a selector that cannot be parsed, with a message that names it and
 * says where ("css selector 'div[': unterminated [ at 4", "xpath '//a[': invalid expression at
 * 4"), or for one longer than 4096 bytes; TRAWL_ETOOBIG when the evaluation takes more than 50
 * million XPath steps (about a second) or the strings selected exceed 16 MiB.
 * Cost: CSS selectors become predicates on the selected element ("a b" is //b[ancestor::a]),
 * which cost the candidates times their depth. An XPath written by hand as //a//b runs in time
 * quadratic in the matches when many a nest (libxml2 2.9 merges node sets pairwise; the step
 * limit does not count that work): 200 nested divs around 20,000 links take seconds. */
int html_select(const struct html_doc *d, const char *selector, bool css, json_t **out,
                struct err *e);
/* The XPath for a CSS selector (a new string in *xpath, NULL on error), as html_select
 * translates it; errors as html_select's for CSS. */
int html_css_to_xpath(const char *css, char **xpath, struct err *e);

#endif
