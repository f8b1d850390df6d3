//! The component catalog: the things that are deployed (services, websites, jobs, ...).

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{ComponentId, TenantId};
use chrono::{DateTime, Utc};
use std::fmt;

/// A valid component name: a lowercase slug of letters, digits and `-`, 1 to 100 characters,
/// starting and ending with a letter or digit, the way image and package names are usually
/// spelled. Deployments refer to components by it, so it is unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ComponentName(String);

impl ComponentName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 100;

    /// Parses a name.
    ///
    /// # Errors
    /// A [`FieldError`] on `name` saying which rule the value breaks.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let bad = |message: &str| Err(FieldError::new("name", message));
        if value.is_empty() {
            return bad("must not be empty");
        }
        if value.len() > Self::MAX_LEN {
            return bad("must be at most 100 characters");
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("may contain only lowercase letters, digits and '-'");
        }
        if value.starts_with('-') || value.ends_with('-') {
            return bad("must start and end with a letter or digit");
        }
        Ok(Self(value.to_owned()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComponentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

wire_enum!(
    /// What sort of thing a component is.
    ComponentKind, "kind" {
        /// A long-running network service (an API, a backend).
        Service => "service",
        /// A website or a front end.
        Website => "website",
        /// A library other components are built with.
        Library => "library",
        /// A long-running background worker.
        Worker => "worker",
        /// A task that runs to completion (a batch, a cron job, a migration).
        Job => "job",
    }
);

wire_enum!(
    /// Where a component is in its life, as in a service catalog.
    ComponentLifecycle, "lifecycle" {
        /// New, not relied upon yet; the default.
        Experimental => "experimental",
        /// Relied upon.
        Production => "production",
        /// On its way out.
        Deprecated => "deprecated",
    }
);

/// A component of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// Its id.
    pub id: ComponentId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// Unique per tenant.
    pub name: ComponentName,
    /// What sort of thing it is.
    pub kind: ComponentKind,
    /// Who answers for it (a team or a person), as free text.
    pub owner: Option<String>,
    /// Where it is in its life.
    pub lifecycle: ComponentLifecycle,
    /// Free text.
    pub description: Option<String>,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Raw, unvalidated component fields as a client sends them; `None` means absent.
///
/// The same input serves create (absent fields take defaults) and update (absent fields stay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentInput {
    /// See [`Component::name`].
    pub name: Option<String>,
    /// Wire name of a [`ComponentKind`].
    pub kind: Option<String>,
    /// See [`Component::owner`]; `Some(None)` clears it on update.
    pub owner: Option<Option<String>>,
    /// Wire name of a [`ComponentLifecycle`].
    pub lifecycle: Option<String>,
    /// See [`Component::description`]; `Some(None)` clears it on update.
    pub description: Option<Option<String>>,
}

/// A validated component to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComponent {
    /// Validated name.
    pub name: ComponentName,
    /// Required.
    pub kind: ComponentKind,
    /// Optional.
    pub owner: Option<String>,
    /// Defaults to [`ComponentLifecycle::Experimental`].
    pub lifecycle: ComponentLifecycle,
    /// Optional.
    pub description: Option<String>,
}

/// Validated changes to a component; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentChanges {
    /// New name.
    pub name: Option<ComponentName>,
    /// New kind.
    pub kind: Option<ComponentKind>,
    /// `Some(None)` clears it.
    pub owner: Option<Option<String>>,
    /// New lifecycle.
    pub lifecycle: Option<ComponentLifecycle>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
}

/// Longest owner.
pub const MAX_OWNER_LEN: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;

fn parse_owner(value: Option<String>) -> Result<Option<String>, FieldError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(FieldError::new(
            "owner",
            "must not be blank; omit it when nobody owns the component",
        ))
    } else if trimmed.chars().count() > MAX_OWNER_LEN {
        Err(FieldError::new("owner", "must be at most 100 characters"))
    } else {
        Ok(Some(trimmed.to_owned()))
    }
}

