//! The `DeploymentViews` port: read models over `latest_deployments`, which the ledger keeps
//! at one row per component and environment. Nothing here reads `deployments`, so the cost of
//! a view does not grow with the ledger.

use crate::infra::error::Failure;
use crate::infra::schema::{components, environments, latest_deployments, releases, targets};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::repositories::environments::EnvironmentRow;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;
use terrane_domain::{
    ComponentId, Environment, EnvironmentId, LedgerDeployment, RunningVersion, TargetId, TenantId,
};
use terrane_ports::{
    CurrentRelease, DeploymentViews, LatestDeployment, MatrixCell, MatrixRow, Sticker,
    StickerComponent, StoreError,
};

/// The tenant's environments a view shows, in promotion order (then by name): those that take
/// deployments, as [`Environment::takes_deployments`] decides.
fn shown_environments(
    conn: &mut crate::infra::connection::DbConnection,
    tenant: TenantId,
) -> Result<Vec<(DbUuid, String)>, Failure> {
    let rows: Vec<EnvironmentRow> = environments::table
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .order_by(environments::order_index.asc())
        .then_order_by(environments::name.asc())
        .select(EnvironmentRow::as_select())
        .load(conn)?;
    let mut shown = Vec::with_capacity(rows.len());
    for row in rows {
        let environment = Environment::try_from(row)?;
        if environment.takes_deployments().is_ok() {
            shown.push((
                DbUuid(environment.id.0),
                environment.name.as_str().to_owned(),
            ));
        }
    }
    Ok(shown)
}

/// A latest-deployment row joined to its environment's name.
type LatestRow = (
    DbUuid,
    DbUuid,
    DbUuid,
    String,
    Option<DbUuid>,
    String,
    Option<String>,
    String,
    DbTime,
);

fn latest_deployment(row: LatestRow) -> LatestDeployment {
    let (
        deployment,
        component,
        environment,
        environment_name,
        release,
        version,
        digest,
        deployed_by,
        deployed_at,
    ) = row;
    LatestDeployment {
        deployment_id: deployment.0,
        component_id: ComponentId(component.0),
        environment_id: EnvironmentId(environment.0),
        environment_name,
        release_id: release.map(|r| r.0),
        version,
        digest,
        deployed_by,
        deployed_at: deployed_at.0,
    }
}

/// The current release of each environment of `ids`: of the latest-deployment rows there
/// that belong to a release, the one that succeeded last.
fn current_releases_of(
    conn: &mut crate::infra::connection::DbConnection,
    tenant: TenantId,
    ids: Vec<DbUuid>,
) -> Result<HashMap<EnvironmentId, CurrentRelease>, Failure> {
    // At most one row per component and environment; newest first, so the first row seen
    // for an environment is its current release.
    let rows: Vec<(DbUuid, DbUuid, String, DbTime)> = latest_deployments::table
        .inner_join(releases::table.on(releases::id.nullable().eq(latest_deployments::release_id)))
        .filter(latest_deployments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(latest_deployments::environment_id.eq_any(ids))
        .order_by(latest_deployments::deployed_at.desc())
        .then_order_by(releases::id.desc())
        .select((
            latest_deployments::environment_id,
            releases::id,
            releases::name,
            latest_deployments::deployed_at,
        ))
        .load(conn)?;
    let mut found = HashMap::new();
    for (environment, release, name, deployed_at) in rows {
        found
            .entry(EnvironmentId(environment.0))
            .or_insert(CurrentRelease {
                id: release.0,
                name,
                deployed_at: deployed_at.0,
            });
    }
    Ok(found)
}

/// A cell of the matrix: component, environment, version, time of success.
pub(crate) type Cell = (DbUuid, DbUuid, String, DbTime);

/// The matrix of `cells`: every component of the tenant by name, with its cells in the
/// environments shown, in their order. Plain scans joined here rather than one join sorted
/// by the database: the names are read once each instead of once per cell.
fn matrix_of(
    conn: &mut crate::infra::connection::DbConnection,
    tenant: TenantId,
    cells: Vec<Cell>,
) -> Result<Vec<MatrixRow>, Failure> {
    let listed: Vec<(DbUuid, String)> = components::table
        .filter(components::tenant_id.eq(DbUuid(tenant.0)))
        .order_by(components::name.asc())
        .then_order_by(components::id.asc())
        .select((components::id, components::name))
        .load(conn)?;
    let shown = shown_environments(conn, tenant)?;
    let row_of: HashMap<uuid::Uuid, usize> = listed
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.0, i))
        .collect();
    let place_of: HashMap<uuid::Uuid, usize> = shown
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.0, i))
        .collect();
    // Per component, its cells by the environment's place in the order; a cell of an
    // environment not shown is dropped.
    let mut placed: Vec<Vec<(usize, String, DbTime)>> = vec![Vec::new(); listed.len()];
    for (component, environment, version, deployed_at) in cells {
        if let (Some(&row), Some(&place)) = (row_of.get(&component.0), place_of.get(&environment.0))
        {
            placed[row].push((place, version, deployed_at));
        }
    }
    Ok(listed
        .into_iter()
        .zip(placed)
        .map(|((component, name), mut row)| {
            row.sort_unstable_by_key(|cell| cell.0);
            MatrixRow {
                component_id: ComponentId(component.0),
                component_name: name,
                environments: row
                    .into_iter()
                    .map(|(place, version, deployed_at)| {
                        let (environment, environment_name) = &shown[place];
                        MatrixCell {
                            environment_id: EnvironmentId(environment.0),
                            environment_name: environment_name.clone(),
                            version,
                            deployed_at: deployed_at.0,
                        }
                    })
                    .collect(),
            }
        })
        .collect())
}

