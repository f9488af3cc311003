-- 0001: the whole schema on PostgreSQL, as the SQLite store has it after its migration 0010.
-- PostgreSQL's migrations are numbered on their own: this file is where they start.
-- Times are bigint milliseconds since the Unix epoch; JSON columns hold text. Every text column
-- that is compared or sorted is COLLATE "C", so that ids, keys and cursors order by their bytes
-- as on SQLite, whatever the database's locale.

CREATE TABLE jobs (
    id                  text COLLATE "C" NOT NULL PRIMARY KEY,   -- UUIDv7
    type                text COLLATE "C" NOT NULL,
    queue               text COLLATE "C" NOT NULL DEFAULT 'default',
    status              text COLLATE "C" NOT NULL DEFAULT 'pending'
                        CHECK (status IN ('pending', 'processing', 'retrying', 'completed',
                                          'failed', 'cancelled', 'waiting', 'blocked')),
    priority            integer NOT NULL DEFAULT 0,
    attempt             integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL,
    run_at              bigint  NOT NULL,
    timeout_ms          bigint  NOT NULL DEFAULT 0,
    backoff_base_ms     bigint  NOT NULL DEFAULT 0,
    backoff_cap_ms      bigint  NOT NULL DEFAULT 0,
    progress            integer NOT NULL DEFAULT 0,
    stage               text,
    checkpoint          text,
    args                text    NOT NULL DEFAULT '{}',
    result              text,
    error               text,
    batch_id            text COLLATE "C",
    parent_id           text COLLATE "C",
    root_id             text COLLATE "C",
    unique_key          text COLLATE "C",
    workspace           text COLLATE "C" NOT NULL DEFAULT 'default',
    lease_owner         text COLLATE "C",
    lease_expires_at    bigint,
    last_heartbeat      bigint,
    progress_at         bigint,
    created_at          bigint  NOT NULL,
    started_at          bigint,
    completed_at        bigint,
    failed_at           bigint,
    updated_at          bigint  NOT NULL,
    event_seq           bigint  NOT NULL DEFAULT 0,
    input               text,
    role                text COLLATE "C"
                        CHECK (role IS NULL OR role IN ('next', 'child', 'join')),
    join_id             text COLLATE "C",
    waits               integer NOT NULL DEFAULT 0,
    successors          integer NOT NULL DEFAULT 0,
    depth               integer NOT NULL DEFAULT 0
) WITH (fillfactor = 80);  -- room for the HOT updates that move a job between states

