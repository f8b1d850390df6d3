-- Same schema as on PostgreSQL; `connection` and `labels` are JSON objects as text, which
-- the label filter reads with json_each.
CREATE TABLE targets (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    target_group_id TEXT REFERENCES target_groups (id),
    name TEXT NOT NULL,
    target_type TEXT NOT NULL
        CHECK (target_type IN ('docker_host', 'compose_host', 'ecs_service', 'nomad_job')),
    connection TEXT NOT NULL CHECK (json_type(connection) = 'object'),
    labels TEXT NOT NULL CHECK (json_type(labels) = 'object'),
    deployment_directory TEXT,
    health_status TEXT NOT NULL
        CHECK (health_status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    health_message TEXT,
    last_health_check_at TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT targets_environment_id_name_key UNIQUE (environment_id, name),
    CONSTRAINT targets_assignment_fkey FOREIGN KEY (environment_id, target_group_id)
        REFERENCES target_group_assignments (environment_id, target_group_id)
) STRICT;

CREATE INDEX targets_tenant_id_name_idx ON targets (tenant_id, name);
CREATE INDEX targets_target_group_id_idx ON targets (target_group_id);
