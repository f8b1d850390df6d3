-- Projects group environments (Genesis's projects). Numbered from the same sequence as the
-- other rows dialect clients address by number.
CREATE TABLE projects (
    id uuid PRIMARY KEY,
    number bigint NOT NULL DEFAULT nextval('entity_numbers'),
    tenant_id uuid NOT NULL,
    name text NOT NULL,
    description text,
    project_manager text NOT NULL,
    creator text NOT NULL,
    version bigint NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT projects_number_key UNIQUE (number),
    -- The target of environments' composite key: a project of the environment's own tenant.
    CONSTRAINT projects_tenant_id_id_key UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX projects_tenant_id_lower_name_key ON projects (tenant_id, lower(name));

ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
ALTER TABLE projects FORCE ROW LEVEL SECURITY;
CREATE POLICY projects_tenant_isolation ON projects
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- An environment may belong to a project of its own organization.
ALTER TABLE environments ADD COLUMN project_id uuid;
ALTER TABLE environments ADD CONSTRAINT environments_project_id_fkey
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, id);
CREATE INDEX environments_project_id ON environments (project_id) WHERE project_id IS NOT NULL;
