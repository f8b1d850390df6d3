//! `EventLog`: the events the writes record, in the same transaction, and the cursor read.

use crate::harness::{named, now, race, tenant, TestDb};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::collections::HashSet;
use terrane_domain::{EnvironmentChanges, EnvironmentId, Event, EventCursor, EventType};
use terrane_ports::{acting, EnvironmentRepository, EventLog, StoreError};
use terrane_store::Backend;
use uuid::Uuid;

on_both_backends!(
    environment_writes_record_their_events_by_their_actor_and_refused_writes_none,
    a_poller_never_misses_an_event_of_concurrent_writers,
    each_organization_reads_its_own_events_and_background_work_reads_all,
    purge_deletes_only_events_older_than_the_cutoff,
    racing_replicas_record_each_freeze_window_edge_once,
    a_health_check_records_an_event_only_when_the_status_changes,
);

/// The tenant's events once there are `n` of them. On PostgreSQL a read holds back the
/// events of transactions that began after the oldest one still running in the whole
/// cluster, which other tests running at once keep busy: their events show within moments.
async fn settled(
    store: &terrane_store::Store,
    t: terrane_domain::TenantId,
    n: usize,
) -> Vec<Event> {
    for _ in 0..1000 {
        let events = store.after(t, None, &[], 1000).await.unwrap();
        if events.len() >= n {
            return events;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    store.after(t, None, &[], 1000).await.unwrap()
}

fn types(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_type.as_str()).collect()
}

async fn environment_writes_record_their_events_by_their_actor_and_refused_writes_none(db: TestDb) {
    let t = tenant();
    let id = EnvironmentId(Uuid::now_v7());
    let env = acting(
        "user-1".into(),
        db.store.create(t, id, named("staging"), now()),
    )
    .await
    .unwrap();
    // Refused: a taken name, a stale version. Neither leaves an event.
    let clash = acting(
        "user-1".into(),
        db.store
            .create(t, EnvironmentId(Uuid::now_v7()), named("STAGING"), now()),
    )
    .await;
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let changes = EnvironmentChanges {
        display_name: Some("Staging".into()),
        ..Default::default()
    };
    let stale = db
        .store
        .update(t, id, Some(99), changes.clone(), now())
        .await;
    assert!(matches!(stale, Err(StoreError::VersionMismatch { .. })));
    acting(
        "user-2".into(),
        db.store.update(t, id, Some(1), changes, now()),
    )
    .await
    .unwrap();
    // Without a request around it, a write is the system's.
    db.store.delete(t, id, Some(2)).await.unwrap();

    let events = settled(&db.store, t, 3).await;
    assert_eq!(
        types(&events),
        [
            "environment.created",
            "environment.updated",
            "environment.deleted"
        ]
    );
    let actors: Vec<&str> = events.iter().map(|e| e.actor.as_str()).collect();
    assert_eq!(actors, ["user-1", "user-2", "system"]);
    assert!(events.iter().all(|e| e.organization_id == t));
    assert!(events
        .iter()
        .all(|e| e.subject.kind == "environment" && e.subject.id == id.0));
    // The data is the environment after the change, with what the insert drew.
    assert_eq!(events[0].data["name"], "staging");
    assert_eq!(events[0].data["number"], env.number.get());
    assert_eq!(events[0].data["orderIndex"], env.order_index);
    assert_eq!(events[0].data["version"], 1);
    assert_eq!(events[1].data["displayName"], "Staging");
    assert_eq!(events[1].data["version"], 2);
    // Strictly increasing cursors; reading after one resumes there; types filter.
    assert!(events.windows(2).all(|w| w[0].id < w[1].id));
    let rest = db
        .store
        .after(t, Some(events[0].id), &[], 100)
        .await
        .unwrap();
    assert_eq!(rest, events[1..]);
    let only = [EventType::parse("environment.deleted").unwrap()];
    let deleted = db.store.after(t, None, &only, 100).await.unwrap();
    assert_eq!(deleted, events[2..]);
    let first = db.store.after(t, None, &[], 1).await.unwrap();
    assert_eq!(first, events[..1]);
}

async fn a_poller_never_misses_an_event_of_concurrent_writers(db: TestDb) {
    let t = tenant();
    const WRITERS: usize = 24;
    const EACH: usize = 5;
    let store = db.store.clone();
    let poller = tokio::spawn(async move {
        let mut seen: Vec<EventCursor> = Vec::new();
        let mut cursor = None;
        let mut idle = 0;
        // Polls until every event was seen (or, failing the test, for a long while).
        while seen.len() < WRITERS * EACH && idle < 2000 {
            let page = store.after(t, cursor, &[], 7).await.unwrap();
            if page.is_empty() {
                idle += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            for event in page {
                cursor = Some(event.id);
                seen.push(event.id);
            }
        }
        seen
    });
    let store = db.store.clone();
    race(WRITERS, move |w| {
        let store = store.clone();
        async move {
            for i in 0..EACH {
                let id = EnvironmentId(Uuid::now_v7());
                store
                    .create(t, id, named(&format!("env-{w}-{i}")), now())
                    .await
                    .unwrap();
            }
        }
    })
    .await;
    let seen = poller.await.unwrap();
    let all: Vec<EventCursor> = settled(&db.store, t, WRITERS * EACH)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(all.len(), WRITERS * EACH);
    assert_eq!(seen, all, "the poller saw every event, in order, once");
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
}

/// On PostgreSQL: an event whose transaction commits after that of a later-numbered event is
/// still read by a poller that already got the later one's predecessors.
async fn a_later_committing_transaction_is_not_skipped(db: &TestDb) {
    let t = tenant();
    let mut raw = PgConnection::establish(&db.url).unwrap();
    diesel::sql_query("BEGIN").execute(&mut raw).unwrap();
    diesel::sql_query(format!(
        "SELECT set_config('terrane.tenant_id', '{t}', true)"
    ))
    .execute(&mut raw)
    .unwrap();
    diesel::sql_query(format!(
        "INSERT INTO events (tenant_id, event_type, subject_kind, subject_id, actor, at, data) \
         VALUES ('{t}', 'environment.updated', 'environment', '{}', 'slow', now(), '{{}}')",
        Uuid::now_v7()
    ))
    .execute(&mut raw)
    .unwrap();
    // A later transaction commits first, with a later-numbered event.
    db.store
        .create(t, EnvironmentId(Uuid::now_v7()), named("quick"), now())
        .await
        .unwrap();
    let before = db.store.after(t, None, &[], 100).await.unwrap();
    assert!(
        before.is_empty(),
        "held back behind the open transaction: {before:?}"
    );
    diesel::sql_query("COMMIT").execute(&mut raw).unwrap();
    let after = settled(&db.store, t, 2).await;
    assert_eq!(
        types(&after),
        ["environment.updated", "environment.created"]
    );
    assert_eq!(after[0].actor, "slow");
}

async fn each_organization_reads_its_own_events_and_background_work_reads_all(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    db.store
        .create(a, EnvironmentId(Uuid::now_v7()), named("a"), now())
        .await
        .unwrap();
    db.store
        .create(b, EnvironmentId(Uuid::now_v7()), named("b"), now())
        .await
        .unwrap();
    let of_a = settled(&db.store, a, 1).await;
    settled(&db.store, b, 1).await;
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].organization_id, a);
    let all = db.store.all_after(None, 100).await.unwrap();
    let tenants: Vec<_> = all.iter().map(|e| e.organization_id).collect();
    assert_eq!(tenants, [a, b]);
    let after_first = db.store.all_after(Some(all[0].id), 100).await.unwrap();
    assert_eq!(after_first, all[1..]);
    if db.store.backend() == Backend::Postgres {
        a_later_committing_transaction_is_not_skipped(&db).await;
    }
}

