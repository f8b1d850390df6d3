//! The `health_checks` table, the targets' health columns and the `HealthCheckRepository`
//! port.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{environments, health_checks, targets};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::repositories::targets::find;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use terrane_domain::{
    EnvironmentId, HealthCheck, HealthCheckId, HealthStatus, Page, Target, TargetId, TenantId,
};
use terrane_ports::{DueCheck, HealthCheckRepository, StoreError};

/// One row of `health_checks`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = health_checks)]
struct HealthCheckRow {
    id: DbUuid,
    tenant_id: DbUuid,
    target_id: DbUuid,
    status: String,
    message: String,
    checked_at: DbTime,
}

impl From<&HealthCheck> for HealthCheckRow {
    fn from(check: &HealthCheck) -> Self {
        Self {
            id: DbUuid(check.id.0),
            tenant_id: DbUuid(check.tenant.0),
            target_id: DbUuid(check.target_id.0),
            status: check.status.as_str().to_owned(),
            message: check.message.clone(),
            checked_at: DbTime(check.checked_at),
        }
    }
}

impl TryFrom<HealthCheckRow> for HealthCheck {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes.
    fn try_from(row: HealthCheckRow) -> Result<Self, Failure> {
        let status = row.status.parse::<HealthStatus>().map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "health check {} has an invalid status stored: {e}",
                row.id.0
            )))
        })?;
        Ok(HealthCheck {
            id: HealthCheckId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            target_id: TargetId(row.target_id.0),
            status,
            message: row.message,
            checked_at: row.checked_at.0,
        })
    }
}

/// The check interval of `environment`, in seconds.
fn interval_of(conn: &mut DbConnection, environment: EnvironmentId) -> Result<u32, Failure> {
    let seconds: i64 = environments::table
        .filter(environments::id.eq(DbUuid(environment.0)))
        .select(environments::health_check_interval)
        .first(conn)?;
    u32::try_from(seconds).map_err(|_| {
        Failure::Store(StoreError::Internal(format!(
            "environment {environment} has an invalid health check interval stored: {seconds}"
        )))
    })
}

/// The ids and tenants of up to `limit` targets due at `now`, locked for this transaction.
/// PostgreSQL skips rows another replica has locked, so two replicas claim disjoint sets;
/// SQLite serves one process, whose write transaction excludes every other writer.
fn lock_due(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<(DbUuid, DbUuid)>, Failure> {
    macro_rules! due {
        () => {
            targets::table
                .filter(
                    targets::next_check_at
                        .is_null()
                        .or(targets::next_check_at.le(DbTime(now))),
                )
                .limit(i64::from(limit))
                .select((targets::id, targets::tenant_id))
        };
    }
    Ok(match conn {
        DbConnection::Pg(pg) => due!()
            .order((
                targets::next_check_at.asc().nulls_first(),
                targets::id.asc(),
            ))
            .for_update()
            .skip_locked()
            .load(pg)?,
        // SQLite sorts NULL first.
        DbConnection::Sqlite(sqlite) => due!()
            .order((targets::next_check_at.asc(), targets::id.asc()))
            .load(sqlite)?,
    })
}

#[async_trait]
impl HealthCheckRepository for Store {
    async fn record(
        &self,
        check: HealthCheck,
        interval_seconds: u32,
    ) -> Result<Target, StoreError> {
        let tenant = check.tenant;
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let before = find(conn, tenant, check.target_id)?.ok_or(StoreError::NotFound)?;
            let next = check.checked_at + Duration::seconds(i64::from(interval_seconds));
            let updated = diesel::update(targets::table)
                .filter(targets::id.eq(DbUuid(check.target_id.0)))
                .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
                .set((
                    targets::health_status.eq(check.status.as_str()),
                    targets::health_message.eq(Some(check.message.as_str())),
                    targets::last_health_check_at.eq(Some(DbTime(check.checked_at))),
                    targets::next_check_at.eq(Some(DbTime(next))),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound.into());
            }
            diesel::insert_into(health_checks::table)
                .values(HealthCheckRow::from(&check))
                .execute(conn)?;
            let after = find(conn, tenant, check.target_id)?.ok_or(StoreError::NotFound)?;
            if let Some(event) =
                terrane_domain::NewEvent::health_checked(&before, &after, check.checked_at)
            {
                crate::repositories::events::record(conn, &actor, &event)?;
            }
            Ok(after)
        })
        .await
    }

    async fn history(
        &self,
        tenant: TenantId,
        target: TargetId,
        page: Page,
    ) -> Result<(Vec<HealthCheck>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find(conn, tenant, target)?.ok_or(StoreError::NotFound)?;
            let of_target = || {
                health_checks::table
                    .filter(health_checks::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(health_checks::target_id.eq(DbUuid(target.0)))
            };
            let total: i64 = of_target().count().get_result(conn)?;
            let rows = of_target()
                .order_by(health_checks::checked_at.desc())
                .then_order_by(health_checks::id.desc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(HealthCheckRow::as_select())
                .load(conn)?;
            let checks = rows
                .into_iter()
                .map(HealthCheck::try_from)
                .collect::<Result<_, _>>()?;
            // COUNT(*) is never negative.
            Ok((checks, total.unsigned_abs()))
        })
        .await
    }

    async fn interval(&self, tenant: TenantId, target: TargetId) -> Result<u32, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let target = find(conn, tenant, target)?.ok_or(StoreError::NotFound)?;
            interval_of(conn, target.environment_id)
        })
        .await
    }

    async fn claim_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<DueCheck>, StoreError> {
        self.system_tx(move |conn| {
            let mut claimed = Vec::new();
            for (id, tenant) in lock_due(conn, now, limit)? {
                let Some(target) = find(conn, TenantId(tenant.0), TargetId(id.0))? else {
                    continue;
                };
                let interval_seconds = interval_of(conn, target.environment_id)?;
                let next = now + Duration::seconds(i64::from(interval_seconds));
                diesel::update(targets::table)
                    .filter(targets::id.eq(id))
                    .set(targets::next_check_at.eq(Some(DbTime(next))))
                    .execute(conn)?;
                claimed.push(DueCheck {
                    target,
                    interval_seconds,
                });
            }
            Ok(claimed)
        })
        .await
    }
}