#[async_trait]
impl DeploymentViews for Store {
    async fn matrix(&self, tenant: TenantId) -> Result<Vec<MatrixRow>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let cells: Vec<Cell> = latest_deployments::table
                .filter(latest_deployments::tenant_id.eq(DbUuid(tenant.0)))
                .select((
                    latest_deployments::component_id,
                    latest_deployments::environment_id,
                    latest_deployments::version,
                    latest_deployments::deployed_at,
                ))
                .load(conn)?;
            matrix_of(conn, tenant, cells)
        })
        .await
    }

    async fn matrix_as_of(
        &self,
        tenant: TenantId,
        at: DateTime<Utc>,
    ) -> Result<Vec<MatrixRow>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let cells = crate::repositories::timeline::cells_as_of(conn, tenant, at)?;
            matrix_of(conn, tenant, cells)
        })
        .await
    }

    async fn running_versions(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
    ) -> Result<Vec<RunningVersion>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            crate::repositories::timeline::running_versions(conn, tenant, environment)
        })
        .await
    }

    async fn ledger_between(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LedgerDeployment>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            crate::repositories::timeline::ledger_between(conn, tenant, environment, from, to)
        })
        .await
    }

    async fn latest(
        &self,
        tenant: TenantId,
        component: ComponentId,
    ) -> Result<Vec<LatestDeployment>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let exists = components::table
                .filter(components::id.eq(DbUuid(component.0)))
                .filter(components::tenant_id.eq(DbUuid(tenant.0)))
                .select(components::id)
                .first::<DbUuid>(conn)
                .optional()?;
            if exists.is_none() {
                return Err(StoreError::NotFound.into());
            }
            let shown: Vec<DbUuid> = shown_environments(conn, tenant)?
                .into_iter()
                .map(|(id, _)| id)
                .collect();
            let rows: Vec<LatestRow> = latest_deployments::table
                .inner_join(
                    environments::table.on(environments::id.eq(latest_deployments::environment_id)),
                )
                .filter(latest_deployments::tenant_id.eq(DbUuid(tenant.0)))
                .filter(latest_deployments::component_id.eq(DbUuid(component.0)))
                .filter(latest_deployments::environment_id.eq_any(shown))
                .order_by(environments::order_index.asc())
                .then_order_by(environments::name.asc())
                .select((
                    latest_deployments::deployment_id,
                    latest_deployments::component_id,
                    latest_deployments::environment_id,
                    environments::name,
                    latest_deployments::release_id,
                    latest_deployments::version,
                    latest_deployments::digest,
                    latest_deployments::deployed_by,
                    latest_deployments::deployed_at,
                ))
                .load(conn)?;
            Ok(rows.into_iter().map(latest_deployment).collect())
        })
        .await
    }

    async fn current_releases(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, CurrentRelease>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let ids = environments.iter().map(|e| DbUuid(e.0)).collect();
            current_releases_of(conn, tenant, ids)
        })
        .await
    }

    async fn sticker(
        &self,
        tenant: TenantId,
        target: TargetId,
    ) -> Result<Option<Sticker>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let environment: DbUuid = targets::table
                .filter(targets::id.eq(DbUuid(target.0)))
                .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
                .select(targets::environment_id)
                .first(conn)
                .optional()?
                .ok_or(Failure::Store(StoreError::NotFound))?;
            let release = current_releases_of(conn, tenant, vec![environment])?
                .remove(&EnvironmentId(environment.0));
            let mut query = latest_deployments::table
                .inner_join(
                    components::table.on(components::id.eq(latest_deployments::component_id)),
                )
                .filter(latest_deployments::tenant_id.eq(DbUuid(tenant.0)))
                .filter(latest_deployments::environment_id.eq(environment))
                .into_boxed();
            if let Some(release) = &release {
                query = query.filter(latest_deployments::release_id.eq(DbUuid(release.id)));
            }
            let rows: Vec<(DbUuid, String, Option<String>, String, DbTime)> = query
                .order_by(components::name.asc())
                .then_order_by(components::id.asc())
                .select((
                    components::id,
                    components::name,
                    latest_deployments::digest,
                    latest_deployments::deployed_by,
                    latest_deployments::deployed_at,
                ))
                .load(conn)?;
            let Some(last) = rows.iter().max_by_key(|row| row.4 .0) else {
                return Ok(None);
            };
            let (deployed_at, deployed_by) = (last.4 .0, last.3.clone());
            Ok(Some(Sticker {
                release: release.map(|r| (r.id, r.name)),
                components: rows
                    .into_iter()
                    .map(|(id, name, digest, _, _)| StickerComponent {
                        component_id: ComponentId(id.0),
                        component_name: name,
                        digest,
                    })
                    .collect(),
                deployed_at,
                deployed_by,
            }))
        })
        .await
    }
}
