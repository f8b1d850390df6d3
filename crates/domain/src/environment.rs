//! Environments: where things are deployed, and the rules that guard them.

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{EnvironmentId, EnvironmentNumber, ProjectId, TenantId};
use crate::target_group::{AssignmentChange, AssignmentInput, AssignmentRequest};
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// A valid environment name: 1 to 63 ASCII letters, digits, `-`, `_` or `.`, starting and
/// ending with a letter or digit. Its case is kept (FlexDeploy codes such as `ENV1` are names),
/// and two names that differ only in case are the same name: the store keeps them unique
/// ignoring case, and searches compare them ignoring case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    /// Longest name accepted.
    pub const MAX_LEN: usize = 63;

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
            return bad("must be at most 63 characters");
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return bad("may contain only letters, digits, '-', '_' and '.'");
        }
        let edge_ok = |b: Option<&u8>| b.is_some_and(u8::is_ascii_alphanumeric);
        if !edge_ok(value.as_bytes().first()) || !edge_ok(value.as_bytes().last()) {
            return bad("must start and end with a letter or digit");
        }
        Ok(Self(value.to_owned()))
    }

    /// Whether `other` is the same name, ignoring case.
    pub fn same_as(&self, other: &EnvironmentName) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether an environment of this name is production, guessed the way GitLab guesses a
    /// deployment tier: the first family of words found wins, so `preprod` and `nonprod` are
    /// staging while `prod`, `production`, `prd` and `live` are production.
    pub fn looks_like_production(&self) -> bool {
        let name = self.0.to_ascii_lowercase();
        let name = name.as_str();
        let any = |words: &[&str]| words.iter().any(|w| name.contains(w));
        if any(&["dev", "review", "trunk"]) {
            return false;
        }
        if any(&[
            "test", "tst", "int", "accept", "acpt", "qa", "qc", "control", "quality",
        ]) {
            return false;
        }
        if any(&["stag", "stg", "model", "modl", "pre", "demo", "non"]) {
            return false;
        }
        any(&["prod", "prd", "live"])
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

wire_enum!(
    /// Where an environment is in its life.
    EnvironmentStatus, "status" {
        /// Usable.
        Ready => "ready",
        /// A workflow runs on it.
        Busy => "busy",
        /// A workflow failed on it.
        Broken => "broken",
        /// Torn down; kept for its history.
        Destroyed => "destroyed",
    }
);

wire_enum!(
    /// The order in which a version must travel through environments.
    PromotionPolicy, "promotionPolicy" {
        /// No order gate.
        Default => "default",
        /// A version must have succeeded in the nearest lower-ordered active environment first.
        Sequential => "sequential",
    }
);

/// Timing settings of an environment, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvironmentConfig {
    /// How long a deployment may stay in progress before it is failed.
    pub deployment_timeout: u32,
    /// How often its targets are probed.
    pub health_check_interval: u32,
}

impl EnvironmentConfig {
    /// Default deployment timeout: ten minutes.
    pub const DEFAULT_DEPLOYMENT_TIMEOUT: u32 = 600;
    /// Default health check interval: thirty seconds.
    pub const DEFAULT_HEALTH_CHECK_INTERVAL: u32 = 30;
    /// Longest accepted value for either setting: one week.
    pub const MAX_SECONDS: u32 = 7 * 24 * 3600;
}

impl Default for EnvironmentConfig {
    fn default() -> Self {
        Self {
            deployment_timeout: Self::DEFAULT_DEPLOYMENT_TIMEOUT,
            health_check_interval: Self::DEFAULT_HEALTH_CHECK_INTERVAL,
        }
    }
}

