CREATE TABLE environments (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- "C" collation: names sort byte-wise, as on SQLite, whatever the database's locale.
    name text COLLATE "C" NOT NULL,
    display_name text NOT NULL,
    description text,
    order_index integer NOT NULL,
    is_production boolean NOT NULL,
    is_active boolean NOT NULL,
    is_build_environment boolean NOT NULL,
    deployment_timeout bigint NOT NULL,
    health_check_interval bigint NOT NULL,
    required_approvals smallint NOT NULL,
    require_separation_of_duties boolean NOT NULL,
    promotion_policy text NOT NULL CHECK (promotion_policy IN ('default', 'sequential')),
    status text NOT NULL CHECK (status IN ('ready', 'busy', 'broken', 'destroyed')),
    request_id uuid,
    expires_at timestamptz,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT environments_tenant_id_name_key UNIQUE (tenant_id, name)
);

CREATE INDEX environments_tenant_id_order_index_name_idx ON environments (tenant_id, order_index, name);

-- Tenant isolation enforced a second time, below the application: a session sees and writes
-- only the rows of the tenant it set with set_config('terrane.tenant_id', ..., true), and
-- none when it set none. FORCE applies the policy to the table's owner too.
ALTER TABLE environments ENABLE ROW LEVEL SECURITY;
ALTER TABLE environments FORCE ROW LEVEL SECURITY;
CREATE POLICY environments_tenant_isolation ON environments
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
