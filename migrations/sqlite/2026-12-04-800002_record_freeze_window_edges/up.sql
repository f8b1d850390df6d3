-- Same as on PostgreSQL (times are RFC 3339 text in UTC, which compare as text).
ALTER TABLE freeze_windows ADD COLUMN started_recorded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE freeze_windows ADD COLUMN ended_recorded INTEGER NOT NULL DEFAULT 0;
UPDATE freeze_windows
SET started_recorded = starts_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    ended_recorded = ends_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now');
CREATE INDEX freeze_windows_unrecorded_start ON freeze_windows (starts_at) WHERE started_recorded = 0;
CREATE INDEX freeze_windows_unrecorded_end ON freeze_windows (ends_at) WHERE ended_recorded = 0;