-- The claim: per type, highest priority, oldest run_at, then id; only pending rows are in it.
CREATE INDEX jobs_claim ON jobs (type, priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_processing ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_retrying ON jobs (run_at) WHERE status = 'retrying';
CREATE UNIQUE INDEX jobs_unique_live ON jobs (workspace, unique_key)
    WHERE unique_key IS NOT NULL AND status IN ('pending', 'processing', 'retrying');
CREATE INDEX jobs_batch ON jobs (batch_id, id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_parent ON jobs (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX jobs_root ON jobs (root_id, id) WHERE root_id IS NOT NULL;
-- a schedule's slot runs once, also after its job ended
CREATE UNIQUE INDEX jobs_schedule_slot ON jobs (unique_key)
    WHERE unique_key >= 'schedule:' AND unique_key < 'schedule;';

CREATE TABLE job_events (
    job_id      text COLLATE "C" NOT NULL,
    seq         bigint  NOT NULL,
    at          bigint  NOT NULL,
    from_status text    NOT NULL,
    to_status   text    NOT NULL,
    attempt     integer NOT NULL,
    message     text,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE api_tokens (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    name        text,
    hash        bytea   NOT NULL UNIQUE,
    created_at  bigint  NOT NULL,
    revoked_at  bigint
);

CREATE TABLE batches (
    workspace   text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    total       bigint  NOT NULL DEFAULT 0,
    pending     bigint  NOT NULL DEFAULT 0,
    processing  bigint  NOT NULL DEFAULT 0,
    retrying    bigint  NOT NULL DEFAULT 0,
    completed   bigint  NOT NULL DEFAULT 0,
    failed      bigint  NOT NULL DEFAULT 0,
    cancelled   bigint  NOT NULL DEFAULT 0,
    waiting     bigint  NOT NULL DEFAULT 0,
    blocked     bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, id)
);
CREATE INDEX batches_recent ON batches (workspace, created_at DESC, id);

-- A batch's counts follow its jobs' statuses, in the same transaction.
CREATE FUNCTION trawl_batch_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO batches AS b (workspace, id, created_at, updated_at, total, pending,
                                  processing, retrying, completed, failed, cancelled, waiting,
                                  blocked)
        VALUES (NEW.workspace, NEW.batch_id, NEW.created_at, NEW.updated_at, 1,
                (NEW.status = 'pending')::int, (NEW.status = 'processing')::int,
                (NEW.status = 'retrying')::int, (NEW.status = 'completed')::int,
                (NEW.status = 'failed')::int, (NEW.status = 'cancelled')::int,
                (NEW.status = 'waiting')::int, (NEW.status = 'blocked')::int)
        ON CONFLICT (workspace, id) DO UPDATE SET
            total = b.total + 1,
            pending = b.pending + (NEW.status = 'pending')::int,
            processing = b.processing + (NEW.status = 'processing')::int,
            retrying = b.retrying + (NEW.status = 'retrying')::int,
            completed = b.completed + (NEW.status = 'completed')::int,
            failed = b.failed + (NEW.status = 'failed')::int,
            cancelled = b.cancelled + (NEW.status = 'cancelled')::int,
            waiting = b.waiting + (NEW.status = 'waiting')::int,
            blocked = b.blocked + (NEW.status = 'blocked')::int,
            updated_at = greatest(b.updated_at, NEW.updated_at);
        RETURN NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE batches SET
            pending = pending + (NEW.status = 'pending')::int - (OLD.status = 'pending')::int,
            processing = processing + (NEW.status = 'processing')::int
                         - (OLD.status = 'processing')::int,
            retrying = retrying + (NEW.status = 'retrying')::int - (OLD.status = 'retrying')::int,
            completed = completed + (NEW.status = 'completed')::int
                        - (OLD.status = 'completed')::int,
            failed = failed + (NEW.status = 'failed')::int - (OLD.status = 'failed')::int,
            cancelled = cancelled + (NEW.status = 'cancelled')::int
                        - (OLD.status = 'cancelled')::int,
            waiting = waiting + (NEW.status = 'waiting')::int - (OLD.status = 'waiting')::int,
            blocked = blocked + (NEW.status = 'blocked')::int - (OLD.status = 'blocked')::int,
            updated_at = NEW.updated_at
        WHERE workspace = NEW.workspace AND id = NEW.batch_id;
        RETURN NULL;
    END IF;
    UPDATE batches SET
        total = total - 1,
        pending = pending - (OLD.status = 'pending')::int,
        processing = processing - (OLD.status = 'processing')::int,
        retrying = retrying - (OLD.status = 'retrying')::int,
        completed = completed - (OLD.status = 'completed')::int,
        failed = failed - (OLD.status = 'failed')::int,
        cancelled = cancelled - (OLD.status = 'cancelled')::int,
        waiting = waiting - (OLD.status = 'waiting')::int,
        blocked = blocked - (OLD.status = 'blocked')::int
    WHERE workspace = OLD.workspace AND id = OLD.batch_id;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_batch_insert AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.batch_id IS NOT NULL) EXECUTE FUNCTION trawl_batch_count();
CREATE TRIGGER jobs_batch_status AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.batch_id IS NOT NULL AND NEW.status <> OLD.status)
    EXECUTE FUNCTION trawl_batch_count();
CREATE TRIGGER jobs_batch_delete AFTER DELETE ON jobs
    FOR EACH ROW WHEN (OLD.batch_id IS NOT NULL) EXECUTE FUNCTION trawl_batch_count();

CREATE TABLE crawl_results (
    job_id              text COLLATE "C" NOT NULL UNIQUE,
    url                 text    NOT NULL,
    final_url           text,
    http_status         integer NOT NULL DEFAULT 0,
    content_type        text,
    headers             text,
    body                bytea,
    body_length         bigint  NOT NULL DEFAULT 0,
    body_expired        integer NOT NULL DEFAULT 0,
    redirects           integer NOT NULL DEFAULT 0,
    fetched_at          bigint  NOT NULL,
    processing_time_ms  bigint  NOT NULL DEFAULT 0,
    method              text    NOT NULL DEFAULT 'http'
);
CREATE INDEX crawl_results_expiry ON crawl_results (fetched_at) WHERE body IS NOT NULL;

CREATE TABLE scrape_sessions (
    id                  text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace           text COLLATE "C" NOT NULL,
    background_job_id   text COLLATE "C" NOT NULL UNIQUE,
    source_url          text    NOT NULL,
    config              text    NOT NULL,
    total_pages         bigint  NOT NULL DEFAULT 0,
    completed_pages     bigint  NOT NULL DEFAULT 0,
    failed_pages        bigint  NOT NULL DEFAULT 0,
    skipped_pages       bigint  NOT NULL DEFAULT 0,
    materials_processed bigint  NOT NULL DEFAULT 0,
    error_message       text,
    warnings            bigint  NOT NULL DEFAULT 0,
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    extract_job_id      text COLLATE "C",
    sync_job_id         text COLLATE "C",
    extract_gen         integer NOT NULL DEFAULT 0
);
CREATE INDEX scrape_sessions_recent ON scrape_sessions (workspace, created_at DESC, id);
CREATE INDEX scrape_sessions_extract ON scrape_sessions (extract_job_id)
    WHERE extract_job_id IS NOT NULL;
CREATE INDEX scrape_sessions_sync ON scrape_sessions (sync_job_id) WHERE sync_job_id IS NOT NULL;

CREATE TABLE scrape_pages (
    id            bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    session_id    text COLLATE "C" NOT NULL,
    url           text COLLATE "C" NOT NULL,
    depth         integer NOT NULL,
    source        text    NOT NULL,
    status        text COLLATE "C" NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'fetching', 'done', 'failed', 'skipped')),
    attempt       integer NOT NULL DEFAULT 0,
    not_before    bigint  NOT NULL DEFAULT 0,
    http_status   integer,
    error         text,
    records       integer NOT NULL DEFAULT 0,
    fetch_ms      bigint,
    discovered_at bigint  NOT NULL,
    fetched_at    bigint,
    content       bytea,
    lastmod       text,
    body          bytea,
    content_type  text,
    extracted_gen integer,
    UNIQUE (session_id, url)
);
CREATE INDEX scrape_pages_status ON scrape_pages (session_id, status, depth, id);

