//! The `target_groups` and `target_group_assignments` tables, the `TargetGroupRepository`
//! port, and the assignment changes the environment repository applies in its own
//! transactions.

use crate::infra::connection::{DbConnection, MultiBackend};
use crate::infra::error::Failure;
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::{environments, target_group_assignments, target_groups, targets};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::infra::versioned::{locked, unchanged, Versioned};
use crate::repositories::environments::{escape_like, lower};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use std::collections::{HashMap, HashSet};
use terrane_domain::{
    Assignment, AssignmentChange, AssignmentMode, AssignmentRequest, EnvironmentId, NewTargetGroup,
    Page, TargetGroup, TargetGroupChanges, TargetGroupFilter, TargetGroupId, TargetGroupName,
    TargetGroupNumber, TenantId,
};
use terrane_ports::{StoreError, TargetGroupRepository};
use uuid::Uuid;

/// How many target names a conflict message lists before summing up the rest.
const NAMES_SHOWN: usize = 10;

/// One row of `target_groups`, read and written whole.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = target_groups, treat_none_as_null = true)]
struct TargetGroupRow {
    id: DbUuid,
    number: i64,
    tenant_id: DbUuid,
    name: String,
    display_name: String,
    description: Option<String>,
    is_active: bool,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&TargetGroup> for TargetGroupRow {
    fn from(group: &TargetGroup) -> Self {
        TargetGroupRow {
            id: DbUuid(group.id.0),
            number: group.number.get(),
            tenant_id: DbUuid(group.tenant.0),
            name: group.name.as_str().to_owned(),
            display_name: group.display_name.clone(),
            description: group.description.clone(),
            is_active: group.is_active,
            version: group.version,
            created_at: DbTime(group.created_at),
            updated_at: DbTime(group.updated_at),
        }
    }
}

/// A stored group name that no version of terrane writes (edited by hand, say).
pub(crate) fn corrupt_name(
    id: Uuid,
    name: &str,
) -> impl FnOnce(terrane_domain::FieldError) -> Failure + '_ {
    move |error| {
        Failure::Store(StoreError::Internal(format!(
            "target group {id} has an invalid name stored ({name}): {}",
            error.message
        )))
    }
}

impl TryFrom<TargetGroupRow> for TargetGroup {
    type Error = Failure;

