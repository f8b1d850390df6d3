-- Same schema as on PostgreSQL, except `tx`: SQLite serializes writes, so ids are drawn in
-- commit order and `tx` is always 0. AUTOINCREMENT never gives an id twice, even after the
-- newest events were purged.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    tx INTEGER NOT NULL DEFAULT 0,
    tenant_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX events_tenant_position ON events (tenant_id, tx, id);
CREATE INDEX events_position ON events (tx, id);
CREATE INDEX events_at ON events (at);
