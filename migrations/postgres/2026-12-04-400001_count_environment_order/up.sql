-- The highest order index each tenant has given an environment, so that an environment
-- created without one gets the next index without a lock held across the request: the
-- counter row is locked only by the statement that claims from it (see
-- `claim_environment_order_index`). A tenant without a row starts from its environments.
CREATE TABLE environment_order_counters (
    tenant_id uuid PRIMARY KEY,
    highest integer NOT NULL
);

ALTER TABLE environment_order_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE environment_order_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY environment_order_counters_tenant_isolation ON environment_order_counters
    USING (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid)
    WITH CHECK (tenant_id = NULLIF(current_setting('terrane.tenant_id', true), '')::uuid);

-- The order index of an environment `tenant` is about to store: `requested` when given (which
-- raises the counter to it), otherwise one more than the highest so far. Called inside the
-- statement that inserts the environment, so the claim and the row commit together, and two
-- racing claims queue on the counter row for the length of one statement and get distinct
-- values. The stored SQLite statement in crates/store/src/environments.rs does the same.
CREATE FUNCTION claim_environment_order_index(tenant uuid, requested integer)
RETURNS integer LANGUAGE sql VOLATILE AS $$
    INSERT INTO environment_order_counters AS c (tenant_id, highest)
    SELECT tenant, CASE
        WHEN requested IS NULL THEN least(coalesce(max(e.order_index), -1), 2147483646) + 1
        ELSE greatest(requested, coalesce(max(e.order_index), requested))
    END
    FROM environments e
    WHERE e.tenant_id = tenant
    ON CONFLICT (tenant_id) DO UPDATE SET highest = CASE
        WHEN requested IS NULL THEN least(c.highest, 2147483646) + 1
        ELSE greatest(c.highest, requested)
    END
    RETURNING coalesce(requested, highest)
$$;
