/* Feed imports in the store: one row per import of an XML, CSV or JSON product feed (its source,
 * its settings, where it stands, its counts), the rows of the feed that could not be mapped or
 * validated (items), and the products read and mapped (records), each marked with the webhook
 * delivery batch it went out in; and the store's imports domain. An import is run by one
 * xml_import job (background_job_id), which retention keeps for as long as the import is there.
 *
 * Ownership: parameters are borrowed. What the reads return belongs to the caller:
 * import_release, import_array_free, import_item_array_free, import_record_array_free, and free()
 * for store_import_secret's string.
 *
 * Reads run on any thread; writes inside the committer's transaction (engine_exec), as each
 * declaration says. The calls that take an import's id alone (the handler's) do not check its
 * workspace: the API gets the import by (workspace, id) first. */
#ifndef TRAWL_STORE_IMPORT_H
#define TRAWL_STORE_IMPORT_H

#include "base/uuid.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where an import stands, as its handler records it. The job row still says whether work runs
 * (pending, retrying, ...); this is the import's own phase, which the job has no word for
 * (awaiting_mappings: a preview waits for the user's mappings). */
enum import_status {
    IMPORT_PENDING,
    IMPORT_PARSING,
    IMPORT_DETECTING,
    IMPORT_AWAITING_MAPPINGS,
    IMPORT_PROCESSING,
    IMPORT_DELIVERING,
    IMPORT_COMPLETED,
    IMPORT_FAILED,
    IMPORT_CANCELLED,
    IMPORT_STATUS_COUNT
};

#define IMPORT_MASK(s) (1u << (s))
/* The statuses an import does not leave by itself. */
#define IMPORT_ENDED                                                                               \
    (IMPORT_MASK(IMPORT_COMPLETED) | IMPORT_MASK(IMPORT_FAILED) | IMPORT_MASK(IMPORT_CANCELLED))
#define IMPORT_NOT_ENDED (((1u << IMPORT_STATUS_COUNT) - 1) & ~IMPORT_ENDED)

enum import_type { IMPORT_TYPE_NONE, IMPORT_XML, IMPORT_CSV, IMPORT_JSON, IMPORT_TYPE_COUNT };
enum import_mode { IMPORT_AUTO, IMPORT_PREVIEW, IMPORT_MODE_COUNT };

/* "pending", ...; NULL out of range. parse gives the status of a name, or -1. */
const char *import_status_name(int s);
int import_status_parse(const char *name);
/* "xml", "csv", "json"; NULL for IMPORT_TYPE_NONE (not detected yet) or out of range. parse
 * gives IMPORT_TYPE_NONE for NULL, -1 for another word. */
const char *import_type_name(int t);
int import_type_parse(const char *name);
/* "auto", "preview"; NULL out of range. parse gives -1 for another word. */
const char *import_mode_name(int m);
int import_mode_parse(const char *name);

#define IMPORT_BATCH_SIZE_DEFAULT 500  /* records per delivery when an import names none */
#define IMPORT_RAW_MAX            4096 /* of a bad row, this much is kept (the caller cuts it) */

/* An import. As read back its strings are owned (import_release); to add one, they are borrowed.
 * NULL strings are absent. */
struct import {
    char id[UUID_STR_LEN];     /* UUIDv7 */
    char job_id[UUID_STR_LEN]; /* its xml_import job (background_job_id) */
    char *workspace;
    char *source_name; /* required: a file name, or the feed's name */
    char *source_url;  /* NULL: an upload */
    int type;          /* enum import_type; IMPORT_TYPE_NONE until detected */
    int mode;          /* enum import_mode */
    int status;        /* enum import_status */
    int64_t total_products, processed_products, failed_products, delivered_products;
    char *field_mappings;  /* JSON; NULL until known */
    char *detected_fields; /* JSON; NULL until detected */
    char *webhook_url;
    /* The receiver's signing secret: given on add; never read back by get or list (it is NULL
     * there, has_secret saying whether there is one): store_import_secret reads it. */
    char *webhook_secret;
    bool has_secret;
    int batch_size; /* records per delivery; 0 on add: IMPORT_BATCH_SIZE_DEFAULT */
    char *error_message;
    int64_t created_at, updated_at, completed_at; /* ms; completed_at 0: not ended */
};

void import_release(struct import *im);
void import_array_free(struct import *im, size_t n);

/* Which fields of an import an update writes: only those whose flag is in `set`; every other
 * field is left as it is, whatever its value in the struct. A flagged string that is NULL clears
 * the field (SQL NULL), a flagged completed_at of 0 too. */
enum import_set {
    IMPORT_SET_STATUS = 1 << 0,
    IMPORT_SET_TYPE = 1 << 1,
    IMPORT_SET_TOTAL = 1 << 2, /* total_products */
    IMPORT_SET_PROCESSED = 1 << 3,
    IMPORT_SET_FAILED = 1 << 4,
    IMPORT_SET_DELIVERED = 1 << 5,
    IMPORT_SET_MAPPINGS = 1 << 6, /* field_mappings */
    IMPORT_SET_DETECTED = 1 << 7, /* detected_fields */
    IMPORT_SET_ERROR = 1 << 8,    /* error_message */
    IMPORT_SET_COMPLETED_AT = 1 << 9,
    IMPORT_SET_JOB = 1 << 10, /* job_id (background_job_id): a new job runs the import */
};
#define IMPORT_SET_COUNTS                                                                          \
    (IMPORT_SET_TOTAL | IMPORT_SET_PROCESSED | IMPORT_SET_FAILED | IMPORT_SET_DELIVERED)

/* An update of an import (strings borrowed). */
struct import_update {
    unsigned set; /* IMPORT_SET_* */
    /* 0: whatever the import's status; else a mask of IMPORT_MASK(status): the update is made
     * only when the import is in one of them (a handler passes IMPORT_NOT_ENDED, so it cannot
     * undo a cancel; retry-failed IMPORT_MASK(IMPORT_FAILED)) */
    unsigned if_status;
    int status, type;
    int64_t total_products, processed_products, failed_products, delivered_products;
    const char *field_mappings, *detected_fields, *error_message;
    int64_t completed_at;
    const char *job_id;
};

/* A row of the feed that could not be mapped or validated: one per number in an import. Strings
 * borrowed to add, owned as read back (import_item_array_free). */
struct import_item {
    int64_t number; /* the row's or element's number in the feed */
    int64_t line;   /* its line in the feed; 0: not known */
    char *error;    /* required */
    char *raw;      /* the row as read, at most IMPORT_RAW_MAX bytes (the caller cuts it); NULL */
    int64_t created_at;
};

void import_item_array_free(struct import_item *it, size_t n);

/* A product read and mapped: one per number in an import. Strings borrowed to add, owned as read
 * back (import_record_array_free). */
struct import_record {
    int64_t number;
    char *record;            /* JSON of the mapped product */
    int64_t delivered_batch; /* the delivery batch it went out in; -1: not delivered yet */
    int64_t created_at;
};

void import_record_array_free(struct import_record *r, size_t n);

/* How an import's records stand. */
struct import_record_counts {
    int64_t total, delivered;
    int64_t last_batch; /* the highest delivered_batch; -1: none delivered */
};

/* Imports counted by type (IMPORT_TYPE_NONE: not detected yet) and status, with their products
 * summed per type: what the metrics show. */
struct import_stats {
    int64_t imports[IMPORT_TYPE_COUNT][IMPORT_STATUS_COUNT];
    int64_t total_products[IMPORT_TYPE_COUNT], processed_products[IMPORT_TYPE_COUNT],
        failed_products[IMPORT_TYPE_COUNT], delivered_products[IMPORT_TYPE_COUNT];
};

/* 2: stats */
#define STORE_IMPORT_VERSION 2
struct store_import_ops {
    int version; /* STORE_IMPORT_VERSION */
    int (*add)(struct store *s, const struct import *im, struct err *e);
    int (*get)(struct store *s, const char *workspace, const char *id, bool by_job,
               struct import *out, struct err *e);
    int (*secret)(struct store *s, const char *id, char **out, struct err *e);
    int (*list)(struct store *s, const char *workspace, size_t limit, size_t offset,
                struct import **out, size_t *n, int64_t *total, struct err *e);
    int (*update)(struct store *s, const char *id, const struct import_update *u, int64_t now,
                  struct err *e);
    int (*items_add)(struct store *s, const char *import_id, const struct import_item *it, size_t n,
                     int64_t now, struct err *e);
    int (*items_list)(struct store *s, const char *import_id, int64_t after, size_t limit,
                      struct import_item **out, size_t *n, struct err *e);
    int (*items_count)(struct store *s, const char *import_id, int64_t *n, struct err *e);
    int (*items_clear)(struct store *s, const char *import_id, struct err *e);
    int (*records_add)(struct store *s, const char *import_id, const struct import_record *r,
                       size_t n, int64_t now, struct err *e);
    int (*records_list)(struct store *s, const char *import_id, int64_t after, bool undelivered,
                        size_t limit, struct import_record **out, size_t *n, struct err *e);
    int (*records_deliver)(struct store *s, const char *import_id, int64_t first, int64_t last,
                           int64_t batch, struct err *e);
    int (*records_count)(struct store *s, const char *import_id, struct import_record_counts *out,
                         struct err *e);
    int (*stats)(struct store *s, const char *workspace, struct import_stats *out, struct err *e);
};

/* ---- imports ---- */

/* Add an import (write), with status, type and mode as given, counts 0, updated_at = created_at;
 * in the transaction that enqueues its job (engine_enqueue_with). TRAWL_EINVAL when a required
 * field is missing or an enum is out of range. */
int store_import_add(struct store *s, const struct import *im, struct err *e);
/* An import of the workspace (NULL: of any) by its id, or (by_job) by its job's id. Every field
 * but the secret (see struct import). TRAWL_ENOTFOUND when there is none. Read. */
int store_import_get(struct store *s, const char *workspace, const char *id, bool by_job,
                     struct import *out, struct err *e);
/* The webhook secret of import id: *out a new string, or NULL when it has none (for the handler
 * that signs deliveries). TRAWL_ENOTFOUND when there is no such import. Read. */
int store_import_secret(struct store *s, const char *id, char **out, struct err *e);
/* A workspace's imports, newest first (created_at, then id), limit (0: 20) from offset, without
 * their secrets; *total the workspace's count. Returns the number listed. Read. */
int store_import_list(struct store *s, const char *workspace, size_t limit, size_t offset,
                      struct import **out, size_t *n, int64_t *total, struct err *e);
/* Write u's flagged fields into import id, and updated_at = now (write). TRAWL_ENOTFOUND when
 * there is no such import; TRAWL_ESTATE (nothing written) when u->if_status does not hold;
 * TRAWL_EINVAL when a flagged status or type is out of range. */
int store_import_update(struct store *s, const char *id, const struct import_update *u, int64_t now,
                        struct err *e);
/* The imports of a workspace (NULL: of every workspace) counted by type and status, and their
 * products (the imports' own counts) summed per type, into *out (zeroed first). An import type or
 * status the store holds but this build has no name for is left out. Read. */
int store_import_stats(struct store *s, const char *workspace, struct import_stats *out,
                       struct err *e);

/* ---- items: the rows that could not be mapped ---- */

/* Keep n bad rows of an import (write): a number already kept is replaced (its line, error and
 * raw; its created_at stays), so a resumed import that meets a row again keeps it once; of one
 * number given twice the later wins. */
int store_import_items_add(struct store *s, const char *import_id, const struct import_item *it,
                           size_t n, int64_t now, struct err *e);
/* An import's bad rows numbered above after, in number order, at most limit (0: 500). Returns
 * the number listed. Read. */
int store_import_items_list(struct store *s, const char *import_id, int64_t after, size_t limit,
                            struct import_item **out, size_t *n, struct err *e);
/* How many bad rows an import has (read). */
int store_import_items_count(struct store *s, const char *import_id, int64_t *n, struct err *e);
/* Forget an import's bad rows (write; retry-failed reads the feed again). Returns how many. */
int store_import_items_clear(struct store *s, const char *import_id, struct err *e);

/* ---- records: the products read and mapped ---- */

/* Keep n records of an import (write): a new number is added, undelivered; an undelivered one
 * already kept is replaced; a delivered one is left as it went out (a resumed import reads the
 * feed again and must not change what a receiver has). Of one number given twice the later
 * wins. */
int store_import_records_add(struct store *s, const char *import_id, const struct import_record *r,
                             size_t n, int64_t now, struct err *e);
/* An import's records numbered above after, in number order, at most limit (0: 500); with
 * undelivered only those not delivered yet (the next delivery batch). Returns the number listed.
 * Read. */
int store_import_records_list(struct store *s, const char *import_id, int64_t after,
                              bool undelivered, size_t limit, struct import_record **out, size_t *n,
                              struct err *e);
/* Mark the undelivered records numbered first..last (inclusive) as delivered in batch (>= 0)
 * (write): those already delivered keep their batch, so a delivery retried after a crash does
 * not move them. Returns how many were marked. */
int store_import_records_deliver(struct store *s, const char *import_id, int64_t first,
                                 int64_t last, int64_t batch, struct err *e);
/* How an import's records stand (read). */
int store_import_records_count(struct store *s, const char *import_id,
                               struct import_record_counts *out, struct err *e);

/* For the stores: the names of the statuses in mask, as ",pending,parsing," (a string to find
 * ",status," in); "" for mask 0. IMPORT_STATUS_SET_LEN bytes hold them all. */
#define IMPORT_STATUS_SET_LEN 128
void import_status_set(unsigned mask, char *out, size_t len);
/* For the stores: add one group of imports (type's name, NULL: not detected; status's name; how
 * many; their products summed) into st; a type or status without a name here is left out. */
void import_stats_add(struct import_stats *st, const char *type, const char *status, int64_t n,
                      int64_t total, int64_t processed, int64_t failed, int64_t delivered);

#endif
