//! The FlexDeploy v2 dialect, black box: every example request and response of
//! `flexdeploy-environment-api-v2.txt` (only the ids differ: terrane hands out its own
//! numbers), Basic authentication with service accounts, and the numbers' tenant isolation.

mod auth;
mod environments;
mod numbers;
mod target_groups;

use crate::support::TestApp;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use terrane_domain::Role;

pub const ENVIRONMENTS: &str = "/flexdeploy/rest/v2/topology/environment";
pub const TARGET_GROUPS: &str = "/flexdeploy/rest/v2/topology/targetgroup";

/// A service account's credentials.
pub struct Account {
    pub id: String,
    pub login: String,
    pub secret: String,
}

/// Creates a service account with `roles` in the app's organization (as its admin).
pub async fn service_account(app: &TestApp, name: &str, roles: &[Role]) -> Account {
    let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/service-accounts",
            json!({"name": name, "roles": roles}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating service account {name}");
    let body: Value = response.json().await.unwrap();
    Account {
        id: body["id"].as_str().unwrap().to_owned(),
        login: body["login"].as_str().unwrap().to_owned(),
        secret: body["secret"].as_str().unwrap().to_owned(),
    }
}

/// A FlexDeploy client: HTTP Basic with a service account.
pub struct Client<'a> {
    pub app: &'a TestApp,
    pub account: Account,
}

impl<'a> Client<'a> {
    /// A client with an admin service account of the app's organization.
    pub async fn admin(app: &'a TestApp) -> Client<'a> {
        let account = service_account(app, "flexdeploy", &[Role::Admin]).await;
        Client { app, account }
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

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// The JSON of a response with `status`.
    pub async fn expect(response: Response, status: u16) -> Value {
        let url = response.url().to_string();
        assert_eq!(response.status().as_u16(), status, "{url}");
        response.json().await.unwrap()
    }

    /// Creates a target group with `code` and answers its number.
    pub async fn target_group(&self, code: &str) -> i64 {
        let response = self
            .send(
                Method::POST,
                TARGET_GROUPS,
                json!({"targetGroupCode": code, "targetGroupName": code, "isActive": true}),
            )
            .await;
        Self::expect(response, 201).await["targetGroupId"]
            .as_i64()
            .unwrap()
    }

    /// Creates an environment from a FlexDeploy body and answers the representation.
    pub async fn environment(&self, body: Value) -> Value {
        let response = self.send(Method::POST, ENVIRONMENTS, body).await;
        Self::expect(response, 201).await
    }
}

/// The `targetId` of the target of `group` in an environment representation.
pub fn target_id(env: &Value, group: i64) -> i64 {
    env["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["targetGroupId"] == group)
        .unwrap_or_else(|| panic!("no target of group {group} in {env}"))["targetId"]
        .as_i64()
        .unwrap()
}
