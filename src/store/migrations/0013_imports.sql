-- 0013: feed imports (store/import.h). An import is one xml_import job plus its own rows: its
-- source and settings, where it stands and its counts; the rows of the feed that could not be
-- mapped (items); the products read and mapped (records), each marked with the delivery batch it
-- went out to the webhook in. Items and records are keyed by their number in the feed, so an
-- import resumed after a crash that reads the same rows again keeps each once.
CREATE TABLE data_import_jobs (
    id                  TEXT    NOT NULL PRIMARY KEY,   -- UUIDv7
    workspace           TEXT    NOT NULL,
    background_job_id   TEXT    NOT NULL UNIQUE,        -- the xml_import job
    source_name         TEXT    NOT NULL,
    source_url          TEXT,                           -- NULL: an upload
    import_type         TEXT    CHECK (import_type IN ('xml', 'csv', 'json')), -- NULL: not detected yet
    mode                TEXT    NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'preview')),
    status              TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'parsing', 'detecting', 'awaiting_mappings',
                                          'processing', 'delivering', 'completed', 'failed',
                                          'cancelled')),
    total_products      INTEGER NOT NULL DEFAULT 0,
    processed_products  INTEGER NOT NULL DEFAULT 0,
    failed_products     INTEGER NOT NULL DEFAULT 0,
    delivered_products  INTEGER NOT NULL DEFAULT 0,
    field_mappings      TEXT,                           -- JSON; NULL until known
    detected_fields     TEXT,                           -- JSON
    webhook_url         TEXT,
    webhook_secret      TEXT,                           -- never listed (store_import_secret)
    batch_size          INTEGER NOT NULL DEFAULT 500 CHECK (batch_size > 0),
    error_message       TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    completed_at        INTEGER
);
-- a workspace's imports, newest first
CREATE INDEX data_import_jobs_recent ON data_import_jobs (workspace, created_at DESC, id DESC);

CREATE TABLE import_items (
    import_id   TEXT    NOT NULL,
    number      INTEGER NOT NULL,                       -- the row's or element's number in the feed
    line        INTEGER NOT NULL DEFAULT 0,             -- 0: not known
    error       TEXT    NOT NULL,
    raw         TEXT,                                   -- at most 4096 bytes, cut by the caller
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (import_id, number)
);

CREATE TABLE import_records (
    import_id       TEXT    NOT NULL,
    number          INTEGER NOT NULL,
    record          TEXT    NOT NULL,                   -- JSON of the mapped product
    delivered_batch INTEGER,                            -- NULL until delivered
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (import_id, number)
);
-- the next delivery batch: the undelivered records after N, in order. Partial, so a resumed
-- import finds it without stepping over the records delivered before, and a record leaves it
-- once delivered.
CREATE INDEX import_records_due ON import_records (import_id, number) WHERE delivered_batch IS NULL;
