//! `EnvironmentRepository`.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use chrono::{Duration, TimeZone, Utc};
use terrane_domain::{
    EnvironmentChanges, EnvironmentConfig, EnvironmentFilter, EnvironmentName, EnvironmentSort,
    EnvironmentSortField, EnvironmentStatus, NewEnvironment, Page, PromotionPolicy, TenantId,
};
use terrane_ports::{EnvironmentRepository, StoreError};

/// Creates environments of these names in order, one second apart, without order indexes.
async fn create_all(db: &TestDb, tenant: TenantId, names: &[&str]) {
    let start = now();
    for (i, name) in names.iter().enumerate() {
        let at = start + Duration::seconds(i as i64);
        let new = named(name);
        db.store
            .create(tenant, env_id(), new, at)
            .await
            .expect("create");
    }
}

/// The names of a listing, in order.
async fn list_names(
    db: &TestDb,
    tenant: TenantId,
    filter: EnvironmentFilter,
    sort: EnvironmentSort,
    page: Page,
) -> (Vec<String>, u64) {
    let (environments, total) = db
        .store
        .list(tenant, filter, sort, page)
        .await
        .expect("list");
    (
        environments
            .into_iter()
            .map(|e| e.name.to_string())
            .collect(),
        total,
    )
}

/// All names matching `filter`, in the default order.
async fn names_matching(db: &TestDb, tenant: TenantId, filter: EnvironmentFilter) -> Vec<String> {
    list_names(
        db,
        tenant,
        filter,
        EnvironmentSort::default(),
        Page::default(),
    )
    .await
    .0
}

fn sort(field: EnvironmentSortField, descending: bool) -> EnvironmentSort {
    EnvironmentSort { field, descending }
}

fn rename(name: &str) -> EnvironmentChanges {
    EnvironmentChanges {
        name: Some(EnvironmentName::parse(name).expect("a valid name")),
        ..Default::default()
    }
}

on_both_backends!(
    a_created_environment_reads_back_exactly_as_returned,
    an_omitted_order_index_is_the_tenants_highest_plus_one,
    concurrent_creates_without_an_order_index_get_distinct_indexes,
    a_taken_name_is_a_conflict_that_names_it,
    the_same_name_in_another_tenant_is_fine,
    another_tenants_environment_is_not_found_and_not_listed,
    every_filter_narrows_the_list,
    like_wildcards_in_a_display_name_filter_match_only_themselves,
    every_sort_orders_both_ways_and_ties_break_by_name,
    names_sort_byte_wise_on_both_backends,
    equal_creation_times_fall_back_to_the_name,
    pages_skip_and_take_while_the_total_counts_every_match,
    an_update_applies_the_changes_and_bumps_the_version,
    a_stale_expected_version_is_a_mismatch_naming_the_current_one,
    of_concurrent_updates_from_the_same_version_exactly_one_wins,
    concurrent_updates_without_an_expected_version_all_apply_in_turn,
    a_delete_removes_the_row_and_checks_the_version_when_given,
);

