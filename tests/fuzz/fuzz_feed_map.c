/* libFuzzer target: a field mapping and a record from anywhere (feed_map.c). The input's first
 * line is the field_mappings JSON, its second the output buffer's cap in bytes (not a number: no
 * cap), and each further line a field of the record, name=value (a value that is not UTF-8 is
 * sanitized first, as feed.h promises of a parser's fields). Checked: a refused mapping says why
 * and gives none; a product is one JSON object appended to what out held, with a name or a sku,
 * a price that is a number and http(s) images; a row error leaves out as it was and says why in
 * UTF-8; TRAWL_ETOOBIG leaves out as it was. Run by scripts/run-fuzz.sh. */
#include "base/utf8.h"
#include "parse/feed_map.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIELDS_MAX 64

/* The next line of data[*pos..size), NUL-terminated in a copy (free() it); NULL at the end. */
static char *next_line(const uint8_t *data, size_t size, size_t *pos, size_t *len)
{
    if (*pos >= size)
        return NULL;
    const uint8_t *s = data + *pos;
    const uint8_t *nl = memchr(s, '\n', size - *pos);
    size_t n = nl ? (size_t)(nl - s) : size - *pos;
    *pos += n + (nl ? 1 : 0);
    char *line = malloc(n + 1);
    if (!line)
        abort();
    memcpy(line, s, n);
    line[n] = 0;
    *len = n;
    return line;
}

static int is_http(const char *s)
{
    return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

static void check_product(const char *text)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_ALLOW_NUL, &je); /* \u0000 is JSON; jansson asks */
    if (!json_is_object(o))
        abort(); /* not JSON, or JSON but not one object */
    if (!json_is_string(json_object_get(o, "name")) && !json_is_string(json_object_get(o, "sku")))
        abort();
    json_t *price = json_object_get(o, "price");
    if (price && !json_is_number(price))
        abort();
    json_t *images = json_object_get(o, "images");
    if (images && (!json_is_array(images) || !json_array_size(images)))
        abort();
    size_t i;
    json_t *img;
    json_array_foreach(images, i, img)
    {
        if (!json_is_string(img) || !is_http(json_string_value(img)))
            abort();
    }
    json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0, len;
    char *json = next_line(data, size, &pos, &len);
    if (!json)
        return 0;
    struct feed_map *m = (struct feed_map *)&pos;
    struct err e;
    err_clear(&e);
    if (feed_map_parse(json, &m, &e) != 0) {
        free(json);
        if (m || e.code != TRAWL_EINVAL || !e.msg[0])
            abort();
        return 0;
    }
    free(json);
    char *capline = next_line(data, size, &pos, &len);
    size_t cap = capline ? strtoul(capline, NULL, 10) : 0;
    free(capline);
    feed_map_set_currency(m, size % 2 ? "EUR" : NULL);

    char *lines[FIELDS_MAX];
    struct feed_field f[FIELDS_MAX];
    size_t n = 0;
    char *line;
    while (n < FIELDS_MAX && (line = next_line(data, size, &pos, &len)) != NULL) {
        if (!utf8_valid(line, len)) {
            size_t k;
            char *ok = utf8_sanitize(line, len, &k);
            free(line);
            line = ok;
            len = k;
        }
        lines[n] = line;
        char *eq = memchr(line, '=', len);
        if (eq)
            *eq = 0;
        f[n] = (struct feed_field){.name = line, .value = eq ? eq + 1 : line + len};
        f[n].len = (size_t)(line + len - f[n].value);
        n++;
    }
    struct feed_record r = {.number = 1, .line = 1, .fields = f, .nfields = n};

    struct buf out;
    buf_init(&out, cap);
    const char *before = !cap || cap >= 4 ? "[1,2" : "";
    if (buf_adds(&out, before) != 0)
        abort();
    size_t len0 = out.len;
    char why[FEED_MAP_WHY_MAX];
    int rc = feed_map_apply(m, &r, &out, why);
    if (memcmp(out.data, before, len0) != 0)
        abort(); /* what out held is kept */
    if (rc == 0) {
        if (!feed_map_usable(m) || strlen(out.data) != out.len)
            abort();
        check_product(out.data + len0);
    } else if (rc == 1) {
        size_t wn = strnlen(why, FEED_MAP_WHY_MAX);
        if (out.len != len0 || wn == 0 || wn == FEED_MAP_WHY_MAX || !utf8_valid(why, wn))
            abort();
    } else if (rc != TRAWL_ETOOBIG || out.len != len0 || out.data[len0] != 0 || !cap) {
        abort();
    }
    buf_release(&out);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    feed_map_free(m);
    return 0;
}
