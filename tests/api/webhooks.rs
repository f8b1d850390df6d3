//! Webhooks: management (admin only, a write-only secret, the probes' address policy), and
//! deliveries to a local receiver that checks every signature: retries after a 500 or a
//! timeout, order kept, dead deliveries listed and redelivered, and each event delivered once
//! across three replicas on one PostgreSQL database.

use crate::support::{database, fields, problem, start_server, Db, TestApp, SECRET};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use terrane_domain::webhook::signature;
use terrane_domain::{Actor, Role, TenantId, UserId, WebhookSecret};
use terrane_http::TokenKeys;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

crate::on_both_backends!(
    webhooks_are_managed_by_admins_and_their_secret_is_shown_only_at_creation,
    a_link_local_or_metadata_url_is_refused_naming_url,
);

crate::on_both_databases!(webhook_deliveries:
    deliveries_are_signed_retried_after_a_timeout_or_500_and_kept_in_order,
    a_delivery_that_keeps_failing_is_dead_listed_and_can_be_redelivered,
    a_replica_killed_mid_attempt_leaves_the_delivery_to_another_with_the_same_id,
);

/// Several replicas need PostgreSQL (SQLite is one process).
#[tokio::test]
async fn three_replicas_on_postgres_deliver_each_event_once_in_order() {
    three_replicas_deliver_each_event_once_in_order(Db::Postgres).await;
}

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    /// Never answers (the sender's timeout ends the attempt).
    Hang,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    timestamp: String,
    signature: String,
    body: String,
    answered: Option<u16>,
}

/// A tiny HTTP receiver on loopback: records every request, answers from its script (then
/// 200), and keeps answering until dropped.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    async fn start(script: Vec<Answer>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (s, sc) = (seen.clone(), script.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(handle(socket, s.clone(), sc.clone()));
            }
        });
        Receiver {
            url,
            seen,
            script,
            task,
        }
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    fn then_answer(&self, answers: Vec<Answer>) {
        *self.script.lock().unwrap() = VecDeque::from(answers);
    }

    /// Waits until `done` holds for what was received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {seen:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn handle(
    mut socket: tokio::net::TcpStream,
    seen: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = socket.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    let answer = script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Answer::Status(200));
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    let index = {
        let mut seen = seen.lock().unwrap();
        seen.push(Received {
            delivery: header("x-terrane-delivery"),
            event: header("x-terrane-event"),
            timestamp: header("x-terrane-timestamp"),
            signature: header("x-terrane-signature"),
            body,
            answered: None,
        });
        seen.len() - 1
    };
    match answer {
        Answer::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
        Answer::Status(status) => {
            seen.lock().unwrap()[index].answered = Some(status);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    }
}

/// Checks a request's signature the way a receiver does: HMAC-SHA256 of
/// `"<timestamp>.<body>"` with the secret, and a timestamp close to now.
fn assert_signed(received: &Received, secret: &str) {
    let secret = WebhookSecret::parse(secret).unwrap();
    let timestamp: i64 = received.timestamp.parse().expect("a unix timestamp");
    assert!(
        (chrono::Utc::now().timestamp() - timestamp).abs() < 300,
        "timestamp {timestamp}"
    );
    assert_eq!(
        received.signature,
        signature(&secret, timestamp, &received.body),
        "{received:?}"
    );
    let body: Value = serde_json::from_str(&received.body).expect("a JSON body");
    assert_eq!(body["type"], received.event.as_str());
}

async fn json_of(response: reqwest::Response, status: u16) -> Value {
    let code = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(code, status, "{body}");
    body
}

async fn create_webhook(app: &TestApp, body: Value) -> Value {
    json_of(
        app.send_json(Method::POST, "/api/v1/webhooks", body).await,
        201,
    )
    .await
}

