//! Units of work: how every repository method reaches the database.

use crate::infra::connection::{DbConnection, Session};
use crate::infra::error::Failure;
use crate::Store;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::Connection;
use terrane_domain::TenantId;
use terrane_ports::StoreError;

/// Whether a unit of work writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads only: on SQLite a deferred transaction, which runs beside other readers.
    Read,
    /// Writes: on SQLite `BEGIN IMMEDIATE`, which takes the write lock up front. A deferred
    /// transaction that reads and then writes can fail with SQLITE_BUSY at the write, without
    /// waiting, when another writer got in between; this one waits up to `busy_timeout` at
    /// the start instead, and then reads what it will write over.
    Write,
    /// Writes, with at most one statement that writes, which is whole on its own: a
    /// compare-and-set on a version, or one statement holding a row and its history. Such a
    /// unit needs no transaction around it to stay atomic, so on PostgreSQL it runs without
    /// one, each statement committing by itself: no `BEGIN` and no `COMMIT` round trip, and
    /// the tenant set once for the connection's session instead of per transaction (see
    /// [`in_session`]). A unit that must write more than one statement opens its own
    /// transaction inside (`Connection::transaction`). On SQLite it runs as a `Write`.
    Statements,
    /// Reads in one statement, which is a consistent snapshot on its own: it runs outside a
    /// transaction on both backends (no `BEGIN` and no `COMMIT`), on PostgreSQL with the
    /// tenant set for the session as for `Statements`, so a read costs one round trip. A unit
    /// that must read with more than one statement opens its own transaction inside.
    OneRead,
}

impl Store {
    /// Runs `work` on a pooled connection on tokio's blocking pool (diesel is synchronous).
    /// Callers first queue, fairly and without blocking a thread, for one of the pool's
    /// connections, at most the store's queue timeout.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        self.checked_out(move |session| work(session)).await
    }

    /// [`Store::blocking`], with the pooled connection's session.
    async fn checked_out<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Session) -> Result<T, Failure> + Send + 'static,
    {
        let pool = self.pool.clone();
        let breaks = self.breaks.clone();
        let queued = self.permits.clone().acquire_owned();
        let permit = tokio::time::timeout(self.queue_timeout, queued)
            .await
            .map_err(|_| {
                StoreError::Overloaded(format!(
                    "no database connection was free within {:?}",
                    self.queue_timeout
                ))
            })?
            .map_err(|e| StoreError::Internal(format!("the connection queue is closed: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut conn = breaks.check_out(&pool)?;
            let result = work(&mut conn);
            if result.is_err() {
                breaks.failed(&mut conn);
            }
            result.map_err(Failure::into_store_error)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("storage task failed: {e}")))?
    }

    /// A transaction with `access`: on SQLite a write runs on the writer thread, in its
    /// next batch (see [`crate::infra::writer`]); everything else on a pooled connection.
    async fn blocking_with<T, F>(
        &self,
        access: Access,
        setting: Setting,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        match (&self.writer, access) {
            // The setting is PostgreSQL's row-level security; SQLite has none to set.
            (Some(writer), Access::Write | Access::Statements) => writer.write(work).await,
            _ => {
                self.blocking(move |conn| transaction(conn, access, Some(setting), work))
                    .await
            }
        }
    }

    /// Runs `work` for `tenant` in one transaction, committed when it returns `Ok` and rolled
    /// back otherwise. On PostgreSQL the transaction first sets `terrane.tenant_id` (for this
    /// transaction only), which the row-level security policies compare every row with.
    ///
    /// Every tenant-scoped repository method goes through here; `work` still filters by
    /// `tenant_id` itself, since SQLite has no row-level security and a superuser bypasses it.
    pub(crate) async fn tenant_tx<T, F>(
        &self,
        tenant: TenantId,
        access: Access,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        match (&self.writer, access) {
            (None, Access::Statements | Access::OneRead) => {
                return self
                    .checked_out(move |session| in_session(session, tenant, work))
                    .await;
            }
            // SQLite has no row-level security, so there is no tenant to set.
            (Some(_), Access::OneRead) => return self.blocking(work).await,
            _ => {}
        }
        // A TenantId prints as a hyphenated UUID: nothing in it can break out of the quotes.
        let setting = Setting {
            name: "terrane.tenant_id",
            value: tenant.to_string(),
        };
        self.blocking_with(access, setting, work).await
    }
}

