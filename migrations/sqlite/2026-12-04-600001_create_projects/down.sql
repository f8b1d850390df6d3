DROP INDEX environments_project_id;
ALTER TABLE environments DROP COLUMN project_id;
DROP TABLE projects;
