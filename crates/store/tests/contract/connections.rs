//! The pool after the database closed its connections (a restart, an administrator ending
//! sessions): once one closed connection is found, no later unit of work is handed another.
//! PostgreSQL only: a SQLite file has no server to close anything.

use crate::harness::{env_id, named, now, race, tenant, TestDb, RACERS};
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use terrane_ports::{EnvironmentRepository, StoreError};
use terrane_store::testing::postgres_admin_url;

#[derive(QueryableByName)]
struct Ended {
    #[diesel(sql_type = BigInt)]
    sessions: i64,
}

/// Ends every session on the test database, as a restart of the server would.
fn end_sessions(database: &str) -> i64 {
    let mut admin = PgConnection::establish(&postgres_admin_url()).expect("admin connection");
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS sessions FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<Text, _>(database)
    .get_result::<Ended>(&mut admin)
    .expect("pg_terminate_backend")
    .sessions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_postgres_is_found_to_have_closed_a_connection_no_other_closed_one_is_handed_out() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let tenant = tenant();
    let env = EnvironmentRepository::create(&db.store, tenant, env_id(), named("dev"), now())
        .await
        .expect("create")
        .id;
    let read = |store: terrane_store::Store| async move {
        EnvironmentRepository::get(&store, tenant, env).await
    };
    // Opens the pool's connections: more readers at once than it has.
    for result in race(RACERS, |_| read(db.store.clone())).await {
        result.expect("a read before the restart");
    }
    let database = db.url.rsplit('/').next().unwrap().to_owned();
    let ended = end_sessions(&database);
    assert!(
        ended > 2,
        "the pool held several connections, ended {ended}"
    );

    // The first unit of work may be handed a closed connection: it fails as unavailable,
    // never as an internal error.
    match read(db.store.clone()).await {
        Ok(_) | Err(StoreError::Unavailable(_)) => {}
        Err(other) => panic!("a closed connection is unavailable, not {other:?}"),
    }
    // Every one after it, at once or not, gets a connection that answers: the pool still
    // holds closed ones, and hands out whichever it has.
    for result in race(RACERS, |_| read(db.store.clone())).await {
        result.expect("a read after the first closed connection was found");
    }
    for _ in 0..8 {
        read(db.store.clone()).await.expect("a read after recovery");
    }
}
