//! The `webhooks` and `webhook_deliveries` tables: the `WebhookRepository` port (requests of
//! one organization) and the `WebhookQueue` port (the delivery worker, across organizations).
//!
//! A webhook's deliveries are numbered (`sequence`) in the order they were enqueued, and a
//! claim takes only the first pending delivery of each webhook: a later one waits until the
//! earlier has succeeded or is dead, so a receiver gets them in order. The claim is a lease in
//! the row (`claimed_until`), taken on PostgreSQL with `FOR UPDATE SKIP LOCKED` in a system
//! transaction (as the provisioning claims), so replicas claim disjoint deliveries and a
//! delivery whose replica died is claimed again once its lease has run out.

use crate::infra::connection::DbConnection;
use crate::infra::error::Failure;
use crate::infra::paging::{paged, total_of};
use crate::infra::schema::{webhook_deliveries, webhook_fan_out, webhooks};
use crate::infra::tx::Access;
use crate::infra::types::{sql, DbTime, DbUuid};
use crate::infra::versioned::{locked, unchanged, Versioned};
use crate::repositories::events;
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::max;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use terrane_domain::time::truncate;
use terrane_domain::{
    DeliveryStatus, EventCursor, EventTypeFilter, NewEvent, Page, SubjectKind, TenantId, UserId,
    Webhook, WebhookChanges, WebhookDelivery, WebhookDeliveryId, WebhookId, WebhookSecret,
    WebhookUrl,
};
use terrane_ports::{ClaimedDelivery, StoreError, WebhookQueue, WebhookRepository};

