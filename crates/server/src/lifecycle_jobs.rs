//! The background work of the environment lifecycle, on every replica: the runner, which
//! executes the runs this replica claims (and fails those a stopped replica left), and the
//! expiry of template environments, which starts their destroy workflow.

use crate::jobs::WorkerQueue;
use std::sync::Arc;
use std::time::Duration;
use terrane_app::WorkflowRunner;
use tokio::task::JoinSet;

/// Executes runs, at most `most` at once, looking every `poll` and whenever woken, until
/// aborted (which kills the steps it runs; their leases then let another replica fail them).
pub async fn runner(
    runner: Arc<WorkflowRunner>,
    queue: Arc<WorkerQueue>,
    poll: Duration,
    most: u32,
) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = queue.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
        while running.try_join_next().is_some() {}
        let free = (most as usize).saturating_sub(running.len());
        if free == 0 {
            continue;
        }
        let claimed = match runner.claim(u32::try_from(free).unwrap_or(most)).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming runs failed; retrying at the next tick");
                continue;
            }
        };
        for claim in claimed {
            let runner = runner.clone();
            running.spawn(async move {
                let (run, environment) = (claim.run.id, claim.environment.id);
                match runner.execute(claim).await {
                    Ok(()) => tracing::info!(%run, %environment, "run finished"),
                    Err(error) => tracing::warn!(%run, %environment, %error, "executing a run failed; its lease will run out"),
                }
            });
        }
    }
}

/// Starts the destroy workflow of expired template environments every `interval`.
pub async fn expiry(runner: Arc<WorkflowRunner>, interval: Duration, batch_size: u32) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match runner.expire(batch_size).await {
            Ok(0) => {}
            Ok(started) => tracing::info!(
                started,
                "started the destroy workflow of expired environments"
            ),
            Err(error) => {
                tracing::warn!(%error, "expiring template environments failed; retrying at the next tick")
            }
        }
    }
}
