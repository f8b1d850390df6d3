-- Same schema as on PostgreSQL. Foreign keys are enforced because every connection sets
-- PRAGMA foreign_keys = ON.
CREATE TABLE target_groups (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT target_groups_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;

CREATE TABLE target_group_assignments (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    target_group_id TEXT NOT NULL REFERENCES target_groups (id) ON DELETE CASCADE,
    is_active INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT target_group_assignments_environment_id_target_group_id_key
        UNIQUE (environment_id, target_group_id)
) STRICT;

CREATE INDEX target_group_assignments_target_group_id_idx ON target_group_assignments (target_group_id);
