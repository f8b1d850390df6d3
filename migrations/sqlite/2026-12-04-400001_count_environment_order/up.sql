-- Same table as on PostgreSQL; claims run as one statement in the writer's transaction (see
-- crates/store/src/environments.rs), which SQLite serializes anyway.
CREATE TABLE environment_order_counters (
    tenant_id TEXT PRIMARY KEY NOT NULL,
    highest INTEGER NOT NULL
) STRICT;
