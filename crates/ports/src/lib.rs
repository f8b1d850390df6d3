//! The boundary of terrane's core.
//!
//! *Driven* ports are what the core needs from the outside world (storage, a clock, ids);
//! adapters such as `terrane-store` implement them. *Driving* ports are the services an
//! inbound adapter such as `terrane-http` calls; `terrane-app` implements them over the
//! driven ports. Every method documents which error variant an implementation returns when.

pub mod agents;
pub mod audit;
pub mod deployments;
pub mod drift;
pub mod environment_requests;
pub mod error;
pub mod events;
pub mod health;
pub mod lifecycle;
pub mod projects;
pub mod repository;
pub mod service;
pub mod service_accounts;
pub mod system;
pub mod views;
pub mod webhooks;

pub use audit::{AuditRepository, AuditService};
#[cfg(feature = "mocks")]
pub use audit::{MockAuditRepository, MockAuditService};
pub use error::{ServiceError, StoreError};
pub use events::{
    act_as, acting, acting_once_known, current_actor, EventLog, EventService, FreezeWindowEdges,
};
#[cfg(feature = "mocks")]
pub use events::{MockEventLog, MockEventService, MockFreezeWindowEdges};
pub use lifecycle::{
    Birth, BirthInput, ClaimedRun, Lease, LifecycleRepository, LifecycleService, RunSignal,
    RunningStep, StatusChange, StepCommand, StepEnd, TemplateRepository, TemplateService,
    WorkflowExecutor,
};
#[cfg(feature = "mocks")]
pub use lifecycle::{
    MockLifecycleRepository, MockLifecycleService, MockTemplateRepository, MockTemplateService,
    MockWorkflowExecutor,
};
#[cfg(feature = "mocks")]
pub use projects::{MockProjectRepository, MockProjectService};
pub use projects::{ProjectRepository, ProjectService};
pub use repository::{
    ComponentRepository, EnvironmentRepository, FreezeWindowRepository, IdempotencyBegin,
    IdempotencyRepository, SettingsRepository, StoreHealth, StoredResponse,
};
pub use repository::{TargetGroupRepository, TargetRepository};
pub use service::{
    ComponentQuery, ComponentService, EnvironmentQuery, EnvironmentService, FreezeWindowService,
};
pub use service::{TargetGroupService, TargetQuery, TargetService};
#[cfg(feature = "mocks")]
pub use service_accounts::{MockServiceAccountRepository, MockServiceAccountService};
pub use service_accounts::{ServiceAccountRepository, ServiceAccountService};
pub use system::{Clock, IdSource, SystemClock, UuidV7Source};

pub use agents::{AgentRepository, AgentService, AgentStatus};
#[cfg(feature = "mocks")]
pub use agents::{MockAgentRepository, MockAgentService};
pub use deployments::{
    Approval, Consistency, DeploymentFilter, DeploymentQuery, DeploymentRepository,
    DeploymentService, EnvironmentState, InProgress, ReleaseRepository, ReleaseService, TimedOut,
    Transition, TransitionContext,
};
#[cfg(feature = "mocks")]
pub use deployments::{
    MockDeploymentRepository, MockDeploymentService, MockReleaseRepository, MockReleaseService,
};
#[cfg(feature = "mocks")]
pub use drift::MockDriftService;
pub use drift::{DriftService, TargetDrift};
pub use environment_requests::{
    EnvironmentEffect, EnvironmentRequestRepository, EnvironmentRequestService, ExpiryClaim,
    ProvisionError, Provisioner, ProvisioningQueue, RequestQuery,
};
#[cfg(feature = "mocks")]
pub use environment_requests::{
    MockEnvironmentRequestRepository, MockEnvironmentRequestService, MockProvisioner,
    MockProvisioningQueue,
};
pub use health::{DueCheck, HealthCheckRepository, HealthProber, HealthService};
#[cfg(feature = "mocks")]
pub use health::{MockHealthCheckRepository, MockHealthProber, MockHealthService};
#[cfg(feature = "mocks")]
pub use repository::{
    MockComponentRepository, MockEnvironmentRepository, MockFreezeWindowRepository,
    MockIdempotencyRepository, MockSettingsRepository, MockStoreHealth,
};
#[cfg(feature = "mocks")]
pub use repository::{MockTargetGroupRepository, MockTargetRepository};
#[cfg(feature = "mocks")]
pub use service::{MockComponentService, MockEnvironmentService, MockFreezeWindowService};
#[cfg(feature = "mocks")]
pub use service::{MockTargetGroupService, MockTargetService};
#[cfg(feature = "mocks")]
pub use system::{MockClock, MockIdSource};
pub use views::{
    CurrentRelease, DeploymentViewService, DeploymentViews, EnvironmentView, LatestDeployment,
    MatrixCell, MatrixRow, Sticker, StickerComponent,
};
#[cfg(feature = "mocks")]
pub use views::{MockDeploymentViewService, MockDeploymentViews};
pub use webhooks::{
    ClaimedDelivery, OutgoingDelivery, WebhookQueue, WebhookRepository, WebhookSender,
    WebhookService,
};
#[cfg(feature = "mocks")]
pub use webhooks::{
    MockWebhookQueue, MockWebhookRepository, MockWebhookSender, MockWebhookService,
};
