//! `DeploymentRepository` and `ReleaseRepository`: the ledger, its compare-and-set, the
//! latest-deployment table it maintains, approvals, the sweep and tenant isolation.

use crate::harness::{now, race, tenant, TestDb, RACERS};
use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use terrane_domain::{
    Component, ComponentId, ComponentInput, Deployment, DeploymentInput, DeploymentStatus,
    Environment, EnvironmentChanges, EnvironmentId, EnvironmentInput, FreezeWindow, FreezeWindowId,
    FreezeWindowInput, Page, PromotionEvidence, PromotionPolicy, Release, ReleaseComponentInput,
    ReleaseInput, TenantId, TransitionInput, UserId,
};
use terrane_ports::{
    ComponentRepository, Decide, DeploymentFilter, DeploymentRepository, EnvironmentRepository,
    FreezeWindowRepository, ReleaseRepository, ServiceError, StoreError, TransitionFailure,
};
use terrane_store::{Backend, Store};
use uuid::Uuid;

on_both_backends!(
    a_recorded_deployment_reads_back_whole_with_its_creation_in_history,
    missing_references_and_unusable_environments_store_nothing,
    of_racing_transitions_from_one_revision_exactly_one_wins,
    the_latest_table_follows_successes_and_recomputes_after_a_rollback,
    approvals_count_once_per_person_and_round_and_only_while_pending,
    another_tenant_neither_reads_nor_moves_nor_approves,
    the_list_is_newest_first_filtered_and_paged,
    gate_inputs_read_the_environment_windows_approvals_and_promotion_evidence,
    gate_inputs_hold_the_windows_active_at_the_moment_of_the_decision,
    a_refused_decision_writes_nothing,
    a_copy_another_replica_moved_on_is_decided_again_on_what_is_stored,
    gates_decided_on_a_copy_see_every_window_and_rule_added_since,
    list_totals_follow_every_record_and_move,
    stuck_deployments_are_failed_once_even_by_racing_sweepers,
    an_environment_with_deployments_is_not_deleted,
    releases_are_unique_by_name_and_name_a_missing_component_by_index,
);

fn ledger(db: &TestDb) -> &dyn DeploymentRepository {
    &db.store
}

fn releases(db: &TestDb) -> &dyn ReleaseRepository {
    &db.store
}

fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

async fn environment(store: &Store, tenant: TenantId, input: EnvironmentInput) -> Environment {
    EnvironmentRepository::create(
        store,
        tenant,
        EnvironmentId(Uuid::now_v7()),
        input.into_new().expect("a valid environment"),
        now(),
    )
    .await
    .expect("the environment is stored")
}

fn env_named(name: &str) -> EnvironmentInput {
    EnvironmentInput {
        name: Some(name.into()),
        ..Default::default()
    }
}

async fn component(store: &Store, tenant: TenantId, name: &str) -> Component {
    let new = ComponentInput {
        name: Some(name.into()),
        kind: Some("service".into()),
        ..Default::default()
    }
    .into_new()
    .unwrap();
    ComponentRepository::create(store, tenant, ComponentId(Uuid::now_v7()), new, now())
        .await
        .unwrap()
}

/// A pending deployment, not stored yet.
fn pending(
    tenant: TenantId,
    component: &Component,
    env: &Environment,
    version: &str,
    at: DateTime<Utc>,
) -> Deployment {
    DeploymentInput {
        component_id: Some(component.id.0),
        environment_id: Some(env.id.0),
        version: Some(version.into()),
        ..Default::default()
    }
    .into_new(user(1))
    .unwrap()
    .into_deployment(Uuid::now_v7(), tenant, user(1), at)
}

async fn record(store: &Store, d: Deployment) -> Deployment {
    DeploymentRepository::create(store, d.tenant, vec![d])
        .await
        .unwrap()
        .remove(0)
}

/// Moves `d` to `status` at `at` (finishing at `finished` when given) through the store.
async fn step(
    store: &Store,
    d: &Deployment,
    status: &str,
    at: DateTime<Utc>,
    finished: Option<DateTime<Utc>>,
) -> Deployment {
    let input = TransitionInput {
        status: Some(status.into()),
        finished_at: finished,
        ..Default::default()
    };
    DeploymentRepository::transition(store, d.tenant, d.id, at, moving(d, input, at))
        .await
        .unwrap()
}

/// The decision that moves `from` as `input` says, refused when the stored revision is no
/// longer that of `from`.
fn moving(from: &Deployment, input: TransitionInput, at: DateTime<Utc>) -> Decide {
    let (next, entry) = from.transition(input, Some(user(2)), None, at).unwrap();
    let revision = from.version_number;
    Box::new(move |current, _| {
        if current.version_number == revision {
            Ok((next.clone(), entry.clone()))
        } else {
            Err(ServiceError::Conflict("moved on".into()))
        }
    })
}

#[derive(QueryableByName)]
struct LatestRow {
    #[diesel(sql_type = Text)]
    deployment_id: String,
    #[diesel(sql_type = Text)]
    version: String,
}

