/* libFuzzer target: a page of HTML from anywhere, parsed (tree.c, html.c, with a charset that
 * goes through iconv when the first byte says so) and read every way trawl reads a page: links,
 * metadata, products, text, Markdown, cleaned HTML, an XPath. Run by scripts/run-fuzz.sh. */
#include "parse/html.h"
#include "parse/product.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *ctype = size && data[0] == 'S' ? "text/html; charset=shift_jis" : NULL;
    struct html_doc *d;
    struct err e;
    if (html_parse((const char *)data, size, "https://example.com/a/", ctype, &d, &e) != 0)
        return 0;
    char **links;
    size_t n;
    if (html_links(d, true, &links, &n) == 0)
        html_strings_free(links, n);
    json_decref(html_metadata(d));
    json_t *recs, *warnings;
    if (product_extract(d, &recs, &warnings, &e) == 0) {
        json_decref(recs);
        json_decref(warnings);
    }
    free(html_markdown(d));
    free(html_text(d));
    free(html_clean(d));
    json_t *sel;
    if (html_select(d, "div > a::attr(href)", true, &sel, &e) == 0)
        json_decref(sel);
    html_free(d);
    return 0;
}
