//! Service accounts: where they are kept, and the use cases.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, NewServiceAccount, Page, ServiceAccount, ServiceAccountId, TenantId, UserId,
};

/// Where service accounts are kept, each with the hash of its current secret (never the
/// secret).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ServiceAccountRepository: Send + Sync {
    /// Stores a new service account with its login and the hash of its secret.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant already has an account of that name (or, by
    /// a chance of 2^-80, the login is taken).
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
        new: NewServiceAccount,
        login: String,
        secret_hash: String,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccount, StoreError>;

    /// One service account.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such account.
    async fn get(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, StoreError>;

    /// A page of the tenant's service accounts by name, and how many there are.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> Result<(Vec<ServiceAccount>, u64), StoreError>;

    /// Deletes a service account; its secret stops working at once.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn delete(&self, tenant: TenantId, id: ServiceAccountId) -> Result<(), StoreError>;

    /// Replaces the hash of the account's secret; the old secret stops working at once.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    async fn rotate(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
        secret_hash: String,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccount, StoreError>;

    /// The account, of any tenant, whose current secret hashes to `secret_hash`. It runs
    /// before any tenant is known (authentication), so it reads across tenants.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn by_secret_hash(
        &self,
        secret_hash: String,
    ) -> Result<Option<ServiceAccount>, StoreError>;
}

/// Managing service accounts, and authenticating them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait ServiceAccountService: Send + Sync {
    /// Creates a service account (admin) and returns it with its secret, which exists nowhere
    /// else afterwards.
    ///
    /// # Errors
    /// `Forbidden` without the admin role; `Conflict` for a taken name.
    async fn create(
        &self,
        actor: &Actor,
        new: NewServiceAccount,
    ) -> Result<(ServiceAccount, String), ServiceError>;

    /// One service account (admin).
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn get(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, ServiceError>;

    /// A page of service accounts by name and their number (admin).
    ///
    /// # Errors
    /// `Forbidden`.
    async fn list(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<(Vec<ServiceAccount>, u64), ServiceError>;

    /// Deletes a service account (admin); its secret stops working at once.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn revoke(&self, actor: &Actor, id: ServiceAccountId) -> Result<(), ServiceError>;

    /// Gives the account a new secret (admin), returned this once; the old one stops working
    /// at once.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn rotate(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
    ) -> Result<(ServiceAccount, String), ServiceError>;

    /// The account a secret belongs to, when `login` (if given, as with HTTP Basic) is its
    /// login too; `None` for anything else (unknown, rotated, revoked, malformed).
    ///
    /// # Errors
    /// `Unavailable` or `Internal` when storage fails.
    async fn authenticate(
        &self,
        login: Option<String>,
        secret: String,
    ) -> Result<Option<ServiceAccount>, ServiceError>;
}