/// A stored environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// Its id.
    pub id: EnvironmentId,
    /// Its server-wide number, for clients that address environments by number.
    pub number: EnvironmentNumber,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// Unique per tenant, ignoring case.
    pub name: EnvironmentName,
    /// What people read.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Its place in the promotion order (lower comes first).
    pub order_index: i32,
    /// Production gets the strictest treatment in views and defaults.
    pub is_production: bool,
    /// Inactive environments accept no deployments and are skipped by promotion.
    pub is_active: bool,
    /// A build environment (FlexDeploy's notion).
    pub is_build_environment: bool,
    /// Timing settings.
    pub config: EnvironmentConfig,
    /// Distinct approvals a deployment needs before it may start.
    pub required_approvals: u8,
    /// Whether a deployment's author is barred from approving it.
    pub require_separation_of_duties: bool,
    /// The promotion order gate.
    pub promotion_policy: PromotionPolicy,
    /// Lifecycle status.
    pub status: EnvironmentStatus,
    /// The self-service request it was born from, if any.
    pub request_id: Option<Uuid>,
    /// The project it belongs to, if any.
    pub project: Option<ProjectId>,
    /// When it expires by itself, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Raw, unvalidated environment fields as a client sends them; `None` means absent.
///
/// The same input type serves create (absent fields take defaults) and update (absent fields
/// stay as they are).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentInput {
    /// See [`Environment::name`].
    pub name: Option<String>,
    /// See [`Environment::display_name`].
    pub display_name: Option<String>,
    /// `Some(None)` clears the description on update.
    pub description: Option<Option<String>>,
    /// See [`Environment::order_index`].
    pub order_index: Option<i64>,
    /// See [`Environment::is_production`].
    pub is_production: Option<bool>,
    /// See [`Environment::is_active`].
    pub is_active: Option<bool>,
    /// See [`Environment::is_build_environment`].
    pub is_build_environment: Option<bool>,
    /// Seconds; see [`EnvironmentConfig`].
    pub deployment_timeout: Option<i64>,
    /// Seconds; see [`EnvironmentConfig`].
    pub health_check_interval: Option<i64>,
    /// See [`Environment::required_approvals`].
    pub required_approvals: Option<i64>,
    /// See [`Environment::require_separation_of_duties`].
    pub require_separation_of_duties: Option<bool>,
    /// Wire name of a [`PromotionPolicy`].
    pub promotion_policy: Option<String>,
    /// Wire name of an [`EnvironmentStatus`].
    pub status: Option<String>,
    /// Target groups to assign, and whether they replace the current assignments.
    pub target_groups: Option<AssignmentInput>,
    /// The project it belongs to: set when it is created, never changed.
    pub project: Option<ProjectId>,
}

/// A validated environment to create; the order index is left to the store when absent
/// because only it knows the current maximum.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEnvironment {
    /// Validated name.
    pub name: EnvironmentName,
    /// Defaults to the name.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// `None`: the next free index (max + 1).
    pub order_index: Option<i32>,
    /// Inferred from the name when not given.
    pub is_production: bool,
    /// Defaults to true.
    pub is_active: bool,
    /// Defaults to false.
    pub is_build_environment: bool,
    /// Defaults to [`EnvironmentConfig::default`].
    pub config: EnvironmentConfig,
    /// Defaults to 0.
    pub required_approvals: u8,
    /// Defaults to false.
    pub require_separation_of_duties: bool,
    /// Defaults to [`PromotionPolicy::Default`].
    pub promotion_policy: PromotionPolicy,
    /// Defaults to ready.
    pub status: EnvironmentStatus,
    /// Target groups to assign to it, in the same transaction; defaults to none.
    pub target_groups: Vec<AssignmentRequest>,
    /// The project it belongs to, if any.
    pub project: Option<ProjectId>,
}

