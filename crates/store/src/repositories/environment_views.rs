//! The read model of environments: an environment with its assignments, its freeze windows
//! and its current release, in one statement for one environment and for a page of them.
//!
//! The parts beside the environment's row come from correlated subqueries that aggregate
//! into JSON (`json_agg` on PostgreSQL, `json_group_array` on SQLite), decoded and put in
//! order here (an aggregate with its own `ORDER BY` sets up a sort for every environment,
//! which on PostgreSQL was a fifth of the database's work on a page of views). Each
//! subquery runs only when its table holds a row of the environment at all: SQLite tests
//! `id IN (SELECT environment_id FROM part)` on the part's index, opened once per statement,
//! and PostgreSQL an `EXISTS` on that index; otherwise the column is null, which reads as
//! no assignments, windows or lifecycle. An aggregating subquery sets up its scans and
//! its aggregate for every environment, found or not: on a page of 50 environments with no
//! assignments, windows or lifecycle that was a fifth to a quarter of the database's work on
//! both backends. One statement is one snapshot on its own, so on PostgreSQL the read runs
//! outside a transaction ([`Access::OneRead`]): a `GET` costs one round trip.

use crate::infra::connection::{natively, DbConnection};
use crate::infra::error::Failure;
use crate::infra::fixed::{
    fixed_around_bind, fixed_keys, fixed_with_bind, keyed, ByText, Fixed, FixedKey, FixedWithBind,
};
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::environments;
use crate::infra::tx::Access;
use crate::infra::types::{sql, DbTime, DbUuid};
use crate::repositories::environments::{default_order, matching, sorted, EnvironmentRow};
use crate::Store;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use serde::Deserialize;
use std::any::TypeId;
use terrane_domain::{
    Assignment, AssignmentId, AssignmentNumber, Environment, EnvironmentFilter, EnvironmentId,
    EnvironmentLifecycle, EnvironmentSort, FreezeWindow, FreezeWindowId, Page, TargetGroupId,
    TargetGroupName, TargetGroupNumber, TemplateId, TenantId, UserId, Variables,
};
use terrane_ports::{CurrentRelease, EnvironmentView, StoreError};
use uuid::Uuid;

/// A time as the JSON of both backends carries it: RFC 3339 in UTC with six fractional
/// digits, which is how SQLite stores it.
macro_rules! pg_time {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
        )
    };
}

/// The environment's assignments, in no order (see [`view_of`]).
const PG_ASSIGNMENTS: &str = "CASE WHEN EXISTS (SELECT FROM target_group_assignments x \
    WHERE x.environment_id = environments.id) THEN \
    (SELECT coalesce(json_agg(json_build_object(\
    'id', a.id, 'number', a.number, 'targetGroupId', a.target_group_id, \
    'targetGroupNumber', g.number, 'name', g.name, 'isActive', a.is_active) \
    ), '[]')::text \
    FROM target_group_assignments a JOIN target_groups g ON g.id = a.target_group_id \
    WHERE a.tenant_id = environments.tenant_id AND a.environment_id = environments.id) \
    END";
const SQLITE_ASSIGNMENTS: &str = "CASE WHEN environments.id IN \
    (SELECT environment_id FROM target_group_assignments) THEN \
    (SELECT coalesce(json_group_array(json_object(\
    'id', a.id, 'number', a.number, 'targetGroupId', a.target_group_id, \
    'targetGroupNumber', g.number, 'name', g.name, \
    'isActive', CASE WHEN a.is_active THEN json('true') ELSE json('false') END) \
    ), '[]') \
    FROM target_group_assignments a JOIN target_groups g ON g.id = a.target_group_id \
    WHERE a.tenant_id = environments.tenant_id AND a.environment_id = environments.id) \
    END";

/// The environment's freeze windows that end after the bound time, in no order (see
/// [`view_of`]); the statement goes on with the bound time and [`WINDOWS_TAIL`].
const PG_WINDOWS: &str = concat!(
    "CASE WHEN EXISTS (SELECT FROM freeze_windows x WHERE x.environment_id = environments.id) \
    THEN (SELECT coalesce(json_agg(json_build_object(",
    "'id', w.id, 'start', ",
    pg_time!("w.starts_at"),
    ", 'end', ",
    pg_time!("w.ends_at"),
    ", 'reason', w.reason, 'exceptions', w.exceptions, 'createdBy', w.created_by, ",
    "'createdAt', ",
    pg_time!("w.created_at"),
    ")), '[]')::text FROM freeze_windows w ",
    "WHERE w.tenant_id = environments.tenant_id AND w.environment_id = environments.id ",
    "AND w.ends_at > "
);
const SQLITE_WINDOWS: &str = "CASE WHEN environments.id IN \
    (SELECT environment_id FROM freeze_windows) THEN \
    (SELECT coalesce(json_group_array(json_object(\
    'id', w.id, 'start', w.starts_at, 'end', w.ends_at, 'reason', w.reason, \
    'exceptions', json(w.exceptions), 'createdBy', w.created_by, 'createdAt', w.created_at) \
    ), '[]') FROM freeze_windows w \
    WHERE w.tenant_id = environments.tenant_id AND w.environment_id = environments.id \
    AND w.ends_at > ";
