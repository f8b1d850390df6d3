DROP TABLE webhook_fan_out;
