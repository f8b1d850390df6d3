//! `DeploymentViews`: the matrix, latest deployments, current releases and stickers, read from
//! `latest_deployments`. The ledger rows are seeded with plain SQL, as the ledger would leave
//! them, so these tests check the views alone.

use crate::harness::{env_id, now, tenant, TestDb};
use crate::target_groups::new_target;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use terrane_domain::{
    ComponentId, ComponentInput, EnvironmentChanges, EnvironmentFilter, EnvironmentId,
    EnvironmentInput, EnvironmentStatus, TargetId, TenantId,
};
use terrane_ports::{
    ComponentRepository, DeploymentViews, EnvironmentRepository, StoreError, TargetRepository,
};
use uuid::Uuid;

on_both_backends!(
    the_matrix_lists_every_component_by_name_with_its_version_per_environment_name,
    the_matrix_leaves_out_inactive_and_destroyed_environments,
    the_matrix_shows_only_the_tenants_own_rows,
    latest_answers_one_deployment_per_environment_in_their_order,
    latest_of_an_unknown_or_foreign_component_is_not_found,
    the_current_release_is_that_of_the_last_success_belonging_to_a_release,
    the_sticker_lists_the_current_releases_components_with_their_digests,
    the_sticker_without_any_release_lists_every_component_deployed,
    the_sticker_of_an_environment_where_nothing_succeeded_is_none,
    the_sticker_of_an_unknown_or_foreign_target_is_not_found,
);

/// Runs `sql` on the test database, outside the store (as the ledger's own writes would).
fn execute(db: &TestDb, sql: &str) {
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        let mut conn = SqliteConnection::establish(path).expect("open the SQLite file");
        conn.batch_execute(&format!("PRAGMA foreign_keys = ON; {sql}"))
            .expect("seed SQL");
    } else {
        let mut conn = PgConnection::establish(&db.url).expect("connect to PostgreSQL");
        conn.batch_execute(sql).expect("seed SQL");
    }
}

/// A time as both backends store it in text form.
fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn sql_text(value: Option<&str>) -> String {
    value.map_or("NULL".to_owned(), |v| format!("'{v}'"))
}

async fn component(db: &TestDb, tenant: TenantId, name: &str) -> ComponentId {
    let new = ComponentInput {
        name: Some(name.to_owned()),
        kind: Some("service".into()),
        ..Default::default()
    }
    .into_new()
    .expect("a valid component");
    ComponentRepository::create(&db.store, tenant, ComponentId(Uuid::now_v7()), new, now())
        .await
        .expect("create component")
        .id
}

async fn environment(db: &TestDb, tenant: TenantId, name: &str, order: i64) -> EnvironmentId {
    let new = EnvironmentInput {
        name: Some(name.to_owned()),
        order_index: Some(order),
        ..Default::default()
    }
    .into_new()
    .expect("a valid environment");
    EnvironmentRepository::create(&db.store, tenant, env_id(), new, now())
        .await
        .expect("create environment")
        .id
}

async fn target(db: &TestDb, tenant: TenantId, env: EnvironmentId) -> TargetId {
    TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target("web-1", env, None),
        now(),
    )
    .await
    .expect("create target")
    .id
}

fn release(db: &TestDb, tenant: TenantId, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    execute(
        db,
        &format!(
            "INSERT INTO releases (id, tenant_id, name, created_by, created_at) \
             VALUES ('{id}', '{tenant}', '{name}', '{}', '{}');",
            Uuid::now_v7(),
            at(now())
        ),
    );
    id
}

/// One succeeded deployment, recorded as the ledger records it: the ledger row, and the
/// latest row of its component and environment replaced when it is newer.
struct Deploy<'a> {
    component: ComponentId,
    environment: EnvironmentId,
    version: &'a str,
    release: Option<Uuid>,
    digest: Option<&'a str>,
    by: &'a str,
    at: DateTime<Utc>,
}

fn deploy(db: &TestDb, tenant: TenantId, d: Deploy<'_>) -> Uuid {
    let id = Uuid::now_v7();
    let (component, environment) = (d.component.0, d.environment.0);
    let release = d.release.map(|r| r.to_string());
    let release = sql_text(release.as_deref());
    let digest = sql_text(d.digest);
    let when = at(d.at);
    execute(
        db,
        &format!(
            "INSERT INTO deployments (id, tenant_id, component_id, environment_id, release_id, \
                 version, digest, deployed_by, created_by, metadata, status, revision, \
                 created_at, started_at, finished_at, updated_at) \
             VALUES ('{id}', '{tenant}', '{component}', '{environment}', {release}, \
                 '{version}', {digest}, '{by}', '{creator}', '{{}}', 'succeeded', 3, \
                 '{when}', '{when}', '{when}', '{when}'); \
             DELETE FROM latest_deployments WHERE tenant_id = '{tenant}' \
                 AND component_id = '{component}' AND environment_id = '{environment}'; \
             INSERT INTO latest_deployments (tenant_id, component_id, environment_id, \
                 deployment_id, release_id, version, digest, deployed_by, deployed_at) \
             VALUES ('{tenant}', '{component}', '{environment}', '{id}', {release}, \
                 '{version}', {digest}, '{by}', '{when}');",
            version = d.version,
            by = d.by,
            creator = Uuid::now_v7(),
        ),
    );
    id
}