async fn webhooks_are_managed_by_admins_and_their_secret_is_shown_only_at_creation(app: TestApp) {
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example.com/terrane", "secret": "a-secret-of-20-chars", "types": ["deployment.*"]}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["etag"], "\"1\"");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["secret"], "a-secret-of-20-chars");
    assert_eq!(created["active"], true);
    assert_eq!(created["types"], json!(["deployment.*"]));
    assert_eq!(
        location,
        format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap())
    );

    let generated = create_webhook(&app, json!({"url": "http://127.0.0.1:9/x"})).await;
    let secret = generated["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(generated["types"], json!([]));

    let got = json_of(app.get(&location).await, 200).await;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["url"], "https://hooks.example.com/terrane");
    let list = json_of(app.get("/api/v1/webhooks?take=1").await, 200).await;
    assert_eq!(list["total"], 2);
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());

    let admin = app.admin();
    let patched = app
        .request(Method::PATCH, &location, &admin)
        .header("If-Match", "\"1\"")
        .json(&json!({"active": false, "secret": "another-secret-of-20"}))
        .send()
        .await
        .unwrap();
    let patched = json_of(patched, 200).await;
    assert_eq!(
        (patched["active"].clone(), patched["version"].clone()),
        (json!(false), json!(2))
    );
    assert!(patched.get("secret").is_none());
    let stale = app
        .request(Method::PATCH, &location, &admin)
        .header("If-Match", "\"1\"")
        .json(&json!({"active": true}))
        .send()
        .await
        .unwrap();
    problem(stale, 412).await;

    let deployer = app.token(&[Role::Deployer]);
    for (method, path) in [
        (Method::GET, "/api/v1/webhooks".to_owned()),
        (Method::GET, location.clone()),
        (Method::GET, format!("{location}/deliveries")),
        (Method::DELETE, location.clone()),
    ] {
        let response = app.request(method, &path, &deployer).send().await.unwrap();
        problem(response, 403).await;
    }
    let response = app
        .request(Method::POST, "/api/v1/webhooks", &deployer)
        .json(&json!({"url": "https://hooks.example.com/x"}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;

    let other = app.token_for(Uuid::now_v7(), app.user, &[Role::Admin]);
    let response = app
        .request(Method::GET, &location, &other)
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let deleted = app
        .request(Method::DELETE, &location, &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    problem(app.get(&location).await, 404).await;
}

async fn a_link_local_or_metadata_url_is_refused_naming_url(app: TestApp) {
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]:8080/hook",
        "http://[fd00:ec2::254]/",
        "ftp://hooks.example.com/",
        "http://user:password@hooks.example.com/",
    ] {
        let response = app
            .send_json(Method::POST, "/api/v1/webhooks", json!({"url": url}))
            .await;
        let body = problem(response, 400).await;
        assert_eq!(fields(&body), ["url"], "{url}: {body}");
    }
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/webhooks",
            json!({"url": "https://hooks.example.com/", "types": ["deployment"], "secret": "short"}),
        )
        .await;
    let body = problem(response, 400).await;
    assert_eq!(fields(&body), ["secret", "types[0]"], "{body}");
    let created = create_webhook(&app, json!({"url": "https://hooks.example.com/"})).await;
    let path = format!("/api/v1/webhooks/{}", created["id"].as_str().unwrap());
    let response = app
        .send_json(
            Method::PATCH,
            &path,
            json!({"url": "http://169.254.169.254/"}),
        )
        .await;
    assert_eq!(fields(&problem(response, 400).await), ["url"]);
}

/// Settings that make retries fast enough for a test.
const FAST: [(&str, &str); 4] = [
    ("TERRANE_WEBHOOK_POLL_MS", "50"),
    ("TERRANE_WEBHOOK_BACKOFF", "100ms"),
    ("TERRANE_WEBHOOK_BACKOFF_MAX", "200ms"),
    ("TERRANE_WEBHOOK_TIMEOUT", "500ms"),
];

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let list = json_of(
        app.get(&format!("/api/v1/webhooks/{webhook}/deliveries?take=100"))
            .await,
        200,
    )
    .await;
    list["data"].as_array().unwrap().clone()
}

