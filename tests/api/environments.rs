use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    the_seed_example_creates_a_production_environment_with_location_and_etag,
    omitted_fields_take_defaults_and_the_order_index_is_the_next_free_one,
    a_duplicate_name_is_a_conflict,
    names_keep_their_case_clash_ignoring_it_and_are_found_ignoring_it,
    every_environment_shows_its_number_and_is_found_by_it,
    get_answers_the_environment_with_its_etag_and_304_when_unchanged,
    the_list_is_a_bare_array_ordered_by_order_index_then_name_with_a_total,
    list_filters_combine_and_follow_flexdeploy_search_semantics,
    list_sorts_ascending_or_descending_with_a_tilde_and_pages_with_skip_and_take,
    list_refuses_bad_filters_naming_each,
    include_state_adds_a_current_release,
    put_replaces_fields_present_keeps_absent_ones_and_null_clears_the_description,
    patch_leaves_absent_and_null_fields_as_they_are,
    updates_validate_like_create_and_change_nothing_when_refused,
    a_stale_if_match_is_refused_with_412,
    of_two_concurrent_updates_with_the_same_if_match_exactly_one_wins,
    racing_creates_without_an_order_index_each_get_the_next_one_exactly_once,
    a_refused_create_leaves_no_gap_in_the_order_index,
    delete_answers_deleted_and_the_environment_is_gone,
);

async fn the_seed_example_creates_a_production_environment_with_location_and_etag(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/environments",
            json!({
                "name": "production",
                "displayName": "Production",
                "orderIndex": 3,
                "config": {"deploymentTimeout": 600, "healthCheckInterval": 30},
                "requiredApprovals": 2,
                "requireSod": true,
                "promotionPolicy": "default"
            }),
        )
        .await;
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(etag, "\"1\"");
    assert_eq!(
        location,
        format!("/api/v1/environments/{}", body["id"].as_str().unwrap())
    );
    assert_eq!(body["name"], "production");
    assert_eq!(body["displayName"], "Production");
    assert_eq!(body["orderIndex"], 3);
    assert_eq!(body["isProduction"], true);
    assert_eq!(body["requiredApprovals"], 2);
    assert_eq!(body["requireSeparationOfDuties"], true);
    assert_eq!(body["promotionPolicy"], "default");
    assert_eq!(
        body["config"],
        json!({"deploymentTimeout": 600, "healthCheckInterval": 30})
    );
    assert_eq!(body["organizationId"], app.tenant.to_string());
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(body.get("requireSod").is_none());
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(
        fetched, body,
        "a read answers exactly what the create answered"
    );
}

async fn omitted_fields_take_defaults_and_the_order_index_is_the_next_free_one(app: TestApp) {
    let dev = app.create_env(json!({"name": "dev"})).await;
    assert_eq!(dev["orderIndex"], 0);
    assert_eq!(dev["displayName"], "dev");
    assert_eq!(dev["isProduction"], false);
    assert_eq!(dev["isActive"], true);
    assert_eq!(dev["isBuildEnvironment"], false);
    assert_eq!(dev["requiredApprovals"], 0);
    assert_eq!(dev["requireSeparationOfDuties"], false);
    assert_eq!(dev["status"], "ready");
    assert_eq!(
        dev["config"],
        json!({"deploymentTimeout": 600, "healthCheckInterval": 30})
    );
    app.create_env(json!({"name": "staging", "orderIndex": 7}))
        .await;
    let live = app.create_env(json!({"name": "live"})).await;
    assert_eq!(live["orderIndex"], 8);
    assert_eq!(live["isProduction"], true);
}

async fn a_duplicate_name_is_a_conflict(app: TestApp) {
    app.create_env(json!({"name": "qa"})).await;
    let response = app
        .send_json(Method::POST, "/api/v1/environments", json!({"name": "qa"}))
        .await;
    let body = problem(response, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("qa"), "{body}");
}

async fn names_keep_their_case_clash_ignoring_it_and_are_found_ignoring_it(app: TestApp) {
    let env = app.create_env(json!({"name": "ENV1"})).await;
    assert_eq!(env["name"], "ENV1");
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/environments",
            json!({"name": "env1"}),
        )
        .await;
    let body = problem(response, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("env1"), "{body}");
    let (found, _) = list(&app, "?name=Env1").await;
    assert_eq!(found[0]["id"], env["id"]);
    app.create_env(json!({"name": "eu.west_1"})).await;
}

async fn every_environment_shows_its_number_and_is_found_by_it(app: TestApp) {
    let first = app.create_env(json!({"name": "dev"})).await;
    let second = app.create_env(json!({"name": "prod"})).await;
    let (a, b) = (
        first["number"].as_i64().unwrap(),
        second["number"].as_i64().unwrap(),
    );
    assert!(a > 0 && b > a, "{a} then {b}");
    let (found, total) = list(&app, &format!("?number={b}")).await;
    assert_eq!(
        (found[0]["id"].clone(), total.as_str()),
        (second["id"].clone(), "1")
    );
}

