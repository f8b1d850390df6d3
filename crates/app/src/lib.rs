//! terrane's use cases: the driving ports of `terrane-ports`, implemented over its driven ports.
//!
//! Each use case checks what the actor may do, turns raw input into validated domain values,
//! and asks the repositories to store them. Nothing here knows HTTP or SQL.

mod agents;
mod audit;
mod components;
mod deployments;
mod drift;
mod environment_requests;
mod environments;
mod events;
mod freeze_windows;
mod health;
mod lifecycle;
mod projects;
mod provisioning;
mod releases;
mod runner;
mod service_accounts;
mod target_groups;
mod targets;
mod templates;
mod views;
mod webhooks;

pub use agents::{token_hash, Agents};
pub use audit::{Audit, CHAIN_BATCH};
pub use components::Components;
pub use deployments::Deployments;
pub use drift::Drift;
pub use environment_requests::{EnvironmentRequests, RequestPorts, RequestSettings};
pub use environments::Environments;
pub use events::Events;
pub use freeze_windows::FreezeWindows;
pub use health::HealthChecks;
pub use lifecycle::{Lifecycle, LifecyclePorts};
pub use projects::Projects;
pub use provisioning::{BuiltinProvisioner, RequestJobs};
pub use releases::Releases;
pub use runner::{RunnerSettings, WorkflowRunner};
pub use service_accounts::ServiceAccounts;
pub use target_groups::TargetGroups;
pub use targets::Targets;
pub use templates::Templates;
pub use views::Views;
pub use webhooks::{DeliverySettings, WebhookDeliveries, Webhooks};

use terrane_domain::{Actor, Permission};
use terrane_ports::ServiceError;

/// Refuses an actor whose roles do not grant `permission`.
pub(crate) fn authorize(
    actor: &Actor,
    permission: Permission,
    action: &str,
) -> Result<(), ServiceError> {
    if actor.may(permission) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!(
            "{action} needs the `{}` role",
            permission.required_role()
        )))
    }
}

/// What the use-case tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use terrane_domain::{Actor, Role, TenantId, UserId};
    use uuid::Uuid;

    /// User 1 of tenant 7, with one role.
    pub(crate) fn actor(role: Role) -> Actor {
        Actor {
            user: UserId(Uuid::from_u128(1)),
            tenant: TenantId(Uuid::from_u128(7)),
            roles: vec![role],
        }
    }
}
