//! The ports of the environment lifecycle: templates, runs, their executor, and the services
//! the HTTP adapter calls.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use terrane_domain::{
    Actor, Environment, EnvironmentId, EnvironmentInput, EnvironmentLifecycle, EnvironmentStatus,
    Executables, LifecycleAction, LifecycleEvent, NewEnvironment, Page, Run, RunId, StepOutcome,
    Template, TemplateId, TemplateInput, TenantId, Variables,
};
use uuid::Uuid;

/// A replica's hold on a run: while `until` has not passed, no other replica takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The replica (an id it drew at start).
    pub owner: Uuid,
    /// When the hold ends unless renewed.
    pub until: DateTime<Utc>,
}

/// A run this replica claimed, with the environment it runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedRun {
    /// As stored: `requested` (to start) or `running` with an expired lease (its replica
    /// stopped).
    pub run: Run,
    /// Its environment.
    pub environment: Environment,
    /// The lease this replica now holds.
    pub lease: Lease,
}

/// What a replica running a run learns when it renews its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSignal {
    /// Keep going.
    Continue,
    /// Someone asked to cancel it: stop the running step and record the run canceled.
    Cancel,
    /// The lease is gone (another replica took the run over, or it was deleted): stop at
    /// once and record nothing.
    Lost,
}

/// How an environment is born: with its template, the run of its create workflow and its
/// expiry, beside the environment itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Birth {
    /// The template and the variables it was created with, when born from a template.
    pub template: Option<(TemplateId, Variables)>,
    /// When it expires by itself.
    pub expires_at: Option<DateTime<Utc>>,
    /// The create workflow's run, `requested`.
    pub run: Option<Run>,
    /// The history entry of its birth.
    pub event: LifecycleEvent,
}

/// A change of an environment's status decided by an action or a run's start.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// The environment's version the decision was taken on.
    pub expected_version: i64,
    /// Its new status.
    pub status: EnvironmentStatus,
    /// A run it requests, if any.
    pub run: Option<Run>,
    /// Its history entry.
    pub event: LifecycleEvent,
}

/// Where templates live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TemplateRepository: Send + Sync {
    /// Stores a new template.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant has a template of that name and version.
    async fn create(&self, tenant: TenantId, template: Template) -> Result<Template, StoreError>;

    /// One template.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn get(&self, tenant: TenantId, id: TemplateId) -> Result<Template, StoreError>;

    /// The template of that name and version.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn find(
        &self,
        tenant: TenantId,
        name: String,
        version: String,
    ) -> Result<Template, StoreError>;

    /// A page of the tenant's templates by name then version, with the total.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Template>, u64), StoreError>;

    /// Writes `template` over the stored one of its id, as a compare-and-set on
    /// `template.version_number - 1` (and on `expected_version` when given).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`]; [`StoreError::Conflict`]
    /// when an environment uses it (it is immutable then) or the name and version are taken.
    async fn replace(
        &self,
        tenant: TenantId,
        expected_version: Option<i64>,
        template: Template,
    ) -> Result<Template, StoreError>;

    /// Deletes a template.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`]; [`StoreError::Conflict`]
    /// while an environment uses it.
    async fn delete(
        &self,
        tenant: TenantId,
        id: TemplateId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// Where environments' lifecycles, runs and their history live. Every status change bumps
/// the environment's version, so that a decision taken on an older copy (a deployment's
/// gates) fails its compare-and-set.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait LifecycleRepository: Send + Sync {
    /// Stores a new environment as [`crate::EnvironmentRepository::create`] does, with what
    /// `birth` holds (its template and variables, its expiry, its create run, its history
    /// entry), in one transaction.
    ///
    /// # Errors
    /// As [`crate::EnvironmentRepository::create`].
    async fn create_environment(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        new: NewEnvironment,
        birth: Birth,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError>;

    /// The lifecycles of those of `ids` born from a template.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn lifecycles(
        &self,
        tenant: TenantId,
        ids: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, EnvironmentLifecycle>, StoreError>;

    /// A page of the environment's runs, newest first, with the total.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn runs(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<Run>, u64), StoreError>;

    /// One run of the environment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn run(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        run: RunId,
    ) -> Result<Run, StoreError>;

    /// The environment's run that is not over, if any.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn active_run(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
    ) -> Result<Option<Run>, StoreError>;

    /// Sets the environment's status, as a compare-and-set on `change.expected_version`
    /// (bumping it), stores `change.run` (a new requested run) and appends `change.event`,
    /// in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when it changed meanwhile.
    async fn change_status(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError>;

    /// Saves a run that no replica holds (a requested run canceled before it started), as
    /// a compare-and-set on its stored status being `requested` with no live lease, with
    /// the environment's new status and `event`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when a replica took it meanwhile; [`StoreError::NotFound`].
    async fn save_unclaimed(
        &self,
        tenant: TenantId,
        run: Run,
        event: LifecycleEvent,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Asks whichever replica holds `run` to cancel it (seen at its next renewal), and
    /// appends `event` (the action, with who asked).
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn request_cancel(
        &self,
        tenant: TenantId,
        run: RunId,
        event: LifecycleEvent,
    ) -> Result<(), StoreError>;

    /// Claims up to `limit` runs of every tenant for `lease`: requested runs no live lease
    /// holds, and running runs whose lease ran out. Replicas claiming at once get disjoint
    /// runs (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn claim_runs(
        &self,
        lease: Lease,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError>;

    /// Saves a run this replica holds under `lease` (renewing it), merging `attributes`
    /// into the environment's; once the run is over, also sets the environment's status
    /// (bumping its version) and appends `event`. A compare-and-set on the lease's owner.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the lease is no longer this replica's.
    async fn save_run(
        &self,
        tenant: TenantId,
        run: Run,
        lease: Lease,
        attributes: BTreeMap<String, String>,
        event: Option<LifecycleEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Renews the lease on `run` and says whether to go on.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn renew(
        &self,
        tenant: TenantId,
        run: RunId,
        lease: Lease,
    ) -> Result<RunSignal, StoreError>;

    /// Environments born from a template, `ready`, whose expiry has passed, across tenants,
    /// at most `limit`.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn expired(&self, now: DateTime<Utc>, limit: u32)
        -> Result<Vec<Environment>, StoreError>;

    /// A page of the environment's lifecycle history, newest first, with the total.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn history(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<LifecycleEvent>, u64), StoreError>;
}

/// One step to execute: an executable of the workflow directory with its input.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCommand {
    /// The executable's file name in the workflow directory.
    pub executable: String,
    /// Written to its stdin.
    pub stdin: Value,
    /// Its environment variables.
    pub vars: Vec<(String, String)>,
    /// Longest it may run.
    pub timeout: Duration,
}

/// How a step's process ended, and what its output said about the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct StepEnd {
    /// Exit status, timeout and output.
    pub outcome: StepOutcome,
    /// The `terrane:attribute KEY=VALUE` lines of its stdout.
    pub attributes: BTreeMap<String, String>,
}

