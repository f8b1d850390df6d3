DROP TABLE freeze_windows;