async fn get_answers_the_environment_with_its_etag_and_304_when_unchanged(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let again = app
        .request(Method::GET, &path, &app.admin())
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let changed = app
        .request(Method::GET, &path, &app.admin())
        .header("If-None-Match", "\"0\"")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect()
}

async fn list(app: &TestApp, query: &str) -> (Value, String) {
    let response = app.get(&format!("/api/v1/environments{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    let total = response.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .to_owned();
    (response.json().await.unwrap(), total)
}

async fn the_list_is_a_bare_array_ordered_by_order_index_then_name_with_a_total(app: TestApp) {
    app.create_env(json!({"name": "prod", "orderIndex": 2}))
        .await;
    app.create_env(json!({"name": "beta", "orderIndex": 1}))
        .await;
    app.create_env(json!({"name": "alpha", "orderIndex": 1}))
        .await;
    let (body, total) = list(&app, "").await;
    assert_eq!(names(&body), ["alpha", "beta", "prod"]);
    assert_eq!(total, "3");
}

async fn list_filters_combine_and_follow_flexdeploy_search_semantics(app: TestApp) {
    app.create_env(json!({"name": "env1", "displayName": "Env One", "isBuildEnvironment": true}))
        .await;
    app.create_env(json!({"name": "env2", "displayName": "Second env", "isActive": false}))
        .await;
    app.create_env(json!({"name": "production", "displayName": "Production", "status": "broken"}))
        .await;
    assert_eq!(
        names(&list(&app, "?name=ENV1").await.0),
        ["env1"],
        "name equals, ignoring case"
    );
    assert_eq!(
        names(&list(&app, "?name=env").await.0),
        Vec::<&str>::new(),
        "name is not a contains search"
    );
    assert_eq!(
        names(&list(&app, "?displayName=ENV").await.0),
        ["env1", "env2"],
        "displayName contains"
    );
    assert_eq!(
        names(&list(&app, "?displayName=%25").await.0),
        Vec::<&str>::new(),
        "wildcards are literal"
    );
    assert_eq!(names(&list(&app, "?isActive=false").await.0), ["env2"]);
    assert_eq!(
        names(&list(&app, "?isBuildEnvironment=true").await.0),
        ["env1"]
    );
    assert_eq!(
        names(&list(&app, "?isProduction=true").await.0),
        ["production"]
    );
    assert_eq!(names(&list(&app, "?orderIndex=1").await.0), ["env2"]);
    assert_eq!(names(&list(&app, "?status=broken").await.0), ["production"]);
    let (body, total) = list(&app, "?displayName=env&isActive=true").await;
    assert_eq!((names(&body), total.as_str()), (vec!["env1"], "1"));
}

async fn list_sorts_ascending_or_descending_with_a_tilde_and_pages_with_skip_and_take(
    app: TestApp,
) {
    for name in ["c", "a", "d", "b"] {
        app.create_env(json!({"name": name})).await;
    }
    assert_eq!(
        names(&list(&app, "?sort=name").await.0),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        names(&list(&app, "?sort=~name").await.0),
        ["d", "c", "b", "a"]
    );
    assert_eq!(
        names(&list(&app, "?sort=~orderIndex").await.0),
        ["b", "d", "a", "c"]
    );
    assert_eq!(
        names(&list(&app, "?sort=createdAt").await.0),
        ["c", "a", "d", "b"]
    );
    assert_eq!(
        names(&list(&app, "?sort=~createdAt").await.0),
        ["b", "d", "a", "c"]
    );
    let (page, total) = list(&app, "?sort=name&skip=1&take=2").await;
    assert_eq!((names(&page), total.as_str()), (vec!["b", "c"], "4"));
}

async fn list_refuses_bad_filters_naming_each(app: TestApp) {
    let response = app
        .get("/api/v1/environments?isActive=maybe&orderIndex=x&status=gone&sort=colour&take=101&skip=-1&bogus=1")
        .await;
    let body = problem(response, 400).await;
    let mut named = fields(&body);
    named.sort();
    assert_eq!(
        named,
        [
            "bogus",
            "isActive",
            "orderIndex",
            "skip",
            "sort",
            "status",
            "take"
        ]
    );
}

async fn include_state_adds_a_current_release(app: TestApp) {
    app.create_env(json!({"name": "dev"})).await;
    let (with_state, _) = list(&app, "?includeState=true").await;
    assert_eq!(with_state[0]["currentRelease"], Value::Null);
    assert!(with_state[0]
        .as_object()
        .unwrap()
        .contains_key("currentRelease"));
    let (without, _) = list(&app, "").await;
    assert!(!without[0]
        .as_object()
        .unwrap()
        .contains_key("currentRelease"));
}

async fn put_replaces_fields_present_keeps_absent_ones_and_null_clears_the_description(
    app: TestApp,
) {
    let env = app
        .create_env(json!({"name": "dev", "description": "first", "requiredApprovals": 1}))
        .await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let response = app
        .send_json(Method::PUT, &path, json!({"displayName": "Development", "description": null, "config": {"deploymentTimeout": 60}}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["displayName"], "Development");
    assert_eq!(body["description"], Value::Null);
    assert_eq!(body["requiredApprovals"], 1);
    assert_eq!(
        body["config"],
        json!({"deploymentTimeout": 60, "healthCheckInterval": 30})
    );
    assert_eq!(body["version"], 2);
    assert_eq!(body["createdAt"], env["createdAt"]);
    let refused = app
        .send_json(Method::PUT, &path, json!({"name": null}))
        .await;
    assert_eq!(fields(&problem(refused, 400).await), ["name"]);
}

async fn patch_leaves_absent_and_null_fields_as_they_are(app: TestApp) {
    let env = app
        .create_env(json!({"name": "dev", "description": "keep", "displayName": "Dev"}))
        .await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let response = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"description": null, "displayName": null, "requireSod": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["description"], "keep");
    assert_eq!(body["displayName"], "Dev");
    assert_eq!(body["requireSeparationOfDuties"], true);
    let renamed: Value = app
        .send_json(Method::PATCH, &path, json!({"name": "development"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(renamed["name"], "development");
    assert_eq!(renamed["version"], 3);
}

async fn updates_validate_like_create_and_change_nothing_when_refused(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    app.create_env(json!({"name": "taken"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let response = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"name": "Bad Name", "requiredApprovals": 11, "promotionPolicy": "yolo"}),
        )
        .await;
    assert_eq!(
        fields(&problem(response, 400).await),
        ["name", "requiredApprovals", "promotionPolicy"]
    );
    let clash = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"name": "taken", "displayName": "X"}),
        )
        .await;
    problem(clash, 409).await;
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now, env, "refused updates change nothing");
}

async fn a_stale_if_match_is_refused_with_412(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let ok = app
        .request(Method::PATCH, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"displayName": "A"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stale = app
        .request(Method::PATCH, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .json(&json!({"displayName": "B"}))
        .send()
        .await
        .unwrap();
    let body = problem(stale, 412).await;
    assert!(body["detail"].as_str().unwrap().contains("\"2\""), "{body}");
    let stale_delete = app
        .request(Method::DELETE, &path, &app.admin())
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(stale_delete, 412).await;
    let garbage = app
        .request(Method::PATCH, &path, &app.admin())
        .header("If-Match", "two")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(garbage, 400).await), ["If-Match"]);
}

async fn of_two_concurrent_updates_with_the_same_if_match_exactly_one_wins(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let token = app.admin();
    let attempts = (0..8).map(|i| {
        app.request(Method::PATCH, &path, &token)
            .header("If-Match", "\"1\"")
            .json(&json!({"displayName": format!("racer {i}")}))
            .send()
    });
    let statuses: Vec<u16> = futures_join(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 412),
        "{statuses:?}"
    );
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["version"], 2);
}

