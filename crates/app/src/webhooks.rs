//! The webhook use cases: managing webhooks (admin), and the delivery worker's attempts.

use crate::authorize;
use async_trait::async_trait;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use terrane_domain::webhook::{delivery_body, signature, takes};
use terrane_domain::{
    Actor, AddressPolicy, AttemptOutcome, Page, Permission, RetryPolicy, Webhook, WebhookDelivery,
    WebhookDeliveryId, WebhookId, WebhookInput, WebhookSecret,
};
use terrane_ports::{
    ClaimedDelivery, Clock, EventLog, IdSource, OutgoingDelivery, ServiceError, StoreError,
    WebhookQueue, WebhookRepository, WebhookSender, WebhookService,
};

const WHAT: &str = "webhook";
const DELIVERY: &str = "webhook delivery";

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

/// The webhook management use cases.
pub struct Webhooks {
    repo: Arc<dyn WebhookRepository>,
    policy: AddressPolicy,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl Webhooks {
    /// Wires the use cases to their ports; URLs are checked against `policy` (the probes'
    /// address policy).
    pub fn new(
        repo: Arc<dyn WebhookRepository>,
        policy: AddressPolicy,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            repo,
            policy,
            clock,
            ids,
        }
    }
}

#[async_trait]
impl WebhookService for Webhooks {
    async fn create(&self, actor: &Actor, input: WebhookInput) -> Result<Webhook, ServiceError> {
        authorize(actor, Permission::Administer, "creating a webhook")?;
        let new = input.into_new(&self.policy)?;
        let generated = WebhookSecret::generated(rand::rng().random());
        let webhook = new.into_webhook(
            WebhookId(self.ids.new_id()),
            actor.tenant,
            generated,
            actor.user,
            terrane_domain::time::truncate(self.clock.now()),
        );
        self.repo.create(webhook).await.map_err(store_error)
    }

    async fn get(&self, actor: &Actor, id: WebhookId) -> Result<Webhook, ServiceError> {
        authorize(actor, Permission::Administer, "reading webhooks")?;
        self.repo.get(actor.tenant, id).await.map_err(store_error)
    }

    async fn list(&self, actor: &Actor, page: Page) -> Result<(Vec<Webhook>, u64), ServiceError> {
        authorize(actor, Permission::Administer, "reading webhooks")?;
        self.repo
            .list(actor.tenant, page)
            .await
            .map_err(store_error)
    }

    async fn update(
        &self,
        actor: &Actor,
        id: WebhookId,
        expected_version: Option<i64>,
        input: WebhookInput,
    ) -> Result<Webhook, ServiceError> {
        authorize(actor, Permission::Administer, "changing a webhook")?;
        let changes = input.into_changes(&self.policy)?;
        if changes.is_empty() {
            // Nothing to write: answer the current state, still honouring If-Match.
            let current = self.repo.get(actor.tenant, id).await.map_err(store_error)?;
            return match expected_version {
                Some(v) if v != current.version => Err(store_error(StoreError::VersionMismatch {
                    current: current.version,
                })),
                _ => Ok(current),
            };
        }
        self.repo
            .update(
                actor.tenant,
                id,
                expected_version,
                changes,
                self.clock.now(),
            )
            .await
            .map_err(store_error)
    }

    async fn delete(
        &self,
        actor: &Actor,
        id: WebhookId,
        expected_version: Option<i64>,
    ) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "deleting a webhook")?;
        self.repo
            .delete(actor.tenant, id, expected_version)
            .await
            .map_err(store_error)
    }

    async fn deliveries(
        &self,
        actor: &Actor,
        webhook: WebhookId,
        page: Page,
    ) -> Result<(Vec<WebhookDelivery>, u64), ServiceError> {
        authorize(actor, Permission::Administer, "reading webhook deliveries")?;
        self.repo
            .deliveries(actor.tenant, webhook, page)
            .await
            .map_err(store_error)
    }

    async fn redeliver(
        &self,
        actor: &Actor,
        webhook: WebhookId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "redelivering a webhook delivery",
        )?;
        loop {
            let current = self
                .repo
                .delivery(actor.tenant, webhook, id)
                .await
                .map_err(|e| ServiceError::from_store(e, DELIVERY))?;
            let next = current
                .redeliver(terrane_domain::time::truncate(self.clock.now()))
                .map_err(|e| ServiceError::Conflict(e.to_string()))?;
            match self.repo.replace_delivery(current.version, next).await {
                // The worker recorded an attempt in between: decide again on what it wrote.
                Err(StoreError::VersionMismatch { .. }) => continue,
                other => return other.map_err(|e| ServiceError::from_store(e, DELIVERY)),
            }
        }
    }
}

