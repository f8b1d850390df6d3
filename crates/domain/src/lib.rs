//! terrane's pure model: entities, value objects, validation and policies.
//!
//! Nothing here performs I/O, reads a clock or names a framework: times come in as arguments,
//! and every value type that can be invalid is built through a `parse` that either returns a
//! valid value or says which field is wrong and why. Teams embed this crate on its own.

#[macro_use]
mod wire;

pub mod agent;
pub mod audit;
pub mod auth;
pub mod component;
pub mod deployment;
pub mod dora;
pub mod drift;
pub mod environment;
pub mod environment_request;
pub mod error;
pub mod event;
mod event_data;
pub mod freeze;
pub mod gates;
pub mod health;
pub mod ids;
pub mod lifecycle;
pub mod page;
pub mod project;
pub mod release;
pub mod service_account;
pub mod target;
pub mod target_group;
pub mod time;
pub mod version_diff;
pub mod webhook;

pub use agent::{
    Agent, AgentId, Inventory, InventoryComponent, NewAgent, TargetReport, AGENT_TOKEN_PREFIX,
};
pub use audit::{
    AuditDraft, AuditEntry, AuditEntryId, AuditFilter, AuditSubject, CanonicalJson, ChainHash,
    ChainHead, ChainVerifier, ChainedEntry, Verification,
};
pub use auth::{Actor, Permission, Role};
pub use component::{
    Component, ComponentChanges, ComponentFilter, ComponentInput, ComponentKind,
    ComponentLifecycle, ComponentName, NewComponent,
};
pub use deployment::Digest;
pub use deployment::{
    CommitSha, Deployment, DeploymentInput, DeploymentStatus, HistoryEntry, NewDeployment,
    TransitionError, TransitionInput, Version,
};
pub use dora::{measure, DoraMeasures, DoraWindow, LedgerDeployment};
pub use drift::{differences, Difference, ExpectedComponent};
pub use environment::{
    Environment, EnvironmentChanges, EnvironmentConfig, EnvironmentFilter, EnvironmentInput,
    EnvironmentName, EnvironmentSort, EnvironmentSortField, EnvironmentStatus, NewEnvironment,
    NotTakingDeployments, PromotionPolicy,
};
pub use environment_request::{
    EnvironmentRequest, EnvironmentTier, EnvironmentType, InvalidRequestTransition,
    NewEnvironmentRequest, NotPending, RequestError, RequestFilter, RequestHistoryEntry,
    RequestInput, RequestPatch, RequestStatus, TtlPolicy,
};
pub use error::{FieldError, ValidationErrors};
pub use event::{
    Change, Event, EventCursor, EventType, NewEvent, Recorded, Subject, SubjectKind, SYSTEM_ACTOR,
};
pub use freeze::{
    BlockingWindow, FreezePolicy, FreezeWindow, FreezeWindowInput, Frozen, NewFreezeWindow,
};
pub use gates::{
    evaluate_gates, first_refusal, Earlier, GateInputs, GateKind, GateNeeds, GateResult,
    PromotionEvidence,
};
pub use health::{AddressPolicy, Cidr, HealthCheck, HealthCheckId, ProbeOutcome};
pub use ids::EnvironmentRequestId;
pub use ids::{
    AssignmentId, ComponentId, DeploymentId, EnvironmentId, FreezeWindowId, ReleaseId,
    TargetGroupId, TargetId, TenantId, UserId,
};
pub use ids::{AssignmentNumber, EnvironmentNumber, TargetGroupNumber};
pub use ids::{LifecycleEventId, RunId, StepId, TemplateId};
pub use ids::{ProjectId, ProjectNumber};
pub use ids::{WebhookDeliveryId, WebhookId};
pub use lifecycle::{
    available_actions, EnvironmentLifecycle, Executables, LifecycleAction, LifecycleEvent,
    NewTemplate, NotNow, Run, RunStatus, Step, StepOutcome, StepStatus, Template, TemplateInput,
    Variables,
};
pub use page::Page;
pub use project::{NewProject, Project, ProjectInput, ProjectName};
pub use release::{NewRelease, Release, ReleaseComponent, ReleaseComponentInput, ReleaseInput};
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
pub use version_diff::{diff_versions, Comparison, DiffLine, RunningVersion};
pub use webhook::{
    delivery_body, takes, AttemptOutcome, DeliveryStatus, EventTypeFilter, NewWebhook, RetryPolicy,
    StillPending, Webhook, WebhookChanges, WebhookDelivery, WebhookInput, WebhookSecret,
    WebhookUrl,
};
