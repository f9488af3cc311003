/* Waiters for jobs to end: a thread registers its interest in a job id, and the engine wakes it
 * from the committer thread when a durable change ends that job. Internal to the engine.
 *
 * Ownership: a struct waiter is owned by the thread that added it, until waiter_remove. */
#ifndef TRAWL_WAIT_H
#define TRAWL_WAIT_H

#include "base/uuid.h"

#include <stdbool.h>
#include <stdint.h>

struct waiters;
struct waiter;

struct waiters *waiters_new(void);
/* Accepts NULL. No waiter may remain. */
void waiters_free(struct waiters *ws);
/* Register interest in id; do it before reading the job, so no change is missed. */
struct waiter *waiter_add(struct waiters *ws, const char *id);
/* Block until the waiter is woken or deadline_ms (monotonic) passes; true when woken. */
bool waiter_wait(struct waiters *ws, struct waiter *w, int64_t deadline_ms);
void waiter_remove(struct waiters *ws, struct waiter *w);
/* Wake every waiter now, and make later waits return at once (shutdown). */
void waiters_close(struct waiters *ws);
/* Wake every waiter of id. Cheap when nobody waits. */
void waiters_wake(struct waiters *ws, const char *id);

#endif
