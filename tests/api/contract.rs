//! The OpenAPI document states what the server does: tests over the document the server serves,
//! checked against the server's own answers.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

on_both_backends!(
    every_field_a_create_refuses_as_missing_is_required_by_its_create_schema,
    every_operation_lists_what_its_shape_lets_it_answer,
    an_undeclared_method_is_405_with_allow_whatever_the_body,
    a_missing_reference_in_a_body_is_a_400_naming_the_field_on_every_operation,
    a_nul_character_in_any_text_is_a_400_never_a_500,
);

async fn document(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/api-docs/openapi.json", app.base))
        .send()
        .await
        .expect("document")
        .json()
        .await
        .expect("json")
}

/// The schema a `$ref` names, or the schema itself.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema["required"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|f| f.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A generated client builds a create body from the create schema's required fields: every
/// field the server answers "is required" for must be one of them, and the create schema must
/// not be the update's. Creates under an environment run under a real one.
async fn every_field_a_create_refuses_as_missing_is_required_by_its_create_schema(app: TestApp) {
    let doc = document(&app).await;
    let env = app.create_env(json!({"name": "contract"})).await;
    let env_id = env["id"].as_str().unwrap();
    let mut checked = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(post) = item.get("post") else {
            continue;
        };
        if post["responses"].get("201").is_none() {
            continue;
        }
        let concrete = path.replace("{envId}", env_id);
        if concrete.contains('{') {
            continue; // an action on an existing resource, not a create from nothing
        }
        let schema = resolve(
            &doc,
            &post["requestBody"]["content"]["application/json"]["schema"],
        );
        let documented = required(schema);
        let response = app.send_json(Method::POST, &concrete, json!({})).await;
        let body = problem(response, 400).await;
        let refused: BTreeSet<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["message"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("is required")
            })
            .map(|e| e["field"].as_str().unwrap().to_owned())
            .collect();
        assert!(
            !refused.is_empty(),
            "POST {path} {{}}: expected fields named as required, got {:?}",
            fields(&body)
        );
        let undocumented: Vec<_> = refused.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "POST {path}: the server requires {undocumented:?}, the create schema requires only {documented:?}"
        );
        for field in &documented {
            let property = &schema["properties"][field];
            assert!(
                property["type"] != json!("null")
                    && !property["type"]
                        .as_array()
                        .is_some_and(|t| t.contains(&json!("null"))),
                "POST {path}: required `{field}` must not be nullable: {property}"
            );
        }
        checked.push(path.clone());
    }
    assert!(checked.len() >= 10, "too few creates checked: {checked:?}");
    // Where the update takes a body too, it is another schema: PATCH leaves absent fields.
    let component_patch = resolve(
        &doc,
        &doc["paths"]["/api/v1/catalog/components/{id}"]["patch"]["requestBody"]["content"]
            ["application/json"]["schema"],
    );
    assert!(required(component_patch).is_empty());
    let component_create = resolve(
        &doc,
        &doc["paths"]["/api/v1/catalog/components"]["post"]["requestBody"]["content"]
            ["application/json"]["schema"],
    );
    assert_eq!(
        required(component_create),
        ["kind", "name"].map(String::from).into()
    );
}

/// A response, through `#/components/responses/…` when it is a reference.
fn response<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["responses"][name]
        }
        None => response,
    }
}

