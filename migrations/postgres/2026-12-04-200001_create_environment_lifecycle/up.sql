-- Environment templates: variables and workflows (steps naming executables of the
-- operator's workflow directory), kept as one JSON definition.
CREATE TABLE environment_templates (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    name text COLLATE "C" NOT NULL,
    template_version text COLLATE "C" NOT NULL,
    description text,
    -- {variables, workflows, createWorkflow, destroyWorkflow}
    definition jsonb NOT NULL CHECK (jsonb_typeof(definition) = 'object'),
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT environment_templates_name_version_key UNIQUE (tenant_id, name, template_version)
);

-- What an environment born from a template keeps: the template (which then cannot change
-- or go), the variables it was created with, and the attributes its steps reported.
CREATE TABLE environment_lifecycles (
    environment_id uuid PRIMARY KEY REFERENCES environments (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL,
    template_id uuid NOT NULL REFERENCES environment_templates (id),
    variables jsonb NOT NULL CHECK (jsonb_typeof(variables) = 'object'),
    attributes jsonb NOT NULL CHECK (jsonb_typeof(attributes) = 'object')
);
CREATE INDEX environment_lifecycles_template_id_idx ON environment_lifecycles (template_id);

-- Every execution of a workflow on an environment. A replica holds a run it executes with
-- a lease (lease_owner, lease_until) that it renews; once the lease runs out, another
-- replica fails the run (its replica stopped).
CREATE TABLE workflow_runs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    workflow text NOT NULL,
    status text NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed', 'canceled')),
    variables jsonb NOT NULL CHECK (jsonb_typeof(variables) = 'object'),
    started_by uuid,
    destroys boolean NOT NULL,
    requested_at timestamptz NOT NULL,
    started_at timestamptz,
    finished_at timestamptz,
    lease_owner uuid,
    lease_until timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false
);
-- At most one run of an environment is not over.
CREATE UNIQUE INDEX workflow_runs_one_active_key ON workflow_runs (environment_id)
    WHERE status IN ('requested', 'running');
CREATE INDEX workflow_runs_environment_idx ON workflow_runs (environment_id, requested_at DESC, id DESC);
-- What the runners look for, across tenants.
CREATE INDEX workflow_runs_claimable_idx ON workflow_runs (lease_until)
    WHERE status IN ('requested', 'running');

CREATE TABLE workflow_steps (
    id uuid PRIMARY KEY,
    run_id uuid NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
    tenant_id uuid NOT NULL,
    position integer NOT NULL,
    phase text NOT NULL,
    name text NOT NULL,
    run text NOT NULL,
    timeout_seconds integer NOT NULL CHECK (timeout_seconds > 0),
    status text NOT NULL CHECK (status IN ('requested', 'running', 'succeeded', 'failed', 'canceled', 'skipped')),
    started_at timestamptz,
    finished_at timestamptz,
    exit_code integer,
    output text NOT NULL,
    CONSTRAINT workflow_steps_run_id_position_key UNIQUE (run_id, position)
);

-- The lifecycle history of an environment: runs requested and ended, actions, with who.
CREATE TABLE environment_lifecycle_events (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    at timestamptz NOT NULL,
    -- NULL for terrane itself.
    actor uuid,
    event text NOT NULL,
    run_id uuid,
    workflow text,
    from_status text,
    to_status text NOT NULL,
    detail text
);
CREATE INDEX environment_lifecycle_events_environment_idx
    ON environment_lifecycle_events (environment_id, at DESC, id DESC);

-- Same tenant isolation as environments; the runners' claims and the TTL reaper look
-- across tenants in system transactions (see create_environment_requests).
ALTER TABLE environment_templates ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_templates FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_templates_tenant_isolation ON environment_templates
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
ALTER TABLE environment_lifecycles ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_lifecycles FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_lifecycles_tenant_isolation ON environment_lifecycles
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY environment_lifecycles_system ON environment_lifecycles
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
ALTER TABLE workflow_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY workflow_runs_tenant_isolation ON workflow_runs
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY workflow_runs_system ON workflow_runs
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
ALTER TABLE workflow_steps ENABLE ROW LEVEL SECURITY;
ALTER TABLE workflow_steps FORCE ROW LEVEL SECURITY;
CREATE POLICY workflow_steps_tenant_isolation ON workflow_steps
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
CREATE POLICY workflow_steps_system ON workflow_steps
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
ALTER TABLE environment_lifecycle_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_lifecycle_events FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_lifecycle_events_tenant_isolation ON environment_lifecycle_events
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
