//! What the dashboard stands on: the page and its assets, the matrix as of a time, the diff
//! of two environments, the DORA measures, `committedAt`, conditional GETs of lists and the
//! security headers.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use terrane_domain::Role;

on_both_backends!(
    the_page_and_its_assets_are_served_with_their_types_cache_headers_and_policy,
    the_matrix_as_of_a_time_shows_what_ran_then,
    the_matrix_as_of_needs_an_rfc_3339_time,
    the_diff_lists_what_this_environment_has_and_the_other_lacks_first,
    the_diff_needs_another_environment_of_the_organization,
    dora_measures_the_ledger_of_an_environment,
    dora_refuses_a_backwards_window_and_needs_an_environment,
    a_list_answers_304_to_its_own_etag_until_it_changes,
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

/// Records a deployment and moves it through `steps`.
async fn deploy(app: &TestApp, body: Value, steps: &[&str]) -> Value {
    let response = app
        .send_json(Method::POST, "/api/v1/deployments", body)
        .await;
    assert_eq!(response.status(), 201, "recording a deployment");
    let mut deployment: Value = response.json().await.unwrap();
    for step in steps {
        deployment = transition(app, &deployment, step).await;
    }
    deployment
}

async fn succeed(app: &TestApp, c: &Value, e: &Value, version: &str) -> Value {
    deploy(
        app,
        json!({"componentId": id(c), "environmentId": id(e), "version": version}),
        &["in_progress", "succeeded"],
    )
    .await
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let response = app.get(path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn the_page_and_its_assets_are_served_with_their_types_cache_headers_and_policy(
    app: TestApp,
) {
    let page = app
        .client
        .get(format!("{}/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(header(&page, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let csp = header(&page, "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    let etag = header(&page, "etag");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script type=\"module\" src=\"/assets/app.js\">"));
    // Revalidated, not downloaded again.
    let again = app
        .client
        .get(format!("{}/", app.base))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    for (asset, kind) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("matrix.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
    ] {
        let response = app
            .client
            .get(format!("{}/assets/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        assert_eq!(header(&response, "content-type"), kind, "{asset}");
        assert!(!header(&response, "etag").is_empty(), "{asset}");
    }
    let missing = app
        .client
        .get(format!("{}/assets/nothing.js", app.base))
        .send()
        .await
        .unwrap();
    problem(missing, 404).await;
    // API answers run nothing at all.
    let api = app.get("/api/v1/deployments/matrix").await;
    assert_eq!(
        header(&api, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
}

async fn the_matrix_as_of_a_time_shows_what_ran_then(app: TestApp) {
    let web = component(&app, "web").await;
    let dev = app
        .create_env(json!({"name": "dev", "orderIndex": 1}))
        .await;
    let v1 = succeed(&app, &web, &dev, "v1").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let v2 = succeed(&app, &web, &dev, "v2").await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    transition(&app, &v2, "rolled_back").await;
    let rolled_back_at = get_ok(&app, &format!("/api/v1/deployments/{}", id(&v2))).await
        ["updatedAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = |time: &str| {
        let app = &app;
        let time = time.to_owned();
        async move {
            let body = get_ok(
                app,
                &format!(
                    "/api/v1/deployments/matrix?asOf={}",
                    time.replace('+', "%2B")
                ),
            )
            .await;
            body[0]["environments"]["dev"]["version"].clone()
        }
    };
    let v1_done = v1["finishedAt"].as_str().unwrap();
    let v2_done = v2["finishedAt"].as_str().unwrap();
    assert_eq!(at("2020-01-01T00:00:00Z").await, Value::Null);
    assert_eq!(at(v1_done).await, "v1");
    assert_eq!(at(v2_done).await, "v2");
    assert_eq!(at(&rolled_back_at).await, "v1", "after the rollback");
    // Now, as the plain matrix says.
    let now = get_ok(&app, "/api/v1/deployments/matrix").await;
    assert_eq!(now[0]["environments"]["dev"]["version"], "v1");
    assert_eq!(at("2999-01-01T00:00:00+00:00").await, "v1");
}

async fn the_matrix_as_of_needs_an_rfc_3339_time(app: TestApp) {
    let response = app.get("/api/v1/deployments/matrix?asOf=yesterday").await;
    let body = problem(response, 400).await;
    assert_eq!(fields(&body), ["asOf"]);
    let nobody = app
        .client
        .get(format!(
            "{}/api/v1/deployments/matrix?asOf=2026-01-01T00:00:00Z",
            app.base
        ))
        .send()
        .await
        .unwrap();
    problem(nobody, 401).await;
}

async fn the_diff_lists_what_this_environment_has_and_the_other_lacks_first(app: TestApp) {
    let staging = app
        .create_env(json!({"name": "staging", "orderIndex": 2}))
        .await;
    let prod = app
        .create_env(json!({"name": "production", "orderIndex": 3}))
        .await;
    let (web, api, search, billing, worker) = (
        component(&app, "web").await,
        component(&app, "api").await,
        component(&app, "search").await,
        component(&app, "billing").await,
        component(&app, "worker").await,
    );
    succeed(&app, &web, &staging, "v2").await;
    succeed(&app, &web, &prod, "v1").await;
    succeed(&app, &api, &staging, "v5").await;
    succeed(&app, &search, &staging, "v9").await;
    succeed(&app, &billing, &prod, "v3").await;
    succeed(&app, &worker, &staging, "v1").await;
    succeed(&app, &worker, &prod, "v1").await;
    let viewer = app.token(&[Role::Viewer]);
    let response = app
        .request(
            Method::GET,
            &format!(
                "/api/v1/environments/{}/diff?against={}",
                id(&staging),
                id(&prod)
            ),
            &viewer,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["environmentId"], staging["id"]);
    assert_eq!(body["againstId"], prod["id"]);
    let lines: Vec<(String, Value, Value, bool, String)> = body["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["componentName"].as_str().unwrap().to_owned(),
                l["version"].clone(),
                l["againstVersion"].clone(),
                l["differs"].as_bool().unwrap(),
                l["comparison"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let line = |name: &str, here: Value, there: Value, differs: bool, how: &str| {
        (name.to_owned(), here, there, differs, how.to_owned())
    };
    assert_eq!(
        lines,
        vec![
            line("api", json!("v5"), Value::Null, true, "onlyHere"),
            line("search", json!("v9"), Value::Null, true, "onlyHere"),
            line("web", json!("v2"), json!("v1"), true, "differs"),
            line("billing", Value::Null, json!("v3"), true, "onlyThere"),
            line("worker", json!("v1"), json!("v1"), false, "same"),
        ]
    );
}

async fn the_diff_needs_another_environment_of_the_organization(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}/diff", id(&dev));
    let body = problem(app.get(&path).await, 400).await;
    assert_eq!(fields(&body), ["against"]);
    let body = problem(app.get(&format!("{path}?against=nope")).await, 400).await;
    assert_eq!(fields(&body), ["against"]);
    // Another organization's environment is as missing as one that never existed.
    let other = app.token_for(uuid::Uuid::now_v7(), app.user, &[Role::Admin]);
    let theirs: Value = app
        .request(Method::POST, "/api/v1/environments", &other)
        .json(&json!({"name": "theirs"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    problem(
        app.get(&format!("{path}?against={}", id(&theirs))).await,
        404,
    )
    .await;
}

async fn dora_measures_the_ledger_of_an_environment(app: TestApp) {
    let prod = app.create_env(json!({"name": "prod"})).await;
    let elsewhere = app.create_env(json!({"name": "dev"})).await;
    let web = component(&app, "web").await;
    let committed = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let body = |version: &str, env: &Value| {
        json!({"componentId": id(&web), "environmentId": id(env), "version": version,
               "committedAt": committed})
    };
    // Three succeed, one of them rolled back afterwards; one fails; one stays pending;
    // one succeeds elsewhere.
    let first = deploy(&app, body("v1", &prod), &["in_progress", "succeeded"]).await;
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(first["committedAt"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(&committed).unwrap(),
        "committedAt reads back"
    );
    let stored = get_ok(&app, &format!("/api/v1/deployments/{}", id(&first))).await;
    assert_eq!(stored["committedAt"], first["committedAt"], "and is stored");
    deploy(&app, body("v2", &prod), &["in_progress", "failed"]).await;
    deploy(&app, body("v3", &prod), &["in_progress", "succeeded"]).await;
    deploy(
        &app,
        body("v4", &prod),
        &["in_progress", "succeeded", "rolled_back"],
    )
    .await;
    deploy(&app, body("v5", &prod), &[]).await;
    deploy(&app, body("v1", &elsewhere), &["in_progress", "succeeded"]).await;

    let now = chrono::Utc::now();
    let micros =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let (from, to) = (
        micros(now - chrono::Duration::days(1)),
        micros(now + chrono::Duration::days(1)),
    );
    let m = get_ok(
        &app,
        &format!(
            "/api/v1/insights/dora?environmentId={}&from={}&to={}",
            id(&prod),
            from.replace('+', "%2B"),
            to.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(m["environmentId"], prod["id"]);
    assert_eq!(m["days"], 2.0);
    // v1, v3, v4 succeeded: 3 in 2 days.
    assert_eq!(m["deploymentFrequency"]["succeeded"], 3);
    assert_eq!(m["deploymentFrequency"]["perDay"], 1.5);
    // Each committed two hours before it succeeded (and the test took under a minute).
    assert_eq!(m["leadTime"]["measured"], 3);
    for key in ["medianSeconds", "p90Seconds"] {
        let seconds = m["leadTime"][key].as_i64().unwrap();
        assert!((7200..7260).contains(&seconds), "{key}: {seconds}");
    }
    // Finished: v1, v2, v3, v4; failed or rolled back: v2, v4.
    assert_eq!(
        m["changeFailureRate"],
        json!({"finished": 4, "failed": 2, "rate": 0.5})
    );
    // v2's failure was restored by v3; v4's rollback is not restored yet.
    assert_eq!(m["timeToRestore"]["incidents"], 2);
    assert_eq!(m["timeToRestore"]["restored"], 1);
    assert!(m["timeToRestore"]["medianSeconds"].as_i64().unwrap() < 60);
}

async fn dora_refuses_a_backwards_window_and_needs_an_environment(app: TestApp) {
    let prod = app.create_env(json!({"name": "prod"})).await;
    let body = problem(app.get("/api/v1/insights/dora").await, 400).await;
    assert_eq!(fields(&body), ["environmentId"]);
    let body = problem(
        app.get(&format!(
            "/api/v1/insights/dora?environmentId={}&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z",
            id(&prod)
        ))
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["from"]);
    let body = problem(
        app.get(&format!(
            "/api/v1/insights/dora?environmentId={}&to=soon",
            id(&prod)
        ))
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&body), ["to"]);
    problem(
        app.get(&format!(
            "/api/v1/insights/dora?environmentId={}",
            uuid::Uuid::now_v7()
        ))
        .await,
        404,
    )
    .await;
    // An empty ledger measures nothing, with nulls where there is nothing to measure.
    let m = get_ok(
        &app,
        &format!("/api/v1/insights/dora?environmentId={}", id(&prod)),
    )
    .await;
    assert_eq!(m["changeFailureRate"]["rate"], Value::Null);
    assert_eq!(m["leadTime"]["medianSeconds"], Value::Null);
    assert_eq!(m["days"], 30.0);
}

async fn a_list_answers_304_to_its_own_etag_until_it_changes(app: TestApp) {
    let web = component(&app, "web").await;
    let dev = app.create_env(json!({"name": "dev"})).await;
    let admin = app.admin();
    let list = |etag: Option<String>| {
        let mut request = app.request(Method::GET, "/api/v1/deployments?take=5", &admin);
        if let Some(etag) = etag {
            request = request.header("If-None-Match", etag);
        }
        request.send()
    };
    let first = list(None).await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = header(&first, "etag");
    assert!(etag.starts_with("W/\""), "{etag}");
    let same = list(Some(etag.clone())).await.unwrap();
    assert_eq!(same.status(), 304);
    assert_eq!(header(&same, "etag"), etag);
    succeed(&app, &web, &dev, "v1").await;
    let changed = list(Some(etag.clone())).await.unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(header(&changed, "etag"), etag);
    // A single resource keeps the ETag of its version.
    let one = app.get(&format!("/api/v1/environments/{}", id(&dev))).await;
    assert_eq!(header(&one, "etag"), "\"1\"");
}
