DROP TABLE target_inventories;
DROP TABLE agent_targets;
DROP TABLE agents;
