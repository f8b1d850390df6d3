//! Webhooks and their deliveries: where they are kept, how a delivery is sent, and the use
//! cases.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{
    Actor, AttemptOutcome, EventCursor, Page, TenantId, Webhook, WebhookChanges, WebhookDelivery,
    WebhookDeliveryId, WebhookId, WebhookInput,
};

/// Where webhooks and their deliveries are kept, for the requests of one organization.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Stores a new webhook.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn create(&self, webhook: Webhook) -> Result<Webhook, StoreError>;

    /// One webhook.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such webhook.
    async fn get(&self, tenant: TenantId, id: WebhookId) -> Result<Webhook, StoreError>;

    /// A page of the tenant's webhooks, oldest first, and how many there are.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Webhook>, u64), StoreError>;

    /// Applies `changes` (with [`Webhook::apply`]) to the stored webhook, if its version is
    /// still `expected_version` when one is given.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] for a stale version.
    async fn update(
        &self,
        tenant: TenantId,
        id: WebhookId,
        expected_version: Option<i64>,
        changes: WebhookChanges,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError>;

    /// Deletes a webhook and its deliveries.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] for a stale version.
    async fn delete(
        &self,
        tenant: TenantId,
        id: WebhookId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError>;

    /// A page of a webhook's deliveries, newest first, and how many there are.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such webhook.
    async fn deliveries(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        page: Page,
    ) -> Result<(Vec<WebhookDelivery>, u64), StoreError>;

    /// One delivery of a webhook.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the tenant has no such webhook or delivery.
    async fn delivery(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, StoreError>;

    /// Writes `next` over the stored delivery if that is still at `expected_version`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::VersionMismatch`] when it changed meanwhile.
    async fn replace_delivery(
        &self,
        expected_version: i64,
        next: WebhookDelivery,
    ) -> Result<WebhookDelivery, StoreError>;
}

/// A delivery claimed for one attempt, with the webhook it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery, as claimed.
    pub delivery: WebhookDelivery,
    /// Its webhook (URL and secret as they are now).
    pub webhook: Webhook,
}

/// The delivery queue, across organizations, for the background worker of every replica.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    /// Adds pending deliveries, each after the ones its webhook already has (deliveries to
    /// one webhook are attempted in the order they were added).
    ///
    /// # Errors
    /// [`StoreError::MissingReference`] when a webhook does not exist.
    async fn enqueue(&self, deliveries: Vec<WebhookDelivery>) -> Result<(), StoreError>;

    /// Claims up to `limit` deliveries due at `now`, at most one per webhook and only the
    /// first pending one of each active webhook, until `lease_until`: no other claim takes
    /// them before (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so replicas claim disjoint
    /// rows). A claim whose lease ran out (its replica died) is taken again.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt: writes `next` over the delivery if it is still at
    /// `expected_version`, and releases its claim.
    ///
    /// # Errors
    /// [`StoreError::VersionMismatch`] when it changed meanwhile (redelivered, or its lease
    /// ran out and another replica recorded first); [`StoreError::NotFound`] when it was
    /// deleted with its webhook.
    async fn record(&self, expected_version: i64, next: WebhookDelivery) -> Result<(), StoreError>;

    /// How far the fan-out has read the event log: every event up to this cursor has its
    /// deliveries; `None` before the first event.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn fan_out_cursor(&self) -> Result<Option<EventCursor>, StoreError>;

    /// The webhooks of `tenants` that are active.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn active_webhooks(&self, tenants: Vec<TenantId>) -> Result<Vec<Webhook>, StoreError>;

    /// Moves the fan-out cursor from `from` to `to` and enqueues `deliveries` (as
    /// [`WebhookQueue::enqueue`], skipping those of webhooks deleted meanwhile), in one
    /// transaction, if the cursor is still at `from`; answers whether it was. Replicas
    /// fanning out the same events at once thus enqueue them once.
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`] or [`StoreError::Internal`].
    async fn advance_fan_out(
        &self,
        from: Option<EventCursor>,
        to: EventCursor,
        deliveries: Vec<WebhookDelivery>,
    ) -> Result<bool, StoreError>;
}

/// One signed `POST` of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingDelivery {
    /// Where.
    pub url: String,
    /// The headers, `X-Terrane-*` among them.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

/// Sends deliveries over HTTP.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `delivery` and reports how it went; never fails otherwise (a refused address,
    /// a timeout or a refused connection are outcomes).
    async fn send(&self, delivery: OutgoingDelivery) -> AttemptOutcome;
}

/// Managing webhooks and their deliveries (admin only).
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait WebhookService: Send + Sync {
    /// Creates a webhook and returns it; its secret (the client's, or one generated when
    /// none was given) is never shown again by any other operation.
    ///
    /// # Errors
    /// `Forbidden`; `Validation` naming `url`, `secret` or `types[i]`.
    async fn create(&self, actor: &Actor, input: WebhookInput) -> Result<Webhook, ServiceError>;

    /// One webhook.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`.
    async fn get(&self, actor: &Actor, id: WebhookId) -> Result<Webhook, ServiceError>;

    /// A page of webhooks and their number.
    ///
    /// # Errors
    /// `Forbidden`.
    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Webhook>, u64), ServiceError>;

    /// Changes a webhook; absent fields stay as they are.
    ///
    /// # Errors
    /// `Forbidden`; `Validation`; `NotFound`; `PreconditionFailed` for a stale version.
    async fn update(
        &self,
        actor: &Actor,
        id: WebhookId,
        expected_version: Option<i64>,
        input: WebhookInput,
    ) -> Result<Webhook, ServiceError>;

    /// Deletes a webhook and its deliveries.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `PreconditionFailed`.
    async fn delete(
        &self,
        actor: &Actor,
        id: WebhookId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError>;

    /// A page of a webhook's deliveries, newest first, and their number.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound` for the webhook.
    async fn deliveries(
        &self,
        actor: &Actor,
        webhook: WebhookId,
        page: Page,
    ) -> Result<(Vec<WebhookDelivery>, u64), ServiceError>;

    /// Sends a succeeded or dead delivery again, with the same id.
    ///
    /// # Errors
    /// `Forbidden`; `NotFound`; `Conflict` while it is still pending.
    async fn redeliver(
        &self,
        actor: &Actor,
        webhook: WebhookId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, ServiceError>;
}
