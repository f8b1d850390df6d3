//! The stuck-deployment sweep: fails deployments left `in_progress` past their environment's
//! deployment timeout. Every replica sweeps; each failure is a compare-and-set, so of racing
//! sweepers exactly one fails a given deployment and the others move on.

use super::{store_error, Deployments};
use terrane_domain::{DeploymentStatus, TransitionInput};
use terrane_ports::{ServiceError, StoreError, TimedOut, Transition};

/// Deployments in progress read at a time.
const PAGE: u32 = 500;

impl Deployments {
    /// See `DeploymentService::sweep_timed_out`.
    pub(super) async fn sweep(&self, limit: u32) -> Result<Vec<TimedOut>, ServiceError> {
        let now = self.clock.now();
        let mut failed = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .repo
                .in_progress(after, PAGE)
                .await
                .map_err(store_error)?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|p| p.deployment.id);
            for stuck in page
                .into_iter()
                .filter(|p| p.deployment.is_timed_out(now, p.timeout_seconds))
            {
                if failed.len() >= limit as usize {
                    return Ok(failed);
                }
                let current = stuck.deployment;
                let input = TransitionInput {
                    status: Some(DeploymentStatus::Failed.as_str().to_owned()),
                    ..Default::default()
                };
                let (next, entry) = current
                    .transition(input, None, Some("timed out".to_owned()), now)
                    .map_err(|e| {
                        ServiceError::Internal(format!("failing a stuck deployment: {e:?}"))
                    })?;
                let timed_out = TimedOut {
                    tenant: current.tenant,
                    id: current.id,
                };
                let transition = Transition {
                    current,
                    next,
                    entry,
                    environment_version: None,
                };
                match self
                    .repo
                    .save_transition(timed_out.tenant, transition)
                    .await
                {
                    Ok(()) => failed.push(timed_out),
                    // Another sweeper or a client moved it first.
                    Err(StoreError::VersionMismatch { .. } | StoreError::NotFound) => {}
                    Err(other) => return Err(store_error(other)),
                }
            }
            if !full {
                return Ok(failed);
            }
        }
    }
}
