//! `FreezeWindowRepository`, and how freeze windows go with their environment.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use terrane_domain::{
    EnvironmentId, FreezeWindow, FreezeWindowId, FreezeWindowInput, NewFreezeWindow, TenantId,
    UserId,
};
use terrane_ports::{EnvironmentRepository, FreezeWindowRepository, StoreError};
use terrane_store::Backend;
use uuid::Uuid;

/// The store as the port under test (`Store` implements several ports with the same method
/// names).
fn repo(db: &TestDb) -> &dyn FreezeWindowRepository {
    &db.store
}

fn window_id() -> FreezeWindowId {
    FreezeWindowId(Uuid::now_v7())
}

fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

/// A valid window from `start` to `end` excepting `exceptions`.
fn window(start: DateTime<Utc>, end: DateTime<Utc>, exceptions: &[UserId]) -> NewFreezeWindow {
    let time = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::Micros, true);
    FreezeWindowInput {
        start: Some(time(start)),
        end: Some(time(end)),
        reason: Some(format!("freeze from {}", time(start))),
        exceptions: Some(exceptions.iter().map(UserId::to_string).collect()),
    }
    .into_new()
    .expect("a valid window")
}

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
    new: NewFreezeWindow,
) -> FreezeWindow {
    repo(db)
        .create(tenant, environment, window_id(), new, user(1), now())
        .await
        .expect("create freeze window")
}

fn ids(windows: &[FreezeWindow]) -> Vec<FreezeWindowId> {
    windows.iter().map(|w| w.id).collect()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// Rows of `freeze_windows` for `environment`, counted behind the store's back (the test
/// connection bypasses row-level security on PostgreSQL, as a superuser).
fn stored_windows(db: &TestDb, environment: EnvironmentId) -> i64 {
    let sql = "SELECT count(*) AS count FROM freeze_windows WHERE environment_id = ";
    match db.store.backend() {
        Backend::Postgres => {
            let mut conn = PgConnection::establish(&db.url).unwrap();
            diesel::sql_query(format!("{sql} $1::uuid"))
                .bind::<Text, _>(environment.to_string())
                .get_result::<Count>(&mut conn)
        }
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let mut conn = SqliteConnection::establish(path).unwrap();
            diesel::sql_query(format!("{sql} ?"))
                .bind::<Text, _>(environment.to_string())
                .get_result::<Count>(&mut conn)
        }
    }
    .unwrap()
    .count
}

on_both_backends!(
    a_created_window_reads_back_exactly_as_returned,
    a_window_of_an_unknown_or_foreign_environment_is_not_found,
    windows_list_by_start_and_the_active_filter_uses_start_inclusive_end_exclusive,
    a_window_is_found_and_deleted_only_through_its_own_environment_and_tenant,
    active_windows_of_many_environments_load_in_one_call,
    deleting_an_environment_deletes_its_windows,
    windows_created_while_their_environment_is_deleted_are_refused_or_deleted_with_it,
);

async fn a_created_window_reads_back_exactly_as_returned(db: TestDb) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let start = now() + Duration::days(1);
    let new = window(start, start + Duration::days(5), &[user(9), user(3)]);
    let id = window_id();
    let created = repo(&db)
        .create(tenant, env, id, new, user(4), now())
        .await
        .unwrap();
    assert_eq!(
        (created.id, created.tenant, created.environment_id),
        (id, tenant, env)
    );
    assert_eq!(created.created_by, user(4));
    assert_eq!(
        created.exceptions,
        [user(9), user(3)],
        "exceptions keep their order"
    );
    assert_eq!(repo(&db).get(tenant, env, id).await.unwrap(), created);
    assert_eq!(
        repo(&db).list(tenant, env, None, now()).await.unwrap(),
        vec![created]
    );
}

async fn a_window_of_an_unknown_or_foreign_environment_is_not_found(db: TestDb) {
    let (owner, stranger) = (tenant(), tenant());
    let env = environment(&db, owner, "prod").await;
    let new = || window(now(), now() + Duration::hours(1), &[]);
    for (tenant, environment) in [(stranger, env), (owner, env_id())] {
        let created = repo(&db)
            .create(tenant, environment, window_id(), new(), user(1), now())
            .await;
        assert_eq!(created.unwrap_err(), StoreError::NotFound);
        let listed = repo(&db).list(tenant, environment, None, now()).await;
        assert_eq!(listed.unwrap_err(), StoreError::NotFound);
    }
    assert!(repo(&db)
        .list(owner, env, None, now())
        .await
        .unwrap()
        .is_empty());
}

async fn windows_list_by_start_and_the_active_filter_uses_start_inclusive_end_exclusive(
    db: TestDb,
) {
    let tenant = tenant();
    let env = environment(&db, tenant, "prod").await;
    let other = environment(&db, tenant, "staging").await;
    let at = now();
    let hour = Duration::hours(1);
    // Created out of order; each named by when it runs relative to `at`.
    let future = freeze(&db, tenant, env, window(at + hour, at + hour * 2, &[])).await;
    let ended_now = freeze(&db, tenant, env, window(at - hour, at, &[])).await;
    let starts_now = freeze(&db, tenant, env, window(at, at + hour, &[])).await;
    let past = freeze(&db, tenant, env, window(at - hour * 3, at - hour * 2, &[])).await;
    let around = freeze(&db, tenant, env, window(at - hour * 2, at + hour * 3, &[])).await;
    freeze(&db, tenant, other, window(at - hour, at + hour, &[])).await;

    let all = repo(&db).list(tenant, env, None, at).await.unwrap();
    assert_eq!(
        ids(&all),
        ids(&[
            past.clone(),
            around.clone(),
            ended_now.clone(),
            starts_now.clone(),
            future.clone()
        ]),
        "ordered by start; other environments' windows left out"
    );
    let active = repo(&db).list(tenant, env, Some(true), at).await.unwrap();
    assert_eq!(ids(&active), ids(&[around, starts_now]));
    let inactive = repo(&db).list(tenant, env, Some(false), at).await.unwrap();
    assert_eq!(ids(&inactive), ids(&[past, ended_now, future]));
}

