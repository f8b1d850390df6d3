//! Driven storage ports. Every method is scoped to one tenant: an adapter must never return or
//! touch a row of another tenant, and reports such a row as [`StoreError::NotFound`].

use crate::error::StoreError;
use crate::views::EnvironmentView;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use terrane_domain::{
    Assignment, NewTarget, NewTargetGroup, Target, TargetChanges, TargetFilter, TargetGroup,
    TargetGroupChanges, TargetGroupFilter, TargetGroupId, TargetId,
};
use terrane_domain::{
    Component, ComponentChanges, ComponentFilter, ComponentId, Environment, EnvironmentChanges,
    EnvironmentFilter, EnvironmentId, EnvironmentSort, FreezeWindow, FreezeWindowId, NewComponent,
    NewEnvironment, NewFreezeWindow, Page, TenantId, UserId,
};

/// Where environments live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnvironmentRepository: Send + Sync {
    /// Stores a new environment with `id`, `version` 1 and both timestamps `now`. When
    /// `new.order_index` is `None`, it takes one more than the highest index the tenant has
    /// given an environment (0 for the first), claimed in the same statement as the insert:
    /// racing creates get distinct, consecutive indexes, and none waits on another for
    /// longer than that statement. The target groups of
    /// `new.target_groups` are assigned to it in that transaction too.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant already has an environment of that name;
    /// [`StoreError::MissingReference`] naming `targetGroups[i].targetGroupId` for the first
    /// listed group the tenant does not have (and then nothing is stored).
    async fn create(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        new: NewEnvironment,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError>;

    /// One environment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no environment with that id.
    async fn get(&self, tenant: TenantId, id: EnvironmentId) -> Result<Environment, StoreError>;

    /// A page of the tenant's environments matching `filter`, sorted by `sort` and then by name
    /// and id so pages are stable, with the number of all matching rows.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: EnvironmentFilter,
        sort: EnvironmentSort,
        page: Page,
    ) -> Result<(Vec<Environment>, u64), StoreError>;

    /// One environment as it is shown (see [`EnvironmentView`]), read in one snapshot: on
    /// PostgreSQL in one statement. Its freeze windows are those that had not ended at `now`
    /// (`end > now`); which of them are active is for the caller to decide.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no environment with that id.
    async fn view(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentView, StoreError>;

    /// The page [`EnvironmentRepository::list`] answers, each environment as it is shown (as
    /// for [`EnvironmentRepository::view`], with its current release only when
    /// `with_release`), with the number of all matching rows, read in one snapshot: on
    /// PostgreSQL in one statement whatever the size of the page (two, in one transaction,
    /// when the page is past the end).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn view_page(
        &self,
        tenant: TenantId,
        filter: EnvironmentFilter,
        sort: EnvironmentSort,
        page: Page,
        with_release: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<EnvironmentView>, u64), StoreError>;

    /// Applies `changes` (see [`Environment::apply`]) as one compare-and-set: of two updates
    /// expecting the same version, exactly one succeeds. Without an expected version,
    /// concurrent updates apply one after the other and all succeed. `changes.assignments`
    /// is applied in the same transaction: [`AssignmentMode::Replace`] leaves the environment
    /// assigned to exactly the listed groups, [`AssignmentMode::Add`] assigns the missing
    /// ones; both set `is_active` where a request gives it.
    ///
    /// [`AssignmentMode::Replace`]: terrane_domain::AssignmentMode::Replace
    /// [`AssignmentMode::Add`]: terrane_domain::AssignmentMode::Add
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when `expected_version` is
    /// given and is not the stored version (also when a concurrent update got there first);
    /// [`StoreError::Conflict`] when the new name is taken, or naming the targets of a group
    /// that would be unassigned while it still has targets in the environment;
    /// [`StoreError::MissingReference`] naming `targetGroups[i].targetGroupId` for a listed
    /// group the tenant does not have. Nothing changes on any error.
    async fn update(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        expected_version: Option<i64>,
        changes: EnvironmentChanges,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError>;

    /// Deletes an environment and everything that belongs only to it, in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] as for `update`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// A response kept for an `Idempotency-Key`, replayed to retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status code.
    pub status: u16,
    /// Headers worth replaying (Location, ETag, Content-Type).
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: String,
}

