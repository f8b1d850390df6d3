//! Driving ports: the use cases an inbound adapter calls. Each takes the authenticated
//! [`Actor`]; authorization is decided behind this boundary, not in the adapter.

use crate::error::ServiceError;
use crate::views::EnvironmentView;
use async_trait::async_trait;
use std::collections::HashMap;
use terrane_domain::{
    Actor, Component, ComponentFilter, ComponentId, ComponentInput, Environment, EnvironmentFilter,
    EnvironmentId, EnvironmentInput, EnvironmentSort, FreezeWindow, FreezeWindowId,
    FreezeWindowInput, Page,
};
use terrane_domain::{
    Assignment, Target, TargetFilter, TargetGroup, TargetGroupFilter, TargetGroupId,
    TargetGroupInput, TargetId, TargetInput,
};

/// A validated environment list query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentQuery {
    /// Which environments.
    pub filter: EnvironmentFilter,
    /// In what order.
    pub sort: EnvironmentSort,
    /// Which slice.
    pub page: Page,
}

/// Managing environments.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnvironmentService: Send + Sync {
    /// Creates an environment (admin), assigned to the target groups `input` lists, and
    /// answers its view as [`EnvironmentService::view`] would. One without target groups has
    /// nothing attached yet, and is answered as written, without reading it back.
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields (also naming
    /// `targetGroups[i].targetGroupId` for a group the tenant does not have), `Conflict` for a
    /// taken name.
    async fn create(
        &self,
        actor: &Actor,
        input: EnvironmentInput,
    ) -> Result<EnvironmentView, ServiceError>;

    /// One environment (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such environment.
    async fn get(&self, actor: &Actor, id: EnvironmentId) -> Result<Environment, ServiceError>;

    /// A page of environments and the total matching (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        query: EnvironmentQuery,
    ) -> Result<(Vec<Environment>, u64), ServiceError>;

    /// One environment as it is shown (any role): with its assignments, the freeze windows
    /// active now and its current release, read in one snapshot.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `NotFound` when the actor's tenant has no such
    /// environment.
    async fn view(&self, actor: &Actor, id: EnvironmentId)
        -> Result<EnvironmentView, ServiceError>;

    /// A page of environments as they are shown (any role), each as for
    /// [`EnvironmentService::view`] but with its current release only when `with_release`,
    /// and the total matching, read in one snapshot.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn view_page(
        &self,
        actor: &Actor,
        query: EnvironmentQuery,
        with_release: bool,
    ) -> Result<(Vec<EnvironmentView>, u64), ServiceError>;

    /// Changes the fields present in `input` (admin), and its target group assignments in the
    /// same transaction.
    ///
    /// # Errors
    /// `Forbidden`, `Validation` (as for `create`), `NotFound`, `Conflict` for a taken name or
    /// for unassigning a group that still has targets in the environment (naming them),
    /// `PreconditionFailed` when `expected_version` is stale or a concurrent update won.
    async fn update(
        &self,
        actor: &Actor,
        id: EnvironmentId,
        expected_version: Option<i64>,
        input: EnvironmentInput,
    ) -> Result<Environment, ServiceError>;

    /// Deletes an environment (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `PreconditionFailed`.
    async fn delete(
        &self,
        actor: &Actor,
        id: EnvironmentId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;
}

/// A validated component list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentQuery {
    /// Which components.
    pub filter: ComponentFilter,
    /// Which slice.
    pub page: Page,
}

/// Managing the component catalog.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ComponentService: Send + Sync {
    /// Creates a component (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields, `Conflict` for a taken name.
    async fn create(&self, actor: &Actor, input: ComponentInput)
        -> Result<Component, ServiceError>;

    /// One component (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such component.
    async fn get(&self, actor: &Actor, id: ComponentId) -> Result<Component, ServiceError>;

    /// A page of components, sorted by name, and the total matching (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        query: ComponentQuery,
    ) -> Result<(Vec<Component>, u64), ServiceError>;

    /// Changes the fields present in `input` (admin).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Conflict` for a taken name, `PreconditionFailed`
    /// when `expected_version` is stale or a concurrent update won.
    async fn update(
        &self,
        actor: &Actor,
        id: ComponentId,
        expected_version: Option<i64>,
        input: ComponentInput,
    ) -> Result<Component, ServiceError>;

    /// Deletes a component (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `PreconditionFailed`.
    async fn delete(
        &self,
        actor: &Actor,
        id: ComponentId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;
}

