//! Targets: the places things run, with a connection checked for their kind and labels to
//! find them by.

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{EnvironmentId, TargetGroupId, TargetId, TenantId};
use crate::target_group::parse_name;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::fmt;
use uuid::Uuid;

mod connection;
mod labels;

pub use connection::{
    ComposeEndpoint, Connection, DockerEndpoint, EcsEndpoint, NomadEndpoint,
    DEFAULT_NOMAD_NAMESPACE,
};
pub use labels::{LabelSelector, Labels};

wire_enum!(
    /// What kind of place a target is; decides the fields of its connection.
    TargetType, "targetType" {
        /// A Docker daemon reached over TCP.
        DockerHost => "docker_host",
        /// A Docker daemon that runs a Compose project.
        ComposeHost => "compose_host",
        /// An Amazon ECS service.
        EcsService => "ecs_service",
        /// A HashiCorp Nomad job.
        NomadJob => "nomad_job",
    }
);

wire_enum!(
    /// What the last health check of a target found.
    HealthStatus, "healthStatus" {
        /// Never checked.
        Unknown => "unknown",
        /// Answering as expected.
        Healthy => "healthy",
        /// Answering, with problems.
        Degraded => "degraded",
        /// Not answering.
        Unhealthy => "unhealthy",
    }
);

/// A valid target name (1 to 100 ASCII letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit); unique per environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetName(String);

impl TargetName {
    /// Parses a name.
    ///
    /// # Errors
    /// A [`FieldError`] on `name` saying which rule the value breaks.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        parse_name(value, "name").map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest deployment directory.
pub const MAX_DIRECTORY_LEN: usize = 1024;

/// An absolute path of at most 1024 characters without control characters.
fn parse_directory(value: Option<String>) -> Result<Option<String>, FieldError> {
    let bad = |message: &str| Err(FieldError::new("deploymentDirectory", message));
    match value {
        None => Ok(None),
        Some(path) if !path.starts_with('/') => {
            bad("must be an absolute path, like /opt/deployments")
        }
        Some(path) if path.chars().count() > MAX_DIRECTORY_LEN => {
            bad("must be at most 1024 characters")
        }
        Some(path) if path.chars().any(char::is_control) => {
            bad("must not contain control characters")
        }
        Some(path) => Ok(Some(path)),
    }
}

/// A stored target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its id.
    pub id: TargetId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// A target group assigned to that environment, if any.
    pub target_group_id: Option<TargetGroupId>,
    /// Unique per environment.
    pub name: TargetName,
    /// How to reach it; its variant is the target's type.
    pub connection: Connection,
    /// Labels to find it by.
    pub labels: Labels,
    /// Where deployments put their files on the target.
    pub deployment_directory: Option<String>,
    /// What the last health check found.
    pub health_status: HealthStatus,
    /// What the last health check said.
    pub health_message: Option<String>,
    /// When it was last checked.
    pub last_health_check_at: Option<DateTime<Utc>>,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Target {
    /// The target's type, which its connection decides.
    pub fn target_type(&self) -> TargetType {
        self.connection.target_type()
    }
}

/// Raw, unvalidated target fields as a client sends them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetInput {
    /// See [`Target::environment_id`].
    pub environment_id: Option<Uuid>,
    /// `Some(None)` takes the target out of its group on update.
    pub target_group_id: Option<Option<Uuid>>,
    /// See [`Target::name`].
    pub name: Option<String>,
    /// Wire name of a [`TargetType`].
    pub target_type: Option<String>,
    /// The connection object, checked against the type.
    pub connection: Option<Map<String, Value>>,
    /// The labels object; replaces all labels on update.
    pub labels: Option<Map<String, Value>>,
    /// `Some(None)` clears the directory on update.
    pub deployment_directory: Option<Option<String>>,
}

/// A validated target to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTarget {
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// A group that must be assigned to that environment.
    pub target_group_id: Option<TargetGroupId>,
    /// Unique per environment.
    pub name: TargetName,
    /// How to reach it.
    pub connection: Connection,
    /// Defaults to none.
    pub labels: Labels,
    /// Where deployments put their files.
    pub deployment_directory: Option<String>,
}

/// Validated changes to a target; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetChanges {
    /// Moves the target to another environment.
    pub environment_id: Option<EnvironmentId>,
    /// `Some(None)` takes it out of its group.
    pub target_group_id: Option<Option<TargetGroupId>>,
    /// New name.
    pub name: Option<TargetName>,
    /// New connection, and with it possibly a new type.
    pub connection: Option<Connection>,
    /// New labels, replacing all.
    pub labels: Option<Labels>,
    /// `Some(None)` clears it.
    pub deployment_directory: Option<Option<String>>,
}

/// Checks the fields every target input shares: everything but the connection.
struct Common {
    name: Option<TargetName>,
    target_type: Option<TargetType>,
    labels: Option<Labels>,
    deployment_directory: Option<Option<String>>,
}

