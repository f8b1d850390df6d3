-- How far the webhook fan-out has read the event log (one row): every event up to
-- (cursor_tx, cursor_seq) has its deliveries; NULL before the first. Replicas move it with a
-- compare-and-set in the transaction that enqueues the deliveries, so each event is fanned out
-- once. It names no tenant: only system transactions touch it.
CREATE TABLE webhook_fan_out (
    id integer PRIMARY KEY CHECK (id = 1),
    cursor_tx bigint,
    cursor_seq bigint
);
INSERT INTO webhook_fan_out (id, cursor_tx, cursor_seq) VALUES (1, NULL, NULL);
