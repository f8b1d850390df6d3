//! The deployment ledger (`deployments`, `deployment_history`, `deployment_approvals`) and
//! the table of latest succeeded deployments it keeps up to date: the
//! `DeploymentRepository` port.

use crate::connection::{DbConnection, MultiBackend};
use crate::environments::EnvironmentRow;
use crate::error::{is_unique_violation, Failure};
use crate::freeze_windows::FreezeWindowRow;
use crate::recent::Recent;
use crate::schema::{
    components, deployment_approvals, deployment_counts, deployment_history, deployments,
    environments, freeze_windows, releases,
};
use crate::tx::Access;
use crate::types::{sql, DbJson, DbTime, DbUuid};
use crate::versioned::{lock_row, unchanged, Versioned};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use std::sync::Arc;
use terrane_domain::{
    CommitSha, ComponentId, Deployment, DeploymentStatus, Digest, Environment, EnvironmentId,
    EnvironmentStatus, FreezeWindow, HistoryEntry, Page, PromotionEvidence, PromotionPolicy,
    TenantId, TransitionInput, UserId, Version,
};
use terrane_ports::{
    Approval, Decide, DeploymentFilter, DeploymentRepository, GateInputs, GateSource, StoreError,
    TimedOut, TransitionFailure,
};
use uuid::Uuid;

/// One row of `deployments`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = deployments, treat_none_as_null = true, treat_none_as_default_value = false)]
pub(crate) struct DeploymentRow {
    id: DbUuid,
    tenant_id: DbUuid,
    component_id: DbUuid,
    environment_id: DbUuid,
    release_id: Option<DbUuid>,
    version: String,
    digest: Option<String>,
    commit_sha: Option<String>,
    deployed_by: String,
    created_by: DbUuid,
    description: Option<String>,
    metadata: DbJson,
    status: String,
    approval_round: i32,
    row_version: i64,
    created_at: DbTime,
    started_at: Option<DbTime>,
    finished_at: Option<DbTime>,
    updated_at: DbTime,
}

impl From<&Deployment> for DeploymentRow {
    fn from(d: &Deployment) -> Self {
        DeploymentRow {
            id: DbUuid(d.id),
            tenant_id: DbUuid(d.tenant.0),
            component_id: DbUuid(d.component_id.0),
            environment_id: DbUuid(d.environment_id.0),
            release_id: d.release_id.map(DbUuid),
            version: d.version.as_str().to_owned(),
            digest: d.digest.as_ref().map(|x| x.as_str().to_owned()),
            commit_sha: d.commit_sha.as_ref().map(|x| x.as_str().to_owned()),
            deployed_by: d.deployed_by.clone(),
            created_by: DbUuid(d.created_by.0),
            description: d.description.clone(),
            metadata: DbJson(serde_json::Value::Object(d.metadata.clone())),
            status: d.status.as_str().to_owned(),
            // Rounds count retries of one deployment: far below i32::MAX.
            approval_round: i32::try_from(d.approval_round).unwrap_or(i32::MAX),
            row_version: d.version_number,
            created_at: DbTime(d.created_at),
            started_at: d.started_at.map(DbTime),
            finished_at: d.finished_at.map(DbTime),
            updated_at: DbTime(d.updated_at),
        }
    }
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: DeploymentRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "deployment {id} has an invalid {what} stored: {why}"
            )))
        };
        let metadata = match row.metadata.0 {
            serde_json::Value::Object(map) => map,
            other => return Err(corrupt("metadata", format!("not an object: {other}"))),
        };
        Ok(Deployment {
            id,
            tenant: TenantId(row.tenant_id.0),
            component_id: ComponentId(row.component_id.0),
            environment_id: EnvironmentId(row.environment_id.0),
            release_id: row.release_id.map(|r| r.0),
            version: Version::parse(&row.version).map_err(|e| corrupt("version", e.message))?,
            digest: row
                .digest
                .map(|d| Digest::parse(&d, "digest"))
                .transpose()
                .map_err(|e| corrupt("digest", e.message))?,
            commit_sha: row
                .commit_sha
                .map(|c| CommitSha::parse(&c))
                .transpose()
                .map_err(|e| corrupt("commit sha", e.message))?,
            deployed_by: row.deployed_by,
            created_by: UserId(row.created_by.0),
            description: row.description,
            metadata,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            version_number: row.row_version,
            approval_round: u32::try_from(row.approval_round)
                .map_err(|e| corrupt("approval round", e.to_string()))?,
            created_at: row.created_at.0,
            started_at: row.started_at.map(|t| t.0),
            finished_at: row.finished_at.map(|t| t.0),
            updated_at: row.updated_at.0,
        })
    }
}

