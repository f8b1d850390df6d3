ALTER TABLE target_group_assignments DROP COLUMN number;
ALTER TABLE target_groups DROP COLUMN number;
ALTER TABLE environments DROP COLUMN number;
DROP SEQUENCE entity_numbers;
