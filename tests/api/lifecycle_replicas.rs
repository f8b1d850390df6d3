//! Exactly once across replicas: a run is executed by the one replica that claimed it, under
//! a lease; when that replica dies, another fails the step it ran and the run, and breaks
//! the environment, without ever starting a step twice.

use crate::lifecycle::script;
use crate::support::{database, start_server, Db, SECRET};
use reqwest::Client;
use serde_json::{json, Value};
use std::process::Child;
use std::time::{Duration, Instant};
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

crate::on_both_databases!(replicas:
    a_run_whose_replica_is_killed_is_failed_by_another_and_no_step_starts_twice,
);

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Kills a process left behind by the killed replica (its step), whatever happens.
struct Orphan(String);

impl Drop for Orphan {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &self.0])
            .status();
    }
}

async fn send(request: reqwest::RequestBuilder, expected: u16) -> Value {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, expected, "{body}");
    body
}

async fn a_run_whose_replica_is_killed_is_failed_by_another_and_no_step_starts_twice(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let workflows = tempfile::tempdir().unwrap();
    let log = workflows.path().join("starts.log");
    script(
        workflows.path(),
        "long.sh",
        &format!("echo \"$PPID $$\" >> {}\nexec sleep 300", log.display()),
    );
    script(
        workflows.path(),
        "after.sh",
        &format!("echo after >> {}", log.display()),
    );
    let mut servers = Servers(Vec::new());
    let mut bases = Vec::new();
    for _ in 0..3 {
        let (child, base) = start_server(
            &url,
            &[
                ("TERRANE_JWT_SECRET", SECRET),
                ("TERRANE_WORKFLOW_DIR", workflows.path().to_str().unwrap()),
                ("TERRANE_WORKFLOW_POLL_MS", "100"),
                ("TERRANE_WORKFLOW_LEASE_SECS", "2"),
            ],
        );
        servers.0.push(child);
        bases.push(base);
    }
    let actor = Actor {
        user: UserId(Uuid::now_v7()),
        tenant: TenantId(Uuid::now_v7()),
        roles: vec![Role::Admin],
    };
    let now = chrono::Utc::now();
    let token = TokenKeys::new(SECRET.as_bytes())
        .unwrap()
        .issue(&actor, now, now + chrono::Duration::hours(1))
        .unwrap();
    let client = Client::new();
    let post = |base: &str, path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&body)
    };
    send(
        post(
            &bases[0],
            "/api/v1/templates",
            json!({
                "name": "long", "version": "1",
                "workflows": [
                    {"name": "create", "steps": [
                        {"name": "hang", "run": "long.sh", "timeoutSeconds": 600},
                        {"name": "after", "run": "after.sh", "timeoutSeconds": 60}
                    ]},
                    {"name": "destroy"}
                ]
            }),
        ),
        201,
    )
    .await;
    let env = send(
        post(
            &bases[0],
            "/api/v1/environments",
            json!({"name": "contested", "template": {"name": "long", "version": "1"}}),
        ),
        201,
    )
    .await;
    let env_path = format!("/api/v1/environments/{}", env["id"].as_str().unwrap());

    let deadline = Instant::now() + Duration::from_secs(30);
    let line = loop {
        if let Some(line) = std::fs::read_to_string(&log)
            .ok()
            .and_then(|t| t.lines().next().map(str::to_owned))
        {
            break line;
        }
        assert!(Instant::now() < deadline, "no replica started the step");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (replica, step) = line.split_once(' ').unwrap();
    let _orphan = Orphan(step.to_owned());
    let index = servers
        .0
        .iter()
        .position(|c| c.id().to_string() == replica)
        .expect("the step's parent is a replica");
    // SIGKILL: the replica cannot release its lease or record anything.
    servers.0[index].kill().unwrap();
    servers.0[index].wait().unwrap();
    let other = &bases[(index + 1) % 3];

    let deadline = Instant::now() + Duration::from_secs(30);
    let broken = loop {
        let current = send(
            client.get(format!("{other}{env_path}")).bearer_auth(&token),
            200,
        )
        .await;
        if current["status"] == "broken" {
            break current;
        }
        assert_eq!(current["status"], "busy", "{current}");
        assert!(Instant::now() < deadline, "the run was never taken over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(broken["status"], "broken");
    let runs = send(
        client
            .get(format!("{other}{env_path}/runs"))
            .bearer_auth(&token),
        200,
    )
    .await;
    let run = &runs["data"][0];
    assert_eq!(run["status"], "failed");
    let statuses: Vec<&str> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "skipped"]);
    assert!(
        run["steps"][0]["output"]
            .as_str()
            .unwrap()
            .contains("the replica running it stopped"),
        "{run}"
    );
    // Long enough for any replica to have started a step again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let starts = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        starts.lines().count(),
        1,
        "no step ever starts twice: {starts}"
    );
}
