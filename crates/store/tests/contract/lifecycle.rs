//! The lifecycle repositories: templates, environments born from them, runs claimed under
//! leases, status changes as compare-and-sets, history.

use crate::harness::{env_id, named, now, tenant, TestDb};
use chrono::Duration;
use std::collections::HashSet;
use terrane_domain::lifecycle::template::{StepInput, WorkflowInput};
use terrane_domain::{
    Environment, EnvironmentStatus, Executables, LifecycleEvent, LifecycleEventId, Page, Run,
    RunId, RunStatus, StepId, Template, TemplateId, TemplateInput, TenantId,
};
use terrane_ports::{
    Birth, Lease, LifecycleRepository, RunSignal, StatusChange, StoreError, TemplateRepository,
};
use terrane_store::Store;
use uuid::Uuid;

on_both_backends!(
    claims_of_racing_replicas_take_each_requested_run_once,
    a_replica_that_lost_its_lease_can_no_longer_write_and_the_run_is_claimed_again_running,
    a_status_change_is_a_compare_and_set_that_bumps_the_version,
    a_template_in_use_can_be_neither_replaced_nor_deleted,
    another_tenants_runs_and_history_are_not_found,
);

pub(crate) fn template(tenant: TenantId) -> Template {
    TemplateInput {
        name: Some("web".into()),
        version: Some("1".into()),
        workflows: vec![
            WorkflowInput {
                name: Some("create".into()),
                steps: vec![StepInput {
                    name: Some("up".into()),
                    run: Some("up.sh".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
            WorkflowInput {
                name: Some("destroy".into()),
                ..Default::default()
            },
        ],
        ..Default::default()
    }
    .into_new(&Executables::In(["up.sh".to_owned()].into()))
    .unwrap()
    .into_template(TemplateId(Uuid::now_v7()), tenant, now())
}

fn event(env: &Environment, run: Option<&Run>, to: EnvironmentStatus) -> LifecycleEvent {
    LifecycleEvent {
        id: LifecycleEventId(Uuid::now_v7()),
        environment: env.id,
        at: now(),
        actor: None,
        event: "created".into(),
        run: run.map(|r| r.id),
        workflow: run.map(|r| r.workflow.clone()),
        from: None,
        to,
        detail: None,
    }
}

/// A template environment, `busy`, with its create run requested.
pub(crate) async fn born(
    store: &Store,
    tenant: TenantId,
    template: &Template,
    name: &str,
) -> (Environment, Run) {
    let mut new = named(name);
    new.status = EnvironmentStatus::Busy;
    let env = new.clone().into_environment(
        env_id(),
        terrane_domain::EnvironmentNumber(1),
        tenant,
        0,
        now(),
    );
    let run = Run::requested(
        RunId(Uuid::now_v7()),
        tenant,
        env.id,
        template,
        template.workflow("create").unwrap(),
        Default::default(),
        None,
        || StepId(Uuid::now_v7()),
        now(),
    );
    let birth = Birth {
        template: Some((template.id, Default::default())),
        expires_at: None,
        run: Some(run.clone()),
        event: event(&env, Some(&run), EnvironmentStatus::Busy),
    };
    let stored = store
        .create_environment(tenant, env.id, new, birth, now())
        .await
        .unwrap();
    (stored, run)
}

fn lease(seconds: i64) -> Lease {
    Lease {
        owner: Uuid::now_v7(),
        until: now() + Duration::seconds(seconds),
    }
}

async fn claims_of_racing_replicas_take_each_requested_run_once(db: TestDb) {
    let tenant = tenant();
    let template = db.store.create(tenant, template(tenant)).await.unwrap();
    let mut expected = HashSet::new();
    for i in 0..12 {
        expected.insert(
            born(&db.store, tenant, &template, &format!("env-{i}"))
                .await
                .1
                .id,
        );
    }
    let at = now();
    let claims = crate::harness::race(4, |_| {
        let store = db.store.clone();
        async move { store.claim_runs(lease(30), at, 5).await.unwrap() }
    })
    .await;
    let claimed: Vec<RunId> = claims.into_iter().flatten().map(|c| c.run.id).collect();
    let unique: HashSet<RunId> = claimed.iter().copied().collect();
    assert_eq!(unique.len(), claimed.len(), "no run claimed twice");
    assert_eq!(unique, expected, "every run claimed");
    assert!(
        db.store
            .claim_runs(lease(30), now(), 5)
            .await
            .unwrap()
            .is_empty(),
        "leases hold"
    );
}

async fn a_replica_that_lost_its_lease_can_no_longer_write_and_the_run_is_claimed_again_running(
    db: TestDb,
) {
    let tenant = tenant();
    let template = db.store.create(tenant, template(tenant)).await.unwrap();
    let (env, _) = born(&db.store, tenant, &template, "contested").await;
    let first = lease(-1);
    let claim = db
        .store
        .claim_runs(first, now(), 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    let started = claim.run.start(now()).unwrap();
    let started = started.start_step(started.steps[0].id, now()).unwrap();
    db.store
        .save_run(
            tenant,
            started.clone(),
            first,
            Default::default(),
            None,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        db.store.renew(tenant, started.id, first).await.unwrap(),
        RunSignal::Continue
    );
    // The first lease has run out: another replica takes the run over, still running.
    let second = lease(30);
    let taken = db
        .store
        .claim_runs(second, now() + Duration::seconds(2), 10)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(taken.run.status, RunStatus::Running);
    assert_eq!(
        db.store.renew(tenant, started.id, first).await.unwrap(),
        RunSignal::Lost
    );
    let late = db
        .store
        .save_run(
            tenant,
            started.clone(),
            first,
            Default::default(),
            None,
            now(),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    let failed = taken.run.abandon(now()).unwrap();
    db.store
        .save_run(tenant, failed, second, Default::default(), None, now())
        .await
        .unwrap();
    let stored = db.store.run(tenant, env.id, started.id).await.unwrap();
    assert_eq!(stored.status, RunStatus::Failed);
    let broken = terrane_ports::EnvironmentRepository::get(&db.store, tenant, env.id)
        .await
        .unwrap();
    assert_eq!(broken.status, EnvironmentStatus::Broken);
    assert_eq!(
        broken.version,
        env.version + 1,
        "a status change bumps the version"
    );
}

async fn a_status_change_is_a_compare_and_set_that_bumps_the_version(db: TestDb) {
    let tenant = tenant();
    let template = db.store.create(tenant, template(tenant)).await.unwrap();
    let (env, run) = born(&db.store, tenant, &template, "cas").await;
    let change = |version| StatusChange {
        expected_version: version,
        status: EnvironmentStatus::Broken,
        run: None,
        event: event(&env, Some(&run), EnvironmentStatus::Broken),
    };
    let changed = db
        .store
        .change_status(tenant, env.id, change(env.version), now())
        .await
        .unwrap();
    assert_eq!(
        (changed.status, changed.version),
        (EnvironmentStatus::Broken, env.version + 1)
    );
    let stale = db
        .store
        .change_status(tenant, env.id, change(env.version), now())
        .await;
    assert_eq!(
        stale.unwrap_err(),
        StoreError::VersionMismatch {
            current: env.version + 1
        }
    );
    let (history, total) = db
        .store
        .history(tenant, env.id, Page::default())
        .await
        .unwrap();
    assert_eq!((total, history[0].to), (2, EnvironmentStatus::Broken));
}

async fn a_template_in_use_can_be_neither_replaced_nor_deleted(db: TestDb) {
    let tenant = tenant();
    let stored = db.store.create(tenant, template(tenant)).await.unwrap();
    assert_eq!(
        TemplateRepository::get(&db.store, tenant, stored.id)
            .await
            .unwrap(),
        stored
    );
    let again = db.store.create(tenant, template(tenant)).await;
    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "name and version are unique"
    );
    let mut next = stored.clone();
    next.description = Some("changed".into());
    next.version_number += 1;
    let replaced = db
        .store
        .replace(tenant, Some(1), next.clone())
        .await
        .unwrap();
    assert_eq!(replaced.version_number, 2);
    born(&db.store, tenant, &replaced, "user").await;
    next.version_number += 1;
    assert!(matches!(
        db.store.replace(tenant, Some(2), next).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        TemplateRepository::delete(&db.store, tenant, stored.id, None).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn another_tenants_runs_and_history_are_not_found(db: TestDb) {
    let owner = tenant();
    let template = db.store.create(owner, template(owner)).await.unwrap();
    let (env, run) = born(&db.store, owner, &template, "private").await;
    let other = tenant();
    assert_eq!(
        db.store
            .runs(other, env.id, Page::default())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.run(other, env.id, run.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store
            .history(other, env.id, Page::default())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert!(db
        .store
        .lifecycles(other, vec![env.id])
        .await
        .unwrap()
        .is_empty());
    let (runs, total) = db.store.runs(owner, env.id, Page::default()).await.unwrap();
    assert_eq!((total, runs[0].id), (1, run.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_are_claimed_across_tenants_under_row_level_security_and_the_rest_stays_confined() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let role = crate::environment_requests::ConfinedRole::create(&db.url);
    let confined = Store::connect(&role.url(), 2).unwrap();
    let (a, b) = (tenant(), tenant());
    let mut expected = HashSet::new();
    for t in [a, b] {
        let template = confined.create(t, template(t)).await.unwrap();
        expected.insert(born(&confined, t, &template, "same-name").await.1.id);
    }
    let lease = lease(30);
    let claims = confined.claim_runs(lease, now(), 10).await.unwrap();
    let claimed: HashSet<RunId> = claims.iter().map(|c| c.run.id).collect();
    assert_eq!(claimed, expected, "the runner's claim sees every tenant");
    for claim in claims {
        let tenant = claim.run.tenant;
        let started = claim.run.start(now()).unwrap();
        confined
            .save_run(
                tenant,
                started.clone(),
                lease,
                Default::default(),
                None,
                now(),
            )
            .await
            .unwrap();
        let other = if tenant == a { b } else { a };
        assert_eq!(
            confined
                .run(other, claim.environment.id, started.id)
                .await
                .unwrap_err(),
            StoreError::NotFound,
            "tenant transactions still see only their tenant"
        );
    }
}
