-- Same schema as on PostgreSQL.
CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    agent_version TEXT,
    last_seen_at TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT agents_tenant_id_name_key UNIQUE (tenant_id, name),
    CONSTRAINT agents_token_hash_key UNIQUE (token_hash)
) STRICT;

CREATE TABLE agent_targets (
    tenant_id TEXT NOT NULL,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, target_id)
) STRICT;
CREATE INDEX agent_targets_target_id_idx ON agent_targets (target_id);

CREATE TABLE target_inventories (
    target_id TEXT PRIMARY KEY NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    received_at TEXT NOT NULL,
    components TEXT NOT NULL CHECK (json_type(components) = 'array')
) STRICT;
