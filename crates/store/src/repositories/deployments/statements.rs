//! The SQL the ledger writes with, spelled out by hand: the compare-and-set of a transition
//! and the upserts of the latest-deployment table (both backends), and on PostgreSQL the
//! writes that are one statement each, recording a deployment with its first history row, and
//! a transition with its history row and latest-deployment row. Each of those has a fixed SQL
//! text with everything that varies bound, so diesel keeps it prepared; and being one
//! statement, it needs no transaction around it.

use super::rows::{DeploymentRow, HistoryRow};
use crate::infra::fixed::push_binds;
use crate::infra::types::{sql, DbTime};
use crate::repositories::events::{push_insert_from, EventBinds};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use terrane_ports::Transition;

/// The columns of `latest_deployments`, in the order every statement writes them.
macro_rules! latest_columns {
    () => {
        "INSERT INTO latest_deployments \
         (tenant_id, component_id, environment_id, deployment_id, release_id, version, digest, \
          deployed_by, deployed_at) "
    };
}

/// Replaces the latest deployment of a component and environment, unless the one there
/// succeeded later.
macro_rules! latest_on_conflict {
    () => {
        " ON CONFLICT (tenant_id, component_id, environment_id) DO UPDATE SET \
         deployment_id = excluded.deployment_id, release_id = excluded.release_id, \
         version = excluded.version, digest = excluded.digest, deployed_by = excluded.deployed_by, \
         deployed_at = excluded.deployed_at \
         WHERE excluded.deployed_at >= latest_deployments.deployed_at"
    };
}

/// Puts back the latest deployment of a component and environment that still stands as
/// succeeded, after the one there was rolled back.
pub(super) const RECOMPUTE_LATEST: &str = concat!(
    latest_columns!(),
    "SELECT tenant_id, component_id, environment_id, id, release_id, version, digest, \
            deployed_by, finished_at \
     FROM deployments \
     WHERE tenant_id = $1 AND component_id = $2 AND environment_id = $3 \
       AND status = 'succeeded' AND finished_at IS NOT NULL \
     ORDER BY finished_at DESC, id DESC LIMIT 1",
    latest_on_conflict!()
);

/// Makes `$ty` a statement of both backends that `$walk` writes with the `AstPass` `$out`
/// (`$this` is the value): its text is this crate's, what varies is bound.
macro_rules! both_backends {
    ($ty:ty, |$this:ident, $out:ident| $walk:block) => {
        impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for $ty {
            fn walk_ast<'b>(
                &'b self,
                mut $out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
            ) -> QueryResult<()> {
                let $this = self;
                $walk
                Ok(())
            }
        }

        impl diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for $ty {
            fn walk_ast<'b>(
                &'b self,
                mut $out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>,
            ) -> QueryResult<()> {
                let $this = self;
                $walk
                Ok(())
            }
        }

        impl RunQueryDsl<diesel::pg::PgConnection> for $ty {}

        impl RunQueryDsl<diesel::sqlite::SqliteConnection> for $ty {}
    };
}

/// The compare-and-set of a transition, one `UPDATE` on both backends: the columns a
/// transition changes, only where the deployment's revision and status are still those the
/// decision read (and, for a start, its environment's version still that of the gates). Its
/// row count is 1 when it was written, 0 when the compare-and-set missed.
///
/// The text is one of two (with or without the environment's version), kept prepared:
/// diesel prepares its own `UPDATE` statements anew on every run, which on the SQLite writer
/// was a sixth of the work of a transition.
pub(super) struct CompareAndSet {
    next: DeploymentRow,
    expected_version: i64,
    expected_status: &'static str,
    /// The version the deployment's environment must still have.
    environment_version: Option<i64>,
}

impl CompareAndSet {
    pub(super) fn new(transition: &Transition) -> Self {
        CompareAndSet {
            next: DeploymentRow::from(&transition.next),
            expected_version: transition.current.revision,
            expected_status: transition.current.status.as_str(),
            environment_version: transition.environment_version,
        }
    }
}

impl diesel::query_builder::QueryId for CompareAndSet {
    type QueryId = ();
    // Found by its text, one of two.
    const HAS_STATIC_QUERY_ID: bool = false;
}

