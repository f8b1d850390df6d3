//! The `idempotency_keys` table and the `IdempotencyRepository` port.

use crate::infra::connection::DbConnection;
use crate::infra::error::{is_unique_violation, Failure};
use crate::infra::schema::idempotency_keys;
use crate::infra::tx::Access;
use crate::infra::types::sql::UtcTimestamp;
use crate::infra::types::{DbTime, DbUuid};
use crate::Store;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use terrane_domain::TenantId;
use terrane_ports::{IdempotencyBegin, IdempotencyRepository, StoreError, StoredResponse};

/// What a claimed key holds: who claimed it and, once complete, the answer.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = idempotency_keys)]
struct ClaimRow {
    fingerprint: String,
    status: Option<i32>,
    headers: Option<String>,
    body: Option<String>,
}

impl ClaimRow {
    /// What a request with `fingerprint` gets for a key already claimed.
    fn outcome_for(self, fingerprint: &str) -> Result<IdempotencyBegin, Failure> {
        if self.fingerprint != fingerprint {
            return Ok(IdempotencyBegin::Mismatch);
        }
        let Some(status) = self.status else {
            return Ok(IdempotencyBegin::InProgress);
        };
        let corrupt = |why: String| {
            Failure::Store(StoreError::Internal(format!(
                "stored idempotent response: {why}"
            )))
        };
        let status = u16::try_from(status).map_err(|e| corrupt(e.to_string()))?;
        let headers = match self.headers {
            Some(json) => serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?,
            None => Vec::new(),
        };
        Ok(IdempotencyBegin::Replay(StoredResponse {
            status,
            headers,
            body: self.body.unwrap_or_default(),
        }))
    }
}

/// The tenant's record of `key`.
fn claim(
    tenant: TenantId,
    key: &str,
) -> idempotency_keys::BoxedQuery<'_, crate::infra::connection::MultiBackend> {
    idempotency_keys::table
        .filter(idempotency_keys::tenant_id.eq(DbUuid(tenant.0)))
        .filter(idempotency_keys::key.eq(key))
        .into_boxed()
}

/// Claims `key`, relying on the primary key to let only one of two racing requests in.
fn begin(
    conn: &mut DbConnection,
    tenant: TenantId,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
    expires_before: DateTime<Utc>,
) -> Result<IdempotencyBegin, Failure> {
    diesel::delete(idempotency_keys::table)
        .filter(idempotency_keys::tenant_id.eq(DbUuid(tenant.0)))
        .filter(idempotency_keys::key.eq(key))
        .filter(idempotency_keys::created_at.lt(DbTime(expires_before)))
        .execute(conn)?;
    // In a savepoint: on PostgreSQL a failed statement spoils the whole transaction, and
    // the record that beat this one is still to be read.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::tenant_id.eq(DbUuid(tenant.0)),
                idempotency_keys::key.eq(key),
                idempotency_keys::fingerprint.eq(fingerprint),
                idempotency_keys::created_at.eq(DbTime(now)),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(IdempotencyBegin::Started),
        Err(error) if is_unique_violation(&error) => {
            let winner = claim(tenant, key)
                .select(ClaimRow::as_select())
                .first(conn)
                .optional()?;
            match winner {
                Some(row) => row.outcome_for(fingerprint),
                // The winner abandoned the key between its commit and this read: it was
                // in progress a moment ago, and a retry will find it free.
                None => Ok(IdempotencyBegin::InProgress),
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// Deletes the oldest records claimed before `$1`, at most `$2` of them, taking them with
/// `lock` (see [`IdempotencyRepository::purge`]).
fn purge_sql(lock: &str) -> String {
    format!(
        "DELETE FROM idempotency_keys WHERE (tenant_id, key) IN \
         (SELECT tenant_id, key FROM idempotency_keys WHERE created_at < $1 \
          ORDER BY created_at LIMIT $2{lock})"
    )
}

#[async_trait]
impl IdempotencyRepository for Store {
    async fn begin(
        &self,
        tenant: TenantId,
        key: String,
        fingerprint: String,
        now: DateTime<Utc>,
        expires_before: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            begin(conn, tenant, &key, &fingerprint, now, expires_before)
        })
        .await
    }

    async fn complete(
        &self,
        tenant: TenantId,
        key: String,
        response: StoredResponse,
    ) -> Result<(), StoreError> {
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| StoreError::Internal(format!("cannot encode response headers: {e}")))?;
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // Only a claim still in progress: an answer, once stored, is final.
            diesel::update(idempotency_keys::table)
                .filter(idempotency_keys::tenant_id.eq(DbUuid(tenant.0)))
                .filter(idempotency_keys::key.eq(&key))
                .filter(idempotency_keys::status.is_null())
                .set((
                    idempotency_keys::status.eq(i32::from(response.status)),
                    idempotency_keys::headers.eq(headers),
                    idempotency_keys::body.eq(response.body),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
    }

    async fn purge(&self, expires_before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        self.system_tx(move |conn| {
            // On PostgreSQL the rows are locked, skipping those another purge (or a request
            // reclaiming its key) holds, so that concurrent purges split the work instead of
            // waiting on each other; on SQLite the write transaction already excludes other
            // writers.
            let lock = match conn {
                DbConnection::Pg(_) => " FOR UPDATE SKIP LOCKED",
                DbConnection::Sqlite(_) => "",
            };
            let purged = diesel::sql_query(purge_sql(lock))
                .bind::<UtcTimestamp, _>(DbTime(expires_before))
                .bind::<BigInt, _>(i64::from(limit))
                .execute(conn)?;
            Ok(purged as u64)
        })
        .await
    }

    async fn abandon(&self, tenant: TenantId, key: String) -> Result<(), StoreError> {
        self.tenant_tx(tenant, Access::Write, move |conn| {
            // A completed record stays: its answer is what retries must get.
            diesel::delete(idempotency_keys::table)
                .filter(idempotency_keys::tenant_id.eq(DbUuid(tenant.0)))
                .filter(idempotency_keys::key.eq(&key))
                .filter(idempotency_keys::status.is_null())
                .execute(conn)?;
            Ok(())
        })
        .await
    }
}