fn parse_description(value: Option<String>) -> Result<Option<String>, FieldError> {
    match value {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_LEN => Err(FieldError::new(
            "description",
            "must be at most 2000 characters",
        )),
        other => Ok(other),
    }
}

impl ComponentInput {
    /// Validates the fields present, every bad one reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field.
    pub fn into_changes(self) -> Result<ComponentChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self.name.as_deref().map(ComponentName::parse).transpose();
        let kind = self
            .kind
            .as_deref()
            .map(|v| ComponentKind::parse_field(v, "kind"))
            .transpose();
        let owner = self.owner.map(parse_owner).transpose();
        let lifecycle = self
            .lifecycle
            .as_deref()
            .map(|v| ComponentLifecycle::parse_field(v, "lifecycle"))
            .transpose();
        let description = self.description.map(parse_description).transpose();
        let changes = ComponentChanges {
            name: errors.take(name).flatten(),
            kind: errors.take(kind).flatten(),
            owner: errors.take(owner).flatten(),
            lifecycle: errors.take(lifecycle).flatten(),
            description: errors.take(description).flatten(),
        };
        errors.into_result(|| changes)
    }

    /// Validates a new component: `name` and `kind` are required, `lifecycle` defaults to
    /// `experimental`.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad or missing field.
    pub fn into_new(self) -> Result<NewComponent, ValidationErrors> {
        let (name_missing, kind_missing) = (self.name.is_none(), self.kind.is_none());
        let (changes, mut errors) = match self.into_changes() {
            Ok(changes) => (Some(changes), ValidationErrors::new()),
            Err(errors) => (None, errors),
        };
        if name_missing {
            errors.add("name", "is required");
        }
        if kind_missing {
            errors.add("kind", "is required");
        }
        match changes {
            Some(ComponentChanges {
                name: Some(name),
                kind: Some(kind),
                owner,
                lifecycle,
                description,
            }) if errors.is_empty() => Ok(NewComponent {
                name,
                kind,
                owner: owner.flatten(),
                lifecycle: lifecycle.unwrap_or(ComponentLifecycle::Experimental),
                description: description.flatten(),
            }),
            _ => Err(errors),
        }
    }
}

