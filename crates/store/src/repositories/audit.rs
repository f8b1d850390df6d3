//! The audit log's tables (`audit_entries`, `audit_heads`, `audit_progress`) and the
//! `AuditRepository` port. Appending is one transaction that first compares and sets the
//! chainer's progress, then each organization's head, then inserts the entries: a second
//! replica appending the same events waits for the first one's commit at the first
//! statement, finds the progress moved, and writes nothing.

use crate::infra::connection::{natively, DbConnection, MultiBackend};
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::{audit_entries, audit_heads, audit_progress};
use crate::infra::tx::Access;
use crate::infra::types::{DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use diesel::prelude::*;
use std::collections::HashMap;
use terrane_domain::{
    AuditEntry, AuditEntryId, AuditFilter, AuditSubject, CanonicalJson, ChainHash, ChainHead,
    ChainedEntry, EventCursor, Page, TenantId,
};
use terrane_ports::{AuditRepository, StoreError};

/// One row of `audit_entries`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_entries)]
struct EntryRow {
    tenant_id: DbUuid,
    sequence: i64,
    event_id: String,
    event_type: String,
    subject_kind: String,
    subject_id: DbUuid,
    actor: String,
    at: DbTime,
    data: String,
    previous_hash: String,
    hash: String,
}

impl EntryRow {
    fn of(chained: &ChainedEntry) -> Result<Self, Failure> {
        let entry = &chained.entry;
        Ok(Self {
            tenant_id: DbUuid(entry.organization_id.0),
            sequence: sequence_column(entry.sequence)?,
            event_id: entry.id.as_str().to_owned(),
            event_type: entry.event_type.clone(),
            subject_kind: entry.subject.kind.clone(),
            subject_id: DbUuid(entry.subject.id),
            actor: entry.actor.clone(),
            at: DbTime(entry.at),
            data: entry.data.as_str().to_owned(),
            previous_hash: chained.previous_hash.to_hex(),
            hash: chained.hash.to_hex(),
        })
    }
}

/// A hash column as stored. Text that is not a hash (changed by hand) reads as a hash no
/// entry can have, so verification names the entry instead of the read failing.
fn stored_hash(text: &str) -> ChainHash {
    ChainHash::parse_hex(text).unwrap_or(ChainHash::from_bytes([0xff; 32]))
}

impl From<EntryRow> for ChainedEntry {
    fn from(row: EntryRow) -> Self {
        ChainedEntry {
            entry: AuditEntry {
                id: AuditEntryId::new(row.event_id),
                // A negative sequence cannot be stored (CHECK > 0).
                sequence: row.sequence.unsigned_abs(),
                organization_id: TenantId(row.tenant_id.0),
                event_type: row.event_type,
                subject: AuditSubject {
                    kind: row.subject_kind,
                    id: row.subject_id.0,
                },
                actor: row.actor,
                at: row.at.0,
                data: CanonicalJson::from_stored(row.data),
            },
            previous_hash: stored_hash(&row.previous_hash),
            hash: stored_hash(&row.hash),
        }
    }
}

fn sequence_column(sequence: u64) -> Result<i64, Failure> {
    i64::try_from(sequence).map_err(|_| {
        Failure::Store(StoreError::Internal(format!(
            "audit sequence {sequence} is out of range"
        )))
    })
}

fn head_of(sequence: i64, hash: &str) -> ChainHead {
    ChainHead {
        sequence: sequence.unsigned_abs(),
        hash: stored_hash(hash),
    }
}

fn conflict(what: &str) -> Failure {
    Failure::Store(StoreError::Conflict(format!(
        "the audit chain moved while appending ({what})"
    )))
}

/// A failed write as a [`conflict`] about `what` when another appender wrote the same key
/// first, and as itself otherwise.
fn conflict_if_taken(what: &str) -> impl FnOnce(diesel::result::Error) -> Failure + '_ {
    move |error| {
        if is_unique_violation(&error) {
            conflict(what)
        } else {
            error.into()
        }
    }
}

