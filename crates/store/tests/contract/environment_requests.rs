//! `EnvironmentRequestRepository`: requests, their history, the environments they make, and
//! the background claims.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;
use terrane_domain::environment_request::messages;
use terrane_domain::{
    ComponentId, EnvironmentId, EnvironmentRequest, EnvironmentRequestId, EnvironmentStatus, Page,
    RequestFilter, RequestInput, RequestStatus, TenantId, TtlPolicy, UserId,
};
use terrane_ports::{EnvironmentEffect, EnvironmentRequestRepository, StoreError};
// `EnvironmentRepository` is not imported: its `create`, `get` and `list` would clash with
// the request repository's, so it is named in full where used.
use uuid::Uuid;

fn user() -> UserId {
    UserId(Uuid::now_v7())
}

/// A pending request named `name` of `requester` in `tenant`, submitted at `at`.
fn request(
    tenant: TenantId,
    requester: UserId,
    name: &str,
    kind: &str,
    at: DateTime<Utc>,
) -> (EnvironmentRequest, terrane_domain::RequestHistoryEntry) {
    RequestInput {
        name: Some(name.to_owned()),
        description: Some("why".into()),
        environment_type: Some(kind.into()),
        tier: Some("small".into()),
        ..Default::default()
    }
    .into_new(&TtlPolicy::default())
    .expect("a valid request")
    .into_request(EnvironmentRequestId(Uuid::now_v7()), tenant, requester, at)
}

async fn submit(db: &TestDb, tenant: TenantId, name: &str) -> EnvironmentRequest {
    let (request, entry) = request(tenant, user(), name, "ephemeral", now());
    db.store.create(request, entry).await.expect("create")
}

/// Moves a pending request to provisioning (approved by `admin`), as the use cases do.
async fn approve(db: &TestDb, pending: &EnvironmentRequest) -> EnvironmentRequest {
    let at = now();
    let (approved, e1) = pending.approve(user(), None, at).unwrap();
    let (provisioning, e2) = approved.start_provisioning(at).unwrap();
    db.store
        .save(
            pending.version,
            provisioning,
            vec![e1, e2],
            EnvironmentEffect::None,
            at,
        )
        .await
        .expect("approve")
}

/// Makes a provisioning request active with its environment, provisioned at `at`.
async fn activate(
    db: &TestDb,
    provisioning: &EnvironmentRequest,
    at: DateTime<Utc>,
) -> EnvironmentRequest {
    let (active, entry) = provisioning.activate(env_id(), at).unwrap();
    db.store
        .save(
            provisioning.version,
            active,
            vec![entry],
            EnvironmentEffect::Create(provisioning.new_environment()),
            at,
        )
        .await
        .expect("activate")
}

async fn active(
    db: &TestDb,
    tenant: TenantId,
    name: &str,
    at: DateTime<Utc>,
) -> EnvironmentRequest {
    let pending = submit(db, tenant, name).await;
    let provisioning = approve(db, &pending).await;
    activate(db, &provisioning, at).await
}

on_both_backends!(
    a_submitted_request_reads_back_exactly_with_its_history,
    a_name_held_by_an_environment_or_an_open_request_is_a_conflict_until_the_request_closes,
    an_unknown_component_is_a_missing_reference_and_a_known_one_is_kept,
    another_tenants_request_is_not_found_not_listed_and_not_changed,
    the_list_is_newest_first_filtered_and_paged_with_a_total,
    of_concurrent_saves_from_the_same_version_exactly_one_wins,
    activating_creates_the_linked_environment_in_the_same_transaction,
    a_taken_environment_name_rolls_the_whole_move_back,
    a_rename_to_a_taken_name_is_a_conflict,
    a_deleted_request_and_its_history_are_gone_and_a_stale_delete_is_refused,
    setting_the_expiry_bumps_the_environment_and_its_request,
    provisioning_claims_are_leased_and_move_approved_requests_on,
    concurrent_provisioning_claims_never_share_a_request,
    expiry_claims_take_expired_environments_once_with_their_requests,
    concurrent_expiry_claims_never_share_an_environment,
    an_admin_claim_on_an_environment_excludes_the_reaper_until_released,
    destroying_marks_the_environment_and_expiring_records_the_request,
    deleting_an_environment_keeps_its_request_as_a_record_without_it,
);

