//! The `releases` and `release_components` tables and the `ReleaseRepository` port.

use crate::infra::connection::DbConnection;
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::schema::{components, release_components, releases};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use diesel::prelude::*;
use std::collections::HashMap;
use terrane_domain::{
    ComponentId, Digest, Page, Release, ReleaseComponent, ReleaseId, TenantId, UserId, Version,
};
use terrane_ports::{ReleaseRepository, StoreError};
use uuid::Uuid;

/// One row of `releases`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = releases)]
struct ReleaseRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    created_by: DbUuid,
    created_at: DbTime,
}

/// One row of `release_components`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = release_components)]
struct ReleaseComponentRow {
    release_id: DbUuid,
    tenant_id: DbUuid,
    component_id: DbUuid,
    version: String,
    digest: Option<String>,
}

impl ReleaseComponentRow {
    fn into_component(self) -> Result<ReleaseComponent, Failure> {
        let corrupt = |why: String| {
            Failure::Store(StoreError::Internal(format!(
                "release {} has an invalid component stored: {why}",
                self.release_id.0
            )))
        };
        Ok(ReleaseComponent {
            component_id: ComponentId(self.component_id.0),
            version: Version::parse(&self.version).map_err(|e| corrupt(e.message))?,
            digest: self
                .digest
                .as_deref()
                .map(|d| Digest::parse(d, "digest"))
                .transpose()
                .map_err(|e| corrupt(e.message))?,
        })
    }
}

/// The releases of `rows` with their components, loaded in one query.
fn with_components(
    conn: &mut DbConnection,
    tenant: TenantId,
    rows: Vec<ReleaseRow>,
) -> Result<Vec<Release>, Failure> {
    let ids: Vec<DbUuid> = rows.iter().map(|r| r.id).collect();
    let mut parts: HashMap<Uuid, Vec<ReleaseComponent>> = HashMap::new();
    let loaded = release_components::table
        .filter(release_components::tenant_id.eq(DbUuid(tenant.0)))
        .filter(release_components::release_id.eq_any(ids))
        .order_by(release_components::release_id.asc())
        .then_order_by(release_components::component_id.asc())
        .select(ReleaseComponentRow::as_select())
        .load(conn)?;
    for row in loaded {
        let release = row.release_id.0;
        parts
            .entry(release)
            .or_default()
            .push(row.into_component()?);
    }
    Ok(rows
        .into_iter()
        .map(|row| Release {
            id: ReleaseId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            name: row.name,
            components: parts.remove(&row.id.0).unwrap_or_default(),
            created_by: UserId(row.created_by.0),
            created_at: row.created_at.0,
        })
        .collect())
}

#[async_trait]
impl ReleaseRepository for Store {
    async fn create(&self, tenant: TenantId, release: Release) -> Result<Release, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            diesel::insert_into(releases::table)
                .values(ReleaseRow {
                    id: DbUuid(release.id.0),
                    tenant_id: DbUuid(tenant.0),
                    name: release.name.clone(),
                    created_by: DbUuid(release.created_by.0),
                    created_at: DbTime(release.created_at),
                })
                .execute(conn)
                .map_err(|error| {
                    if is_unique_violation(&error) {
                        Failure::Store(StoreError::Conflict(format!(
                            "a release named `{}` already exists",
                            release.name
                        )))
                    } else {
                        error.into()
                    }
                })?;
            for (i, part) in release.components.iter().enumerate() {
                let known: i64 = components::table
                    .filter(components::id.eq(DbUuid(part.component_id.0)))
                    .filter(components::tenant_id.eq(DbUuid(tenant.0)))
                    .count()
                    .get_result(conn)?;
                if known == 0 {
                    return Err(StoreError::MissingReference(format!(
                        "components[{i}].componentId"
                    ))
                    .into());
                }
                diesel::insert_into(release_components::table)
                    .values(ReleaseComponentRow {
                        release_id: DbUuid(release.id.0),
                        tenant_id: DbUuid(tenant.0),
                        component_id: DbUuid(part.component_id.0),
                        version: part.version.as_str().to_owned(),
                        digest: part.digest.as_ref().map(|d| d.as_str().to_owned()),
                    })
                    .execute(conn)?;
            }
            let mut stored = release;
            stored.components.sort_by_key(|c| c.component_id.as_uuid());
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&stored, stored.created_at),
            )?;
            Ok(stored)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: ReleaseId) -> Result<Release, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let row = releases::table
                .filter(releases::id.eq(DbUuid(id.0)))
                .filter(releases::tenant_id.eq(DbUuid(tenant.0)))
                .select(ReleaseRow::as_select())
                .first(conn)
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let mut list = with_components(conn, tenant, vec![row])?;
            list.pop().ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Release>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = releases::table
                .filter(releases::tenant_id.eq(DbUuid(tenant.0)))
                .count()
                .get_result(conn)?;
            let rows = releases::table
                .filter(releases::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(releases::created_at.desc())
                .then_order_by(releases::id.desc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(ReleaseRow::as_select())
                .load(conn)?;
            Ok((with_components(conn, tenant, rows)?, total.unsigned_abs()))
        })
        .await
    }
}
