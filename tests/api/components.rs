use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use terrane_domain::Role;
use uuid::Uuid;

const COMPONENTS: &str = "/api/v1/catalog/components";

on_both_backends!(
    creating_a_component_answers_201_with_location_etag_and_defaults,
    every_bad_field_is_named_and_nothing_is_written,
    a_duplicate_name_is_a_conflict_naming_it,
    the_list_is_an_envelope_ordered_by_name_and_every_filter_narrows_it,
    the_list_pages_with_skip_and_take_and_refuses_bad_parameters_naming_each,
    get_answers_the_component_with_its_etag_and_304_when_unchanged,
    patch_changes_the_fields_present_and_leaves_absent_and_null_ones,
    patch_validates_like_create_and_changes_nothing_when_refused,
    a_stale_if_match_is_refused_with_412,
    delete_answers_deleted_and_the_component_is_gone,
    viewers_and_deployers_read_the_catalog_but_only_admins_change_it,
    another_tenants_components_are_not_found_and_not_listed,
    a_create_retried_with_the_same_idempotency_key_adds_one_component,
    a_component_with_deployments_cannot_be_deleted,
);

async fn create(app: &TestApp, body: Value) -> Value {
    let response = app.send_json(Method::POST, COMPONENTS, body).await;
    assert_eq!(response.status(), 201, "creating a component");
    response.json().await.unwrap()
}

fn path(component: &Value) -> String {
    format!("{COMPONENTS}/{}", component["id"].as_str().unwrap())
}

async fn list(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("{COMPONENTS}{query}")).await;
    assert_eq!(response.status(), 200, "{query}");
    response.json().await.unwrap()
}

fn names(page: &Value) -> Vec<&str> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
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

async fn creating_a_component_answers_201_with_location_etag_and_defaults(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({"name": "payments-api", "kind": "service", "owner": "team-payments", "description": "Takes card payments"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(etag, "\"1\"");
    assert_eq!(location, path(&body));
    assert_eq!(body["name"], "payments-api");
    assert_eq!(body["kind"], "service");
    assert_eq!(body["owner"], "team-payments");
    assert_eq!(body["lifecycle"], "experimental", "the default lifecycle");
    assert_eq!(body["description"], "Takes card payments");
    assert_eq!(body["version"], 1);
    assert_eq!(body["organizationId"], app.tenant.to_string());
    assert!(body["createdAt"].as_str().unwrap().ends_with('Z'));
    let fetched: Value = app.get(&location).await.json().await.unwrap();
    assert_eq!(
        fetched, body,
        "a read answers exactly what the create answered"
    );

    let bare = create(
        &app,
        json!({"name": "nightly", "kind": "job", "owner": null}),
    )
    .await;
    assert_eq!(bare["owner"], Value::Null);
    assert_eq!(bare["description"], Value::Null);
    for kind in ["website", "library", "worker"] {
        let made = create(
            &app,
            json!({"name": kind, "kind": kind, "lifecycle": "production"}),
        )
        .await;
        assert_eq!(
            (made["kind"].as_str(), made["lifecycle"].as_str()),
            (Some(kind), Some("production"))
        );
    }
}

async fn every_bad_field_is_named_and_nothing_is_written(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({
                "name": "Payments API",
                "kind": "daemon",
                "owner": "   ",
                "lifecycle": "retired",
                "description": "x".repeat(2001)
            }),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(body["type"], "/problems/validation");
    assert_eq!(
        fields(&body),
        ["name", "kind", "owner", "lifecycle", "description"]
    );
    let missing = app.send_json(Method::POST, COMPONENTS, json!({})).await;
    assert_eq!(fields(&problem(missing, 400).await), ["name", "kind"]);
    let too_long = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({"name": "a".repeat(101), "kind": "job"}),
        )
        .await;
    assert_eq!(fields(&problem(too_long, 400).await), ["name"]);
    let longest = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({"name": "a".repeat(100), "kind": "job"}),
        )
        .await;
    assert_eq!(longest.status(), 201);
    let unknown = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({"name": "x", "kind": "job", "team": "a"}),
        )
        .await;
    let unknown = problem(unknown, 400).await;
    assert!(
        unknown["detail"].as_str().unwrap().contains("team"),
        "{unknown}"
    );
    let wrong_type = app
        .send_json(Method::POST, COMPONENTS, json!({"name": "x", "kind": 3}))
        .await;
    assert_eq!(fields(&problem(wrong_type, 400).await), ["kind"]);
    assert_eq!(
        list(&app, "").await["total"],
        1,
        "only the valid one was written"
    );
}

