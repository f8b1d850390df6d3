-- Answers kept for Idempotency-Key retries are purged once they are past replaying; the
-- purge looks them up by age.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
