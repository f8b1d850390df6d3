ALTER TABLE deployments DROP COLUMN committed_at;
