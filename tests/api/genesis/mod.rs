//! The Genesis dialect, black box: every example request and response of
//! `genesis-environments-api.txt` (only ids, times and people differ: terrane hands out its
//! own numbers, and its people are user ids), the lifecycle driven through Genesis's paths
//! alone with real executables, and tenant isolation of projects and environments.

mod examples;
mod lifecycle;
mod projects;

use crate::flexdeploy::{service_account, Account};
use crate::lifecycle::app_with;
use crate::support::{Db, TestApp};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use terrane_domain::Role;

/// A Genesis client: HTTP Basic with an admin service account.
pub struct Client {
    pub app: TestApp,
    pub account: Account,
    pub _dir: TempDir,
}

impl Client {
    /// A server whose workflow directory holds `scripts`, with an admin service account.
    pub async fn start(db: Db, scripts: &[(&str, &str)]) -> Option<Client> {
        let (app, dir) = app_with(db, scripts).await?;
        let account = service_account(&app, "genesis", &[Role::Admin]).await;
        Some(Client {
            app,
            account,
            _dir: dir,
        })
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.app
            .client
            .request(method, format!("{}{}", self.app.base, path))
            .basic_auth(&self.account.login, Some(&self.account.secret))
    }

    pub async fn send(&self, method: Method, path: &str, body: Value) -> Response {
        self.request(method, path).json(&body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        expect(self.request(Method::GET, path).send().await.unwrap(), 200).await
    }

    /// Creates a project through `/rest/projects` and answers its number.
    pub async fn project(&self, name: &str) -> i64 {
        let body =
            json!({"name": name, "projectManager": "ann", "description": "Genesis projects"});
        let project = expect(self.send(Method::POST, "/rest/projects", body).await, 200).await;
        project["id"].as_i64().unwrap()
    }

    /// Creates a template through `/api/v1/templates` (Genesis reads templates from its server).
    pub async fn template(&self, body: Value) {
        let response = self
            .app
            .send_json(Method::POST, "/api/v1/templates", body)
            .await;
        assert_eq!(response.status(), 201, "creating a template");
    }

    /// Creates an environment through Genesis and answers its number.
    pub async fn environment(&self, project: i64, body: Value) -> i64 {
        let name = body["envName"].as_str().unwrap().to_owned();
        let envs = format!("/rest/projects/{project}/envs");
        let result = expect(self.send(Method::POST, &envs, body).await, 200).await;
        assert_eq!(result["isSuccess"], true, "{result}");
        self.get(&envs).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name.as_str())
            .and_then(|e| e["id"].as_i64())
            .unwrap()
    }

    /// Reads the environment until its status is `status`.
    pub async fn wait_for(&self, path: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let env = self.get(path).await;
            if env["status"] == status {
                return env;
            }
            assert!(Instant::now() < deadline, "still {}: {env}", env["status"]);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The JSON of a response with `status`.
pub async fn expect(response: Response, status: u16) -> Value {
    let url = response.url().to_string();
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{url}: {body}");
    body
}

/// A template like the document's `Simple` (version `0.1`): a create and a destroy
/// workflow without variables.
pub fn simple(create: &[&str], destroy: &[&str]) -> Value {
    let steps = |runs: &[&str], phase: &str| -> Vec<Value> {
        runs.iter()
            .map(|run| json!({"phase": phase, "name": format!("run {run}"), "run": run, "timeoutSeconds": 120}))
            .collect()
    };
    json!({
        "name": "Simple",
        "version": "0.1",
        "workflows": [
            {"name": "create", "steps": steps(create, "provision")},
            {"name": "destroy", "steps": steps(destroy, "destroy")}
        ]
    })
}

/// The keys that hold ids, times and people: what may differ from the document.
const VARYING: &[&str] = &[
    "id",
    "envId",
    "projectId",
    "creationTime",
    "modificationTime",
    "executionStartedTimestamp",
    "stepId",
    "creator",
    "modifiedBy",
];

/// `value` with ids, times and people replaced by placeholders, and every link's origin
/// and numbers too, so that it compares with the document's examples.
pub fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, v)| {
                    let v = if VARYING.contains(&key.as_str()) {
                        Value::String("<varies>".into())
                    } else if key == "href" {
                        Value::String(href(v.as_str().unwrap_or_default()))
                    } else {
                        normalized(v)
                    };
                    (key.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

/// A link without its origin, with numbers as `N`.
fn href(url: &str) -> String {
    let path = url.find("/rest/").map_or(url, |at| &url[at..]);
    path.split('/')
        .map(|part| {
            if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
                "N"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
