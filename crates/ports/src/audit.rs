//! The audit log: where its chained entries live, and the use cases that read and verify it.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use std::collections::HashMap;
use terrane_domain::{
    Actor, AuditFilter, ChainHead, ChainedEntry, EventCursor, Page, TenantId, Verification,
};

/// Where the audit log lives: every organization's chain, its head, and how far the chain
/// has read the event log.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// The last event chained (in any organization), `None` before the first: the chainer
    /// reads the event log after it.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn progress(&self) -> Result<Option<EventCursor>, StoreError>;

    /// The heads of these organizations' chains ([`ChainHead::EMPTY`] for one with no entry).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn heads(
        &self,
        tenants: Vec<TenantId>,
    ) -> Result<HashMap<TenantId, ChainHead>, StoreError>;

    /// Appends `entries` (each organization's in chain order, linked to the heads
    /// [`AuditRepository::heads`] gave), moves every head to its organization's last entry
    /// and the progress from `after` to `through`, all in one transaction. Compare-and-set:
    /// the progress must still be `after` and every head still where the entries link.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the progress is no longer `after` or a head moved
    /// (another replica chained first); then nothing is written.
    async fn append(
        &self,
        after: Option<EventCursor>,
        through: EventCursor,
        entries: Vec<ChainedEntry>,
    ) -> Result<(), StoreError>;

    /// The head of the organization's chain ([`ChainHead::EMPTY`] when it has no entry).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn head(&self, tenant: TenantId) -> Result<ChainHead, StoreError>;

    /// Up to `take` entries of the organization's chain after sequence `after`, up to and
    /// including `through`, in chain order, as stored.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn chain(
        &self,
        tenant: TenantId,
        after: u64,
        through: u64,
        take: u32,
    ) -> Result<Vec<ChainedEntry>, StoreError>;

    /// A page of the organization's entries matching `filter`, in chain order, and how many
    /// match.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(
        &self,
        tenant: TenantId,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<ChainedEntry>, u64), StoreError>;
}

/// Reading and verifying the audit log (admins only).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AuditService: Send + Sync {
    /// A page of the organization's entries matching `filter`, in chain order, and the total;
    /// every event the event log has released is chained first.
    ///
    /// # Errors
    /// `Forbidden` without the admin role.
    async fn list(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<ChainedEntry>, u64), ServiceError>;

    /// Recomputes the organization's whole chain, after chaining every released event.
    ///
    /// # Errors
    /// `Forbidden` without the admin role.
    async fn verify(&self, actor: &Actor) -> Result<Verification, ServiceError>;
}