/// One row of `webhooks`.
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhooks, treat_none_as_null = true)]
struct WebhookRow {
    id: DbUuid,
    tenant_id: DbUuid,
    url: String,
    secret: String,
    types: String,
    active: bool,
    version: i64,
    created_by: DbUuid,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&Webhook> for WebhookRow {
    fn from(webhook: &Webhook) -> Self {
        WebhookRow {
            id: DbUuid(webhook.id.0),
            tenant_id: DbUuid(webhook.tenant.0),
            url: webhook.url.as_str().to_owned(),
            secret: webhook.secret.expose().to_owned(),
            types: webhook
                .types
                .iter()
                .map(EventTypeFilter::as_str)
                .collect::<Vec<_>>()
                .join(","),
            active: webhook.active,
            version: webhook.version,
            created_by: DbUuid(webhook.created_by.0),
            created_at: DbTime(webhook.created_at),
            updated_at: DbTime(webhook.updated_at),
        }
    }
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = Failure;

    /// Fails only on filters that no version of terrane writes (edited by hand, say).
    fn try_from(row: WebhookRow) -> Result<Self, Failure> {
        let types = row
            .types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(EventTypeFilter::parse)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| {
                Failure::Store(StoreError::Internal(format!(
                    "webhook {} has invalid types stored: {why}",
                    row.id.0
                )))
            })?;
        Ok(Webhook {
            id: WebhookId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            url: WebhookUrl::stored(row.url),
            secret: WebhookSecret::stored(row.secret),
            types,
            active: row.active,
            version: row.version,
            created_by: UserId(row.created_by.0),
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

/// One row of `webhook_deliveries`, without its place in the queue and its lease (which
/// only enqueueing and the claims write).
#[derive(Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = webhook_deliveries, treat_none_as_null = true)]
struct DeliveryRow {
    id: DbUuid,
    tenant_id: DbUuid,
    webhook_id: DbUuid,
    event_id: String,
    event_type: String,
    body: String,
    status: String,
    attempts: i32,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    last_duration_ms: Option<i64>,
    last_attempt_at: Option<DbTime>,
    next_attempt_at: Option<DbTime>,
    retry_from: DbTime,
    version: i64,
    created_at: DbTime,
    updated_at: DbTime,
}

impl From<&WebhookDelivery> for DeliveryRow {
    fn from(d: &WebhookDelivery) -> Self {
        DeliveryRow {
            id: DbUuid(d.id.0),
            tenant_id: DbUuid(d.tenant.0),
            webhook_id: DbUuid(d.webhook.0),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            body: d.body.clone(),
            status: d.status.as_str().to_owned(),
            attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
            last_status_code: d.last_status_code.map(i32::from),
            last_error: d.last_error.clone(),
            last_duration_ms: d
                .last_duration_ms
                .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
            last_attempt_at: d.last_attempt_at.map(|at| DbTime(truncate(at))),
            next_attempt_at: d.next_attempt_at.map(|at| DbTime(truncate(at))),
            retry_from: DbTime(truncate(d.retry_from)),
            version: d.version,
            created_at: DbTime(truncate(d.created_at)),
            updated_at: DbTime(truncate(d.updated_at)),
        }
    }
}

impl TryFrom<DeliveryRow> for WebhookDelivery {
    type Error = Failure;

    fn try_from(row: DeliveryRow) -> Result<Self, Failure> {
        let status: DeliveryStatus = row.status.parse().map_err(|why: String| {
            Failure::Store(StoreError::Internal(format!(
                "webhook delivery {} has an invalid status stored: {why}",
                row.id.0
            )))
        })?;
        Ok(WebhookDelivery {
            id: WebhookDeliveryId(row.id.0),
            tenant: TenantId(row.tenant_id.0),
            webhook: WebhookId(row.webhook_id.0),
            event_id: row.event_id,
            event_type: row.event_type,
            body: row.body,
            status,
            attempts: u32::try_from(row.attempts).unwrap_or(0),
            last_status_code: row.last_status_code.and_then(|c| u16::try_from(c).ok()),
            last_error: row.last_error,
            last_duration_ms: row.last_duration_ms.and_then(|ms| u64::try_from(ms).ok()),
            last_attempt_at: row.last_attempt_at.map(|t| t.0),
            next_attempt_at: row.next_attempt_at.map(|t| t.0),
            retry_from: row.retry_from.0,
            version: row.version,
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        })
    }
}

fn find(
    conn: &mut DbConnection,
    tenant: TenantId,
    id: WebhookId,
) -> Result<Option<Webhook>, Failure> {
    webhooks::table
        .filter(webhooks::id.eq(DbUuid(id.0)))
        .filter(webhooks::tenant_id.eq(DbUuid(tenant.0)))
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?
        .map(Webhook::try_from)
        .transpose()
}

fn find_delivery(
    conn: &mut DbConnection,
    tenant: TenantId,
    webhook: WebhookId,
    id: WebhookDeliveryId,
) -> Result<Option<WebhookDelivery>, Failure> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(DbUuid(id.0)))
        .filter(webhook_deliveries::webhook_id.eq(DbUuid(webhook.0)))
        .filter(webhook_deliveries::tenant_id.eq(DbUuid(tenant.0)))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()?
        .map(WebhookDelivery::try_from)
        .transpose()
}

/// Writes `next` over the delivery at `expected_version`, releasing any claim.
fn write_delivery(
    conn: &mut DbConnection,
    expected_version: i64,
    next: &WebhookDelivery,
) -> Result<(), Failure> {
    let updated = diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::id.eq(DbUuid(next.id.0)))
        .filter(webhook_deliveries::tenant_id.eq(DbUuid(next.tenant.0)))
        .filter(webhook_deliveries::version.eq(expected_version))
        .set((
            DeliveryRow::from(next),
            webhook_deliveries::claimed_until.eq(None::<DbTime>),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(unchanged(
            conn,
            Versioned::WebhookDeliveries,
            next.tenant,
            next.id.0,
        ));
    }
    Ok(())
}

#[async_trait]
impl WebhookRepository for Store {
    async fn create(&self, webhook: Webhook) -> Result<Webhook, StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(webhook.tenant, Access::Write, move |conn| {
            diesel::insert_into(webhooks::table)
                .values(WebhookRow::from(&webhook))
                .execute(conn)?;
            events::record(
                conn,
                &actor,
                &NewEvent::created(&webhook, webhook.created_at),
            )?;
            Ok(webhook)
        })
        .await
    }

    async fn get(&self, tenant: TenantId, id: WebhookId) -> Result<Webhook, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find(conn, tenant, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn list(&self, tenant: TenantId, page: Page) -> Result<(Vec<Webhook>, u64), StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(webhooks::table
                    .filter(webhooks::tenant_id.eq(DbUuid(tenant.0)))
                    .order_by(webhooks::created_at.asc())
                    .then_order_by(webhooks::id.asc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        WebhookRow::as_select(),
                        total_of(
                            webhooks::table
                                .filter(webhooks::tenant_id.eq(DbUuid(tenant.0)))
                                .into_boxed()
                                .count(),
                        ),
                    ))
                    .load(conn)?)
            })?;
            let webhooks = rows
                .into_iter()
                .map(Webhook::try_from)
                .collect::<Result<_, _>>()?;
            Ok((webhooks, total))
        })
        .await
    }

    async fn update(
        &self,
        tenant: TenantId,
        id: WebhookId,
        expected_version: Option<i64>,
        changes: WebhookChanges,
        now: DateTime<Utc>,
    ) -> Result<Webhook, StoreError> {
        let now = truncate(now);
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let current = locked(
                conn,
                Versioned::Webhooks,
                tenant,
                id.0,
                expected_version,
                |conn| find(conn, tenant, id),
                |row| row.version,
            )?;
            let next = current.apply(changes, now);
            let updated = diesel::update(webhooks::table)
                .filter(webhooks::id.eq(DbUuid(id.0)))
                .filter(webhooks::tenant_id.eq(DbUuid(tenant.0)))
                .filter(webhooks::version.eq(current.version))
                .set(WebhookRow::from(&next))
                .execute(conn)?;
            if updated == 0 {
                return Err(unchanged(conn, Versioned::Webhooks, tenant, id.0));
            }
            events::record(conn, &actor, &NewEvent::updated(&next, next.updated_at))?;
            Ok(next)
        })
        .await
    }

    async fn delete(
        &self,
        tenant: TenantId,
        id: WebhookId,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let actor = terrane_ports::current_actor();
        self.tenant_tx(tenant, Access::Write, move |conn| {
            let mut delete = diesel::delete(webhooks::table)
                .filter(webhooks::id.eq(DbUuid(id.0)))
                .filter(webhooks::tenant_id.eq(DbUuid(tenant.0)))
                .into_boxed();
            if let Some(expected) = expected_version {
                delete = delete.filter(webhooks::version.eq(expected));
            }
            if delete.execute(conn)? == 0 {
                return Err(unchanged(conn, Versioned::Webhooks, tenant, id.0));
            }
            events::record_removed(conn, &actor, SubjectKind::Webhook, tenant, id.0)?;
            Ok(())
        })
        .await
    }

    async fn deliveries(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        page: Page,
    ) -> Result<(Vec<WebhookDelivery>, u64), StoreError> {
        self.tenant_tx(tenant, Access::Read, move |conn| {
            if find(conn, tenant, webhook)?.is_none() {
                return Err(StoreError::NotFound.into());
            }
            let mine = || {
                webhook_deliveries::table
                    .filter(webhook_deliveries::webhook_id.eq(DbUuid(webhook.0)))
                    .filter(webhook_deliveries::tenant_id.eq(DbUuid(tenant.0)))
            };
            let (rows, total) = paged(conn, page, |conn, page| {
                Ok(mine()
                    .order_by(webhook_deliveries::sequence.desc())
                    .limit(page.take().into())
                    .offset(page.skip().into())
                    .select((
                        DeliveryRow::as_select(),
                        total_of(mine().into_boxed().count()),
                    ))
                    .load(conn)?)
            })?;
            let deliveries = rows
                .into_iter()
                .map(WebhookDelivery::try_from)
                .collect::<Result<_, _>>()?;
            Ok((deliveries, total))
        })
        .await
    }

    async fn delivery(
        &self,
        tenant: TenantId,
        webhook: WebhookId,
        id: WebhookDeliveryId,
    ) -> Result<WebhookDelivery, StoreError> {
        self.tenant_tx(tenant, Access::OneRead, move |conn| {
            find_delivery(conn, tenant, webhook, id)?.ok_or(StoreError::NotFound.into())
        })
        .await
    }

    async fn replace_delivery(
        &self,
        expected_version: i64,
        next: WebhookDelivery,
    ) -> Result<WebhookDelivery, StoreError> {
        self.tenant_tx(next.tenant, Access::Write, move |conn| {
            write_delivery(conn, expected_version, &next)?;
            Ok(next)
        })
        .await
    }
}

