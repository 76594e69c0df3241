-- 0009: a running import says it is alive. The process running an import writes `heartbeat_at`
-- every half minute; a `running` row whose heartbeat stopped belongs to a process that was killed,
-- and the next scheduler tick records it as failed and frees its period to be run again.
ALTER TABLE import_runs ADD COLUMN heartbeat_at REAL;
