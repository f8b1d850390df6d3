//! Target groups and their assignments to environments.
//!
//! A target group is a logical group of targets (an application tier, a cluster). It is
//! assigned to environments through assignments, which FlexDeploy calls "targets"; a target
//! belongs to an environment and, optionally, to one of the groups assigned to it.

use crate::environment::MAX_DESCRIPTION_LEN;
use crate::error::{FieldError, ValidationErrors};
use crate::ids::{
    AssignmentId, AssignmentNumber, EnvironmentId, EnvironmentNumber, TargetGroupId,
    TargetGroupNumber, TenantId,
};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::fmt;

/// Longest name of a target group or a target.
pub const MAX_NAME_LEN: usize = 100;

/// Most target groups one request may list for an environment.
pub const MAX_ASSIGNMENTS_PER_REQUEST: usize = 100;

/// Checks the name rule shared by target groups and targets: 1 to 100 ASCII letters, digits,
/// `.`, `_` or `-`, starting with a letter or digit, so a name can be typed in a shell and
/// used as a host name or a file name without quoting.
pub(crate) fn parse_name(value: &str, field: &str) -> Result<String, FieldError> {
    let bad = |message: &str| Err(FieldError::new(field, message));
    if value.is_empty() {
        return bad("must not be empty");
    }
    if value.len() > MAX_NAME_LEN {
        return bad("must be at most 100 characters");
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return bad("may contain only letters, digits, '.', '_' and '-'");
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("must start with a letter or digit");
    }
    Ok(value.to_owned())
}

/// Checks a description: free text of at most 2000 characters.
pub(crate) fn parse_description(value: Option<String>) -> Result<Option<String>, FieldError> {
    match value {
        Some(text) if text.chars().count() > MAX_DESCRIPTION_LEN => Err(FieldError::new(
            "description",
            "must be at most 2000 characters",
        )),
        other => Ok(other),
    }
}

/// A valid target group name (see the name rule of [`MAX_NAME_LEN`]); unique per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetGroupName(String);

impl TargetGroupName {
    /// Parses a name: 1 to 100 ASCII letters, digits, `.`, `_` or `-`, starting with a letter
    /// or digit.
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

impl fmt::Display for TargetGroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored target group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Its id.
    pub id: TargetGroupId,
    /// Its server-wide number, for clients that address groups by number.
    pub number: TargetGroupNumber,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// Unique per tenant, ignoring case; its case is kept.
    pub name: TargetGroupName,
    /// What people read (FlexDeploy's `targetGroupName`); defaults to the name.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Whether the group is in use; new groups are active.
    pub is_active: bool,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Raw, unvalidated target group fields as a client sends them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroupInput {
    /// See [`TargetGroup::name`].
    pub name: Option<String>,
    /// See [`TargetGroup::display_name`].
    pub display_name: Option<String>,
    /// `Some(None)` clears the description on update.
    pub description: Option<Option<String>>,
    /// See [`TargetGroup::is_active`].
    pub is_active: Option<bool>,
}

/// A validated target group to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTargetGroup {
    /// Validated name.
    pub name: TargetGroupName,
    /// Defaults to the name.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Defaults to true.
    pub is_active: bool,
}

/// Validated changes to a target group; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroupChanges {
    /// New name.
    pub name: Option<TargetGroupName>,
    /// New display name.
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New active flag.
    pub is_active: Option<bool>,
}

/// Checks a display name: 1 to 100 characters once trimmed.
fn parse_display_name(value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(FieldError::new("displayName", "must not be blank"))
    } else if trimmed.chars().count() > MAX_NAME_LEN {
        Err(FieldError::new(
            "displayName",
            "must be at most 100 characters",
        ))
    } else {
        Ok(trimmed.to_owned())
    }
}

impl TargetGroupInput {
    /// Validates the fields present, every bad one reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field.
    pub fn into_changes(self) -> Result<TargetGroupChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self.name.as_deref().map(TargetGroupName::parse).transpose();
        let display_name = self
            .display_name
            .as_deref()
            .map(parse_display_name)
            .transpose();
        let description = self.description.map(parse_description).transpose();
        let changes = TargetGroupChanges {
            name: errors.take(name).flatten(),
            display_name: errors.take(display_name).flatten(),
            description: errors.take(description).flatten(),
            is_active: self.is_active,
        };
        errors.into_result(|| changes)
    }

    /// Validates a new target group: `name` is required.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad or missing field.
    pub fn into_new(self) -> Result<NewTargetGroup, ValidationErrors> {
        let missing_name = self.name.is_none();
        match self.into_changes() {
            Ok(TargetGroupChanges {
                name: Some(name),
                display_name,
                description,
                is_active,
            }) => Ok(NewTargetGroup {
                display_name: display_name.unwrap_or_else(|| name.as_str().to_owned()),
                name,
                description: description.flatten(),
                is_active: is_active.unwrap_or(true),
            }),
            Ok(_) => Err(ValidationErrors::single("name", "is required")),
            Err(mut errors) => {
                if missing_name {
                    errors.add("name", "is required");
                }
                Err(errors)
            }
        }
    }
}

