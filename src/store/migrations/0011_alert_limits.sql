-- 0011: alerts' rate limits, in the database so that every process sharing it limits alike.
-- One row per alert fingerprint:
--   sent_at     when the last alert with it went out, ms
--   held        how many were held back since then
--   told        how many were held back before the last one that went out (what it told)
--   sent        whether the last try went out (1) or was held back (0)
CREATE TABLE alert_limits (
    key         TEXT    NOT NULL PRIMARY KEY,
    sent_at     INTEGER NOT NULL,
    held        INTEGER NOT NULL DEFAULT 0,
    told        INTEGER NOT NULL DEFAULT 0,
    sent        INTEGER NOT NULL DEFAULT 1
);
