-- Same schema as on PostgreSQL.
CREATE TABLE components (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('service', 'website', 'library', 'worker', 'job')),
    owner TEXT,
    lifecycle TEXT NOT NULL CHECK (lifecycle IN ('experimental', 'production', 'deprecated')),
    description TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT components_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;
