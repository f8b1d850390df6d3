DROP FUNCTION claim_environment_order_index(uuid, integer);
DROP TABLE environment_order_counters;
