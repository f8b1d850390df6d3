//! The `targets` table and the `TargetRepository` port.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::{environments, target_group_assignments, targets};
use crate::infra::tx::Access;
use crate::infra::types::{DbJson, DbTime, DbUuid};
use crate::infra::versioned::{locked, unchanged, Versioned};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use serde_json::Value;
use terrane_domain::{
    Connection as TargetConnection, EnvironmentId, HealthStatus, LabelSelector, Labels, NewTarget,
    Page, Target, TargetChanges, TargetFilter, TargetGroupId, TargetId, TargetName, TargetType,
    TenantId,
};
use terrane_ports::{StoreError, TargetRepository};

/// One row of `targets`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = targets, treat_none_as_null = true)]
struct TargetRow {
    id: DbUuid,
    tenant_id: DbUuid,
    environment_id: DbUuid,
    target_group_id: Option<DbUuid>,
    name: String,
    target_type: String,
    connection: DbJson,
    labels: DbJson,
    deployment_directory: Option<String>,
    health_status: String,
    health_message: Option<String>,
    last_health_check_at: Option<DbTime>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&Target> for TargetRow {
    fn from(target: &Target) -> Self {
        TargetRow {
            id: DbUuid(target.id.0),
            tenant_id: DbUuid(target.tenant.0),
            environment_id: DbUuid(target.environment_id.0),
            target_group_id: target.target_group_id.map(|g| DbUuid(g.0)),
            name: target.name.as_str().to_owned(),
            target_type: target.target_type().as_str().to_owned(),
            connection: DbJson(Value::Object(target.connection.to_json())),
            labels: DbJson(Value::Object(target.labels.to_json())),
            deployment_directory: target.deployment_directory.clone(),
            health_status: target.health_status.as_str().to_owned(),
            health_message: target.health_message.clone(),
            last_health_check_at: target.last_health_check_at.map(DbTime),
            version: target.version,
            created_at: DbTime(target.created_at),
            updated_at: DbTime(target.updated_at),
        }
    }
}

impl TryFrom<TargetRow> for Target {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: TargetRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "target {id} has an invalid {what} stored: {why}"
            )))
        };
        let object = |value: Value, what: &str| match value {
            Value::Object(map) => Ok(map),
            other => Err(corrupt(what, format!("not an object: {other}"))),
        };
        let target_type: TargetType = row.target_type.parse().map_err(|e| corrupt("type", e))?;
        let connection =
            TargetConnection::parse(target_type, &object(row.connection.0, "connection")?)
                .map_err(|e| corrupt("connection", e.to_string()))?;
        let labels = Labels::parse(&object(row.labels.0, "labels")?)
            .map_err(|e| corrupt("labels", e.to_string()))?;
        Ok(Target {
            id: TargetId(id),
            tenant: TenantId(row.tenant_id.0),
            environment_id: EnvironmentId(row.environment_id.0),
            target_group_id: row.target_group_id.map(|g| TargetGroupId(g.0)),
            name: TargetName::parse(&row.name).map_err(|e| corrupt("name", e.message))?,
            connection,
            labels,
            deployment_directory: row.deployment_directory,
            health_status: row
                .health_status
                .parse::<HealthStatus>()
                .map_err(|e| corrupt("health status", e))?,
            health_message: row.health_message,
            last_health_check_at: row.last_health_check_at.map(|at| at.0),
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// The tenant's target `id`, if it exists.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: TargetId,
) -> Result<Option<Target>, Failure> {
    targets::table
        .filter(targets::id.eq(DbUuid(id.0)))
        .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
        .select(TargetRow::as_select())
        .first(conn)
        .optional()?
        .map(Target::try_from)
        .transpose()
}

/// Checks what a target points at: its environment must be the tenant's, and its group,
/// if any, assigned to that environment. The foreign keys check the same again at the write,
/// which also covers a concurrent unassignment on PostgreSQL.
fn check_references(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
    group: Option<TargetGroupId>,
) -> Result<(), Failure> {
    let environment_found = environments::table
        .filter(environments::id.eq(DbUuid(environment.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .select(environments::id)
        .first::<DbUuid>(conn)
        .optional()?
        .is_some();
    if !environment_found {
        return Err(StoreError::MissingReference("environmentId".into()).into());
    }
    if let Some(group) = group {
        let assigned = target_group_assignments::table
            .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
            .filter(target_group_assignments::environment_id.eq(DbUuid(environment.0)))
            .filter(target_group_assignments::target_group_id.eq(DbUuid(group.0)))
            .select(target_group_assignments::id)
            .first::<DbUuid>(conn)
            .optional()?
            .is_some();
        if !assigned {
            return Err(StoreError::MissingReference("targetGroupId".into()).into());
        }
    }
    Ok(())
}

/// A condition on `targets` written for one backend.
type Condition = Box<dyn BoxableExpression<targets::table, MultiBackend, SqlType = Bool>>;

/// The label filter, the one condition the backends need written differently. On PostgreSQL
/// it is jsonb containment, which the GIN index `targets_labels_idx` answers; on SQLite a
/// target matches when no pair of the selector is missing from its labels.
fn has_labels(conn: &DbConnection, selector: &LabelSelector) -> Condition {
    let wanted = selector.to_json().to_string();
    match conn {
        DbConnection::Pg(_) => Box::new(
            sql::<Bool>("targets.labels @> ")
                .bind::<Text, _>(wanted)
                .sql("::jsonb"),
        ),
        DbConnection::Sqlite(_) => Box::new(
            sql::<Bool>("NOT EXISTS (SELECT 1 FROM json_each(")
                .bind::<Text, _>(wanted)
                .sql(
                    ") AS wanted WHERE NOT EXISTS (SELECT 1 FROM json_each(targets.labels) AS has \
                     WHERE has.key = wanted.key AND has.value = wanted.value))",
                ),
        ),
    }
}

/// The tenant's targets matching `filter`, as a query to count or to page through.
fn matching(
    conn: &DbConnection,
    tenant: TenantId,
    filter: &TargetFilter,
) -> targets::BoxedQuery<'static, MultiBackend> {
    let mut query = targets::table
        .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(environment) = filter.environment_id {
        query = query.filter(targets::environment_id.eq(DbUuid(environment.0)));
    }
    if let Some(group) = filter.target_group_id {
        query = query.filter(targets::target_group_id.eq(DbUuid(group.0)));
    }
    if let Some(target_type) = filter.target_type {
        query = query.filter(targets::target_type.eq(target_type.as_str()));
    }
    if let Some(health) = filter.health_status {
        query = query.filter(targets::health_status.eq(health.as_str()));
    }
    if let Some(selector) = filter.labels.as_ref().filter(|s| !s.is_empty()) {
        query = query.filter(has_labels(conn, selector));
    }
    query
}

#[async_trait]
impl TargetRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: TargetId,
        new: NewTarget,
        now: DateTime<Utc>,
    ) -> Result<Target, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            check_references(conn, tenant, new.environment_id, new.target_group_id)?;
            let target = new.into_target(id, tenant, now);
            diesel::insert_into(targets::table)
                .values(TargetRow::from(&target))
                .execute(conn)
                .map_err(Failure::writing(target.name.as_str()))?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&target, target.created_at),
            )?;
            Ok(target)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: TargetId) -> Result<Target, StoreError> {
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: TargetFilter,
        page: Page,
    ) -> Result<(Vec<Target>, u64), StoreError> {
        // One statement: the total rides on every row of the page.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(matching(conn, tenant, &filter)
                    .order_by(targets::name.asc())
                    .then_order_by(targets::id.asc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        TargetRow::as_select(),
                        total_of(matching(conn, tenant, &filter).count()),
                    ))
                    .load(conn)?)
            })?;
            let targets = rows
                .into_iter()
                .map(Target::try_from)
                .collect::<Result<_, _>>()?;
            Ok((targets, total))
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: TargetId,
        expected_version: Option<i64>,
        changes: TargetChanges,
        now: DateTime<Utc>,
    ) -> Result<Target, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = locked(
                conn,
                Versioned::Targets,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let moves = changes.environment_id.is_some() || changes.target_group_id.is_some();
            let next = current.apply(changes, now);
            if moves {
                check_references(conn, tenant, next.environment_id, next.target_group_id)?;
            }
            let updated = diesel::update(targets::table)
                .filter(targets::id.eq(DbUuid(id.0)))
                .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
                .filter(targets::version.eq(current.version))
                .set(TargetRow::from(&next))
                .execute(conn)
                .map_err(Failure::writing(next.name.as_str()))?;
            if updated == 0 {
                return Err(unchanged(conn, Versioned::Targets, tenant, id.0));
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
        id: TargetId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let mut delete = diesel::delete(targets::table)
                .filter(targets::id.eq(DbUuid(id.0)))
                .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
                .into_boxed();
            if let Some(expected) = expected_version {
                delete = delete.filter(targets::version.eq(expected));
            }
            if delete.execute(conn)? == 0 {
                return Err(unchanged(conn, Versioned::Targets, tenant, id.0));
            }
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::Target,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }
}
