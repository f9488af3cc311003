-- 0003: retention (SQLite's 0012). Finished jobs are pruned oldest change first
-- (store/retention.h); this index holds only finished jobs, in that order, so a pass reads just
-- the ones it deletes.
CREATE INDEX jobs_finished ON jobs (updated_at, id)
    WHERE status IN ('completed', 'cancelled', 'failed');

-- A job's row goes through several versions (enqueued, claimed, ended, deleted), each a dead row
-- for VACUUM to reclaim. At autovacuum's defaults (20% of the table dead before it starts, and a
-- cost limit that slows it) a busy queue's tables grow for as long as it runs; these start it
-- after a few thousand dead rows and let it run at full speed, so the space of deleted jobs is
-- reused instead. (How often autovacuum looks, autovacuum_naptime, is the server's; see
-- docs/operations.md.)
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 5000,
                      autovacuum_vacuum_insert_scale_factor = 0.05,
                      autovacuum_analyze_scale_factor = 0.05, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE job_events SET (autovacuum_vacuum_scale_factor = 0.01,
                            autovacuum_vacuum_threshold = 5000,
                            autovacuum_vacuum_insert_scale_factor = 0.05,
                            autovacuum_vacuum_cost_delay = 0);
