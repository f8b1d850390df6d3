//! Health checks: the prober that reaches targets, where checks are kept, and the use cases.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, Connection, HealthCheck, Page, ProbeOutcome, Target, TargetId, TenantId,
};

/// Reaches a target and says how it is. One real adapter per target type lives in
/// `terrane-probe`.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HealthProber: Send + Sync {
    /// Probes the place `connection` names, within the adapter's time and size bounds.
    ///
    /// Never fails: an unreachable, slow or refused target is an outcome (`unhealthy` with
    /// the reason), and a target type the adapter cannot probe is `unknown` with the reason.
    async fn probe(&self, connection: &Connection) -> ProbeOutcome;
}

/// A target whose scheduled check is due, claimed by one replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueCheck {
    /// The target as stored when it was claimed.
    pub target: Target,
    /// Its environment's `config.healthCheckInterval`, in seconds.
    pub interval_seconds: u32,
}

/// Where health checks are kept, and the target's health with them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HealthCheckRepository: Send + Sync {
    /// Keeps `check` and, in the same transaction, sets the target's `healthStatus`,
    /// `healthMessage` and `lastHealthCheckAt` from it (without bumping its version: a probe
    /// is not an edit, and must not make a person's `If-Match` stale), and schedules its next
    /// check `interval_seconds` after `check.checked_at`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such target (deleted meanwhile).
    async fn record(&self, check: HealthCheck, interval_seconds: u32)
        -> Result<Target, StoreError>;

    /// A page of a target's checks, newest first, with the number of all of them.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such target.
    async fn history(
        &self,
        tenant: TenantId,
        target: TargetId,
        page: Page,
    ) -> Result<(Vec<HealthCheck>, u64), StoreError>;

    /// The check interval of the target's environment, in seconds.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such target.
    async fn interval(&self, tenant: TenantId, target: TargetId) -> Result<u32, StoreError>;

    /// Claims up to `limit` targets of every tenant whose next check is due at `now`
    /// (never checked, or scheduled at or before `now`), and moves each one's next check to
    /// `now` plus its environment's interval in the same transaction. Concurrent callers on
    /// one database never claim the same target for the same period (PostgreSQL skips rows
    /// another transaction has locked).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueCheck>, StoreError>;
}

/// Checking targets' health.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait HealthService: Send + Sync {
    /// Probes the target now (admin or deployer), keeps the check and updates the target.
    ///
    /// # Errors
    /// `Forbidden` for a viewer; `NotFound` when the actor's tenant has no such target.
    async fn check_now(&self, actor: &Actor, id: TargetId) -> Result<HealthCheck, ServiceError>;

    /// A page of the target's checks, newest first, and their total (any role).
    ///
    /// # Errors
    /// `NotFound` when the actor's tenant has no such target.
    async fn history(
        &self,
        actor: &Actor,
        id: TargetId,
        page: Page,
    ) -> Result<(Vec<HealthCheck>, u64), ServiceError>;

    /// Probes every due target of every tenant once, at most `limit` of them, and returns
    /// how many were checked. Several replicas may call this at once: each due check runs
    /// once.
    ///
    /// # Errors
    /// `Unavailable` or `Internal` when the due targets cannot be claimed; a check that
    /// cannot be recorded afterwards (the target was deleted) is skipped.
    async fn run_due(&self, limit: u32) -> Result<usize, ServiceError>;
}