/// The organization's entries matching `filter`.
fn matching(
    tenant: TenantId,
    filter: &AuditFilter,
) -> audit_entries::BoxedQuery<'static, MultiBackend> {
    let mut query = audit_entries::table
        .filter(audit_entries::tenant_id.eq(DbUuid(tenant.0)))
        .into_boxed();
    if let Some(actor) = &filter.actor {
        query = query.filter(audit_entries::actor.eq(actor.clone()));
    }
    if let Some(kind) = &filter.subject_kind {
        query = query.filter(audit_entries::subject_kind.eq(kind.clone()));
    }
    if let Some(id) = filter.subject_id {
        query = query.filter(audit_entries::subject_id.eq(DbUuid(id)));
    }
    if let Some(from) = filter.from {
        query = query.filter(audit_entries::at.ge(DbTime(from)));
    }
    if let Some(to) = filter.to {
        query = query.filter(audit_entries::at.lt(DbTime(to)));
    }
    query
}

/// Entries one `INSERT` writes: well under both backends' limits on bound values.
const INSERT_BATCH: usize = 100;

/// Moves the chainer's progress from `after` to `through`, or fails with a conflict when it
/// is no longer `after`. On PostgreSQL the update locks the row: a concurrent append waits
/// here for this transaction to end, then sees the moved progress.
fn advance(
    conn: &mut DbConnection,
    after: Option<EventCursor>,
    through: EventCursor,
) -> Result<(), Failure> {
    let target = audit_progress::table.filter(audit_progress::id.eq(1));
    let set = audit_progress::event_cursor.eq(Some(through.to_string()));
    let moved = match after {
        None => diesel::update(target.filter(audit_progress::event_cursor.is_null()))
            .set(set)
            .execute(conn)?,
        Some(after) => {
            diesel::update(target.filter(audit_progress::event_cursor.eq(after.to_string())))
                .set(set)
                .execute(conn)?
        }
    };
    if moved == 1 {
        Ok(())
    } else {
        Err(conflict("another replica chained these events first"))
    }
}

/// Moves `tenant`'s head from where `first` links to `last`, or fails with a conflict.
fn move_head(
    conn: &mut DbConnection,
    tenant: TenantId,
    first: &ChainedEntry,
    last: &ChainedEntry,
) -> Result<(), Failure> {
    let from = first.entry.sequence - 1;
    let to_sequence = sequence_column(last.entry.sequence)?;
    if from == 0 {
        diesel::insert_into(audit_heads::table)
            .values((
                audit_heads::tenant_id.eq(DbUuid(tenant.0)),
                audit_heads::sequence.eq(to_sequence),
                audit_heads::hash.eq(last.hash.to_hex()),
            ))
            .execute(conn)
            .map_err(conflict_if_taken("the organization's chain was started"))?;
        return Ok(());
    }
    let moved = diesel::update(
        audit_heads::table
            .filter(audit_heads::tenant_id.eq(DbUuid(tenant.0)))
            .filter(audit_heads::sequence.eq(sequence_column(from)?))
            .filter(audit_heads::hash.eq(first.previous_hash.to_hex())),
    )
    .set((
        audit_heads::sequence.eq(to_sequence),
        audit_heads::hash.eq(last.hash.to_hex()),
    ))
    .execute(conn)?;
    if moved == 1 {
        Ok(())
    } else {
        Err(conflict("the organization's head moved"))
    }
}

#[async_trait]
impl AuditRepository for Store {
    async fn progress(&self) -> Result<Option<EventCursor>, StoreError> {
        self.system_read(|conn| {
            let cursor: Option<String> = audit_progress::table
                .filter(audit_progress::id.eq(1))
                .select(audit_progress::event_cursor)
                .first(conn)?;
            cursor
                .map(|text| {
                    text.parse::<EventCursor>().map_err(|reason| {
                        Failure::Store(StoreError::Internal(format!(
                            "the audit progress holds no cursor: {reason}"
                        )))
                    })
                })
                .transpose()
        })
        .await
    }

