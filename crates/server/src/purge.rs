//! Purges the answers kept for `Idempotency-Key` retries once they are past replaying, so
//! that a CI system sending a fresh key with every request does not grow the table forever.
//! Every replica runs it; on PostgreSQL the store skips rows another purge holds, so each
//! record is deleted once.

use std::sync::Arc;
use std::time::Duration;
use terrane_ports::{Clock, IdempotencyRepository};

/// Records deleted per transaction: short transactions, and a large backlog shared out.
const BATCH: u32 = 1000;

/// Purges every `interval` until the task is aborted.
pub async fn run(
    records: Arc<dyn IdempotencyRepository>,
    clock: Arc<dyn Clock>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let expires_before =
            clock.now() - chrono::Duration::hours(terrane_http::IDEMPOTENCY_RETENTION_HOURS);
        let purged = purge_once(records.as_ref(), expires_before).await;
        if purged > 0 {
            tracing::info!(purged, "purged Idempotency-Key answers past replaying");
        }
    }
}

/// Deletes every record claimed before `expires_before`, one batch after another, until a
/// batch comes back short; answers how many went.
async fn purge_once(
    records: &dyn IdempotencyRepository,
    expires_before: chrono::DateTime<chrono::Utc>,
) -> u64 {
    let mut total = 0;
    loop {
        match records.purge(expires_before, BATCH).await {
            Ok(purged) => {
                total += purged;
                if purged < u64::from(BATCH) {
                    return total;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "purging Idempotency-Key answers failed; retrying at the next tick");
                return total;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use std::sync::Mutex;
    use terrane_domain::TenantId;
    use terrane_ports::{IdempotencyBegin, StoreError, StoredResponse};

    /// Holds `left` expired records; fails on the call numbered `fail_at`, if any.
    struct Expired {
        left: Mutex<u64>,
        calls: Mutex<Vec<(DateTime<Utc>, u32)>>,
        fail_at: Option<usize>,
    }

    #[async_trait]
    impl IdempotencyRepository for Expired {
        async fn begin(
            &self,
            _: TenantId,
            _: String,
            _: String,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<IdempotencyBegin, StoreError> {
            unreachable!("the purge only purges")
        }

        async fn complete(
            &self,
            _: TenantId,
            _: String,
            _: StoredResponse,
        ) -> Result<(), StoreError> {
            unreachable!("the purge only purges")
        }

        async fn abandon(&self, _: TenantId, _: String) -> Result<(), StoreError> {
            unreachable!("the purge only purges")
        }

        async fn purge(
            &self,
            expires_before: DateTime<Utc>,
            limit: u32,
        ) -> Result<u64, StoreError> {
            let mut calls = self.calls.lock().unwrap();
            calls.push((expires_before, limit));
            if self.fail_at == Some(calls.len()) {
                return Err(StoreError::Unavailable("the database is down".into()));
            }
            let mut left = self.left.lock().unwrap();
            let purged = (*left).min(u64::from(limit));
            *left -= purged;
            Ok(purged)
        }
    }

    fn expired(left: u64, fail_at: Option<usize>) -> Expired {
        Expired {
            left: Mutex::new(left),
            calls: Mutex::new(Vec::new()),
            fail_at,
        }
    }

    #[tokio::test]
    async fn batches_go_on_until_one_comes_back_short() {
        let at = Utc::now();
        let records = expired(2 * u64::from(BATCH) + 5, None);
        assert_eq!(purge_once(&records, at).await, 2 * u64::from(BATCH) + 5);
        assert_eq!(*records.calls.lock().unwrap(), vec![(at, BATCH); 3]);
        // A full last batch needs one more call to find nothing left.
        let records = expired(u64::from(BATCH), None);
        assert_eq!(purge_once(&records, at).await, u64::from(BATCH));
        assert_eq!(records.calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_failure_stops_this_round_and_keeps_what_was_purged() {
        let records = expired(5 * u64::from(BATCH), Some(2));
        assert_eq!(purge_once(&records, Utc::now()).await, u64::from(BATCH));
        assert_eq!(records.calls.lock().unwrap().len(), 2);
    }
}
