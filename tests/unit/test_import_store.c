/* The store's feed imports, on SQLite and (with $TRAWL_TEST_PG) on PostgreSQL: an import added
 * with its xml_import job and read back whole, its webhook secret never listed; a workspace's
 * imports newest first, paged, and hidden from other workspaces; updates that write only what
 * they flag, and only from the statuses they name; the imports counted by type and status, with
 * their products, for the metrics. Their bad rows and records: test_import_rows.c.
 * Writes go through the engine's committer as the handler's will. */
#include "importutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Test(import_store, an_import_added_with_its_job_reads_back_whole_but_its_secret)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w1",
                        .source_name = "products.csv",
                        .source_url = "https://shop.example/feed.csv",
                        .type = IMPORT_CSV,
                        .mode = IMPORT_PREVIEW,
                        .status = IMPORT_PENDING,
                        .field_mappings = "{\"sku\":\"SKU\"}",
                        .detected_fields = "[\"SKU\",\"Name\"]",
                        .webhook_url = "https://hooks.example/in",
                        .webhook_secret = "s3cret",
                        .batch_size = 250};
    iu_add_ok(eng, &im);
    struct job j;
    tu_get(eng, im.job_id, &j);
    cr_assert_str_eq(j.type, "xml_import");
    cr_assert_str_eq(j.workspace, "w1");
    job_release(&j);
    for (int k = 0; k < 3; k++) {
        /* by id in its workspace, by job id in its workspace, by job id in any */
        struct import got = k == 0   ? iu_get(eng, "w1", im.id, false)
                            : k == 1 ? iu_get(eng, "w1", im.job_id, true)
                                     : iu_get(eng, NULL, im.job_id, true);
        cr_assert_str_eq(got.id, im.id);
        cr_assert_str_eq(got.job_id, im.job_id);
        iu_assert_str(got.workspace, "w1", "workspace");
        iu_assert_str(got.source_name, "products.csv", "source_name");
        iu_assert_str(got.source_url, "https://shop.example/feed.csv", "source_url");
        cr_assert_eq(got.type, IMPORT_CSV);
        cr_assert_eq(got.mode, IMPORT_PREVIEW);
        cr_assert_eq(got.status, IMPORT_PENDING);
        cr_assert_eq(got.total_products + got.processed_products + got.failed_products +
                         got.delivered_products,
                     0);
        iu_assert_str(got.field_mappings, "{\"sku\":\"SKU\"}", "field_mappings");
        iu_assert_str(got.detected_fields, "[\"SKU\",\"Name\"]", "detected_fields");
        iu_assert_str(got.webhook_url, "https://hooks.example/in", "webhook_url");
        cr_assert_null(got.webhook_secret, "get never reads the secret");
        cr_assert(got.has_secret);
        cr_assert_eq(got.batch_size, 250);
        cr_assert_null(got.error_message);
        cr_assert_eq(got.created_at, IU_T0);
        cr_assert_eq(got.updated_at, IU_T0);
        cr_assert_eq(got.completed_at, 0);
        import_release(&got);
    }
    char *secret;
    struct err e = {0};
    cr_assert_eq(store_import_secret(engine_store(eng), im.id, &secret, &e), 0, "%s", e.msg);
    cr_assert_str_eq(secret, "s3cret");
    free(secret);

    /* an upload, its type not detected yet, no webhook: the absent fields read back absent */
    tu_clock_advance(&iu_clock, 10);
    struct import up = {.workspace = "w1", .source_name = "upload.xml"};
    iu_add_ok(eng, &up);
    struct import got = iu_get(eng, "w1", up.id, false);
    cr_assert_null(got.source_url);
    cr_assert_eq(got.type, IMPORT_TYPE_NONE);
    cr_assert_eq(got.mode, IMPORT_AUTO);
    cr_assert_null(got.field_mappings);
    cr_assert_null(got.webhook_url);
    cr_assert_not(got.has_secret);
    cr_assert_eq(got.batch_size, IMPORT_BATCH_SIZE_DEFAULT);
    import_release(&got);
    cr_assert_eq(store_import_secret(engine_store(eng), up.id, &secret, &e), 0, "%s", e.msg);
    cr_assert_null(secret);
    engine_close(eng);
}

