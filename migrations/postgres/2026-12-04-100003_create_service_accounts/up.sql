-- Service accounts: machines acting in one organization with their roles. Only the SHA-256
-- of the current secret is kept; the secret itself is shown once, at creation or rotation.
CREATE TABLE service_accounts (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text COLLATE "C" NOT NULL,
    description text,
    -- Comma-separated role names (admin, deployer, viewer).
    roles text NOT NULL,
    login text COLLATE "C" NOT NULL,
    secret_hash text NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    secret_issued_at timestamptz NOT NULL,
    CONSTRAINT service_accounts_tenant_id_name_key UNIQUE (tenant_id, name),
    CONSTRAINT service_accounts_login_key UNIQUE (login),
    -- Also the index a secret is looked up by.
    CONSTRAINT service_accounts_secret_hash_key UNIQUE (secret_hash)
);

-- Same tenant isolation as environments.
ALTER TABLE service_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE service_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY service_accounts_tenant_isolation ON service_accounts
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- A secret names no tenant: it is looked up across tenants in a transaction of its own that
-- sets terrane.system = 'on' (authentication comes before the tenant is known).
CREATE POLICY service_accounts_system ON service_accounts
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
