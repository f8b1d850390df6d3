CREATE TABLE freeze_windows (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    -- A window belongs to its environment: deleting the environment deletes its windows in
    -- the same statement.
    environment_id uuid NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL,
    reason text NOT NULL,
    -- A JSON array of user ids (UUID strings) who may still deploy.
    exceptions jsonb NOT NULL CHECK (jsonb_typeof(exceptions) = 'array'),
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT freeze_windows_ends_after_start CHECK (ends_at > starts_at)
);

-- Listing an environment's windows by start, and finding the active ones of a page of
-- environments.
CREATE INDEX freeze_windows_environment_id_starts_at_idx ON freeze_windows (environment_id, starts_at);

-- Same tenant isolation as environments.
ALTER TABLE freeze_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE freeze_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY freeze_windows_tenant_isolation ON freeze_windows
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);