Test(import_store, a_job_runs_one_import_and_a_refused_import_takes_its_job_back)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "a.xml"};
    iu_add_ok(eng, &im);
    /* a second import on the same job: refused, and the new job enqueued with it is gone too */
    struct iu_add_arg a = {.im = {.workspace = "w", .source_name = "b.xml"}};
    uuid_v7(a.im.id, engine_now(eng) + 1);
    struct job_spec spec = {.type = "xml_import", .workspace = "w"};
    struct enqueue_result res;
    struct enqueue_result same;
    memcpy(same.id, im.job_id, UUID_STR_LEN);
    a.res = &same;
    struct err e = {0};
    cr_assert_lt(engine_enqueue_with(eng, &spec, &res, iu_add_after, &a, &e), 0);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1, "only the first import's job is there");
    /* a bad import is refused before the store sees it */
    struct import bad = {.workspace = "w", .source_name = NULL};
    err_clear(&e);
    cr_assert_eq(iu_add(eng, &bad, &e), TRAWL_EINVAL);
    bad = (struct import){.workspace = "w", .source_name = "c", .status = IMPORT_STATUS_COUNT};
    cr_assert_eq(iu_add(eng, &bad, &e), TRAWL_EINVAL);
    cr_assert_eq(tu_count(eng, JOB_PENDING), 1);
    engine_close(eng);
}

Test(import_store, a_workspaces_imports_list_newest_first_paged_without_secrets)
{
    struct engine *eng = iu_setup();
    char ids[6][UUID_STR_LEN];
    for (int i = 0; i < 6; i++) {
        /* the last two share their created_at: the later id is the newer */
        if (i < 5)
            tu_clock_advance(&iu_clock, 1000);
        char name[24];
        snprintf(name, sizeof name, "feed-%d", i);
        struct import im = {.workspace = "w", .source_name = name, .webhook_secret = "k"};
        iu_add_ok(eng, &im);
        memcpy(ids[i], im.id, UUID_STR_LEN);
    }
    struct import other = {.workspace = "x", .source_name = "theirs"};
    iu_add_ok(eng, &other);
    struct store *s = engine_store(eng);
    struct import *v;
    size_t n;
    int64_t total;
    struct err e = {0};
    int seen = 0;
    for (size_t off = 0; off < 8; off += 4) {
        cr_assert_geq(store_import_list(s, "w", 4, off, &v, &n, &total, &e), 0, "%s", e.msg);
        cr_assert_eq(total, 6);
        cr_assert_eq(n, off == 0 ? 4 : 2);
        for (size_t i = 0; i < n; i++, seen++) {
            cr_assert_str_eq(v[i].id, ids[5 - seen], "place %d", seen);
            cr_assert_null(v[i].webhook_secret, "a list never carries the secret");
            cr_assert(v[i].has_secret);
        }
        import_array_free(v, n);
    }
    cr_assert_eq(seen, 6);
    cr_assert_eq(store_import_list(s, "w", 4, 6, &v, &n, &total, &e), 0);
    cr_assert_eq(total, 6);
    cr_assert_eq(store_import_list(s, "nobody", 0, 0, &v, &n, &total, &e), 0);
    cr_assert_eq(total, 0);
    engine_close(eng);
}