#[derive(QueryableByName)]
struct ClaimedId {
    #[diesel(sql_type = sql::Uuid)]
    id: DbUuid,
}

/// The first pending delivery of each active webhook that is due and not claimed, oldest
/// due first. `$1` is now, `$2` the limit.
const DUE: &str = "SELECT d.id FROM webhook_deliveries d \
     JOIN webhooks w ON w.id = d.webhook_id \
     WHERE d.status = 'pending' AND w.active \
       AND d.next_attempt_at <= $1 \
       AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
           WHERE e.webhook_id = d.webhook_id AND e.status = 'pending' AND e.sequence < d.sequence) \
     ORDER BY d.next_attempt_at, d.sequence \
     LIMIT $2";

#[async_trait]
impl WebhookQueue for Store {
    async fn enqueue(&self, deliveries: Vec<WebhookDelivery>) -> Result<(), StoreError> {
        self.system_tx(move |conn| enqueue(conn, &deliveries)).await
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = truncate(now);
        self.system_tx(move |conn| {
            let ids: Vec<ClaimedId> = match conn {
                DbConnection::Pg(pg) => {
                    diesel::sql_query(format!("{DUE} FOR UPDATE OF d SKIP LOCKED"))
                        .bind::<sql::UtcTimestamp, _>(DbTime(now))
                        .bind::<BigInt, _>(i64::from(limit))
                        .load(pg)?
                }
                DbConnection::Sqlite(sqlite) => diesel::sql_query(DUE)
                    .bind::<sql::UtcTimestamp, _>(DbTime(now))
                    .bind::<BigInt, _>(i64::from(limit))
                    .load(sqlite)?,
            };
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<DbUuid> = ids.into_iter().map(|row| row.id).collect();
            diesel::update(webhook_deliveries::table)
                .filter(webhook_deliveries::id.eq_any(ids.clone()))
                .set(webhook_deliveries::claimed_until.eq(DbTime(truncate(lease_until))))
                .execute(conn)?;
            let rows: Vec<(DeliveryRow, WebhookRow)> = webhook_deliveries::table
                .inner_join(webhooks::table)
                .filter(webhook_deliveries::id.eq_any(ids))
                .order_by(webhook_deliveries::next_attempt_at.asc())
                .then_order_by(webhook_deliveries::sequence.asc())
                .select((DeliveryRow::as_select(), WebhookRow::as_select()))
                .load(conn)?;
            rows.into_iter()
                .map(|(delivery, webhook)| {
                    Ok(ClaimedDelivery {
                        delivery: delivery.try_into()?,
                        webhook: webhook.try_into()?,
                    })
                })
                .collect()
        })
        .await
    }

