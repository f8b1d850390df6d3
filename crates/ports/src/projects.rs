//! Projects: where they live and the use cases the HTTP adapters call.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, NewProject, Page, Project, ProjectId, ProjectInput, ProjectNumber, TenantId,
};

/// Where projects live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    /// Stores a new project with the next server-wide number.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant has a project of that name (ignoring case).
    async fn create(
        &self,
        tenant: TenantId,
        id: ProjectId,
        new: NewProject,
        creator: String,
        now: DateTime<Utc>,
    ) -> Result<Project, StoreError>;

    /// One project.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such project.
    async fn get(&self, tenant: TenantId, id: ProjectId) -> Result<Project, StoreError>;

    /// The tenant's project of that number.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no project of that number.
    async fn by_number(
        &self,
        tenant: TenantId,
        number: ProjectNumber,
    ) -> Result<Project, StoreError>;

    /// A page of the tenant's projects by name (descending when asked), with the total.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        descending: bool,
        page: Page,
    ) -> Result<(Vec<Project>, u64), StoreError>;
}

/// Managing projects.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ProjectService: Send + Sync {
    /// Creates a project (admin); `creator` defaults to the actor's user id.
    ///
    /// # Errors
    /// `Forbidden` without the admin role, `Validation` naming each bad field, `Conflict`
    /// for a taken name.
    async fn create(
        &self,
        actor: &Actor,
        input: ProjectInput,
        creator: Option<String>,
    ) -> Result<Project, ServiceError>;

    /// One project (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such project.
    async fn get(&self, actor: &Actor, id: ProjectId) -> Result<Project, ServiceError>;

    /// One project by its number (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no project of that number.
    async fn by_number(
        &self,
        actor: &Actor,
        number: ProjectNumber,
    ) -> Result<Project, ServiceError>;

    /// A page of projects by name, and the total (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles.
    async fn list(
        &self,
        actor: &Actor,
        descending: bool,
        page: Page,
    ) -> Result<(Vec<Project>, u64), ServiceError>;
}
