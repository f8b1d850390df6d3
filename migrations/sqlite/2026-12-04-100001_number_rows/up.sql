-- Same numbers as on PostgreSQL. SQLite has no sequence, and AUTOINCREMENT exists only for a
-- table's own rowid primary key, so the numbers come from a one-row counter the store
-- increments (UPDATE ... RETURNING) in the transaction that inserts the row. Writes to a
-- SQLite database are serialized, so the counter costs no concurrency, and a number drawn
-- in a transaction that rolls back was never seen by anyone.
CREATE TABLE entity_numbers (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last INTEGER NOT NULL
) STRICT;
INSERT INTO entity_numbers (id, last) VALUES (1, 0);

-- Number the rows that exist already: each table's rowids are unique, offset past the
-- numbers handed out so far.
ALTER TABLE environments ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE environments SET number = rowid + (SELECT last FROM entity_numbers);
UPDATE entity_numbers SET last = last + COALESCE((SELECT MAX(rowid) FROM environments), 0);
CREATE UNIQUE INDEX environments_number_key ON environments (number);

ALTER TABLE target_groups ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE target_groups SET number = rowid + (SELECT last FROM entity_numbers);
UPDATE entity_numbers SET last = last + COALESCE((SELECT MAX(rowid) FROM target_groups), 0);
CREATE UNIQUE INDEX target_groups_number_key ON target_groups (number);

ALTER TABLE target_group_assignments ADD COLUMN number INTEGER NOT NULL DEFAULT 0;
UPDATE target_group_assignments SET number = rowid + (SELECT last FROM entity_numbers);
UPDATE entity_numbers SET last = last + COALESCE((SELECT MAX(rowid) FROM target_group_assignments), 0);
CREATE UNIQUE INDEX target_group_assignments_number_key ON target_group_assignments (number);
