/* The alerts of feed imports, raised in the transaction of their cause: a real xml_import job that
 * fails for good (its feed's file is missing) is xml_import_job_failed, and one the monitor finds
 * with no progress for the type's 20 minutes is stuck_import_job, each with the import's tags and
 * a fingerprint of its source, rate-limited per source; neither is also the generic alert. What is
 * checked is the alert each delivery job carries (its HTTP delivery: tests/e2e/test_alerts.c). */
#include "alert/alerts.h"
#include "engine/monitor.h"
#include "handlers/handlers.h"
#include "handlers/import.h"
#include "importutil.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MIN_MS (60 * 1000)

static struct tu_clock clk;
static struct alerter *alerter;

/* An engine on a clock of the test's, with the built-in types' settings and an alerter that
 * raises alerts for a webhook (never delivered here: nothing runs the alert jobs). */
static struct engine *setup(void)
{
    tu_clock_init(&clk, IU_T0);
    struct engine *eng = tu_engine(NULL, &clk);
    struct err e = {0};
    cr_assert_eq(handlers_configure(eng, &e), 0, "%s", e.msg);
    struct alert_opts o = {.webhook_url = "http://127.0.0.1:9/hook",
                           .webhook_secret = "k",
                           .session_type = "web_scraping",
                           .import_type = IMPORT_JOB_TYPE};
    cr_assert_eq(alerter_new(eng, NULL, NULL, &o, &alerter, &e), 0, "%s", e.msg);
    return eng;
}

static void teardown(struct engine *eng)
{
    alerter_free(alerter);
    engine_close(eng);
}

/* An import of source in workspace "shop", with its xml_import job as the API enqueues it (its
 * args name the import); im gets its id and job id. */
static void add_import(struct engine *eng, const char *source, struct import *im)
{
    struct iu_add_arg a = {.im = {.workspace = "shop", .source_name = (char *)source}};
    uuid_v7(a.im.id, engine_now(eng));
    a.im.created_at = engine_now(eng);
    char args[128];
    snprintf(args, sizeof args, "{\"import_id\":\"%s\"}", a.im.id);
    struct job_spec spec = {
        .type = IMPORT_JOB_TYPE, .workspace = "shop", .args = args, .max_attempts = 2};
    struct enqueue_result res;
    a.res = &res;
    struct err e = {0};
    cr_assert_eq(engine_enqueue_with(eng, &spec, &res, iu_add_after, &a, &e), 0, "%s", e.msg);
    *im = a.im;
}

/* Claim the one xml_import job due and run the real handler on it, with an empty import folder:
 * its outcome. */
static struct job_outcome run_import(struct engine *eng)
{
    struct importer imp = {.dir = tu_tmpdir()};
    struct job_handler h = {IMPORT_JOB_TYPE, handler_import, &imp};
    struct job *j = calloc(1, sizeof *j);
    tu_claim_one(eng, IMPORT_JOB_TYPE, "w1", j);
    struct job_outcome out;
    struct err e = {0};
    cr_assert_eq(pool_run_jobs(eng, &h, 1, j, 1, 1, &out, &e), 0, "%s", e.msg);
    free(j);
    return out;
}

/* Every alert raised so far (the alert each delivery job carries), oldest first; decref it. */
static json_t *raised(void)
{
    struct tdb_rows rows;
    tu_sql_rows(NULL, "SELECT args FROM jobs WHERE type = 'alert' ORDER BY id", &rows);
    json_t *all = json_array();
    for (size_t i = 0; i < rows.n; i++) {
        json_t *args = json_loads(tdb_cell(&rows, i, 0), 0, NULL);
        cr_assert_not_null(args, "args: %s", tdb_cell(&rows, i, 0));
        json_array_append(all, json_object_get(args, "alert"));
        json_decref(args);
    }
    tdb_rows_free(&rows);
    return all;
}

/* The alerts of kind among all: how many, and the first in *first. */
static size_t of_kind(json_t *all, const char *kind, json_t **first)
{
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *a = json_array_get(all, i);
        if (strcmp(json_string_value(json_object_get(a, "kind")), kind) != 0)
            continue;
        if (n++ == 0 && first)
            *first = a;
    }
    return n;
}

static const char *tag(json_t *alert, const char *k)
{
    const char *v = json_string_value(json_object_get(json_object_get(alert, "tags"), k));
    cr_assert_not_null(v, "no tag %s", k);
    return v;
}

static void assert_fingerprint(json_t *alert, const char *f0, const char *f1)
{
    json_t *fp = json_object_get(alert, "fingerprint");
    cr_assert_eq(json_array_size(fp), 2);
    cr_assert_str_eq(json_string_value(json_array_get(fp, 0)), f0);
    cr_assert_str_eq(json_string_value(json_array_get(fp, 1)), f1);
}

