DROP TABLE components;
