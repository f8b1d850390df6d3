-- The event log, written in the transaction of each change it records (an outbox).
--
-- `tx` is the id of the writing transaction (pg_current_xact_id(), a 64-bit xid8 that never
-- wraps). A reader returns only events whose tx is below the oldest transaction still running
-- when its statement began (pg_snapshot_xmin(pg_current_snapshot())): every such transaction
-- has ended, so no event can still appear before the last one returned. Events are read in
-- (tx, id) order and the cursor is that pair.
CREATE TABLE events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    tenant_id uuid NOT NULL,
    event_type text COLLATE "C" NOT NULL,
    subject_kind text COLLATE "C" NOT NULL,
    subject_id uuid NOT NULL,
    actor text NOT NULL,
    at timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX events_tenant_position ON events (tenant_id, tx, id);
CREATE INDEX events_position ON events (tx, id);
CREATE INDEX events_at ON events (at);

-- Writes one event in the statement that calls it: a write that is one statement on its own
-- (an INSERT ... RETURNING) records its event in its RETURNING list, and stays one statement
-- with no transaction around it.
CREATE FUNCTION record_event(tenant uuid, event_type text, subject_kind text, subject_id uuid,
                             actor text, at timestamptz, data jsonb) RETURNS bigint
    LANGUAGE sql VOLATILE AS $$
    INSERT INTO events (tenant_id, event_type, subject_kind, subject_id, actor, at, data)
    VALUES (tenant, event_type, subject_kind, subject_id, actor, at, data)
    RETURNING id
$$;

-- Same tenant isolation as every table.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY events_tenant_isolation ON events
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
-- Background work (deliveries, the audit chain, retention, freeze windows beginning) reads
-- and writes across tenants with terrane.system = 'on'.
CREATE POLICY events_system ON events
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
