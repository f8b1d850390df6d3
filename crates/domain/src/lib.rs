//! terrane's pure model: entities, value objects, validation and policies.
//!
//! Nothing here performs I/O, reads a clock or names a framework: times come in as arguments,
//! and every value type that can be invalid is built through a `parse` that either returns a
//! valid value or says which field is wrong and why. Teams embed this crate on its own.

#[macro_use]
mod wire;

pub mod agent;
pub mod auth;
pub mod component;
pub mod deployment;
pub mod drift;
pub mod environment;
pub mod error;
pub mod freeze;
pub mod health;
pub mod ids;
pub mod page;
pub mod release;
pub mod request;
pub mod service_account;
pub mod target;
pub mod target_group;
pub mod time;

pub use agent::{
    Agent, AgentId, Inventory, InventoryComponent, NewAgent, TargetReport, AGENT_TOKEN_PREFIX,
};
pub use auth::{Actor, Permission, Role};
pub use component::{
    Component, ComponentChanges, ComponentFilter, ComponentInput, ComponentKind,
    ComponentLifecycle, ComponentName, NewComponent,
};
pub use deployment::Digest;
pub use deployment::{
    CommitSha, Deployment, DeploymentInput, DeploymentStatus, GateKind, GateResult, HistoryEntry,
    NewDeployment, PromotionEvidence, TransitionError, TransitionInput, Version,
};
pub use drift::{differences, Difference, ExpectedComponent};
pub use environment::{
    Environment, EnvironmentChanges, EnvironmentConfig, EnvironmentFilter, EnvironmentInput,
    EnvironmentName, EnvironmentSort, EnvironmentSortField, EnvironmentStatus, NewEnvironment,
    PromotionPolicy,
};
pub use error::{FieldError, ValidationErrors};
pub use freeze::{
    BlockingWindow, FreezePolicy, FreezeWindow, FreezeWindowInput, Frozen, NewFreezeWindow,
};
pub use health::{AddressPolicy, Cidr, HealthCheck, HealthCheckId, ProbeOutcome};
pub use ids::EnvironmentRequestId;
pub use ids::{
    AssignmentId, ComponentId, EnvironmentId, FreezeWindowId, TargetGroupId, TargetId, TenantId,
    UserId,
};
pub use ids::{AssignmentNumber, EnvironmentNumber, TargetGroupNumber};
pub use page::Page;
pub use release::{NewRelease, Release, ReleaseComponent, ReleaseComponentInput, ReleaseInput};
pub use request::{
    EnvironmentRequest, EnvironmentTier, EnvironmentType, InvalidRequestTransition,
    NewEnvironmentRequest, NotPending, RequestError, RequestFilter, RequestHistoryEntry,
    RequestInput, RequestPatch, RequestStatus, TtlPolicy,
};
pub use service_account::{
    NewServiceAccount, ServiceAccount, ServiceAccountId, SERVICE_ACCOUNT_LOGIN_PREFIX,
    SERVICE_ACCOUNT_SECRET_PREFIX,
};
pub use target::{
    Connection, HealthStatus, LabelSelector, Labels, NewTarget, Target, TargetChanges,
    TargetFilter, TargetInput, TargetName, TargetType,
};
pub use target_group::{
    Assignment, AssignmentChange, AssignmentInput, AssignmentMode, AssignmentRequest,
    NewTargetGroup, TargetGroup, TargetGroupChanges, TargetGroupFilter, TargetGroupInput,
    TargetGroupName,
};
