//! Read models over the deployment ledger: the matrix, the latest deployments of a component,
//! the current release of environments and the version sticker of a target.
//!
//! They are answered from the table of latest succeeded deployments (one row per component
//! and environment, kept up to date by the ledger in the transaction of every transition), so
//! their cost does not grow with the number of deployments.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use terrane_domain::{
    Actor, Assignment, ComponentId, DiffLine, DoraMeasures, Environment, EnvironmentId,
    EnvironmentLifecycle, FreezeWindow, LedgerDeployment, RunningVersion, TargetId, TenantId,
};
use uuid::Uuid;

/// What runs of one component in one environment: the latest succeeded deployment there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixCell {
    /// The environment.
    pub environment_id: EnvironmentId,
    /// Its name, the key of the matrix row.
    pub environment_name: String,
    /// The version deployed.
    pub version: String,
    /// When that deployment succeeded.
    pub deployed_at: DateTime<Utc>,
}

/// One row of the deployment matrix: a component and what runs of it in each environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The component.
    pub component_id: ComponentId,
    /// Its name.
    pub component_name: String,
    /// One cell per active, non-destroyed environment it was deployed to, ordered by the
    /// environments' order index and then name; empty when it runs nowhere.
    pub environments: Vec<MatrixCell>,
}

/// The latest succeeded deployment of a component in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestDeployment {
    /// The deployment.
    pub deployment_id: Uuid,
    /// The component deployed.
    pub component_id: ComponentId,
    /// Where.
    pub environment_id: EnvironmentId,
    /// The environment's name.
    pub environment_name: String,
    /// The release the deployment belongs to, if any.
    pub release_id: Option<Uuid>,
    /// The version deployed.
    pub version: String,
    /// The image digest, when it was recorded.
    pub digest: Option<String>,
    /// Who or what deployed it.
    pub deployed_by: String,
    /// When it succeeded.
    pub deployed_at: DateTime<Utc>,
}

/// The release an environment runs: the release of its latest succeeded deployment that
/// belongs to one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentRelease {
    /// The release.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// When that deployment succeeded.
    pub deployed_at: DateTime<Utc>,
}

/// An environment as it is shown: its fields with what the rest of the inventory says about
/// it, all read at once (one snapshot), so a `GET` costs one round trip to the database.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentView {
    /// The environment.
    pub environment: Environment,
    /// Its target group assignments, ordered by group name, then id.
    pub assignments: Vec<Assignment>,
    /// Freeze windows ordered by start, then id. From
    /// [`EnvironmentRepository`](crate::EnvironmentRepository): those that had not ended at
    /// the time given (some may not have started); from
    /// [`EnvironmentService`](crate::EnvironmentService): exactly those active now, as
    /// [`FreezeWindow::is_active`] decides.
    pub freeze_windows: Vec<FreezeWindow>,
    /// The release it runs (see [`CurrentRelease`]), when asked for and when it runs one.
    pub current_release: Option<CurrentRelease>,
    /// The template it was born from, its variables and attributes, when it has one.
    pub lifecycle: Option<EnvironmentLifecycle>,
}

impl EnvironmentView {
    /// The view of an environment just created without target groups or a template: nothing
    /// is assigned to it, frozen on it, deployed to it or born with it yet.
    pub fn new_born(environment: Environment) -> Self {
        Self {
            environment,
            assignments: Vec::new(),
            freeze_windows: Vec::new(),
            current_release: None,
            lifecycle: None,
        }
    }
}

/// One component on a version sticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickerComponent {
    /// The component.
    pub component_id: ComponentId,
    /// Its name.
    pub component_name: String,
    /// The image digest of its latest succeeded deployment, when recorded.
    pub digest: Option<String>,
}

/// What a target's environment runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sticker {
    /// The environment's current release; `None` when no deployment there belongs to a
    /// release (the components are then every component deployed there).
    pub release: Option<(Uuid, String)>,
    /// The components of the current release running there (of their latest succeeded
    /// deployments), ordered by name.
    pub components: Vec<StickerComponent>,
    /// The latest time one of them succeeded.
    pub deployed_at: DateTime<Utc>,
    /// Who deployed that latest one.
    pub deployed_by: String,
}