    async fn record(&self, expected_version: i64, next: WebhookDelivery) -> Result<(), StoreError> {
        self.tenant_tx(next.tenant, Access::Write, move |conn| {
            write_delivery(conn, expected_version, &next)
        })
        .await
    }

    async fn fan_out_cursor(&self) -> Result<Option<EventCursor>, StoreError> {
        self.system_read(|conn| {
            let (tx, seq): (Option<i64>, Option<i64>) = webhook_fan_out::table
                .filter(webhook_fan_out::id.eq(1))
                .select((webhook_fan_out::cursor_tx, webhook_fan_out::cursor_seq))
                .first(conn)?;
            Ok(tx.zip(seq).map(|(tx, seq)| EventCursor { tx, seq }))
        })
        .await
    }

    async fn active_webhooks(&self, tenants: Vec<TenantId>) -> Result<Vec<Webhook>, StoreError> {
        self.system_read(move |conn| {
            let tenants: Vec<DbUuid> = tenants.into_iter().map(|t| DbUuid(t.0)).collect();
            webhooks::table
                .filter(webhooks::tenant_id.eq_any(tenants))
                .filter(webhooks::active.eq(true))
                .order_by(webhooks::created_at.asc())
                .then_order_by(webhooks::id.asc())
                .select(WebhookRow::as_select())
                .load(conn)?
                .into_iter()
                .map(Webhook::try_from)
                .collect()
        })
        .await
    }

