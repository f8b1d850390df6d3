-- Same schema as on PostgreSQL; the number is drawn by the insert from entity_numbers.
CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    number INTEGER NOT NULL,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    project_manager TEXT NOT NULL,
    creator TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT projects_number_key UNIQUE (number),
    CONSTRAINT projects_tenant_id_id_key UNIQUE (tenant_id, id)
) STRICT;
CREATE UNIQUE INDEX projects_tenant_id_lower_name_key ON projects (tenant_id, lower(name));

ALTER TABLE environments ADD COLUMN project_id TEXT
    REFERENCES projects (id);
CREATE INDEX environments_project_id ON environments (project_id) WHERE project_id IS NOT NULL;
