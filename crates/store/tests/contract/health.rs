//! `HealthCheckRepository`: kept checks, the target's health with them, and claiming due
//! checks once across concurrent schedulers.

use crate::harness::{env_id, named, now, tenant, TestDb};
use crate::target_groups::new_target;
use chrono::Duration;
use std::collections::HashSet;
use terrane_domain::{
    EnvironmentChanges, EnvironmentId, HealthCheck, HealthCheckId, HealthStatus, Page,
    ProbeOutcome, TargetId, TenantId,
};
use terrane_ports::{EnvironmentRepository, HealthCheckRepository, StoreError, TargetRepository};
use uuid::Uuid;

async fn environment(db: &TestDb, tenant: TenantId, name: &str) -> EnvironmentId {
    EnvironmentRepository::create(&db.store, tenant, env_id(), named(name), now())
        .await
        .expect("create environment")
        .id
}

async fn target(db: &TestDb, tenant: TenantId, env: EnvironmentId, name: &str) -> TargetId {
    TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target(name, env, None),
        now(),
    )
    .await
    .expect("create target")
    .id
}

fn check(
    tenant: TenantId,
    target: TargetId,
    status: HealthStatus,
    message: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> HealthCheck {
    HealthCheck::new(
        HealthCheckId(Uuid::now_v7()),
        tenant,
        target,
        ProbeOutcome::new(status, message),
        at,
    )
}

on_both_backends!(
    a_recorded_check_sets_the_targets_health_without_bumping_its_version,
    the_history_is_newest_first_paged_and_confined_to_the_tenant,
    a_check_of_a_deleted_or_foreign_target_is_not_found_and_not_kept,
    due_targets_are_claimed_once_and_again_after_their_environments_interval,
    concurrent_claims_never_share_a_target,
);

async fn a_recorded_check_sets_the_targets_health_without_bumping_its_version(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let id = target(&db, tenant, env, "web-1").await;
    assert_eq!(db.store.interval(tenant, id).await.unwrap(), 30);
    let at = now();
    let updated = db
        .store
        .record(
            check(
                tenant,
                id,
                HealthStatus::Healthy,
                "Docker daemon responding",
                at,
            ),
            30,
        )
        .await
        .unwrap();
    assert_eq!(updated.health_status, HealthStatus::Healthy);
    assert_eq!(
        updated.health_message.as_deref(),
        Some("Docker daemon responding")
    );
    assert_eq!(updated.last_health_check_at, Some(at));
    assert_eq!(updated.version, 1);
    assert_eq!(
        TargetRepository::get(&db.store, tenant, id).await.unwrap(),
        updated
    );
}

async fn the_history_is_newest_first_paged_and_confined_to_the_tenant(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let id = target(&db, tenant, env, "web-1").await;
    let start = now();
    for (i, status) in [
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Unhealthy,
    ]
    .into_iter()
    .enumerate()
    {
        let at = start + Duration::seconds(i as i64);
        db.store
            .record(check(tenant, id, status, &format!("#{i}"), at), 30)
            .await
            .unwrap();
    }
    let (page, total) =
        HealthCheckRepository::history(&db.store, tenant, id, Page::parse(None, Some(2)).unwrap())
            .await
            .unwrap();
    assert_eq!(total, 3);
    let messages: Vec<&str> = page.iter().map(|c| c.message.as_str()).collect();
    assert_eq!(messages, ["#2", "#1"]);
    let (rest, _) = HealthCheckRepository::history(
        &db.store,
        tenant,
        id,
        Page::parse(Some(2), Some(2)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(rest[0].message, "#0");
    assert_eq!(rest[0].checked_at, start);
    // The history references its target: deleting the target succeeds only because its
    // checks go with it.
    TargetRepository::delete(&db.store, tenant, id, None)
        .await
        .unwrap();
    let other = HealthCheckRepository::history(&db.store, self::tenant(), id, Page::default())
        .await
        .unwrap_err();
    assert_eq!(other, StoreError::NotFound);
}

async fn a_check_of_a_deleted_or_foreign_target_is_not_found_and_not_kept(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let id = target(&db, tenant, env, "web-1").await;
    let foreign = db
        .store
        .record(
            check(self::tenant(), id, HealthStatus::Unhealthy, "x", now()),
            30,
        )
        .await
        .unwrap_err();
    assert_eq!(foreign, StoreError::NotFound);
    let (kept, total) = HealthCheckRepository::history(&db.store, tenant, id, Page::default())
        .await
        .unwrap();
    assert!(kept.is_empty() && total == 0);
    TargetRepository::delete(&db.store, tenant, id, None)
        .await
        .unwrap();
    let deleted = db
        .store
        .record(check(tenant, id, HealthStatus::Healthy, "x", now()), 30)
        .await
        .unwrap_err();
    assert_eq!(deleted, StoreError::NotFound);
}

async fn due_targets_are_claimed_once_and_again_after_their_environments_interval(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    EnvironmentRepository::update(
        &db.store,
        tenant,
        env,
        None,
        EnvironmentChanges {
            health_check_interval: Some(60),
            ..Default::default()
        },
        now(),
    )
    .await
    .unwrap();
    let other_tenant = self::tenant();
    let other_env = environment(&db, other_tenant, "dev").await;
    let a = target(&db, tenant, env, "a").await;
    let b = target(&db, other_tenant, other_env, "b").await;
    let start = now();
    let claimed = db.store.claim_due(start, 100).await.unwrap();
    let ids: HashSet<TargetId> = claimed.iter().map(|d| d.target.id).collect();
    assert_eq!(
        ids,
        HashSet::from([a, b]),
        "every tenant's never-checked targets"
    );
    let interval_of_a = claimed.iter().find(|d| d.target.id == a).unwrap();
    assert_eq!(interval_of_a.interval_seconds, 60);
    assert!(db.store.claim_due(start, 100).await.unwrap().is_empty());
    let later = db
        .store
        .claim_due(start + Duration::seconds(30), 100)
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|d| d.target.id).collect::<Vec<_>>(),
        [b],
        "the default interval is 30 s, prod's 60 s"
    );
    let much_later = db
        .store
        .claim_due(start + Duration::seconds(60), 100)
        .await
        .unwrap();
    assert_eq!(
        much_later
            .iter()
            .map(|d| d.target.id)
            .collect::<HashSet<_>>(),
        HashSet::from([a, b]),
        "a after its 60 s, b 30 s after its last claim"
    );
}

async fn concurrent_claims_never_share_a_target(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    for i in 0..20 {
        target(&db, tenant, env, &format!("t-{i}")).await;
    }
    let at = now();
    let claims = (0..4).map(|_| {
        let store = db.store.clone();
        tokio::spawn(async move { store.claim_due(at, 7).await.unwrap() })
    });
    let mut seen = Vec::new();
    for claim in claims {
        seen.extend(claim.await.unwrap().into_iter().map(|d| d.target.id));
    }
    let unique: HashSet<TargetId> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a target was claimed twice: {seen:?}"
    );
    assert_eq!(seen.len(), 20);
}
