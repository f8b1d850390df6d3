//! `/api/v1/environment-requests`: self-service environments with approval, provisioning
//! (built in, or by real shell scripts), time to live, and the reaper that expires them
//! exactly once whatever the number of replicas.

use crate::on_both_backends;
use crate::support::{database, fields, problem, start_server, Db, TestApp, SECRET};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use terrane_domain::Role;
use uuid::Uuid;

const REQUESTS: &str = "/api/v1/environment-requests";

/// The create body of the spec's example.
fn spec_body() -> Value {
    json!({
        "name": "feature-xyz-preview",
        "description": "Preview environment for feature XYZ",
        "type": "ephemeral",
        "tier": "small",
        "ttlHours": 48
    })
}

fn named(name: &str) -> Value {
    json!({"name": name, "type": "ephemeral", "tier": "small"})
}

fn path(request: &Value) -> String {
    format!("{REQUESTS}/{}", request["id"].as_str().unwrap())
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let request = app.request(method, path, token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.expect("request")
}

/// Submits `body` as `token`'s user and answers the created request.
async fn submit_as(app: &TestApp, token: &str, body: Value) -> Value {
    let response = send(app, Method::POST, REQUESTS, token, Some(body)).await;
    assert_eq!(response.status(), 201, "submitting a request");
    response.json().await.unwrap()
}

/// Submits `body` as this test's admin.
async fn submit(app: &TestApp, body: Value) -> Value {
    submit_as(app, &app.admin(), body).await
}

/// POSTs a transition without a body as `token` and answers the response.
async fn transition(app: &TestApp, request: &Value, action: &str, token: &str) -> Response {
    send(
        app,
        Method::POST,
        &format!("{}/{action}", path(request)),
        token,
        None,
    )
    .await
}

async fn ok(response: Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "{body}");
    body
}

async fn approve(app: &TestApp, request: &Value) -> Value {
    ok(transition(app, request, "approve", &app.admin()).await).await
}

async fn read(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn time(value: &Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"))
        .parse()
        .unwrap()
}

/// Reads the request until its status is `status`, for at most `within`.
async fn wait_for(app: &TestApp, request: &Value, status: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let current = read(app, &path(request)).await;
        if current["status"] == status {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "the request did not become {status} within {within:?}: {current}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

on_both_backends!(
    the_spec_example_submits_a_pending_request_of_the_caller_in_their_organization,
    an_ephemeral_request_gets_the_default_ttl_and_one_over_the_maximum_is_refused,
    a_persistent_request_refuses_a_ttl_because_persistent_environments_do_not_expire,
    viewers_cannot_request_environments_but_deployers_can,
    every_bad_field_is_named_at_once_and_nothing_is_stored,
    a_name_taken_by_an_environment_or_an_open_request_is_a_conflict,
    an_unknown_component_is_refused_and_a_known_one_is_kept,
    the_list_is_an_envelope_newest_first_with_filters_and_pages,
    the_list_refuses_bad_parameters_naming_each,
    patch_changes_a_pending_request_for_its_requester_or_an_admin_only,
    delete_is_for_admins_and_pending_requests_and_the_request_is_gone_after,
    approving_provisions_the_environment_at_once_as_the_spec_example_shows,
    only_admins_review_and_only_pending_requests_can_be_approved_or_rejected,
    rejecting_answers_the_spec_example,
    an_admin_expires_an_active_request_and_its_environment_is_destroyed,
    the_history_lists_every_move_with_actor_time_and_message,
    another_organizations_requests_are_not_found_and_not_listed,
    a_stale_if_match_is_refused_with_412_and_the_current_etag_is_served,
    the_requester_or_an_admin_sets_and_removes_the_ttl_and_the_request_follows,
    a_ttl_is_refused_for_persistent_environments_and_out_of_range_minutes,
    a_create_retried_with_the_same_idempotency_key_adds_one_request,
    a_review_body_that_is_not_json_is_refused,
);

async fn the_spec_example_submits_a_pending_request_of_the_caller_in_their_organization(
    app: TestApp,
) {
    let deployer = app.token(&[Role::Deployer]);
    let response = send(&app, Method::POST, REQUESTS, &deployer, Some(spec_body())).await;
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(etag, "\"1\"");
    assert_eq!(location, path(&body));
    for (field, value) in [
        ("name", json!("feature-xyz-preview")),
        ("description", json!("Preview environment for feature XYZ")),
        ("type", json!("ephemeral")),
        ("tier", json!("small")),
        ("ttlHours", json!(48)),
        ("componentId", Value::Null),
        ("status", json!("pending")),
        ("statusMessage", Value::Null),
        ("requestedBy", json!(app.user.to_string())),
        ("reviewedBy", Value::Null),
        ("reviewComment", Value::Null),
        ("expiresAt", Value::Null),
        ("organizationId", json!(app.tenant.to_string())),
    ] {
        assert_eq!(body[field], value, "{field}: {body}");
    }
    assert_eq!(body["createdAt"], body["updatedAt"]);
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        read(&app, &location).await,
        body,
        "a read answers what the create answered"
    );
}

async fn an_ephemeral_request_gets_the_default_ttl_and_one_over_the_maximum_is_refused(
    app: TestApp,
) {
    let request = submit(&app, named("preview")).await;
    assert_eq!(request["ttlHours"], 24, "the default time to live");
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(json!({"name": "long", "type": "ephemeral", "tier": "large", "ttlHours": 721})),
    )
    .await;
    let problem = problem(response, 400).await;
    assert_eq!(fields(&problem), ["ttlHours"]);
    assert_eq!(
        problem["errors"][0]["message"],
        "must be between 1 and 720 hours"
    );
    let at_most = submit(
        &app,
        json!({"name": "longest", "type": "ephemeral", "tier": "large", "ttlHours": 720}),
    )
    .await;
    assert_eq!(at_most["ttlHours"], 720);
}

async fn a_persistent_request_refuses_a_ttl_because_persistent_environments_do_not_expire(
    app: TestApp,
) {
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(json!({"name": "shared", "type": "persistent", "tier": "medium", "ttlHours": 24})),
    )
    .await;
    let problem = problem(response, 400).await;
    assert_eq!(fields(&problem), ["ttlHours"]);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("persistent environments do not expire"),
        "{problem}"
    );
    let persistent = submit(
        &app,
        json!({"name": "shared", "type": "persistent", "tier": "medium"}),
    )
    .await;
    assert_eq!(persistent["ttlHours"], Value::Null);
    let active = approve(&app, &persistent).await;
    assert_eq!(active["status"], "active");
    assert_eq!(
        active["expiresAt"],
        Value::Null,
        "persistent environments never expire"
    );
}

