//! How the ledger writes: a new deployment with its first history row, and a decided
//! transition as one compare-and-set with its history row and the latest-deployment table.

use super::rows::{DeploymentRow, HistoryRow};
use super::statements::{
    CompareAndSet, GuardedInsert, TransitionWrite, UpsertLatest, RECOMPUTE_LATEST,
};
use crate::infra::connection::{natively, DbConnection};
use crate::infra::error::Failure;
use crate::infra::schema::{components, deployment_history, deployments, environments, releases};
use crate::infra::types::{sql, DbTime, DbUuid};
use crate::infra::versioned::{unchanged, Versioned};
use crate::repositories::events::{self, EventBinds};
use diesel::prelude::*;
use terrane_domain::{Deployment, DeploymentStatus, HistoryEntry, NewEvent};
use terrane_ports::{StoreError, Transition};

/// Checks what a new deployment points at: its environment at `environment_version`, its
/// component and its release; the first that is not there is named.
fn check_references(
    conn: &mut DbConnection,
    d: &Deployment,
    environment_version: i64,
) -> Result<(), Failure> {
    let tenant = DbUuid(d.tenant.0);
    // One round trip: the environment's version, and whether the component exists.
    let component = components::table
        .filter(components::id.eq(DbUuid(d.component_id.0)))
        .filter(components::tenant_id.eq(tenant));
    let environment: Option<(i64, bool)> = environments::table
        .filter(environments::id.eq(DbUuid(d.environment_id.0)))
        .filter(environments::tenant_id.eq(tenant))
        .select((environments::version, diesel::dsl::exists(component)))
        .first(conn)
        .optional()?;
    let Some((version, component_exists)) = environment else {
        return Err(StoreError::MissingReference("environmentId".into()).into());
    };
    if version != environment_version {
        return Err(StoreError::VersionMismatch { current: version }.into());
    }
    if !component_exists {
        return Err(StoreError::MissingReference("componentId".into()).into());
    }
    if let Some(release) = d.release_id {
        let found: i64 = releases::table
            .filter(releases::id.eq(DbUuid(release.0)))
            .filter(releases::tenant_id.eq(tenant))
            .count()
            .get_result(conn)?;
        if found == 0 {
            return Err(StoreError::MissingReference("releaseId".into()).into());
        }
    }
    Ok(())
}

/// Inserts a new deployment with its first history row, while its environment is at
/// `environment_version` and what it points at exists. On PostgreSQL this is one statement,
/// prepared once per connection (see [`GuardedInsert`]); the references are explained only
/// when it wrote nothing. On SQLite it is the check and two inserts, in the caller's
/// transaction.
pub(super) fn insert_deployment(
    conn: &mut DbConnection,
    d: &Deployment,
    environment_version: i64,
    actor: &str,
) -> Result<(), Failure> {
    let event = NewEvent::created(d, d.created_at);
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
                environment_version,
                event: EventBinds::new(actor, event),
            };
            if insert.execute(pg)? == 0 {
                check_references(conn, d, environment_version)?;
                // Everything checks out now: something changed while the insert ran.
                return Err(StoreError::VersionMismatch {
                    current: environment_version,
                }
                .into());
            }
        }
        DbConnection::Sqlite(_) => {
            check_references(conn, d, environment_version)?;
            diesel::insert_into(deployments::table)
                .values(DeploymentRow::from(d))
                .execute(conn)?;
            diesel::insert_into(deployment_history::table)
                .values(history)
                .execute(conn)?;
            events::record(conn, actor, &event)?;
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
            let succeeded_at = next.succeeded_at().ok_or_else(|| {
                StoreError::Internal(format!(
                    "deployment {} succeeded without a finish",
                    next.id.0
                ))
            })?;
            let upsert = UpsertLatest {
                row: DeploymentRow::from(next),
                deployed_at: DbTime(succeeded_at),
            };
            natively!(conn, c => upsert.execute(c))?;
        }
        (DeploymentStatus::Succeeded, _) => {
            use crate::infra::schema::latest_deployments as latest;
            let removed = diesel::delete(latest::table)
                .filter(latest::tenant_id.eq(tenant))
                .filter(latest::component_id.eq(component))
                .filter(latest::environment_id.eq(environment))
                .filter(latest::deployment_id.eq(DbUuid(next.id.0)))
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

/// Writes a decided transition as one compare-and-set on the deployment's version and status
/// (and the environment's version, when the decision read the gates), with its history row
/// and the latest-deployment table: on PostgreSQL as one statement (see [`TransitionWrite`]),
/// except when leaving succeeded, which puts back the deployment before it; otherwise as
/// several, in a transaction (a savepoint inside the caller's).
///
/// # Errors
/// [`StoreError::NotFound`] or [`StoreError::VersionMismatch`] when the compare-and-set
/// missed.
pub(super) fn write_transition(
    conn: &mut DbConnection,
    transition: &Transition,
    actor: &str,
) -> Result<(), Failure> {
    let current = &transition.current;
    let written = match conn {
        DbConnection::Pg(pg) if current.status != DeploymentStatus::Succeeded => {
            TransitionWrite::new(transition, actor).execute(pg)?
        }
        _ => conn.transaction(|conn| write_steps(conn, transition, actor))?,
    };
    if written > 0 {
        return Ok(());
    }
    Err(unchanged(
        conn,
        Versioned::Deployments,
        current.tenant,
        current.id.0,
    ))
}

/// [`write_transition`] one statement at a time; 0 when the compare-and-set missed.
fn write_steps(
    conn: &mut DbConnection,
    transition: &Transition,
    actor: &str,
) -> Result<usize, Failure> {
    let Transition {
        current,
        next,
        entry,
        ..
    } = transition;
    let updated = natively!(conn, c => CompareAndSet::new(transition).execute(c))?;
    if updated == 0 {
        return Ok(0);
    }
    diesel::insert_into(deployment_history::table)
        .values(HistoryRow::new(current.tenant, current.id, entry))
        .execute(conn)?;
    maintain_latest(conn, current, next)?;
    events::record(
        conn,
        actor,
        &NewEvent::deployment_moved(next, current.status, entry.at),
    )?;
    Ok(updated)
}