/// The row of `latest_deployments` for a component and environment, read behind the store.
fn latest(db: &TestDb, c: &Component, e: &Environment) -> Option<(Uuid, String)> {
    // Ids are UUIDs this test made: safe to inline, and the same text on both backends.
    let query = format!(
        "SELECT CAST(deployment_id AS TEXT) AS deployment_id, version FROM latest_deployments \
         WHERE CAST(component_id AS TEXT) = '{}' AND CAST(environment_id AS TEXT) = '{}'",
        c.id, e.id
    );
    let rows: Vec<LatestRow> = match db.store.backend() {
        Backend::Postgres => {
            diesel::sql_query(query).load(&mut PgConnection::establish(&db.url).unwrap())
        }
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            diesel::sql_query(query).load(&mut SqliteConnection::establish(path).unwrap())
        }
    }
    .unwrap();
    assert!(rows.len() <= 1);
    rows.into_iter()
        .next()
        .map(|r| (Uuid::parse_str(&r.deployment_id).unwrap(), r.version))
}

async fn a_recorded_deployment_reads_back_whole_with_its_creation_in_history(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let mut d = pending(t, &c, &e, "v1", now());
    d.metadata
        .insert("pipelineUrl".into(), serde_json::json!("https://ci/1"));
    d.digest = Some(
        terrane_domain::Digest::parse(&format!("sha256:{}", "a".repeat(64)), "digest").unwrap(),
    );
    let stored = record(&db.store, d.clone()).await;
    assert_eq!(stored, d);
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), d);
    let history = ledger(&db).history(t, d.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to, history[0].actor),
        (None, DeploymentStatus::Pending, Some(user(1)))
    );
    let running = step(&db.store, &d, "in_progress", now(), None).await;
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), running);
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 2);
}

async fn missing_references_and_unusable_environments_store_nothing(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let e = environment(&db.store, t, env_named("dev")).await;
    let ghost_env = Environment {
        id: EnvironmentId(Uuid::now_v7()),
        ..e.clone()
    };
    let ghost_component = Component {
        id: ComponentId(Uuid::now_v7()),
        ..c.clone()
    };
    let good = pending(t, &c, &e, "v1", now());
    for (bad, field) in [
        (pending(t, &c, &ghost_env, "v1", now()), "environmentId"),
        (pending(t, &ghost_component, &e, "v1", now()), "componentId"),
        (
            Deployment {
                release_id: Some(Uuid::now_v7()),
                ..pending(t, &c, &e, "v1", now())
            },
            "releaseId",
        ),
    ] {
        // Alone (one statement on PostgreSQL), and after a good one: nothing of the batch
        // is kept.
        for batch in [vec![bad.clone()], vec![good.clone(), bad]] {
            let error = ledger(&db).create(t, batch).await.unwrap_err();
            assert_eq!(error, StoreError::MissingReference(field.into()));
        }
    }
    // What another tenant has is as missing as what nobody has.
    let other = tenant();
    let their_component = component(&db.store, other, "api").await;
    let their_environment = environment(&db.store, other, env_named("dev")).await;
    for (bad, field) in [
        (
            pending(t, &c, &their_environment, "v1", now()),
            "environmentId",
        ),
        (pending(t, &their_component, &e, "v1", now()), "componentId"),
    ] {
        let error = ledger(&db).create(t, vec![bad]).await.unwrap_err();
        assert_eq!(error, StoreError::MissingReference(field.into()));
    }
    let inactive = environment(
        &db.store,
        t,
        EnvironmentInput {
            is_active: Some(false),
            ..env_named("old")
        },
    )
    .await;
    let destroyed = environment(
        &db.store,
        t,
        EnvironmentInput {
            status: Some("destroyed".into()),
            ..env_named("gone")
        },
    )
    .await;
    for (env, word) in [(&inactive, "inactive"), (&destroyed, "destroyed")] {
        let error = ledger(&db)
            .create(t, vec![pending(t, &c, env, "v1", now())])
            .await
            .unwrap_err();
        assert!(
            matches!(&error, StoreError::Conflict(m) if m.contains(word)),
            "{error:?}"
        );
    }
    let (list, total) = ledger(&db)
        .list(t, DeploymentFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!((list.len(), total), (0, 0));
}

async fn of_racing_transitions_from_one_revision_exactly_one_wins(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let mut current = d.clone();
    for status in ["in_progress", "succeeded"] {
        let store = db.store.clone();
        let from = current.clone();
        let results = race(RACERS, move |_| {
            let store = store.clone();
            let from = from.clone();
            async move {
                let input = TransitionInput {
                    status: Some(status.into()),
                    ..Default::default()
                };
                let decide = moving(&from, input, now());
                DeploymentRepository::transition(&store, from.tenant, from.id, now(), decide).await
            }
        })
        .await;
        let winners: Vec<Deployment> = results.iter().filter_map(|r| r.clone().ok()).collect();
        assert_eq!(winners.len(), 1, "{status}: {results:?}");
        for result in &results {
            // A loser either read after the winner wrote (and its decision refused), or read
            // before and lost the compare-and-set.
            if let Err(error) = result {
                let lost_the_write = TransitionFailure::Store(StoreError::VersionMismatch {
                    current: from_revision(&current) + 1,
                });
                let read_too_late =
                    TransitionFailure::Refused(ServiceError::Conflict("moved on".into()));
                assert!(
                    *error == lost_the_write || *error == read_too_late,
                    "{error:?}"
                );
            }
        }
        current = winners[0].clone();
    }
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 3);
    assert_eq!(
        latest(&db, &c, &e),
        Some((d.id, "v1".to_owned())),
        "the one success is the latest"
    );
}

