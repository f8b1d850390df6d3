DROP INDEX freeze_windows_unrecorded_end;
DROP INDEX freeze_windows_unrecorded_start;
ALTER TABLE freeze_windows DROP COLUMN ended_recorded, DROP COLUMN started_recorded;
