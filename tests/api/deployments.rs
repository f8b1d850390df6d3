//! The deployment ledger: `/api/v1/deployments`, its state machine, gates and approvals.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    recording_the_spec_example_answers_201_pending_with_location_and_etag,
    an_unknown_component_environment_or_release_is_a_400_naming_it,
    an_inactive_or_destroyed_environment_refuses_deployments_with_409,
    every_bad_field_of_a_deployment_is_named,
    transitions_follow_the_spec_stamp_times_and_keep_history,
    a_refused_transition_is_a_400_naming_the_current_and_the_allowed_statuses,
    a_patch_merges_metadata_shallowly_and_keeps_a_finished_at_from_the_past,
    the_list_is_newest_first_paged_and_filtered,
    bad_list_filters_and_pages_are_400s_naming_the_parameter,
    viewers_read_but_neither_record_nor_move_nor_approve,
    another_tenants_deployments_are_not_found,
    an_active_freeze_window_refuses_the_start_unless_the_caller_is_an_exception,
    required_approvals_count_distinct_people_other_than_the_author,
    approvals_are_taken_only_while_pending_and_a_retry_starts_a_new_round,
    sequential_promotion_needs_the_version_to_succeed_in_the_previous_environment,
    the_gates_endpoint_reports_every_gate_and_changes_nothing,
    fifty_simultaneous_patches_find_exactly_one_winner_per_step,
    a_stale_if_match_is_a_412_and_a_current_one_applies,
    a_patch_retried_with_its_idempotency_key_moves_the_deployment_once,
    a_post_retried_with_its_idempotency_key_records_one_deployment,
    an_environment_with_deployments_cannot_be_deleted,
);

pub fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