fn simple<'a>(
    component: ComponentId,
    environment: EnvironmentId,
    version: &'a str,
    at: DateTime<Utc>,
) -> Deploy<'a> {
    Deploy {
        component,
        environment,
        version,
        release: None,
        digest: None,
        by: "ci-bot",
        at,
    }
}

/// The matrix as (component name, [(environment name, version)]).
async fn matrix(db: &TestDb, tenant: TenantId) -> Vec<(String, Vec<(String, String)>)> {
    db.store
        .matrix(tenant)
        .await
        .expect("matrix")
        .into_iter()
        .map(|row| {
            (
                row.component_name,
                row.environments
                    .into_iter()
                    .map(|c| (c.environment_name, c.version))
                    .collect(),
            )
        })
        .collect()
}

fn pairs(cells: &[(&str, &str)]) -> Vec<(String, String)> {
    cells
        .iter()
        .map(|(e, v)| ((*e).to_owned(), (*v).to_owned()))
        .collect()
}

async fn the_matrix_lists_every_component_by_name_with_its_version_per_environment_name(
    db: TestDb,
) {
    let t = tenant();
    let web = component(&db, t, "web").await;
    let api = component(&db, t, "api").await;
    component(&db, t, "zeta-never-deployed").await;
    let prod = environment(&db, t, "production", 3).await;
    let dev = environment(&db, t, "development", 1).await;
    let staging = environment(&db, t, "staging", 2).await;
    let start = now() - Duration::hours(5);
    deploy(&db, t, simple(api, dev, "v2.4.0", start));
    deploy(&db, t, simple(api, staging, "v2.3.1", start));
    deploy(&db, t, simple(api, prod, "v2.3.0", start));
    deploy(&db, t, simple(web, dev, "v1.0.0", start));
    // A newer success replaces the older one.
    deploy(
        &db,
        t,
        simple(web, dev, "v1.1.0", start + Duration::hours(1)),
    );

    let rows = db.store.matrix(t).await.unwrap();
    assert_eq!(rows[0].component_id, api);
    assert_eq!(rows[0].environments[0].environment_id, dev);
    assert_eq!(
        rows[0].environments[0].deployed_at, start,
        "the time of success"
    );
    assert_eq!(
        matrix(&db, t).await,
        vec![
            (
                "api".to_owned(),
                pairs(&[
                    ("development", "v2.4.0"),
                    ("staging", "v2.3.1"),
                    ("production", "v2.3.0")
                ])
            ),
            ("web".to_owned(), pairs(&[("development", "v1.1.0")])),
            ("zeta-never-deployed".to_owned(), Vec::new()),
        ]
    );
}

async fn the_matrix_leaves_out_inactive_and_destroyed_environments(db: TestDb) {
    let t = tenant();
    let api = component(&db, t, "api").await;
    let live = environment(&db, t, "live", 1).await;
    let inactive = environment(&db, t, "paused", 2).await;
    let destroyed = environment(&db, t, "gone", 3).await;
    let at = now() - Duration::hours(1);
    for env in [live, inactive, destroyed] {
        deploy(&db, t, simple(api, env, "v1", at));
    }
    let pause = EnvironmentChanges {
        is_active: Some(false),
        ..Default::default()
    };
    EnvironmentRepository::update(&db.store, t, inactive, None, pause, now())
        .await
        .unwrap();
    let destroy = EnvironmentChanges {
        status: Some(EnvironmentStatus::Destroyed),
        ..Default::default()
    };
    EnvironmentRepository::update(&db.store, t, destroyed, None, destroy, now())
        .await
        .unwrap();

    assert_eq!(
        matrix(&db, t).await,
        vec![("api".to_owned(), pairs(&[("live", "v1")]))]
    );
    let latest = db.store.latest(t, api).await.unwrap();
    assert_eq!(
        latest.iter().map(|l| l.environment_id).collect::<Vec<_>>(),
        vec![live]
    );
}

async fn the_matrix_shows_only_the_tenants_own_rows(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let api = component(&db, theirs, "api").await;
    let env = environment(&db, theirs, "production", 1).await;
    deploy(&db, theirs, simple(api, env, "v1", now()));
    assert_eq!(matrix(&db, mine).await, Vec::new());
    assert_eq!(matrix(&db, theirs).await.len(), 1);
}

