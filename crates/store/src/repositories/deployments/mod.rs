//! The deployment ledger (`deployments`, `deployment_history`, `deployment_approvals`) and
//! the table of latest succeeded deployments it keeps up to date: the
//! `DeploymentRepository` port.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::fixed::condition;
use crate::infra::schema::{
    deployment_approvals, deployment_counts, deployment_history, deployments, environments,
};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::infra::versioned::{lock_row, Versioned};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use terrane_domain::{
    ComponentId, Deployment, DeploymentId, DeploymentStatus, Earlier, EnvironmentId, HistoryEntry,
    NewEvent, Page, TenantId, UserId,
};
use terrane_ports::{
    Approval, Consistency, DeploymentFilter, DeploymentRepository, EnvironmentState, InProgress,
    StoreError, Transition, TransitionContext,
};

mod reads;
mod rows;
mod statements;
mod writes;

use rows::{ApprovalRow, DeploymentRow, HistoryRow};
use writes::{insert_deployment, write_transition};

/// The tenant's deployment `id`, if it exists.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: DeploymentId,
) -> Result<Option<Deployment>, Failure> {
    deployments::table
        .filter(deployments::id.eq(DbUuid(id.0)))
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
        query = query.filter(deployments::release_id.eq(DbUuid(release.0)));
    }
    query
}

#[async_trait]
impl DeploymentRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        new: Vec<Deployment>,
        environment_version: i64,
    ) -> Result<Vec<Deployment>, StoreError> {
        if new.iter().any(|d| d.tenant != tenant) {
            return Err(StoreError::Internal(
                "a deployment of another tenant was given to record".into(),
            ));
        }
        // One deployment is one statement that writes (see `insert_deployment`); more need
        // a transaction around them.
        let access = if new.len() == 1 {
            Access::Statements
        } else {
            Access::Write
        };
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, access, move |conn| {
            // Each insert takes the lock of its row of `deployment_counts`; taking them in
            // key order keeps two transactions recording the same components from
            // deadlocking.
            let mut ordered: Vec<&Deployment> = new.iter().collect();
            ordered.sort_by_key(|d| (d.environment_id.0, d.component_id.0));
            for d in ordered {
                insert_deployment(conn, d, environment_version, &actor)?;
            }
            Ok(new)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: DeploymentId) -> Result<Deployment, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
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

    async fn environment_state(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
        _consistency: Consistency,
    ) -> Result<EnvironmentState, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            reads::environment_state(conn, tenant, id, now)
        })
        .await
    }

    async fn load_for_transition(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        now: DateTime<Utc>,
        _consistency: Consistency,
    ) -> Result<TransitionContext, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            reads::transition_context(conn, tenant, id, now)
        })
        .await
    }

    async fn approvers(
        &self,
        tenant: TenantId,
        id: DeploymentId,
        round: u32,
    ) -> Result<Vec<UserId>, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            reads::approvers(conn, tenant, id, round)
        })
        .await
    }

    async fn earlier_environments(
        &self,
        tenant: TenantId,
        order_index: i32,
        component: ComponentId,
        version: String,
    ) -> Result<Vec<Earlier>, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            reads::earlier_environments(conn, tenant, order_index, component, &version)
        })
        .await
    }

    async fn save_transition(
        &self,
        tenant: TenantId,
        transition: Transition,
    ) -> Result<(), StoreError> {
        // The rows written are the transition's: they must be the tenant's.
        if transition.current.tenant != tenant || transition.next.tenant != tenant {
            return Err(StoreError::NotFound);
        }
        // One statement that writes on PostgreSQL (see `write_transition`): no transaction
        // around it.
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Statements, move |conn| {
            write_transition(conn, &transition, &actor)
        })
        .await
    }

    async fn in_progress(
        &self,
        after: Option<DeploymentId>,
        limit: u32,
    ) -> Result<Vec<InProgress>, StoreError> {
        self.system_read(move |conn| {
            let mut query = deployments::table
                .inner_join(environments::table)
                // As `deployments_in_progress_idx` has it.
                .filter(condition("deployments.status = 'in_progress'"))
                .into_boxed();
            if let Some(after) = after {
                query = query.filter(deployments::id.gt(DbUuid(after.0)));
            }
            query
                .order_by(deployments::id.asc())
                .limit(i64::from(limit))
                .select((DeploymentRow::as_select(), environments::deployment_timeout))
                .load::<(DeploymentRow, i64)>(conn)?
                .into_iter()
                .map(|(row, timeout)| {
                    Ok(InProgress {
                        deployment: Deployment::try_from(row)?,
                        timeout_seconds: u32::try_from(timeout).unwrap_or(0),
                    })
                })
                .collect()
        })
        .await
    }

    async fn history(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<HistoryEntry>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, id)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            deployment_history::table
                .filter(deployment_history::deployment_id.eq(DbUuid(id.0)))
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
        id: DeploymentId,
        approver: UserId,
        comment: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Approval, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // A concurrent transition waits, so an approval never lands in a round that
            // has just ended.
            lock_row(conn, Versioned::Deployments, tenant, id.0)?;
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
                deployment_id: DbUuid(id.0),
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
            let approval = row.into_approval();
            crate::repositories::events::record(
                conn,
                &actor,
                &NewEvent::deployment_approved(
                    &deployment,
                    approval.approver,
                    approval.round,
                    approval.comment.as_deref(),
                    approval.created_at,
                ),
            )?;
            Ok(approval)
        })
        .await
    }

    async fn approvals(
        &self,
        tenant: TenantId,
        id: DeploymentId,
    ) -> Result<Vec<Approval>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, id)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            Ok(deployment_approvals::table
                .filter(deployment_approvals::deployment_id.eq(DbUuid(id.0)))
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
}