async fn racing_creates_without_an_order_index_each_get_the_next_one_exactly_once(app: TestApp) {
    app.create_env(json!({"name": "pinned", "orderIndex": 4}))
        .await;
    let token = app.admin();
    let attempts = (0..24).map(|i| {
        app.request(Method::POST, "/api/v1/environments", &token)
            .json(&json!({"name": format!("racer-{i}")}))
            .send()
    });
    let mut indexes = Vec::new();
    for response in futures_join(attempts).await {
        let response = response.unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        indexes.push(body["orderIndex"].as_i64().unwrap());
    }
    indexes.sort_unstable();
    assert_eq!(indexes, (5..29).collect::<Vec<i64>>());
    let (listed, total) = {
        let response = app.get("/api/v1/environments?take=100").await;
        let total = response.headers()["X-Total-Count"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Vec<Value> = response.json().await.unwrap();
        (body, total)
    };
    assert_eq!(total, "25");
    let stored: Vec<i64> = listed
        .iter()
        .map(|e| e["orderIndex"].as_i64().unwrap())
        .collect();
    assert_eq!(
        stored,
        (4..29).collect::<Vec<i64>>(),
        "what is stored agrees"
    );
}

async fn a_refused_create_leaves_no_gap_in_the_order_index(app: TestApp) {
    let first = app.create_env(json!({"name": "dev"})).await;
    assert_eq!(first["orderIndex"], 0);
    for _ in 0..3 {
        let refused = app
            .send_json(Method::POST, "/api/v1/environments", json!({"name": "dev"}))
            .await;
        problem(refused, 409).await;
    }
    let next = app.create_env(json!({"name": "qa"})).await;
    assert_eq!(next["orderIndex"], 1, "{next}");
}

async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

async fn delete_answers_deleted_and_the_environment_is_gone(app: TestApp) {
    let env = app.create_env(json!({"name": "dev"})).await;
    let path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let response = app
        .request(Method::DELETE, &path, &app.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(app.get(&path).await, 404).await;
    problem(
        app.request(Method::DELETE, &path, &app.admin())
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(list(&app, "").await.1, "0");
}
