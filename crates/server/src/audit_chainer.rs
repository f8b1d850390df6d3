//! Chains the event log into the organizations' audit logs in the background, on every
//! replica. Appends compare and set the chain's progress (see `terrane_app::Audit`), so
//! replicas chaining at once never fork or repeat a chain: each event is appended once, by
//! whichever replica gets there first. Readers of the audit log also chain on demand, so
//! this only keeps the backlog short.

use std::sync::Arc;
use std::time::Duration;
use terrane_app::Audit;

/// Chains every `interval` until the task is aborted.
pub async fn run(audit: Arc<Audit>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match audit.catch_up().await {
            Ok(0) => {}
            Ok(chained) => tracing::debug!(chained, "chained events into the audit log"),
            Err(error) => {
                tracing::warn!(%error, "chaining the audit log failed; retrying at the next tick");
            }
        }
    }
}