fn from_revision(d: &Deployment) -> i64 {
    d.version_number
}

async fn the_latest_table_follows_successes_and_recomputes_after_a_rollback(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let other_env = environment(&db.store, t, env_named("prod")).await;
    let t0 = now() - Duration::minutes(10);
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    assert_eq!(latest(&db, &c, &e), None);

    let run = |d: Deployment, start: i64, finish: DateTime<Utc>| {
        let db = &db;
        async move {
            let running = step(&db.store, &d, "in_progress", at(start), None).await;
            step(
                &db.store,
                &running,
                "succeeded",
                at(start) + Duration::seconds(30),
                Some(finish),
            )
            .await
        }
    };
    let d1 = run(
        record(&db.store, pending(t, &c, &e, "v1", at(0))).await,
        1,
        at(1),
    )
    .await;
    assert_eq!(latest(&db, &c, &e), Some((d1.id, "v1".into())));
    let d2 = run(
        record(&db.store, pending(t, &c, &e, "v2", at(2))).await,
        3,
        at(3),
    )
    .await;
    assert_eq!(latest(&db, &c, &e), Some((d2.id, "v2".into())));
    // A success reported as finished before the current latest does not replace it.
    let d3 = run(
        record(&db.store, pending(t, &c, &e, "v3", at(0))).await,
        4,
        at(2),
    )
    .await;
    assert_eq!(latest(&db, &c, &e), Some((d2.id, "v2".into())));
    // Failures and other environments leave it alone.
    let failed = record(&db.store, pending(t, &c, &e, "v4", at(5))).await;
    step(&db.store, &failed, "failed", at(5), None).await;
    run(
        record(&db.store, pending(t, &c, &other_env, "v9", at(5))).await,
        5,
        at(5) + Duration::seconds(10),
    )
    .await;
    assert_eq!(latest(&db, &c, &e), Some((d2.id, "v2".into())));

    // Rolling back the latest puts back the success before it (by time of success).
    let d2 = step(&db.store, &d2, "rolled_back", at(7), None).await;
    assert_eq!(latest(&db, &c, &e), Some((d3.id, "v3".into())));
    // Rolling back one that is not the latest changes nothing.
    let d1 = step(&db.store, &d1, "rolled_back", at(7), None).await;
    assert_eq!(latest(&db, &c, &e), Some((d3.id, "v3".into())));
    step(&db.store, &d3, "rolled_back", at(8), None).await;
    assert_eq!(latest(&db, &c, &e), None, "nothing succeeded stands");

    // A retried deployment that succeeds again is the latest again.
    let retried = step(&db.store, &d2, "pending", at(9), None).await;
    let again = run(retried, 9, at(9) + Duration::seconds(20)).await;
    assert_eq!(latest(&db, &c, &e), Some((again.id, "v2".into())));
    assert_eq!(d1.status, DeploymentStatus::RolledBack);
    assert_eq!(latest(&db, &c, &other_env).map(|l| l.1), Some("v9".into()));
}

async fn approvals_count_once_per_person_and_round_and_only_while_pending(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let first = ledger(&db)
        .approve(t, d.id, user(5), Some("ok".into()), now())
        .await
        .unwrap();
    assert_eq!((first.round, first.approver), (0, user(5)));
    let twice = ledger(&db).approve(t, d.id, user(5), None, now()).await;
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");
    ledger(&db)
        .approve(t, d.id, user(6), None, now())
        .await
        .unwrap();

    let running = step(&db.store, &d, "in_progress", now(), None).await;
    let late = ledger(&db).approve(t, d.id, user(7), None, now()).await;
    assert!(
        matches!(&late, Err(StoreError::Conflict(m)) if m.contains("in_progress")),
        "{late:?}"
    );
    let failed = step(&db.store, &running, "failed", now(), None).await;
    let retried = step(&db.store, &failed, "pending", now(), None).await;
    assert_eq!(retried.approval_round, 1);
    let again = ledger(&db)
        .approve(t, d.id, user(5), None, now())
        .await
        .unwrap();
    assert_eq!(again.round, 1);
    let all = ledger(&db).approvals(t, d.id).await.unwrap();
    let rounds: Vec<(u32, UserId)> = all.iter().map(|a| (a.round, a.approver)).collect();
    assert_eq!(rounds, [(0, user(5)), (0, user(6)), (1, user(5))]);
    assert_eq!(all[0].comment.as_deref(), Some("ok"));
}

