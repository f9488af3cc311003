/* The committer thread. A batch that fails partway is rolled back and, when it held more than one
 * operation, each operation is retried in a transaction of its own, so one bad operation does
 * not fail its neighbours.
 *
 * A caller of commit_run that finds nobody committing runs the batch itself (it becomes the
 * leader) instead of handing it to the committer thread and waiting to be woken: a lone writer
 * then pays for no thread switch, only for its commit. Either way one thread at a time uses the
 * store (`busy`). */
#include "engine/commit.h"

#include "base/clock.h"
#include "base/log.h"
#include "base/rand.h"
#include "base/xalloc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 8192

/* The counters a transaction changes, summed per workspace and type. */
struct tx_delta {
    char *key; /* workspace NUL type NUL: one allocation */
    struct stats_delta d;
};

struct tx_after {
    void (*fn)(void *arg, bool committed);
    void *arg;
};

struct commit_tx {
    struct committer *c;
    struct store *store;
    struct tx_after *afters;
    size_t nafters, acap;
    commit_hook_fn hook; /* the committer's, as it was when the transaction began */
    void *hook_ctx;
    struct job_change_rec *changes;
    size_t nchanges, cap;
    bool available;
    struct tx_delta *deltas;
    size_t ndeltas, dcap;
    int64_t now; /* the latest engine time a change was recorded at */
};

struct committer {
    struct store *store;
    commit_changes_fn fn;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t work; /* ops queued or stopping */

    struct commit_op *head, *tail;
    bool stopping;
    bool busy;         /* a thread (the committer or a leader) is running a batch */
    size_t last_batch; /* operations in the batch taken last */
    struct commit_stats stats;
    commit_hook_fn hook; /* runs in the transaction for every change recorded */
    void *hook_ctx;
};

struct store *commit_store(struct commit_tx *tx)
{
    return tx->store;
}

static struct stats_delta *delta_of(struct commit_tx *tx, const char *workspace, const char *type)
{
    size_t wl = strlen(workspace), tl = strlen(type);
    for (size_t i = 0; i < tx->ndeltas; i++) {
        const char *k = tx->deltas[i].key;
        if (memcmp(k, workspace, wl + 1) == 0 && strcmp(k + wl + 1, type) == 0)
            return &tx->deltas[i].d;
    }
    if (tx->ndeltas == tx->dcap) {
        tx->dcap = tx->dcap ? tx->dcap * 2 : 8;
        tx->deltas = xrealloc(tx->deltas, tx->dcap * sizeof *tx->deltas);
    }
    struct tx_delta *t = &tx->deltas[tx->ndeltas++];
    t->key = xmalloc(wl + tl + 2);
    memcpy(t->key, workspace, wl + 1);
    memcpy(t->key + wl + 1, type, tl + 1);
    memset(&t->d, 0, sizeof t->d);
    t->d.workspace = t->key;
    t->d.type = t->key + wl + 1;
    return &t->d;
}

void commit_count(struct commit_tx *tx, const char *workspace, const char *type, int from, int to,
                  int64_t proc_ms, int64_t now)
{
    if (!workspace || !type || from == to)
        return;
    struct stats_delta *d = delta_of(tx, workspace, type);
    if (from >= 0)
        d->status[from]--;
    if (to >= 0)
        d->status[to]++;
    if (from == JOB_PROCESSING) {
        if (to == JOB_COMPLETED)
            d->completed++;
        else if (to == JOB_FAILED)
            d->failed++;
        else if (to == JOB_RETRYING)
            d->retried++;
        if (to == JOB_COMPLETED && proc_ms >= 0) {
            d->proc_ms += proc_ms;
            d->proc_n++;
        }
    }
    if (now > tx->now)
        tx->now = now;
}

void commit_uncount(struct commit_tx *tx, const char *workspace, const char *type, int status,
                    int64_t n)
{
    if (workspace && type && status >= 0 && status < JOB_STATUS_COUNT)
        delta_of(tx, workspace, type)->status[status] -= n;
}

static char *put(char **at, const char *s)
{
    if (!s)
        return NULL;
    char *p = *at;
    size_t n = strlen(s) + 1;
    memcpy(p, s, n);
    *at += n;
    return p;
}

