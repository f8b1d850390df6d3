-- What became current when: see the PostgreSQL migration of the same name.
CREATE TABLE deployment_timeline (
    tenant_id TEXT NOT NULL,
    component_id TEXT NOT NULL,
    environment_id TEXT NOT NULL,
    since TEXT NOT NULL,
    deployment_id TEXT,
    version TEXT,
    deployed_at TEXT,
    PRIMARY KEY (tenant_id, component_id, environment_id, since)
) STRICT;

-- Times are fixed-width RFC 3339 text (microseconds, Z): they compare as text.
CREATE TRIGGER latest_deployments_timeline_insert AFTER INSERT ON latest_deployments
BEGIN
    INSERT OR REPLACE INTO deployment_timeline
        (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
    VALUES (NEW.tenant_id, NEW.component_id, NEW.environment_id,
            MAX(NEW.deployed_at, COALESCE((SELECT MAX(since) FROM deployment_timeline
                WHERE tenant_id = NEW.tenant_id AND component_id = NEW.component_id
                  AND environment_id = NEW.environment_id), NEW.deployed_at)),
            NEW.deployment_id, NEW.version, NEW.deployed_at);
END;

CREATE TRIGGER latest_deployments_timeline_update AFTER UPDATE ON latest_deployments
WHEN OLD.deployment_id IS NOT NEW.deployment_id
BEGIN
    INSERT OR REPLACE INTO deployment_timeline
        (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
    VALUES (NEW.tenant_id, NEW.component_id, NEW.environment_id,
            MAX(NEW.deployed_at, COALESCE((SELECT MAX(since) FROM deployment_timeline
                WHERE tenant_id = NEW.tenant_id AND component_id = NEW.component_id
                  AND environment_id = NEW.environment_id), NEW.deployed_at)),
            NEW.deployment_id, NEW.version, NEW.deployed_at);
END;

CREATE TRIGGER latest_deployments_timeline_delete AFTER DELETE ON latest_deployments
BEGIN
    INSERT OR REPLACE INTO deployment_timeline
        (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
    VALUES (OLD.tenant_id, OLD.component_id, OLD.environment_id,
            MAX(COALESCE((SELECT updated_at FROM deployments WHERE id = OLD.deployment_id),
                         OLD.deployed_at),
                COALESCE((SELECT MAX(since) FROM deployment_timeline
                    WHERE tenant_id = OLD.tenant_id AND component_id = OLD.component_id
                      AND environment_id = OLD.environment_id), OLD.deployed_at)),
            NULL, NULL, NULL);
END;

INSERT OR REPLACE INTO deployment_timeline
    (tenant_id, component_id, environment_id, since, deployment_id, version, deployed_at)
SELECT tenant_id, component_id, environment_id, finished_at, id, version, finished_at
FROM deployments
WHERE status = 'succeeded' AND finished_at IS NOT NULL
ORDER BY finished_at, id;
