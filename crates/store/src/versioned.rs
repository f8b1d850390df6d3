//! What every table with `id`, `tenant_id` and `version` columns shares: locking a row for a
//! compare-and-set, and explaining why a compare-and-set changed nothing.

use crate::connection::DbConnection;
use crate::error::Failure;
use crate::types::{sql, DbUuid};
use diesel::sql_types::BigInt;
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};
use terrane_domain::TenantId;
use terrane_ports::StoreError;
use uuid::Uuid;

/// The tables whose rows are versioned. Their names are this crate's constants, never input,
/// which is what makes formatting them into SQL safe.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Versioned {
    Environments,
    Components,
    TargetGroups,
    Targets,
}

impl Versioned {
    fn table(self) -> &'static str {
        match self {
            Versioned::Environments => "environments",
            Versioned::Components => "components",
            Versioned::TargetGroups => "target_groups",
            Versioned::Targets => "targets",
        }
    }
}

/// Locks the row on PostgreSQL for the rest of the transaction, so a concurrent writer waits
/// and then reads the new version instead of losing its compare-and-set (an update without
/// `If-Match` then applies on top rather than failing), and a concurrent insert whose foreign
/// key points at the row waits until a delete has decided. SQLite's `BEGIN IMMEDIATE` already
/// serializes writers.
pub(crate) fn lock_row(
    conn: &mut DbConnection,
    table: Versioned,
    tenant: TenantId,
    id: Uuid,
) -> Result<(), Failure> {
    if let DbConnection::Pg(pg) = conn {
        let query = format!(
            "SELECT 1 FROM {} WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
            table.table()
        );
        diesel::sql_query(query)
            .bind::<sql::Uuid, _>(DbUuid(id))
            .bind::<sql::Uuid, _>(DbUuid(tenant.0))
            .execute(pg)?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct CurrentVersion {
    #[diesel(sql_type = BigInt)]
    version: i64,
}

/// Why a write filtered by `id` and a version changed nothing: the version differs (the
/// current one is reported), or the row is gone.
pub(crate) fn unchanged(
    conn: &mut DbConnection,
    table: Versioned,
    tenant: TenantId,
    id: Uuid,
) -> Failure {
    // `$n` placeholders: PostgreSQL's syntax, and numbered parameters to SQLite.
    let query = format!(
        "SELECT version FROM {} WHERE id = $1 AND tenant_id = $2",
        table.table()
    );
    let current = diesel::sql_query(query)
        .bind::<sql::Uuid, _>(DbUuid(id))
        .bind::<sql::Uuid, _>(DbUuid(tenant.0))
        .get_result::<CurrentVersion>(conn)
        .optional();
    match current {
        Ok(Some(row)) => StoreError::VersionMismatch {
            current: row.version,
        }
        .into(),
        Ok(None) => StoreError::NotFound.into(),
        Err(error) => error.into(),
    }
}
