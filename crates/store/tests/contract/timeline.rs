//! The ledger over time: the matrix as of a time (rollbacks included, one index probe per
//! cell), what an environment runs, and the deployments of a window with their status
//! changes for the DORA measures.

use crate::harness::{now, tenant, TestDb};
use chrono::{DateTime, Duration, Utc};
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::collections::HashMap;
use terrane_domain::{
    measure, Component, ComponentId, ComponentInput, Deployment, DeploymentInput, DoraWindow,
    Environment, EnvironmentId, EnvironmentInput, Page, TenantId, TransitionInput, UserId,
};
use terrane_ports::{
    ComponentRepository, Consistency, DeploymentFilter, DeploymentRepository, DeploymentViews,
    EnvironmentRepository, StoreError, Transition,
};
use terrane_store::seed::SeedPlan;
use terrane_store::{Backend, Store};
use uuid::Uuid;

on_both_backends!(
    the_matrix_as_of_a_time_shows_what_ran_then_rollbacks_included,
    the_matrix_as_of_a_time_agrees_with_the_ledger_and_probes_an_index_per_cell,
    running_versions_are_the_latest_successes_of_the_environment,
    the_ledger_of_a_window_gives_the_dora_figures_worked_out_by_hand,
);

fn views(db: &TestDb) -> &dyn DeploymentViews {
    &db.store
}

async fn environment(store: &Store, tenant: TenantId, name: &str) -> Environment {
    let input = EnvironmentInput {
        name: Some(name.into()),
        ..Default::default()
    };
    EnvironmentRepository::create(
        store,
        tenant,
        EnvironmentId(Uuid::now_v7()),
        input.into_new().unwrap(),
        now(),
    )
    .await
    .unwrap()
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

/// Records a deployment of `version` at `at`, its change committed at `committed`.
async fn record(
    store: &Store,
    tenant: TenantId,
    c: &Component,
    e: &Environment,
    version: &str,
    at: DateTime<Utc>,
    committed: Option<DateTime<Utc>>,
) -> Deployment {
    let d = DeploymentInput {
        component_id: Some(c.id.0),
        environment_id: Some(e.id.0),
        version: Some(version.into()),
        committed_at: committed,
        ..Default::default()
    }
    .into_new(UserId(Uuid::from_u128(1)))
    .unwrap()
    .into_deployment(Uuid::now_v7(), tenant, UserId(Uuid::from_u128(1)), at);
    let version =
        DeploymentRepository::environment_state(store, tenant, e.id, at, Consistency::Stored)
            .await
            .unwrap()
            .environment
            .version;
    DeploymentRepository::create(store, tenant, vec![d], version)
        .await
        .unwrap()
        .remove(0)
}

/// Moves `d` to `status` at `at`.
async fn step(store: &Store, d: &Deployment, status: &str, at: DateTime<Utc>) -> Deployment {
    let input = TransitionInput {
        status: Some(status.into()),
        ..Default::default()
    };
    let (next, entry) = d
        .transition(input, Some(UserId(Uuid::from_u128(2))), None, at)
        .unwrap();
    let transition = Transition {
        current: d.clone(),
        next: next.clone(),
        entry,
        environment_version: None,
    };
    DeploymentRepository::save_transition(store, d.tenant, transition)
        .await
        .unwrap();
    next
}

/// Moves `d` through in_progress to `status` (succeeded or failed), finishing at `at`.
async fn finish(store: &Store, d: &Deployment, status: &str, at: DateTime<Utc>) -> Deployment {
    let running = step(store, d, "in_progress", at - Duration::seconds(30)).await;
    step(store, &running, status, at).await
}

/// The versions of the matrix as of `at`: (component name, environment name) -> version.
async fn versions_at(
    db: &TestDb,
    tenant: TenantId,
    at: DateTime<Utc>,
) -> HashMap<(String, String), String> {
    views(db)
        .matrix_as_of(tenant, at)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|row| {
            let name = row.component_name.clone();
            row.environments
                .into_iter()
                .map(move |cell| ((name.clone(), cell.environment_name), cell.version))
        })
        .collect()
}

