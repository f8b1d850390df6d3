DROP INDEX deployments_tenant_id_release_id_idx;
CREATE INDEX deployments_tenant_id_release_id_idx ON deployments (tenant_id, release_id);

DROP INDEX deployments_succeeded_idx;
CREATE INDEX deployments_latest_idx ON deployments (tenant_id, component_id, environment_id, status, finished_at);

DROP INDEX deployments_in_progress_idx;
CREATE INDEX deployments_status_started_at_idx ON deployments (status, started_at);
