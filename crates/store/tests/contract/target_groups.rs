//! `TargetGroupRepository`, and the assignments the environment repository changes.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use std::collections::HashMap;
use terrane_domain::{
    Assignment, AssignmentChange, AssignmentInput, AssignmentMode, AssignmentRequest, Environment,
    EnvironmentChanges, EnvironmentId, NewEnvironment, NewTarget, NewTargetGroup, Page,
    TargetGroup, TargetGroupChanges, TargetGroupFilter, TargetGroupId, TargetGroupName, TargetId,
    TargetInput, TenantId,
};
use terrane_ports::{EnvironmentRepository, StoreError, TargetGroupRepository, TargetRepository};
use uuid::Uuid;

pub fn group_id() -> TargetGroupId {
    TargetGroupId(Uuid::now_v7())
}

pub fn new_group(name: &str) -> NewTargetGroup {
    NewTargetGroup {
        name: TargetGroupName::parse(name).expect("a valid group name"),
        display_name: name.to_owned(),
        description: None,
        is_active: true,
    }
}

/// A valid docker_host target called `name` in `environment`, in `group` when given.
pub fn new_target(
    name: &str,
    environment: EnvironmentId,
    group: Option<TargetGroupId>,
) -> NewTarget {
    TargetInput {
        environment_id: Some(environment.0),
        target_group_id: Some(group.map(|g| g.0)),
        name: Some(name.into()),
        target_type: Some("docker_host".into()),
        connection: serde_json::json!({"host": "10.0.0.1", "port": 2375})
            .as_object()
            .cloned(),
        ..Default::default()
    }
    .into_new()
    .expect("a valid target")
}

async fn environment(db: &TestDb, tenant: TenantId, name: &str) -> Environment {
    EnvironmentRepository::create(&db.store, tenant, env_id(), named(name), now())
        .await
        .expect("create environment")
}

async fn group_in(db: &TestDb, tenant: TenantId, env: EnvironmentId, name: &str) -> TargetGroup {
    db.store
        .create_in_environment(tenant, env, group_id(), new_group(name), now())
        .await
        .expect("create target group")
}

fn requests(groups: &[TargetGroupId]) -> Vec<AssignmentRequest> {
    groups
        .iter()
        .map(|g| AssignmentRequest {
            target_group_id: *g,
            is_active: None,
        })
        .collect()
}

fn assigning(mode: AssignmentMode, groups: Vec<AssignmentRequest>) -> EnvironmentChanges {
    EnvironmentChanges {
        assignments: Some(
            AssignmentChange::parse(AssignmentInput {
                mode,
                target_groups: groups,
            })
            .expect("a valid assignment change"),
        ),
        ..Default::default()
    }
}

async fn assignments(db: &TestDb, tenant: TenantId, env: EnvironmentId) -> Vec<Assignment> {
    db.store
        .assignments_for(tenant, vec![env])
        .await
        .unwrap()
        .remove(&env)
        .unwrap_or_default()
}

async fn assigned_names(db: &TestDb, tenant: TenantId, env: EnvironmentId) -> Vec<String> {
    assignments(db, tenant, env)
        .await
        .into_iter()
        .map(|a| a.target_group_name.to_string())
        .collect()
}

async fn group_names(
    db: &TestDb,
    tenant: TenantId,
    env: Option<EnvironmentId>,
    page: Page,
) -> (Vec<String>, u64) {
    let filter = TargetGroupFilter {
        environment: env,
        ..Default::default()
    };
    let (groups, total) = TargetGroupRepository::list(&db.store, tenant, filter, page)
        .await
        .unwrap();
    (
        groups.into_iter().map(|g| g.name.to_string()).collect(),
        total,
    )
}

on_both_backends!(
    a_group_created_in_an_environment_reads_back_and_is_assigned_to_it,
    creating_a_group_bumps_the_environments_version,
    a_taken_group_name_is_a_conflict_that_names_it_and_nothing_is_stored,
    a_group_in_an_unknown_or_foreign_environment_is_not_found,
    another_tenants_group_is_not_found_not_listed_and_not_changed,
    groups_list_by_name_with_paging_for_the_tenant_or_one_environment,
    a_group_update_renames_bumps_the_version_and_checks_the_expected_one,
    of_concurrent_group_updates_from_the_same_version_exactly_one_wins,
    deleting_a_group_with_targets_is_a_conflict_that_names_them,
    deleting_a_group_removes_its_assignments_and_bumps_their_environments,
    a_new_environment_is_assigned_the_listed_groups_in_its_transaction,
    an_unknown_group_in_a_new_environment_names_its_index_and_stores_nothing,
    replace_assigns_exactly_the_listed_groups_and_add_keeps_the_rest,
    the_active_flag_is_set_where_given_and_kept_where_not,
    an_unknown_group_in_an_update_changes_neither_fields_nor_assignments,
    unassigning_a_group_with_targets_in_the_environment_is_a_conflict_that_changes_nothing,
    assignments_of_many_environments_load_at_once_ordered_by_group_name,
    deleting_an_environment_removes_its_assignments_and_targets_only,
);

