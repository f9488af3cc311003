-- 0003: what the HTTP API needs beside jobs: API tokens, batches with their counts, and the
-- results of crawl jobs.

-- A token is shown once when made; only its SHA-256 is kept.
CREATE TABLE api_tokens (
    id          TEXT    NOT NULL PRIMARY KEY,           -- UUIDv7
    workspace   TEXT    NOT NULL,
    name        TEXT,
    hash        BLOB    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- A batch and its jobs' counts per status. The triggers below keep the counts in step with the
-- jobs inside the same transaction, so reading a batch's progress never counts its jobs.
CREATE TABLE batches (
    workspace   TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    total       INTEGER NOT NULL DEFAULT 0,
    pending     INTEGER NOT NULL DEFAULT 0,
    processing  INTEGER NOT NULL DEFAULT 0,
    retrying    INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, id)
) WITHOUT ROWID;
CREATE INDEX batches_recent ON batches (workspace, created_at DESC, id);

-- Batches that existed before this migration.
INSERT INTO batches (workspace, id, created_at, updated_at, total, pending, processing, retrying,
                     completed, failed, cancelled)
SELECT workspace, batch_id, min(created_at), max(updated_at), count(*),
       sum(status = 'pending'), sum(status = 'processing'), sum(status = 'retrying'),
       sum(status = 'completed'), sum(status = 'failed'), sum(status = 'cancelled')
FROM jobs WHERE batch_id IS NOT NULL GROUP BY workspace, batch_id;

CREATE TRIGGER jobs_batch_insert AFTER INSERT ON jobs WHEN NEW.batch_id IS NOT NULL
BEGIN
    INSERT INTO batches (workspace, id, created_at, updated_at, total, pending, processing,
                         retrying, completed, failed, cancelled)
    VALUES (NEW.workspace, NEW.batch_id, NEW.created_at, NEW.updated_at, 1,
            NEW.status = 'pending', NEW.status = 'processing', NEW.status = 'retrying',
            NEW.status = 'completed', NEW.status = 'failed', NEW.status = 'cancelled')
    ON CONFLICT (workspace, id) DO UPDATE SET
        total = total + 1,
        pending = pending + (NEW.status = 'pending'),
        processing = processing + (NEW.status = 'processing'),
        retrying = retrying + (NEW.status = 'retrying'),
        completed = completed + (NEW.status = 'completed'),
        failed = failed + (NEW.status = 'failed'),
        cancelled = cancelled + (NEW.status = 'cancelled'),
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
        cancelled = cancelled - (OLD.status = 'cancelled')
    WHERE workspace = OLD.workspace AND id = OLD.batch_id;
END;

-- A batch's jobs in order, and by status.
DROP INDEX jobs_batch;
CREATE INDEX jobs_batch ON jobs (batch_id, id) WHERE batch_id IS NOT NULL;

-- What fetching a crawl job's URL brought back. The body is a zstd frame; retention sets it to
-- NULL (body_expired = 1) and keeps the rest.
CREATE TABLE crawl_results (
    job_id              TEXT    NOT NULL UNIQUE,
    url                 TEXT    NOT NULL,
    final_url           TEXT,
    http_status         INTEGER NOT NULL DEFAULT 0,
    content_type        TEXT,
    headers             TEXT,
    body                BLOB,
    body_length         INTEGER NOT NULL DEFAULT 0,
    body_expired        INTEGER NOT NULL DEFAULT 0,
    redirects           INTEGER NOT NULL DEFAULT 0,
    fetched_at          INTEGER NOT NULL,
    processing_time_ms  INTEGER NOT NULL DEFAULT 0,
    method              TEXT    NOT NULL DEFAULT 'http'
);
CREATE INDEX crawl_results_expiry ON crawl_results (fetched_at) WHERE body IS NOT NULL;
