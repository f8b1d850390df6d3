//! The `environment_requests` and `environment_request_history` tables and the
//! `EnvironmentRequestRepository` port, including the background claims.
//!
//! Claims are leases kept in the rows themselves (`environment_requests.claimed_until`,
//! `environments.deprovision_claimed_until`): a row is free when its lease is NULL or has run
//! out. On PostgreSQL a claim selects its rows `FOR UPDATE SKIP LOCKED`, so replicas claiming
//! at the same moment take disjoint rows without waiting for each other, and a row whose
//! lease a concurrent transaction just set is re-checked and passed over. On SQLite the
//! claim's write transaction (`BEGIN IMMEDIATE`) already excludes every other writer.
//!
//! A claim looks across tenants, which PostgreSQL's tenant policy forbids (a transaction
//! sees only the tenant it set). Claims therefore run in system transactions, which set
//! `terrane.system` to `on` for themselves only; a second, permissive policy on the tables
//! the jobs touch admits exactly those (see the migration `create_environment_requests`).
//! Everything else, including recording what a job did, runs in tenant transactions.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::fixed::condition;
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::{environment_request_history, environment_requests, environments};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::repositories::environments::{find as find_environment, lower, EnvironmentRow};
use crate::repositories::lifecycle::tables::environment_lifecycles;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use terrane_domain::time::truncate;
use terrane_domain::{
    ComponentId, Environment, EnvironmentId, EnvironmentName, EnvironmentRequest,
    EnvironmentRequestId, EnvironmentStatus, NewEnvironment, NewEvent, Page, RequestFilter,
    RequestHistoryEntry, RequestStatus, TenantId, UserId,
};
use terrane_ports::{EnvironmentEffect, EnvironmentRequestRepository, ExpiryClaim, StoreError};

/// The requests the provisioning worker claims, by status, as
/// `environment_requests_provisioning_idx` has it.
const TO_PROVISION: &str = "environment_requests.status IN ('approved', 'provisioning')";

/// One row of `environment_requests`, without the worker's lease (which only the claims
/// touch, and every save clears).
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = environment_requests, treat_none_as_null = true)]
struct RequestRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    description: Option<String>,
    environment_type: String,
    tier: String,
    ttl_hours: Option<i32>,
    component_id: Option<DbUuid>,
    status: String,
    status_message: Option<String>,
    requested_by: DbUuid,
    reviewed_by: Option<DbUuid>,
    review_comment: Option<String>,
    environment_id: Option<DbUuid>,
    provisioned_at: Option<DbTime>,
    expires_at: Option<DbTime>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&EnvironmentRequest> for RequestRow {
    fn from(request: &EnvironmentRequest) -> Self {
        RequestRow {
            id: DbUuid(request.id.0),
            tenant_id: DbUuid(request.tenant.0),
            name: request.name.as_str().to_owned(),
            description: request.description.clone(),
            environment_type: request.environment_type.as_str().to_owned(),
            tier: request.tier.as_str().to_owned(),
            // At most the installation's maximum, far below i32::MAX.
            ttl_hours: request
                .ttl_hours
                .map(|h| i32::try_from(h).unwrap_or(i32::MAX)),
            component_id: request.component_id.map(|c| DbUuid(c.0)),
            status: request.status.as_str().to_owned(),
            status_message: request.status_message.clone(),
            requested_by: DbUuid(request.requested_by.0),
            reviewed_by: request.reviewed_by.map(|u| DbUuid(u.0)),
            review_comment: request.review_comment.clone(),
            environment_id: request.environment_id.map(|e| DbUuid(e.0)),
            provisioned_at: request.provisioned_at.map(DbTime),
            expires_at: request.expires_at.map(DbTime),
            version: request.version,
            created_at: DbTime(request.created_at),
            updated_at: DbTime(request.updated_at),
        }
    }
}