async fn another_tenant_neither_reads_nor_moves_nor_approves(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let other = tenant();
    assert_eq!(
        ledger(&db).get(other, d.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ledger(&db).history(other, d.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ledger(&db).approvals(other, d.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ledger(&db).approve(other, d.id, user(9), None, now()).await,
        Err(StoreError::NotFound)
    );
    let failing = TransitionInput {
        status: Some("failed".into()),
        ..Default::default()
    };
    let moved = ledger(&db)
        .transition(other, d.id, now(), moving(&d, failing, now()))
        .await;
    assert_eq!(moved, Err(TransitionFailure::Store(StoreError::NotFound)));
    assert_eq!(
        ledger(&db).gate_inputs(other, d.id, now()).await,
        Err(StoreError::NotFound)
    );
    let (_, total) = ledger(&db)
        .list(other, DeploymentFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!(total, 0);
    // Their own deployment cannot point at this tenant's component or environment.
    let theirs = Deployment {
        tenant: other,
        ..pending(t, &c, &e, "v1", now())
    };
    assert_eq!(
        ledger(&db).create(other, vec![theirs]).await,
        Err(StoreError::MissingReference("environmentId".into()))
    );
    assert_eq!(
        ledger(&db).get(t, d.id).await.unwrap().status,
        DeploymentStatus::Pending
    );
}

async fn the_list_is_newest_first_filtered_and_paged(db: TestDb) {
    let t = tenant();
    let api = component(&db.store, t, "api").await;
    let web = component(&db.store, t, "web").await;
    let dev = environment(&db.store, t, env_named("dev")).await;
    let prod = environment(&db.store, t, env_named("prod")).await;
    let r = release(&db, t, "r1", &[&api]).await;
    let t0 = now() - Duration::minutes(5);
    let mut made = Vec::new();
    for (i, (c, e)) in [
        (&api, &dev),
        (&web, &dev),
        (&api, &prod),
        (&web, &prod),
        (&api, &dev),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = pending(t, c, e, "v1", t0 + Duration::seconds(i as i64));
        if i == 4 {
            d.release_id = Some(r.id);
        }
        made.push(record(&db.store, d).await);
    }
    step(&db.store, &made[1], "failed", now(), None).await;
    let ids = |list: Vec<Deployment>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let query = |filter: DeploymentFilter, page: Page| {
        let db = &db;
        async move { ledger(db).list(t, filter, page).await.unwrap() }
    };
    let (all, total) = query(DeploymentFilter::default(), Page::default()).await;
    assert_eq!(total, 5);
    assert_eq!(
        ids(all),
        made.iter().rev().map(|d| d.id).collect::<Vec<_>>()
    );
    let (page, total) = query(
        DeploymentFilter::default(),
        Page::parse(Some(1), Some(2)).unwrap(),
    )
    .await;
    assert_eq!((ids(page), total), (vec![made[3].id, made[2].id], 5));
    let (of_api_in_dev, total) = query(
        DeploymentFilter {
            component_id: Some(api.id),
            environment_id: Some(dev.id),
            ..Default::default()
        },
        Page::default(),
    )
    .await;
    assert_eq!(
        (ids(of_api_in_dev), total),
        (vec![made[4].id, made[0].id], 2)
    );
    let (failed, _) = query(
        DeploymentFilter {
            status: Some(DeploymentStatus::Failed),
            ..Default::default()
        },
        Page::default(),
    )
    .await;
    assert_eq!(ids(failed), [made[1].id]);
    let (of_release, _) = query(
        DeploymentFilter {
            release_id: Some(r.id),
            ..Default::default()
        },
        Page::default(),
    )
    .await;
    assert_eq!(ids(of_release), [made[4].id]);
}

/// A freeze window on `environment` from `start` to `end`.
async fn freeze(
    store: &Store,
    environment: &Environment,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> FreezeWindow {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let new = FreezeWindowInput {
        start: Some(time(start)),
        end: Some(time(end)),
        reason: Some(format!("freeze from {}", time(start))),
        exceptions: Some(vec![user(9).to_string()]),
    }
    .into_new()
    .expect("a valid window");
    FreezeWindowRepository::create(
        store,
        environment.tenant,
        environment.id,
        FreezeWindowId(Uuid::now_v7()),
        new,
        user(1),
        now(),
    )
    .await
    .unwrap()
}

async fn gate_inputs_hold_the_windows_active_at_the_moment_of_the_decision(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let dev = environment(&db.store, t, env_named("dev")).await;
    let prod = environment(&db.store, t, env_named("prod")).await;
    let at = now();
    let hour = Duration::hours(1);
    // Active at `at`: two, listed by start whatever the order they were made in.
    let later = freeze(&db.store, &dev, at - hour, at + hour).await;
    let earlier = freeze(&db.store, &dev, at - hour * 2, at + hour * 3).await;
    // Over, not begun, or on another environment.
    freeze(&db.store, &dev, at - hour * 3, at - hour).await;
    freeze(&db.store, &dev, at + hour, at + hour * 2).await;
    freeze(&db.store, &prod, at - hour, at + hour).await;
    let d = record(&db.store, pending(t, &c, &dev, "v1", at)).await;
    let (read, inputs) = ledger(&db).gate_inputs(t, d.id, at).await.unwrap();
    assert_eq!(read, d);
    assert_eq!(inputs.environment, dev);
    assert_eq!(inputs.active_windows, [earlier.clone(), later.clone()]);
    // Two hours on, only the earlier one is still on: the moment is the one asked about.
    let (_, inputs) = ledger(&db)
        .gate_inputs(t, d.id, at + hour * 2)
        .await
        .unwrap();
    assert_eq!(inputs.active_windows, [earlier]);
    // A transition's decision sees what the moment of the transition sees.
    let seen = ledger(&db)
        .transition(
            t,
            d.id,
            at,
            Box::new(move |current, gates| {
                let inputs = gates.gate_inputs().unwrap();
                assert_eq!(*current, d);
                Err(ServiceError::Conflict(format!(
                    "{} windows",
                    inputs.active_windows.len()
                )))
            }),
        )
        .await;
    assert_eq!(
        seen,
        Err(TransitionFailure::Refused(ServiceError::Conflict(
            "2 windows".into()
        )))
    );
}

async fn gate_inputs_read_the_environment_windows_approvals_and_promotion_evidence(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let ordered = |name: &str, order: i64, active: bool| EnvironmentInput {
        order_index: Some(order),
        is_active: Some(active),
        ..env_named(name)
    };
    let dev = environment(&db.store, t, ordered("dev", 1, true)).await;
    let staging = environment(&db.store, t, ordered("staging", 2, true)).await;
    environment(&db.store, t, ordered("qa", 3, false)).await;
    let guarded = EnvironmentInput {
        promotion_policy: Some(PromotionPolicy::Sequential.as_str().into()),
        required_approvals: Some(1),
        ..ordered("prod", 4, true)
    };
    let prod = environment(&db.store, t, guarded).await;
    let first = record(&db.store, pending(t, &c, &dev, "v1", now())).await;
    let (_, plain) = ledger(&db).gate_inputs(t, first.id, now()).await.unwrap();
    assert_eq!(plain.environment, dev);
    assert_eq!(
        (
            plain.active_windows.len(),
            plain.approvers.len(),
            &plain.promotion
        ),
        (0, 0, &PromotionEvidence::FirstEnvironment),
        "dev has no gate rules to read for"
    );
    let inputs = |version: &str| {
        let (db, prod, c, version) = (&db, prod.clone(), c.clone(), version.to_owned());
        async move {
            let d = record(&db.store, pending(t, &c, &prod, &version, now())).await;
            ledger(db)
                .approve(t, d.id, user(5), None, now())
                .await
                .unwrap();
            let (read, inputs) = ledger(db).gate_inputs(t, d.id, now()).await.unwrap();
            assert_eq!(read, d);
            assert_eq!(inputs.approvers, [user(5)]);
            inputs.promotion
        }
    };
    let not_yet = PromotionEvidence::Previous {
        environment: "staging".into(),
        succeeded: false,
    };
    assert_eq!(inputs("v1").await, not_yet);
    let d = record(&db.store, pending(t, &c, &staging, "v1", now())).await;
    let running = step(&db.store, &d, "in_progress", now(), None).await;
    let done = step(&db.store, &running, "succeeded", now(), None).await;
    assert_eq!(
        inputs("v1").await,
        PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: true
        }
    );
    assert_eq!(inputs("v2").await, not_yet);
    step(&db.store, &done, "rolled_back", now(), None).await;
    assert_eq!(
        inputs("v1").await,
        not_yet,
        "a rolled-back success does not count"
    );
}

async fn a_refused_decision_writes_nothing(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let seen = d.clone();
    let refused = ledger(&db)
        .transition(
            t,
            d.id,
            now(),
            Box::new(move |current, gates| {
                assert_eq!(*current, seen);
                let inputs = gates.gate_inputs().unwrap();
                Err(ServiceError::Conflict(format!(
                    "no, {}",
                    inputs.environment.name.as_str()
                )))
            }),
        )
        .await;
    assert_eq!(
        refused,
        Err(TransitionFailure::Refused(ServiceError::Conflict(
            "no, dev".into()
        )))
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), d);
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 1);
}

/// The decision of moving whatever is stored to `status`, as the service takes it (the state
/// machine only).
fn to_status(status: &'static str, at: DateTime<Utc>) -> Decide {
    Box::new(move |current, _| {
        let input = TransitionInput {
            status: Some(status.into()),
            ..Default::default()
        };
        current
            .transition(input, Some(user(2)), None, at)
            .map_err(|refused| ServiceError::Conflict(format!("{refused:?}")))
    })
}

async fn a_copy_another_replica_moved_on_is_decided_again_on_what_is_stored(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    // A second process on the same database.
    let replica = Store::connect(&db.url, 2).unwrap();
    // This store recorded it: its copy says pending, revision 1.
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    // The replica fails it and sends it back to pending: revision 3.
    let failed = step(&replica, &d, "failed", now(), None).await;
    let again = step(&replica, &failed, "pending", now(), None).await;
    // A decision bound to revision 1 passes on the copy; the write misses, and on what is
    // stored the decision refuses: that refusal is the answer, not a failed write.
    let stale = DeploymentRepository::transition(
        &db.store,
        t,
        d.id,
        now(),
        moving(
            &d,
            TransitionInput {
                status: Some("in_progress".into()),
                ..Default::default()
            },
            now(),
        ),
    )
    .await;
    assert_eq!(
        stale,
        Err(TransitionFailure::Refused(ServiceError::Conflict(
            "moved on".into()
        )))
    );
    // A decision on whatever is stored moves revision 3, once.
    let started = DeploymentRepository::transition(
        &db.store,
        t,
        d.id,
        now(),
        to_status("in_progress", now()),
    )
    .await
    .unwrap();
    assert_eq!(
        (started.status, started.version_number),
        (DeploymentStatus::InProgress, again.version_number + 1)
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), started);
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 4);
    // The replica's own copy is now the stale one: the same holds the other way round.
    let done =
        DeploymentRepository::transition(&replica, t, d.id, now(), to_status("succeeded", now()))
            .await
            .unwrap();
    assert_eq!(done.version_number, started.version_number + 1);
    // And a refusal on a copy is checked against what is stored: the copy says in_progress
    // (which cannot be rolled back), the database says succeeded (which can).
    let rolled_back = DeploymentRepository::transition(
        &db.store,
        t,
        d.id,
        now(),
        to_status("rolled_back", now()),
    )
    .await
    .unwrap();
    assert_eq!(
        (rolled_back.status, rolled_back.version_number),
        (DeploymentStatus::RolledBack, done.version_number + 1)
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), rolled_back);
}