async fn a_created_environment_reads_back_exactly_as_returned(db: TestDb) {
    let tenant = tenant();
    let new = NewEnvironment {
        description: Some("the last stop".into()),
        display_name: "Production (EU)".into(),
        order_index: Some(7),
        is_production: true,
        is_active: false,
        is_build_environment: true,
        config: EnvironmentConfig {
            deployment_timeout: 604_800,
            health_check_interval: 1,
        },
        required_approvals: 10,
        require_separation_of_duties: true,
        promotion_policy: PromotionPolicy::Sequential,
        status: EnvironmentStatus::Busy,
        ..named("prod-eu")
    };
    // Nanoseconds are cut to microseconds, which both backends keep.
    let at = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
    let id = env_id();
    let created = db.store.create(tenant, id, new, at).await.unwrap();
    assert_eq!(
        (created.id, created.tenant, created.version),
        (id, tenant, 1)
    );
    assert_eq!(created.created_at.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(created.updated_at, created.created_at);
    assert_eq!(db.store.get(tenant, id).await.unwrap(), created);
    let (listed, _) = db
        .store
        .list(
            tenant,
            EnvironmentFilter::default(),
            EnvironmentSort::default(),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(listed, vec![created]);
}

async fn an_omitted_order_index_is_the_tenants_highest_plus_one(db: TestDb) {
    let (tenant, other) = (tenant(), tenant());
    let first = db
        .store
        .create(tenant, env_id(), named("dev"), now())
        .await
        .unwrap();
    assert_eq!(first.order_index, 0);
    let pinned = NewEnvironment {
        order_index: Some(5),
        ..named("staging")
    };
    db.store
        .create(tenant, env_id(), pinned, now())
        .await
        .unwrap();
    let next = db
        .store
        .create(tenant, env_id(), named("prod"), now())
        .await
        .unwrap();
    assert_eq!(next.order_index, 6);
    let elsewhere = db
        .store
        .create(other, env_id(), named("dev"), now())
        .await
        .unwrap();
    assert_eq!(
        elsewhere.order_index, 0,
        "another tenant's indexes do not count"
    );
}

async fn concurrent_creates_without_an_order_index_get_distinct_indexes(db: TestDb) {
    let tenant = tenant();
    let store = db.store.clone();
    let results = race(RACERS, move |i| {
        let store = store.clone();
        async move {
            store
                .create(tenant, env_id(), named(&format!("env-{i}")), now())
                .await
        }
    })
    .await;
    let mut indexes: Vec<i32> = results
        .into_iter()
        .map(|r| r.unwrap().order_index)
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (0..RACERS as i32).collect::<Vec<_>>());
}

async fn a_taken_name_is_a_conflict_that_names_it(db: TestDb) {
    let tenant = tenant();
    db.store
        .create(tenant, env_id(), named("staging"), now())
        .await
        .unwrap();
    let error = db
        .store
        .create(tenant, env_id(), named("staging"), now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("an environment named `staging` already exists".into())
    );

    let other = db
        .store
        .create(tenant, env_id(), named("qa"), now())
        .await
        .unwrap();
    let error = db
        .store
        .update(tenant, other.id, None, rename("staging"), now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("an environment named `staging` already exists".into())
    );
    assert_eq!(
        db.store.get(tenant, other.id).await.unwrap(),
        other,
        "the failed rename changed nothing"
    );
}

async fn the_same_name_in_another_tenant_is_fine(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    db.store
        .create(a, env_id(), named("staging"), now())
        .await
        .unwrap();
    let theirs = db
        .store
        .create(b, env_id(), named("staging"), now())
        .await
        .unwrap();
    assert_eq!(theirs.tenant, b);
}

async fn another_tenants_environment_is_not_found_and_not_listed(db: TestDb) {
    let (owner, stranger) = (tenant(), tenant());
    let env = db
        .store
        .create(owner, env_id(), named("prod"), now())
        .await
        .unwrap();
    assert_eq!(
        db.store.get(stranger, env.id).await.unwrap_err(),
        StoreError::NotFound
    );
    let update = db
        .store
        .update(stranger, env.id, None, rename("mine"), now())
        .await;
    assert_eq!(update.unwrap_err(), StoreError::NotFound);
    assert_eq!(
        db.store
            .update(stranger, env.id, Some(1), rename("mine"), now())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.delete(stranger, env.id, None).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store
            .delete(stranger, env.id, Some(1))
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let listing = list_names(
        &db,
        stranger,
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        Page::default(),
    )
    .await;
    assert_eq!(listing, (vec![], 0));
    assert_eq!(
        db.store.get(owner, env.id).await.unwrap(),
        env,
        "the owner's row is untouched"
    );
}

async fn every_filter_narrows_the_list(db: TestDb) {
    let tenant = tenant();
    let input = |name: &str, display: &str| NewEnvironment {
        display_name: display.into(),
        ..named(name)
    };
    for new in [
        NewEnvironment {
            is_build_environment: true,
            ..input("build", "Build Farm")
        },
        NewEnvironment {
            status: EnvironmentStatus::Broken,
            ..input("dev", "Development")
        },
        NewEnvironment {
            order_index: Some(10),
            ..input("staging", "Staging Area")
        },
        NewEnvironment {
            is_active: false,
            ..input("legacy", "Old STAGING box")
        },
        input("prod", "Production"),
    ] {
        db.store.create(tenant, env_id(), new, now()).await.unwrap();
    }
    let by_name = EnvironmentFilter {
        name: Some("STAGING".into()),
        ..Default::default()
    };
    assert_eq!(
        names_matching(&db, tenant, by_name).await,
        ["staging"],
        "name equals, ignoring case"
    );
    let partial = EnvironmentFilter {
        name: Some("stag".into()),
        ..Default::default()
    };
    assert!(
        names_matching(&db, tenant, partial).await.is_empty(),
        "name must equal, not contain"
    );
    let by_display = EnvironmentFilter {
        display_name: Some("sTaGiNg".into()),
        ..Default::default()
    };
    assert_eq!(
        names_matching(&db, tenant, by_display).await,
        ["staging", "legacy"],
        "display name contains, ignoring case"
    );
    let inactive = EnvironmentFilter {
        is_active: Some(false),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, inactive).await, ["legacy"]);
    let build = EnvironmentFilter {
        is_build_environment: Some(true),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, build).await, ["build"]);
    let production = EnvironmentFilter {
        is_production: Some(true),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, production).await, ["prod"]);
    let not_production = EnvironmentFilter {
        is_production: Some(false),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, not_production).await.len(), 4);
    let tenth = EnvironmentFilter {
        order_index: Some(10),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, tenth).await, ["staging"]);
    let broken = EnvironmentFilter {
        status: Some(EnvironmentStatus::Broken),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, broken).await, ["dev"]);
    let all_of = EnvironmentFilter {
        display_name: Some("staging".into()),
        is_active: Some(true),
        status: Some(EnvironmentStatus::Ready),
        ..Default::default()
    };
    assert_eq!(
        names_matching(&db, tenant, all_of).await,
        ["staging"],
        "filters combine with AND"
    );
}