impl NewTargetGroup {
    /// The stored target group this becomes.
    pub fn into_target_group(
        self,
        id: TargetGroupId,
        number: TargetGroupNumber,
        tenant: TenantId,
        now: DateTime<Utc>,
    ) -> TargetGroup {
        let now = crate::time::truncate(now);
        TargetGroup {
            id,
            number,
            tenant,
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            is_active: self.is_active,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl TargetGroupChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl TargetGroup {
    /// The group after `changes`, with its version bumped and `updated_at` set to `now`.
    pub fn apply(&self, changes: TargetGroupChanges, now: DateTime<Utc>) -> TargetGroup {
        let mut next = self.clone();
        if let Some(name) = changes.name {
            next.name = name;
        }
        if let Some(display_name) = changes.display_name {
            next.display_name = display_name;
        }
        if let Some(description) = changes.description {
            next.description = description;
        }
        if let Some(is_active) = changes.is_active {
            next.is_active = is_active;
        }
        next.version = self.version + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// Filters of the target group list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroupFilter {
    /// Only the groups assigned to this environment.
    pub environment: Option<EnvironmentId>,
    /// Only the groups of these numbers (none: any number).
    pub numbers: Vec<TargetGroupNumber>,
    /// Name equals this, ignoring case.
    pub name: Option<String>,
    /// Display name contains this, ignoring case.
    pub display_name: Option<String>,
}

/// A target group assigned to an environment, as the environment shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assignment's own id.
    pub id: AssignmentId,
    /// The assignment's number (FlexDeploy's `targetId`).
    pub number: AssignmentNumber,
    /// The environment.
    pub environment_id: EnvironmentId,
    /// The environment's number.
    pub environment_number: EnvironmentNumber,
    /// The group.
    pub target_group_id: TargetGroupId,
    /// The group's number.
    pub target_group_number: TargetGroupNumber,
    /// The group's name, so a reader need not look it up.
    pub target_group_name: TargetGroupName,
    /// Whether the assignment is in use; new assignments are active.
    pub is_active: bool,
}

/// One target group a client lists for an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignmentRequest {
    /// The group to assign.
    pub target_group_id: TargetGroupId,
    /// The assignment's active flag; `None` makes a new assignment active and leaves an
    /// existing one as it is.
    pub is_active: Option<bool>,
}

/// How a list of target groups changes an environment's assignments (FlexDeploy's rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentMode {
    /// The environment ends up assigned to exactly the listed groups; the others are
    /// unassigned (`PUT`).
    Replace,
    /// The listed groups are assigned in addition; none is unassigned (`POST`, `PATCH`).
    Add,
}

/// Raw assignment changes as a client sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentInput {
    /// Replace or add.
    pub mode: AssignmentMode,
    /// The listed groups, in the client's order (errors name them by index).
    pub target_groups: Vec<AssignmentRequest>,
}

/// A validated change to an environment's assignments: no group listed twice, at most
/// [`MAX_ASSIGNMENTS_PER_REQUEST`] groups. Whether each group exists is for the store to
/// say, in the transaction that applies the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentChange {
    mode: AssignmentMode,
    target_groups: Vec<AssignmentRequest>,
}

impl AssignmentChange {
    /// The field naming the `index`th listed group in errors.
    pub fn field(index: usize) -> String {
        format!("targetGroups[{index}].targetGroupId")
    }

    /// Validates a list of groups.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `targetGroups` when the list is too long and
    /// `targetGroups[i].targetGroupId` for each group listed a second time.
    pub fn parse(input: AssignmentInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if input.target_groups.len() > MAX_ASSIGNMENTS_PER_REQUEST {
            errors.add("targetGroups", "may list at most 100 target groups");
        }
        let mut seen = HashSet::new();
        for (index, request) in input.target_groups.iter().enumerate() {
            if !seen.insert(request.target_group_id) {
                errors.add(Self::field(index), "lists the same target group again");
            }
        }
        errors.into_result(|| Self {
            mode: input.mode,
            target_groups: input.target_groups,
        })
    }

