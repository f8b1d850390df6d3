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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::actor;
    use chrono::{TimeZone, Utc};
    use std::collections::HashMap;
    use std::sync::Mutex;
    use terrane_domain::audit::verify_chain;
    use terrane_domain::{Event, EventCursor, EventType, Role, Subject, TenantId};
    use terrane_ports::{MockAuditRepository, MockEventLog};
    use uuid::Uuid;

    fn event(seq: i64, tenant: u128) -> Event {
        Event {
            id: EventCursor { tx: 0, seq },
            event_type: EventType::parse("environment.created").unwrap(),
            organization_id: TenantId(Uuid::from_u128(tenant)),
            subject: Subject {
                kind: "environment".into(),
                id: Uuid::from_u128(seq as u128),
            },
            actor: "ann".into(),
            at: Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, seq as u32).unwrap(),
            data: serde_json::json!({"seq": seq}),
        }
    }

    fn log_of(events: Vec<Event>) -> MockEventLog {
        let mut log = MockEventLog::new();
        log.expect_all_after().returning(move |after, take| {
            Ok(events
                .iter()
                .filter(|e| after.is_none_or(|a| e.id > a))
                .take(take as usize)
                .cloned()
                .collect())
        });
        log
    }

    #[tokio::test]
    async fn events_are_linked_to_their_organizations_heads_in_log_order() {
        let (a, b) = (TenantId(Uuid::from_u128(7)), TenantId(Uuid::from_u128(8)));
        let log = log_of(vec![event(1, 7), event(2, 8), event(3, 7)]);
        let appended = Arc::new(Mutex::new(Vec::new()));
        let mut repo = MockAuditRepository::new();
        repo.expect_progress().returning(|| Ok(None));
        repo.expect_heads()
            .returning(|tenants| Ok(tenants.into_iter().map(|t| (t, ChainHead::EMPTY)).collect()));
        let sink = appended.clone();
        repo.expect_append()
            .withf(|after, through, _| after.is_none() && through.seq == 3)
            .times(1)
            .returning(move |_, _, entries| {
                sink.lock().unwrap().extend(entries);
                Ok(())
            });
        let audit = Audit::new(Arc::new(repo), Arc::new(log));
        assert_eq!(audit.chain_once().await.unwrap(), 3);
        let entries = appended.lock().unwrap().clone();
        let of = |t: TenantId| -> Vec<ChainedEntry> {
            entries
                .iter()
                .filter(|e| e.entry.organization_id == t)
                .cloned()
                .collect()
        };
        let (chain_a, chain_b) = (of(a), of(b));
        assert_eq!(
            chain_a
                .iter()
                .map(|e| e.entry.id.to_string())
                .collect::<Vec<_>>(),
            ["0.1", "0.3"]
        );
        let head_a = ChainHead {
            sequence: 2,
            hash: chain_a[1].hash,
        };
        assert!(verify_chain(&chain_a, head_a).ok);
        assert_eq!(chain_b[0].entry.sequence, 1);
        assert_eq!(chain_b[0].previous_hash, terrane_domain::ChainHash::GENESIS);
    }

    #[tokio::test]
    async fn a_replica_that_lost_the_race_reads_again_after_what_the_winner_chained() {
        let log = log_of(vec![event(1, 7), event(2, 7)]);
        let progress = Arc::new(Mutex::new(vec![None, Some(EventCursor { tx: 0, seq: 1 })]));
        let mut repo = MockAuditRepository::new();
        // The first read finds nothing chained; by the time of the append another replica
        // chained event 1, and every later read says so.
        let reads = progress.clone();
        repo.expect_progress().returning(move || {
            let mut reads = reads.lock().unwrap();
            Ok(if reads.len() > 1 {
                reads.remove(0)
            } else {
                reads[0]
            })
        });
        let winner = event(1, 7);
        repo.expect_heads().returning(move |tenants| {
            let mut head = ChainHead::EMPTY;
            let _ = head.link(AuditDraft::of(&winner));
            let chained: HashMap<_, _> = tenants.into_iter().map(|t| (t, head)).collect();
            Ok(chained)
        });
        let mut seq = mockall::Sequence::new();
        repo.expect_append()
            .withf(|after, _, _| after.is_none())
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Err(StoreError::Conflict("moved".into())));
        repo.expect_append()
            .withf(|after, through, entries| {
                after.is_some_and(|a| a.seq == 1)
                    && through.seq == 2
                    && entries.len() == 1
                    && entries[0].entry.sequence == 2
            })
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        let audit = Audit::new(Arc::new(repo), Arc::new(log));
        assert_eq!(audit.chain_once().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_head_that_moved_without_the_progress_stops_chaining_instead_of_spinning() {
        let log = log_of(vec![event(1, 7)]);
        let mut repo = MockAuditRepository::new();
        repo.expect_progress().returning(|| Ok(None));
        repo.expect_heads()
            .returning(|tenants| Ok(tenants.into_iter().map(|t| (t, ChainHead::EMPTY)).collect()));
        repo.expect_append()
            .times(1)
            .returning(|_, _, _| Err(StoreError::Conflict("the organization's head moved".into())));
        let audit = Audit::new(Arc::new(repo), Arc::new(log));
        assert!(matches!(
            audit.chain_once().await,
            Err(ServiceError::Internal(_))
        ));
    }

    #[tokio::test]
    async fn only_admins_list_or_verify_and_nothing_is_read_for_the_others() {
        let mut repo = MockAuditRepository::new();
        repo.expect_progress().never();
        repo.expect_list().never();
        let audit = Audit::new(Arc::new(repo), Arc::new(MockEventLog::new()));
        for role in [Role::Viewer, Role::Deployer] {
            assert!(matches!(
                audit
                    .list(&actor(role), AuditFilter::default(), Page::default())
                    .await,
                Err(ServiceError::Forbidden(_))
            ));
            assert!(matches!(
                audit.verify(&actor(role)).await,
                Err(ServiceError::Forbidden(_))
            ));
        }
    }
}
