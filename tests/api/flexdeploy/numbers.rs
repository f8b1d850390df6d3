//! Numbers: FlexDeploy addresses rows by the numbers terrane gives them, only within the
//! caller's organization, and `/api/v1` shows the same numbers.

use super::environments::{env1, number};
use super::{target_id, Client, ENVIRONMENTS};
use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

on_both_backends!(
    another_organizations_numbers_answer_404,
    api_v1_shows_the_numbers_the_dialect_speaks,
);

async fn another_organizations_numbers_answer_404(app: TestApp) {
    let fd = Client::admin(&app).await;
    let group = fd.target_group("TG1").await;
    let mut body = env1();
    body["targets"] = json!([{"targetGroupId": group}]);
    let id = number(&fd.environment(body).await, "environmentId");

    // An admin of another organization, by bearer token.
    let other = app.token_for(
        Uuid::now_v7(),
        Uuid::now_v7(),
        &[terrane_domain::Role::Admin],
    );
    let as_other = |method: Method, path: String| {
        app.client
            .request(method, format!("{}{}", app.base, path))
            .bearer_auth(&other)
    };
    let env_path = format!("{ENVIRONMENTS}/{id}");
    let response = as_other(Method::GET, env_path.clone())
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    let response = as_other(Method::PATCH, env_path.clone())
        .json(&json!({"description": "mine now"}))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    let response = as_other(Method::GET, format!("{}/{group}", super::TARGET_GROUPS))
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    let response = as_other(Method::GET, format!("{ENVIRONMENTS}?environmentId={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<Value>().await.unwrap(), json!([]));
    // Their environment cannot take this organization's group either.
    let mut theirs = env1();
    theirs["targets"] = json!([{"targetGroupId": group}]);
    let response = as_other(Method::POST, ENVIRONMENTS.to_owned())
        .json(&theirs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        fields(&problem(response, 400).await),
        ["targets[0].targetGroupId"]
    );
    let unchanged = Client::expect(fd.get(&env_path).await, 200).await;
    assert_eq!(unchanged["description"], "This is Environment 1");
}

async fn api_v1_shows_the_numbers_the_dialect_speaks(app: TestApp) {
    let fd = Client::admin(&app).await;
    let group = fd.target_group("TG1").await;
    let mut body = env1();
    body["targets"] = json!([{"targetGroupId": group}]);
    let created = fd.environment(body).await;
    let id = number(&created, "environmentId");
    let response = app.get(&format!("/api/v1/environments?number={id}")).await;
    let found: Value = response.json().await.unwrap();
    assert_eq!(found[0]["name"], "ENV1");
    assert_eq!(found[0]["displayName"], "Env 1");
    assert_eq!(found[0]["number"], id);
    let assignment = &found[0]["targetGroups"][0];
    assert_eq!(assignment["number"], target_id(&created, group));
    assert_eq!(assignment["name"], "TG1");
    let group_id = assignment["targetGroupId"].as_str().unwrap();
    let response = app.get(&format!("/api/v1/target-groups/{group_id}")).await;
    let read: Value = response.json().await.unwrap();
    assert_eq!(read["number"], group);
}
