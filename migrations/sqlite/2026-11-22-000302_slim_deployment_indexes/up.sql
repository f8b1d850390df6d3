-- Every recorded deployment and every transition writes each index of `deployments`. The
-- indexes that serve only some rows now hold only those rows:
--   the stuck-deployment sweep looks at in_progress rows, by start;
--   recomputing the latest success after a rollback, and the promotion gate, look at
--   succeeded rows of one component and environment;
--   the release filter looks for one release, never for none.
DROP INDEX deployments_status_started_at_idx;
CREATE INDEX deployments_in_progress_idx ON deployments (started_at) WHERE status = 'in_progress';

DROP INDEX deployments_latest_idx;
CREATE INDEX deployments_succeeded_idx ON deployments (tenant_id, component_id, environment_id, finished_at)
    WHERE status = 'succeeded';

DROP INDEX deployments_tenant_id_release_id_idx;
CREATE INDEX deployments_tenant_id_release_id_idx ON deployments (tenant_id, release_id)
    WHERE release_id IS NOT NULL;