/// Validated changes to an environment; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentChanges {
    /// New name.
    pub name: Option<EnvironmentName>,
    /// New display name.
    pub display_name: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// New order index.
    pub order_index: Option<i32>,
    /// New production flag.
    pub is_production: Option<bool>,
    /// New active flag.
    pub is_active: Option<bool>,
    /// New build flag.
    pub is_build_environment: Option<bool>,
    /// New deployment timeout.
    pub deployment_timeout: Option<u32>,
    /// New health check interval.
    pub health_check_interval: Option<u32>,
    /// New approval count.
    pub required_approvals: Option<u8>,
    /// New separation-of-duties flag.
    pub require_separation_of_duties: Option<bool>,
    /// New promotion policy.
    pub promotion_policy: Option<PromotionPolicy>,
    /// New lifecycle status.
    pub status: Option<EnvironmentStatus>,
    /// A change to its target group assignments, applied in the same transaction.
    pub assignments: Option<AssignmentChange>,
}

/// Most approvals an environment may require.
pub const MAX_REQUIRED_APPROVALS: i64 = 10;
/// Longest display name.
pub const MAX_DISPLAY_NAME_LEN: usize = 100;
/// Longest description.
pub const MAX_DESCRIPTION_LEN: usize = 2000;
/// Largest order index.
pub const MAX_ORDER_INDEX: i64 = 1_000_000;

fn parse_display_name(value: &str) -> Result<String, FieldError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        Err(FieldError::new("displayName", "must not be blank"))
    } else if trimmed.chars().count() > MAX_DISPLAY_NAME_LEN {
        Err(FieldError::new(
            "displayName",
            "must be at most 100 characters",
        ))
    } else {
        Ok(trimmed.to_owned())
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

fn parse_order_index(value: i64) -> Result<i32, FieldError> {
    if (0..=MAX_ORDER_INDEX).contains(&value) {
        Ok(value as i32)
    } else {
        Err(FieldError::new(
            "orderIndex",
            "must be between 0 and 1000000",
        ))
    }
}

fn parse_seconds(value: i64, field: &str) -> Result<u32, FieldError> {
    if (1..=i64::from(EnvironmentConfig::MAX_SECONDS)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(FieldError::new(
            field,
            "must be a whole number of seconds between 1 and 604800",
        ))
    }
}

fn parse_required_approvals(value: i64) -> Result<u8, FieldError> {
    if (0..=MAX_REQUIRED_APPROVALS).contains(&value) {
        Ok(value as u8)
    } else {
        Err(FieldError::new(
            "requiredApprovals",
            "must be between 0 and 10",
        ))
    }
}

impl EnvironmentInput {
    /// Validates the fields present, every bad one reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field.
    pub fn into_changes(self) -> Result<EnvironmentChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self.name.as_deref().map(EnvironmentName::parse).transpose();
        let display_name = self
            .display_name
            .as_deref()
            .map(parse_display_name)
            .transpose();
        let description = self.description.map(parse_description).transpose();
        let order_index = self.order_index.map(parse_order_index).transpose();
        let deployment_timeout = self
            .deployment_timeout
            .map(|v| parse_seconds(v, "config.deploymentTimeout"))
            .transpose();
        let health_check_interval = self
            .health_check_interval
            .map(|v| parse_seconds(v, "config.healthCheckInterval"))
            .transpose();
        let required_approvals = self
            .required_approvals
            .map(parse_required_approvals)
            .transpose();
        let promotion_policy = self
            .promotion_policy
            .as_deref()
            .map(|v| PromotionPolicy::parse_field(v, "promotionPolicy"))
            .transpose();
        if self.project.is_some() {
            errors.add("projectId", "is set only when the environment is created");
        }
        // The status is driven by runs and actions; only a new environment may name one.
        if self.status.is_some() {
            errors.add(
                "status",
                "is not written by clients: it follows the environment's workflows and actions; see GET /api/v1/environments/{id}/actions and POST /api/v1/environments/{id}/actions/{name}",
            );
        }
        let changes = EnvironmentChanges {
            name: errors.take(name).flatten(),
            display_name: errors.take(display_name).flatten(),
            description: errors.take(description).flatten(),
            order_index: errors.take(order_index).flatten(),
            is_production: self.is_production,
            is_active: self.is_active,
            is_build_environment: self.is_build_environment,
            deployment_timeout: errors.take(deployment_timeout).flatten(),
            health_check_interval: errors.take(health_check_interval).flatten(),
            required_approvals: errors.take(required_approvals).flatten(),
            require_separation_of_duties: self.require_separation_of_duties,
            promotion_policy: errors.take(promotion_policy).flatten(),
            status: None,
            assignments: match self.target_groups.map(AssignmentChange::parse).transpose() {
                Ok(change) => change,
                Err(bad) => {
                    for error in bad.errors() {
                        errors.add(error.field.clone(), error.message.clone());
                    }
                    None
                }
            },
        };
        errors.into_result(|| changes)
    }

    /// Validates a new environment: `name` is required, everything else has a default.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad or missing field.
    pub fn into_new(mut self) -> Result<NewEnvironment, ValidationErrors> {
        let missing_name = self.name.is_none();
        let project = self.project.take();
        let status = self
            .status
            .take()
            .map(|v| EnvironmentStatus::parse_field(&v, "status"))
            .transpose();
        let changes = match self.into_changes() {
            Ok(_) if status.is_err() => {
                return Err(status.expect_err("checked").into());
            }
            Ok(changes) if !missing_name => changes,
            Ok(_) => return Err(ValidationErrors::single("name", "is required")),
            Err(mut errors) => {
                if let Err(bad) = &status {
                    errors.add(bad.field.clone(), bad.message.clone());
                }
                if missing_name {
                    errors.add("name", "is required");
                }
                return Err(errors);
            }
        };
        let name = changes.name.expect("checked above");
        let defaults = EnvironmentConfig::default();
        Ok(NewEnvironment {
            display_name: changes
                .display_name
                .unwrap_or_else(|| name.as_str().to_owned()),
            description: changes.description.flatten(),
            order_index: changes.order_index,
            is_production: changes
                .is_production
                .unwrap_or_else(|| name.looks_like_production()),
            is_active: changes.is_active.unwrap_or(true),
            is_build_environment: changes.is_build_environment.unwrap_or(false),
            config: EnvironmentConfig {
                deployment_timeout: changes
                    .deployment_timeout
                    .unwrap_or(defaults.deployment_timeout),
                health_check_interval: changes
                    .health_check_interval
                    .unwrap_or(defaults.health_check_interval),
            },
            required_approvals: changes.required_approvals.unwrap_or(0),
            require_separation_of_duties: changes.require_separation_of_duties.unwrap_or(false),
            promotion_policy: changes.promotion_policy.unwrap_or(PromotionPolicy::Default),
            status: status.ok().flatten().unwrap_or(EnvironmentStatus::Ready),
            target_groups: changes
                .assignments
                .map(AssignmentChange::into_target_groups)
                .unwrap_or_default(),
            project,
            name,
        })
    }
}

