/* The monitor: a thread that runs engine_sweep every few seconds, so expired leases, stuck jobs
 * and due retries are handled even when no worker is looking. */
#ifndef TRAWL_MONITOR_H
#define TRAWL_MONITOR_H

#include "engine/engine.h"

struct monitor;

/* Start sweeping eng (borrowed) every interval_ms (default 2000). */
struct monitor *monitor_start(struct engine *eng, int64_t interval_ms);
/* Stop and free. Accepts NULL. */
void monitor_stop(struct monitor *m);

#endif
