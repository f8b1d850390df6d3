//! `TargetRepository`, and the PostgreSQL plan of the label filter.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use crate::target_groups::{group_id, new_group, new_target};
use chrono::{TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::{json, Value};
use terrane_domain::{
    AssignmentChange, AssignmentInput, AssignmentMode, AssignmentRequest, EnvironmentChanges,
    EnvironmentId, HealthStatus, LabelSelector, NewTarget, Page, Target, TargetChanges,
    TargetFilter, TargetGroupId, TargetId, TargetInput, TargetName, TargetType, TenantId,
};
use terrane_ports::{EnvironmentRepository, StoreError, TargetGroupRepository, TargetRepository};
use terrane_store::Backend;
use uuid::Uuid;

fn target_id() -> TargetId {
    TargetId(Uuid::now_v7())
}

async fn environment(db: &TestDb, tenant: TenantId, name: &str) -> EnvironmentId {
    EnvironmentRepository::create(&db.store, tenant, env_id(), named(name), now())
        .await
        .expect("create environment")
        .id
}

async fn group(db: &TestDb, tenant: TenantId, env: EnvironmentId, name: &str) -> TargetGroupId {
    db.store
        .create_in_environment(tenant, env, group_id(), new_group(name), now())
        .await
        .expect("create target group")
        .id
}

/// A target from a JSON body, as the HTTP adapter would hand it over.
fn from_json(body: Value) -> NewTarget {
    let map = |key: &str| body.get(key).and_then(Value::as_object).cloned();
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    let uuid = |key: &str| text(key).map(|t| Uuid::parse_str(&t).unwrap());
    TargetInput {
        environment_id: uuid("environmentId"),
        target_group_id: Some(uuid("targetGroupId")),
        name: text("name"),
        target_type: text("targetType"),
        connection: map("connection"),
        labels: map("labels"),
        deployment_directory: Some(text("deploymentDirectory")),
    }
    .into_new()
    .expect("a valid target")
}

fn labelled(name: &str, env: EnvironmentId, labels: Value) -> NewTarget {
    NewTarget {
        labels: terrane_domain::Labels::parse(labels.as_object().unwrap()).unwrap(),
        ..new_target(name, env, None)
    }
}

async fn add(db: &TestDb, tenant: TenantId, new: NewTarget) -> Target {
    TargetRepository::create(&db.store, tenant, target_id(), new, now())
        .await
        .expect("create target")
}

async fn names(
    db: &TestDb,
    tenant: TenantId,
    filter: TargetFilter,
    page: Page,
) -> (Vec<String>, u64) {
    let (targets, total) = TargetRepository::list(&db.store, tenant, filter, page)
        .await
        .expect("list targets");
    (
        targets.into_iter().map(|t| t.name.to_string()).collect(),
        total,
    )
}

async fn matching(db: &TestDb, tenant: TenantId, filter: TargetFilter) -> Vec<String> {
    names(db, tenant, filter, Page::default()).await.0
}

fn with_labels(selector: &str) -> TargetFilter {
    TargetFilter {
        labels: Some(LabelSelector::parse(selector).unwrap()),
        ..Default::default()
    }
}

/// Sets a health status behind the store's back: health checks come with their own issue.
fn set_health(db: &TestDb, id: TargetId, status: HealthStatus) {
    match db.store.backend() {
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&db.url).unwrap();
            diesel::sql_query("UPDATE targets SET health_status = $1 WHERE id = $2::uuid")
                .bind::<Text, _>(status.as_str())
                .bind::<Text, _>(id.to_string())
                .execute(&mut conn)
                .unwrap();
        }
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let mut conn = SqliteConnection::establish(path).unwrap();
            conn.batch_execute("PRAGMA busy_timeout = 5000").unwrap();
            diesel::sql_query("UPDATE targets SET health_status = ? WHERE id = ?")
                .bind::<Text, _>(status.as_str())
                .bind::<Text, _>(id.to_string())
                .execute(&mut conn)
                .unwrap();
        }
    }
}