impl TargetInput {
    fn common(&self, errors: &mut ValidationErrors) -> Common {
        let name = self.name.as_deref().map(TargetName::parse).transpose();
        let target_type = self
            .target_type
            .as_deref()
            .map(|v| TargetType::parse_field(v, "targetType"))
            .transpose();
        let name = errors.take(name).flatten();
        let target_type = errors.take(target_type).flatten();
        let labels = match self.labels.as_ref().map(Labels::parse).transpose() {
            Ok(labels) => labels,
            Err(bad) => {
                bad.errors()
                    .iter()
                    .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                None
            }
        };
        let directory = self
            .deployment_directory
            .clone()
            .map(parse_directory)
            .transpose();
        Common {
            name,
            target_type,
            labels,
            deployment_directory: errors.take(directory).flatten(),
        }
    }

    /// Validates a new target: `environmentId`, `name`, `targetType` and `connection` are
    /// required; the connection is checked against the type.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad or missing field.
    pub fn into_new(self) -> Result<NewTarget, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let common = self.common(&mut errors);
        for (missing, field) in [
            (self.environment_id.is_none(), "environmentId"),
            (self.name.is_none(), "name"),
            (self.target_type.is_none(), "targetType"),
            (self.connection.is_none(), "connection"),
        ] {
            if missing {
                errors.add(field, "is required");
            }
        }
        let connection = match (common.target_type, &self.connection) {
            (Some(target_type), Some(raw)) => match Connection::parse(target_type, raw) {
                Ok(connection) => Some(connection),
                Err(bad) => {
                    bad.errors()
                        .iter()
                        .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                    None
                }
            },
            _ => None,
        };
        match (self.environment_id, common.name, connection) {
            (Some(environment_id), Some(name), Some(connection)) if errors.is_empty() => {
                Ok(NewTarget {
                    environment_id: EnvironmentId(environment_id),
                    target_group_id: self.target_group_id.flatten().map(TargetGroupId),
                    name,
                    connection,
                    labels: common.labels.unwrap_or_default(),
                    deployment_directory: common.deployment_directory.flatten(),
                })
            }
            _ => Err(errors),
        }
    }

    /// Validates the fields present against `current`. A new `targetType` or `connection`
    /// replaces the connection as a whole: the given connection (or, when only the type
    /// changes, the current one) is checked against the given type (or the current one).
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field.
    pub fn into_changes(self, current: &Target) -> Result<TargetChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let common = self.common(&mut errors);
        let connection = if self.target_type.is_some() || self.connection.is_some() {
            match common
                .target_type
                .or(self.target_type.is_none().then(|| current.target_type()))
            {
                // An unknown type was named above; its connection cannot be checked.
                None => None,
                Some(target_type) => {
                    let raw = self
                        .connection
                        .clone()
                        .unwrap_or_else(|| current.connection.to_json());
                    match Connection::parse(target_type, &raw) {
                        Ok(connection) => Some(connection),
                        Err(bad) => {
                            bad.errors()
                                .iter()
                                .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                            None
                        }
                    }
                }
            }
        } else {
            None
        };
        let changes = TargetChanges {
            environment_id: self.environment_id.map(EnvironmentId),
            target_group_id: self.target_group_id.map(|g| g.map(TargetGroupId)),
            name: common.name,
            connection,
            labels: common.labels,
            deployment_directory: common.deployment_directory,
        };
        errors.into_result(|| changes)
    }
}

impl NewTarget {
    /// The stored target this becomes: never checked, so its health is unknown.
    pub fn into_target(self, id: TargetId, tenant: TenantId, now: DateTime<Utc>) -> Target {
        let now = crate::time::truncate(now);
        Target {
            id,
            tenant,
            environment_id: self.environment_id,
            target_group_id: self.target_group_id,
            name: self.name,
            connection: self.connection,
            labels: self.labels,
            deployment_directory: self.deployment_directory,
            health_status: HealthStatus::Unknown,
            health_message: None,
            last_health_check_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl TargetChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Target {
    /// The target after `changes`, with its version bumped and `updated_at` set to `now`.
    pub fn apply(&self, changes: TargetChanges, now: DateTime<Utc>) -> Target {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),+) => { $(if let Some(v) = changes.$field { next.$field = v; })+ };
        }
        set!(
            environment_id,
            target_group_id,
            name,
            connection,
            labels,
            deployment_directory
        );
        next.version = self.version + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// Filters of the target list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFilter {
    /// In this environment.
    pub environment_id: Option<EnvironmentId>,
    /// In this group.
    pub target_group_id: Option<TargetGroupId>,
    /// Of this type.
    pub target_type: Option<TargetType>,
    /// With this health.
    pub health_status: Option<HealthStatus>,
    /// With every one of these labels.
    pub labels: Option<LabelSelector>,
}

#[cfg(test)]
mod tests;
