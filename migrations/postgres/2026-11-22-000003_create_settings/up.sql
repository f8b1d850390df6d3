-- Installation-wide settings such as the generated token signing secret: not tenant data,
-- so no row-level security.
CREATE TABLE settings (
    key text PRIMARY KEY,
    value text NOT NULL
);
