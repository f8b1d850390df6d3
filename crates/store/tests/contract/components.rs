//! `ComponentRepository`.

use crate::harness::{now, race, tenant, TestDb, RACERS};
use chrono::{Duration, TimeZone, Utc};
use terrane_domain::{
    Component, ComponentChanges, ComponentFilter, ComponentId, ComponentInput, ComponentKind,
    ComponentLifecycle, ComponentName, NewComponent, Page, TenantId,
};
use terrane_ports::{ComponentRepository, StoreError};
use uuid::Uuid;

fn component_id() -> ComponentId {
    ComponentId(Uuid::now_v7())
}

/// A valid new component: a service named `name` with defaults otherwise.
fn named(name: &str) -> NewComponent {
    ComponentInput {
        name: Some(name.to_owned()),
        kind: Some("service".into()),
        ..Default::default()
    }
    .into_new()
    .expect("a valid component")
}

async fn create(db: &TestDb, tenant: TenantId, new: NewComponent) -> Component {
    db.store
        .create(tenant, component_id(), new, now())
        .await
        .expect("create")
}

fn rename(name: &str) -> ComponentChanges {
    ComponentChanges {
        name: Some(ComponentName::parse(name).expect("a valid name")),
        ..Default::default()
    }
}

/// The names of a listing, in order, and the total.
async fn list_names(
    db: &TestDb,
    tenant: TenantId,
    filter: ComponentFilter,
    page: Page,
) -> (Vec<String>, u64) {
    let (components, total) = db.store.list(tenant, filter, page).await.expect("list");
    (
        components.into_iter().map(|c| c.name.to_string()).collect(),
        total,
    )
}

async fn names_matching(db: &TestDb, tenant: TenantId, filter: ComponentFilter) -> Vec<String> {
    list_names(db, tenant, filter, Page::default()).await.0
}

on_both_backends!(
    a_created_component_reads_back_exactly_as_returned,
    a_taken_name_is_a_conflict_that_names_it,
    the_same_name_in_another_tenant_is_fine,
    another_tenants_component_is_not_found_and_not_listed,
    every_filter_narrows_the_list,
    like_wildcards_in_a_name_filter_match_only_themselves,
    the_list_is_sorted_by_name_and_pages_while_the_total_counts_every_match,
    an_update_applies_the_changes_and_bumps_the_version,
    a_stale_expected_version_is_a_mismatch_naming_the_current_one,
    of_concurrent_updates_from_the_same_version_exactly_one_wins,
    a_delete_removes_the_row_and_checks_the_version_when_given,
);

async fn a_created_component_reads_back_exactly_as_returned(db: TestDb) {
    let tenant = tenant();
    let new = NewComponent {
        kind: ComponentKind::Worker,
        owner: Some("team-payments".into()),
        lifecycle: ComponentLifecycle::Deprecated,
        description: Some("settles card payments".into()),
        ..named("payments-worker")
    };
    let at = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
    let id = component_id();
    let created = db.store.create(tenant, id, new, at).await.unwrap();
    assert_eq!(
        (created.id, created.tenant, created.version),
        (id, tenant, 1)
    );
    assert_eq!(created.created_at.timestamp_subsec_nanos(), 123_456_000);
    assert_eq!(db.store.get(tenant, id).await.unwrap(), created);
    let (listed, total) = db
        .store
        .list(tenant, ComponentFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!((listed, total), (vec![created], 1));
}

async fn a_taken_name_is_a_conflict_that_names_it(db: TestDb) {
    let tenant = tenant();
    create(&db, tenant, named("api")).await;
    let error = db
        .store
        .create(tenant, component_id(), named("api"), now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("a component named `api` already exists".into())
    );
    let other = create(&db, tenant, named("web")).await;
    let error = db
        .store
        .update(tenant, other.id, None, rename("api"), now())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        StoreError::Conflict("a component named `api` already exists".into())
    );
    assert_eq!(
        db.store.get(tenant, other.id).await.unwrap(),
        other,
        "the failed rename changed nothing"
    );
}

async fn the_same_name_in_another_tenant_is_fine(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    create(&db, a, named("api")).await;
    assert_eq!(create(&db, b, named("api")).await.tenant, b);
}

