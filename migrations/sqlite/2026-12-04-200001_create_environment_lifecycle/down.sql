DROP TABLE environment_lifecycle_events;
DROP TABLE workflow_steps;
DROP TABLE workflow_runs;
DROP TABLE environment_lifecycles;
DROP TABLE environment_templates;
