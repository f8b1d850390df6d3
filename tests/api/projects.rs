//! `/api/v1/projects`: named groups of environments.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    an_admin_creates_a_project_that_every_role_reads_with_its_number,
    bad_fields_are_named_and_only_admins_create,
    another_organizations_project_is_not_found,
    an_environments_project_is_set_when_it_is_created_and_never_changed,
);

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.send_json(Method::POST, "/api/v1/projects", body).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let project: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/api/v1/projects/{}", project["id"].as_str().unwrap())
    );
    project
}

async fn an_admin_creates_a_project_that_every_role_reads_with_its_number(app: TestApp) {
    let project = create(
        &app,
        json!({"name": "Web shop", "description": "The shop", "projectManager": "ann"}),
    )
    .await;
    assert_eq!(project["name"], "Web shop");
    assert_eq!(project["creator"], app.user.to_string());
    assert!(project["number"].as_i64().unwrap() > 0);
    let viewer = app.token(&[Role::Viewer]);
    let path = format!("/api/v1/projects/{}", project["id"].as_str().unwrap());
    let read: Value = app
        .request(Method::GET, &path, &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read, project);
    let page: Value = app
        .request(Method::GET, "/api/v1/projects?take=1", &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        page,
        json!({"data": [project], "total": 1, "skip": 0, "take": 1})
    );
}

async fn bad_fields_are_named_and_only_admins_create(app: TestApp) {
    let bad = app
        .send_json(Method::POST, "/api/v1/projects", json!({"name": "a/b"}))
        .await;
    assert_eq!(fields(&problem(bad, 400).await), ["name", "projectManager"]);
    let deployer = app.token(&[Role::Deployer]);
    let refused = app
        .request(Method::POST, "/api/v1/projects", &deployer)
        .json(&json!({"name": "Shop", "projectManager": "ann"}))
        .send()
        .await
        .unwrap();
    problem(refused, 403).await;
    let page: Value = app.get("/api/v1/projects").await.json().await.unwrap();
    assert_eq!(page["total"], 0, "nothing written");
}

async fn another_organizations_project_is_not_found(app: TestApp) {
    let project = create(&app, json!({"name": "Mine", "projectManager": "ann"})).await;
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let path = format!("/api/v1/projects/{}", project["id"].as_str().unwrap());
    let response = app
        .request(Method::GET, &path, &stranger)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    let foreign = app
        .request(Method::POST, "/api/v1/environments", &stranger)
        .json(&json!({"name": "stray", "projectId": project["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(foreign, 400).await), ["projectId"]);
}

async fn an_environments_project_is_set_when_it_is_created_and_never_changed(app: TestApp) {
    let project = create(&app, json!({"name": "Platform", "projectManager": "ann"})).await;
    let env = app
        .create_env(json!({"name": "inside", "projectId": project["id"]}))
        .await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let moved = app
        .send_json(Method::PATCH, &path, json!({"projectId": Uuid::now_v7()}))
        .await;
    assert_eq!(fields(&problem(moved, 400).await), ["projectId"]);
    let read: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(read["projectId"], project["id"]);
}
