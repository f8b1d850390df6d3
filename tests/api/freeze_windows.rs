use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

on_both_backends!(
    the_seed_example_creates_a_window_naming_its_creator,
    end_must_be_after_start_and_every_bad_field_is_named,
    overlapping_windows_are_allowed,
    the_list_is_a_bare_array_ordered_by_start_with_a_total,
    the_active_filter_keeps_current_windows_or_the_past_and_future_ones,
    an_environment_shows_that_it_is_frozen_and_by_which_windows,
    deleting_a_window_answers_deleted_and_the_environment_thaws,
    a_window_is_found_only_through_its_own_environment,
    another_tenants_environments_and_windows_are_not_found,
    viewers_and_deployers_read_windows_but_only_admins_create_or_delete_them,
    deleting_an_environment_deletes_its_windows_with_it,
    a_create_retried_with_the_same_idempotency_key_adds_one_window,
);

fn windows_of(env: &Value) -> String {
    format!(
        "/api/v1/environments/{}/freeze-windows",
        env["id"].as_str().unwrap()
    )
}

fn env_path(env: &Value) -> String {
    format!("/api/v1/environments/{}", env["id"].as_str().unwrap())
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A window from `start` to `end` hours from now.
fn hours(start: i64, end: i64, reason: &str) -> Value {
    let now = Utc::now();
    json!({
        "start": time(now + Duration::hours(start)),
        "end": time(now + Duration::hours(end)),
        "reason": reason,
    })
}

async fn freeze(app: &TestApp, env: &Value, body: Value) -> Value {
    let response = app.send_json(Method::POST, &windows_of(env), body).await;
    assert_eq!(response.status(), 201, "creating a freeze window");
    response.json().await.unwrap()
}

async fn list(app: &TestApp, env: &Value, query: &str) -> (Value, String) {
    let response = app.get(&format!("{}{query}", windows_of(env))).await;
    assert_eq!(response.status(), 200, "{query}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), total)
}

fn reasons(windows: &Value) -> Vec<&str> {
    windows
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["reason"].as_str().unwrap())
        .collect()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let request = app.request(method, path, token);
    match body {
        Some(body) => request.json(&body),
        None => request,
    }
    .send()
    .await
    .unwrap()
}

async fn the_seed_example_creates_a_window_naming_its_creator(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let response = app
        .send_json(
            Method::POST,
            &windows_of(&env),
            json!({
                "start": "2026-01-15T00:00:00Z",
                "end": "2026-01-20T00:00:00Z",
                "reason": "Holiday freeze",
                "exceptions": [alice, bob]
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("{}/{}", windows_of(&env), body["id"].as_str().unwrap())
    );
    assert_eq!(body["environmentId"], env["id"]);
    assert_eq!(body["start"], "2026-01-15T00:00:00Z");
    assert_eq!(body["end"], "2026-01-20T00:00:00Z");
    assert_eq!(body["reason"], "Holiday freeze");
    assert_eq!(body["exceptions"], json!([alice, bob]));
    assert_eq!(body["createdBy"], app.user.to_string(), "the caller");
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(fetched, body);

    let offset = freeze(
        &app,
        &env,
        json!({"start": "2026-02-01T01:00:00+01:00", "end": "2026-02-02T00:00:00Z", "reason": "Audit"}),
    )
    .await;
    assert_eq!(offset["start"], "2026-02-01T00:00:00Z", "kept in UTC");
    assert_eq!(offset["exceptions"], json!([]), "no exceptions by default");
}

async fn end_must_be_after_start_and_every_bad_field_is_named(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let url = windows_of(&env);
    let post = |body: Value| app.send_json(Method::POST, &url, body);
    let backwards = post(
        json!({"start": "2026-01-20T00:00:00Z", "end": "2026-01-15T00:00:00Z", "reason": "x"}),
    )
    .await;
    let body = problem(backwards, 400).await;
    assert_eq!(fields(&body), ["end"]);
    assert!(
        body["detail"].as_str().unwrap().contains("after start"),
        "{body}"
    );
    let empty = post(
        json!({"start": "2026-01-15T00:00:00Z", "end": "2026-01-15T00:00:00Z", "reason": "x"}),
    )
    .await;
    assert_eq!(fields(&problem(empty, 400).await), ["end"]);
    let everything = post(json!({
        "start": "next monday",
        "end": "2026-01-15",
        "reason": "  ",
        "exceptions": [Uuid::now_v7(), "bob"]
    }))
    .await;
    assert_eq!(
        fields(&problem(everything, 400).await),
        ["start", "end", "reason", "exceptions[1]"]
    );
    let missing = post(json!({})).await;
    assert_eq!(
        fields(&problem(missing, 400).await),
        ["start", "end", "reason"]
    );
    let unknown = post(json!({"start": "2026-01-15T00:00:00Z", "end": "2026-01-16T00:00:00Z", "reason": "x", "until": "later"})).await;
    problem(unknown, 400).await;
    let not_a_list = post(json!({"start": "2026-01-15T00:00:00Z", "end": "2026-01-16T00:00:00Z", "reason": "x", "exceptions": "bob"})).await;
    assert_eq!(fields(&problem(not_a_list, 400).await), ["exceptions"]);
    let missing_env = app
        .send_json(
            Method::POST,
            &format!("/api/v1/environments/{}/freeze-windows", Uuid::now_v7()),
            hours(0, 1, "x"),
        )
        .await;
    problem(missing_env, 404).await;
    let bad_env = app
        .send_json(
            Method::POST,
            "/api/v1/environments/prod/freeze-windows",
            hours(0, 1, "x"),
        )
        .await;
    assert_eq!(fields(&problem(bad_env, 400).await), ["envId"]);
    assert_eq!(list(&app, &env, "").await.1, "0", "nothing was written");
}

async fn overlapping_windows_are_allowed(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    freeze(&app, &env, hours(-1, 5, "outer")).await;
    freeze(&app, &env, hours(1, 2, "inner")).await;
    freeze(&app, &env, hours(-1, 5, "same")).await;
    assert_eq!(list(&app, &env, "").await.1, "3");
}

async fn the_list_is_a_bare_array_ordered_by_start_with_a_total(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let other = app.create_env(json!({"name": "staging"})).await;
    freeze(&app, &env, hours(48, 50, "third")).await;
    freeze(&app, &env, hours(-48, -47, "first")).await;
    freeze(&app, &env, hours(1, 2, "second")).await;
    freeze(&app, &other, hours(0, 1, "elsewhere")).await;
    let (windows, total) = list(&app, &env, "").await;
    assert!(windows.is_array());
    assert_eq!(reasons(&windows), ["first", "second", "third"]);
    assert_eq!(total, "3");
    let (empty, total) = list(&app, &app.create_env(json!({"name": "dev"})).await, "").await;
    assert_eq!((empty, total.as_str()), (json!([]), "0"));
}

async fn the_active_filter_keeps_current_windows_or_the_past_and_future_ones(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    freeze(&app, &env, hours(2, 3, "future")).await;
    freeze(&app, &env, hours(-3, -2, "past")).await;
    freeze(&app, &env, hours(-1, 1, "now")).await;
    freeze(&app, &env, hours(-2, 2, "also now")).await;
    let (active, total) = list(&app, &env, "?active=true").await;
    assert_eq!(
        (reasons(&active), total.as_str()),
        (vec!["also now", "now"], "2")
    );
    let (inactive, total) = list(&app, &env, "?active=false").await;
    assert_eq!(
        (reasons(&inactive), total.as_str()),
        (vec!["past", "future"], "2")
    );
    assert_eq!(list(&app, &env, "").await.1, "4");
    let bad = app
        .get(&format!("{}?active=maybe&when=now", windows_of(&env)))
        .await;
    let mut named = fields(&problem(bad, 400).await);
    named.sort();
    assert_eq!(named, ["active", "when"]);
}

async fn an_environment_shows_that_it_is_frozen_and_by_which_windows(app: TestApp) {
    let created = app.create_env(json!({"name": "production"})).await;
    assert_eq!(created["isFrozen"], false);
    assert_eq!(created["activeFreezeWindows"], json!([]));
    let thawed = app.create_env(json!({"name": "staging"})).await;
    freeze(&app, &thawed, hours(-3, -2, "over")).await;
    freeze(&app, &thawed, hours(2, 3, "coming")).await;
    freeze(&app, &created, hours(5, 6, "later")).await;
    let second = freeze(&app, &created, hours(-1, 1, "hotfix window")).await;
    let first = freeze(&app, &created, hours(-2, 2, "Holiday freeze")).await;

    let one: Value = app.get(&env_path(&created)).await.json().await.unwrap();
    assert_eq!(one["isFrozen"], true);
    assert_eq!(
        one["activeFreezeWindows"],
        json!([first, second]),
        "the active ones, by start"
    );

    let listed: Value = app.get("/api/v1/environments").await.json().await.unwrap();
    let by_name = |name: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("production")["isFrozen"], true);
    assert_eq!(
        by_name("production")["activeFreezeWindows"],
        json!([first, second])
    );
    assert_eq!(
        by_name("staging")["isFrozen"],
        false,
        "past and future windows do not freeze"
    );
    assert_eq!(by_name("staging")["activeFreezeWindows"], json!([]));

    let patched: Value = app
        .send_json(
            Method::PATCH,
            &env_path(&created),
            json!({"displayName": "Prod"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        patched["isFrozen"], true,
        "updates answer the same representation"
    );
    assert_eq!(patched["activeFreezeWindows"].as_array().unwrap().len(), 2);
    let put: Value = app
        .send_json(
            Method::PUT,
            &env_path(&created),
            json!({"displayName": "Production"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(put["isFrozen"], true);
}

async fn deleting_a_window_answers_deleted_and_the_environment_thaws(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let window = freeze(&app, &env, hours(-1, 1, "incident")).await;
    let kept = freeze(&app, &env, hours(3, 4, "later")).await;
    let path = format!("{}/{}", windows_of(&env), window["id"].as_str().unwrap());
    let response = send(&app, Method::DELETE, &path, &app.admin(), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(app.get(&path).await, 404).await;
    problem(
        send(&app, Method::DELETE, &path, &app.admin(), None).await,
        404,
    )
    .await;
    let (left, _) = list(&app, &env, "").await;
    assert_eq!(left, json!([kept]));
    let now: Value = app.get(&env_path(&env)).await.json().await.unwrap();
    assert_eq!(
        (&now["isFrozen"], &now["activeFreezeWindows"]),
        (&json!(false), &json!([]))
    );
}

async fn a_window_is_found_only_through_its_own_environment(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let other = app.create_env(json!({"name": "staging"})).await;
    let window = freeze(&app, &env, hours(-1, 1, "incident")).await;
    let id = window["id"].as_str().unwrap();
    let wrong = format!("{}/{id}", windows_of(&other));
    problem(app.get(&wrong).await, 404).await;
    problem(
        send(&app, Method::DELETE, &wrong, &app.admin(), None).await,
        404,
    )
    .await;
    let unknown = format!("{}/{}", windows_of(&env), Uuid::now_v7());
    problem(
        send(&app, Method::DELETE, &unknown, &app.admin(), None).await,
        404,
    )
    .await;
    let bad = format!("{}/not-a-uuid", windows_of(&env));
    assert_eq!(
        fields(&problem(app.get(&bad).await, 400).await),
        ["windowId"]
    );
    assert_eq!(list(&app, &env, "").await.0, json!([window]), "still there");
}

async fn another_tenants_environments_and_windows_are_not_found(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let window = freeze(&app, &env, hours(-1, 1, "incident")).await;
    let path = format!("{}/{}", windows_of(&env), window["id"].as_str().unwrap());
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    problem(
        send(&app, Method::GET, &windows_of(&env), &stranger, None).await,
        404,
    )
    .await;
    problem(
        send(
            &app,
            Method::POST,
            &windows_of(&env),
            &stranger,
            Some(hours(0, 1, "mine")),
        )
        .await,
        404,
    )
    .await;
    problem(send(&app, Method::GET, &path, &stranger, None).await, 404).await;
    problem(
        send(&app, Method::DELETE, &path, &stranger, None).await,
        404,
    )
    .await;
    let (windows, _) = list(&app, &env, "").await;
    assert_eq!(windows, json!([window]), "untouched");
}

async fn viewers_and_deployers_read_windows_but_only_admins_create_or_delete_them(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let window = freeze(&app, &env, hours(-1, 1, "incident")).await;
    let path = format!("{}/{}", windows_of(&env), window["id"].as_str().unwrap());
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        let listed = send(&app, Method::GET, &windows_of(&env), &token, None).await;
        assert_eq!(listed.status(), 200, "{role} lists");
        assert_eq!(
            send(&app, Method::GET, &path, &token, None).await.status(),
            200
        );
        let seen: Value = send(&app, Method::GET, &env_path(&env), &token, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(seen["isFrozen"], true, "{role} sees the freeze");
        problem(
            send(
                &app,
                Method::POST,
                &windows_of(&env),
                &token,
                Some(hours(0, 1, "x")),
            )
            .await,
            403,
        )
        .await;
        problem(send(&app, Method::DELETE, &path, &token, None).await, 403).await;
    }
    assert_eq!(list(&app, &env, "").await.0, json!([window]));
}

async fn deleting_an_environment_deletes_its_windows_with_it(app: TestApp) {
    let env = app.create_env(json!({"name": "review-7"})).await;
    let kept = app.create_env(json!({"name": "production"})).await;
    let window = freeze(&app, &env, hours(-1, 1, "incident")).await;
    freeze(&app, &env, hours(2, 3, "later")).await;
    let survivor = freeze(&app, &kept, hours(-1, 1, "kept")).await;
    // Without the cascade, the windows' foreign key would refuse this delete.
    let response = send(&app, Method::DELETE, &env_path(&env), &app.admin(), None).await;
    assert_eq!(response.status(), 200);
    problem(app.get(&windows_of(&env)).await, 404).await;
    let path = format!("{}/{}", windows_of(&env), window["id"].as_str().unwrap());
    problem(app.get(&path).await, 404).await;
    assert_eq!(list(&app, &kept, "").await.0, json!([survivor]));
}

async fn a_create_retried_with_the_same_idempotency_key_adds_one_window(app: TestApp) {
    let env = app.create_env(json!({"name": "production"})).await;
    let token = app.admin();
    let body = hours(-1, 1, "incident");
    let post = || {
        app.request(Method::POST, &windows_of(&env), &token)
            .header("Idempotency-Key", "freeze-1")
            .json(&body)
            .send()
    };
    let first: Value = post().await.unwrap().json().await.unwrap();
    let retry = post().await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first);
    assert_eq!(list(&app, &env, "").await.1, "1");
}
