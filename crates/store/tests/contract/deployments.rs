//! `DeploymentRepository` and `ReleaseRepository`: the ledger, its compare-and-set, the
//! latest-deployment table it maintains, approvals, the sweep and tenant isolation.

use crate::harness::{now, race, tenant, TestDb, RACERS};
use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::sync::Arc;
use terrane_app::Deployments;
use terrane_domain::{
    Actor, Component, ComponentId, ComponentInput, Deployment, DeploymentId, DeploymentInput,
    DeploymentStatus, Environment, EnvironmentChanges, EnvironmentId, EnvironmentInput,
    FreezeWindow, FreezeWindowId, FreezeWindowInput, GateKind, Page, PromotionEvidence,
    PromotionPolicy, Release, ReleaseComponentInput, ReleaseId, ReleaseInput, Role, TenantId,
    TransitionInput, UserId,
};
use terrane_ports::{
    ComponentRepository, Consistency, DeploymentFilter, DeploymentRepository, DeploymentService,
    EnvironmentRepository, FreezeWindowRepository, ReleaseRepository, ServiceError, StoreError,
    SystemClock, Transition, UuidV7Source,
};
use terrane_store::{Backend, RecentDeployments, Store};
use uuid::Uuid;

on_both_backends!(
    a_recorded_deployment_reads_back_whole_with_its_creation_in_history,
    missing_references_and_stale_environments_store_nothing,
    of_racing_transitions_from_one_revision_exactly_one_wins,
    the_latest_table_follows_successes_and_recomputes_after_a_rollback,
    approvals_count_once_per_person_and_round_and_only_while_pending,
    another_tenant_neither_reads_nor_moves_nor_approves,
    the_list_is_newest_first_filtered_and_paged,
    approvers_and_earlier_environments_are_what_the_approval_and_promotion_gates_read,
    a_transition_reads_its_environment_with_the_windows_not_yet_over,
    a_start_lands_only_while_the_environment_is_at_the_version_decided_on,
    freeze_windows_made_or_removed_revise_their_environment,
    a_copy_another_replica_moved_on_is_decided_again_on_what_is_stored,
    gates_decided_on_a_copy_see_every_window_and_rule_added_since,
    with_or_without_copies_a_deployments_life_is_the_same,
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

/// The version of the tenant's environment `id` as stored.
async fn environment_version(store: &Store, tenant: TenantId, id: EnvironmentId) -> i64 {
    DeploymentRepository::environment_state(store, tenant, id, now(), Consistency::Stored)
        .await
        .unwrap()
        .environment
        .version
}

async fn record(store: &Store, d: Deployment) -> Deployment {
    let version = environment_version(store, d.tenant, d.environment_id).await;
    DeploymentRepository::create(store, d.tenant, vec![d], version)
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
    let transition = moving(d, input, at);
    let next = transition.next.clone();
    DeploymentRepository::save_transition(store, d.tenant, transition)
        .await
        .unwrap();
    next
}

/// The transition that moves `from` as `input` says, decided by the state machine alone.
fn moving(from: &Deployment, input: TransitionInput, at: DateTime<Utc>) -> Transition {
    let (next, entry) = from.transition(input, Some(user(2)), None, at).unwrap();
    Transition {
        current: from.clone(),
        next,
        entry,
        environment_version: None,
    }
}

/// The ledger's use cases over `store`, as a server wires them (with copies, or without).
fn use_cases(store: &Store, copies: bool) -> Deployments {
    let repo: Arc<dyn DeploymentRepository> = if copies {
        Arc::new(RecentDeployments::new(Arc::new(store.clone())))
    } else {
        Arc::new(store.clone())
    };
    Deployments::new(repo, Arc::new(SystemClock), Arc::new(UuidV7Source))
}

fn deployer(tenant: TenantId, n: u128) -> Actor {
    Actor {
        user: user(n),
        tenant,
        roles: vec![Role::Deployer],
    }
}

fn to(status: &str) -> TransitionInput {
    TransitionInput {
        status: Some(status.into()),
        ..Default::default()
    }
}

#[derive(QueryableByName)]
struct LatestRow {
    #[diesel(sql_type = Text)]
    deployment_id: String,
    #[diesel(sql_type = Text)]
    version: String,
}

/// The row of `latest_deployments` for a component and environment, read behind the store.
fn latest(db: &TestDb, c: &Component, e: &Environment) -> Option<(DeploymentId, String)> {
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
    rows.into_iter().next().map(|r| {
        (
            DeploymentId(Uuid::parse_str(&r.deployment_id).unwrap()),
            r.version,
        )
    })
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

async fn missing_references_and_stale_environments_store_nothing(db: TestDb) {
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
                release_id: Some(ReleaseId(Uuid::now_v7())),
                ..pending(t, &c, &e, "v1", now())
            },
            "releaseId",
        ),
    ] {
        // Alone (one statement on PostgreSQL), and after a good one: nothing of the batch
        // is kept.
        for batch in [vec![bad.clone()], vec![good.clone(), bad]] {
            let version = environment_version(&db.store, t, e.id).await;
            let error = ledger(&db).create(t, batch, version).await.unwrap_err();
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
        let version = environment_version(&db.store, t, e.id).await;
        let error = ledger(&db).create(t, vec![bad], version).await.unwrap_err();
        assert_eq!(error, StoreError::MissingReference(field.into()));
    }
    // An environment no longer at the version the decision read stores nothing either.
    let version = environment_version(&db.store, t, e.id).await;
    for batch in [
        vec![good.clone()],
        vec![good.clone(), pending(t, &c, &e, "v2", now())],
    ] {
        let error = ledger(&db).create(t, batch, version - 1).await.unwrap_err();
        assert_eq!(error, StoreError::VersionMismatch { current: version });
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
        let transition = moving(&current, to(status), now());
        let results = race(RACERS, move |_| {
            let store = store.clone();
            let transition = transition.clone();
            async move { DeploymentRepository::save_transition(&store, t, transition).await }
        })
        .await;
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "{status}: {results:?}");
        for result in &results {
            if let Err(error) = result {
                assert_eq!(
                    *error,
                    StoreError::VersionMismatch {
                        current: current.revision + 1
                    }
                );
            }
        }
        current = ledger(&db).get(t, d.id).await.unwrap();
        assert_eq!(current.status.as_str(), status);
    }
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 3);
    assert_eq!(
        latest(&db, &c, &e),
        Some((d.id, "v1".to_owned())),
        "the one success is the latest"
    );
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
        .save_transition(other, moving(&d, failing, now()))
        .await;
    assert_eq!(moved, Err(StoreError::NotFound));
    assert_eq!(
        ledger(&db)
            .load_for_transition(other, d.id, now(), Consistency::Stored)
            .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ledger(&db)
            .environment_state(other, e.id, now(), Consistency::Stored)
            .await,
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
        ledger(&db).create(other, vec![theirs], e.version).await,
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

async fn a_transition_reads_its_environment_with_the_windows_not_yet_over(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let dev = environment(&db.store, t, env_named("dev")).await;
    let prod = environment(&db.store, t, env_named("prod")).await;
    let at = now();
    let hour = Duration::hours(1);
    // Not over at `at`: three, listed by start whatever the order they were made in.
    let later = freeze(&db.store, &dev, at - hour, at + hour).await;
    let earlier = freeze(&db.store, &dev, at - hour * 2, at + hour * 3).await;
    let coming = freeze(&db.store, &dev, at + hour, at + hour * 2).await;
    // Over, or on another environment.
    freeze(&db.store, &dev, at - hour * 3, at - hour).await;
    freeze(&db.store, &prod, at - hour, at + hour).await;
    let d = record(&db.store, pending(t, &c, &dev, "v1", at)).await;
    let dev = EnvironmentRepository::get(&db.store, t, dev.id)
        .await
        .unwrap();
    let context = ledger(&db)
        .load_for_transition(t, d.id, at, Consistency::Stored)
        .await
        .unwrap();
    assert_eq!(context.deployment, d);
    assert!(context.stored && context.environment.stored);
    assert_eq!(context.environment.environment, dev);
    assert_eq!(
        context.environment.windows,
        [earlier.clone(), later.clone(), coming.clone()]
    );
    // Two and a half hours on, only the earlier one is not over: the moment is the one asked
    // about.
    let state = ledger(&db)
        .environment_state(t, dev.id, at + hour * 5 / 2, Consistency::Stored)
        .await
        .unwrap();
    assert_eq!(state.environment, dev);
    assert_eq!(state.windows, [earlier]);
    assert_eq!(
        ledger(&db)
            .load_for_transition(t, DeploymentId(Uuid::now_v7()), at, Consistency::Stored)
            .await,
        Err(StoreError::NotFound)
    );
}

async fn approvers_and_earlier_environments_are_what_the_approval_and_promotion_gates_read(
    db: TestDb,
) {
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
    environment(&db.store, t, ordered("dr", 5, true)).await;
    let d = record(&db.store, pending(t, &c, &prod, "v1", now())).await;
    ledger(&db)
        .approve(t, d.id, user(5), None, now())
        .await
        .unwrap();
    ledger(&db)
        .approve(t, d.id, user(4), None, now())
        .await
        .unwrap();
    assert_eq!(
        ledger(&db).approvers(t, d.id, 0).await.unwrap(),
        [user(4), user(5)]
    );
    assert_eq!(
        ledger(&db).approvers(t, d.id, 1).await.unwrap(),
        [],
        "only the round asked about"
    );
    let evidence = |version: &str| {
        let (db, prod, c, version) = (&db, prod.clone(), c.clone(), version.to_owned());
        async move {
            let earlier = ledger(db)
                .earlier_environments(t, prod.order_index, c.id, version)
                .await
                .unwrap();
            let mut names: Vec<&str> = earlier
                .iter()
                .map(|e| e.environment.name.as_str())
                .collect();
            names.sort_unstable();
            assert_eq!(names, ["dev", "qa", "staging"], "the ones ordered before");
            PromotionEvidence::from_earlier(&prod, &earlier)
        }
    };
    let not_yet = PromotionEvidence::Previous {
        environment: "staging".into(),
        succeeded: false,
    };
    assert_eq!(evidence("v1").await, not_yet);
    let d = record(&db.store, pending(t, &c, &staging, "v1", now())).await;
    let running = step(&db.store, &d, "in_progress", now(), None).await;
    let done = step(&db.store, &running, "succeeded", now(), None).await;
    assert_eq!(
        evidence("v1").await,
        PromotionEvidence::Previous {
            environment: "staging".into(),
            succeeded: true
        }
    );
    assert_eq!(evidence("v2").await, not_yet);
    step(&db.store, &done, "rolled_back", now(), None).await;
    assert_eq!(
        evidence("v1").await,
        not_yet,
        "a rolled-back success does not count"
    );
    let first = ledger(&db)
        .earlier_environments(t, dev.order_index, c.id, "v1".into())
        .await
        .unwrap();
    assert!(first.is_empty(), "{first:?}");
}

async fn a_start_lands_only_while_the_environment_is_at_the_version_decided_on(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let d = record(&db.store, pending(t, &c, &e, "v1", now())).await;
    let decided_on = environment_version(&db.store, t, e.id).await;
    let changes = EnvironmentChanges {
        display_name: Some("Development".into()),
        ..Default::default()
    };
    EnvironmentRepository::update(&db.store, t, e.id, None, changes, now())
        .await
        .unwrap();
    let start = |version: i64| Transition {
        environment_version: Some(version),
        ..moving(&d, to("in_progress"), now())
    };
    assert_eq!(
        ledger(&db).save_transition(t, start(decided_on)).await,
        Err(StoreError::VersionMismatch {
            current: d.revision
        }),
        "the deployment is unchanged, but its environment is not"
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), d);
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 1);
    ledger(&db)
        .save_transition(t, start(decided_on + 1))
        .await
        .unwrap();
    assert_eq!(
        ledger(&db).get(t, d.id).await.unwrap().status,
        DeploymentStatus::InProgress
    );
}

