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

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::types::sql::{UtcTimestamp, Uuid};

    /// The component catalog; unique by (tenant_id, name).
    components (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        kind -> Text,
        owner -> Nullable<Text>,
        lifecycle -> Text,
        description -> Nullable<Text>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::Text;
    use crate::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// Freeze windows; each belongs to an environment and is deleted with it.
    freeze_windows (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        starts_at -> UtcTimestamp,
        ends_at -> UtcTimestamp,
        reason -> Text,
        /// A JSON array of user ids.
        exceptions -> Jsonb,
        created_by -> Uuid,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::types::sql::{UtcTimestamp, Uuid};

    /// Target groups; unique by (tenant_id, name).
    target_groups (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::Bool;
    use crate::types::sql::{UtcTimestamp, Uuid};

    /// Target groups assigned to environments; unique by (environment_id, target_group_id),
    /// deleted with either.
    target_group_assignments (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        target_group_id -> Uuid,
        is_active -> Bool,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// Targets; unique by (environment_id, name), deleted with their environment.
    targets (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        /// When set, (environment_id, target_group_id) is an assignment.
        target_group_id -> Nullable<Uuid>,
        name -> Text,
        target_type -> Text,
        /// The connection object of the type.
        connection -> Jsonb,
        /// A flat object of string values (GIN-indexed on PostgreSQL).
        labels -> Jsonb,
        deployment_directory -> Nullable<Text>,
        health_status -> Text,
        health_message -> Nullable<Text>,
        last_health_check_at -> Nullable<UtcTimestamp>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::joinable!(target_group_assignments -> target_groups (target_group_id));
diesel::allow_tables_to_appear_in_same_query!(target_group_assignments, target_groups);