-- A session's page counts follow its pages' statuses, in the same transaction.
CREATE FUNCTION trawl_page_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE scrape_sessions SET
            total_pages = total_pages + (NEW.status <> 'skipped')::int,
            completed_pages = completed_pages + (NEW.status = 'done')::int,
            failed_pages = failed_pages + (NEW.status = 'failed')::int,
            skipped_pages = skipped_pages + (NEW.status = 'skipped')::int,
            updated_at = NEW.discovered_at
        WHERE id = NEW.session_id;
    ELSE
        UPDATE scrape_sessions SET
            total_pages = total_pages + (NEW.status <> 'skipped')::int
                          - (OLD.status <> 'skipped')::int,
            completed_pages = completed_pages + (NEW.status = 'done')::int
                              - (OLD.status = 'done')::int,
            failed_pages = failed_pages + (NEW.status = 'failed')::int
                           - (OLD.status = 'failed')::int,
            skipped_pages = skipped_pages + (NEW.status = 'skipped')::int
                            - (OLD.status = 'skipped')::int,
            updated_at = coalesce(NEW.fetched_at, updated_at)
        WHERE id = NEW.session_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER scrape_pages_insert AFTER INSERT ON scrape_pages
    FOR EACH ROW EXECUTE FUNCTION trawl_page_count();
CREATE TRIGGER scrape_pages_status AFTER UPDATE OF status ON scrape_pages
    FOR EACH ROW WHEN (NEW.status <> OLD.status) EXECUTE FUNCTION trawl_page_count();

CREATE TABLE records (
    id             bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    session_id     text COLLATE "C" NOT NULL,
    key            text COLLATE "C" NOT NULL,
    url            text,
    data           text    NOT NULL,
    page_id        bigint,
    created_at     bigint  NOT NULL,
    updated_at     bigint  NOT NULL,
    gen            integer NOT NULL DEFAULT 0,
    change         text COLLATE "C"
                   CHECK (change IS NULL OR change IN ('new', 'changed', 'unchanged')),
    changed_fields text,
    UNIQUE (session_id, key)
);
CREATE INDEX records_gen ON records (session_id, gen);