impl TryFrom<RequestRow> for EnvironmentRequest {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: RequestRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "environment request {id} has an invalid {what} stored: {why}"
            )))
        };
        Ok(EnvironmentRequest {
            id: EnvironmentRequestId(id),
            tenant: TenantId(row.tenant_id.0),
            name: EnvironmentName::parse(&row.name).map_err(|e| corrupt("name", e.message))?,
            description: row.description,
            environment_type: row
                .environment_type
                .parse()
                .map_err(|e| corrupt("type", e))?,
            tier: row.tier.parse().map_err(|e| corrupt("tier", e))?,
            ttl_hours: row
                .ttl_hours
                .map(u32::try_from)
                .transpose()
                .map_err(|e| corrupt("time to live", e.to_string()))?,
            component_id: row.component_id.map(|c| ComponentId(c.0)),
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            status_message: row.status_message,
            requested_by: UserId(row.requested_by.0),
            reviewed_by: row.reviewed_by.map(|u| UserId(u.0)),
            review_comment: row.review_comment,
            environment_id: row.environment_id.map(|e| EnvironmentId(e.0)),
            provisioned_at: row.provisioned_at.map(|at| at.0),
            expires_at: row.expires_at.map(|at| at.0),
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// One row of `environment_request_history`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = environment_request_history)]
struct HistoryRow {
    request_id: DbUuid,
    seq: i32,
    tenant_id: DbUuid,
    from_status: Option<String>,
    to_status: String,
    actor: Option<DbUuid>,
    message: Option<String>,
    comment: Option<String>,
    at: DbTime,
}

impl TryFrom<HistoryRow> for RequestHistoryEntry {
    type Error = Failure;

    fn try_from(row: HistoryRow) -> Result<Self, Failure> {
        let corrupt = |why: String| {
            Failure::Store(StoreError::Internal(format!(
                "history row {} of environment request {} has an invalid status stored: {why}",
                row.seq, row.request_id.0
            )))
        };
        Ok(RequestHistoryEntry {
            from: row
                .from_status
                .as_deref()
                .map(str::parse::<RequestStatus>)
                .transpose()
                .map_err(corrupt)?,
            to: row.to_status.parse().map_err(corrupt)?,
            actor: row.actor.map(|u| UserId(u.0)),
            at: row.at.0,
            message: row.message,
            comment: row.comment,
        })
    }
}

/// Maps the failures of writing a request named `name`: the open-name index and the
/// component reference are this table's own, so they are named here rather than in the
/// crate-wide mapping.
fn writing(name: &str) -> impl FnOnce(DieselError) -> Failure + '_ {
    move |error| match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
            if info.constraint_name() == Some("environment_requests_open_name_key")
                || info
                    .message()
                    .contains("'environment_requests_open_name_key'") =>
        {
            StoreError::Conflict(format!(
                "an open request for an environment named `{name}` already exists"
            ))
            .into()
        }
        // The only reference a request write can break: `environment_id` is written only
        // after its environment, in the same transaction.
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::MissingReference("componentId".into()).into()
        }
        _ => error.into(),
    }
}

/// The tenant's request `id`, if it exists.
fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentRequestId,
) -> Result<Option<EnvironmentRequest>, Failure> {
    environment_requests::table
        .filter(environment_requests::id.eq(DbUuid(id.0)))
        .filter(environment_requests::tenant_id.eq(DbUuid(tenant.0)))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?
        .map(EnvironmentRequest::try_from)
        .transpose()
}

/// Locks a row on PostgreSQL for the rest of the transaction, so a concurrent writer waits
/// and then reads the new version. SQLite's `BEGIN IMMEDIATE` already serializes writers.
fn lock(
    conn: &mut DbConnection,
    table: &str,
    tenant: TenantId,
    id: uuid::Uuid,
) -> Result<(), Failure> {
    if let DbConnection::Pg(pg) = conn {
        diesel::sql_query(format!(
            "SELECT 1 FROM {table} WHERE id = $1::uuid AND tenant_id = $2::uuid FOR UPDATE"
        ))
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .bind::<diesel::sql_types::Text, _>(tenant.to_string())
        .execute(pg)?;
    }
    Ok(())
}

