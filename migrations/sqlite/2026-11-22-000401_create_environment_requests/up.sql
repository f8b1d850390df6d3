-- Same schema as on PostgreSQL (no row-level security: SQLite has none, and one process
-- serves it).
CREATE TABLE environment_requests (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    environment_type TEXT NOT NULL CHECK (environment_type IN ('ephemeral', 'persistent')),
    tier TEXT NOT NULL CHECK (tier IN ('small', 'medium', 'large')),
    ttl_hours INTEGER CHECK (ttl_hours > 0),
    component_id TEXT REFERENCES components (id) ON DELETE SET NULL,
    status TEXT NOT NULL CHECK (status IN
        ('pending', 'approved', 'rejected', 'provisioning', 'active', 'expired', 'failed')),
    status_message TEXT,
    requested_by TEXT NOT NULL,
    reviewed_by TEXT,
    review_comment TEXT,
    environment_id TEXT REFERENCES environments (id) ON DELETE SET NULL,
    provisioned_at TEXT,
    expires_at TEXT,
    claimed_until TEXT,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT environment_requests_ttl_only_ephemeral
        CHECK ((environment_type = 'ephemeral') = (ttl_hours IS NOT NULL))
) STRICT;

CREATE UNIQUE INDEX environment_requests_open_name_key ON environment_requests (tenant_id, name)
    WHERE status IN ('pending', 'approved', 'provisioning', 'active', 'failed');
CREATE INDEX environment_requests_tenant_id_created_at_idx
    ON environment_requests (tenant_id, created_at DESC, id DESC);
CREATE INDEX environment_requests_provisioning_idx ON environment_requests (claimed_until)
    WHERE status IN ('approved', 'provisioning');

CREATE TABLE environment_request_history (
    request_id TEXT NOT NULL REFERENCES environment_requests (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor TEXT,
    message TEXT,
    comment TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
) STRICT;

ALTER TABLE environments ADD COLUMN deprovision_claimed_until TEXT;
CREATE INDEX environments_expires_at_idx ON environments (expires_at)
    WHERE expires_at IS NOT NULL AND status <> 'destroyed';
