//! What every table with `id`, `tenant_id` and `version` columns shares: locking a row for a
//! compare-and-set, and explaining why a compare-and-set changed nothing.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{
    components, deployments, environments, target_groups, targets, webhook_deliveries, webhooks,
};
use crate::infra::types::{sql, DbUuid};
use diesel::sql_types::BigInt;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, QueryableByName, RunQueryDsl};
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
    Deployments,
    Webhooks,
    WebhookDeliveries,
}

impl Versioned {
    fn table(self) -> &'static str {
        match self {
            Versioned::Environments => "environments",
            Versioned::Components => "components",
            Versioned::TargetGroups => "target_groups",
            Versioned::Targets => "targets",
            Versioned::Deployments => "deployments",
            Versioned::Webhooks => "webhooks",
            Versioned::WebhookDeliveries => "webhook_deliveries",
        }
    }

    /// The column holding the row's version.
    fn version(self) -> &'static str {
        match self {
            Versioned::Deployments => "revision",
            _ => "version",
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
    let DbConnection::Pg(pg) = conn else {
        return Ok(());
    };
    // Written with the DSL, one statement type per table, so that PostgreSQL keeps each
    // prepared instead of parsing and planning it again on every write.
    macro_rules! lock {
        ($table:ident) => {
            $table::table
                .select($table::id)
                .filter($table::id.eq(DbUuid(id)))
                .filter($table::tenant_id.eq(DbUuid(tenant.0)))
                .for_update()
                .execute(pg)
        };
    }
    match table {
        Versioned::Environments => lock!(environments),
        Versioned::Components => lock!(components),
        Versioned::TargetGroups => lock!(target_groups),
        Versioned::Targets => lock!(targets),
        Versioned::Deployments => lock!(deployments),
        Versioned::Webhooks => lock!(webhooks),
        Versioned::WebhookDeliveries => lock!(webhook_deliveries),
    }?;
    Ok(())
}

/// The row `find` reads, locked first (see [`lock_row`]) and checked against the version the
/// caller expects (`If-Match`): the start of every compare-and-set on a versioned row.
pub(crate) fn locked<T>(
    conn: &mut DbConnection,
    table: Versioned,
    tenant: TenantId,
    id: Uuid,
    expected_version: Option<i64>,
    find: impl FnOnce(&mut DbConnection) -> Result<Option<T>, Failure>,
    version: impl Fn(&T) -> i64,
) -> Result<T, Failure> {
    lock_row(conn, table, tenant, id)?;
    let current = find(conn)?.ok_or(StoreError::NotFound)?;
    if expected_version.is_some_and(|expected| expected != version(&current)) {
        return Err(StoreError::VersionMismatch {
            current: version(&current),
        }
        .into());
    }
    Ok(current)
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
        "SELECT {} AS version FROM {} WHERE id = $1 AND tenant_id = $2",
        table.version(),
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
