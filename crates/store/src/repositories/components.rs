//! The `components` table and the `ComponentRepository` port.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::components;
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::infra::versioned::{locked, unchanged, Versioned};
use crate::repositories::environments::{escape_like, lower};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use terrane_domain::{
    Component, ComponentChanges, ComponentFilter, ComponentId, ComponentName, NewComponent, Page,
    TenantId,
};
use terrane_ports::{ComponentRepository, StoreError};

/// One row of `components`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = components, treat_none_as_null = true)]
struct ComponentRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    kind: String,
    owner: Option<String>,
    lifecycle: String,
    description: Option<String>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&Component> for ComponentRow {
    fn from(component: &Component) -> Self {
        ComponentRow {
            id: DbUuid(component.id.0),
            tenant_id: DbUuid(component.tenant.0),
            name: component.name.as_str().to_owned(),
            kind: component.kind.as_str().to_owned(),
            owner: component.owner.clone(),
            lifecycle: component.lifecycle.as_str().to_owned(),
            description: component.description.clone(),
            version: component.version,
            created_at: DbTime(component.created_at),
            updated_at: DbTime(component.updated_at),
        }
    }
}

impl TryFrom<ComponentRow> for Component {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: ComponentRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "component {id} has an invalid {what} stored: {why}"
            )))
        };
        Ok(Component {
            id: ComponentId(id),
            tenant: TenantId(row.tenant_id.0),
            name: ComponentName::parse(&row.name).map_err(|e| corrupt("name", e.message))?,
            kind: row.kind.parse().map_err(|e| corrupt("kind", e))?,
            owner: row.owner,
            lifecycle: row.lifecycle.parse().map_err(|e| corrupt("lifecycle", e))?,
            description: row.description,
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// The tenant's component `id`, if it exists.
fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: ComponentId,
) -> Result<Option<Component>, Failure> {
    components::table
        .filter(components::id.eq(DbUuid(id.0)))
        .filter(components::tenant_id.eq(DbUuid(tenant.0)))
        .select(ComponentRow::as_select())
        .first(conn)
        .optional()?
        .map(Component::try_from)
        .transpose()
}

/// The tenant's components matching `filter`, as a query to count or to page through.
fn matching(
    tenant: TenantId,
    filter: &ComponentFilter,
) -> components::BoxedQuery<'static, MultiBackend> {
    let mut query = components::table
        .filter(components::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(text) = &filter.name {
        let pattern = format!("%{}%", escape_like(text));
        query = query.filter(lower(components::name).like(lower(pattern)).escape('\\'));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(components::kind.eq(kind.as_str()));
    }
    if let Some(owner) = &filter.owner {
        // A NULL owner makes the comparison NULL, so ownerless components never match.
        query = query.filter(lower(components::owner.assume_not_null()).eq(lower(owner.clone())));
    }
    if let Some(lifecycle) = filter.lifecycle {
        query = query.filter(components::lifecycle.eq(lifecycle.as_str()));
    }
    query
}

#[async_trait]
impl ComponentRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: ComponentId,
        new: NewComponent,
        now: DateTime<Utc>,
    ) -> Result<Component, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let component = new.into_component(id, tenant, now);
            diesel::insert_into(components::table)
                .values(ComponentRow::from(&component))
                .execute(conn)
                .map_err(Failure::writing(component.name.as_str()))?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&component, component.created_at),
            )?;
            Ok(component)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: ComponentId) -> Result<Component, StoreError> {
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: ComponentFilter,
        page: Page,
    ) -> Result<(Vec<Component>, u64), StoreError> {
        // One statement: the total rides on every row of the page.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(matching(tenant, &filter)
                    .order_by(components::name.asc())
                    .then_order_by(components::id.asc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        ComponentRow::as_select(),
                        total_of(matching(tenant, &filter).count()),
                    ))
                    .load(conn)?)
            })?;
            let components = rows
                .into_iter()
                .map(Component::try_from)
                .collect::<Result<_, _>>()?;
            Ok((components, total))
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: ComponentId,
        expected_version: Option<i64>,
        changes: ComponentChanges,
        now: DateTime<Utc>,
    ) -> Result<Component, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = locked(
                conn,
                Versioned::Components,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let next = current.apply(changes, now);
            let updated = diesel::update(components::table)
                .filter(components::id.eq(DbUuid(id.0)))
                .filter(components::tenant_id.eq(DbUuid(tenant.0)))
                .filter(components::version.eq(current.version))
                .set(ComponentRow::from(&next))
                .execute(conn)
                .map_err(Failure::writing(next.name.as_str()))?;
            if updated == 0 {
                return Err(unchanged(conn, Versioned::Components, tenant, id.0));
            }
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::updated(&next, next.updated_at),
            )?;
            Ok(next)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: ComponentId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let mut delete = diesel::delete(components::table)
                .filter(components::id.eq(DbUuid(id.0)))
                .filter(components::tenant_id.eq(DbUuid(tenant.0)))
                .into_boxed();
            if let Some(expected) = expected_version {
                delete = delete.filter(components::version.eq(expected));
            }
            let deleted = delete.execute(conn).map_err(|error| match error {
                // Deployments and releases point at the component: the ledger is history.
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                ) => Failure::Store(StoreError::Conflict(
                    "the component has deployments or releases; the ledger keeps them, so it cannot be deleted (set lifecycle: deprecated instead)".into(),
                )),
                other => other.into(),
            })?;
            if deleted == 0 {
                return Err(unchanged(conn, Versioned::Components, tenant, id.0));
            }
            crate::repositories::events::record_removed(conn, &actor, terrane_domain::SubjectKind::Component, tenant, id.0)?;
            Ok(())
        })
        .await
    }
}