async fn another_tenants_component_is_not_found_and_not_listed(db: TestDb) {
    let (owner, stranger) = (tenant(), tenant());
    let component = create(&db, owner, named("api")).await;
    let id = component.id;
    assert_eq!(
        db.store.get(stranger, id).await.unwrap_err(),
        StoreError::NotFound
    );
    for expected in [None, Some(1)] {
        assert_eq!(
            db.store
                .update(stranger, id, expected, rename("mine"), now())
                .await
                .unwrap_err(),
            StoreError::NotFound
        );
        assert_eq!(
            db.store.delete(stranger, id, expected).await.unwrap_err(),
            StoreError::NotFound
        );
    }
    assert_eq!(
        list_names(&db, stranger, ComponentFilter::default(), Page::default()).await,
        (vec![], 0)
    );
    assert_eq!(
        db.store.get(owner, id).await.unwrap(),
        component,
        "the owner's row is untouched"
    );
}

async fn every_filter_narrows_the_list(db: TestDb) {
    let tenant = tenant();
    let with = |name: &str, kind, owner: Option<&str>, lifecycle| NewComponent {
        kind,
        owner: owner.map(str::to_owned),
        lifecycle,
        ..named(name)
    };
    use ComponentKind::{Job, Service, Website};
    use ComponentLifecycle::{Deprecated, Experimental, Production};
    for new in [
        with("billing-api", Service, Some("Team-Billing"), Production),
        with("billing-web", Website, Some("team-billing"), Experimental),
        with("nightly-report", Job, Some("team-data"), Deprecated),
        with("api-gateway", Service, None, Production),
    ] {
        create(&db, tenant, new).await;
    }
    let filter = |f: fn(&mut ComponentFilter)| {
        let mut filter = ComponentFilter::default();
        f(&mut filter);
        filter
    };
    assert_eq!(
        names_matching(&db, tenant, filter(|f| f.name = Some("API".into()))).await,
        ["api-gateway", "billing-api"],
        "name contains, ignoring case"
    );
    assert_eq!(
        names_matching(&db, tenant, filter(|f| f.kind = Some(Service))).await,
        ["api-gateway", "billing-api"]
    );
    assert_eq!(
        names_matching(
            &db,
            tenant,
            filter(|f| f.owner = Some("TEAM-BILLING".into()))
        )
        .await,
        ["billing-api", "billing-web"],
        "owner equals, ignoring case"
    );
    assert!(
        names_matching(&db, tenant, filter(|f| f.owner = Some("team".into())))
            .await
            .is_empty(),
        "owner must equal, not contain"
    );
    assert_eq!(
        names_matching(&db, tenant, filter(|f| f.lifecycle = Some(Deprecated))).await,
        ["nightly-report"]
    );
    let combined = filter(|f| {
        f.name = Some("billing".into());
        f.kind = Some(Service);
        f.owner = Some("team-billing".into());
        f.lifecycle = Some(Production);
    });
    assert_eq!(
        names_matching(&db, tenant, combined).await,
        ["billing-api"],
        "filters combine with AND"
    );
}

async fn like_wildcards_in_a_name_filter_match_only_themselves(db: TestDb) {
    let tenant = tenant();
    for name in ["a1", "b2"] {
        create(&db, tenant, named(name)).await;
    }
    let containing = |text: &str| ComponentFilter {
        name: Some(text.into()),
        ..Default::default()
    };
    // Unescaped, `%` and `_` would match every name and `\` would be an error or nothing.
    for text in ["%", "_", "a%", "_2", r"\"] {
        assert!(
            names_matching(&db, tenant, containing(text))
                .await
                .is_empty(),
            "{text}"
        );
    }
    assert_eq!(names_matching(&db, tenant, containing("2")).await, ["b2"]);
}