/// The decision of starting whatever is stored at `at`, as the service takes it for an
/// environment without promotion order: refused while a freeze window is active or approvals
/// are missing.
fn gated_start(at: DateTime<Utc>) -> Decide {
    Box::new(move |current, gates| {
        let inputs = gates
            .gate_inputs()
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        if !inputs.active_windows.is_empty() {
            return Err(ServiceError::Conflict("frozen".into()));
        }
        if usize::from(inputs.environment.required_approvals) > inputs.approvers.len() {
            return Err(ServiceError::Conflict("needs approvals".into()));
        }
        let input = TransitionInput {
            status: Some("in_progress".into()),
            ..Default::default()
        };
        current
            .transition(input, Some(user(2)), None, at)
            .map_err(|refused| ServiceError::Conflict(format!("{refused:?}")))
    })
}

/// A store decides the gates of starting a deployment it recorded on the environment as it
/// last read it, without reading it again; a window or a rule added since, by this store or
/// another, still refuses.
async fn gates_decided_on_a_copy_see_every_window_and_rule_added_since(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let (dev, qa) = (
        environment(&db.store, t, env_named("dev")).await,
        environment(&db.store, t, env_named("qa")).await,
    );
    let replica = Store::connect(&db.url, 2).unwrap();
    let start = |d: Deployment| {
        let store = &db.store;
        async move { DeploymentRepository::transition(store, t, d.id, now(), gated_start(now())).await }
    };
    let refused = |why: &str| {
        Err(TransitionFailure::Refused(ServiceError::Conflict(
            why.into(),
        )))
    };
    // Both environments are read once, by a start that passes.
    for env in [&dev, &qa] {
        let d = record(&db.store, pending(t, &c, env, "v1", now())).await;
        assert_eq!(start(d).await.unwrap().status, DeploymentStatus::InProgress);
    }
    // A window on dev that is not on yet, or over, does not refuse.
    let hour = Duration::hours(1);
    freeze(&replica, &dev, now() + hour, now() + hour * 2).await;
    freeze(&replica, &dev, now() - hour * 2, now() - hour).await;
    let d = record(&db.store, pending(t, &c, &dev, "v2", now())).await;
    assert_eq!(start(d).await.unwrap().status, DeploymentStatus::InProgress);
    // One that is on does, though the environment itself did not change.
    freeze(&replica, &dev, now() - hour, now() + hour).await;
    let d = record(&db.store, pending(t, &c, &dev, "v3", now())).await;
    assert_eq!(start(d.clone()).await, refused("frozen"));
    assert_eq!(
        ledger(&db).get(t, d.id).await.unwrap(),
        d,
        "refused: unchanged"
    );
    // qa starts requiring an approval, changed through another replica.
    let changes = EnvironmentChanges {
        required_approvals: Some(1),
        ..Default::default()
    };
    EnvironmentRepository::update(&replica, t, qa.id, None, changes, now())
        .await
        .unwrap();
    let d = record(&db.store, pending(t, &c, &qa, "v2", now())).await;
    assert_eq!(start(d.clone()).await, refused("needs approvals"));
    ledger(&db)
        .approve(t, d.id, user(5), None, now())
        .await
        .unwrap();
    assert_eq!(
        start(d.clone()).await.unwrap().status,
        DeploymentStatus::InProgress
    );
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 2);
}

