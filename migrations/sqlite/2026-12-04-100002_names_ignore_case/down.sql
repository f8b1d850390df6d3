ALTER TABLE target_groups DROP COLUMN is_active;
ALTER TABLE target_groups DROP COLUMN display_name;
DROP INDEX target_groups_tenant_id_lower_name_key;
DROP INDEX environments_tenant_id_lower_name_key;