async fn the_list_is_sorted_by_name_and_pages_while_the_total_counts_every_match(db: TestDb) {
    let tenant = tenant();
    for name in ["c3", "a-1", "b2", "a1", "d4"] {
        create(&db, tenant, named(name)).await;
    }
    let page = |skip, take| Page::parse(Some(skip), Some(take)).unwrap();
    let all = ComponentFilter::default;
    assert_eq!(
        list_names(&db, tenant, all(), Page::default()).await,
        (
            vec![
                "a-1".into(),
                "a1".into(),
                "b2".into(),
                "c3".into(),
                "d4".into()
            ],
            5
        ),
        "byte-wise, on both backends"
    );
    assert_eq!(
        list_names(&db, tenant, all(), page(1, 2)).await,
        (vec!["a1".into(), "b2".into()], 5)
    );
    assert_eq!(
        list_names(&db, tenant, all(), page(4, 2)).await,
        (vec!["d4".into()], 5)
    );
    assert_eq!(
        list_names(&db, tenant, all(), page(9, 2)).await,
        (vec![], 5)
    );
    let with_a = ComponentFilter {
        name: Some("a".into()),
        ..Default::default()
    };
    assert_eq!(
        list_names(&db, tenant, with_a, page(1, 1)).await,
        (vec!["a1".into()], 2)
    );
}

async fn an_update_applies_the_changes_and_bumps_the_version(db: TestDb) {
    let tenant = tenant();
    let created = create(
        &db,
        tenant,
        NewComponent {
            owner: Some("team-a".into()),
            description: Some("first".into()),
            ..named("api")
        },
    )
    .await;
    let later = now() + Duration::minutes(5);
    let changes = ComponentChanges {
        name: Some(ComponentName::parse("public-api").unwrap()),
        kind: Some(ComponentKind::Website),
        owner: Some(None),
        lifecycle: Some(ComponentLifecycle::Production),
        description: Some(Some("second".into())),
    };
    let updated = db
        .store
        .update(tenant, created.id, Some(1), changes.clone(), later)
        .await
        .unwrap();
    assert_eq!(updated, created.apply(changes, later));
    assert_eq!((updated.version, updated.owner.as_deref()), (2, None));
    assert_eq!(
        db.store.get(tenant, created.id).await.unwrap(),
        updated,
        "the returned row is the stored one"
    );
    let again = db
        .store
        .update(tenant, created.id, None, ComponentChanges::default(), later)
        .await
        .unwrap();
    assert_eq!(again.version, 3);
}

async fn a_stale_expected_version_is_a_mismatch_naming_the_current_one(db: TestDb) {
    let tenant = tenant();
    let component = create(&db, tenant, named("api")).await;
    db.store
        .update(tenant, component.id, Some(1), rename("api-1"), now())
        .await
        .unwrap();
    let error = db
        .store
        .update(tenant, component.id, Some(1), rename("api-2"), now())
        .await
        .unwrap_err();
    assert_eq!(error, StoreError::VersionMismatch { current: 2 });
    assert_eq!(
        db.store
            .get(tenant, component.id)
            .await
            .unwrap()
            .name
            .as_str(),
        "api-1"
    );
    let missing = db
        .store
        .update(tenant, component_id(), Some(1), rename("api-3"), now())
        .await;
    assert_eq!(missing.unwrap_err(), StoreError::NotFound);
}

async fn of_concurrent_updates_from_the_same_version_exactly_one_wins(db: TestDb) {
    let tenant = tenant();
    let id = create(&db, tenant, named("race")).await.id;
    let store = db.store.clone();
    let results = race(RACERS, move |i| {
        let store = store.clone();
        let changes = ComponentChanges {
            description: Some(Some(format!("writer {i}"))),
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

async fn a_delete_removes_the_row_and_checks_the_version_when_given(db: TestDb) {
    let tenant = tenant();
    let kept = create(&db, tenant, named("kept")).await;
    let doomed = create(&db, tenant, named("doomed")).await;
    db.store
        .update(tenant, doomed.id, None, rename("doomed-2"), now())
        .await
        .unwrap();
    assert_eq!(
        db.store
            .delete(tenant, doomed.id, Some(1))
            .await
            .unwrap_err(),
        StoreError::VersionMismatch { current: 2 }
    );
    assert!(
        db.store.get(tenant, doomed.id).await.is_ok(),
        "a refused delete keeps the row"
    );
    db.store.delete(tenant, doomed.id, Some(2)).await.unwrap();
    assert_eq!(
        db.store.get(tenant, doomed.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        db.store.delete(tenant, doomed.id, None).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        list_names(&db, tenant, ComponentFilter::default(), Page::default()).await,
        (vec!["kept".into()], 1)
    );
    assert_eq!(db.store.get(tenant, kept.id).await.unwrap(), kept);
}
