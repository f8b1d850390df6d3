DROP POLICY environments_deployment_sweep ON environments;
DROP TABLE latest_deployments;
DROP TABLE deployment_approvals;
DROP TABLE deployment_history;
DROP TABLE deployments;
DROP TABLE release_components;
DROP TABLE releases;
