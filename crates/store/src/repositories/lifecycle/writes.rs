//! The statements the lifecycle repository composes: runs and their steps written, the
//! environment's status set (its version bumped), history appended.

use super::rows::{json_map, map_json, EventRow, RunRow, StepRow};
use super::tables::{
    environment_lifecycle_events, environment_lifecycles, workflow_runs, workflow_steps,
};
use crate::infra::connection::DbConnection;
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::schema::environments;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use crate::infra::versioned::{locked, Versioned};
use crate::repositories::environments::find as find_environment;
use crate::repositories::events;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::BTreeMap;
use terrane_domain::time::truncate;
use terrane_domain::NewEvent;
use terrane_domain::{
    Environment, EnvironmentId, EnvironmentStatus, LifecycleEvent, Run, RunId, TenantId,
};
use terrane_ports::StoreError;

pub(super) fn insert_run(conn: &mut DbConnection, run: &Run) -> Result<(), Failure> {
    let actor = terrane_ports::current_actor();
    diesel::insert_into(workflow_runs::table)
        .values(RunRow::from(run))
        .execute(conn)
        .map_err(|error| -> Failure {
            if is_unique_violation(&error) {
                StoreError::Conflict("a run is already in progress on the environment".into())
                    .into()
            } else {
                error.into()
            }
        })?;
    // One statement per step: the multi-backend connection has no batch insert.
    for (i, step) in run.steps.iter().enumerate() {
        diesel::insert_into(workflow_steps::table)
            .values(StepRow::of(run, i, step))
            .execute(conn)?;
    }
    events::record(conn, &actor, &NewEvent::created(run, run.requested_at))
}

/// Writes what changes of a stored run: its status and times, and its steps'.
pub(super) fn write_run(conn: &mut DbConnection, run: &Run) -> Result<(), Failure> {
    let actor = terrane_ports::current_actor();
    diesel::update(workflow_runs::table)
        .filter(workflow_runs::id.eq(DbUuid(run.id.0)))
        .set((
            workflow_runs::status.eq(run.status.as_str()),
            workflow_runs::started_at.eq(run.started_at.map(DbTime)),
            workflow_runs::finished_at.eq(run.finished_at.map(DbTime)),
        ))
        .execute(conn)?;
    for step in &run.steps {
        diesel::update(workflow_steps::table)
            .filter(workflow_steps::id.eq(DbUuid(step.id.0)))
            .set((
                workflow_steps::status.eq(step.status.as_str()),
                workflow_steps::started_at.eq(step.started_at.map(DbTime)),
                workflow_steps::finished_at.eq(step.finished_at.map(DbTime)),
                workflow_steps::exit_code.eq(step.exit_code),
                workflow_steps::output.eq(&step.output),
            ))
            .execute(conn)?;
    }
    let at = run
        .finished_at
        .or(run.started_at)
        .unwrap_or(run.requested_at);
    events::record(conn, &actor, &NewEvent::updated(run, at))
}