/// One row of `deployment_history`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = deployment_history, treat_none_as_default_value = false)]
struct HistoryRow {
    id: DbUuid,
    tenant_id: DbUuid,
    deployment_id: DbUuid,
    from_status: Option<String>,
    to_status: String,
    actor: Option<DbUuid>,
    at: DbTime,
    reason: Option<String>,
}

impl HistoryRow {
    fn new(tenant: TenantId, deployment: Uuid, entry: &HistoryEntry) -> Self {
        HistoryRow {
            // History rows are never addressed by id; v7 keeps them in time order.
            id: DbUuid(Uuid::now_v7()),
            tenant_id: DbUuid(tenant.0),
            deployment_id: DbUuid(deployment),
            from_status: entry.from.map(|s| s.as_str().to_owned()),
            to_status: entry.to.as_str().to_owned(),
            actor: entry.actor.map(|a| DbUuid(a.0)),
            at: DbTime(entry.at),
            reason: entry.reason.clone(),
        }
    }

    fn into_entry(self) -> Result<HistoryEntry, Failure> {
        let corrupt = |why: String| {
            Failure::Store(StoreError::Internal(format!(
                "deployment history row {} is invalid: {why}",
                self.id.0
            )))
        };
        let from = match &self.from_status {
            Some(s) => Some(s.parse::<DeploymentStatus>().map_err(corrupt)?),
            None => None,
        };
        let to = self
            .to_status
            .parse::<DeploymentStatus>()
            .map_err(corrupt)?;
        Ok(HistoryEntry {
            from,
            to,
            actor: self.actor.map(|a| UserId(a.0)),
            at: self.at.0,
            reason: self.reason,
        })
    }
}

/// One row of `deployment_approvals`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = deployment_approvals)]
struct ApprovalRow {
    tenant_id: DbUuid,
    deployment_id: DbUuid,
    approval_round: i32,
    approver: DbUuid,
    comment: Option<String>,
    created_at: DbTime,
}

impl ApprovalRow {
    fn into_approval(self) -> Approval {
        Approval {
            deployment_id: self.deployment_id.0,
            round: u32::try_from(self.approval_round).unwrap_or_default(),
            approver: UserId(self.approver.0),
            comment: self.comment,
            created_at: self.created_at.0,
        }
    }
}

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

/// The columns of `latest_deployments`, in the order every statement below writes them.
macro_rules! latest_columns {
    () => {
        "INSERT INTO latest_deployments \
         (tenant_id, component_id, environment_id, deployment_id, release_id, version, digest, \
          deployed_by, deployed_at) "
    };
}

/// Replaces the latest deployment of a component and environment, unless the one there
/// succeeded later.
macro_rules! latest_on_conflict {
    () => {
        " ON CONFLICT (tenant_id, component_id, environment_id) DO UPDATE SET \
         deployment_id = excluded.deployment_id, release_id = excluded.release_id, \
         version = excluded.version, digest = excluded.digest, deployed_by = excluded.deployed_by, \
         deployed_at = excluded.deployed_at \
         WHERE excluded.deployed_at >= latest_deployments.deployed_at"
    };
}

/// Makes a deployment that just succeeded the latest of its component and environment,
/// unless one that succeeded later is there already.
const UPSERT_LATEST: &str = concat!(
    latest_columns!(),
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    latest_on_conflict!()
);

/// Puts back the latest deployment of a component and environment that still stands as
/// succeeded, after the one there was rolled back.
const RECOMPUTE_LATEST: &str = concat!(
    latest_columns!(),
    "SELECT tenant_id, component_id, environment_id, id, release_id, version, digest, \
            deployed_by, finished_at \
     FROM deployments \
     WHERE tenant_id = $1 AND component_id = $2 AND environment_id = $3 \
       AND status = 'succeeded' AND finished_at IS NOT NULL \
     ORDER BY finished_at DESC, id DESC LIMIT 1",
    latest_on_conflict!()
);

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

