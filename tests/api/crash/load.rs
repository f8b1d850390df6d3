//! The write load: each client writes its own rows, one request at a time, and keeps what it
//! was told (its ledger) until its first request without an answer.

use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// It was sent (or may have been), and the connection died before the answer: it may or
    /// may not have been written.
    Lost,
    /// No connection was made: the server never saw it, so it must not have been written.
    Refused,
}

/// An HTTP client for one server with one token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    pub fn new(base: &str, token: &str) -> Client {
        Client {
            // A client of its own: its connections die with the server, nobody else's.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: base.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Sends a request; its status and JSON body, or why there is none.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), Unanswered> {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.map_err(|e| {
            if e.is_connect() {
                Unanswered::Refused
            } else {
                Unanswered::Lost
            }
        })?;
        let status = response.status().as_u16();
        // A body cut off by the kill is no answer either.
        let bytes = response.bytes().await.map_err(|_| Unanswered::Lost)?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|_| Unanswered::Lost)?
        };
        Ok((status, body))
    }

    /// GETs a page of a list: its body and its `X-Total-Count`.
    pub async fn page(&self, path: &str) -> (Value, Option<u64>) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(response.status(), 200, "GET {path}");
        let total = response
            .headers()
            .get("x-total-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        (response.json().await.expect("json"), total)
    }

    /// GETs `path` and expects a 200.
    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .call(Method::GET, path, None)
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}"));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// A write whose answer a client did not get.
#[derive(Debug, Clone)]
pub enum Write {
    CreateEnvironment {
        name: String,
    },
    RecordDeployment {
        component: String,
        environment: String,
        version: String,
    },
    MoveDeployment {
        id: String,
        to: &'static str,
    },
    SubmitRequest {
        name: String,
    },
    ApproveRequest {
        id: String,
    },
}

/// What one client was told.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Writes answered 2xx.
    pub answered: usize,
    /// Environments it created, as answered.
    pub environments: Vec<Value>,
    /// Deployments it recorded, by id, as last answered.
    pub deployments: BTreeMap<String, Value>,
    /// For each (component, environment), its deployments that succeeded, in order.
    pub successes: BTreeMap<(String, String), Vec<String>>,
    /// Environment requests it submitted, by id, as last answered.
    pub requests: BTreeMap<String, Value>,
    /// The write in flight when the server died.
    pub lost: Option<Write>,
    /// The write that never reached the server.
    pub refused: Option<Write>,
    /// An answer that was not a success while the server was up (the test fails).
    pub failure: Option<String>,
}

impl Ledger {
    /// The write of this client without an answer, if any, and whether it may have landed.
    pub fn unanswered(&self) -> Option<(&Write, bool)> {
        match (&self.lost, &self.refused) {
            (Some(write), _) => Some((write, true)),
            (None, Some(write)) => Some((write, false)),
            (None, None) => None,
        }
    }
}

/// Stops the load of one client: why it stopped is in its ledger.
struct Stop;

/// One client's load: environments, deployments through to `succeeded` or `failed`,
/// environment requests, half of them approved, until a write goes unanswered.
pub async fn run(
    index: usize,
    client: Client,
    components: Vec<String>,
    answered: Arc<AtomicUsize>,
) -> Ledger {
    let mut writer = Writer {
        client,
        ledger: Ledger::default(),
        answered,
    };
    let _ = writer.drive(index, &components).await;
    writer.ledger
}

struct Writer {
    client: Client,
    ledger: Ledger,
    answered: Arc<AtomicUsize>,
}

