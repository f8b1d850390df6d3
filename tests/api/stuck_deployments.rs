//! The stuck-deployment sweep: deployments `in_progress` past their environment's
//! `deploymentTimeout` are failed by the server, once, whatever the number of replicas.

use crate::support::{database, Db, SECRET};
use reqwest::Client;
use serde_json::{json, Value};
use std::process::Child;
use std::time::{Duration, Instant};
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn admin_token(tenant: Uuid, user: Uuid) -> String {
    let keys = TokenKeys::new(SECRET.as_bytes()).unwrap();
    let actor = Actor {
        user: UserId(user),
        tenant: TenantId(tenant),
        roles: vec![Role::Admin],
    };
    let now = chrono::Utc::now();
    keys.issue(&actor, now, now + chrono::Duration::hours(1))
        .unwrap()
}

async fn send(client: &Client, request: reqwest::RequestBuilder, expected: u16) -> Value {
    let _ = client;
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expected, "{body}");
    body
}

/// Starts `replicas` servers on one database sweeping every second, records `count`
/// deployments into an environment with a 3 second timeout (and one into an environment
/// with a long one), starts them all, and checks that each timed-out deployment was failed
/// exactly once, by the server, with the reason `timed out`.
async fn stuck_deployments_fail_once(db: Db, replicas: usize, count: usize) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let mut servers = Servers(Vec::new());
    let mut bases = Vec::new();
    for _ in 0..replicas {
        let (child, base) = crate::support::start_server(
            &url,
            &[
                ("TERRANE_JWT_SECRET", SECRET),
                ("TERRANE_SWEEP_INTERVAL_SECS", "1"),
            ],
        );
        servers.0.push(child);
        bases.push(base);
    }
    let client = Client::new();
    let (tenant, user) = (Uuid::now_v7(), Uuid::now_v7());
    let token = admin_token(tenant, user);
    let base = &bases[0];
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
    };
    let component = send(
        &client,
        post(
            "/api/v1/catalog/components",
            json!({"name": "api", "kind": "service"}),
        ),
        201,
    )
    .await;
    let fast = send(
        &client,
        post(
            "/api/v1/environments",
            json!({"name": "fast", "config": {"deploymentTimeout": 3}}),
        ),
        201,
    )
    .await;
    let slow = send(
        &client,
        post(
            "/api/v1/environments",
            json!({"name": "slow", "config": {"deploymentTimeout": 3600}}),
        ),
        201,
    )
    .await;
    let mut ids = Vec::new();
    for (i, env) in std::iter::repeat_n(&fast, count)
        .chain(std::iter::once(&slow))
        .enumerate()
    {
        let d = send(
            &client,
            post(
                "/api/v1/deployments",
                json!({"componentId": component["id"], "environmentId": env["id"], "version": format!("v{i}")}),
            ),
            201,
        )
        .await;
        // Spread the starts over the replicas.
        let replica = &bases[i % bases.len()];
        send(
            &client,
            client
                .patch(format!(
                    "{replica}/api/v1/deployments/{}",
                    d["id"].as_str().unwrap()
                ))
                .bearer_auth(&token)
                .json(&json!({"status": "in_progress"})),
            200,
        )
        .await;
        ids.push(d["id"].as_str().unwrap().to_owned());
    }
    let (stuck, patient) = ids.split_at(count);

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let failed = send(
            &client,
            client
                .get(format!(
                    "{base}/api/v1/deployments?environmentId={}&status=failed&take=100",
                    fast["id"].as_str().unwrap()
                ))
                .bearer_auth(&token),
            200,
        )
        .await;
        if failed["total"].as_u64() == Some(count as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} stuck deployments failed within 30 s",
            failed["total"]
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Let every replica sweep a few more times: nothing may be failed twice.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for id in stuck {
        let history = send(
            &client,
            client
                .get(format!("{base}/api/v1/deployments/{id}/history"))
                .bearer_auth(&token),
            200,
        )
        .await;
        let history = history.as_array().unwrap();
        let timed_out: Vec<&Value> = history
            .iter()
            .filter(|h| h["reason"] == "timed out")
            .collect();
        assert_eq!(timed_out.len(), 1, "{id}: {history:?}");
        assert_eq!(timed_out[0]["from"], "in_progress");
        assert_eq!(timed_out[0]["to"], "failed");
        assert_eq!(timed_out[0]["actor"], Value::Null);
        assert_eq!(history.len(), 3, "{id}: {history:?}");
    }
    let untouched = send(
        &client,
        client
            .get(format!("{base}/api/v1/deployments/{}", patient[0]))
            .bearer_auth(&token),
        200,
    )
    .await;
    assert_eq!(untouched["status"], "in_progress");
}

#[tokio::test]
async fn stuck_deployments_are_failed_by_the_sweep_on_sqlite() {
    stuck_deployments_fail_once(Db::Sqlite, 1, 5).await;
}

#[tokio::test]
async fn stuck_deployments_are_failed_by_the_sweep_on_postgres() {
    stuck_deployments_fail_once(Db::Postgres, 1, 5).await;
}

#[tokio::test]
async fn three_replicas_on_one_postgres_fail_each_stuck_deployment_exactly_once() {
    stuck_deployments_fail_once(Db::Postgres, 3, 120).await;
}
