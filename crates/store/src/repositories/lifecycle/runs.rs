//! The `LifecycleRepository` port: environments born from templates, their runs (claimed by
//! replicas under leases), their status and their history.
//!
//! A run is claimed like the requests' background work (see [`crate::requests`]): a system
//! transaction selects claimable runs `FOR UPDATE SKIP LOCKED` on PostgreSQL (SQLite's
//! write transaction already excludes every other writer) and writes the claiming replica's
//! lease into them. Every later write of the run is a compare-and-set on that lease's owner,
//! so a replica whose lease another replica took over can no longer write, and no step it
//! would start is ever recorded as started twice.

use super::rows::{json_map, map_json, EventRow, RunRow};
use super::tables::{
    environment_lifecycle_events, environment_lifecycles, environment_templates, workflow_runs,
};
use super::writes::{
    append, conclude, environment_exists, insert_run, lock_run, merge_attributes, run_by_id,
    set_status, with_steps, write_run,
};
use crate::infra::connection::DbConnection;
use crate::infra::fixed::condition;
use crate::infra::schema::environments;
use crate::infra::tx::Access;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use crate::repositories::environments::EnvironmentRow;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::{BTreeMap, HashMap};
use terrane_domain::time::truncate;
use terrane_domain::{
    Environment, EnvironmentId, EnvironmentLifecycle, EnvironmentStatus, LifecycleEvent,
    NewEnvironment, Page, Run, RunId, RunStatus, TemplateId, TenantId,
};
use terrane_ports::{
    Birth, ClaimedRun, Lease, LifecycleRepository, RunSignal, StatusChange, StoreError,
};

/// Runs not over yet, by status, as `workflow_runs_claimable_idx` has it.
const ACTIVE: &str = "workflow_runs.status IN ('requested', 'running')";