async fn a_submitted_request_reads_back_exactly_with_its_history(db: TestDb) {
    let tenant = tenant();
    let requester = user();
    let (new, entry) = request(tenant, requester, "feature-xyz-preview", "ephemeral", now());
    let created = db.store.create(new.clone(), entry.clone()).await.unwrap();
    assert_eq!(created, new);
    assert_eq!(db.store.get(tenant, new.id).await.unwrap(), new);
    assert_eq!(db.store.history(tenant, new.id).await.unwrap(), vec![entry]);
    let (persistent, entry) = request(tenant, requester, "long-lived", "persistent", now());
    db.store.create(persistent.clone(), entry).await.unwrap();
    let read = db.store.get(tenant, persistent.id).await.unwrap();
    assert_eq!((read.ttl_hours, read.expires_at), (None, None));
}

async fn a_name_held_by_an_environment_or_an_open_request_is_a_conflict_until_the_request_closes(
    db: TestDb,
) {
    let tenant = tenant();
    terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("staging"),
        now(),
    )
    .await
    .unwrap();
    let (taken, entry) = request(tenant, user(), "staging", "ephemeral", now());
    let error = db.store.create(taken, entry).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("an environment named `staging` already exists".into())
    );

    let first = submit(&db, tenant, "preview").await;
    let (second, entry) = request(tenant, user(), "preview", "ephemeral", now());
    let error = db
        .store
        .create(second.clone(), entry.clone())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict(
            "an open request for an environment named `preview` already exists".into()
        )
    );
    // Names are the same ignoring case.
    let (shouting, shouted) = request(tenant, user(), "STAGING", "ephemeral", now());
    let error = db.store.create(shouting, shouted).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let (shouting, shouted) = request(tenant, user(), "Preview", "ephemeral", now());
    let error = db.store.create(shouting, shouted).await.unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict(
            "an open request for an environment named `Preview` already exists".into()
        )
    );
    let (other_tenant, other_entry) = request(
        crate::harness::tenant(),
        user(),
        "preview",
        "ephemeral",
        now(),
    );
    db.store.create(other_tenant, other_entry).await.unwrap();

    let (rejected, reject) = first.reject(user(), None, now()).unwrap();
    db.store
        .save(
            first.version,
            rejected,
            vec![reject],
            EnvironmentEffect::None,
            now(),
        )
        .await
        .unwrap();
    db.store
        .create(second, entry)
        .await
        .expect("a rejected request lets its name go");
}