async fn viewers_cannot_request_environments_but_deployers_can(app: TestApp) {
    let viewer = app.token(&[Role::Viewer]);
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &viewer,
        Some(named("preview")),
    )
    .await;
    let problem = problem(response, 403).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("deployer"),
        "{problem}"
    );
    let listed = read(&app, REQUESTS).await;
    assert_eq!(listed["total"], 0, "nothing was stored");
    let deployer = app.token(&[Role::Deployer]);
    let request = submit_as(&app, &deployer, named("preview")).await;
    assert_eq!(request["requestedBy"], app.user.to_string());
    let seen = send(&app, Method::GET, &path(&request), &viewer, None).await;
    assert_eq!(seen.status(), 200, "viewers read requests");
}

async fn every_bad_field_is_named_at_once_and_nothing_is_stored(app: TestApp) {
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(json!({"name": "Not A Slug", "tier": "huge"})),
    )
    .await;
    let problem = problem(response, 400).await;
    assert_eq!(fields(&problem), ["name", "type", "tier"]);
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(json!({"name": "x", "type": "ephemeral", "tier": "small", "colour": "red"})),
    )
    .await;
    let problem = crate::support::problem(response, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("colour"),
        "{problem}"
    );
    assert_eq!(read(&app, REQUESTS).await["total"], 0);
}

async fn a_name_taken_by_an_environment_or_an_open_request_is_a_conflict(app: TestApp) {
    app.create_env(json!({"name": "staging"})).await;
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(named("staging")),
    )
    .await;
    let taken = problem(response, 409).await;
    assert!(
        taken["detail"].as_str().unwrap().contains("`staging`"),
        "{taken}"
    );

    let first = submit(&app, named("preview")).await;
    let response = send(
        &app,
        Method::POST,
        REQUESTS,
        &app.admin(),
        Some(named("preview")),
    )
    .await;
    let open = problem(response, 409).await;
    assert_eq!(
        open["detail"],
        "an open request for an environment named `preview` already exists"
    );
    ok(transition(&app, &first, "reject", &app.admin()).await).await;
    submit(&app, named("preview")).await;
}

async fn an_unknown_component_is_refused_and_a_known_one_is_kept(app: TestApp) {
    let body = json!({"name": "preview", "type": "ephemeral", "tier": "small", "componentId": Uuid::now_v7()});
    let response = send(&app, Method::POST, REQUESTS, &app.admin(), Some(body)).await;
    let problem = problem(response, 400).await;
    assert_eq!(fields(&problem), ["componentId"]);
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/catalog/components",
            json!({"name": "checkout", "kind": "service"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let component: Value = response.json().await.unwrap();
    let request = submit(
        &app,
        json!({"name": "preview", "type": "ephemeral", "tier": "small", "componentId": component["id"]}),
    )
    .await;
    assert_eq!(request["componentId"], component["id"]);
}

async fn the_list_is_an_envelope_newest_first_with_filters_and_pages(app: TestApp) {
    let other_user = Uuid::now_v7();
    let other = app.token_for(app.tenant, other_user, &[Role::Deployer]);
    let first = submit(&app, named("first")).await;
    let second = submit_as(
        &app,
        &other,
        json!({"name": "second", "type": "persistent", "tier": "large"}),
    )
    .await;
    let third = submit(&app, named("third")).await;
    ok(transition(&app, &first, "reject", &app.admin()).await).await;

    let names = |page: &Value| -> Vec<String> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = read(&app, REQUESTS).await;
    assert_eq!(
        (
            all["total"].clone(),
            all["skip"].clone(),
            all["take"].clone()
        ),
        (json!(3), json!(0), json!(20))
    );
    assert_eq!(names(&all), ["third", "second", "first"], "newest first");
    let page = read(&app, &format!("{REQUESTS}?skip=1&take=1")).await;
    assert_eq!(
        (names(&page), page["total"].clone(), page["take"].clone()),
        (vec!["second".to_owned()], json!(3), json!(1))
    );
    assert_eq!(
        names(&read(&app, &format!("{REQUESTS}?status=rejected")).await),
        ["first"]
    );
    assert_eq!(
        names(&read(&app, &format!("{REQUESTS}?type=persistent")).await),
        ["second"]
    );
    assert_eq!(
        names(&read(&app, &format!("{REQUESTS}?requestedBy={other_user}")).await),
        ["second"]
    );
    assert_eq!(
        names(
            &read(
                &app,
                &format!("{REQUESTS}?requestedBy={}&status=pending", app.user)
            )
            .await
        ),
        ["third"]
    );
    assert_eq!(
        read(&app, &format!("{REQUESTS}?organizationId={}", app.tenant)).await["total"],
        3
    );
    let elsewhere = read(
        &app,
        &format!("{REQUESTS}?organizationId={}", Uuid::now_v7()),
    )
    .await;
    assert_eq!(
        (elsewhere["total"].clone(), elsewhere["data"].clone()),
        (json!(0), json!([]))
    );
    let _ = (second, third);
}

async fn the_list_refuses_bad_parameters_naming_each(app: TestApp) {
    let response = app
        .get(&format!(
            "{REQUESTS}?take=101&status=done&type=forever&requestedBy=me&colour=red"
        ))
        .await;
    let problem = problem(response, 400).await;
    let mut named = fields(&problem);
    named.sort();
    assert_eq!(named, ["colour", "requestedBy", "status", "take", "type"]);
    assert_eq!(
        read(&app, &format!("{REQUESTS}?take=100")).await["take"],
        100
    );
}

async fn patch_changes_a_pending_request_for_its_requester_or_an_admin_only(app: TestApp) {
    let requester = app.token(&[Role::Deployer]);
    let stranger = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Deployer]);
    let request = submit_as(&app, &requester, spec_body()).await;
    let response = send(
        &app,
        Method::PATCH,
        &path(&request),
        &stranger,
        Some(json!({"ttlHours": 12})),
    )
    .await;
    problem(response, 403).await;
    let response = send(
        &app,
        Method::PATCH,
        &path(&request),
        &requester,
        Some(json!({"name": "feature-xyz", "description": null, "ttlHours": 12})),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"2\"");
    let changed = ok(response).await;
    assert_eq!(changed["name"], "feature-xyz");
    assert_eq!(changed["ttlHours"], 12);
    assert_eq!(
        changed["description"], "Preview environment for feature XYZ",
        "null leaves it"
    );
    let admin = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Admin]);
    let by_admin = ok(send(
        &app,
        Method::PATCH,
        &path(&request),
        &admin,
        Some(json!({"description": "why"})),
    )
    .await)
    .await;
    assert_eq!(by_admin["description"], "why");
    let response = send(
        &app,
        Method::PATCH,
        &path(&request),
        &requester,
        Some(json!({"ttlHours": 721})),
    )
    .await;
    assert_eq!(fields(&problem(response, 400).await), ["ttlHours"]);

    approve(&app, &request).await;
    let response = send(
        &app,
        Method::PATCH,
        &path(&request),
        &requester,
        Some(json!({"ttlHours": 2})),
    )
    .await;
    let refused = problem(response, 400).await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("only pending requests can be changed"),
        "{refused}"
    );
}

