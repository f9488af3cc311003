/* Uploads of feeds (POST /v1/imports with a file): the body is written to a temporary file in the
 * import folder as it arrives, never held in memory. A multipart/form-data body
 * (libmicrohttpd's post processor) gives the file (its first part with a file name) and the
 * form's other fields; any other body that is not JSON is the file itself, and its options are
 * the query's parameters. The handler keeps the file under the import's name (upload_keep);
 * an upload that is not kept is removed when the request is over. */
#include "api/api_int.h"

#include "base/log.h"
#include "base/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FORM_FIELD_MAX  (64 * 1024) /* a form field other than the file */
#define FORM_FIELDS_MAX 32
#define POST_BUFFER     (64 * 1024) /* libmicrohttpd's post processor's buffer */

struct upload {
    int fd;
    char path[4096]; /* the temporary file; "" once kept or removed */
    int64_t size, max;
    struct MHD_PostProcessor *pp; /* multipart: the form's parser */
    bool have_file;
    char filename[256];
    json_t *fields;     /* the form's other fields, as strings */
    char field_key[64]; /* the field being read ... */
    struct buf field;   /* ... and its value so far */
    unsigned status;    /* 0, or the HTTP status of the first error */
    char msg[256];      /* ... and its message */
};

static void fail(struct upload *u, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct upload *u, unsigned status, const char *fmt, ...)
{
    if (u->status)
        return;
    u->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->msg, sizeof u->msg, fmt, ap);
    va_end(ap);
    /* what was written is of no use now: free the disk at once */
    if (u->fd >= 0) {
        close(u->fd);
        u->fd = -1;
    }
    if (u->path[0]) {
        unlink(u->path);
        u->path[0] = 0;
    }
}

static void file_write(struct upload *u, const char *data, size_t n)
{
    if (u->status || !n)
        return;
    if (u->size + (int64_t)n > u->max) {
        fail(u, 413, "the upload is over the limit of %lld bytes", (long long)u->max);
        return;
    }
    while (n) {
        ssize_t w = write(u->fd, data, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int err = errno;
            log_error("upload to %s: %s", u->path, strerror(err));
            fail(u, err == ENOSPC ? 507 : 500, "the upload could not be written: %s",
                 strerror(err));
            return;
        }
        data += w;
        n -= (size_t)w;
        u->size += w;
    }
}

static void field_end(struct upload *u)
{
    if (!u->field_key[0])
        return;
    json_t *v = json_stringn(u->field.data ? u->field.data : "", u->field.len);
    if (!v)
        fail(u, 400, "the form field \"%s\" is not UTF-8", u->field_key);
    else
        json_object_set_new(u->fields, u->field_key, v);
    u->field_key[0] = 0;
    buf_clear(&u->field);
}

static enum MHD_Result form_part(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *filename, const char *content_type,
                                 const char *transfer_encoding, const char *data, uint64_t off,
                                 size_t size)
{
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    struct upload *u = cls;
    if (u->status)
        return MHD_YES;
    if (filename) {
        field_end(u);
        if (off == 0 && u->have_file) {
            fail(u, 400, "the form holds more than one file; send one feed per import");
            return MHD_YES;
        }
        if (!u->have_file) {
            u->have_file = true;
            snprintf(u->filename, sizeof u->filename, "%s", filename);
        }
        file_write(u, data, size);
        return MHD_YES;
    }
    if (!key || !key[0])
        return MHD_YES;
    if (off == 0 || strcmp(key, u->field_key) != 0) {
        field_end(u);
        if (json_object_size(u->fields) >= FORM_FIELDS_MAX) {
            fail(u, 400, "the form has more than %d fields", FORM_FIELDS_MAX);
            return MHD_YES;
        }
        if (strlen(key) >= sizeof u->field_key) {
            fail(u, 400, "the form field name \"%.40s...\" is too long", key);
            return MHD_YES;
        }
        snprintf(u->field_key, sizeof u->field_key, "%s", key);
    }
    if (buf_add(&u->field, data, size) != 0)
        fail(u, 413, "the form field \"%s\" is over %d bytes", key, FORM_FIELD_MAX);
    return MHD_YES;
}