impl NewEnvironment {
    /// The stored environment this becomes, given what only the store and the clock know.
    pub fn into_environment(
        self,
        id: EnvironmentId,
        number: EnvironmentNumber,
        tenant: TenantId,
        order_index: i32,
        now: DateTime<Utc>,
    ) -> Environment {
        let now = crate::time::truncate(now);
        Environment {
            id,
            number,
            tenant,
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            order_index,
            is_production: self.is_production,
            is_active: self.is_active,
            is_build_environment: self.is_build_environment,
            config: self.config,
            required_approvals: self.required_approvals,
            require_separation_of_duties: self.require_separation_of_duties,
            promotion_policy: self.promotion_policy,
            status: self.status,
            request_id: None,
            project: self.project,
            expires_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl EnvironmentChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Why an environment takes no deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotTakingDeployments {
    /// It is destroyed.
    Destroyed(String),
    /// It is inactive.
    Inactive(String),
}

impl fmt::Display for NotTakingDeployments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotTakingDeployments::Destroyed(name) => {
                write!(f, "the environment `{name}` is destroyed and takes no deployments")
            }
            NotTakingDeployments::Inactive(name) => write!(
                f,
                "the environment `{name}` is inactive; activate it (isActive: true) to deploy into it"
            ),
        }
    }
}

