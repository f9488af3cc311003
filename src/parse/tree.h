/* trawl's HTML parser: a tokenizer and tree builder after the HTML5 standard's, which builds the
 * document as libxml2 nodes (so XPath and the readers of html.h work on it as on any libxml2
 * tree) in one arena per document. libxml2 2.9's own HTML parser reads about 90 MB/s and
 * allocates every node, name and attribute one by one; on a shop's product pages it was most of
 * a scraping session's CPU (docs/internals/parse.md).
 *
 * What the tree is, for any input (nothing is refused):
 * - the root is an <html> element with a <head> and a <body>, always, in that order; html and
 *   body start tags found later (and head start tags before the body starts) add their
 *   attributes to those elements (the first value of an attribute wins) and are otherwise
 *   ignored, as are their end tags; nothing else is implied (no <tbody> in a table);
 * - before the body starts, <base>, <basefont>, <bgsound>, <link>, <meta>, <noscript>,
 *   <noframes>, <script>, <style>, <template> and <title> go into <head>, and whitespace text is
 *   dropped; any other start tag, or text that is not whitespace, starts the body;
 * - element and attribute names are lowercased (ASCII); the first of two attributes of the same
 *   name wins; attribute values and text have their character references decoded (numeric ones,
 *   and the named ones of HTML 4 plus &apos;; without the ';', the Latin-1 ones, as the longest
 *   name that starts the letters after the '&' ("&copy2024" is "©2024"), but not in an
 *   attribute value when a '=' or a letter or digit follows);
 * - void elements (area, base, br, col, embed, hr, img, input, link, meta, param, source, track,
 *   wbr and the like) have no content; "/>" closes an element only for those and inside <svg>
 *   and <math>;
 * - <script>, <style>, <xmp>, <iframe>, <noembed>, <noframes> hold their content as one text
 *   node, as written, up to their end tag; <title> and <textarea> likewise but with character
 *   references decoded; <plaintext> takes the rest of the page (none of this inside svg or math);
 * - start tags close what HTML says they close: a block (div, p, ul, table, h1-h6, section ...)
 *   closes an open <p>; <li> an open <li>, <dt>/<dd> an open <dt>/<dd>, <option> an open
 *   <option>, <tr> an open <tr>, <td>/<th> an open cell, a heading a heading that is the current
 *   element, <a> an open <a>, <button> an open <button>; none of these reach past a <table>, a
 *   cell, a <caption>, an <object>, a <template> (or, for <p>, a <button>);
 * - an end tag closes the nearest open element of its name, with everything opened inside it,
 *   unless a <table>, a cell, a <caption>, an <object> or a <template> comes first (for the end
 *   tag of a table part, only a <table> or a <template>), or (for an end tag of an inline
 *   element) a block element; otherwise it is ignored; </br> is a <br>;
 * - a block start tag (div, p, ul, table, ...) inside <svg> or <math> closes them first;
 * - comments become comment nodes; DOCTYPEs, processing instructions and CDATA sections outside
 *   svg and math are dropped; a '<' that starts no tag is text; a tag cut off by the end of the
 *   page is dropped;
 * - elements nested deeper than TREE_MAX_DEPTH are added as siblings at that depth (as
 *   browsers do), so no walk of the tree meets more levels than that; an element keeps its
 *   first 256 attributes; a tree stops growing at TREE_MAX_NODES nodes (elements, attributes,
 *   texts, comments; about 250 MB, what a 10 MB page of nothing but tags makes): what comes
 *   after is not in it.
 * Not done (the standard's rules that only move content of broken pages): the adoption agency
 * for misnested formatting elements, foster parenting of content misplaced in tables, and
 * template contents as a separate fragment. No IDs are registered: XPath's id() finds nothing. */
#ifndef TRAWL_TREE_H
#define TRAWL_TREE_H

#include <libxml/tree.h>
#include <stdbool.h>
#include <stddef.h>

#define TREE_MAX_DEPTH 512
#define TREE_MAX_NODES 2000000

struct tree_arena;

/* Build the tree of the len bytes of UTF-8 at s (valid UTF-8, NUL bytes allowed: they become
 * U+FFFD) under doc, which must have no children. The nodes live in *arena; tree_release frees
 * them and must be called before xmlFreeDoc(doc). Returns 0, or 1 when the page had more than
 * TREE_MAX_NODES nodes and the tree was cut there. */
int tree_build(const char *s, size_t len, xmlDocPtr doc, struct tree_arena **arena);
/* The character reference at s ('&' first; the text ends at end), read as in a page's text (or
 * in an attribute's value when in_attr): its characters are written to o, their length to
 * *olen, and the bytes it took are returned; 0 when it is no reference (the '&' is then text).
 * It never writes more bytes than it takes. */
size_t tree_reference(const char *s, const char *end, bool in_attr, char *o, size_t *olen);
/* Detach the tree from doc and free its arena (NULL: nothing, and doc keeps its children). */
void tree_release(xmlDocPtr doc, struct tree_arena *arena);

#endif