bool upload_wanted(const char *method, const char *url, const char *ctype)
{
    if (strcmp(method, "POST") != 0)
        return false;
    if (strcmp(url, "/v1/imports") != 0 && strcmp(url, "/v1/imports/") != 0)
        return false;
    return !api_is_json_type(ctype);
}

struct upload *upload_begin(struct MHD_Connection *conn, const char *dir, int64_t max,
                            const char *ctype)
{
    struct upload *u = xcalloc(1, sizeof *u);
    u->fd = -1;
    u->max = max;
    u->fields = json_object();
    buf_init(&u->field, FORM_FIELD_MAX);
    if (!dir) {
        fail(u, 401, "an API token is required");
        return u;
    }
    if (ctype && strncasecmp(ctype, "multipart/form-data", 19) == 0) {
        u->pp = MHD_create_post_processor(conn, POST_BUFFER, form_part, u);
        if (!u->pp) {
            fail(u, 400, "the multipart/form-data body has no boundary");
            return u;
        }
    } else if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
        fail(u, 415,
             "send the feed as multipart/form-data (a file field), or as the raw body with the "
             "options in the query");
        return u;
    } else {
        u->have_file = true;
    }
    int n = snprintf(u->path, sizeof u->path, "%s/.upload-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof u->path) {
        u->path[0] = 0;
        fail(u, 500, "the import folder's path is too long");
        return u;
    }
    u->fd = mkostemp(u->path, O_CLOEXEC);
    if (u->fd < 0) {
        int err = errno;
        log_error("upload: cannot make a file in %s: %s", dir, strerror(err));
        u->path[0] = 0;
        fail(u, err == ENOSPC ? 507 : 500, "the upload could not be kept: %s", strerror(err));
    }
    return u;
}

void upload_data(struct upload *u, const char *data, size_t n)
{
    if (u->status)
        return;
    if (!u->pp) {
        file_write(u, data, n);
        return;
    }
    if (MHD_post_process(u->pp, data, n) != MHD_YES)
        fail(u, 400, "the multipart/form-data body is malformed");
}

void upload_end(struct upload *u)
{
    if (u->pp) {
        enum MHD_Result ok = MHD_destroy_post_processor(u->pp);
        u->pp = NULL;
        field_end(u);
        if (ok != MHD_YES)
            fail(u, 400, "the multipart/form-data body ends before its last part does");
        else if (!u->have_file)
            fail(u, 400,
                 "the form has no file: send the feed in a field with a file name "
                 "(curl -F file=@feed.xml)");
    }
    if (!u->status && u->size == 0)
        fail(u, 400, "the uploaded feed is empty");
}

unsigned upload_error(const struct upload *u, const char **msg)
{
    *msg = u->msg;
    return u->status;
}

const char *upload_field(const struct upload *u, const char *name)
{
    return json_string_value(json_object_get(u->fields, name));
}

const char *upload_filename(const struct upload *u)
{
    return u->filename[0] ? u->filename : NULL;
}

int64_t upload_size(const struct upload *u)
{
    return u->size;
}

int upload_keep(struct upload *u, const char *path, struct err *e)
{
    if (u->fd < 0 || !u->path[0])
        return err_set(e, TRAWL_ESTATE, false, "no upload to keep");
    if (fsync(u->fd) != 0 || close(u->fd) != 0) {
        int err = errno;
        u->fd = -1;
        return err_set(e, TRAWL_EIO, true, "the upload could not be written: %s", strerror(err));
    }
    u->fd = -1;
    if (rename(u->path, path) != 0)
        return err_set(e, TRAWL_EIO, true, "the upload could not be kept as %s: %s", path,
                       strerror(errno));
    u->path[0] = 0;
    /* the rename is durable with its folder */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = 0;
        int dfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    return 0;
}

void upload_free(struct upload *u)
{
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0)
        close(u->fd);
    if (u->path[0])
        unlink(u->path);
    json_decref(u->fields);
    buf_release(&u->field);
    free(u);
}
