/* The rows of the store's feed imports, on SQLite and (with $TRAWL_TEST_PG) on PostgreSQL: bad
 * rows and records kept once per number (a resumed import reads its feed again), listed in
 * order, delivered in batches, each record once across a crash; and a failing store call that
 * leaves an import and its job, or a batch of rows and its counts, wholly written or not at all.
 * Writes go through the engine's committer as the handler's will. */
#include "importutil.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct clear_arg {
    const char *id;
    int rc;
};

static int clear_fn(struct store *s, void *arg, struct err *e)
{
    struct clear_arg *a = arg;
    a->rc = store_import_items_clear(s, a->id, e);
    return a->rc < 0 ? a->rc : 0;
}

/* The numbers listed, as "1,3,5". */
static const char *numbers_of_items(struct import_item *v, size_t n)
{
    static char out[256];
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lld", i ? "," : "",
                 (long long)v[i].number);
    return out;
}

static const char *numbers_of_records(struct import_record *v, size_t n)
{
    static char out[256];
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%lld", i ? "," : "",
                 (long long)v[i].number);
    return out;
}

Test(import_store, bad_rows_are_kept_once_per_number_in_order_and_cleared)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "feed.csv"};
    struct import other = {.workspace = "w", .source_name = "other.csv"};
    iu_add_ok(eng, &im);
    iu_add_ok(eng, &other);
    static char big[IMPORT_RAW_MAX + 1];
    memset(big, 'x', IMPORT_RAW_MAX);
    struct import_item first[] = {{5, 6, "price: not a number", "a;b;zz", 0},
                                  {1, 2, "sku: missing", ";b;1.5", 0},
                                  {3, 4, "name: too long", big, 0}};
    iu_save_ok(eng, (struct iu_rows){.id = im.id, .items = first, .nitems = 3});
    tu_clock_advance(&iu_clock, 100);
    /* resumed: row 3 met again (its error now another), 7 new, 9 twice in one batch */
    struct import_item again[] = {{3, 4, "name: empty", "", 0},
                                  {7, 8, "bad quoting", NULL, 0},
                                  {9, 10, "first", "r9", 0},
                                  {9, 10, "second", "r9'", 0}};
    iu_save_ok(eng, (struct iu_rows){.id = im.id, .items = again, .nitems = 4});
    iu_save_ok(eng, (struct iu_rows){.id = other.id, .items = first, .nitems = 1});
    cr_assert_eq(iu_items_count(eng, im.id), 5);
    struct store *s = engine_store(eng);
    struct import_item *v;
    size_t n;
    struct err e = {0};
    cr_assert_eq(store_import_items_list(s, im.id, 0, 0, &v, &n, &e), 5, "%s", e.msg);
    cr_assert_str_eq(numbers_of_items(v, n), "1,3,5,7,9");
    cr_assert_eq(v[0].line, 2);
    cr_assert_str_eq(v[0].error, "sku: missing");
    cr_assert_str_eq(v[0].raw, ";b;1.5");
    cr_assert_eq(v[0].created_at, IU_T0);
    cr_assert_str_eq(v[1].error, "name: empty", "the row met again replaces its error");
    cr_assert_str_eq(v[1].raw, "");
    cr_assert_eq(v[1].created_at, IU_T0, "and keeps when it was first met");
    cr_assert_null(v[3].raw);
    cr_assert_str_eq(v[4].error, "second", "of one number given twice the later wins");
    import_item_array_free(v, n);
    cr_assert_eq(store_import_items_list(s, im.id, 3, 2, &v, &n, &e), 2, "%s", e.msg);
    cr_assert_str_eq(numbers_of_items(v, n), "5,7", "after 3, at most 2");
    import_item_array_free(v, n);
    cr_assert_eq(store_import_items_list(s, im.id, 9, 0, &v, &n, &e), 0);

    struct clear_arg c = {.id = im.id};
    cr_assert_eq(engine_exec(eng, clear_fn, &c, &e), 0, "%s", e.msg);
    cr_assert_eq(c.rc, 5);
    cr_assert_eq(iu_items_count(eng, im.id), 0);
    cr_assert_eq(iu_items_count(eng, other.id), 1, "another import's rows stay");
    engine_close(eng);
}

