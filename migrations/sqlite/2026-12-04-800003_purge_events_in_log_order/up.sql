-- Events are purged in the log's order (its first events, those older than the retention),
-- which the position index already serves: the index on `at` cost every write of every
-- change an index entry, only for the purge.
DROP INDEX events_at;
