-- Installation-wide settings such as the generated token signing secret: not tenant data.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
