//! Test databases and small helpers shared by the contract tests.

use chrono::{DateTime, Utc};
use std::future::Future;
use terrane_domain::{EnvironmentId, EnvironmentInput, NewEnvironment, TenantId};
use terrane_store::testing::PgTestDatabase;
use terrane_store::Store;
use uuid::Uuid;

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
    _postgres_database: Option<PgTestDatabase>,
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
        let database = PgTestDatabase::create()?;
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
