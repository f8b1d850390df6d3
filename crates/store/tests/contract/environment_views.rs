//! `EnvironmentRepository::view` and `view_page`: an environment with its assignments, its
//! freeze windows not yet ended and its current release, read at once; and how racing creates
//! share out order indexes.

use crate::harness::{env_id, named, now, race, tenant, TestDb};
use crate::target_groups::{group_id, new_group};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use terrane_domain::{
    EnvironmentChanges, EnvironmentFilter, EnvironmentId, EnvironmentSort, FreezeWindow,
    FreezeWindowId, FreezeWindowInput, NewEnvironment, Page, TenantId, UserId,
};
use terrane_ports::{
    EnvironmentRepository, FreezeWindowRepository, StoreError, TargetGroupRepository,
    TemplateRepository,
};
use uuid::Uuid;

on_both_backends!(
    a_view_holds_the_assignments_by_name_and_the_windows_not_yet_ended_by_start,
    a_view_of_an_unknown_or_foreign_environment_is_not_found,
    a_page_of_views_is_the_page_of_the_list_with_each_ones_parts_and_the_total,
    a_page_past_the_end_is_empty_and_still_counts_every_match,
    every_view_of_a_page_is_the_environments_own_view,
    fifty_racing_creates_without_an_order_index_take_the_next_fifty_indexes_once_each,
    a_refused_create_takes_no_order_index,
    an_update_raising_an_order_index_moves_the_next_one_past_it,
);

async fn environment(db: &TestDb, tenant: TenantId, name: &str) -> EnvironmentId {
    EnvironmentRepository::create(&db.store, tenant, env_id(), named(name), now())
        .await
        .expect("create environment")
        .id
}

async fn freeze(
    db: &TestDb,
    tenant: TenantId,
    environment: EnvironmentId,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> FreezeWindow {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let new = FreezeWindowInput {
        start: Some(time(start)),
        end: Some(time(end)),
        reason: Some(format!("freeze from {}", time(start))),
        exceptions: Some(vec![Uuid::from_u128(7).to_string()]),
    }
    .into_new()
    .expect("a valid window");
    let id = FreezeWindowId(Uuid::now_v7());
    let by = UserId(Uuid::from_u128(1));
    FreezeWindowRepository::create(&db.store, tenant, environment, id, new, by, now())
        .await
        .expect("create freeze window")
}

async fn a_view_holds_the_assignments_by_name_and_the_windows_not_yet_ended_by_start(db: TestDb) {
    let t = tenant();
    let env = environment(&db, t, "production").await;
    let elsewhere = environment(&db, t, "staging").await;
    for name in ["web", "api"] {
        db.store
            .create_in_environment(t, env, group_id(), new_group(name), now())
            .await
            .unwrap();
    }
    db.store
        .create_in_environment(t, elsewhere, group_id(), new_group("db"), now())
        .await
        .unwrap();
    let at = now();
    let hour = Duration::hours(1);
    freeze(&db, t, env, at - hour * 3, at - hour).await; // over
    let later = freeze(&db, t, env, at + hour, at + hour * 2).await;
    let current = freeze(&db, t, env, at - hour, at + hour).await;
    freeze(&db, t, elsewhere, at - hour, at + hour).await;

    let view = EnvironmentRepository::view(&db.store, t, env, at)
        .await
        .unwrap();
    assert_eq!(
        view.environment,
        EnvironmentRepository::get(&db.store, t, env).await.unwrap()
    );
    let names: Vec<&str> = view
        .assignments
        .iter()
        .map(|a| a.target_group_name.as_str())
        .collect();
    assert_eq!(names, ["api", "web"]);
    assert!(view.assignments.iter().all(|a| a.environment_id == env));
    assert_eq!(
        view.assignments,
        db.store.assignments_for(t, vec![env]).await.unwrap()[&env]
    );
    // Exactly as stored, every field, ordered by start; the ended one is left out.
    assert_eq!(view.freeze_windows, [current, later]);
    assert_eq!(view.current_release, None);
}

async fn a_view_of_an_unknown_or_foreign_environment_is_not_found(db: TestDb) {
    let t = tenant();
    let env = environment(&db, t, "production").await;
    for (tenant, id) in [(tenant(), env), (t, env_id())] {
        assert_eq!(
            EnvironmentRepository::view(&db.store, tenant, id, now()).await,
            Err(StoreError::NotFound)
        );
    }
}

async fn views(
    db: &TestDb,
    tenant: TenantId,
    page: Page,
) -> (Vec<terrane_ports::EnvironmentView>, u64) {
    EnvironmentRepository::view_page(
        &db.store,
        tenant,
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        page,
        false,
        now(),
    )
    .await
    .unwrap()
}

async fn a_page_of_views_is_the_page_of_the_list_with_each_ones_parts_and_the_total(db: TestDb) {
    let t = tenant();
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d", "e"] {
        ids.push(environment(&db, t, name).await);
    }
    environment(&db, tenant(), "other").await;
    let (b, c) = (ids[1], ids[2]);
    let window = freeze(
        &db,
        t,
        c,
        now() - Duration::hours(1),
        now() + Duration::hours(1),
    )
    .await;
    db.store
        .create_in_environment(t, b, group_id(), new_group("web"), now())
        .await
        .unwrap();

    let page = Page::parse(Some(1), Some(3)).unwrap();
    let (listed, total) = views(&db, t, page).await;
    let (expected, _) = EnvironmentRepository::list(
        &db.store,
        t,
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        page,
    )
    .await
    .unwrap();
    assert_eq!(total, 5);
    let environments: Vec<_> = listed.iter().map(|v| v.environment.clone()).collect();
    assert_eq!(environments, expected);
    assert_eq!(listed[0].assignments.len(), 1, "b has its group");
    assert_eq!(listed[1].freeze_windows, [window], "c has its window");
    assert!(listed[2].assignments.is_empty() && listed[2].freeze_windows.is_empty());
    assert!(listed.iter().all(|v| v.current_release.is_none()));
}

