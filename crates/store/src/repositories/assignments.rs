//! Reading assignments (FlexDeploy's "targets") with the numbers of the assignment, its
//! environment and its group, by environment or by group, one query each.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::schema::{environments, target_group_assignments, target_groups};
use crate::infra::types::DbUuid;
use crate::repositories::target_groups::corrupt_name;
use diesel::prelude::*;
use std::collections::HashMap;
use terrane_domain::{
    Assignment, AssignmentId, AssignmentNumber, EnvironmentId, EnvironmentNumber, TargetGroupId,
    TargetGroupName, TargetGroupNumber, TenantId,
};

/// What an [`Assignment`] is read from: the assignment's id and number, its environment's
/// id and number, its group's id, number and name, and its flag.
type Row = (DbUuid, i64, DbUuid, i64, DbUuid, i64, String, bool);

const COLUMNS: (
    target_group_assignments::id,
    target_group_assignments::number,
    target_group_assignments::environment_id,
    environments::number,
    target_group_assignments::target_group_id,
    target_groups::number,
    target_groups::name,
    target_group_assignments::is_active,
) = (
    target_group_assignments::id,
    target_group_assignments::number,
    target_group_assignments::environment_id,
    environments::number,
    target_group_assignments::target_group_id,
    target_groups::number,
    target_groups::name,
    target_group_assignments::is_active,
);

/// The tenant's assignments with their group and environment, to filter, order and select
/// from.
fn joined(
    tenant: TenantId,
) -> diesel::dsl::Filter<
    diesel::dsl::InnerJoin<
        diesel::dsl::InnerJoin<target_group_assignments::table, target_groups::table>,
        environments::table,
    >,
    diesel::dsl::Eq<target_group_assignments::tenant_id, DbUuid>,
> {
    target_group_assignments::table
        .inner_join(target_groups::table)
        .inner_join(environments::table)
        .filter(target_group_assignments::tenant_id.eq(DbUuid(tenant.0)))
}

fn assignment(row: Row) -> Result<Assignment, Failure> {
    let (id, number, environment, environment_number, group, group_number, name, is_active) = row;
    Ok(Assignment {
        id: AssignmentId(id.0),
        number: AssignmentNumber(number),
        environment_id: EnvironmentId(environment.0),
        environment_number: EnvironmentNumber(environment_number),
        target_group_id: TargetGroupId(group.0),
        target_group_number: TargetGroupNumber(group_number),
        target_group_name: TargetGroupName::parse(&name).map_err(corrupt_name(group.0, &name))?,
        is_active,
    })
}

/// The assignments of each of `environments`, ordered by group name.
pub(crate) fn of_environments(
    conn: &mut DbConnection,
    tenant: TenantId,
    environments: Vec<EnvironmentId>,
) -> Result<HashMap<EnvironmentId, Vec<Assignment>>, Failure> {
    let ids: Vec<DbUuid> = environments.iter().map(|e| DbUuid(e.0)).collect();
    let rows = joined(tenant)
        .filter(target_group_assignments::environment_id.eq_any(ids))
        .order_by(target_groups::name.asc())
        .then_order_by(target_group_assignments::id.asc())
        .select(COLUMNS)
        .load::<Row>(conn)?;
    let mut found: HashMap<EnvironmentId, Vec<Assignment>> = HashMap::new();
    for row in rows {
        let assignment = assignment(row)?;
        found
            .entry(assignment.environment_id)
            .or_default()
            .push(assignment);
    }
    Ok(found)
}

/// The assignments of each of `groups`, ordered by environment order index and name.
pub(crate) fn of_groups(
    conn: &mut DbConnection,
    tenant: TenantId,
    groups: Vec<TargetGroupId>,
) -> Result<HashMap<TargetGroupId, Vec<Assignment>>, Failure> {
    let ids: Vec<DbUuid> = groups.iter().map(|g| DbUuid(g.0)).collect();
    let rows = joined(tenant)
        .filter(target_group_assignments::target_group_id.eq_any(ids))
        .order_by(environments::order_index.asc())
        .then_order_by(environments::name.asc())
        .then_order_by(target_group_assignments::id.asc())
        .select(COLUMNS)
        .load::<Row>(conn)?;
    let mut found: HashMap<TargetGroupId, Vec<Assignment>> = HashMap::new();
    for row in rows {
        let assignment = assignment(row)?;
        found
            .entry(assignment.target_group_id)
            .or_default()
            .push(assignment);
    }
    Ok(found)
}
