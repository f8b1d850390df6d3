CREATE TABLE idempotency_keys (
    tenant_id TEXT NOT NULL,
    key TEXT NOT NULL,
    -- Method, path and body hash of the request that claimed the key.
    fingerprint TEXT NOT NULL,
    -- NULL while that request runs; then the answer to replay.
    status INTEGER,
    headers TEXT,
    body TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, key)
) STRICT;