async fn a_group_created_in_an_environment_reads_back_and_is_assigned_to_it(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let id = group_id();
    let new = NewTargetGroup {
        description: Some("the web tier".into()),
        ..new_group("web")
    };
    let created = db
        .store
        .create_in_environment(tenant, env.id, id, new, now())
        .await
        .unwrap();
    assert_eq!(
        (created.id, created.tenant, created.version),
        (id, tenant, 1)
    );
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, id)
            .await
            .unwrap(),
        created
    );
    let found = assignments(&db, tenant, env.id).await;
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].target_group_id,
            found[0].environment_id,
            found[0].is_active
        ),
        (id, env.id, true)
    );
    assert_eq!(found[0].target_group_name.as_str(), "web");
}

async fn creating_a_group_bumps_the_environments_version(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let later = now() + chrono::Duration::seconds(5);
    db.store
        .create_in_environment(tenant, env.id, group_id(), new_group("web"), later)
        .await
        .unwrap();
    let after = EnvironmentRepository::get(&db.store, tenant, env.id)
        .await
        .unwrap();
    assert_eq!((after.version, after.updated_at), (2, later));
}

async fn a_taken_group_name_is_a_conflict_that_names_it_and_nothing_is_stored(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    group_in(&db, tenant, dev.id, "web").await;
    let error = db
        .store
        .create_in_environment(tenant, prod.id, group_id(), new_group("web"), now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("a target group named `web` already exists".into())
    );
    assert!(assignments(&db, tenant, prod.id).await.is_empty());
    assert_eq!(
        EnvironmentRepository::get(&db.store, tenant, prod.id)
            .await
            .unwrap()
            .version,
        1,
        "the refused create did not touch the environment"
    );
    let theirs = environment(&db, other, "dev").await;
    group_in(&db, other, theirs.id, "web").await;
}

async fn a_group_in_an_unknown_or_foreign_environment_is_not_found(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let theirs = environment(&db, other, "dev").await;
    for env in [theirs.id, env_id()] {
        let error = db
            .store
            .create_in_environment(tenant, env, group_id(), new_group("web"), now())
            .await
            .unwrap_err();
        assert_eq!(error, StoreError::NotFound);
    }
    assert_eq!(
        TargetGroupRepository::list(
            &db.store,
            tenant,
            TargetGroupFilter {
                environment: Some(theirs.id),
                ..Default::default()
            },
            Page::default()
        )
        .await,
        Err(StoreError::NotFound)
    );
    assert_eq!(group_names(&db, tenant, None, Page::default()).await.1, 0);
    assert_eq!(
        EnvironmentRepository::get(&db.store, other, theirs.id)
            .await
            .unwrap()
            .version,
        1
    );
}

async fn another_tenants_group_is_not_found_not_listed_and_not_changed(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let theirs_env = environment(&db, other, "dev").await;
    let theirs = group_in(&db, other, theirs_env.id, "web").await;
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, theirs.id).await,
        Err(StoreError::NotFound)
    );
    let rename = TargetGroupChanges {
        name: Some(TargetGroupName::parse("mine").unwrap()),
        ..Default::default()
    };
    assert_eq!(
        TargetGroupRepository::update(&db.store, tenant, theirs.id, None, rename, now()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        TargetGroupRepository::delete(&db.store, tenant, theirs.id, None, now()).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        group_names(&db, tenant, None, Page::default()).await,
        (vec![], 0)
    );
    assert!(db
        .store
        .assignments_for(tenant, vec![theirs_env.id])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        TargetGroupRepository::get(&db.store, other, theirs.id)
            .await
            .unwrap(),
        theirs
    );
}