    /// Replace or add.
    pub fn mode(&self) -> AssignmentMode {
        self.mode
    }

    /// The listed groups, in the client's order.
    pub fn target_groups(&self) -> &[AssignmentRequest] {
        &self.target_groups
    }

    /// The listed groups, in the client's order.
    pub fn into_target_groups(self) -> Vec<AssignmentRequest> {
        self.target_groups
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn group(n: u128) -> AssignmentRequest {
        AssignmentRequest {
            target_group_id: TargetGroupId(Uuid::from_u128(n)),
            is_active: None,
        }
    }

    #[test]
    fn names_are_letters_digits_dots_underscores_and_dashes_starting_with_a_letter_or_digit() {
        for ok in ["web", "Web-Tier", "eu.cluster_1", "9", &"a".repeat(100)] {
            assert!(TargetGroupName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-web",
            ".hidden",
            "with space",
            "web/tier",
            "é",
            &"a".repeat(101),
        ] {
            assert_eq!(
                TargetGroupName::parse(bad).unwrap_err().field,
                "name",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_new_group_needs_a_name_and_reports_it_with_the_other_errors() {
        let errors = TargetGroupInput {
            description: Some(Some("x".repeat(2001))),
            ..Default::default()
        }
        .into_new()
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["description", "name"]);
        assert_eq!(
            TargetGroupInput::default().into_new().unwrap_err().errors()[0].field,
            "name"
        );
    }

    #[test]
    fn every_bad_field_of_a_group_is_named_at_once() {
        let errors = TargetGroupInput {
            name: Some("bad name".into()),
            description: Some(Some("x".repeat(2001))),
            ..Default::default()
        }
        .into_new()
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "description"]);
    }

    #[test]
    fn applying_changes_keeps_absent_fields_clears_a_null_description_and_bumps_the_version() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let group = TargetGroupInput {
            name: Some("web".into()),
            description: Some(Some("front".into())),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_target_group(
            TargetGroupId(Uuid::nil()),
            TargetGroupNumber(1),
            TenantId(Uuid::nil()),
            t0,
        );
        let t1 = t0 + chrono::Duration::seconds(1);
        let renamed = group.apply(
            TargetGroupInput {
                name: Some("web-tier".into()),
                ..Default::default()
            }
            .into_changes()
            .unwrap(),
            t1,
        );
        assert_eq!(renamed.name.as_str(), "web-tier");
        assert_eq!(renamed.description.as_deref(), Some("front"));
        assert_eq!((renamed.version, renamed.updated_at), (2, t1));
        let cleared = renamed.apply(
            TargetGroupInput {
                description: Some(None),
                ..Default::default()
            }
            .into_changes()
            .unwrap(),
            t1,
        );
        assert_eq!(cleared.description, None);
    }

    #[test]
    fn a_new_group_is_active_and_shows_its_name_unless_told_otherwise() {
        let new = TargetGroupInput {
            name: Some("WEB".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        assert_eq!((new.display_name.as_str(), new.is_active), ("WEB", true));
        let errors = TargetGroupInput {
            name: Some("web".into()),
            display_name: Some("  ".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap_err();
        assert_eq!(errors.errors()[0].field, "displayName");
    }

    #[test]
    fn a_group_listed_twice_is_named_by_its_second_index() {
        let errors = AssignmentChange::parse(AssignmentInput {
            mode: AssignmentMode::Replace,
            target_groups: vec![group(1), group(2), group(1)],
        })
        .unwrap_err();
        assert_eq!(errors.errors()[0].field, "targetGroups[2].targetGroupId");
    }

    #[test]
    fn at_most_one_hundred_groups_may_be_listed() {
        let many = |n: u128| AssignmentInput {
            mode: AssignmentMode::Add,
            target_groups: (0..n).map(group).collect(),
        };
        assert!(AssignmentChange::parse(many(100)).is_ok());
        assert_eq!(
            AssignmentChange::parse(many(101)).unwrap_err().errors()[0].field,
            "targetGroups"
        );
    }

    #[test]
    fn a_valid_list_keeps_its_mode_and_order() {
        let change = AssignmentChange::parse(AssignmentInput {
            mode: AssignmentMode::Add,
            target_groups: vec![group(2), group(1)],
        })
        .unwrap();
        assert_eq!(change.mode(), AssignmentMode::Add);
        assert_eq!(change.target_groups(), [group(2), group(1)]);
    }
}