/// How the delivery worker attempts deliveries.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// When to retry, and for how long.
    pub retry: RetryPolicy,
    /// Longest one attempt may take; a claim lasts a little longer than this.
    pub timeout: Duration,
}

impl DeliverySettings {
    /// How long a claim keeps other replicas off a delivery: the attempt's timeout, plus
    /// time to record it. A replica that dies mid-attempt holds it that long at most.
    pub fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// The delivery worker's use cases: fan events out into deliveries, claim due deliveries,
/// attempt one, record the outcome.
pub struct WebhookDeliveries {
    queue: Arc<dyn WebhookQueue>,
    events: Arc<dyn EventLog>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
    settings: DeliverySettings,
}

/// Events read from the log per fan-out step.
const FAN_OUT_BATCH: u32 = 500;

impl WebhookDeliveries {
    /// Wires the worker to its ports.
    pub fn new(
        queue: Arc<dyn WebhookQueue>,
        events: Arc<dyn EventLog>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
        settings: DeliverySettings,
    ) -> Self {
        Self {
            queue,
            events,
            sender,
            clock,
            ids,
            settings,
        }
    }

    /// Turns the events logged since the last fan-out into deliveries, a batch at a time,
    /// until the log is read; answers how many events it read. Each batch moves the shared
    /// cursor with a compare-and-set: when another replica moved it first, this one's batch
    /// is dropped and it reads on from where that one got.
    ///
    /// # Errors
    /// What the ports report.
    pub async fn fan_out(&self) -> Result<usize, StoreError> {
        let mut read = 0;
        loop {
            let from = self.queue.fan_out_cursor().await?;
            let events = self.events.all_after(from, FAN_OUT_BATCH).await?;
            let Some(last) = events.last().map(|e| e.id) else {
                return Ok(read);
            };
            let mut tenants: Vec<_> = events.iter().map(|e| e.organization_id).collect();
            tenants.sort();
            tenants.dedup();
            let webhooks = self.queue.active_webhooks(tenants).await?;
            let now = terrane_domain::time::truncate(self.clock.now());
            let mut deliveries = Vec::new();
            for event in &events {
                for webhook in webhooks.iter().filter(|w| takes(w, event)) {
                    deliveries.push(WebhookDelivery::new(
                        WebhookDeliveryId(self.ids.new_id()),
                        webhook.tenant,
                        webhook.id,
                        event.id.to_string(),
                        event.event_type.as_str().to_owned(),
                        delivery_body(event),
                        now,
                    ));
                }
            }
            if self.queue.advance_fan_out(from, last, deliveries).await? {
                read += events.len();
            }
            if events.len() < FAN_OUT_BATCH as usize {
                return Ok(read);
            }
        }
    }

    /// Claims up to `limit` due deliveries for this replica.
    ///
    /// # Errors
    /// What the queue reports.
    pub async fn claim(&self, limit: u32) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = self.clock.now();
        let lease = chrono::Duration::from_std(self.settings.lease())
            .unwrap_or(chrono::Duration::minutes(1));
        self.queue.claim_due(now, now + lease, limit).await
    }

