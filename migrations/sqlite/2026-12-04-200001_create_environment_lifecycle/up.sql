-- Same schema as on PostgreSQL (no row-level security: SQLite has none).
CREATE TABLE environment_templates (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    template_version TEXT NOT NULL,
    description TEXT,
    definition TEXT NOT NULL CHECK (json_type(definition) = 'object'),
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT environment_templates_name_version_key UNIQUE (tenant_id, name, template_version)
) STRICT;

CREATE TABLE environment_lifecycles (
    environment_id TEXT PRIMARY KEY NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    template_id TEXT NOT NULL REFERENCES environment_templates (id),
    variables TEXT NOT NULL CHECK (json_type(variables) = 'object'),
    attributes TEXT NOT NULL CHECK (json_type(attributes) = 'object')
) STRICT;
CREATE INDEX environment_lifecycles_template_id_idx ON environment_lifecycles (template_id);

CREATE TABLE workflow_runs (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    workflow TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed', 'canceled')),
    variables TEXT NOT NULL CHECK (json_type(variables) = 'object'),
    started_by TEXT,
    destroys INTEGER NOT NULL,
    requested_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX workflow_runs_one_active_key ON workflow_runs (environment_id)
    WHERE status IN ('requested', 'running');
CREATE INDEX workflow_runs_environment_idx ON workflow_runs (environment_id, requested_at DESC, id DESC);
CREATE INDEX workflow_runs_claimable_idx ON workflow_runs (lease_until)
    WHERE status IN ('requested', 'running');

CREATE TABLE workflow_steps (
    id TEXT PRIMARY KEY NOT NULL,
    run_id TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    phase TEXT NOT NULL,
    name TEXT NOT NULL,
    run TEXT NOT NULL,
    timeout_seconds INTEGER NOT NULL CHECK (timeout_seconds > 0),
    status TEXT NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed', 'canceled', 'skipped')),
    started_at TEXT,
    finished_at TEXT,
    exit_code INTEGER,
    output TEXT NOT NULL,
    CONSTRAINT workflow_steps_run_id_position_key UNIQUE (run_id, position)
) STRICT;

CREATE TABLE environment_lifecycle_events (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    environment_id TEXT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    actor TEXT,
    event TEXT NOT NULL,
    run_id TEXT,
    workflow TEXT,
    from_status TEXT,
    to_status TEXT NOT NULL,
    detail TEXT
) STRICT;
CREATE INDEX environment_lifecycle_events_environment_idx
    ON environment_lifecycle_events (environment_id, at DESC, id DESC);
