/* GET / and GET /ui/:file: the dashboard, from the files embedded in the binary. Public (the page
 * asks for a token and sends it with every call); never framed by another site (X-Frame-Options,
 * CSP frame-ancestors), and its own scripts only (CSP script-src 'self'): a fetched page it shows
 * is put in a sandboxed frame, with no scripts and an origin of its own. */
#include "api/ui.h"
#include "api/api_int.h"

#include <string.h>

#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'; "              \
    "form-action 'self'; object-src 'none'"

static enum MHD_Result serve_file(struct req *r, const char *path)
{
    for (int i = 0; i < ui_files_count; i++) {
        if (strcmp(ui_files[i].path, path) != 0)
            continue;
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            ui_files[i].len, (void *)ui_files[i].data, MHD_RESPMEM_PERSISTENT);
        if (!resp)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", ui_files[i].type);
        MHD_add_response_header(resp, "Cache-Control", "no-cache");
        MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
        return api_reply_response(r, 200, resp);
    }
    return api_reply_error(r, 404, "no such file: %s", path);
}

enum MHD_Result api_ui_index(struct req *r)
{
    return serve_file(r, "/");
}

enum MHD_Result api_ui_file(struct req *r)
{
    char path[256];
    snprintf(path, sizeof path, "/ui/%s", r->params[0]);
    return serve_file(r, path);
}
