//! Releases: `/api/v1/releases`, and deploying one into an environment.

use crate::deployments::{component, id};
use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    a_release_is_recorded_listed_and_read_with_its_components,
    release_names_are_unique_per_organization,
    release_components_must_be_listed_once_and_exist_each_named_by_index,
    deploying_a_release_records_one_pending_deployment_per_component,
    deploying_a_release_is_all_or_nothing_and_names_what_is_missing,
    viewers_read_releases_but_neither_record_nor_deploy_them,
);

const DIGEST: &str = "sha256:0d5c5f1e3b9a8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d";

async fn post_release(app: &TestApp, token: &str, body: Value) -> Response {
    app.request(Method::POST, "/api/v1/releases", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn release(app: &TestApp, name: &str, components: Value) -> Value {
    let response = post_release(
        app,
        &app.admin(),
        json!({"name": name, "components": components}),
    )
    .await;
    assert_eq!(response.status(), 201, "recording a release");
    response.json().await.unwrap()
}

async fn deploy(app: &TestApp, token: &str, release: &Value, env: &str) -> Response {
    app.request(
        Method::POST,
        &format!("/api/v1/releases/{}/deploy", id(release)),
        token,
    )
    .json(&json!({"environmentId": env}))
    .send()
    .await
    .unwrap()
}

async fn a_release_is_recorded_listed_and_read_with_its_components(app: TestApp) {
    let api = component(&app, "api").await;
    let web = component(&app, "web").await;
    let response = post_release(
        &app,
        &app.token(&[Role::Deployer]),
        json!({"name": "2026.01-sprint-3", "components": [
            {"componentId": id(&api), "version": "v2.3.1", "digest": DIGEST},
            {"componentId": id(&web), "version": "v1.8.0"}
        ]}),
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/releases/{}", id(&created)));
    assert_eq!(created["name"], "2026.01-sprint-3");
    assert_eq!(created["createdBy"], app.user.to_string());
    let parts = created["components"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    let api_part = parts.iter().find(|p| p["componentId"] == id(&api)).unwrap();
    assert_eq!(api_part["version"], "v2.3.1");
    assert_eq!(api_part["digest"], DIGEST);

    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read, created);
    let newer = release(
        &app,
        "2026.02",
        json!([{"componentId": id(&api), "version": "v3"}]),
    )
    .await;
    let list: Value = app.get("/api/v1/releases").await.json().await.unwrap();
    assert_eq!(
        (
            list["total"].clone(),
            list["skip"].clone(),
            list["take"].clone()
        ),
        (json!(2), json!(0), json!(20))
    );
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["2026.02", "2026.01-sprint-3"]);
    let page: Value = app
        .get("/api/v1/releases?skip=1&take=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["data"][0]["id"], created["id"]);
    assert_eq!(page["data"][0]["components"].as_array().unwrap().len(), 2);
    problem(app.get("/api/v1/releases?take=101").await, 400).await;
    problem(
        app.get(&format!("/api/v1/releases/{}", Uuid::now_v7()))
            .await,
        404,
    )
    .await;
    let other = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let foreign = app
        .request(
            Method::GET,
            &format!("/api/v1/releases/{}", id(&newer)),
            &other,
        )
        .send()
        .await
        .unwrap();
    problem(foreign, 404).await;
}

async fn release_names_are_unique_per_organization(app: TestApp) {
    let api = component(&app, "api").await;
    release(
        &app,
        "r1",
        json!([{"componentId": id(&api), "version": "v1"}]),
    )
    .await;
    let taken = problem(
        post_release(
            &app,
            &app.admin(),
            json!({"name": "r1", "components": [{"componentId": id(&api), "version": "v2"}]}),
        )
        .await,
        409,
    )
    .await;
    assert!(taken["detail"].as_str().unwrap().contains("r1"), "{taken}");
    // Another organization has its own names (and its own components).
    let tenant = Uuid::now_v7();
    let other = app.token_for(tenant, Uuid::now_v7(), &[Role::Admin]);
    let their_component: Value = app
        .request(Method::POST, "/api/v1/catalog/components", &other)
        .json(&json!({"name": "api", "kind": "service"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let theirs = post_release(
        &app,
        &other,
        json!({"name": "r1", "components": [{"componentId": id(&their_component), "version": "v1"}]}),
    )
    .await;
    assert_eq!(theirs.status(), 201);
}

async fn release_components_must_be_listed_once_and_exist_each_named_by_index(app: TestApp) {
    let api = component(&app, "api").await;
    let empty = problem(
        post_release(&app, &app.admin(), json!({"name": "r", "components": []})).await,
        400,
    )
    .await;
    assert_eq!(fields(&empty), ["components"]);
    let twice = problem(
        post_release(
            &app,
            &app.admin(),
            json!({"name": "r", "components": [
                {"componentId": id(&api), "version": "v1"},
                {"componentId": id(&api), "version": "v2", "digest": "sha256:nope"}
            ]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(
        fields(&twice),
        ["components[1].componentId", "components[1].digest"]
    );
    let unknown = problem(
        post_release(
            &app,
            &app.admin(),
            json!({"name": "r", "components": [
                {"componentId": id(&api), "version": "v1"},
                {"componentId": Uuid::now_v7(), "version": "v2"}
            ]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&unknown), ["components[1].componentId"]);
    let list: Value = app.get("/api/v1/releases").await.json().await.unwrap();
    assert_eq!(list["total"], 0, "nothing is stored from a refused release");
}

async fn deploying_a_release_records_one_pending_deployment_per_component(app: TestApp) {
    let api = component(&app, "api").await;
    let web = component(&app, "web").await;
    let env = app.create_env(json!({"name": "staging"})).await;
    let r = release(
        &app,
        "2026.01",
        json!([
            {"componentId": id(&api), "version": "v2.3.1", "digest": DIGEST},
            {"componentId": id(&web), "version": "v1.8.0"}
        ]),
    )
    .await;
    let response = deploy(&app, &app.token(&[Role::Deployer]), &r, &id(&env)).await;
    assert_eq!(response.status(), 201);
    let created: Vec<Value> = response.json().await.unwrap();
    assert_eq!(created.len(), 2);
    for d in &created {
        assert_eq!(d["status"], "pending");
        assert_eq!(d["releaseId"], r["id"]);
        assert_eq!(d["environmentId"], env["id"]);
    }
    let api_deployment = created
        .iter()
        .find(|d| d["componentId"] == api["id"])
        .unwrap();
    assert_eq!(api_deployment["version"], "v2.3.1");
    assert_eq!(api_deployment["digest"], DIGEST);
    let listed: Value = app
        .get(&format!("/api/v1/deployments?releaseId={}", id(&r)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 2);
}

async fn deploying_a_release_is_all_or_nothing_and_names_what_is_missing(app: TestApp) {
    let api = component(&app, "api").await;
    let inactive = app
        .create_env(json!({"name": "old", "isActive": false}))
        .await;
    let r = release(
        &app,
        "r1",
        json!([{"componentId": id(&api), "version": "v1"}]),
    )
    .await;
    problem(deploy(&app, &app.admin(), &r, &id(&inactive)).await, 409).await;
    let unknown_env = problem(
        deploy(&app, &app.admin(), &r, &Uuid::now_v7().to_string()).await,
        400,
    )
    .await;
    assert_eq!(fields(&unknown_env), ["environmentId"], "{unknown_env}");
    let ghost = json!({"id": Uuid::now_v7().to_string()});
    let unknown_release = problem(
        deploy(&app, &app.admin(), &ghost, &id(&inactive)).await,
        404,
    )
    .await;
    assert!(
        unknown_release["detail"]
            .as_str()
            .unwrap()
            .contains("release"),
        "{unknown_release}"
    );
    let missing = app
        .request(
            Method::POST,
            &format!("/api/v1/releases/{}/deploy", id(&r)),
            &app.admin(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(missing, 400).await), ["environmentId"]);
    let list: Value = app.get("/api/v1/deployments").await.json().await.unwrap();
    assert_eq!(list["total"], 0);
}

async fn viewers_read_releases_but_neither_record_nor_deploy_them(app: TestApp) {
    let api = component(&app, "api").await;
    let env = app.create_env(json!({"name": "dev"})).await;
    let r = release(
        &app,
        "r1",
        json!([{"componentId": id(&api), "version": "v1"}]),
    )
    .await;
    let viewer = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Viewer]);
    problem(
        post_release(
            &app,
            &viewer,
            json!({"name": "r2", "components": [{"componentId": id(&api), "version": "v1"}]}),
        )
        .await,
        403,
    )
    .await;
    problem(deploy(&app, &viewer, &r, &id(&env)).await, 403).await;
    let read = app
        .request(
            Method::GET,
            &format!("/api/v1/releases/{}", id(&r)),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
}
