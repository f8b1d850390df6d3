-- Same rules as on PostgreSQL. SQLite cannot drop the old case-sensitive constraints without
-- rebuilding the tables; they stay, implied by the new indexes. lower() is ASCII-only here,
-- which is all a name may hold.
CREATE UNIQUE INDEX environments_tenant_id_lower_name_key ON environments (tenant_id, lower(name));
CREATE UNIQUE INDEX target_groups_tenant_id_lower_name_key ON target_groups (tenant_id, lower(name));

ALTER TABLE target_groups ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
UPDATE target_groups SET display_name = name;
ALTER TABLE target_groups ADD COLUMN is_active INTEGER NOT NULL DEFAULT 1;

-- An open request holds the name of the environment it will make: ignoring case too.
DROP INDEX environment_requests_open_name_key;
CREATE UNIQUE INDEX environment_requests_open_name_key ON environment_requests (tenant_id, lower(name))
    WHERE status IN ('pending', 'approved', 'provisioning', 'active', 'failed');
