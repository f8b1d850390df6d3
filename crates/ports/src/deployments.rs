//! The deployment ledger and releases: driven (repository) and driving (service) ports.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, ComponentId, Deployment, DeploymentInput, DeploymentStatus, Environment, EnvironmentId,
    FreezeWindow, GateResult, HistoryEntry, Page, PromotionEvidence, Release, ReleaseInput,
    TenantId, TransitionInput, UserId,
};
use uuid::Uuid;

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
    pub release_id: Option<Uuid>,
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
    pub deployment_id: Uuid,
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
    pub id: Uuid,
}

/// What the gates of starting a deployment look at, read from the ledger at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct GateInputs {
    /// The deployment's environment.
    pub environment: Environment,
    /// Its freeze windows active at the moment asked about.
    pub active_windows: Vec<FreezeWindow>,
    /// Who approved the deployment in its current round; left empty when the environment
    /// requires no approvals.
    pub approvers: Vec<UserId>,
    /// What the promotion gate needs; [`PromotionEvidence::FirstEnvironment`] when the
    /// environment's promotion policy is not sequential.
    pub promotion: PromotionEvidence,
}

/// Reads the gate inputs of the deployment being moved, in the unit of work that moves it.
pub trait GateSource {
    /// The gate inputs as they stand at the moment the transition is decided (the `now` of
    /// [`DeploymentRepository::transition`]).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    fn gate_inputs(&mut self) -> Result<GateInputs, StoreError>;
}

/// Works out a transition from the deployment as stored: the next state and its history
/// entry, or why not. It asks `GateSource` for the gate inputs only when it needs them.
///
/// The store may ask twice: first about the deployment as this process last wrote it, and,
/// when that copy turns out stale (the compare-and-set misses) or the answer is a refusal,
/// again about the deployment as read from the database. Only the answer about what is
/// stored is ever written or returned.
pub type Decide = Box<
    dyn Fn(&Deployment, &mut dyn GateSource) -> Result<(Deployment, HistoryEntry), ServiceError>
        + Send,
>;

/// Why [`DeploymentRepository::transition`] wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionFailure {
    /// The store failed, or the deployment is gone, or another change won the
    /// compare-and-set ([`StoreError::VersionMismatch`]).
    Store(StoreError),
    /// The decision refused the transition.
    Refused(ServiceError),
}

/// Where the deployment ledger lives. Every method but [`DeploymentRepository::fail_timed_out`]
/// is scoped to one tenant.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeploymentRepository: Send + Sync {
    /// Stores new pending deployments (all of them or none, in one transaction), each with
    /// a history row from nothing to `pending` by its author.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] naming `environmentId`, `componentId` or `releaseId`
    /// when the tenant has no such row; [`StoreError::Conflict`] saying why when the
    /// environment is destroyed or inactive.
    async fn create(
        &self,
        tenant: TenantId,
        deployments: Vec<Deployment>,
    ) -> Result<Vec<Deployment>, StoreError>;

    /// One deployment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Deployment, StoreError>;

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

    /// Moves deployment `id` in one unit of work: reads it, lets `decide` work out the next
    /// state from it (with the gate inputs as they stand at `now`, if it asks), and writes
    /// that as one compare-and-set on the stored revision and status, with its history entry
    /// and the table of latest succeeded deployments brought up to date: entering
    /// `succeeded` makes it the latest of its component and environment unless a later
    /// success is there; leaving `succeeded` for `rolled_back` puts back the previous
    /// succeeded deployment (or nothing). Of N concurrent calls, each deciding from the same
    /// revision, exactly one writes.
    ///
    /// # Errors
    /// [`TransitionFailure::Refused`] with what `decide` answered (nothing is written);
    /// [`TransitionFailure::Store`] with [`StoreError::NotFound`] when the tenant has no such
    /// deployment, or [`StoreError::VersionMismatch`] when another change was written between
    /// the read and the write.
    async fn transition(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        decide: Decide,
    ) -> Result<Deployment, TransitionFailure>;

    /// A deployment and its gate inputs at `now`, read in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn gate_inputs(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Deployment, GateInputs), StoreError>;

    /// The history of a deployment, oldest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn history(&self, tenant: TenantId, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Records `approver`'s approval of a pending deployment in its current round.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Conflict`] when the deployment is not pending
    /// or the approver already approved in this round.
    async fn approve(
        &self,
        tenant: TenantId,
        id: Uuid,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError>;

    /// Every approval of a deployment, of every round, oldest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no deployment with that id.
    async fn approvals(&self, tenant: TenantId, id: Uuid) -> Result<Vec<Approval>, StoreError>;

    /// Fails, across every tenant, up to `limit` deployments that have been `in_progress`
    /// longer than their environment's deployment timeout at `now`, each with a history row
    /// without actor and the reason `timed out`. Each deployment is failed exactly once
    /// however many processes sweep at the same time: rows another sweeper holds are skipped.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn fail_timed_out(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimedOut>, StoreError>;
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
    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Release, StoreError>;

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
    async fn get(&self, actor: &Actor, id: Uuid) -> Result<Deployment, ServiceError>;

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
        id: Uuid,
        expected_version: Option<i64>,
        input: TransitionInput,
    ) -> Result<Deployment, ServiceError>;

    /// The history of a deployment, oldest first (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn history(&self, actor: &Actor, id: Uuid) -> Result<Vec<HistoryEntry>, ServiceError>;

    /// Approves a pending deployment (admin or deployer).
    ///
    /// # Errors
    /// `Forbidden` without the role, or for the deployment's author when the environment
    /// requires separation of duties; `NotFound`; `Conflict` when it is not pending or the
    /// actor already approved it in this round.
    async fn approve(
        &self,
        actor: &Actor,
        id: Uuid,
        comment: Option<String>,
    ) -> Result<Approval, ServiceError>;

    /// Every approval of a deployment (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn approvals(&self, actor: &Actor, id: Uuid) -> Result<Vec<Approval>, ServiceError>;

    /// Every gate of leaving `pending` for `in_progress`, as they stand now for the actor,
    /// changing nothing (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn gates(&self, actor: &Actor, id: Uuid) -> Result<Vec<GateResult>, ServiceError>;

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
    async fn get(&self, actor: &Actor, id: Uuid) -> Result<Release, ServiceError>;

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
        id: Uuid,
        environment: EnvironmentId,
    ) -> Result<Vec<Deployment>, ServiceError>;
}
