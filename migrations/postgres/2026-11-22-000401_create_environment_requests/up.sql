CREATE TABLE environment_requests (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- The name the environment will have. "C" collation, as environments.name.
    name text COLLATE "C" NOT NULL,
    description text,
    environment_type text NOT NULL CHECK (environment_type IN ('ephemeral', 'persistent')),
    tier text NOT NULL CHECK (tier IN ('small', 'medium', 'large')),
    ttl_hours integer CHECK (ttl_hours > 0),
    -- A request that names a component keeps pointing at it until the component goes.
    component_id uuid REFERENCES components (id) ON DELETE SET NULL,
    status text NOT NULL CHECK (status IN
        ('pending', 'approved', 'rejected', 'provisioning', 'active', 'expired', 'failed')),
    status_message text,
    requested_by uuid NOT NULL,
    reviewed_by uuid,
    review_comment text,
    -- The environment it produced; deleting that environment leaves the request as a record.
    environment_id uuid REFERENCES environments (id) ON DELETE SET NULL,
    provisioned_at timestamptz,
    expires_at timestamptz,
    -- The provisioning worker's lease: until then, one replica is provisioning the request
    -- and the others leave it alone; a replica that dies leaves it to be claimed again.
    claimed_until timestamptz,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    -- Only ephemeral environments expire.
    CONSTRAINT environment_requests_ttl_only_ephemeral
        CHECK ((environment_type = 'ephemeral') = (ttl_hours IS NOT NULL))
);

-- An open request holds its name: two open requests of a tenant never ask for the same
-- environment. Rejected and expired ones let it go.
CREATE UNIQUE INDEX environment_requests_open_name_key ON environment_requests (tenant_id, name)
    WHERE status IN ('pending', 'approved', 'provisioning', 'active', 'failed');
-- The list, newest first.
CREATE INDEX environment_requests_tenant_id_created_at_idx
    ON environment_requests (tenant_id, created_at DESC, id DESC);
-- What the provisioning worker looks for, across tenants.
CREATE INDEX environment_requests_provisioning_idx ON environment_requests (claimed_until)
    WHERE status IN ('approved', 'provisioning');

-- Every move of a request, in order. A request's rows go with it.
CREATE TABLE environment_request_history (
    request_id uuid NOT NULL REFERENCES environment_requests (id) ON DELETE CASCADE,
    -- 1, 2, 3, ... per request: the order of moves made in the same instant.
    seq integer NOT NULL,
    tenant_id uuid NOT NULL,
    from_status text,
    to_status text NOT NULL,
    -- NULL for terrane itself (provisioning, the reaper).
    actor uuid,
    message text,
    comment text,
    at timestamptz NOT NULL,
    PRIMARY KEY (request_id, seq)
);

-- The reaper's lease on an environment it is deprovisioning, as claimed_until above.
ALTER TABLE environments ADD COLUMN deprovision_claimed_until timestamptz;
-- What the reaper looks for, across tenants.
CREATE INDEX environments_expires_at_idx ON environments (expires_at)
    WHERE expires_at IS NOT NULL AND status <> 'destroyed';

-- Same tenant isolation as environments.
ALTER TABLE environment_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_requests FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_requests_tenant_isolation ON environment_requests
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE environment_request_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_request_history FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_request_history_tenant_isolation ON environment_request_history
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- The background jobs (provisioning, the TTL reaper) find their work across every tenant,
-- which the tenant policy cannot allow: a session that sets no tenant sees no row. Policies
-- are permissive, so this second one lets a transaction that sets `terrane.system` to 'on'
-- see and claim the rows of every tenant. Only the store's system transactions set it, with
-- set_config(..., true), so it ends with the transaction and never leaks into a pooled
-- connection's next, tenant-scoped, use. The jobs then record each outcome in an ordinary
-- tenant transaction.
CREATE POLICY environment_requests_system ON environment_requests
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
CREATE POLICY environments_request_jobs ON environments
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
CREATE POLICY environment_request_history_system ON environment_request_history
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