/// A transition on PostgreSQL in one statement, prepared once per connection: the
/// compare-and-set on revision and status (and, for a decision on assumed gate inputs, on
/// those: see [`Assumed`]); only when it matched, the history row and, for a deployment that
/// succeeded, its row of `latest_deployments`. The statement's row count is the history rows
/// written: 0 when the compare-and-set missed.
///
/// The text is fixed (what varies is bound), so diesel keeps it prepared; its own UPDATE
/// statements are parsed and planned again on every run.
struct TransitionWrite {
    next: DeploymentRow,
    expected_version: i64,
    expected_status: &'static str,
    history: HistoryRow,
    latest: bool,
    /// What the decision assumed of its gate inputs, as a condition (see [`Assumed`]).
    assumed: Option<assumption_holds>,
}

impl TransitionWrite {
    fn new(
        current: &Deployment,
        next: &Deployment,
        entry: &HistoryEntry,
        assumed: Option<&Assumed>,
    ) -> Self {
        TransitionWrite {
            next: DeploymentRow::from(next),
            expected_version: current.version_number,
            expected_status: current.status.as_str(),
            history: HistoryRow::new(current.tenant, current.id, entry),
            latest: next.status == DeploymentStatus::Succeeded,
            assumed: assumed.map(Assumed::holds),
        }
    }
}

impl diesel::query_builder::QueryId for TransitionWrite {
    type QueryId = ();
    // Cached by its text, which is one of four.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for TransitionWrite {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Integer;
        let (next, history) = (&self.next, &self.history);
        out.push_sql("WITH moved AS (UPDATE deployments SET status = ");
        out.push_bind_param::<Text, _>(&next.status)?;
        out.push_sql(", description = ");
        out.push_bind_param::<Nullable<Text>, _>(&next.description)?;
        out.push_sql(", metadata = ");
        out.push_bind_param::<sql::Jsonb, _>(&next.metadata)?;
        out.push_sql(", approval_round = ");
        out.push_bind_param::<Integer, _>(&next.approval_round)?;
        out.push_sql(", row_version = ");
        out.push_bind_param::<BigInt, _>(&next.row_version)?;
        out.push_sql(", started_at = ");
        out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&next.started_at)?;
        out.push_sql(", finished_at = ");
        out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&next.finished_at)?;
        out.push_sql(", updated_at = ");
        out.push_bind_param::<sql::UtcTimestamp, _>(&next.updated_at)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&next.id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&next.tenant_id)?;
        out.push_sql(" AND row_version = ");
        out.push_bind_param::<BigInt, _>(&self.expected_version)?;
        out.push_sql(" AND status = ");
        out.push_bind_param::<Text, _>(self.expected_status)?;
        if let Some(assumed) = &self.assumed {
            out.push_sql(" AND ");
            assumed.walk_ast(out.reborrow())?;
        }
        out.push_sql(" RETURNING id)");
        if self.latest {
            out.push_sql(concat!(", latest AS (", latest_columns!(), "SELECT "));
            out.push_bind_param::<sql::Uuid, _>(&next.tenant_id)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Uuid, _>(&next.component_id)?;
            out.push_sql(", ");
            out.push_bind_param::<sql::Uuid, _>(&next.environment_id)?;
            out.push_sql(", moved.id, ");
            out.push_bind_param::<Nullable<sql::Uuid>, _>(&next.release_id)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&next.version)?;
            out.push_sql(", ");
            out.push_bind_param::<Nullable<Text>, _>(&next.digest)?;
            out.push_sql(", ");
            out.push_bind_param::<Text, _>(&next.deployed_by)?;
            out.push_sql(", ");
            // A transition to succeeded always sets finished_at.
            out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&next.finished_at)?;
            out.push_sql(concat!(" FROM moved", latest_on_conflict!(), ")"));
        }
        out.push_sql(" ");
        push_history_from(out, history, "moved")
    }
}

impl RunQueryDsl<PgConnection> for TransitionWrite {}

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

/// A new deployment on PostgreSQL in one statement: the row, inserted only when its
/// environment is the tenant's, active and not destroyed, its component the tenant's, and its
/// release (if any) the tenant's, and then its first history row. The row count is 1 when
/// it was written, 0 when a reference was not usable.
struct GuardedInsert {
    row: DeploymentRow,
    history: HistoryRow,
}