/// Where the read models come from.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeploymentViews: Send + Sync {
    /// Every component of the tenant ordered by name (byte-wise) and then id, each with the
    /// latest succeeded deployment in every active environment whose status is not
    /// `destroyed`; in a fixed number of queries, whatever the number of deployments.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn matrix(&self, tenant: TenantId) -> Result<Vec<MatrixRow>, StoreError>;

    /// The matrix as it was at `at`: in every cell (of the components and environments
    /// [`Self::matrix`] shows now), the deployment that was the latest succeeded one then,
    /// rollbacks included (a deployment rolled back by `at` no longer counts). One index
    /// probe per cell, whatever the size of the ledger.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn matrix_as_of(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
    ) -> Result<Vec<MatrixRow>, StoreError>;

    /// What runs in `environment`: the latest succeeded deployment of each component there,
    /// with the component's name.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn running_versions(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
    ) -> Result<Vec<RunningVersion>, StoreError>;

    /// The deployments recorded into `environment` from `from` (included) to `to`
    /// (excluded), each with its status changes before `to`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn ledger_between(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerDeployment>, StoreError>;

    /// The latest succeeded deployment of `component` in each active, non-destroyed
    /// environment it was deployed to, ordered by the environments' order index and name.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such component.
    async fn latest(
        &self,
        tenant: TenantId,
        component: ComponentId,
    ) -> Result<Vec<LatestDeployment>, StoreError>;

    /// The current release of each of `environments`, in one query whatever their number.
    /// Environments that run no release (or are unknown to the tenant) have no entry.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn current_releases(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, CurrentRelease>, StoreError>;

    /// The sticker of `target`'s environment, or `None` when nothing ever succeeded there
    /// (or everything that did was rolled back).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such target.
    async fn sticker(
        &self,
        tenant: TenantId,
        target: TargetId,
    ) -> Result<Option<Sticker>, StoreError>;
}

/// Reading what is deployed where.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait DeploymentViewService: Send + Sync {
    /// The deployment matrix (any role); see [`DeploymentViews::matrix`].
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn matrix(&self, actor: &Actor) -> Result<Vec<MatrixRow>, ServiceError>;

    /// The matrix as it was at `at` (any role); see [`DeploymentViews::matrix_as_of`].
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn matrix_as_of(
        &self,
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Vec<MatrixRow>, ServiceError>;

    /// What runs in `environment` against what runs in `against` (any role), ordered so
    /// that what `environment` has and `against` lacks reads first.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `NotFound` when the actor's tenant has no
    /// such environment (either of them).
    async fn diff(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        against: EnvironmentId,
    ) -> Result<Vec<DiffLine>, ServiceError>;

    /// The DORA measures of `environment` over the window `from`..`to` (any role); `to`
    /// defaults to now and `from` to 30 days before `to`.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `Validation` naming `from` for a window that is
    /// backwards or longer than a year; `NotFound` when the actor's tenant has no such
    /// environment.
    async fn dora(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<DoraMeasures, ServiceError>;

    /// The latest succeeded deployment of a component per environment (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `NotFound` when the actor's tenant has no such
    /// component.
    async fn latest(
        &self,
        actor: &Actor,
        component: ComponentId,
    ) -> Result<Vec<LatestDeployment>, ServiceError>;

    /// The current release of each of `environments` (any role), loaded at once for a page
    /// of environments. Environments that run no release have no entry.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn current_releases(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, CurrentRelease>, ServiceError>;

    /// The version sticker of a target (any role): `None` when nothing runs in its
    /// environment.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `NotFound` when the actor's tenant has no such
    /// target.
    async fn sticker(
        &self,
        actor: &Actor,
        target: TargetId,
    ) -> Result<Option<Sticker>, ServiceError>;
}
