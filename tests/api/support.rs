//! Starts the real `terrane` binary on a fresh database and talks HTTP to it.

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use tempfile::TempDir;
use terrane_domain::{Actor, Role, TenantId, UserId};
use terrane_http::TokenKeys;
use terrane_store::testing::PgTestDatabase;
use uuid::Uuid;

/// The secret the spawned servers sign with, so tests can mint tokens in process.
pub const SECRET: &str = "terrane-tests-secret-of-at-least-32-bytes";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server on its own database.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub tenant: Uuid,
    pub user: Uuid,
    /// The database this server runs on, for starting another replica beside it.
    pub database_url: String,
    keys: TokenKeys,
    child: Child,
    _dir: TempDir,
    _pg: Option<PgTestDatabase>,
}

/// A fresh SQLite URL in `dir`, or a fresh PostgreSQL database.
pub fn database(db: Db, dir: &TempDir) -> Option<(String, Option<PgTestDatabase>)> {
    match db {
        Db::Sqlite => Some((
            format!("sqlite://{}", dir.path().join("terrane.db").display()),
            None,
        )),
        Db::Postgres => PgTestDatabase::create().map(|pg| (pg.url.clone(), Some(pg))),
    }
}

/// Starts `terrane serve` on port 0 and waits for the address it logs.
pub fn start_server(database_url: &str, envs: &[(&str, &str)]) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_terrane"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--database-url",
            database_url,
        ])
        .env_remove("TERRANE_JWT_SECRET")
        // Scheduled probes would reach the made-up addresses of other tests' targets; the
        // health tests turn them on.
        .env("TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS", "0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("spawn terrane");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(i) = line.find("listening on http://") {
                let addr = line[i + "listening on ".len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_owned();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(addr);
                }
            }
            if std::env::var("TERRANE_TEST_LOGS").is_ok() {
                eprintln!("[server] {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("terrane did not start listening within 30 s");
    (child, addr)
}

impl TestApp {
    /// A server on a fresh database; `None` when PostgreSQL is skipped outside CI.
    pub async fn spawn(db: Db) -> Option<TestApp> {
        Self::spawn_with(db, &[]).await
    }

    /// A server on a fresh database with more environment variables set.
    pub async fn spawn_with(db: Db, envs: &[(&str, &str)]) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database_url, pg) = database(db, &dir)?;
        let mut all = vec![("TERRANE_JWT_SECRET", SECRET)];
        all.extend_from_slice(envs);
        let (child, base) = start_server(&database_url, &all);
        Some(TestApp {
            base,
            client: Client::new(),
            tenant: Uuid::now_v7(),
            user: Uuid::now_v7(),
            database_url,
            keys: TokenKeys::new(SECRET.as_bytes()).expect("keys"),
            child,
            _dir: dir,
            _pg: pg,
        })
    }

    /// A token for `user` in `tenant` with `roles`.
    pub fn token_for(&self, tenant: Uuid, user: Uuid, roles: &[Role]) -> String {
        let actor = Actor {
            user: UserId(user),
            tenant: TenantId(tenant),
            roles: roles.to_vec(),
        };
        let now = chrono::Utc::now();
        self.keys
            .issue(&actor, now, now + chrono::Duration::hours(1))
            .expect("token")
    }

    /// A token for this test's user and tenant.
    pub fn token(&self, roles: &[Role]) -> String {
        self.token_for(self.tenant, self.user, roles)
    }

    /// The PostgreSQL database this server runs on.
    pub fn database_name(&self) -> String {
        self._pg
            .as_ref()
            .expect("a PostgreSQL test")
            .name()
            .to_owned()
    }

    /// An admin of this test's tenant.
    pub fn admin(&self) -> String {
        self.token(&[Role::Admin])
    }

    /// A request with a bearer token.
    pub fn request(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token)
    }

    /// GET as admin.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path, &self.admin())
            .send()
            .await
            .expect("request")
    }

    /// A JSON request as admin.
    pub async fn send_json(&self, method: Method, path: &str, body: Value) -> Response {
        self.request(method, path, &self.admin())
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Creates an environment and returns its body.
    pub async fn create_env(&self, body: Value) -> Value {
        let response = self
            .send_json(Method::POST, "/api/v1/environments", body)
            .await;
        assert_eq!(response.status(), 201, "creating an environment");
        response.json().await.expect("json")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads a problem response, checking its content type and status.
pub async fn problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "content type");
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.starts_with("/problems/")),
        "{body}"
    );
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{body}"
    );
    body
}

/// The fields a validation problem names.
pub fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs each listed test against SQLite and PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Db::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(app) = $crate::support::TestApp::spawn($crate::support::Db::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// Runs each listed test, a function taking the kind of database (for tests that start
/// their own servers, configured their own way), against SQLite and PostgreSQL, in module
/// `$group`.
#[macro_export]
macro_rules! on_both_databases {
    ($group:ident: $($name:ident),* $(,)?) => {
        mod $group {
            mod sqlite {
                $( #[tokio::test] async fn $name() { super::super::$name($crate::support::Db::Sqlite).await } )*
            }
            mod postgres {
                $( #[tokio::test] async fn $name() { super::super::$name($crate::support::Db::Postgres).await } )*
            }
        }
    };
}