async fn latest_answers_one_deployment_per_environment_in_their_order(db: TestDb) {
    let t = tenant();
    let api = component(&db, t, "api").await;
    let other = component(&db, t, "other").await;
    let prod = environment(&db, t, "production", 2).await;
    let dev = environment(&db, t, "development", 1).await;
    environment(&db, t, "never", 3).await;
    let r = release(&db, t, "myapp-v2.3.1");
    let start = now() - Duration::hours(3);
    deploy(&db, t, simple(api, dev, "v1", start));
    let newest = deploy(
        &db,
        t,
        Deploy {
            component: api,
            environment: dev,
            version: "v2",
            release: Some(r),
            digest: Some("sha256:abc"),
            by: "alice",
            at: start + Duration::hours(1),
        },
    );
    let in_prod = deploy(&db, t, simple(api, prod, "v1", start));
    deploy(&db, t, simple(other, prod, "v9", start));

    let latest = db.store.latest(t, api).await.unwrap();
    assert_eq!(latest.len(), 2, "{latest:?}");
    let (first, second) = (&latest[0], &latest[1]);
    assert_eq!(first.deployment_id, newest);
    assert_eq!(
        (first.environment_id, first.environment_name.as_str()),
        (dev, "development")
    );
    assert_eq!(first.component_id, api);
    assert_eq!(first.release_id, Some(r));
    assert_eq!(
        (first.version.as_str(), first.digest.as_deref()),
        ("v2", Some("sha256:abc"))
    );
    assert_eq!(first.deployed_by, "alice");
    assert_eq!(first.deployed_at, start + Duration::hours(1));
    assert_eq!(
        (second.deployment_id, second.environment_id),
        (in_prod, prod)
    );
    assert_eq!(second.release_id, None);

    let never = component(&db, t, "never-deployed").await;
    assert_eq!(db.store.latest(t, never).await, Ok(Vec::new()));
}

async fn latest_of_an_unknown_or_foreign_component_is_not_found(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let foreign = component(&db, theirs, "api").await;
    assert_eq!(
        db.store.latest(mine, foreign).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        db.store.latest(mine, ComponentId(Uuid::now_v7())).await,
        Err(StoreError::NotFound)
    );
}

async fn the_current_release_is_that_of_the_last_success_belonging_to_a_release(db: TestDb) {
    let t = tenant();
    let (a, b, c) = (
        component(&db, t, "a").await,
        component(&db, t, "b").await,
        component(&db, t, "c").await,
    );
    let prod = environment(&db, t, "production", 2).await;
    let staging = environment(&db, t, "staging", 1).await;
    let bare = environment(&db, t, "bare", 3).await;
    let (r1, r2) = (release(&db, t, "r1"), release(&db, t, "r2"));
    let start = now() - Duration::hours(5);
    let in_release = |component, environment, release, at| Deploy {
        release: Some(release),
        ..simple(component, environment, "v1", at)
    };
    deploy(&db, t, in_release(a, prod, r1, start));
    deploy(&db, t, in_release(b, prod, r2, start + Duration::hours(1)));
    // Later, but outside any release: it does not change the current release.
    deploy(&db, t, simple(c, prod, "v1", start + Duration::hours(2)));
    deploy(&db, t, in_release(a, staging, r1, start));
    deploy(&db, t, simple(a, bare, "v1", start));

    let current = db
        .store
        .current_releases(t, vec![prod, staging, bare, env_id()])
        .await
        .unwrap();
    assert_eq!(current.len(), 2, "{current:?}");
    let in_prod = &current[&prod];
    assert_eq!((in_prod.id, in_prod.name.as_str()), (r2, "r2"));
    assert_eq!(in_prod.deployed_at, start + Duration::hours(1));
    assert_eq!(current[&staging].id, r1);

    // An environment's view carries the same current release, and none where it runs none.
    for env in [prod, staging, bare] {
        let view = EnvironmentRepository::view(&db.store, t, env, now())
            .await
            .unwrap();
        assert_eq!(view.current_release.as_ref(), current.get(&env), "{env}");
    }
    // A page with the releases, unfiltered and through a filter every environment matches
    // (different statements, the same answer), and in between one without them.
    let page_of = |filter: EnvironmentFilter, with_release: bool| {
        let store = db.store.clone();
        async move {
            let (page, total) = EnvironmentRepository::view_page(
                &store,
                t,
                filter,
                Default::default(),
                Default::default(),
                with_release,
                now(),
            )
            .await
            .unwrap();
            assert_eq!(total, 3);
            page.iter()
                .map(|v| (v.environment.id, v.current_release.clone()))
                .collect::<Vec<_>>()
        }
    };
    let everything = || EnvironmentFilter {
        is_active: Some(true),
        ..Default::default()
    };
    // In order: staging (1), production (2), bare (3).
    let expected = vec![
        (staging, Some(current[&staging].clone())),
        (prod, Some(current[&prod].clone())),
        (bare, None),
    ];
    let without: Vec<_> = expected.iter().map(|(env, _)| (*env, None)).collect();
    assert_eq!(page_of(Default::default(), true).await, expected);
    assert_eq!(page_of(Default::default(), false).await, without);
    assert_eq!(page_of(everything(), false).await, without);
    assert_eq!(page_of(everything(), true).await, expected);
    assert_eq!(page_of(Default::default(), true).await, expected);

    // Another tenant asking for the same environments sees nothing.
    assert!(db
        .store
        .current_releases(tenant(), vec![prod, staging])
        .await
        .unwrap()
        .is_empty());
}

