use crate::on_both_backends;
use crate::support::{problem, Db, TestApp};
use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

on_both_backends!(
    a_retry_with_the_same_key_and_body_gets_the_first_answer,
    the_same_key_with_another_body_is_422,
    a_failed_request_does_not_burn_its_key,
    keys_belong_to_their_tenant,
);

crate::on_both_databases!(purge: the_server_purges_answers_past_replaying);

async fn post_with_key(app: &TestApp, token: &str, key: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/environments", token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn a_retry_with_the_same_key_and_body_gets_the_first_answer(app: TestApp) {
    let token = app.admin();
    let first = post_with_key(&app, &token, "ci-run-1", json!({"name": "dev"})).await;
    assert_eq!(first.status(), 201);
    let first_location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();
    let retry = post_with_key(&app, &token, "ci-run-1", json!({"name": "dev"})).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], first_location);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.headers()["etag"], "\"1\"");
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    let all = app.get("/api/v1/environments").await;
    assert_eq!(
        all.headers()["x-total-count"],
        "1",
        "one environment, not two"
    );
}

async fn the_same_key_with_another_body_is_422(app: TestApp) {
    let token = app.admin();
    assert_eq!(
        post_with_key(&app, &token, "k", json!({"name": "dev"}))
            .await
            .status(),
        201
    );
    let reused = post_with_key(&app, &token, "k", json!({"name": "other"})).await;
    let body = problem(reused, 422).await;
    assert_eq!(body["type"], "/problems/idempotency-key-reused");
}

async fn a_failed_request_does_not_burn_its_key(app: TestApp) {
    let token = app.admin();
    problem(
        post_with_key(&app, &token, "k", json!({"name": "Bad name"})).await,
        400,
    )
    .await;
    problem(
        post_with_key(&app, &token, "k", json!({"name": "Bad name"})).await,
        400,
    )
    .await;
    assert_eq!(
        post_with_key(&app, &token, "k2", json!({"name": "dev"}))
            .await
            .status(),
        201
    );
}

async fn keys_belong_to_their_tenant(app: TestApp) {
    let token = app.admin();
    assert_eq!(
        post_with_key(&app, &token, "shared", json!({"name": "dev"}))
            .await
            .status(),
        201
    );
    let other = app.token_for(
        uuid::Uuid::now_v7(),
        uuid::Uuid::now_v7(),
        &[terrane_domain::Role::Admin],
    );
    let response = post_with_key(&app, &other, "shared", json!({"name": "dev"})).await;
    assert_eq!(response.status(), 201);
    assert!(response.headers().get("idempotent-replayed").is_none());
}

#[derive(QueryableByName)]
struct Key {
    #[diesel(sql_type = Text)]
    key: String,
}

/// Runs `sql` on the app's database behind the server's back, answering the keys it selects.
fn keys_after(app: &TestApp, sql: &str) -> Vec<String> {
    let select = "SELECT key FROM idempotency_keys ORDER BY key";
    let rows: Vec<Key> = match app.database_url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut conn = SqliteConnection::establish(path).unwrap();
            conn.batch_execute(&format!("PRAGMA busy_timeout = 10000; {sql}"))
                .unwrap();
            diesel::sql_query(select).load(&mut conn).unwrap()
        }
        None => {
            let mut conn = PgConnection::establish(&app.database_url).unwrap();
            conn.batch_execute(sql).unwrap();
            diesel::sql_query(select).load(&mut conn).unwrap()
        }
    };
    rows.into_iter().map(|row| row.key).collect()
}

/// A server purging every second deletes the answer a day old, keeps the fresh one, and
/// that one still replays.
async fn the_server_purges_answers_past_replaying(db: Db) {
    let Some(app) =
        TestApp::spawn_with(db, &[("TERRANE_IDEMPOTENCY_PURGE_INTERVAL_SECS", "1")]).await
    else {
        return;
    };
    let token = app.admin();
    for (key, name) in [("ci-old", "dev"), ("ci-new", "qa")] {
        let created = post_with_key(&app, &token, key, json!({ "name": name })).await;
        assert_eq!(created.status(), 201);
    }
    let past = (chrono::Utc::now() - chrono::Duration::hours(25))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let aged = format!("UPDATE idempotency_keys SET created_at = '{past}' WHERE key = 'ci-old'");
    assert_eq!(keys_after(&app, &aged), ["ci-new", "ci-old"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while keys_after(&app, "SELECT 1") != ["ci-new"] {
        assert!(Instant::now() < deadline, "the old answer was never purged");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let retry = post_with_key(&app, &token, "ci-new", json!({"name": "qa"})).await;
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
}