pub async fn component(app: &TestApp, name: &str) -> Value {
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

/// A component and an environment to deploy it into.
async fn setup(app: &TestApp, env: Value) -> (Value, Value) {
    (component(app, "api").await, app.create_env(env).await)
}

pub async fn record_as(app: &TestApp, token: &str, body: Value) -> Response {
    app.request(Method::POST, "/api/v1/deployments", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn record(app: &TestApp, component: &Value, env: &Value, version: &str) -> Value {
    let response = record_as(
        app,
        &app.admin(),
        json!({"componentId": id(component), "environmentId": id(env), "version": version}),
    )
    .await;
    assert_eq!(response.status(), 201, "recording a deployment");
    response.json().await.unwrap()
}

pub fn path(deployment: &Value) -> String {
    format!("/api/v1/deployments/{}", id(deployment))
}

pub async fn patch_as(app: &TestApp, token: &str, deployment: &Value, body: Value) -> Response {
    app.request(Method::PATCH, &path(deployment), token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn move_to(app: &TestApp, deployment: &Value, status: &str) -> Value {
    let response = patch_as(app, &app.admin(), deployment, json!({"status": status})).await;
    assert_eq!(response.status(), 200, "moving to {status}");
    response.json().await.unwrap()
}

async fn approve_as(app: &TestApp, token: &str, deployment: &Value) -> Response {
    app.request(
        Method::POST,
        &format!("{}/approvals", path(deployment)),
        token,
    )
    .json(&json!({"comment": "looks good"}))
    .send()
    .await
    .unwrap()
}

async fn history(app: &TestApp, deployment: &Value) -> Vec<Value> {
    let response = app.get(&format!("{}/history", path(deployment))).await;
    assert_eq!(response.status(), 200);
    response.json::<Vec<Value>>().await.unwrap()
}

async fn gates(app: &TestApp, token: &str, deployment: &Value) -> Vec<Value> {
    let response = app
        .request(Method::GET, &format!("{}/gates", path(deployment)), token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn recording_the_spec_example_answers_201_pending_with_location_and_etag(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "staging"})).await;
    let response = record_as(
        &app,
        &app.token(&[Role::Deployer]),
        json!({
            "componentId": id(&component),
            "environmentId": id(&env),
            "version": "v2.3.1",
            "deployedBy": "ci-bot",
            "commitSha": "a1b2c3d4e5f6",
            "description": "Hotfix for login timeout issue",
            "metadata": {"pipelineUrl": "https://ci.example.com/runs/123"}
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/v1/deployments/{}", id(&body)));
    assert_eq!(etag, "\"1\"");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["version"], "v2.3.1");
    assert_eq!(body["deployedBy"], "ci-bot");
    assert_eq!(body["commitSha"], "a1b2c3d4e5f6");
    assert_eq!(
        body["metadata"]["pipelineUrl"],
        "https://ci.example.com/runs/123"
    );
    assert_eq!(body["createdBy"], app.user.to_string());
    assert_eq!(body["organizationId"], app.tenant.to_string());
    assert!(body["startedAt"].is_null() && body["finishedAt"].is_null());
    let read: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(read, body);
    let history = history(&app, &body).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["from"], Value::Null);
    assert_eq!(history[0]["to"], "pending");
    assert_eq!(history[0]["actor"], app.user.to_string());

    // Without deployedBy, the caller deployed.
    let own = record(&app, &component, &env, "v2.3.2").await;
    assert_eq!(own["deployedBy"], app.user.to_string());
}

async fn an_unknown_component_environment_or_release_is_a_400_naming_it(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let unknown = Uuid::now_v7().to_string();
    for (body, field) in [
        (
            json!({"componentId": unknown, "environmentId": id(&env), "version": "v1"}),
            "componentId",
        ),
        (
            json!({"componentId": id(&component), "environmentId": unknown, "version": "v1"}),
            "environmentId",
        ),
        (
            json!({"componentId": id(&component), "environmentId": id(&env), "version": "v1", "releaseId": unknown}),
            "releaseId",
        ),
    ] {
        let refused = problem(record_as(&app, &app.admin(), body).await, 400).await;
        assert_eq!(fields(&refused), [field], "{refused}");
    }
    let list: Value = app.get("/api/v1/deployments").await.json().await.unwrap();
    assert_eq!(list["total"], 0);
}

async fn an_inactive_or_destroyed_environment_refuses_deployments_with_409(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "old", "isActive": false})).await;
    let refused = problem(
        record_as(
            &app,
            &app.admin(),
            json!({"componentId": id(&component), "environmentId": id(&env), "version": "v1"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("inactive"),
        "{refused}"
    );
    let gone = app
        .create_env(json!({"name": "gone", "status": "destroyed"}))
        .await;
    let refused = problem(
        record_as(
            &app,
            &app.admin(),
            json!({"componentId": id(&component), "environmentId": id(&gone), "version": "v1"}),
        )
        .await,
        409,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("destroyed"),
        "{refused}"
    );
}

async fn every_bad_field_of_a_deployment_is_named(app: TestApp) {
    let response = record_as(
        &app,
        &app.admin(),
        json!({
            "version": "has spaces",
            "commitSha": "xyz",
            "digest": "sha256:short",
            "deployedBy": "",
        }),
    )
    .await;
    let refused = problem(response, 400).await;
    let mut named = fields(&refused);
    named.sort();
    assert_eq!(
        named,
        [
            "commitSha",
            "componentId",
            "deployedBy",
            "digest",
            "environmentId",
            "version"
        ]
    );
    let not_object = record_as(
        &app,
        &app.admin(),
        json!({"componentId": Uuid::now_v7(), "environmentId": Uuid::now_v7(), "version": "v1", "metadata": [1]}),
    )
    .await;
    assert_eq!(fields(&problem(not_object, 400).await), ["metadata"]);
}

async fn transitions_follow_the_spec_stamp_times_and_keep_history(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let running = move_to(&app, &d, "in_progress").await;
    assert_eq!(running["status"], "in_progress");
    assert!(running["startedAt"].is_string());
    assert_eq!(running["revision"], 2);
    let done = move_to(&app, &d, "succeeded").await;
    assert!(done["finishedAt"].is_string());
    let undone = move_to(&app, &d, "rolled_back").await;
    assert_eq!(undone["status"], "rolled_back");
    let retried = move_to(&app, &d, "pending").await;
    assert!(retried["startedAt"].is_null() && retried["finishedAt"].is_null());
    assert_eq!(retried["approvalRound"], 1);
    move_to(&app, &d, "failed").await;
    move_to(&app, &d, "pending").await;
    move_to(&app, &d, "in_progress").await;
    let failed = move_to(&app, &d, "failed").await;
    assert!(failed["finishedAt"].is_string());

    let steps: Vec<(Value, Value)> = history(&app, &d)
        .await
        .into_iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    let expected = [
        (Value::Null, "pending"),
        (json!("pending"), "in_progress"),
        (json!("in_progress"), "succeeded"),
        (json!("succeeded"), "rolled_back"),
        (json!("rolled_back"), "pending"),
        (json!("pending"), "failed"),
        (json!("failed"), "pending"),
        (json!("pending"), "in_progress"),
        (json!("in_progress"), "failed"),
    ];
    let expected: Vec<(Value, Value)> = expected
        .into_iter()
        .map(|(from, to)| (from, json!(to)))
        .collect();
    assert_eq!(steps, expected);
}

async fn a_refused_transition_is_a_400_naming_the_current_and_the_allowed_statuses(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let refused = problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "succeeded"})).await,
        400,
    )
    .await;
    assert_eq!(
        refused["detail"],
        "status: a deployment cannot move from `pending` to `succeeded`; from `pending` it can move to in_progress or failed"
    );
    let unknown = problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "done"})).await,
        400,
    )
    .await;
    assert_eq!(fields(&unknown), ["status"]);
    let missing = problem(patch_as(&app, &app.admin(), &d, json!({})).await, 400).await;
    assert_eq!(fields(&missing), ["status"]);
    let read: Value = app.get(&path(&d)).await.json().await.unwrap();
    assert_eq!(
        (read["status"].clone(), read["revision"].clone()),
        (json!("pending"), json!(1))
    );
    assert_eq!(history(&app, &d).await.len(), 1);
}