    async fn heads(
        &self,
        tenants: Vec<TenantId>,
    ) -> Result<HashMap<TenantId, ChainHead>, StoreError> {
        self.system_read(move |conn| {
            let ids: Vec<DbUuid> = tenants.iter().map(|t| DbUuid(t.0)).collect();
            let rows: Vec<(DbUuid, i64, String)> = audit_heads::table
                .filter(audit_heads::tenant_id.eq_any(ids))
                .select((
                    audit_heads::tenant_id,
                    audit_heads::sequence,
                    audit_heads::hash,
                ))
                .load(conn)?;
            let mut heads: HashMap<TenantId, ChainHead> =
                tenants.iter().map(|t| (*t, ChainHead::EMPTY)).collect();
            for (tenant, sequence, hash) in rows {
                heads.insert(TenantId(tenant.0), head_of(sequence, &hash));
            }
            Ok(heads)
        })
        .await
    }

    async fn append(
        &self,
        after: Option<EventCursor>,
        through: EventCursor,
        entries: Vec<ChainedEntry>,
    ) -> Result<(), StoreError> {
        self.system_tx(move |conn| {
            advance(conn, after, through)?;
            // Each organization's entries, in chain order, move its head once.
            let mut spans: Vec<(TenantId, usize, usize)> = Vec::new();
            for (at, chained) in entries.iter().enumerate() {
                let tenant = chained.entry.organization_id;
                match spans.iter_mut().find(|(t, _, _)| *t == tenant) {
                    Some(span) => span.2 = at,
                    None => spans.push((tenant, at, at)),
                }
            }
            for (tenant, first, last) in spans {
                move_head(conn, tenant, &entries[first], &entries[last])?;
            }
            let rows = entries
                .iter()
                .map(EntryRow::of)
                .collect::<Result<Vec<_>, _>>()?;
            // A statement per batch, not per entry: a round trip and a plan each.
            for batch in rows.chunks(INSERT_BATCH) {
                // On each backend's own connection: the multi-backend has no multi-row insert.
                natively!(conn, c => diesel::insert_into(audit_entries::table)
                    .values(batch)
                    .execute(c))
                .map_err(conflict_if_taken("an entry is chained already"))?;
            }
            Ok(())
        })
        .await
    }

    async fn head(&self, tenant: TenantId) -> Result<ChainHead, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let row: Option<(i64, String)> = audit_heads::table
                .filter(audit_heads::tenant_id.eq(DbUuid(tenant.0)))
                .select((audit_heads::sequence, audit_heads::hash))
                .first(conn)
                .optional()?;
            Ok(row.map_or(ChainHead::EMPTY, |(sequence, hash)| {
                head_of(sequence, &hash)
            }))
        })
        .await
    }

    async fn chain(
        &self,
        tenant: TenantId,
        after: u64,
        through: u64,
        take: u32,
    ) -> Result<Vec<ChainedEntry>, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let rows: Vec<EntryRow> = audit_entries::table
                .filter(audit_entries::tenant_id.eq(DbUuid(tenant.0)))
                .filter(audit_entries::sequence.gt(sequence_column(after)?))
                .filter(audit_entries::sequence.le(sequence_column(through)?))
                .order_by(audit_entries::sequence.asc())
                .limit(take.into())
                .select(EntryRow::as_select())
                .load(conn)?;
            Ok(rows.into_iter().map(ChainedEntry::from).collect())
        })
        .await
    }

    async fn list(
        &self,
        tenant: TenantId,
        filter: AuditFilter,
        page: Page,
    ) -> Result<(Vec<ChainedEntry>, u64), StoreError> {
        // One statement: the total rides on every row of the page.
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(matching(tenant, &filter)
                    .order_by(audit_entries::sequence.asc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        EntryRow::as_select(),
                        total_of(matching(tenant, &filter).count()),
                    ))
                    .load(conn)?)
            })?;
            Ok((rows.into_iter().map(ChainedEntry::from).collect(), total))
        })
        .await
    }
}