async fn freeze_windows_made_or_removed_revise_their_environment(db: TestDb) {
    let t = tenant();
    let e = environment(&db.store, t, env_named("dev")).await;
    let hour = Duration::hours(1);
    let window = freeze(&db.store, &e, now() + hour, now() + hour * 2).await;
    assert_eq!(environment_version(&db.store, t, e.id).await, e.version + 1);
    FreezeWindowRepository::delete(&db.store, t, e.id, window.id)
        .await
        .unwrap();
    assert_eq!(environment_version(&db.store, t, e.id).await, e.version + 2);
    assert_eq!(
        FreezeWindowRepository::delete(&db.store, t, e.id, window.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        environment_version(&db.store, t, e.id).await,
        e.version + 2,
        "nothing removed, nothing revised"
    );
}

async fn a_copy_another_replica_moved_on_is_decided_again_on_what_is_stored(db: TestDb) {
    let t = tenant();
    let (c, e) = (
        component(&db.store, t, "api").await,
        environment(&db.store, t, env_named("dev")).await,
    );
    let who = deployer(t, 2);
    // Two processes on the same database, each keeping copies.
    let here = use_cases(&db.store, true);
    let replica_store = Store::connect(&db.url, 2).unwrap();
    let replica = use_cases(&replica_store, true);
    // This process recorded it: its copy says pending, version 1.
    let d = here
        .create(
            &who,
            DeploymentInput {
                component_id: Some(c.id.0),
                environment_id: Some(e.id.0),
                version: Some("v1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The replica fails it and sends it back to pending: version 3.
    replica
        .transition(&who, d.id, None, to("failed"))
        .await
        .unwrap();
    let again = replica
        .transition(&who, d.id, None, to("pending"))
        .await
        .unwrap();
    // Decided on the copy (version 1), the write misses; decided again on what is stored,
    // it lands on version 3.
    let started = here
        .transition(&who, d.id, None, to("in_progress"))
        .await
        .unwrap();
    assert_eq!(
        (started.status, started.revision),
        (DeploymentStatus::InProgress, again.revision + 1)
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), started);
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 4);
    // The replica's own copy is now the stale one: the same holds the other way round.
    let done = replica
        .transition(&who, d.id, None, to("succeeded"))
        .await
        .unwrap();
    assert_eq!(done.revision, started.revision + 1);
    // A refusal on a copy is checked against what is stored: this copy says in_progress
    // (which cannot be rolled back), the database says succeeded (which can).
    let rolled_back = here
        .transition(&who, d.id, None, to("rolled_back"))
        .await
        .unwrap();
    assert_eq!(
        (rolled_back.status, rolled_back.revision),
        (DeploymentStatus::RolledBack, done.revision + 1)
    );
    assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), rolled_back);
    // An If-Match naming the copy's version is refused once what is stored says otherwise.
    let stale = here
        .transition(&who, d.id, Some(started.revision), to("pending"))
        .await;
    assert!(
        matches!(&stale, Err(ServiceError::PreconditionFailed(_))),
        "{stale:?}"
    );
}

