//! The `freeze_windows` table and the `FreezeWindowRepository` port.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::fixed::condition;
use crate::infra::schema::{environments, freeze_windows};
use crate::infra::tx::Access;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;
use terrane_domain::{
    EnvironmentId, FreezeWindow, FreezeWindowId, NewFreezeWindow, TenantId, UserId,
};
use terrane_ports::{FreezeWindowRepository, StoreError};
use uuid::Uuid;

/// One row of `freeze_windows`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = freeze_windows)]
pub(crate) struct FreezeWindowRow {
    id: DbUuid,
    tenant_id: DbUuid,
    environment_id: DbUuid,
    starts_at: DbTime,
    ends_at: DbTime,
    reason: String,
    exceptions: DbJson,
    created_by: DbUuid,
    created_at: DbTime,
}

impl From<&FreezeWindow> for FreezeWindowRow {
    fn from(window: &FreezeWindow) -> Self {
        let exceptions = window
            .exceptions
            .iter()
            .map(|user| serde_json::Value::String(user.to_string()))
            .collect();
        FreezeWindowRow {
            id: DbUuid(window.id.0),
            tenant_id: DbUuid(window.tenant.0),
            environment_id: DbUuid(window.environment_id.0),
            starts_at: DbTime(window.start),
            ends_at: DbTime(window.end),
            reason: window.reason.clone(),
            exceptions: DbJson(serde_json::Value::Array(exceptions)),
            created_by: DbUuid(window.created_by.0),
            created_at: DbTime(window.created_at),
        }
    }
}

impl TryFrom<FreezeWindowRow> for FreezeWindow {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: FreezeWindowRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = || {
            Failure::Store(StoreError::Internal(format!(
                "freeze window {id} has invalid exceptions stored: expected an array of UUIDs"
            )))
        };
        let exceptions = match row.exceptions.0 {
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .and_then(|text| Uuid::parse_str(text).ok())
                        .map(UserId)
                        .ok_or_else(corrupt)
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(corrupt()),
        };
        Ok(FreezeWindow {
            id: FreezeWindowId(id),
            tenant: TenantId(row.tenant_id.0),
            environment_id: EnvironmentId(row.environment_id.0),
            start: row.starts_at.0,
            end: row.ends_at.0,
            reason: row.reason,
            exceptions,
            created_by: UserId(row.created_by.0),
            created_at: row.created_at.0,
        })
    }
}

/// Whether the tenant has the environment.
fn environment_exists(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
) -> Result<bool, Failure> {
    let found = environments::table
        .filter(environments::id.eq(DbUuid(environment.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .select(environments::id)
        .first::<DbUuid>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Bumps the version of the tenant's `environment` as its set of freeze windows changes: the
/// gates of a start are decided on the environment and its windows together, and the
/// compare-and-set that writes the start checks the environment's version alone. On
/// PostgreSQL the update also locks the row until the transaction ends, so a window cannot be
/// added to an environment that is being deleted; SQLite's `BEGIN IMMEDIATE` already
/// serializes writers.
///
/// # Errors
/// [`StoreError::NotFound`] when the tenant has no such environment.
fn revise_environment(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
) -> Result<(), Failure> {
    let revised = diesel::update(environments::table)
        .filter(environments::id.eq(DbUuid(environment.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .set(environments::version.eq(environments::version + 1))
        .execute(conn)?;
    if revised == 0 {
        return Err(StoreError::NotFound.into());
    }
    Ok(())
}

/// The tenant's windows; with `active`, only those that could be active at `now` or not
/// (a window that has ended is never active). Which are is decided by [`narrowed`], with the
/// domain's rule.
fn windows(
    tenant: TenantId,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> freeze_windows::BoxedQuery<'static, MultiBackend> {
    let query = freeze_windows::table
        .filter(freeze_windows::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    match active {
        Some(true) => query.filter(freeze_windows::ends_at.gt(DbTime(now))),
        None | Some(false) => query,
    }
}

/// `windows` narrowed to those active at `now` (`Some(true)`, as [`FreezeWindow::is_active`]
/// decides) or to the others (`Some(false)`).
fn narrowed(
    windows: Vec<FreezeWindow>,
    active: Option<bool>,
    now: DateTime<Utc>,
) -> Vec<FreezeWindow> {
    match active {
        None => windows,
        Some(active) => windows
            .into_iter()
            .filter(|window| window.is_active(now) == active)
            .collect(),
    }
}

/// Loads `query` ordered by start, then id.
fn load(
    conn: &mut DbConnection,
    query: freeze_windows::BoxedQuery<'static, MultiBackend>,
) -> Result<Vec<FreezeWindow>, Failure> {
    query
        .order_by(freeze_windows::starts_at.asc())
        .then_order_by(freeze_windows::id.asc())
        .select(FreezeWindowRow::as_select())
        .load(conn)?
        .into_iter()
        .map(FreezeWindow::try_from)
        .collect()
}

#[async_trait]
impl FreezeWindowRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
        new: NewFreezeWindow,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<FreezeWindow, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            revise_environment(conn, tenant, environment)?;
            let window = new.into_window(id, tenant, environment, created_by, now);
            diesel::insert_into(freeze_windows::table)
                .values(FreezeWindowRow::from(&window))
                .execute(conn)?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&window, window.created_at),
            )?;
            Ok(window)
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        active: Option<bool>,
        now: DateTime<Utc>,
    ) -> Result<Vec<FreezeWindow>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if !environment_exists(conn, tenant, environment)? {
                return Err(StoreError::NotFound.into());
            }
            let query = windows(tenant, active, now)
                .filter(freeze_windows::environment_id.eq(DbUuid(environment.0)));
            Ok(narrowed(load(conn, query)?, active, now))
        })
        .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<FreezeWindow, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            freeze_windows::table
                .filter(freeze_windows::id.eq(DbUuid(id.0)))
                .filter(freeze_windows::environment_id.eq(DbUuid(environment.0)))
                .filter(freeze_windows::tenant_id.eq(DbUuid(tenant.0)))
                .select(FreezeWindowRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))
                .and_then(FreezeWindow::try_from)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: FreezeWindowId,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let deleted = diesel::delete(freeze_windows::table)
                .filter(freeze_windows::id.eq(DbUuid(id.0)))
                .filter(freeze_windows::environment_id.eq(DbUuid(environment.0)))
                .filter(freeze_windows::tenant_id.eq(DbUuid(tenant.0)))
                .execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::FreezeWindow,
                tenant,
                id.0,
            )?;
            revise_environment(conn, tenant, environment)
        })
        .await
    }

    async fn active_for(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
        now: DateTime<Utc>,
    ) -> Result<HashMap<EnvironmentId, Vec<FreezeWindow>>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let ids: Vec<DbUuid> = environments.iter().map(|e| DbUuid(e.0)).collect();
            let query =
                windows(tenant, Some(true), now).filter(freeze_windows::environment_id.eq_any(ids));
            let mut by_environment: HashMap<EnvironmentId, Vec<FreezeWindow>> = HashMap::new();
            for window in narrowed(load(conn, query)?, Some(true), now) {
                by_environment
                    .entry(window.environment_id)
                    .or_default()
                    .push(window);
            }
            Ok(by_environment)
        })
        .await
    }
}

