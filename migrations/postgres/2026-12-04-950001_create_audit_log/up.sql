-- The audit log: every event of an organization as an entry, chained to the entry before it
-- by hash (terrane-domain's audit module says how). Entries are only ever inserted.
CREATE TABLE audit_entries (
    tenant_id uuid NOT NULL,
    -- The entry's place in its organization's chain: 1, 2, 3, ... with no gap. The primary
    -- key makes a fork (two entries at one place) impossible.
    sequence bigint NOT NULL CHECK (sequence > 0),
    -- The event's id; an event is chained once.
    event_id text NOT NULL,
    event_type text NOT NULL,
    subject_kind text NOT NULL,
    subject_id uuid NOT NULL,
    actor text NOT NULL,
    at timestamptz NOT NULL,
    -- The event's data in canonical JSON, kept as the very text the hash covers (jsonb
    -- would reorder members and rewrite numbers).
    data text NOT NULL,
    previous_hash text NOT NULL,
    hash text NOT NULL,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (tenant_id, sequence),
    CONSTRAINT audit_entries_tenant_id_event_id_key UNIQUE (tenant_id, event_id)
);
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor, sequence);
CREATE INDEX audit_entries_subject ON audit_entries (tenant_id, subject_kind, subject_id, sequence);
CREATE INDEX audit_entries_at ON audit_entries (tenant_id, at);

-- Each organization's chain ends here: the last entry's sequence and hash. Appending moves
-- it in the same transaction; verifying compares the chain's end with it.
CREATE TABLE audit_heads (
    tenant_id uuid PRIMARY KEY,
    sequence bigint NOT NULL,
    hash text NOT NULL
);

-- How far the chainer has read the event log (one row). Every append compares and sets it,
-- so two replicas chaining at once never both append the same events.
CREATE TABLE audit_progress (
    id integer PRIMARY KEY CHECK (id = 1),
    -- The last event chained, as the event log's cursor; NULL before the first.
    event_cursor text
);
INSERT INTO audit_progress (id, event_cursor) VALUES (1, NULL);

-- Same tenant isolation as environments; the chainer writes across organizations in system
-- transactions.
ALTER TABLE audit_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_entries_tenant_isolation ON audit_entries
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY audit_entries_system ON audit_entries
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_heads_tenant_isolation ON audit_heads
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY audit_heads_system ON audit_heads
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