async fn a_duplicate_name_is_a_conflict_naming_it(app: TestApp) {
    create(&app, json!({"name": "api", "kind": "service"})).await;
    let response = app
        .send_json(
            Method::POST,
            COMPONENTS,
            json!({"name": "api", "kind": "worker"}),
        )
        .await;
    let body = problem(response, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("`api`"), "{body}");
    let web = create(&app, json!({"name": "web", "kind": "website"})).await;
    let rename = app
        .send_json(Method::PATCH, &path(&web), json!({"name": "api"}))
        .await;
    problem(rename, 409).await;
}

async fn the_list_is_an_envelope_ordered_by_name_and_every_filter_narrows_it(app: TestApp) {
    for body in [
        json!({"name": "billing-web", "kind": "website", "owner": "team-billing"}),
        json!({"name": "billing-api", "kind": "service", "owner": "Team-Billing", "lifecycle": "production"}),
        json!({"name": "nightly-report", "kind": "job", "owner": "team-data", "lifecycle": "deprecated"}),
        json!({"name": "api-gateway", "kind": "service", "lifecycle": "production"}),
    ] {
        create(&app, body).await;
    }
    let all = list(&app, "").await;
    assert_eq!(
        names(&all),
        [
            "api-gateway",
            "billing-api",
            "billing-web",
            "nightly-report"
        ]
    );
    assert_eq!(
        (&all["total"], &all["skip"], &all["take"]),
        (&json!(4), &json!(0), &json!(20))
    );
    assert_eq!(
        names(&list(&app, "?name=API").await),
        ["api-gateway", "billing-api"],
        "name contains, ignoring case"
    );
    assert_eq!(
        names(&list(&app, "?name=%25").await),
        Vec::<&str>::new(),
        "% is literal"
    );
    assert_eq!(
        names(&list(&app, "?name=_").await),
        Vec::<&str>::new(),
        "_ is literal"
    );
    assert_eq!(
        names(&list(&app, "?kind=service").await),
        ["api-gateway", "billing-api"]
    );
    assert_eq!(
        names(&list(&app, "?owner=TEAM-BILLING").await),
        ["billing-api", "billing-web"],
        "owner equals, ignoring case"
    );
    assert_eq!(names(&list(&app, "?owner=team").await), Vec::<&str>::new());
    assert_eq!(
        names(&list(&app, "?lifecycle=deprecated").await),
        ["nightly-report"]
    );
    assert_eq!(
        names(&list(&app, "?lifecycle=experimental").await),
        ["billing-web"]
    );
    let combined = list(
        &app,
        "?name=billing&kind=service&owner=team-billing&lifecycle=production",
    )
    .await;
    assert_eq!(
        (names(&combined), &combined["total"]),
        (vec!["billing-api"], &json!(1))
    );
}

async fn the_list_pages_with_skip_and_take_and_refuses_bad_parameters_naming_each(app: TestApp) {
    for name in ["e", "c", "a", "d", "b"] {
        create(&app, json!({"name": name, "kind": "library"})).await;
    }
    let page = list(&app, "?skip=1&take=2").await;
    assert_eq!(names(&page), ["b", "c"]);
    assert_eq!(
        (&page["total"], &page["skip"], &page["take"]),
        (&json!(5), &json!(1), &json!(2))
    );
    assert_eq!(names(&list(&app, "?skip=4&take=100").await), ["e"]);
    assert_eq!(list(&app, "?skip=9").await["data"], json!([]));
    let response = app
        .get(&format!(
            "{COMPONENTS}?take=101&skip=-1&kind=daemon&lifecycle=old&sort=name"
        ))
        .await;
    let mut named = fields(&problem(response, 400).await);
    named.sort();
    assert_eq!(named, ["kind", "lifecycle", "skip", "sort", "take"]);
    let zero = app.get(&format!("{COMPONENTS}?take=0")).await;
    assert_eq!(fields(&problem(zero, 400).await), ["take"]);
}

