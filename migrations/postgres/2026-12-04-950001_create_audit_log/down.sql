DROP TABLE audit_progress;
DROP TABLE audit_heads;
DROP TABLE audit_entries;