async fn a_window_is_found_and_deleted_only_through_its_own_environment_and_tenant(db: TestDb) {
    let (owner, stranger) = (tenant(), tenant());
    let env = environment(&db, owner, "prod").await;
    let sibling = environment(&db, owner, "staging").await;
    let theirs = environment(&db, stranger, "prod").await;
    let kept = freeze(
        &db,
        owner,
        env,
        window(now(), now() + Duration::hours(1), &[]),
    )
    .await;
    let doomed = freeze(
        &db,
        owner,
        env,
        window(now(), now() + Duration::hours(2), &[]),
    )
    .await;
    for (tenant, environment) in [(owner, sibling), (stranger, env), (stranger, theirs)] {
        assert_eq!(
            repo(&db)
                .get(tenant, environment, doomed.id)
                .await
                .unwrap_err(),
            StoreError::NotFound
        );
        assert_eq!(
            repo(&db)
                .delete(tenant, environment, doomed.id)
                .await
                .unwrap_err(),
            StoreError::NotFound
        );
    }
    repo(&db).delete(owner, env, doomed.id).await.unwrap();
    assert_eq!(
        repo(&db).get(owner, env, doomed.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        repo(&db).delete(owner, env, doomed.id).await.unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        repo(&db).list(owner, env, None, now()).await.unwrap(),
        vec![kept]
    );
}

async fn active_windows_of_many_environments_load_in_one_call(db: TestDb) {
    let (tenant, stranger) = (tenant(), tenant());
    let at = now();
    let hour = Duration::hours(1);
    let frozen = environment(&db, tenant, "prod").await;
    let thawed = environment(&db, tenant, "staging").await;
    let quiet = environment(&db, tenant, "dev").await;
    let theirs = environment(&db, stranger, "prod").await;
    let second = freeze(
        &db,
        tenant,
        frozen,
        window(at - hour, at + hour, &[user(7)]),
    )
    .await;
    let first = freeze(&db, tenant, frozen, window(at - hour * 2, at + hour, &[])).await;
    freeze(&db, tenant, frozen, window(at + hour, at + hour * 2, &[])).await;
    freeze(&db, tenant, thawed, window(at - hour * 2, at - hour, &[])).await;
    freeze(&db, stranger, theirs, window(at - hour, at + hour, &[])).await;

    let active = repo(&db)
        .active_for(tenant, vec![frozen, thawed, quiet, theirs, env_id()], at)
        .await
        .unwrap();
    assert_eq!(
        active.keys().collect::<Vec<_>>(),
        [&frozen],
        "only environments with an active window of this tenant"
    );
    assert_eq!(active[&frozen], vec![first, second], "ordered by start");
    assert!(repo(&db)
        .active_for(tenant, vec![], at)
        .await
        .unwrap()
        .is_empty());
}

async fn deleting_an_environment_deletes_its_windows(db: TestDb) {
    let tenant = tenant();
    let doomed = environment(&db, tenant, "review-1").await;
    let kept = environment(&db, tenant, "prod").await;
    for hours in 1..=3 {
        let start = now() + Duration::hours(hours);
        freeze(
            &db,
            tenant,
            doomed,
            window(start, start + Duration::hours(1), &[]),
        )
        .await;
    }
    freeze(
        &db,
        tenant,
        kept,
        window(now(), now() + Duration::hours(1), &[]),
    )
    .await;
    assert_eq!(stored_windows(&db, doomed), 3);

    EnvironmentRepository::delete(&db.store, tenant, doomed, None)
        .await
        .unwrap();
    assert_eq!(
        stored_windows(&db, doomed),
        0,
        "the rows are gone, not hidden"
    );
    assert_eq!(
        repo(&db)
            .list(tenant, doomed, None, now())
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    assert_eq!(
        stored_windows(&db, kept),
        1,
        "other environments keep theirs"
    );
}

async fn windows_created_while_their_environment_is_deleted_are_refused_or_deleted_with_it(
    db: TestDb,
) {
    let tenant = tenant();
    let env = environment(&db, tenant, "review-2").await;
    let store = db.store.clone();
    let results = race(RACERS, move |i| {
        let store = store.clone();
        async move {
            if i == RACERS / 2 {
                EnvironmentRepository::delete(&store, tenant, env, None)
                    .await
                    .map(|()| None)
            } else {
                let new = window(now(), now() + Duration::hours(1), &[]);
                FreezeWindowRepository::create(
                    &store,
                    tenant,
                    env,
                    window_id(),
                    new,
                    user(1),
                    now(),
                )
                .await
                .map(Some)
            }
        }
    })
    .await;
    for result in &results {
        assert!(
            matches!(result, Ok(_) | Err(StoreError::NotFound)),
            "a create either lands before the delete or finds no environment: {result:?}"
        );
    }
    assert!(results[RACERS / 2].is_ok(), "the delete succeeds");
    assert_eq!(stored_windows(&db, env), 0);
}
