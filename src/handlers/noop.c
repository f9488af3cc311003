/* noop: does nothing and succeeds; for benchmarks and smoke tests. */
#include "handlers/handlers.h"

int handler_noop(struct job_ctx *ctx)
{
    (void)ctx;
    return 0;
}
