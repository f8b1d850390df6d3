//! Test databases and small helpers shared by the contract tests.

use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use std::future::Future;
use terrane_domain::{EnvironmentId, EnvironmentInput, NewEnvironment, TenantId};
use terrane_store::Store;
use uuid::Uuid;

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Connections per test store: enough for the concurrency tests to race for real.
const POOL_SIZE: u32 = 8;

/// A migrated store on a database of its own, removed when this is dropped (also when the
/// test panics).
pub struct TestDb {
    /// The store under test.
    pub store: Store,
    /// The URL of the test database, for tests that look behind the store.
    pub url: String,
    // Dropped after `store` (fields drop in order), whose connections would otherwise keep
    // the database open.
    _sqlite_dir: Option<tempfile::TempDir>,
    _postgres_database: Option<PgDatabase>,
}

impl TestDb {
    /// A store on a SQLite file in a fresh temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("terrane.db").display());
        let store = open(&url).await;
        TestDb {
            store,
            url,
            _sqlite_dir: Some(dir),
            _postgres_database: None,
        }
    }

    /// A store on a fresh PostgreSQL database, or `None` when the server is unreachable and
    /// this is not CI.
    pub async fn postgres() -> Option<TestDb> {
        let database = PgDatabase::create()?;
        let url = database.url.clone();
        let store = open(&url).await;
        Some(TestDb {
            store,
            url,
            _sqlite_dir: None,
            _postgres_database: Some(database),
        })
    }
}

async fn open(url: &str) -> Store {
    let store = Store::connect(url, POOL_SIZE).expect("the test database opens");
    store.migrate().await.expect("the migrations apply");
    store
}

/// The PostgreSQL server tests run against.
pub fn postgres_admin_url() -> String {
    std::env::var("TERRANE_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// A connection to the PostgreSQL test server, or `None` (after saying so loudly) when it
/// cannot be reached outside CI.
pub fn postgres_admin() -> Option<PgConnection> {
    let url = postgres_admin_url();
    match PgConnection::establish(&url) {
        Ok(conn) => Some(conn),
        Err(error) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("PostgreSQL is unreachable at {url} and CI=true: {error}")
        }
        Err(error) => {
            let reason = error.to_string();
            eprintln!(
                "\n*** SKIPPED: PostgreSQL unreachable at {url}: {} ***\n",
                reason.trim_end()
            );
            None
        }
    }
}

/// `base` with its database (the URL path) replaced by `database`.
pub fn postgres_url_for(base: &str, database: &str) -> String {
    let mut url = url::Url::parse(base).expect("TERRANE_TEST_DATABASE_URL is a URL");
    url.set_path(database);
    url.to_string()
}

/// A database created for one test and dropped with it.
pub struct PgDatabase {
    name: String,
    /// Its URL.
    pub url: String,
}

impl PgDatabase {
    fn create() -> Option<PgDatabase> {
        let mut admin = postgres_admin()?;
        let name = format!("terrane_test_{}", Uuid::now_v7().simple());
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        let url = postgres_url_for(&postgres_admin_url(), &name);
        Some(PgDatabase { name, url })
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        // Best effort: a leftover database is harmless, and a panic here would hide the
        // test's own.
        let dropped = PgConnection::establish(&postgres_admin_url())
            .map_err(|e| e.to_string())
            .and_then(|mut admin| {
                diesel::sql_query(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .execute(&mut admin)
                .map_err(|e| e.to_string())
            });
        if let Err(error) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

/// A tenant nobody else uses.
pub fn tenant() -> TenantId {
    TenantId(Uuid::now_v7())
}

/// A fresh environment id.
pub fn env_id() -> EnvironmentId {
    EnvironmentId(Uuid::now_v7())
}

/// Now, to the microsecond, as the service's clock gives it.
pub fn now() -> DateTime<Utc> {
    terrane_domain::time::truncate(Utc::now())
}

/// A valid new environment of that name with defaults otherwise.
pub fn named(name: &str) -> NewEnvironment {
    EnvironmentInput {
        name: Some(name.to_owned()),
        ..Default::default()
    }
    .into_new()
    .expect("a valid environment")
}

/// How many tasks the concurrency tests race: several times the pool size, which on SQLite
/// is enough to make deferred write transactions fail with "database is locked".
pub const RACERS: usize = 32;

/// Runs `n` copies of `task` at once on the runtime and collects their results in order.
pub async fn race<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(task(i))).collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        results.push(handle.await.expect("a racing task panicked"));
    }
    results
}
