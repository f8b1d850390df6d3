-- Server-wide numbers beside the UUIDs of environments, target groups and assignments, for
-- clients that address those rows by number (FlexDeploy's environmentId, targetGroupId and
-- targetId). One sequence serves the three, so a number names one row of one kind across the
-- server, is never reused (a sequence never goes back, not even on rollback), and is kept for
-- the row's life. The store draws each number with nextval() in the transaction that inserts
-- the row; the default numbers the rows that exist already, and any row written by hand.
-- A role that is not the tables' owner needs USAGE on the sequence as well as its table
-- grants.
CREATE SEQUENCE entity_numbers AS bigint;

ALTER TABLE environments ADD COLUMN number bigint NOT NULL DEFAULT nextval('entity_numbers');
ALTER TABLE environments ADD CONSTRAINT environments_number_key UNIQUE (number);

ALTER TABLE target_groups ADD COLUMN number bigint NOT NULL DEFAULT nextval('entity_numbers');
ALTER TABLE target_groups ADD CONSTRAINT target_groups_number_key UNIQUE (number);

ALTER TABLE target_group_assignments ADD COLUMN number bigint NOT NULL DEFAULT nextval('entity_numbers');
ALTER TABLE target_group_assignments ADD CONSTRAINT target_group_assignments_number_key UNIQUE (number);
