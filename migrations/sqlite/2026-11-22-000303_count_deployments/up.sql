-- How many deployments each component has in each environment in each status, kept by the
-- database itself on every write to `deployments`, in the writer's transaction: the total
-- of a filtered list adds up a few hundred of these instead of counting the ledger.
CREATE TABLE deployment_counts (
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    component_id TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, environment_id, component_id, status)
) WITHOUT ROWID;

CREATE INDEX deployment_counts_tenant_id_component_id_idx ON deployment_counts (tenant_id, component_id);

CREATE TRIGGER deployments_count_insert AFTER INSERT ON deployments
BEGIN
    INSERT INTO deployment_counts (tenant_id, environment_id, component_id, status, n)
    VALUES (NEW.tenant_id, NEW.environment_id, NEW.component_id, NEW.status, 1)
    ON CONFLICT (tenant_id, environment_id, component_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deployments_count_update AFTER UPDATE OF tenant_id, environment_id, component_id, status ON deployments
WHEN OLD.status IS NOT NEW.status
    OR OLD.tenant_id IS NOT NEW.tenant_id
    OR OLD.environment_id IS NOT NEW.environment_id
    OR OLD.component_id IS NOT NEW.component_id
BEGIN
    UPDATE deployment_counts SET n = n - 1
    WHERE tenant_id = OLD.tenant_id AND environment_id = OLD.environment_id
      AND component_id = OLD.component_id AND status = OLD.status;
    INSERT INTO deployment_counts (tenant_id, environment_id, component_id, status, n)
    VALUES (NEW.tenant_id, NEW.environment_id, NEW.component_id, NEW.status, 1)
    ON CONFLICT (tenant_id, environment_id, component_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER deployments_count_delete AFTER DELETE ON deployments
BEGIN
    UPDATE deployment_counts SET n = n - 1
    WHERE tenant_id = OLD.tenant_id AND environment_id = OLD.environment_id
      AND component_id = OLD.component_id AND status = OLD.status;
END;

-- The deployments already recorded.
INSERT INTO deployment_counts (tenant_id, environment_id, component_id, status, n)
SELECT tenant_id, environment_id, component_id, status, count(*)
FROM deployments
WHERE true
GROUP BY tenant_id, environment_id, component_id, status;
