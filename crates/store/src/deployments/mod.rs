//! The deployment ledger (`deployments`, `deployment_history`, `deployment_approvals`) and
//! the table of latest succeeded deployments it keeps up to date: the
//! `DeploymentRepository` port.

use crate::connection::{DbConnection, MultiBackend};
use crate::error::{is_unique_violation, Failure};
use crate::schema::{
    components, deployment_approvals, deployment_counts, deployment_history, deployments,
    environments, releases,
};
use crate::tx::Access;
use crate::types::{sql, DbTime, DbUuid};
use crate::versioned::{lock_row, unchanged, Versioned};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::sync::Arc;
use terrane_domain::{
    Deployment, DeploymentStatus, EnvironmentStatus, HistoryEntry, Page, TenantId, TransitionInput,
    UserId,
};
use terrane_ports::{
    Approval, Decide, DeploymentFilter, DeploymentRepository, GateInputs, StoreError, TimedOut,
    TransitionFailure,
};
use uuid::Uuid;

mod gates;
mod rows;
mod statements;

use gates::{find_for_transition, gate_inputs, move_copy, Assumed, Gates};
use rows::{ApprovalRow, DeploymentRow, HistoryRow};
use statements::{GuardedInsert, TransitionWrite, RECOMPUTE_LATEST, UPSERT_LATEST};

/// The tenant's deployment `id`, if it exists.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: Uuid,
) -> Result<Option<Deployment>, Failure> {
    deployments::table
        .filter(deployments::id.eq(DbUuid(id)))
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .select(DeploymentRow::as_select())
        .first(conn)
        .optional()?
        .map(Deployment::try_from)
        .transpose()
}

/// How many of the tenant's deployments match `filter`. Without a release, the counts the
/// database keeps per component, environment and status are added up (at most one row per
/// pair of them and status), whatever the size of the ledger; a release has few deployments,
/// and they are counted on its index.
fn total(
    conn: &mut DbConnection,
    tenant: TenantId,
    filter: &DeploymentFilter,
) -> Result<i64, Failure> {
    if filter.release_id.is_some() {
        return Ok(matching(tenant, filter).count().get_result(conn)?);
    }
    let mut counts = deployment_counts::table
        .filter(deployment_counts::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(component) = filter.component_id {
        counts = counts.filter(deployment_counts::component_id.eq(DbUuid(component.0)));
    }
    if let Some(environment) = filter.environment_id {
        counts = counts.filter(deployment_counts::environment_id.eq(DbUuid(environment.0)));
    }
    if let Some(status) = filter.status {
        counts = counts.filter(deployment_counts::status.eq(status.as_str()));
    }
    // SUM of a bigint is a numeric on PostgreSQL: cast back.
    Ok(counts
        .select(diesel::dsl::sql::<BigInt>(
            "CAST(COALESCE(SUM(n), 0) AS BIGINT)",
        ))
        .get_result(conn)?)
}

/// The tenant's deployments matching `filter`, as a query to count or to page through.
fn matching(
    tenant: TenantId,
    filter: &DeploymentFilter,
) -> deployments::BoxedQuery<'static, MultiBackend> {
    let mut query = deployments::table
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(component) = filter.component_id {
        query = query.filter(deployments::component_id.eq(DbUuid(component.0)));
    }
    if let Some(environment) = filter.environment_id {
        query = query.filter(deployments::environment_id.eq(DbUuid(environment.0)));
    }
    if let Some(status) = filter.status {
        query = query.filter(deployments::status.eq(status.as_str()));
    }
    if let Some(release) = filter.release_id {
        query = query.filter(deployments::release_id.eq(DbUuid(release)));
    }
    query
}