async fn a_patch_merges_metadata_shallowly_and_keeps_a_finished_at_from_the_past(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let response = record_as(
        &app,
        &app.admin(),
        json!({"componentId": id(&component), "environmentId": id(&env), "version": "v1",
               "metadata": {"pipelineUrl": "https://ci/1", "nested": {"a": 1}}}),
    )
    .await;
    let d: Value = response.json().await.unwrap();
    move_to(&app, &d, "in_progress").await;
    // Earlier than the server's clock when it arrives, but not before the deployment was recorded.
    let created: DateTime<Utc> = d["createdAt"].as_str().unwrap().parse().unwrap();
    let finished = created + Duration::microseconds(1);
    let response = patch_as(
        &app,
        &app.admin(),
        &d,
        json!({"status": "succeeded", "description": "went fine",
               "metadata": {"nested": {"b": 2}, "durationSeconds": 3}, "finishedAt": time(finished)}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let done: Value = response.json().await.unwrap();
    assert_eq!(
        done["metadata"],
        json!({"pipelineUrl": "https://ci/1", "nested": {"b": 2}, "durationSeconds": 3})
    );
    assert_eq!(done["description"], "went fine");
    let at: DateTime<Utc> = done["finishedAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(time(at), time(finished));

    let d2 = record(&app, &component, &env, "v2").await;
    move_to(&app, &d2, "in_progress").await;
    let future = problem(
        patch_as(
            &app,
            &app.admin(),
            &d2,
            json!({"status": "succeeded", "finishedAt": time(Utc::now() + Duration::hours(1))}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&future), ["finishedAt"]);
}

async fn the_list_is_newest_first_paged_and_filtered(app: TestApp) {
    let api = component(&app, "api").await;
    let web = component(&app, "web").await;
    let dev = app.create_env(json!({"name": "dev"})).await;
    let prod = app.create_env(json!({"name": "prod"})).await;
    let mut made = Vec::new();
    for (c, e, v) in [
        (&api, &dev, "v1"),
        (&web, &dev, "v1"),
        (&api, &prod, "v1"),
        (&api, &dev, "v2"),
        (&web, &prod, "v2"),
    ] {
        made.push(record(&app, c, e, v).await);
    }
    move_to(&app, &made[0], "in_progress").await;
    move_to(&app, &made[0], "succeeded").await;

    let all: Value = app.get("/api/v1/deployments").await.json().await.unwrap();
    assert_eq!(
        (
            all["total"].clone(),
            all["skip"].clone(),
            all["take"].clone()
        ),
        (json!(5), json!(0), json!(20))
    );
    let ids: Vec<String> = all["data"].as_array().unwrap().iter().map(id).collect();
    let newest_first: Vec<String> = made.iter().rev().map(id).collect();
    assert_eq!(ids, newest_first);

    let page: Value = app
        .get("/api/v1/deployments?skip=1&take=2")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = page["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, newest_first[1..3]);
    assert_eq!(page["total"], 5);

    let count = |query: String| {
        let app = &app;
        async move {
            let body: Value = app
                .get(&format!("/api/v1/deployments?{query}"))
                .await
                .json()
                .await
                .unwrap();
            body["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count(format!("componentId={}", id(&api))).await, 3);
    assert_eq!(count(format!("environmentId={}", id(&prod))).await, 2);
    assert_eq!(
        count(format!(
            "environmentId={}&componentId={}",
            id(&dev),
            id(&api)
        ))
        .await,
        2
    );
    assert_eq!(count("status=succeeded".into()).await, 1);
    assert_eq!(count("status=pending".into()).await, 4);
    assert_eq!(count(format!("releaseId={}", Uuid::now_v7())).await, 0);
}

async fn bad_list_filters_and_pages_are_400s_naming_the_parameter(app: TestApp) {
    for (query, field) in [
        ("componentId=nope", "componentId"),
        ("environmentId=1", "environmentId"),
        ("releaseId=x", "releaseId"),
        ("status=done", "status"),
        ("take=101", "take"),
        ("skip=-1", "skip"),
        ("colour=red", "colour"),
    ] {
        let refused = problem(app.get(&format!("/api/v1/deployments?{query}")).await, 400).await;
        assert_eq!(fields(&refused), [field], "{query}");
    }
    let ok: Value = app
        .get("/api/v1/deployments?take=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ok["take"], 100);
}

async fn viewers_read_but_neither_record_nor_move_nor_approve(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let viewer = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Viewer]);
    let body = json!({"componentId": id(&component), "environmentId": id(&env), "version": "v2"});
    problem(record_as(&app, &viewer, body).await, 403).await;
    problem(
        patch_as(&app, &viewer, &d, json!({"status": "in_progress"})).await,
        403,
    )
    .await;
    problem(approve_as(&app, &viewer, &d).await, 403).await;
    for suffix in ["", "/history", "/approvals", "/gates"] {
        let read = app
            .request(Method::GET, &format!("{}{suffix}", path(&d)), &viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(read.status(), 200, "{suffix}");
    }
    let list = app
        .request(Method::GET, "/api/v1/deployments", &viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let anonymous = app
        .client
        .get(format!("{}/api/v1/deployments", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}

async fn another_tenants_deployments_are_not_found(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let other = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    for suffix in ["", "/history", "/approvals", "/gates"] {
        let read = app
            .request(Method::GET, &format!("{}{suffix}", path(&d)), &other)
            .send()
            .await
            .unwrap();
        problem(read, 404).await;
    }
    problem(
        patch_as(&app, &other, &d, json!({"status": "in_progress"})).await,
        404,
    )
    .await;
    problem(approve_as(&app, &other, &d).await, 404).await;
    // Nor can they deploy this tenant's component into this tenant's environment: to them it
    // does not exist, a missing reference like any other.
    let body = json!({"componentId": id(&component), "environmentId": id(&env), "version": "v2"});
    problem(record_as(&app, &other, body).await, 400).await;
    let list: Value = app
        .request(Method::GET, "/api/v1/deployments", &other)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 0);
}

async fn an_active_freeze_window_refuses_the_start_unless_the_caller_is_an_exception(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "prod"})).await;
    let exempt = Uuid::now_v7();
    let now = Utc::now();
    let window = app
        .send_json(
            Method::POST,
            &format!("/api/v1/environments/{}/freeze-windows", id(&env)),
            json!({"start": time(now - Duration::hours(1)), "end": time(now + Duration::hours(2)),
                   "reason": "year-end", "exceptions": [exempt]}),
        )
        .await;
    assert_eq!(window.status(), 201);
    let d = record(&app, &component, &env, "v1").await;
    let refused = problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "in_progress"})).await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/gate-freeze");
    assert!(
        refused["detail"].as_str().unwrap().contains("year-end"),
        "{refused}"
    );
    // The problem type has a page.
    let page = app
        .client
        .get(format!("{}/problems/gate-freeze", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // Failing is not gated.
    let d2 = record(&app, &component, &env, "v2").await;
    move_to(&app, &d2, "failed").await;

    let exception = app.token_for(app.tenant, exempt, &[Role::Deployer]);
    let started = patch_as(&app, &exception, &d, json!({"status": "in_progress"})).await;
    assert_eq!(started.status(), 200);
}

async fn required_approvals_count_distinct_people_other_than_the_author(app: TestApp) {
    let (component, env) = setup(
        &app,
        json!({"name": "prod", "requiredApprovals": 2, "requireSeparationOfDuties": true}),
    )
    .await;
    let author = app.token(&[Role::Deployer]);
    let response = record_as(
        &app,
        &author,
        json!({"componentId": id(&component), "environmentId": id(&env), "version": "v1"}),
    )
    .await;
    let d: Value = response.json().await.unwrap();

    let own = problem(approve_as(&app, &author, &d).await, 403).await;
    assert!(
        own["detail"]
            .as_str()
            .unwrap()
            .contains("separation of duties"),
        "{own}"
    );

    let alice = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Deployer]);
    let bob = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Admin]);
    let first = approve_as(&app, &alice, &d).await;
    assert_eq!(first.status(), 201);
    let approval: Value = first.json().await.unwrap();
    assert_eq!(approval["comment"], "looks good");
    assert_eq!(approval["round"], 0);
    problem(approve_as(&app, &alice, &d).await, 409).await;

    let refused = problem(
        patch_as(&app, &author, &d, json!({"status": "in_progress"})).await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/gate-approvals");
    assert_eq!(
        refused["detail"],
        "1 of 2 required approvals: 1 more from someone other than the author"
    );

    assert_eq!(approve_as(&app, &bob, &d).await.status(), 201);
    let approvals: Vec<Value> = app
        .get(&format!("{}/approvals", path(&d)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(approvals.len(), 2);
    let started = patch_as(&app, &author, &d, json!({"status": "in_progress"})).await;
    assert_eq!(started.status(), 200);
}

async fn approvals_are_taken_only_while_pending_and_a_retry_starts_a_new_round(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "prod", "requiredApprovals": 1})).await;
    let d = record(&app, &component, &env, "v1").await;
    let alice = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Deployer]);
    assert_eq!(approve_as(&app, &alice, &d).await.status(), 201);
    move_to(&app, &d, "in_progress").await;
    let late = problem(approve_as(&app, &alice, &d).await, 409).await;
    assert!(
        late["detail"].as_str().unwrap().contains("pending"),
        "{late}"
    );
    move_to(&app, &d, "failed").await;
    let retried = move_to(&app, &d, "pending").await;
    assert_eq!(retried["approvalRound"], 1);

    // The approval of the first round no longer counts.
    let refused = problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "in_progress"})).await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/gate-approvals");
    // The same person may approve again in the new round.
    let again: Value = approve_as(&app, &alice, &d).await.json().await.unwrap();
    assert_eq!(again["round"], 1);
    move_to(&app, &d, "in_progress").await;
}

