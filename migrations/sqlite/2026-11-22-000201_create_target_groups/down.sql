DROP TABLE target_group_assignments;
DROP TABLE target_groups;
