//! The embedded schema migrations, one set per backend with the same names, and the
//! `StoreHealth` port that checks they are applied.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::{Backend, Store};
use async_trait::async_trait;
use diesel::sql_types::BigInt;
use diesel::RunQueryDsl;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use terrane_ports::{StoreError, StoreHealth};

const POSTGRES: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

/// An arbitrary, fixed advisory lock key ("terrane" in ASCII) that makes replicas starting
/// together run the migrations one after the other instead of into each other.
const MIGRATION_LOCK: i64 = 0x0074_6572_7261_6e65;

/// The migrations of `backend`, as embedded in this build (for tooling and tests; the store
/// runs them itself in [`Store::migrate`]).
pub fn migrations(backend: Backend) -> EmbeddedMigrations {
    match backend {
        Backend::Postgres => POSTGRES,
        Backend::Sqlite => SQLITE,
    }
}

/// A migration error, which diesel reports as a boxed error, for the port.
fn migration_failure(error: impl std::fmt::Display) -> Failure {
    Failure::Store(StoreError::Internal(format!(
        "migrating the database failed: {error}"
    )))
}

impl Store {
    /// Applies every migration not yet applied.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection can be had; [`StoreError::Internal`]
    /// when a migration fails (it is rolled back).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.blocking(|conn| match conn {
            DbConnection::Pg(pg) => {
                // A session lock, not a transaction one: each migration commits on its own.
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<BigInt, _>(MIGRATION_LOCK)
                    .execute(pg)?;
                let applied = pg
                    .run_pending_migrations(POSTGRES)
                    .map(|_| ())
                    .map_err(migration_failure);
                diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<BigInt, _>(MIGRATION_LOCK)
                    .execute(pg)?;
                applied
            }
            // SQLite serializes writers on its own.
            DbConnection::Sqlite(sqlite) => sqlite
                .run_pending_migrations(SQLITE)
                .map(|_| ())
                .map_err(migration_failure),
        })
        .await
    }
}

#[async_trait]
impl StoreHealth for Store {
    async fn ready(&self) -> Result<(), StoreError> {
        let pending = self
            .blocking(|conn| {
                diesel::sql_query("SELECT 1").execute(conn)?;
                let pending = match conn {
                    DbConnection::Pg(pg) => pg.has_pending_migration(POSTGRES),
                    DbConnection::Sqlite(sqlite) => sqlite.has_pending_migration(SQLITE),
                };
                pending.map_err(migration_failure)
            })
            .await
            .map_err(|error| match error {
                StoreError::Unavailable(reason) | StoreError::Internal(reason) => {
                    StoreError::Unavailable(reason)
                }
                other => StoreError::Unavailable(other.to_string()),
            })?;
        if pending {
            return Err(StoreError::Unavailable(
                "the database schema is not up to date: migrations are pending".into(),
            ));
        }
        Ok(())
    }
}
