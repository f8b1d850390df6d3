-- Environment and target group names keep their case (FlexDeploy codes such as ENV1) and are
-- unique ignoring it. Before this, environment names were lowercase only, so no existing
-- pair of them can clash.
ALTER TABLE environments DROP CONSTRAINT environments_tenant_id_name_key;
CREATE UNIQUE INDEX environments_tenant_id_lower_name_key ON environments (tenant_id, lower(name));
ALTER TABLE target_groups DROP CONSTRAINT target_groups_tenant_id_name_key;
CREATE UNIQUE INDEX target_groups_tenant_id_lower_name_key ON target_groups (tenant_id, lower(name));

-- What people read (FlexDeploy's targetGroupName), and whether the group is in use.
ALTER TABLE target_groups ADD COLUMN display_name text;
UPDATE target_groups SET display_name = name;
ALTER TABLE target_groups ALTER COLUMN display_name SET NOT NULL;
ALTER TABLE target_groups ADD COLUMN is_active boolean NOT NULL DEFAULT true;
ALTER TABLE target_groups ALTER COLUMN is_active DROP DEFAULT;

-- An open request holds the name of the environment it will make: ignoring case too.
DROP INDEX environment_requests_open_name_key;
CREATE UNIQUE INDEX environment_requests_open_name_key ON environment_requests (tenant_id, lower(name))
    WHERE status IN ('pending', 'approved', 'provisioning', 'active', 'failed');
