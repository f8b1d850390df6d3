//! The webhook delivery worker, on every replica: claims due deliveries (one per webhook, the
//! first pending of each, under a lease) and attempts them, at most `concurrency` at once.
//! The store's claims keep two replicas off the same delivery, so each attempt is made once.

use std::sync::Arc;
use std::time::Duration;
use terrane_app::WebhookDeliveries;
use tokio::task::JoinSet;

/// Attempts deliveries until aborted (an attempt cut short leaves its claim to run out, and
/// another replica then makes it again, with the same delivery id).
pub async fn delivery_worker(deliveries: Arc<WebhookDeliveries>, poll: Duration, concurrency: u32) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut running = JoinSet::new();
    let most = concurrency as usize;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            // A finished attempt may have unblocked its webhook's next delivery: look now.
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
        while running.try_join_next().is_some() {}
        if let Err(error) = deliveries.fan_out().await {
            tracing::warn!(%error, "turning events into webhook deliveries failed; retrying at the next tick");
        }
        let free = most.saturating_sub(running.len());
        if free == 0 {
            continue;
        }
        let claimed = match deliveries.claim(free as u32).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "claiming webhook deliveries failed; retrying at the next tick");
                continue;
            }
        };
        for claim in claimed {
            let deliveries = deliveries.clone();
            running.spawn(async move {
                let (id, webhook) = (claim.delivery.id, claim.webhook.id);
                match deliveries.attempt(claim).await {
                    Ok(done) => tracing::debug!(
                        delivery = %id,
                        %webhook,
                        status = done.status.as_str(),
                        attempts = done.attempts,
                        "webhook delivery attempted"
                    ),
                    Err(error) => tracing::warn!(delivery = %id, %webhook, %error, "recording a webhook delivery attempt failed"),
                }
            });
        }
    }
}
