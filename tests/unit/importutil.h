/* Helpers the tests of the store's imports share (test_import_store.c, test_import_rows.c): an
 * engine on a clock the test owns, an import added with its xml_import job, and the writes a
 * feed import's handler makes, each through the engine's committer in a transaction of its own.
 * Each fails the test on an unexpected error, unless it returns the code. */
#ifndef TRAWL_IMPORTUTIL_H
#define TRAWL_IMPORTUTIL_H

#include "store/import.h"
#include "testutil.h"

#define IU_T0 1700000000000LL

/* The clock of iu_setup's engine, at IU_T0 when it starts. */
extern struct tu_clock iu_clock;
struct engine *iu_setup(void);

/* In a job's enqueue transaction (engine_enqueue_with's after): add a->im, run by a->res's job. */
struct iu_add_arg {
    struct import im;
    const struct enqueue_result *res;
};
int iu_add_after(struct store *s, void *arg, struct err *e);
/* Enqueue an xml_import job in im's workspace with im added beside it (its id made from the
 * clock, created_at the clock's now); im's id, job_id and created_at are filled in. */
int iu_add(struct engine *eng, struct import *im, struct err *e);
void iu_add_ok(struct engine *eng, struct import *im);
/* The import (store_import_get); release it with import_release. */
struct import iu_get(struct engine *eng, const char *workspace, const char *id, bool by_job);
/* got is want (NULL: got is NULL), or the test fails naming field. */
void iu_assert_str(const char *got, const char *want, const char *field);
/* One store_import_update at the clock's now: its code. */
int iu_update(struct engine *eng, const char *id, struct import_update u);

/* What the handler commits per batch: its records, its bad rows and (when u.set) an update. */
struct iu_rows {
    const char *id;
    const struct import_item *items;
    size_t nitems;
    const struct import_record *recs;
    size_t nrecs;
    struct import_update u;
    int64_t now; /* set by iu_save: the clock's now */
};
int iu_save(struct engine *eng, struct iu_rows a, struct err *e);
void iu_save_ok(struct engine *eng, struct iu_rows a);
/* Mark records first..last delivered in batch: how many were. */
int iu_deliver(struct engine *eng, const char *id, int64_t first, int64_t last, int64_t batch);
int64_t iu_items_count(struct engine *eng, const char *id);
struct import_record_counts iu_records_count(struct engine *eng, const char *id);
/* store_import_records_list; free with import_record_array_free. */
struct import_record *iu_list_records(struct engine *eng, const char *id, int64_t after,
                                      bool undelivered, size_t limit, size_t *n);

#endif
