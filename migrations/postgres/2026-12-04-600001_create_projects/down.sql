DROP INDEX environments_project_id;
ALTER TABLE environments DROP CONSTRAINT environments_project_id_fkey;
ALTER TABLE environments DROP COLUMN project_id;
DROP TABLE projects;
