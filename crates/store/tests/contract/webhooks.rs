//! Webhooks and their delivery queue: deliveries inserted through the queue port are claimed
//! first pending of each webhook only, once per lease, disjointly by concurrent claimers;
//! a stale record is refused; the fan-out cursor moves once from a given place.

use crate::harness::{now, race, tenant, TestDb};
use chrono::Duration;
use std::collections::HashSet;
use terrane_domain::{
    AddressPolicy, AttemptOutcome, DeliveryStatus, EventCursor, RetryPolicy, TenantId, UserId,
    Webhook, WebhookDelivery, WebhookDeliveryId, WebhookId, WebhookInput, WebhookSecret,
};
use terrane_ports::{StoreError, WebhookQueue, WebhookRepository};
use uuid::Uuid;

on_both_backends!(
    only_the_first_pending_delivery_of_each_active_webhook_is_claimed,
    a_claim_whose_lease_ran_out_is_claimed_again_and_a_stale_record_is_refused,
    concurrent_claims_take_disjoint_deliveries,
    the_fan_out_cursor_moves_once_from_a_given_place,
);

async fn webhook(db: &TestDb, tenant: TenantId, active: bool) -> Webhook {
    let webhook = WebhookInput {
        url: Some("http://127.0.0.1:9/hook".into()),
        active: Some(active),
        ..WebhookInput::default()
    }
    .into_new(&AddressPolicy::default())
    .unwrap()
    .into_webhook(
        WebhookId(Uuid::now_v7()),
        tenant,
        WebhookSecret::generated([1; 32]),
        UserId(Uuid::now_v7()),
        now(),
    );
    WebhookRepository::create(&db.store, webhook).await.unwrap()
}

fn delivery(webhook: &Webhook, event: &str) -> WebhookDelivery {
    WebhookDelivery::new(
        WebhookDeliveryId(Uuid::now_v7()),
        webhook.tenant,
        webhook.id,
        event.into(),
        "environment.created".into(),
        format!(r#"{{"id":"{event}"}}"#),
        now() - Duration::seconds(1),
    )
}

fn succeeded(d: &WebhookDelivery) -> WebhookDelivery {
    d.record(
        &AttemptOutcome::Answered {
            status: 200,
            duration_ms: 1,
        },
        now(),
        now(),
        &RetryPolicy::default(),
        0.5,
    )
}

async fn only_the_first_pending_delivery_of_each_active_webhook_is_claimed(db: TestDb) {
    let t = tenant();
    let (w1, w2, off) = (
        webhook(&db, t, true).await,
        webhook(&db, t, true).await,
        webhook(&db, t, false).await,
    );
    let queued = vec![
        delivery(&w1, "0.1"),
        delivery(&w1, "0.2"),
        delivery(&w2, "0.3"),
        delivery(&w1, "0.4"),
        delivery(&off, "0.5"),
    ];
    db.store.enqueue(queued.clone()).await.unwrap();
    let lease = now() + Duration::minutes(1);
    let claimed = db.store.claim_due(now(), lease, 10).await.unwrap();
    let events: HashSet<_> = claimed
        .iter()
        .map(|c| c.delivery.event_id.as_str())
        .collect();
    assert_eq!(events, HashSet::from(["0.1", "0.3"]));
    assert!(db
        .store
        .claim_due(now(), lease, 10)
        .await
        .unwrap()
        .is_empty());

    let first = &claimed
        .iter()
        .find(|c| c.webhook.id == w1.id)
        .unwrap()
        .delivery;
    db.store
        .record(first.version, succeeded(first))
        .await
        .unwrap();
    let next = db.store.claim_due(now(), lease, 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].delivery.event_id, "0.2");
    assert_eq!(next[0].webhook.secret, w1.secret);

    let (listed, total) = db
        .store
        .deliveries(t, w1.id, terrane_domain::Page::default())
        .await
        .unwrap();
    assert_eq!(total, 3);
    let order: Vec<_> = listed.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(order, ["0.4", "0.2", "0.1"], "newest first");
    assert_eq!(listed[2].status, DeliveryStatus::Succeeded);
    let other = db
        .store
        .deliveries(tenant(), w1.id, terrane_domain::Page::default())
        .await;
    assert_eq!(other.unwrap_err(), StoreError::NotFound);
}

async fn a_claim_whose_lease_ran_out_is_claimed_again_and_a_stale_record_is_refused(db: TestDb) {
    let w = webhook(&db, tenant(), true).await;
    db.store.enqueue(vec![delivery(&w, "0.1")]).await.unwrap();
    let claimed = db
        .store
        .claim_due(now(), now() + Duration::milliseconds(200), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let again = db
        .store
        .claim_due(now(), now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "the dead claimer's lease ran out");
    assert_eq!(again[0].delivery.id, claimed[0].delivery.id);
    let d = &again[0].delivery;
    db.store.record(d.version, succeeded(d)).await.unwrap();
    let late = db.store.record(d.version, succeeded(d)).await;
    assert!(
        matches!(late, Err(StoreError::VersionMismatch { .. })),
        "{late:?}"
    );
}

async fn concurrent_claims_take_disjoint_deliveries(db: TestDb) {
    let t = tenant();
    let mut queued = Vec::new();
    for i in 0..20 {
        let w = webhook(&db, t, true).await;
        queued.push(delivery(&w, &format!("0.{i}")));
    }
    db.store.enqueue(queued).await.unwrap();
    let store = db.store.clone();
    let claims = race(8, move |_| {
        let store = store.clone();
        async move {
            store
                .claim_due(now(), now() + Duration::minutes(1), 5)
                .await
                .unwrap()
        }
    })
    .await;
    let ids: Vec<_> = claims.iter().flatten().map(|c| c.delivery.id).collect();
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len(), "a delivery claimed twice");
    assert_eq!(ids.len(), 20, "every delivery claimed");
}

async fn the_fan_out_cursor_moves_once_from_a_given_place(db: TestDb) {
    let w = webhook(&db, tenant(), true).await;
    assert_eq!(db.store.fan_out_cursor().await.unwrap(), None);
    let to = EventCursor { tx: 0, seq: 7 };
    let moved = db
        .store
        .advance_fan_out(None, to, vec![delivery(&w, "0.7")])
        .await
        .unwrap();
    assert!(moved);
    let again = db
        .store
        .advance_fan_out(
            None,
            EventCursor { tx: 0, seq: 9 },
            vec![delivery(&w, "0.7")],
        )
        .await
        .unwrap();
    assert!(!again, "another replica already moved it");
    assert_eq!(db.store.fan_out_cursor().await.unwrap(), Some(to));
    let (_, total) = db
        .store
        .deliveries(w.tenant, w.id, terrane_domain::Page::default())
        .await
        .unwrap();
    assert_eq!(total, 1, "the losing batch enqueued nothing");
    let gone = WebhookId(Uuid::now_v7());
    let mut orphan = delivery(&w, "0.8");
    orphan.webhook = gone;
    assert!(db
        .store
        .advance_fan_out(Some(to), EventCursor { tx: 0, seq: 8 }, vec![orphan])
        .await
        .unwrap());
}