async fn stuck_deployments_are_failed_once_even_by_racing_sweepers(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let fast = environment(
        &db.store,
        t,
        EnvironmentInput {
            deployment_timeout: Some(60),
            ..env_named("fast")
        },
    )
    .await;
    let slow = environment(
        &db.store,
        t,
        EnvironmentInput {
            deployment_timeout: Some(3600),
            ..env_named("slow")
        },
    )
    .await;
    // Another tenant's stuck deployment is swept too: the sweep spans tenants.
    let t2 = tenant();
    let c2 = component(&db.store, t2, "api").await;
    let fast2 = environment(
        &db.store,
        t2,
        EnvironmentInput {
            deployment_timeout: Some(60),
            ..env_named("fast")
        },
    )
    .await;
    let started = now() - Duration::minutes(5);
    let mut stuck = Vec::new();
    for i in 0..20 {
        let d = record(&db.store, pending(t, &c, &fast, &format!("v{i}"), started)).await;
        stuck.push(step(&db.store, &d, "in_progress", started, None).await);
    }
    let d = record(&db.store, pending(t2, &c2, &fast2, "v1", started)).await;
    stuck.push(step(&db.store, &d, "in_progress", started, None).await);
    let young = record(&db.store, pending(t, &c, &fast, "young", now())).await;
    let young = step(&db.store, &young, "in_progress", now(), None).await;
    let patient = record(&db.store, pending(t, &c, &slow, "slow", started)).await;
    let patient = step(&db.store, &patient, "in_progress", started, None).await;

    let store = db.store.clone();
    let swept = race(8, move |_| {
        let store = store.clone();
        async move {
            let mut mine = Vec::new();
            loop {
                let batch = store.fail_timed_out(now(), 3).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        }
    })
    .await;
    let mut failed: Vec<Uuid> = swept.into_iter().flatten().map(|s| s.id).collect();
    failed.sort();
    let mut expected: Vec<Uuid> = stuck.iter().map(|d| d.id).collect();
    expected.sort();
    assert_eq!(
        failed, expected,
        "each stuck deployment failed exactly once"
    );
    for d in &stuck {
        let read = ledger(&db).get(d.tenant, d.id).await.unwrap();
        assert_eq!(read.status, DeploymentStatus::Failed);
        let history = ledger(&db).history(d.tenant, d.id).await.unwrap();
        let last = history.last().unwrap();
        assert_eq!(history.len(), 3);
        assert_eq!(
            (last.from, last.to, last.actor, last.reason.as_deref()),
            (
                Some(DeploymentStatus::InProgress),
                DeploymentStatus::Failed,
                None,
                Some("timed out")
            )
        );
    }
    for d in [&young, &patient] {
        assert_eq!(
            ledger(&db).get(t, d.id).await.unwrap().status,
            DeploymentStatus::InProgress
        );
    }
    // The totals the sweep's moves left behind, kept by the database under the system flag.
    assert_eq!(
        total_of(&db, t, by_status(DeploymentStatus::Failed)).await,
        20
    );
    assert_eq!(
        total_of(&db, t, by_status(DeploymentStatus::InProgress)).await,
        2
    );
    assert_eq!(
        total_of(&db, t2, by_status(DeploymentStatus::Failed)).await,
        1
    );
    assert_eq!(
        total_of(&db, t2, by_status(DeploymentStatus::InProgress)).await,
        0
    );
}

fn by_status(status: DeploymentStatus) -> DeploymentFilter {
    DeploymentFilter {
        status: Some(status),
        ..Default::default()
    }
}

/// The total the list reports for `filter`.
async fn total_of(db: &TestDb, t: TenantId, filter: DeploymentFilter) -> u64 {
    ledger(db).list(t, filter, Page::default()).await.unwrap().1
}

/// How many of `all` the filter matches, counted by hand.
fn matching_count(all: &[Deployment], filter: &DeploymentFilter) -> u64 {
    all.iter()
        .filter(|d| filter.component_id.is_none_or(|c| d.component_id == c))
        .filter(|d| filter.environment_id.is_none_or(|e| d.environment_id == e))
        .filter(|d| filter.status.is_none_or(|s| d.status == s))
        .filter(|d| filter.release_id.is_none_or(|r| d.release_id == Some(r)))
        .count() as u64
}

async fn list_totals_follow_every_record_and_move(db: TestDb) {
    let t = tenant();
    let components = [
        component(&db.store, t, "api").await,
        component(&db.store, t, "web").await,
    ];
    let environments = [
        environment(&db.store, t, env_named("dev")).await,
        environment(&db.store, t, env_named("prod")).await,
    ];
    // Another tenant's deployments of the same shape never count here.
    let other = tenant();
    let (oc, oe) = (
        component(&db.store, other, "api").await,
        environment(&db.store, other, env_named("dev")).await,
    );
    record(&db.store, pending(other, &oc, &oe, "v1", now())).await;
    let mut all = Vec::new();
    for (i, c) in components.iter().enumerate() {
        for (j, e) in environments.iter().enumerate() {
            for k in 0..(1 + i + 2 * j) {
                let d = record(&db.store, pending(t, c, e, &format!("v{k}"), now())).await;
                // Walk each deployment a different distance through its life.
                let d = match k % 4 {
                    0 => d,
                    1 => step(&db.store, &d, "failed", now(), None).await,
                    2 => {
                        let d = step(&db.store, &d, "in_progress", now(), None).await;
                        step(&db.store, &d, "succeeded", now(), None).await
                    }
                    _ => {
                        let d = step(&db.store, &d, "in_progress", now(), None).await;
                        let d = step(&db.store, &d, "succeeded", now(), None).await;
                        let d = step(&db.store, &d, "rolled_back", now(), None).await;
                        step(&db.store, &d, "pending", now(), None).await
                    }
                };
                all.push(d);
            }
        }
    }
    let mut filters = vec![DeploymentFilter::default()];
    for c in &components {
        for e in &environments {
            for status in DeploymentStatus::ALL {
                filters.extend([
                    DeploymentFilter {
                        component_id: Some(c.id),
                        ..Default::default()
                    },
                    DeploymentFilter {
                        environment_id: Some(e.id),
                        ..Default::default()
                    },
                    by_status(*status),
                    DeploymentFilter {
                        component_id: Some(c.id),
                        environment_id: Some(e.id),
                        status: Some(*status),
                        release_id: None,
                    },
                ]);
            }
        }
    }
    for filter in &filters {
        assert_eq!(
            total_of(&db, t, *filter).await,
            matching_count(&all, filter),
            "{filter:?}"
        );
    }
    assert_eq!(total_of(&db, t, DeploymentFilter::default()).await, 10);
    assert_eq!(total_of(&db, other, DeploymentFilter::default()).await, 1);
}

async fn an_environment_with_deployments_is_not_deleted(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let error = EnvironmentRepository::delete(&db.store, t, e.id, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StoreError::Conflict(m) if m.contains("the environment has 1 deployment;")),
        "{error:?}"
    );
    assert!(EnvironmentRepository::get(&db.store, t, e.id).await.is_ok());
}