async fn sequential_promotion_needs_the_version_to_succeed_in_the_previous_environment(
    app: TestApp,
) {
    let api = component(&app, "api").await;
    let dev = app
        .create_env(json!({"name": "dev", "orderIndex": 1}))
        .await;
    // Inactive environments are skipped when looking for the previous one.
    app.create_env(json!({"name": "qa", "orderIndex": 2, "isActive": false}))
        .await;
    let prod = app
        .create_env(json!({"name": "prod", "orderIndex": 3, "promotionPolicy": "sequential"}))
        .await;
    let d = record(&app, &api, &prod, "v2").await;
    let refused = problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "in_progress"})).await,
        409,
    )
    .await;
    assert_eq!(refused["type"], "/problems/gate-promotion");
    assert_eq!(
        refused["detail"],
        "v2 must succeed in `dev` first: the environment promotes sequentially"
    );
    // Another version succeeding in dev does not help.
    let other = record(&app, &api, &dev, "v1").await;
    move_to(&app, &other, "in_progress").await;
    move_to(&app, &other, "succeeded").await;
    problem(
        patch_as(&app, &app.admin(), &d, json!({"status": "in_progress"})).await,
        409,
    )
    .await;
    let in_dev = record(&app, &api, &dev, "v2").await;
    move_to(&app, &in_dev, "in_progress").await;
    move_to(&app, &in_dev, "succeeded").await;
    move_to(&app, &d, "in_progress").await;
}

