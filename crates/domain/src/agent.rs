//! Agents: programs running beside targets that report their health and what runs on them,
//! authenticated by a token shown once.

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{TargetId, TenantId, UserId};
use crate::target::HealthStatus;
use crate::target_group::parse_name;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The fixed beginning of every agent token, so an agent token is never mistaken for a JWT
/// (which begins with `eyJ`) and a leaked one is easy to search for.
pub const AGENT_TOKEN_PREFIX: &str = "trn_agent_";

/// An agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AgentId(pub Uuid);

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored agent. Its token is kept only as a SHA-256 hash, never here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// Its id.
    pub id: AgentId,
    /// The organization it reports to.
    pub tenant: TenantId,
    /// 1 to 100 letters, digits, `.`, `_` or `-`.
    pub name: String,
    /// The targets it serves: the only ones it may report on.
    pub target_ids: Vec<TargetId>,
    /// The version it reported at its last heartbeat.
    pub agent_version: Option<String>,
    /// Its last heartbeat.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Who registered it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Agent {
    /// Whether its last heartbeat is at most `3 × heartbeat_interval` old at `now`.
    pub fn online(&self, now: DateTime<Utc>, heartbeat_interval: Duration) -> bool {
        self.last_seen_at
            .is_some_and(|seen| now - seen <= heartbeat_interval * 3)
    }

    /// Whether it serves `target`.
    pub fn serves(&self, target: TargetId) -> bool {
        self.target_ids.contains(&target)
    }
}

/// A validated agent to register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgent {
    /// See [`Agent::name`].
    pub name: String,
    /// See [`Agent::target_ids`]; without duplicates.
    pub target_ids: Vec<TargetId>,
}

impl NewAgent {
    /// Validates raw input: `name` is required, `targetIds` defaults to none.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `name` or `targetIds`.
    pub fn parse(
        name: Option<&str>,
        target_ids: Option<Vec<Uuid>>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match name {
            None => {
                errors.add("name", "is required");
                None
            }
            Some(name) => errors.take(parse_name(name, "name")),
        };
        let mut ids: Vec<TargetId> = Vec::new();
        for id in target_ids.unwrap_or_default() {
            if !ids.contains(&TargetId(id)) {
                ids.push(TargetId(id));
            }
        }
        if ids.len() > 1000 {
            errors.add("targetIds", "may list at most 1000 targets");
        }
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                name,
                target_ids: ids,
            }),
            _ => Err(errors),
        }
    }
}

/// What an agent reports about one target it serves at a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetReport {
    /// The target.
    pub target_id: TargetId,
    /// Its health as the agent sees it.
    pub status: HealthStatus,
    /// Why.
    pub message: String,
}

/// One component an agent found running on a target: named by id or by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryComponent {
    /// The catalog id, when the agent knows it.
    pub component_id: Option<Uuid>,
    /// The component name, when the agent knows it rather than the id.
    pub component_name: Option<String>,
    /// The version running.
    pub version: String,
    /// The image digest running, like `sha256:...`.
    pub digest: Option<String>,
}

impl InventoryComponent {
    /// Validates one entry of `components[index]`.
    ///
    /// # Errors
    /// [`FieldError`]s naming `components[index].<field>`.
    pub fn parse(
        index: usize,
        component_id: Option<Uuid>,
        component_name: Option<String>,
        version: Option<String>,
        digest: Option<String>,
    ) -> Result<Self, Vec<FieldError>> {
        let field = |name: &str| format!("components[{index}].{name}");
        let mut errors = Vec::new();
        if component_id.is_none() && component_name.is_none() {
            errors.push(FieldError::new(
                field("componentId"),
                "componentId or componentName is required",
            ));
        }
        let text = |value: &Option<String>, name: &str, errors: &mut Vec<FieldError>| {
            if let Some(value) = value {
                if value.is_empty() || value.chars().count() > 255 {
                    errors.push(FieldError::new(field(name), "must be 1 to 255 characters"));
                }
            }
        };
        text(&component_name, "componentName", &mut errors);
        text(&digest, "digest", &mut errors);
        match &version {
            None => errors.push(FieldError::new(field("version"), "is required")),
            Some(_) => text(&version, "version", &mut errors),
        }
        if errors.is_empty() {
            Ok(Self {
                component_id,
                component_name,
                version: version.unwrap_or_default(),
                digest,
            })
        } else {
            Err(errors)
        }
    }
}

/// What an agent last reported running on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The target.
    pub target_id: TargetId,
    /// The organization.
    pub tenant: TenantId,
    /// The agent that reported it.
    pub agent_id: AgentId,
    /// When the agent looked.
    pub collected_at: DateTime<Utc>,
    /// When terrane received it.
    pub received_at: DateTime<Utc>,
    /// What runs.
    pub components: Vec<InventoryComponent>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_is_online_within_three_heartbeat_intervals() {
        let now = Utc::now();
        let mut agent = Agent {
            id: AgentId(Uuid::nil()),
            tenant: TenantId(Uuid::nil()),
            name: "a".into(),
            target_ids: vec![],
            agent_version: None,
            last_seen_at: None,
            created_by: UserId(Uuid::nil()),
            created_at: now,
        };
        let interval = Duration::seconds(30);
        assert!(!agent.online(now, interval), "never seen");
        agent.last_seen_at = Some(now - Duration::seconds(90));
        assert!(agent.online(now, interval));
        agent.last_seen_at = Some(now - Duration::seconds(91));
        assert!(!agent.online(now, interval));
    }

    #[test]
    fn a_new_agent_needs_a_valid_name_and_lists_each_target_once() {
        let a = Uuid::from_u128(1);
        let new = NewAgent::parse(Some("edge-1"), Some(vec![a, a])).unwrap();
        assert_eq!(new.target_ids, [TargetId(a)]);
        let errors = NewAgent::parse(None, None).unwrap_err();
        assert_eq!(errors.errors()[0].field, "name");
        assert!(NewAgent::parse(Some("bad name"), None).is_err());
    }

    #[test]
    fn inventory_components_are_named_by_id_or_name_with_a_version() {
        let ok = InventoryComponent::parse(0, None, Some("api".into()), Some("1.0".into()), None);
        assert!(ok.is_ok());
        let errors =
            InventoryComponent::parse(2, None, None, None, Some(String::new())).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "components[2].componentId",
                "components[2].digest",
                "components[2].version"
            ]
        );
    }
}
