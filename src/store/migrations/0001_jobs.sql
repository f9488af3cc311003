-- 0001: the jobs table, its history, and the indexes the hot paths use.
-- Times are integer milliseconds since the Unix epoch; JSON columns hold text.
-- Both tables are clustered on their key (WITHOUT ROWID): a job is found by its id without a
-- second index, and a job's history is stored together, in order.
CREATE TABLE jobs (
    id                  TEXT    NOT NULL PRIMARY KEY,   -- UUIDv7
    type                TEXT    NOT NULL,
    queue               TEXT    NOT NULL DEFAULT 'default',
    status              TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending','processing','retrying','completed','failed','cancelled')),
    priority            INTEGER NOT NULL DEFAULT 0,
    attempt             INTEGER NOT NULL DEFAULT 0,
    max_attempts        INTEGER NOT NULL,
    run_at              INTEGER NOT NULL,
    timeout_ms          INTEGER NOT NULL DEFAULT 0,     -- 0: the type's default
    backoff_base_ms     INTEGER NOT NULL DEFAULT 0,     -- 0: the type's default
    backoff_cap_ms      INTEGER NOT NULL DEFAULT 0,
    progress            INTEGER NOT NULL DEFAULT 0,
    stage               TEXT,
    checkpoint          TEXT,
    args                TEXT    NOT NULL DEFAULT '{}',
    result              TEXT,
    error               TEXT,
    batch_id            TEXT,
    parent_id           TEXT,
    root_id             TEXT,
    unique_key          TEXT,
    workspace           TEXT    NOT NULL DEFAULT 'default',
    lease_owner         TEXT,
    lease_expires_at    INTEGER,
    last_heartbeat      INTEGER,
    progress_at         INTEGER,                        -- last change of progress, stage or checkpoint
    created_at          INTEGER NOT NULL,
    started_at          INTEGER,
    completed_at        INTEGER,
    failed_at           INTEGER,
    updated_at          INTEGER NOT NULL,
    event_seq           INTEGER NOT NULL DEFAULT 0      -- number of job_events rows so far
) WITHOUT ROWID;

-- The claim: per type, highest priority, oldest run_at, then id; only pending rows are in it.
CREATE INDEX jobs_claim ON jobs (type, priority DESC, run_at, id) WHERE status = 'pending';
-- The monitor: leases and stuck jobs among running jobs, due retries among retrying ones.
CREATE INDEX jobs_processing ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_retrying ON jobs (run_at) WHERE status = 'retrying';
-- A unique_key is unique among live jobs only.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (workspace, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending','processing','retrying');
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;

-- Every state change of a job, in order. A job's creation is its created_at, not an event.
CREATE TABLE job_events (
    job_id      TEXT    NOT NULL,
    seq         INTEGER NOT NULL,                       -- 1, 2, ... per job
    at          INTEGER NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,
    message     TEXT,
    PRIMARY KEY (job_id, seq)
) WITHOUT ROWID;
