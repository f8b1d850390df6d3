-- Same schema as on PostgreSQL.
CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    roles TEXT NOT NULL,
    login TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    secret_issued_at TEXT NOT NULL,
    CONSTRAINT service_accounts_tenant_id_name_key UNIQUE (tenant_id, name),
    CONSTRAINT service_accounts_login_key UNIQUE (login),
    CONSTRAINT service_accounts_secret_hash_key UNIQUE (secret_hash)
) STRICT;
