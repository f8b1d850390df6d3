//! The stuck-deployment sweep: fails deployments left `in_progress` past their environment's
//! deployment timeout (the use case `DeploymentService::sweep_timed_out`). Every replica runs
//! it; each failure is a compare-and-set, so each deployment is failed exactly once.

use std::sync::Arc;
use std::time::Duration;
use terrane_ports::DeploymentService;

/// Deployments failed per call: a large backlog is worked through in rounds.
const BATCH: u32 = 50;

/// Sweeps every `interval` until the task is aborted.
pub async fn run(deployments: Arc<dyn DeploymentService>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        sweep_once(deployments.as_ref()).await;
    }
}

/// Fails every timed-out deployment, one batch after another, until a batch comes back short.
async fn sweep_once(deployments: &dyn DeploymentService) {
    loop {
        match deployments.sweep_timed_out(BATCH).await {
            Ok(failed) => {
                for timed_out in &failed {
                    tracing::info!(
                        deployment = %timed_out.id,
                        tenant = %timed_out.tenant,
                        "failed a deployment stuck in progress past its timeout"
                    );
                }
                if failed.len() < BATCH as usize {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "the stuck-deployment sweep failed; retrying at the next tick");
                return;
            }
        }
    }
}
