ALTER TABLE deployments RENAME COLUMN revision TO row_version;
