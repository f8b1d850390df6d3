//! The ledger looked at over time: the matrix as of a time (from `deployment_timeline`,
//! which triggers on `latest_deployments` keep: see the migration
//! `2026-12-04-300001_deployment_timeline`), what one environment runs, and the deployments
//! of an environment in a window with their status changes (for the DORA measures).

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{
    components, deployment_history, deployments, environments, latest_deployments,
};
use crate::infra::types::{sql, DbTime, DbUuid};
use crate::repositories::views::Cell;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use std::collections::HashMap;
use terrane_domain::{
    ComponentId, DeploymentStatus, EnvironmentId, LedgerDeployment, RunningVersion, TenantId,
};
use terrane_ports::StoreError;

/// Per pair of a component and an environment shown (active, not destroyed), the last change
/// of the timeline at or before `$2`: one probe of the timeline's primary key per pair.
/// PostgreSQL reads it with a lateral subquery (`LIMIT 1` on the key, backwards).
pub(crate) const CELLS_AS_OF_PG: &str = "\
    SELECT c.id AS component_id, e.id AS environment_id, t.version, t.deployed_at \
    FROM components c \
    CROSS JOIN environments e \
    CROSS JOIN LATERAL ( \
        SELECT x.version, x.deployed_at FROM deployment_timeline x \
        WHERE x.tenant_id = $1 AND x.component_id = c.id AND x.environment_id = e.id \
          AND x.since <= $2 \
        ORDER BY x.since DESC LIMIT 1) t \
    WHERE c.tenant_id = $1 AND e.tenant_id = $1 AND e.is_active AND e.status <> 'destroyed' \
      AND t.version IS NOT NULL";

/// The same on SQLite, which has no lateral join: per pair, one probe of the timeline's primary
/// key backwards answers both the version and the time of success, carried as one text (times
/// are fixed-width RFC 3339 text, 27 characters, so the version starts at character 28; a pair
/// whose last change left nothing has a NULL version and drops out). `MATERIALIZED` keeps
/// SQLite from flattening the pairs into the outer query, which would run the probe once for
/// the filter and again for each column.
pub(crate) const CELLS_AS_OF_SQLITE: &str = "\
    WITH p AS MATERIALIZED ( \
        SELECT c.id AS component_id, e.id AS environment_id, \
               (SELECT x.deployed_at || x.version FROM deployment_timeline x \
                WHERE x.tenant_id = $1 AND x.component_id = c.id AND x.environment_id = e.id \
                  AND x.since <= $2 \
                ORDER BY x.since DESC LIMIT 1) AS cell \
        FROM components c, environments e \
        WHERE c.tenant_id = $1 AND e.tenant_id = $1 AND e.is_active \
          AND e.status <> 'destroyed') \
    SELECT component_id, environment_id, substr(cell, 28) AS version, \
           substr(cell, 1, 27) AS deployed_at \
    FROM p WHERE cell IS NOT NULL";

#[derive(QueryableByName)]
struct CellRow {
    #[diesel(sql_type = sql::Uuid)]
    component_id: DbUuid,
    #[diesel(sql_type = sql::Uuid)]
    environment_id: DbUuid,
    #[diesel(sql_type = Text)]
    version: String,
    #[diesel(sql_type = sql::UtcTimestamp)]
    deployed_at: DbTime,
}

/// The text of the matrix-as-of query for `conn`'s backend (for `EXPLAIN` in tests too).
pub(crate) fn cells_as_of_sql(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => CELLS_AS_OF_PG,
        DbConnection::Sqlite(_) => CELLS_AS_OF_SQLITE,
    }
}

/// The cells of the matrix as it was at `at`.
pub(crate) fn cells_as_of(
    conn: &mut DbConnection,
    tenant: TenantId,
    at: DateTime<Utc>,
) -> Result<Vec<Cell>, Failure> {
    let rows: Vec<CellRow> = diesel::sql_query(cells_as_of_sql(conn))
        .bind::<sql::Uuid, _>(DbUuid(tenant.0))
        .bind::<sql::UtcTimestamp, _>(DbTime(at))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.component_id, r.environment_id, r.version, r.deployed_at))
        .collect())
}

/// Refuses an environment the tenant does not have.
fn check_environment(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
) -> Result<(), Failure> {
    environments::table
        .filter(environments::id.eq(DbUuid(environment.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .select(environments::id)
        .first::<DbUuid>(conn)
        .optional()?
        .ok_or(Failure::Store(StoreError::NotFound))?;
    Ok(())
}

/// What runs in `environment`, from `latest_deployments`.
pub(crate) fn running_versions(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
) -> Result<Vec<RunningVersion>, Failure> {
    check_environment(conn, tenant, environment)?;
    let rows: Vec<(DbUuid, String, String)> = latest_deployments::table
        .inner_join(components::table.on(components::id.eq(latest_deployments::component_id)))
        .filter(latest_deployments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(latest_deployments::environment_id.eq(DbUuid(environment.0)))
        .select((
            components::id,
            components::name,
            latest_deployments::version,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, version)| RunningVersion {
            component_id: ComponentId(id.0),
            component_name: name,
            version,
        })
        .collect())
}

/// The deployments recorded into `environment` in `[from, to)`, with their status changes
/// before `to`: read off the environment's index by creation time, and each deployment's
/// history off its own index.
pub(crate) fn ledger_between(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<LedgerDeployment>, Failure> {
    check_environment(conn, tenant, environment)?;
    let rows: Vec<(DbUuid, DbUuid, Option<DbTime>, String, DbTime)> = deployments::table
        .inner_join(
            deployment_history::table.on(deployment_history::deployment_id.eq(deployments::id)),
        )
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(deployments::environment_id.eq(DbUuid(environment.0)))
        .filter(deployments::created_at.ge(DbTime(from)))
        .filter(deployments::created_at.lt(DbTime(to)))
        .filter(deployment_history::at.lt(DbTime(to)))
        .order_by(deployments::created_at.asc())
        .then_order_by(deployments::id.asc())
        .then_order_by(deployment_history::at.asc())
        .select((
            deployments::id,
            deployments::component_id,
            deployments::committed_at,
            deployment_history::to_status,
            deployment_history::at,
        ))
        .load(conn)?;
    let mut ledger: Vec<LedgerDeployment> = Vec::new();
    let mut index: HashMap<uuid::Uuid, usize> = HashMap::new();
    for (id, component, committed_at, status, at) in rows {
        let status: DeploymentStatus = status.parse().map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "deployment {} has an invalid status in its history: {e}",
                id.0
            )))
        })?;
        let place = *index.entry(id.0).or_insert_with(|| {
            ledger.push(LedgerDeployment {
                id: id.0,
                component_id: ComponentId(component.0),
                committed_at: committed_at.map(|t| t.0),
                transitions: Vec::new(),
            });
            ledger.len() - 1
        });
        ledger[place].transitions.push((status, at.0));
    }
    Ok(ledger)
}