void commit_record(struct commit_tx *tx, const struct change_note *c, int64_t now)
{
    if (tx->nchanges == tx->cap) {
        tx->cap = tx->cap ? tx->cap * 2 : 256;
        tx->changes = xrealloc(tx->changes, tx->cap * sizeof *tx->changes);
    }
    struct job_change_rec *r = &tx->changes[tx->nchanges++];
    const char *ws = c->workspace ? c->workspace : "";
    const char *type = c->type ? c->type : "";
    char *buf = xmalloc(
        strlen(c->id) + strlen(type) + strlen(ws) + 3 +
        (c->batch_id ? strlen(c->batch_id) + 1 : 0) + (c->root_id ? strlen(c->root_id) + 1 : 0) +
        (c->message ? strlen(c->message) + 1 : 0) + (c->stage ? strlen(c->stage) + 1 : 0));
    char *at = buf;
    r->id = put(&at, c->id);
    r->type = put(&at, type);
    r->workspace = put(&at, ws);
    r->batch_id = put(&at, c->batch_id);
    r->root_id = put(&at, c->root_id);
    r->message = put(&at, c->message);
    r->stage = put(&at, c->stage);
    r->cause = c->cause;
    r->progress = c->from == c->to ? c->progress : -1;
    r->from = c->from;
    r->to = c->to;
    r->attempt = c->attempt;
    r->at = now;
    r->proc_ms = c->from == JOB_PROCESSING && c->started_at > 0 ? now - c->started_at : -1;
    r->wait_ms = c->to == JOB_PROCESSING && c->due_at > 0 ? now - c->due_at : -1;
    if (r->proc_ms < -1 || r->wait_ms < -1) /* a clock that went back */
        r->proc_ms = r->wait_ms = -1;
    if (c->to == JOB_PENDING)
        tx->available = true;
    commit_count(tx, c->workspace, c->type, c->from, c->to, r->proc_ms, now);
    if (tx->hook)
        tx->hook(tx->hook_ctx, tx, r);
}

void commit_set_hook(struct committer *c, commit_hook_fn fn, void *ctx)
{
    pthread_mutex_lock(&c->lock);
    c->hook = fn;
    c->hook_ctx = ctx;
    pthread_mutex_unlock(&c->lock);
}

void commit_after(struct commit_tx *tx, void (*fn)(void *arg, bool committed), void *arg)
{
    if (tx->nafters == tx->acap) {
        tx->acap = tx->acap ? tx->acap * 2 : 8;
        tx->afters = xrealloc(tx->afters, tx->acap * sizeof *tx->afters);
    }
    tx->afters[tx->nafters++] = (struct tx_after){fn, arg};
}

static void run_afters(struct commit_tx *tx, bool committed)
{
    for (size_t i = 0; i < tx->nafters; i++)
        tx->afters[i].fn(tx->afters[i].arg, committed);
    tx->nafters = 0;
}

void commit_available(struct commit_tx *tx)
{
    tx->available = true;
}

static void tx_reset(struct commit_tx *tx)
{
    run_afters(tx, false);
    for (size_t i = 0; i < tx->nchanges; i++)
        free(tx->changes[i].id);
    for (size_t i = 0; i < tx->ndeltas; i++)
        free(tx->deltas[i].key);
    tx->nchanges = 0;
    tx->ndeltas = 0;
    tx->available = false;
    tx->now = 0;
}

/* The counters' share of the transaction, written last, inside it. */
static int write_deltas(struct commit_tx *tx, struct err *e)
{
    if (!tx->ndeltas)
        return 0;
    struct stats_delta d[64];
    for (size_t i = 0; i < tx->ndeltas; i += 64) {
        size_t k = tx->ndeltas - i < 64 ? tx->ndeltas - i : 64;
        for (size_t j = 0; j < k; j++)
            d[j] = tx->deltas[i + j].d;
        int rc = store_stats_add(tx->store, d, k, tx->now, e);
        if (rc)
            return rc;
    }
    return 0;
}

