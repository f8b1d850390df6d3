DROP TRIGGER latest_deployments_timeline_delete ON latest_deployments;
DROP TRIGGER latest_deployments_timeline_update ON latest_deployments;
DROP TRIGGER latest_deployments_timeline_insert ON latest_deployments;
DROP FUNCTION deployment_timeline_gone();
DROP FUNCTION deployment_timeline_current();
DROP TABLE deployment_timeline;
