//! A PostgreSQL restart under a running server: requests in that moment are 503 (never a
//! 500, never a hang), `/readyz` says not ready, and the server recovers by itself.
//!
//! Runs against a private PostgreSQL the test starts on its own port and data directory,
//! never the shared one.

use crate::support::{start_server, SECRET};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use uuid::Uuid;

const BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of its own, stopped when dropped.
struct PrivatePostgres {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivatePostgres {
    /// `None` (with a loud line) where PostgreSQL 15's binaries or `runuser` are missing,
    /// unless under `CI=true`.
    fn start() -> Option<PrivatePostgres> {
        let available = Path::new(BIN).join("initdb").exists()
            && Command::new("runuser").arg("--help").output().is_ok();
        if !available {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL 15 binaries are needed in CI"
            );
            eprintln!("SKIPPED: no {BIN}/initdb or runuser for a private PostgreSQL");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        as_root(&["chown", "postgres:postgres", dir.path().to_str().unwrap()]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PrivatePostgres { dir, port };
        cluster.pg(&[
            "initdb",
            "--no-sync",
            "-A",
            "trust",
            "-U",
            "postgres",
            "-D",
            cluster.data().to_str().unwrap(),
        ]);
        cluster.up();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn pg(&self, args: &[&str]) {
        let program = format!("{BIN}/{}", args[0]);
        let mut all = vec!["runuser", "-u", "postgres", "--", program.as_str()];
        all.extend_from_slice(&args[1..]);
        as_root(&all);
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        self.pg(&[
            "pg_ctl",
            "-D",
            self.data().to_str().unwrap(),
            "-o",
            &options,
            "-l",
            log.to_str().unwrap(),
            "-w",
            "start",
        ]);
    }

    fn down(&self) {
        self.pg(&[
            "pg_ctl",
            "-D",
            self.data().to_str().unwrap(),
            "-m",
            "fast",
            "-w",
            "stop",
        ]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{BIN}/pg_ctl"), "-D"])
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn as_root(args: &[&str]) {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        output.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a request got, and how long it took.
async fn call(client: &Client, url: &str, token: &str) -> (StatusCode, Value, Duration) {
    let started = Instant::now();
    let response = client
        .get(url)
        .bearer_auth(token)
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url} hung or failed: {e}"));
    let status = response.status();
    if status == StatusCode::SERVICE_UNAVAILABLE && url.contains("/api/") {
        assert_eq!(
            response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap()),
            Some("1"),
            "a 503 says when to retry"
        );
    }
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

#[tokio::test]
async fn a_postgres_restart_is_503_while_it_lasts_and_the_server_recovers_by_itself() {
    let Some(postgres) = PrivatePostgres::start() else {
        return;
    };
    let (child, base) = start_server(&postgres.url(), &[("TERRANE_JWT_SECRET", SECRET)]);
    let _server = Server(child);
    let client = Client::new();
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
    let created = client
        .post(format!("{base}/api/v1/environments"))
        .bearer_auth(&token)
        .json(&json!({"name": "survivor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let list = format!("{base}/api/v1/environments");
    let ready = format!("{base}/readyz");
    // Warm the pool, so that the restart breaks connections the server holds.
    for _ in 0..8 {
        assert_eq!(call(&client, &list, &token).await.0, 200);
    }

    postgres.down();
    for _ in 0..6 {
        let (status, body, took) = call(&client, &list, &token).await;
        assert_eq!(status, 503, "while PostgreSQL is down: {body}");
        assert_eq!(body["status"], 503, "a problem body: {body}");
        assert!(took < Duration::from_secs(10), "answered in {took:?}");
    }
    let (status, body, _) = call(&client, &ready, &token).await;
    assert_eq!(status, 503, "not ready while PostgreSQL is down: {body}");

    postgres.up();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body, _) = call(&client, &list, &token).await;
        if status == 200 {
            assert_eq!(body[0]["name"], "survivor", "{body}");
            break;
        }
        assert_eq!(status, 503, "while reconnecting: {body}");
        assert!(
            Instant::now() < deadline,
            "the server did not recover in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..8 {
        let (status, body, _) = call(&client, &list, &token).await;
        assert_eq!(status, 200, "every pooled connection works again: {body}");
    }
    assert_eq!(call(&client, &ready, &token).await.0, 200, "ready again");
}