async fn groups_list_by_name_with_paging_for_the_tenant_or_one_environment(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    for name in ["web", "Api", "db"] {
        group_in(&db, tenant, dev.id, name).await;
    }
    let cache = group_in(&db, tenant, prod.id, "cache").await;
    let theirs = environment(&db, other, "dev").await;
    group_in(&db, other, theirs.id, "zzz").await;
    assert_eq!(
        group_names(&db, tenant, None, Page::default()).await,
        (
            vec!["Api".into(), "cache".into(), "db".into(), "web".into()],
            4
        ),
        "byte-wise by name, the tenant's only"
    );
    assert_eq!(
        group_names(&db, tenant, Some(dev.id), Page::default()).await,
        (vec!["Api".into(), "db".into(), "web".into()], 3)
    );
    assert_eq!(
        group_names(&db, tenant, None, Page::parse(Some(1), Some(2)).unwrap()).await,
        (vec!["cache".into(), "db".into()], 4)
    );
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Add, requests(&[cache.id])),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        group_names(&db, tenant, Some(prod.id), Page::default()).await,
        (vec!["cache".into()], 1),
        "assigning again is not a second assignment"
    );
}

async fn a_group_update_renames_bumps_the_version_and_checks_the_expected_one(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, env.id, "web").await;
    group_in(&db, tenant, env.id, "api").await;
    let later = now() + chrono::Duration::seconds(1);
    let changes = TargetGroupChanges {
        name: Some(TargetGroupName::parse("frontend").unwrap()),
        description: Some(Some("the web tier".into())),
        ..Default::default()
    };
    let updated =
        TargetGroupRepository::update(&db.store, tenant, web.id, Some(1), changes.clone(), later)
            .await
            .unwrap();
    assert_eq!(updated, web.apply(changes, later));
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, web.id)
            .await
            .unwrap(),
        updated
    );
    assert_eq!(
        assigned_names(&db, tenant, env.id).await,
        ["api", "frontend"]
    );
    let stale = TargetGroupRepository::update(
        &db.store,
        tenant,
        web.id,
        Some(1),
        TargetGroupChanges {
            description: Some(None),
            ..Default::default()
        },
        now(),
    )
    .await;
    assert_eq!(stale, Err(StoreError::VersionMismatch { current: 2 }));
    let clash = TargetGroupRepository::update(
        &db.store,
        tenant,
        web.id,
        None,
        TargetGroupChanges {
            name: Some(TargetGroupName::parse("api").unwrap()),
            ..Default::default()
        },
        now(),
    )
    .await;
    assert_eq!(
        clash,
        Err(StoreError::Conflict(
            "a target group named `api` already exists".into()
        ))
    );
}

async fn of_concurrent_group_updates_from_the_same_version_exactly_one_wins(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let group = group_in(&db, tenant, env.id, "web").await;
    let store = db.store.clone();
    let id = group.id;
    let results = race(RACERS, move |i| {
        let store = store.clone();
        async move {
            let changes = TargetGroupChanges {
                description: Some(Some(format!("racer {i}"))),
                ..Default::default()
            };
            TargetGroupRepository::update(&store, tenant, id, Some(1), changes, now()).await
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
}

async fn deleting_a_group_with_targets_is_a_conflict_that_names_them(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Add, requests(&[web.id])),
        now(),
    )
    .await
    .unwrap();
    for (name, env) in [("web-02", dev.id), ("web-01", prod.id)] {
        TargetRepository::create(
            &db.store,
            tenant,
            TargetId(Uuid::now_v7()),
            new_target(name, env, Some(web.id)),
            now(),
        )
        .await
        .unwrap();
    }
    let error = TargetGroupRepository::delete(&db.store, tenant, web.id, None, now())
        .await
        .unwrap_err();
    let StoreError::Conflict(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("`web`") && message.contains("`web-01`, `web-02`"),
        "{message}"
    );
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, web.id)
            .await
            .unwrap(),
        web
    );
    assert_eq!(assigned_names(&db, tenant, prod.id).await, ["web"]);
}

async fn deleting_a_group_removes_its_assignments_and_bumps_their_environments(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    let api = group_in(&db, tenant, prod.id, "api").await;
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Add, requests(&[web.id])),
        now(),
    )
    .await
    .unwrap();
    let versions = |env: Environment| env.version;
    let before = (
        versions(
            EnvironmentRepository::get(&db.store, tenant, dev.id)
                .await
                .unwrap(),
        ),
        versions(
            EnvironmentRepository::get(&db.store, tenant, prod.id)
                .await
                .unwrap(),
        ),
    );
    assert_eq!(
        TargetGroupRepository::delete(&db.store, tenant, web.id, Some(2), now()).await,
        Err(StoreError::VersionMismatch { current: 1 })
    );
    TargetGroupRepository::delete(&db.store, tenant, web.id, Some(1), now())
        .await
        .unwrap();
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, web.id).await,
        Err(StoreError::NotFound)
    );
    assert!(assignments(&db, tenant, dev.id).await.is_empty());
    assert_eq!(assigned_names(&db, tenant, prod.id).await, ["api"]);
    let after = (
        versions(
            EnvironmentRepository::get(&db.store, tenant, dev.id)
                .await
                .unwrap(),
        ),
        versions(
            EnvironmentRepository::get(&db.store, tenant, prod.id)
                .await
                .unwrap(),
        ),
    );
    assert_eq!(after, (before.0 + 1, before.1 + 1));
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, api.id)
            .await
            .unwrap(),
        api
    );
}