Test(import_store, a_bad_rows_raw_bytes_are_kept_whole)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "latin1.csv"};
    iu_add_ok(eng, &im);
    static char big[IMPORT_RAW_MAX + 1];
    memset(big, 'y', IMPORT_RAW_MAX);
    /* a Latin-1 row, as a feed that is not UTF-8 gives it */
    struct import_item it[] = {{1, 1, "bad row", "caf\xe9;1", 0}, {2, 2, "long", big, 0}};
    iu_save_ok(eng, (struct iu_rows){.id = im.id, .items = it, .nitems = 2});
    struct import_item *v;
    size_t n;
    struct err e = {0};
    cr_assert_eq(store_import_items_list(engine_store(eng), im.id, 0, 0, &v, &n, &e), 2, "%s",
                 e.msg);
    /* SQLite keeps the bytes; a UTF8 PostgreSQL database takes U+FFFD for the one it refuses */
    cr_assert_str_eq(v[0].raw, tu_pg() ? "caf\xef\xbf\xbd;1" : "caf\xe9;1");
    cr_assert_eq(strlen(v[1].raw), IMPORT_RAW_MAX);
    import_item_array_free(v, n);
    engine_close(eng);
}

Test(import_store, records_are_kept_once_listed_after_n_and_delivered_in_batches)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "feed.json"};
    struct import other = {.workspace = "w", .source_name = "other.json"};
    iu_add_ok(eng, &im);
    iu_add_ok(eng, &other);
    char data[10][32];
    struct import_record r[10];
    for (int i = 0; i < 10; i++) {
        snprintf(data[i], sizeof data[i], "{\"sku\":\"S%d\"}", i + 1);
        r[i] = (struct import_record){.number = i + 1, .record = data[i]};
    }
    iu_save_ok(eng, (struct iu_rows){.id = im.id, .recs = r, .nrecs = 10});
    struct import_record_counts c = iu_records_count(eng, im.id);
    cr_assert_eq(c.total, 10);
    cr_assert_eq(c.delivered, 0);
    cr_assert_eq(c.last_batch, -1, "none delivered");

    size_t n;
    struct import_record *v = iu_list_records(eng, im.id, 0, false, 4, &n);
    cr_assert_str_eq(numbers_of_records(v, n), "1,2,3,4");
    cr_assert_str_eq(v[0].record, "{\"sku\":\"S1\"}");
    cr_assert_eq(v[0].delivered_batch, -1);
    cr_assert_eq(v[0].created_at, IU_T0);
    import_record_array_free(v, n);

    /* batch 0: the first four */
    cr_assert_eq(iu_deliver(eng, im.id, 1, 4, 0), 4);
    v = iu_list_records(eng, im.id, 0, true, 3, &n);
    cr_assert_str_eq(numbers_of_records(v, n), "5,6,7", "the next batch: undelivered only");
    import_record_array_free(v, n);
    /* batch 1 over a range that overlaps batch 0: those keep their batch */
    cr_assert_eq(iu_deliver(eng, im.id, 1, 6, 1), 2);
    cr_assert_eq(iu_deliver(eng, im.id, 1, 6, 2), 0, "a delivery retried moves nothing");
    c = iu_records_count(eng, im.id);
    cr_assert_eq(c.total, 10);
    cr_assert_eq(c.delivered, 6);
    cr_assert_eq(c.last_batch, 1);
    v = iu_list_records(eng, im.id, 0, false, 0, &n);
    cr_assert_eq(n, 10);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(v[i].delivered_batch, i < 4 ? 0 : i < 6 ? 1 : -1, "record %zu", i + 1);
    import_record_array_free(v, n);
    v = iu_list_records(eng, im.id, 6, true, 0, &n);
    cr_assert_str_eq(numbers_of_records(v, n), "7,8,9,10");
    import_record_array_free(v, n);

    /* read again (a resume): a delivered record stays as it went out, an undelivered one is
     * replaced, a number given twice keeps the later */
    struct import_record again[] = {{1, "{\"sku\":\"S1\",\"v\":2}", 0, 0},
                                    {8, "{\"sku\":\"S8\",\"v\":2}", 0, 0},
                                    {8, "{\"sku\":\"S8\",\"v\":3}", 0, 0}};
    iu_save_ok(eng, (struct iu_rows){.id = im.id, .recs = again, .nrecs = 3});
    v = iu_list_records(eng, im.id, 0, false, 0, &n);
    cr_assert_eq(n, 10, "no record twice");
    cr_assert_str_eq(v[0].record, "{\"sku\":\"S1\"}");
    cr_assert_str_eq(v[7].record, "{\"sku\":\"S8\",\"v\":3}");
    cr_assert_eq(v[7].delivered_batch, -1);
    import_record_array_free(v, n);
    c = iu_records_count(eng, other.id);
    cr_assert_eq(c.total + c.delivered, 0, "another import has none");
    cr_assert_eq(c.last_batch, -1);
    v = iu_list_records(eng, other.id, 0, true, 0, &n);
    cr_assert_eq(n, 0);
    engine_close(eng);
}

