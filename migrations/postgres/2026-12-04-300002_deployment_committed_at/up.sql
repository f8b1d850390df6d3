-- When the change a deployment ships was committed, as the client says: the start of its
-- lead time for changes.
ALTER TABLE deployments ADD COLUMN committed_at timestamptz;