Test(alert_import, an_import_whose_feed_is_missing_fails_with_its_alert)
{
    struct engine *eng = setup();
    struct import im;
    add_import(eng, "supplier-feed.xml", &im);
    struct job_outcome out = run_import(eng);
    cr_assert_eq(out.status, JOB_FAILED, "failed for good, not retried: %d %s", out.status,
                 out.error);
    cr_assert(strstr(out.error, "cannot be read") != NULL, "%s", out.error);
    struct import got = iu_get(eng, "shop", im.id, false);
    cr_assert_eq(got.status, IMPORT_FAILED);
    import_release(&got);

    json_t *all = raised();
    json_t *a = NULL;
    cr_assert_eq(of_kind(all, "xml_import_job_failed", &a), 1, "%s", json_dumps(all, JSON_COMPACT));
    cr_assert_eq(of_kind(all, "job_failed", NULL), 0, "not the generic alert as well");
    cr_assert_eq(json_array_size(all), 1);
    cr_assert_str_eq(json_string_value(json_object_get(a, "level")), "error");
    cr_assert_str_eq(tag(a, "job_id"), im.job_id);
    cr_assert_str_eq(tag(a, "source_name"), "supplier-feed.xml");
    cr_assert_str_eq(tag(a, "error_type"), "detecting_error", "the stage it failed in");
    cr_assert_str_eq(tag(a, "import_job_id"), im.id);
    cr_assert_str_eq(tag(a, "workspace"), "shop");
    assert_fingerprint(a, "xml-import-job-failed", "supplier-feed.xml");
    const char *msg = json_string_value(json_object_get(a, "message"));
    cr_assert(strstr(msg, "supplier-feed.xml") && strstr(msg, "cannot be read"), "%s", msg);
    json_t *ictx = json_object_get(json_object_get(a, "context"), "import");
    cr_assert_str_eq(json_string_value(json_object_get(ictx, "id")), im.id);
    cr_assert_str_eq(json_string_value(json_object_get(ictx, "status")), "failed");
    json_decref(all);

    /* another source fails within the window: its own alert; the same source again: held back */
    tu_clock_advance(&clk, 1000);
    struct import other, again;
    add_import(eng, "other-feed.csv", &other);
    cr_assert_eq(run_import(eng).status, JOB_FAILED);
    tu_clock_advance(&clk, 1000);
    add_import(eng, "supplier-feed.xml", &again);
    cr_assert_eq(run_import(eng).status, JOB_FAILED);
    all = raised();
    cr_assert_eq(of_kind(all, "xml_import_job_failed", NULL), 2, "%s",
                 json_dumps(all, JSON_COMPACT));
    a = json_array_get(all, 1);
    cr_assert_str_eq(tag(a, "source_name"), "other-feed.csv");
    assert_fingerprint(a, "xml-import-job-failed", "other-feed.csv");
    json_decref(all);
    teardown(eng);
}

/* An xml_import job without an import (enqueued by hand): the alert still goes out, its import
 * unknown. */
Test(alert_import, a_failed_import_job_without_its_import_says_unknown)
{
    struct engine *eng = setup();
    char id[UUID_STR_LEN];
    snprintf(id, sizeof id, "%s", tu_enqueue(eng, IMPORT_JOB_TYPE, "{}"));
    cr_assert_eq(run_import(eng).status, JOB_FAILED);
    json_t *all = raised();
    json_t *a = NULL;
    cr_assert_eq(of_kind(all, "xml_import_job_failed", &a), 1);
    cr_assert_str_eq(tag(a, "job_id"), id);
    cr_assert_str_eq(tag(a, "source_name"), "unknown");
    cr_assert_str_eq(tag(a, "import_job_id"), "unknown");
    cr_assert_str_eq(tag(a, "error_type"), "args", "the word before the error's ':'");
    assert_fingerprint(a, "xml-import-job-failed", "unknown");
    json_decref(all);
    teardown(eng);
}

/* Alive but stuck: the worker's heartbeats come, its progress does not, for the type's 20 minutes
 * (handlers_configure): the monitor ends the attempt, stuck_import_job says so, and job_resumed
 * that it was requeued. */
Test(alert_import, an_import_without_progress_for_20_minutes_is_stuck)
{
    struct engine *eng = setup();
    struct import im;
    add_import(eng, "supplier-feed.xml", &im);
    struct job j;
    tu_claim_one(eng, IMPORT_JOB_TYPE, "w1", &j);
    struct heartbeat alive = {0};
    struct err e = {0};
    for (int s = 10; s < 20 * 60; s += 10) {
        tu_clock_advance(&clk, 10000);
        cr_assert_eq(engine_heartbeat(eng, &TU_FENCE(j), &alive, &e), 0, "%s", e.msg);
    }
    cr_assert_eq(tu_sweep(eng).no_progress, 0, "not stuck before 20 minutes");
    json_t *all = raised();
    cr_assert_eq(json_array_size(all), 0);
    json_decref(all);
    tu_clock_advance(&clk, 10001);
    cr_assert_eq(tu_sweep(eng).no_progress, 1);

    all = raised();
    json_t *a = NULL;
    cr_assert_eq(of_kind(all, "stuck_import_job", &a), 1, "%s", json_dumps(all, JSON_COMPACT));
    cr_assert_eq(of_kind(all, "stuck_job", NULL), 0, "not the generic alert as well");
    cr_assert_eq(of_kind(all, "job_resumed", NULL), 1, "an attempt is left");
    cr_assert_str_eq(json_string_value(json_object_get(a, "level")), "error");
    cr_assert_str_eq(tag(a, "import_job_id"), im.id);
    cr_assert_str_eq(tag(a, "job_type"), "xml_import");
    cr_assert_str_eq(tag(a, "source_name"), "supplier-feed.xml");
    cr_assert_str_eq(tag(a, "job_id"), im.job_id);
    cr_assert_str_eq(tag(a, "failure_reason"), "no_progress");
    assert_fingerprint(a, "stuck-import-job", "supplier-feed.xml");
    json_t *st = json_object_get(json_object_get(a, "context"), "stuck");
    cr_assert_geq(json_integer_value(json_object_get(st, "stuckForMs")), 20 * MIN_MS);
    json_decref(all);
    job_release(&j);
    teardown(eng);
}
