/* The API's insides, shared by its resource files: a request as the handlers see it, the reply
 * helpers, and the route table's entries. Not for use outside src/api/.
 *
 * Ownership: a handler borrows the request; the JSON it passes to a reply helper is stolen
 * (jansson's "_new" convention), as is the body passed to api_reply_raw. */
#ifndef TRAWL_API_INT_H
#define TRAWL_API_INT_H

#include "api/api.h"
#include "base/buf.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#define API_JSON_DEPTH_MAX 160 /* a chain of 64 stages nests its specs up to 129 deep */
#define API_PARAMS_MAX     2

struct api_pool;

struct api {
    struct api_deps deps;
    struct api_opts opts;
    struct MHD_Daemon *daemon;
    int port;
    atomic_int waits;     /* requests waiting on a job now */
    atomic_bool stopping; /* readyz answers 503 */
    atomic_int inflight;  /* connections suspended while their request is worked on */
    struct auth_cache *auth;
    struct api_pool *pool; /* threads for the handlers that may block */
};

struct route;

/* A request. libmicrohttpd's threads only read requests and write answers; a handler that may
 * block (a read of the store, a wait) runs on the API's own threads while its connection is
 * suspended, and the enqueue handlers hand their work to the committer and are answered from
 * there. A request is reference-counted: libmicrohttpd holds one reference until the request is
 * over, and whoever will answer it later holds another. */
struct req {
    struct api *api;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    struct buf body;
    bool body_too_large;
    size_t body_dropped;   /* bytes of a body past the cap read and dropped */
    const char *workspace; /* after auth */
    const char *params[API_PARAMS_MAX];
    char *scratch;         /* the path, cut into its parameters */
    json_t *json;          /* the parsed body, for routes that take one */
    struct upload *upload; /* a feed uploaded to POST /v1/imports (upload.c); NULL: none */
    const struct route *route;
    atomic_int refs;
    /* delivery of the answer, under lock */
    pthread_mutex_t lock;
    bool answered;
    bool in_access;               /* libmicrohttpd's access handler is running for it ... */
    pthread_t access_thread;      /* ... on this thread */
    bool suspended;               /* the connection waits for the answer */
    bool dispatched;              /* routed: later calls of the access handler deliver the answer */
    struct MHD_Response *pending; /* an answer made on another thread, queued by libmicrohttpd's */
    unsigned status;              /* of the answer, once there is one */
    unsigned pending_status;
    void (*finish)(struct req *r, void *arg); /* makes the answer on libmicrohttpd's thread */
    void *finish_arg;
};

/* From any thread (the committer's, typically): the answer can be made now; fn(r, arg) runs on
 * libmicrohttpd's thread (or at once when this is it) and answers. The committer then does not
 * spend its time writing JSON. */
void api_finish_later(struct req *r, void (*fn)(struct req *r, void *arg), void *arg);

/* Take and drop a reference to r; the last one frees it. */
void api_req_ref(struct req *r);
void api_req_unref(struct req *r);

/* Answer with status and a JSON body (stolen). Returns MHD_YES or MHD_NO for the handler. */
enum MHD_Result api_reply(struct req *r, unsigned status, json_t *body);
/* Answer {"success": false, "error": {"code", "message"}} with status; code is derived from
 * status ("bad_request", "unauthorized", ...). */