impl std::error::Error for NotTakingDeployments {}

impl Environment {
    /// Whether deployments may be recorded into it (and, for the promotion order, whether it
    /// counts): it is active and not destroyed.
    ///
    /// # Errors
    /// [`NotTakingDeployments`] saying why not.
    pub fn takes_deployments(&self) -> Result<(), NotTakingDeployments> {
        let name = || self.name.as_str().to_owned();
        match self.status {
            EnvironmentStatus::Destroyed => Err(NotTakingDeployments::Destroyed(name())),
            _ if !self.is_active => Err(NotTakingDeployments::Inactive(name())),
            EnvironmentStatus::Ready | EnvironmentStatus::Busy | EnvironmentStatus::Broken => {
                Ok(())
            }
        }
    }

    /// The environment after `changes`, with its version bumped and `updated_at` set to `now`.
    /// Renaming does not re-infer `is_production`: once stored it is an explicit fact.
    pub fn apply(&self, changes: EnvironmentChanges, now: DateTime<Utc>) -> Environment {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),+) => { $(if let Some(v) = changes.$field { next.$field = v; })+ };
        }
        set!(
            name,
            display_name,
            description,
            order_index,
            is_production,
            is_active,
            is_build_environment,
            required_approvals,
            require_separation_of_duties,
            promotion_policy,
            status
        );
        if let Some(v) = changes.deployment_timeout {
            next.config.deployment_timeout = v;
        }
        if let Some(v) = changes.health_check_interval {
            next.config.health_check_interval = v;
        }
        next.version = self.version + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// Filters of the environment list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnvironmentFilter {
    /// Number equals this.
    pub number: Option<EnvironmentNumber>,
    /// Name equals this, ignoring case.
    pub name: Option<String>,
    /// Display name contains this, ignoring case.
    pub display_name: Option<String>,
    /// Exact match.
    pub is_active: Option<bool>,
    /// Exact match.
    pub is_build_environment: Option<bool>,
    /// Exact match.
    pub is_production: Option<bool>,
    /// Exact match.
    pub order_index: Option<i32>,
    /// Exact match.
    pub status: Option<EnvironmentStatus>,
    /// Belongs to this project.
    pub project: Option<ProjectId>,
    /// Has any of these statuses; empty: any status.
    pub statuses: Vec<EnvironmentStatus>,
}

wire_enum!(
    /// Fields the environment list can be sorted by.
    EnvironmentSortField, "sort" {
        /// By name.
        Name => "name",
        /// By order index (then name).
        OrderIndex => "orderIndex",
        /// By creation time.
        CreatedAt => "createdAt",
    }
);

/// How to sort the environment list: `field` or `~field` for descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvironmentSort {
    /// The field.
    pub field: EnvironmentSortField,
    /// Descending when true.
    pub descending: bool,
}

impl Default for EnvironmentSort {
    fn default() -> Self {
        Self {
            field: EnvironmentSortField::OrderIndex,
            descending: false,
        }
    }
}

impl EnvironmentSort {
    /// Parses `field` or `~field`.
    ///
    /// # Errors
    /// A [`FieldError`] on `sort` listing the sortable fields.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let (descending, field) = match value.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        Ok(Self {
            field: EnvironmentSortField::parse_field(field, "sort")?,
            descending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn name(value: &str) -> EnvironmentName {
        EnvironmentName::parse(value).unwrap()
    }

