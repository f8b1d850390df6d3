DROP POLICY targets_system ON targets;
DROP INDEX targets_next_check_at_idx;
ALTER TABLE targets DROP COLUMN next_check_at;
DROP TABLE health_checks;