Test(import_store, workspaces_do_not_see_each_other_and_unknown_ids_are_not_found)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "a.json", .webhook_secret = "k"};
    iu_add_ok(eng, &im);
    struct store *s = engine_store(eng);
    struct import got;
    struct err e = {0};
    cr_assert_eq(store_import_get(s, "x", im.id, false, &got, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(store_import_get(s, "x", im.job_id, true, &got, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(store_import_get(s, "w", im.job_id, false, &got, &e), TRAWL_ENOTFOUND,
                 "a job id is not an import id");
    const char *nobody = "01a20000-0000-7000-8000-00000000dead";
    cr_assert_eq(store_import_get(s, NULL, nobody, false, &got, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(store_import_get(s, NULL, nobody, true, &got, &e), TRAWL_ENOTFOUND);
    char *secret;
    cr_assert_eq(store_import_secret(s, nobody, &secret, &e), TRAWL_ENOTFOUND);
    cr_assert_eq(iu_update(eng, nobody, (struct import_update){.set = IMPORT_SET_STATUS}),
                 TRAWL_ENOTFOUND);
    engine_close(eng);
}

Test(import_store, an_update_writes_only_the_fields_it_flags)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w",
                        .source_name = "feed.xml",
                        .field_mappings = "{\"a\":\"b\"}",
                        .error_message = "an earlier error"};
    iu_add_ok(eng, &im);
    /* every field holds a value, but only the status is flagged */
    tu_clock_advance(&iu_clock, 5);
    struct import_update u = {.set = IMPORT_SET_STATUS,
                              .status = IMPORT_PARSING,
                              .type = IMPORT_JSON,
                              .total_products = 9,
                              .processed_products = 9,
                              .failed_products = 9,
                              .delivered_products = 9,
                              .field_mappings = "{}",
                              .detected_fields = "[]",
                              .error_message = NULL,
                              .completed_at = 1};
    cr_assert_eq(iu_update(eng, im.id, u), 0);
    struct import got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.status, IMPORT_PARSING);
    cr_assert_eq(got.type, IMPORT_TYPE_NONE);
    cr_assert_eq(got.total_products + got.processed_products + got.failed_products +
                     got.delivered_products,
                 0);
    iu_assert_str(got.field_mappings, "{\"a\":\"b\"}", "field_mappings");
    cr_assert_null(got.detected_fields);
    iu_assert_str(got.error_message, "an earlier error", "error_message");
    cr_assert_eq(got.completed_at, 0);
    cr_assert_eq(got.updated_at, IU_T0 + 5, "an update moves updated_at");
    cr_assert_eq(got.created_at, IU_T0);
    import_release(&got);

    /* the other fields, each flagged: a NULL string and a 0 time clear theirs */
    tu_clock_advance(&iu_clock, 5);
    u = (struct import_update){.set = IMPORT_SET_TYPE | IMPORT_SET_COUNTS | IMPORT_SET_MAPPINGS |
                                      IMPORT_SET_DETECTED | IMPORT_SET_ERROR |
                                      IMPORT_SET_COMPLETED_AT,
                               .status = IMPORT_FAILED, /* not flagged */
                               .type = IMPORT_XML,
                               .total_products = 100,
                               .processed_products = 90,
                               .failed_products = 3,
                               .delivered_products = 50,
                               .field_mappings = "{\"sku\":\"id\"}",
                               .detected_fields = "[\"id\",\"title\"]",
                               .error_message = NULL,
                               .completed_at = IU_T0 + 10};
    cr_assert_eq(iu_update(eng, im.id, u), 0);
    got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.status, IMPORT_PARSING);
    cr_assert_eq(got.type, IMPORT_XML);
    cr_assert_eq(got.total_products, 100);
    cr_assert_eq(got.processed_products, 90);
    cr_assert_eq(got.failed_products, 3);
    cr_assert_eq(got.delivered_products, 50);
    iu_assert_str(got.field_mappings, "{\"sku\":\"id\"}", "field_mappings");
    iu_assert_str(got.detected_fields, "[\"id\",\"title\"]", "detected_fields");
    cr_assert_null(got.error_message, "a flagged NULL clears");
    cr_assert_eq(got.completed_at, IU_T0 + 10);
    import_release(&got);
    cr_assert_eq(iu_update(eng, im.id,
                           (struct import_update){.set = IMPORT_SET_COMPLETED_AT | IMPORT_SET_TYPE,
                                                  .type = IMPORT_TYPE_NONE}),
                 0);
    got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.completed_at, 0, "a flagged 0 clears completed_at");
    cr_assert_eq(got.type, IMPORT_TYPE_NONE);
    cr_assert_eq(got.processed_products, 90);
    import_release(&got);
    cr_assert_eq(
        iu_update(eng, im.id, (struct import_update){.set = IMPORT_SET_STATUS, .status = 42}),
        TRAWL_EINVAL);
    engine_close(eng);
}

Test(import_store, an_update_can_require_a_status_so_a_cancel_is_not_undone)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "feed.csv", .status = IMPORT_PROCESSING};
    iu_add_ok(eng, &im);
    struct import_update cancel = {.set = IMPORT_SET_STATUS | IMPORT_SET_COMPLETED_AT,
                                   .if_status = IMPORT_NOT_ENDED,
                                   .status = IMPORT_CANCELLED,
                                   .completed_at = IU_T0};
    cr_assert_eq(iu_update(eng, im.id, cancel), 0);
    /* the handler, not knowing yet, moves on to delivering: refused, nothing written */
    struct import_update late = {.set = IMPORT_SET_STATUS | IMPORT_SET_PROCESSED,
                                 .if_status = IMPORT_NOT_ENDED,
                                 .status = IMPORT_DELIVERING,
                                 .processed_products = 7};
    cr_assert_eq(iu_update(eng, im.id, late), TRAWL_ESTATE);
    struct import got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.status, IMPORT_CANCELLED);
    cr_assert_eq(got.processed_products, 0);
    import_release(&got);
    /* retry-failed asks for a failed import: a cancelled one is not */
    struct import_update retry = {.set = IMPORT_SET_STATUS | IMPORT_SET_ERROR |
                                         IMPORT_SET_COMPLETED_AT,
                                  .if_status = IMPORT_MASK(IMPORT_FAILED),
                                  .status = IMPORT_PENDING};
    cr_assert_eq(iu_update(eng, im.id, retry), TRAWL_ESTATE);
    cr_assert_eq(iu_update(eng, im.id,
                           (struct import_update){.set = IMPORT_SET_STATUS | IMPORT_SET_ERROR,
                                                  .status = IMPORT_FAILED,
                                                  .error_message = "feed gone"}),
                 0, "no if_status: whatever the status");
    cr_assert_eq(iu_update(eng, im.id, retry), 0);
    got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.status, IMPORT_PENDING);
    cr_assert_null(got.error_message);
    cr_assert_eq(got.completed_at, 0);
    import_release(&got);
    engine_close(eng);
}