-- A session's record count follows its records.
CREATE FUNCTION trawl_record_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE scrape_sessions SET materials_processed = materials_processed + 1
        WHERE id = NEW.session_id;
    ELSE
        UPDATE scrape_sessions SET materials_processed = materials_processed - 1
        WHERE id = OLD.session_id;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER records_insert AFTER INSERT ON records
    FOR EACH ROW EXECUTE FUNCTION trawl_record_count();
CREATE TRIGGER records_delete AFTER DELETE ON records
    FOR EACH ROW EXECUTE FUNCTION trawl_record_count();

CREATE TABLE source_records (
    workspace   text COLLATE "C" NOT NULL,
    source      text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    hash        text COLLATE "C" NOT NULL,
    data        text    NOT NULL,
    session_id  text COLLATE "C" NOT NULL,
    sync_job_id text COLLATE "C" NOT NULL,
    updated_at  bigint  NOT NULL,
    PRIMARY KEY (workspace, source, key)
);
CREATE INDEX source_records_sync ON source_records (workspace, source, sync_job_id);

CREATE TABLE sync_removed (
    session_id  text COLLATE "C" NOT NULL,
    key         text COLLATE "C" NOT NULL,
    data        text    NOT NULL,
    sync_job_id text COLLATE "C" NOT NULL,
    removed_at  bigint  NOT NULL,
    PRIMARY KEY (session_id, key)
);

CREATE TABLE job_counts (
    workspace   text COLLATE "C" NOT NULL,
    type        text COLLATE "C" NOT NULL,
    pending     bigint  NOT NULL DEFAULT 0,
    processing  bigint  NOT NULL DEFAULT 0,
    retrying    bigint  NOT NULL DEFAULT 0,
    completed   bigint  NOT NULL DEFAULT 0,
    failed      bigint  NOT NULL DEFAULT 0,
    cancelled   bigint  NOT NULL DEFAULT 0,
    waiting     bigint  NOT NULL DEFAULT 0,
    blocked     bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, type)
);

CREATE TABLE job_minutes (
    minute      bigint  NOT NULL,
    workspace   text COLLATE "C" NOT NULL,
    type        text COLLATE "C" NOT NULL,
    completed   bigint  NOT NULL DEFAULT 0,
    failed      bigint  NOT NULL DEFAULT 0,
    retried     bigint  NOT NULL DEFAULT 0,
    proc_ms     bigint  NOT NULL DEFAULT 0,
    proc_n      bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, workspace, type)
);

CREATE TABLE pipelines (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    stages      integer NOT NULL,
    created_at  bigint  NOT NULL
);
CREATE INDEX pipelines_recent ON pipelines (workspace, created_at DESC, id);
CREATE INDEX pipelines_name ON pipelines (workspace, name, created_at DESC);

CREATE TABLE webhook_calls (
    id               bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    job_id           text COLLATE "C" NOT NULL,
    job_type         text    NOT NULL,
    webhook_url      text    NOT NULL,
    delivery_id      text COLLATE "C" NOT NULL,
    request_sha256   text    NOT NULL,
    request_bytes    bigint  NOT NULL,
    request_body     bytea,
    response_status  integer,
    response_body    text,
    response_time_ms bigint,
    status           text COLLATE "C" NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'success', 'retrying', 'failed')),
    retry_count      integer NOT NULL DEFAULT 0,
    next_retry_at    bigint,
    created_at       bigint  NOT NULL,
    completed_at     bigint,
    error_message    text,
    UNIQUE (job_id, delivery_id)
);
CREATE INDEX webhook_calls_status ON webhook_calls (job_id, status, id);

CREATE TABLE schedules (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    workspace   text COLLATE "C" NOT NULL,
    name        text COLLATE "C" NOT NULL,
    cron        text    NOT NULL,
    timezone    text    NOT NULL DEFAULT 'UTC',
    job         text    NOT NULL,
    missed      text    NOT NULL DEFAULT 'skip' CHECK (missed IN ('skip', 'once', 'all')),
    paused      integer NOT NULL DEFAULT 0,
    next_slot   bigint,
    last_slot   bigint,
    last_job_id text COLLATE "C",
    skipped     bigint  NOT NULL DEFAULT 0,
    anchor_ms   bigint  NOT NULL,
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL,
    UNIQUE (workspace, name)
);
CREATE INDEX schedules_due ON schedules (next_slot) WHERE paused = 0 AND next_slot IS NOT NULL;
