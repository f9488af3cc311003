-- 0004: scraping sessions. A session is one web_scraping job (the job row stays the one truth
-- about where the work stands; the API derives a session's status from it) plus the session's
-- own rows: its settings, the pages of its frontier, and the records found on them. The counts
-- on the session row are kept in step with its pages and records by triggers, in the same
-- transaction, so reading a session's progress never counts its pages.
CREATE TABLE scrape_sessions (
    id                  TEXT    NOT NULL PRIMARY KEY,   -- UUIDv7
    workspace           TEXT    NOT NULL,
    background_job_id   TEXT    NOT NULL UNIQUE,        -- the web_scraping job
    source_url          TEXT    NOT NULL,
    config              TEXT    NOT NULL,               -- JSON, as accepted
    total_pages         INTEGER NOT NULL DEFAULT 0,     -- pages in the frontier, skipped ones not counted
    completed_pages     INTEGER NOT NULL DEFAULT 0,
    failed_pages        INTEGER NOT NULL DEFAULT 0,
    skipped_pages       INTEGER NOT NULL DEFAULT 0,     -- not HTML, off the limits found after fetching
    materials_processed INTEGER NOT NULL DEFAULT 0,     -- distinct records
    error_message       TEXT,
    warnings            INTEGER NOT NULL DEFAULT 0,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX scrape_sessions_recent ON scrape_sessions (workspace, created_at DESC, id);

-- The frontier: every page a session knows of, once (by normalized URL).
CREATE TABLE scrape_pages (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT    NOT NULL,
    url         TEXT    NOT NULL,
    depth       INTEGER NOT NULL,
    source      TEXT    NOT NULL,                       -- seed, sitemap, link
    status      TEXT    NOT NULL DEFAULT 'pending'
                CHECK (status = 'pending' OR status = 'fetching' OR status = 'done' OR
                       status = 'failed' OR status = 'skipped'),
    attempt     INTEGER NOT NULL DEFAULT 0,
    not_before  INTEGER NOT NULL DEFAULT 0,             -- a retried page waits its backoff
    http_status INTEGER,
    error       TEXT,
    records     INTEGER NOT NULL DEFAULT 0,
    fetch_ms    INTEGER,
    discovered_at INTEGER NOT NULL,
    fetched_at  INTEGER,
    content     BLOB,                                   -- zstd JSON of the formats asked for
    UNIQUE (session_id, url)
);
CREATE INDEX scrape_pages_status ON scrape_pages (session_id, status, depth, id);

-- What was extracted, once per product: by sku, else by its canonical URL.
CREATE TABLE records (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    url         TEXT,
    data        TEXT    NOT NULL,                       -- JSON
    page_id     INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (session_id, key)
);

CREATE TRIGGER scrape_pages_insert AFTER INSERT ON scrape_pages
BEGIN
    UPDATE scrape_sessions SET
        total_pages = total_pages + (NEW.status <> 'skipped'),
        completed_pages = completed_pages + (NEW.status = 'done'),
        failed_pages = failed_pages + (NEW.status = 'failed'),
        skipped_pages = skipped_pages + (NEW.status = 'skipped'),
        updated_at = NEW.discovered_at
    WHERE id = NEW.session_id;
END;

CREATE TRIGGER scrape_pages_status AFTER UPDATE OF status ON scrape_pages
WHEN NEW.status <> OLD.status
BEGIN
    UPDATE scrape_sessions SET
        total_pages = total_pages + (NEW.status <> 'skipped') - (OLD.status <> 'skipped'),
        completed_pages = completed_pages + (NEW.status = 'done') - (OLD.status = 'done'),
        failed_pages = failed_pages + (NEW.status = 'failed') - (OLD.status = 'failed'),
        skipped_pages = skipped_pages + (NEW.status = 'skipped') - (OLD.status = 'skipped'),
        updated_at = coalesce(NEW.fetched_at, updated_at)
    WHERE id = NEW.session_id;
END;

CREATE TRIGGER records_insert AFTER INSERT ON records
BEGIN
    UPDATE scrape_sessions SET materials_processed = materials_processed + 1
    WHERE id = NEW.session_id;
END;
