//! Black-box tests: the real `terrane` binary, a fresh database per test, HTTP on loopback.
//! Each test runs once on SQLite and once on PostgreSQL.

mod support;

mod auth;
mod cli;
mod components;
mod environments;
mod errors;
mod freeze_windows;
mod idempotency;
mod ops;
mod target_groups;
mod targets;