Test(import_store, a_new_job_takes_the_import_and_the_old_job_finds_it_no_more)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "feed.csv", .status = IMPORT_FAILED};
    struct import other = {.workspace = "w", .source_name = "other.csv"};
    iu_add_ok(eng, &im);
    iu_add_ok(eng, &other);
    char old_job[UUID_STR_LEN], new_job[UUID_STR_LEN];
    memcpy(old_job, im.job_id, UUID_STR_LEN);
    snprintf(new_job, sizeof new_job, "%s", tu_enqueue(eng, "xml_import", NULL));
    cr_assert_str_neq(new_job, old_job);
    /* retry-failed: a failed import, pending again under the job enqueued for it */
    tu_clock_advance(&iu_clock, 7);
    struct import_update retry = {.set = IMPORT_SET_JOB | IMPORT_SET_STATUS,
                                  .if_status = IMPORT_MASK(IMPORT_FAILED),
                                  .status = IMPORT_PENDING,
                                  .job_id = new_job};
    cr_assert_eq(iu_update(eng, im.id, retry), 0);
    struct import got = iu_get(eng, "w", im.id, false);
    cr_assert_str_eq(got.job_id, new_job, "the import's background_job_id is the new job");
    cr_assert_eq(got.status, IMPORT_PENDING);
    iu_assert_str(got.source_name, "feed.csv", "source_name");
    cr_assert_eq(got.updated_at, IU_T0 + 7);
    import_release(&got);
    for (int k = 0; k < 2; k++) {
        got = iu_get(eng, k ? NULL : "w", new_job, true);
        cr_assert_str_eq(got.id, im.id, "found by its new job");
        cr_assert_str_eq(got.job_id, new_job);
        import_release(&got);
    }
    struct store *s = engine_store(eng);
    struct err e = {0};
    cr_assert_eq(store_import_get(s, NULL, old_job, true, &got, &e), TRAWL_ENOTFOUND,
                 "the old job runs no import now");
    got = iu_get(eng, "w", other.job_id, true);
    cr_assert_str_eq(got.id, other.id, "another import keeps its job");
    import_release(&got);

    /* a new job needs its id; a job_id not flagged is not written */
    retry.if_status = 0;
    retry.job_id = NULL;
    cr_assert_eq(iu_update(eng, im.id, retry), TRAWL_EINVAL);
    retry.job_id = "";
    cr_assert_eq(iu_update(eng, im.id, retry), TRAWL_EINVAL);
    cr_assert_eq(iu_update(eng, im.id,
                           (struct import_update){.set = IMPORT_SET_STATUS,
                                                  .status = IMPORT_PARSING,
                                                  .job_id = old_job}),
                 0);
    /* a job runs one import: another import's job is refused; and a status not asked for */
    retry.job_id = other.job_id;
    cr_assert_lt(iu_update(eng, im.id, retry), 0);
    retry = (struct import_update){
        .set = IMPORT_SET_JOB, .if_status = IMPORT_MASK(IMPORT_FAILED), .job_id = old_job};
    cr_assert_eq(iu_update(eng, im.id, retry), TRAWL_ESTATE);
    got = iu_get(eng, "w", im.id, false);
    cr_assert_str_eq(got.job_id, new_job, "none of these moved the import's job");
    cr_assert_eq(got.status, IMPORT_PARSING);
    import_release(&got);
    got = iu_get(eng, NULL, other.job_id, true);
    cr_assert_str_eq(got.id, other.id);
    import_release(&got);
    engine_close(eng);
}