async fn an_unknown_component_is_a_missing_reference_and_a_known_one_is_kept(db: TestDb) {
    use terrane_domain::ComponentInput;
    let tenant = tenant();
    let (mut unknown, entry) = request(tenant, user(), "preview", "ephemeral", now());
    unknown.component_id = Some(ComponentId(Uuid::now_v7()));
    let error = db
        .store
        .create(unknown.clone(), entry.clone())
        .await
        .unwrap_err();
    assert_eq!(error, StoreError::MissingReference("componentId".into()));
    assert_eq!(
        db.store.get(tenant, unknown.id).await.unwrap_err(),
        StoreError::NotFound,
        "nothing was stored"
    );
    let component = terrane_ports::ComponentRepository::create(
        &db.store,
        tenant,
        ComponentId(Uuid::now_v7()),
        ComponentInput {
            name: Some("checkout".into()),
            kind: Some("service".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap(),
        now(),
    )
    .await
    .unwrap();
    unknown.component_id = Some(component.id);
    let created = db.store.create(unknown, entry).await.unwrap();
    assert_eq!(
        db.store.get(tenant, created.id).await.unwrap().component_id,
        Some(component.id)
    );
}

async fn another_tenants_request_is_not_found_not_listed_and_not_changed(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let request = submit(&db, theirs, "preview").await;
    assert_eq!(
        db.store.get(mine, request.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.history(mine, request.id).await.unwrap_err(),
        StoreError::NotFound
    );
    let (page, total) = db
        .store
        .list(mine, RequestFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!((page.len(), total), (0, 0));
    let (mut moved, entry) = request.reject(user(), None, now()).unwrap();
    moved.tenant = mine;
    assert_eq!(
        db.store
            .save(
                request.version,
                moved,
                vec![entry],
                EnvironmentEffect::None,
                now()
            )
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.delete(mine, request.id, 1).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(db.store.get(theirs, request.id).await.unwrap(), request);
}

async fn the_list_is_newest_first_filtered_and_paged_with_a_total(db: TestDb) {
    let tenant = tenant();
    let (alice, bob) = (user(), user());
    let start = now();
    let mut ids = Vec::new();
    for (i, (who, kind)) in [
        (alice, "ephemeral"),
        (bob, "persistent"),
        (alice, "persistent"),
    ]
    .into_iter()
    .enumerate()
    {
        let (r, e) = request(
            tenant,
            who,
            &format!("env-{i}"),
            kind,
            start + Duration::seconds(i as i64),
        );
        ids.push(db.store.create(r, e).await.unwrap().id);
    }
    let names = |requests: Vec<EnvironmentRequest>| -> Vec<String> {
        requests.into_iter().map(|r| r.name.to_string()).collect()
    };
    let list = |filter: RequestFilter, page: Page| {
        let store = db.store.clone();
        async move { store.list(tenant, filter, page).await.unwrap() }
    };
    let (all, total) = list(RequestFilter::default(), Page::default()).await;
    assert_eq!(
        (names(all), total),
        (vec!["env-2".into(), "env-1".into(), "env-0".into()], 3)
    );
    let (page, total) = list(
        RequestFilter::default(),
        Page::parse(Some(1), Some(1)).unwrap(),
    )
    .await;
    assert_eq!((names(page), total), (vec!["env-1".to_owned()], 3));
    let by_alice = RequestFilter {
        requested_by: Some(alice),
        ..Default::default()
    };
    assert_eq!(
        names(list(by_alice, Page::default()).await.0),
        ["env-2", "env-0"]
    );
    let persistent = RequestFilter {
        environment_type: Some(terrane_domain::EnvironmentType::Persistent),
        requested_by: Some(alice),
        ..Default::default()
    };
    assert_eq!(names(list(persistent, Page::default()).await.0), ["env-2"]);
    let first = db.store.get(tenant, ids[0]).await.unwrap();
    let (rejected, entry) = first.reject(user(), None, now()).unwrap();
    db.store
        .save(1, rejected, vec![entry], EnvironmentEffect::None, now())
        .await
        .unwrap();
    let rejected = RequestFilter {
        status: Some(RequestStatus::Rejected),
        ..Default::default()
    };
    let (page, total) = list(rejected, Page::default()).await;
    assert_eq!((names(page), total), (vec!["env-0".to_owned()], 1));
}

async fn of_concurrent_saves_from_the_same_version_exactly_one_wins(db: TestDb) {
    let tenant = tenant();
    let pending = submit(&db, tenant, "preview").await;
    let results = race(RACERS, |i| {
        let store = db.store.clone();
        let pending = pending.clone();
        async move {
            let at = now();
            let (next, entry) = if i % 2 == 0 {
                pending.reject(user(), None, at).unwrap()
            } else {
                pending.approve(user(), None, at).unwrap()
            };
            store
                .save(
                    pending.version,
                    next,
                    vec![entry],
                    EnvironmentEffect::None,
                    at,
                )
                .await
        }
    })
    .await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for result in &results {
        if let Err(error) = result {
            assert_eq!(*error, StoreError::VersionMismatch { current: 2 });
        }
    }
    let history = db.store.history(tenant, pending.id).await.unwrap();
    assert_eq!(history.len(), 2, "one submission and the one winning move");
}

async fn activating_creates_the_linked_environment_in_the_same_transaction(db: TestDb) {
    let tenant = tenant();
    terrane_ports::EnvironmentRepository::create(&db.store, tenant, env_id(), named("dev"), now())
        .await
        .unwrap();
    let pending = submit(&db, tenant, "feature-xyz-preview").await;
    let provisioning = approve(&db, &pending).await;
    let at = now();
    let active = activate(&db, &provisioning, at).await;
    assert_eq!(active.status, RequestStatus::Active);
    assert_eq!(active.expires_at, Some(at + Duration::hours(24)));
    let environment = active.environment_id.unwrap();
    let env = terrane_ports::EnvironmentRepository::get(&db.store, tenant, environment)
        .await
        .unwrap();
    assert_eq!(env.name.as_str(), "feature-xyz-preview");
    assert_eq!(env.description.as_deref(), Some("why"));
    assert_eq!(env.request_id, Some(active.id.0));
    assert_eq!(env.expires_at, active.expires_at);
    assert_eq!(env.order_index, 1, "after the tenant's other environments");
    assert_eq!(db.store.get(tenant, active.id).await.unwrap(), active);
    let moves: Vec<_> = db
        .store
        .history(tenant, active.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.from, e.to))
        .collect();
    use RequestStatus::*;
    assert_eq!(
        moves,
        [
            (None, Pending),
            (Some(Pending), Approved),
            (Some(Approved), Provisioning),
            (Some(Provisioning), Active)
        ]
    );
}

async fn a_taken_environment_name_rolls_the_whole_move_back(db: TestDb) {
    let tenant = tenant();
    let pending = submit(&db, tenant, "preview").await;
    let provisioning = approve(&db, &pending).await;
    // Someone made an environment of that name after the request was submitted.
    terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("preview"),
        now(),
    )
    .await
    .unwrap();
    let (active, entry) = provisioning.activate(env_id(), now()).unwrap();
    let error = db
        .store
        .save(
            provisioning.version,
            active,
            vec![entry],
            EnvironmentEffect::Create(provisioning.new_environment()),
            now(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("an environment named `preview` already exists".into())
    );
    assert_eq!(
        db.store.get(tenant, provisioning.id).await.unwrap(),
        provisioning
    );
    assert_eq!(
        db.store
            .history(tenant, provisioning.id)
            .await
            .unwrap()
            .len(),
        3
    );
}

async fn a_rename_to_a_taken_name_is_a_conflict(db: TestDb) {
    let tenant = tenant();
    terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("staging"),
        now(),
    )
    .await
    .unwrap();
    submit(&db, tenant, "other").await;
    let pending = submit(&db, tenant, "preview").await;
    for (name, expected) in [
        ("staging", "an environment named `staging` already exists"),
        (
            "other",
            "an open request for an environment named `other` already exists",
        ),
    ] {
        let mut renamed = pending.clone();
        renamed.name = terrane_domain::EnvironmentName::parse(name).unwrap();
        renamed.version += 1;
        let error = db
            .store
            .save(
                pending.version,
                renamed,
                Vec::new(),
                EnvironmentEffect::None,
                now(),
            )
            .await
            .unwrap_err();
        assert_eq!(error, StoreError::Conflict(expected.into()));
    }
}

async fn a_deleted_request_and_its_history_are_gone_and_a_stale_delete_is_refused(db: TestDb) {
    let tenant = tenant();
    let pending = submit(&db, tenant, "preview").await;
    assert_eq!(
        db.store.delete(tenant, pending.id, 2).await.unwrap_err(),
        StoreError::VersionMismatch { current: 1 }
    );
    db.store.delete(tenant, pending.id, 1).await.unwrap();
    assert_eq!(
        db.store.get(tenant, pending.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.history(tenant, pending.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.delete(tenant, pending.id, 1).await.unwrap_err(),
        StoreError::NotFound
    );
    // The name is free again.
    submit(&db, tenant, "preview").await;
}

async fn setting_the_expiry_bumps_the_environment_and_its_request(db: TestDb) {
    let tenant = tenant();
    let active = active(&db, tenant, "preview", now()).await;
    let environment = active.environment_id.unwrap();
    let before = terrane_ports::EnvironmentRepository::get(&db.store, tenant, environment)
        .await
        .unwrap();
    let at = now();
    let expires = at + Duration::minutes(30);
    let env = db
        .store
        .set_expiry(tenant, environment, Some(expires), at)
        .await
        .unwrap();
    assert_eq!(
        (env.expires_at, env.version),
        (Some(expires), before.version + 1)
    );
    assert_eq!(
        terrane_ports::EnvironmentRepository::get(&db.store, tenant, environment)
            .await
            .unwrap(),
        env
    );
    let request = db.store.get(tenant, active.id).await.unwrap();
    assert_eq!(
        (request.expires_at, request.version),
        (Some(expires), active.version + 1)
    );
    let cleared = db
        .store
        .set_expiry(tenant, environment, None, now())
        .await
        .unwrap();
    assert_eq!(cleared.expires_at, None);
    assert_eq!(
        db.store.get(tenant, active.id).await.unwrap().expires_at,
        None
    );
    let plain = terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("plain"),
        now(),
    )
    .await
    .unwrap();
    let plain = db
        .store
        .set_expiry(tenant, plain.id, Some(expires), now())
        .await
        .unwrap();
    assert_eq!(plain.expires_at, Some(expires));
    assert_eq!(
        db.store
            .set_expiry(crate::harness::tenant(), environment, None, now())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

async fn provisioning_claims_are_leased_and_move_approved_requests_on(db: TestDb) {
    let tenant = tenant();
    let pending = submit(&db, tenant, "still-pending").await;
    let provisioning = approve(&db, &submit(&db, tenant, "provisioning").await).await;
    let approved = submit(&db, tenant, "approved").await;
    let (approved_next, entry) = approved.approve(user(), None, now()).unwrap();
    let approved = db
        .store
        .save(
            1,
            approved_next,
            vec![entry],
            EnvironmentEffect::None,
            now(),
        )
        .await
        .unwrap();

    let at = now();
    let lease = at + Duration::minutes(16);
    let claimed = db.store.claim_provisioning(at, lease, 10).await.unwrap();
    let ids: HashSet<_> = claimed.iter().map(|r| r.id).collect();
    assert_eq!(ids, HashSet::from([provisioning.id, approved.id]));
    assert!(claimed
        .iter()
        .all(|r| r.status == RequestStatus::Provisioning));
    let moved = db.store.get(tenant, approved.id).await.unwrap();
    assert_eq!(
        (moved.status, moved.version),
        (RequestStatus::Provisioning, 3)
    );
    let last = db
        .store
        .history(tenant, approved.id)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!((last.to, last.actor), (RequestStatus::Provisioning, None));
    assert_eq!(db.store.get(tenant, pending.id).await.unwrap(), pending);

    assert!(
        db.store
            .claim_provisioning(now(), lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased requests are not claimed again"
    );
    let after_lease = lease + Duration::seconds(1);
    assert_eq!(
        db.store
            .claim_provisioning(after_lease, after_lease + Duration::minutes(16), 10)
            .await
            .unwrap()
            .len(),
        2,
        "a lease that ran out is taken over"
    );
    // A save releases the lease: a retried request can be claimed again at once.
    let (failed, entry) = moved.fail("boom", now()).unwrap();
    let failed = db
        .store
        .save(
            moved.version,
            failed,
            vec![entry],
            EnvironmentEffect::None,
            now(),
        )
        .await
        .unwrap();
    let (retried, entry) = failed.retry(user(), now()).unwrap();
    db.store
        .save(
            failed.version,
            retried,
            vec![entry],
            EnvironmentEffect::None,
            now(),
        )
        .await
        .unwrap();
    let claimed = db.store.claim_provisioning(now(), lease, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [approved.id]
    );
}

async fn concurrent_provisioning_claims_never_share_a_request(db: TestDb) {
    let tenants = [tenant(), tenant()];
    let mut all = HashSet::new();
    for i in 0..40 {
        let pending = submit(&db, tenants[i % 2], &format!("env-{i}")).await;
        all.insert(approve(&db, &pending).await.id);
    }
    let claims = race(8, |_| {
        let store = db.store.clone();
        async move {
            let at = now();
            store
                .claim_provisioning(at, at + Duration::minutes(5), 7)
                .await
                .unwrap()
        }
    })
    .await;
    let claimed: Vec<EnvironmentRequestId> = claims.into_iter().flatten().map(|r| r.id).collect();
    let distinct: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), distinct.len(), "a request was claimed twice");
    assert_eq!(distinct, all, "8 claimers of 7 take all 40, across tenants");
}

async fn expiry_claims_take_expired_environments_once_with_their_requests(db: TestDb) {
    let tenant = tenant();
    let long_ago = now() - Duration::hours(48);
    let expired = active(&db, tenant, "expired", long_ago).await;
    let fresh = active(&db, tenant, "fresh", now()).await;
    let plain = terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("plain"),
        now(),
    )
    .await
    .unwrap();
    db.store
        .set_expiry(tenant, plain.id, Some(now() - Duration::minutes(1)), now())
        .await
        .unwrap();
    let expired = db.store.get(tenant, expired.id).await.unwrap();

    let at = now();
    let lease = at + Duration::minutes(2);
    let claims = db.store.claim_expired(at, lease, 10).await.unwrap();
    let claimed: Vec<_> = claims
        .iter()
        .map(|c| {
            (
                c.environment.name.to_string(),
                c.request.as_ref().map(|r| r.id),
            )
        })
        .collect();
    assert_eq!(
        claimed,
        [
            ("expired".to_owned(), Some(expired.id)),
            ("plain".to_owned(), None)
        ],
        "earliest expiry first; the fresh one is not due"
    );
    assert_eq!(claims[0].request.as_ref(), Some(&expired));
    assert!(db
        .store
        .claim_expired(now(), lease, 10)
        .await
        .unwrap()
        .is_empty());
    let later = lease + Duration::seconds(1);
    assert_eq!(
        db.store
            .claim_expired(later, later, 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(db.store.get(tenant, fresh.id).await.unwrap(), fresh);
}

async fn concurrent_expiry_claims_never_share_an_environment(db: TestDb) {
    let tenants = [tenant(), tenant(), tenant()];
    let past = now() - Duration::minutes(1);
    let mut all = HashSet::new();
    for i in 0..45 {
        let env = terrane_ports::EnvironmentRepository::create(
            &db.store,
            tenants[i % 3],
            env_id(),
            named(&format!("env-{i}")),
            now(),
        )
        .await
        .unwrap();
        db.store
            .set_expiry(tenants[i % 3], env.id, Some(past), now())
            .await
            .unwrap();
        all.insert(env.id);
    }
    let claims = race(8, |_| {
        let store = db.store.clone();
        async move {
            let at = now();
            store
                .claim_expired(at, at + Duration::minutes(5), 6)
                .await
                .unwrap()
        }
    })
    .await;
    let claimed: Vec<EnvironmentId> = claims
        .into_iter()
        .flatten()
        .map(|c| c.environment.id)
        .collect();
    let distinct: HashSet<_> = claimed.iter().copied().collect();
    assert_eq!(
        claimed.len(),
        distinct.len(),
        "an environment was claimed twice"
    );
    assert_eq!(distinct.len(), 45, "8 claimers of 6 take all 45");
    assert!(distinct.is_subset(&all));
}

async fn an_admin_claim_on_an_environment_excludes_the_reaper_until_released(db: TestDb) {
    let tenant = tenant();
    let active = active(&db, tenant, "preview", now() - Duration::hours(48)).await;
    let environment = active.environment_id.unwrap();
    let at = now();
    let lease = at + Duration::minutes(5);
    let claimed = db
        .store
        .claim_environment(tenant, environment, at, lease)
        .await
        .unwrap();
    assert_eq!(claimed.map(|e| e.id), Some(environment));
    assert!(db
        .store
        .claim_expired(now(), lease, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        db.store
            .claim_environment(tenant, environment, now(), lease)
            .await,
        Err(StoreError::Conflict(_))
    ));
    db.store
        .release_environment(tenant, environment, None)
        .await
        .unwrap();
    assert_eq!(
        db.store
            .claim_expired(now(), lease, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        db.store
            .claim_environment(crate::harness::tenant(), environment, now(), lease)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
}

async fn destroying_marks_the_environment_and_expiring_records_the_request(db: TestDb) {
    let tenant = tenant();
    let active = active(&db, tenant, "preview", now() - Duration::hours(48)).await;
    let environment = active.environment_id.unwrap();
    let claims = db.store.claim_expired(now(), now(), 10).await.unwrap();
    assert_eq!(claims.len(), 1);
    let at = now();
    let (expired, entry) = active.expire(None, messages::TTL_ELAPSED, at).unwrap();
    db.store
        .save(
            active.version,
            expired,
            vec![entry],
            EnvironmentEffect::Destroy,
            at,
        )
        .await
        .unwrap();
    let env = terrane_ports::EnvironmentRepository::get(&db.store, tenant, environment)
        .await
        .unwrap();
    assert_eq!(env.status, EnvironmentStatus::Destroyed);
    let request = db.store.get(tenant, active.id).await.unwrap();
    assert_eq!(request.status, RequestStatus::Expired);
    assert_eq!(request.status_message.as_deref(), Some("TTL elapsed"));
    assert!(
        db.store
            .claim_expired(now(), now(), 10)
            .await
            .unwrap()
            .is_empty(),
        "a destroyed environment is never claimed again"
    );
    assert_eq!(
        db.store
            .claim_environment(tenant, environment, now(), now())
            .await
            .unwrap(),
        None
    );
    let plain = terrane_ports::EnvironmentRepository::create(
        &db.store,
        tenant,
        env_id(),
        named("plain"),
        now(),
    )
    .await
    .unwrap();
    db.store
        .destroy_environment(tenant, plain.id, now())
        .await
        .unwrap();
    let plain_after = terrane_ports::EnvironmentRepository::get(&db.store, tenant, plain.id)
        .await
        .unwrap();
    assert_eq!(
        (plain_after.status, plain_after.version),
        (EnvironmentStatus::Destroyed, plain.version + 1)
    );
    db.store
        .destroy_environment(tenant, plain.id, now())
        .await
        .unwrap();
    assert_eq!(
        terrane_ports::EnvironmentRepository::get(&db.store, tenant, plain.id)
            .await
            .unwrap()
            .version,
        plain.version + 1,
        "destroying twice changes nothing"
    );
}

/// A login role without superuser or BYPASSRLS, dropped at the end: row-level security
/// applies to it, as it does to a production deployment's role.
pub(crate) struct ConfinedRole {
    name: String,
    admin_url: String,
}

impl ConfinedRole {
    pub(crate) fn create(admin_url: &str) -> ConfinedRole {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let name = format!("terrane_requests_{}", Uuid::now_v7().simple());
        diesel::PgConnection::establish(admin_url)
            .unwrap()
            .batch_execute(&format!(
                "CREATE ROLE {name} LOGIN; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON environments, environment_order_counters, \
                 environment_requests, environment_request_history, components, \
                 environment_templates, environment_lifecycles, workflow_runs, workflow_steps, \
                 environment_lifecycle_events, events TO {name}; \
                 GRANT USAGE ON SEQUENCE entity_numbers, events_id_seq TO {name};"
            ))
            .unwrap();
        ConfinedRole {
            name,
            admin_url: admin_url.to_owned(),
        }
    }

    pub(crate) fn url(&self) -> String {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.to_string()
    }
}

impl Drop for ConfinedRole {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        let dropped = diesel::PgConnection::establish(&self.admin_url)
            .map_err(|e| e.to_string())
            .and_then(|mut admin| {
                admin
                    .batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0};", self.name))
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = dropped {
            eprintln!("could not drop role {}: {error}", self.name);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_claims_span_tenants_under_row_level_security_and_the_rest_stays_confined() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let role = ConfinedRole::create(&db.url);
    let confined = terrane_store::Store::connect(&role.url(), 2).unwrap();
    let (a, b) = (tenant(), tenant());
    let mut expected = HashSet::new();
    for (tenant, name) in [(a, "one"), (b, "two")] {
        let (r, e) = request(tenant, user(), name, "ephemeral", now());
        let pending = confined.create(r, e).await.unwrap();
        let at = now();
        let (approved, e1) = pending.approve(user(), None, at).unwrap();
        let (provisioning, e2) = approved.start_provisioning(at).unwrap();
        let provisioning = confined
            .save(1, provisioning, vec![e1, e2], EnvironmentEffect::None, at)
            .await
            .unwrap();
        let (active, entry) = provisioning
            .activate(env_id(), at - Duration::hours(48))
            .unwrap();
        confined
            .save(
                provisioning.version,
                active.clone(),
                vec![entry],
                EnvironmentEffect::Create(provisioning.new_environment()),
                at,
            )
            .await
            .unwrap();
        expected.insert(active.environment_id.unwrap());
    }
    assert!(
        confined
            .get(
                a,
                confined
                    .list(b, RequestFilter::default(), Page::default())
                    .await
                    .unwrap()
                    .0[0]
                    .id
            )
            .await
            .is_err(),
        "tenant transactions still see only their tenant"
    );
    let claims = confined
        .claim_expired(now(), now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    let claimed: HashSet<_> = claims.iter().map(|c| c.environment.id).collect();
    assert_eq!(claimed, expected, "the reaper's claim sees every tenant");
    assert!(claims.iter().all(|c| c.request.is_some()));
    for claim in claims {
        let request = claim.request.unwrap();
        let (expired, entry) = request.expire(None, messages::TTL_ELAPSED, now()).unwrap();
        confined
            .save(
                request.version,
                expired,
                vec![entry],
                EnvironmentEffect::Destroy,
                now(),
            )
            .await
            .unwrap();
    }
    assert!(confined
        .claim_expired(now(), now(), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn deleting_an_environment_keeps_its_request_as_a_record_without_it(db: TestDb) {
    let tenant = tenant();
    let active = active(&db, tenant, "preview", now()).await;
    let environment = active.environment_id.unwrap();
    terrane_ports::EnvironmentRepository::delete(&db.store, tenant, environment, None)
        .await
        .unwrap();
    let request = db.store.get(tenant, active.id).await.unwrap();
    assert_eq!(request.environment_id, None);
    assert_eq!(request.status, RequestStatus::Active);
}
