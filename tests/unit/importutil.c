/* Helpers of the store's import tests: see importutil.h. */
#include "importutil.h"

#include <criterion/criterion.h>
#include <string.h>

struct tu_clock iu_clock;

struct engine *iu_setup(void)
{
    tu_clock_init(&iu_clock, IU_T0);
    return tu_engine(NULL, &iu_clock);
}

int iu_add_after(struct store *s, void *arg, struct err *e)
{
    struct iu_add_arg *a = arg;
    memcpy(a->im.job_id, a->res->id, UUID_STR_LEN);
    return store_import_add(s, &a->im, e);
}

int iu_add(struct engine *eng, struct import *im, struct err *e)
{
    struct iu_add_arg a = {.im = *im};
    uuid_v7(a.im.id, engine_now(eng));
    a.im.created_at = engine_now(eng);
    struct job_spec spec = {.type = "xml_import", .workspace = im->workspace};
    struct enqueue_result res;
    a.res = &res;
    int rc = engine_enqueue_with(eng, &spec, &res, iu_add_after, &a, e);
    memcpy(im->id, a.im.id, UUID_STR_LEN);
    memcpy(im->job_id, a.im.job_id, UUID_STR_LEN);
    im->created_at = a.im.created_at;
    return rc;
}

void iu_add_ok(struct engine *eng, struct import *im)
{
    struct err e = {0};
    cr_assert_eq(iu_add(eng, im, &e), 0, "%s", e.msg);
}

struct import iu_get(struct engine *eng, const char *workspace, const char *id, bool by_job)
{
    struct import im;
    struct err e = {0};
    cr_assert_eq(store_import_get(engine_store(eng), workspace, id, by_job, &im, &e), 0, "%s",
                 e.msg);
    return im;
}

void iu_assert_str(const char *got, const char *want, const char *field)
{
    if (!want)
        cr_assert_null(got, "%s: %s, expected NULL", field, got);
    else
        cr_assert(got && strcmp(got, want) == 0, "%s: %s, expected %s", field, got ? got : "NULL",
                  want);
}

struct update_arg {
    const char *id;
    struct import_update u;
    int64_t now;
};

static int update_fn(struct store *s, void *arg, struct err *e)
{
    struct update_arg *a = arg;
    return store_import_update(s, a->id, &a->u, a->now, e);
}

int iu_update(struct engine *eng, const char *id, struct import_update u)
{
    struct update_arg a = {id, u, engine_now(eng)};
    struct err e = {0};
    return engine_exec(eng, update_fn, &a, &e);
}

static int rows_fn(struct store *s, void *arg, struct err *e)
{
    struct iu_rows *a = arg;
    int rc = store_import_records_add(s, a->id, a->recs, a->nrecs, a->now, e);
    if (!rc)
        rc = store_import_items_add(s, a->id, a->items, a->nitems, a->now, e);
    if (!rc && a->u.set)
        rc = store_import_update(s, a->id, &a->u, a->now, e);
    return rc;
}

int iu_save(struct engine *eng, struct iu_rows a, struct err *e)
{
    a.now = engine_now(eng);
    return engine_exec(eng, rows_fn, &a, e);
}

void iu_save_ok(struct engine *eng, struct iu_rows a)
{
    struct err e = {0};
    cr_assert_eq(iu_save(eng, a, &e), 0, "%s", e.msg);
}

struct deliver_arg {
    const char *id;
    int64_t first, last, batch;
    int rc;
};

static int deliver_fn(struct store *s, void *arg, struct err *e)
{
    struct deliver_arg *a = arg;
    a->rc = store_import_records_deliver(s, a->id, a->first, a->last, a->batch, e);
    return a->rc < 0 ? a->rc : 0;
}

int iu_deliver(struct engine *eng, const char *id, int64_t first, int64_t last, int64_t batch)
{
    struct deliver_arg a = {id, first, last, batch, 0};
    struct err e = {0};
    cr_assert_eq(engine_exec(eng, deliver_fn, &a, &e), 0, "%s", e.msg);
    return a.rc;
}

int64_t iu_items_count(struct engine *eng, const char *id)
{
    int64_t n = -1;
    struct err e = {0};
    cr_assert_eq(store_import_items_count(engine_store(eng), id, &n, &e), 0, "%s", e.msg);
    return n;
}

struct import_record_counts iu_records_count(struct engine *eng, const char *id)
{
    struct import_record_counts c;
    struct err e = {0};
    cr_assert_eq(store_import_records_count(engine_store(eng), id, &c, &e), 0, "%s", e.msg);
    return c;
}

struct import_record *iu_list_records(struct engine *eng, const char *id, int64_t after,
                                      bool undelivered, size_t limit, size_t *n)
{
    struct import_record *v;
    struct err e = {0};
    cr_assert_geq(
        store_import_records_list(engine_store(eng), id, after, undelivered, limit, &v, n, &e), 0,
        "%s", e.msg);
    return v;
}
