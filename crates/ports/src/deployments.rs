//! The deployment ledger and releases: driven (repository) and driving (service) ports.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, ComponentId, Deployment, DeploymentId, DeploymentInput, DeploymentStatus, Earlier,
    Environment, EnvironmentId, FreezeWindow, GateResult, HistoryEntry, Page, Release, ReleaseId,
    ReleaseInput, TenantId, TransitionInput, UserId,
};

/// Which deployments a list returns; every filter given must match.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeploymentFilter {
    /// Of this component.
    pub component_id: Option<ComponentId>,
    /// Into this environment.
    pub environment_id: Option<EnvironmentId>,
    /// In this status.
    pub status: Option<DeploymentStatus>,
    /// Part of this release.
    pub release_id: Option<ReleaseId>,
}

/// A validated deployment list query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeploymentQuery {
    /// Which deployments.
    pub filter: DeploymentFilter,
    /// Which slice (newest first).
    pub page: Page,
}

/// One approval of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The deployment approved.
    pub deployment_id: DeploymentId,
    /// The approval round it belongs to (see [`Deployment::approval_round`]).
    pub round: u32,
    /// Who approved.
    pub approver: UserId,
    /// Why, if they said.
    pub comment: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A deployment that was failed by the stuck-deployment sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// Its tenant.
    pub tenant: TenantId,
    /// The deployment.
    pub id: DeploymentId,
}

/// Whether a read may answer with what this process last read or wrote of the rows asked
/// for. Only reads whose answer is then written with a compare-and-set on the versions read
/// may take a copy: a stale copy then writes nothing and is read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    /// A copy this process keeps will do.
    Recent,
    /// What the database holds.
    Stored,
}

/// An environment as the gates of starting a deployment see it, read at one moment: the
/// environment and its freeze windows that had not ended then. Every change to the set of
/// windows bumps the environment's version, so the version covers both.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentState {
    /// The environment.
    pub environment: Environment,
    /// Its freeze windows not yet over when read, by start.
    pub windows: Vec<FreezeWindow>,
    /// False when this is a copy this process kept ([`Consistency::Recent`]), true when it
    /// was read from the database by this call.
    pub stored: bool,
}

/// A deployment about to be moved, with the state of its environment, read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionContext {
    /// The deployment.
    pub deployment: Deployment,
    /// Its environment.
    pub environment: EnvironmentState,
    /// False when the deployment is a copy this process kept ([`Consistency::Recent`]).
    pub stored: bool,
}

/// A decided transition to write: the deployment as decided on, as it becomes, and its
/// history entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The deployment as the decision saw it: its version and status are compared and set.
    pub current: Deployment,
    /// The deployment after the move.
    pub next: Deployment,
    /// Its history entry.
    pub entry: HistoryEntry,
    /// For a decision that read the gates: the version of the environment they were decided
    /// on, which must still be stored for the write to land.
    pub environment_version: Option<i64>,
}

/// A deployment `in_progress`, with its environment's deployment timeout.
#[derive(Debug, Clone, PartialEq)]
pub struct InProgress {
    /// The deployment.
    pub deployment: Deployment,
    /// Its environment's `config.deploymentTimeout`, in seconds.
    pub timeout_seconds: u32,
}

/// Where the deployment ledger lives. Every method but [`DeploymentRepository::in_progress`]
/// is scoped to one tenant.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeploymentRepository: Send + Sync {
    /// Stores new pending deployments into one environment (all of them or none), each with
    /// a history row from nothing to `pending` by its author, only while that environment is
    /// still at `environment_version` (the version the decision to record them was taken on).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] naming `environmentId`, `componentId` or `releaseId`
    /// when the tenant has no such row; [`StoreError::VersionMismatch`] with the environment's
    /// current version when it changed.
    async fn create(
        &self,
        tenant: TenantId,
        deployments: Vec<Deployment>,
        environment_version: i64,
    ) -> Result<Vec<Deployment>, StoreError>;

    /// One deployment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn get(&self, tenant: TenantId, id: DeploymentId) -> Result<Deployment, StoreError>;

    /// A page of the tenant's deployments matching `filter`, newest first (by creation, then
    /// id), with the number of all matching rows.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: DeploymentFilter,
        page: Page,
    ) -> Result<(Vec<Deployment>, u64), StoreError>;

    /// The tenant's environment `id` with its freeze windows not over at `now`, in one read.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn environment_state(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
        consistency: Consistency,
    ) -> Result<EnvironmentState, StoreError>;

    /// The tenant's deployment `id` with the state of its environment at `now`, in one read.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn load_for_transition(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        now: DateTime<Utc>,
        consistency: Consistency,
    ) -> Result<TransitionContext, StoreError>;

    /// Who approved deployment `id` in approval round `round`, by id.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn approvers(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        round: u32,
    ) -> Result<Vec<UserId>, StoreError>;

    /// The tenant's environments whose order index is below `order_index`, each with whether
    /// `version` of `component` succeeded there: what the promotion gate picks from.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn earlier_environments(
        &self,
        tenant: TenantId,
        order_index: i32,
        component: ComponentId,
        version: String,
    ) -> Result<Vec<Earlier>, StoreError>;

    /// Writes a decided transition as one compare-and-set on the deployment's version and
    /// status (and, when given, the environment's version), with its history entry and the
    /// table of latest succeeded deployments brought up to date: entering `succeeded` makes
    /// it the latest of its component and environment unless a later success is there;
    /// leaving `succeeded` for `rolled_back` puts back the previous succeeded deployment (or
    /// nothing). Of N concurrent writes from the same version, exactly one lands.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such deployment;
    /// [`StoreError::VersionMismatch`] with the deployment's stored version when the
    /// deployment or the environment is no longer as the decision saw it.
    async fn save_transition(
        &self,
        tenant: TenantId,
        transition: Transition,
    ) -> Result<(), StoreError>;

    /// Up to `limit` deployments `in_progress` across every tenant with ids after `after`, by
    /// id, each with its environment's deployment timeout: what the stuck-deployment sweep
    /// looks through.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn in_progress(
        &self,
        after: Option<DeploymentId>,
        limit: u32,
    ) -> Result<Vec<InProgress>, StoreError>;

    /// The history of a deployment, oldest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn history(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Records `approver`'s approval of a pending deployment in its current round.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Conflict`] when the deployment is not pending
    /// or the approver already approved in this round.
    async fn approve(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError>;

    /// Every approval of a deployment, of every round, oldest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn approvals(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<Approval>, StoreError>;
}