/// A step's process while it runs.
#[async_trait]
pub trait RunningStep: Send {
    /// Waits until the process exits, or kills its process group at the timeout. Safe to
    /// drop and call again (it can be raced against a timer).
    async fn wait(&mut self) -> StepEnd;

    /// Kills its process group and answers once the process is gone.
    async fn kill(&mut self) -> StepEnd;
}

/// Runs workflow steps: the executables of the operator's workflow directory.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WorkflowExecutor: Send + Sync {
    /// The executables steps may name now.
    fn executables(&self) -> Executables;

    /// Starts a step in a process group of its own.
    ///
    /// # Errors
    /// Why it could not be started (no such executable, no workflow directory), for the
    /// step's output.
    async fn start(&self, command: StepCommand) -> Result<Box<dyn RunningStep>, String>;
}

/// How an environment is born beyond its fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BirthInput {
    /// The template's name and version.
    pub template: Option<(String, String)>,
    /// Values of the create workflow's variables.
    pub variables: Option<Map<String, Value>>,
    /// Minutes until it expires by itself.
    pub ttl_minutes: Option<i64>,
}

/// Managing templates.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TemplateService: Send + Sync {
    /// Creates a template (admin).
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (naming `workflows[i].steps[j].run` for a bad executable),
    /// `Conflict` for a taken name and version.
    async fn create(&self, actor: &Actor, input: TemplateInput) -> Result<Template, ServiceError>;
    /// One template (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn get(&self, actor: &Actor, id: TemplateId) -> Result<Template, ServiceError>;
    /// A page of templates (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Template>, u64), ServiceError>;
    /// Replaces a template no environment uses (admin).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Conflict` while used, `PreconditionFailed`.
    async fn replace(
        &self,
        actor: &Actor,
        id: TemplateId,
        expected_version: Option<i64>,
        input: TemplateInput,
    ) -> Result<Template, ServiceError>;
    /// Deletes a template no environment uses (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `Conflict` while used, `PreconditionFailed`.
    async fn delete(
        &self,
        actor: &Actor,
        id: TemplateId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;
}

/// Environments' workflows, runs and actions.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait LifecycleService: Send + Sync {
    /// Creates an environment (admin), from a template (then `busy`, its create workflow
    /// started) and with a time to live when `birth` says so.
    ///
    /// # Errors
    /// As [`crate::EnvironmentService::create`], and `Validation` naming `template` (unknown)
    /// or `variables.<name>` (every missing, unknown or mismatching variable), `ttlMinutes`.
    async fn create_environment(
        &self,
        actor: &Actor,
        input: EnvironmentInput,
        birth: BirthInput,
    ) -> Result<Environment, ServiceError>;
    /// The lifecycles of those of `ids` born from a template (any role).
    ///
    /// # Errors
    /// Only `Unavailable` or `Internal`.
    async fn lifecycles(
        &self,
        actor: &Actor,
        ids: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, EnvironmentLifecycle>, ServiceError>;
    /// The environment's runs, newest first (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn runs(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<Run>, u64), ServiceError>;
    /// One run (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn run(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        run: RunId,
    ) -> Result<Run, ServiceError>;
    /// The template the environment was born from, whose workflows it can run (any role);
    /// `None` for an environment with no template.
    ///
    /// # Errors
    /// `NotFound`.
    async fn template_of(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<Option<Template>, ServiceError>;
    /// Starts a run of the workflow `name` (admin or deployer), only while the environment is
    /// ready.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` (environment or workflow), `Conflict` naming the status,
    /// `Validation` naming each bad variable.
    async fn start_workflow(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        name: String,
        variables: Map<String, Value>,
    ) -> Result<Run, ServiceError>;
    /// The environment's status and the actions available now (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn actions(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
    ) -> Result<(EnvironmentStatus, Vec<LifecycleAction>), ServiceError>;
    /// Takes an action (admin or deployer); `cancel` answers once the step's process is gone.
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` (environment or action), `Conflict` naming the status and the
    /// actions available.
    async fn act(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        action: String,
    ) -> Result<Environment, ServiceError>;
    /// The environment's lifecycle history, newest first (any role).
    ///
    /// # Errors
    /// `NotFound`.
    async fn history(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<LifecycleEvent>, u64), ServiceError>;
}
