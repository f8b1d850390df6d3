-- Same schema as on PostgreSQL (ids and times as text, metadata as JSON object text).
CREATE TABLE releases (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT releases_tenant_id_name_key UNIQUE (tenant_id, name)
) STRICT;

CREATE INDEX releases_tenant_id_created_at_id_idx ON releases (tenant_id, created_at DESC, id DESC);

CREATE TABLE release_components (
    release_id TEXT NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    component_id TEXT NOT NULL REFERENCES components (id),
    version TEXT NOT NULL,
    digest TEXT,
    PRIMARY KEY (release_id, component_id)
) STRICT;

CREATE INDEX release_components_component_id_idx ON release_components (component_id);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    component_id TEXT NOT NULL REFERENCES components (id),
    environment_id TEXT NOT NULL REFERENCES environments (id),
    release_id TEXT REFERENCES releases (id),
    version TEXT NOT NULL,
    digest TEXT,
    commit_sha TEXT,
    deployed_by TEXT NOT NULL,
    created_by TEXT NOT NULL,
    description TEXT,
    metadata TEXT NOT NULL CHECK (json_type(metadata) = 'object'),
    status TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    approval_round INTEGER NOT NULL DEFAULT 0,
    row_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX deployments_tenant_id_created_at_id_idx ON deployments (tenant_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_environment_id_created_at_id_idx ON deployments (tenant_id, environment_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_component_id_created_at_id_idx ON deployments (tenant_id, component_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_release_id_idx ON deployments (tenant_id, release_id);
CREATE INDEX deployments_status_started_at_idx ON deployments (status, started_at);
CREATE INDEX deployments_latest_idx ON deployments (tenant_id, component_id, environment_id, status, finished_at);

CREATE TABLE deployment_history (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    from_status TEXT CHECK (from_status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    to_status TEXT NOT NULL CHECK (to_status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    actor TEXT,
    at TEXT NOT NULL,
    reason TEXT
) STRICT;

CREATE INDEX deployment_history_deployment_id_at_idx ON deployment_history (deployment_id, at);

CREATE TABLE deployment_approvals (
    tenant_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    approval_round INTEGER NOT NULL,
    approver TEXT NOT NULL,
    comment TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (deployment_id, approval_round, approver)
) STRICT;

CREATE TABLE latest_deployments (
    tenant_id TEXT NOT NULL,
    component_id TEXT NOT NULL REFERENCES components (id),
    environment_id TEXT NOT NULL REFERENCES environments (id),
    deployment_id TEXT NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    release_id TEXT REFERENCES releases (id),
    version TEXT NOT NULL,
    digest TEXT,
    deployed_by TEXT NOT NULL,
    deployed_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, component_id, environment_id)
) STRICT;

CREATE INDEX latest_deployments_tenant_id_environment_id_idx ON latest_deployments (tenant_id, environment_id);