async fn a_page_past_the_end_is_empty_and_still_counts_every_match(db: TestDb) {
    let t = tenant();
    for name in ["a", "b", "c"] {
        environment(&db, t, name).await;
    }
    let (listed, total) = views(&db, t, Page::parse(Some(10), Some(5)).unwrap()).await;
    assert!(listed.is_empty());
    assert_eq!(total, 3);
    let (listed, total) = views(&db, tenant(), Page::default()).await;
    assert!(listed.is_empty());
    assert_eq!(total, 0);
}

/// A page reads the parts of all its environments in one statement, a single view those of
/// one environment in another: both answer the same, and nothing of another tenant's or
/// another environment's.
async fn every_view_of_a_page_is_the_environments_own_view(db: TestDb) {
    let t = tenant();
    let template = TemplateRepository::create(&db.store, t, crate::lifecycle::template(t))
        .await
        .unwrap();
    let (born, _) = crate::lifecycle::born(&db.store, t, &template, "born").await;
    let grouped = environment(&db, t, "grouped").await;
    let frozen = environment(&db, t, "frozen").await;
    let bare = environment(&db, t, "bare").await;
    for name in ["web", "api", "db"] {
        db.store
            .create_in_environment(t, grouped, group_id(), new_group(name), now())
            .await
            .unwrap();
    }
    let hour = Duration::hours(1);
    freeze(&db, t, frozen, now() - hour * 3, now() - hour).await; // over
    freeze(&db, t, frozen, now() + hour, now() + hour * 2).await;
    freeze(&db, t, frozen, now() - hour, now() + hour).await;
    // Another tenant's environment with every part.
    let other = tenant();
    let theirs = environment(&db, other, "grouped").await;
    db.store
        .create_in_environment(other, theirs, group_id(), new_group("web"), now())
        .await
        .unwrap();
    freeze(&db, other, theirs, now() - hour, now() + hour).await;

    let at = now();
    for with_release in [false, true] {
        let (page, total) = EnvironmentRepository::view_page(
            &db.store,
            t,
            EnvironmentFilter::default(),
            EnvironmentSort::default(),
            Page::default(),
            with_release,
            at,
        )
        .await
        .unwrap();
        assert_eq!(total, 4);
        let ids: Vec<EnvironmentId> = page.iter().map(|v| v.environment.id).collect();
        // Order index 0 for the one born from the template, then by creation.
        assert_eq!(ids, [born.id, grouped, frozen, bare]);
        for listed in page {
            let own = EnvironmentRepository::view(&db.store, t, listed.environment.id, at)
                .await
                .unwrap();
            // Without the releases a page leaves them out; a single view always has them.
            let own = terrane_ports::EnvironmentView {
                current_release: own.current_release.filter(|_| with_release),
                ..own
            };
            assert_eq!(listed, own);
        }
    }
    let (page, _) = views(&db, t, Page::default()).await;
    assert!(page[0].lifecycle.is_some(), "born from the template");
    assert_eq!(page[1].assignments.len(), 3);
    assert_eq!(page[2].freeze_windows.len(), 2, "the ended one is left out");
    assert!(page[3].assignments.is_empty() && page[3].lifecycle.is_none());
}

async fn fifty_racing_creates_without_an_order_index_take_the_next_fifty_indexes_once_each(
    db: TestDb,
) {
    const CREATES: usize = 50;
    let t = tenant();
    let pinned = NewEnvironment {
        order_index: Some(9),
        ..named("pinned")
    };
    EnvironmentRepository::create(&db.store, t, env_id(), pinned, now())
        .await
        .unwrap();
    let store = db.store.clone();
    let results = race(CREATES, move |i| {
        let store = store.clone();
        async move {
            EnvironmentRepository::create(&store, t, env_id(), named(&format!("env-{i}")), now())
                .await
        }
    })
    .await;
    let mut answered: Vec<i32> = results
        .into_iter()
        .map(|r| r.unwrap().order_index)
        .collect();
    answered.sort_unstable();
    let expected: Vec<i32> = (10..10 + CREATES as i32).collect();
    assert_eq!(answered, expected, "one winner per index, none skipped");
    // What is stored agrees with what was answered.
    let (stored, total) = EnvironmentRepository::list(
        &db.store,
        t,
        EnvironmentFilter::default(),
        EnvironmentSort::default(),
        Page::parse(None, Some(100)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(total, CREATES as u64 + 1);
    let mut stored: Vec<i32> = stored.iter().map(|e| e.order_index).collect();
    stored.retain(|&index| index != 9);
    assert_eq!(stored, expected);
}

async fn a_refused_create_takes_no_order_index(db: TestDb) {
    let t = tenant();
    environment(&db, t, "dev").await;
    let error = EnvironmentRepository::create(&db.store, t, env_id(), named("dev"), now())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let next = EnvironmentRepository::create(&db.store, t, env_id(), named("qa"), now())
        .await
        .unwrap();
    assert_eq!(next.order_index, 1);
}

async fn an_update_raising_an_order_index_moves_the_next_one_past_it(db: TestDb) {
    let t = tenant();
    let dev = environment(&db, t, "dev").await;
    let raise = EnvironmentChanges {
        order_index: Some(20),
        ..Default::default()
    };
    EnvironmentRepository::update(&db.store, t, dev, None, raise, now())
        .await
        .unwrap();
    let next = EnvironmentRepository::create(&db.store, t, env_id(), named("qa"), now())
        .await
        .unwrap();
    assert_eq!(next.order_index, 21);
}
