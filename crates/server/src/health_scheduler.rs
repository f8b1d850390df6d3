//! The health scheduler: probes every target every `config.healthCheckInterval` seconds of
//! its environment. Every replica runs it; the store claims due targets with `SKIP LOCKED`
//! and moves their next check forward in the same transaction, so each due check runs once.

use std::sync::Arc;
use std::time::Duration;
use terrane_ports::HealthService;

/// Targets claimed per transaction; their probes run at once.
const BATCH: u32 = 64;

/// Looks for due checks every `interval` until the task is aborted.
///
/// Each round runs in a task of its own: a round waits for its slowest probe (up to the probe
/// timeout), and a hanging target must not delay the next round, which claims the targets
/// that fell due meanwhile. Claims move each target's next check forward, so overlapping
/// rounds never check one target twice. Aborting this task aborts the rounds still running.
pub async fn run(health: Arc<dyn HealthService>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut rounds = tokio::task::JoinSet::new();
    loop {
        ticker.tick().await;
        while rounds.try_join_next().is_some() {}
        let health = health.clone();
        rounds.spawn(async move { check_due(health.as_ref()).await });
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