impl Writer {
    async fn drive(&mut self, index: usize, components: &[String]) -> Result<(), Stop> {
        let mut first_environment: Option<String> = None;
        let mut round = 0usize;
        loop {
            let name = format!("crash-c{index}-e{round}");
            let created = self
                .write(
                    Method::POST,
                    "/api/v1/environments",
                    json!({"name": name}),
                    Write::CreateEnvironment { name: name.clone() },
                    201,
                )
                .await?;
            let environment = id(&created);
            first_environment.get_or_insert_with(|| environment.clone());
            self.ledger.environments.push(created);

            // A deployment of one component into the new environment, and one of the first
            // component into the client's first environment, so that one cell sees many.
            let outcome = if round % 3 == 2 {
                "failed"
            } else {
                "succeeded"
            };
            let component = &components[round % components.len()];
            self.deploy(component, &environment, &format!("1.{round}.0"), outcome)
                .await?;
            let first = first_environment.clone().unwrap_or_default();
            let outcome = if round % 4 == 3 {
                "failed"
            } else {
                "succeeded"
            };
            self.deploy(&components[0], &first, &format!("2.{round}.0"), outcome)
                .await?;

            let name = format!("crash-c{index}-r{round}");
            let request = self
                .write(
                    Method::POST,
                    "/api/v1/environment-requests",
                    json!({"name": name, "type": "persistent", "tier": "small"}),
                    Write::SubmitRequest { name: name.clone() },
                    201,
                )
                .await?;
            let request_id = id(&request);
            self.ledger.requests.insert(request_id.clone(), request);
            if round.is_multiple_of(2) {
                let approved = self
                    .write(
                        Method::POST,
                        &format!("/api/v1/environment-requests/{request_id}/approve"),
                        Value::Null,
                        Write::ApproveRequest {
                            id: request_id.clone(),
                        },
                        200,
                    )
                    .await?;
                self.ledger.requests.insert(request_id, approved);
            }
            round += 1;
        }
    }

    /// Records a deployment and moves it through `in_progress` to `outcome`.
    async fn deploy(
        &mut self,
        component: &str,
        environment: &str,
        version: &str,
        outcome: &'static str,
    ) -> Result<(), Stop> {
        let recorded = self
            .write(
                Method::POST,
                "/api/v1/deployments",
                json!({"componentId": component, "environmentId": environment, "version": version}),
                Write::RecordDeployment {
                    component: component.to_owned(),
                    environment: environment.to_owned(),
                    version: version.to_owned(),
                },
                201,
            )
            .await?;
        let deployment = id(&recorded);
        self.ledger.deployments.insert(deployment.clone(), recorded);
        for to in ["in_progress", outcome] {
            let moved = self
                .write(
                    Method::PATCH,
                    &format!("/api/v1/deployments/{deployment}"),
                    json!({"status": to}),
                    Write::MoveDeployment {
                        id: deployment.clone(),
                        to,
                    },
                    200,
                )
                .await?;
            self.ledger.deployments.insert(deployment.clone(), moved);
        }
        if outcome == "succeeded" {
            self.ledger
                .successes
                .entry((component.to_owned(), environment.to_owned()))
                .or_default()
                .push(deployment);
        }
        Ok(())
    }

    /// Sends one write; its answer when it is `expected`, else the client stops with the
    /// reason in its ledger.
    async fn write(
        &mut self,
        method: Method,
        path: &str,
        body: Value,
        write: Write,
        expected: u16,
    ) -> Result<Value, Stop> {
        let body = (!body.is_null()).then_some(body);
        match self.client.call(method, path, body).await {
            Ok((status, answer)) if status == expected => {
                self.ledger.answered += 1;
                self.answered.fetch_add(1, Ordering::SeqCst);
                Ok(answer)
            }
            Ok((status, answer)) => {
                self.ledger.failure = Some(format!("{write:?}: {status} {answer}"));
                Err(Stop)
            }
            Err(Unanswered::Lost) => {
                self.ledger.lost = Some(write);
                Err(Stop)
            }
            Err(Unanswered::Refused) => {
                self.ledger.refused = Some(write);
                Err(Stop)
            }
        }
    }
}

/// The `id` of a JSON body.
pub fn id(value: &Value) -> String {
    super::text(value, "id").to_owned()
}
