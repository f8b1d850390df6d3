-- What became current when: one row each time the latest succeeded deployment of a component
-- in an environment changed (a success, a rollback that put back the one before, or a
-- rollback that left nothing: deployment_id NULL). The matrix as of a time reads, per cell,
-- the last row at or before it: one index probe per cell, whatever the size of the ledger.
--
-- Kept by triggers on latest_deployments, the table every transition already maintains, so
-- no statement of the ledger names this table.
CREATE TABLE deployment_timeline (
    tenant_id uuid NOT NULL,
    component_id uuid NOT NULL,
    environment_id uuid NOT NULL,
    -- When it became current: the deployment's success, or the rollback that made it current
    -- again (or left nothing).
    since timestamptz NOT NULL,
    deployment_id uuid,
    version text,
    -- When that deployment succeeded.
    deployed_at timestamptz,
    PRIMARY KEY (tenant_id, component_id, environment_id, since)
);

ALTER TABLE deployment_timeline ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_timeline FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_timeline_tenant_isolation ON deployment_timeline
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- A new current deployment. After a rollback the one put back is inserted with its old time
-- of success; it becomes current at the rollback (the cell's last change), not before.
CREATE FUNCTION deployment_timeline_current() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deployment_timeline AS t
        (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
    SELECT NEW.tenant_id, NEW.component_id, NEW.environment_id,
           GREATEST(NEW.deployed_at, COALESCE(MAX(x.since), NEW.deployed_at)),
           NEW.deployment_id, NEW.version, NEW.deployed_at
    FROM deployment_timeline x
    WHERE x.tenant_id = NEW.tenant_id AND x.component_id = NEW.component_id
      AND x.environment_id = NEW.environment_id
    ON CONFLICT (tenant_id, component_id, environment_id, since) DO UPDATE SET
        deployment_id = excluded.deployment_id, version = excluded.version,
        deployed_at = excluded.deployed_at;
    RETURN NULL;
END
$$;

-- The current deployment was rolled back: nothing is current from the rollback on, until the
-- one before it is put back (at the same instant, replacing this row).
CREATE FUNCTION deployment_timeline_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deployment_timeline AS t
        (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
    SELECT OLD.tenant_id, OLD.component_id, OLD.environment_id,
           GREATEST(
               COALESCE((SELECT d.updated_at FROM deployments d WHERE d.id = OLD.deployment_id),
                        OLD.deployed_at),
               COALESCE(MAX(x.since), OLD.deployed_at)),
           NULL, NULL, NULL
    FROM deployment_timeline x
    WHERE x.tenant_id = OLD.tenant_id AND x.component_id = OLD.component_id
      AND x.environment_id = OLD.environment_id
    ON CONFLICT (tenant_id, component_id, environment_id, since) DO UPDATE SET
        deployment_id = NULL, version = NULL, deployed_at = NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER latest_deployments_timeline_insert AFTER INSERT ON latest_deployments
    FOR EACH ROW EXECUTE FUNCTION deployment_timeline_current();
CREATE TRIGGER latest_deployments_timeline_update AFTER UPDATE ON latest_deployments
    FOR EACH ROW WHEN (OLD.deployment_id IS DISTINCT FROM NEW.deployment_id)
    EXECUTE FUNCTION deployment_timeline_current();
CREATE TRIGGER latest_deployments_timeline_delete AFTER DELETE ON latest_deployments
    FOR EACH ROW EXECUTE FUNCTION deployment_timeline_gone();

-- The ledger so far, of every tenant: each deployment that stands as succeeded became current
-- at its success (rollbacks before this migration are not in the timeline).
SELECT set_config('terrane.system', 'on', true);
CREATE POLICY deployment_timeline_backfill ON deployment_timeline
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
INSERT INTO deployment_timeline
    (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
SELECT DISTINCT ON (tenant_id, component_id, environment_id, finished_at)
       tenant_id, component_id, environment_id, finished_at, id, version, finished_at
FROM deployments
WHERE status = 'succeeded' AND finished_at IS NOT NULL
ORDER BY tenant_id, component_id, environment_id, finished_at, id DESC;
DROP POLICY deployment_timeline_backfill ON deployment_timeline;
SELECT set_config('terrane.system', '', true);