fn rename(name: &str) -> TargetChanges {
    TargetChanges {
        name: Some(TargetName::parse(name).unwrap()),
        ..Default::default()
    }
}

on_both_backends!(
    a_created_target_of_every_type_reads_back_exactly_as_returned,
    a_target_needs_an_environment_of_the_tenant_and_a_group_assigned_to_it,
    a_name_taken_in_the_environment_is_a_conflict_but_free_in_another,
    another_tenants_target_is_not_found_not_listed_and_not_changed,
    every_filter_narrows_the_list_and_filters_combine,
    the_label_filter_matches_targets_that_have_every_listed_pair,
    label_values_are_compared_as_text_whatever_they_contain,
    pages_skip_and_take_by_name_while_the_total_counts_every_match,
    an_update_replaces_the_connection_and_labels_and_bumps_the_version,
    moving_a_target_checks_its_group_against_the_new_environment,
    a_stale_expected_version_is_a_mismatch_naming_the_current_one,
    of_concurrent_target_updates_from_the_same_version_exactly_one_wins,
    a_delete_removes_the_target_and_checks_the_version_when_given,
);

async fn a_created_target_of_every_type_reads_back_exactly_as_returned(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let web = group(&db, tenant, env, "web").await;
    let bodies = [
        json!({
            "environmentId": env.0.to_string(),
            "targetGroupId": web.0.to_string(),
            "name": "prod-web-01",
            "targetType": "docker_host",
            "connection": {"host": "192.168.1.100", "port": 2375, "tlsEnabled": true},
            "labels": {"role": "web", "datacenter": "us-east-1"},
            "deploymentDirectory": "/opt/deployments"
        }),
        json!({
            "environmentId": env.0.to_string(),
            "name": "shop",
            "targetType": "compose_host",
            "connection": {"host": "docker-1.internal", "port": 2376, "projectName": "shop"}
        }),
        json!({
            "environmentId": env.0.to_string(),
            "name": "api-ecs",
            "targetType": "ecs_service",
            "connection": {"cluster": "prod", "service": "api", "region": "eu-west-1"},
            "labels": {"k8s.io/app": ""}
        }),
        json!({
            "environmentId": env.0.to_string(),
            "name": "api-nomad",
            "targetType": "nomad_job",
            "connection": {"address": "https://nomad.example.com:4646", "jobId": "api"}
        }),
    ];
    // Nanoseconds are cut to microseconds, which both backends keep.
    let at = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
    for body in bodies {
        let id = target_id();
        let created = TargetRepository::create(&db.store, tenant, id, from_json(body), at)
            .await
            .unwrap();
        assert_eq!(
            (created.id, created.tenant, created.version),
            (id, tenant, 1)
        );
        assert_eq!(created.health_status, HealthStatus::Unknown);
        assert_eq!(created.created_at.timestamp_subsec_nanos(), 123_456_000);
        assert_eq!(
            TargetRepository::get(&db.store, tenant, id).await.unwrap(),
            created
        );
    }
    let (all, total) =
        TargetRepository::list(&db.store, tenant, TargetFilter::default(), Page::default())
            .await
            .unwrap();
    assert_eq!(total, 4);
    let types: Vec<TargetType> = all.iter().map(Target::target_type).collect();
    assert_eq!(
        types,
        [
            TargetType::EcsService,
            TargetType::NomadJob,
            TargetType::DockerHost,
            TargetType::ComposeHost
        ],
        "ordered by name: api-ecs, api-nomad, prod-web-01, shop"
    );
}