impl diesel::query_builder::QueryId for GuardedInsert {
    // Its text never changes: cached by type, without building the text to look it up.
    type QueryId = GuardedInsert;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for GuardedInsert {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Integer;
        let row = &self.row;
        out.push_sql(
            "WITH added AS (INSERT INTO deployments (id, tenant_id, component_id, \
             environment_id, release_id, version, digest, commit_sha, deployed_by, created_by, \
             description, metadata, status, approval_round, row_version, created_at, started_at, \
             finished_at, updated_at) SELECT ",
        );
        out.push_bind_param::<sql::Uuid, _>(&row.id)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Uuid, _>(&row.component_id)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Uuid, _>(&row.environment_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.release_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.version)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.digest)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.commit_sha)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.deployed_by)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Uuid, _>(&row.created_by)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&row.description)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::Jsonb, _>(&row.metadata)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&row.status)?;
        out.push_sql(", ");
        out.push_bind_param::<Integer, _>(&row.approval_round)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, _>(&row.row_version)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::UtcTimestamp, _>(&row.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&row.started_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&row.finished_at)?;
        out.push_sql(", ");
        out.push_bind_param::<sql::UtcTimestamp, _>(&row.updated_at)?;
        out.push_sql(" WHERE EXISTS (SELECT 1 FROM environments WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.environment_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(" AND is_active AND status <> 'destroyed') AND EXISTS (SELECT 1 FROM components WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.component_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(") AND (");
        out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.release_id)?;
        out.push_sql(" IS NULL OR EXISTS (SELECT 1 FROM releases WHERE id = ");
        out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.release_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(")) RETURNING id) ");
        push_history_from(out, &self.history, "added")
    }
}

impl RunQueryDsl<PgConnection> for GuardedInsert {}

/// The end of [`GuardedInsert`] and [`TransitionWrite`]: `history`, for each row of the CTE
/// `from` (at most one), whose `id` is the deployment's.
fn push_history_from<'b>(
    mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    history: &'b HistoryRow,
    from: &'static str,
) -> QueryResult<()> {
    out.push_sql(
        "INSERT INTO deployment_history \
         (id, tenant_id, deployment_id, from_status, to_status, actor, at, reason) SELECT ",
    );
    out.push_bind_param::<sql::Uuid, _>(&history.id)?;
    out.push_sql(", ");
    out.push_bind_param::<sql::Uuid, _>(&history.tenant_id)?;
    out.push_sql(", ");
    out.push_sql(from);
    out.push_sql(".id, ");
    out.push_bind_param::<Nullable<Text>, _>(&history.from_status)?;
    out.push_sql(", ");
    out.push_bind_param::<Text, _>(&history.to_status)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<sql::Uuid>, _>(&history.actor)?;
    out.push_sql(", ");
    out.push_bind_param::<sql::UtcTimestamp, _>(&history.at)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Text>, _>(&history.reason)?;
    out.push_sql(" FROM ");
    out.push_sql(from);
    Ok(())
}

/// What the promotion gate of deploying `version` of `component` into `environment` needs:
/// the nearest active, not destroyed environment with a lower order index, and whether that
/// version of the component succeeded there.
fn promotion_evidence(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: &Environment,
    component: ComponentId,
    version: &str,
) -> Result<PromotionEvidence, Failure> {
    let previous: Option<(DbUuid, String)> = environments::table
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environments::is_active.eq(true))
        .filter(environments::status.ne(EnvironmentStatus::Destroyed.as_str()))
        .filter(environments::order_index.lt(environment.order_index))
        .filter(environments::id.ne(DbUuid(environment.id.0)))
        .order_by(environments::order_index.desc())
        .then_order_by(environments::name.asc())
        .select((environments::id, environments::name))
        .first(conn)
        .optional()?;
    let Some((previous, name)) = previous else {
        return Ok(PromotionEvidence::FirstEnvironment);
    };
    let succeeded = diesel::select(diesel::dsl::exists(
        deployments::table
            .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
            .filter(deployments::component_id.eq(DbUuid(component.0)))
            .filter(deployments::environment_id.eq(previous))
            .filter(deployments::version.eq(version))
            // A literal, so that the planner can use the index of succeeded deployments.
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "status = 'succeeded'",
            )),
    ))
    .get_result(conn)?;
    Ok(PromotionEvidence::Previous {
        environment: name,
        succeeded,
    })
}