enum MHD_Result api_reply_error(struct req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with one more response header (Allow, Retry-After, WWW-Authenticate). */
enum MHD_Result api_reply_error_hdr(struct req *r, unsigned status, const char *hname,
                                    const char *hvalue, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Answer a trawl error with the status it maps to: EINVAL 400, ENOTFOUND 404, ESTALE and
 * ESTATE 409, ETOOBIG 413, a store that cannot answer 503, anything else 500. */
enum MHD_Result api_reply_err(struct req *r, const struct err *e);
/* Answer 200 with a body made while it is sent (chunked): reader is libmicrohttpd's content
 * reader and runs on its thread; free_cls(cls) is called when the answer is over (also when it
 * could not be sent). */
enum MHD_Result api_reply_stream(struct req *r, const char *ctype, const char *disposition,
                                 MHD_ContentReaderCallback reader, void *cls,
                                 MHD_ContentReaderFreeCallback free_cls);
/* Answer with status and data (stolen, malloc'd) of content type ctype. */
enum MHD_Result api_reply_text(struct req *r, unsigned status, const char *ctype, char *data,
                               size_t len);
/* Answer with a response made by the caller (taken). */
enum MHD_Result api_reply_response(struct req *r, unsigned status, struct MHD_Response *resp);
/* {"success": true} merged with body's members. */
json_t *api_ok(void);

/* A query parameter, or NULL. */
const char *api_query(struct req *r, const char *name);
/* Parse query parameter name as an integer in [min, max] (def when absent). On a bad value an
 * error reply is sent and false returned. */
bool api_query_int(struct req *r, const char *name, int64_t min, int64_t max, int64_t def,
                   int64_t *out);
/* A page of a listing: limit (1 to 1000, def when absent) and offset (0 or more, default 0). On a
 * bad value an error reply is sent and false returned. */
bool api_query_page(struct req *r, int64_t def, int64_t *limit, int64_t *offset);
/* Times as ISO 8601 UTC with milliseconds, or JSON null for 0. */
json_t *api_time(int64_t ms);

/* Reading a JSON body's members: each sends a 400 naming the field and returns false on a
 * value of the wrong type or out of range; an absent member leaves *out as it was. */
bool api_get_int(struct req *r, json_t *obj, const char *key, int64_t min, int64_t max,
                 int64_t *out);
bool api_get_str(struct req *r, json_t *obj, const char *key, size_t max, const char **out);
bool api_get_bool(struct req *r, json_t *obj, const char *key, bool *out);

/* A batch id the API can put in a path: 1-128 of letters, digits and . _ : - */
bool api_valid_batch_id(const char *s);
#define API_BATCH_ID_MAX 128

/* Read a job spec (with its stages: engine/spec_json.h) from obj for the caller's workspace;
 * strings borrow from obj, allocations go to mem. On a bad spec a 400 naming the field is sent
 * and false returned. where names the spec in messages ("jobs[2]"). */
struct spec_mem;
bool api_read_spec(struct req *r, json_t *obj, const char *where, struct job_spec *out,
                   struct spec_mem *mem);

/* The job whose id is the path's first parameter, which must be a job of the caller's workspace;
 * *out is filled. On failure the reply has been sent and false is returned. */
bool api_own_job(struct req *r, struct job *out);

/* A job as the generic API shows it (without args when brief). */
json_t *api_job_json(const struct job *j, bool brief);

typedef enum MHD_Result (*api_handler_fn)(struct req *r);

/* Whether ct (a Content-Type, NULL: none) is JSON's. */
bool api_is_json_type(const char *ct);
/* Parse the request's body as a JSON object into r->json (for routes not marked R_JSON that take
 * JSON sometimes). On failure a 400 or 415 has been sent and false is returned. */
bool api_parse_body(struct req *r);

/* upload.c: a feed written to a temporary file in the import folder as it arrives. */
struct upload;
/* Whether a request is an upload: POST /v1/imports with a body that is not JSON. */
bool upload_wanted(const char *method, const char *url, const char *ctype);
/* Begin an upload into dir (NULL: the request will be refused, nothing is written), at most max
 * bytes; ctype multipart/form-data is a form whose file is the feed, anything else the feed. Never
 * NULL: an error is kept for upload_error. */
struct upload *upload_begin(struct MHD_Connection *conn, const char *dir, int64_t max,
                            const char *ctype);
void upload_data(struct upload *u, const char *data, size_t n);
/* The body is over. */
void upload_end(struct upload *u);
/* 0, or the HTTP status of what went wrong and *msg its message. */
unsigned upload_error(const struct upload *u, const char **msg);
/* A form field (NULL: absent, or a raw upload), the form's file name, the feed's size. */
const char *upload_field(const struct upload *u, const char *name);
const char *upload_filename(const struct upload *u);
int64_t upload_size(const struct upload *u);
/* Make the upload durable as path (fsync, rename, the folder's fsync). */
int upload_keep(struct upload *u, const char *path, struct err *e);
/* Close, and remove the file unless it was kept. Accepts NULL. */
void upload_free(struct upload *u);

/* export.c: records streamed out of the store as they are read. */
enum export_source { EXPORT_SESSION, EXPORT_IMPORT };
/* The query's format (jsonl, the default; json; csv) into *fmt. On a bad one a 400 is sent and
 * false returned. */
bool api_export_format(struct req *r, int *fmt);
/* Answer with the records of session or import id in fmt; CSV has the columns cols (an import's
 * records have their number, a column "number"). */
enum MHD_Result api_export(struct req *r, enum export_source src, const char *id, int fmt,
                           const char *const *cols, size_t ncols);

/* webhook_calls.c: a listing of the webhook calls recorded for a job. */
struct api_call_query {
    int64_t limit, after;
    int status; /* -1: any */
};
/* Read limit, status and cursor from the query; on a bad one a 400 is sent and false returned. */
bool api_webhook_query(struct req *r, struct api_call_query *q);
/* Answer with job_id's calls (none for NULL or ""). */
enum MHD_Result api_webhook_calls(struct req *r, const struct api_call_query *q,
                                  const char *job_id);

/* Route handlers, one file per resource. */
enum MHD_Result api_healthz(struct req *r);
enum MHD_Result api_readyz(struct req *r);
enum MHD_Result api_breakers(struct req *r);
enum MHD_Result api_metrics(struct req *r);
enum MHD_Result api_metrics_prometheus(struct req *r);
enum MHD_Result api_metrics_series(struct req *r);
enum MHD_Result api_events(struct req *r);
enum MHD_Result api_ui_index(struct req *r);
enum MHD_Result api_ui_file(struct req *r);

enum MHD_Result api_jobs_create(struct req *r);
enum MHD_Result api_jobs_list(struct req *r);
enum MHD_Result api_jobs_get(struct req *r);
enum MHD_Result api_jobs_cancel(struct req *r);
enum MHD_Result api_jobs_retry(struct req *r);
enum MHD_Result api_jobs_claim(struct req *r);
enum MHD_Result api_jobs_heartbeat(struct req *r);
enum MHD_Result api_jobs_complete(struct req *r);
enum MHD_Result api_jobs_fail(struct req *r);

enum MHD_Result api_jobs_chain(struct req *r);
enum MHD_Result api_jobs_children(struct req *r);
enum MHD_Result api_pipelines_create(struct req *r);
enum MHD_Result api_pipelines_list(struct req *r);
enum MHD_Result api_pipelines_get(struct req *r);

enum MHD_Result api_schedules_create(struct req *r);
enum MHD_Result api_schedules_list(struct req *r);
enum MHD_Result api_schedules_get(struct req *r);
enum MHD_Result api_schedules_pause(struct req *r);
enum MHD_Result api_schedules_resume(struct req *r);
enum MHD_Result api_schedules_delete(struct req *r);

enum MHD_Result api_crawl_create(struct req *r);
enum MHD_Result api_crawl_batch(struct req *r);
enum MHD_Result api_crawl_get(struct req *r);
enum MHD_Result api_crawl_wait(struct req *r);
enum MHD_Result api_crawl_process(struct req *r);
enum MHD_Result api_batches_list(struct req *r);
enum MHD_Result api_batches_get(struct req *r);
enum MHD_Result api_batches_retry(struct req *r);

enum MHD_Result api_sessions_create(struct req *r);
enum MHD_Result api_sessions_list(struct req *r);
enum MHD_Result api_sessions_get(struct req *r);
enum MHD_Result api_sessions_cancel(struct req *r);
enum MHD_Result api_sessions_retry(struct req *r);
enum MHD_Result api_sessions_pages(struct req *r);
enum MHD_Result api_sessions_page_content(struct req *r);
enum MHD_Result api_sessions_records(struct req *r);
enum MHD_Result api_sessions_extract(struct req *r);
enum MHD_Result api_sessions_changes(struct req *r);
enum MHD_Result api_sessions_webhook_calls(struct req *r);
enum MHD_Result api_webhook_redeliver(struct req *r);

enum MHD_Result api_imports_create(struct req *r);
enum MHD_Result api_imports_list(struct req *r);
enum MHD_Result api_imports_get(struct req *r);
enum MHD_Result api_imports_fields(struct req *r);
enum MHD_Result api_imports_start(struct req *r);
enum MHD_Result api_imports_items(struct req *r);
enum MHD_Result api_imports_records(struct req *r);
enum MHD_Result api_imports_webhook_calls(struct req *r);
enum MHD_Result api_imports_retry(struct req *r);
enum MHD_Result api_imports_cancel(struct req *r);
/* The session whose id is the path's first parameter, of the caller's workspace; on failure the
 * reply has been sent and false is returned. */
struct scrape_session;
bool api_own_session(struct req *r, struct scrape_session *ss);

/* auth.c: the workspace of a bearer token, cached for a few seconds. */
struct auth_cache *auth_cache_new(void);
void auth_cache_free(struct auth_cache *c);
/* 0 and the workspace (copied into ws) for a live token; TRAWL_ENOTFOUND for an unknown or
 * revoked one; a store error otherwise. */
int auth_lookup(struct auth_cache *c, struct engine *eng, const char *token, char *ws, size_t n,
                struct err *e);

#endif
