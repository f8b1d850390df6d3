//! Agents over HTTP: registration with a token shown once, heartbeats (the health of ECS
//! services), inventories, and what an agent token may not do.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use diesel::sql_types::Text;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use reqwest::Method;
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    an_agent_is_registered_with_a_token_shown_once_and_stored_only_as_a_hash,
    only_admins_manage_agents_any_role_reads_them_and_targets_must_be_the_organizations,
    a_heartbeat_marks_the_agent_online_and_gives_an_ecs_service_its_health,
    an_agent_reports_only_for_itself_and_the_targets_it_serves,
    an_agent_token_opens_nothing_but_agent_routes_and_a_person_token_no_agent_route,
    the_latest_inventory_replaces_the_previous_one_and_any_role_reads_it,
    a_changed_inventory_records_an_event_and_a_repeated_one_none,
    bad_inventories_name_each_field,
    a_revoked_agents_token_stops_working_at_once,
);

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn target(app: &TestApp, env: &Value, name: &str, target_type: &str) -> Value {
    let connection = match target_type {
        "ecs_service" => json!({"cluster": "prod", "service": name, "region": "us-east-1"}),
        _ => json!({"host": "127.0.0.1", "port": 2375}),
    };
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/targets",
            json!({"environmentId": id(env), "name": name, "targetType": target_type, "connection": connection}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

async fn register(app: &TestApp, name: &str, targets: &[&Value]) -> Value {
    let ids: Vec<String> = targets.iter().map(|t| id(t)).collect();
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/agents",
            json!({"name": name, "targetIds": ids}),
        )
        .await;
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn token(agent: &Value) -> String {
    agent["token"].as_str().expect("a token").to_owned()
}

async fn as_agent(app: &TestApp, agent: &Value, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::POST, path, &token(agent))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn heartbeat(app: &TestApp, agent: &Value, body: Value) -> reqwest::Response {
    as_agent(
        app,
        agent,
        &format!("/api/v1/agents/{}/heartbeat", id(agent)),
        body,
    )
    .await
}

#[derive(QueryableByName)]
struct Stored {
    #[diesel(sql_type = Text)]
    token_hash: String,
}

/// What the database holds of the agents' tokens.
fn stored_hashes(app: &TestApp) -> Vec<String> {
    let query = "SELECT token_hash FROM agents";
    let rows: Vec<Stored> = match app.database_url.strip_prefix("sqlite://") {
        Some(path) => diesel::sql_query(query)
            .load(&mut SqliteConnection::establish(path).unwrap())
            .unwrap(),
        None => diesel::sql_query(query)
            .load(&mut PgConnection::establish(&app.database_url).unwrap())
            .unwrap(),
    };
    rows.into_iter().map(|r| r.token_hash).collect()
}

async fn an_agent_is_registered_with_a_token_shown_once_and_stored_only_as_a_hash(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let web = target(&app, &env, "web-1", "docker_host").await;
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/agents",
            json!({"name": "edge-1", "targetIds": [id(&web)]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let agent: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/agents/{}", id(&agent)));
    let secret = token(&agent);
    assert!(
        secret.starts_with("trn_agent_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(agent["targetIds"], json!([id(&web)]));
    assert_eq!(agent["online"], false);
    assert_eq!(agent["lastSeenAt"], Value::Null);

    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read["name"], "edge-1");
    assert!(read.get("token").is_none(), "{read}");
    let list = app.get("/api/v1/agents").await;
    assert_eq!(list.headers()["x-total-count"], "1");
    let list: Value = list.json().await.unwrap();
    assert!(list[0].get("token").is_none());
    assert_eq!(
        stored_hashes(&app),
        [terrane_app::token_hash(&secret)],
        "the token itself is stored nowhere"
    );
    let second = register(&app, "edge-2", &[]).await;
    assert_ne!(token(&second), secret);
    let taken = app
        .send_json(Method::POST, "/api/v1/agents", json!({"name": "edge-1"}))
        .await;
    problem(taken, 409).await;
}

async fn only_admins_manage_agents_any_role_reads_them_and_targets_must_be_the_organizations(
    app: TestApp,
) {
    let deployer = app.token(&[Role::Deployer]);
    let refused = app
        .request(Method::POST, "/api/v1/agents", &deployer)
        .json(&json!({"name": "edge"}))
        .send()
        .await
        .unwrap();
    problem(refused, 403).await;
    let viewer_reads = app
        .request(Method::GET, "/api/v1/agents", &app.token(&[Role::Viewer]))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer_reads.status(), 200);
    let viewer_revokes = app
        .request(
            Method::DELETE,
            &format!("/api/v1/agents/{}", Uuid::now_v7()),
            &app.token(&[Role::Viewer]),
        )
        .send()
        .await
        .unwrap();
    problem(viewer_revokes, 403).await;
    let body = problem(
        app.send_json(
            Method::POST,
            "/api/v1/agents",
            json!({"name": "edge", "targetIds": [Uuid::now_v7()]}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["targetIds"]);
    let body = problem(
        app.send_json(Method::POST, "/api/v1/agents", json!({"name": "bad name"}))
            .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["name"]);
    let agent = register(&app, "edge", &[]).await;
    let stranger = app.token_for(Uuid::now_v7(), app.user, &[Role::Admin]);
    let foreign = app
        .request(
            Method::GET,
            &format!("/api/v1/agents/{}", id(&agent)),
            &stranger,
        )
        .send()
        .await
        .unwrap();
    problem(foreign, 404).await;
}

async fn a_heartbeat_marks_the_agent_online_and_gives_an_ecs_service_its_health(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let ecs = target(&app, &env, "api", "ecs_service").await;
    let agent = register(&app, "edge", &[&ecs]).await;
    let response = heartbeat(
        &app,
        &agent,
        json!({"version": "1.4.2", "targets": [{"targetId": id(&ecs), "status": "degraded", "message": "1/2 tasks running"}]}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let beat: Value = response.json().await.unwrap();
    assert_eq!(beat["online"], true);
    assert_eq!(beat["agentVersion"], "1.4.2");
    assert!(beat["lastSeenAt"].is_string());
    let read: Value = app
        .get(&format!("/api/v1/targets/{}", id(&ecs)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["healthStatus"], "degraded");
    assert_eq!(read["healthMessage"], "1/2 tasks running");
    // A check now answers the agent's report: an ECS service is never probed.
    let check: Value = app
        .send_json(
            Method::POST,
            &format!("/api/v1/targets/{}/health-check", id(&ecs)),
            json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(check["status"], "degraded");
    let history: Value = app
        .get(&format!("/api/v1/targets/{}/health-checks", id(&ecs)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["total"], 1);
    let listed: Value = app.get("/api/v1/agents").await.json().await.unwrap();
    assert_eq!(listed[0]["online"], true);
}

async fn an_agent_reports_only_for_itself_and_the_targets_it_serves(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let mine = target(&app, &env, "mine", "ecs_service").await;
    let theirs = target(&app, &env, "theirs", "ecs_service").await;
    let agent = register(&app, "edge-1", &[&mine]).await;
    let other = register(&app, "edge-2", &[&theirs]).await;
    let response = as_agent(
        &app,
        &agent,
        &format!("/api/v1/agents/{}/heartbeat", id(&other)),
        json!({}),
    )
    .await;
    problem(response, 403).await;
    let response = heartbeat(
        &app,
        &agent,
        json!({"targets": [{"targetId": id(&theirs), "status": "healthy"}]}),
    )
    .await;
    problem(response, 403).await;
    let response = as_agent(
        &app,
        &agent,
        &format!("/api/v1/targets/{}/inventory", id(&theirs)),
        json!({"collectedAt": "2026-01-10T14:23:40Z", "components": []}),
    )
    .await;
    problem(response, 403).await;
    let read: Value = app
        .get(&format!("/api/v1/targets/{}", id(&theirs)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["healthStatus"], "unknown");
    let bad_status = heartbeat(
        &app,
        &agent,
        json!({"targets": [{"targetId": id(&mine), "status": "fine"}]}),
    )
    .await;
    let body = problem(bad_status, 400).await;
    assert_eq!(fields(&body), ["targets[0].status"]);
}

async fn an_agent_token_opens_nothing_but_agent_routes_and_a_person_token_no_agent_route(
    app: TestApp,
) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let web = target(&app, &env, "web", "docker_host").await;
    let agent = register(&app, "edge", &[&web]).await;
    for (method, path) in [
        (Method::GET, "/api/v1/targets".to_owned()),
        (Method::GET, format!("/api/v1/targets/{}", id(&web))),
        (
            Method::GET,
            format!("/api/v1/targets/{}/inventory", id(&web)),
        ),
        (
            Method::POST,
            format!("/api/v1/targets/{}/health-check", id(&web)),
        ),
        (Method::GET, "/api/v1/agents".to_owned()),
        (Method::POST, "/api/v1/environments".to_owned()),
    ] {
        let response = app
            .request(method.clone(), &path, &token(&agent))
            .json(&json!({"name": "x"}))
            .send()
            .await
            .unwrap();
        let body = problem(response, 403).await;
        assert!(
            body["detail"].as_str().unwrap().contains("agent token"),
            "{method} {path}: {body}"
        );
    }
    let person = app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{}/heartbeat", id(&agent)),
            &app.admin(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(person, 403).await;
    let forged = app
        .request(
            Method::POST,
            &format!("/api/v1/agents/{}/heartbeat", id(&agent)),
            &format!("trn_agent_{}", "0".repeat(64)),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(forged, 401).await;
}

async fn the_latest_inventory_replaces_the_previous_one_and_any_role_reads_it(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let web = target(&app, &env, "web", "docker_host").await;
    let agent = register(&app, "edge", &[&web]).await;
    let path = format!("/api/v1/targets/{}/inventory", id(&web));
    problem(app.get(&path).await, 404).await;
    let component = Uuid::now_v7();
    let first = as_agent(
        &app,
        &agent,
        &path,
        json!({"collectedAt": "2026-01-10T14:23:40Z", "components": [
            {"componentName": "api", "version": "2.3.1", "digest": "sha256:abc"},
            {"componentId": component, "version": "1.0.0"}
        ]}),
    )
    .await;
    assert_eq!(first.status(), 200);
    let second = as_agent(
        &app,
        &agent,
        &path,
        json!({"collectedAt": "2026-01-10T14:24:40Z", "components": [
            {"componentName": "api", "version": "2.3.2", "digest": "sha256:def"}
        ]}),
    )
    .await;
    assert_eq!(second.status(), 200);
    let read = app
        .request(Method::GET, &path, &app.token(&[Role::Viewer]))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["collectedAt"], "2026-01-10T14:24:40Z");
    assert_eq!(read["agentId"], agent["id"]);
    assert_eq!(
        read["components"],
        json!([{"componentId": null, "componentName": "api", "version": "2.3.2", "digest": "sha256:def"}])
    );
    let stranger = app.token_for(Uuid::now_v7(), app.user, &[Role::Admin]);
    let foreign = app
        .request(Method::GET, &path, &stranger)
        .send()
        .await
        .unwrap();
    problem(foreign, 404).await;
}

async fn a_changed_inventory_records_an_event_and_a_repeated_one_none(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let web = target(&app, &env, "web", "docker_host").await;
    let agent = register(&app, "edge", &[&web]).await;
    let path = format!("/api/v1/targets/{}/inventory", id(&web));
    let report = |at: &str, version: &str| json!({"collectedAt": at, "components": [{"componentName": "api", "version": version}]});
    for (at, version) in [
        ("2026-01-10T14:23:40Z", "2.3.1"),
        ("2026-01-10T14:24:40Z", "2.3.1"),
        ("2026-01-10T14:25:40Z", "2.3.2"),
    ] {
        let sent = as_agent(&app, &agent, &path, report(at, version)).await;
        assert_eq!(sent.status(), 200);
    }
    // On PostgreSQL an event shows once every transaction begun before its own has ended:
    // wait for the last report's, then every earlier one shows too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let events = loop {
        let response = app
            .get("/api/v1/events?types=target.inventory_changed")
            .await;
        assert_eq!(response.status(), 200);
        let events: Vec<Value> = response.json().await.unwrap();
        if events
            .iter()
            .any(|e| e["data"]["to"][0]["version"] == "2.3.2")
        {
            break events;
        }
        assert!(std::time::Instant::now() < deadline, "{events:#?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(
        events.len(),
        2,
        "the repeated report records nothing: {events:#?}"
    );
    for event in &events {
        assert_eq!(event["subject"], json!({"kind": "target", "id": id(&web)}));
        assert_eq!(event["data"]["agentId"], agent["id"]);
    }
    let api = |version: &str| json!([{"componentId": null, "componentName": "api", "version": version, "digest": null}]);
    assert_eq!(events[0]["data"]["from"], Value::Null);
    assert_eq!(events[0]["data"]["to"], api("2.3.1"));
    assert_eq!(events[1]["data"]["from"], api("2.3.1"));
    assert_eq!(events[1]["data"]["to"], api("2.3.2"));
    assert_eq!(events[1]["data"]["collectedAt"], "2026-01-10T14:25:40Z");
}

async fn bad_inventories_name_each_field(app: TestApp) {
    let env = app.create_env(json!({"name": "prod"})).await;
    let web = target(&app, &env, "web", "docker_host").await;
    let agent = register(&app, "edge", &[&web]).await;
    let path = format!("/api/v1/targets/{}/inventory", id(&web));
    let response = as_agent(
        &app,
        &agent,
        &path,
        json!({"components": [{"version": "1"}, {"componentName": "api"}]}),
    )
    .await;
    let body = problem(response, 400).await;
    assert_eq!(
        fields(&body),
        [
            "collectedAt",
            "components[0].componentId",
            "components[1].version"
        ]
    );
}

async fn a_revoked_agents_token_stops_working_at_once(app: TestApp) {
    let agent = register(&app, "edge", &[]).await;
    assert_eq!(heartbeat(&app, &agent, json!({})).await.status(), 200);
    let response = app
        .send_json(
            Method::DELETE,
            &format!("/api/v1/agents/{}", id(&agent)),
            json!({}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(heartbeat(&app, &agent, json!({})).await, 401).await;
    problem(
        app.get(&format!("/api/v1/agents/{}", id(&agent))).await,
        404,
    )
    .await;
    assert!(stored_hashes(&app).is_empty());
}