/// Why a write filtered by `id` and a version changed nothing: the version differs (the
/// current one is reported), or the row is gone.
fn unchanged(conn: &mut DbConnection, tenant: TenantId, id: EnvironmentRequestId) -> Failure {
    let current = environment_requests::table
        .filter(environment_requests::id.eq(DbUuid(id.0)))
        .filter(environment_requests::tenant_id.eq(DbUuid(tenant.0)))
        .select(environment_requests::version)
        .first::<i64>(conn)
        .optional();
    match current {
        Ok(Some(current)) => StoreError::VersionMismatch { current }.into(),
        Ok(None) => StoreError::NotFound.into(),
        Err(error) => error.into(),
    }
}

/// Whether the tenant has an environment named `name`, destroyed or not (it still holds the
/// name).
fn environment_named(
    conn: &mut DbConnection,
    tenant: TenantId,
    name: &EnvironmentName,
) -> Result<bool, Failure> {
    Ok(environments::table
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(lower(environments::name).eq(lower(name.as_str().to_owned())))
        .select(environments::id)
        .first::<DbUuid>(conn)
        .optional()?
        .is_some())
}

fn name_taken(name: &EnvironmentName) -> Failure {
    StoreError::Conflict(format!("an environment named `{name}` already exists")).into()
}