async fn like_wildcards_in_a_display_name_filter_match_only_themselves(db: TestDb) {
    let tenant = tenant();
    for (name, display) in [
        ("a", "100% done"),
        ("b", "100 percent"),
        ("c", "a_b"),
        ("d", "axb"),
        ("e", r"back\slash"),
    ] {
        let new = NewEnvironment {
            display_name: display.into(),
            ..named(name)
        };
        db.store.create(tenant, env_id(), new, now()).await.unwrap();
    }
    let containing = |text: &str| EnvironmentFilter {
        display_name: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(names_matching(&db, tenant, containing("%")).await, ["a"]);
    assert_eq!(names_matching(&db, tenant, containing("0%")).await, ["a"]);
    assert_eq!(names_matching(&db, tenant, containing("_")).await, ["c"]);
    assert_eq!(names_matching(&db, tenant, containing(r"\")).await, ["e"]);
    assert_eq!(names_matching(&db, tenant, containing(r"k\s")).await, ["e"]);
}

async fn every_sort_orders_both_ways_and_ties_break_by_name(db: TestDb) {
    let tenant = tenant();
    // Created in this order, one second apart; order indexes 0 to 3 except where pinned.
    create_all(&db, tenant, &["charlie", "alpha", "delta"]).await;
    let pinned = NewEnvironment {
        order_index: Some(1),
        ..named("bravo")
    };
    db.store
        .create(tenant, env_id(), pinned, now() + Duration::seconds(10))
        .await
        .unwrap();
    let sorted = |field, descending| {
        list_names(
            &db,
            tenant,
            EnvironmentFilter::default(),
            sort(field, descending),
            Page::default(),
        )
    };
    use EnvironmentSortField::{CreatedAt, Name, OrderIndex};
    assert_eq!(
        sorted(Name, false).await.0,
        ["alpha", "bravo", "charlie", "delta"]
    );
    assert_eq!(
        sorted(Name, true).await.0,
        ["delta", "charlie", "bravo", "alpha"]
    );
    // alpha and bravo share index 1: name breaks the tie, ascending either way.
    assert_eq!(
        sorted(OrderIndex, false).await.0,
        ["charlie", "alpha", "bravo", "delta"]
    );
    assert_eq!(
        sorted(OrderIndex, true).await.0,
        ["delta", "alpha", "bravo", "charlie"]
    );
    assert_eq!(
        sorted(CreatedAt, false).await.0,
        ["charlie", "alpha", "delta", "bravo"]
    );
    assert_eq!(
        sorted(CreatedAt, true).await.0,
        ["bravo", "delta", "alpha", "charlie"]
    );
    assert_eq!(EnvironmentSort::default(), sort(OrderIndex, false));
}

async fn names_sort_byte_wise_on_both_backends(db: TestDb) {
    // Locale collations ignore '-' and would put "a-c" between "ab" and "ad".
    let tenant = tenant();
    create_all(&db, tenant, &["ab", "a-c", "ad", "a1"]).await;
    let listing = list_names(
        &db,
        tenant,
        EnvironmentFilter::default(),
        sort(EnvironmentSortField::Name, false),
        Page::default(),
    );
    assert_eq!(listing.await.0, ["a-c", "a1", "ab", "ad"]);
}

async fn equal_creation_times_fall_back_to_the_name(db: TestDb) {
    let tenant = tenant();
    let at = now();
    let mut ids = Vec::new();
    for name in ["x", "y"] {
        // Same order index and same creation time: only the names differ.
        let new = NewEnvironment {
            order_index: Some(3),
            ..named(name)
        };
        ids.push(db.store.create(tenant, env_id(), new, at).await.unwrap().id);
    }
    let (listed, _) = db
        .store
        .list(
            tenant,
            EnvironmentFilter::default(),
            sort(EnvironmentSortField::CreatedAt, true),
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id).collect::<Vec<_>>(),
        ids,
        "then by name: x, y"
    );
}

async fn pages_skip_and_take_while_the_total_counts_every_match(db: TestDb) {
    let tenant = tenant();
    create_all(&db, tenant, &["e0", "e1", "e2", "e3", "e4"]).await;
    let page = |skip, take| Page::parse(Some(skip), Some(take)).unwrap();
    let all = EnvironmentFilter::default;
    let by_index = EnvironmentSort::default;
    assert_eq!(
        list_names(&db, tenant, all(), by_index(), page(0, 2)).await,
        (vec!["e0".into(), "e1".into()], 5)
    );
    assert_eq!(
        list_names(&db, tenant, all(), by_index(), page(2, 2)).await,
        (vec!["e2".into(), "e3".into()], 5)
    );
    assert_eq!(
        list_names(&db, tenant, all(), by_index(), page(4, 2)).await,
        (vec!["e4".into()], 5)
    );
    assert_eq!(
        list_names(&db, tenant, all(), by_index(), page(9, 2)).await,
        (vec![], 5)
    );
    let late = EnvironmentFilter {
        display_name: Some("e".into()),
        order_index: Some(4),
        ..Default::default()
    };
    assert_eq!(
        list_names(&db, tenant, late, by_index(), page(0, 1)).await,
        (vec!["e4".into()], 1)
    );
    let active = EnvironmentFilter {
        is_active: Some(true),
        ..Default::default()
    };
    assert_eq!(
        list_names(&db, tenant, active, by_index(), page(1, 3))
            .await
            .1,
        5
    );
}

async fn an_update_applies_the_changes_and_bumps_the_version(db: TestDb) {
    let tenant = tenant();
    let new = NewEnvironment {
        description: Some("temporary".into()),
        ..named("staging")
    };
    let created = db.store.create(tenant, env_id(), new, now()).await.unwrap();
    let later = now() + Duration::minutes(5);
    let changes = EnvironmentChanges {
        name: Some(EnvironmentName::parse("stage").unwrap()),
        display_name: Some("Stage".into()),
        description: Some(None),
        deployment_timeout: Some(60),
        required_approvals: Some(2),
        promotion_policy: Some(PromotionPolicy::Sequential),
        status: Some(EnvironmentStatus::Destroyed),
        ..Default::default()
    };
    let updated = db
        .store
        .update(tenant, created.id, Some(1), changes.clone(), later)
        .await
        .unwrap();
    assert_eq!(updated, created.apply(changes, later));
    assert_eq!((updated.version, updated.description.as_deref()), (2, None));
    assert_eq!(
        db.store.get(tenant, created.id).await.unwrap(),
        updated,
        "the returned row is the stored one"
    );
    let again = db
        .store
        .update(
            tenant,
            created.id,
            None,
            EnvironmentChanges::default(),
            later,
        )
        .await
        .unwrap();
    assert_eq!(
        again.version, 3,
        "without an expected version the update applies to the current one"
    );
}

async fn a_stale_expected_version_is_a_mismatch_naming_the_current_one(db: TestDb) {
    let tenant = tenant();
    let env = db
        .store
        .create(tenant, env_id(), named("qa"), now())
        .await
        .unwrap();
    db.store
        .update(tenant, env.id, Some(1), rename("qa-1"), now())
        .await
        .unwrap();
    let error = db
        .store
        .update(tenant, env.id, Some(1), rename("qa-2"), now())
        .await
        .unwrap_err();
    assert_eq!(error, StoreError::VersionMismatch { current: 2 });
    assert_eq!(
        db.store.get(tenant, env.id).await.unwrap().name.as_str(),
        "qa-1"
    );
    let missing = db
        .store
        .update(tenant, env_id(), Some(1), rename("qa-3"), now())
        .await;
    assert_eq!(missing.unwrap_err(), StoreError::NotFound);
}

async fn of_concurrent_updates_from_the_same_version_exactly_one_wins(db: TestDb) {
    let tenant = tenant();
    let id = db
        .store
        .create(tenant, env_id(), named("race"), now())
        .await
        .unwrap()
        .id;
    let store = db.store.clone();
    let results = race(RACERS, move |i| {
        let store = store.clone();
        let changes = EnvironmentChanges {
            display_name: Some(format!("writer {i}")),
            ..Default::default()
        };
        async move { store.update(tenant, id, Some(1), changes, now()).await }
    })
    .await;
    let winners: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for result in &results {
        if let Err(error) = result {
            assert_eq!(*error, StoreError::VersionMismatch { current: 2 });
        }
    }
    assert_eq!(&db.store.get(tenant, id).await.unwrap(), winners[0]);
}

async fn concurrent_updates_without_an_expected_version_all_apply_in_turn(db: TestDb) {
    let tenant = tenant();
    let id = db
        .store
        .create(tenant, env_id(), named("queue"), now())
        .await
        .unwrap()
        .id;
    let store = db.store.clone();
    let results = race(RACERS, move |i| {
        let store = store.clone();
        let changes = EnvironmentChanges {
            display_name: Some(format!("writer {i}")),
            ..Default::default()
        };
        async move { store.update(tenant, id, None, changes, now()).await }
    })
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let last = db.store.get(tenant, id).await.unwrap();
    assert_eq!(last.version, 1 + RACERS as i64);
}

async fn a_delete_removes_the_row_and_checks_the_version_when_given(db: TestDb) {
    let tenant = tenant();
    let kept = db
        .store
        .create(tenant, env_id(), named("kept"), now())
        .await
        .unwrap();
    let env = db
        .store
        .create(tenant, env_id(), named("doomed"), now())
        .await
        .unwrap();
    db.store
        .update(tenant, env.id, None, EnvironmentChanges::default(), now())
        .await
        .unwrap();
    assert_eq!(
        db.store.delete(tenant, env.id, Some(1)).await.unwrap_err(),
        StoreError::VersionMismatch { current: 2 }
    );
    assert!(
        db.store.get(tenant, env.id).await.is_ok(),
        "a refused delete keeps the row"
    );
    db.store.delete(tenant, env.id, Some(2)).await.unwrap();
    assert_eq!(
        db.store.get(tenant, env.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.delete(tenant, env.id, None).await.unwrap_err(),
        StoreError::NotFound
    );
    db.store.delete(tenant, kept.id, None).await.unwrap();
    assert_eq!(
        list_names(
            &db,
            tenant,
            EnvironmentFilter::default(),
            EnvironmentSort::default(),
            Page::default()
        )
        .await,
        (vec![], 0)
    );
}
