-- 0006: the counters metrics are answered from, so that no metric counts the jobs table.
-- The engine adds up what each transaction changed and writes the sums once, at its end, in the
-- same transaction (store_stats_add): a few rows per commit, not one per job.

-- How many jobs of each workspace and type are in each status now.
CREATE TABLE job_counts (
    workspace   TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    pending     INTEGER NOT NULL DEFAULT 0,
    processing  INTEGER NOT NULL DEFAULT 0,
    retrying    INTEGER NOT NULL DEFAULT 0,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    cancelled   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, type)
) WITHOUT ROWID;

-- The jobs already there are counted once, here.
INSERT INTO job_counts (workspace, type, pending, processing, retrying, completed, failed,
                        cancelled)
SELECT workspace, type, sum(status = 'pending'), sum(status = 'processing'),
       sum(status = 'retrying'), sum(status = 'completed'), sum(status = 'failed'),
       sum(status = 'cancelled')
FROM jobs GROUP BY workspace, type;

-- What ended in each minute (minute = ms since the epoch / 60000): attempts that completed,
-- failed for good, or failed with attempts left (retried); the processing time of completions.
-- Kept for 8 days (older minutes are dropped as new ones start).
CREATE TABLE job_minutes (
    minute      INTEGER NOT NULL,
    workspace   TEXT    NOT NULL,
    type        TEXT    NOT NULL,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    retried     INTEGER NOT NULL DEFAULT 0,
    proc_ms     INTEGER NOT NULL DEFAULT 0,   -- sum over completions whose start is known
    proc_n      INTEGER NOT NULL DEFAULT 0,   -- how many those are
    PRIMARY KEY (minute, workspace, type)
) WITHOUT ROWID;
