-- Same schema as on PostgreSQL (see there for why each column is what it is).
CREATE TABLE audit_entries (
    tenant_id TEXT NOT NULL,
    sequence INTEGER NOT NULL CHECK (sequence > 0),
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    CONSTRAINT audit_entries_pkey PRIMARY KEY (tenant_id, sequence),
    CONSTRAINT audit_entries_tenant_id_event_id_key UNIQUE (tenant_id, event_id)
) STRICT;
CREATE INDEX audit_entries_actor ON audit_entries (tenant_id, actor, sequence);
CREATE INDEX audit_entries_subject ON audit_entries (tenant_id, subject_kind, subject_id, sequence);
CREATE INDEX audit_entries_at ON audit_entries (tenant_id, at);

CREATE TABLE audit_heads (
    tenant_id TEXT PRIMARY KEY NOT NULL,
    sequence INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;

CREATE TABLE audit_progress (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    event_cursor TEXT
) STRICT;
INSERT INTO audit_progress (id, event_cursor) VALUES (1, NULL);
