//! The bounded queue for connections: with every connection busy, a unit of work waits at
//! most the queue timeout and fails with `Overloaded`; once one is free, work runs again.

use crate::testing::PgTestDatabase;
use crate::Store;
use std::time::{Duration, Instant};
use terrane_ports::StoreError;

async fn a_full_pool_refuses_after_the_queue_timeout_and_serves_again(store: Store) {
    let store = store.with_queue_timeout(Duration::from_millis(200));
    let holder = store.clone();
    let held = tokio::spawn(async move {
        holder
            .blocking(|_| {
                std::thread::sleep(Duration::from_millis(800));
                Ok(())
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    let refused = store.blocking(|_| Ok(())).await;
    let waited = started.elapsed();
    assert!(
        matches!(refused, Err(StoreError::Overloaded(_))),
        "{refused:?}"
    );
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_millis(700),
        "waited {waited:?} for a queue timeout of 200 ms"
    );

    held.await.unwrap().unwrap();
    store.blocking(|_| Ok(())).await.unwrap();
}

#[tokio::test]
async fn on_sqlite_a_full_pool_refuses_after_the_queue_timeout_and_serves_again() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("queue.db").display());
    a_full_pool_refuses_after_the_queue_timeout_and_serves_again(Store::connect(&url, 1).unwrap())
        .await;
}

#[tokio::test]
async fn on_postgres_a_full_pool_refuses_after_the_queue_timeout_and_serves_again() {
    let Some(db) = PgTestDatabase::create() else {
        return;
    };
    a_full_pool_refuses_after_the_queue_timeout_and_serves_again(
        Store::connect(&db.url, 1).unwrap(),
    )
    .await;
}
