/* The dashboard's files (web/), embedded at build time by scripts/embed-ui.sh: served by
 * trawl serve itself, with no build step and no other server. */
#ifndef TRAWL_UI_H
#define TRAWL_UI_H

#include <stddef.h>

struct ui_file {
    const char *path; /* "/" for index.html, else "/ui/NAME" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct ui_file ui_files[];
extern const int ui_files_count;

#endif
