//! The background work of environment requests, on every replica: the provisioning worker
//! and the TTL reaper. The store claims their rows with leases (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL), so whatever the number of replicas each request is provisioned, and each
//! expired environment deprovisioned, exactly once.

use std::sync::Arc;
use std::time::Duration;
use terrane_app::RequestJobs;
use terrane_ports::ProvisioningQueue;
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// Wakes the provisioning worker of this replica. A wake while the worker is busy is kept,
/// so it looks again as soon as it can.
#[derive(Debug, Default)]
pub struct WorkerQueue(Notify);

impl WorkerQueue {
    /// Waits for a wake.
    pub async fn notified(&self) {
        self.0.notified().await;
    }
}

impl ProvisioningQueue for WorkerQueue {
    fn wake(&self) {
        self.0.notify_one();
    }
}

/// How the jobs run.
#[derive(Debug, Clone, Copy)]
pub struct JobSettings {
    /// Between two runs of the reaper, and between two looks of the provisioning worker for
    /// requests that a stopped replica left behind.
    pub interval: Duration,
    /// Environments the reaper claims at a time, and requests this replica provisions at once.
    pub batch_size: u32,
}

fn ticker(interval: Duration) -> tokio::time::Interval {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Provisions requests waiting for it, at most `batch_size` at once, until aborted (which
/// stops the commands it runs; their leases let another replica take the requests over).
pub async fn provisioning_worker(
    jobs: Arc<RequestJobs>,
    queue: Arc<WorkerQueue>,
    settings: JobSettings,
) {
    let mut ticker = ticker(settings.interval);
    let mut running = JoinSet::new();
    let most = settings.batch_size as usize;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = queue.0.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
        while running.try_join_next().is_some() {}
        let free = most.saturating_sub(running.len());
        if free == 0 {
            continue;
        }
        let claimed = match jobs.claim_provisioning(free as u32).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming requests to provision failed; retrying at the next tick");
                continue;
            }
        };
        for request in claimed {
            let jobs = jobs.clone();
            running.spawn(async move {
                let (id, tenant) = (request.id, request.tenant);
                match jobs.provision(request).await {
                    Ok(done) => tracing::info!(
                        request = %id,
                        %tenant,
                        status = %done.status,
                        message = done.status_message.as_deref().unwrap_or(""),
                        "provisioning finished"
                    ),
                    Err(error) => tracing::warn!(request = %id, %tenant, %error, "recording a provisioning failed"),
                }
            });
        }
    }
}

/// Expires environments whose time to live has passed, every `interval`, until aborted.
pub async fn reaper(jobs: Arc<RequestJobs>, settings: JobSettings) {
    let mut ticker = ticker(settings.interval);
    loop {
        ticker.tick().await;
        reap_once(&jobs, settings.batch_size).await;
    }
}

/// Claims and expires one batch after another until a batch comes back short.
async fn reap_once(jobs: &Arc<RequestJobs>, batch_size: u32) {
    loop {
        let claims = match jobs.claim_expired(batch_size).await {
            Ok(claims) => claims,
            Err(error) => {
                tracing::warn!(%error, "claiming expired environments failed; retrying at the next tick");
                return;
            }
        };
        let claimed = claims.len();
        let mut running = JoinSet::new();
        for claim in claims {
            let jobs = jobs.clone();
            running.spawn(async move {
                let (environment, tenant) = (claim.environment.id, claim.environment.tenant);
                match jobs.expire(claim).await {
                    Ok(()) => tracing::info!(%environment, %tenant, "expired an environment whose time to live had passed"),
                    Err(error) => tracing::warn!(%environment, %tenant, %error, "expiring an environment failed; it is tried again later"),
                }
            });
        }
        while running.join_next().await.is_some() {}
        if claimed < batch_size as usize {
            return;
        }
    }
}
