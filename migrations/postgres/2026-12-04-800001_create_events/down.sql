DROP FUNCTION record_event(uuid, text, text, uuid, text, timestamptz, jsonb);
DROP TABLE events;
