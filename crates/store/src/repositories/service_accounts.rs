//! The `service_accounts` table and the `ServiceAccountRepository` port.

use crate::infra::error::Failure;
use crate::infra::schema::service_accounts;
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use terrane_domain::{
    NewServiceAccount, Page, Role, ServiceAccount, ServiceAccountId, TenantId, UserId,
};
use terrane_ports::{ServiceAccountRepository, StoreError};

/// One row of `service_accounts`, without its secret hash.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = service_accounts)]
struct ServiceAccountRow {
    id: DbUuid,
    tenant_id: DbUuid,
    name: String,
    description: Option<String>,
    roles: String,
    login: String,
    created_by: DbUuid,
    created_at: DbTime,
    secret_issued_at: DbTime,
}

/// Roles as stored: their wire names, comma-separated.
fn roles_text(roles: &[Role]) -> String {
    roles.iter().map(Role::as_str).collect::<Vec<_>>().join(",")
}

impl TryFrom<ServiceAccountRow> for ServiceAccount {
    type Error = Failure;

    /// Fails only on roles that no version of terrane writes (edited by hand, say).
    fn try_from(row: ServiceAccountRow) -> Result<Self, Failure> {
        let roles = row
            .roles
            .split(',')
            .map(str::parse::<Role>)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| {
                Failure::Store(StoreError::Internal(format!(
                    "service account {} has invalid roles stored: {why}",
                    row.id.0
                )))
            })?;
        Ok(ServiceAccount {
            id: ServiceAccountId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            name: row.name,
            description: row.description,
            roles,
            login: row.login,
            created_by: UserId(row.created_by.0),
            created_at: row.created_at.0,
            secret_issued_at: row.secret_issued_at.0,
        })
    }
}

fn find(
    conn: &mut crate::infra::connection::DbConnection,
    tenant: TenantId,
    id: ServiceAccountId,
) -> Result<Option<ServiceAccount>, Failure> {
    service_accounts::table
        .filter(service_accounts::id.eq(DbUuid(id.0)))
        .filter(service_accounts::tenant_id.eq(DbUuid(tenant.0)))
        .select(ServiceAccountRow::as_select())
        .first(conn)
        .optional()?
        .map(ServiceAccount::try_from)
        .transpose()
}

#[async_trait]
impl ServiceAccountRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
        new: NewServiceAccount,
        login: String,
        secret_hash: String,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccount, StoreError> {
        let now = terrane_domain::time::truncate(now);
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            diesel::insert_into(service_accounts::table)
                .values((
                    service_accounts::id.eq(DbUuid(id.0)),
                    service_accounts::tenant_id.eq(DbUuid(tenant.0)),
                    service_accounts::name.eq(&new.name),
                    service_accounts::description.eq(&new.description),
                    service_accounts::roles.eq(roles_text(&new.roles)),
                    service_accounts::login.eq(&login),
                    service_accounts::secret_hash.eq(&secret_hash),
                    service_accounts::created_by.eq(DbUuid(created_by.0)),
                    service_accounts::created_at.eq(DbTime(now)),
                    service_accounts::secret_issued_at.eq(DbTime(now)),
                ))
                .execute(conn)
                .map_err(Failure::writing(&new.name))?;
            let account = find(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&account, account.created_at),
            )?;
            Ok(account)
        })
        .await
    }

    async fn get(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        page: Page,
    ) -> Result<(Vec<ServiceAccount>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = service_accounts::table
                .filter(service_accounts::tenant_id.eq(DbUuid(tenant.0)))
                .count()
                .get_result(conn)?;
            let accounts = service_accounts::table
                .filter(service_accounts::tenant_id.eq(DbUuid(tenant.0)))
                .order_by(service_accounts::name.asc())
                .then_order_by(service_accounts::id.asc())
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(ServiceAccountRow::as_select())
                .load(conn)?
                .into_iter()
                .map(ServiceAccount::try_from)
                .collect::<Result<_, _>>()?;
            // COUNT(*) is never negative.
            Ok((accounts, total.unsigned_abs()))
        })
        .await
    }

    async fn delete(&self, tenant: TenantId, id: ServiceAccountId) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let deleted = diesel::delete(service_accounts::table)
                .filter(service_accounts::id.eq(DbUuid(id.0)))
                .filter(service_accounts::tenant_id.eq(DbUuid(tenant.0)))
                .execute(conn)?;
            if deleted == 0 {
                return Err(StoreError::NotFound.into());
            }
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::ServiceAccount,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }

    async fn rotate(
        &self,
        tenant: TenantId,
        id: ServiceAccountId,
        secret_hash: String,
        now: DateTime<Utc>,
    ) -> Result<ServiceAccount, StoreError> {
        let now = terrane_domain::time::truncate(now);
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let updated = diesel::update(service_accounts::table)
                .filter(service_accounts::id.eq(DbUuid(id.0)))
                .filter(service_accounts::tenant_id.eq(DbUuid(tenant.0)))
                .set((
                    service_accounts::secret_hash.eq(secret_hash),
                    service_accounts::secret_issued_at.eq(DbTime(now)),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(StoreError::NotFound.into());
            }
            let account = find(conn, tenant, id)?.ok_or(StoreError::NotFound)?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::updated(&account, now),
            )?;
            Ok(account)
        })
        .await
    }

    async fn by_secret_hash(
        &self,
        secret_hash: String,
    ) -> Result<Option<ServiceAccount>, StoreError> {
        self.system_read(move |conn| {
            service_accounts::table
                .filter(service_accounts::secret_hash.eq(secret_hash))
                .select(ServiceAccountRow::as_select())
                .first(conn)
                .optional()?
                .map(ServiceAccount::try_from)
                .transpose()
        })
        .await
    }
}
