use crate::on_both_backends;
use crate::support::{problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    a_retry_with_the_same_key_and_body_gets_the_first_answer,
    the_same_key_with_another_body_is_422,
    a_failed_request_does_not_burn_its_key,
    keys_belong_to_their_tenant,
);

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
        post_with_key(&app, &token, "k", json!({"name": "Bad"})).await,
        400,
    )
    .await;
    problem(
        post_with_key(&app, &token, "k", json!({"name": "Bad"})).await,
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