/* ---- what the handler does with them ---- */

#define FEED_ROWS 25
#define BAD_EVERY 7 /* rows 7, 14, 21 cannot be mapped */

/* Read the feed's rows from..to (1-based) and save them in batches of 5 per transaction, with
 * the counts so far. */
static void read_feed(struct engine *eng, const char *id, int from, int to)
{
    static char data[FEED_ROWS + 1][40];
    for (int b = from; b <= to; b += 5) {
        struct import_record r[5];
        struct import_item it[5];
        size_t nr = 0, ni = 0;
        for (int k = b; k < b + 5 && k <= to; k++) {
            if (k % BAD_EVERY == 0) {
                it[ni++] = (struct import_item){k, k + 1, "price: not a number", "x;y", 0};
                continue;
            }
            snprintf(data[k], sizeof data[k], "{\"sku\":\"S%d\"}", k);
            r[nr++] = (struct import_record){.number = k, .record = data[k]};
        }
        int last = b + 4 < to ? b + 4 : to;
        struct import_update u = {.set =
                                      IMPORT_SET_STATUS | IMPORT_SET_PROCESSED | IMPORT_SET_FAILED,
                                  .if_status = IMPORT_NOT_ENDED,
                                  .status = IMPORT_PROCESSING,
                                  .processed_products = last,
                                  .failed_products = last / BAD_EVERY};
        iu_save_ok(eng, (struct iu_rows){id, it, ni, r, nr, u, 0});
    }
}

/* Deliver up to `batches` batches of 4 records, numbered from the last delivered batch on. */
static void deliver_batches(struct engine *eng, const char *id, int batches)
{
    int64_t next = iu_records_count(eng, id).last_batch + 1, after = 0;
    for (int i = 0; i < batches; i++) {
        size_t n;
        struct import_record *v = iu_list_records(eng, id, after, true, 4, &n);
        if (n == 0)
            break;
        /* (here the batch goes to the webhook) */
        cr_assert_eq(iu_deliver(eng, id, v[0].number, v[n - 1].number, next), (int)n);
        after = v[n - 1].number;
        next++;
        import_record_array_free(v, n);
    }
}