static void undo_all(struct commit_op *ops)
{
    for (struct commit_op *op = ops; op; op = op->next) {
        if (op->undo)
            op->undo(op);
        op->rc = 0;
        err_clear(&op->err);
    }
}

/* Run ops (a list) in one transaction. Returns 0 when committed, else the failure, with every op
 * undone. */
/* On a store several nodes share, the transaction's changes go to the other nodes with it. */
static int announce(struct commit_tx *tx, struct err *e)
{
    if (!store_shared(tx->store) || (tx->nchanges == 0 && !tx->available))
        return 0;
    struct store_change buf[64];
    struct store_change *ch = tx->nchanges <= 64 ? buf : xcalloc(tx->nchanges, sizeof *ch);
    for (size_t i = 0; i < tx->nchanges; i++) {
        const struct job_change_rec *r = &tx->changes[i];
        ch[i] = (struct store_change){r->id,   r->type, r->workspace, r->batch_id, r->root_id,
                                      r->from, r->to,   r->attempt,   r->at};
    }
    int rc = store_announce(tx->store, ch, tx->nchanges, tx->available, e);
    if (ch != buf)
        free(ch);
    return rc;
}

static int run_batch(struct committer *c, struct commit_tx *tx, struct commit_op *ops,
                     struct err *e)
{
    int64_t t0 = clock_mono_ns();
    pthread_mutex_lock(&c->lock);
    tx->hook = c->hook;
    tx->hook_ctx = c->hook_ctx;
    pthread_mutex_unlock(&c->lock);
    int rc = store_begin(c->store, e);
    if (rc)
        return rc;
    for (struct commit_op *op = ops; op;) {
        if (op->run_group) {
            struct commit_op *group[COMMIT_GROUP_MAX];
            size_t k = 0;
            while (op && k < COMMIT_GROUP_MAX && (k == 0 || op->run_group == group[0]->run_group)) {
                op->rc = 0;
                err_clear(&op->err);
                group[k++] = op;
                op = op->next;
            }
            rc = group[0]->run_group(group, k, tx, e);
            if (rc < 0)
                break;
            continue;
        }
        op->rc = 0;
        err_clear(&op->err);
        rc = op->run(op, tx);
        if (rc < 0) {
            err_copy(e, &op->err);
            break;
        }
        op = op->next;
    }
    if (!rc)
        rc = write_deltas(tx, e);
    if (!rc)
        rc = announce(tx, e);
    if (!rc)
        rc = store_commit(c->store, e);
    if (rc) /* a failed commit may leave the transaction open: end it either way */
        store_rollback(c->store);
    if (rc) {
        undo_all(ops);
        tx_reset(tx);
        return rc;
    }
    size_t n = 0;
    for (struct commit_op *op = ops; op; op = op->next)
        n++;
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&c->lock);
    hist_add(&c->stats.latency, secs);
    hist_add(&c->stats.size, (double)n);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* A transaction the store rolled back whole because it lost a race with another writer (a
 * deadlock or serialization failure on PostgreSQL: TRAWL_EBUSY) did nothing, so it is run again
 * a few times, after a short random pause that lets the other transaction finish, before its ops
 * are failed. One that already waited long for a lock (SQLite's busy timeout) is not: waiting
 * again would only hold up the writes queued behind it. */
#define BUSY_RETRIES         4
#define BUSY_RETRY_WITHIN_MS 3000

static int run_batch_retrying(struct committer *c, struct commit_tx *tx, struct commit_op *ops,
                              struct err *e)
{
    int64_t t0 = clock_mono_ms();
    int rc = run_batch(c, tx, ops, e);
    for (int i = 0;
         rc == TRAWL_EBUSY && i < BUSY_RETRIES && clock_mono_ms() - t0 < BUSY_RETRY_WITHIN_MS;
         i++) {
        log_debug("commit: %s; trying again", e->msg[0] ? e->msg : "store busy");
        clock_sleep_ms(1 + (int64_t)(rand_u64() % (uint64_t)(4 << (2 * i))));
        err_clear(e);
        rc = run_batch(c, tx, ops, e);
    }
    return rc;
}

static void finish(struct committer *c, struct commit_op *ops)
{
    struct commit_op *async = NULL, **atail = &async;
    pthread_mutex_lock(&c->lock);
    for (struct commit_op *op = ops, *next; op; op = next) {
        next = op->next;
        if (op->done) {
            op->next = NULL;
            *atail = op;
            atail = &op->next;
        } else {
            op->finished = true;
            /* each waiter sleeps on its own condition variable: a commit wakes its callers and
             * nobody else (a shared one woke every waiting thread at every commit) */
            pthread_cond_signal(op->waiter);
        }
    }
    pthread_mutex_unlock(&c->lock);
    for (struct commit_op *op = async, *next; op; op = next) {
        next = op->next;
        op->finished = true;
        op->done(op);
    }
}

static void fail_op(struct commit_op *op, int rc, const struct err *e)
{
    op->rc = rc;
    if (e && e->code)
        err_copy(&op->err, e);
    else
        err_set(&op->err, rc, true, "%s", err_str(rc));
}

static void count(struct committer *c, uint64_t commits, uint64_t ops)
{
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->lock);
    c->stats.commits += commits;
    c->stats.ops += ops;
    c->stats.last_commit_ms = now;
    pthread_mutex_unlock(&c->lock);
}

