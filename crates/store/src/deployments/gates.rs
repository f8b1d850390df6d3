//! The gates of starting a deployment: what they look at, read in the unit of work that
//! moves it, or for a decision on a copy, assumed and checked by the write (see [`Assumed`]).

use super::rows::DeploymentRow;
use super::try_write_transition;
use crate::connection::DbConnection;
use crate::environments::EnvironmentRow;
use crate::error::Failure;
use crate::freeze_windows::FreezeWindowRow;
use crate::recent::Recent;
use crate::schema::{deployment_approvals, deployments, environments, freeze_windows};
use crate::types::{DbTime, DbUuid};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use terrane_domain::{
    ComponentId, Deployment, Environment, EnvironmentStatus, FreezeWindow, PromotionEvidence,
    PromotionPolicy, TenantId, UserId,
};
use terrane_ports::{Decide, GateInputs, GateSource, StoreError};
use uuid::Uuid;

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
/// windows active then, see [`find_for_transition`]).
pub(super) fn gate_inputs(conn: &mut DbConnection, found: &Found) -> Result<GateInputs, Failure> {
    inputs_of(
        conn,
        &found.deployment,
        found.environment.clone(),
        found.active_windows.clone(),
    )
}

/// Whether the gates of starting a deployment in `environment` look at more than the
/// environment and its freeze windows: at approvals, or at the environment before it.
fn looks_beyond(environment: &Environment) -> bool {
    environment.required_approvals > 0
        || environment.promotion_policy == PromotionPolicy::Sequential
}

/// The gate inputs of starting `deployment` in `environment` with `active_windows`: the
/// approvals and the promotion evidence are read only when the environment's rules look at
/// them (see [`looks_beyond`]), so for most environments this reads nothing.
fn inputs_of(
    conn: &mut DbConnection,
    deployment: &Deployment,
    environment: Environment,
    active_windows: Vec<FreezeWindow>,
) -> Result<GateInputs, Failure> {
    let tenant = deployment.tenant;
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
pub(super) struct Found {
    pub(super) deployment: Deployment,
    pub(super) environment: Environment,
    /// The environment's freeze windows active at the moment of the decision, by start.
    pub(super) active_windows: Vec<FreezeWindow>,
}

/// What a decision on a copy took its gate inputs to be without reading them: the
/// environment as this process last read it, with no freeze window active at the moment of
/// the decision. Only for an environment whose gates look at nothing else (no approvals
/// required, no promotion order), so these are the whole inputs; the write lands only if
/// both still hold then (see [`Assumed::holds`]), and otherwise the transition is decided
/// again on what is stored.
#[derive(Debug, Clone)]
pub(super) struct Assumed {
    tenant: DbUuid,
    environment: DbUuid,
    environment_version: i64,
    now: DbTime,
}

impl Assumed {
    /// What deciding the gates of starting `deployment` on `environment`, its copy, with no
    /// freeze window active at `now`, assumes; `None` when those gates look beyond it.
    fn of(deployment: &Deployment, environment: &Environment, now: DateTime<Utc>) -> Option<Self> {
        if looks_beyond(environment) {
            return None;
        }
        Some(Assumed {
            tenant: DbUuid(deployment.tenant.0),
            environment: DbUuid(environment.id.0),
            environment_version: environment.version,
            now: DbTime(now),
        })
    }

    /// True while the environment is at the version the decision saw and none of its freeze
    /// windows is active at the moment of the decision.
    pub(super) fn holds(&self) -> assumption_holds {
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
pub(super) fn assumption_holds(
    tenant: DbUuid,
    environment: DbUuid,
    version: i64,
    now: DbTime,
) -> _ {
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
pub(super) struct Gates<'a> {
    pub(super) conn: &'a mut DbConnection,
    pub(super) found: Option<&'a Found>,
    /// The deployment decided on.
    pub(super) deployment: &'a Deployment,
    pub(super) now: DateTime<Utc>,
    pub(super) environments: &'a Recent<Environment>,
    /// What the inputs handed out were assumed to be, if they were.
    pub(super) assumed: Option<Assumed>,
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
                    .and_then(|env| Some((Assumed::of(self.deployment, &env, self.now)?, env)));
                if let Some((assumed, environment)) = known {
                    self.assumed = Some(assumed);
                    // Reads nothing: the environment's gates look no further.
                    return inputs_of(self.conn, self.deployment, environment, Vec::new())
                        .map_err(Failure::into_store_error);
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
pub(super) fn move_copy(
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
pub(super) fn find_for_transition(
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
