-- Agents: programs beside targets that report health and inventory. Only the SHA-256 of a
-- token is kept; the token itself is shown once, at registration.
CREATE TABLE agents (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text COLLATE "C" NOT NULL,
    token_hash text NOT NULL,
    agent_version text,
    last_seen_at timestamptz,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT agents_tenant_id_name_key UNIQUE (tenant_id, name),
    -- Also the index a token is looked up by.
    CONSTRAINT agents_token_hash_key UNIQUE (token_hash)
);

-- The targets each agent serves; revoking the agent or deleting the target ends it.
CREATE TABLE agent_targets (
    tenant_id uuid NOT NULL,
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    target_id uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    PRIMARY KEY (agent_id, target_id)
);
CREATE INDEX agent_targets_target_id_idx ON agent_targets (target_id);

-- The latest inventory of each target, replaced by every report.
CREATE TABLE target_inventories (
    target_id uuid PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL,
    -- Kept after the agent is revoked: it says who reported.
    agent_id uuid NOT NULL,
    collected_at timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    components jsonb NOT NULL CHECK (jsonb_typeof(components) = 'array')
);

-- Same tenant isolation as environments.
ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
CREATE POLICY agents_tenant_isolation ON agents
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
ALTER TABLE agent_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_targets_tenant_isolation ON agent_targets
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
ALTER TABLE target_inventories ENABLE ROW LEVEL SECURITY;
ALTER TABLE target_inventories FORCE ROW LEVEL SECURITY;
CREATE POLICY target_inventories_tenant_isolation ON target_inventories
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- A token names no tenant: it is looked up across tenants in a transaction of its own that
-- sets terrane.system = 'on'.
CREATE POLICY agents_system ON agents
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
CREATE POLICY agent_targets_system ON agent_targets
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