/// The gate inputs of starting `deployment` (read with its environment and the freeze
/// windows active then, see [`find_for_transition`]): the approvals and the promotion
/// evidence are read only when the environment's rules look at them.
fn gate_inputs(conn: &mut DbConnection, found: &Found) -> Result<GateInputs, Failure> {
    let Found {
        deployment,
        environment,
        active_windows,
    } = found;
    let (tenant, environment) = (deployment.tenant, environment.clone());
    let active_windows = active_windows.clone();
    let approvers = if environment.required_approvals > 0 {
        deployment_approvals::table
            .filter(deployment_approvals::deployment_id.eq(DbUuid(deployment.id)))
            .filter(deployment_approvals::tenant_id.eq(DbUuid(tenant.0)))
            .filter(
                deployment_approvals::approval_round
                    .eq(i32::try_from(deployment.approval_round).unwrap_or(i32::MAX)),
            )
            .order_by(deployment_approvals::approver.asc())
            .select(deployment_approvals::approver)
            .load::<DbUuid>(conn)?
            .into_iter()
            .map(|a| UserId(a.0))
            .collect()
    } else {
        Vec::new()
    };
    let promotion = match environment.promotion_policy {
        PromotionPolicy::Sequential => promotion_evidence(
            conn,
            tenant,
            &environment,
            deployment.component_id,
            deployment.version.as_str(),
        )?,
        PromotionPolicy::Default => PromotionEvidence::FirstEnvironment,
    };
    Ok(GateInputs {
        environment,
        active_windows,
        approvers,
        promotion,
    })
}

/// A deployment about to be moved, with what its gates look at first.
struct Found {
    deployment: Deployment,
    environment: Environment,
    /// The environment's freeze windows active at the moment of the decision, by start.
    active_windows: Vec<FreezeWindow>,
}

/// What a decision on a copy took its gate inputs to be without reading them: the
/// environment as this process last read it, with no freeze window active at the moment of
/// the decision. Only for an environment whose gates look at nothing else (no approvals
/// required, no promotion order), so these are the whole inputs; the write lands only if
/// both still hold then (see [`Assumed::holds`]), and otherwise the transition is decided
/// again on what is stored.
#[derive(Debug, Clone)]
struct Assumed {
    tenant: DbUuid,
    environment: DbUuid,
    environment_version: i64,
    now: DbTime,
}

impl Assumed {
    /// The inputs of the gates of starting `deployment` in `environment` at `now`, and the
    /// assumption they rest on; `None` when the environment's gates need more than it.
    fn inputs(
        deployment: &Deployment,
        environment: &Environment,
        now: DateTime<Utc>,
    ) -> Option<(GateInputs, Assumed)> {
        if environment.required_approvals > 0
            || environment.promotion_policy != PromotionPolicy::Default
            || environment.id != deployment.environment_id
        {
            return None;
        }
        let inputs = GateInputs {
            environment: environment.clone(),
            active_windows: Vec::new(),
            approvers: Vec::new(),
            promotion: PromotionEvidence::FirstEnvironment,
        };
        let assumed = Assumed {
            tenant: DbUuid(deployment.tenant.0),
            environment: DbUuid(environment.id.0),
            environment_version: environment.version,
            now: DbTime(now),
        };
        Some((inputs, assumed))
    }

    /// True while the environment is at the version the decision saw and none of its freeze
    /// windows is active at the moment of the decision.
    fn holds(&self) -> assumption_holds {
        assumption_holds(
            self.tenant,
            self.environment,
            self.environment_version,
            self.now,
        )
    }
}

/// [`Assumed::holds`].
#[diesel::dsl::auto_type]
fn assumption_holds(tenant: DbUuid, environment: DbUuid, version: i64, now: DbTime) -> _ {
    let unchanged = environments::table
        .filter(environments::id.eq(environment))
        .filter(environments::tenant_id.eq(tenant))
        .filter(environments::version.eq(version));
    let frozen = freeze_windows::table
        .filter(freeze_windows::environment_id.eq(environment))
        .filter(freeze_windows::tenant_id.eq(tenant))
        .filter(freeze_windows::starts_at.le(now))
        .filter(freeze_windows::ends_at.gt(now));
    diesel::dsl::exists(unchanged).and(diesel::dsl::not(diesel::dsl::exists(frozen)))
}

