-- Every probe of a target, kept as its health history.
CREATE TABLE health_checks (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- A target's history goes with it.
    target_id uuid NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    status text NOT NULL
        CHECK (status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    message text NOT NULL,
    checked_at timestamptz NOT NULL
);

-- A target's history, newest first.
CREATE INDEX health_checks_target_id_checked_at_idx
    ON health_checks (target_id, checked_at DESC, id DESC);

-- When the scheduler checks the target next; NULL means due now (never scheduled).
ALTER TABLE targets ADD COLUMN next_check_at timestamptz;
CREATE INDEX targets_next_check_at_idx ON targets (next_check_at);

-- Same tenant isolation as environments.
ALTER TABLE health_checks ENABLE ROW LEVEL SECURITY;
ALTER TABLE health_checks FORCE ROW LEVEL SECURITY;
CREATE POLICY health_checks_tenant_isolation ON health_checks
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- The health scheduler claims due targets of every tenant: it sets terrane.system = 'on' in
-- its own transaction only (environments already has such a policy for background work).
CREATE POLICY targets_system ON targets
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
CREATE POLICY health_checks_system ON health_checks
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