/* A transaction failed for a reason of the store's. An operation that rolled its transaction back
 * to refuse (a state that does not allow it, a row that is not there, a bad value) says nothing
 * about the store's health and is not counted. */
static void count_failure(struct committer *c, int rc, const struct err *e)
{
    if (rc == TRAWL_ESTATE || rc == TRAWL_ESTALE || rc == TRAWL_ENOTFOUND || rc == TRAWL_EINVAL)
        return;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&c->lock);
    c->stats.last_failure_ms = now;
    snprintf(c->stats.last_failure, sizeof c->stats.last_failure, "%s",
             e && e->msg[0] ? e->msg : "store error");
    pthread_mutex_unlock(&c->lock);
}

static void process(struct committer *c, struct commit_tx *tx, struct commit_op *ops, size_t n)
{
    struct err e;
    err_clear(&e);
    int rc = run_batch_retrying(c, tx, ops, &e);
    if (rc)
        count_failure(c, rc, &e);
    if (!rc) {
        count(c, 1, n);
    } else if (n > 1) {
        /* isolate: each op alone, so only the ops that really fail are failed */
        for (struct commit_op *op = ops; op; op = op->next) {
            struct commit_op *next = op->next;
            op->next = NULL;
            struct err e1;
            err_clear(&e1);
            int rc1 = run_batch_retrying(c, tx, op, &e1);
            if (!rc1) {
                count(c, 1, 1);
            } else {
                fail_op(op, rc1, &e1);
            }
            op->next = next;
            if (!rc1)
                run_afters(tx, true);
            if (!rc1 && c->fn && (tx->nchanges || tx->available))
                c->fn(c->ctx, tx->changes, tx->nchanges, tx->available);
            tx_reset(tx);
        }
        finish(c, ops);
        return;
    } else {
        fail_op(ops, rc, &e);
    }
    if (!rc)
        run_afters(tx, true);
    if (!rc && c->fn && (tx->nchanges || tx->available))
        c->fn(c->ctx, tx->changes, tx->nchanges, tx->available);
    tx_reset(tx);
    finish(c, ops);
}

/* Under lock, with ops queued: take up to MAX_BATCH of them and mark the store busy. */
static struct commit_op *take_batch(struct committer *c, size_t *n)
{
    struct commit_op *ops = c->head, *last = ops;
    *n = 1;
    while (last->next && *n < MAX_BATCH) {
        last = last->next;
        (*n)++;
    }
    c->head = last->next;
    if (!c->head)
        c->tail = NULL;
    last->next = NULL;
    c->busy = true;
    c->last_batch = *n;
    return ops;
}

/* Under lock, after a batch: the store is free; wake the committer when more is queued. */
static void batch_over(struct committer *c)
{
    c->busy = false;
    if (c->head || c->stopping)
        pthread_cond_signal(&c->work);
}

