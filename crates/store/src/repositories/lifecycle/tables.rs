//! The tables of the environment lifecycle, written by hand for both backends like
//! [`crate::infra::schema`], kept beside the code that reads them.

diesel::table! {
    use diesel::sql_types::{BigInt, Nullable, Text};
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// Templates; unique by (tenant_id, name, template_version).
    environment_templates (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        name -> Text,
        template_version -> Text,
        description -> Nullable<Text>,
        definition -> Jsonb,
        version -> BigInt,
        created_at -> UtcTimestamp,
        updated_at -> UtcTimestamp,
    }
}

diesel::table! {
    use crate::infra::types::sql::{Jsonb, Uuid};

    /// What an environment born from a template keeps.
    environment_lifecycles (environment_id) {
        environment_id -> Uuid,
        tenant_id -> Uuid,
        template_id -> Uuid,
        variables -> Jsonb,
        attributes -> Jsonb,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Nullable, Text};
    use crate::infra::types::sql::{Jsonb, UtcTimestamp, Uuid};

    /// Runs of workflows, with the lease of the replica executing one.
    workflow_runs (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        workflow -> Text,
        status -> Text,
        variables -> Jsonb,
        started_by -> Nullable<Uuid>,
        destroys -> Bool,
        requested_at -> UtcTimestamp,
        started_at -> Nullable<UtcTimestamp>,
        finished_at -> Nullable<UtcTimestamp>,
        lease_owner -> Nullable<Uuid>,
        lease_until -> Nullable<UtcTimestamp>,
        cancel_requested -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// The steps of runs, by position.
    workflow_steps (id) {
        id -> Uuid,
        run_id -> Uuid,
        tenant_id -> Uuid,
        position -> Integer,
        phase -> Text,
        name -> Text,
        run -> Text,
        timeout_seconds -> Integer,
        status -> Text,
        started_at -> Nullable<UtcTimestamp>,
        finished_at -> Nullable<UtcTimestamp>,
        exit_code -> Nullable<Integer>,
        output -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Nullable, Text};
    use crate::infra::types::sql::{UtcTimestamp, Uuid};

    /// The lifecycle history of environments.
    environment_lifecycle_events (id) {
        id -> Uuid,
        tenant_id -> Uuid,
        environment_id -> Uuid,
        at -> UtcTimestamp,
        actor -> Nullable<Uuid>,
        event -> Text,
        run_id -> Nullable<Uuid>,
        workflow -> Nullable<Text>,
        from_status -> Nullable<Text>,
        to_status -> Text,
        detail -> Nullable<Text>,
    }
}

use crate::infra::schema::environments;

diesel::joinable!(environment_lifecycles -> environment_templates (template_id));
diesel::joinable!(workflow_steps -> workflow_runs (run_id));
diesel::allow_tables_to_appear_in_same_query!(
    environment_templates,
    environment_lifecycles,
    workflow_runs,
    workflow_steps,
    environment_lifecycle_events,
    environments,
);
