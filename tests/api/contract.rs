//! The OpenAPI document states what the server does: tests over the document the server serves,
//! checked against the server's own answers.

use crate::on_both_backends;
use crate::support::{fields, problem, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

on_both_backends!(every_field_a_create_refuses_as_missing_is_required_by_its_create_schema,);

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