    #[test]
    fn names_are_letters_digits_dashes_underscores_and_dots_of_at_most_63_characters() {
        for ok in [
            "a",
            "prod",
            "feature-42",
            "ENV1",
            "PUT2",
            "eu.west_1",
            &"a".repeat(63),
        ] {
            assert!(EnvironmentName::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "with space",
            "-lead",
            "trail-",
            "_under",
            "dot.",
            &"a".repeat(64),
            "é",
        ] {
            let error = EnvironmentName::parse(bad).unwrap_err();
            assert_eq!(error.field, "name", "{bad}");
        }
    }

    #[test]
    fn names_keep_their_case_and_compare_ignoring_it() {
        assert_eq!(name("ENV1").as_str(), "ENV1");
        assert!(name("ENV1").same_as(&name("env1")));
        assert!(!name("ENV1").same_as(&name("ENV2")));
    }

    #[test]
    fn production_is_guessed_from_the_name_ignoring_case() {
        assert!(name("PROD").looks_like_production());
        assert!(!name("PreProd").looks_like_production());
    }

    #[test]
    fn production_is_guessed_from_the_name_like_gitlab_tiers() {
        for prod in [
            "prod",
            "production",
            "prd",
            "live",
            "prod-eu",
            "eu-production",
        ] {
            assert!(name(prod).looks_like_production(), "{prod}");
        }
        for not in [
            "preprod",
            "nonprod",
            "staging",
            "dev",
            "qa",
            "production-test",
            "review-42",
            "sandbox",
        ] {
            assert!(!name(not).looks_like_production(), "{not}");
        }
    }

    #[test]
    fn a_new_environment_takes_defaults_and_infers_production() {
        let new = EnvironmentInput {
            name: Some("production".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        assert_eq!(new.display_name, "production");
        assert!(new.is_production && new.is_active && !new.is_build_environment);
        assert_eq!(new.config, EnvironmentConfig::default());
        assert_eq!(new.order_index, None);
        assert_eq!(new.promotion_policy, PromotionPolicy::Default);
        assert_eq!(new.status, EnvironmentStatus::Ready);
    }

    #[test]
    fn an_explicit_production_flag_beats_the_guess() {
        let input = EnvironmentInput {
            name: Some("prod".into()),
            is_production: Some(false),
            ..Default::default()
        };
        assert!(!input.into_new().unwrap().is_production);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let input = EnvironmentInput {
            name: Some("Bad Name".into()),
            display_name: Some("  ".into()),
            order_index: Some(-1),
            deployment_timeout: Some(0),
            health_check_interval: Some(10_000_000),
            required_approvals: Some(11),
            promotion_policy: Some("yolo".into()),
            status: Some("gone".into()),
            ..Default::default()
        };
        let errors = input.into_new().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "displayName",
                "orderIndex",
                "config.deploymentTimeout",
                "config.healthCheckInterval",
                "requiredApprovals",
                "promotionPolicy",
                "status"
            ]
        );
    }

    #[test]
    fn a_missing_name_is_named_with_the_other_errors() {
        let input = EnvironmentInput {
            required_approvals: Some(99),
            ..Default::default()
        };
        let errors = input.into_new().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["requiredApprovals", "name"]);
        assert_eq!(
            EnvironmentInput::default().into_new().unwrap_err().errors()[0].field,
            "name"
        );
    }

    #[test]
    fn required_approvals_accepts_zero_to_ten() {
        for n in [0, 10] {
            let input = EnvironmentInput {
                name: Some("x".into()),
                required_approvals: Some(n),
                ..Default::default()
            };
            assert_eq!(i64::from(input.into_new().unwrap().required_approvals), n);
        }
    }

    #[test]
    fn applying_changes_keeps_absent_fields_and_bumps_the_version() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let env = EnvironmentInput {
            name: Some("staging".into()),
            description: Some(Some("x".into())),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .into_environment(
            EnvironmentId(Uuid::nil()),
            EnvironmentNumber(1),
            TenantId(Uuid::nil()),
            1,
            t0,
        );
        let t1 = t0 + chrono::Duration::seconds(5);
        let changes = EnvironmentInput {
            display_name: Some("Staging".into()),
            deployment_timeout: Some(60),
            ..Default::default()
        }
        .into_changes()
        .unwrap();
        let next = env.apply(changes, t1);
        assert_eq!(next.display_name, "Staging");
        assert_eq!(next.config.deployment_timeout, 60);
        assert_eq!(next.config.health_check_interval, 30);
        assert_eq!(next.description.as_deref(), Some("x"));
        assert_eq!(
            (next.version, next.updated_at, next.created_at),
            (2, t1, t0)
        );
    }