impl NewComponent {
    /// The stored component this becomes, given its id, tenant and creation time.
    pub fn into_component(
        self,
        id: ComponentId,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> Component {
        let now = crate::time::truncate(now);
        Component {
            id,
            tenant,
            name: self.name,
            kind: self.kind,
            owner: self.owner,
            lifecycle: self.lifecycle,
            description: self.description,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl ComponentChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Component {
    /// The component after `changes`, with its version bumped and `updated_at` set to `now`.
    pub fn apply(&self, changes: ComponentChanges, now: DateTime<Utc>) -> Component {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),+) => { $(if let Some(v) = changes.$field { next.$field = v; })+ };
        }
        set!(name, kind, owner, lifecycle, description);
        next.version = self.version + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// Filters of the component list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentFilter {
    /// Name contains this, ignoring case.
    pub name: Option<String>,
    /// Exact match.
    pub kind: Option<ComponentKind>,
    /// Owner equals this, ignoring case.
    pub owner: Option<String>,
    /// Exact match.
    pub lifecycle: Option<ComponentLifecycle>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    fn input(name: &str, kind: &str) -> ComponentInput {
        ComponentInput {
            name: Some(name.into()),
            kind: Some(kind.into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_lowercase_slugs_of_at_most_100_characters() {
        for ok in ["a", "api", "web-frontend-2", &"a".repeat(100)] {
            assert!(ComponentName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Api",
            "with space",
            "-lead",
            "trail-",
            "under_score",
            "dot.ted",
            &"a".repeat(101),
            "é",
        ] {
            assert_eq!(
                ComponentName::parse(bad).unwrap_err().field,
                "name",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_new_component_needs_a_name_and_a_kind_and_starts_experimental() {
        let new = input("api", "service").into_new().unwrap();
        assert_eq!(new.name.as_str(), "api");
        assert_eq!(new.kind, ComponentKind::Service);
        assert_eq!(new.lifecycle, ComponentLifecycle::Experimental);
        assert_eq!((new.owner, new.description), (None, None));
        let errors = ComponentInput::default().into_new().unwrap_err();
        assert_eq!(fields(&errors), ["name", "kind"]);
    }

    #[test]
    fn every_bad_field_is_named_at_once_with_the_missing_ones() {
        let errors = ComponentInput {
            name: Some("Bad Name".into()),
            owner: Some(Some("   ".into())),
            lifecycle: Some("retired".into()),
            description: Some(Some("x".repeat(2001))),
            ..Default::default()
        }
        .into_new()
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            ["name", "owner", "lifecycle", "description", "kind"]
        );
    }

    #[test]
    fn kinds_and_lifecycles_are_only_the_listed_ones() {
        for kind in ["service", "website", "library", "worker", "job"] {
            assert_eq!(input("x", kind).into_new().unwrap().kind.as_str(), kind);
        }
        let error = input("x", "daemon").into_new().unwrap_err();
        assert_eq!(fields(&error), ["kind"]);
        assert!(error.errors()[0]
            .message
            .contains("service, website, library, worker, job"));
        for lifecycle in ComponentLifecycle::ALL {
            let parsed = ComponentInput {
                lifecycle: Some(lifecycle.as_str().into()),
                ..input("x", "job")
            }
            .into_new()
            .unwrap();
            assert_eq!(parsed.lifecycle, *lifecycle);
        }
    }

    #[test]
    fn the_owner_is_trimmed_and_bounded() {
        let owned = ComponentInput {
            owner: Some(Some("  team-payments ".into())),
            ..input("api", "service")
        };
        assert_eq!(
            owned.into_new().unwrap().owner.as_deref(),
            Some("team-payments")
        );
        let long = ComponentInput {
            owner: Some(Some("o".repeat(101))),
            ..input("api", "service")
        };
        assert_eq!(fields(&long.into_new().unwrap_err()), ["owner"]);
        let longest = ComponentInput {
            owner: Some(Some("o".repeat(100))),
            ..input("api", "service")
        };
        assert!(longest.into_new().is_ok());
    }

    #[test]
    fn applying_changes_keeps_absent_fields_and_bumps_the_version() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let component = ComponentInput {
            owner: Some(Some("team-a".into())),
            description: Some(Some("the api".into())),
            ..input("api", "service")
        }
        .into_new()
        .unwrap()
        .into_component(ComponentId(Uuid::nil()), TenantId(Uuid::nil()), t0);
        assert_eq!(component.version, 1);
        let t1 = t0 + chrono::Duration::seconds(5);
        let changes = ComponentInput {
            lifecycle: Some("production".into()),
            owner: Some(None),
            ..Default::default()
        }
        .into_changes()
        .unwrap();
        let next = component.apply(changes, t1);
        assert_eq!(next.lifecycle, ComponentLifecycle::Production);
        assert_eq!(next.owner, None, "Some(None) clears");
        assert_eq!(next.description.as_deref(), Some("the api"));
        assert_eq!(
            (next.name.as_str(), next.kind),
            ("api", ComponentKind::Service)
        );
        assert_eq!(
            (next.version, next.updated_at, next.created_at),
            (2, t1, t0)
        );
    }

    #[test]
    fn an_empty_input_changes_nothing() {
        assert!(ComponentInput::default().into_changes().unwrap().is_empty());
        assert!(!ComponentInput {
            description: Some(None),
            ..Default::default()
        }
        .into_changes()
        .unwrap()
        .is_empty());
    }

    #[test]
    fn creation_times_are_cut_to_microseconds() {
        let at = Utc.timestamp_opt(1_790_000_000, 123_456_789).unwrap();
        let component = input("api", "job").into_new().unwrap().into_component(
            ComponentId(Uuid::nil()),
            TenantId(Uuid::nil()),
            at,
        );
        assert_eq!(component.created_at.timestamp_subsec_nanos(), 123_456_000);
    }
}
