//! The `TemplateRepository` port.

use super::rows::TemplateRow;
use super::tables::{environment_lifecycles, environment_templates};
use crate::infra::connection::DbConnection;
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::tx::Access;
use crate::infra::types::DbUuid;
use crate::Store;
use async_trait::async_trait;
use diesel::prelude::*;
use terrane_domain::{Page, Template, TemplateId, TenantId};
use terrane_ports::{StoreError, TemplateRepository};

fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: TemplateId,
) -> Result<Option<Template>, Failure> {
    environment_templates::table
        .filter(environment_templates::id.eq(DbUuid(id.0)))
        .filter(environment_templates::tenant_id.eq(DbUuid(tenant.0)))
        .select(TemplateRow::as_select())
        .first(conn)
        .optional()?
        .map(Template::try_from)
        .transpose()
}

/// Locks the template on PostgreSQL for the rest of the transaction, so that an environment
/// being born from it and a change to it happen one after the other.
pub(crate) fn lock(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: TemplateId,
) -> Result<(), Failure> {
    if let DbConnection::Pg(pg) = conn {
        environment_templates::table
            .filter(environment_templates::id.eq(DbUuid(id.0)))
            .filter(environment_templates::tenant_id.eq(DbUuid(tenant.0)))
            .select(environment_templates::id)
            .for_update()
            .load::<DbUuid>(pg)?;
    }
    Ok(())
}

fn refuse_when_used(
    conn: &mut DbConnection,
    tenant: TenantId,
    template: &Template,
    doing: &str,
) -> Result<(), Failure> {
    let used: i64 = environment_lifecycles::table
        .filter(environment_lifecycles::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environment_lifecycles::template_id.eq(DbUuid(template.id.0)))
        .count()
        .get_result(conn)?;
    if used > 0 {
        return Err(StoreError::Conflict(format!(
            "template `{}` version `{}` is used by {used} environment{}, so it cannot be {doing}; publish a new version instead",
            template.name,
            template.version,
            if used == 1 { "" } else { "s" }
        ))
        .into());
    }
    Ok(())
}

fn taken(template: &Template) -> impl FnOnce(diesel::result::Error) -> Failure + '_ {
    move |error| {
        if is_unique_violation(&error) {
            StoreError::Conflict(format!(
                "a template named `{}` with version `{}` already exists",
                template.name, template.version
            ))
            .into()
        } else {
            error.into()
        }
    }
}

fn checked(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: TemplateId,
    expected: Option<i64>,
) -> Result<Template, Failure> {
    lock(conn, tenant, id)?;
    let current = find(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
    if expected.is_some_and(|v| v != current.version_number) {
        return Err(StoreError::VersionMismatch {
            current: current.version_number,
        }
        .into());
    }
    Ok(current)
}

#[async_trait]
impl TemplateRepository for Store {
    async fn create(&self, tenant: TenantId, template: Template) -> Result<Template, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            diesel::insert_into(environment_templates::table)
                .values(TemplateRow::from(&template))
                .execute(conn)
                .map_err(taken(&template))?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&template, template.created_at),
            )?;
            Ok(template)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: TemplateId) -> Result<Template, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn find(
        &self,
        tenant: TenantId,
        name: String,
        version: String,
    ) -> Result<Template, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            environment_templates::table
                .filter(environment_templates::tenant_id.eq(DbUuid(tenant.0)))
                .filter(environment_templates::name.eq(name))
                .filter(environment_templates::template_version.eq(version))
                .select(TemplateRow::as_select())
                .first(conn)
                .optional()?
                .map(Template::try_from)
                .transpose()?
                .ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Template>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = environment_templates::table
                .filter(environment_templates::tenant_id.eq(DbUuid(tenant.0)))
                .count()
                .get_result(conn)?;
            let templates = environment_templates::table
                .filter(environment_templates::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(environment_templates::name.asc())
                .then_order_by(environment_templates::template_version.asc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(TemplateRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Template::try_from)
                .collect::<Result<_, _>>()?;
            Ok((templates, total.unsigned_abs()))
        })
        .await
    }

    async fn replace(
        &self,
        tenant: TenantId,
        expected_version: Option<i64>,
        template: Template,
    ) -> Result<Template, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = checked(conn, tenant, template.id, expected_version)?;
            refuse_when_used(conn, tenant, &current, "changed")?;
            let updated = diesel::update(environment_templates::table)
                .filter(environment_templates::id.eq(DbUuid(template.id.0)))
                .filter(environment_templates::version.eq(template.version_number - 1))
                .set(TemplateRow::from(&template))
                .execute(conn)
                .map_err(taken(&template))?;
            if updated == 0 {
                return Err(StoreError::VersionMismatch {
                    current: current.version_number,
                }
                .into());
            }
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::updated(&template, template.updated_at),
            )?;
            Ok(template)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: TemplateId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = checked(conn, tenant, id, expected_version)?;
            refuse_when_used(conn, tenant, &current, "deleted")?;
            diesel::delete(environment_templates::table)
                .filter(environment_templates::id.eq(DbUuid(id.0)))
                .execute(conn)?;
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::Template,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }
}
