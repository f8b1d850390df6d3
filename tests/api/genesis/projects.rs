//! Genesis's projects, `/api/v1/projects`, and the tenant isolation of both.

use super::{expect, simple, Client};
use crate::on_both_databases;
use crate::support::Db;
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_databases!(genesis_projects:
    projects_are_created_listed_and_read_through_genesis_and_api_v1,
    a_project_name_is_unique_ignoring_case_and_bad_fields_are_named,
    another_organizations_project_or_environment_answers_404,
    environments_of_api_v1_carry_their_project_and_filter_by_it,
    genesis_paths_need_credentials_and_take_basic_or_bearer,
);

async fn projects_are_created_listed_and_read_through_genesis_and_api_v1(db: Db) {
    let Some(genesis) = Client::start(db, &[]).await else {
        return;
    };
    let body = json!({"name": "Web shop", "projectManager": "ann", "description": "The shop"});
    let created = expect(
        genesis.send(Method::POST, "/rest/projects", body).await,
        200,
    )
    .await;
    let number = created["id"].as_i64().unwrap();
    assert_eq!(created["name"], "Web shop");
    assert_eq!(created["projectManager"], "ann");
    assert_eq!(created["creator"], genesis.account.id.as_str());
    assert!(created["creationTime"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(
        created["links"],
        json!([{"rel": "self", "href": format!("{}/rest/projects/{number}", genesis.app.base),
                "methods": ["get"], "type": "application/vnd.griddynamics.genesis.Project+json"}])
    );
    genesis.project("Another").await;
    assert_eq!(
        genesis.get(&format!("/rest/projects/{number}")).await,
        created
    );
    let list = genesis.get("/rest/projects?sorting=~name").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Web shop", "Another"]);
    assert_eq!(list["links"][0]["methods"], json!(["get", "post"]));

    let page = expect(genesis.app.get("/api/v1/projects").await, 200).await;
    assert_eq!(page["total"], 2);
    let shop = &page["data"][1];
    assert_eq!(
        (shop["name"].clone(), shop["number"].clone()),
        (json!("Web shop"), json!(number))
    );
    let id = shop["id"].as_str().unwrap();
    let one = expect(
        genesis.app.get(&format!("/api/v1/projects/{id}")).await,
        200,
    )
    .await;
    assert_eq!(one["projectManager"], "ann");
}

async fn a_project_name_is_unique_ignoring_case_and_bad_fields_are_named(db: Db) {
    let Some(genesis) = Client::start(db, &[]).await else {
        return;
    };
    genesis.project("Shop").await;
    let taken = genesis
        .send(
            Method::POST,
            "/rest/projects",
            json!({"name": "SHOP", "projectManager": "bob"}),
        )
        .await;
    let result = expect(taken, 400).await;
    assert_eq!(result["isSuccess"], false);
    assert_eq!(
        result["compoundServiceErrors"].as_array().unwrap().len(),
        1,
        "{result}"
    );
    let bad = genesis
        .send(Method::POST, "/rest/projects", json!({"name": "a/b"}))
        .await;
    let result = expect(bad, 400).await;
    let fields: Vec<&String> = result["serviceErrors"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(fields, ["name", "projectManager"]);
    let api = genesis
        .app
        .send_json(
            Method::POST,
            "/api/v1/projects",
            json!({"name": "shop", "projectManager": "x"}),
        )
        .await;
    assert_eq!(api.status(), 409);
}

async fn another_organizations_project_or_environment_answers_404(db: Db) {
    let Some(genesis) = Client::start(db, &[("ok.sh", "exit 0")]).await else {
        return;
    };
    genesis.template(simple(&["ok.sh"], &["ok.sh"])).await;
    let project = genesis.project("Mine").await;
    let env = genesis
        .environment(
            project,
            json!({"envName": "mine", "templateName": "Simple", "templateVersion": "0.1"}),
        )
        .await;
    let stranger = genesis
        .app
        .token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    let env_path = format!("/rest/projects/{project}/envs/{env}");
    for (method, path, body) in [
        (Method::GET, format!("/rest/projects/{project}"), None),
        (Method::GET, format!("/rest/projects/{project}/envs"), None),
        (
            Method::POST,
            format!("/rest/projects/{project}/envs"),
            Some(json!({"envName": "x", "templateName": "Simple", "templateVersion": "0.1"})),
        ),
        (Method::GET, env_path.clone(), None),
        (Method::DELETE, env_path.clone(), None),
        (Method::GET, format!("{env_path}/actions"), None),
        (Method::POST, format!("{env_path}/actions/reset"), None),
        (Method::GET, format!("{env_path}/history"), None),
        (Method::GET, format!("{env_path}/workflows"), None),
        (
            Method::PUT,
            format!("{env_path}/timeToLive"),
            Some(json!({"value": 5})),
        ),
    ] {
        let mut request = genesis.app.request(method.clone(), &path, &stranger);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 404, "{method} {path}");
        let body: Value = response.json().await.unwrap();
        assert!(body.is_object(), "{method} {path}: a JSON body");
    }
    let projects = expect(
        genesis
            .app
            .request(Method::GET, "/rest/projects", &stranger)
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(projects["items"], json!([]));
    // Another project of the same organization does not hold the environment either.
    let other = genesis.project("Other").await;
    let response = genesis
        .request(Method::GET, &format!("/rest/projects/{other}/envs/{env}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

async fn environments_of_api_v1_carry_their_project_and_filter_by_it(db: Db) {
    let Some(genesis) = Client::start(db, &[]).await else {
        return;
    };
    let app = &genesis.app;
    let project = expect(
        app.send_json(
            Method::POST,
            "/api/v1/projects",
            json!({"name": "Platform", "projectManager": "ann"}),
        )
        .await,
        201,
    )
    .await;
    let id = project["id"].as_str().unwrap();
    let inside = app
        .create_env(json!({"name": "inside", "projectId": id}))
        .await;
    assert_eq!(inside["projectId"], id);
    let outside = app.create_env(json!({"name": "outside"})).await;
    assert_eq!(outside["projectId"], Value::Null);
    let filtered = expect(
        app.get(&format!("/api/v1/environments?projectId={id}"))
            .await,
        200,
    )
    .await;
    let names: Vec<&str> = filtered
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["inside"]);
    let unknown = app
        .send_json(
            Method::POST,
            "/api/v1/environments",
            json!({"name": "nowhere", "projectId": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(unknown.status(), 400);
    let listed = genesis
        .get(&format!("/rest/projects/{}/envs", project["number"]))
        .await;
    assert_eq!(listed["items"][0]["name"], "inside");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

async fn genesis_paths_need_credentials_and_take_basic_or_bearer(db: Db) {
    let Some(genesis) = Client::start(db, &[]).await else {
        return;
    };
    let url = format!("{}/rest/projects", genesis.app.base);
    let anonymous = genesis.app.client.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        anonymous.headers()["www-authenticate"],
        "Basic realm=\"terrane\""
    );
    let wrong = genesis
        .app
        .client
        .get(&url)
        .basic_auth(&genesis.account.login, Some("trn_sa_wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let bearer = genesis
        .app
        .request(Method::GET, "/rest/projects", &genesis.app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(expect(bearer, 200).await["items"], json!([]));
}
