-- Webhooks: URLs that receive an organization's events, signed with their secret. The
-- secret is kept as written (it keys the HMAC of every delivery), and never served again
-- after the webhook's creation.
CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    url text NOT NULL,
    secret text NOT NULL,
    -- Comma-separated event type filters; empty takes every event.
    types text NOT NULL,
    active boolean NOT NULL,
    version bigint NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX webhooks_tenant_id_created_at_idx ON webhooks (tenant_id, created_at, id);

-- One event's delivery to one webhook. `sequence` orders a webhook's deliveries: only the
-- first pending one of a webhook is ever claimed, so a receiver gets them in order.
-- `claimed_until` is the lease of the replica making an attempt.
CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    sequence bigint NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    body text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL,
    last_status_code integer,
    last_error text,
    last_duration_ms bigint,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    retry_from timestamptz NOT NULL,
    claimed_until timestamptz,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT webhook_deliveries_webhook_id_sequence_key UNIQUE (webhook_id, sequence),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'succeeded', 'dead'))
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

-- Same tenant isolation as environments; the delivery worker and the fan-out span tenants
-- in system transactions (terrane.system = 'on'), as the provisioning claims do.
ALTER TABLE webhooks ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhooks FORCE ROW LEVEL SECURITY;
CREATE POLICY webhooks_tenant_isolation ON webhooks
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY webhooks_system ON webhooks
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
CREATE POLICY webhook_deliveries_tenant_isolation ON webhook_deliveries
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY webhook_deliveries_system ON webhook_deliveries
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
