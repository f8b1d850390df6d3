-- Whether a window's beginning and its end have been recorded as events
-- (`freeze_window.started`, `freeze_window.ended`): the background job claims windows whose
-- time has come and whose edge is not recorded yet, with FOR UPDATE SKIP LOCKED, so each edge
-- is recorded once whatever the number of replicas. Windows already begun or ended when this
-- migration runs count as recorded (no event is made up for the past).
ALTER TABLE freeze_windows
    ADD COLUMN started_recorded boolean NOT NULL DEFAULT false,
    ADD COLUMN ended_recorded boolean NOT NULL DEFAULT false;
UPDATE freeze_windows SET started_recorded = starts_at <= now(), ended_recorded = ends_at <= now();
CREATE INDEX freeze_windows_unrecorded_start ON freeze_windows (starts_at) WHERE NOT started_recorded;
CREATE INDEX freeze_windows_unrecorded_end ON freeze_windows (ends_at) WHERE NOT ended_recorded;
