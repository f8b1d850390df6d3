//! Overload: with every database connection busy, a request waits at most
//! `--db-queue-timeout`, then gets a 503 with `Retry-After`; once the load is gone the server
//! serves again.

use crate::support::{problem, Db, TestApp};
use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

// PostgreSQL only: nothing outside the server can make its SQLite reads wait (in WAL mode a
// reader waits for no writer, and no other connection can take the file's exclusive lock
// while the server holds it open). The store's own tests saturate the queue on both backends.
#[tokio::test]
async fn with_every_connection_busy_requests_get_503_after_the_queue_timeout_then_are_served_again()
{
    saturated(Db::Postgres).await;
}

/// A lock on the environments table, taken outside the server: its reads of environments
/// wait for it, each holding a connection.
struct TableLock(diesel::PgConnection);

impl TableLock {
    fn hold(app: &TestApp) -> TableLock {
        let mut conn = diesel::PgConnection::establish(&app.database_url).unwrap();
        conn.batch_execute("BEGIN; LOCK TABLE environments IN ACCESS EXCLUSIVE MODE;")
            .unwrap();
        TableLock(conn)
    }

    fn release(mut self) {
        self.0.batch_execute("ROLLBACK").unwrap();
    }
}

async fn saturated(db: Db) {
    let Some(app) = TestApp::spawn_with(
        db,
        &[
            ("TERRANE_DB_POOL_SIZE", "1"),
            ("TERRANE_DB_QUEUE_TIMEOUT", "300ms"),
            ("TERRANE_WORKFLOW_POLL_MS", "60000"),
        ],
    )
    .await
    else {
        return;
    };
    let env = app.create_env(json!({"name": "busy"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    assert_eq!(app.get(&path).await.status(), 200);

    let lock = TableLock::hold(&app);
    // The slow request: it holds the only connection while it waits for the lock.
    let slow = app.request(Method::GET, &path, &app.admin()).send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let started = Instant::now();
    let queued: Vec<_> = (0..6)
        .map(|_| tokio::spawn(app.request(Method::GET, &path, &app.admin()).send()))
        .collect();
    for request in queued {
        let response = request.await.unwrap().unwrap();
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1"),
            "a 503 says when to retry"
        );
        let body = problem(response, 503).await;
        assert_eq!(body["type"], "/problems/overloaded", "{body}");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "the queue should hold a request about 300 ms, not {waited:?}"
    );

    lock.release();
    let slow = slow.await.unwrap().unwrap();
    assert_eq!(
        slow.status(),
        200,
        "the slow request finishes once the lock is gone"
    );
    for _ in 0..5 {
        assert_eq!(app.get(&path).await.status(), 200, "served again");
    }
}
