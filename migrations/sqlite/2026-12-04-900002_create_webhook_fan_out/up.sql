-- Same schema as on PostgreSQL.
CREATE TABLE webhook_fan_out (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    cursor_tx INTEGER,
    cursor_seq INTEGER
) STRICT;
INSERT INTO webhook_fan_out (id, cursor_tx, cursor_seq) VALUES (1, NULL, NULL);