both_backends!(CompareAndSet, |this, out| {
    use diesel::sql_types::Integer;
    let next = &this.next;
    out.push_sql("UPDATE deployments SET status = ");
    out.push_bind_param::<Text, _>(&next.status)?;
    out.push_sql(", description = ");
    out.push_bind_param::<Nullable<Text>, _>(&next.description)?;
    out.push_sql(", metadata = ");
    out.push_bind_param::<sql::Jsonb, _>(&next.metadata)?;
    out.push_sql(", approval_round = ");
    out.push_bind_param::<Integer, _>(&next.approval_round)?;
    out.push_sql(", revision = ");
    out.push_bind_param::<BigInt, _>(&next.revision)?;
    out.push_sql(", started_at = ");
    out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&next.started_at)?;
    out.push_sql(", finished_at = ");
    out.push_bind_param::<Nullable<sql::UtcTimestamp>, _>(&next.finished_at)?;
    out.push_sql(", updated_at = ");
    out.push_bind_param::<sql::UtcTimestamp, _>(&next.updated_at)?;
    out.push_sql(" WHERE id = ");
    out.push_bind_param::<sql::Uuid, _>(&next.id)?;
    out.push_sql(" AND tenant_id = ");
    out.push_bind_param::<sql::Uuid, _>(&next.tenant_id)?;
    out.push_sql(" AND revision = ");
    out.push_bind_param::<BigInt, _>(&this.expected_version)?;
    out.push_sql(" AND status = ");
    out.push_bind_param::<Text, _>(this.expected_status)?;
    if let Some(environment_version) = &this.environment_version {
        out.push_sql(" AND EXISTS (SELECT 1 FROM environments WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&next.environment_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&next.tenant_id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(environment_version)?;
        out.push_sql(")");
    }
});

/// Makes a deployment that just succeeded (`row`, at `deployed_at`) the latest of its
/// component and environment, unless one that succeeded later is there already; kept
/// prepared on both backends (diesel's `sql_query` is prepared anew on every run).
pub(super) struct UpsertLatest {
    pub(super) row: DeploymentRow,
    pub(super) deployed_at: DbTime,
}

impl diesel::query_builder::QueryId for UpsertLatest {
    // One text on each backend: found prepared by its type.
    type QueryId = UpsertLatest;
    const HAS_STATIC_QUERY_ID: bool = true;
}

both_backends!(UpsertLatest, |this, out| {
    let row = &this.row;
    out.push_sql(concat!(latest_columns!(), "VALUES ("));
    push_binds!(out;
        sql::Uuid => &row.tenant_id,
        sql::Uuid => &row.component_id,
        sql::Uuid => &row.environment_id,
        sql::Uuid => &row.id,
        Nullable<sql::Uuid> => &row.release_id,
        Text => &row.version,
        Nullable<Text> => &row.digest,
        Text => &row.deployed_by,
        sql::UtcTimestamp => &this.deployed_at,
    );
    out.push_sql(concat!(")", latest_on_conflict!()));
});

/// A transition on PostgreSQL in one statement, prepared once per connection: the
/// compare-and-set on revision and status (and, for a start, on the version of the
/// environment its gates were decided on); only when it matched, the history row and, for a deployment that
/// succeeded, its row of `latest_deployments`. The statement's row count is the history rows
/// written: 0 when the compare-and-set missed.
///
/// The text is fixed (what varies is bound), so diesel keeps it prepared; its own UPDATE
/// statements are parsed and planned again on every run.
pub(super) struct TransitionWrite {
    set: CompareAndSet,
    history: HistoryRow,
    /// For a deployment that succeeded, when (its row of `latest_deployments` is then written).
    succeeded_at: Option<DbTime>,
    event: EventBinds,
}

impl TransitionWrite {
    pub(super) fn new(transition: &Transition, actor: &str) -> Self {
        let Transition {
            current,
            next,
            entry,
            ..
        } = transition;
        TransitionWrite {
            set: CompareAndSet::new(transition),
            history: HistoryRow::new(current.tenant, current.id, entry),
            succeeded_at: next.succeeded_at().map(DbTime),
            event: EventBinds::new(
                actor,
                terrane_domain::NewEvent::deployment_moved(next, current.status, entry.at),
            ),
        }
    }
}

impl diesel::query_builder::QueryId for TransitionWrite {
    type QueryId = ();
    // Cached by its text, which is one of four (with or without the environment's version and
    // the latest deployment).
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for TransitionWrite {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        let history = &self.history;
        let next = &self.set.next;
        out.push_sql("WITH moved AS (");
        self.set.walk_ast(out.reborrow())?;
        out.push_sql(" RETURNING id)");
        if let Some(succeeded_at) = &self.succeeded_at {
            out.push_sql(concat!(", latest AS (", latest_columns!(), "SELECT "));
            push_binds!(out;
                sql::Uuid => &next.tenant_id,
                sql::Uuid => &next.component_id,
                sql::Uuid => &next.environment_id,
            );
            out.push_sql(", moved.id, ");
            push_binds!(out;
                Nullable<sql::Uuid> => &next.release_id,
                Text => &next.version,
                Nullable<Text> => &next.digest,
                Text => &next.deployed_by,
                sql::UtcTimestamp => succeeded_at,
            );
            out.push_sql(concat!(" FROM moved", latest_on_conflict!(), ")"));
        }
        out.push_sql(", history AS (");
        push_history_from(out.reborrow(), history, "moved")?;
        out.push_sql(" RETURNING 1) ");
        push_insert_from(out, &self.event, "moved")
    }
}

