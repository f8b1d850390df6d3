//! What is deployed where: `/deployments/matrix`, `/deployments/latest`, `currentRelease` on
//! environments and `/targets/{id}/sticker`, fed through the ledger's own API.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    the_matrix_keys_each_components_latest_success_by_environment_name,
    a_rolled_back_deployment_no_longer_counts_and_the_one_before_shows,
    latest_answers_the_components_latest_success_in_each_environment,
    latest_needs_a_component_id_of_the_organization,
    one_environment_and_the_include_state_list_carry_the_current_release,
    the_sticker_shows_the_release_its_components_and_who_deployed_last,
    the_sticker_is_a_404_problem_until_something_succeeds_there,
    viewers_read_the_views_and_nobody_reads_them_without_a_token,
);

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn component(app: &TestApp, name: &str) -> Value {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/catalog/components",
            json!({"name": name, "kind": "service"}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating a component");
    response.json().await.unwrap()
}

async fn environment(app: &TestApp, name: &str, order: i64) -> Value {
    app.create_env(json!({"name": name, "orderIndex": order}))
        .await
}

async fn release(app: &TestApp, name: &str, components: Value) -> Value {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/releases",
            json!({"name": name, "components": components}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating a release");
    response.json().await.unwrap()
}

async fn transition(app: &TestApp, deployment: &Value, status: &str) -> Value {
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/deployments/{}", id(deployment)),
            json!({"status": status}),
        )
        .await;
    assert_eq!(response.status(), 200, "moving the deployment to {status}");
    response.json().await.unwrap()
}

/// Records a deployment with `body` and takes it through in_progress to succeeded.
async fn succeed(app: &TestApp, body: Value) -> Value {
    let response = app
        .send_json(Method::POST, "/api/v1/deployments", body)
        .await;
    assert_eq!(response.status(), 201, "recording a deployment");
    let deployment: Value = response.json().await.unwrap();
    transition(app, &deployment, "in_progress").await;
    transition(app, &deployment, "succeeded").await
}

async fn deploy(app: &TestApp, component: &Value, env: &Value, version: &str) -> Value {
    succeed(
        app,
        json!({"componentId": id(component), "environmentId": id(env), "version": version}),
    )
    .await
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn matrix(app: &TestApp) -> Value {
    get_ok(app, "/api/v1/deployments/matrix").await
}

async fn the_matrix_keys_each_components_latest_success_by_environment_name(app: TestApp) {
    let web = component(&app, "web").await;
    let api = component(&app, "api").await;
    let dev = environment(&app, "development", 1).await;
    let staging = environment(&app, "staging", 2).await;
    let prod = environment(&app, "production", 3).await;
    deploy(&app, &api, &dev, "v2.3.0").await;
    deploy(&app, &api, &dev, "v2.4.0").await;
    deploy(&app, &api, &staging, "v2.3.1").await;
    deploy(&app, &api, &prod, "v2.3.0").await;
    let web_dev = deploy(&app, &web, &dev, "v1.0.0").await;
    // Recorded but never finished: not in the matrix.
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/deployments",
            json!({"componentId": id(&web), "environmentId": id(&prod), "version": "v9"}),
        )
        .await;
    assert_eq!(response.status(), 201);

    let response = app.get("/api/v1/deployments/matrix").await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    // serde_json sorts keys when parsing, so the order is checked on the text.
    let at = |key: &str| text.find(&format!("\"{key}\":{{")).expect(key);
    assert!(
        at("development") < at("staging") && at("staging") < at("production"),
        "keyed by name in the environments' order: {text}"
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    let rows = body.as_array().expect("a bare array");
    assert_eq!(rows.len(), 2, "{body}");
    assert_eq!(rows[0]["componentId"], api["id"]);
    assert_eq!(rows[0]["componentName"], "api");
    assert_eq!(rows[1]["componentName"], "web");
    let cells = rows[0]["environments"].as_object().unwrap();
    assert_eq!(cells.len(), 3);
    assert_eq!(cells["development"]["version"], "v2.4.0");
    assert_eq!(cells["staging"]["version"], "v2.3.1");
    assert_eq!(cells["production"]["version"], "v2.3.0");
    assert_eq!(
        rows[1]["environments"],
        json!({"development": {"version": "v1.0.0", "deployedAt": web_dev["finishedAt"]}})
    );
}

async fn a_rolled_back_deployment_no_longer_counts_and_the_one_before_shows(app: TestApp) {
    let api = component(&app, "api").await;
    let prod = environment(&app, "production", 1).await;
    let before = deploy(&app, &api, &prod, "v1").await;
    let bad = deploy(&app, &api, &prod, "v2").await;
    assert_eq!(
        matrix(&app).await[0]["environments"]["production"]["version"],
        "v2"
    );

    transition(&app, &bad, "rolled_back").await;
    let body = matrix(&app).await;
    assert_eq!(
        body[0]["environments"]["production"],
        json!({"version": "v1", "deployedAt": before["finishedAt"]}),
        "{body}"
    );
    let latest = get_ok(
        &app,
        &format!("/api/v1/deployments/latest?componentId={}", id(&api)),
    )
    .await;
    assert_eq!(latest.as_array().unwrap().len(), 1);
    assert_eq!(latest[0]["id"], before["id"]);

    // Rolling back the only success leaves nothing.
    transition(&app, &before, "rolled_back").await;
    assert_eq!(matrix(&app).await[0]["environments"], json!({}));
}

async fn latest_answers_the_components_latest_success_in_each_environment(app: TestApp) {
    let api = component(&app, "api").await;
    let other = component(&app, "other").await;
    let prod = environment(&app, "production", 2).await;
    let dev = environment(&app, "development", 1).await;
    environment(&app, "untouched", 3).await;
    deploy(&app, &api, &dev, "v1").await;
    let in_dev = succeed(
        &app,
        json!({"componentId": id(&api), "environmentId": id(&dev), "version": "v2",
               "deployedBy": "ci-bot", "digest": format!("sha256:{}", "a".repeat(64))}),
    )
    .await;
    let in_prod = deploy(&app, &api, &prod, "v1").await;
    deploy(&app, &other, &prod, "v7").await;

    let latest = get_ok(
        &app,
        &format!("/api/v1/deployments/latest?componentId={}", id(&api)),
    )
    .await;
    let latest = latest.as_array().expect("a bare array");
    assert_eq!(latest.len(), 2);
    assert_eq!(latest[0]["id"], in_dev["id"]);
    assert_eq!(latest[0]["componentId"], api["id"]);
    assert_eq!(latest[0]["environmentId"], dev["id"]);
    assert_eq!(latest[0]["environmentName"], "development");
    assert_eq!(latest[0]["version"], "v2");
    assert_eq!(latest[0]["status"], "succeeded");
    assert_eq!(latest[0]["deployedBy"], "ci-bot");
    assert_eq!(latest[0]["digest"], in_dev["digest"]);
    assert_eq!(latest[0]["deployedAt"], in_dev["finishedAt"]);
    assert_eq!(latest[1]["id"], in_prod["id"]);
    assert_eq!(latest[1]["environmentName"], "production");
}

async fn latest_needs_a_component_id_of_the_organization(app: TestApp) {
    let missing = problem(app.get("/api/v1/deployments/latest").await, 400).await;
    assert_eq!(fields(&missing), vec!["componentId"]);
    let bad = problem(
        app.get("/api/v1/deployments/latest?componentId=api").await,
        400,
    )
    .await;
    assert_eq!(fields(&bad), vec!["componentId"]);
    let unknown = format!("/api/v1/deployments/latest?componentId={}", Uuid::now_v7());
    problem(app.get(&unknown).await, 404).await;

    let api = component(&app, "api").await;
    let path = format!("/api/v1/deployments/latest?componentId={}", id(&api));
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let response = app
        .request(Method::GET, &path, &stranger)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    assert_eq!(get_ok(&app, &path).await, json!([]));
}

async fn one_environment_and_the_include_state_list_carry_the_current_release(app: TestApp) {
    let api = component(&app, "api").await;
    let web = component(&app, "web").await;
    let dev = environment(&app, "development", 1).await;
    let prod = environment(&app, "production", 2).await;
    let digest = format!("sha256:{}", "b".repeat(64));
    let r1 = release(
        &app,
        "myapp-v2.3.1",
        json!([{"componentId": id(&api), "version": "v2.3.1", "digest": digest}]),
    )
    .await;
    let r2 = release(
        &app,
        "myapp-v2.4.0",
        json!([{"componentId": id(&web), "version": "v2.4.0", "digest": digest}]),
    )
    .await;
    let released = |component: &Value, release: &Value, version: &str| {
        json!({"componentId": id(component), "environmentId": id(&dev), "version": version,
               "releaseId": id(release)})
    };
    succeed(&app, released(&api, &r1, "v2.3.1")).await;
    let last = succeed(&app, released(&web, &r2, "v2.4.0")).await;
    // Newer, but outside any release.
    deploy(&app, &api, &dev, "v2.3.2-hotfix").await;

    let expected =
        json!({"id": r2["id"], "name": "myapp-v2.4.0", "deployedAt": last["finishedAt"]});
    let one = get_ok(&app, &format!("/api/v1/environments/{}", id(&dev))).await;
    assert_eq!(one["currentRelease"], expected);
    let none = get_ok(&app, &format!("/api/v1/environments/{}", id(&prod))).await;
    assert_eq!(none["currentRelease"], Value::Null);
    assert!(none.as_object().unwrap().contains_key("currentRelease"));

    let list = get_ok(&app, "/api/v1/environments?includeState=true").await;
    assert_eq!(list[0]["name"], "development");
    assert_eq!(list[0]["currentRelease"], expected);
    assert!(list[1].as_object().unwrap().contains_key("currentRelease"));
    assert_eq!(list[1]["currentRelease"], Value::Null);
    let plain = get_ok(&app, "/api/v1/environments").await;
    assert!(!plain[0].as_object().unwrap().contains_key("currentRelease"));
}

async fn the_sticker_shows_the_release_its_components_and_who_deployed_last(app: TestApp) {
    let api = component(&app, "api").await;
    let web = component(&app, "web").await;
    let prod = environment(&app, "production", 1).await;
    let target = create_target(&app, &prod).await;
    let (api_digest, web_digest) = (
        format!("sha256:{}", "a".repeat(64)),
        format!("sha256:{}", "c".repeat(64)),
    );
    let r = release(
        &app,
        "myapp-v2.3.1",
        json!([
            {"componentId": id(&web), "version": "v2", "digest": web_digest},
            {"componentId": id(&api), "version": "v2", "digest": api_digest}
        ]),
    )
    .await;
    let body = |component: &Value, digest: &str, by: &str| {
        json!({"componentId": id(component), "environmentId": id(&prod), "version": "v2",
               "releaseId": id(&r), "digest": digest, "deployedBy": by})
    };
    succeed(&app, body(&web, &web_digest, "alice")).await;
    let last = succeed(&app, body(&api, &api_digest, "bob")).await;

    let sticker = get_ok(&app, &format!("/api/v1/targets/{}/sticker", id(&target))).await;
    assert_eq!(
        sticker,
        json!({
            "releaseId": r["id"],
            "releaseName": "myapp-v2.3.1",
            "components": [
                {"componentId": api["id"], "componentName": "api", "digest": api_digest},
                {"componentId": web["id"], "componentName": "web", "digest": web_digest}
            ],
            "deployedAt": last["finishedAt"],
            "deployedBy": "bob"
        })
    );

    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let response = app
        .request(
            Method::GET,
            &format!("/api/v1/targets/{}/sticker", id(&target)),
            &stranger,
        )
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

async fn create_target(app: &TestApp, env: &Value) -> Value {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/targets",
            json!({"environmentId": id(env), "name": "web-1", "targetType": "docker_host",
                   "connection": {"host": "10.0.0.1", "port": 2375}}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating a target");
    response.json().await.unwrap()
}

async fn the_sticker_is_a_404_problem_until_something_succeeds_there(app: TestApp) {
    let api = component(&app, "api").await;
    let prod = environment(&app, "production", 1).await;
    let target = create_target(&app, &prod).await;
    let path = format!("/api/v1/targets/{}/sticker", id(&target));
    let empty = problem(app.get(&path).await, 404).await;
    assert_eq!(
        empty["detail"],
        "nothing was ever deployed to this target's environment"
    );

    let deployment = deploy(&app, &api, &prod, "v1").await;
    let sticker = get_ok(&app, &path).await;
    assert_eq!(sticker["releaseId"], Value::Null);
    assert_eq!(sticker["components"][0]["componentName"], "api");
    assert_eq!(sticker["deployedAt"], deployment["finishedAt"]);

    transition(&app, &deployment, "rolled_back").await;
    problem(app.get(&path).await, 404).await;
    let unknown = format!("/api/v1/targets/{}/sticker", Uuid::now_v7());
    problem(app.get(&unknown).await, 404).await;
}

async fn viewers_read_the_views_and_nobody_reads_them_without_a_token(app: TestApp) {
    let api = component(&app, "api").await;
    let viewer = app.token(&[Role::Viewer]);
    for path in [
        "/api/v1/deployments/matrix".to_owned(),
        format!("/api/v1/deployments/latest?componentId={}", id(&api)),
    ] {
        let response = app
            .request(Method::GET, &path, &viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let anonymous = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        problem(anonymous, 401).await;
    }
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Viewer]);
    let response = app
        .request(Method::GET, "/api/v1/deployments/matrix", &stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
}
