-- 0002: alerts' rate limits, in the database so that every node limits alike (SQLite's 0011).
-- One row per alert fingerprint:
--   sent_at     when the last alert with it went out, ms
--   held        how many were held back since then
--   told        how many were held back before the last one that went out (what it told)
--   sent        whether the last try went out or was held back
CREATE TABLE alert_limits (
    key         text COLLATE "C" NOT NULL PRIMARY KEY,
    sent_at     bigint  NOT NULL,
    held        bigint  NOT NULL DEFAULT 0,
    told        bigint  NOT NULL DEFAULT 0,
    sent        boolean NOT NULL DEFAULT true
);