#[async_trait]
impl LifecycleRepository for Store {
    async fn create_environment(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        new: NewEnvironment,
        birth: Birth,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let requested = new.order_index;
            let target_groups = new.target_groups.clone();
            // The order index is claimed by the insert (see `environments::insert`).
            let mut env = new.into_environment(
                id,
                terrane_domain::EnvironmentNumber(1),
                tenant,
                requested.unwrap_or(0),
                now,
            );
            env.expires_at = birth.expires_at.map(truncate);
            if let Some((template, _)) = &birth.template {
                super::templates::lock(conn, tenant, *template)?;
            }
            crate::repositories::environments::insert(conn, &mut env, requested, &actor)?;
            crate::repositories::target_groups::apply_assignments(
                conn,
                tenant,
                id,
                terrane_domain::AssignmentMode::Add,
                &target_groups,
                now,
            )?;
            if let Some((template, variables)) = &birth.template {
                diesel::insert_into(environment_lifecycles::table)
                    .values((
                        environment_lifecycles::environment_id.eq(DbUuid(id.0)),
                        environment_lifecycles::tenant_id.eq(DbUuid(tenant.0)),
                        environment_lifecycles::template_id.eq(DbUuid(template.0)),
                        environment_lifecycles::variables.eq(map_json(variables)),
                        environment_lifecycles::attributes.eq(map_json(&BTreeMap::new())),
                    ))
                    .execute(conn)?;
            }
            if let Some(run) = &birth.run {
                insert_run(conn, run)?;
            }
            append(conn, tenant, &birth.event)?;
            Ok(env)
        })
        .await
    }

    async fn lifecycles(
        &self,
        tenant: TenantId,
        ids: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, EnvironmentLifecycle>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let rows: Vec<(DbUuid, DbUuid, String, String, DbJson, DbJson)> =
                environment_lifecycles::table
                    .inner_join(environment_templates::table)
                    .filter(environment_lifecycles::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(
                        environment_lifecycles::environment_id
                            .eq_any(ids.iter().map(|id| DbUuid(id.0)).collect::<Vec<_>>()),
                    )
                    .select((
                        environment_lifecycles::environment_id,
                        environment_lifecycles::template_id,
                        environment_templates::name,
                        environment_templates::template_version,
                        environment_lifecycles::variables,
                        environment_lifecycles::attributes,
                    ))
                    .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(env, template, name, version, variables, attributes)| {
                    let environment = EnvironmentId(env.0);
                    (
                        environment,
                        EnvironmentLifecycle {
                            environment,
                            template: TemplateId(template.0),
                            template_name: name,
                            template_version: version,
                            variables: json_map(&variables),
                            attributes: json_map(&attributes),
                        },
                    )
                })
                .collect())
        })
        .await
    }

    async fn runs(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<Run>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            environment_exists(conn, tenant, environment)?;
            let of_env = || {
                workflow_runs::table
                    .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(workflow_runs::environment_id.eq(DbUuid(environment.0)))
            };
            let total: i64 = of_env().count().get_result(conn)?;
            let rows = of_env()
                .order_by(workflow_runs::requested_at.desc())
                .then_order_by(workflow_runs::id.desc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(RunRow::as_select())
                .load(conn)?;
            Ok((with_steps(conn, rows)?, total.unsigned_abs()))
        })
        .await
    }

    async fn run(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        run: RunId,
    ) -> Result<Run, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            run_by_id(conn, tenant, run)?
                .filter(|r| r.environment == environment)
                .ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn active_run(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
    ) -> Result<Option<Run>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let rows = workflow_runs::table
                .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
                .filter(workflow_runs::environment_id.eq(DbUuid(environment.0)))
                .filter(condition(ACTIVE))
                .select(RunRow::as_select())
                .load(conn)?;
            Ok(with_steps(conn, rows)?.pop())
        })
        .await
    }

    async fn change_status(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        change: StatusChange,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let env = set_status(
                conn,
                tenant,
                environment,
                Some(change.expected_version),
                change.status,
                now,
            )?;
            if let Some(run) = &change.run {
                insert_run(conn, run)?;
            }
            append(conn, tenant, &change.event)?;
            Ok(env)
        })
        .await
    }

    async fn save_unclaimed(
        &self,
        tenant: TenantId,
        run: Run,
        event: LifecycleEvent,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let (_, lease_until, status) = lock_run(conn, tenant, run.id)?;
            let held = lease_until.is_some_and(|until| until.0 > now);
            if status != RunStatus::Requested.as_str() || held {
                return Err(
                    StoreError::Conflict("a replica has taken the run meanwhile".into()).into(),
                );
            }
            write_run(conn, &run)?;
            conclude(conn, tenant, &run, Some(event), now)
        })
        .await
    }

    async fn request_cancel(
        &self,
        tenant: TenantId,
        run: RunId,
        event: LifecycleEvent,
    ) -> Result<(), StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let updated = diesel::update(workflow_runs::table)
                .filter(workflow_runs::id.eq(DbUuid(run.0)))
                .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
                .set(workflow_runs::cancel_requested.eq(true))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound.into());
            }
            append(conn, tenant, &event)
        })
        .await
    }

    async fn claim_runs(
        &self,
        lease: Lease,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedRun>, StoreError> {
        let now = truncate(now);
        let lease = Lease {
            owner: lease.owner,
            until: truncate(lease.until),
        };
        self.system_tx(move |conn| {
            let claimable = || {
                workflow_runs::table
                    .filter(condition(ACTIVE))
                    .filter(
                        workflow_runs::lease_until
                            .is_null()
                            .or(workflow_runs::lease_until.lt(DbTime(now))),
                    )
                    .order_by(workflow_runs::requested_at.asc())
                    .then_order_by(workflow_runs::id.asc())
                    .limit(limit.into())
                    .select(workflow_runs::id)
            };
            let ids: Vec<DbUuid> = match conn {
                DbConnection::Pg(pg) => claimable().for_update().skip_locked().load(pg)?,
                DbConnection::Sqlite(sqlite) => claimable().load(sqlite)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            diesel::update(workflow_runs::table)
                .filter(workflow_runs::id.eq_any(ids.clone()))
                .set((
                    workflow_runs::lease_owner.eq(Some(DbUuid(lease.owner))),
                    workflow_runs::lease_until.eq(Some(DbTime(lease.until))),
                ))
                .execute(conn)?;
            let rows = workflow_runs::table
                .filter(workflow_runs::id.eq_any(ids))
                .order_by(workflow_runs::requested_at.asc())
                .select(RunRow::as_select())
                .load(conn)?;
            let env_ids: Vec<DbUuid> = rows.iter().map(|r| r.environment_id).collect();
            let runs = with_steps(conn, rows)?;
            let mut envs: HashMap<EnvironmentId, Environment> = environments::table
                .filter(environments::id.eq_any(env_ids))
                .select(EnvironmentRow::as_select())
                .load(conn)?
                .into_iter()
                .map(|row| Environment::try_from(row).map(|env| (env.id, env)))
                .collect::<Result<_, _>>()?;
            Ok(runs
                .into_iter()
                .filter_map(|run| {
                    envs.remove(&run.environment).map(|environment| ClaimedRun {
                        run,
                        environment,
                        lease,
                    })
                })
                .collect())
        })
        .await
    }

    async fn save_run(
        &self,
        tenant: TenantId,
        run: Run,
        lease: Lease,
        attributes: BTreeMap<String, String>,
        event: Option<LifecycleEvent>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let (owner, _, _) = lock_run(conn, tenant, run.id)?;
            if owner != Some(DbUuid(lease.owner)) {
                return Err(StoreError::Conflict(
                    "the run's lease is held by another replica".into(),
                )
                .into());
            }
            write_run(conn, &run)?;
            diesel::update(workflow_runs::table)
                .filter(workflow_runs::id.eq(DbUuid(run.id.0)))
                .set(workflow_runs::lease_until.eq(Some(DbTime(truncate(lease.until)))))
                .execute(conn)?;
            merge_attributes(conn, run.environment, attributes)?;
            conclude(conn, tenant, &run, event, now)
        })
        .await
    }

    async fn renew(
        &self,
        tenant: TenantId,
        run: RunId,
        lease: Lease,
    ) -> Result<RunSignal, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let renewed = diesel::update(workflow_runs::table)
                .filter(workflow_runs::id.eq(DbUuid(run.0)))
                .filter(workflow_runs::tenant_id.eq(DbUuid(tenant.0)))
                .filter(workflow_runs::lease_owner.eq(DbUuid(lease.owner)))
                .filter(condition(ACTIVE))
                .set(workflow_runs::lease_until.eq(Some(DbTime(truncate(lease.until)))))
                .execute(conn)?;
            if renewed == 0 {
                return Ok(RunSignal::Lost);
            }
            let cancel: bool = workflow_runs::table
                .filter(workflow_runs::id.eq(DbUuid(run.0)))
                .select(workflow_runs::cancel_requested)
                .first(conn)?;
            Ok(if cancel {
                RunSignal::Cancel
            } else {
                RunSignal::Continue
            })
        })
        .await
    }

    async fn expired(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Environment>, StoreError> {
        let now = truncate(now);
        self.system_tx(move |conn| {
            environments::table
                .inner_join(
                    environment_lifecycles::table
                        .on(environment_lifecycles::environment_id.eq(environments::id)),
                )
                .filter(environments::expires_at.le(DbTime(now)))
                .filter(environments::status.eq(EnvironmentStatus::Ready.as_str()))
                .order_by(environments::expires_at.asc())
                .limit(limit.into())
                .select(EnvironmentRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Environment::try_from)
                .collect()
        })
        .await
    }

    async fn history(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        page: Page,
    ) -> Result<(Vec<LifecycleEvent>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            environment_exists(conn, tenant, environment)?;
            let of_env = || {
                environment_lifecycle_events::table
                    .filter(environment_lifecycle_events::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(environment_lifecycle_events::environment_id.eq(DbUuid(environment.0)))
            };
            let total: i64 = of_env().count().get_result(conn)?;
            let events = of_env()
                .order_by(environment_lifecycle_events::at.desc())
                .then_order_by(environment_lifecycle_events::id.desc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(EventRow::as_select())
                .load(conn)?
                .into_iter()
                .map(LifecycleEvent::try_from)
                .collect::<Result<_, _>>()?;
            Ok((events, total.unsigned_abs()))
        })
        .await
    }
}