async fn release(db: &TestDb, t: TenantId, name: &str, parts: &[&Component]) -> Release {
    let new = ReleaseInput {
        name: Some(name.into()),
        components: Some(
            parts
                .iter()
                .map(|c| ReleaseComponentInput {
                    component_id: Some(c.id.0),
                    version: Some("v1".into()),
                    digest: None,
                })
                .collect(),
        ),
    }
    .into_new()
    .unwrap();
    releases(db)
        .create(t, new.into_release(Uuid::now_v7(), t, user(1), now()))
        .await
        .unwrap()
}

async fn releases_are_unique_by_name_and_name_a_missing_component_by_index(db: TestDb) {
    let t = tenant();
    let api = component(&db.store, t, "api").await;
    let web = component(&db.store, t, "web").await;
    let r = release(&db, t, "r1", &[&web, &api]).await;
    assert_eq!(releases(&db).get(t, r.id).await.unwrap(), r);
    let again = ReleaseInput {
        name: Some("r1".into()),
        components: Some(vec![ReleaseComponentInput {
            component_id: Some(api.id.0),
            version: Some("v2".into()),
            digest: None,
        }]),
    }
    .into_new()
    .unwrap();
    let taken = releases(&db)
        .create(
            t,
            again
                .clone()
                .into_release(Uuid::now_v7(), t, user(1), now()),
        )
        .await;
    assert!(
        matches!(&taken, Err(StoreError::Conflict(m)) if m.contains("r1")),
        "{taken:?}"
    );
    let ghost = ReleaseInput {
        name: Some("r2".into()),
        components: Some(vec![
            ReleaseComponentInput {
                component_id: Some(api.id.0),
                version: Some("v2".into()),
                digest: None,
            },
            ReleaseComponentInput {
                component_id: Some(Uuid::now_v7()),
                version: Some("v2".into()),
                digest: None,
            },
        ]),
    }
    .into_new()
    .unwrap();
    let missing = releases(&db)
        .create(t, ghost.into_release(Uuid::now_v7(), t, user(1), now()))
        .await;
    assert_eq!(
        missing,
        Err(StoreError::MissingReference(
            "components[1].componentId".into()
        ))
    );
    let (list, total) = releases(&db).list(t, Page::default()).await.unwrap();
    assert_eq!((list, total), (vec![r.clone()], 1));
    // Another tenant may use the name, and does not see this one.
    let other = tenant();
    assert_eq!(
        releases(&db).get(other, r.id).await,
        Err(StoreError::NotFound)
    );
    let their_api = component(&db.store, other, "api").await;
    release(&db, other, "r1", &[&their_api]).await;
}

