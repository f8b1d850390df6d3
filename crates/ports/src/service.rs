//! Driving ports: the use cases an inbound adapter calls. Each takes the authenticated
//! [`Actor`]; authorization is decided behind this boundary, not in the adapter.

use crate::error::ServiceError;
use async_trait::async_trait;
use terrane_domain::{
    Actor, Environment, EnvironmentFilter, EnvironmentId, EnvironmentInput, EnvironmentSort, Page,
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
    /// Creates an environment (admin).
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` for bad fields, `Conflict` for a taken name.
    async fn create(
        &self,
        actor: &Actor,
        input: EnvironmentInput,
    ) -> Result<Environment, ServiceError>;

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

    /// Changes the fields present in `input` (admin).
    ///
    /// # Errors
    /// `Forbidden`, `Validation`, `NotFound`, `Conflict` for a taken name, `PreconditionFailed`
    /// when `expected_version` is stale or a concurrent update won.
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
