-- Applied by Up after River's own migrations, every time (so every statement must be idempotent): tuning of
-- River's tables, which do not exist yet when the numbered app migrations run. Not a numbered migration:
-- golang-migrate skips this file.
--
-- River's GIN indexes on river_job.args and river_job.metadata default to fastupdate: each insert appends to
-- a pending list, and the insert that finds the list over gin_pending_list_limit (4 MB) merges all of it into
-- the index before it can commit. With autovacuum not keeping up (or off), that merge falls on a webhook
-- group commit every ~50,000 jobs and holds it for 300-400 ms, during which every webhook request waits
-- (measured: 32-job batches, 3,000 in a row, two stalls of 320 and 387 ms with fastupdate, none over 15 ms
-- without, at the same total time). Without fastupdate each insert updates the index itself: a steady cost
-- instead of a stall.
ALTER INDEX IF EXISTS river_job_args_index SET (fastupdate = off);
ALTER INDEX IF EXISTS river_job_metadata_index SET (fastupdate = off);
