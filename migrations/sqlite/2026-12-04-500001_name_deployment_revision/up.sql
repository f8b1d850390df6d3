-- A row's revision is called revision in every crate; a deployment's `version` is its release label.
ALTER TABLE deployments RENAME COLUMN row_version TO revision;