/// A process decides the gates of starting a deployment it recorded on the environment as it
/// last read it, without reading it again; a window or a rule added since, by this process or
/// another, refuses the very next start.
async fn gates_decided_on_a_copy_see_every_window_and_rule_added_since(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let (dev, qa) = (
        environment(&db.store, t, env_named("dev")).await,
        environment(&db.store, t, env_named("qa")).await,
    );
    let here = use_cases(&db.store, true);
    let replica = Store::connect(&db.url, 2).unwrap();
    let who = deployer(t, 2);
    let record_into = |env: &Environment, version: &str| {
        let input = DeploymentInput {
            component_id: Some(c.id.0),
            environment_id: Some(env.id.0),
            version: Some(version.into()),
            ..Default::default()
        };
        let (here, who) = (&here, who.clone());
        async move { here.create(&who, input).await.unwrap() }
    };
    let start = |d: Deployment| {
        let (here, who) = (&here, who.clone());
        async move { here.transition(&who, d.id, None, to("in_progress")).await }
    };
    let refused_by = |result: Result<Deployment, ServiceError>| match result {
        Err(ServiceError::GateRefused { gate, .. }) => Some(gate),
        other => panic!("expected a gate to refuse: {other:?}"),
    };
    // Both environments are read once, by starts that pass.
    for env in [&dev, &qa] {
        let d = record_into(env, "v1").await;
        assert_eq!(start(d).await.unwrap().status, DeploymentStatus::InProgress);
    }
    // A window on dev that is not on yet, or over, does not refuse.
    let hour = Duration::hours(1);
    freeze(&replica, &dev, now() + hour, now() + hour * 2).await;
    freeze(&replica, &dev, now() - hour * 2, now() - hour).await;
    let d = record_into(&dev, "v2").await;
    assert_eq!(start(d).await.unwrap().status, DeploymentStatus::InProgress);
    // One that is on does, though the environment's own fields did not change.
    freeze(&replica, &dev, now() - hour, now() + hour).await;
    let d = record_into(&dev, "v3").await;
    assert_eq!(refused_by(start(d.clone()).await), Some(GateKind::Freeze));
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
    let d = record_into(&qa, "v2").await;
    assert_eq!(
        refused_by(start(d.clone()).await),
        Some(GateKind::Approvals)
    );
    here.approve(&deployer(t, 5), d.id, None).await.unwrap();
    assert_eq!(
        start(d.clone()).await.unwrap().status,
        DeploymentStatus::InProgress
    );
    assert_eq!(ledger(&db).history(t, d.id).await.unwrap().len(), 2);
    // qa is deactivated through the replica: recording into it is refused at once.
    let changes = EnvironmentChanges {
        is_active: Some(false),
        ..Default::default()
    };
    EnvironmentRepository::update(&replica, t, qa.id, None, changes, now())
        .await
        .unwrap();
    let input = DeploymentInput {
        component_id: Some(c.id.0),
        environment_id: Some(qa.id.0),
        version: Some("v3".into()),
        ..Default::default()
    };
    let refused = here.create(&who, input).await;
    assert!(
        matches!(&refused, Err(ServiceError::Conflict(m)) if m.contains("inactive")),
        "{refused:?}"
    );
}