async fn a_target_needs_an_environment_of_the_tenant_and_a_group_assigned_to_it(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group(&db, tenant, dev, "web").await;
    let theirs = environment(&db, other, "dev").await;
    let theirs_group = group(&db, other, theirs, "web").await;
    for env in [theirs, env_id()] {
        let error = TargetRepository::create(
            &db.store,
            tenant,
            target_id(),
            new_target("t", env, None),
            now(),
        )
        .await
        .unwrap_err();
        assert_eq!(error, StoreError::MissingReference("environmentId".into()));
    }
    for (env, group) in [(prod, web), (dev, theirs_group), (dev, group_id())] {
        let error = TargetRepository::create(
            &db.store,
            tenant,
            target_id(),
            new_target("t", env, Some(group)),
            now(),
        )
        .await
        .unwrap_err();
        assert_eq!(error, StoreError::MissingReference("targetGroupId".into()));
    }
    assert_eq!(
        names(&db, tenant, TargetFilter::default(), Page::default())
            .await
            .1,
        0
    );
    add(&db, tenant, new_target("t", dev, Some(web))).await;
}

async fn a_name_taken_in_the_environment_is_a_conflict_but_free_in_another(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    add(&db, tenant, new_target("web-01", dev, None)).await;
    let error = TargetRepository::create(
        &db.store,
        tenant,
        target_id(),
        new_target("web-01", dev, None),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("the environment already has a target named `web-01`".into())
    );
    add(&db, tenant, new_target("web-01", prod, None)).await;
    let other = add(&db, tenant, new_target("web-02", dev, None)).await;
    assert_eq!(
        TargetRepository::update(&db.store, tenant, other.id, None, rename("web-01"), now()).await,
        Err(StoreError::Conflict(
            "the environment already has a target named `web-01`".into()
        ))
    );
}

async fn another_tenants_target_is_not_found_not_listed_and_not_changed(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let theirs_env = environment(&db, other, "dev").await;
    let theirs = add(&db, other, new_target("web-01", theirs_env, None)).await;
    assert_eq!(
        TargetRepository::get(&db.store, tenant, theirs.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        TargetRepository::update(&db.store, tenant, theirs.id, None, rename("mine"), now()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        TargetRepository::delete(&db.store, tenant, theirs.id, None).await,
        Err(StoreError::NotFound)
    );
    let by_env = TargetFilter {
        environment_id: Some(theirs_env),
        ..Default::default()
    };
    assert_eq!(
        names(&db, tenant, by_env, Page::default()).await,
        (vec![], 0)
    );
    assert_eq!(
        TargetRepository::get(&db.store, other, theirs.id)
            .await
            .unwrap(),
        theirs
    );
}

async fn every_filter_narrows_the_list_and_filters_combine(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group(&db, tenant, prod, "web").await;
    let a = add(&db, tenant, labelled("a", dev, json!({"role": "web"}))).await;
    add(
        &db,
        tenant,
        NewTarget {
            target_group_id: Some(web),
            ..labelled("b", prod, json!({"role": "web", "dc": "eu"}))
        },
    )
    .await;
    let c = add(
        &db,
        tenant,
        NewTarget {
            target_group_id: Some(web),
            ..labelled("c", prod, json!({"role": "db", "dc": "eu"}))
        },
    )
    .await;
    add(
        &db,
        tenant,
        from_json(json!({
            "environmentId": prod.0.to_string(),
            "name": "d",
            "targetType": "nomad_job",
            "connection": {"address": "http://nomad:4646", "jobId": "d"},
            "labels": {"role": "web"}
        })),
    )
    .await;
    set_health(&db, a.id, HealthStatus::Healthy);
    set_health(&db, c.id, HealthStatus::Degraded);

    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                environment_id: Some(prod),
                ..Default::default()
            }
        )
        .await,
        ["b", "c", "d"]
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                target_group_id: Some(web),
                ..Default::default()
            }
        )
        .await,
        ["b", "c"]
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                target_type: Some(TargetType::NomadJob),
                ..Default::default()
            }
        )
        .await,
        ["d"]
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                health_status: Some(HealthStatus::Healthy),
                ..Default::default()
            }
        )
        .await,
        ["a"]
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                health_status: Some(HealthStatus::Unknown),
                ..Default::default()
            }
        )
        .await,
        ["b", "d"]
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"role":"web"}"#)).await,
        ["a", "b", "d"]
    );
    let combined = TargetFilter {
        environment_id: Some(prod),
        target_type: Some(TargetType::DockerHost),
        ..with_labels(r#"{"role":"web"}"#)
    };
    assert_eq!(
        names(&db, tenant, combined, Page::default()).await,
        (vec!["b".into()], 1)
    );
    let nothing = TargetFilter {
        health_status: Some(HealthStatus::Degraded),
        ..with_labels(r#"{"role":"web"}"#)
    };
    assert_eq!(
        names(&db, tenant, nothing, Page::default()).await,
        (vec![], 0)
    );
}

async fn the_label_filter_matches_targets_that_have_every_listed_pair(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    add(
        &db,
        tenant,
        labelled("a", env, json!({"role": "web", "dc": "eu", "tier": "1"})),
    )
    .await;
    add(
        &db,
        tenant,
        labelled("b", env, json!({"role": "web", "dc": "us"})),
    )
    .await;
    add(
        &db,
        tenant,
        labelled("c", env, json!({"role": "db", "dc": "eu"})),
    )
    .await;
    add(&db, tenant, labelled("d", env, json!({}))).await;
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"dc":"eu"}"#)).await,
        ["a", "c"]
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"role":"web","dc":"eu"}"#)).await,
        ["a"]
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            with_labels(r#"{"role":"web","dc":"eu","tier":"1"}"#)
        )
        .await,
        ["a"]
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"role":"web","zone":"x"}"#)).await,
        Vec::<String>::new(),
        "a pair the target lacks excludes it"
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"role":"WEB"}"#)).await,
        Vec::<String>::new(),
        "values compare exactly"
    );
    assert_eq!(
        matching(&db, tenant, with_labels("{}")).await,
        ["a", "b", "c", "d"]
    );
}

