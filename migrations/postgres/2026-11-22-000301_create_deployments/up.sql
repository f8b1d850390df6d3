-- Releases: a named set of component versions (and image digests).
CREATE TABLE releases (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- "C" collation: names sort byte-wise, as on SQLite, whatever the database's locale.
    name text COLLATE "C" NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT releases_tenant_id_name_key UNIQUE (tenant_id, name)
);

CREATE INDEX releases_tenant_id_created_at_id_idx ON releases (tenant_id, created_at DESC, id DESC);

CREATE TABLE release_components (
    release_id uuid NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL,
    component_id uuid NOT NULL REFERENCES components (id),
    version text NOT NULL,
    digest text,
    PRIMARY KEY (release_id, component_id)
);

CREATE INDEX release_components_component_id_idx ON release_components (component_id);

-- The ledger. No cascade from components or environments: a deployment is history, and
-- deleting an environment that has some is refused (the foreign key says so in the same
-- statement, whatever the number of replicas).
CREATE TABLE deployments (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    component_id uuid NOT NULL REFERENCES components (id),
    environment_id uuid NOT NULL REFERENCES environments (id),
    release_id uuid REFERENCES releases (id),
    version text NOT NULL,
    digest text,
    commit_sha text,
    deployed_by text NOT NULL,
    created_by uuid NOT NULL,
    description text,
    metadata jsonb NOT NULL CHECK (jsonb_typeof(metadata) = 'object'),
    status text NOT NULL CHECK (status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    -- Incremented by every retry (failed or rolled_back -> pending): approvals of an earlier
    -- round no longer count.
    approval_round integer NOT NULL DEFAULT 0,
    -- Compare-and-set token of every transition, served as the ETag.
    row_version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL
);

CREATE INDEX deployments_tenant_id_created_at_id_idx ON deployments (tenant_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_environment_id_created_at_id_idx ON deployments (tenant_id, environment_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_component_id_created_at_id_idx ON deployments (tenant_id, component_id, created_at DESC, id DESC);
CREATE INDEX deployments_tenant_id_release_id_idx ON deployments (tenant_id, release_id);
-- The stuck-deployment sweep: in_progress rows by start.
CREATE INDEX deployments_status_started_at_idx ON deployments (status, started_at);
-- Recomputing latest_deployments after a rollback.
CREATE INDEX deployments_latest_idx ON deployments (tenant_id, component_id, environment_id, status, finished_at);

CREATE TABLE deployment_history (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    from_status text CHECK (from_status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    to_status text NOT NULL CHECK (to_status IN ('pending', 'in_progress', 'succeeded', 'failed', 'rolled_back')),
    -- NULL when the system acted (the stuck-deployment sweep).
    actor uuid,
    at timestamptz NOT NULL,
    reason text
);

CREATE INDEX deployment_history_deployment_id_at_idx ON deployment_history (deployment_id, at);

CREATE TABLE deployment_approvals (
    tenant_id uuid NOT NULL,
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    approval_round integer NOT NULL,
    approver uuid NOT NULL,
    comment text,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (deployment_id, approval_round, approver)
);

-- The latest succeeded deployment (by time of success) of each component in each
-- environment, maintained in the transaction of every transition; the matrix, latest and
-- sticker views read it instead of scanning the ledger.
CREATE TABLE latest_deployments (
    tenant_id uuid NOT NULL,
    component_id uuid NOT NULL REFERENCES components (id),
    environment_id uuid NOT NULL REFERENCES environments (id),
    deployment_id uuid NOT NULL REFERENCES deployments (id) ON DELETE CASCADE,
    release_id uuid REFERENCES releases (id),
    version text NOT NULL,
    digest text,
    deployed_by text NOT NULL,
    deployed_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, component_id, environment_id)
);

CREATE INDEX latest_deployments_tenant_id_environment_id_idx ON latest_deployments (tenant_id, environment_id);

-- Same tenant isolation as environments.
ALTER TABLE releases ENABLE ROW LEVEL SECURITY;
ALTER TABLE releases FORCE ROW LEVEL SECURITY;
CREATE POLICY releases_tenant_isolation ON releases
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE release_components ENABLE ROW LEVEL SECURITY;
ALTER TABLE release_components FORCE ROW LEVEL SECURITY;
CREATE POLICY release_components_tenant_isolation ON release_components
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE deployments ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployments FORCE ROW LEVEL SECURITY;
CREATE POLICY deployments_tenant_isolation ON deployments
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE deployment_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_history FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_history_tenant_isolation ON deployment_history
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE deployment_approvals ENABLE ROW LEVEL SECURITY;
ALTER TABLE deployment_approvals FORCE ROW LEVEL SECURITY;
CREATE POLICY deployment_approvals_tenant_isolation ON deployment_approvals
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

ALTER TABLE latest_deployments ENABLE ROW LEVEL SECURITY;
ALTER TABLE latest_deployments FORCE ROW LEVEL SECURITY;
CREATE POLICY latest_deployments_tenant_isolation ON latest_deployments
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- Background work that spans tenants (the stuck-deployment sweep) sets terrane.system = 'on'
-- in its own transaction only; every request transaction leaves it unset and stays confined
-- to its tenant. Permissive policies combine with OR.
CREATE POLICY deployments_system ON deployments
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
CREATE POLICY deployment_history_system ON deployment_history
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
-- The sweep reads each environment's deploymentTimeout.
CREATE POLICY environments_deployment_sweep ON environments
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
