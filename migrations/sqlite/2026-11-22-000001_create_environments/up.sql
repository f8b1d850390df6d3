-- Same schema as on PostgreSQL. Ids are hyphenated lowercase UUID text, times RFC 3339 text
-- in UTC with six fractional digits (so text order is time order), booleans 0 or 1.
CREATE TABLE environments (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT,
    order_index INTEGER NOT NULL,
    is_production INTEGER NOT NULL,
    is_active INTEGER NOT NULL,
    is_build_environment INTEGER NOT NULL,
    deployment_timeout INTEGER NOT NULL,
    health_check_interval INTEGER NOT NULL,
    required_approvals INTEGER NOT NULL,
    require_separation_of_duties INTEGER NOT NULL,
    promotion_policy TEXT NOT NULL CHECK (promotion_policy IN ('default', 'sequential')),
    status TEXT NOT NULL CHECK (status IN ('ready', 'busy', 'broken', 'destroyed')),
    request_id TEXT,
    expires_at TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT environments_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;

CREATE INDEX environments_tenant_id_order_index_name_idx ON environments (tenant_id, order_index, name);
