//! The tables, written by hand for both backends. `Uuid` and `UtcTimestamp` are the local
//! types of [`crate::types::sql`]: native on PostgreSQL, TEXT on SQLite.

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Integer, Nullable, SmallInt, Text};
    use crate::types::sql::{UtcTimestamp, Uuid};

    /// Environments, one row each; unique by (tenant_id, name).
    environments (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        display_name -> Text,
        description -> Nullable<Text>,
        order_index -> Integer,
        is_production -> Bool,
        is_active -> Bool,
        is_build_environment -> Bool,
        deployment_timeout -> BigInt,
        health_check_interval -> BigInt,
        required_approvals -> SmallInt,
        require_separation_of_duties -> Bool,
        promotion_policy -> Text,
        status -> Text,
        request_id -> Nullable<Uuid>,
        expires_at -> Nullable<UtcTimestamp>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::types::sql::{UtcTimestamp, Uuid};

    /// Claimed `Idempotency-Key`s and, once complete, their answers.
    idempotency_keys (tenant_id, key) {
        tenant_id -> Uuid,
        key -> Text,
        fingerprint -> Text,
        /// NULL while the request holding the key runs.
        status -> Nullable<Integer>,
        /// A JSON array of `[name, value]` pairs.
        headers -> Nullable<Text>,
        body -> Nullable<Text>,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::Text;

    /// Installation-wide settings; not tenant data.
    settings (key) {
        key -> Text,
        value -> Text,
    }
}
