//! The health scheduler: probes every target every `config.healthCheckInterval` seconds of
//! its environment. Every replica runs it; the store claims due targets with `SKIP LOCKED`
//! and moves their next check forward in the same transaction, so each due check runs once.

use std::sync::Arc;
use std::time::Duration;
use terrane_ports::HealthService;

/// Targets claimed per transaction; their probes run at once.
const BATCH: u32 = 64;

/// Looks for due checks every `interval` until the task is aborted.
pub async fn run(health: Arc<dyn HealthService>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        check_due(health.as_ref()).await;
    }
}

/// Checks every due target, one batch after another, until a batch comes back short.
async fn check_due(health: &dyn HealthService) {
    loop {
        match health.run_due(BATCH).await {
            Ok(checked) => {
                if checked > 0 {
                    tracing::debug!(checked, "scheduled health checks done");
                }
                if checked < BATCH as usize {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "scheduled health checks failed; retrying at the next tick");
                return;
            }
        }
    }
}
