/* The jobs retention may delete (store/retention.h), as the SQL both stores run: one rule, with
 * each store's placeholders for the two cuts (P1: completed and cancelled jobs, P2: failed
 * ones). Not for use outside src/store/. */
#ifndef TRAWL_STORE_RETENTION_SQL_H
#define TRAWL_STORE_RETENTION_SQL_H

/* Job x may go by its own status and age. */
#define RETENTION_PRUNABLE(x, P1, P2)                                                              \
    "(" x ".status IN ('completed', 'cancelled') AND " x ".updated_at < " P1 " OR " x              \
    ".status = 'failed' AND " x ".updated_at < " P2 ")"

/* Job j (of the FROM) may go: it may, and so may every stage of its chain; its batch, if any,
 * ended and is past the cut; no scraping session or import holds it or its chain. The first
 * condition is what the index jobs_finished holds. */
#define RETENTION_WHERE(P1, P2)                                                                                        \
    "j.status IN ('completed', 'cancelled', 'failed') AND " RETENTION_PRUNABLE(                                        \
        "j", P1,                                                                                                       \
        P2) " AND (j.batch_id IS NULL OR EXISTS (SELECT 1 FROM batches b WHERE b.workspace = "                         \
            "j.workspace AND b.id = j.batch_id AND b.pending + b.processing + b.retrying + b.waiting "                 \
            "+ b.blocked = 0 AND b.updated_at < " P1 ")) "                                                             \
            "AND NOT EXISTS (SELECT 1 FROM jobs k WHERE k.root_id = coalesce(j.root_id, j.id) AND "                    \
            "NOT " RETENTION_PRUNABLE(                                                                                 \
                "k", P1,                                                                                               \
                P2) ") "                                                                                               \
                    "AND NOT EXISTS (SELECT 1 FROM jobs t WHERE t.id = j.root_id AND "                                 \
                    "NOT " RETENTION_PRUNABLE(                                                                         \
                        "t", P1,                                                                                       \
                        P2) ") "                                                                                       \
                            "AND NOT EXISTS (SELECT 1 FROM scrape_sessions ss WHERE ss.background_job_id = "           \
                            "coalesce(j.root_id, j.id)) "                                                              \
                            "AND NOT EXISTS (SELECT 1 FROM scrape_sessions ss WHERE ss.background_job_id = j.id) "     \
                            "AND NOT EXISTS (SELECT 1 FROM scrape_sessions ss WHERE ss.extract_job_id = j.id) "        \
                            "AND NOT EXISTS (SELECT 1 FROM scrape_sessions ss WHERE ss.sync_job_id = j.id) "           \
                            "AND NOT EXISTS (SELECT 1 FROM data_import_jobs di WHERE di.background_job_id = "          \
                            "coalesce(j.root_id, j.id)) "                                                              \
                            "AND NOT EXISTS (SELECT 1 FROM jobs k JOIN data_import_jobs di ON di.background_job_id = " \
                            "k.id WHERE k.root_id = coalesce(j.root_id, j.id))"

#endif