/// A PostgreSQL login role without superuser or BYPASSRLS, dropped at the end.
struct ConfinedRole {
    name: String,
    admin_url: String,
}

impl ConfinedRole {
    fn create(admin_url: &str) -> ConfinedRole {
        use diesel::connection::SimpleConnection;
        let name = format!("terrane_ledger_{}", Uuid::now_v7().simple());
        PgConnection::establish(admin_url)
            .unwrap()
            .batch_execute(&format!(
                "CREATE ROLE {name} LOGIN; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}; \
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name};"
            ))
            .unwrap();
        ConfinedRole {
            name,
            admin_url: admin_url.to_owned(),
        }
    }

    fn url(&self) -> String {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.to_string()
    }
}

impl Drop for ConfinedRole {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let dropped = PgConnection::establish(&self.admin_url)
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
async fn the_ledger_and_its_sweep_work_under_row_level_security() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let role = ConfinedRole::create(&db.url);
    // One connection: the two tenants' writes, run outside transactions with the tenant set
    // for the session, take turns on it, and each must find its own rows.
    let confined = Store::connect(&role.url(), 1).unwrap();
    let started = now() - Duration::minutes(5);
    let mut stuck = Vec::new();
    for t in [tenant(), tenant()] {
        let c = component(&confined, t, "api").await;
        let e = environment(
            &confined,
            t,
            EnvironmentInput {
                deployment_timeout: Some(60),
                ..env_named("dev")
            },
        )
        .await;
        let done = record(&confined, pending(t, &c, &e, "v1", started)).await;
        let done = step(&confined, &done, "in_progress", started, None).await;
        step(&confined, &done, "succeeded", now(), None).await;
        let d = record(&confined, pending(t, &c, &e, "v2", started)).await;
        stuck.push(step(&confined, &d, "in_progress", started, None).await);
    }
    // Without `terrane.system` in its transaction, the sweep would see no tenant's rows.
    let failed = confined.fail_timed_out(now(), 10).await.unwrap();
    let mut failed: Vec<Uuid> = failed.into_iter().map(|f| f.id).collect();
    failed.sort();
    let mut expected: Vec<Uuid> = stuck.iter().map(|d| d.id).collect();
    expected.sort();
    assert_eq!(failed, expected);
    for d in &stuck {
        assert_eq!(
            DeploymentRepository::get(&confined, d.tenant, d.id)
                .await
                .unwrap()
                .status,
            DeploymentStatus::Failed
        );
        assert_eq!(
            DeploymentRepository::get(&confined, tenant(), d.id).await,
            Err(StoreError::NotFound)
        );
    }
}