async fn deliveries_are_signed_retried_after_a_timeout_or_500_and_kept_in_order(db: Db) {
    let receiver = Receiver::start(vec![Answer::Hang, Answer::Status(500)]).await;
    let mut envs = FAST.to_vec();
    envs.push(("TERRANE_WEBHOOK_RETRY_FOR", "1h"));
    let Some(app) = TestApp::spawn_with(db, &envs).await else {
        return;
    };
    let webhook = create_webhook(
        &app,
        json!({"url": receiver.url, "types": ["environment.created"], "secret": "order-and-retries-secret"}),
    )
    .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    for name in ["first", "second", "third"] {
        app.create_env(json!({"name": name})).await;
    }
    let seen = receiver
        .wait_for("three successful deliveries", |seen| {
            seen.iter().filter(|r| r.answered == Some(200)).count() >= 3
        })
        .await;
    for received in &seen {
        assert_signed(received, "order-and-retries-secret");
        assert_eq!(received.event, "environment.created");
    }
    // The first delivery timed out, got a 500, then a 200, all with the same id; the next
    // ones were not attempted before it succeeded.
    let ids: Vec<&str> = seen.iter().map(|r| r.delivery.as_str()).collect();
    assert_eq!(ids.len(), 5, "{seen:#?}");
    assert!(ids[0] == ids[1] && ids[1] == ids[2], "{ids:?}");
    assert!(
        ids[2] != ids[3] && ids[3] != ids[4] && ids[2] != ids[4],
        "{ids:?}"
    );
    let answers: Vec<Option<u16>> = seen.iter().map(|r| r.answered).collect();
    assert_eq!(answers, [None, Some(500), Some(200), Some(200), Some(200)]);
    let names: Vec<String> = [2, 3, 4]
        .iter()
        .map(|&i| {
            let body: Value = serde_json::from_str(&seen[i].body).unwrap();
            body["data"]["name"].as_str().unwrap_or("").to_owned()
        })
        .collect();
    assert_eq!(names, ["first", "second", "third"]);

    let listed = deliveries(&app, &id).await;
    assert_eq!(listed.len(), 3);
    assert!(
        listed.iter().all(|d| d["status"] == "succeeded"),
        "{listed:#?}"
    );
    // Newest first: the first delivery is last.
    let first = &listed[2];
    assert_eq!(first["id"], ids[0]);
    assert_eq!(first["attempts"], 3);
    assert_eq!(first["lastStatusCode"], 200);
    assert!(first["lastDurationMs"].is_u64());
    assert_eq!(first["nextAttemptAt"], Value::Null);
}