async fn a_new_environment_is_assigned_the_listed_groups_in_its_transaction(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    let api = group_in(&db, tenant, dev.id, "api").await;
    let new = NewEnvironment {
        target_groups: requests(&[web.id, api.id]),
        ..named("prod")
    };
    let prod = EnvironmentRepository::create(&db.store, tenant, env_id(), new, now())
        .await
        .unwrap();
    assert_eq!(prod.version, 1);
    assert_eq!(assigned_names(&db, tenant, prod.id).await, ["api", "web"]);
}

async fn an_unknown_group_in_a_new_environment_names_its_index_and_stores_nothing(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let dev = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    let theirs_env = environment(&db, other, "dev").await;
    let theirs = group_in(&db, other, theirs_env.id, "api").await;
    for stranger in [theirs.id, group_id()] {
        let new = NewEnvironment {
            target_groups: requests(&[web.id, stranger]),
            ..named("prod")
        };
        let error = EnvironmentRepository::create(&db.store, tenant, env_id(), new, now())
            .await
            .unwrap_err();
        assert_eq!(
            error,
            StoreError::MissingReference("targetGroups[1].targetGroupId".into())
        );
    }
    let (all, total) = EnvironmentRepository::list(
        &db.store,
        tenant,
        Default::default(),
        Default::default(),
        Page::default(),
    )
    .await
    .unwrap();
    assert_eq!((all.len(), total), (1, 1), "no environment was created");
}

async fn replace_assigns_exactly_the_listed_groups_and_add_keeps_the_rest(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, env.id, "web").await;
    let api = group_in(&db, tenant, env.id, "api").await;
    let db_group = group_in(&db, tenant, env.id, "db").await;
    let web_assignment = assignments(&db, tenant, env.id)
        .await
        .into_iter()
        .find(|a| a.target_group_id == web.id)
        .unwrap();

    let replaced = EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Replace, requests(&[web.id])),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        replaced.version,
        env.version + 4,
        "3 group creations and this update"
    );
    let found = assignments(&db, tenant, env.id).await;
    assert_eq!(
        found,
        vec![web_assignment.clone()],
        "the kept assignment keeps its id"
    );

    EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Add, requests(&[api.id, web.id])),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(assigned_names(&db, tenant, env.id).await, ["api", "web"]);

    EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Replace, requests(&[db_group.id])),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(assigned_names(&db, tenant, env.id).await, ["db"]);
    EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Replace, vec![]),
        now(),
    )
    .await
    .unwrap();
    assert!(assignments(&db, tenant, env.id).await.is_empty());
    assert_eq!(
        group_names(&db, tenant, None, Page::default()).await.1,
        3,
        "unassigned groups still exist"
    );
}

async fn the_active_flag_is_set_where_given_and_kept_where_not(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, env.id, "web").await;
    let api = group_in(&db, tenant, env.id, "api").await;
    let inactive = |group: TargetGroupId| AssignmentRequest {
        target_group_id: group,
        is_active: Some(false),
    };
    EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Add, vec![inactive(web.id)]),
        now(),
    )
    .await
    .unwrap();
    let flags = |found: Vec<Assignment>| -> HashMap<String, bool> {
        found
            .into_iter()
            .map(|a| (a.target_group_name.to_string(), a.is_active))
            .collect()
    };
    assert_eq!(
        flags(assignments(&db, tenant, env.id).await),
        HashMap::from([("web".into(), false), ("api".into(), true)])
    );
    EnvironmentRepository::update(
        &db.store,
        tenant,
        env.id,
        None,
        assigning(AssignmentMode::Replace, requests(&[web.id, api.id])),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(
        flags(assignments(&db, tenant, env.id).await),
        HashMap::from([("web".into(), false), ("api".into(), true)]),
        "a request without the flag keeps it"
    );
}

