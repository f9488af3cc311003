/* The metrics of feed imports in GET /metrics: the imports of the workspace asked for, by import
 * type and status, and their products per type, as the store holds them; on SQLite and (with
 * $TRAWL_TEST_PG) on PostgreSQL. A text past the caller's cap is an error, not a cut text. */
#include "importutil.h"
#include "obs/metrics.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An import of workspace ws whose handler got it to status with these counts. */
static void add(struct engine *eng, const char *ws, int type, int status, int64_t processed,
                int64_t failed, int64_t delivered)
{
    tu_clock_advance(&iu_clock, 1);
    struct import im = {.workspace = (char *)ws, .source_name = "feed"};
    iu_add_ok(eng, &im);
    struct import_update u = {.set = IMPORT_SET_STATUS | IMPORT_SET_TYPE | IMPORT_SET_COUNTS,
                              .status = status,
                              .type = type,
                              .total_products = processed + failed,
                              .processed_products = processed,
                              .failed_products = failed,
                              .delivered_products = delivered};
    cr_assert_eq(iu_update(eng, im.id, u), 0);
}

static char *prometheus(struct obs *o, const char *ws)
{
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    cr_assert_eq(obs_prometheus(o, ws, &b, &e), 0, "%s", e.msg);
    return buf_detach(&b);
}

Test(import_metrics, prometheus_counts_imports_by_type_and_status_and_their_products)
{
    struct engine *eng = iu_setup();
    add(eng, "shop", IMPORT_CSV, IMPORT_COMPLETED, 90, 10, 90);
    add(eng, "shop", IMPORT_CSV, IMPORT_COMPLETED, 5, 0, 5);
    add(eng, "shop", IMPORT_XML, IMPORT_FAILED, 3, 1, 0);
    add(eng, "shop", IMPORT_JSON, IMPORT_DELIVERING, 40, 0, 20);
    add(eng, "shop", IMPORT_TYPE_NONE, IMPORT_PENDING, 0, 0, 0);
    add(eng, "other", IMPORT_CSV, IMPORT_COMPLETED, 1000, 0, 1000);
    struct obs *o = obs_new(&(struct obs_sources){.eng = eng});
    char *text = prometheus(o, "shop");
    const char *want[] = {
        "# TYPE trawl_imports gauge\n",
        "trawl_imports{type=\"csv\",status=\"completed\"} 2\n",
        "trawl_imports{type=\"csv\",status=\"failed\"} 0\n",
        "trawl_imports{type=\"xml\",status=\"failed\"} 1\n",
        "trawl_imports{type=\"json\",status=\"delivering\"} 1\n",
        "trawl_imports{type=\"unknown\",status=\"pending\"} 1\n",
        "# TYPE trawl_import_products gauge\n",
        "trawl_import_products{type=\"csv\",state=\"total\"} 105\n",
        "trawl_import_products{type=\"csv\",state=\"processed\"} 95\n",
        "trawl_import_products{type=\"csv\",state=\"failed\"} 10\n",
        "trawl_import_products{type=\"csv\",state=\"delivered\"} 95\n",
        "trawl_import_products{type=\"xml\",state=\"failed\"} 1\n",
        "trawl_import_products{type=\"json\",state=\"delivered\"} 20\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(text, want[i]) != NULL, "missing %s in:\n%s", want[i], text);
    free(text);
    /* every workspace: the other's csv import too */
    text = prometheus(o, NULL);
    cr_assert(strstr(text, "trawl_imports{type=\"csv\",status=\"completed\"} 3\n") != NULL, "%s",
              text);
    cr_assert(strstr(text, "trawl_import_products{type=\"csv\",state=\"delivered\"} 1095\n") !=
                  NULL,
              "%s", text);
    free(text);
    /* past the buffer's cap: an error, and nothing half written */
    struct buf b;
    buf_init(&b, 4096);
    buf_adds(&b, "x");
    struct err e = {0};
    cr_assert_eq(obs_prometheus(o, NULL, &b, &e), TRAWL_ETOOBIG);
    cr_assert(strstr(e.msg, "too large") != NULL, "%s", e.msg);
    cr_assert_str_eq(b.data, "x");
    buf_release(&b);
    obs_free(o);
    engine_close(eng);
}
