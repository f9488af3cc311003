/* Alerts' rate limits in the store: at most one alert per fingerprint and window, the ones held
 * back counted for the next that goes out, undone by a rollback, and the same for two stores on
 * one database (two nodes) taking one fingerprint at once. */
#include "store/alert.h"
#include "testutil.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdbool.h>

#define WINDOW 60000

/* One take in its own transaction, committed (or rolled back): whether it went out. */
static bool take(struct store *s, const char *key, int64_t now, int64_t *sup, bool commit)
{
    struct err e = {0};
    bool sent = false;
    cr_assert_eq(store_begin(s, &e), 0, "%s", e.msg);
    cr_assert_eq(store_alert_take(s, key, now, WINDOW, &sent, sup, &e), 0, "%s", e.msg);
    if (commit)
        cr_assert_eq(store_commit(s, &e), 0, "%s", e.msg);
    else
        store_rollback(s);
    return sent;
}

Test(alert_limit, one_alert_per_window_and_the_held_back_ones_counted)
{
    struct store *s = tu_store(NULL);
    int64_t sup = -1, t0 = 1700000000000;
    cr_assert(take(s, "job-failed/fetch", t0, &sup, true), "the first alert goes out");
    cr_assert_eq(sup, 0);
    cr_assert_not(take(s, "job-failed/fetch", t0 + 1, &sup, true));
    cr_assert_not(take(s, "job-failed/fetch", t0 + WINDOW - 1, &sup, true));
    cr_assert(take(s, "job-failed/parse", t0 + 2, &sup, true), "another fingerprint has its own");
    cr_assert_eq(sup, 0);
    cr_assert(take(s, "job-failed/fetch", t0 + WINDOW, &sup, true), "the window passed");
    cr_assert_eq(sup, 2, "it tells the two held back (got %lld)", (long long)sup);
    cr_assert_not(take(s, "job-failed/fetch", t0 + WINDOW + 5, &sup, true),
                  "the window starts again at the one sent");
    cr_assert(take(s, "job-failed/fetch", t0 + 2 * WINDOW, &sup, true));
    cr_assert_eq(sup, 1);
    store_close(s);
}

Test(alert_limit, a_rollback_neither_sends_nor_counts)
{
    struct store *s = tu_store(NULL);
    int64_t sup, t0 = 1700000000000;
    cr_assert(take(s, "k", t0, &sup, false));
    cr_assert(take(s, "k", t0 + 1, &sup, true), "the rolled-back one did not go out");
    cr_assert_eq(sup, 0);
    cr_assert_not(take(s, "k", t0 + 2, &sup, false));
    cr_assert(take(s, "k", t0 + WINDOW + 1, &sup, true));
    cr_assert_eq(sup, 0, "the held-back one was rolled back: nothing to tell");
    store_close(s);
}

struct node_arg {
    struct store *s;
    int sent, rounds;
};

static void *node_loop(void *p)
{
    struct node_arg *a = p;
    for (int i = 0; i < a->rounds; i++) {
        int64_t sup;
        struct err e = {0};
        bool sent = false;
        int rc;
        /* SQLite: the other store's transaction may hold the write lock a moment */
        while ((rc = store_begin(a->s, &e)) == TRAWL_EBUSY)
            err_clear(&e);
        cr_assert_eq(rc, 0, "%s", e.msg);
        cr_assert_eq(store_alert_take(a->s, "storm", 1700000000000 + i, WINDOW, &sent, &sup, &e), 0,
                     "%s", e.msg);
        cr_assert_eq(store_commit(a->s, &e), 0, "%s", e.msg);
        a->sent += sent;
    }
    return NULL;
}

Test(alert_limit, two_nodes_on_one_database_send_once_per_window, .timeout = 60)
{
    struct node_arg n[2] = {{.s = tu_store(NULL), .rounds = 200},
                            {.s = tu_store(NULL), .rounds = 200}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, node_loop, &n[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(n[0].sent + n[1].sent, 1, "%d and %d went out", n[0].sent, n[1].sent);
    int64_t sup;
    cr_assert(take(n[0].s, "storm", 1700000000000 + WINDOW + 200, &sup, true));
    cr_assert_eq(sup, 399, "both nodes' held-back alerts are told (got %lld)", (long long)sup);
    store_close(n[0].s);
    store_close(n[1].s);
}