async fn get_answers_the_component_with_its_etag_and_304_when_unchanged(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let response = app.get(&path(&component)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let again = app
        .request(Method::GET, &path(&component), &app.admin())
        .header("If-None-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = app.get(&format!("{COMPONENTS}/{}", Uuid::now_v7())).await;
    problem(missing, 404).await;
    let bad = app.get(&format!("{COMPONENTS}/not-a-uuid")).await;
    assert_eq!(fields(&problem(bad, 400).await), ["id"]);
}

async fn patch_changes_the_fields_present_and_leaves_absent_and_null_ones(app: TestApp) {
    let component = create(
        &app,
        json!({"name": "api", "kind": "service", "owner": "team-a", "description": "keep"}),
    )
    .await;
    let response = app
        .send_json(
            Method::PATCH,
            &path(&component),
            json!({"lifecycle": "production", "owner": "team-b", "description": null, "kind": null}),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["etag"], "\"2\"");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["lifecycle"], "production");
    assert_eq!(body["owner"], "team-b");
    assert_eq!(body["description"], "keep", "null leaves it as it is");
    assert_eq!(body["kind"], "service");
    assert_eq!(body["name"], "api");
    assert_eq!(body["version"], 2);
    assert_eq!(body["createdAt"], component["createdAt"]);
    let renamed: Value = app
        .send_json(
            Method::PATCH,
            &path(&component),
            json!({"name": "public-api", "kind": "website"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (renamed["name"].as_str(), renamed["kind"].as_str()),
        (Some("public-api"), Some("website"))
    );
    let empty = app
        .send_json(Method::PATCH, &path(&component), json!({}))
        .await;
    assert_eq!(empty.status(), 200);
    assert_eq!(
        empty.json::<Value>().await.unwrap()["version"],
        3,
        "an empty patch bumps nothing"
    );
}

async fn patch_validates_like_create_and_changes_nothing_when_refused(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let response = app
        .send_json(
            Method::PATCH,
            &path(&component),
            json!({"name": "API", "kind": "gizmo", "lifecycle": "gone", "owner": ""}),
        )
        .await;
    assert_eq!(
        fields(&problem(response, 400).await),
        ["name", "kind", "owner", "lifecycle"]
    );
    let now: Value = app.get(&path(&component)).await.json().await.unwrap();
    assert_eq!(now, component, "a refused update changes nothing");
}

async fn a_stale_if_match_is_refused_with_412(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let token = app.admin();
    let patch = |etag: &'static str, owner: &'static str| {
        app.request(Method::PATCH, &path(&component), &token)
            .header("If-Match", etag)
            .json(&json!({"owner": owner}))
            .send()
    };
    assert_eq!(patch("\"1\"", "a").await.unwrap().status(), 200);
    let stale = problem(patch("\"1\"", "b").await.unwrap(), 412).await;
    assert!(
        stale["detail"].as_str().unwrap().contains("\"2\""),
        "{stale}"
    );
    let stale_delete = app
        .request(Method::DELETE, &path(&component), &token)
        .header("If-Match", "\"1\"")
        .send()
        .await
        .unwrap();
    problem(stale_delete, 412).await;
    let now: Value = app.get(&path(&component)).await.json().await.unwrap();
    assert_eq!(
        (now["owner"].as_str(), &now["version"]),
        (Some("a"), &json!(2))
    );
    let current = app
        .request(Method::DELETE, &path(&component), &token)
        .header("If-Match", "\"2\"")
        .send()
        .await
        .unwrap();
    assert_eq!(current.status(), 200);
}

async fn delete_answers_deleted_and_the_component_is_gone(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let kept = create(&app, json!({"name": "web", "kind": "website"})).await;
    let response = send(&app, Method::DELETE, &path(&component), &app.admin(), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"deleted": true})
    );
    problem(app.get(&path(&component)).await, 404).await;
    problem(
        send(&app, Method::DELETE, &path(&component), &app.admin(), None).await,
        404,
    )
    .await;
    assert_eq!(names(&list(&app, "").await), ["web"]);
    assert_eq!(app.get(&path(&kept)).await.status(), 200);
    let again = create(&app, json!({"name": "api", "kind": "worker"})).await;
    assert_eq!(again["kind"], "worker", "the name is free again");
}

async fn viewers_and_deployers_read_the_catalog_but_only_admins_change_it(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    for role in [Role::Viewer, Role::Deployer] {
        let token = app.token(&[role]);
        let read = send(&app, Method::GET, &path(&component), &token, None).await;
        assert_eq!(read.status(), 200, "{role} reads one");
        let listed = send(&app, Method::GET, COMPONENTS, &token, None).await;
        assert_eq!(listed.status(), 200, "{role} lists");
        let body = json!({"name": format!("by-{role}"), "kind": "job"});
        problem(
            send(&app, Method::POST, COMPONENTS, &token, Some(body)).await,
            403,
        )
        .await;
        let patch = json!({"owner": "me"});
        problem(
            send(&app, Method::PATCH, &path(&component), &token, Some(patch)).await,
            403,
        )
        .await;
        problem(
            send(&app, Method::DELETE, &path(&component), &token, None).await,
            403,
        )
        .await;
    }
    let now: Value = app.get(&path(&component)).await.json().await.unwrap();
    assert_eq!(now, component, "nothing changed");
    assert_eq!(list(&app, "").await["total"], 1);
    let anonymous = app
        .client
        .get(format!("{}{COMPONENTS}", app.base))
        .send()
        .await
        .unwrap();
    problem(anonymous, 401).await;
}

async fn another_tenants_components_are_not_found_and_not_listed(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let stranger = app.token_for(Uuid::now_v7(), Uuid::now_v7(), &[Role::Admin]);
    problem(
        send(&app, Method::GET, &path(&component), &stranger, None).await,
        404,
    )
    .await;
    let patch = json!({"owner": "thief"});
    problem(
        send(
            &app,
            Method::PATCH,
            &path(&component),
            &stranger,
            Some(patch),
        )
        .await,
        404,
    )
    .await;
    problem(
        send(&app, Method::DELETE, &path(&component), &stranger, None).await,
        404,
    )
    .await;
    let theirs: Value = send(&app, Method::GET, COMPONENTS, &stranger, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0);
    let same_name = send(
        &app,
        Method::POST,
        COMPONENTS,
        &stranger,
        Some(json!({"name": "api", "kind": "job"})),
    )
    .await;
    assert_eq!(
        same_name.status(),
        201,
        "names are unique per organization only"
    );
    let mine: Value = app.get(&path(&component)).await.json().await.unwrap();
    assert_eq!(mine, component);
}

async fn a_create_retried_with_the_same_idempotency_key_adds_one_component(app: TestApp) {
    let token = app.admin();
    let post = || {
        app.request(Method::POST, COMPONENTS, &token)
            .header("Idempotency-Key", "catalog-sync-1")
            .json(&json!({"name": "api", "kind": "service"}))
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 201);
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();
    let retry = post().await.unwrap();
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.headers()["location"], location);
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(retry.json::<Value>().await.unwrap(), first_body);
    assert_eq!(list(&app, "").await["total"], 1);
}

async fn a_component_with_deployments_cannot_be_deleted(app: TestApp) {
    let component = create(&app, json!({"name": "api", "kind": "service"})).await;
    let env = app.create_env(json!({"name": "dev"})).await;
    let deployment = app
        .send_json(
            Method::POST,
            "/api/v1/deployments",
            json!({"componentId": component["id"], "environmentId": env["id"], "version": "v1"}),
        )
        .await;
    assert_eq!(deployment.status(), 201);
    let path = format!("{COMPONENTS}/{}", component["id"].as_str().unwrap());
    let refused = app
        .request(Method::DELETE, &path, &app.admin())
        .send()
        .await
        .unwrap();
    let body = crate::support::problem(refused, 409).await;
    assert!(
        body["detail"].as_str().unwrap().contains("deprecated"),
        "{body}"
    );
    assert_eq!(
        app.get(&path).await.status(),
        200,
        "the component is still there"
    );
}
