//! The tables, written by hand for both backends. `Uuid` and `UtcTimestamp` are the local
//! types of [`crate::infra::types::sql`]: native on PostgreSQL, TEXT on SQLite.

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Integer, Nullable, SmallInt, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Environments, one row each; unique by (tenant_id, lower(name)) and by number.
    environments (id) {
        id -> Uuid,
        /// Server-wide, from the `entity_numbers` sequence (see [`crate::infra::numbers`]).
        number -> BigInt,
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
        /// The reaper's lease while it deprovisions the environment (environment requests).
        deprovision_claimed_until -> Nullable<UtcTimestamp>,
        /// The project it belongs to, if any.
        project_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Projects: groups of environments; unique by (tenant_id, lower(name)) and by number.
    projects (id) {
        id -> Uuid,
        /// Server-wide, from the `entity_numbers` sequence (see [`crate::infra::numbers`]).
        number -> BigInt,
        tenant_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        project_manager -> Text,
        creator -> Text,
        version -> BigInt,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

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
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

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
    use diesel::sql_types::{Bool, Text};
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

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
        /// Whether its beginning was recorded as an event.
        started_recorded -> Bool,
        /// Whether its end was recorded as an event.
        ended_recorded -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Target groups; unique by (tenant_id, lower(name)) and by number.
    target_groups (id) {
        id -> Uuid,
        /// Server-wide, from the `entity_numbers` sequence (see [`crate::infra::numbers`]).
        number -> BigInt,
        tenant_id -> Uuid,
        name -> Text,
        display_name -> Text,
        description -> Nullable<Text>,
        is_active -> Bool,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Bool};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Target groups assigned to environments; unique by (environment_id, target_group_id),
    /// deleted with either.
    target_group_assignments (id) {
        id -> Uuid,
        /// Server-wide, from the `entity_numbers` sequence (see [`crate::infra::numbers`]).
        number -> BigInt,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        target_group_id -> Uuid,
        is_active -> Bool,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

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
        /// When the health scheduler checks it next; NULL: due now.
        next_check_at -> Nullable<UtcTimestamp>,
    }
}

diesel::joinable!(target_group_assignments -> target_groups (target_group_id));
diesel::allow_tables_to_appear_in_same_query!(target_group_assignments, target_groups);

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::Text;

    /// Releases: named sets of component versions; unique by (tenant_id, name).
    releases (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        created_by -> Uuid,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::Uuid;
    use diesel::sql_types::{Nullable, Text};

    /// The component versions of a release, deleted with it.
    release_components (release_id, component_id) {
        release_id -> Uuid,
        tenant_id -> Uuid,
        component_id -> Uuid,
        version -> Text,
        digest -> Nullable<Text>,
    }
}

diesel::table! {
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};

    /// The deployment ledger. Components and environments with deployments cannot be deleted.
    deployments (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        component_id -> Uuid,
        environment_id -> Uuid,
        release_id -> Nullable<Uuid>,
        version -> Text,
        digest -> Nullable<Text>,
        commit_sha -> Nullable<Text>,
        deployed_by -> Text,
        created_by -> Uuid,
        description -> Nullable<Text>,
        /// A JSON object.
        metadata -> Jsonb,
        status -> Text,
        /// Incremented by every retry; only approvals of the current round count.
        approval_round -> Integer,
        /// The compare-and-set token of transitions (the ETag).
        revision -> BigInt,
        created_at -> UtcTimestamp,
        started_at -> Nullable<UtcTimestamp>,
        finished_at -> Nullable<UtcTimestamp>,
        updated_at -> UtcTimestamp,
        /// When the change it ships was committed, as the client says (lead time).
        committed_at -> Nullable<UtcTimestamp>,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::{Nullable, Text};

    /// Every status change of a deployment; deleted with it.
    deployment_history (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        deployment_id -> Uuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        /// NULL when the system acted.
        actor -> Nullable<Uuid>,
        at -> UtcTimestamp,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::{Integer, Nullable, Text};

    /// Approvals of a deployment, one per approver and round.
    deployment_approvals (deployment_id, approval_round, approver) {
        tenant_id -> Uuid,
        deployment_id -> Uuid,
        approval_round -> Integer,
        approver -> Uuid,
        comment -> Nullable<Text>,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::{Nullable, Text};

    /// The latest succeeded deployment (by time of success) of each component in each
    /// environment, maintained in the transaction of every transition. Views read this, not
    /// the ledger.
    latest_deployments (tenant_id, component_id, environment_id) {
        tenant_id -> Uuid,
        component_id -> Uuid,
        environment_id -> Uuid,
        deployment_id -> Uuid,
        release_id -> Nullable<Uuid>,
        version -> Text,
        digest -> Nullable<Text>,
        deployed_by -> Text,
        deployed_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::Uuid;
    use diesel::sql_types::{BigInt, Text};

    /// How many deployments each component has in each environment in each status, kept
    /// by triggers on `deployments`; the list's totals add these up.
    deployment_counts (tenant_id, environment_id, component_id, status) {
        tenant_id -> Uuid,
        environment_id -> Uuid,
        component_id -> Uuid,
        status -> Text,
        n -> BigInt,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::{Nullable, Text};

    /// What became current when: a row each time the latest succeeded deployment of a
    /// component in an environment changed (NULL deployment: nothing ran from then on), kept
    /// by triggers on `latest_deployments`. The matrix as of a time reads it.
    deployment_timeline (tenant_id, component_id, environment_id, since) {
        tenant_id -> Uuid,
        component_id -> Uuid,
        environment_id -> Uuid,
        since -> UtcTimestamp,
        deployment_id -> Nullable<Uuid>,
        version -> Nullable<Text>,
        deployed_at -> Nullable<UtcTimestamp>,
    }
}

diesel::joinable!(deployments -> environments (environment_id));
diesel::joinable!(deployments -> components (component_id));
diesel::joinable!(deployment_history -> deployments (deployment_id));
diesel::joinable!(release_components -> releases (release_id));
diesel::joinable!(latest_deployments -> deployments (deployment_id));
diesel::allow_tables_to_appear_in_same_query!(
    deployments,
    environments,
    freeze_windows,
    components,
    releases,
    release_components,
    deployment_history,
    deployment_approvals,
    latest_deployments,
    deployment_timeline,
);

diesel::table! {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Self-service environment requests; an open request's (tenant_id, name) is unique.
    environment_requests (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        environment_type -> Text,
        tier -> Text,
        ttl_hours -> Nullable<Integer>,
        component_id -> Nullable<Uuid>,
        status -> Text,
        status_message -> Nullable<Text>,
        requested_by -> Uuid,
        reviewed_by -> Nullable<Uuid>,
        review_comment -> Nullable<Text>,
        environment_id -> Nullable<Uuid>,
        provisioned_at -> Nullable<UtcTimestamp>,
        expires_at -> Nullable<UtcTimestamp>,
        /// The provisioning worker's lease.
        claimed_until -> Nullable<UtcTimestamp>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Every move of a request, numbered per request; deleted with it.
    environment_request_history (request_id, seq) {
        request_id -> Uuid,
        seq -> Integer,
        tenant_id -> Uuid,
        from_status -> Nullable<Text>,
        to_status -> Text,
        actor -> Nullable<Uuid>,
        message -> Nullable<Text>,
        comment -> Nullable<Text>,
        at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::Text;

    /// Every health check of a target, newest first by (target_id, checked_at, id).
    health_checks (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        target_id -> Uuid,
        status -> Text,
        message -> Text,
        checked_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::{UtcTimestamp, Uuid};
    use diesel::sql_types::{Nullable, Text};

    /// Agents; unique by (tenant_id, name) and by token_hash.
    agents (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        token_hash -> Text,
        agent_version -> Nullable<Text>,
        last_seen_at -> Nullable<UtcTimestamp>,
        created_by -> Uuid,
        created_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::Uuid;

    /// The targets each agent serves.
    agent_targets (agent_id, target_id) {
        tenant_id -> Uuid,
        agent_id -> Uuid,
        target_id -> Uuid,
    }
}

diesel::table! {
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// The latest inventory of each target.
    target_inventories (target_id) {
        target_id -> Uuid,
        tenant_id -> Uuid,
        agent_id -> Uuid,
        collected_at -> UtcTimestamp,
        received_at -> UtcTimestamp,
        components -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::{Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Service accounts; unique by (tenant_id, name), by login and by secret hash.
    service_accounts (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        /// Comma-separated role names.
        roles -> Text,
        login -> Text,
        secret_hash -> Text,
        created_by -> Uuid,
        created_at -> UtcTimestamp,
        secret_issued_at -> UtcTimestamp,
    }
}

diesel::joinable!(target_group_assignments -> environments (environment_id));
diesel::allow_tables_to_appear_in_same_query!(target_group_assignments, environments);
diesel::allow_tables_to_appear_in_same_query!(target_groups, environments);

diesel::table! {
    use diesel::sql_types::{BigInt, Bool, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Webhooks.
    webhooks (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        url -> Text,
        secret -> Text,
        /// Comma-separated event type filters.
        types -> Text,
        active -> Bool,
        version -> BigInt,
        created_by -> Uuid,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Integer, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// Deliveries of events to webhooks; unique by (webhook_id, sequence).
    webhook_deliveries (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        webhook_id -> Uuid,
        sequence -> BigInt,
        event_id -> Text,
        event_type -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        last_duration_ms -> Nullable<BigInt>,
        last_attempt_at -> Nullable<UtcTimestamp>,
        next_attempt_at -> Nullable<UtcTimestamp>,
        retry_from -> UtcTimestamp,
        claimed_until -> Nullable<UtcTimestamp>,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Integer, Nullable};

    /// How far the webhook fan-out has read the event log (one row, id 1).
    webhook_fan_out (id) {
        id -> Integer,
        cursor_tx -> Nullable<BigInt>,
        cursor_seq -> Nullable<BigInt>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::allow_tables_to_appear_in_same_query!(webhook_deliveries, webhooks);

diesel::table! {
    use diesel::sql_types::{BigInt, Text};
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// The event log, in `(tx, id)` order (see `repositories::events`).
    events (id) {
        id -> BigInt,
        /// The writing transaction's id on PostgreSQL (a column default); 0 on SQLite.
        tx -> BigInt,
        tenant_id -> Uuid,
        event_type -> Text,
        subject_kind -> Text,
        subject_id -> Uuid,
        actor -> Text,
        at -> UtcTimestamp,
        data -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// The audit log: every event of an organization, chained by hash; only ever inserted.
    audit_entries (tenant_id, sequence) {
        tenant_id -> Uuid,
        sequence -> BigInt,
        event_id -> Text,
        event_type -> Text,
        subject_kind -> Text,
        subject_id -> Uuid,
        actor -> Text,
        at -> UtcTimestamp,
        /// Canonical JSON text, exactly as hashed.
        data -> Text,
        previous_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Text};
    use crate::infra::types::sql::Uuid;

    /// The end of each organization's audit chain.
    audit_heads (tenant_id) {
        tenant_id -> Uuid,
        sequence -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};

    /// How far the audit chainer has read the event log (one row, id 1).
    audit_progress (id) {
        id -> Integer,
        event_cursor -> Nullable<Text>,
    }
}
