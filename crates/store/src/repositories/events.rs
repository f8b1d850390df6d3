//! The `events` table: events written beside each change, and the `EventLog` port.
//!
//! Order and the cursor: events are read in `(tx, id)` order. On PostgreSQL `tx` is the id of
//! the writing transaction (a column default, `pg_current_xact_id()`), and a read returns
//! only events whose `tx` is below the oldest transaction still running when it began
//! (`pg_snapshot_xmin(pg_current_snapshot())`): all of those have ended, so an event that
//! commits later has a larger `tx` than any returned, and a reader resuming after the last
//! one it got cannot miss it. No lock is held and no write waits for another. On SQLite
//! writes are serialized, so ids are drawn in commit order; `tx` is always 0.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::fixed::{keyed, push_binds, ByText};
use crate::infra::schema::events;
use crate::infra::types::{sql, DbJson, DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::backend::Backend;
use diesel::expression::{
    is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping,
};
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::sql_types::{BigInt, Bool, Text};
use terrane_domain::{Event, EventCursor, EventType, NewEvent, Subject, TenantId};
use terrane_ports::{EventLog, StoreError};

/// A row of `events` as written (`id` and `tx` are drawn by the database).
#[derive(Debug, Insertable)]
#[diesel(table_name = events)]
struct NewEventRow<'a> {
    tenant_id: DbUuid,
    event_type: &'a str,
    subject_kind: &'a str,
    subject_id: DbUuid,
    actor: &'a str,
    at: DbTime,
    data: DbJson,
}

/// A row of `events`, read whole.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
struct EventRow {
    id: i64,
    tx: i64,
    tenant_id: DbUuid,
    event_type: String,
    subject_kind: String,
    subject_id: DbUuid,
    actor: String,
    at: DbTime,
    data: DbJson,
}

impl TryFrom<EventRow> for Event {
    type Error = Failure;

    fn try_from(row: EventRow) -> Result<Event, Failure> {
        let event_type = EventType::parse(&row.event_type).map_err(|e| {
            Failure::Store(StoreError::Internal(format!(
                "event {} has an invalid type stored: {e}",
                row.id
            )))
        })?;
        Ok(Event {
            id: EventCursor {
                tx: row.tx,
                seq: row.id,
            },
            event_type,
            organization_id: TenantId(row.tenant_id.0),
            subject: Subject {
                kind: row.subject_kind,
                id: row.subject_id.0,
            },
            actor: row.actor,
            at: row.at.0,
            data: row.data.0,
        })
    }
}

/// Stores `event` by `actor`, in the caller's transaction (or as a statement of its own,
/// which then needs one around it with the change it records).
pub(crate) fn record(
    conn: &mut DbConnection,
    actor: &str,
    event: &NewEvent,
) -> Result<(), Failure> {
    diesel::insert_into(events::table)
        .values(NewEventRow {
            tenant_id: DbUuid(event.organization_id.0),
            event_type: event.event_type.as_str(),
            subject_kind: &event.subject.kind,
            subject_id: DbUuid(event.subject.id),
            actor,
            at: DbTime(event.at),
            data: DbJson(event.data.clone()),
        })
        .execute(conn)?;
    Ok(())
}

/// The time of a change whose port gives none (deletions): now, to the microsecond.
pub(crate) fn now() -> DateTime<Utc> {
    terrane_domain::time::truncate(Utc::now())
}

/// Stores that the `kind` with `id` was deleted, by `actor`, now.
pub(crate) fn record_removed(
    conn: &mut DbConnection,
    actor: &str,
    kind: terrane_domain::SubjectKind,
    tenant: TenantId,
    id: uuid::Uuid,
) -> Result<(), Failure> {
    record(conn, actor, &NewEvent::removed(kind, tenant, id, now()))
}

/// `(events.tx, events.id) > (tx, seq)`: the events past a cursor. Written as one row
/// comparison, both backends read it as where to start in the `(tx, id)` index and go on in
/// its order; spelled `tx > $1 OR (tx = $1 AND id > $2)`, neither could start there, and a
/// reader's every poll walked the index from its first event.
#[derive(Debug, Clone, Copy)]
struct Past(EventCursor);

impl Expression for Past {
    type SqlType = Bool;
}

