//! The repository ports of `terrane-ports` on the store: one module per resource. Each
//! converts rows to domain values and back, maps storage errors, and writes with the
//! constraints and compare-and-set conditions the use cases ask for; none decides a rule.

pub(crate) mod agents;
pub(crate) mod assignments;
pub(crate) mod audit;
pub(crate) mod components;
pub(crate) mod deployments;
pub(crate) mod environment_requests;
pub(crate) mod environment_views;
pub(crate) mod environments;
pub(crate) mod events;
pub(crate) mod freeze_windows;
pub(crate) mod health;
pub(crate) mod idempotency;
pub(crate) mod lifecycle;
pub(crate) mod projects;
pub(crate) mod releases;
pub(crate) mod service_accounts;
pub(crate) mod settings;
pub(crate) mod target_groups;
pub(crate) mod targets;
pub(crate) mod timeline;
pub(crate) mod views;
pub(crate) mod webhooks;
