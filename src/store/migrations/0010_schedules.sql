-- 0010: schedules. A schedule names a cron expression (or "@every D"), the time zone it is read
-- in, and a job spec; each of its slots becomes one job whose unique_key is
-- 'schedule:<schedule id>:<slot ms>', enqueued in the transaction that moves next_slot past the
-- slot (the guard WHERE next_slot = <the slot read> is what makes a slot run once).
--   missed      what the scheduler does with slots that came due while no server ran:
--               'skip' (none of them), 'once' (the latest), 'all' (every one)
--   next_slot   the next slot to enqueue, ms; NULL when the expression has no time left
--   last_slot   the last slot enqueued, ms; NULL before the first
--   skipped     how many slots the missed policy skipped, so a skip is never silent
--   anchor_ms   where "@every D" counts from (the creation, to the second)
CREATE TABLE schedules (
    id          TEXT    NOT NULL PRIMARY KEY,           -- UUIDv7
    workspace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    cron        TEXT    NOT NULL,
    timezone    TEXT    NOT NULL DEFAULT 'UTC',
    job         TEXT    NOT NULL,                       -- the job spec, JSON as POST /v1/jobs takes it
    missed      TEXT    NOT NULL DEFAULT 'skip'
                CHECK (missed = 'skip' OR missed = 'once' OR missed = 'all'),
    paused      INTEGER NOT NULL DEFAULT 0,
    next_slot   INTEGER,
    last_slot   INTEGER,
    last_job_id TEXT,
    skipped     INTEGER NOT NULL DEFAULT 0,
    anchor_ms   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (workspace, name)
);
-- The scheduler's question: which schedules are due.
CREATE INDEX schedules_due ON schedules (next_slot) WHERE paused = 0 AND next_slot IS NOT NULL;

-- A slot's job stays unique after it ended, not only while it is live (jobs_unique_live): a
-- second job for a slot cannot be inserted at all while the first is kept. The guard on
-- next_slot already keeps a slot from being enqueued twice; this is the net under it. The API
-- refuses user unique keys with the prefix "schedule:".
CREATE UNIQUE INDEX jobs_schedule_slot ON jobs (unique_key)
    WHERE unique_key >= 'schedule:' AND unique_key < 'schedule;';