impl RunQueryDsl<PgConnection> for TransitionWrite {}

/// A new deployment on PostgreSQL in one statement: the row, inserted only when its
/// environment is the tenant's and still at the version the decision to record it was taken
/// on, its component the tenant's, and its release (if any) the tenant's, and then its first
/// history row and its event. The row count is 1 when it was written, 0 when a reference
/// was not usable.
pub(super) struct GuardedInsert {
    pub(super) row: DeploymentRow,
    pub(super) history: HistoryRow,
    pub(super) environment_version: i64,
    pub(super) event: EventBinds,
}

impl diesel::query_builder::QueryId for GuardedInsert {
    // Its text never changes: cached by type, without building the text to look it up.
    type QueryId = GuardedInsert;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<diesel::pg::Pg> for GuardedInsert {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> QueryResult<()> {
        use diesel::sql_types::Integer;
        let row = &self.row;
        out.push_sql(
            "WITH added AS (INSERT INTO deployments (id, tenant_id, component_id, \
             environment_id, release_id, version, digest, commit_sha, deployed_by, created_by, \
             description, metadata, status, approval_round, revision, created_at, started_at, \
             finished_at, updated_at, committed_at) SELECT ",
        );
        push_binds!(out;
            sql::Uuid => &row.id,
            sql::Uuid => &row.tenant_id,
            sql::Uuid => &row.component_id,
            sql::Uuid => &row.environment_id,
            Nullable<sql::Uuid> => &row.release_id,
            Text => &row.version,
            Nullable<Text> => &row.digest,
            Nullable<Text> => &row.commit_sha,
            Text => &row.deployed_by,
            sql::Uuid => &row.created_by,
            Nullable<Text> => &row.description,
            sql::Jsonb => &row.metadata,
            Text => &row.status,
            Integer => &row.approval_round,
            BigInt => &row.revision,
            sql::UtcTimestamp => &row.created_at,
            Nullable<sql::UtcTimestamp> => &row.started_at,
            Nullable<sql::UtcTimestamp> => &row.finished_at,
            sql::UtcTimestamp => &row.updated_at,
            Nullable<sql::UtcTimestamp> => &row.committed_at,
        );
        out.push_sql(" WHERE EXISTS (SELECT 1 FROM environments WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.environment_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(&self.environment_version)?;
        out.push_sql(") AND EXISTS (SELECT 1 FROM components WHERE id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.component_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(") AND (");
        out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.release_id)?;
        out.push_sql(" IS NULL OR EXISTS (SELECT 1 FROM releases WHERE id = ");
        out.push_bind_param::<Nullable<sql::Uuid>, _>(&row.release_id)?;
        out.push_sql(" AND tenant_id = ");
        out.push_bind_param::<sql::Uuid, _>(&row.tenant_id)?;
        out.push_sql(")) RETURNING id), history AS (");
        push_history_from(out.reborrow(), &self.history, "added")?;
        out.push_sql(" RETURNING 1) ");
        push_insert_from(out, &self.event, "added")
    }
}

impl RunQueryDsl<PgConnection> for GuardedInsert {}

/// The end of [`GuardedInsert`] and [`TransitionWrite`]: `history`, for each row of the CTE
/// `from` (at most one), whose `id` is the deployment's.
fn push_history_from<'b>(
    mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    history: &'b HistoryRow,
    from: &'static str,
) -> QueryResult<()> {
    out.push_sql(
        "INSERT INTO deployment_history \
         (id, tenant_id, deployment_id, from_status, to_status, actor, at, reason) SELECT ",
    );
    push_binds!(out; sql::Uuid => &history.id, sql::Uuid => &history.tenant_id);
    out.push_sql(", ");
    out.push_sql(from);
    out.push_sql(".id, ");
    push_binds!(out;
        Nullable<Text> => &history.from_status,
        Text => &history.to_status,
        Nullable<sql::Uuid> => &history.actor,
        sql::UtcTimestamp => &history.at,
        Nullable<Text> => &history.reason,
    );
    out.push_sql(" FROM ");
    out.push_sql(from);
    Ok(())
}
