//! Black-box tests: the real `terrane` binary, a fresh database per test, HTTP on loopback.
//! Each test runs once on SQLite and once on PostgreSQL.

mod support;

mod agents;
mod audit;
mod auth;
mod browser;
mod cli;
mod components;
mod contract;
mod crash;
mod dashboard;
mod deployments;
mod drift;
mod environment_requests;
mod environments;
mod errors;
mod events;
mod flexdeploy;
mod freeze_windows;
mod genesis;
mod health;
mod idempotency;
mod isolation;
mod lifecycle;
mod lifecycle_replicas;
mod lifecycle_templates;
mod ops;
mod overload;
mod paging;
mod postgres_restart;
mod projects;
mod releases;
mod stuck_deployments;
mod target_groups;
mod targets;
mod tokens;
mod views;
mod webhooks;