/// Checks what a new deployment points at, naming the field of the first missing reference.
fn check_references(conn: &mut DbConnection, d: &Deployment) -> Result<(), Failure> {
    let tenant = DbUuid(d.tenant.0);
    // One round trip: the environment, and whether the component exists.
    let component = components::table
        .filter(components::id.eq(DbUuid(d.component_id.0)))
        .filter(components::tenant_id.eq(tenant));
    let environment: Option<(String, bool, String, bool)> = environments::table
        .filter(environments::id.eq(DbUuid(d.environment_id.0)))
        .filter(environments::tenant_id.eq(tenant))
        .select((
            environments::name,
            environments::is_active,
            environments::status,
            diesel::dsl::exists(component),
        ))
        .first(conn)
        .optional()?;
    let Some((name, is_active, status, component_exists)) = environment else {
        return Err(StoreError::MissingReference("environmentId".into()).into());
    };
    if status == EnvironmentStatus::Destroyed.as_str() {
        return Err(StoreError::Conflict(format!(
            "the environment `{name}` is destroyed and takes no deployments"
        ))
        .into());
    }
    if !is_active {
        return Err(StoreError::Conflict(format!(
            "the environment `{name}` is inactive; activate it (isActive: true) to deploy into it"
        ))
        .into());
    }
    if !component_exists {
        return Err(StoreError::MissingReference("componentId".into()).into());
    }
    if let Some(release) = d.release_id {
        let found: i64 = releases::table
            .filter(releases::id.eq(DbUuid(release)))
            .filter(releases::tenant_id.eq(tenant))
            .count()
            .get_result(conn)?;
        if found == 0 {
            return Err(StoreError::MissingReference("releaseId".into()).into());
        }
    }
    Ok(())
}