/// The gate inputs of one deployment, on the connection of the unit of work moving it: from
/// what was read with the deployment; or, for a decision on a copy, assumed from the
/// environment as this process last read it (see [`Assumed`]), else read when asked (as they
/// stand; a stale copy fails its compare-and-set anyway). Every environment read is kept in
/// `environments` for the next decision.
struct Gates<'a> {
    conn: &'a mut DbConnection,
    found: Option<&'a Found>,
    /// The deployment decided on.
    deployment: &'a Deployment,
    now: DateTime<Utc>,
    environments: &'a Recent<Environment>,
    /// What the inputs handed out were assumed to be, if they were.
    assumed: Option<Assumed>,
}

impl GateSource for Gates<'_> {
    fn gate_inputs(&mut self) -> Result<GateInputs, StoreError> {
        let tenant = self.deployment.tenant;
        let read;
        let found = match self.found {
            Some(found) => found,
            None => {
                let known = self
                    .environments
                    .get(tenant, self.deployment.environment_id.0)
                    .and_then(|env| Assumed::inputs(self.deployment, &env, self.now));
                if let Some((inputs, assumed)) = known {
                    self.assumed = Some(assumed);
                    return Ok(inputs);
                }
                read = find_for_transition(self.conn, tenant, self.deployment.id, self.now)
                    .map_err(Failure::into_store_error)?
                    .ok_or(StoreError::NotFound)?;
                &read
            }
        };
        let environment = &found.environment;
        self.environments.put(tenant, environment.id.0, environment);
        gate_inputs(self.conn, found).map_err(Failure::into_store_error)
    }
}

/// Moves `copy`, the deployment as this process last wrote it, when `decide` agrees and the
/// compare-and-set finds it (and whatever its gate inputs were assumed to be) unchanged:
/// `None` when it has to be decided on what the database holds instead (something is stale,
/// or the answer was a refusal, which is only given about what is stored).
fn move_copy(
    conn: &mut DbConnection,
    copy: &Deployment,
    now: DateTime<Utc>,
    environments: &Recent<Environment>,
    decide: &Decide,
) -> Result<Option<Deployment>, Failure> {
    let mut gates = Gates {
        conn: &mut *conn,
        found: None,
        deployment: copy,
        now,
        environments,
        assumed: None,
    };
    let decided = decide(copy, &mut gates);
    let assumed = gates.assumed;
    let Ok((next, entry)) = decided else {
        return Ok(None);
    };
    Ok(try_write_transition(conn, copy, &next, &entry, assumed.as_ref())?.then_some(next))
}

/// The tenant's deployment `id` with its environment and the environment's freeze windows
/// active at `now`, in one query (one row per active window, usually one row in all).
fn find_for_transition(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Found>, Failure> {
    let now = DbTime(now);
    let active = freeze_windows::environment_id
        .eq(environments::id)
        .and(freeze_windows::tenant_id.eq(deployments::tenant_id))
        .and(freeze_windows::starts_at.le(now))
        .and(freeze_windows::ends_at.gt(now));
    let rows = deployments::table
        .inner_join(environments::table)
        .left_join(freeze_windows::table.on(active))
        .filter(deployments::id.eq(DbUuid(id)))
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .order_by(freeze_windows::starts_at.asc())
        .then_order_by(freeze_windows::id.asc())
        .select((
            DeploymentRow::as_select(),
            EnvironmentRow::as_select(),
            Option::<FreezeWindowRow>::as_select(),
        ))
        .load::<(DeploymentRow, EnvironmentRow, Option<FreezeWindowRow>)>(conn)?;
    let mut rows = rows.into_iter();
    let Some((deployment, environment, window)) = rows.next() else {
        return Ok(None);
    };
    let active_windows = window
        .into_iter()
        .chain(rows.filter_map(|(_, _, window)| window))
        .map(FreezeWindow::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Some(Found {
        deployment: Deployment::try_from(deployment)?,
        environment: Environment::try_from(environment)?,
        active_windows,
    }))
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
