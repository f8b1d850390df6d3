DROP TRIGGER deployments_count_delete ON deployments;
DROP TRIGGER deployments_count_update ON deployments;
DROP TRIGGER deployments_count_insert ON deployments;
DROP FUNCTION deployment_counts_delete();
DROP FUNCTION deployment_counts_update();
DROP FUNCTION deployment_counts_insert();
DROP TABLE deployment_counts;
