//! What deciding about a deployment reads: the deployment with its environment and the
//! environment's freeze windows not yet over (one query), and, for the gates that look
//! further, its approvals and the environments before its environment.

use super::rows::DeploymentRow;
use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{deployment_approvals, deployments, environments, freeze_windows};
use crate::infra::types::{DbTime, DbUuid};
use crate::repositories::environments::EnvironmentRow;
use crate::repositories::freeze_windows::FreezeWindowRow;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use terrane_domain::{
    ComponentId, Deployment, DeploymentId, Earlier, Environment, EnvironmentId, FreezeWindow,
    TenantId, UserId,
};
use terrane_ports::{EnvironmentState, StoreError, TransitionContext};

/// The rows of an environment with one of its windows not over (none: `None`), as a left
/// join reads them, folded into its state.
fn fold_state<R>(
    rows: Vec<(R, EnvironmentRow, Option<FreezeWindowRow>)>,
) -> Result<Option<(R, EnvironmentState)>, Failure> {
    let mut rows = rows.into_iter();
    let Some((first, environment, window)) = rows.next() else {
        return Ok(None);
    };
    let windows = window
        .into_iter()
        .chain(rows.filter_map(|(_, _, window)| window))
        .map(FreezeWindow::try_from)
        .collect::<Result<_, _>>()?;
    let state = EnvironmentState {
        environment: Environment::try_from(environment)?,
        windows,
        stored: true,
    };
    Ok(Some((first, state)))
}

/// The tenant's deployment `id` with its environment and the environment's freeze windows
/// that have not ended at `now`, in one query (one row per such window, usually one in all).
pub(super) fn transition_context(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: DeploymentId,
    now: DateTime<Utc>,
) -> Result<TransitionContext, Failure> {
    let not_over = freeze_windows::environment_id
        .eq(environments::id)
        .and(freeze_windows::tenant_id.eq(deployments::tenant_id))
        .and(freeze_windows::ends_at.gt(DbTime(now)));
    let rows = deployments::table
        .inner_join(environments::table)
        .left_join(freeze_windows::table.on(not_over))
        .filter(deployments::id.eq(DbUuid(id.0)))
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .order_by(freeze_windows::starts_at.asc())
        .then_order_by(freeze_windows::id.asc())
        .select((
            DeploymentRow::as_select(),
            EnvironmentRow::as_select(),
            Option::<FreezeWindowRow>::as_select(),
        ))
        .load::<(DeploymentRow, EnvironmentRow, Option<FreezeWindowRow>)>(conn)?;
    let (deployment, environment) = fold_state(rows)?.ok_or(StoreError::NotFound)?;
    Ok(TransitionContext {
        deployment: Deployment::try_from(deployment)?,
        environment,
        stored: true,
    })
}

/// The tenant's environment `id` with its freeze windows that have not ended at `now`, in
/// one query.
pub(super) fn environment_state(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentId,
    now: DateTime<Utc>,
) -> Result<EnvironmentState, Failure> {
    let not_over = freeze_windows::environment_id
        .eq(environments::id)
        .and(freeze_windows::tenant_id.eq(environments::tenant_id))
        .and(freeze_windows::ends_at.gt(DbTime(now)));
    let rows = environments::table
        .left_join(freeze_windows::table.on(not_over))
        .filter(environments::id.eq(DbUuid(id.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .order_by(freeze_windows::starts_at.asc())
        .then_order_by(freeze_windows::id.asc())
        .select((
            environments::id,
            EnvironmentRow::as_select(),
            Option::<FreezeWindowRow>::as_select(),
        ))
        .load::<(DbUuid, EnvironmentRow, Option<FreezeWindowRow>)>(conn)?;
    let (_, state) = fold_state(rows)?.ok_or(StoreError::NotFound)?;
    Ok(state)
}

/// Who approved the tenant's deployment `id` in approval round `round`, by id.
pub(super) fn approvers(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: DeploymentId,
    round: u32,
) -> Result<Vec<UserId>, Failure> {
    Ok(deployment_approvals::table
        .filter(deployment_approvals::deployment_id.eq(DbUuid(id.0)))
        .filter(deployment_approvals::tenant_id.eq(DbUuid(tenant.0)))
        .filter(deployment_approvals::approval_round.eq(i32::try_from(round).unwrap_or(i32::MAX)))
        .order_by(deployment_approvals::approver.asc())
        .select(deployment_approvals::approver)
        .load::<DbUuid>(conn)?
        .into_iter()
        .map(|a| UserId(a.0))
        .collect())
}

/// The tenant's environments ordered below `order_index`, each with whether `version` of
/// `component` succeeded there, in one query.
pub(super) fn earlier_environments(
    conn: &mut DbConnection,
    tenant: TenantId,
    order_index: i32,
    component: ComponentId,
    version: &str,
) -> Result<Vec<Earlier>, Failure> {
    let succeeded = deployments::table
        .filter(deployments::tenant_id.eq(environments::tenant_id))
        .filter(deployments::environment_id.eq(environments::id))
        .filter(deployments::component_id.eq(DbUuid(component.0)))
        .filter(deployments::version.eq(version.to_owned()))
        // A literal, so that the planner can use the index of succeeded deployments.
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "deployments.status = 'succeeded'",
        ));
    environments::table
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environments::order_index.lt(order_index))
        .select((EnvironmentRow::as_select(), diesel::dsl::exists(succeeded)))
        .load::<(EnvironmentRow, bool)>(conn)?
        .into_iter()
        .map(|(row, succeeded)| {
            Ok(Earlier {
                environment: Environment::try_from(row)?,
                succeeded,
            })
        })
        .collect()
}