/// Where releases live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ReleaseRepository: Send + Sync {
    /// Stores a release and its components in one transaction.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant has a release of that name;
    /// [`StoreError::MissingReference`] naming `components[i].componentId` for the first
    /// component the tenant does not have (and then nothing is stored).
    async fn create(&self, tenant: TenantId, release: Release) -> Result<Release, StoreError>;

    /// One release with its components.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no release with that id.
    async fn get(&self, tenant: TenantId, id: ReleaseId) -> Result<Release, StoreError>;

    /// A page of the tenant's releases, newest first, with the number of all of them.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Release>, u64), StoreError>;
}

/// Recording deployments and moving them through their state machine.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeploymentService: Send + Sync {
    /// Records a pending deployment (admin or deployer).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound` naming the component, environment or release
    /// that does not exist, `Conflict` when the environment is destroyed or inactive.
    async fn create(
        &self,
        actor: &Actor,
        input: DeploymentInput,
    ) -> Result<Deployment, ServiceError>;

    /// One deployment (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn get(&self, actor: &Actor, id: DeploymentId) -> Result<Deployment, ServiceError>;

    /// A page of deployments, newest first, and the total matching (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        query: DeploymentQuery,
    ) -> Result<(Vec<Deployment>, u64), ServiceError>;

    /// Moves a deployment to another status (admin or deployer); leaving `pending` for
    /// `in_progress` must pass every gate.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (also for a move the state machine refuses, naming the
    /// current status and the allowed next ones), `NotFound`, `GateRefused` for the first
    /// gate that refuses, `PreconditionFailed` when `expected_version` is stale,
    /// `Conflict` when a concurrent change won.
    async fn transition(
        &self,
        actor: &Actor,
        id: DeploymentId,
        expected_version: Option<i64>,
        input: TransitionInput,
    ) -> Result<Deployment, ServiceError>;

    /// The history of a deployment, oldest first (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn history(
        &self,
        actor: &Actor,
        id: DeploymentId,
    ) -> Result<Vec<HistoryEntry>, ServiceError>;

    /// Approves a pending deployment (admin or deployer).
    ///
    /// # Errors
    /// `Forbidden` without the role, or for the deployment's author when the environment
    /// requires separation of duties; `NotFound`; `Conflict` when it is not pending or the
    /// actor already approved it in this round.
    async fn approve(
        &self,
        actor: &Actor,
        id: DeploymentId,
        comment: Option<String>,
    ) -> Result<Approval, ServiceError>;

    /// Every approval of a deployment (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn approvals(
        &self,
        actor: &Actor,
        id: DeploymentId,
    ) -> Result<Vec<Approval>, ServiceError>;

    /// Every gate of leaving `pending` for `in_progress`, as they stand now for the actor,
    /// changing nothing (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn gates(&self, actor: &Actor, id: DeploymentId)
        -> Result<Vec<GateResult>, ServiceError>;

    /// Fails the deployments stuck `in_progress` past their environment's timeout, across
    /// tenants (the server's background sweep), up to `limit` per call.
    ///
    /// # Errors
    /// `Unavailable` or `Internal`.
    async fn sweep_timed_out(&self, limit: u32) -> Result<Vec<TimedOut>, ServiceError>;
}

/// Recording releases and deploying them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ReleaseService: Send + Sync {
    /// Records a release (admin or deployer).
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (also naming `components[i].componentId` for a component
    /// that does not exist), `Conflict` for a taken name.
    async fn create(&self, actor: &Actor, input: ReleaseInput) -> Result<Release, ServiceError>;

    /// One release (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn get(&self, actor: &Actor, id: ReleaseId) -> Result<Release, ServiceError>;

    /// A page of releases, newest first, and their total (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Release>, u64), ServiceError>;

    /// Records one pending deployment per component of the release into `environment`, all
    /// in one transaction (admin or deployer).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` for the release or the environment, `Conflict` when the
    /// environment is destroyed or inactive.
    async fn deploy(
        &self,
        actor: &Actor,
        id: ReleaseId,
        environment: EnvironmentId,
    ) -> Result<Vec<Deployment>, ServiceError>;
}