/// The same life, decided with the copies of a process or on what is stored each time,
/// leaves the same ledger.
async fn with_or_without_copies_a_deployments_life_is_the_same(db: TestDb) {
    let t = tenant();
    let c = component(&db.store, t, "api").await;
    let e = environment(&db.store, t, env_named("dev")).await;
    let who = deployer(t, 2);
    for copies in [true, false] {
        let ledger_uc = use_cases(&db.store, copies);
        let d = ledger_uc
            .create(
                &who,
                DeploymentInput {
                    component_id: Some(c.id.0),
                    environment_id: Some(e.id.0),
                    version: Some(format!("copies-{copies}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut last = d.clone();
        for status in [
            "in_progress",
            "succeeded",
            "rolled_back",
            "pending",
            "failed",
        ] {
            last = ledger_uc
                .transition(&who, d.id, None, to(status))
                .await
                .unwrap();
            assert_eq!(last.status.as_str(), status);
        }
        assert_eq!(last.revision, d.revision + 5);
        assert_eq!(ledger(&db).get(t, d.id).await.unwrap(), last);
        let history = ledger(&db).history(t, d.id).await.unwrap();
        assert_eq!(history.len(), 6, "copies: {copies}");
        let again = ledger_uc.transition(&who, d.id, None, to("failed")).await;
        assert_eq!(
            again,
            Err(ServiceError::Conflict(
                "the deployment is already `failed`".into()
            ))
        );
    }
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
        // Eight replicas, each with its own use cases.
        let sweeper = use_cases(&store, true);
        async move {
            let mut mine = Vec::new();
            loop {
                let batch = sweeper.sweep_timed_out(3).await.unwrap();
                if batch.is_empty() {
                    return mine;
                }
                mine.extend(batch);
            }
        }
    })
    .await;
    let mut failed: Vec<DeploymentId> = swept.into_iter().flatten().map(|s| s.id).collect();
    failed.sort();
    let mut expected: Vec<DeploymentId> = stuck.iter().map(|d| d.id).collect();
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
    let failed = use_cases(&confined, false)
        .sweep_timed_out(10)
        .await
        .unwrap();
    let mut failed: Vec<DeploymentId> = failed.into_iter().map(|f| f.id).collect();
    failed.sort();
    let mut expected: Vec<DeploymentId> = stuck.iter().map(|d| d.id).collect();
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