    fn try_from(row: TargetGroupRow) -> Result<Self, Failure> {
        Ok(TargetGroup {
            id: TargetGroupId(row.id.0),
            number: TargetGroupNumber(row.number),
            tenant: TenantId(row.tenant_id.0),
            name: TargetGroupName::parse(&row.name).map_err(corrupt_name(row.id.0, &row.name))?,
            display_name: row.display_name,
            description: row.description,
            is_active: row.is_active,
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// One row of `target_group_assignments`.
#[derive(Debug, Insertable)]
#[diesel(table_name = target_group_assignments)]
struct AssignmentRow {
    id: DbUuid,
    number: i64,
    tenant_id: DbUuid,
    environment_id: DbUuid,
    target_group_id: DbUuid,
    is_active: bool,
    created_at: DbTime,
}

/// The tenant's group `id`, if it exists.
fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: TargetGroupId,
) -> Result<Option<TargetGroup>, Failure> {
    target_groups::table
        .filter(target_groups::id.eq(DbUuid(id.0)))
        .filter(target_groups::tenant_id.eq(DbUuid(tenant.0)))
        .select(TargetGroupRow::as_select())
        .first(conn)
        .optional()?
        .map(TargetGroup::try_from)
        .transpose()
}

/// Bumps the version of the tenant's `environments` and sets their `updated_at`: their
/// representation lists their assignments, so a client holding an old ETag must not overwrite
/// an assignment it has not seen. Answers how many environments were touched.
fn touch_environments(
    conn: &mut DbConnection,
    tenant: TenantId,
    ids: Vec<DbUuid>,
    now: DateTime<Utc>,
) -> Result<usize, Failure> {
    if ids.is_empty() {
        return Ok(0);
    }
    Ok(diesel::update(environments::table)
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(environments::id.eq_any(ids))
        .set((
            environments::version.eq(environments::version + 1),
            environments::updated_at.eq(DbTime(terrane_domain::time::truncate(now))),
        ))
        .execute(conn)?)
}

/// `names` for a message: the first few, then how many more.
fn listed(names: &[String]) -> String {
    let shown = names
        .iter()
        .take(NAMES_SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    match names.len().saturating_sub(NAMES_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

/// The names of the targets in `group`, only those of `environment` when given, sorted.
fn target_names(
    conn: &mut DbConnection,
    tenant: TenantId,
    group: TargetGroupId,
    environment: Option<EnvironmentId>,
) -> Result<Vec<String>, Failure> {
    let mut query = targets::table
        .filter(targets::tenant_id.eq(DbUuid(tenant.0)))
        .filter(targets::target_group_id.eq(DbUuid(group.0)))
        .into_boxed::<MultiBackend>();
    if let Some(environment) = environment {
        query = query.filter(targets::environment_id.eq(DbUuid(environment.0)));
    }
    Ok(query
        .select(targets::name)
        .order_by(targets::name.asc())
        .load(conn)?)
}

/// Applies an assignment change to `environment`, which the caller has already found (and,
/// for an update, locked) in this transaction.
///
/// Every listed group must be the tenant's; a group that `Replace` would unassign must have
/// no targets in the environment. New assignments are active unless the request says
/// otherwise; existing ones keep their id and change only the flag a request gives.
pub(crate) fn apply_assignments(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
    mode: AssignmentMode,
    requests: &[AssignmentRequest],
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    if mode == AssignmentMode::Add && requests.is_empty() {
        // Nothing to add: most environment writes name no groups and need not read any.
        return Ok(());
    }
    let listed_ids: Vec<DbUuid> = requests
        .iter()
        .map(|r| DbUuid(r.target_group_id.0))
        .collect();
    let known: HashSet<Uuid> = target_groups::table
        .filter(target_groups::tenant_id.eq(DbUuid(tenant.0)))
        .filter(target_groups::id.eq_any(listed_ids))
        .select(target_groups::id)
        .load::<DbUuid>(conn)?
        .into_iter()
        .map(|id| id.0)
        .collect();
    if let Some(index) = requests
        .iter()
        .position(|r| !known.contains(&r.target_group_id.0))
    {
        return Err(StoreError::MissingReference(AssignmentChange::field(index)).into());
    }

    let current: HashMap<Uuid, bool> = target_group_assignments::table
        .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
        .filter(target_group_assignments::environment_id.eq(DbUuid(environment.0)))
        .select((
            target_group_assignments::target_group_id,
            target_group_assignments::is_active,
        ))
        .load::<(DbUuid, bool)>(conn)?
        .into_iter()
        .map(|(id, active)| (id.0, active))
        .collect();

    if mode == AssignmentMode::Replace {
        let wanted: HashSet<Uuid> = requests.iter().map(|r| r.target_group_id.0).collect();
        let mut dropped: Vec<Uuid> = current
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        dropped.sort_unstable();
        for group in &dropped {
            let names = target_names(conn, tenant, TargetGroupId(*group), Some(environment))?;
            if !names.is_empty() {
                let group_name: String = target_groups::table
                    .filter(target_groups::id.eq(DbUuid(*group)))
                    .select(target_groups::name)
                    .first(conn)?;
                return Err(StoreError::Conflict(format!(
                    "target group `{group_name}` cannot be unassigned: it still has targets in \
                     this environment ({}); move or delete them first",
                    listed(&names)
                ))
                .into());
            }
        }
        if !dropped.is_empty() {
            diesel::delete(target_group_assignments::table)
                .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
                .filter(target_group_assignments::environment_id.eq(DbUuid(environment.0)))
                .filter(
                    target_group_assignments::target_group_id
                        .eq_any(dropped.into_iter().map(DbUuid).collect::<Vec<_>>()),
                )
                .execute(conn)?;
        }
    }

    let created_at = DbTime(terrane_domain::time::truncate(now));
    let mut new_rows = Vec::new();
    for request in requests {
        let group = request.target_group_id.0;
        match (current.get(&group), request.is_active) {
            (None, active) => new_rows.push(AssignmentRow {
                // Assignments are made in bulk by environment writes; their ids are the
                // store's to choose, time-ordered like every other id.
                id: DbUuid(Uuid::now_v7()),
                number: 0,
                tenant_id: DbUuid(tenant.0),
                environment_id: DbUuid(environment.0),
                target_group_id: DbUuid(group),
                is_active: active.unwrap_or(true),
                created_at,
            }),
            (Some(was), Some(active)) if *was != active => {
                diesel::update(target_group_assignments::table)
                    .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(target_group_assignments::environment_id.eq(DbUuid(environment.0)))
                    .filter(target_group_assignments::target_group_id.eq(DbUuid(group)))
                    .set(target_group_assignments::is_active.eq(active))
                    .execute(conn)?;
            }
            (Some(_), _) => {}
        }
    }
    // One statement per row: diesel's multi-backend connection has no batch insert, and a
    // request lists at most a hundred groups.
    for mut row in new_rows {
        row.number = crate::infra::numbers::next_number(conn)?;
        diesel::insert_into(target_group_assignments::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// The tenant's groups matching `filter`.
fn matching(
    tenant: TenantId,
    filter: &TargetGroupFilter,
) -> target_groups::BoxedQuery<'static, MultiBackend> {
    let mut query = target_groups::table
        .filter(target_groups::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if !filter.numbers.is_empty() {
        let numbers: Vec<i64> = filter.numbers.iter().map(|n| n.get()).collect();
        query = query.filter(target_groups::number.eq_any(numbers));
    }
    if let Some(name) = &filter.name {
        query = query.filter(lower(target_groups::name).eq(lower(name.clone())));
    }
    if let Some(text) = &filter.display_name {
        let pattern = format!("%{}%", escape_like(text));
        query = query.filter(
            lower(target_groups::display_name)
                .like(lower(pattern))
                .escape('\\'),
        );
    }
    match filter.environment {
        None => query,
        Some(environment) => query.filter(
            target_groups::id.eq_any(
                target_group_assignments::table
                    .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
                    .filter(target_group_assignments::environment_id.eq(DbUuid(environment.0)))
                    .select(target_group_assignments::target_group_id),
            ),
        ),
    }
}

/// Whether the tenant has the environment.
fn environment_exists(
    conn: &mut DbConnection,
    tenant: TenantId,
    environment: EnvironmentId,
) -> Result<bool, Failure> {
    Ok(environments::table
        .filter(environments::id.eq(DbUuid(environment.0)))
        .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
        .select(environments::id)
        .first::<DbUuid>(conn)
        .optional()?
        .is_some())
}

#[async_trait]
impl TargetGroupRepository for Store {
    async fn create_in_environment(
        &self,
        tenant: TenantId,
        environment: EnvironmentId,
        id: TargetGroupId,
        new: NewTargetGroup,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // Bumping the environment's version also finds it and, on PostgreSQL, locks it
            // against a concurrent delete until this transaction ends.
            if touch_environments(conn, tenant, vec![DbUuid(environment.0)], now)? == 0 {
                return Err(StoreError::NotFound.into());
            }
            let number = TargetGroupNumber(crate::infra::numbers::next_number(conn)?);
            let group = new.into_target_group(id, number, tenant, now);
            diesel::insert_into(target_groups::table)
                .values(TargetGroupRow::from(&group))
                .execute(conn)
                .map_err(Failure::writing(group.name.as_str()))?;
            let request = AssignmentRequest {
                target_group_id: id,
                is_active: None,
            };
            apply_assignments(
                conn,
                tenant,
                environment,
                AssignmentMode::Add,
                &[request],
                now,
            )?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&group, group.created_at),
            )?;
            Ok(group)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: TargetGroupId) -> Result<TargetGroup, StoreError> {
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn create(
        &self,
        tenant: TenantId,
        id: TargetGroupId,
        new: NewTargetGroup,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let number = TargetGroupNumber(crate::infra::numbers::next_number(conn)?);
            let group = new.into_target_group(id, number, tenant, now);
            diesel::insert_into(target_groups::table)
                .values(TargetGroupRow::from(&group))
                .execute(conn)
                .map_err(Failure::writing(group.name.as_str()))?;
            crate::repositories::events::record(
                conn,
                &actor,
                &terrane_domain::NewEvent::created(&group, group.created_at),
            )?;
            Ok(group)
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: TargetGroupFilter,
        page: Page,
    ) -> Result<(Vec<TargetGroup>, u64), StoreError> {
        // Without an environment to check for, one statement: the total rides on every row.
        let access = match filter.environment {
            Some(_) => Access::Read,
            None => Access::OneRead,
        };
        self.tenant_tx(tenant, access, move |conn| {
            if let Some(environment) = filter.environment {
                if !environment_exists(conn, tenant, environment)? {
                    return Err(StoreError::NotFound.into());
                }
            }
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(matching(tenant, &filter)
                    .order_by(target_groups::name.asc())
                    .then_order_by(target_groups::id.asc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        TargetGroupRow::as_select(),
                        total_of(matching(tenant, &filter).count()),
                    ))
                    .load(conn)?)
            })?;
            let groups = rows
                .into_iter()
                .map(TargetGroup::try_from)
                .collect::<Result<_, _>>()?;
            Ok((groups, total))
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: TargetGroupId,
        expected_version: Option<i64>,
        changes: TargetGroupChanges,
        now: DateTime<Utc>,
    ) -> Result<TargetGroup, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = locked(
                conn,
                Versioned::TargetGroups,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let next = current.apply(changes, now);
            let updated = diesel::update(target_groups::table)
                .filter(target_groups::id.eq(DbUuid(id.0)))
                .filter(target_groups::tenant_id.eq(DbUuid(tenant.0)))
                .filter(target_groups::version.eq(current.version))
                .set(TargetGroupRow::from(&next))
                .execute(conn)
                .map_err(Failure::writing(next.name.as_str()))?;
            if updated == 0 {
                return Err(unchanged(conn, Versioned::TargetGroups, tenant, id.0));
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
        id: TargetGroupId,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let group = locked(
                conn,
                Versioned::TargetGroups,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let names = target_names(conn, tenant, id, None)?;
            if !names.is_empty() {
                return Err(StoreError::Conflict(format!(
                    "target group `{}` still has {} target{} ({}); move or delete them first",
                    group.name,
                    names.len(),
                    if names.len() == 1 { "" } else { "s" },
                    listed(&names)
                ))
                .into());
            }
            let assigned: Vec<DbUuid> = target_group_assignments::table
                .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
                .filter(target_group_assignments::target_group_id.eq(DbUuid(id.0)))
                .select(target_group_assignments::environment_id)
                .load(conn)?;
            touch_environments(conn, tenant, assigned, now)?;
            // The assignments go with the group (ON DELETE CASCADE).
            diesel::delete(target_groups::table)
                .filter(target_groups::id.eq(DbUuid(id.0)))
                .filter(target_groups::tenant_id.eq(DbUuid(tenant.0)))
                .execute(conn)?;
            crate::repositories::events::record_removed(
                conn,
                &actor,
                terrane_domain::SubjectKind::TargetGroup,
                tenant,
                id.0,
            )?;
            Ok(())
        })
        .await
    }

    async fn assignments_for(
        &self,
        tenant: TenantId,
        environments: Vec<EnvironmentId>,
    ) -> Result<HashMap<EnvironmentId, Vec<Assignment>>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            crate::repositories::assignments::of_environments(conn, tenant, environments)
        })
        .await
    }

    async fn assignments_of_groups(
        &self,
        tenant: TenantId,
        groups: Vec<TargetGroupId>,
    ) -> Result<HashMap<TargetGroupId, Vec<Assignment>>, StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            crate::repositories::assignments::of_groups(conn, tenant, groups)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::listed;

    #[test]
    fn a_long_list_of_names_shows_the_first_ten_and_counts_the_rest() {
        let names: Vec<String> = (1..=12).map(|i| format!("t{i:02}")).collect();
        let text = listed(&names);
        assert!(text.starts_with("`t01`, `t02`"), "{text}");
        assert!(text.ends_with("`t10` and 2 more"), "{text}");
        assert_eq!(listed(&names[..1]), "`t01`");
    }
}