async fn the_sticker_lists_the_current_releases_components_with_their_digests(db: TestDb) {
    let t = tenant();
    let (api, web, worker) = (
        component(&db, t, "api").await,
        component(&db, t, "web").await,
        component(&db, t, "worker").await,
    );
    let prod = environment(&db, t, "production", 1).await;
    let host = target(&db, t, prod).await;
    let (old, current) = (
        release(&db, t, "myapp-v2.3.0"),
        release(&db, t, "myapp-v2.3.1"),
    );
    let start = now() - Duration::hours(5);
    let released = |component, release, digest, by, at| Deploy {
        release: Some(release),
        digest: Some(digest),
        by,
        ..simple(component, prod, "v2", at)
    };
    deploy(&db, t, released(worker, old, "sha256:000", "bob", start));
    deploy(
        &db,
        t,
        released(
            web,
            current,
            "sha256:bbb",
            "carol",
            start + Duration::hours(2),
        ),
    );
    deploy(
        &db,
        t,
        released(
            api,
            current,
            "sha256:aaa",
            "alice",
            start + Duration::hours(1),
        ),
    );

    let sticker = db.store.sticker(t, host).await.unwrap().expect("a sticker");
    assert_eq!(sticker.release, Some((current, "myapp-v2.3.1".to_owned())));
    assert_eq!(
        sticker
            .components
            .iter()
            .map(|c| (
                c.component_id,
                c.component_name.as_str(),
                c.digest.as_deref()
            ))
            .collect::<Vec<_>>(),
        vec![
            (api, "api", Some("sha256:aaa")),
            (web, "web", Some("sha256:bbb"))
        ]
    );
    assert_eq!(sticker.deployed_at, start + Duration::hours(2));
    assert_eq!(sticker.deployed_by, "carol");
}

async fn the_sticker_without_any_release_lists_every_component_deployed(db: TestDb) {
    let t = tenant();
    let (api, web) = (
        component(&db, t, "api").await,
        component(&db, t, "web").await,
    );
    let prod = environment(&db, t, "production", 1).await;
    let host = target(&db, t, prod).await;
    let start = now() - Duration::hours(2);
    deploy(&db, t, simple(web, prod, "v1", start + Duration::hours(1)));
    deploy(&db, t, simple(api, prod, "v1", start));

    let sticker = db.store.sticker(t, host).await.unwrap().expect("a sticker");
    assert_eq!(sticker.release, None);
    assert_eq!(
        sticker
            .components
            .iter()
            .map(|c| c.component_name.as_str())
            .collect::<Vec<_>>(),
        vec!["api", "web"]
    );
    assert_eq!(sticker.deployed_at, start + Duration::hours(1));
}

async fn the_sticker_of_an_environment_where_nothing_succeeded_is_none(db: TestDb) {
    let t = tenant();
    let api = component(&db, t, "api").await;
    let empty = environment(&db, t, "empty", 1).await;
    let busy = environment(&db, t, "busy", 2).await;
    deploy(&db, t, simple(api, busy, "v1", now()));
    let host = target(&db, t, empty).await;
    assert_eq!(db.store.sticker(t, host).await, Ok(None));
}

async fn the_sticker_of_an_unknown_or_foreign_target_is_not_found(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let api = component(&db, theirs, "api").await;
    let env = environment(&db, theirs, "production", 1).await;
    deploy(&db, theirs, simple(api, env, "v1", now()));
    let host = target(&db, theirs, env).await;
    assert_eq!(
        db.store.sticker(mine, host).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        db.store.sticker(mine, TargetId(Uuid::now_v7())).await,
        Err(StoreError::NotFound)
    );
    assert!(db.store.sticker(theirs, host).await.unwrap().is_some());
}
