//! The `environments` table and the `EnvironmentRepository` port.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::fixed::{keyed, pg_expression, ByText};
use crate::infra::schema::environments;
use crate::infra::tx::Access;
use crate::infra::types::{sql, DbTime, DbUuid};
use crate::infra::versioned::{locked, unchanged, Versioned};
use crate::repositories::events::{EventBinds, RecordCall};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use terrane_domain::{
    Environment, EnvironmentChanges, EnvironmentConfig, EnvironmentFilter, EnvironmentId,
    EnvironmentName, EnvironmentNumber, EnvironmentSort, EnvironmentSortField, NewEnvironment,
    NewEvent, Page, ProjectId, TenantId,
};
use terrane_ports::{EnvironmentRepository, EnvironmentView, StoreError};

diesel::define_sql_function!(
    /// SQL `lower`: ASCII-only on SQLite, full Unicode on PostgreSQL.
    fn lower(text: Text) -> Text
);

/// One row of `environments`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = environments, treat_none_as_null = true)]
pub(crate) struct EnvironmentRow {
    id: DbUuid,
    // Drawn by the statement that inserts the row: see `insert`.
    #[diesel(skip_insertion)]
    number: i64,
    tenant_id: DbUuid,
    name: String,
    display_name: String,
    description: Option<String>,
    // Claimed by the statement that inserts the row: see `insert`.
    #[diesel(skip_insertion)]
    order_index: i32,
    is_production: bool,
    is_active: bool,
    is_build_environment: bool,
    deployment_timeout: i64,
    health_check_interval: i64,
    required_approvals: i16,
    require_separation_of_duties: bool,
    promotion_policy: String,
    status: String,
    request_id: Option<DbUuid>,
    expires_at: Option<DbTime>,
    project_id: Option<DbUuid>,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&Environment> for EnvironmentRow {
    fn from(env: &Environment) -> Self {
        EnvironmentRow {
            id: DbUuid(env.id.0),
            number: env.number.get(),
            tenant_id: DbUuid(env.tenant.0),
            name: env.name.as_str().to_owned(),
            display_name: env.display_name.clone(),
            description: env.description.clone(),
            order_index: env.order_index,
            is_production: env.is_production,
            is_active: env.is_active,
            is_build_environment: env.is_build_environment,
            deployment_timeout: env.config.deployment_timeout.into(),
            health_check_interval: env.config.health_check_interval.into(),
            required_approvals: env.required_approvals.into(),
            require_separation_of_duties: env.require_separation_of_duties,
            promotion_policy: env.promotion_policy.as_str().to_owned(),
            status: env.status.as_str().to_owned(),
            request_id: env.request_id.map(DbUuid),
            expires_at: env.expires_at.map(DbTime),
            project_id: env.project.map(|p| DbUuid(p.0)),
            version: env.version,
            created_at: DbTime(env.created_at),
            updated_at: DbTime(env.updated_at),
        }
    }
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = Failure;

    /// Fails only on a row that no version of terrane writes (edited by hand, say).
    fn try_from(row: EnvironmentRow) -> Result<Self, Failure> {
        let id = row.id.0;
        let corrupt = |what: &str, why: String| {
            Failure::Store(StoreError::Internal(format!(
                "environment {id} has an invalid {what} stored: {why}"
            )))
        };
        Ok(Environment {
            id: EnvironmentId(id),
            number: EnvironmentNumber(row.number),
            tenant: TenantId(row.tenant_id.0),
            name: EnvironmentName::parse(&row.name).map_err(|e| corrupt("name", e.message))?,
            display_name: row.display_name,
            description: row.description,
            order_index: row.order_index,
            is_production: row.is_production,
            is_active: row.is_active,
            is_build_environment: row.is_build_environment,
            config: EnvironmentConfig {
                deployment_timeout: u32::try_from(row.deployment_timeout)
                    .map_err(|e| corrupt("deployment timeout", e.to_string()))?,
                health_check_interval: u32::try_from(row.health_check_interval)
                    .map_err(|e| corrupt("health check interval", e.to_string()))?,
            },
            required_approvals: u8::try_from(row.required_approvals)
                .map_err(|e| corrupt("required approvals", e.to_string()))?,
            require_separation_of_duties: row.require_separation_of_duties,
            promotion_policy: row
                .promotion_policy
                .parse()
                .map_err(|e| corrupt("promotion policy", e))?,
            status: row.status.parse().map_err(|e| corrupt("status", e))?,
            request_id: row.request_id.map(|id| id.0),
            expires_at: row.expires_at.map(|at| at.0),
            project: row.project_id.map(|p| ProjectId(p.0)),
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// The tenant's environment `id`, if it exists.
pub(crate) fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentId,
) -> Result<Option<Environment>, Failure> {
    environments::table
        .filter(environments::id.eq(DbUuid(id.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .select(EnvironmentRow::as_select())
        .first(conn)
        .optional()?
        .map(Environment::try_from)
        .transpose()
}

/// Claims the order index of an environment about to be stored (or changed to `requested`):
/// `requested` when given, which raises the tenant's counter to it; otherwise one more than
/// the highest index the tenant has given (0 for its first environment). The counter row stays
/// locked until the transaction ends, so call this last before committing; on PostgreSQL a
/// create claims in its insert, or apart (see [`insert`]).
pub(crate) fn claim_order_index(
    conn: &mut DbConnection,
    tenant: TenantId,
    requested: Option<i32>,
) -> Result<i32, Failure> {
    #[derive(QueryableByName)]
    struct Claimed {
        #[diesel(sql_type = Integer)]
        order_index: i32,
    }
    Ok(match conn {
        DbConnection::Pg(pg) => {
            let claim = OrderIndexClaim {
                apart: None,
                tenant: DbUuid(tenant.0),
                requested,
            };
            diesel::select(claim).get_result(pg)?
        }
        // The function of the PostgreSQL migration, as one statement.
        DbConnection::Sqlite(sqlite) => {
            diesel::sql_query(
                "INSERT INTO environment_order_counters AS c (tenant_id, highest) \
             SELECT ?1, CASE \
                 WHEN ?2 IS NULL THEN min(coalesce(max(e.order_index), -1), 2147483646) + 1 \
                 ELSE max(?2, coalesce(max(e.order_index), ?2)) \
             END \
             FROM environments e WHERE e.tenant_id = ?1 \
             ON CONFLICT (tenant_id) DO UPDATE SET highest = CASE \
                 WHEN ?2 IS NULL THEN min(c.highest, 2147483646) + 1 \
                 ELSE max(c.highest, ?2) \
             END \
             RETURNING coalesce(?2, highest) AS order_index",
            )
            .bind::<Text, _>(tenant.to_string())
            .bind::<Nullable<Integer>, _>(requested)
            .get_result::<Claimed>(sqlite)?
            .order_index
        }
    })
}

/// Claims the next order index of `tenant` in a statement of its own, committed without
/// waiting for the disk: the counter row is then locked for that statement only, and racing
/// creates no longer queue on it through each other's commit (which held PostgreSQL's creates
/// to about 1,000 a second, whatever the number of connections). The claim is durable before
/// any environment holding it is: the environment's insert commits after it, waiting for the
/// disk, and the log reaches the disk in order. A claim whose insert never commits (a crash
/// between the two, or a racing claim before [`give_back`]) leaves a gap in the indexes,
/// never a duplicate.
fn claim_apart(pg: &mut diesel::PgConnection, tenant: TenantId) -> Result<i32, Failure> {
    let claim = OrderIndexClaim {
        apart: None,
        tenant: DbUuid(tenant.0),
        requested: None,
    };
    let asynchronous = keyed::<Text, ByText>("set_config('synchronous_commit', 'off', true)");
    let (claimed, _): (i32, String) = diesel::select((claim, asynchronous)).get_result(pg)?;
    Ok(claimed)
}

/// `coalesce(apart, claim_environment_order_index(tenant, requested))`: the index claimed
/// apart, else one claimed now (COALESCE evaluates its second argument only when the first is
/// null).
struct OrderIndexClaim {
    apart: Option<i32>,
    tenant: DbUuid,
    requested: Option<i32>,
}

pg_expression!(OrderIndexClaim: Integer, |claim, out| {
    out.push_sql("coalesce(");
    out.push_bind_param::<Nullable<Integer>, _>(&claim.apart)?;
    out.push_sql(", claim_environment_order_index(");
    out.push_bind_param::<sql::Uuid, _>(&claim.tenant)?;
    out.push_sql(", ");
    out.push_bind_param::<Nullable<Integer>, _>(&claim.requested)?;
    out.push_sql("))");
});

/// Returns an index [`claim_apart`] claimed for an insert that failed, unless another claim
/// came after it (then the index stays a gap).
fn give_back(pg: &mut diesel::PgConnection, tenant: TenantId, claimed: i32) {
    let returned = diesel::sql_query(
        "UPDATE environment_order_counters SET highest = highest - 1 \
         WHERE tenant_id = $1::uuid AND highest = $2",
    )
    .bind::<Text, _>(tenant.to_string())
    .bind::<Integer, _>(claimed)
    .execute(pg);
    if let Err(error) = returned {
        tracing::warn!(%error, claimed, "an unused order index could not be given back");
    }
}

/// Stores `env` with the order index claimed for `requested` (see [`claim_order_index`]),
/// which it sets on `env`. On PostgreSQL a create outside a transaction with no index given
/// claims apart first (see [`claim_apart`]); otherwise the claim is made inside the insert,
/// holding the tenant's counter until the transaction ends.
///
/// # Errors
/// A conflict naming the name when the tenant already has it (and then nothing is claimed).
///
/// Its `environment.created` event by `actor` is written with it: on PostgreSQL in the same
/// statement (its data completed there with the number and order index the insert draws),
/// on SQLite as a second one.
pub(crate) fn insert(
    conn: &mut DbConnection,
    env: &mut Environment,
    requested: Option<i32>,
    actor: &str,
) -> Result<(), Failure> {
    if let Some(project) = env.project {
        // SQLite's key names no tenant: the project must be one of the environment's own.
        crate::repositories::projects::find(conn, env.tenant, project)?
            .ok_or_else(|| StoreError::MissingReference("projectId".to_owned()))?;
    }
    let row = EnvironmentRow::from(&*env);
    let (order_index, number) = match conn {
        DbConnection::Pg(pg) => {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            let in_transaction = AnsiTransactionManager::transaction_manager_status_mut(pg)
                .transaction_depth()?
                .is_some();
            // Outside a transaction an omitted index is claimed first, apart (see
            // `claim_apart`); otherwise inside the insert, holding the counter to the commit.
            let apart = (!in_transaction && requested.is_none())
                .then(|| claim_apart(pg, env.tenant))
                .transpose()?;
            let claim = OrderIndexClaim {
                apart,
                tenant: DbUuid(env.tenant.0),
                requested,
            };
            let number = keyed::<BigInt, ByText>("nextval('entity_numbers')");
            let insert = diesel::insert_into(environments::table).values((
                row,
                environments::order_index.eq(claim),
                environments::number.eq(number),
            ));
            // Completed with the number and order index the insert draws.
            let recorded = RecordCall {
                event: EventBinds::new(actor, NewEvent::created(&*env, env.created_at)),
                data_extra: "|| jsonb_build_object('number', number, 'orderIndex', order_index)",
            };
            let inserted: QueryResult<(i32, i64, i64)> = insert
                .returning((environments::order_index, environments::number, recorded))
                .get_result(pg);
            let (order_index, number, _event) = match inserted {
                Ok(inserted) => inserted,
                Err(error) => {
                    if let Some(claimed) = apart {
                        give_back(pg, env.tenant, claimed);
                    }
                    return Err(Failure::writing(env.name.as_str())(error));
                }
            };
            (order_index, number)
        }
        DbConnection::Sqlite(_) => {
            let order_index = claim_order_index(conn, env.tenant, requested)?;
            let number = crate::infra::numbers::next_number(conn)?;
            diesel::insert_into(environments::table)
                .values((
                    row,
                    environments::order_index.eq(order_index),
                    environments::number.eq(number),
                ))
                .execute(conn)
                .map_err(Failure::writing(env.name.as_str()))?;
            env.order_index = order_index;
            env.number = EnvironmentNumber(number);
            crate::repositories::events::record(
                conn,
                actor,
                &NewEvent::created(&*env, env.created_at),
            )?;
            (order_index, number)
        }
    };
    env.order_index = order_index;
    env.number = EnvironmentNumber(number);
    Ok(())
}

/// `text` as a LIKE pattern matching itself literally, with `\` as the escape character.
pub(crate) fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The tenant's environments matching `filter`, as a query to count or to page through.
pub(crate) fn matching(
    tenant: TenantId,
    filter: &EnvironmentFilter,
) -> environments::BoxedQuery<'static, MultiBackend> {
    let mut query = environments::table
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(number) = filter.number {
        query = query.filter(environments::number.eq(number.get()));
    }
    if let Some(name) = &filter.name {
        query = query.filter(lower(environments::name).eq(lower(name.clone())));
    }
    if let Some(text) = &filter.display_name {
        let pattern = format!("%{}%", escape_like(text));
        query = query.filter(
            lower(environments::display_name)
                .like(lower(pattern))
                .escape('\\'),
        );
    }
    if let Some(is_active) = filter.is_active {
        query = query.filter(environments::is_active.eq(is_active));
    }
    if let Some(is_build_environment) = filter.is_build_environment {
        query = query.filter(environments::is_build_environment.eq(is_build_environment));
    }
    if let Some(is_production) = filter.is_production {
        query = query.filter(environments::is_production.eq(is_production));
    }
    if let Some(order_index) = filter.order_index {
        query = query.filter(environments::order_index.eq(order_index));
    }
    if let Some(status) = filter.status {
        query = query.filter(environments::status.eq(status.as_str()));
    }
    if let Some(project) = filter.project {
        query = query.filter(environments::project_id.eq(DbUuid(project.0)));
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        query = query.filter(environments::status.eq_any(statuses));
    }
    query
}

/// The order of an unsorted list ([`EnvironmentSort::default`]): by order index, then by
/// name. A name is unique in its tenant (`environments_tenant_id_name_key`), so this orders a
/// tenant's environments totally, and the index `(tenant_id, order_index, name)` hands them
/// over in this order: a page reads its rows off the index instead of sorting them all.
pub(crate) type DefaultOrder = (
    diesel::dsl::Asc<environments::order_index>,
    diesel::dsl::Asc<environments::name>,
);

/// See [`DefaultOrder`].
pub(crate) fn default_order() -> DefaultOrder {
    use environments::{name, order_index};
    (order_index.asc(), name.asc())
}

/// `query` sorted by `sort`, then by name, which is unique in a tenant: equal keys keep a
/// stable order.
pub(crate) fn sorted(
    query: environments::BoxedQuery<'static, MultiBackend>,
    sort: EnvironmentSort,
) -> environments::BoxedQuery<'static, MultiBackend> {
    use environments::{created_at, name, order_index};
    match (sort.field, sort.descending) {
        (EnvironmentSortField::Name, false) => query.order_by(name.asc()),
        (EnvironmentSortField::Name, true) => query.order_by(name.desc()),
        (EnvironmentSortField::OrderIndex, false) => query.order_by(default_order()),
        (EnvironmentSortField::OrderIndex, true) => {
            query.order_by(order_index.desc()).then_order_by(name.asc())
        }
        (EnvironmentSortField::CreatedAt, false) => {
            query.order_by(created_at.asc()).then_order_by(name.asc())
        }
        (EnvironmentSortField::CreatedAt, true) => {
            query.order_by(created_at.desc()).then_order_by(name.asc())
        }
    }
}

#[async_trait]
impl EnvironmentRepository for Store {
    async fn create(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        new: NewEnvironment,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError> {
        // Without target groups the insert is the only statement, whole on its own, and on
        // PostgreSQL it runs outside a transaction: the order index is then claimed apart
        // (see `claim_apart`), and the tenant's counter is locked for that statement only.
        let access = if new.target_groups.is_empty() && new.project.is_none() {
            Access::Statements
        } else {
            Access::Write
        };
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, access, move |conn| {
            let requested = new.order_index;
            let target_groups = new.target_groups.clone();
            // The number and the order index are drawn by the insert (see `insert`).
            let mut env = new.into_environment(
                id,
                EnvironmentNumber(0),
                tenant,
                requested.unwrap_or_default(),
                now,
            );
            insert(conn, &mut env, requested, &actor)?;
            crate::repositories::target_groups::apply_assignments(
                conn,
                tenant,
                id,
                terrane_domain::AssignmentMode::Add,
                &target_groups,
                now,
            )?;
            Ok(env)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: EnvironmentId) -> Result<Environment, StoreError> {
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: EnvironmentFilter,
        sort: EnvironmentSort,
        page: Page,
    ) -> Result<(Vec<Environment>, u64), StoreError> {
        // Both queries run in one transaction, so the total matches the page.
        self.tenant_tx(tenant, Access::Read, move |conn| {
            let total: i64 = matching(tenant, &filter).count().get_result(conn)?;
            let rows = sorted(matching(tenant, &filter), sort)
                .limit(page.take().into())
                .offset(page.skip().into())
                .select(EnvironmentRow::as_select())
                .load(conn)?;
            let environments = rows
                .into_iter()
                .map(Environment::try_from)
                .collect::<Result<_, _>>()?;
            // COUNT(*) is never negative.
            Ok((environments, total.unsigned_abs()))
        })
        .await
    }

    async fn view(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentView, StoreError> {
        self.environment_view(tenant, id, now).await
    }

    async fn view_page(
        &self,
        tenant: TenantId,
        filter: EnvironmentFilter,
        sort: EnvironmentSort,
        page: Page,
        with_release: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<EnvironmentView>, u64), StoreError> {
        self.environment_view_page(tenant, filter, sort, page, with_release, now)
            .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        expected_version: Option<i64>,
        changes: EnvironmentChanges,
        now: DateTime<Utc>,
    ) -> Result<Environment, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = locked(
                conn,
                Versioned::Environments,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let assignments = changes.assignments.clone();
            let next = current.apply(changes, now);
            // Compare-and-set on the version read above: on PostgreSQL a concurrent update
            // of the same row either committed before (this matches nothing) or waits.
            let updated = diesel::update(environments::table)
                .filter(environments::id.eq(DbUuid(id.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .filter(environments::version.eq(current.version))
                .set(EnvironmentRow::from(&next))
                .execute(conn)
                .map_err(Failure::writing(next.name.as_str()))?;
            if updated == 0 {
                return Err(unchanged(conn, Versioned::Environments, tenant, id.0));
            }
            if let Some(change) = assignments {
                crate::repositories::target_groups::apply_assignments(
                    conn,
                    tenant,
                    id,
                    change.mode(),
                    change.target_groups(),
                    now,
                )?;
            }
            if next.order_index != current.order_index {
                // The next environment created without an index comes after this one.
                claim_order_index(conn, tenant, Some(next.order_index))?;
            }
            crate::repositories::events::record(conn, &actor, &NewEvent::updated(&next, now))?;
            Ok(next)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            refuse_with_deployments(conn, tenant, id)?;
            // What it was, for its event (and nothing to delete when it is not there).
            let Some(gone) = find(conn, tenant, id)? else {
                return Err(StoreError::NotFound.into());
            };
            let mut delete = diesel::delete(environments::table)
                .filter(environments::id.eq(DbUuid(id.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .into_boxed();
            if let Some(expected) = expected_version {
                delete = delete.filter(environments::version.eq(expected));
            }
            let deleted = delete.execute(conn).map_err(|error| match error {
                // A deployment recorded after the check above, by a concurrent transaction.
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                ) => Failure::Store(StoreError::Conflict(
                    "the environment has deployments; the ledger keeps them, so it cannot be deleted".into(),
                )),
                other => other.into(),
            })?;
            if deleted == 0 {
                return Err(unchanged(conn, Versioned::Environments, tenant, id.0));
            }
            let now = chrono::Utc::now();
            crate::repositories::events::record(conn, &actor, &NewEvent::deleted(&gone, now))?;
            Ok(())
        })
        .await
    }
}

/// Refuses to delete an environment the deployment ledger points at: the ledger is history.
fn refuse_with_deployments(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: EnvironmentId,
) -> Result<(), Failure> {
    use crate::infra::schema::deployments;
    let count: i64 = deployments::table
        .filter(deployments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(deployments::environment_id.eq(DbUuid(id.0)))
        .count()
        .get_result(conn)?;
    if count > 0 {
        let noun = if count == 1 {
            "deployment"
        } else {
            "deployments"
        };
        return Err(StoreError::Conflict(format!(
            "the environment has {count} {noun}; the ledger keeps them, so it cannot be deleted (deactivate it with isActive: false instead)"
        ))
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::escape_like;

    #[test]
    fn like_wildcards_and_the_escape_character_are_escaped() {
        assert_eq!(escape_like(r"50%_off\now"), r"50\%\_off\\now");
        assert_eq!(escape_like("plain"), "plain");
    }
}
