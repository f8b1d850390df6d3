//! Releases: a named set of component versions (and image digests) deployed together.

use crate::deployment::{Digest, Version};
use crate::error::ValidationErrors;
use crate::ids::{ComponentId, ReleaseId, TenantId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Longest release name.
pub const MAX_RELEASE_NAME_LEN: usize = 128;
/// Most components in one release.
pub const MAX_RELEASE_COMPONENTS: usize = 500;

/// One component version of a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseComponent {
    /// The component.
    pub component_id: ComponentId,
    /// Its version.
    pub version: Version,
    /// Its image digest, when pinned.
    pub digest: Option<Digest>,
}

/// A release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Its id.
    pub id: ReleaseId,
    /// The organization.
    pub tenant: TenantId,
    /// Unique in the organization (`2026.01-sprint-3`).
    pub name: String,
    /// Its component versions, ordered by component id once stored.
    pub components: Vec<ReleaseComponent>,
    /// Who recorded it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Raw fields of one component of a release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseComponentInput {
    /// Required.
    pub component_id: Option<Uuid>,
    /// Required.
    pub version: Option<String>,
    /// Optional `sha256:` digest.
    pub digest: Option<String>,
}

/// Raw fields of a release to record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseInput {
    /// Required.
    pub name: Option<String>,
    /// Required, not empty, each component at most once.
    pub components: Option<Vec<ReleaseComponentInput>>,
}

/// A validated release to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    /// Its name.
    pub name: String,
    /// Its component versions.
    pub components: Vec<ReleaseComponent>,
}

impl ReleaseInput {
    /// Validates a release, naming every bad field at once (`components[i].version`, ...).
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each field.
    pub fn into_new(self) -> Result<NewRelease, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name {
            Some(name)
                if !name.trim().is_empty()
                    && name.chars().count() <= MAX_RELEASE_NAME_LEN
                    && !name.chars().any(char::is_control) =>
            {
                Some(name)
            }
            Some(_) => {
                errors.add(
                    "name",
                    "must be 1 to 128 characters, not blank, without control characters",
                );
                None
            }
            None => {
                errors.add("name", "is required");
                None
            }
        };
        let inputs = self.components.unwrap_or_default();
        if inputs.is_empty() {
            errors.add("components", "must list at least one component");
        } else if inputs.len() > MAX_RELEASE_COMPONENTS {
            errors.add("components", "must list at most 500 components");
        }
        let mut components: Vec<ReleaseComponent> = Vec::with_capacity(inputs.len());
        for (i, input) in inputs.into_iter().enumerate() {
            let field = |name: &str| format!("components[{i}].{name}");
            let component_id = input.component_id.map(ComponentId);
            match component_id {
                None => errors.add(field("componentId"), "is required"),
                Some(id) if components.iter().any(|c| c.component_id == id) => errors.add(
                    field("componentId"),
                    "is listed twice: a release holds one version of each component",
                ),
                Some(_) => {}
            }
            let version = match input.version.as_deref() {
                Some(v) => Version::parse(v)
                    .map_err(|e| errors.add(field("version"), e.message))
                    .ok(),
                None => {
                    errors.add(field("version"), "is required");
                    None
                }
            };
            let digest = input
                .digest
                .as_deref()
                .map(|d| Digest::parse(d, &field("digest")))
                .transpose()
                .map_err(|e| errors.add(e.field, e.message))
                .ok()
                .flatten();
            if let (Some(component_id), Some(version)) = (component_id, version) {
                components.push(ReleaseComponent {
                    component_id,
                    version,
                    digest,
                });
            }
        }
        match name {
            Some(name) if errors.is_empty() => Ok(NewRelease { name, components }),
            _ => Err(errors),
        }
    }
}

impl NewRelease {
    /// The release this becomes.
    pub fn into_release(
        self,
        id: Uuid,
        tenant: TenantId,
        author: UserId,
        now: DateTime<Utc>,
    ) -> Release {
        Release {
            id: ReleaseId(id),
            tenant,
            name: self.name,
            components: self.components,
            created_by: author,
            created_at: crate::time::truncate(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(id: u128, version: &str) -> ReleaseComponentInput {
        ReleaseComponentInput {
            component_id: Some(Uuid::from_u128(id)),
            version: Some(version.into()),
            digest: None,
        }
    }

    #[test]
    fn a_release_needs_a_name_and_at_least_one_component() {
        let errors = ReleaseInput::default().into_new().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "components"]);
    }

    #[test]
    fn each_bad_component_field_is_named_by_its_index() {
        let input = ReleaseInput {
            name: Some("2026.01".into()),
            components: Some(vec![
                component(1, "v1"),
                component(1, "v2"),
                ReleaseComponentInput {
                    component_id: Some(Uuid::from_u128(2)),
                    version: Some("has space".into()),
                    digest: Some("md5:x".into()),
                },
            ]),
        };
        let errors = input.into_new().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "components[1].componentId",
                "components[2].version",
                "components[2].digest"
            ]
        );
    }

    #[test]
    fn a_valid_release_keeps_its_components_in_order() {
        let input = ReleaseInput {
            name: Some("2026.01-sprint-3".into()),
            components: Some(vec![component(2, "v2.0.0"), component(1, "v1.4.2")]),
        };
        let new = input.into_new().unwrap();
        let ids: Vec<_> = new.components.iter().map(|c| c.component_id.0).collect();
        assert_eq!(ids, [Uuid::from_u128(2), Uuid::from_u128(1)]);
    }
}
