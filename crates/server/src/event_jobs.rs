//! The background work of the event log, on every replica: recording freeze windows
//! beginning and ending, and purging events past their retention. On PostgreSQL the store skips events another replica's purge holds
//! (`FOR UPDATE SKIP LOCKED`), so each is deleted once and replicas share a backlog.

use std::sync::Arc;
use std::time::Duration;
use terrane_ports::{Clock, EventLog, FreezeWindowEdges};

/// Events deleted per transaction: short transactions, and a large backlog shared out.
const BATCH: u32 = 1000;

/// Purges events older than `retention` every `interval`, until the task is aborted.
pub async fn retention(
    log: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
    retention: chrono::Duration,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let purged = purge_once(log.as_ref(), clock.now() - retention).await;
        if purged > 0 {
            tracing::info!(purged, "purged events past their retention");
        }
    }
}

/// Deletes every event that happened before `before`, one batch after another, until a
/// batch comes back short; answers how many went.
async fn purge_once(log: &dyn EventLog, before: chrono::DateTime<chrono::Utc>) -> u64 {
    let mut total = 0;
    loop {
        match log.purge(before, BATCH).await {
            Ok(purged) => {
                total += purged;
                if purged < u64::from(BATCH) {
                    return total;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "purging events failed; retrying at the next tick");
                return total;
            }
        }
    }
}

/// Windows whose edges one look records at most: a backlog is worked off over several.
const EDGES_PER_LOOK: u32 = 500;

/// Records freeze windows beginning and ending (`freeze_window.started`,
/// `freeze_window.ended`) every `interval`, until the task is aborted. Every replica runs it;
/// the store records each edge once (see [`FreezeWindowEdges::record_edges`]).
pub async fn freeze_window_edges(
    edges: Arc<dyn FreezeWindowEdges>,
    clock: Arc<dyn Clock>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match edges.record_edges(clock.now(), EDGES_PER_LOOK).await {
            Ok(0) => {}
            Ok(recorded) => {
                tracing::debug!(recorded, "recorded freeze windows beginning or ending")
            }
            Err(error) => {
                tracing::warn!(%error, "recording freeze windows beginning or ending failed; retrying at the next tick");
            }
        }
    }
}