static void *loop(void *arg)
{
    struct committer *c = arg;
    pthread_setname_np(pthread_self(), "committer");
    struct commit_tx tx = {.c = c, .store = c->store};
    for (;;) {
        pthread_mutex_lock(&c->lock);
        while ((!c->head || c->busy) && !(c->stopping && !c->head && !c->busy))
            pthread_cond_wait(&c->work, &c->lock);
        if (!c->head) {
            pthread_mutex_unlock(&c->lock);
            break;
        }
        size_t n;
        struct commit_op *ops = take_batch(c, &n);
        pthread_mutex_unlock(&c->lock);
        process(c, &tx, ops, n);
        pthread_mutex_lock(&c->lock);
        batch_over(c);
        pthread_mutex_unlock(&c->lock);
    }
    tx_reset(&tx);
    free(tx.changes);
    free(tx.deltas);
    free(tx.afters);
    return NULL;
}

struct committer *commit_start(struct store *s, commit_changes_fn fn, void *ctx)
{
    struct committer *c = xcalloc(1, sizeof *c);
    c->store = s;
    c->fn = fn;
    c->ctx = ctx;
    c->stats.latency.le = hist_fast_le;
    c->stats.size.le = hist_size_le;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->work, NULL);
    if (pthread_create(&c->thread, NULL, loop, c) != 0) {
        log_error("cannot start the committer thread");
        abort();
    }
    return c;
}

void commit_stop(struct committer *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->work);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->work);
    free(c);
}

/* Reset op and put it at the end of the queue. true: queued, with the lock held; false: the
 * committer is stopping, op has failed with TRAWL_ECLOSED and the lock is not held. */
static bool queue_op(struct committer *c, struct commit_op *op)
{
    op->next = NULL;
    op->finished = false;
    op->rc = 0;
    err_clear(&op->err);
    pthread_mutex_lock(&c->lock);
    if (c->stopping) {
        pthread_mutex_unlock(&c->lock);
        fail_op(op, TRAWL_ECLOSED, NULL);
        return false;
    }
    if (c->tail)
        c->tail->next = op;
    else
        c->head = op;
    c->tail = op;
    return true;
}

void commit_submit(struct committer *c, struct commit_op *op)
{
    if (!queue_op(c, op)) {
        op->finished = true;
        if (op->done)
            op->done(op);
        return;
    }
    if (!c->busy)
        pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->lock);
}

/* Under lock, with op queued and nobody committing: run the queued batch on this thread. The lock
 * is held again on return. */
static void lead(struct committer *c)
{
    size_t n;
    struct commit_op *ops = take_batch(c, &n);
    pthread_mutex_unlock(&c->lock);
    struct commit_tx tx = {.c = c, .store = c->store};
    process(c, &tx, ops, n);
    free(tx.changes);
    free(tx.deltas);
    free(tx.afters);
    pthread_mutex_lock(&c->lock);
    batch_over(c);
}

void commit_submit_or_lead(struct committer *c, struct commit_op *op)
{
    if (!queue_op(c, op)) {
        op->finished = true;
        op->done(op);
        return;
    }
    if (!c->busy && c->last_batch <= 1) {
        /* light load (the last commit held one operation): no hand-off for this one either */
        lead(c);
    } else if (!c->busy) {
        /* under load a caller that led would stop serving its other clients for a whole commit;
         * the committer takes it, and the operations that pile up meanwhile go together */
        pthread_cond_signal(&c->work);
    }
    pthread_mutex_unlock(&c->lock);
}

int commit_run(struct committer *c, struct commit_op *op)
{
    pthread_cond_t cv;
    pthread_cond_init(&cv, NULL);
    op->waiter = &cv;
    op->done = NULL;
    if (!queue_op(c, op)) {
        pthread_cond_destroy(&cv);
        return op->rc;
    }
    if (!c->busy) {
        /* nobody is committing: lead, so no thread switch stands between this call and its
         * commit; whatever else is queued goes along */
        lead(c);
    } else {
        pthread_cond_signal(&c->work);
    }
    while (!op->finished)
        pthread_cond_wait(&cv, &c->lock);
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&cv);
    return op->rc;
}

void commit_stats_get(struct committer *c, struct commit_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}