/// The ids of up to `limit` windows whose edge at `$at` has come by `now` and is not recorded
/// yet (`$unrecorded`, a condition), oldest first, locked; on PostgreSQL skipping the rows
/// another replica holds (on SQLite the write transaction excludes other writers).
macro_rules! due_ids {
    ($conn:expr, $unrecorded:literal, $at:expr, $now:expr, $limit:expr) => {{
        let due = || {
            freeze_windows::table
                // As the partial index of the edge has it.
                .filter(condition($unrecorded))
                .filter($at.le(DbTime($now)))
                .order_by($at.asc())
                .then_order_by(freeze_windows::id.asc())
                .limit(i64::from($limit))
                .select(freeze_windows::id)
        };
        let ids: Vec<DbUuid> = match $conn {
            DbConnection::Pg(pg) => due().for_update().skip_locked().load(pg)?,
            DbConnection::Sqlite(sqlite) => due().load(sqlite)?,
        };
        ids
    }};
}

#[async_trait]
impl terrane_ports::FreezeWindowEdges for Store {
    async fn record_edges(&self, now: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let actor = terrane_ports::current_actor();
        self.system_tx(move |conn| {
            let mut recorded = 0;
            let started = due_ids!(
                conn,
                "NOT freeze_windows.started_recorded",
                freeze_windows::starts_at,
                now,
                limit
            );
            if !started.is_empty() {
                let windows = load(
                    conn,
                    freeze_windows::table
                        .filter(freeze_windows::id.eq_any(started.clone()))
                        .into_boxed(),
                )?;
                diesel::update(freeze_windows::table)
                    .filter(freeze_windows::id.eq_any(started))
                    .set(freeze_windows::started_recorded.eq(true))
                    .execute(conn)?;
                for window in &windows {
                    let event = terrane_domain::NewEvent::freeze_window_started(window);
                    crate::repositories::events::record(conn, &actor, &event)?;
                    recorded += 1;
                }
            }
            let ended = due_ids!(
                conn,
                "NOT freeze_windows.ended_recorded",
                freeze_windows::ends_at,
                now,
                limit
            );
            if !ended.is_empty() {
                let mut windows = load(
                    conn,
                    freeze_windows::table
                        .filter(freeze_windows::id.eq_any(ended.clone()))
                        .into_boxed(),
                )?;
                windows.sort_by_key(|w| (w.end, w.id));
                diesel::update(freeze_windows::table)
                    .filter(freeze_windows::id.eq_any(ended))
                    .set(freeze_windows::ended_recorded.eq(true))
                    .execute(conn)?;
                for window in &windows {
                    let event = terrane_domain::NewEvent::freeze_window_ended(window);
                    crate::repositories::events::record(conn, &actor, &event)?;
                    recorded += 1;
                }
            }
            Ok(recorded)
        })
        .await
    }
}