/// Keeps `latest_deployments` in step with a transition that was just written.
fn maintain_latest(
    conn: &mut DbConnection,
    current: &Deployment,
    next: &Deployment,
) -> Result<(), Failure> {
    let tenant = DbUuid(next.tenant.0);
    let component = DbUuid(next.component_id.0);
    let environment = DbUuid(next.environment_id.0);
    match (current.status, next.status) {
        (_, DeploymentStatus::Succeeded) => {
            let deployed_at = next.finished_at.unwrap_or(next.updated_at);
            diesel::sql_query(UPSERT_LATEST)
                .bind::<sql::Uuid, _>(tenant)
                .bind::<sql::Uuid, _>(component)
                .bind::<sql::Uuid, _>(environment)
                .bind::<sql::Uuid, _>(DbUuid(next.id))
                .bind::<Nullable<sql::Uuid>, _>(next.release_id.map(DbUuid))
                .bind::<Text, _>(next.version.as_str())
                .bind::<Nullable<Text>, _>(next.digest.as_ref().map(|d| d.as_str()))
                .bind::<Text, _>(next.deployed_by.as_str())
                .bind::<sql::UtcTimestamp, _>(DbTime(deployed_at))
                .execute(conn)?;
        }
        (DeploymentStatus::Succeeded, _) => {
            let removed = diesel::delete(crate::schema::latest_deployments::table)
                .filter(crate::schema::latest_deployments::tenant_id.eq(tenant))
                .filter(crate::schema::latest_deployments::component_id.eq(component))
                .filter(crate::schema::latest_deployments::environment_id.eq(environment))
                .filter(crate::schema::latest_deployments::deployment_id.eq(DbUuid(next.id)))
                .execute(conn)?;
            if removed > 0 {
                diesel::sql_query(RECOMPUTE_LATEST)
                    .bind::<sql::Uuid, _>(tenant)
                    .bind::<sql::Uuid, _>(component)
                    .bind::<sql::Uuid, _>(environment)
                    .execute(conn)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Writes a transition as one compare-and-set on revision and status, with its history row
/// and the latest-deployment table: on PostgreSQL as one statement (see [`TransitionWrite`]),
/// except when leaving succeeded, which puts back the deployment before it; otherwise as
/// several, in a transaction (a savepoint inside the caller's).
fn write_transition(
    conn: &mut DbConnection,
    current: &Deployment,
    next: &Deployment,
    entry: &HistoryEntry,
) -> Result<(), Failure> {
    if try_write_transition(conn, current, next, entry, None)? {
        return Ok(());
    }
    Err(unchanged(
        conn,
        Versioned::Deployments,
        current.tenant,
        current.id,
    ))
}

/// [`write_transition`], answering whether the compare-and-set matched instead of why not.
/// With `assumed`, it also matches only when what the decision assumed of its gate inputs
/// still holds.
fn try_write_transition(
    conn: &mut DbConnection,
    current: &Deployment,
    next: &Deployment,
    entry: &HistoryEntry,
    assumed: Option<&Assumed>,
) -> Result<bool, Failure> {
    let updated = match conn {
        DbConnection::Pg(pg) if current.status != DeploymentStatus::Succeeded => {
            TransitionWrite::new(current, next, entry, assumed).execute(pg)?
        }
        _ => {
            conn.transaction(|conn| write_transition_steps(conn, current, next, entry, assumed))?
        }
    };
    Ok(updated > 0)
}

/// [`try_write_transition`] one statement at a time; 0 when the compare-and-set missed.
fn write_transition_steps(
    conn: &mut DbConnection,
    current: &Deployment,
    next: &Deployment,
    entry: &HistoryEntry,
    assumed: Option<&Assumed>,
) -> Result<usize, Failure> {
    if let Some(assumed) = assumed {
        if !diesel::select(assumed.holds()).get_result::<bool>(conn)? {
            return Ok(0);
        }
    }
    let tenant = current.tenant;
    let updated = diesel::update(deployments::table)
        .filter(deployments::id.eq(DbUuid(current.id)))
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(deployments::row_version.eq(current.version_number))
        .filter(deployments::status.eq(current.status.as_str()))
        .set(DeploymentRow::from(next))
        .execute(conn)?;
    if updated == 0 {
        return Ok(0);
    }
    diesel::insert_into(deployment_history::table)
        .values(HistoryRow::new(tenant, current.id, entry))
        .execute(conn)?;
    maintain_latest(conn, current, next)?;
    Ok(updated)
}

/// Inserts a new deployment with its first history row, after checking what it points at
/// (see [`check_references`]). On PostgreSQL this is one statement, prepared once per
/// connection (see [`GuardedInsert`]); the references are explained only when it wrote
/// nothing. On SQLite it is the check and two inserts, in the caller's transaction.
fn insert_deployment(conn: &mut DbConnection, d: &Deployment) -> Result<(), Failure> {
    let entry = HistoryEntry {
        from: None,
        to: d.status,
        actor: Some(d.created_by),
        at: d.created_at,
        reason: None,
    };
    let history = HistoryRow::new(d.tenant, d.id, &entry);
    match conn {
        DbConnection::Pg(pg) => {
            let insert = GuardedInsert {
                row: DeploymentRow::from(d),
                history,
            };
            if insert.execute(pg)? == 0 {
                check_references(conn, d)?;
                // Everything checks out now: it changed while the insert ran.
                return Err(StoreError::Conflict(
                    "the environment, component or release changed while the deployment was \
                     recorded; try again"
                        .into(),
                )
                .into());
            }
        }
        DbConnection::Sqlite(_) => {
            check_references(conn, d)?;
            diesel::insert_into(deployments::table)
                .values(DeploymentRow::from(d))
                .execute(conn)?;
            diesel::insert_into(deployment_history::table)
                .values(history)
                .execute(conn)?;
        }
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = sql::Uuid)]
    id: DbUuid,
    #[diesel(sql_type = sql::Uuid)]
    tenant_id: DbUuid,
    #[diesel(sql_type = sql::Uuid)]
    environment_id: DbUuid,
    #[diesel(sql_type = sql::Uuid)]
    component_id: DbUuid,
}

/// In-progress deployments past their environment's timeout, oldest start first. On
/// PostgreSQL the rows are locked, skipping those another sweeper holds, so concurrent
/// sweepers split the work instead of repeating it.
const CLAIM_TIMED_OUT_PG: &str = "SELECT d.id, d.tenant_id, d.environment_id, d.component_id \
     FROM deployments d \
     JOIN environments e ON e.id = d.environment_id \
     WHERE d.status = 'in_progress' \
       AND d.started_at + e.deployment_timeout * interval '1 second' < $1 \
     ORDER BY d.started_at LIMIT $2 \
     FOR UPDATE OF d SKIP LOCKED";

/// The same on SQLite, where the write transaction already excludes other writers.
const CLAIM_TIMED_OUT_SQLITE: &str = "SELECT d.id, d.tenant_id, d.environment_id, d.component_id \
     FROM deployments d \
     JOIN environments e ON e.id = d.environment_id \
     WHERE d.status = 'in_progress' \
       AND (julianday($1) - julianday(d.started_at)) * 86400.0 > e.deployment_timeout \
     ORDER BY d.started_at LIMIT $2";

#[async_trait]
impl DeploymentRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        new: Vec<Deployment>,
    ) -> Result<Vec<Deployment>, StoreError> {
        // One deployment is one statement that writes (see `insert_deployment`); more need
        // a transaction around them.
        let access = if new.len() == 1 {
            Access::Statements
        } else {
            Access::Write
        };
        let created = self
            .tenant_tx(tenant, access, move |conn| {
                // Each insert takes the lock of its row of `deployment_counts`; taking them in
                // key order keeps two transactions recording the same components from
                // deadlocking.
                let mut ordered: Vec<&Deployment> = new.iter().collect();
                ordered.sort_by_key(|d| (d.environment_id.0, d.component_id.0));
                for d in ordered {
                    insert_deployment(conn, d)?;
                }
                Ok(new)
            })
            .await?;
        for d in &created {
            self.recent.put(tenant, d.id, d);
        }
        Ok(created)
    }

    async fn get(&self, tenant: TenantId, id: Uuid) -> Result<Deployment, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: DeploymentFilter,
        page: Page,
    ) -> Result<(Vec<Deployment>, u64), StoreError> {
        // Both queries run in one transaction, so the total matches the page.
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total = total(conn, tenant, &filter)?;
            let rows = matching(tenant, &filter)
                .order_by(deployments::created_at.desc())
                .then_order_by(deployments::id.desc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(DeploymentRow::as_select())
                .load(conn)?;
            let list = rows
                .into_iter()
                .map(Deployment::try_from)
                .collect::<Result<_, _>>()?;
            // Counts are never negative.
            Ok((list, total.unsigned_abs()))
        })
        .await
    }

    async fn transition(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
        decide: Decide,
    ) -> Result<Deployment, TransitionFailure> {
        let recent = Arc::clone(&self.recent);
        let environments = Arc::clone(&self.recent_environments);
        let copy = recent.get(tenant, id);
        // A refusal is an answer, not a failure of the unit of work; it wrote nothing, so
        // committing it is the same as rolling it back. The reads before the write need no
        // transaction: the write is a compare-and-set on what they read.
        self.tenant_tx(tenant, Access::Statements, move |conn| {
            // First on the copy this process last wrote, if it has one (see `move_copy`).
            if let Some(copy) = copy {
                if let Some(next) = move_copy(conn, &copy, now, &environments, &decide)? {
                    recent.put(tenant, id, &next);
                    return Ok(Ok(next));
                }
            }
            let found = find_for_transition(conn, tenant, id, now)?.ok_or(StoreError::NotFound)?;
            let decided = decide(
                &found.deployment,
                &mut Gates {
                    conn: &mut *conn,
                    found: Some(&found),
                    deployment: &found.deployment,
                    now,
                    environments: &environments,
                    assumed: None,
                },
            );
            let (next, entry) = match decided {
                Ok(decided) => decided,
                Err(refused) => return Ok(Err(refused)),
            };
            write_transition(conn, &found.deployment, &next, &entry)?;
            recent.put(tenant, id, &next);
            Ok(Ok(next))
        })
        .await
        .map_err(TransitionFailure::Store)?
        .map_err(TransitionFailure::Refused)
    }

    async fn gate_inputs(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Deployment, GateInputs), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let found = find_for_transition(conn, tenant, id, now)?.ok_or(StoreError::NotFound)?;
            let inputs = gate_inputs(conn, &found)?;
            Ok((found.deployment, inputs))
        })
        .await
    }

    async fn history(&self, tenant: TenantId, id: Uuid) -> Result<Vec<HistoryEntry>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, id)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            deployment_history::table
                .filter(deployment_history::deployment_id.eq(DbUuid(id)))
                .filter(deployment_history::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(deployment_history::at.asc())
                .then_order_by(deployment_history::id.asc())
                .select(HistoryRow::as_select())
                .load(conn)?
                .into_iter()
                .map(HistoryRow::into_entry)
                .collect()
        })
        .await
    }

    async fn approve(
        &self,
        tenant: TenantId,
        id: Uuid,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // A concurrent transition waits, so an approval never lands in a round that
            // has just ended.
            lock_row(conn, Versioned::Deployments, tenant, id)?;
            let deployment = find(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
            if deployment.status != DeploymentStatus::Pending {
                return Err(StoreError::Conflict(format!(
                    "the deployment is `{}`: approvals are recorded only while it is pending",
                    deployment.status
                ))
                .into());
            }
            let row = ApprovalRow {
                tenant_id: DbUuid(tenant.0),
                deployment_id: DbUuid(id),
                approval_round: i32::try_from(deployment.approval_round).unwrap_or(i32::MAX),
                approver: DbUuid(approver.0),
                comment,
                created_at: DbTime(terrane_domain::time::truncate(now)),
            };
            diesel::insert_into(deployment_approvals::table)
                .values(&row)
                .execute(conn)
                .map_err(|error| {
                    if is_unique_violation(&error) {
                        Failure::Store(StoreError::Conflict(
                            "you have already approved this deployment".into(),
                        ))
                    } else {
                        error.into()
                    }
                })?;
            Ok(row.into_approval())
        })
        .await
    }

    async fn approvals(&self, tenant: TenantId, id: Uuid) -> Result<Vec<Approval>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, id)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            Ok(deployment_approvals::table
                .filter(deployment_approvals::deployment_id.eq(DbUuid(id)))
                .filter(deployment_approvals::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(deployment_approvals::created_at.asc())
                .then_order_by(deployment_approvals::approver.asc())
                .select(ApprovalRow::as_select())
                .load(conn)?
                .into_iter()
                .map(ApprovalRow::into_approval)
                .collect())
        })
        .await
    }

    async fn fail_timed_out(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<TimedOut>, StoreError> {
        self.system_tx(move |conn| {
            let claim = match conn {
                DbConnection::Pg(_) => CLAIM_TIMED_OUT_PG,
                DbConnection::Sqlite(_) => CLAIM_TIMED_OUT_SQLITE,
            };
            let mut claimed: Vec<Claimed> = diesel::sql_query(claim)
                .bind::<sql::UtcTimestamp, _>(DbTime(now))
                .bind::<BigInt, _>(i64::from(limit))
                .load(conn)?;
            // The deployment counts are changed in key order (see `create`).
            claimed.sort_by_key(|c| (c.tenant_id.0, c.environment_id.0, c.component_id.0));
            let mut failed = Vec::with_capacity(claimed.len());
            for row in claimed {
                let tenant = TenantId(row.tenant_id.0);
                let Some(current) = find(conn, tenant, row.id.0)? else {
                    continue;
                };
                let input = TransitionInput {
                    status: Some(DeploymentStatus::Failed.as_str().to_owned()),
                    ..Default::default()
                };
                let (next, entry) = current
                    .transition(input, None, Some("timed out".to_owned()), now)
                    .map_err(|e| {
                        StoreError::Internal(format!("failing a stuck deployment: {e:?}"))
                    })?;
                write_transition(conn, &current, &next, &entry)?;
                failed.push(TimedOut {
                    tenant,
                    id: current.id,
                });
            }
            Ok(failed)
        })
        .await
    }
}
