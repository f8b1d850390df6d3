CREATE TABLE target_groups (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- "C" collation: names sort byte-wise, as on SQLite, whatever the database's locale.
    name text COLLATE "C" NOT NULL,
    description text,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT target_groups_tenant_id_name_key UNIQUE (tenant_id, name)
);

-- A group assigned to an environment (FlexDeploy's "target"). An assignment goes with its
-- environment and with its group, in the statement that deletes either.
CREATE TABLE target_group_assignments (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    target_group_id uuid NOT NULL REFERENCES target_groups (id) ON DELETE CASCADE,
    is_active boolean NOT NULL,
    created_at timestamptz NOT NULL,
    -- Also what a target's (environment_id, target_group_id) references.
    CONSTRAINT target_group_assignments_environment_id_target_group_id_key
        UNIQUE (environment_id, target_group_id)
);

-- Finding the environments of a group (deleting it), besides the unique index above that
-- finds the groups of an environment.
CREATE INDEX target_group_assignments_target_group_id_idx ON target_group_assignments (target_group_id);

-- Same tenant isolation as environments.
ALTER TABLE target_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE target_groups FORCE ROW LEVEL SECURITY;
CREATE POLICY target_groups_tenant_isolation ON target_groups
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE target_group_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE target_group_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY target_group_assignments_tenant_isolation ON target_group_assignments
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