async fn the_gates_endpoint_reports_every_gate_and_changes_nothing(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "prod", "requiredApprovals": 1})).await;
    let d = record(&app, &component, &env, "v1").await;
    let verdicts = gates(&app, &app.admin(), &d).await;
    let by_gate: HashMap<String, (bool, String)> = verdicts
        .iter()
        .map(|g| {
            (
                g["gate"].as_str().unwrap().to_owned(),
                (
                    g["passed"].as_bool().unwrap(),
                    g["reason"].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(by_gate.len(), 4);
    assert_eq!(
        by_gate["freeze"],
        (true, "no freeze window is active".to_owned())
    );
    assert_eq!(
        by_gate["approvals"],
        (false, "0 of 1 required approvals: 1 more needed".to_owned())
    );
    assert_eq!(
        by_gate["promotion"],
        (true, "the environment has no promotion order".to_owned())
    );
    assert_eq!(
        by_gate["lifecycle"],
        (true, "the environment is ready".to_owned())
    );
    let read: Value = app.get(&path(&d)).await.json().await.unwrap();
    assert_eq!(
        (read["status"].clone(), read["revision"].clone()),
        (json!("pending"), json!(1))
    );
}

/// Fires `n` identical PATCHes at once; answers their statuses.
async fn race(app: &TestApp, deployment: &Value, status: &str, n: usize) -> Vec<u16> {
    let token = app.admin();
    let url = format!("{}{}", app.base, path(deployment));
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (client, token, url, barrier) = (
            app.client.clone(),
            token.clone(),
            url.clone(),
            barrier.clone(),
        );
        let body = json!({"status": status});
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client
                .patch(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses
}

async fn fifty_simultaneous_patches_find_exactly_one_winner_per_step(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    for step in ["in_progress", "succeeded"] {
        let statuses = race(&app, &d, step, 50).await;
        let winners = statuses.iter().filter(|s| **s == 200).count();
        assert_eq!(winners, 1, "{step}: {statuses:?}");
        // The losers either lost the compare-and-set or read the new status: 409 either way.
        assert!(
            statuses.iter().all(|s| [200, 409].contains(s)),
            "{step}: {statuses:?}"
        );
    }
    let read: Value = app.get(&path(&d)).await.json().await.unwrap();
    assert_eq!(
        (read["status"].clone(), read["revision"].clone()),
        (json!("succeeded"), json!(3))
    );
    assert_eq!(history(&app, &d).await.len(), 3);
}

async fn a_stale_if_match_is_a_412_and_a_current_one_applies(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let stale = app
        .request(Method::PATCH, &path(&d), &app.admin())
        .header("If-Match", "\"7\"")
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;
    let current = app
        .request(Method::PATCH, &path(&d), &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"status": "in_progress"}))
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
    assert_eq!(current.headers()["etag"], "\"2\"");
}

async fn a_patch_retried_with_its_idempotency_key_moves_the_deployment_once(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let d = record(&app, &component, &env, "v1").await;
    let send = || {
        app.request(Method::PATCH, &path(&d), &app.admin())
            .header("Idempotency-Key", "ci-run-42-start")
            .json(&json!({"status": "in_progress"}))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, first);
    assert_eq!(history(&app, &d).await.len(), 2);
}

async fn a_post_retried_with_its_idempotency_key_records_one_deployment(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let body = json!({"componentId": id(&component), "environmentId": id(&env), "version": "v1"});
    let send = || {
        app.request(Method::POST, "/api/v1/deployments", &app.admin())
            .header("Idempotency-Key", "ci-run-42")
            .json(&body)
            .send()
    };
    let first: Value = send().await.unwrap().json().await.unwrap();
    let retry = send().await.unwrap();
    assert_eq!(retry.status(), 201);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(id(&retry), id(&first));
    let list: Value = app.get("/api/v1/deployments").await.json().await.unwrap();
    assert_eq!(list["total"], 1);
}

async fn an_environment_with_deployments_cannot_be_deleted(app: TestApp) {
    let (component, env) = setup(&app, json!({"name": "dev"})).await;
    let empty = app.create_env(json!({"name": "empty"})).await;
    record(&app, &component, &env, "v1").await;
    record(&app, &component, &env, "v2").await;
    let env_path = format!("/api/v1/environments/{}", id(&env));
    let refused = problem(
        app.request(Method::DELETE, &env_path, &app.admin())
            .send()
            .await
            .unwrap(),
        409,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("the environment has 2 deployments"),
        "{refused}"
    );
    assert_eq!(app.get(&env_path).await.status(), 200);
    let deleted = app
        .request(
            Method::DELETE,
            &format!("/api/v1/environments/{}", id(&empty)),
            &app.admin(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
}
