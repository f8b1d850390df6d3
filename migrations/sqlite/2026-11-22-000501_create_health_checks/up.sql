-- Same schema as on PostgreSQL.
CREATE TABLE health_checks (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    status TEXT NOT NULL
        CHECK (status IN ('unknown', 'healthy', 'degraded', 'unhealthy')),
    message TEXT NOT NULL,
    checked_at TEXT NOT NULL
) STRICT;

CREATE INDEX health_checks_target_id_checked_at_idx
    ON health_checks (target_id, checked_at DESC, id DESC);

ALTER TABLE targets ADD COLUMN next_check_at TEXT;
CREATE INDEX targets_next_check_at_idx ON targets (next_check_at);
