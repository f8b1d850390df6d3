//! Migrations, readiness and connecting.

use crate::harness::{env_id, named, now, tenant, TestDb};
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl, SqliteConnection};
use diesel_migrations::MigrationHarness;
use terrane_ports::{EnvironmentRepository, StoreError, StoreHealth};
use terrane_store::{migrations, Backend, Store};

const TABLES: [&str; 37] = [
    "agent_targets",
    "agents",
    "audit_entries",
    "audit_heads",
    "audit_progress",
    "components",
    "deployment_approvals",
    "deployment_counts",
    "deployment_history",
    "deployment_timeline",
    "deployments",
    "environment_lifecycle_events",
    "environment_lifecycles",
    "environment_order_counters",
    "environment_request_history",
    "environment_requests",
    "environment_templates",
    "environments",
    "events",
    "freeze_windows",
    "health_checks",
    "idempotency_keys",
    "latest_deployments",
    "projects",
    "release_components",
    "releases",
    "service_accounts",
    "settings",
    "target_group_assignments",
    "target_groups",
    "target_inventories",
    "targets",
    "webhook_deliveries",
    "webhook_fan_out",
    "webhooks",
    "workflow_runs",
    "workflow_steps",
];

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A connection of the test database's own backend, beside the store's pool.
enum Raw {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

impl Raw {
    fn open(db: &TestDb) -> Raw {
        match db.store.backend() {
            Backend::Postgres => Raw::Pg(PgConnection::establish(&db.url).unwrap()),
            Backend::Sqlite => {
                let path = db.url.strip_prefix("sqlite://").unwrap();
                Raw::Sqlite(SqliteConnection::establish(path).unwrap())
            }
        }
    }

    /// The application's tables that both backends have, by name: on SQLite the counter
    /// that stands in for PostgreSQL's `entity_numbers` sequence is a table of its own, and
    /// is checked here and left out.
    fn tables(&mut self) -> Vec<String> {
        let mut tables = self.all_tables();
        if let Raw::Sqlite(_) = self {
            let counter = tables.iter().position(|t| t == "entity_numbers");
            match counter {
                Some(at) => {
                    tables.remove(at);
                }
                None => assert!(tables.is_empty(), "no entity_numbers in {tables:?}"),
            }
        }
        tables
    }

    /// The application's tables (not diesel's bookkeeping), by name.
    fn all_tables(&mut self) -> Vec<String> {
        let tables: Vec<Table> = match self {
            Raw::Pg(conn) => diesel::sql_query(
                "SELECT tablename::text AS name FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename NOT LIKE '\\_\\_%' ORDER BY 1",
            )
            .load(conn),
            Raw::Sqlite(conn) => diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE '\\_\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite%' ORDER BY 1",
            )
            .load(conn),
        }
        .unwrap();
        tables.into_iter().map(|t| t.name).collect()
    }

    /// Runs every down.sql, newest first.
    fn revert_all(&mut self) {
        match self {
            Raw::Pg(conn) => conn
                .revert_all_migrations(migrations(Backend::Postgres))
                .map(|_| ()),
            Raw::Sqlite(conn) => conn
                .revert_all_migrations(migrations(Backend::Sqlite))
                .map(|_| ()),
        }
        .unwrap();
    }
}

on_both_backends!(
    migrations_revert_completely_and_apply_again,
    migrating_twice_changes_nothing,
    the_store_names_its_backend,
);

async fn migrations_revert_completely_and_apply_again(db: TestDb) {
    let mut raw = Raw::open(&db);
    assert_eq!(raw.tables(), TABLES);
    db.store.ready().await.unwrap();

    raw.revert_all();
    assert!(raw.tables().is_empty(), "{:?}", raw.tables());
    let not_ready = db.store.ready().await.unwrap_err();
    assert!(
        matches!(&not_ready, StoreError::Unavailable(reason) if reason.contains("migrations are pending")),
        "{not_ready:?}"
    );

    db.store.migrate().await.unwrap();
    assert_eq!(raw.tables(), TABLES);
    db.store.ready().await.unwrap();
    let tenant = tenant();
    let env = db
        .store
        .create(tenant, env_id(), named("again"), now())
        .await
        .unwrap();
    assert_eq!(db.store.get(tenant, env.id).await.unwrap(), env);
}

async fn migrating_twice_changes_nothing(db: TestDb) {
    db.store.migrate().await.unwrap();
    db.store.ready().await.unwrap();
    assert_eq!(Raw::open(&db).tables(), TABLES);
}

async fn the_store_names_its_backend(db: TestDb) {
    let expected = if db.url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(db.store.backend().to_string(), expected);
}

#[test]
fn both_backends_embed_the_same_migrations() {
    let postgres = MigrationSource::<Pg>::migrations(&migrations(Backend::Postgres)).unwrap();
    let sqlite = MigrationSource::<Sqlite>::migrations(&migrations(Backend::Sqlite)).unwrap();
    let postgres: Vec<String> = postgres.iter().map(|m| m.name().to_string()).collect();
    let sqlite: Vec<String> = sqlite.iter().map(|m| m.name().to_string()).collect();
    assert_eq!(postgres, sqlite);
    assert_eq!(postgres.len(), 29);
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode() {
    let db = TestDb::sqlite().await;
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    let Raw::Sqlite(mut conn) = Raw::open(&db) else {
        unreachable!()
    };
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

#[test]
fn an_unknown_url_scheme_or_an_empty_pool_is_refused_up_front() {
    for (url, size) in [
        ("mysql://root:hunter2@localhost/terrane", 4),
        ("terrane.db", 4),
        ("sqlite://x.db", 0),
    ] {
        match Store::connect(url, size) {
            Err(StoreError::Internal(message)) => {
                assert!(!message.contains("hunter2"), "{message}")
            }
            other => panic!("{url} with {size} connections: {other:?}"),
        }
    }
}

#[test]
fn an_unreachable_postgres_is_unavailable_with_the_drivers_reason() {
    // Port 1 refuses at once; the store retries until its 5 second timeout, then reports.
    let error = Store::connect("postgres://postgres@127.0.0.1:1/terrane", 2).unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable(reason) if reason.contains("127.0.0.1")),
        "{error:?}"
    );
}

#[test]
fn a_missing_sqlite_directory_is_unavailable_with_the_drivers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}",
        dir.path().join("no/such/dir/terrane.db").display()
    );
    let error = Store::connect(&url, 2).unwrap_err();
    assert!(
        matches!(&error, StoreError::Unavailable(reason) if reason.contains("unable to open")),
        "{error:?}"
    );
}
