//! Numbers of environments, target groups and assignments: server-wide, kept, never reused;
//! and the lookups by number and by name ignoring case that clients addressing rows by
//! number need.

use crate::harness::{env_id, named, now, tenant, TestDb};
use crate::target_groups::{group_id, new_group};
use std::collections::HashSet;
use terrane_domain::{
    AssignmentRequest, EnvironmentChanges, EnvironmentFilter, EnvironmentNumber, EnvironmentSort,
    NewEnvironment, Page, TargetGroupFilter, TargetGroupNumber, TenantId,
};
use terrane_ports::{EnvironmentRepository, StoreError, TargetGroupRepository};

on_both_backends!(
    numbers_are_unique_across_kinds_and_tenants_and_kept_by_updates,
    a_deleted_rows_number_is_never_handed_out_again,
    environments_and_groups_are_found_by_number_only_in_their_tenant,
    names_keep_their_case_and_clash_ignoring_it,
    target_groups_filter_by_name_ignoring_case_and_display_name_containing_text,
    assignments_of_groups_carry_every_number,
    the_bulk_seed_numbers_its_environments_like_any_other,
);

async fn environment(
    db: &TestDb,
    tenant: TenantId,
    new: NewEnvironment,
) -> terrane_domain::Environment {
    EnvironmentRepository::create(&db.store, tenant, env_id(), new, now())
        .await
        .unwrap()
}

fn assigned(groups: &[terrane_domain::TargetGroupId]) -> NewEnvironment {
    NewEnvironment {
        target_groups: groups
            .iter()
            .map(|g| AssignmentRequest {
                target_group_id: *g,
                is_active: None,
            })
            .collect(),
        ..named("assigned")
    }
}

async fn numbers_are_unique_across_kinds_and_tenants_and_kept_by_updates(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let group = TargetGroupRepository::create(&db.store, a, group_id(), new_group("web"), now())
        .await
        .unwrap();
    let env = environment(&db, a, assigned(&[group.id])).await;
    let other = environment(&db, b, named("assigned")).await;
    let assignments = db.store.assignments_for(a, vec![env.id]).await.unwrap();
    let assignment = &assignments[&env.id][0];
    let numbers: HashSet<i64> = [
        group.number.get(),
        env.number.get(),
        other.number.get(),
        assignment.number.get(),
    ]
    .into();
    assert_eq!(numbers.len(), 4, "{numbers:?}");
    assert!(numbers.iter().all(|n| *n > 0));

    let changes = EnvironmentChanges {
        display_name: Some("Renamed".into()),
        ..Default::default()
    };
    let updated = EnvironmentRepository::update(&db.store, a, env.id, None, changes, now())
        .await
        .unwrap();
    assert_eq!(updated.number, env.number);
    assert_eq!(
        EnvironmentRepository::get(&db.store, a, env.id)
            .await
            .unwrap()
            .number,
        env.number
    );
}

async fn a_deleted_rows_number_is_never_handed_out_again(db: TestDb) {
    let tenant = tenant();
    let first = environment(&db, tenant, named("first")).await;
    EnvironmentRepository::delete(&db.store, tenant, first.id, None)
        .await
        .unwrap();
    let second = environment(&db, tenant, named("first")).await;
    assert!(second.number.get() > first.number.get());
    // A write that fails draws no number anyone sees, and the next one is still new.
    let clash = EnvironmentRepository::create(&db.store, tenant, env_id(), named("FIRST"), now())
        .await
        .unwrap_err();
    assert!(matches!(clash, StoreError::Conflict(_)), "{clash:?}");
    let third = environment(&db, tenant, named("third")).await;
    assert!(third.number.get() > second.number.get());
}

async fn environments_and_groups_are_found_by_number_only_in_their_tenant(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let env = environment(&db, mine, named("dev")).await;
    environment(&db, mine, named("prod")).await;
    let group = TargetGroupRepository::create(&db.store, mine, group_id(), new_group("web"), now())
        .await
        .unwrap();
    let by_number = |number: EnvironmentNumber| EnvironmentFilter {
        number: Some(number),
        ..Default::default()
    };
    let sort = EnvironmentSort::default();
    let (found, total) = EnvironmentRepository::list(
        &db.store,
        mine,
        by_number(env.number),
        sort,
        Page::default(),
    )
    .await
    .unwrap();
    assert_eq!((found, total), (vec![env.clone()], 1));
    let (found, _) = EnvironmentRepository::list(
        &db.store,
        theirs,
        by_number(env.number),
        sort,
        Page::default(),
    )
    .await
    .unwrap();
    assert!(found.is_empty());

    let groups = |numbers: Vec<TargetGroupNumber>| TargetGroupFilter {
        numbers,
        ..Default::default()
    };
    let (found, _) =
        TargetGroupRepository::list(&db.store, mine, groups(vec![group.number]), Page::default())
            .await
            .unwrap();
    assert_eq!(found, vec![group.clone()]);
    let (found, _) = TargetGroupRepository::list(
        &db.store,
        theirs,
        groups(vec![group.number]),
        Page::default(),
    )
    .await
    .unwrap();
    assert!(found.is_empty());
}

