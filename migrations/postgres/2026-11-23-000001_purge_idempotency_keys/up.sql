-- Answers kept for Idempotency-Key retries are purged once they are past replaying: the
-- purge looks them up by age, across tenants, as background work (terrane.system = 'on',
-- set by its own transaction only, as for the stuck-deployment sweep).
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE POLICY idempotency_keys_system ON idempotency_keys
    USING (current_setting('terrane.system', true) = 'on')
    WITH CHECK (current_setting('terrane.system', true) = 'on');