    async fn advance_fan_out(
        &self,
        from: Option<EventCursor>,
        to: EventCursor,
        deliveries: Vec<WebhookDelivery>,
    ) -> Result<bool, StoreError> {
        self.system_tx(move |conn| {
            // The compare-and-set first: on PostgreSQL a concurrent fan-out waits here for
            // this transaction, then finds the cursor moved and changes nothing.
            let set = (
                webhook_fan_out::cursor_tx.eq(Some(to.tx)),
                webhook_fan_out::cursor_seq.eq(Some(to.seq)),
            );
            let moved = match from {
                None => diesel::update(webhook_fan_out::table)
                    .filter(webhook_fan_out::id.eq(1))
                    .filter(webhook_fan_out::cursor_tx.is_null())
                    .set(set)
                    .execute(conn)?,
                Some(from) => diesel::update(webhook_fan_out::table)
                    .filter(webhook_fan_out::id.eq(1))
                    .filter(webhook_fan_out::cursor_tx.eq(from.tx))
                    .filter(webhook_fan_out::cursor_seq.eq(from.seq))
                    .set(set)
                    .execute(conn)?,
            };
            if moved == 0 {
                return Ok(false);
            }
            let ids: Vec<DbUuid> = deliveries.iter().map(|d| DbUuid(d.webhook.0)).collect();
            let existing: Vec<DbUuid> = webhooks::table
                .filter(webhooks::id.eq_any(ids))
                .select(webhooks::id)
                .load(conn)?;
            let kept: Vec<WebhookDelivery> = deliveries
                .into_iter()
                .filter(|d| existing.iter().any(|id| id.0 == d.webhook.0))
                .collect();
            enqueue(conn, &kept)?;
            Ok(true)
        })
        .await
    }
}

/// Appends `deliveries` to their webhooks' queues, in the order given. The webhook's row is
/// locked first on PostgreSQL, so two writers never number two deliveries alike.
pub(crate) fn enqueue(
    conn: &mut DbConnection,
    deliveries: &[WebhookDelivery],
) -> Result<(), Failure> {
    for delivery in deliveries {
        if let DbConnection::Pg(pg) = conn {
            webhooks::table
                .filter(webhooks::id.eq(DbUuid(delivery.webhook.0)))
                .select(webhooks::id)
                .for_update()
                .load::<DbUuid>(pg)?;
        }
        let exists: i64 = webhooks::table
            .filter(webhooks::id.eq(DbUuid(delivery.webhook.0)))
            .filter(webhooks::tenant_id.eq(DbUuid(delivery.tenant.0)))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(
                StoreError::MissingReference(format!("webhook {}", delivery.webhook)).into(),
            );
        }
        let last: Option<i64> = webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(DbUuid(delivery.webhook.0)))
            .select(max(webhook_deliveries::sequence))
            .first(conn)?;
        diesel::insert_into(webhook_deliveries::table)
            .values((
                DeliveryRow::from(delivery),
                webhook_deliveries::sequence.eq(last.unwrap_or(0) + 1),
            ))
            .execute(conn)?;
    }
    Ok(())
}
