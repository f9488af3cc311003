/* PLACEHOLDER: the json parser is being written; this file only lets the tree build. */
#include "parse/feed_int.h"

int feed_json_parse(struct feed_src *src, const unsigned char *head, size_t nhead,
                   const struct feed_opts *o, const struct feed_limits *l, struct feed_info *info,
                   struct feed_out *out, struct err *e)
{
    (void)src;
    (void)head;
    (void)nhead;
    (void)o;
    (void)l;
    (void)info;
    (void)out;
    return err_set(e, TRAWL_EINVAL, false, "json feeds are not read yet");
}