Test(import_store, a_resumed_import_delivers_each_record_once_from_its_last_batch)
{
    struct engine *eng = iu_setup();
    struct import im = {.workspace = "w", .source_name = "feed.xml", .status = IMPORT_PARSING};
    iu_add_ok(eng, &im);
    read_feed(eng, im.id, 1, 15);
    deliver_batches(eng, im.id, 2);
    /* the worker dies here; the job runs again and reads the whole feed again */
    read_feed(eng, im.id, 1, FEED_ROWS);
    deliver_batches(eng, im.id, 100);

    int good = FEED_ROWS - FEED_ROWS / BAD_EVERY;
    struct import_record_counts c = iu_records_count(eng, im.id);
    cr_assert_eq(c.total, good);
    cr_assert_eq(c.delivered, good, "every record went out");
    cr_assert_eq(c.last_batch, (good + 3) / 4 - 1, "in batches of 4, numbered on");
    size_t n;
    struct import_record *v = iu_list_records(eng, im.id, 0, false, 0, &n);
    int per_batch[16] = {0};
    for (size_t i = 0; i < n; i++) {
        cr_assert(v[i].delivered_batch >= 0 && v[i].delivered_batch < 16);
        per_batch[v[i].delivered_batch]++;
        if (i)
            cr_assert_geq(v[i].delivered_batch, v[i - 1].delivered_batch, "in feed order");
    }
    for (int b = 0; b < c.last_batch; b++)
        cr_assert_eq(per_batch[b], 4, "batch %d", b);
    import_record_array_free(v, n);
    cr_assert_eq(iu_items_count(eng, im.id), FEED_ROWS / BAD_EVERY, "each bad row once");
    struct import got = iu_get(eng, "w", im.id, false);
    cr_assert_eq(got.processed_products, FEED_ROWS);
    cr_assert_eq(got.failed_products, FEED_ROWS / BAD_EVERY);
    import_release(&got);
    engine_close(eng);
}

/* The store fails at each call in turn while an import is added and a batch is saved: the job
 * and its import land together or not at all, a batch's records, bad rows and counts too, and
 * the batch saved again afterwards is there once. */
Test(import_store, a_failing_store_call_leaves_nothing_half_written)
{
    struct engine *eng = iu_setup();
    struct store *s = engine_store(eng);
    int failures = 0;
    for (long k = 1; k <= 12; k++) {
        struct import im = {.workspace = "w", .source_name = "feed.csv"};
        struct err e = {0};
        int64_t jobs = tu_count(eng, JOB_PENDING);
        store_fail_nth(s, k);
        int rc = iu_add(eng, &im, &e);
        store_fail_nth(s, 0);
        if (rc) {
            cr_assert_eq(rc, TRAWL_EINJECTED, "call %ld: %s", k, e.msg);
            failures++;
            cr_assert_eq(tu_count(eng, JOB_PENDING), jobs, "call %ld: the job went back", k);
            struct import got;
            cr_assert_eq(store_import_get(s, NULL, im.id, false, &got, &e), TRAWL_ENOTFOUND);
            iu_add_ok(eng, &im);
        }
        cr_assert_eq(tu_count(eng, JOB_PENDING), jobs + 1);
        struct import_record r[] = {{1, "{\"a\":1}", 0, 0}, {2, "{\"a\":2}", 0, 0}};
        struct import_item it[] = {{3, 3, "bad", "raw", 0}};
        struct import_update u = {.set = IMPORT_SET_PROCESSED | IMPORT_SET_FAILED,
                                  .processed_products = 3,
                                  .failed_products = 1};
        struct iu_rows a = {im.id, it, 1, r, 2, u, 0};
        store_fail_nth(s, k);
        rc = iu_save(eng, a, &e);
        store_fail_nth(s, 0);
        struct import got = iu_get(eng, "w", im.id, false);
        if (rc) {
            cr_assert_eq(rc, TRAWL_EINJECTED, "call %ld: %s", k, e.msg);
            failures++;
            cr_assert_eq(iu_records_count(eng, im.id).total, 0, "call %ld: a record was left", k);
            cr_assert_eq(iu_items_count(eng, im.id), 0, "call %ld: a bad row was left", k);
            cr_assert_eq(got.processed_products, 0, "call %ld: the counts moved", k);
            iu_save_ok(eng, a);
        } else {
            cr_assert_eq(got.processed_products, 3);
        }
        import_release(&got);
        iu_save_ok(eng, a); /* and once more: nothing doubles */
        cr_assert_eq(iu_records_count(eng, im.id).total, 2, "call %ld", k);
        cr_assert_eq(iu_items_count(eng, im.id), 1, "call %ld", k);
    }
    cr_assert_gt(failures, 3, "the injected faults hit the adds and the saves");
    engine_close(eng);
}
