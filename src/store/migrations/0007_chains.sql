-- 0007: chains. A job may name the stages that run after it completes (they wait, in the new
-- status 'waiting'), fan out children when it completes, and name a join that runs once those
-- children all ended. A stage whose earlier stage failed for good or was cancelled is 'blocked'
-- until that stage is retried. Pipelines give a chain a name.
--
-- New columns of jobs:
--   input       the parent's result (a stage), or what a join's children gave (a join)
--   role        NULL (a job of its own, a chain's first stage), 'next', 'child' or 'join'
--   join_id     a child: the join its end counts toward; a parent: the join it names
--   waits       a waiting join: how many ends it still waits for (its parent's completion, then
--               each child), counted down in the transactions of those ends
--   successors  how many stages (role 'next') wait for this job's completion
--   depth       stages above the job in its chain (0 for a root); at most 63
-- The status CHECK gains the two statuses, so the table is copied (as in 0002) and its indexes
-- and the batches' triggers are made again.
CREATE TABLE jobs_v3 (
    id                  TEXT    NOT NULL PRIMARY KEY,   -- UUIDv7
    type                TEXT    NOT NULL,
    queue               TEXT    NOT NULL DEFAULT 'default',
    status              TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status = 'pending' OR status = 'processing' OR status = 'retrying' OR
                               status = 'completed' OR status = 'failed' OR status = 'cancelled' OR
                               status = 'waiting' OR status = 'blocked'),
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
    event_seq           INTEGER NOT NULL DEFAULT 0,     -- number of job_events rows so far
    input               TEXT,
    role                TEXT
                        CHECK (role IS NULL OR role = 'next' OR role = 'child' OR role = 'join'),
    join_id             TEXT,
    waits               INTEGER NOT NULL DEFAULT 0,
    successors          INTEGER NOT NULL DEFAULT 0,
    depth               INTEGER NOT NULL DEFAULT 0
);

INSERT INTO jobs_v3 (id, type, queue, status, priority, attempt, max_attempts, run_at, timeout_ms,
                     backoff_base_ms, backoff_cap_ms, progress, stage, checkpoint, args, result,
                     error, batch_id, parent_id, root_id, unique_key, workspace, lease_owner,
                     lease_expires_at, last_heartbeat, progress_at, created_at, started_at,
                     completed_at, failed_at, updated_at, event_seq)
SELECT id, type, queue, status, priority, attempt, max_attempts, run_at, timeout_ms,
       backoff_base_ms, backoff_cap_ms, progress, stage, checkpoint, args, result, error, batch_id,
       parent_id, root_id, unique_key, workspace, lease_owner, lease_expires_at, last_heartbeat,
       progress_at, created_at, started_at, completed_at, failed_at, updated_at, event_seq
FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v3 RENAME TO jobs;

CREATE INDEX jobs_claim ON jobs (type, priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_processing ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_retrying ON jobs (run_at) WHERE status = 'retrying';
-- A unique_key is unique among live jobs only. Queries that use this index must spell the
-- status condition the same way, or SQLite will not see that the index applies.
CREATE UNIQUE INDEX jobs_unique_live ON jobs (workspace, unique_key)
    WHERE unique_key IS NOT NULL AND (status = 'pending' OR status = 'processing' OR
                                      status = 'retrying');
CREATE INDEX jobs_batch ON jobs (batch_id, id) WHERE batch_id IS NOT NULL;
-- A job's children (stages, fanned-out children, its join) in order; a chain's jobs in order.
CREATE INDEX jobs_parent ON jobs (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_root ON jobs (root_id, id) WHERE root_id IS NOT NULL;

-- The batches' counts gain the two statuses; their triggers are made again (they went with the
-- old table).
ALTER TABLE batches ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batches ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER jobs_batch_insert AFTER INSERT ON jobs WHEN NEW.batch_id IS NOT NULL
BEGIN
    INSERT INTO batches (workspace, id, created_at, updated_at, total, pending, processing,
                         retrying, completed, failed, cancelled, waiting, blocked)
    VALUES (NEW.workspace, NEW.batch_id, NEW.created_at, NEW.updated_at, 1,
            NEW.status = 'pending', NEW.status = 'processing', NEW.status = 'retrying',
            NEW.status = 'completed', NEW.status = 'failed', NEW.status = 'cancelled',
            NEW.status = 'waiting', NEW.status = 'blocked')
    ON CONFLICT (workspace, id) DO UPDATE SET
        total = total + 1,
        pending = pending + (NEW.status = 'pending'),
        processing = processing + (NEW.status = 'processing'),
        retrying = retrying + (NEW.status = 'retrying'),
        completed = completed + (NEW.status = 'completed'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled'),
        waiting = waiting + (NEW.status = 'waiting'),
        blocked = blocked + (NEW.status = 'blocked'),
        updated_at = max(updated_at, NEW.updated_at);
END;

CREATE TRIGGER jobs_batch_status AFTER UPDATE OF status ON jobs
WHEN NEW.batch_id IS NOT NULL AND NEW.status <> OLD.status
BEGIN
    UPDATE batches SET
        pending = pending + (NEW.status = 'pending') - (OLD.status = 'pending'),
        processing = processing + (NEW.status = 'processing') - (OLD.status = 'processing'),
        retrying = retrying + (NEW.status = 'retrying') - (OLD.status = 'retrying'),
        completed = completed + (NEW.status = 'completed') - (OLD.status = 'completed'),
        failed = failed + (NEW.status = 'failed') - (OLD.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled') - (OLD.status = 'cancelled'),
        waiting = waiting + (NEW.status = 'waiting') - (OLD.status = 'waiting'),
        blocked = blocked + (NEW.status = 'blocked') - (OLD.status = 'blocked'),
        updated_at = NEW.updated_at
    WHERE workspace = NEW.workspace AND id = NEW.batch_id;
END;

CREATE TRIGGER jobs_batch_delete AFTER DELETE ON jobs WHEN OLD.batch_id IS NOT NULL
BEGIN
    UPDATE batches SET
        total = total - 1,
        pending = pending - (OLD.status = 'pending'),
        processing = processing - (OLD.status = 'processing'),
        retrying = retrying - (OLD.status = 'retrying'),
        completed = completed - (OLD.status = 'completed'),
        failed = failed - (OLD.status = 'failed'),
        cancelled = cancelled - (OLD.status = 'cancelled'),
        waiting = waiting - (OLD.status = 'waiting'),
        blocked = blocked - (OLD.status = 'blocked')
    WHERE workspace = OLD.workspace AND id = OLD.batch_id;
END;

-- The job counters of metrics gain the two statuses.
ALTER TABLE job_counts ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_counts ADD COLUMN blocked INTEGER NOT NULL DEFAULT 0;

-- A named chain, submitted in one call: its root job and the name it was given.
CREATE TABLE pipelines (
    id          TEXT    NOT NULL PRIMARY KEY,           -- the root job's id
    workspace   TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    stages      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX pipelines_recent ON pipelines (workspace, created_at DESC, id);
CREATE INDEX pipelines_name ON pipelines (workspace, name, created_at DESC);