async fn purge_deletes_only_events_older_than_the_cutoff(db: TestDb) {
    let t = tenant();
    let old = now() - chrono::Duration::days(40);
    let id = EnvironmentId(Uuid::now_v7());
    db.store.create(t, id, named("old"), old).await.unwrap();
    db.store
        .create(t, EnvironmentId(Uuid::now_v7()), named("new"), now())
        .await
        .unwrap();
    settled(&db.store, t, 2).await;
    let cutoff = now() - chrono::Duration::days(30);
    assert_eq!(db.store.purge(cutoff, 100).await.unwrap(), 1);
    assert_eq!(db.store.purge(cutoff, 100).await.unwrap(), 0);
    let left = db.store.after(t, None, &[], 100).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].data["name"], "new");
}

/// Replicas recording freeze windows' edges at once record each edge once.
async fn racing_replicas_record_each_freeze_window_edge_once(db: TestDb) {
    use terrane_domain::{FreezeWindowId, FreezeWindowInput, UserId};
    use terrane_ports::{FreezeWindowEdges, FreezeWindowRepository};
    let t = tenant();
    let env = EnvironmentId(Uuid::now_v7());
    EnvironmentRepository::create(&db.store, t, env, named("prod"), now())
        .await
        .unwrap();
    let start = now();
    let mut windows = Vec::new();
    for i in 0..10 {
        let new = FreezeWindowInput {
            start: Some((start + chrono::Duration::seconds(i)).to_rfc3339()),
            end: Some((start + chrono::Duration::seconds(i + 30)).to_rfc3339()),
            reason: Some(format!("window {i}")),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        let id = FreezeWindowId(Uuid::now_v7());
        FreezeWindowRepository::create(&db.store, t, env, id, new, UserId(Uuid::nil()), now())
            .await
            .unwrap();
        windows.push(id);
    }
    // Two stores on one database stand for two replicas.
    let other = terrane_store::Store::connect(&db.url, 4).unwrap();
    let stores = [db.store.clone(), other];
    let at = start + chrono::Duration::seconds(100);
    let recorded: u64 = race(8, move |i| {
        let store = stores[i % 2].clone();
        async move { store.record_edges(at, 3).await.unwrap() }
    })
    .await
    .into_iter()
    .sum();
    // Whatever is left after the race, one more look finishes.
    let rest = db.store.record_edges(at, 100).await.unwrap()
        + db.store.record_edges(at, 100).await.unwrap();
    assert_eq!(recorded + rest, 20, "ten starts and ten ends");
    let events = settled(&db.store, t, 1 + 10 + 20).await;
    let started = events
        .iter()
        .filter(|e| e.event_type.as_str() == "freeze_window.started");
    let ended = events
        .iter()
        .filter(|e| e.event_type.as_str() == "freeze_window.ended");
    let started: Vec<Uuid> = started.map(|e| e.subject.id).collect();
    let ended: Vec<Uuid> = ended.map(|e| e.subject.id).collect();
    assert_eq!(started.len(), 10);
    assert_eq!(started.iter().collect::<HashSet<_>>().len(), 10);
    assert_eq!(ended.iter().collect::<HashSet<_>>().len(), 10);
    assert_eq!(ended.len(), 10);
    assert!(events
        .iter()
        .filter(|e| e.event_type.as_str().starts_with("freeze_window.s")
            || e.event_type.as_str() == "freeze_window.ended")
        .all(|e| e.actor == "system"));
    assert_eq!(db.store.record_edges(at, 100).await.unwrap(), 0);
}

/// A health check records `target.health_changed` when it changes the target's status, and
/// nothing when it confirms it.
async fn a_health_check_records_an_event_only_when_the_status_changes(db: TestDb) {
    use terrane_domain::{HealthCheck, HealthCheckId, HealthStatus, ProbeOutcome, TargetId};
    use terrane_ports::{HealthCheckRepository, TargetRepository};
    let t = tenant();
    let env = EnvironmentId(Uuid::now_v7());
    EnvironmentRepository::create(&db.store, t, env, named("prod"), now())
        .await
        .unwrap();
    let target = TargetId(Uuid::now_v7());
    TargetRepository::create(
        &db.store,
        t,
        target,
        crate::target_groups::new_target("web-1", env, None),
        now(),
    )
    .await
    .unwrap();
    let check = |status| {
        HealthCheck::new(
            HealthCheckId(Uuid::now_v7()),
            t,
            target,
            ProbeOutcome::new(status, "probed"),
            now(),
        )
    };
    for status in [
        HealthStatus::Healthy,
        HealthStatus::Healthy,
        HealthStatus::Unhealthy,
    ] {
        db.store.record(check(status), 30).await.unwrap();
    }
    let events = settled(&db.store, t, 4).await;
    assert_eq!(
        types(&events),
        [
            "environment.created",
            "target.created",
            "target.health_changed",
            "target.health_changed"
        ]
    );
    assert_eq!(
        (&events[2].data["from"], &events[2].data["to"]),
        (&serde_json::json!("unknown"), &serde_json::json!("healthy"))
    );
    assert_eq!(
        (&events[3].data["from"], &events[3].data["to"]),
        (
            &serde_json::json!("healthy"),
            &serde_json::json!("unhealthy")
        )
    );
}
