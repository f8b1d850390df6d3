//! Turning driver errors into the port's [`StoreError`], in one place.

use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error as DieselError};
use terrane_ports::StoreError;

/// Why a unit of work stopped: a database error still to be mapped, or an outcome the
/// repository decided itself (not found, version mismatch, ...). Either rolls the
/// transaction back.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The database refused; `name` is the environment name the statement wrote, if any,
    /// so that a uniqueness conflict can say which name is taken.
    Db {
        error: DieselError,
        name: Option<String>,
    },
    /// A decided outcome.
    Store(StoreError),
}

impl From<DieselError> for Failure {
    fn from(error: DieselError) -> Self {
        Failure::Db { error, name: None }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

impl Failure {
    /// Attaches the environment name a failed write carried (use with `map_err`).
    pub(crate) fn writing(name: &str) -> impl FnOnce(DieselError) -> Failure + '_ {
        move |error| Failure::Db {
            error,
            name: Some(name.to_owned()),
        }
    }

    /// The error to report.
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Failure::Db { error, name } => store_error(error, name.as_deref()),
            Failure::Store(error) => error,
        }
    }
}

/// Whether `error` is a unique violation: the few callers that expect one (claiming an
/// idempotency key, inserting a setting) recover from it instead of reporting it.
pub(crate) fn is_unique_violation(error: &DieselError) -> bool {
    matches!(
        error,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Maps every diesel error to a [`StoreError`]; `name` is the environment name the failed
/// statement wrote, if any.
pub(crate) fn store_error(error: DieselError, name: Option<&str>) -> StoreError {
    match error {
        DieselError::NotFound => StoreError::NotFound,
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            StoreError::Conflict(conflict_message(info.as_ref(), name))
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            StoreError::MissingReference(reference_field(info.constraint_name()).to_owned())
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection
            | DatabaseErrorKind::UnableToSendCommand
            | DatabaseErrorKind::SerializationFailure,
            info,
        ) => StoreError::Unavailable(info.message().to_owned()),
        // SQLite reports a lock it waited `busy_timeout` for without a kind of its own.
        DieselError::DatabaseError(_, info) if info.message().contains("database is locked") => {
            StoreError::Unavailable(info.message().to_owned())
        }
        other => StoreError::Internal(other.to_string()),
    }
}

/// The input field a broken foreign key points back to, where one does (PostgreSQL names
/// the constraint; SQLite names none).
fn reference_field(constraint: Option<&str>) -> &str {
    match constraint {
        // Only when an environment, a group or an assignment vanished under a concurrent
        // transaction: the repositories check each before writing.
        Some("targets_environment_id_fkey") => "environmentId",
        Some("targets_assignment_fkey" | "targets_target_group_id_fkey") => "targetGroupId",
        Some("target_group_assignments_target_group_id_fkey") => "targetGroups",
        Some("environments_project_id_fkey") => "projectId",
        Some(other) => other,
        None => "a referenced record",
    }
}

/// What a clash of a unique rule means, naming the field. PostgreSQL names the constraint;
/// SQLite names the columns in its message.
fn conflict_message(
    info: &(dyn DatabaseErrorInformation + Send + Sync),
    name: Option<&str>,
) -> String {
    let is = |constraint: &str, columns: &str| {
        info.constraint_name() == Some(constraint) || info.message().contains(columns)
    };
    // A unique index on an expression: PostgreSQL names it as the constraint, SQLite names
    // it in its message.
    let index = |name: &str| {
        info.constraint_name() == Some(name) || info.message().contains(&format!("'{name}'"))
    };
    if index("environments_tenant_id_lower_name_key")
        || is(
            "environments_tenant_id_name_key",
            "environments.tenant_id, environments.name",
        )
    {
        match name {
            Some(name) => format!("an environment named `{name}` already exists"),
            None => "an environment of that name already exists".to_owned(),
        }
    } else if is(
        "components_tenant_id_name_key",
        "components.tenant_id, components.name",
    ) {
        match name {
            Some(name) => format!("a component named `{name}` already exists"),
            None => "a component of that name already exists".to_owned(),
        }
    } else if index("target_groups_tenant_id_lower_name_key")
        || is(
            "target_groups_tenant_id_name_key",
            "target_groups.tenant_id, target_groups.name",
        )
    {
        match name {
            Some(name) => format!("a target group named `{name}` already exists"),
            None => "a target group of that name already exists".to_owned(),
        }
    } else if is(
        "targets_environment_id_name_key",
        "targets.environment_id, targets.name",
    ) {
        match name {
            Some(name) => format!("the environment already has a target named `{name}`"),
            None => "the environment already has a target of that name".to_owned(),
        }
    } else if is(
        "service_accounts_tenant_id_name_key",
        "service_accounts.tenant_id, service_accounts.name",
    ) {
        match name {
            Some(name) => format!("a service account named `{name}` already exists"),
            None => "a service account of that name already exists".to_owned(),
        }
    } else if index("projects_tenant_id_lower_name_key") {
        match name {
            Some(name) => format!("a project named `{name}` already exists"),
            None => "a project of that name already exists".to_owned(),
        }
    } else if is("environments_pkey", "environments.id") {
        "an environment with that id already exists".to_owned()
    } else {
        tracing::warn!(message = info.message(), "unexpected unique violation");
        "a record with the same key already exists".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::reference_field;

    #[test]
    fn a_broken_foreign_key_names_the_input_field_that_holds_the_reference() {
        assert_eq!(
            reference_field(Some("targets_environment_id_fkey")),
            "environmentId"
        );
        assert_eq!(
            reference_field(Some("targets_assignment_fkey")),
            "targetGroupId"
        );
        assert_eq!(
            reference_field(Some("target_group_assignments_target_group_id_fkey")),
            "targetGroups"
        );
        assert_eq!(reference_field(None), "a referenced record");
    }
}