/// What happened when a request claimed an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key was free (or its record had expired) and is now held by this request, which
    /// must `complete` or `abandon` it.
    Started,
    /// A request with the same key and the same fingerprint already completed: answer this.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// A request with this key is still running.
    InProgress,
}

/// Remembers the first answer to each `Idempotency-Key`, per tenant.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait IdempotencyRepository: Send + Sync {
    /// Claims `key` for a request identified by `fingerprint` (method, path, body hash).
    /// Records older than `expires_before` count as absent and are replaced. Of two requests
    /// racing for one key, exactly one gets [`IdempotencyBegin::Started`].
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn begin(
        &self,
        tenant: TenantId,
        key: String,
        fingerprint: String,
        now: DateTime<Utc>,
        expires_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, StoreError>;

    /// Stores the answer for a key this request holds.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn complete(
        &self,
        tenant: TenantId,
        key: String,
        response: StoredResponse,
    ) -> Result<(), StoreError>;

    /// Releases a key whose request failed without a definite answer, so a retry runs again.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn abandon(&self, tenant: TenantId, key: String) -> Result<(), StoreError>;

    /// Deletes at most `limit` records, of every tenant, claimed before `expires_before`
    /// (which [`IdempotencyRepository::begin`] counts as absent already), oldest first, and
    /// answers how many it deleted. Several replicas purging at once delete each record once.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn purge(&self, expires_before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
}

/// Installation-wide settings (not tenant data), such as the generated signing secret.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SettingsRepository: Send + Sync {
    /// The value stored under `key`; when there is none, stores `candidate` and returns it. Of
    /// two processes racing, both end up with the same stored value.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn get_or_insert(&self, key: String, candidate: String) -> Result<String, StoreError>;
}

/// Whether storage can serve.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// Succeeds when the database answers and every migration is applied.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] with the reason otherwise.
    async fn ready(&self) -> Result<(), StoreError>;
}

/// Where the component catalog lives.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ComponentRepository: Send + Sync {
    /// Stores a new component with `id`, `version` 1 and both timestamps `now`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] naming the name when the tenant already has a component of
    /// that name.
    async fn create(
        &self,
        tenant: TenantId,
        id: ComponentId,
        new: NewComponent,
        now: DateTime<Utc>,
    ) -> Result<Component, StoreError>;

    /// One component.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no component with that id.
    async fn get(&self, tenant: TenantId, id: ComponentId) -> Result<Component, StoreError>;

    /// A page of the tenant's components matching `filter`, sorted by name (byte-wise) and
    /// then id, with the number of all matching rows.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: ComponentFilter,
        page: Page,
    ) -> Result<(Vec<Component>, u64), StoreError>;

    /// Applies `changes` (see [`Component::apply`]) as one compare-and-set, with the same
    /// guarantees as [`EnvironmentRepository::update`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when `expected_version` is
    /// given and is not the stored version; [`StoreError::Conflict`] when the new name is taken.
    async fn update(
        &self,
        tenant: TenantId,
        id: ComponentId,
        expected_version: Option<i64>,
        changes: ComponentChanges,
        now: DateTime<Utc>,
    ) -> Result<Component, StoreError>;

    /// Deletes a component.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] as for `update`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: ComponentId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
}