async fn names_keep_their_case_and_clash_ignoring_it(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, named("ENV1")).await;
    assert_eq!(env.name.as_str(), "ENV1");
    let clash = EnvironmentRepository::create(&db.store, tenant, env_id(), named("env1"), now())
        .await
        .unwrap_err();
    assert!(
        matches!(&clash, StoreError::Conflict(m) if m.contains("`env1`")),
        "{clash:?}"
    );
    let filter = EnvironmentFilter {
        name: Some("Env1".into()),
        ..Default::default()
    };
    let (found, _) = EnvironmentRepository::list(
        &db.store,
        tenant,
        filter,
        EnvironmentSort::default(),
        Page::default(),
    )
    .await
    .unwrap();
    assert_eq!(found, vec![env]);

    TargetGroupRepository::create(&db.store, tenant, group_id(), new_group("Web"), now())
        .await
        .unwrap();
    let clash =
        TargetGroupRepository::create(&db.store, tenant, group_id(), new_group("WEB"), now())
            .await
            .unwrap_err();
    assert!(
        matches!(&clash, StoreError::Conflict(m) if m.contains("target group")),
        "{clash:?}"
    );
}

async fn target_groups_filter_by_name_ignoring_case_and_display_name_containing_text(db: TestDb) {
    let tenant = tenant();
    for (name, display) in [("web", "Web Tier"), ("api", "API tier"), ("db", "Database")] {
        let new = terrane_domain::NewTargetGroup {
            display_name: display.into(),
            ..new_group(name)
        };
        TargetGroupRepository::create(&db.store, tenant, group_id(), new, now())
            .await
            .unwrap();
    }
    let names = |filter: TargetGroupFilter| {
        let store = db.store.clone();
        async move {
            let (groups, total) =
                TargetGroupRepository::list(&store, tenant, filter, Page::default())
                    .await
                    .unwrap();
            let names: Vec<String> = groups.into_iter().map(|g| g.name.to_string()).collect();
            (names, total)
        }
    };
    let tier = TargetGroupFilter {
        display_name: Some("TIER".into()),
        ..Default::default()
    };
    assert_eq!(names(tier).await, (vec!["api".into(), "web".into()], 2));
    let web = TargetGroupFilter {
        name: Some("WEB".into()),
        display_name: Some("tier".into()),
        ..Default::default()
    };
    assert_eq!(names(web).await, (vec!["web".into()], 1));
    let wildcard = TargetGroupFilter {
        display_name: Some("%".into()),
        ..Default::default()
    };
    assert_eq!(names(wildcard).await.1, 0, "% is matched literally");
}

async fn assignments_of_groups_carry_every_number(db: TestDb) {
    let tenant = tenant();
    let web = TargetGroupRepository::create(&db.store, tenant, group_id(), new_group("web"), now())
        .await
        .unwrap();
    let lonely =
        TargetGroupRepository::create(&db.store, tenant, group_id(), new_group("db"), now())
            .await
            .unwrap();
    let env = environment(&db, tenant, assigned(&[web.id])).await;
    let found = db
        .store
        .assignments_of_groups(tenant, vec![web.id, lonely.id])
        .await
        .unwrap();
    assert!(!found.contains_key(&lonely.id));
    let assignment = &found[&web.id][0];
    assert_eq!(
        (
            assignment.environment_id,
            assignment.environment_number,
            assignment.target_group_number
        ),
        (env.id, env.number, web.number)
    );
    // The same assignment, seen from its environment.
    let by_env = db
        .store
        .assignments_for(tenant, vec![env.id])
        .await
        .unwrap();
    assert_eq!(&by_env[&env.id][0], assignment);
}

async fn the_bulk_seed_numbers_its_environments_like_any_other(db: TestDb) {
    let tenant = tenant();
    let before = environment(&db, tenant, named("before")).await;
    let plan = terrane_store::seed::SeedPlan {
        tenant,
        components: 1,
        environments: 3,
        deployments: 3,
        now: now(),
        span: chrono::Duration::days(1),
    };
    db.store.seed(plan).await.unwrap();
    let after = environment(&db, tenant, named("after")).await;
    let (all, _) = EnvironmentRepository::list(
        &db.store,
        tenant,
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        Page::default(),
    )
    .await
    .unwrap();
    let numbers: HashSet<i64> = all.iter().map(|e| e.number.get()).collect();
    assert_eq!((all.len(), numbers.len()), (5, 5));
    let seeded = all
        .iter()
        .filter(|e| e.name.as_str().starts_with("env-"))
        .map(|e| e.number.get());
    assert!(seeded
        .clone()
        .all(|n| n > before.number.get() && n < after.number.get()));
}
