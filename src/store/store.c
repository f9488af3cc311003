/* The store's core wrappers, and the one place where every call of every domain can be counted and
 * failed on purpose. */
#include "store/store.h"

#include <stdlib.h>

int store_call(struct store *s, bool present, const char *domain, struct err *e)
{
    long n = atomic_fetch_add(&s->calls, 1) + 1;
    long at = atomic_load(&s->fail_at);
    if (at > 0 && n == at)
        return err_set(e, TRAWL_EINJECTED, true, "injected fault at store call %ld", n);
    if (!present)
        return err_set(e, TRAWL_ESTORE, false, "the %s store keeps no %s", s->core->name, domain);
    return 0;
}

void store_fail_nth(struct store *s, long n)
{
    atomic_store(&s->calls, 0);
    atomic_store(&s->fail_at, n);
}

void store_close(struct store *s)
{
    if (s)
        s->core->close(s);
}

int store_begin(struct store *s, struct err *e)
{
    STORE_WRAP(s, s->core, "transactions", s->core->begin(s, e));
}

int store_commit(struct store *s, struct err *e)
{
    STORE_WRAP(s, s->core, "transactions", s->core->commit(s, e));
}

void store_rollback(struct store *s)
{
    s->core->rollback(s);
}

int store_check(struct store *s, struct err *e)
{
    STORE_WRAP(s, s->core, "checks", s->core->check(s, e));
}

bool store_shared(const struct store *s)
{
    return s->core->announce && s->core->hear;
}

int store_announce(struct store *s, const struct store_change *c, size_t n, bool available,
                   struct err *e)
{
    if (!store_shared(s) || (n == 0 && !available))
        return 0;
    STORE_WRAP(s, s->core, "announcements", s->core->announce(s, c, n, available, e));
}

int store_hear(struct store *s, store_heard_fn fn, void *ctx, struct err *e)
{
    if (!store_shared(s))
        return 0;
    return s->core->hear(s, fn, ctx, e);
}
