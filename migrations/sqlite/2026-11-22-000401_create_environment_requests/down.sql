DROP INDEX environments_expires_at_idx;
ALTER TABLE environments DROP COLUMN deprovision_claimed_until;
DROP TABLE environment_request_history;
DROP TABLE environment_requests;
