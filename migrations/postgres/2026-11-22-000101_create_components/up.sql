CREATE TABLE components (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- "C" collation: names sort byte-wise, as on SQLite, whatever the database's locale.
    name text COLLATE "C" NOT NULL,
    kind text NOT NULL CHECK (kind IN ('service', 'website', 'library', 'worker', 'job')),
    owner text,
    lifecycle text NOT NULL CHECK (lifecycle IN ('experimental', 'production', 'deprecated')),
    description text,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT components_tenant_id_name_key UNIQUE (tenant_id, name)
);

-- Same tenant isolation as environments.
ALTER TABLE components ENABLE ROW LEVEL SECURITY;
ALTER TABLE components FORCE ROW LEVEL SECURITY;
CREATE POLICY components_tenant_isolation ON components
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
