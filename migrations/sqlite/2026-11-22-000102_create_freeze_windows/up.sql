-- Same schema as on PostgreSQL; `exceptions` is the JSON array as text. Foreign keys are
-- enforced because every connection sets PRAGMA foreign_keys = ON.
CREATE TABLE freeze_windows (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    starts_at TEXT NOT NULL,
    ends_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    exceptions TEXT NOT NULL CHECK (json_type(exceptions) = 'array'),
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT freeze_windows_ends_after_start CHECK (ends_at > starts_at)
) STRICT;

CREATE INDEX freeze_windows_environment_id_starts_at_idx ON freeze_windows (environment_id, starts_at);