async fn the_matrix_as_of_a_time_shows_what_ran_then_rollbacks_included(db: TestDb) {
    let t = tenant();
    let s = &db.store;
    let (api, web) = (component(s, t, "api").await, component(s, t, "web").await);
    let dev = environment(s, t, "dev").await;
    let t0 = now() - Duration::days(1);
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    let d1 = record(s, t, &api, &dev, "v1", at(0), None).await;
    let d1 = finish(s, &d1, "succeeded", at(2)).await;
    let w = record(s, t, &web, &dev, "w9", at(10), None).await;
    finish(s, &w, "succeeded", at(30)).await;
    let d2 = record(s, t, &api, &dev, "v2", at(60), None).await;
    let d2 = finish(s, &d2, "succeeded", at(62)).await;
    step(s, &d2, "rolled_back", at(120)).await;
    let d3 = record(s, t, &api, &dev, "v3", at(180), None).await;
    let d3 = finish(s, &d3, "succeeded", at(182)).await;
    step(s, &d3, "rolled_back", at(240)).await;
    step(s, &d1, "rolled_back", at(300)).await;

    let api_at = |minutes: i64| {
        let db = &db;
        async move {
            versions_at(db, t, at(minutes))
                .await
                .remove(&("api".to_owned(), "dev".to_owned()))
        }
    };
    assert_eq!(api_at(1).await, None, "before the first success");
    assert_eq!(api_at(2).await.as_deref(), Some("v1"), "at its success");
    assert_eq!(api_at(61).await.as_deref(), Some("v1"));
    assert_eq!(api_at(62).await.as_deref(), Some("v2"));
    assert_eq!(api_at(119).await.as_deref(), Some("v2"));
    assert_eq!(api_at(120).await.as_deref(), Some("v1"), "v2 rolled back");
    assert_eq!(api_at(182).await.as_deref(), Some("v3"));
    assert_eq!(api_at(240).await.as_deref(), Some("v1"), "v3 rolled back");
    assert_eq!(api_at(300).await, None, "v1 rolled back too: nothing runs");
    assert_eq!(api_at(10_000).await, None);
    // The other component keeps its own timeline; the matrix lists every component.
    let later = versions_at(&db, t, at(200)).await;
    assert_eq!(
        later
            .get(&("web".to_owned(), "dev".to_owned()))
            .map(String::as_str),
        Some("w9")
    );
    assert_eq!(views(&db).matrix_as_of(t, at(1)).await.unwrap().len(), 2);
    // Another tenant sees none of it.
    assert!(views(&db)
        .matrix_as_of(tenant(), at(200))
        .await
        .unwrap()
        .is_empty());
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[derive(QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

/// The plan of the matrix-as-of statement for `tenant` at `at`, one line per step.
fn plan(db: &TestDb, tenant: TenantId, at: DateTime<Utc>) -> Vec<String> {
    let sql = terrane_store::testing::matrix_as_of_sql(db.store.backend());
    match db.store.backend() {
        Backend::Postgres => {
            // Values this test made, inlined: EXPLAIN takes no parameters.
            let sql = sql
                .replace("$1", &format!("'{}'::uuid", tenant.0))
                .replace("$2", &format!("'{}'::timestamptz", at.to_rfc3339()));
            let mut conn = PgConnection::establish(&db.url).unwrap();
            diesel::sql_query(format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}"))
                .load::<PlanLine>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|l| l.line)
                .collect()
        }
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let mut conn = SqliteConnection::establish(path).unwrap();
            diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load::<SqlitePlanLine>(&mut conn)
                .unwrap()
                .into_iter()
                .map(|l| l.detail)
                .collect()
        }
    }
}

async fn the_matrix_as_of_a_time_agrees_with_the_ledger_and_probes_an_index_per_cell(db: TestDb) {
    let t = tenant();
    let end = now();
    let (components, environments) = (10, 4);
    db.store
        .seed(SeedPlan {
            tenant: t,
            components,
            environments,
            deployments: 4_000,
            now: end,
            span: Duration::days(10),
        })
        .await
        .unwrap();
    if let Some(path) = db.url.strip_prefix("sqlite://") {
        // The load was checkpointed into the database: reads find no page in the log.
        let log = std::fs::metadata(format!("{path}-wal")).map_or(0, |m| m.len());
        assert_eq!(log, 0, "the seed leaves {log} bytes of write-ahead log");
    }
    let at = end - Duration::days(5) + Duration::seconds(7);
    // What the ledger says ran then: per cell, the succeeded deployment finished last by
    // `at` (the seed rolls back none that was ever the latest).
    let mut expected: HashMap<(Uuid, Uuid), (DateTime<Utc>, String)> = HashMap::new();
    let filter = DeploymentFilter {
        status: Some(terrane_domain::DeploymentStatus::Succeeded),
        ..Default::default()
    };
    for skip in (0..4_000).step_by(100) {
        let page = Page::parse(Some(skip), Some(100)).unwrap();
        let (rows, _) = DeploymentRepository::list(&db.store, t, filter, page)
            .await
            .unwrap();
        for d in rows {
            let finished = d.finished_at.unwrap();
            let key = (d.component_id.0, d.environment_id.0);
            if finished <= at && expected.get(&key).is_none_or(|(f, _)| *f < finished) {
                expected.insert(key, (finished, d.version.as_str().to_owned()));
            }
        }
    }
    // Each cell's version and the time it succeeded.
    let found: HashMap<(Uuid, Uuid), (DateTime<Utc>, String)> = views(&db)
        .matrix_as_of(t, at)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|row| {
            let c = row.component_id.0;
            row.environments
                .into_iter()
                .map(move |cell| ((c, cell.environment_id.0), (cell.deployed_at, cell.version)))
        })
        .collect();
    assert_eq!(found.len(), components * environments);
    assert_eq!(found, expected);

    let plan = plan(&db, t, at);
    let text = plan.join("\n");
    match db.store.backend() {
        Backend::Postgres => {
            assert!(
                text.contains("deployment_timeline_pkey"),
                "the timeline is read through its key:\n{text}"
            );
            assert!(
                !text.contains("Seq Scan on deployment_timeline"),
                "never scanned:\n{text}"
            );
            // One probe per cell, reading one row each.
            let cells = components * environments;
            assert!(
                plan.iter().any(|l| l.contains("deployment_timeline_pkey")
                    && l.contains(&format!("loops={cells}"))),
                "one probe per cell ({cells}):\n{text}"
            );
        }
        Backend::Sqlite => {
            let timeline: Vec<&String> = plan
                .iter()
                .filter(|l| l.contains("deployment_timeline"))
                .collect();
            assert!(
                !timeline.is_empty()
                    && timeline
                        .iter()
                        .all(|l| l.starts_with("SEARCH") && l.contains("component_id=?")),
                "the timeline is only searched by its key:\n{text}"
            );
            assert!(
                !plan
                    .iter()
                    .any(|l| l.starts_with("SCAN x") || l.starts_with("SCAN t")),
                "never scanned:\n{text}"
            );
        }
    }
}