/// Over the document the server serves: what follows from an operation's shape is stated on
/// every operation (the shared response sets of `document.rs`), and the limits the server
/// enforces are in the document.
async fn every_operation_lists_what_its_shape_lets_it_answer(app: TestApp) {
    let doc = document(&app).await;
    let mut operation_ids = BTreeSet::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            let responses = op["responses"].as_object().unwrap();
            let lists = |status: &str| responses.contains_key(status);
            let id = op["operationId"].as_str().unwrap().to_owned();
            assert!(
                operation_ids.insert(id.clone()),
                "{name}: operationId {id} twice"
            );
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if !secured {
                continue;
            }
            operations += 1;
            assert!(lists("401"), "{name} lists no 401");
            let unavailable = response(&doc, &op["responses"]["503"]);
            assert!(
                unavailable["headers"]["Retry-After"].is_object(),
                "{name}: 503 without Retry-After: {unavailable}"
            );
            if method != "get" {
                assert!(lists("403"), "{name} lists no 403");
            }
            let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
            let named = |name: &str| parameters.iter().find(|p| p["name"] == name);
            if parameters.iter().any(|p| p["in"] == "path") {
                assert!(
                    lists("400") && lists("404"),
                    "{name}: a path id, no 400 or 404"
                );
            }
            if parameters.iter().any(|p| p["in"] == "query") {
                assert!(lists("400"), "{name}: a query string, no 400");
            }
            if op.get("requestBody").is_some() {
                for status in ["400", "413", "415"] {
                    assert!(lists(status), "{name}: a body, no {status}");
                }
            }
            if let Some(take) = named("take") {
                // Pages take up to 100 rows; the event log is read by cursor, up to 1,000.
                let most = if path.starts_with("/api/v1/events") {
                    terrane_domain::event::MAX_TAKE
                } else {
                    terrane_domain::Page::MAX_TAKE
                };
                assert_eq!(take["schema"]["maximum"], most, "{name}: {take}");
                assert_eq!(take["schema"]["minimum"], 1, "{name}: {take}");
            }
            if let Some(skip) = named("skip") {
                assert_eq!(skip["schema"]["minimum"], 0, "{name}: {skip}");
            }
            if let Some(if_match) = named("If-Match") {
                assert!(lists("412"), "{name}: If-Match, no 412");
                assert!(
                    if_match["schema"]["pattern"].is_string(),
                    "{name}: {if_match}"
                );
            }
            if let Some(key) = named("Idempotency-Key") {
                assert!(lists("422"), "{name}: Idempotency-Key, no 422");
                assert_eq!(key["schema"]["maxLength"], 255, "{name}: {key}");
                let (_, success) = responses
                    .iter()
                    .find(|(status, _)| status.starts_with('2'))
                    .expect("a success");
                assert!(
                    response(&doc, success)["headers"]["Idempotent-Replayed"].is_object(),
                    "{name}: no Idempotent-Replayed"
                );
            }
            if lists("201") {
                let created = response(&doc, &op["responses"]["201"]);
                assert!(
                    created["headers"]["Location"].is_object(),
                    "{name}: no Location"
                );
            }
        }
    }
    assert!(operations > 100, "{operations} authenticated operations");
    // Creates link to what can be done with what they created, for clients and stateful tests.
    for (path, links) in [
        (
            "/api/v1/environments",
            [
                "get_environment",
                "put_environment",
                "patch_environment",
                "delete_environment",
            ],
        ),
        (
            "/api/v1/catalog/components",
            [
                "get_component",
                "patch_component",
                "delete_component",
                "get_component",
            ],
        ),
    ] {
        let found = &doc["paths"][path]["post"]["responses"]["201"]["links"];
        for operation in links {
            assert!(
                found
                    .as_object()
                    .unwrap()
                    .values()
                    .any(|l| l["operationId"] == operation),
                "POST {path}: no link to {operation}: {found}"
            );
        }
    }
}

/// A path the document has, with a method it does not: 405 with `Allow`, before any body is
/// read, whatever the body's content type.
async fn an_undeclared_method_is_405_with_allow_whatever_the_body(app: TestApp) {
    let env = app.create_env(json!({"name": "m"})).await;
    let env_path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());
    let cases = [
        (
            Method::POST,
            env_path.as_str(),
            Some("application/json"),
            "GET, PUT, PATCH, DELETE",
        ),
        (
            Method::POST,
            env_path.as_str(),
            Some("text/plain"),
            "GET, PUT, PATCH, DELETE",
        ),
        (
            Method::POST,
            env_path.as_str(),
            None,
            "GET, PUT, PATCH, DELETE",
        ),
        // A literal segment is its own resource, not an id of the route beside it.
        (
            Method::PATCH,
            "/api/v1/deployments/latest",
            Some("application/json"),
            "GET",
        ),
        (Method::DELETE, "/api/v1/deployments/matrix", None, "GET"),
        (
            Method::PUT,
            "/api/v1/catalog/components",
            Some("application/json"),
            "GET, POST",
        ),
        // A trailing slash is a path of its own.
        (
            Method::POST,
            "/flexdeploy/rest/v2/topology/environment/",
            Some("application/json"),
            "GET",
        ),
    ];
    for (method, path, content_type, allow) in cases {
        let mut request = app.request(method.clone(), path, &app.admin());
        if let Some(content_type) = content_type {
            request = request
                .header("content-type", content_type)
                .body(r#"{"name": "x"}"#);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response
                .headers()
                .get("allow")
                .and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path} ({content_type:?})"
        );
        let body = problem(response, 405).await;
        assert_eq!(body["type"], "/problems/method-not-allowed");
    }
}