impl Store {
    /// Runs background `work` that spans tenants (the stuck-deployment sweep) in one write
    /// transaction. On PostgreSQL the transaction sets `terrane.system` to `on` for itself
    /// only, which the `*_system` row-level security policies admit; request transactions
    /// never set it.
    pub(crate) async fn system_tx<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        self.blocking_with(Access::Write, system_setting(), work)
            .await
    }

    /// [`Store::system_tx`] for work that only reads (the sweep looking for stuck
    /// deployments, authenticating a credential before its tenant is known): on SQLite it runs
    /// on the pool beside other readers instead of queueing behind the writes.
    pub(crate) async fn system_read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut DbConnection) -> Result<T, Failure> + Send + 'static,
    {
        self.blocking_with(Access::Read, system_setting(), work)
            .await
    }
}

/// The setting of background work that spans tenants (see [`Store::system_tx`]).
fn system_setting() -> Setting {
    Setting {
        name: "terrane.system",
        value: "on".to_owned(),
    }
}

/// A PostgreSQL setting a transaction sets for itself only (`set_config(.., true)`): the
/// tenant that row-level security compares every row with, or the flag of background work.
/// Both parts come from this crate (a setting name and a UUID or `on`), never from input,
/// which is what makes writing them into the SQL safe.
pub(crate) struct Setting {
    name: &'static str,
    value: String,
}

/// Runs `work` outside a transaction (see [`Access::Statements`]) with `tenant` set for the
/// connection's session, which row-level security then compares every row with. Setting it
/// costs a round trip only when the connection last served another tenant (or none).
fn in_session<T>(
    session: &mut Session,
    tenant: TenantId,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    if session.tenant != Some(tenant) {
        // Unknown until the setting is known to have taken.
        session.tenant = None;
        // A TenantId prints as a hyphenated UUID: nothing in it can break out of the quotes.
        session.batch_execute(&format!(
            "SELECT set_config('terrane.tenant_id', '{tenant}', false)"
        ))?;
        session.tenant = Some(tenant);
    }
    work(session)
}

/// diesel's `Connection::transaction`, but with `BEGIN IMMEDIATE` for SQLite writes, and on
/// PostgreSQL with `setting` set in the same round trip as `BEGIN` (a request's transaction is
/// a handful of round trips; this saves one of them every time).
///
/// diesel offers `immediate_transaction` only on `SqliteConnection`, whose closure would get
/// that connection rather than a [`DbConnection`]. The multi-connection keeps each
/// transaction's state in the inner connection, so beginning there and committing or rolling
/// back through the multi-connection is consistent, and nested `transaction` calls inside
/// `work` become savepoints as usual.
fn transaction<T>(
    conn: &mut DbConnection,
    access: Access,
    setting: Option<Setting>,
    work: impl FnOnce(&mut DbConnection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    begin(conn, access, setting)?;
    let result = work(conn);
    finish(conn, result)
}

/// Begins the transaction of [`transaction`] (also the batch transaction of the SQLite
/// writer, which has no setting to make).
pub(crate) fn begin(
    conn: &mut DbConnection,
    access: Access,
    setting: Option<Setting>,
) -> Result<(), Failure> {
    match (&mut *conn, access, setting) {
        (DbConnection::Sqlite(sqlite), Access::Write, _) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
        }
        (DbConnection::Pg(pg), _, Some(Setting { name, value })) => {
            let begin = format!("BEGIN; SELECT set_config('{name}', '{value}', true)");
            AnsiTransactionManager::begin_transaction_sql(pg, &begin)?;
        }
        _ => <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?,
    }
    Ok(())
}

/// Ends the innermost transaction (or savepoint) as `result` says: committed when it is
/// `Ok`, rolled back otherwise.
pub(crate) fn finish<T>(conn: &mut DbConnection, result: Result<T, Failure>) -> Result<T, Failure> {
    match result {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(failure) => {
            // The original failure is what the caller needs; a failed rollback leaves the
            // connection marked broken, and the pool discards it.
            if let Err(error) =
                <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)
            {
                tracing::warn!(%error, "rollback failed");
            }
            Err(failure)
        }
    }
}