const WINDOWS_TAIL: &str = ") END";

/// The release of the environment's latest succeeded deployment that belongs to one.
const PG_RELEASE: &str = concat!(
    "(SELECT json_build_object('id', r.id, 'name', r.name, 'deployedAt', ",
    pg_time!("l.deployed_at"),
    ")::text FROM latest_deployments l JOIN releases r ON r.id = l.release_id ",
    "WHERE l.tenant_id = environments.tenant_id AND l.environment_id = environments.id ",
    "ORDER BY l.deployed_at DESC, r.id DESC LIMIT 1)"
);
const SQLITE_RELEASE: &str = "(SELECT json_object('id', r.id, 'name', r.name, \
    'deployedAt', l.deployed_at) FROM latest_deployments l JOIN releases r ON r.id = l.release_id \
    WHERE l.tenant_id = environments.tenant_id AND l.environment_id = environments.id \
    ORDER BY l.deployed_at DESC, r.id DESC LIMIT 1)";
const NO_RELEASE: &str = "CAST(NULL AS text)";

/// The template the environment was born from, with its variables and attributes.
const PG_LIFECYCLE: &str = "CASE WHEN EXISTS (SELECT FROM environment_lifecycles x \
    WHERE x.environment_id = environments.id) THEN \
    (SELECT json_build_object('templateId', l.template_id, \
    'templateName', t.name, 'templateVersion', t.template_version, \
    'variables', l.variables, 'attributes', l.attributes)::text \
    FROM environment_lifecycles l JOIN environment_templates t ON t.id = l.template_id \
    WHERE l.tenant_id = environments.tenant_id AND l.environment_id = environments.id) END";
const SQLITE_LIFECYCLE: &str = "CASE WHEN environments.id IN \
    (SELECT environment_id FROM environment_lifecycles) THEN \
    (SELECT json_object('templateId', l.template_id, \
    'templateName', t.name, 'templateVersion', t.template_version, \
    'variables', json(l.variables), 'attributes', json(l.attributes)) \
    FROM environment_lifecycles l JOIN environment_templates t ON t.id = l.template_id \
    WHERE l.tenant_id = environments.tenant_id AND l.environment_id = environments.id) END";

/// The columns of a view beside the environment's row: its assignments, its windows that
/// have not ended at `now`, (when `with_release`) its current release and its lifecycle,
/// each as JSON, identified to the statement cache by the keys `A`, `W`, `R` and `L` (see
/// [`crate::infra::fixed`]). A keyed release column always holds the release.
fn parts<A: FixedKey, W: FixedKey, R: FixedKey, L: FixedKey>(
    conn: &DbConnection,
    now: DateTime<Utc>,
    with_release: bool,
) -> (
    OptionalJson<A>,
    Windows<W>,
    OptionalJson<R>,
    OptionalJson<L>,
) {
    debug_assert!(
        !R::KEYED || with_release != (TypeId::of::<R>() == TypeId::of::<ViewNoRelease>()),
        "a keyed release column holds the release, except the one keyed by ViewNoRelease"
    );
    let pg = matches!(conn, DbConnection::Pg(_));
    let (assignments, windows, release, lifecycle) = if pg {
        (PG_ASSIGNMENTS, PG_WINDOWS, PG_RELEASE, PG_LIFECYCLE)
    } else {
        (
            SQLITE_ASSIGNMENTS,
            SQLITE_WINDOWS,
            SQLITE_RELEASE,
            SQLITE_LIFECYCLE,
        )
    };
    // Constants of this crate, so the statement stays prepared on each connection.
    (
        keyed(assignments),
        fixed_around_bind(windows, DbTime(now), WINDOWS_TAIL),
        keyed(if with_release { release } else { NO_RELEASE }),
        keyed(lifecycle),
    )
}

fixed_keys!(
    /// The assignments column of one environment's view.
    ViewAssignments,
    /// The freeze windows column of one environment's view.
    ViewWindows,
    /// The current release column of one environment's view.
    ViewRelease,
    /// The release column of a page of views without it (always null).
    ViewNoRelease,
    /// The total of an unfiltered page.
    ViewTotal,
    /// The lifecycle column of one environment's view.
    ViewLifecycle,
);

/// A JSON column of [`parts`]: null when the environment has no row of that part (a list
/// of them then reads as empty without being parsed).
type OptionalJson<K> = Fixed<Nullable<Text>, K>;