impl<DB> QueryFragment<DB> for Past
where
    DB: Backend + HasSqlType<BigInt>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(events.tx, events.id) > (");
        out.push_bind_param::<BigInt, i64>(&self.0.tx)?;
        out.push_sql(", ");
        out.push_bind_param::<BigInt, i64>(&self.0.seq)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for Past {
    type QueryId = Past;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<QS> SelectableExpression<QS> for Past where Past: AppearsOnTable<QS> {}

impl AppearsOnTable<events::table> for Past {}

impl<GB> ValidGrouping<GB> for Past {
    type IsAggregate = is_aggregate::Never;
}

/// The events after `after`, in `(tx, id)` order, that no running transaction can still
/// come before (see the module's documentation).
fn settled_after(
    conn: &mut DbConnection,
    tenant: Option<TenantId>,
    after: Option<EventCursor>,
    types: &[EventType],
    take: u32,
) -> Result<Vec<Event>, Failure> {
    let mut query = events::table.into_boxed();
    if let Some(tenant) = tenant {
        query = query.filter(events::tenant_id.eq(DbUuid(tenant.0)));
    }
    if let Some(cursor) = after {
        query = query.filter(Past(cursor));
    }
    if !types.is_empty() {
        let types: Vec<String> = types.iter().map(|t| t.as_str().to_owned()).collect();
        query = query.filter(events::event_type.eq_any(types));
    }
    if let DbConnection::Pg(_) = conn {
        // A constant of this crate, so the read stays prepared.
        query = query.filter(keyed::<Bool, ByText>(
            "events.tx < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        ));
    }
    query
        .order_by(events::tx.asc())
        .then_order_by(events::id.asc())
        .limit(i64::from(take))
        .select(EventRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Event::try_from)
        .collect()
}

#[async_trait]
impl EventLog for Store {
    async fn after(
        &self,
        tenant: TenantId,
        after: Option<EventCursor>,
        types: &[EventType],
        take: u32,
    ) -> Result<Vec<Event>, StoreError> {
        let types = types.to_vec();
        // One statement: on PostgreSQL one round trip, outside a transaction.
        self.tenant_tx(tenant, crate::infra::tx::Access::OneRead, move |conn| {
            settled_after(conn, Some(tenant), after, &types, take)
        })
        .await
    }

    async fn all_after(
        &self,
        after: Option<EventCursor>,
        take: u32,
    ) -> Result<Vec<Event>, StoreError> {
        self.system_read(move |conn| settled_after(conn, None, after, &[], take))
            .await
    }

    async fn purge(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.system_tx(move |conn| {
            // On PostgreSQL the rows are locked, skipping those another purge holds, so that
            // replicas purging at once split the work instead of waiting on each other; on
            // SQLite the write transaction already excludes other writers.
            let lock = match conn {
                DbConnection::Pg(_) => " FOR UPDATE SKIP LOCKED",
                DbConnection::Sqlite(_) => "",
            };
            // The log's first `limit` events, in its order: those older than the cutoff go.
            // The log is written as time goes, so its first events are its oldest, and the
            // position index finds them without an index on the time.
            let purged = diesel::sql_query(format!(
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM (SELECT id, at FROM events ORDER BY tx, id LIMIT $1{lock}) first \
                  WHERE at < $2)"
            ))
            .bind::<BigInt, _>(i64::from(limit))
            .bind::<sql::UtcTimestamp, _>(DbTime(before))
            .execute(conn)?;
            Ok(purged as u64)
        })
        .await
    }
}

/// An event's values, bound into a hand-written PostgreSQL statement (see
/// [`push_insert_from`]).
pub(crate) struct EventBinds {
    tenant_id: DbUuid,
    event_type: String,
    subject_kind: String,
    subject_id: DbUuid,
    actor: String,
    at: DbTime,
    data: DbJson,
}

impl EventBinds {
    pub(crate) fn new(actor: &str, event: NewEvent) -> EventBinds {
        EventBinds {
            tenant_id: DbUuid(event.organization_id.0),
            event_type: event.event_type.as_str().to_owned(),
            subject_kind: event.subject.kind,
            subject_id: DbUuid(event.subject.id),
            actor: actor.to_owned(),
            at: DbTime(event.at),
            data: DbJson(event.data),
        }
    }
}

/// `record_event(...)` of the migration, for `event`, its data extended by `data_extra` (SQL
/// text of this crate evaluated for the row, say `|| jsonb_build_object('number', number)`):
/// how an `INSERT ... RETURNING` on PostgreSQL records the event of the row it inserts.
pub(crate) struct RecordCall {
    pub(crate) event: EventBinds,
    pub(crate) data_extra: &'static str,
}

crate::infra::fixed::pg_expression!(RecordCall: BigInt, |call, out| {
    out.push_sql("record_event(");
    push_values(out.reborrow(), &call.event)?;
    out.push_sql(" ");
    out.push_sql(call.data_extra);
    out.push_sql(")");
});

/// The event's values, bound, in the column order of `events` (and of `record_event`).
fn push_values<'b>(
    mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    event: &'b EventBinds,
) -> QueryResult<()> {
    push_binds!(out;
        sql::Uuid => &event.tenant_id,
        Text => &event.event_type,
        Text => &event.subject_kind,
        sql::Uuid => &event.subject_id,
        Text => &event.actor,
        sql::UtcTimestamp => &event.at,
        sql::Jsonb => &event.data,
    );
    Ok(())
}

/// The end of a one-statement write on PostgreSQL: the event, once for each row of the CTE
/// `from` (the row the write changed, if it did). The statement's row count is then the
/// number of events written, which is that of rows changed.
pub(crate) fn push_insert_from<'b>(
    mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    event: &'b EventBinds,
    from: &'static str,
) -> QueryResult<()> {
    out.push_sql(
        "INSERT INTO events (tenant_id, event_type, subject_kind, subject_id, actor, at, data) \
         SELECT ",
    );
    push_values(out.reborrow(), event)?;
    out.push_sql(" FROM ");
    out.push_sql(from);
    Ok(())
}