/* The metrics' figures: per import type and status, and the products summed per type, of one
 * workspace or of all; an import whose type is not detected yet counts as IMPORT_TYPE_NONE. */
Test(import_store, imports_counted_by_type_and_status_with_their_products)
{
    struct engine *eng = iu_setup();
    struct import_stats st;
    struct err e = {0};
    cr_assert_eq(store_import_stats(engine_store(eng), NULL, &st, &e), 0, "%s", e.msg);
    for (int t = 0; t < IMPORT_TYPE_COUNT; t++)
        for (int k = 0; k < IMPORT_STATUS_COUNT; k++)
            cr_assert_eq(st.imports[t][k], 0, "nothing yet");
    static const struct {
        const char *ws;
        int type, status;
        int64_t total, processed, failed, delivered;
    } add[] = {
        {"w1", IMPORT_CSV, IMPORT_COMPLETED, 10, 9, 1, 9},
        {"w1", IMPORT_CSV, IMPORT_COMPLETED, 5, 5, 0, 5},
        {"w1", IMPORT_CSV, IMPORT_FAILED, 7, 3, 4, 0},
        {"w1", IMPORT_XML, IMPORT_PROCESSING, 100, 60, 0, 0},
        {"w1", IMPORT_TYPE_NONE, IMPORT_PENDING, 0, 0, 0, 0},
        {"w2", IMPORT_CSV, IMPORT_COMPLETED, 1000, 1000, 0, 1000},
        {"w2", IMPORT_JSON, IMPORT_DELIVERING, 40, 40, 0, 20},
    };
    for (size_t i = 0; i < sizeof add / sizeof add[0]; i++) {
        tu_clock_advance(&iu_clock, 1);
        struct import im = {.workspace = (char *)add[i].ws, .source_name = "feed"};
        iu_add_ok(eng, &im);
        cr_assert_eq(iu_update(eng, im.id,
                               (struct import_update){.set = IMPORT_SET_STATUS | IMPORT_SET_TYPE |
                                                             IMPORT_SET_COUNTS,
                                                      .status = add[i].status,
                                                      .type = add[i].type,
                                                      .total_products = add[i].total,
                                                      .processed_products = add[i].processed,
                                                      .failed_products = add[i].failed,
                                                      .delivered_products = add[i].delivered}),
                     0);
    }
    cr_assert_eq(store_import_stats(engine_store(eng), "w1", &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.imports[IMPORT_CSV][IMPORT_COMPLETED], 2);
    cr_assert_eq(st.imports[IMPORT_CSV][IMPORT_FAILED], 1);
    cr_assert_eq(st.imports[IMPORT_XML][IMPORT_PROCESSING], 1);
    cr_assert_eq(st.imports[IMPORT_TYPE_NONE][IMPORT_PENDING], 1);
    cr_assert_eq(st.imports[IMPORT_JSON][IMPORT_DELIVERING], 0, "w2's import is not w1's");
    int64_t n = 0;
    for (int t = 0; t < IMPORT_TYPE_COUNT; t++)
        for (int k = 0; k < IMPORT_STATUS_COUNT; k++)
            n += st.imports[t][k];
    cr_assert_eq(n, 5, "w1 has five imports");
    cr_assert_eq(st.total_products[IMPORT_CSV], 22);
    cr_assert_eq(st.processed_products[IMPORT_CSV], 17);
    cr_assert_eq(st.failed_products[IMPORT_CSV], 5);
    cr_assert_eq(st.delivered_products[IMPORT_CSV], 14);
    cr_assert_eq(st.processed_products[IMPORT_XML], 60);
    cr_assert_eq(st.total_products[IMPORT_JSON], 0);
    /* every workspace */
    cr_assert_eq(store_import_stats(engine_store(eng), NULL, &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.imports[IMPORT_CSV][IMPORT_COMPLETED], 3);
    cr_assert_eq(st.imports[IMPORT_JSON][IMPORT_DELIVERING], 1);
    cr_assert_eq(st.delivered_products[IMPORT_CSV], 1014);
    cr_assert_eq(st.delivered_products[IMPORT_JSON], 20);
    /* a workspace without imports */
    cr_assert_eq(store_import_stats(engine_store(eng), "w3", &st, &e), 0, "%s", e.msg);
    cr_assert_eq(st.imports[IMPORT_CSV][IMPORT_COMPLETED], 0);
    cr_assert_eq(st.total_products[IMPORT_CSV], 0);
    engine_close(eng);
}

/* ---- items and records ---- */