/// A body naming a row that does not exist (or is another organization's) is a 400 naming the
/// field, on every operation that takes a reference (README, API conventions).
async fn a_missing_reference_in_a_body_is_a_400_naming_the_field_on_every_operation(app: TestApp) {
    let unknown = uuid::Uuid::now_v7().to_string();
    let env = app.create_env(json!({"name": "refs"})).await;
    let env_id = env["id"].as_str().unwrap().to_owned();
    let component = app
        .send_json(
            Method::POST,
            "/api/v1/catalog/components",
            json!({"name": "api", "kind": "service"}),
        )
        .await;
    assert_eq!(component.status(), 201);
    let component: Value = component.json().await.unwrap();
    let component_id = component["id"].as_str().unwrap().to_owned();
    let release = app
        .send_json(
            Method::POST,
            "/api/v1/releases",
            json!({"name": "r1", "components": [{"componentId": component_id, "version": "1.0"}]}),
        )
        .await;
    assert_eq!(release.status(), 201);
    let release: Value = release.json().await.unwrap();
    let release_id = release["id"].as_str().unwrap();
    let cases = [
        (
            "/api/v1/deployments",
            json!({"componentId": unknown, "environmentId": env_id, "version": "1.0"}),
            "componentId",
        ),
        (
            "/api/v1/deployments",
            json!({"componentId": component_id, "environmentId": unknown, "version": "1.0"}),
            "environmentId",
        ),
        (
            "/api/v1/releases",
            json!({"name": "r2", "components": [{"componentId": unknown, "version": "1.0"}]}),
            "components[0].componentId",
        ),
        (
            &*format!("/api/v1/releases/{release_id}/deploy"),
            json!({"environmentId": unknown}),
            "environmentId",
        ),
        (
            "/api/v1/environments",
            json!({"name": "e2", "projectId": unknown}),
            "projectId",
        ),
        (
            "/api/v1/environment-requests",
            json!({"name": "q1", "type": "ephemeral", "tier": "small", "componentId": unknown}),
            "componentId",
        ),
        (
            "/api/v1/agents",
            json!({"name": "a1", "targetIds": [unknown]}),
            "targetIds",
        ),
        (
            "/flexdeploy/rest/v2/topology/environment",
            json!({"environmentCode": "F1", "environmentName": "f", "isActive": true,
                   "isBuildEnvironment": false, "targets": [{"targetGroupId": 987654321}]}),
            "targets[0].targetGroupId",
        ),
    ];
    for (path, body, field) in cases {
        let refused = problem(app.send_json(Method::POST, path, body.clone()).await, 400).await;
        assert!(
            fields(&refused).iter().any(|f| f == field),
            "POST {path} {body}: {refused}"
        );
    }
}

/// PostgreSQL cannot keep a NUL in text (it answered 500 before): refused at the edge, in a query
/// string and in a body, on both backends alike.
async fn a_nul_character_in_any_text_is_a_400_never_a_500(app: TestApp) {
    let listed = problem(app.get("/api/v1/environments?displayName=a%00b").await, 400).await;
    assert_eq!(fields(&listed), ["displayName"], "{listed}");
    let created = problem(
        app.send_json(
            Method::POST,
            "/api/v1/environments",
            json!({"name": "nul", "description": "a\u{0}b"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(fields(&created), ["body"], "{created}");
}
