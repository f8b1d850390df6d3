//! Contract tests of `terrane-store`: what the repository ports promise, checked against a
//! real database. Every test listed in `on_both_backends!` runs twice, as
//! `<test>::sqlite` and `<test>::postgres`.
//!
//! PostgreSQL comes from `TERRANE_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test gets a fresh database, dropped
//! afterwards. When the server is unreachable the PostgreSQL half is skipped with a loud
//! message, or fails when `CI=true`.

/// Runs each named `async fn name(db: TestDb)` on both backends: declares a module `name`
/// holding one `#[tokio::test]` per backend that calls it with a fresh database.
macro_rules! on_both_backends {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$test(crate::harness::TestDb::sqlite().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = crate::harness::TestDb::postgres().await {
                    super::$test(db).await;
                }
            }
        }
    )+};
}

mod agents;
mod audit;
mod components;
mod connections;
mod deployments;
mod environment_requests;
mod environment_views;
mod environments;
mod events;
mod freeze_windows;
mod harness;
mod health;
mod idempotency;
mod lifecycle;
mod migrations;
mod numbers;
mod projects;
mod row_level_security;
mod service_accounts;
mod settings;
mod target_groups;
mod targets;
mod tenant_tables;
mod timeline;
mod views;
mod webhooks;