/// Managing the freeze windows of environments.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FreezeWindowService: Send + Sync {
    /// Freezes `environment` for the window `input` describes, created by the actor (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields (`end` not after
    /// `start`, ...), `NotFound` when the actor's tenant has no such environment.
    async fn create(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        input: FreezeWindowInput,
    ) -> Result<FreezeWindow, ServiceError>;

    /// The environment's windows ordered by start: all, or with `active` only those active
    /// now (`Some(true)`) or only the others (`Some(false)`) (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such environment.
    async fn list(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        active: Option<bool>,
    ) -> Result<Vec<FreezeWindow>, ServiceError>;

    /// One window of the environment (any role).
    ///
    /// # Errors
    /// `NotFound` when the environment has no such window in the actor's tenant.
    async fn get(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<FreezeWindow, ServiceError>;

    /// Deletes one window of the environment (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound` when the environment has no such window in the actor's tenant.
    async fn delete(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<(), ServiceError>;

    /// The windows active now of each of `environments` (any role), loaded at once for a page
    /// of environments. Environments without an active window have no entry.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn active_for(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, Vec<FreezeWindow>>, ServiceError>;
}

/// Managing target groups and their assignments.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TargetGroupService: Send + Sync {
    /// Creates a target group and assigns it to `environment` (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields, `NotFound` when the
    /// actor's tenant has no such environment, `Conflict` for a taken name.
    async fn create_in_environment(
        &self,
        actor: &Actor,
        environment: EnvironmentId,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError>;

    /// One target group (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such group.
    async fn get(&self, actor: &Actor, id: TargetGroupId) -> Result<TargetGroup, ServiceError>;

    /// Creates a target group assigned to no environment (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields, `Conflict` for a taken
    /// name.
    async fn create(
        &self,
        actor: &Actor,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError>;

    /// A page of the tenant's groups matching `filter`, sorted by name, and the total (any
    /// role).
    ///
    /// # Errors
    /// `NotFound` when `filter.environment` is given and the actor's tenant has no such
    /// environment.
    async fn list(
        &self,
        actor: &Actor,
        filter: TargetGroupFilter,
        page: Page,
    ) -> Result<(Vec<TargetGroup>, u64), ServiceError>;

    /// Changes the fields present in `input` (admin).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Conflict` for a taken name, `PreconditionFailed`
    /// when `expected_version` is stale or a concurrent update won.
    async fn update(
        &self,
        actor: &Actor,
        id: TargetGroupId,
        expected_version: Option<i64>,
        input: TargetGroupInput,
    ) -> Result<TargetGroup, ServiceError>;

    /// Deletes a group and its assignments (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `PreconditionFailed`, `Conflict` naming the group's targets
    /// while it still has any.
    async fn delete(
        &self,
        actor: &Actor,
        id: TargetGroupId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;

    /// The assignments of each of `environments` (any role), loaded at once for a page of
    /// environments. Environments without an assignment have no entry.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn assignments_for(
        &self,
        actor: &Actor,
        environments: &[EnvironmentId],
    ) -> Result<HashMap<EnvironmentId, Vec<Assignment>>, ServiceError>;

    /// The assignments of each of `groups` (any role), loaded at once. Groups without an
    /// assignment have no entry.
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn assignments_of_groups(
        &self,
        actor: &Actor,
        groups: &[TargetGroupId],
    ) -> Result<HashMap<TargetGroupId, Vec<Assignment>>, ServiceError>;
}

/// A validated target list query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetQuery {
    /// Which targets.
    pub filter: TargetFilter,
    /// Which slice.
    pub page: Page,
}

/// Managing targets.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait TargetService: Send + Sync {
    /// Creates a target (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role; `Validation` for bad fields, an unknown
    /// `environmentId`, or a `targetGroupId` not assigned to that environment; `Conflict` for
    /// a name taken in the environment.
    async fn create(&self, actor: &Actor, input: TargetInput) -> Result<Target, ServiceError>;

    /// One target (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such target.
    async fn get(&self, actor: &Actor, id: TargetId) -> Result<Target, ServiceError>;

    /// A page of targets, sorted by name, and the total matching (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        query: TargetQuery,
    ) -> Result<(Vec<Target>, u64), ServiceError>;

    /// Changes the fields present in `input` (admin); a new type or connection replaces the
    /// connection whole, checked against the target's type after the change.
    ///
    /// # Errors
    /// As for `create`, plus `NotFound` and `PreconditionFailed` when `expected_version` is
    /// stale or a concurrent update won.
    async fn update(
        &self,
        actor: &Actor,
        id: TargetId,
        expected_version: Option<i64>,
        input: TargetInput,
    ) -> Result<Target, ServiceError>;

    /// Deletes a target (admin).
    ///
    /// # Errors
    /// `Forbidden`, `NotFound`, `PreconditionFailed`.
    async fn delete(
        &self,
        actor: &Actor,
        id: TargetId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;
}
