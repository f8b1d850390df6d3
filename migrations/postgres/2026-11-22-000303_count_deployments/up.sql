-- How many deployments each component has in each environment in each status, kept by the
-- database itself on every write to `deployments`, in the writer's transaction: the total
-- of a filtered list adds up a few hundred of these instead of counting the ledger.
CREATE TABLE deployment_counts (
    tenant_id uuid NOT NULL,
    environment_id uuid NOT NULL,
    component_id uuid NOT NULL,
    status text NOT NULL,
    n bigint NOT NULL,
    PRIMARY KEY (tenant_id, environment_id, component_id, status)
);

CREATE INDEX deployment_counts_tenant_id_component_id_idx ON deployment_counts (tenant_id, component_id);

ALTER TABLE deployment_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_counts_tenant_isolation ON deployment_counts
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
-- The stuck-deployment sweep moves deployments of every tenant.
CREATE POLICY deployment_counts_system ON deployment_counts
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');

-- Rows of one statement are added up first, so a bulk insert touches each count once.
-- Counts are always changed in key order, so that two transactions changing the same
-- counts wait for each other instead of deadlocking.
CREATE FUNCTION deployment_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deployment_counts AS c (tenant_id, environment_id, component_id, status, n)
    SELECT tenant_id, environment_id, component_id, status, count(*)
    FROM added
    GROUP BY tenant_id, environment_id, component_id, status
    ORDER BY tenant_id, environment_id, component_id, status
    ON CONFLICT (tenant_id, environment_id, component_id, status)
    DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION deployment_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deployment_counts AS c (tenant_id, environment_id, component_id, status, n)
    SELECT * FROM (VALUES
        (OLD.tenant_id, OLD.environment_id, OLD.component_id, OLD.status, -1::bigint),
        (NEW.tenant_id, NEW.environment_id, NEW.component_id, NEW.status, 1::bigint)
    ) AS moved (tenant_id, environment_id, component_id, status, n)
    ORDER BY tenant_id, environment_id, component_id, status
    ON CONFLICT (tenant_id, environment_id, component_id, status)
    DO UPDATE SET n = c.n + excluded.n;
    RETURN NULL;
END
$$;

CREATE FUNCTION deployment_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deployment_counts AS c SET n = c.n - gone.n
    FROM (
        SELECT tenant_id, environment_id, component_id, status, count(*) AS n
        FROM removed
        GROUP BY tenant_id, environment_id, component_id, status
    ) AS gone
    WHERE c.tenant_id = gone.tenant_id AND c.environment_id = gone.environment_id
      AND c.component_id = gone.component_id AND c.status = gone.status;
    RETURN NULL;
END
$$;

CREATE TRIGGER deployments_count_insert AFTER INSERT ON deployments
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION deployment_counts_insert();

CREATE TRIGGER deployments_count_update AFTER UPDATE ON deployments
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.tenant_id IS DISTINCT FROM NEW.tenant_id
          OR OLD.environment_id IS DISTINCT FROM NEW.environment_id
          OR OLD.component_id IS DISTINCT FROM NEW.component_id)
    EXECUTE FUNCTION deployment_counts_update();

CREATE TRIGGER deployments_count_delete AFTER DELETE ON deployments
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION deployment_counts_delete();

-- The deployments already recorded, of every tenant (under row-level security too).
SELECT set_config('terrane.system', 'on', true);
INSERT INTO deployment_counts (tenant_id, environment_id, component_id, status, n)
SELECT tenant_id, environment_id, component_id, status, count(*)
FROM deployments
GROUP BY tenant_id, environment_id, component_id, status;
SELECT set_config('terrane.system', '', true);
