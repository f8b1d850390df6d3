DROP INDEX target_group_assignments_number_key;
ALTER TABLE target_group_assignments DROP COLUMN number;
DROP INDEX target_groups_number_key;
ALTER TABLE target_groups DROP COLUMN number;
DROP INDEX environments_number_key;
ALTER TABLE environments DROP COLUMN number;
DROP TABLE entity_numbers;
