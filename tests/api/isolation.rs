//! One generated probe of tenant isolation: every operation of the server's own OpenAPI
//! document that takes an id in its path is called by an admin of another organization with
//! this organization's real ids, and must answer 404 without revealing the row. A new route
//! is probed as soon as it is in the document.

use crate::support::{Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use terrane_domain::Role;
use uuid::Uuid;

crate::on_both_databases!(isolation_probe:
    every_route_with_an_id_answers_404_to_another_organization_and_reveals_nothing,
);

/// A server whose workflow directory holds the executables the document's examples name, so
/// that those examples are valid bodies.
async fn app_with_example_executables(db: Db) -> Option<(TestApp, tempfile::TempDir)> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["provision.sh", "configure.sh", "destroy.sh"] {
        let path = dir.path().join(name);
        std::fs::write(&path, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let workflows = dir.path().to_str().unwrap().to_owned();
    let app = TestApp::spawn_with(db, &[("TERRANE_WORKFLOW_DIR", &workflows)]).await?;
    Some((app, dir))
}

/// The rows one organization made, by kind, as the path values that address them.
#[derive(Default)]
struct Rows {
    /// Path value by kind (`environment`, `environmentNumber`, ...).
    ids: BTreeMap<&'static str, String>,
    /// Every text that would reveal one of the rows: ids and unique names.
    markers: Vec<String>,
}

impl Rows {
    fn keep(&mut self, kind: &'static str, row: &Value, id_field: &str) -> String {
        let id = match &row[id_field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        assert!(
            !id.is_empty() && id != "null",
            "{kind} has no {id_field}: {row}"
        );
        self.ids.insert(kind, id.clone());
        // Numbers (FlexDeploy's ids) are too short to look for in a body.
        if id.len() >= 8 {
            self.markers.push(id.clone());
        }
        id
    }
}

struct Caller<'a> {
    app: &'a TestApp,
    token: String,
}

impl Caller<'_> {
    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
        let mut request = self.app.request(method, path, &self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (status, text) = self.send(Method::POST, path, Some(body)).await;
        assert!(
            status == 200 || status == 201,
            "POST {path}: {status} {text}"
        );
        serde_json::from_str(&text).expect("json")
    }
}

/// Makes one row of every kind in the caller's organization, each named with `mark`.
async fn make_rows(caller: &Caller<'_>, mark: &str) -> Rows {
    let mut rows = Rows::default();
    let named = |what: &str| format!("{what}-{mark}");
    // First, so that the changes below give it deliveries (to a closed port: they stay
    // pending or dead, which is all the probe needs).
    let webhook = caller
        .create(
            "/api/v1/webhooks",
            json!({"url": format!("http://127.0.0.1:9/{}", named("hook"))}),
        )
        .await;
    let webhook_id = rows.keep("webhook", &webhook, "id");
    rows.markers.push(named("hook"));
    let template = caller
        .create(
            "/api/v1/templates",
            json!({"name": named("tpl"), "version": "1",
                   "workflows": [{"name": "create"}, {"name": "destroy"}],
                   "createWorkflow": "create", "destroyWorkflow": "destroy"}),
        )
        .await;
    rows.keep("template", &template, "id");
    let project = caller
        .create(
            "/api/v1/projects",
            json!({"name": named("proj"), "projectManager": "ann"}),
        )
        .await;
    let project_id = rows.keep("project", &project, "id");
    rows.keep("projectNumber", &project, "number");
    rows.markers.push(named("proj"));
    let env = caller
        .create(
            "/api/v1/environments",
            json!({"name": named("env"), "projectId": project_id,
                   "template": {"name": named("tpl"), "version": "1"}}),
        )
        .await;
    let env_id = rows.keep("environment", &env, "id");
    rows.keep("environmentNumber", &env, "number");
    rows.markers.push(named("env"));
    let runs = wait_for_runs(caller, &env_id).await;
    rows.keep("run", &runs[0], "id");
    let component = caller
        .create(
            "/api/v1/catalog/components",
            json!({"name": named("comp"), "kind": "service"}),
        )
        .await;
    let component_id = rows.keep("component", &component, "id");
    rows.markers.push(named("comp"));
    let group = caller
        .create(
            &format!("/api/v1/environments/{env_id}/target-groups"),
            json!({"name": named("group")}),
        )
        .await;
    let group_id = rows.keep("targetGroup", &group, "id");
    rows.keep("targetGroupNumber", &group, "number");
    rows.markers.push(named("group"));
    let target = caller
        .create(
            "/api/v1/targets",
            json!({"environmentId": env_id, "targetGroupId": group_id, "name": named("target"),
                   "targetType": "docker_host", "connection": {"host": "10.0.0.1", "port": 2375}}),
        )
        .await;
    let target_id = rows.keep("target", &target, "id");
    rows.markers.push(named("target"));
    let deployment = caller
        .create(
            "/api/v1/deployments",
            json!({"componentId": component_id, "environmentId": env_id, "version": named("v")}),
        )
        .await;
    rows.keep("deployment", &deployment, "id");
    rows.markers.push(named("v"));
    let release = caller
        .create(
            "/api/v1/releases",
            json!({"name": named("rel"), "components": [{"componentId": component_id, "version": "1.0"}]}),
        )
        .await;
    rows.keep("release", &release, "id");
    let window = caller
        .create(
            &format!("/api/v1/environments/{env_id}/freeze-windows"),
            json!({"start": "2030-01-01T00:00:00Z", "end": "2030-01-02T00:00:00Z", "reason": named("freeze")}),
        )
        .await;
    rows.keep("freezeWindow", &window, "id");
    rows.markers.push(named("freeze"));
    let request = caller
        .create(
            "/api/v1/environment-requests",
            json!({"name": named("req"), "type": "ephemeral", "tier": "small", "ttlHours": 2}),
        )
        .await;
    rows.keep("environmentRequest", &request, "id");
    rows.markers.push(named("req"));
    let agent = caller
        .create(
            "/api/v1/agents",
            json!({"name": named("agent"), "targetIds": [target_id]}),
        )
        .await;
    rows.keep("agent", &agent, "id");
    rows.keep("agentToken", &agent, "token");
    let account = caller
        .create(
            "/api/v1/service-accounts",
            json!({"name": named("sa"), "roles": ["viewer"]}),
        )
        .await;
    rows.keep("serviceAccount", &account, "id");
    rows.keep("serviceAccountLogin", &account, "login");
    let delivery = wait_for_delivery(caller, &webhook_id).await;
    rows.keep("webhookDelivery", &delivery, "id");
    rows
}

async fn wait_for_delivery(caller: &Caller<'_>, webhook_id: &str) -> Value {
    for _ in 0..200 {
        let (status, text) = caller
            .send(
                Method::GET,
                &format!("/api/v1/webhooks/{webhook_id}/deliveries"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let page: Value = serde_json::from_str(&text).expect("json");
        if let Some(delivery) = page["data"].get(0) {
            return delivery.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the webhook got no delivery");
}

async fn wait_for_runs(caller: &Caller<'_>, env_id: &str) -> Vec<Value> {
    for _ in 0..100 {
        let (status, text) = caller
            .send(
                Method::GET,
                &format!("/api/v1/environments/{env_id}/runs"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        let runs = body
            .get("data")
            .unwrap_or(&body)
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !runs.is_empty() {
            return runs;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the environment's create run never appeared");
}

/// The kind of row a path parameter names, from the segment before it.
fn kind_of(path: &str, param: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').collect();
    let at = segments
        .iter()
        .position(|s| *s == format!("{{{param}}}"))
        .expect("param in path");
    let before = segments[at - 1];
    // The dialects (FlexDeploy, Genesis) address rows by number.
    let dialect = !path.starts_with("/api/v1/");
    match (dialect, before, param) {
        (true, "environment", "id") | (true, "envs", "envId") => "environmentNumber",
        (true, "targetgroup", "id") => "targetGroupNumber",
        (true, "projects", "projectId") => "projectNumber",
        (true, "actions", "action") => "action",
        (true, "workflows", "workflow") => "workflow",
        (false, "projects", "id") => "project",
        (false, "agents", "id") => "agent",
        (false, "components", "id") => "component",
        (false, "deployments", "id") => "deployment",
        (false, "environment-requests", "id") => "environmentRequest",
        (false, "environments", "id" | "envId") => "environment",
        (false, "freeze-windows", "windowId") => "freezeWindow",
        (false, "releases", "id") => "release",
        (false, "runs", "runId") => "run",
        (false, "service-accounts", "id") => "serviceAccount",
        (false, "target-groups", "id") => "targetGroup",
        (false, "targets", "id") => "target",
        (false, "templates", "id") => "template",
        (false, "webhooks", "id") => "webhook",
        (false, "deliveries", "deliveryId") => "webhookDelivery",
        (false, "actions", "name") => "action",
        (false, "workflows", "name") => "workflow",
        _ => panic!(
            "the isolation probe does not know what `{{{param}}}` of `{path}` names: \
             teach `kind_of` and `make_rows` about it"
        ),
    }
}

/// A valid body for an operation: the example of its request body (or of its schema), with
/// every reference to another row pointing at the caller's own rows; `{}` without one.
fn body_for(doc: &Value, operation: &Value, own: &Rows) -> Option<Value> {
    let content = operation.pointer("/requestBody/content/application~1json")?;
    let example = content.get("example").cloned().or_else(|| {
        let mut schema = content.get("schema")?;
        if let Some(choices) = schema.get("oneOf").and_then(Value::as_array) {
            schema = choices.iter().find(|c| c.get("$ref").is_some())?;
        }
        let name = schema.get("$ref")?.as_str()?.rsplit('/').next()?;
        doc.pointer(&format!("/components/schemas/{name}/example"))
            .cloned()
    });
    let mut body = example.unwrap_or_else(|| json!({}));
    if let Some(object) = body.as_object_mut() {
        for (field, kind) in [
            ("environmentId", "environment"),
            ("componentId", "component"),
            ("targetGroupId", "targetGroup"),
            ("targetId", "target"),
        ] {
            // UUID references only: the dialect's numbers in its own examples stay.
            if object.get(field).is_some_and(Value::is_string) {
                object.insert(field.into(), json!(own.ids[kind]));
            }
        }
        for list in ["components", "targets"] {
            if object.contains_key(list) {
                object.insert(list.into(), json!([]));
            }
        }
        if object.contains_key("targetIds") {
            object.insert("targetIds".into(), json!([own.ids["target"]]));
        }
    }
    Some(body)
}

/// Whether only an agent (with its agent token) may call the operation.
fn for_agents(operation: &Value) -> bool {
    operation
        .pointer("/responses/401/description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.contains("agent token"))
}

async fn every_route_with_an_id_answers_404_to_another_organization_and_reveals_nothing(db: Db) {
    let Some((app, _workflows)) = app_with_example_executables(db).await else {
        return;
    };
    let (status, text) = Caller {
        app: &app,
        token: app.admin(),
    }
    .send(Method::GET, "/api-docs/openapi.json", None)
    .await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&text).unwrap();

    let a = Caller {
        app: &app,
        token: app.admin(),
    };
    let mut theirs = make_rows(&a, "a7f3e9c1").await;
    theirs.ids.insert("action", "destroy".into());
    theirs.ids.insert("workflow", "create".into());
    let tenant_b = Uuid::now_v7();
    let b = Caller {
        app: &app,
        token: app.token_for(tenant_b, Uuid::now_v7(), &[Role::Admin]),
    };
    let own = make_rows(&b, "b2d4").await;
    let b_agent = Caller {
        app: &app,
        token: own.ids["agentToken"].clone(),
    };

    let before = snapshot(&a, &theirs).await;
    let mut probed = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let probed_prefix = ["/api/v1/", "/flexdeploy/", "/rest/"]
            .iter()
            .any(|prefix| path.starts_with(prefix));
        if !probed_prefix || !path.contains('{') {
            continue;
        }
        let params: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        let mut concrete = path.clone();
        let mut in_path = Vec::new();
        for param in &params {
            let value = &theirs.ids[kind_of(path, param)];
            concrete = concrete.replace(&format!("{{{param}}}"), value);
            in_path.push(value.clone());
        }
        for (method, operation) in operations.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if ![
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ]
            .contains(&method)
            {
                continue;
            }
            let mut url = concrete.clone();
            let required_queries: Vec<String> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| format!("{}={}", p["name"].as_str().unwrap(), own.ids["environment"]))
                .collect();
            if !required_queries.is_empty() {
                url = format!("{url}?{}", required_queries.join("&"));
            }
            let body = body_for(&doc, operation, &own);
            let (status, text) = if for_agents(operation) {
                // An agent acts for its own organization: another organization's rows are
                // as unknown to it as rows that do not exist.
                let (status, text) = b_agent.send(method.clone(), &url, body.clone()).await;
                let missing = concrete.replace(&in_path[0], &Uuid::now_v7().to_string());
                let (missing_status, _) = b_agent.send(method.clone(), &missing, body).await;
                assert_eq!(
                    status, missing_status,
                    "{method} {path} as another organization's agent answers differently for a real row: {text}"
                );
                assert!(
                    status == 404 || status == 403,
                    "{method} {path}: {status} {text}"
                );
                (status, text)
            } else {
                let (status, text) = b.send(method.clone(), &url, body).await;
                assert_eq!(
                    status, 404,
                    "{method} {path} as another organization's admin: {text}"
                );
                (status, text)
            };
            for marker in &theirs.markers {
                if !in_path.contains(marker) {
                    assert!(
                        !text.contains(marker.as_str()),
                        "{method} {path} ({status}) reveals `{marker}`: {text}"
                    );
                }
            }
            probed += 1;
        }
    }
    assert!(probed >= 50, "only {probed} operations were probed");

    // Nothing of theirs changed.
    for (path, before) in snapshot(&a, &theirs).await.into_iter().zip(before) {
        assert_eq!(path, before, "another organization's calls changed a row");
    }
}

/// Their rows as they read them.
async fn snapshot(caller: &Caller<'_>, rows: &Rows) -> Vec<String> {
    let mut bodies = Vec::new();
    for (collection, kind) in [
        ("environments", "environment"),
        ("templates", "template"),
        ("service-accounts", "serviceAccount"),
        ("agents", "agent"),
        ("targets", "target"),
        ("target-groups", "targetGroup"),
        ("deployments", "deployment"),
        ("environment-requests", "environmentRequest"),
        ("catalog/components", "component"),
        ("projects", "project"),
        ("releases", "release"),
    ] {
        let path = format!("/api/v1/{collection}/{}", rows.ids[kind]);
        let (status, text) = caller.send(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{path}: {text}");
        bodies.push(text);
    }
    bodies
}
