//! The `settings` table and the `SettingsRepository` port.

use crate::infra::connection::DbConnection;
use crate::infra::error::is_unique_violation;
use crate::infra::schema::settings;
use crate::Store;
use async_trait::async_trait;
use diesel::prelude::*;
use terrane_ports::{SettingsRepository, StoreError};

/// The value stored under `key`, if any.
fn stored(conn: &mut DbConnection, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .find(key)
        .select(settings::value)
        .first(conn)
        .optional()
}

#[async_trait]
impl SettingsRepository for Store {
    async fn get_or_insert(&self, key: String, candidate: String) -> Result<String, StoreError> {
        // Settings are not tenant data: no tenant transaction. Each statement commits on its
        // own, so when two processes race to insert, the loser's unique violation comes after
        // the winner's commit and the winner's value can be read.
        self.blocking(move |conn| {
            if let Some(value) = stored(conn, &key)? {
                return Ok(value);
            }
            let inserted = diesel::insert_into(settings::table)
                .values((settings::key.eq(&key), settings::value.eq(&candidate)))
                .execute(conn);
            match inserted {
                Ok(_) => Ok(candidate),
                Err(error) if is_unique_violation(&error) => stored(conn, &key)?.ok_or_else(|| {
                    // Settings are never deleted, so the winner's row is there.
                    StoreError::Internal(format!("the setting `{key}` vanished")).into()
                }),
                Err(error) => Err(error.into()),
            }
        })
        .await
    }
}