async fn running_versions_are_the_latest_successes_of_the_environment(db: TestDb) {
    let t = tenant();
    let s = &db.store;
    let (api, web) = (component(s, t, "api").await, component(s, t, "web").await);
    let (dev, prod) = (
        environment(s, t, "dev").await,
        environment(s, t, "prod").await,
    );
    let t0 = now() - Duration::hours(1);
    let d = record(s, t, &api, &dev, "v1", t0, None).await;
    finish(s, &d, "succeeded", t0 + Duration::minutes(1)).await;
    let d = record(s, t, &api, &dev, "v2", t0, None).await;
    finish(s, &d, "succeeded", t0 + Duration::minutes(2)).await;
    let d = record(s, t, &web, &dev, "w1", t0, None).await;
    finish(s, &d, "failed", t0 + Duration::minutes(3)).await;
    let mut running = views(&db).running_versions(t, dev.id).await.unwrap();
    running.sort_by(|a, b| a.component_name.cmp(&b.component_name));
    assert_eq!(running.len(), 1, "web never succeeded: {running:?}");
    assert_eq!(
        (
            running[0].component_name.as_str(),
            running[0].version.as_str()
        ),
        ("api", "v2")
    );
    assert!(views(&db)
        .running_versions(t, prod.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        views(&db).running_versions(tenant(), dev.id).await,
        Err(StoreError::NotFound)
    );
}

async fn the_ledger_of_a_window_gives_the_dora_figures_worked_out_by_hand(db: TestDb) {
    let t = tenant();
    let s = &db.store;
    let (api, web) = (component(s, t, "api").await, component(s, t, "web").await);
    let (dev, prod) = (
        environment(s, t, "dev").await,
        environment(s, t, "prod").await,
    );
    let from = now() - Duration::days(10);
    let h = |hours: i64| from + Duration::hours(hours);
    // Before the window: not measured.
    let old = record(s, t, &web, &prod, "w0", from - Duration::hours(1), None).await;
    finish(s, &old, "failed", h(1)).await;
    // web: committed at 0 h, succeeds at 3 h (lead time 3 h).
    let d = record(s, t, &web, &prod, "w1", h(1), Some(h(0))).await;
    finish(s, &d, "succeeded", h(3)).await;
    // web: fails at 10 h (incident) ...
    let d = record(s, t, &web, &prod, "w2", h(9), Some(h(8))).await;
    finish(s, &d, "failed", h(10)).await;
    // ... restored at 12 h by w3 (lead time 12 h - 5 h = 7 h; time to restore 2 h).
    let d = record(s, t, &web, &prod, "w3", h(11), Some(h(5))).await;
    finish(s, &d, "succeeded", h(12)).await;
    // api: succeeds at 21 h with no commit time, rolled back at 30 h (incident, never
    // restored).
    let d = record(s, t, &api, &prod, "a1", h(20), None).await;
    let d = finish(s, &d, "succeeded", h(21)).await;
    step(s, &d, "rolled_back", h(30)).await;
    // api: still pending.
    record(s, t, &api, &prod, "a2", h(40), Some(h(39))).await;
    // Elsewhere: not measured.
    let d = record(s, t, &api, &dev, "a1", h(20), Some(h(0))).await;
    finish(s, &d, "failed", h(22)).await;

    let window = DoraWindow::parse(Some(from), Some(from + Duration::days(2)), now()).unwrap();
    let ledger = views(&db)
        .ledger_between(t, prod.id, window.from(), window.to())
        .await
        .unwrap();
    assert_eq!(ledger.len(), 5, "the five recorded in prod in the window");
    let m = measure(window, &ledger);
    // Succeeded: w1, w3, a1: 3 in 2 days.
    assert_eq!(m.succeeded, 3);
    assert!((m.deployments_per_day - 1.5).abs() < 1e-9);
    // Lead times 3 h and 7 h: median (rank 1) 3 h, p90 (rank 2) 7 h.
    assert_eq!(m.lead_times, 2);
    assert_eq!(m.lead_time_median, Some(Duration::hours(3)));
    assert_eq!(m.lead_time_p90, Some(Duration::hours(7)));
    // Finished: w1, w2, w3, a1; failed or rolled back: w2, a1.
    assert_eq!((m.finished, m.failed_changes), (4, 2));
    assert_eq!(m.change_failure_rate, Some(0.5));
    // Incidents: web at 10 h (restored 2 h later), api at 30 h (not restored).
    assert_eq!((m.incidents, m.restored), (2, 1));
    assert_eq!(m.time_to_restore_median, Some(Duration::hours(2)));
    assert_eq!(
        views(&db)
            .ledger_between(tenant(), prod.id, window.from(), window.to())
            .await,
        Err(StoreError::NotFound)
    );
}