/// Sets the environment's status, bumping its version (a compare-and-set on
/// `expected_version` when given).
pub(super) fn set_status(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentId,
    expected_version: Option<i64>,
    status: EnvironmentStatus,
    now: DateTime<Utc>,
) -> Result<Environment, Failure> {
    let current = locked(
        conn,
        Versioned::Environments,
        tenant,
        id.0,
        expected_version,
        |conn| find_environment(conn, tenant, id),
        |env| env.version,
    )?;
    let mut next = current.clone();
    next.status = status;
    next.version = current.version + 1;
    next.updated_at = truncate(now);
    let updated = diesel::update(environments::table)
        .filter(environments::id.eq(DbUuid(id.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environments::version.eq(current.version))
        .set((
            environments::status.eq(status.as_str()),
            environments::version.eq(next.version),
            environments::updated_at.eq(DbTime(next.updated_at)),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::VersionMismatch {
            current: current.version,
        }
        .into());
    }
    if next.status != current.status {
        let event = NewEvent::status_changed(
            &next,
            Some(current.status.as_str()),
            next.status.as_str(),
            next.updated_at,
        );
        events::record(conn, &terrane_ports::current_actor(), &event)?;
    }
    Ok(next)
}

pub(super) fn append(
    conn: &mut DbConnection,
    tenant: TenantId,
    event: &LifecycleEvent,
) -> Result<(), Failure> {
    diesel::insert_into(environment_lifecycle_events::table)
        .values(EventRow::of(tenant, event))
        .execute(conn)?;
    if let Some(recorded) = NewEvent::lifecycle_entry(tenant, event) {
        events::record(conn, &terrane_ports::current_actor(), &recorded)?;
    }
    Ok(())
}

/// `rows` with their steps.
pub(super) fn with_steps(conn: &mut DbConnection, rows: Vec<RunRow>) -> Result<Vec<Run>, Failure> {
    let ids: Vec<DbUuid> = rows.iter().map(|r| r.id).collect();
    let mut steps = workflow_steps::table
        .filter(workflow_steps::run_id.eq_any(ids))
        .order_by(workflow_steps::run_id.asc())
        .then_order_by(workflow_steps::position.asc())
        .select(StepRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|row| row.into_run(&mut steps))
        .collect()
}

pub(super) fn run_by_id(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: RunId,
) -> Result<Option<Run>, Failure> {
    let rows = workflow_runs::table
        .filter(workflow_runs::id.eq(DbUuid(id.0)))
        .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
        .select(RunRow::as_select())
        .load(conn)?;
    Ok(with_steps(conn, rows)?.pop())
}

pub(super) fn merge_attributes(
    conn: &mut DbConnection,
    environment: EnvironmentId,
    attributes: BTreeMap<String, String>,
) -> Result<(), Failure> {
    if attributes.is_empty() {
        return Ok(());
    }
    let stored: Option<DbJson> = environment_lifecycles::table
        .filter(environment_lifecycles::environment_id.eq(DbUuid(environment.0)))
        .select(environment_lifecycles::attributes)
        .first(conn)
        .optional()?;
    let Some(stored) = stored else { return Ok(()) };
    let mut merged = json_map(&stored);
    merged.extend(attributes);
    diesel::update(environment_lifecycles::table)
        .filter(environment_lifecycles::environment_id.eq(DbUuid(environment.0)))
        .set(environment_lifecycles::attributes.eq(map_json(&merged)))
        .execute(conn)?;
    Ok(())
}

/// Once `run` is over, the environment takes the status it leads to, and `event` is kept.
pub(super) fn conclude(
    conn: &mut DbConnection,
    tenant: TenantId,
    run: &Run,
    event: Option<LifecycleEvent>,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    if let Some(status) = run.environment_status() {
        set_status(conn, tenant, run.environment, None, status, now)?;
        diesel::update(workflow_runs::table)
            .filter(workflow_runs::id.eq(DbUuid(run.id.0)))
            .set((
                workflow_runs::lease_owner.eq(None::<DbUuid>),
                workflow_runs::lease_until.eq(None::<DbTime>),
            ))
            .execute(conn)?;
    }
    if let Some(event) = event {
        append(conn, tenant, &event)?;
    }
    Ok(())
}

pub(super) fn lock_run(
    conn: &mut DbConnection,
    tenant: TenantId,
    run: RunId,
) -> Result<(Option<DbUuid>, Option<DbTime>, String), Failure> {
    let query = workflow_runs::table
        .filter(workflow_runs::id.eq(DbUuid(run.0)))
        .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
        .select((
            workflow_runs::lease_owner,
            workflow_runs::lease_until,
            workflow_runs::status,
        ));
    let found = match conn {
        DbConnection::Pg(pg) => query.for_update().first(pg).optional()?,
        DbConnection::Sqlite(sqlite) => query.first(sqlite).optional()?,
    };
    found.ok_or(StoreError::NotFound.into())
}

pub(super) fn environment_exists(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentId,
) -> Result<(), Failure> {
    find_environment(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
    Ok(())
}
