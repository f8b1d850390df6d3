DROP INDEX environment_requests_open_name_key;
CREATE UNIQUE INDEX environment_requests_open_name_key ON environment_requests (tenant_id, name)
    WHERE status IN ('pending', 'approved', 'provisioning', 'active', 'failed');
ALTER TABLE target_groups DROP COLUMN is_active;
ALTER TABLE target_groups DROP COLUMN display_name;
DROP INDEX target_groups_tenant_id_lower_name_key;
DROP INDEX environments_tenant_id_lower_name_key;