    #[test]
    fn a_description_can_be_cleared() {
        let changes = EnvironmentInput {
            description: Some(None),
            ..Default::default()
        }
        .into_changes()
        .unwrap();
        assert_eq!(changes.description, Some(None));
        assert!(!changes.is_empty());
        assert!(EnvironmentInput::default()
            .into_changes()
            .unwrap()
            .is_empty());
    }

    #[test]
    fn sort_accepts_a_tilde_for_descending_and_known_fields_only() {
        assert_eq!(
            EnvironmentSort::parse("~createdAt").unwrap(),
            EnvironmentSort {
                field: EnvironmentSortField::CreatedAt,
                descending: true
            }
        );
        assert!(!EnvironmentSort::parse("name").unwrap().descending);
        assert_eq!(EnvironmentSort::parse("color").unwrap_err().field, "sort");
    }

    #[test]
    fn the_status_is_not_writable_by_a_change_and_points_at_the_actions() {
        let errors = EnvironmentInput {
            status: Some("ready".into()),
            ..Default::default()
        }
        .into_changes()
        .unwrap_err();
        assert_eq!(errors.errors()[0].field, "status");
        assert!(errors.errors()[0].message.contains("/actions"));
    }

    #[test]
    fn status_and_policy_round_trip_their_wire_names() {
        for s in EnvironmentStatus::ALL {
            assert_eq!(s.as_str().parse::<EnvironmentStatus>().unwrap(), *s);
        }
        for p in PromotionPolicy::ALL {
            assert_eq!(p.as_str().parse::<PromotionPolicy>().unwrap(), *p);
        }
    }

    #[test]
    fn a_new_environment_carries_the_target_groups_to_assign() {
        use crate::ids::TargetGroupId;
        use crate::target_group::{AssignmentMode, AssignmentRequest};
        let request = |n: u128| AssignmentRequest {
            target_group_id: TargetGroupId(Uuid::from_u128(n)),
            is_active: None,
        };
        let new = EnvironmentInput {
            name: Some("dev".into()),
            target_groups: Some(AssignmentInput {
                mode: AssignmentMode::Add,
                target_groups: vec![request(2), request(1)],
            }),
            ..Default::default()
        }
        .into_new()
        .unwrap();
        assert_eq!(new.target_groups, [request(2), request(1)]);
        assert!(EnvironmentInput {
            name: Some("dev".into()),
            ..Default::default()
        }
        .into_new()
        .unwrap()
        .target_groups
        .is_empty());
    }

    #[test]
    fn a_target_group_listed_twice_is_named_with_the_other_errors_and_an_assignment_change_is_a_change(
    ) {
        use crate::ids::TargetGroupId;
        use crate::target_group::{AssignmentMode, AssignmentRequest};
        let request = AssignmentRequest {
            target_group_id: TargetGroupId(Uuid::from_u128(5)),
            is_active: Some(false),
        };
        let errors = EnvironmentInput {
            required_approvals: Some(11),
            target_groups: Some(AssignmentInput {
                mode: AssignmentMode::Replace,
                target_groups: vec![request, request],
            }),
            ..Default::default()
        }
        .into_changes()
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["requiredApprovals", "targetGroups[1].targetGroupId"]
        );
        let unassign_all = EnvironmentInput {
            target_groups: Some(AssignmentInput {
                mode: AssignmentMode::Replace,
                target_groups: vec![],
            }),
            ..Default::default()
        }
        .into_changes()
        .unwrap();
        assert!(
            !unassign_all.is_empty(),
            "an empty PUT list unassigns every group"
        );
    }
}
