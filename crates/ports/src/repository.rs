//! Driven storage ports. Every method is scoped to one tenant: an adapter must never return or
//! touch a row of another tenant, and reports such a row as [`StoreError::NotFound`].

use crate::error::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Environment, EnvironmentChanges, EnvironmentFilter, EnvironmentId, EnvironmentSort,
    NewEnvironment, Page, TenantId,
};

/// Where environments live.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EnvironmentRepository: Send + Sync {
    /// Stores a new environment with `id`, `version` 1 and both timestamps `now`. When
    /// `new.order_index` is `None`, it takes the tenant's highest index plus one (0 for the
    /// first), decided in the same transaction as the insert.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the tenant already has an environment of that name.
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

    /// Applies `changes` (see [`Environment::apply`]) as one compare-and-set: of two updates
    /// expecting the same version, exactly one succeeds. Without an expected version,
    /// concurrent updates apply one after the other and all succeed.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when `expected_version` is
    /// given and is not the stored version (also when a concurrent update got there first);
    /// [`StoreError::Conflict`] when the new name is taken.
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