/// Appends `entries` to the request's history, numbered after its last row. The caller has
/// written (and so locked) the request row in this transaction, so numbers never clash.
/// Each entry is recorded as an event by `actor` too, with `request` (the request after the
/// move) as its data.
fn append_history(
    conn: &mut DbConnection,
    actor: &str,
    request: &EnvironmentRequest,
    entries: &[RequestHistoryEntry],
) -> Result<(), Failure> {
    if entries.is_empty() {
        return Ok(());
    }
    let (tenant, id) = (request.tenant, request.id);
    for entry in entries {
        crate::repositories::events::record(conn, actor, &NewEvent::request_moved(request, entry))?;
    }
    let last: Option<i32> = environment_request_history::table
        .filter(environment_request_history::request_id.eq(DbUuid(id.0)))
        .select(max(environment_request_history::seq))
        .first(conn)?;
    let rows: Vec<HistoryRow> = entries
        .iter()
        .zip(last.unwrap_or(0) + 1..)
        .map(|(entry, seq)| HistoryRow {
            request_id: DbUuid(id.0),
            seq,
            tenant_id: DbUuid(tenant.0),
            from_status: entry.from.map(|s| s.as_str().to_owned()),
            to_status: entry.to.as_str().to_owned(),
            actor: entry.actor.map(|u| DbUuid(u.0)),
            message: entry.message.clone(),
            comment: entry.comment.clone(),
            at: DbTime(entry.at),
        })
        .collect();
    // One statement per row: the multi-backend has no batch insert (and a move writes at
    // most three rows).
    for row in rows {
        diesel::insert_into(environment_request_history::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Writes `next` over the stored request of version `expected`, releasing its lease.
fn overwrite(
    conn: &mut DbConnection,
    expected: i64,
    next: &EnvironmentRequest,
) -> Result<(), Failure> {
    let updated = diesel::update(environment_requests::table)
        .filter(environment_requests::id.eq(DbUuid(next.id.0)))
        .filter(environment_requests::tenant_id.eq(DbUuid(next.tenant.0)))
        .filter(environment_requests::version.eq(expected))
        .set((
            RequestRow::from(next),
            environment_requests::claimed_until.eq(None::<DbTime>),
        ))
        .execute(conn)
        .map_err(writing(next.name.as_str()))?;
    if updated == 0 {
        return Err(unchanged(conn, next.tenant, next.id));
    }
    Ok(())
}

/// Creates the environment a request made: `new` under the request's environment id,
/// linked to it, expiring when it does.
fn create_environment(
    conn: &mut DbConnection,
    actor: &str,
    request: &EnvironmentRequest,
    new: NewEnvironment,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let id = request.environment_id.ok_or_else(|| {
        Failure::Store(StoreError::Internal(format!(
            "environment request {} has no environment id to create its environment with",
            request.id
        )))
    })?;
    let requested = new.order_index;
    // The number and the order index are drawn by the insert (see `environments::insert`).
    let mut env = new.into_environment(
        id,
        terrane_domain::EnvironmentNumber(0),
        request.tenant,
        requested.unwrap_or_default(),
        now,
    );
    env.request_id = Some(request.id.0);
    env.expires_at = request.expires_at;
    crate::repositories::environments::insert(conn, &mut env, requested, actor)
}

/// Marks an environment destroyed (unless it is already) and releases its lease.
fn destroy(
    conn: &mut DbConnection,
    actor: &str,
    tenant: TenantId,
    id: EnvironmentId,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let before = find_environment(conn, tenant, id)?;
    let destroyed = diesel::update(environments::table)
        .filter(environments::id.eq(DbUuid(id.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environments::status.ne(EnvironmentStatus::Destroyed.as_str()))
        .set((
            environments::status.eq(EnvironmentStatus::Destroyed.as_str()),
            environments::version.eq(environments::version + 1),
            environments::updated_at.eq(DbTime(truncate(now))),
            environments::deprovision_claimed_until.eq(None::<DbTime>),
        ))
        .execute(conn)?;
    if let (1, Some(before)) = (destroyed, before) {
        if let Some(after) = find_environment(conn, tenant, id)? {
            let event = NewEvent::status_changed(
                &after,
                Some(before.status.as_str()),
                after.status.as_str(),
                after.updated_at,
            );
            crate::repositories::events::record(conn, actor, &event)?;
        }
    }
    Ok(())
}

/// The tenant's requests matching `filter`, as a query to count or to page through.
fn matching(
    tenant: TenantId,
    filter: &RequestFilter,
) -> environment_requests::BoxedQuery<'static, MultiBackend> {
    let mut query = environment_requests::table
        .filter(environment_requests::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(environment_requests::status.eq(status.as_str()));
    }
    if let Some(kind) = filter.environment_type {
        query = query.filter(environment_requests::environment_type.eq(kind.as_str()));
    }
    if let Some(user) = filter.requested_by {
        query = query.filter(environment_requests::requested_by.eq(DbUuid(user.0)));
    }
    query
}

fn requests_by_id(
    conn: &mut DbConnection,
    ids: Vec<DbUuid>,
) -> Result<Vec<EnvironmentRequest>, Failure> {
    environment_requests::table
        .filter(environment_requests::id.eq_any(ids))
        .order_by(environment_requests::created_at.asc())
        .then_order_by(environment_requests::id.asc())
        .select(RequestRow::as_select())
        .load(conn)?
        .into_iter()
        .map(EnvironmentRequest::try_from)
        .collect()
}

#[async_trait]
impl EnvironmentRequestRepository for Store {
    async fn create(
        &self,
        request: EnvironmentRequest,
        entry: RequestHistoryEntry,
    ) -> Result<EnvironmentRequest, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(request.tenant, Access::Write, move |conn| {
            if environment_named(conn, request.tenant, &request.name)? {
                return Err(name_taken(&request.name));
            }
            diesel::insert_into(environment_requests::table)
                .values(RequestRow::from(&request))
                .execute(conn)
                .map_err(writing(request.name.as_str()))?;
            append_history(conn, &actor, &request, &[entry])?;
            Ok(request)
        })
        .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
    ) -> Result<EnvironmentRequest, StoreError> {
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: RequestFilter,
        page: Page,
    ) -> Result<(Vec<EnvironmentRequest>, u64), StoreError> {
        // One statement: the total rides on every row of the page.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(matching(tenant, &filter)
                    .order_by(environment_requests::created_at.desc())
                    .then_order_by(environment_requests::id.desc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        RequestRow::as_select(),
                        total_of(matching(tenant, &filter).count()),
                    ))
                    .load(conn)?)
            })?;
            let requests = rows
                .into_iter()
                .map(EnvironmentRequest::try_from)
                .collect::<Result<_, _>>()?;
            Ok((requests, total))
        })
        .await
    }

    async fn history(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
    ) -> Result<Vec<RequestHistoryEntry>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, id)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            environment_request_history::table
                .filter(environment_request_history::request_id.eq(DbUuid(id.0)))
                .filter(environment_request_history::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(environment_request_history::seq.asc())
                .select(HistoryRow::as_select())
                .load(conn)?
                .into_iter()
                .map(RequestHistoryEntry::try_from)
                .collect()
        })
        .await
    }

    async fn save(
        &self,
        expected_version: i64,
        next: EnvironmentRequest,
        history: Vec<RequestHistoryEntry>,
        effect: EnvironmentEffect,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentRequest, StoreError> {
        let tenant = next.tenant;
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            lock(conn, "environment_requests", tenant, next.id.0)?;
            let current = find(conn, tenant, next.id)?.ok_or(StoreError::NotFound)?;
            if current.version != expected_version {
                return Err(StoreError::VersionMismatch {
                    current: current.version,
                }
                .into());
            }
            if current.name != next.name && environment_named(conn, tenant, &next.name)? {
                return Err(name_taken(&next.name));
            }
            // The environment first: the request row refers to it.
            match effect {
                EnvironmentEffect::None => {}
                EnvironmentEffect::Create(new) => {
                    create_environment(conn, &actor, &next, new, now)?
                }
                EnvironmentEffect::Destroy => {
                    if let Some(environment) = next.environment_id {
                        destroy(conn, &actor, tenant, environment, now)?;
                    }
                }
            }
            overwrite(conn, expected_version, &next)?;
            if history.is_empty() {
                // An edit of a pending request: no move, but a change.
                let event = NewEvent::updated(&next, next.updated_at);
                crate::repositories::events::record(conn, &actor, &event)?;
            }
            append_history(conn, &actor, &next, &history)?;
            Ok(next)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: EnvironmentRequestId,
        expected_version: i64,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // Its history goes with it (ON DELETE CASCADE).
            let deleted = diesel::delete(environment_requests::table)
                .filter(environment_requests::id.eq(DbUuid(id.0)))
                .filter(environment_requests::tenant_id.eq(DbUuid(tenant.0)))
                .filter(environment_requests::version.eq(expected_version))
                .execute(conn)?;
            if deleted == 0 {
                return Err(unchanged(conn, tenant, id));
            }
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::EnvironmentRequest,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }

    async fn set_expiry(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError> {
        let expires_at = expires_at.map(truncate);
        let now = truncate(now);
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            lock(conn, "environments", tenant, environment.0)?;
            let mut env =
                find_environment(conn, tenant, environment)?.ok_or(StoreError::NotFound)?;
            diesel::update(environments::table)
                .filter(environments::id.eq(DbUuid(environment.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .set((
                    environments::expires_at.eq(expires_at.map(DbTime)),
                    environments::version.eq(environments::version + 1),
                    environments::updated_at.eq(DbTime(now)),
                ))
                .execute(conn)?;
            if let Some(request) = env.request_id {
                diesel::update(environment_requests::table)
                    .filter(environment_requests::id.eq(DbUuid(request)))
                    .filter(environment_requests::tenant_id.eq(DbUuid(tenant.0)))
                    .set((
                        environment_requests::expires_at.eq(expires_at.map(DbTime)),
                        environment_requests::version.eq(environment_requests::version + 1),
                        environment_requests::updated_at.eq(DbTime(now)),
                    ))
                    .execute(conn)?;
            }
            env.expires_at = expires_at;
            env.version += 1;
            env.updated_at = now;
            crate::repositories::events::record(conn, &actor, &NewEvent::updated(&env, now))?;
            Ok(env)
        })
        .await
    }

    async fn claim_provisioning(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EnvironmentRequest>, StoreError> {
        let now = truncate(now);
        let actor = terrane_ports::current_actor();
        self.system_tx(move |conn| {
            let due = || {
                environment_requests::table
                    .filter(condition(TO_PROVISION))
                    .filter(
                        environment_requests::claimed_until
                            .is_null()
                            .or(environment_requests::claimed_until.le(DbTime(now))),
                    )
                    .order_by(environment_requests::created_at.asc())
                    .then_order_by(environment_requests::id.asc())
                    .limit(limit.into())
                    .select(environment_requests::id)
            };
            let ids: Vec<DbUuid> = match conn {
                DbConnection::Pg(pg) => due().for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => due().load(sqlite)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(environment_requests::table)
                .filter(environment_requests::id.eq_any(ids.clone()))
                .set(environment_requests::claimed_until.eq(DbTime(truncate(lease_until))))
                .execute(conn)?;
            let mut claimed = Vec::with_capacity(ids.len());
            for request in requests_by_id(conn, ids)? {
                if request.status != RequestStatus::Approved {
                    claimed.push(request);
                    continue;
                }
                // Left approved by a replica that stopped before provisioning began.
                let (next, entry) = request
                    .start_provisioning(now)
                    .map_err(|e| Failure::Store(StoreError::Internal(e.to_string())))?;
                diesel::update(environment_requests::table)
                    .filter(environment_requests::id.eq(DbUuid(next.id.0)))
                    .set(RequestRow::from(&next))
                    .execute(conn)?;
                append_history(conn, &actor, &next, &[entry])?;
                claimed.push(next);
            }
            Ok(claimed)
        })
        .await
    }

    async fn claim_expired(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ExpiryClaim>, StoreError> {
        let now = truncate(now);
        self.system_tx(move |conn| {
            let due = || {
                environments::table
                    .filter(environments::expires_at.le(DbTime(now)))
                    // As `environments_expires_at_idx` has it.
                    .filter(condition("environments.status <> 'destroyed'"))
                    // Environments born from a template expire through their destroy
                    // workflow (see the lifecycle runner), not through deprovisioning.
                    .filter(diesel::dsl::not(diesel::dsl::exists(
                        environment_lifecycles::table
                            .filter(environment_lifecycles::environment_id.eq(environments::id)),
                    )))
                    .filter(
                        environments::deprovision_claimed_until
                            .is_null()
                            .or(environments::deprovision_claimed_until.le(DbTime(now))),
                    )
                    .order_by(environments::expires_at.asc())
                    .then_order_by(environments::id.asc())
                    .limit(limit.into())
                    .select(environments::id)
            };
            let ids: Vec<DbUuid> = match conn {
                DbConnection::Pg(pg) => due().for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => due().load(sqlite)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(environments::table)
                .filter(environments::id.eq_any(ids.clone()))
                .set(environments::deprovision_claimed_until.eq(DbTime(truncate(lease_until))))
                .execute(conn)?;
            let environments: Vec<Environment> = environments::table
                .filter(environments::id.eq_any(ids))
                .order_by(environments::expires_at.asc())
                .then_order_by(environments::id.asc())
                .select(EnvironmentRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Environment::try_from)
                .collect::<Result<_, _>>()?;
            let request_ids: Vec<DbUuid> = environments
                .iter()
                .filter_map(|env| env.request_id.map(DbUuid))
                .collect();
            let mut requests = requests_by_id(conn, request_ids)?;
            Ok(environments
                .into_iter()
                .map(|environment| {
                    let request = environment.request_id.and_then(|id| {
                        requests
                            .iter()
                            .position(|r| r.id.0 == id && r.tenant == environment.tenant)
                            .map(|i| requests.swap_remove(i))
                    });
                    ExpiryClaim {
                        environment,
                        request,
                    }
                })
                .collect())
        })
        .await
    }

    async fn claim_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Environment>, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            lock(conn, "environments", tenant, environment.0)?;
            let env = find_environment(conn, tenant, environment)?.ok_or(StoreError::NotFound)?;
            if env.status == EnvironmentStatus::Destroyed {
                return Ok(None);
            }
            let claimed_until: Option<DbTime> = environments::table
                .filter(environments::id.eq(DbUuid(environment.0)))
                .select(environments::deprovision_claimed_until)
                .first(conn)?;
            if claimed_until.is_some_and(|until| until.0 > now) {
                return Err(StoreError::Conflict(format!(
                    "environment `{}` is being deprovisioned",
                    env.name
                ))
                .into());
            }
            diesel::update(environments::table)
                .filter(environments::id.eq(DbUuid(environment.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .set(environments::deprovision_claimed_until.eq(DbTime(truncate(lease_until))))
                .execute(conn)?;
            Ok(Some(env))
        })
        .await
    }

    async fn release_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            diesel::update(environments::table)
                .filter(environments::id.eq(DbUuid(environment.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .set(
                    environments::deprovision_claimed_until
                        .eq(retry_at.map(|at| DbTime(truncate(at)))),
                )
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn destroy_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            if find_environment(conn, tenant, environment)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            destroy(conn, &actor, tenant, environment, now)
        })
        .await
    }
}
