DROP TRIGGER deployments_count_delete;
DROP TRIGGER deployments_count_update;
DROP TRIGGER deployments_count_insert;
DROP TABLE deployment_counts;
