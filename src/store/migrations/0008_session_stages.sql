-- 0008: a scraping session runs as a chain of three jobs: ingest (the web_scraping job,
-- background_job_id, the chain's root), extract and sync. What each stage needs beside the job
-- rows:
--   the session points at its latest extract and sync jobs, and counts its extraction
--   generations: re-running extraction with new rules starts a new generation;
--   a page keeps its body as fetched (a zstd frame) and its content type, so extraction can run
--   again without a fetch, and the generation its records are of (NULL: not extracted yet);
--   a record says which generation made it, and, after a sync in diff mode, what changed;
--   source_records is what the last sync of each source (workspace and start URL) delivered,
--   which the next sync of the same source is compared with; sync_removed the records a diff
--   found gone.
ALTER TABLE scrape_sessions ADD COLUMN extract_job_id TEXT;
ALTER TABLE scrape_sessions ADD COLUMN sync_job_id TEXT;
ALTER TABLE scrape_sessions ADD COLUMN extract_gen INTEGER NOT NULL DEFAULT 0;

ALTER TABLE scrape_pages ADD COLUMN body BLOB;
ALTER TABLE scrape_pages ADD COLUMN content_type TEXT;
ALTER TABLE scrape_pages ADD COLUMN extracted_gen INTEGER;

-- pages extracted before this migration were extracted as they were fetched
UPDATE scrape_pages SET extracted_gen = 0 WHERE status = 'done';

ALTER TABLE records ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE records ADD COLUMN change TEXT
    CHECK (change IS NULL OR change = 'new' OR change = 'changed' OR change = 'unchanged');
ALTER TABLE records ADD COLUMN changed_fields TEXT;            -- JSON array of field names
CREATE INDEX records_gen ON records (session_id, gen);

-- a record dropped (a new generation did not find it again) leaves the session's count
CREATE TRIGGER records_delete AFTER DELETE ON records
BEGIN
    UPDATE scrape_sessions SET materials_processed = materials_processed - 1
    WHERE id = OLD.session_id;
END;

CREATE TABLE source_records (
    workspace   TEXT    NOT NULL,
    source      TEXT    NOT NULL,                       -- the session's source_url
    key         TEXT    NOT NULL,
    hash        TEXT    NOT NULL,                       -- of the record's data, as delivered
    data        TEXT    NOT NULL,
    session_id  TEXT    NOT NULL,                       -- the session that delivered it
    sync_job_id TEXT    NOT NULL,                       -- the sync that saw it last
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (workspace, source, key)
) WITHOUT ROWID;
CREATE INDEX source_records_sync ON source_records (workspace, source, sync_job_id);

CREATE TABLE sync_removed (
    session_id  TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    data        TEXT    NOT NULL,                       -- as the last sync delivered it
    sync_job_id TEXT    NOT NULL,
    removed_at  INTEGER NOT NULL,
    PRIMARY KEY (session_id, key)
) WITHOUT ROWID;

-- a session found from any of its stages' jobs (live events, a stage's handler)
CREATE INDEX scrape_sessions_extract ON scrape_sessions (extract_job_id)
    WHERE extract_job_id IS NOT NULL;
CREATE INDEX scrape_sessions_sync ON scrape_sessions (sync_job_id) WHERE sync_job_id IS NOT NULL;