/// The freeze window column of [`parts`]: the windows not over at the bound time.
type Windows<K> = FixedWithBind<Nullable<Text>, sql::UtcTimestamp, DbTime, K>;

/// One view as the statement answers it.
type ViewRow = (
    EnvironmentRow,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The number of the tenant's environments (an unfiltered page's total, see [`total_of`]);
/// the statement goes on with the bound tenant and `)`.
const TENANT_TOTAL: &str = "(SELECT count(*) FROM environments WHERE tenant_id = ";

/// One view of a page, with the total of the page's query.
type PageRow = (
    EnvironmentRow,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// `page` of the tenant's views, unfiltered and in the default order (what the dashboard
/// and most scripts ask for): a statement of diesel's own parts and keyed expressions, found
/// prepared by its type without writing out its text. `R` keys the release column:
/// [`ViewRelease`] with the release, [`ViewNoRelease`] without.
fn unfiltered_page<R: FixedKey>(
    conn: &mut DbConnection,
    tenant: TenantId,
    page: Page,
    with_release: bool,
    now: DateTime<Utc>,
) -> Result<Vec<PageRow>, Failure> {
    let (assignments, windows, release, lifecycle) =
        parts::<ViewAssignments, ViewWindows, R, ViewLifecycle>(conn, now, with_release);
    let tenant = DbUuid(tenant.0);
    Ok(natively!(conn, c => keyed_statement(environments::table
        .filter(environments::tenant_id.eq(tenant))
        .order_by(default_order())
        .limit(page.take().into())
        .offset(page.skip().into())
        .select((
            EnvironmentRow::as_select(),
            assignments,
            windows,
            release,
            lifecycle,
            fixed_with_bind::<Nullable<BigInt>, sql::Uuid, _, ViewTotal>(TENANT_TOTAL, tenant),
        )))
        .load(c))?)
}

/// `query`, which must be found prepared by its type (debug builds check it).
fn keyed_statement<Q: diesel::query_builder::QueryId>(query: Q) -> Q {
    debug_assert!(Q::HAS_STATIC_QUERY_ID, "{}", std::any::type_name::<Q>());
    query
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AssignmentJson {
    id: Uuid,
    number: i64,
    target_group_id: Uuid,
    target_group_number: i64,
    name: String,
    is_active: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WindowJson {
    id: Uuid,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
    exceptions: Vec<Uuid>,
    created_by: Uuid,
    created_at: DateTime<Utc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LifecycleJson {
    template_id: Uuid,
    template_name: String,
    template_version: String,
    variables: serde_json::Map<String, serde_json::Value>,
    attributes: serde_json::Map<String, serde_json::Value>,
}

/// The string values of a JSON object (variables and attributes are strings).
fn strings(map: serde_json::Map<String, serde_json::Value>) -> Variables {
    map.into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReleaseJson {
    id: Uuid,
    name: String,
    deployed_at: DateTime<Utc>,
}

/// Fails only on what no version of terrane writes.
fn decoded<T: serde::de::DeserializeOwned>(
    env: Uuid,
    what: &str,
    json: &str,
) -> Result<T, Failure> {
    serde_json::from_str(json).map_err(|e| {
        Failure::Store(StoreError::Internal(format!(
            "the {what} of environment {env} could not be read: {e}"
        )))
    })
}

/// The list a part's column holds: none when it is null.
fn listed<T: serde::de::DeserializeOwned>(
    env: Uuid,
    what: &str,
    json: Option<&str>,
) -> Result<Vec<T>, Failure> {
    json.map_or(Ok(Vec::new()), |json| decoded(env, what, json))
}

/// The view a statement answered, with its assignments ordered by group name, then id, and
/// its freeze windows by start, then id (names byte-wise, as both backends store them).
fn view_of(
    (row, assignments, windows, release, lifecycle): ViewRow,
) -> Result<EnvironmentView, Failure> {
    let environment = Environment::try_from(row)?;
    let id = environment.id;
    let mut assignments: Vec<Assignment> =
        listed::<AssignmentJson>(id.0, "assignments", assignments.as_deref())?
            .into_iter()
            .map(|a| {
                let target_group_name = TargetGroupName::parse(&a.name).map_err(|e| {
                    Failure::Store(StoreError::Internal(format!(
                        "target group {} has an invalid name stored ({}): {}",
                        a.target_group_id, a.name, e.message
                    )))
                })?;
                Ok(Assignment {
                    id: AssignmentId(a.id),
                    number: AssignmentNumber(a.number),
                    environment_id: id,
                    environment_number: environment.number,
                    target_group_id: TargetGroupId(a.target_group_id),
                    target_group_number: TargetGroupNumber(a.target_group_number),
                    target_group_name,
                    is_active: a.is_active,
                })
            })
            .collect::<Result<_, Failure>>()?;
    assignments.sort_unstable_by(|a, b| {
        (a.target_group_name.as_str(), a.id.0).cmp(&(b.target_group_name.as_str(), b.id.0))
    });
    let mut freeze_windows: Vec<FreezeWindow> =
        listed::<WindowJson>(id.0, "freeze windows", windows.as_deref())?
            .into_iter()
            .map(|w| FreezeWindow {
                id: FreezeWindowId(w.id),
                tenant: environment.tenant,
                environment_id: id,
                start: w.start,
                end: w.end,
                reason: w.reason,
                exceptions: w.exceptions.into_iter().map(UserId).collect(),
                created_by: UserId(w.created_by),
                created_at: w.created_at,
            })
            .collect();
    freeze_windows.sort_unstable_by_key(|w| (w.start, w.id.0));
    let current_release = release
        .map(|json| decoded::<ReleaseJson>(id.0, "current release", &json))
        .transpose()?
        .map(|r| CurrentRelease {
            id: r.id,
            name: r.name,
            deployed_at: r.deployed_at,
        });
    let lifecycle = lifecycle
        .map(|json| decoded::<LifecycleJson>(id.0, "lifecycle", &json))
        .transpose()?
        .map(|l| EnvironmentLifecycle {
            environment: id,
            template: TemplateId(l.template_id),
            template_name: l.template_name,
            template_version: l.template_version,
            variables: strings(l.variables),
            attributes: strings(l.attributes),
        });
    Ok(EnvironmentView {
        environment,
        assignments,
        freeze_windows,
        current_release,
        lifecycle,
    })
}

impl Store {
    /// See [`terrane_ports::EnvironmentRepository::view`].
    pub(crate) async fn environment_view(
        &self,
        tenant: TenantId,
        id: EnvironmentId,
        now: DateTime<Utc>,
    ) -> Result<EnvironmentView, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            // Keyed: the statement is found prepared by its type, its text never written out.
            let (assignments, windows, release, lifecycle) =
                parts::<ViewAssignments, ViewWindows, ViewRelease, ViewLifecycle>(conn, now, true);
            let row: Option<ViewRow> = natively!(conn, c => environments::table
                .filter(environments::id.eq(DbUuid(id.0)))
                .filter(environments::tenant_id.eq(DbUuid(tenant.0)))
                .select((
                    EnvironmentRow::as_select(),
                    assignments,
                    windows,
                    release,
                    lifecycle,
                ))
                .first(c)
                .optional())?;
            view_of(row.ok_or(Failure::Store(StoreError::NotFound))?)
        })
        .await
    }

    /// See [`terrane_ports::EnvironmentRepository::view_page`].
    pub(crate) async fn environment_view_page(
        &self,
        tenant: TenantId,
        filter: EnvironmentFilter,
        sort: EnvironmentSort,
        page: Page,
        with_release: bool,
        now: DateTime<Utc>,
    ) -> Result<(Vec<EnvironmentView>, u64), StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let unfiltered =
                filter == EnvironmentFilter::default() && sort == EnvironmentSort::default();
            let (rows, total) = paged(conn, page, |conn, page| {
                let rows = match (unfiltered, with_release) {
                    (true, true) => unfiltered_page::<ViewRelease>(conn, tenant, page, true, now)?,
                    (true, false) => {
                        unfiltered_page::<ViewNoRelease>(conn, tenant, page, false, now)?
                    }
                    (false, _) => {
                        filtered_page(conn, tenant, &filter, sort, page, with_release, now)?
                    }
                };
                Ok(rows
                    .into_iter()
                    .map(|(row, a, w, r, l, total)| ((row, a, w, r, l), total))
                    .collect())
            })?;
            let views = rows.into_iter().map(view_of).collect::<Result<_, _>>()?;
            Ok((views, total))
        })
        .await
    }
}

/// `page` of the tenant's views matching `filter`, sorted by `sort`: filters and sorts make
/// each page's statement its own, found prepared by its text.
fn filtered_page(
    conn: &mut DbConnection,
    tenant: TenantId,
    filter: &EnvironmentFilter,
    sort: EnvironmentSort,
    page: Page,
    with_release: bool,
    now: DateTime<Utc>,
) -> Result<Vec<PageRow>, Failure> {
    let (assignments, windows, release, lifecycle) =
        parts::<ByText, ByText, ByText, ByText>(conn, now, with_release);
    Ok(sorted(matching(tenant, filter), sort)
        .limit(page.take().into())
        .offset(page.skip().into())
        .select((
            EnvironmentRow::as_select(),
            assignments,
            windows,
            release,
            lifecycle,
            total_of(matching(tenant, filter).count()),
        ))
        .load(conn)?)
}