async fn a_delivery_that_keeps_failing_is_dead_listed_and_can_be_redelivered(db: Db) {
    let receiver = Receiver::start(vec![Answer::Status(500); 1000]).await;
    let mut envs = FAST.to_vec();
    envs.push(("TERRANE_WEBHOOK_RETRY_FOR", "1s"));
    let Some(app) = TestApp::spawn_with(db, &envs).await else {
        return;
    };
    let webhook = create_webhook(
        &app,
        json!({"url": receiver.url, "secret": "dead-and-redelivered-secret"}),
    )
    .await;
    let id = webhook["id"].as_str().unwrap().to_owned();
    app.create_env(json!({"name": "doomed"})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let dead = loop {
        let listed = deliveries(&app, &id).await;
        if let Some(dead) = listed.iter().find(|d| d["status"] == "dead") {
            break dead.clone();
        }
        assert!(Instant::now() < deadline, "no dead delivery: {listed:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(dead["lastStatusCode"], 500);
    assert_eq!(dead["nextAttemptAt"], Value::Null);
    assert_eq!(dead["eventType"], "environment.created");
    let attempts = dead["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "{dead}");
    let delivery = dead["id"].as_str().unwrap().to_owned();
    let seen = receiver.seen();
    assert_eq!(
        seen.len() as u64,
        attempts,
        "each attempt reached the receiver once"
    );
    assert!(seen.iter().all(|r| r.delivery == delivery));

    receiver.then_answer(Vec::new());
    let path = format!("/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver");
    let again = json_of(app.send_json(Method::POST, &path, json!({})).await, 202).await;
    assert_eq!(again["status"], "pending");
    assert_eq!(again["id"], delivery.as_str());
    let seen = receiver
        .wait_for("the redelivery", |seen| {
            seen.iter().any(|r| r.answered == Some(200))
        })
        .await;
    let last = seen.last().unwrap();
    assert_eq!(last.delivery, delivery, "a redelivery keeps its id");
    assert_signed(last, "dead-and-redelivered-secret");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = deliveries(&app, &id).await;
        if listed[0]["status"] == "succeeded" {
            assert_eq!(listed[0]["attempts"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "{listed:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let unknown = format!(
        "/api/v1/webhooks/{id}/deliveries/{}/redeliver",
        Uuid::now_v7()
    );
    problem(app.send_json(Method::POST, &unknown, json!({})).await, 404).await;
}

struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An admin token of a fresh organization, signed with the tests' secret.
fn admin_token() -> String {
    let keys = TokenKeys::new(SECRET.as_bytes()).unwrap();
    let now = chrono::Utc::now();
    let actor = Actor {
        user: UserId(Uuid::now_v7()),
        tenant: TenantId(Uuid::now_v7()),
        roles: vec![Role::Admin],
    };
    keys.issue(&actor, now, now + chrono::Duration::hours(1))
        .unwrap()
}

async fn a_replica_killed_mid_attempt_leaves_the_delivery_to_another_with_the_same_id(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    // The first attempt never gets an answer: its replica is killed while it waits.
    let receiver = Receiver::start(vec![Answer::Hang]).await;
    let mut envs = vec![
        ("TERRANE_JWT_SECRET", SECRET),
        ("TERRANE_WEBHOOK_RETRY_FOR", "1h"),
    ];
    envs.extend_from_slice(&FAST);
    // A long timeout, so the attempt is still running when the replica dies (its claim
    // lasts twice the timeout and 5 s).
    envs.push(("TERRANE_WEBHOOK_TIMEOUT", "1s"));
    let (first, base) = start_server(&url, &envs);
    let mut servers = Servers(vec![first]);
    let token = admin_token();
    let client = Client::new();
    let created = client
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&token)
        .json(&json!({"url": receiver.url, "secret": "replica-died-secret"}))
        .send()
        .await
        .unwrap();
    let webhook = json_of(created, 201).await;
    let response = client
        .post(format!("{base}/api/v1/environments"))
        .bearer_auth(&token)
        .json(&json!({"name": "survivor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    receiver
        .wait_for("the first attempt", |seen| !seen.is_empty())
        .await;
    let killed_at = Instant::now();
    let mut first = servers.0.remove(0);
    first.kill().unwrap();
    first.wait().unwrap();
    let (second, base) = start_server(&url, &envs);
    servers.0.push(second);
    let seen = receiver
        .wait_for("the attempt of the other replica", |seen| {
            seen.iter().any(|r| r.answered == Some(200))
        })
        .await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(4),
        "taken over only once the dead replica's claim ran out"
    );
    assert_eq!(seen.len(), 2, "{seen:#?}");
    assert_eq!(seen[0].delivery, seen[1].delivery, "the same delivery id");
    for received in &seen {
        assert_signed(received, "replica-died-secret");
    }
    let path = format!(
        "{base}/api/v1/webhooks/{}/deliveries",
        webhook["id"].as_str().unwrap()
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = json_of(
            client.get(&path).bearer_auth(&token).send().await.unwrap(),
            200,
        )
        .await;
        let delivery = &listed["data"][0];
        if delivery["status"] == "succeeded" {
            assert_eq!(listed["total"], 1);
            assert_eq!(
                delivery["attempts"], 1,
                "the killed replica recorded nothing"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An event id (`<tx>.<seq>`) as a pair that orders like the log.
fn cursor(id: &str) -> (i64, i64) {
    let (tx, seq) = id.split_once('.').expect("tx.seq");
    (tx.parse().unwrap(), seq.parse().unwrap())
}

async fn three_replicas_deliver_each_event_once_in_order(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, _pg)) = database(db, &dir) else {
        return;
    };
    let receiver = Receiver::start(Vec::new()).await;
    let mut servers = Servers(Vec::new());
    let mut bases = Vec::new();
    for _ in 0..3 {
        let mut envs = vec![
            ("TERRANE_JWT_SECRET", SECRET),
            ("TERRANE_WEBHOOK_RETRY_FOR", "1h"),
        ];
        envs.extend_from_slice(&FAST);
        // Every replica looks often, so they contend for every delivery.
        envs[2] = ("TERRANE_WEBHOOK_POLL_MS", "10");
        let (child, base) = start_server(&url, &envs);
        servers.0.push(child);
        bases.push(base);
    }
    let token = admin_token();
    let client = Client::new();
    let created = client
        .post(format!("{}/api/v1/webhooks", bases[0]))
        .bearer_auth(&token)
        .json(&json!({"url": receiver.url, "types": ["environment.*"], "secret": "three-replicas-secret"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Writes through every replica, several at once.
    const EVENTS: usize = 30;
    let mut writes = tokio::task::JoinSet::new();
    for i in 0..EVENTS {
        let (client, token) = (client.clone(), token.clone());
        let base = bases[i % 3].clone();
        writes.spawn(async move {
            let response = client
                .post(format!("{base}/api/v1/environments"))
                .bearer_auth(&token)
                .json(&json!({"name": format!("env-{i:02}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
        });
    }
    while let Some(done) = writes.join_next().await {
        done.unwrap();
    }
    receiver
        .wait_for("every event", |seen| seen.len() >= EVENTS)
        .await;
    // Let any duplicate arrive before counting.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), EVENTS, "no delivery twice: {seen:#?}");
    let mut ids: Vec<&str> = seen.iter().map(|r| r.delivery.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "every delivery id once");
    let events: Vec<(i64, i64)> = seen
        .iter()
        .map(|r| {
            assert_signed(r, "three-replicas-secret");
            let body: Value = serde_json::from_str(&r.body).unwrap();
            cursor(body["id"].as_str().unwrap())
        })
        .collect();
    let mut sorted = events.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), EVENTS, "every event once");
    assert_eq!(events, sorted, "delivered in the order of the log");
}