async fn an_unknown_group_in_an_update_changes_neither_fields_nor_assignments(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "dev").await;
    let web = group_in(&db, tenant, env.id, "web").await;
    let before = EnvironmentRepository::get(&db.store, tenant, env.id)
        .await
        .unwrap();
    let before_assignments = assignments(&db, tenant, env.id).await;
    let changes = EnvironmentChanges {
        display_name: Some("Development".into()),
        ..assigning(AssignmentMode::Replace, requests(&[group_id(), web.id]))
    };
    let error = EnvironmentRepository::update(&db.store, tenant, env.id, None, changes, now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::MissingReference("targetGroups[0].targetGroupId".into())
    );
    assert_eq!(
        EnvironmentRepository::get(&db.store, tenant, env.id)
            .await
            .unwrap(),
        before
    );
    assert_eq!(assignments(&db, tenant, env.id).await, before_assignments);
}

async fn unassigning_a_group_with_targets_in_the_environment_is_a_conflict_that_changes_nothing(
    db: TestDb,
) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    let api = group_in(&db, tenant, dev.id, "api").await;
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Add, requests(&[web.id])),
        now(),
    )
    .await
    .unwrap();
    TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target("web-01", dev.id, Some(web.id)),
        now(),
    )
    .await
    .unwrap();
    let before = EnvironmentRepository::get(&db.store, tenant, dev.id)
        .await
        .unwrap();
    let changes = EnvironmentChanges {
        display_name: Some("Development".into()),
        ..assigning(AssignmentMode::Replace, requests(&[api.id]))
    };
    let error = EnvironmentRepository::update(&db.store, tenant, dev.id, None, changes, now())
        .await
        .unwrap_err();
    let StoreError::Conflict(message) = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("`web`") && message.contains("`web-01`"),
        "{message}"
    );
    assert_eq!(
        EnvironmentRepository::get(&db.store, tenant, dev.id)
            .await
            .unwrap(),
        before
    );
    assert_eq!(assigned_names(&db, tenant, dev.id).await, ["api", "web"]);
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Replace, vec![]),
        now(),
    )
    .await
    .expect("the group's targets are in another environment");
    assert!(assignments(&db, tenant, prod.id).await.is_empty());
}

async fn assignments_of_many_environments_load_at_once_ordered_by_group_name(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let bare = environment(&db, tenant, "bare").await;
    group_in(&db, tenant, dev.id, "web").await;
    group_in(&db, tenant, dev.id, "api").await;
    group_in(&db, tenant, prod.id, "db").await;
    let theirs = environment(&db, other, "dev").await;
    group_in(&db, other, theirs.id, "theirs").await;
    let found = db
        .store
        .assignments_for(tenant, vec![dev.id, prod.id, bare.id, theirs.id])
        .await
        .unwrap();
    let names = |env: EnvironmentId| -> Vec<String> {
        found[&env]
            .iter()
            .map(|a| a.target_group_name.to_string())
            .collect()
    };
    assert_eq!(names(dev.id), ["api", "web"]);
    assert_eq!(names(prod.id), ["db"]);
    assert!(!found.contains_key(&bare.id));
    assert!(!found.contains_key(&theirs.id));
    assert!(db
        .store
        .assignments_for(tenant, vec![])
        .await
        .unwrap()
        .is_empty());
}

async fn deleting_an_environment_removes_its_assignments_and_targets_only(db: TestDb) {
    let tenant = tenant();
    let dev = environment(&db, tenant, "dev").await;
    let prod = environment(&db, tenant, "prod").await;
    let web = group_in(&db, tenant, dev.id, "web").await;
    EnvironmentRepository::update(
        &db.store,
        tenant,
        prod.id,
        None,
        assigning(AssignmentMode::Add, requests(&[web.id])),
        now(),
    )
    .await
    .unwrap();
    let doomed = TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target("web-01", dev.id, Some(web.id)),
        now(),
    )
    .await
    .unwrap();
    let loose = TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target("loose", dev.id, None),
        now(),
    )
    .await
    .unwrap();
    let kept = TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target("web-01", prod.id, Some(web.id)),
        now(),
    )
    .await
    .unwrap();
    EnvironmentRepository::delete(&db.store, tenant, dev.id, None)
        .await
        .unwrap();
    assert_eq!(
        TargetRepository::get(&db.store, tenant, doomed.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        TargetRepository::get(&db.store, tenant, loose.id).await,
        Err(StoreError::NotFound)
    );
    assert!(assignments(&db, tenant, dev.id).await.is_empty());
    assert_eq!(
        TargetRepository::get(&db.store, tenant, kept.id)
            .await
            .unwrap(),
        kept
    );
    assert_eq!(assigned_names(&db, tenant, prod.id).await, ["web"]);
    assert_eq!(
        TargetGroupRepository::get(&db.store, tenant, web.id)
            .await
            .unwrap(),
        web,
        "the group outlives the environment"
    );
}
