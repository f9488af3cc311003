-- 0004: feed imports (SQLite's 0013; store/import.h). An import is one xml_import job plus its
-- own rows: its source and settings, where it stands and its counts; the rows of the feed that
-- could not be mapped (items); the products read and mapped (records), each marked with the
-- delivery batch it went out to the webhook in. Items and records are keyed by their number in
-- the feed, so an import resumed after a crash that reads the same rows again keeps each once.
CREATE TABLE data_import_jobs (
    id                  text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace           text COLLATE "C" NOT NULL,
    background_job_id   text COLLATE "C" NOT NULL UNIQUE,
    source_name         text    NOT NULL,
    source_url          text,
    import_type         text COLLATE "C" CHECK (import_type IN ('xml', 'csv', 'json')),
    mode                text COLLATE "C" NOT NULL DEFAULT 'auto' CHECK (mode IN ('auto', 'preview')),
    status              text COLLATE "C" NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'parsing', 'detecting', 'awaiting_mappings',
                                          'processing', 'delivering', 'completed', 'failed',
                                          'cancelled')),
    total_products      bigint  NOT NULL DEFAULT 0,
    processed_products  bigint  NOT NULL DEFAULT 0,
    failed_products     bigint  NOT NULL DEFAULT 0,
    delivered_products  bigint  NOT NULL DEFAULT 0,
    field_mappings      text,
    detected_fields     text,
    webhook_url         text,
    webhook_secret      text,
    batch_size          integer NOT NULL DEFAULT 500 CHECK (batch_size > 0),
    error_message       text,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    completed_at        bigint
);
CREATE INDEX data_import_jobs_recent ON data_import_jobs (workspace, created_at DESC, id DESC);

CREATE TABLE import_items (
    import_id   text COLLATE "C" NOT NULL,
    number      bigint  NOT NULL,
    line        bigint  NOT NULL DEFAULT 0,
    error       text    NOT NULL,
    raw         text,
    created_at  bigint  NOT NULL,
    PRIMARY KEY (import_id, number)
);

CREATE TABLE import_records (
    import_id       text COLLATE "C" NOT NULL,
    number          bigint  NOT NULL,
    record          text    NOT NULL,
    delivered_batch bigint,
    created_at      bigint  NOT NULL,
    PRIMARY KEY (import_id, number)
);
-- the next delivery batch: the undelivered records after N, in order (partial, as on SQLite: an
-- index on (import_id, delivered_batch, number) is not read in number order for IS NULL, and a
-- resumed import would step over every record delivered before)
CREATE INDEX import_records_due ON import_records (import_id, number) WHERE delivered_batch IS NULL;
