//! Drift over HTTP: the version sticker (from the ledger) against the latest inventory (from
//! the target's agent).

use crate::on_both_backends;
use crate::support::{problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    drift_names_a_wrong_digest_an_absent_and_an_undeployed_component,
    an_environment_shows_one_drift_line_per_target,
    drift_of_another_organization_is_not_found,
);

/// A valid image digest of 64 `c`s.
fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn created(app: &TestApp, path: &str, body: Value) -> Value {
    let response = app.send_json(Method::POST, path, body).await;
    assert_eq!(response.status(), 201, "POST {path}");
    response.json().await.unwrap()
}

/// Records a succeeded deployment of `component` with `digest` into `env`.
async fn deployed(app: &TestApp, component: &Value, env: &Value, image: String) {
    let deployment = created(
        app,
        "/api/v1/deployments",
        json!({"componentId": id(component), "environmentId": id(env), "version": "1.0.0", "digest": image}),
    )
    .await;
    for status in ["in_progress", "succeeded"] {
        let response = app
            .send_json(
                Method::PATCH,
                &format!("/api/v1/deployments/{}", id(&deployment)),
                json!({"status": status}),
            )
            .await;
        assert_eq!(response.status(), 200, "moving to {status}");
    }
}

async fn docker_target(app: &TestApp, env: &Value, name: &str) -> Value {
    created(
        app,
        "/api/v1/targets",
        json!({"environmentId": id(env), "name": name, "targetType": "docker_host",
               "connection": {"host": "127.0.0.1", "port": 2375}}),
    )
    .await
}

async fn report(app: &TestApp, agent: &Value, target: &Value, components: Value) {
    let response = app
        .request(
            Method::POST,
            &format!("/api/v1/targets/{}/inventory", id(target)),
            agent["token"].as_str().unwrap(),
        )
        .json(&json!({"collectedAt": "2026-01-10T14:23:40Z", "components": components}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "reporting an inventory");
}

async fn drift(app: &TestApp, target: &Value) -> Value {
    let response = app
        .request(
            Method::GET,
            &format!("/api/v1/targets/{}/drift", id(target)),
            &app.token(&[Role::Viewer]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// An environment `prod` running `api` (sha256:abc) and `web` (sha256:web), and a target
/// in it served by an agent.
async fn setup(app: &TestApp) -> (Value, Value, Value) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let api = created(
        app,
        "/api/v1/catalog/components",
        json!({"name": "api", "kind": "service"}),
    )
    .await;
    let web = created(
        app,
        "/api/v1/catalog/components",
        json!({"name": "web", "kind": "service"}),
    )
    .await;
    deployed(app, &api, &env, digest('a')).await;
    deployed(app, &web, &env, digest('b')).await;
    let target = docker_target(app, &env, "prod-web-01").await;
    let agent = created(
        app,
        "/api/v1/agents",
        json!({"name": "edge", "targetIds": [id(&target)]}),
    )
    .await;
    (env, target, agent)
}

async fn drift_names_a_wrong_digest_an_absent_and_an_undeployed_component(app: TestApp) {
    let (_, target, agent) = setup(&app).await;
    let before = drift(&app, &target).await;
    assert_eq!(before["hasDrift"], Value::Null);
    assert!(before["reason"].as_str().unwrap().contains("no inventory"));
    assert_eq!(before["actual"], Value::Null);
    assert_eq!(
        before["expected"]["components"].as_array().unwrap().len(),
        2
    );
    assert_eq!(before["differences"], json!([]));

    report(
        &app,
        &agent,
        &target,
        json!([
            {"componentName": "api", "version": "1.0.0", "digest": digest('d')},
            {"componentName": "redis", "version": "7", "digest": digest('c')}
        ]),
    )
    .await;
    let after = drift(&app, &target).await;
    assert_eq!(after["hasDrift"], true);
    assert!(after.get("reason").is_none(), "{after}");
    assert_eq!(
        after["differences"],
        json!([
            {"component": "api", "expected": digest('a'), "actual": digest('d')},
            {"component": "web", "expected": digest('b'), "actual": null},
            {"component": "redis", "expected": null, "actual": digest('c')}
        ])
    );
    assert_eq!(after["actual"]["collectedAt"], "2026-01-10T14:23:40Z");

    let api_id = after["expected"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["componentName"] == "api")
        .unwrap()["componentId"]
        .clone();
    report(
        &app,
        &agent,
        &target,
        json!([
            {"componentId": api_id, "version": "1.0.0", "digest": digest('a')},
            {"componentName": "web", "version": "1.0.0", "digest": digest('b')}
        ]),
    )
    .await;
    let clean = drift(&app, &target).await;
    assert_eq!(clean["hasDrift"], false, "{clean}");
    assert_eq!(clean["differences"], json!([]));
}

async fn an_environment_shows_one_drift_line_per_target(app: TestApp) {
    let (env, target, agent) = setup(&app).await;
    let quiet = docker_target(&app, &env, "prod-web-02").await;
    report(
        &app,
        &agent,
        &target,
        json!([{"componentName": "api", "version": "1.0.0", "digest": digest('a')}]),
    )
    .await;
    let response = app
        .get(&format!("/api/v1/environments/{}/drift", id(&env)))
        .await;
    assert_eq!(response.status(), 200);
    let lines: Value = response.json().await.unwrap();
    assert_eq!(
        lines,
        json!([
            {"targetId": target["id"], "name": "prod-web-01", "hasDrift": true, "differenceCount": 1},
            {"targetId": quiet["id"], "name": "prod-web-02", "hasDrift": null, "differenceCount": 0}
        ])
    );
    let empty = app.create_env(json!({"name": "dev"})).await;
    let none: Value = app
        .get(&format!("/api/v1/environments/{}/drift", id(&empty)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none, json!([]));
}

async fn drift_of_another_organization_is_not_found(app: TestApp) {
    let (env, target, _) = setup(&app).await;
    let stranger = app.token_for(Uuid::now_v7(), app.user, &[Role::Admin]);
    for path in [
        format!("/api/v1/targets/{}/drift", id(&target)),
        format!("/api/v1/environments/{}/drift", id(&env)),
    ] {
        let response = app
            .request(Method::GET, &path, &stranger)
            .send()
            .await
            .unwrap();
        problem(response, 404).await;
    }
    problem(
        app.get(&format!("/api/v1/targets/{}/drift", Uuid::now_v7()))
            .await,
        404,
    )
    .await;
}
