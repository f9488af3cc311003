-- 0003: retention (SQLite's 0012). Finished jobs are pruned oldest change first
-- (store/retention.h); this index holds only finished jobs, in that order, so a pass reads just
-- the ones it deletes.
CREATE INDEX jobs_finished ON jobs (updated_at, id)
    WHERE status IN ('completed', 'cancelled', 'failed');