async fn label_values_are_compared_as_text_whatever_they_contain(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let tricky = r#"it's "quoted" \ 50% _ ü {}"#;
    add(
        &db,
        tenant,
        labelled("a", env, json!({"note": tricky, "n": "1"})),
    )
    .await;
    add(
        &db,
        tenant,
        labelled("b", env, json!({"note": "plain", "n": "01"})),
    )
    .await;
    let selector = serde_json::to_string(&json!({"note": tricky})).unwrap();
    assert_eq!(matching(&db, tenant, with_labels(&selector)).await, ["a"]);
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"n":"1"}"#)).await,
        ["a"],
        "\"1\" is not \"01\""
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"note":"%"}"#)).await,
        Vec::<String>::new(),
        "no wildcards"
    );
}

async fn pages_skip_and_take_by_name_while_the_total_counts_every_match(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    for (name, env) in [
        ("d", dev),
        ("b", prod),
        ("a", dev),
        ("c", prod),
        ("a", prod),
    ] {
        add(&db, tenant, labelled(name, env, json!({"role": "web"}))).await;
    }
    let page = |skip, take| Page::parse(Some(skip), Some(take)).unwrap();
    let (first, total) = names(&db, tenant, with_labels(r#"{"role":"web"}"#), page(0, 3)).await;
    assert_eq!(
        (first, total),
        (vec!["a".into(), "a".into(), "b".into()], 5)
    );
    let (rest, total) = names(&db, tenant, with_labels(r#"{"role":"web"}"#), page(3, 3)).await;
    assert_eq!((rest, total), (vec!["c".into(), "d".into()], 5));
    let (beyond, total) = names(&db, tenant, TargetFilter::default(), page(10, 3)).await;
    assert_eq!((beyond, total), (vec![], 5));
}

async fn an_update_replaces_the_connection_and_labels_and_bumps_the_version(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let created = add(&db, tenant, labelled("web-01", env, json!({"role": "web"}))).await;
    let input = TargetInput {
        target_type: Some("ecs_service".into()),
        connection: json!({"cluster": "c", "service": "s", "region": "us-east-1"})
            .as_object()
            .cloned(),
        labels: json!({"role": "api"}).as_object().cloned(),
        deployment_directory: Some(Some("/srv".into())),
        ..Default::default()
    };
    let changes = input.into_changes(&created).unwrap();
    let later = now() + chrono::Duration::seconds(1);
    let updated = TargetRepository::update(
        &db.store,
        tenant,
        created.id,
        Some(1),
        changes.clone(),
        later,
    )
    .await
    .unwrap();
    assert_eq!(updated, created.apply(changes, later));
    assert_eq!(updated.target_type(), TargetType::EcsService);
    assert_eq!(
        TargetRepository::get(&db.store, tenant, created.id)
            .await
            .unwrap(),
        updated
    );
    assert_eq!(
        matching(&db, tenant, with_labels(r#"{"role":"web"}"#)).await,
        Vec::<String>::new()
    );
    assert_eq!(
        matching(
            &db,
            tenant,
            TargetFilter {
                target_type: Some(TargetType::EcsService),
                ..with_labels(r#"{"role":"api"}"#)
            }
        )
        .await,
        ["web-01"]
    );
}

async fn moving_a_target_checks_its_group_against_the_new_environment(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group(&db, tenant, dev, "web").await;
    let target = add(&db, tenant, new_target("web-01", dev, Some(web))).await;
    let to_prod = TargetChanges {
        environment_id: Some(prod),
        ..Default::default()
    };
    assert_eq!(
        TargetRepository::update(&db.store, tenant, target.id, None, to_prod.clone(), now()).await,
        Err(StoreError::MissingReference("targetGroupId".into())),
        "its group is not assigned to prod"
    );
    assert_eq!(
        TargetRepository::get(&db.store, tenant, target.id)
            .await
            .unwrap(),
        target
    );
    let assign = EnvironmentChanges {
        assignments: Some(
            AssignmentChange::parse(AssignmentInput {
                mode: AssignmentMode::Add,
                target_groups: vec![AssignmentRequest {
                    target_group_id: web,
                    is_active: None,
                }],
            })
            .unwrap(),
        ),
        ..Default::default()
    };
    EnvironmentRepository::update(&db.store, tenant, prod, None, assign, now())
        .await
        .unwrap();
    let moved = TargetRepository::update(&db.store, tenant, target.id, None, to_prod, now())
        .await
        .unwrap();
    assert_eq!(
        (moved.environment_id, moved.target_group_id),
        (prod, Some(web))
    );
    let out_of_group = TargetChanges {
        target_group_id: Some(None),
        environment_id: Some(EnvironmentId(Uuid::now_v7())),
        ..Default::default()
    };
    assert_eq!(
        TargetRepository::update(&db.store, tenant, target.id, None, out_of_group, now()).await,
        Err(StoreError::MissingReference("environmentId".into()))
    );
}

async fn a_stale_expected_version_is_a_mismatch_naming_the_current_one(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let target = add(&db, tenant, new_target("web-01", env, None)).await;
    TargetRepository::update(
        &db.store,
        tenant,
        target.id,
        Some(1),
        rename("web-02"),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        TargetRepository::update(
            &db.store,
            tenant,
            target.id,
            Some(1),
            rename("web-03"),
            now()
        )
        .await,
        Err(StoreError::VersionMismatch { current: 2 })
    );
    assert_eq!(
        TargetRepository::update(&db.store, tenant, target_id(), Some(1), rename("x"), now()).await,
        Err(StoreError::NotFound)
    );
}

async fn of_concurrent_target_updates_from_the_same_version_exactly_one_wins(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let target = add(&db, tenant, new_target("web-01", env, None)).await;
    let store = db.store.clone();
    let id = target.id;
    let results = race(RACERS, move |i| {
        let store = store.clone();
        async move {
            TargetRepository::update(
                &store,
                tenant,
                id,
                Some(1),
                rename(&format!("racer-{i}")),
                now(),
            )
            .await
        }
    })
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(error) = result {
            assert_eq!(*error, StoreError::VersionMismatch { current: 2 });
        }
    }
    assert_eq!(
        &TargetRepository::get(&db.store, tenant, id).await.unwrap(),
        winners[0]
    );
}

async fn a_delete_removes_the_target_and_checks_the_version_when_given(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let web = group(&db, tenant, env, "web").await;
    let target = add(&db, tenant, new_target("web-01", env, Some(web))).await;
    assert_eq!(
        TargetRepository::delete(&db.store, tenant, target.id, Some(2)).await,
        Err(StoreError::VersionMismatch { current: 1 })
    );
    TargetRepository::delete(&db.store, tenant, target.id, Some(1))
        .await
        .unwrap();
    assert_eq!(
        TargetRepository::get(&db.store, tenant, target.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        TargetRepository::delete(&db.store, tenant, target.id, None).await,
        Err(StoreError::NotFound)
    );
    TargetGroupRepository::delete(&db.store, tenant, web, None, now())
        .await
        .expect("a group without targets can go");
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

fn explain(conn: &mut PgConnection, query: &str) -> String {
    let lines: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN {query}"))
        .load(conn)
        .unwrap();
    lines
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// With 10,000 targets the label filter is answered from the GIN index, not by reading every
/// row. The queries explained have the predicate and order of `TargetRepository::list` (its
/// count, then its first page), with the bind parameters written in.
#[tokio::test(flavor = "multi_thread")]
async fn the_label_filter_uses_the_gin_index_with_ten_thousand_targets() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let mut conn = PgConnection::establish(&db.url).unwrap();
    // One statement inserts them all: a fleet in 500 racks, 4 roles, 3 datacenters.
    diesel::sql_query(
        "INSERT INTO targets (id, tenant_id, environment_id, target_group_id, name, target_type, \
         connection, labels, deployment_directory, health_status, health_message, \
         last_health_check_at, version, created_at, updated_at) \
         SELECT gen_random_uuid(), $1::uuid, $2::uuid, NULL, 'node-' || lpad(i::text, 5, '0'), \
                'docker_host', \
                jsonb_build_object('host', '10.0.' || (i / 250) || '.' || (i % 250 + 1), \
                                   'port', 2375, 'tlsEnabled', false), \
                jsonb_build_object('role', (ARRAY['web', 'api', 'db', 'cache'])[i % 4 + 1], \
                                   'datacenter', (ARRAY['us-east-1', 'eu-west-1', 'ap-south-1'])[i % 3 + 1], \
                                   'rack', 'r' || (i % 500)), \
                NULL, 'unknown', NULL, NULL, 1, now(), now() \
         FROM generate_series(0, 9999) AS i",
    )
    .bind::<Text, _>(tenant.to_string())
    .bind::<Text, _>(env.to_string())
    .execute(&mut conn)
    .unwrap();
    conn.batch_execute("ANALYZE targets").unwrap();

    // Rack r42 holds nodes 42, 542, ..., 9542: all `db` (42 % 4 = 2), 20 of them.
    let selector = r#"{"rack":"r42","role":"db"}"#;
    let (page, total) = names(&db, tenant, with_labels(selector), Page::default()).await;
    assert_eq!((page.len(), total), (20, 20));
    assert_eq!(page[0], "node-00042");

    let predicate =
        format!("tenant_id = '{tenant}'::uuid AND targets.labels @> '{selector}'::jsonb");
    let count_plan = explain(
        &mut conn,
        &format!("SELECT COUNT(*) FROM targets WHERE {predicate}"),
    );
    let page_plan = explain(
        &mut conn,
        &format!(
            "SELECT * FROM targets WHERE {predicate} ORDER BY name ASC, id ASC LIMIT 20 OFFSET 0"
        ),
    );
    println!("count of targets with labels {selector}:\n{count_plan}\n");
    println!("first page of targets with labels {selector}:\n{page_plan}\n");
    for plan in [&count_plan, &page_plan] {
        assert!(
            plan.contains("Bitmap Index Scan on targets_labels_idx"),
            "the label filter must use the GIN index:\n{plan}"
        );
    }
}

/// A login role without superuser or BYPASSRLS, allowed the tables of the inventory, dropped
/// with its grants at the end.
struct ConfinedRole {
    name: String,
    database_url: String,
}

impl ConfinedRole {
    fn create(database_url: &str) -> ConfinedRole {
        let name = format!("terrane_targets_{}", Uuid::now_v7().simple());
        PgConnection::establish(database_url)
            .unwrap()
            .batch_execute(&format!(
                "CREATE ROLE {name} LOGIN; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}; \
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {name};"
            ))
            .unwrap();
        ConfinedRole {
            name,
            database_url: database_url.to_owned(),
        }
    }

    fn url(&self) -> String {
        let mut url = url::Url::parse(&self.database_url).unwrap();
        url.set_username(&self.name).unwrap();
        url.to_string()
    }
}

impl Drop for ConfinedRole {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.database_url)
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

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// Row-level security on the inventory tables: a session that does not bypass it sees no
/// target, group or assignment without a tenant, and the store, which sets the tenant in
/// every transaction, works under it and sees only its own.
#[tokio::test(flavor = "multi_thread")]
async fn targets_and_groups_work_under_row_level_security_and_stay_in_their_tenant() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = (tenant(), tenant());
    let theirs_env = environment(&db, b, "prod").await;
    let theirs_group = group(&db, b, theirs_env, "web").await;
    let theirs = add(
        &db,
        b,
        NewTarget {
            target_group_id: Some(theirs_group),
            ..labelled("web-01", theirs_env, json!({"role": "web"}))
        },
    )
    .await;

    let role = ConfinedRole::create(&db.url);
    let mut raw = PgConnection::establish(&role.url()).unwrap();
    for table in ["targets", "target_groups", "target_group_assignments"] {
        let seen: Count = diesel::sql_query(format!("SELECT count(*) AS count FROM {table}"))
            .get_result(&mut raw)
            .unwrap();
        assert_eq!(seen.count, 0, "{table}: no tenant set, no rows");
    }
    drop(raw);

    let confined = terrane_store::Store::connect(&role.url(), 2).unwrap();
    let env = EnvironmentRepository::create(&confined, a, env_id(), named("prod"), now())
        .await
        .unwrap()
        .id;
    let web = confined
        .create_in_environment(a, env, group_id(), new_group("web"), now())
        .await
        .unwrap()
        .id;
    let mine = TargetRepository::create(
        &confined,
        a,
        target_id(),
        NewTarget {
            target_group_id: Some(web),
            ..labelled("web-01", env, json!({"role": "web"}))
        },
        now(),
    )
    .await
    .unwrap();
    let (listed, total) = TargetRepository::list(
        &confined,
        a,
        with_labels(r#"{"role":"web"}"#),
        Page::default(),
    )
    .await
    .unwrap();
    assert_eq!((listed, total), (vec![mine.clone()], 1));
    assert_eq!(
        TargetRepository::get(&confined, a, theirs.id).await,
        Err(StoreError::NotFound)
    );
    assert!(confined
        .assignments_for(a, vec![env, theirs_env])
        .await
        .unwrap()
        .contains_key(&env));
    assert!(!confined
        .assignments_for(a, vec![theirs_env])
        .await
        .unwrap()
        .contains_key(&theirs_env));
    TargetRepository::update(&confined, a, mine.id, Some(1), rename("web-02"), now())
        .await
        .unwrap();
    assert!(matches!(
        TargetGroupRepository::delete(&confined, a, web, None, now()).await,
        Err(StoreError::Conflict(_))
    ));
    EnvironmentRepository::delete(&confined, a, env, None)
        .await
        .unwrap();
    assert_eq!(
        TargetRepository::get(&confined, a, mine.id).await,
        Err(StoreError::NotFound)
    );
    TargetGroupRepository::delete(&confined, a, web, None, now())
        .await
        .unwrap();
    drop(confined);
    assert_eq!(
        TargetRepository::get(&db.store, b, theirs.id)
            .await
            .unwrap(),
        theirs,
        "B's target is untouched"
    );
}