async fn delete_is_for_admins_and_pending_requests_and_the_request_is_gone_after(app: TestApp) {
    let deployer = app.token(&[Role::Deployer]);
    let request = submit_as(&app, &deployer, named("preview")).await;
    problem(
        send(&app, Method::DELETE, &path(&request), &deployer, None).await,
        403,
    )
    .await;
    let response = send(&app, Method::DELETE, &path(&request), &app.admin(), None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.bytes().await.unwrap().len(), 0);
    problem(app.get(&path(&request)).await, 404).await;
    problem(
        send(&app, Method::DELETE, &path(&request), &app.admin(), None).await,
        404,
    )
    .await;
    problem(app.get(&format!("{}/history", path(&request))).await, 404).await;

    let active = submit(&app, named("active")).await;
    approve(&app, &active).await;
    let refused = problem(
        send(&app, Method::DELETE, &path(&active), &app.admin(), None).await,
        400,
    )
    .await;
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("only pending requests can be deleted"));
}

async fn approving_provisions_the_environment_at_once_as_the_spec_example_shows(app: TestApp) {
    let request = submit(&app, spec_body()).await;
    let response = send(
        &app,
        Method::POST,
        &format!("{}/approve", path(&request)),
        &app.admin(),
        Some(json!({"comment": "Enjoy"})),
    )
    .await;
    assert_eq!(response.headers()["etag"], "\"4\"");
    let approved = ok(response).await;
    assert_eq!(approved["id"], request["id"]);
    assert_eq!(approved["name"], "feature-xyz-preview");
    assert_eq!(approved["status"], "active");
    assert_eq!(approved["statusMessage"], "Approved for provisioning");
    assert_eq!(approved["reviewedBy"], app.user.to_string());
    assert_eq!(approved["reviewComment"], "Enjoy");
    let provisioned = time(&approved["provisionedAt"]);
    assert_eq!(
        time(&approved["expiresAt"]),
        provisioned + chrono::Duration::hours(48)
    );
    assert_eq!(approved["updatedAt"], approved["provisionedAt"]);
    let environment = read(
        &app,
        &format!(
            "/api/v1/environments/{}",
            approved["environmentId"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(environment["name"], "feature-xyz-preview");
    assert_eq!(
        environment["description"],
        "Preview environment for feature XYZ"
    );
    assert_eq!(environment["requestId"], request["id"]);
    assert_eq!(environment["expiresAt"], approved["expiresAt"]);
    assert_eq!(environment["status"], "ready");
    assert_eq!(read(&app, &path(&request)).await, approved);
}

async fn only_admins_review_and_only_pending_requests_can_be_approved_or_rejected(app: TestApp) {
    let deployer = app.token(&[Role::Deployer]);
    let request = submit_as(&app, &deployer, named("preview")).await;
    for action in ["approve", "reject", "expire", "retry"] {
        let refused = problem(transition(&app, &request, action, &deployer).await, 403).await;
        assert!(
            refused["detail"].as_str().unwrap().contains("admin"),
            "{action}: {refused}"
        );
    }
    approve(&app, &request).await;
    for (action, from) in [
        ("approve", "active"),
        ("reject", "active"),
        ("retry", "active"),
    ] {
        let refused = problem(transition(&app, &request, action, &app.admin()).await, 400).await;
        assert_eq!(fields(&refused), ["status"]);
        assert!(
            refused["detail"]
                .as_str()
                .unwrap()
                .contains(&format!("cannot move from `{from}`")),
            "{action}: {refused}"
        );
    }
    let unknown = json!({"id": Uuid::now_v7()});
    problem(
        transition(&app, &unknown, "approve", &app.admin()).await,
        404,
    )
    .await;
}

async fn rejecting_answers_the_spec_example(app: TestApp) {
    let request = submit(&app, spec_body()).await;
    let response = send(
        &app,
        Method::POST,
        &format!("{}/reject", path(&request)),
        &app.admin(),
        Some(json!({"comment": "Use the existing staging environment instead"})),
    )
    .await;
    let rejected = ok(response).await;
    assert_eq!(rejected["id"], request["id"]);
    assert_eq!(rejected["name"], "feature-xyz-preview");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["statusMessage"], "Request rejected");
    assert_eq!(rejected["reviewedBy"], app.user.to_string());
    assert_eq!(
        rejected["reviewComment"],
        "Use the existing staging environment instead"
    );
    assert!(time(&rejected["updatedAt"]) >= time(&request["updatedAt"]));
    let refused = problem(
        transition(&app, &request, "approve", &app.admin()).await,
        400,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("`rejected` is final"),
        "{refused}"
    );
}

async fn an_admin_expires_an_active_request_and_its_environment_is_destroyed(app: TestApp) {
    let request = submit(&app, spec_body()).await;
    let refused = problem(
        transition(&app, &request, "expire", &app.admin()).await,
        400,
    )
    .await;
    assert!(refused["detail"]
        .as_str()
        .unwrap()
        .contains("cannot move from `pending` to `expired`"));
    let active = approve(&app, &request).await;
    let expired = ok(transition(&app, &request, "expire", &app.admin()).await).await;
    assert_eq!(expired["id"], request["id"]);
    assert_eq!(expired["name"], "feature-xyz-preview");
    assert_eq!(expired["status"], "expired");
    assert_eq!(
        expired["statusMessage"],
        "Environment expired by administrator"
    );
    let environment = read(
        &app,
        &format!(
            "/api/v1/environments/{}",
            active["environmentId"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(environment["status"], "destroyed");
    problem(
        transition(&app, &request, "expire", &app.admin()).await,
        400,
    )
    .await;
}

async fn the_history_lists_every_move_with_actor_time_and_message(app: TestApp) {
    let requester = app.token(&[Role::Deployer]);
    let admin_id = Uuid::now_v7();
    let admin = app.token_for(app.tenant, admin_id, &[Role::Admin]);
    let request = submit_as(&app, &requester, spec_body()).await;
    let response = send(
        &app,
        Method::POST,
        &format!("{}/approve", path(&request)),
        &admin,
        Some(json!({"comment": "ok"})),
    )
    .await;
    ok(response).await;
    ok(transition(&app, &request, "expire", &admin).await).await;
    let history = read(&app, &format!("{}/history", path(&request))).await;
    let moves: Vec<(Value, Value, Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["from"].clone(),
                h["to"].clone(),
                h["actor"].clone(),
                h["message"].clone(),
            )
        })
        .collect();
    let (user, admin_id) = (json!(app.user.to_string()), json!(admin_id.to_string()));
    assert_eq!(
        moves,
        [
            (
                Value::Null,
                json!("pending"),
                user,
                json!("Request submitted")
            ),
            (
                json!("pending"),
                json!("approved"),
                admin_id.clone(),
                json!("Approved for provisioning")
            ),
            (
                json!("approved"),
                json!("provisioning"),
                Value::Null,
                json!("Provisioning started")
            ),
            (
                json!("provisioning"),
                json!("active"),
                Value::Null,
                json!("Environment provisioned")
            ),
            (
                json!("active"),
                json!("expired"),
                admin_id,
                json!("Environment expired by administrator")
            ),
        ]
    );
    assert_eq!(history[1]["comment"], "ok");
    let times: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| time(&h["at"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

async fn another_organizations_requests_are_not_found_and_not_listed(app: TestApp) {
    let request = submit(&app, named("preview")).await;
    let outsider = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    problem(
        send(&app, Method::GET, &path(&request), &outsider, None).await,
        404,
    )
    .await;
    problem(transition(&app, &request, "approve", &outsider).await, 404).await;
    problem(
        send(&app, Method::DELETE, &path(&request), &outsider, None).await,
        404,
    )
    .await;
    let listed: Value = send(&app, Method::GET, REQUESTS, &outsider, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 0);
    let filtered: Value = send(
        &app,
        Method::GET,
        &format!("{REQUESTS}?organizationId={}", app.tenant),
        &outsider,
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        filtered["total"], 0,
        "naming another organization lists nothing"
    );
    assert_eq!(read(&app, &path(&request)).await["status"], "pending");
}

async fn a_stale_if_match_is_refused_with_412_and_the_current_etag_is_served(app: TestApp) {
    let request = submit(&app, named("preview")).await;
    let response = app
        .request(Method::GET, &path(&request), &app.admin())
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);
    let response = app
        .request(
            Method::POST,
            &format!("{}/approve", path(&request)),
            &app.admin(),
        )
        .header("If-Match", "\"7\"")
        .send()
        .await
        .unwrap();
    let stale = problem(response, 412).await;
    assert!(
        stale["detail"].as_str().unwrap().contains("\"1\""),
        "{stale}"
    );
    assert_eq!(read(&app, &path(&request)).await["status"], "pending");
    let response = app
        .request(
            Method::POST,
            &format!("{}/approve", path(&request)),
            &app.admin(),
        )
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(ok(response).await["status"], "active");
}

async fn the_requester_or_an_admin_sets_and_removes_the_ttl_and_the_request_follows(app: TestApp) {
    let requester = app.token(&[Role::Deployer]);
    let request = submit_as(&app, &requester, spec_body()).await;
    let active = approve(&app, &request).await;
    let ttl = format!(
        "/api/v1/environments/{}/ttl",
        active["environmentId"].as_str().unwrap()
    );
    let stranger = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Deployer]);
    problem(
        send(
            &app,
            Method::PUT,
            &ttl,
            &stranger,
            Some(json!({"minutes": 30})),
        )
        .await,
        403,
    )
    .await;

    let before = chrono::Utc::now();
    let response = send(
        &app,
        Method::PUT,
        &ttl,
        &requester,
        Some(json!({"minutes": 30})),
    )
    .await;
    let environment = ok(response).await;
    let after = chrono::Utc::now();
    let expires = time(&environment["expiresAt"]);
    assert!(
        expires >= before + chrono::Duration::minutes(30) - chrono::Duration::seconds(1)
            && expires <= after + chrono::Duration::minutes(30),
        "{expires}"
    );
    assert_eq!(environment["requestId"], request["id"]);
    let followed = read(&app, &path(&request)).await;
    assert_eq!(
        followed["expiresAt"], environment["expiresAt"],
        "the request's expiry follows"
    );

    let admin = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Admin]);
    let cleared = ok(send(&app, Method::DELETE, &ttl, &admin, None).await).await;
    assert_eq!(cleared["expiresAt"], Value::Null);
    assert_eq!(read(&app, &path(&request)).await["expiresAt"], Value::Null);
    problem(send(&app, Method::DELETE, &ttl, &stranger, None).await, 403).await;

    let plain = app.create_env(json!({"name": "plain"})).await;
    let plain_ttl = format!("/api/v1/environments/{}/ttl", plain["id"].as_str().unwrap());
    problem(
        send(
            &app,
            Method::PUT,
            &plain_ttl,
            &requester,
            Some(json!({"minutes": 5})),
        )
        .await,
        403,
    )
    .await;
    let set = ok(send(
        &app,
        Method::PUT,
        &plain_ttl,
        &app.admin(),
        Some(json!({"minutes": 5})),
    )
    .await)
    .await;
    assert!(set["expiresAt"].is_string());
    problem(
        send(
            &app,
            Method::PUT,
            &format!("/api/v1/environments/{}/ttl", Uuid::now_v7()),
            &app.admin(),
            Some(json!({"minutes": 5})),
        )
        .await,
        404,
    )
    .await;
}

async fn a_ttl_is_refused_for_persistent_environments_and_out_of_range_minutes(app: TestApp) {
    let persistent = submit(
        &app,
        json!({"name": "shared", "type": "persistent", "tier": "small"}),
    )
    .await;
    let active = approve(&app, &persistent).await;
    let ttl = format!(
        "/api/v1/environments/{}/ttl",
        active["environmentId"].as_str().unwrap()
    );
    let refused = problem(
        send(
            &app,
            Method::PUT,
            &ttl,
            &app.admin(),
            Some(json!({"minutes": 5})),
        )
        .await,
        400,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("do not expire"),
        "{refused}"
    );
    let plain = app.create_env(json!({"name": "plain"})).await;
    let plain_ttl = format!("/api/v1/environments/{}/ttl", plain["id"].as_str().unwrap());
    for body in [
        json!({"minutes": 0}),
        json!({"minutes": 720 * 60 + 1}),
        json!({}),
    ] {
        let refused = problem(
            send(
                &app,
                Method::PUT,
                &plain_ttl,
                &app.admin(),
                Some(body.clone()),
            )
            .await,
            400,
        )
        .await;
        assert_eq!(fields(&refused), ["minutes"], "{body}");
    }
    let ephemeral = submit(&app, named("short-lived")).await;
    let active = approve(&app, &ephemeral).await;
    ok(transition(&app, &ephemeral, "expire", &app.admin()).await).await;
    let destroyed_ttl = format!(
        "/api/v1/environments/{}/ttl",
        active["environmentId"].as_str().unwrap()
    );
    let refused = problem(
        send(
            &app,
            Method::PUT,
            &destroyed_ttl,
            &app.admin(),
            Some(json!({"minutes": 5})),
        )
        .await,
        400,
    )
    .await;
    assert!(
        refused["detail"].as_str().unwrap().contains("destroyed"),
        "{refused}"
    );
}

async fn a_create_retried_with_the_same_idempotency_key_adds_one_request(app: TestApp) {
    let mut answers = Vec::new();
    for _ in 0..2 {
        let response = app
            .request(Method::POST, REQUESTS, &app.admin())
            .header("Idempotency-Key", "request-1")
            .json(&spec_body())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        answers.push(response.json::<Value>().await.unwrap());
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(read(&app, REQUESTS).await["total"], 1);
}

async fn a_review_body_that_is_not_json_is_refused(app: TestApp) {
    let request = submit(&app, named("preview")).await;
    let response = app
        .request(
            Method::POST,
            &format!("{}/reject", path(&request)),
            &app.admin(),
        )
        .header("Content-Type", "text/plain")
        .body("no thanks")
        .send()
        .await
        .unwrap();
    problem(response, 415).await;
    let response = send(
        &app,
        Method::POST,
        &format!("{}/reject", path(&request)),
        &app.admin(),
        Some(json!({"comment": 5})),
    )
    .await;
    assert_eq!(fields(&problem(response, 400).await), ["comment"]);
    assert_eq!(
        read(&app, &path(&request)).await["status"],
        "pending",
        "nothing changed"
    );
}

// Servers configured differently: separation of duties, provisioning commands, the reaper.

crate::on_both_databases!(configured:
    approving_own_request_is_refused_when_separation_of_duties_is_on,
    a_provision_command_that_succeeds_makes_the_request_active_in_the_background,
    a_provision_command_that_fails_fails_the_request_with_its_stderr_and_a_retry_provisions_again,
    a_provision_command_that_hangs_is_killed_at_the_timeout_and_fails_the_request,
    the_reaper_expires_environments_whose_ttl_passed_and_runs_the_deprovision_command,
    a_request_left_provisioning_by_a_killed_server_is_taken_over_when_its_lease_runs_out,
);

/// Writes an executable shell script into `dir`.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

async fn approving_own_request_is_refused_when_separation_of_duties_is_on(db: Db) {
    let Some(app) = TestApp::spawn_with(db, &[("TERRANE_REQUESTS_REQUIRE_SOD", "true")]).await
    else {
        return;
    };
    let request = submit(&app, named("preview")).await;
    let refused = problem(
        transition(&app, &request, "approve", &app.admin()).await,
        403,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("separation of duties"),
        "{refused}"
    );
    assert_eq!(read(&app, &path(&request)).await["status"], "pending");
    let other_admin = app.token_for(app.tenant, Uuid::now_v7(), &[Role::Admin]);
    let approved = ok(transition(&app, &request, "approve", &other_admin).await).await;
    assert_eq!(approved["status"], "active");
    let own = submit(&app, named("rejectable")).await;
    let rejected = ok(transition(&app, &own, "reject", &app.admin()).await).await;
    assert_eq!(
        rejected["status"], "rejected",
        "rejecting one's own request is fine"
    );
}

async fn a_provision_command_that_succeeds_makes_the_request_active_in_the_background(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("provisioned");
    let command = script(
        dir.path(),
        "provision.sh",
        &format!(
            "cat > {0}.json\n\
             echo \"$TERRANE_REQUEST_ID $TERRANE_REQUEST_NAME $TERRANE_REQUEST_TYPE $TERRANE_REQUEST_TIER $TERRANE_REQUEST_TTL_HOURS $TERRANE_ORGANIZATION_ID\" > {0}.env\n\
             sleep 1",
            out.display()
        ),
    );
    let Some(app) = TestApp::spawn_with(
        db,
        &[("TERRANE_PROVISION_COMMAND", command.to_str().unwrap())],
    )
    .await
    else {
        return;
    };
    let request = submit(&app, spec_body()).await;
    let approved = approve(&app, &request).await;
    assert_eq!(
        approved["status"], "provisioning",
        "the command runs in the background"
    );
    assert_eq!(approved["statusMessage"], "Approved for provisioning");
    assert_eq!(approved["environmentId"], Value::Null);
    let active = wait_for(&app, &request, "active", Duration::from_secs(20)).await;
    let provisioned = time(&active["provisionedAt"]);
    assert_eq!(
        time(&active["expiresAt"]),
        provisioned + chrono::Duration::hours(48)
    );
    let environment = read(
        &app,
        &format!(
            "/api/v1/environments/{}",
            active["environmentId"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(environment["name"], "feature-xyz-preview");
    assert_eq!(environment["requestId"], request["id"]);

    let stdin: Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
            .unwrap();
    assert_eq!(stdin["id"], request["id"]);
    assert_eq!(stdin["name"], "feature-xyz-preview");
    assert_eq!(stdin["type"], "ephemeral");
    assert_eq!(stdin["status"], "provisioning");
    let vars = std::fs::read_to_string(out.with_extension("env")).unwrap();
    assert_eq!(
        vars.trim(),
        format!(
            "{} feature-xyz-preview ephemeral small 48 {}",
            request["id"].as_str().unwrap(),
            app.tenant
        )
    );
    let history = read(&app, &format!("{}/history", path(&request))).await;
    let to: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].clone())
        .collect();
    assert_eq!(
        to,
        [
            json!("pending"),
            json!("approved"),
            json!("provisioning"),
            json!("active")
        ]
    );
}

async fn a_provision_command_that_fails_fails_the_request_with_its_stderr_and_a_retry_provisions_again(
    db: Db,
) {
    let dir = tempfile::tempdir().unwrap();
    let tried = dir.path().join("tried");
    // Fails the first time, succeeds the second.
    let command = script(
        dir.path(),
        "provision.sh",
        &format!(
            "if [ ! -e {0} ]; then\n  touch {0}\n  echo 'terraform: planning' >&2\n  echo 'Error: quota exceeded for instance type t3.small' >&2\n  exit 2\nfi",
            tried.display()
        ),
    );
    let Some(app) = TestApp::spawn_with(
        db,
        &[("TERRANE_PROVISION_COMMAND", command.to_str().unwrap())],
    )
    .await
    else {
        return;
    };
    let request = submit(&app, named("preview")).await;
    assert_eq!(approve(&app, &request).await["status"], "provisioning");
    let failed = wait_for(&app, &request, "failed", Duration::from_secs(20)).await;
    assert_eq!(
        failed["statusMessage"],
        "the provision command exited with status 2: terraform: planning\nError: quota exceeded for instance type t3.small"
    );
    assert_eq!(failed["environmentId"], Value::Null);
    let listed = read(&app, "/api/v1/environments?name=preview").await;
    assert_eq!(
        listed,
        json!([]),
        "no environment without a successful provisioning"
    );

    let deployer = app.token(&[Role::Deployer]);
    problem(transition(&app, &request, "retry", &deployer).await, 403).await;
    let retried = ok(transition(&app, &request, "retry", &app.admin()).await).await;
    assert_eq!(retried["status"], "provisioning");
    let active = wait_for(&app, &request, "active", Duration::from_secs(20)).await;
    assert!(active["environmentId"].is_string());
    let history = read(&app, &format!("{}/history", path(&request))).await;
    let moves: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{}->{}",
                h["from"].as_str().unwrap_or("-"),
                h["to"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            "-->pending",
            "pending->approved",
            "approved->provisioning",
            "provisioning->failed",
            "failed->provisioning",
            "provisioning->active"
        ]
    );
    assert_eq!(
        history[4]["actor"],
        app.user.to_string(),
        "the retry is the admin's"
    );
    problem(transition(&app, &request, "retry", &app.admin()).await, 400).await;
}

async fn a_provision_command_that_hangs_is_killed_at_the_timeout_and_fails_the_request(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let command = script(
        dir.path(),
        "provision.sh",
        "echo 'waiting for the cluster' >&2\nsleep 120",
    );
    let Some(app) = TestApp::spawn_with(
        db,
        &[
            ("TERRANE_PROVISION_COMMAND", command.to_str().unwrap()),
            ("TERRANE_PROVISION_TIMEOUT", "2s"),
        ],
    )
    .await
    else {
        return;
    };
    let request = submit(&app, named("preview")).await;
    let started = Instant::now();
    assert_eq!(approve(&app, &request).await["status"], "provisioning");
    let failed = wait_for(&app, &request, "failed", Duration::from_secs(20)).await;
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before the timeout"
    );
    assert_eq!(
        failed["statusMessage"],
        "the provision command ran longer than 2s and was stopped: waiting for the cluster"
    );
}

/// An admin token of a fresh tenant, for tests that start servers themselves.
fn admin_token(tenant: Uuid, user: Uuid) -> String {
    let keys = terrane_http::TokenKeys::new(SECRET.as_bytes()).unwrap();
    let actor = terrane_domain::Actor {
        user: terrane_domain::UserId(user),
        tenant: terrane_domain::TenantId(tenant),
        roles: vec![Role::Admin],
    };
    let now = chrono::Utc::now();
    keys.issue(&actor, now, now + chrono::Duration::hours(1))
        .unwrap()
}

async fn a_request_left_provisioning_by_a_killed_server_is_taken_over_when_its_lease_runs_out(
    db: Db,
) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let started = dir.path().join("started");
    // The first run signals that it started, then hangs; later runs succeed at once.
    let command = script(
        dir.path(),
        "provision.sh",
        &format!(
            "if [ ! -e {0} ]; then\n  touch {0}\n  sleep 30\n  exit 1\nfi\necho \"$TERRANE_REQUEST_ID\" >> {0}.done",
            started.display()
        ),
    );
    let envs = [
        ("TERRANE_JWT_SECRET", SECRET),
        ("TERRANE_PROVISION_COMMAND", command.to_str().unwrap()),
        ("TERRANE_PROVISION_TIMEOUT", "3s"),
        ("TERRANE_REAPER_INTERVAL_SECS", "1"),
    ];
    let (first, base) = start_server(&url, &envs);
    let mut replicas = Replicas(vec![first]);
    let client = reqwest::Client::new();
    let token = admin_token(Uuid::now_v7(), Uuid::now_v7());
    let created: Value = client
        .post(format!("{base}{REQUESTS}"))
        .bearer_auth(&token)
        .json(&named("preview"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let request = format!("{REQUESTS}/{}", created["id"].as_str().unwrap());
    let approved: Value = client
        .post(format!("{base}{request}/approve"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(approved["status"], "provisioning");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the provision command never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The server dies mid-provisioning, without a chance to record anything.
    let mut dead = replicas.0.remove(0);
    dead.kill().unwrap();
    dead.wait().unwrap();

    let (second, base) = start_server(&url, &envs);
    replicas.0.push(second);
    let read = || async {
        client
            .get(format!("{base}{request}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(
        read().await["status"],
        "provisioning",
        "still leased to the dead server"
    );
    // The lease is the timeout (3 s) plus a margin (15 s) from the claim.
    let deadline = Instant::now() + Duration::from_secs(40);
    let active = loop {
        let current = read().await;
        if current["status"] == "active" {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the request was not taken over within 40 s: {current}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(active["environmentId"].is_string());
    let done = std::fs::read_to_string(started.with_extension("done")).unwrap();
    assert_eq!(
        done.lines().count(),
        1,
        "the second server ran the command once"
    );
    let history: Value = client
        .get(format!("{base}{request}/history"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let to: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["to"].clone())
        .collect();
    assert_eq!(
        to,
        [
            json!("pending"),
            json!("approved"),
            json!("provisioning"),
            json!("active")
        ]
    );
}

/// Moves an environment's expiry (and its request's) into the past, as if its time to live
/// had been set long ago: the API takes whole minutes, and a test should not wait for them.
fn backdate(database_url: &str, environment: Option<&str>) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let past = "2020-01-01T00:00:00.000000Z";
    let filter = environment.map_or_else(
        || "expires_at IS NOT NULL".to_owned(),
        |id| format!("id = '{id}'"),
    );
    let request_filter = environment.map_or_else(
        || "expires_at IS NOT NULL".to_owned(),
        |id| format!("environment_id = '{id}'"),
    );
    let sql = format!(
        "UPDATE environments SET expires_at = '{past}' WHERE {filter}; \
         UPDATE environment_requests SET expires_at = '{past}' WHERE {request_filter};"
    );
    if let Some(path) = database_url.strip_prefix("sqlite://") {
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        conn.batch_execute(&format!("PRAGMA busy_timeout = 10000; {sql}"))
            .unwrap();
    } else {
        diesel::PgConnection::establish(database_url)
            .unwrap()
            .batch_execute(&sql)
            .unwrap();
    }
}

async fn the_reaper_expires_environments_whose_ttl_passed_and_runs_the_deprovision_command(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deprovisioned.log");
    let command = script(
        dir.path(),
        "deprovision.sh",
        &format!(
            "echo \"$TERRANE_ENVIRONMENT_ID $TERRANE_ENVIRONMENT_NAME $TERRANE_REQUEST_ID\" >> {}",
            log.display()
        ),
    );
    let Some(app) = TestApp::spawn_with(
        db,
        &[
            ("TERRANE_DEPROVISION_COMMAND", command.to_str().unwrap()),
            ("TERRANE_REAPER_INTERVAL_SECS", "1"),
        ],
    )
    .await
    else {
        return;
    };
    let request = submit(&app, named("preview")).await;
    let active = approve(&app, &request).await;
    assert_eq!(
        active["status"], "active",
        "without a provision command, approval is inline"
    );
    let keeper = submit(&app, named("keeper")).await;
    approve(&app, &keeper).await;
    let environment = active["environmentId"].as_str().unwrap();
    backdate(&app.database_url, Some(environment));

    let expired = wait_for(&app, &request, "expired", Duration::from_secs(20)).await;
    assert_eq!(expired["statusMessage"], "TTL elapsed");
    let env = read(&app, &format!("/api/v1/environments/{environment}")).await;
    assert_eq!(env["status"], "destroyed");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        lines.trim(),
        format!("{environment} preview {}", request["id"].as_str().unwrap())
    );
    let history = read(&app, &format!("{}/history", path(&request))).await;
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["from"].clone(),
            last["to"].clone(),
            last["actor"].clone(),
            last["message"].clone()
        ),
        (
            json!("active"),
            json!("expired"),
            Value::Null,
            json!("TTL elapsed")
        )
    );
    // A few more runs of the reaper change nothing, and leave the unexpired one alone.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
    assert_eq!(read(&app, &path(&keeper)).await["status"], "active");
}

/// Three replicas on one PostgreSQL database reap every second; 200 ephemeral environments
/// expire at the same moment. Each must be deprovisioned (one line in the command's log) and
/// expired (one history row) exactly once.
#[tokio::test]
async fn three_replicas_expire_and_deprovision_each_of_200_environments_exactly_once() {
    const COUNT: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(Db::Postgres, &dir) else {
        return;
    };
    let log = dir.path().join("deprovisioned.log");
    // Slow enough that the replicas' batches overlap in time.
    let command = script(
        dir.path(),
        "deprovision.sh",
        // $PPID: the replica that ran it.
        &format!(
            "sleep 0.05\necho \"$TERRANE_ENVIRONMENT_ID $PPID\" >> {}",
            log.display()
        ),
    );
    let envs = [
        ("TERRANE_JWT_SECRET", SECRET),
        ("TERRANE_DEPROVISION_COMMAND", command.to_str().unwrap()),
        ("TERRANE_REAPER_INTERVAL_SECS", "1"),
        ("TERRANE_REAPER_BATCH_SIZE", "25"),
    ];
    let mut replicas = Replicas(Vec::new());
    let mut bases = Vec::new();
    for _ in 0..3 {
        let (child, base) = start_server(&url, &envs);
        replicas.0.push(child);
        bases.push(base);
    }
    let client = reqwest::Client::new();
    let keys = terrane_http::TokenKeys::new(SECRET.as_bytes()).unwrap();
    let tenant = Uuid::now_v7();
    let token = {
        let actor = terrane_domain::Actor {
            user: terrane_domain::UserId(Uuid::now_v7()),
            tenant: terrane_domain::TenantId(tenant),
            roles: vec![Role::Admin],
        };
        let now = chrono::Utc::now();
        keys.issue(&actor, now, now + chrono::Duration::hours(1))
            .unwrap()
    };
    let mut requests = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let base = &bases[i % bases.len()];
        let created: Value = client
            .post(format!("{base}{REQUESTS}"))
            .bearer_auth(&token)
            .json(&named(&format!("preview-{i}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let approved: Value = client
            .post(format!(
                "{base}{REQUESTS}/{}/approve",
                created["id"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(approved["status"], "active", "{approved}");
        requests.push(approved);
    }
    backdate(&url, None);

    let base = &bases[0];
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let expired: Value = client
            .get(format!("{base}{REQUESTS}?status=expired&take=1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if expired["total"] == COUNT {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {COUNT} requests expired within 90 s",
            expired["total"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Let every replica reap a few more times: nothing may be expired or deprovisioned twice.
    tokio::time::sleep(Duration::from_millis(3000)).await;

    let lines = std::fs::read_to_string(&log).unwrap();
    let mut by_replica = std::collections::BTreeMap::<&str, usize>::new();
    for line in lines.lines() {
        *by_replica
            .entry(line.split(' ').nth(1).unwrap_or("?"))
            .or_default() += 1;
    }
    eprintln!("deprovisionings per replica (by pid): {by_replica:?}");
    let mut deprovisioned: Vec<&str> = lines
        .lines()
        .map(|line| line.split(' ').next().unwrap_or(""))
        .collect();
    assert_eq!(
        deprovisioned.len(),
        COUNT,
        "one deprovisioning per environment"
    );
    deprovisioned.sort_unstable();
    deprovisioned.dedup();
    assert_eq!(
        deprovisioned.len(),
        COUNT,
        "no environment deprovisioned twice"
    );
    for request in &requests {
        let environment = request["environmentId"].as_str().unwrap();
        assert!(
            deprovisioned.binary_search(&environment).is_ok(),
            "{environment} was not deprovisioned"
        );
        let history: Value = client
            .get(format!(
                "{base}{REQUESTS}/{}/history",
                request["id"].as_str().unwrap()
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expiries = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["to"] == "expired")
            .count();
        assert_eq!(expiries, 1, "{history}");
        let env: Value = client
            .get(format!("{base}/api/v1/environments/{environment}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(env["status"], "destroyed");
    }
}

struct Replicas(Vec<std::process::Child>);

impl Drop for Replicas {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
