CREATE TABLE targets (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- A target belongs to its environment: deleting the environment deletes its targets in
    -- the same statement.
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    -- A group can only be deleted once it has no targets left.
    target_group_id uuid REFERENCES target_groups (id),
    name text COLLATE "C" NOT NULL,
    target_type text NOT NULL
        CHECK (target_type IN ('docker_host', 'compose_host', 'ecs_service', 'nomad_job')),
    -- The connection object, its fields decided by target_type.
    connection jsonb NOT NULL CHECK (jsonb_typeof(connection) = 'object'),
    -- A flat object of string values.
    labels jsonb NOT NULL CHECK (jsonb_typeof(labels) = 'object'),
    deployment_directory text,
    health_status text NOT NULL
        CHECK (health_status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    health_message text,
    last_health_check_at timestamptz,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT targets_environment_id_name_key UNIQUE (environment_id, name),
    -- A target's group must be assigned to its environment; unassigning a group that still
    -- has targets there fails (NO ACTION is checked at the end of the statement, so deleting
    -- the environment, which removes both, succeeds).
    CONSTRAINT targets_assignment_fkey FOREIGN KEY (environment_id, target_group_id)
        REFERENCES target_group_assignments (environment_id, target_group_id)
);

-- The tenant-wide list, sorted by name.
CREATE INDEX targets_tenant_id_name_idx ON targets (tenant_id, name);
-- The targets of a group (group filter, deleting a group).
CREATE INDEX targets_target_group_id_idx ON targets (target_group_id);
-- The label filter: `labels @> '{"role":"web"}'` is answered from this index.
-- jsonb_path_ops indexes only containment, which is all the filter needs, and is smaller
-- and faster than the default operator class.
CREATE INDEX targets_labels_idx ON targets USING gin (labels jsonb_path_ops);

-- Same tenant isolation as environments.
ALTER TABLE targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE targets FORCE ROW LEVEL SECURITY;
CREATE POLICY targets_tenant_isolation ON targets
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
