//! The event log: read by cursor (by organizations through the API, by background work
//! across organizations), and purged after its retention.

use crate::error::{ServiceError, StoreError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use terrane_domain::{Actor, Event, EventCursor, EventType, TenantId};

/// Where events are kept. Events are written by the repositories, in the transaction of the
/// change they describe; this port reads and purges them.
///
/// Cursor promise: a reader that asks again with the id of the last event it got never
/// misses an event, even one whose transaction committed after that of a later-numbered
/// event: an adapter answers only events that no still-running transaction can come before
/// (see [`EventCursor`]), in cursor order.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Up to `take` events of `tenant` after `after` (from the start when `None`), in cursor
    /// order, of the `types` listed (all types when empty).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`], [`StoreError::Overloaded`] or
    /// [`StoreError::Internal`].
    async fn after(
        &self,
        tenant: TenantId,
        after: Option<EventCursor>,
        types: &[EventType],
        take: u32,
    ) -> Result<Vec<Event>, StoreError>;

    /// Up to `take` events of every organization after `after`, in cursor order, with the
    /// same promise as [`EventLog::after`]: for background work (webhook deliveries, the
    /// audit chain).
    ///
    /// # Errors
    /// As for [`EventLog::after`].
    async fn all_after(
        &self,
        after: Option<EventCursor>,
        take: u32,
    ) -> Result<Vec<Event>, StoreError>;

    /// Deletes, among the first `limit` events of the log (of every organization, in the
    /// log's order, which is the order time went), those that happened before `before`, and
    /// answers how many it deleted: fewer than `limit` once the log's beginning is recent.
    /// Several replicas purging at once delete each event once.
    ///
    /// # Errors
    /// As for [`EventLog::after`].
    async fn purge(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
}

/// The edges of freeze windows: a window begins at its start and ends at its end, with no
/// request to write either; a background job records them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait FreezeWindowEdges: Send + Sync {
    /// Records, as `freeze_window.started` and `freeze_window.ended` events by
    /// [`terrane_domain::SYSTEM_ACTOR`], up to `limit` windows of every organization whose
    /// start (or end) is at or before `now` and not recorded yet, marking each recorded in the
    /// same transaction; answers how many edges it recorded. Replicas running it at once
    /// record each edge once (on PostgreSQL, rows another replica holds are skipped).
    ///
    /// # Errors
    /// Only [`StoreError::Unavailable`], [`StoreError::Overloaded`] or
    /// [`StoreError::Internal`].
    async fn record_edges(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;
}

/// Reading the event log through the API.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventService: Send + Sync {
    /// Up to `take` (1 to 1000) events of the actor's organization after `after`, of `types`
    /// (all when empty), in cursor order (any role).
    ///
    /// # Errors
    /// `Forbidden` for an actor without roles; `Validation` naming `take` out of range.
    async fn after(
        &self,
        actor: &Actor,
        after: Option<EventCursor>,
        types: Vec<EventType>,
        take: u32,
    ) -> Result<Vec<Event>, ServiceError>;
}

tokio::task_local! {
    static ACTING: std::cell::RefCell<Option<String>>;
}

/// Runs `work` on behalf of `actor` (the token's subject: a user or service account id):
/// the events written by the writes it makes name that actor. Anything run outside such a
/// scope writes as [`terrane_domain::SYSTEM_ACTOR`].
pub async fn acting<F: std::future::Future>(actor: String, work: F) -> F::Output {
    ACTING
        .scope(std::cell::RefCell::new(Some(actor)), work)
        .await
}

/// Runs `work` (the handling of one request) with no actor yet, until [`act_as`] names it
/// (once the request is authenticated): an inbound adapter wraps each request in this.
pub async fn acting_once_known<F: std::future::Future>(work: F) -> F::Output {
    ACTING.scope(std::cell::RefCell::new(None), work).await
}

/// Names the actor of the current [`acting_once_known`] scope; nothing outside one.
pub fn act_as(actor: String) {
    let _ = ACTING.try_with(|cell| *cell.borrow_mut() = Some(actor));
}

/// Who the current task acts for (see [`acting`]): what a storage adapter records as an
/// event's actor. Read it before handing work to another thread or task.
pub fn current_actor() -> String {
    ACTING
        .try_with(|cell| cell.borrow().clone())
        .ok()
        .flatten()
        .unwrap_or_else(|| terrane_domain::SYSTEM_ACTOR.to_owned())
}