/// Where freeze windows live. A window belongs to one environment and goes when it goes.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FreezeWindowRepository: Send + Sync {
    /// Stores `new` as window `id` of `environment`, created by `created_by` at `now`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment (also when it is
    /// deleted concurrently).
    async fn create(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
        new: NewFreezeWindow,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<FreezeWindow, StoreError>;

    /// The environment's windows ordered by start, then id: all of them when `active` is
    /// `None`, those active at `now` (`start <= now < end`) when `Some(true)`, the others when
    /// `Some(false)`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment.
    async fn list(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        active: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<Vec<FreezeWindow>, StoreError>;

    /// One window of the environment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the environment has no such window in the tenant.
    async fn get(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<FreezeWindow, StoreError>;

    /// Deletes one window of the environment.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the environment has no such window in the tenant.
    async fn delete(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<(), StoreError>;

    /// The windows active at `now` of each of `environments`, ordered by start, then id, in
    /// one query whatever the number of environments. Environments without an active window
    /// (or unknown to the tenant) have no entry.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn active_for(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<EnvironmentId, Vec<FreezeWindow>>, StoreError>;
}

/// Where target groups and their assignments to environments live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TargetGroupRepository: Send + Sync {
    /// Stores a new target group with `id`, `version` 1 and both timestamps `now`, and assigns
    /// it (active) to `environment`, in one transaction. The environment's version is bumped:
    /// its representation lists its assignments, so its ETag must change with them.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such environment;
    /// [`StoreError::Conflict`] naming the name when the tenant already has a group of that
    /// name.
    async fn create_in_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: TargetGroupId,
        new: NewTargetGroup,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError>;

    /// One target group.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no group with that id.
    async fn get(&self, tenant: TenantId, id: TargetGroupId) -> Result<TargetGroup, StoreError>;

    /// Stores a new target group with `id`, `version` 1 and both timestamps `now`, assigned
    /// to no environment.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] naming the name when the tenant already has a group of that
    /// name (ignoring case).
    async fn create(
        &self,
        tenant: TenantId,
        id: TargetGroupId,
        new: NewTargetGroup,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError>;

    /// A page of the tenant's groups matching `filter`, sorted by name (byte-wise) and then
    /// id, with the number of all matching ones.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when `filter.environment` is given and the tenant has no such
    /// environment.
    async fn list(
        &self,
        tenant: TenantId,
        filter: TargetGroupFilter,
        page: Page,
    ) -> Result<(Vec<TargetGroup>, u64), StoreError>;

    /// Applies `changes` (see [`TargetGroup::apply`]) as one compare-and-set, with the same
    /// guarantees as [`EnvironmentRepository::update`].
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when `expected_version` is
    /// given and is not the stored version; [`StoreError::Conflict`] when the new name is taken.
    async fn update(
        &self,
        tenant: TenantId,
        id: TargetGroupId,
        expected_version: Option<i64>,
        changes: TargetGroupChanges,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError>;

    /// Deletes a group and its assignments in one transaction, bumping the version (and
    /// setting `updated_at` to `now`) of every environment it was assigned to.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] as for `update`;
    /// [`StoreError::Conflict`] naming the group's targets while it still has any.
    async fn delete(
        &self,
        tenant: TenantId,
        id: TargetGroupId,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The assignments of each of `environments`, ordered by group name, in one query
    /// whatever the number of environments. Environments without an assignment (or unknown
    /// to the tenant) have no entry.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn assignments_for(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, Vec<Assignment>>, StoreError>;

    /// The assignments of each of `groups`, ordered by environment order index and name, in
    /// one query. Groups without an assignment (or unknown to the tenant) have no entry.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn assignments_of_groups(
        &self,
        tenant: TenantId,
        groups: Vec<TargetGroupId>,
    ) -> Result<HashMap<TargetGroupId, Vec<Assignment>>, StoreError>;
}

/// Where targets live. A target belongs to one environment and goes when it goes.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TargetRepository: Send + Sync {
    /// Stores a new target with `id`, `version` 1, unknown health and both timestamps `now`.
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] naming `environmentId` when the tenant has no such
    /// environment, or `targetGroupId` when the group is not assigned to that environment;
    /// [`StoreError::Conflict`] naming the name when the environment already has a target of
    /// that name.
    async fn create(
        &self,
        tenant: TenantId,
        id: TargetId,
        new: NewTarget,
        now: DateTime<Utc>,
    ) -> Result<Target, StoreError>;

    /// One target.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no target with that id.
    async fn get(&self, tenant: TenantId, id: TargetId) -> Result<Target, StoreError>;

    /// A page of the tenant's targets matching every filter given, sorted by name (byte-wise)
    /// and then id, with the number of all matching rows.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: TargetFilter,
        page: Page,
    ) -> Result<(Vec<Target>, u64), StoreError>;

    /// Applies `changes` (see [`Target::apply`]) as one compare-and-set, with the same
    /// guarantees as [`EnvironmentRepository::update`]. The target's group, new or kept,
    /// must be assigned to its environment, new or kept.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when `expected_version` is
    /// given and is not the stored version; [`StoreError::MissingReference`] as for
    /// `create`; [`StoreError::Conflict`] when the new name is taken in the environment.
    async fn update(
        &self,
        tenant: TenantId,
        id: TargetId,
        expected_version: Option<i64>,
        changes: TargetChanges,
        now: DateTime<Utc>,
    ) -> Result<Target, StoreError>;

    /// Deletes a target.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] as for `update`.
    async fn delete(
        &self,
        tenant: TenantId,
        id: TargetId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;
}
