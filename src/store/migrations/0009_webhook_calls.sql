-- 0009: every webhook call trawl makes is tracked: one row per delivery (its webhook-id, stable
-- across retries), updated at each attempt with what the receiver answered. request_body is the
-- body as sent, a zstd frame, kept when it is at most 1 MiB; its SHA-256 and size always are.
CREATE TABLE webhook_calls (
    id INTEGER PRIMARY KEY,
    job_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    request_bytes INTEGER NOT NULL,
    request_body BLOB,
    response_status INTEGER,
    response_body TEXT,
    response_time_ms INTEGER,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'success', 'retrying', 'failed')),
    retry_count INTEGER NOT NULL DEFAULT 0,
    next_retry_at INTEGER,
    created_at INTEGER NOT NULL,
    completed_at INTEGER,
    error_message TEXT,
    UNIQUE (job_id, delivery_id)
);
CREATE INDEX webhook_calls_status ON webhook_calls (job_id, status, id);