    /// Makes one attempt of a claimed delivery, signed with the webhook's current secret,
    /// and records it. Returns the delivery as recorded.
    ///
    /// # Errors
    /// What the queue reports when recording; a `VersionMismatch` means someone else
    /// recorded or redelivered it meanwhile, and this attempt's outcome is dropped.
    pub async fn attempt(&self, claimed: ClaimedDelivery) -> Result<WebhookDelivery, StoreError> {
        let ClaimedDelivery { delivery, webhook } = claimed;
        let started = self.clock.now();
        let timestamp = started.timestamp();
        let outgoing = OutgoingDelivery {
            url: webhook.url.as_str().to_owned(),
            headers: vec![
                ("Content-Type".into(), "application/json".into()),
                ("User-Agent".into(), "terrane-webhooks".into()),
                ("X-Terrane-Event".into(), delivery.event_type.clone()),
                ("X-Terrane-Delivery".into(), delivery.id.to_string()),
                ("X-Terrane-Timestamp".into(), timestamp.to_string()),
                (
                    "X-Terrane-Signature".into(),
                    signature(&webhook.secret, timestamp, &delivery.body),
                ),
            ],
            body: delivery.body.clone(),
        };
        let outcome = self.sender.send(outgoing).await;
        let now = terrane_domain::time::truncate(self.clock.now());
        let jitter: f64 = rand::rng().random();
        let next = delivery.record(
            &outcome,
            terrane_domain::time::truncate(started),
            now,
            &self.settings.retry,
            jitter,
        );
        self.queue.record(delivery.version, next.clone()).await?;
        if let AttemptOutcome::Failed { reason, .. } = &outcome {
            tracing::debug!(delivery = %delivery.id, %reason, "a webhook delivery attempt failed");
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::actor;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{DeliveryStatus, Role, TenantId, UserId};
    use terrane_ports::{
        MockClock, MockIdSource, MockWebhookQueue, MockWebhookRepository, MockWebhookSender,
    };
    use uuid::Uuid;

    fn clock() -> Arc<MockClock> {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap());
        Arc::new(clock)
    }

    fn service(repo: MockWebhookRepository) -> Webhooks {
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        Webhooks::new(
            Arc::new(repo),
            AddressPolicy::default(),
            clock(),
            Arc::new(ids),
        )
    }

    fn input(url: &str) -> WebhookInput {
        WebhookInput {
            url: Some(url.into()),
            ..WebhookInput::default()
        }
    }

    #[tokio::test]
    async fn only_admins_manage_webhooks() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_create().never();
        repo.expect_list().never();
        repo.expect_deliveries().never();
        let service = service(repo);
        let deployer = actor(Role::Deployer);
        assert!(matches!(
            service.create(&deployer, input("http://127.0.0.1/")).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            service.list(&deployer, Page::default()).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            service
                .deliveries(&deployer, WebhookId(Uuid::nil()), Page::default())
                .await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_webhook_without_a_secret_gets_a_generated_one_and_a_metadata_url_is_refused() {
        let mut repo = MockWebhookRepository::new();
        repo.expect_create().times(1).returning(Ok);
        let service = service(repo);
        let admin = actor(Role::Admin);
        let created = service
            .create(&admin, input("https://hooks.example.com/t"))
            .await
            .unwrap();
        assert!(created.secret.expose().starts_with("whsec_"));
        assert!(created.active);
        let refused = service
            .create(&admin, input("http://169.254.169.254/latest"))
            .await
            .unwrap_err();
        let ServiceError::Validation(errors) = refused else {
            panic!("{refused:?}")
        };
        assert_eq!(errors.errors()[0].field, "url");
    }

    fn claimed() -> ClaimedDelivery {
        let now = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap();
        let webhook = WebhookInput {
            url: Some("http://127.0.0.1:1/".into()),
            secret: Some("0123456789abcdef0123".into()),
            ..WebhookInput::default()
        }
        .into_new(&AddressPolicy::default())
        .unwrap()
        .into_webhook(
            WebhookId(Uuid::from_u128(3)),
            TenantId(Uuid::from_u128(2)),
            WebhookSecret::generated([0; 32]),
            UserId(Uuid::from_u128(1)),
            now,
        );
        ClaimedDelivery {
            delivery: WebhookDelivery::new(
                WebhookDeliveryId(Uuid::from_u128(9)),
                webhook.tenant,
                webhook.id,
                "17".into(),
                "deployment.created".into(),
                r#"{"id":"17"}"#.into(),
                now,
            ),
            webhook,
        }
    }

    #[tokio::test]
    async fn an_attempt_is_signed_with_the_webhook_secret_and_its_outcome_recorded() {
        let mut sender = MockWebhookSender::new();
        sender.expect_send().times(1).returning(|out| {
            let header = |name: &str| {
                out.headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            let timestamp: i64 = header("X-Terrane-Timestamp").parse().unwrap();
            let secret = WebhookSecret::parse("0123456789abcdef0123").unwrap();
            assert_eq!(
                header("X-Terrane-Signature"),
                signature(&secret, timestamp, &out.body)
            );
            assert_eq!(header("X-Terrane-Delivery"), Uuid::from_u128(9).to_string());
            assert_eq!(header("X-Terrane-Event"), "deployment.created");
            AttemptOutcome::Answered {
                status: 500,
                duration_ms: 4,
            }
        });
        let mut queue = MockWebhookQueue::new();
        queue
            .expect_record()
            .withf(|expected, next| {
                *expected == 1
                    && next.status == DeliveryStatus::Pending
                    && next.attempts == 1
                    && next.last_status_code == Some(500)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let worker = WebhookDeliveries::new(
            Arc::new(queue),
            Arc::new(terrane_ports::MockEventLog::new()),
            Arc::new(sender),
            clock(),
            Arc::new(MockIdSource::new()),
            DeliverySettings {
                retry: RetryPolicy::default(),
                timeout: Duration::from_secs(10),
            },
        );
        let recorded = worker.attempt(claimed()).await.unwrap();
        assert!(recorded.next_attempt_at.is_some());
    }
}
