//! The audit log's use cases: chaining the event log into each organization's hash chain,
//! listing entries and verifying a chain.
//!
//! Chaining reads events after the chain's progress, links each to its organization's head
//! in the domain, and appends them with compare-and-set on the progress and the heads: of two
//! replicas chaining the same events, one appends and the other finds the progress moved,
//! reads again from there, and appends only what is left. Chains are thus one total order
//! per organization (the event log's cursor order), fixed once written.

use crate::authorize;
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::Arc;
use terrane_domain::{
    Actor, AuditDraft, AuditFilter, ChainHead, ChainVerifier, ChainedEntry, Page, Permission,
    Verification,
};
use terrane_ports::{AuditRepository, AuditService, EventLog, ServiceError, StoreError};

/// Events read and chained per round (one transaction each).
pub const CHAIN_BATCH: u32 = 500;

/// Rounds one catch-up makes at most: a reader waits for the backlog the background
/// chainer left (at most a few seconds of events), never for a writer that never stops.
const MOST_ROUNDS: u32 = 40;

/// Entries verified per read.
const VERIFY_BATCH: u32 = 1000;

/// The audit use cases.
pub struct Audit {
    repo: Arc<dyn AuditRepository>,
    log: Arc<dyn EventLog>,
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, "audit entry")
}

impl Audit {
    /// Wires the use cases to their ports.
    pub fn new(repo: Arc<dyn AuditRepository>, log: Arc<dyn EventLog>) -> Self {
        Self { repo, log }
    }

    /// Chains the next events the log has released (at most [`CHAIN_BATCH`]), and answers
    /// how many it read: fewer than a batch means the chain has caught up with the log.
    /// When another replica appends first, it reads again after what that one chained.
    ///
    /// # Errors
    /// `Unavailable`, `Overloaded` or `Internal` from storage.
    pub async fn chain_once(&self) -> Result<u32, ServiceError> {
        loop {
            let after = self.repo.progress().await.map_err(store_error)?;
            let events = self
                .log
                .all_after(after, CHAIN_BATCH)
                .await
                .map_err(store_error)?;
            let Some(through) = events.last().map(|e| e.id) else {
                return Ok(0);
            };
            let read = events.len() as u32;
            let tenants: Vec<_> = events
                .iter()
                .map(|e| e.organization_id)
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut heads = self.repo.heads(tenants).await.map_err(store_error)?;
            let entries: Vec<ChainedEntry> = events
                .iter()
                .map(|event| {
                    heads
                        .entry(event.organization_id)
                        .or_insert(ChainHead::EMPTY)
                        .link(AuditDraft::of(event))
                })
                .collect();
            match self.repo.append(after, through, entries).await {
                Ok(()) => return Ok(read),
                // Another replica chained these first: read again after what it chained.
                Err(StoreError::Conflict(reason)) => {
                    let now = self.repo.progress().await.map_err(store_error)?;
                    if now == after {
                        // Heads move only with the progress: one that moved alone was
                        // changed outside terrane, and no retry will get past it.
                        return Err(ServiceError::Internal(format!(
                            "the audit chain cannot be appended to: {reason}"
                        )));
                    }
                    tracing::debug!(%reason, "audit chain moved; reading again");
                }
                Err(error) => return Err(store_error(error)),
            }
        }
    }

    /// Chains every event the log has released, in rounds, and answers how many events it
    /// chained (bounded: see [`MOST_ROUNDS`]).
    ///
    /// # Errors
    /// As for [`Audit::chain_once`].
    pub async fn catch_up(&self) -> Result<u64, ServiceError> {
        let mut chained = 0_u64;
        for _ in 0..MOST_ROUNDS {
            let read = self.chain_once().await?;
            chained += u64::from(read);
            if read < CHAIN_BATCH {
                break;
            }
        }
        Ok(chained)
    }
}

#[async_trait]
impl AuditService for Audit {
    async fn list(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<ChainedEntry>, u64), ServiceError> {
        authorize(actor, Permission::Administer, "reading the audit log")?;
        self.catch_up().await?;
        self.repo
            .list(actor.tenant, filter, page)
            .await
            .map_err(store_error)
    }

    async fn verify(&self, actor: &Actor) -> Result<Verification, ServiceError> {
        authorize(actor, Permission::Administer, "verifying the audit log")?;
        // A chain that cannot be appended to is still verified as it stands (the verdict
        // then says where it went wrong).
        if let Err(error) = self.catch_up().await {
            tracing::warn!(%error, "chaining before verifying the audit log failed");
        }
        // The head first: entries up to it are all written (they commit with it) and never
        // change, whatever is appended meanwhile.
        let head = self.repo.head(actor.tenant).await.map_err(store_error)?;
        let mut verifier = ChainVerifier::new();
        let mut after = 0;
        loop {
            let page = self
                .repo
                .chain(actor.tenant, after, head.sequence, VERIFY_BATCH)
                .await
                .map_err(store_error)?;
            for entry in &page {
                if !verifier.check(entry) {
                    return Ok(verifier.finish(head));
                }
            }
            match page.last() {
                Some(last) if page.len() == VERIFY_BATCH as usize => after = last.entry.sequence,
                _ => return Ok(verifier.finish(head)),
            }
        }
    }
}
