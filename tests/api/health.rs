//! Health checks over HTTP, against Docker and Nomad fakes on loopback: on demand, on
//! schedule, kept as history, and refused for addresses probes may never reach.

use crate::on_both_backends;
use crate::support::{fields, problem, start_server, Db, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use terrane_domain::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

on_both_backends!(
    a_health_check_probes_the_docker_daemon_now_and_the_target_and_history_follow,
    a_failing_daemon_is_degraded_and_an_absent_one_unhealthy_newest_first,
    a_nomad_job_is_checked_through_the_nomad_api,
    only_admins_and_deployers_trigger_checks_and_other_tenants_targets_are_not_found,
    metadata_and_link_local_addresses_are_refused_at_creation_and_update,
    health_check_history_pages_are_checked,
);

/// A fake Docker or Nomad API on 127.0.0.1 answering every request with `status` and
/// `body`; counts the requests it answered.
struct Fake {
    port: u16,
    requests: Arc<AtomicUsize>,
}

async fn fake(status: u16, body: &'static str) -> Fake {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let count = requests.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                count.fetch_add(1, Ordering::SeqCst);
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    Fake { port, requests }
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn environment(app: &TestApp, name: &str, interval: u32) -> Value {
    app.create_env(json!({"name": name, "config": {"healthCheckInterval": interval}}))
        .await
}

async fn create_target(
    app: &TestApp,
    env: &Value,
    name: &str,
    target_type: &str,
    connection: Value,
) -> Value {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/targets",
            json!({"environmentId": id(env), "name": name, "targetType": target_type, "connection": connection}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating a target");
    response.json().await.unwrap()
}

async fn docker_target(app: &TestApp, env: &Value, name: &str, port: u16) -> Value {
    create_target(
        app,
        env,
        name,
        "docker_host",
        json!({"host": "127.0.0.1", "port": port}),
    )
    .await
}

async fn check(app: &TestApp, target: &Value, token: &str) -> reqwest::Response {
    app.request(
        Method::POST,
        &format!("/api/v1/targets/{}/health-check", id(target)),
        token,
    )
    .send()
    .await
    .unwrap()
}

async fn history(app: &TestApp, target: &Value) -> Value {
    let response = app
        .get(&format!("/api/v1/targets/{}/health-checks", id(target)))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn a_health_check_probes_the_docker_daemon_now_and_the_target_and_history_follow(
    app: TestApp,
) {
    let docker = fake(200, "OK").await;
    let env = environment(&app, "prod", 30).await;
    let target = docker_target(&app, &env, "web-1", docker.port).await;
    assert_eq!(target["healthStatus"], "unknown");
    let response = check(&app, &target, &app.token(&[Role::Deployer])).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["message"], "Docker daemon responding");
    assert_eq!(
        body.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["checkedAt", "message", "status"],
        "exactly the fields of the spec (sorted by the client)"
    );
    assert_eq!(docker.requests.load(Ordering::SeqCst), 1);

    let read: Value = app
        .get(&format!("/api/v1/targets/{}", id(&target)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["healthStatus"], "healthy");
    assert_eq!(read["healthMessage"], "Docker daemon responding");
    assert_eq!(read["lastHealthCheckAt"], body["checkedAt"]);
    assert_eq!(read["version"], target["version"], "a probe is not an edit");

    let page = history(&app, &target).await;
    assert_eq!(page["total"], 1);
    assert_eq!(
        (page["skip"].clone(), page["take"].clone()),
        (json!(0), json!(20))
    );
    assert_eq!(page["data"][0]["status"], "healthy");
    assert_eq!(page["data"][0]["checkedAt"], body["checkedAt"]);
    assert_eq!(page["data"][0]["targetId"], target["id"]);
}

async fn a_failing_daemon_is_degraded_and_an_absent_one_unhealthy_newest_first(app: TestApp) {
    let failing = fake(500, "{\"message\":\"boom\"}").await;
    let env = environment(&app, "prod", 30).await;
    let target = docker_target(&app, &env, "web-1", failing.port).await;
    let body: Value = check(&app, &target, &app.admin())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "degraded");
    assert!(body["message"].as_str().unwrap().contains("500"), "{body}");

    // Nothing listens on a port that was just bound and released.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let response = app
        .send_json(
            Method::PATCH,
            &format!("/api/v1/targets/{}", id(&target)),
            json!({"connection": {"host": "127.0.0.1", "port": closed}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = check(&app, &target, &app.admin())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert!(
        body["message"].as_str().unwrap().contains("cannot reach"),
        "{body}"
    );
    let page = history(&app, &target).await;
    let statuses: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["unhealthy", "degraded"]);
    let read: Value = app
        .get("/api/v1/targets?healthStatus=unhealthy")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read.as_array().unwrap().len(), 1);
}

async fn a_nomad_job_is_checked_through_the_nomad_api(app: TestApp) {
    let nomad = fake(200, "{\"ID\":\"api\",\"Status\":\"pending\"}").await;
    let env = environment(&app, "prod", 30).await;
    let target = create_target(
        &app,
        &env,
        "api",
        "nomad_job",
        json!({"address": format!("http://127.0.0.1:{}", nomad.port), "jobId": "api"}),
    )
    .await;
    let body: Value = check(&app, &target, &app.admin())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "degraded");
    assert!(
        body["message"].as_str().unwrap().contains("pending"),
        "{body}"
    );
}

async fn only_admins_and_deployers_trigger_checks_and_other_tenants_targets_are_not_found(
    app: TestApp,
) {
    let docker = fake(200, "OK").await;
    let env = environment(&app, "prod", 30).await;
    let target = docker_target(&app, &env, "web-1", docker.port).await;
    problem(check(&app, &target, &app.token(&[Role::Viewer])).await, 403).await;
    assert_eq!(docker.requests.load(Ordering::SeqCst), 0);
    let viewer_reads = app
        .request(
            Method::GET,
            &format!("/api/v1/targets/{}/health-checks", id(&target)),
            &app.token(&[Role::Viewer]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(viewer_reads.status(), 200);
    let stranger = app.token_for(uuid::Uuid::now_v7(), app.user, &[Role::Admin]);
    problem(check(&app, &target, &stranger).await, 404).await;
    let foreign_history = app
        .request(
            Method::GET,
            &format!("/api/v1/targets/{}/health-checks", id(&target)),
            &stranger,
        )
        .send()
        .await
        .unwrap();
    problem(foreign_history, 404).await;
    assert_eq!(docker.requests.load(Ordering::SeqCst), 0);
    let unauthenticated = app
        .client
        .post(format!(
            "{}/api/v1/targets/{}/health-check",
            app.base,
            id(&target)
        ))
        .send()
        .await
        .unwrap();
    problem(unauthenticated, 401).await;
}

async fn metadata_and_link_local_addresses_are_refused_at_creation_and_update(app: TestApp) {
    let env = environment(&app, "prod", 30).await;
    for (target_type, connection, field) in [
        (
            "docker_host",
            json!({"host": "169.254.169.254", "port": 80}),
            "connection.host",
        ),
        (
            "compose_host",
            json!({"host": "fe80::1", "port": 2375, "projectName": "p"}),
            "connection.host",
        ),
        (
            "nomad_job",
            json!({"address": "http://[fd00:ec2::254]", "jobId": "x"}),
            "connection.address",
        ),
    ] {
        let response = app
            .send_json(
                Method::POST,
                "/api/v1/targets",
                json!({"environmentId": id(&env), "name": "meta", "targetType": target_type, "connection": connection}),
            )
            .await;
        let body = problem(response, 400).await;
        assert_eq!(fields(&body), [field], "{body}");
    }
    let target = docker_target(&app, &env, "web-1", 2375).await;
    let response = app
        .send_json(
            Method::PUT,
            &format!("/api/v1/targets/{}", id(&target)),
            json!({"connection": {"host": "169.254.10.1", "port": 2375}}),
        )
        .await;
    let body = problem(response, 400).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("169.254.0.0/16"),
        "{body}"
    );
}

async fn health_check_history_pages_are_checked(app: TestApp) {
    let env = environment(&app, "prod", 30).await;
    let target = docker_target(&app, &env, "web-1", 2375).await;
    let response = app
        .get(&format!(
            "/api/v1/targets/{}/health-checks?take=101&skip=-1",
            id(&target)
        ))
        .await;
    let body = problem(response, 400).await;
    assert_eq!(fields(&body), ["skip", "take"]);
    let missing = app
        .get(&format!(
            "/api/v1/targets/{}/health-checks",
            uuid::Uuid::now_v7()
        ))
        .await;
    problem(missing, 404).await;
}

/// Polls `path` until `done` holds for its body, for at most `limit`.
async fn eventually(
    app: &TestApp,
    path: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let started = Instant::now();
    loop {
        let body: Value = app.get(path).await.json().await.unwrap();
        if done(&body) || started.elapsed() > limit {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn scheduled_checks_probe_targets_every_interval_of_their_environment_on_sqlite() {
    scheduled_checks(Db::Sqlite).await;
}

#[tokio::test]
async fn scheduled_checks_probe_targets_every_interval_of_their_environment_on_postgres() {
    scheduled_checks(Db::Postgres).await;
}

async fn scheduled_checks(db: Db) {
    let Some(app) =
        TestApp::spawn_with(db, &[("TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS", "1")]).await
    else {
        return;
    };
    let docker = fake(200, "OK").await;
    let env = environment(&app, "prod", 2).await;
    let target = docker_target(&app, &env, "web-1", docker.port).await;
    let path = format!("/api/v1/targets/{}/health-checks", id(&target));
    let page = eventually(&app, &path, Duration::from_secs(10), |p| p["total"] == 2).await;
    assert_eq!(
        page["total"], 2,
        "a check at once and another two seconds later: {page}"
    );
    let first =
        chrono::DateTime::parse_from_rfc3339(page["data"][1]["checkedAt"].as_str().unwrap())
            .unwrap();
    let second =
        chrono::DateTime::parse_from_rfc3339(page["data"][0]["checkedAt"].as_str().unwrap())
            .unwrap();
    assert!(
        second - first >= chrono::Duration::milliseconds(1500),
        "{first} then {second}"
    );
    let read: Value = app
        .get(&format!("/api/v1/targets/{}", id(&target)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["healthStatus"], "healthy");
}

#[tokio::test]
async fn two_replicas_on_one_postgres_run_each_due_check_once() {
    let scheduler = [("TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS", "1")];
    let Some(app) = TestApp::spawn_with(Db::Postgres, &scheduler).await else {
        return;
    };
    let mut envs = vec![("TERRANE_JWT_SECRET", crate::support::SECRET)];
    envs.extend_from_slice(&scheduler);
    let (mut second, _) = start_server(&app.database_url, &envs);
    let docker = fake(200, "OK").await;
    // An hour apart: each target is due exactly once during the test.
    let env = environment(&app, "prod", 3600).await;
    let mut targets = Vec::new();
    for i in 0..6 {
        targets.push(docker_target(&app, &env, &format!("web-{i}"), docker.port).await);
    }
    for target in &targets {
        let path = format!("/api/v1/targets/{}/health-checks", id(target));
        let page = eventually(&app, &path, Duration::from_secs(10), |p| p["total"] == 1).await;
        assert_eq!(page["total"], 1, "{page}");
    }
    // Several more ticks of both schedulers.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    for target in &targets {
        assert_eq!(history(&app, target).await["total"], 1);
    }
    assert_eq!(docker.requests.load(Ordering::SeqCst), targets.len());
    let _ = second.kill();
    let _ = second.wait();
}

/// A server on 127.0.0.1 that accepts connections and never answers.
async fn hanging() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

#[tokio::test]
async fn a_hanging_target_does_not_hold_up_the_scheduled_check_of_another() {
    let Some(app) = TestApp::spawn_with(
        Db::Sqlite,
        &[
            ("TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS", "1"),
            ("TERRANE_PROBE_TIMEOUT_MS", "8000"),
        ],
    )
    .await
    else {
        return;
    };
    let stuck = hanging().await;
    let docker = fake(200, "OK").await;
    let env = environment(&app, "prod", 3600).await;
    let slow = docker_target(&app, &env, "a-hanging", stuck).await;
    let fast = docker_target(&app, &env, "b-healthy", docker.port).await;
    let started = Instant::now();
    let path = format!("/api/v1/targets/{}/health-checks", id(&fast));
    let page = eventually(&app, &path, Duration::from_secs(6), |p| p["total"] == 1).await;
    assert_eq!(page["total"], 1, "{page}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the healthy target waited for the hanging one: {:?}",
        started.elapsed()
    );
    assert_eq!(
        history(&app, &slow).await["total"],
        0,
        "the hanging probe is still waiting for its answer"
    );
    let slow_page = eventually(
        &app,
        &format!("/api/v1/targets/{}/health-checks", id(&slow)),
        Duration::from_secs(12),
        |p| p["total"] == 1,
    )
    .await;
    assert_eq!(slow_page["data"][0]["status"], "unhealthy", "{slow_page}");
}
